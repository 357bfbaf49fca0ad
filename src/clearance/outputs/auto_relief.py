"""The outputs of a California automatic-relief run (ca-automatic-relief.md, "Outputs").

Beside Prop 64's folder (determinations.csv/.parquet/.xlsx, summary.json,
rejects.csv, run.json, history.parquet, people.parquet):

- the determinations carry ``kind`` (conviction or arrest), ``path``,
  ``eligible_on``, ``objection_deadline`` and ``petitions``; a conviction is keyed
  by ``subject_id`` and ``cnt_order``, an arrest by ``subject_id``, ``cyc_order``
  and ``stp_order`` (its ``cnt_order`` is its first count's, so that every row
  still has one key and the table sorts by person, then record);
- ``upcoming.csv``: the prosecutor's worklist, the conviction rows whose
  ``eligible_on`` falls within the policy's ``upcoming_window_days`` after the
  as-of date, ordered by ``objection_deadline``;
- ``summary.json``: counts by kind, determination, path and reason; people with a
  clean slate and people stuck only on ``review`` rows; demographics.

A person's "clean slate" and "stuck" are about the records this run decided (the
county's convictions and arrests); records in other counties are decided by runs
for those counties.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from clearance.outputs.determinations import Layout
from clearance.outputs.summary import _tally, age_band
from clearance.textsafe import write_csv

DETERMINATIONS = ("relief", "upcoming", "not_eligible", "review")
KINDS = ("conviction", "arrest")
UPCOMING_FILE = "upcoming.csv"

CONTRACT_COLUMNS = (
    "subject_id", "cii_number", "name", "dob", "race", "gender", "kind", "cnt_order",
    "cyc_order", "stp_order", "case_number", "court", "agency", "county", "conviction_date",
    "arrest_date", "offense", "section", "severity", "determination", "reason", "rule",
    "citation", "path", "eligible_on", "objection_deadline", "petitions",
)  # fmt: skip
# The facts beside them in the CSV and the workbook: what an attorney reads to check a
# record (a county's run decides every conviction and arrest, several times Prop 64's
# rows, so the spreadsheets keep to these); the Parquet file holds every fact.
SHEET_FACTS = (
    "completion", "serving_until", "pending_records", "serious_violent", "possibly_serious",
    "new_felony", "court_dispositions", "not_tested", "source_file", "line",
)  # fmt: skip
FACT_COLUMNS = (
    "subsection", "probation_term", "probation_end", "sentence_end", "revoked",
    "revocation_date", "prison", "registered_290", "pc290_convictions", "enhancement",
    "relieved_by", "prohibited_by", "proceedings", "max_term_8", "wait_years", "deceased",
)  # fmt: skip
COLUMNS = CONTRACT_COLUMNS + SHEET_FACTS
# Kept in the Parquet file for `explain` (the facts its wording reads), after COLUMNS.
EXPLAIN_COLUMNS = (
    "date", "on_probation_path", "on_misdemeanor_path", "on_felony_path", "on_diversion_path",
    "on_dismissal_path", "on_acquittal_misdemeanor", "on_acquittal_felony",
    "on_misdemeanor_arrest_path", "on_felony_arrest_path", "case_open", "charges_filed",
    "pending_case", "pc290_registrant", "already_relieved", "relief_prohibited",
    "event_date_raw", "dob_raw", "offense_raw", "charge", "code",
)  # fmt: skip
_DATES = ("eligible_on", "objection_deadline", "probation_end", "sentence_end", "completion",
          "revocation_date", "serving_until", "date", *(c for c in EXPLAIN_COLUMNS
                                                           if c.startswith("on_")))  # fmt: skip
UPCOMING_COLUMNS = (
    "objection_deadline", "days_to_deadline", "eligible_on", "subject_id", "cii_number", "name",
    "dob", "cnt_order", "case_number", "court", "county", "conviction_date", "offense",
    "severity", "path", "reason", "citation",
)  # fmt: skip


def _iso(column: str) -> pl.Expr:
    """A date column as ISO 8601 text (YYYY-MM-DD): Polars casts a date to text so,
    in a sixth less time than formatting it by a pattern (the same text)."""
    return pl.col(column).cast(pl.String)


# The most days ``_iso_all`` writes out at once (from the table's first date to its
# last: about 270 years); a wider span is cast value by value.
_MOST_DAYS = 100_000


def _iso_all(frame: pl.DataFrame, columns: list[str]) -> dict[str, pl.Expr]:
    """The date ``columns`` of ``frame`` as ISO text (``_iso``), each day from the
    earliest date of any of them to the latest written out once and looked up: a
    county's 18 date columns repeat a few thousand days (the same text, a quarter of
    the time)."""
    if not columns or not frame.height:
        return {c: _iso(c) for c in columns}
    # As day numbers: a date Polars holds may be one Python cannot (after 9999).
    day = pl.col(columns).cast(pl.Int32)
    first, last = frame.select(
        first=pl.min_horizontal(day.min()), last=pl.max_horizontal(day.max())
    ).row(0)
    if first is None or last - first >= _MOST_DAYS:
        return {c: _iso(c) for c in columns}
    days = pl.int_range(first, last + 1, dtype=pl.Int32, eager=True).cast(pl.Date).cast(pl.String)
    return {c: pl.lit(days).gather(pl.col(c).cast(pl.Int32) - first) for c in columns}


class AutoReliefLayout(Layout):
    name = "ca_auto_relief"
    columns = COLUMNS

    def needed(self, columns: list[str]) -> list[str]:
        wanted = {*COLUMNS, *FACT_COLUMNS, *EXPLAIN_COLUMNS, "event_date", "agency",
                  "offense_raw", "charge", "code", "kind"}  # fmt: skip
        return [c for c in columns if c in wanted or c.startswith("t_")]

    def table(self, decided: pl.DataFrame) -> pl.DataFrame:
        conviction = pl.col("kind") == "conviction"
        for column in COLUMNS + FACT_COLUMNS + EXPLAIN_COLUMNS:
            if column not in decided.columns and column not in (
                "conviction_date",
                "arrest_date",
                "court",
                "offense",
                "dob",
            ):
                decided = decided.with_columns(pl.lit(None).alias(column))  # fmt: skip
        dates = [c for c in _DATES if c in decided.columns and c != "date"]
        iso = _iso_all(decided, [*dates, "event_date", "dob"])
        date = pl.coalesce(iso["event_date"], pl.col("event_date_raw"))
        renamed = decided.with_columns(
            dob=pl.coalesce(iso["dob"], pl.col("dob_raw")),
            conviction_date=pl.when(conviction).then(date),
            arrest_date=pl.when(~conviction).then(date),
            court=pl.when(conviction).then(pl.col("agency")),
            offense=pl.coalesce(pl.col("offense_raw"), pl.col("charge")),
            section=pl.when(pl.col("code").is_not_null()).then(
                pl.format("{} {}", pl.col("code"), pl.col("section"))
            ),
            **{c: iso[c] for c in dates},
        ).with_columns(date=date)
        tests = sorted(c for c in decided.columns if c.startswith("t_"))
        return renamed.select(*COLUMNS, *FACT_COLUMNS, *EXPLAIN_COLUMNS, *tests)

    def counts_read(self, counts: pl.DataFrame) -> pl.DataFrame:
        return counts.select("subject_id").clear()

    def tallies(self, published: pl.DataFrame, model, as_of: dt.date, policy) -> dict:
        return tallies(published, model, as_of)

    def write_more(self, folder: Path, *, as_of: dt.date, policy) -> None:
        write_upcoming(folder, as_of=as_of, window_days=policy.upcoming_window_days)


LAYOUT = AutoReliefLayout()


def write_upcoming(folder: Path, *, as_of: dt.date, window_days: int) -> int:
    """upcoming.csv: convictions due within the window after the as-of date, by deadline."""
    last = as_of + dt.timedelta(days=window_days)
    due = pl.col("eligible_on").str.to_date("%Y-%m-%d", strict=False)
    deadline = pl.col("objection_deadline").str.to_date("%Y-%m-%d", strict=False)
    rows = (
        pl.scan_parquet(folder / "determinations.parquet")
        .filter(
            (pl.col("kind") == "conviction")
            & (pl.col("determination") == "upcoming")
            & (due > pl.lit(as_of))
            & (due <= pl.lit(last))
        )
        .with_columns(days_to_deadline=(deadline - pl.lit(as_of)).dt.total_days())
        .sort("objection_deadline", "subject_id", "cnt_order")
        .select(UPCOMING_COLUMNS)
        .collect(engine="streaming")
    )
    write_csv(rows, folder / UPCOMING_FILE)
    return rows.height


def tallies(published: pl.DataFrame, model, as_of: dt.date) -> dict:
    """Every figure of summary.json from a group's determinations (they add up across
    groups of different people, as Prop 64's do)."""
    subjects = model.people.select(pl.len()).collect().item()
    # The few columns the figures read: a filter of the whole table copies every column.
    published = published.select(
        "subject_id", "kind", "determination", "reason", "path", "petitions", "severity"
    )
    # The rows counted once by what the figures tell apart (a few hundred combinations):
    # each figure is then a sum over it, not a pass over every row.
    rows = published.group_by(
        "kind", "determination", "reason", "path", felony=pl.col("severity") == "F"
    ).agg(n=pl.len())
    kind, determination, reason = pl.col("kind"), pl.col("determination"), pl.col("reason")
    by_determination = dict.fromkeys(DETERMINATIONS, 0)
    by_determination.update(_summed(rows, "determination"))
    due = determination.is_in(["relief", "upcoming"])
    relieved = (determination == "relief") | (reason == "already_relieved")
    per_person = published.group_by("subject_id").agg(
        any_relief=(determination == "relief").any(),
        clean=relieved.all(),
        clean_or_due=(relieved | due).all(),
        stuck=(relieved | (determination == "review")).all() & (determination == "review").any(),
    )
    by_kind = {
        k: {
            **dict.fromkeys(DETERMINATIONS, 0),
            **_summed(rows.filter(kind == k), "determination"),
            "total": _n(rows.filter(kind == k)),
        }
        for k in KINDS
    }
    paths = rows.filter(due).select(
        pl.format("{} {}", kind, pl.col("path")).alias("path"), "determination", "n"
    )
    people = _people(model, as_of)
    groups = {
        "people_relieved": per_person.filter(pl.col("any_relief"))["subject_id"],
        "people_clean_slate": per_person.filter(pl.col("clean"))["subject_id"],
        "people_stuck": per_person.filter(pl.col("stuck"))["subject_id"],
    }
    return {
        "subjects": subjects,
        "people_in_scope": per_person.height,
        "records_in_scope": published.height,
        "convictions_in_scope": _n(rows.filter(kind == "conviction")),
        "arrests_in_scope": _n(rows.filter(kind == "arrest")),
        "by_determination": by_determination,
        "by_kind": by_kind,
        "by_path": _by_path(paths),
        "by_reason": _summed(rows, "reason"),
        "by_reason_determination": _summed_by(rows, "reason"),
        "by_kind_reason": {k: _summed(rows.filter(kind == k), "reason") for k in KINDS},
        "review_by_reason": _summed(rows.filter(determination == "review"), "reason"),
        "already_relieved": _n(rows.filter(reason == "already_relieved")),
        "petitions": _tally(
            published.filter(pl.col("petitions").is_not_null())
            .select(pl.col("petitions").str.split("; "))
            .explode("petitions"),
            "petitions",
        ),
        "impact": {
            "people_relieved": groups["people_relieved"].len(),
            "people_clean_slate": groups["people_clean_slate"].len(),
            "people_clean_slate_with_upcoming": per_person.filter(pl.col("clean_or_due")).height,
            "people_stuck": groups["people_stuck"].len(),
            "records_relieved": by_determination["relief"],
            "records_upcoming": by_determination["upcoming"],
            "felonies_relieved": _n(rows.filter((determination == "relief") & pl.col("felony"))),
        },
        "demographics": {
            **{
                name: _groups(people.filter(pl.col("subject_id").is_in(ids.implode())))
                for name, ids in groups.items()
            },
            "everyone": _groups(people),
        },
    }


def _n(rows: pl.DataFrame) -> int:
    """The rows counted in ``rows`` (``n`` each)."""
    return int(rows["n"].sum())


def _summed(rows: pl.DataFrame, column: str) -> dict[str, int]:
    """``summary._tally`` of the rows counted in ``rows``: value (as text, "unknown" for
    none) -> rows, by value."""
    summed = rows.group_by(pl.col(column).cast(pl.String).fill_null("unknown")).agg(pl.sum("n"))
    return {k: int(v) for k, v in sorted(summed.iter_rows())}


def _summed_by(rows: pl.DataFrame, column: str) -> dict[str, dict[str, int]]:
    """``summary._by`` of the rows counted in ``rows``: value -> determination -> rows,
    every determination present, and their total."""
    result: dict[str, dict[str, int]] = {}
    summed = rows.group_by(pl.col(column).cast(pl.String).fill_null("unknown"), "determination")
    for key, determination, n in summed.agg(pl.sum("n")).iter_rows():
        result.setdefault(key, dict.fromkeys(DETERMINATIONS, 0))[determination] = int(n)
    for counts in result.values():
        counts["total"] = sum(counts[d] for d in DETERMINATIONS)
    return dict(sorted(result.items()))


def _people(model, as_of: dt.date) -> pl.DataFrame:
    dob = pl.col("dob")
    age = (
        pl.lit(as_of).dt.year()
        - dob.dt.year()
        - (
            (pl.lit(as_of).dt.month() < dob.dt.month())
            | (
                (pl.lit(as_of).dt.month() == dob.dt.month())
                & (pl.lit(as_of).dt.day() < dob.dt.day())
            )
        ).cast(pl.Int32)
    )
    return (
        model.people.select("subject_id", "race", "gender", "dob")
        .with_columns(age_band=age_band(age))
        .collect()
    )


def _groups(frame: pl.DataFrame) -> dict:
    return {c: _tally(frame, c) for c in ("race", "gender", "age_band")}


def _by_path(paths: pl.DataFrame) -> dict:
    result: dict[str, dict[str, int]] = {}
    for path, determination, n in (
        paths.group_by("path", "determination").agg(pl.sum("n")).iter_rows()
    ):
        result.setdefault(path, {"relief": 0, "upcoming": 0})[determination] = int(n)
    return dict(sorted(result.items()))


__all__ = ["COLUMNS", "LAYOUT", "UPCOMING_FILE", "tallies", "write_upcoming"]
