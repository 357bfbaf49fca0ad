"""Which convictions go into which filing: read the run folder, group by court.

A filing is made for each court: the county's superior court, and a separate one
for each courthouse or branch the data names (`court` holds the court's name as
DOJ records it, `CASC SACRAMENTO`, `CAMC FOLSOM`: superior or former municipal
court, then the place). Courts whose place is the county itself are the county's
main court, so `CASC SACRAMENTO` and `CAMC SACRAMENTO` (the municipal court,
unified into the superior court in 1998) share one filing; an office can name
courthouses, or put everything in one filing, in office.yaml.

Only the convictions DOJ listed are answered for (HS 11361.9(a), (b)): those dated
on or before the rule pack's conviction cut-off (2016-11-08). A conviction dated
after it (reason `after_prop64`) was never on DOJ's list, so it is in no filing,
no list and no letter; `filings.json` counts it apart (`after_cutoff`).

Within a court each other conviction goes to exactly one list, by its `determination`:

- granted (`dismiss`, `reduce`): the notice of no challenge, the order, Exhibit A
  and the DOJ file;
- challenged (`not_eligible`): the notice of challenge and Exhibit B;
- awaiting review (`review`): counted in the notices, listed in
  awaiting-review.csv, never filed, so nothing silently disappears.

A reviewed run folder (written by the web app) has the same layout plus
`review_decision`, `review_note`, `reviewed_by`, `reviewed_at`; its rows are
treated by their `determination` like any other, and marked "decided on review".
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from clearance._digest import file_sha256
from clearance.filings.errors import FilingsError
from clearance.filings.office import Office
from clearance.law import DETERMINATIONS, load_rulepack
from clearance.outputs.determinations import CONTRACT_COLUMNS

__all__ = [
    "DETERMINATIONS_FILE",
    "REVIEW_COLUMNS",
    "RUN_FILE",
    "Court",
    "RunInfo",
    "after_cutoff",
    "group_courts",
    "read_run",
]

RUN_FILE = "run.json"
DETERMINATIONS_FILE = "determinations.parquet"
# The run's contract columns but race and gender, which no filing shows.
NEEDED_COLUMNS: tuple[str, ...] = tuple(c for c in CONTRACT_COLUMNS if c not in ("race", "gender"))
# Older run folders may lack these; they default to "none recorded".
OPTIONAL_COLUMNS: dict[str, pl.DataType] = {"subsection": pl.String(), "attempt": pl.Boolean()}
REVIEW_COLUMNS: tuple[str, ...] = ("review_decision", "review_note", "reviewed_by", "reviewed_at")
GRANTED: tuple[str, ...] = ("dismiss", "reduce")
# Exhibit order: alphabetical by person, then oldest conviction first.
SORT_COLUMNS: tuple[str, ...] = (
    "name",
    "dob",
    "subject_id",
    "conviction_date",
    "case_number",
    "cnt_order",
)
# `CASC SACRAMENTO`: CA + court type (SC superior, MC municipal, JC justice...) + place.
_COURT_NAME = re.compile(r"^CA[A-Z]{2}\s+(?P<place>.+)$")


@dataclass(frozen=True)
class RunInfo:
    """What the filings cite from the run: county, as-of date, policy, versions."""

    as_of: dt.date
    county: str
    policy: str
    rule_pack: str
    tool_version: str
    run_sha256: str
    determinations_sha256: str
    reviewed: bool  # the run folder carries review decisions (web app)


@dataclass(frozen=True)
class Court:
    """One filing: a court (and courthouse) with its three lists of convictions."""

    slug: str  # folder name: `sacramento`, `sacramento-folsom`
    county: str  # as in the data, upper case
    courthouse: str | None  # None: the county's main court
    data_names: tuple[str, ...]  # the `court` values filed here
    granted: pl.DataFrame
    challenged: pl.DataFrame
    awaiting: pl.DataFrame

    @property
    def county_title(self) -> str:
        return _title(self.county)

    @property
    def display_name(self) -> str:
        name = f"Superior Court of California, County of {self.county_title}"
        return f"{name} ({self.courthouse})" if self.courthouse else name


def read_run(run_dir: Path) -> tuple[RunInfo, pl.DataFrame]:
    """The run's provenance and its determinations, checked; `FilingsError` otherwise."""
    if not run_dir.is_dir():
        raise FilingsError(f"{run_dir}: no such run folder")
    run_file = run_dir / RUN_FILE
    table_file = run_dir / DETERMINATIONS_FILE
    for path in (run_file, table_file):
        if not path.is_file():
            raise FilingsError(f"{run_dir}: not a run folder ({path.name} is missing)")
    try:
        run = json.loads(run_file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FilingsError(f"{run_file}: not valid JSON ({type(exc).__name__})") from None
    if not isinstance(run, dict):
        raise FilingsError(f"{run_file}: not a run record (expected a JSON object)")
    try:
        as_of = dt.date.fromisoformat(str(run["as_of"]))
        county = str(run["county"]).strip().upper()
    except (KeyError, ValueError):
        raise FilingsError(f"{run_file}: as_of (YYYY-MM-DD) and county are required") from None
    try:
        schema = pl.read_parquet_schema(table_file)
    except Exception:
        raise FilingsError(f"{table_file}: not a readable Parquet file") from None
    missing = [c for c in NEEDED_COLUMNS if c not in schema]
    if missing:
        raise FilingsError(f"{table_file}: missing column(s) {', '.join(missing)}")
    review_columns = [c for c in REVIEW_COLUMNS if c in schema]
    optional = [c for c in OPTIONAL_COLUMNS if c in schema]
    frame = pl.read_parquet(table_file, columns=[*NEEDED_COLUMNS, *optional, *review_columns])
    frame = frame.with_columns(
        *(pl.col(c).cast(pl.String) for c in NEEDED_COLUMNS),
        *(
            pl.col(c).cast(t) if c in schema else pl.lit(None, dtype=t).alias(c)
            for c, t in OPTIONAL_COLUMNS.items()
        ),
    )
    unknown = sorted(
        {d for d in frame["determination"].unique().to_list() if d not in DETERMINATIONS} - {None}
    )
    if unknown or frame["determination"].null_count():
        what = ", ".join(unknown) if unknown else "empty"
        raise FilingsError(
            f"{table_file}: determination must be one of {', '.join(DETERMINATIONS)} (found {what})"
        )
    info = RunInfo(
        as_of=as_of,
        county=county,
        policy=str((run.get("policy") or {}).get("name") or "policy not recorded"),
        rule_pack=str((run.get("rule_pack") or {}).get("version") or "unknown"),
        tool_version=str((run.get("tool") or {}).get("version") or "unknown"),
        run_sha256=file_sha256(run_file),
        determinations_sha256=file_sha256(table_file),
        reviewed="review_decision" in review_columns,
    )
    return info, frame


def _title(text: str) -> str:
    """`SAN LUIS OBISPO` -> `San Luis Obispo` (county and place names in prose)."""
    return " ".join(w.capitalize() for w in text.split())


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "court"


def courthouse_of(court: str | None, county: str, office: Office) -> str | None:
    """The courthouse a data court name files in; None for the county's main court."""
    if court is None or not office.split_by_courthouse:
        return None
    key = " ".join(court.upper().split())
    if key in office.courthouse_names:
        return office.courthouse_names[key]
    match = _COURT_NAME.match(key)
    place = match.group("place") if match else key
    if not place or place == county:
        return None
    return _title(place)


def relief_code() -> pl.Expr:
    """The relief a granted conviction gets (labels in templates/pleadings.yaml).

    Dismissal is dismissal and sealing (HS 11361.8(f)). A reduction redesignates
    a felony as a misdemeanor; for a misdemeanor or infraction the law names no
    single lower level, so the order says "misdemeanor or infraction as the law
    now provides" (HS 11361.8(e), (h)).
    """
    determination = pl.col("determination")
    return (
        pl.when(determination == "dismiss")
        .then(pl.lit("dismiss_and_seal"))
        .when((determination == "reduce") & (pl.col("severity") == "F"))
        .then(pl.lit("redesignate_misdemeanor"))
        .when(determination == "reduce")
        .then(pl.lit("redesignate"))
        .otherwise(pl.lit(None, dtype=pl.String))
        .alias("relief_code")
    )


def after_cutoff(cutoff: dt.date) -> pl.Expr:
    """True for a conviction DOJ never listed: dated after `cutoff`, or `after_prop64`.

    `conviction_date` is the run's text (ISO, or the raw value of an invalid date,
    which is never after the cut-off: such a row stays awaiting review). Never null.
    """
    date = pl.col("conviction_date").str.to_date("%Y-%m-%d", strict=False)
    later = (date > pl.lit(cutoff, dtype=pl.Date)).fill_null(False)
    return later | (pl.col("reason") == "after_prop64").fill_null(False)


def group_courts(
    info: RunInfo, frame: pl.DataFrame, office: Office, cutoff: dt.date | None = None
) -> list[Court]:
    """One `Court` per filing, main court first, each list in exhibit order.

    Only convictions dated on or before `cutoff` (default: the rule pack's conviction
    cut-off) are filed; a court with none gets no filing.
    """
    if cutoff is None:
        cutoff = load_rulepack().conviction_cutoff
    frame = frame.filter(~after_cutoff(cutoff))
    county = info.county
    names = sorted({c for c in frame["court"].unique().to_list() if c is not None})
    where = {name: courthouse_of(name, county, office) for name in names}
    mapping = pl.DataFrame(
        {"court": names, "courthouse": [where[n] for n in names]},
        schema={"court": pl.String, "courthouse": pl.String},
    )
    decided = (
        pl.col("review_decision").is_not_null()
        if info.reviewed
        else pl.lit(False).alias("decided_on_review")
    )
    frame = (
        frame.join(mapping, on="court", how="left")
        .with_columns(relief_code(), decided.alias("decided_on_review"))
        .sort(list(SORT_COLUMNS), nulls_last=True, maintain_order=True)
    )
    courthouses = sorted(
        {where.get(n) for n in names} | ({None} if frame["court"].null_count() else set()),
        key=lambda c: (c is not None, c or ""),
    )
    courts = []
    for courthouse in courthouses:
        rows = frame.filter(
            pl.col("courthouse").is_null()
            if courthouse is None
            else pl.col("courthouse") == courthouse
        )
        if rows.is_empty():
            continue
        slug = _slug(county) + ("" if courthouse is None else "-" + _slug(courthouse))
        data_names = tuple(n for n in names if where[n] == courthouse)
        determination = pl.col("determination")
        courts.append(
            Court(
                slug=slug,
                county=county,
                courthouse=courthouse,
                data_names=data_names,
                granted=rows.filter(determination.is_in(GRANTED)),
                challenged=rows.filter(determination == "not_eligible"),
                awaiting=rows.filter(determination == "review"),
            )
        )
    _check_unique_slugs(courts)
    return courts


def _check_unique_slugs(courts: list[Court]) -> None:
    seen: dict[str, str | None] = {}
    for court in courts:
        if court.slug in seen:
            raise FilingsError(
                f"courts {seen[court.slug]!r} and {court.courthouse!r} would share the folder "
                f"{court.slug!r}; name them apart in office.yaml (courts.names)"
            )
        seen[court.slug] = court.courthouse
