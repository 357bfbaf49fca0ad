"""What a user looks at first on a new extract: is it whole, and what is in it.

The figures are deliberately the same ones ``clearance synth`` says it intended, so a
generated file can be checked against its generator (tests/test_roundtrip.py).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from clearance.extract import model as model_
from clearance.extract.reader import ReadResult, read_extracts

FIRST_REJECTS = 10


def inspect_files(paths: list[Path], work_dir: Path, progress=None) -> dict:
    result = read_extracts(paths, work_dir, progress=progress)
    return summarize(result, model_.build(result.rows, [f.name for f in result.files]))


def summarize(result: ReadResult, model: model_.Model) -> dict:
    counts = model.counts.select(
        "convicted", "code", "county", "cannabis_section", "event_date", "event_date_raw"
    ).collect(engine="streaming")
    convictions = counts.filter(pl.col("convicted"))
    dates = counts["event_date"].drop_nulls()
    invalid_dates = counts.filter(
        pl.col("event_date").is_null() & pl.col("event_date_raw").is_not_null()
    ).height
    missing_dates = counts.filter(pl.col("event_date_raw").is_null()).height
    people = model.people.select(pl.len()).collect(engine="streaming").item()
    events = model.events.select("county").collect(engine="streaming")
    cannabis = convictions.filter(pl.col("cannabis_section").is_not_null())
    by_county: dict[str, dict[str, int]] = {}
    for county, section, n in (
        cannabis.group_by("county", "cannabis_section").len().sort("county", "cannabis_section")
    ).iter_rows():
        by_county.setdefault(county or "UNKNOWN", {})[section] = n
    rejects = result.rejects
    return {
        "files": [f.to_dict() for f in result.files],
        "rows": {
            "read": result.rows_read,
            "used": result.rows_used,
            "rejected": result.rows_rejected,
        },
        "rejects_by_reason": _tally(rejects, "reason_code"),
        "first_rejects": rejects.head(FIRST_REJECTS)
        .select("source_file", "line", "reason")
        .to_dicts(),
        "subjects": people,
        "events": events.height,
        "counts": counts.height,
        "convictions": convictions.height,
        "date_range": {
            "first": dates.min().isoformat() if dates.len() else None,
            "last": dates.max().isoformat() if dates.len() else None,
            "invalid_event_dates": invalid_dates,
            "missing_event_dates": missing_dates,
        },
        "counties": _tally(events, "county"),
        "convictions_by_code": _tally(convictions, "code"),
        "cannabis_convictions_by_county": by_county,
        "warnings": result.warnings,
    }


def _tally(frame: pl.DataFrame, column: str) -> dict[str, int]:
    """Value -> number of rows, largest first, ties by name; missing values as UNKNOWN."""
    tallied = (
        frame.select(pl.col(column).fill_null("UNKNOWN"))
        .group_by(column)
        .len()
        .sort(["len", column], descending=[True, False])
    )
    return dict(tallied.iter_rows())
