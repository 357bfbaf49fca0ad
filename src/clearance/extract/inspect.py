"""What a user looks at first on a new extract: is it whole, and what is in it.

The figures are deliberately the same ones ``clearance synth`` says it intended, so a
generated file can be checked against its generator (tests/test_roundtrip.py).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from clearance.extract import keys
from clearance.extract import model as model_
from clearance.extract.reader import ReadResult, read_extracts
from clearance.law import load_rulepack
from clearance.rules.prop64 import unparsed_charge

FIRST_REJECTS = 10


def inspect_files(paths: list[Path], work_dir: Path, progress=None) -> dict:
    from clearance.run_common import check_extracts

    result = read_extracts(paths, work_dir, progress=progress)
    check_extracts(result.files, result.rejects)  # a file no line of which is usable
    return summarize(result, model_.build(result.rows, [f.name for f in result.files]))


def summarize(result: ReadResult, model: model_.Model) -> dict:
    law = load_rulepack()
    with keys.pinned():  # the counts' keys, the same in each branch of the query
        counts = model.counts.select(
            "convicted",
            "code",
            "county",
            "cannabis_section",
            "event_date",
            "event_date_raw",
            "attempt",
            "section",
            notation=_notation(law),
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
        "charges": _charges(counts),
        "warnings": result.warnings,
    }


# How each count's charge was read (prop64.md, "Reading the charge"), for the counts
# whose charge names a cannabis section or cannabis; in this order.
NOTATIONS = ("plain", "bracketed", "run_on", "comment", "unreadable")


def _notation(law) -> pl.Expr:
    """The notation a count's cannabis charge was read from, or `unreadable`; else null."""
    return (
        pl.when(pl.col("cannabis_section").is_not_null() & (pl.col("charge_source") == "comment"))
        .then(pl.lit("comment"))
        .when(pl.col("cannabis_section").is_not_null())
        .then(pl.col("charge_notation"))
        .when(unparsed_charge(law))
        .then(pl.lit("unreadable"))
    )


def _charges(counts: pl.DataFrame) -> dict:
    """Every count whose charge names cannabis, by notation; and charges with no section."""
    named = counts.filter(pl.col("notation").is_not_null())
    tally = dict(named.group_by("notation").len().iter_rows())
    return {
        "cannabis": named.height,
        "by_notation": {n: tally.get(n, 0) for n in NOTATIONS},
        "cannabis_attempts": named.filter(pl.col("attempt")).height,
        "no_section": counts.filter(pl.col("section").is_null()).height,
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
