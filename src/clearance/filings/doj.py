"""The DOJ disposition update file: what the court ordered, one row per conviction.

Under HS 11361.9(f) the court notifies the Department of Justice of each
dismissal, sealing or redesignation, and DOJ updates the state summary criminal
history. DOJ identifies a conviction by the person (`subject_id`, `cii_number`)
and the count (`cnt_order`, the extract's cycle-step-count key), so each granted
conviction is one row with those keys, the court and case, the relief and where
it appears in the filing (court folder, exhibit file and row). `order_date` is
left empty for the clerk to fill in once the judge signs; `order_case_number`
likewise, if the court files the order under a case number of its own.

Names and dates of birth are left out on purpose: DOJ matches on its own keys,
and the file travels between agencies.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from clearance.filings.text import pleading_text
from clearance.textsafe import write_csv

__all__ = ["DOJ_COLUMNS", "DOJ_FILE", "doj_rows", "write_doj_file"]

DOJ_FILE = "doj-disposition-update.csv"
DOJ_COLUMNS: tuple[str, ...] = (
    "subject_id",
    "cii_number",
    "cnt_order",
    "court",
    "courthouse",
    "case_number",
    "conviction_date",
    "section",
    "subsection",
    "severity",
    "relief_code",
    "relief",
    "citation",
    "decided_on_review",
    "filing",
    "exhibit_file",
    "exhibit_row",
    "order_date",
    "order_case_number",
)


def doj_rows(
    granted: pl.DataFrame, filing: str, exhibit_files: Sequence[tuple[str, int]]
) -> pl.DataFrame:
    """The DOJ rows for one court's granted convictions, in Exhibit A order.

    `exhibit_files` gives each part's file name and row count, in order.
    """
    labels = pleading_text()["labels"]["relief"]
    files = [name for name, count in exhibit_files for _ in range(count)]
    if len(files) != granted.height:
        raise ValueError("exhibit parts do not cover the granted convictions")
    return granted.select(
        pl.col("subject_id"),
        pl.col("cii_number"),
        pl.col("cnt_order"),
        pl.col("court"),
        pl.col("courthouse"),
        pl.col("case_number"),
        pl.col("conviction_date"),
        ("HS " + pl.col("section")).alias("section"),
        pl.col("subsection"),
        pl.col("severity"),
        pl.col("relief_code"),
        pl.col("relief_code").replace_strict(labels, default=None).alias("relief"),
        pl.col("citation"),
        pl.col("decided_on_review"),
        pl.lit(filing).alias("filing"),
        pl.Series("exhibit_file", files, dtype=pl.String),
        pl.int_range(1, granted.height + 1, dtype=pl.Int64).alias("exhibit_row"),
        pl.lit(None, dtype=pl.String).alias("order_date"),
        pl.lit(None, dtype=pl.String).alias("order_case_number"),
    )


def write_doj_file(frames: Sequence[pl.DataFrame], path: Path) -> int:
    """Write every court's rows to one CSV; returns the number of rows."""
    schema = {c: pl.String for c in DOJ_COLUMNS}
    schema.update({"decided_on_review": pl.Boolean, "exhibit_row": pl.Int64})
    table = (
        pl.concat([f.select(DOJ_COLUMNS) for f in frames])
        if frames
        else pl.DataFrame(schema=schema)
    )
    write_csv(table, path)
    return table.height
