"""The run's figures (summary.json): what was read, what was decided, and who it helps.

People-level impact follows how offices announce results: people helped (at least
one conviction dismissed or reduced), and what their records look like once the
relief is granted. A conviction counts as a remaining felony when its severity is
``F`` and this run neither dismisses nor reduces it; a conviction with no recorded
severity is not counted as a felony. "No conviction in the last seven years"
needs every remaining conviction to be dated, so an undated one prevents the claim.

Where the relief lands (added for the impact report, docs/report.md): convictions by
decade of conviction, by court, by arresting agency and by city, and people helped
in each. The extract does not name the prosecuting agency, so the report uses the
agency that arrested or cited the person in the same cycle (the first arrest step
of the conviction's cycle, ``CNT_ORDER``'s first three digits). A city is named
only by a police department (``CAPD GALT`` is Galt's police); an arrest by a
sheriff or other county or state agency names no city, and is counted as such.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from clearance.extract.model import Model
from clearance.extract.reader import ReadResult

DETERMINATIONS = ("dismiss", "reduce", "not_eligible", "review")
RELIEF = ("dismiss", "reduce")
AGE_BANDS = ((0, 21, "under 21"), (21, 30, "21-29"), (30, 40, "30-39"), (40, 50, "40-49"),
             (50, 60, "50-59"), (60, 200, "60 and over"))  # fmt: skip
CLEAN_YEARS = 7
ARREST_EVENT = "ARREST"  # STP_TYPE_DESCR "ARREST/DETAINED/CITED"
NO_ARREST = "unknown"  # no arrest step in the conviction's cycle
NO_CITY = "not a city agency"  # arrested by a sheriff, or a county or state agency


def age_band(age: pl.Expr) -> pl.Expr:
    expr = pl.when(age.is_null()).then(pl.lit("unknown"))
    for low, high, label in AGE_BANDS:
        expr = expr.when((age >= low) & (age < high)).then(pl.lit(label))
    return expr.otherwise(pl.lit("unknown"))


def _tally(frame: pl.DataFrame, column: str) -> dict[str, int]:
    counted = (
        frame.select(pl.col(column).cast(pl.String).fill_null("unknown")).group_by(column).len()
    )
    return {k: v for k, v in sorted(counted.iter_rows())}


def _by(
    frame: pl.DataFrame, column: str, determinations: tuple[str, ...] = DETERMINATIONS
) -> dict[str, dict[str, int]]:
    """column value -> determination -> n, with every determination present."""
    result: dict[str, dict[str, int]] = {}
    grouped = frame.group_by(pl.col(column).cast(pl.String).fill_null("unknown"), "determination")
    for key, determination, n in grouped.len().iter_rows():
        result.setdefault(key, dict.fromkeys(determinations, 0))[determination] = n
    for counts in result.values():
        counts["total"] = sum(counts[d] for d in determinations)
    return dict(sorted(result.items()))


def impact(determinations: pl.DataFrame, model: Model, as_of: dt.date) -> dict:
    """People helped, and what their records look like after relief."""
    helped_ids = determinations.filter(pl.col("determination").is_in(RELIEF))["subject_id"].unique()
    relief = determinations.select("subject_id", "cnt_order", "determination")
    granted = pl.col("determination").is_in(RELIEF).fill_null(False)
    remains = ~pl.col("determination").eq("dismiss").fill_null(False)
    felony = pl.col("severity") == "F"
    clean_since = pl.lit(as_of).dt.offset_by(f"-{CLEAN_YEARS}y")
    # One streaming query, from the counts to a row a person: the convictions of the
    # people helped are never held all at once (millions in a statewide run).
    per_person = (
        model.counts.filter(pl.col("convicted") & pl.col("subject_id").is_in(helped_ids.implode()))
        .select("subject_id", "cnt_order", "severity", "event_date")
        .join(relief.lazy(), on=["subject_id", "cnt_order"], how="left")
        .group_by("subject_id")
        .agg(
            had_felony=felony.any(),
            felony_left=(felony & ~granted).any(),
            conviction_left=remains.any(),
            recent_or_undated_left=(
                remains & (pl.col("event_date").is_null() | (pl.col("event_date") > clean_since))
            ).any(),
        )
        .collect(engine="streaming")
    )
    return {
        "people_helped": helped_ids.len(),
        "people_no_felony": per_person.filter(~pl.col("felony_left")).height,
        "people_felony_cleared": per_person.filter(
            pl.col("had_felony") & ~pl.col("felony_left")
        ).height,
        "people_no_conviction": per_person.filter(~pl.col("conviction_left")).height,
        f"people_no_conviction_{CLEAN_YEARS}_years": per_person.filter(
            ~pl.col("recent_or_undated_left")
        ).height,
        "convictions_dismissed_or_reduced": determinations.filter(
            pl.col("determination").is_in(RELIEF)
        ).height,
        "felonies_dismissed_or_reduced": determinations.filter(
            pl.col("determination").is_in(RELIEF) & (pl.col("severity") == "F")
        ).height,
    }


def _decade(date: pl.Expr) -> pl.Expr:
    """The decade ("1980s") of a full ISO date; null for a partial or missing one."""
    year = pl.when(date.str.contains(r"^\d{4}-\d{2}-\d{2}$")).then(
        date.str.slice(0, 4).cast(pl.Int32)
    )
    return pl.format("{}s", (year // 10) * 10)


def places(determinations: pl.DataFrame, model: Model) -> pl.DataFrame:
    """Each conviction's arresting agency and city, beside its court and determination.

    The arresting agency is the first arrest step (lowest ``cnt_order``) of the
    conviction's cycle; one group-by over the arrest counts of the people determined.
    """
    ids = determinations["subject_id"].unique().implode()
    cycle = pl.col("cnt_order").str.slice(0, 3)
    first = pl.col("cnt_order").arg_min()
    # Only the cycles a determination is in: far fewer groups than every arrest.
    cycles = determinations.select("subject_id", cycle.alias("cycle")).unique()
    arrests = (
        model.counts.filter(
            pl.col("event_type").str.to_uppercase().str.starts_with(ARREST_EVENT)
            & pl.col("subject_id").is_in(ids)
        )
        .with_columns(cycle=cycle)
        .join(cycles.lazy(), on=["subject_id", "cycle"], how="semi")
        .group_by("subject_id", "cycle")
        .agg(
            arresting_agency=pl.col("agency").get(first),
            agency_type=pl.col("agency_type").get(first),
        )
        .collect(engine="streaming")
    )
    police = pl.col("agency_type").str.to_uppercase().str.contains("POLICE").fill_null(False)
    return (
        determinations.select("subject_id", "determination", "court", cycle.alias("cycle"))
        .join(arrests, on=["subject_id", "cycle"], how="left")
        .with_columns(
            arresting_agency=pl.col("arresting_agency").fill_null(NO_ARREST),
            city=pl.when(pl.col("arresting_agency").is_null())
            .then(pl.lit(NO_ARREST))
            .when(police)
            # "CAPD RANCHO CORDOVA": the ORI kind, then the city's name.
            .then(pl.col("arresting_agency").str.replace(r"^\S+\s+", ""))
            .otherwise(pl.lit(NO_CITY)),
        )
    )


def where(determinations: pl.DataFrame, model: Model) -> dict:
    """Convictions by decade, court, arresting agency and city; people helped by place."""
    placed = places(determinations, model)
    helped = placed.filter(pl.col("determination").is_in(RELIEF))
    people_helped_by = {
        column: _tally(helped.select("subject_id", column).unique(), column)
        for column in ("court", "arresting_agency", "city")
    }
    return {
        "by_decade": _by(
            determinations.select("determination", decade=_decade(pl.col("conviction_date"))),
            "decade",
        ),
        "by_court": _by(placed, "court"),
        "by_arresting_agency": _by(placed, "arresting_agency"),
        "by_city": _by(placed, "city"),
        "people_helped_by": people_helped_by,
    }


def demographics(determinations: pl.DataFrame, model: Model, as_of: dt.date) -> dict:
    """People helped, and everyone in the extract, by race/ethnicity, gender and age band."""
    age = (
        pl.lit(as_of).dt.year()
        - pl.col("dob").dt.year()
        - (
            (pl.lit(as_of).dt.month() < pl.col("dob").dt.month())
            | (
                (pl.lit(as_of).dt.month() == pl.col("dob").dt.month())
                & (pl.lit(as_of).dt.day() < pl.col("dob").dt.day())
            )
        ).cast(pl.Int32)
    )
    people = (
        model.people.select("subject_id", "race", "gender", "dob")
        .with_columns(age_band=age_band(age))
        .collect(engine="streaming")
    )
    helped_ids = determinations.filter(pl.col("determination").is_in(RELIEF))["subject_id"]
    helped = people.filter(pl.col("subject_id").is_in(helped_ids.implode()))
    return {
        group: {
            "race": _tally(frame, "race"),
            "gender": _tally(frame, "gender"),
            "age_band": _tally(frame, "age_band"),
        }
        for group, frame in (("people_helped", helped), ("everyone", people))
    }


def summarize(
    determinations: pl.DataFrame,
    model: Model,
    read: ReadResult,
    *,
    as_of: dt.date,
    county: str,
    policy_name: str,
) -> dict:
    """summary.json for a run's determinations, all of them in one frame."""
    return finish(
        tallies(determinations, model, as_of),
        read,
        as_of=as_of,
        county=county,
        policy_name=policy_name,
    )


def finish(
    counted: dict, read: ReadResult, *, as_of: dt.date, county: str, policy_name: str
) -> dict:
    """summary.json from the run's ``tallies`` (one group's, or several ``add``-ed)."""
    return {
        "as_of": as_of.isoformat(),
        "county": county,
        "policy": policy_name,
        "rows": {
            "read": read.rows_read,
            "used": read.rows_used,
            "rejected": read.rows_rejected,
            "reconciled": read.rows_read == read.rows_used + read.rows_rejected,
        },
        "rejects_by_reason": _tally(read.rejects, "reason_code"),
        **counted,
    }


# What tallies() reads of the model: people's columns (everyone's, for the
# demographics), and the counts' rows and columns (impact: convictions; where:
# arrests). A group's results are tallied from these alone (outputs/spill.py).
PEOPLE_COLUMNS = ("subject_id", "race", "gender", "dob")
COUNT_COLUMNS = ("subject_id", "cnt_order", "convicted", "severity", "event_date",
                 "event_type", "agency", "agency_type")  # fmt: skip


def counts_read(counts: pl.DataFrame) -> pl.DataFrame:
    """The rows and columns of ``counts`` that tallies() reads (convictions, arrests)."""
    arrest = pl.col("event_type").str.to_uppercase().str.starts_with(ARREST_EVENT)
    return counts.filter(pl.col("convicted").fill_null(False) | arrest.fill_null(False)).select(
        COUNT_COLUMNS
    )


def tallies(determinations: pl.DataFrame, model: Model, as_of: dt.date) -> dict:
    """Every figure of summary.json that comes from the determinations and the model.

    Each figure is a count, and every count is per person or per conviction: the
    tallies of groups of different people ``add`` up to the tallies of them all.
    """
    subjects = model.people.select(pl.len()).collect(engine="streaming").item()
    by_determination = dict.fromkeys(DETERMINATIONS, 0)
    by_determination.update(_tally(determinations, "determination"))
    return {
        "subjects": subjects,
        "people_in_scope": determinations["subject_id"].n_unique(),
        "convictions_in_scope": determinations.height,
        "by_determination": by_determination,
        "by_reason": _tally(determinations, "reason"),
        "by_reason_determination": _by(determinations, "reason"),
        "review_by_reason": _tally(
            determinations.filter(pl.col("determination") == "review"), "reason"
        ),
        "by_section": _by(determinations, "section"),
        "by_severity": _by(determinations, "severity"),
        "not_tested": _tally(
            determinations.filter(pl.col("not_tested").is_not_null())
            .select(pl.col("not_tested").str.split(", "))
            .explode("not_tested"),
            "not_tested",
        ),
        "impact": impact(determinations, model, as_of),
        "demographics": demographics(determinations, model, as_of),
        **where(determinations, model),
    }


def add(a: dict, b: dict) -> dict:
    """Two groups' ``tallies`` added up, key by key.

    Keys keep ``a``'s order, then ``b``'s new ones; a table whose keys are sorted in
    both (what ``_tally`` and ``_by`` give) stays sorted, as one group's would be.
    """
    merged = dict(a)
    for key, value in b.items():
        if key not in merged:
            merged[key] = value
        elif isinstance(value, dict):
            merged[key] = add(merged[key], value)
        else:
            merged[key] = merged[key] + value
    if list(a) == sorted(a) and list(b) == sorted(b) and list(merged) != list(a):
        merged = dict(sorted(merged.items()))
    return merged
