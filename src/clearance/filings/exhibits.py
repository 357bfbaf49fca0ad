"""Exhibit tables: the case lists attached to the filings, as printable rows.

Exhibit A lists the convictions the People do not challenge (granted), Exhibit B
the ones they challenge. Rows are numbered once, across every part, so the order,
the DOJ file and a person reading a printout all point at the same row ("Exhibit
A, row 1,234"). A long exhibit is split into parts of at most `part_size` rows, one
file each: a 66,000-row table is too big for one Word document to stay editable
(docs/filings.md gives the figures), and parts print and file in batches.

Values are formatted here once, for both writers: dates as MM/DD/YYYY (as
California courts write them), the section with its subsection, the relief label,
and for Exhibit B the ground with the narrowest provision the rule pack gives.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from clearance.filings.text import pleading_text, render, thousands
from clearance.law import RulePack

__all__ = [
    "COLUMNS",
    "Column",
    "ExhibitPart",
    "exhibit_parts",
    "exhibit_rows",
    "provision",
]


@dataclass(frozen=True)
class Column:
    key: str
    width: float  # points, in the PDF (Word scales the same proportions)
    align: str = "left"  # left | right


# Widths add up to the pleading text width (462 pt); see pleading.py.
COLUMNS: Mapping[str, tuple[Column, ...]] = {
    "a": (
        Column("row", 28, "right"),
        Column("name", 99),
        Column("dob", 42),
        Column("cii", 44),
        Column("case_number", 48),
        Column("conviction_date", 42),
        Column("section", 49),
        Column("severity", 24),
        Column("relief", 86),
    ),
    "b": (
        Column("row", 28, "right"),
        Column("name", 96),
        Column("dob", 42),
        Column("cii", 44),
        Column("case_number", 48),
        Column("conviction_date", 42),
        Column("section", 46),
        Column("reason", 116),
    ),
}

_ISO_DATE = r"^(\d{4})-(\d{2})-(\d{2})$"


@dataclass(frozen=True)
class ExhibitPart:
    """One file's worth of an exhibit: rows `first`..`last` (1-based, inclusive)."""

    exhibit: str  # a | b
    part: int
    parts: int
    first: int
    last: int
    rows: Sequence[tuple[str, ...]]

    @property
    def stem(self) -> str:
        base = f"exhibit-{self.exhibit}"
        return base if self.parts == 1 else f"{base}-part-{self.part:02d}"


def _date(column: str, missing: str) -> pl.Expr:
    return pl.col(column).str.replace(_ISO_DATE, "$2/$3/$1").fill_null(missing)


def _section() -> pl.Expr:
    text = pl.col("section").fill_null("") + pl.col("subsection").fill_null("").str.to_uppercase()
    return pl.when(pl.col("attempt").fill_null(False)).then(text + " att.").otherwise(text)


def provision(
    reason: str | None,
    section: str | None,
    subsection: str | None,
    law: RulePack,
    citation: str | None,
) -> str:
    """The narrowest provision the rule pack gives for a ground and a section.

    `prior_superstrike` on an HS 11359 conviction cites `HS 11359(c)(1); PC
    667(e)(2)(C)(iv)` (the rule's `pinpoints`), not the rule's citation for all
    three sections; an excluded subsection cites that subsection. Otherwise the
    row's own citation.
    """
    return law.pinpoint(reason, section, subsection) or citation or ""


def grounds(law: RulePack) -> dict[str, str]:
    """The grounds of challenge the rule pack words, by reason (its rules' `ground`)."""
    return {r.reason: r.ground for r in law.rules.values() if r.ground}


def _ground(row: Mapping[str, Any], law: RulePack, labels: Mapping[str, Any]) -> str:
    reason = row["reason"]
    worded = grounds(law)
    statutory = reason in worded or (
        reason in law.rules and "not_eligible" in law.rules[reason].determinations
    )
    if row.get("decided_on_review") and not statutory:
        ground = render(labels["decided_on_review"], {"note": row.get("review_note") or ""})
        return f"{ground} ({labels['decided_on_review_citation']})"
    if reason in worded:
        ground = worded[reason]
    elif reason in law.rules:
        ground = law.rules[reason].description
    else:
        ground = reason or labels["missing"]
    where = provision(reason, row["section"], row["subsection"], law, row["citation"])
    return f"{ground} ({where})" if where else ground


def exhibit_rows(
    frame: pl.DataFrame, exhibit: str, law: RulePack, *, first_row: int = 1
) -> list[tuple[str, ...]]:
    """The exhibit's printed rows, in the frame's order, numbered from `first_row`."""
    labels = pleading_text()["labels"]
    missing = labels["missing"]
    formatted = frame.with_columns(
        pl.col("name").fill_null(missing),
        _date("dob", missing).alias("dob_text"),
        pl.col("cii_number").fill_null(missing),
        pl.col("case_number").fill_null(missing),
        _date("conviction_date", missing).alias("conviction_text"),
        _section().alias("section_text"),
        pl.col("severity").fill_null("?"),
    )
    numbers = [thousands(i) for i in range(first_row, first_row + formatted.height)]
    fixed = formatted.select(
        "name", "dob_text", "cii_number", "case_number", "conviction_text", "section_text"
    ).rows()
    if exhibit == "a":
        marker = " " + labels["reviewed_marker"]
        relief = [
            labels["relief"][code] + (marker if reviewed else "")
            for code, reviewed in zip(
                formatted["relief_code"].to_list(),
                formatted["decided_on_review"].to_list(),
                strict=True,
            )
        ]
        severity = formatted["severity"].to_list()
        return [(n, *f, s, r) for n, f, s, r in zip(numbers, fixed, severity, relief, strict=True)]
    detail_columns = ["reason", "section", "subsection", "citation", "decided_on_review"]
    if "review_note" in formatted.columns:
        detail_columns.append("review_note")
    grounds = [_ground(row, law, labels) for row in formatted.select(detail_columns).to_dicts()]
    return [(n, *f, g) for n, f, g in zip(numbers, fixed, grounds, strict=True)]


def exhibit_parts(
    frame: pl.DataFrame, exhibit: str, law: RulePack, part_size: int
) -> list[ExhibitPart]:
    """The exhibit split into files of at most `part_size` rows (none for no rows)."""
    if part_size < 1:
        raise ValueError("part_size must be at least 1")
    total = frame.height
    parts = -(-total // part_size)
    result = []
    for index in range(parts):
        start = index * part_size
        chunk = frame.slice(start, part_size)
        rows = exhibit_rows(chunk, exhibit, law, first_row=start + 1)
        result.append(ExhibitPart(exhibit, index + 1, parts, start + 1, start + chunk.height, rows))
    return result
