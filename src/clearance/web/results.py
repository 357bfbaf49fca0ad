"""The determinations table, searched, filtered and paged lazily with Polars.

Each page is one lazy query over ``determinations.parquet``: only the columns shown
are read, filters are pushed down to the scan, and only the page's rows are
collected, so a page of a million-row run costs about what a page of the sample
does. Review state (opened, decided) comes from the database as a small frame and
is joined in, so the table always shows the current decisions.

A run of a pack with kinds of rows (ca-auto-relief: convictions and arrests) has
more columns (``KIND_COLUMNS``: the kind, the path, the dates relief and the last
petition to prohibit it fall on, the petitions), shown and filtered by the kind when
its file holds them; Prop 64's file does not, and its table is as it was.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import polars as pl

PAGE_SIZE = 50
FILTERS = ("determination", "reason", "section", "court", "race")
SEARCHED = ("subject_id", "cii_number", "name", "case_number")
SHOWN = (
    "subject_id",
    "name",
    "cnt_order",
    "case_number",
    "court",
    "conviction_date",
    "section",
    "severity",
    "race",
    "determination",
    "reason",
)
# A run with kinds of rows (ca-auto-relief) has these too (outputs.auto_relief).
KIND_COLUMNS = (
    "kind",
    "agency",
    "arrest_date",
    "path",
    "eligible_on",
    "objection_deadline",
    "petitions",
)
KIND_FILTERS = ("kind", "path")
REVIEW_STATES = ("pending", "decided", "any")
REVIEW_SCHEMA = {
    "subject_id": pl.String,
    "cnt_order": pl.String,
    "opened": pl.Boolean,
    "review_decision": pl.String,
    "reviewed_by": pl.String,
}


@dataclass(frozen=True)
class Query:
    """What the user asked for; empty strings mean "any"."""

    q: str = ""
    determination: str = ""
    reason: str = ""
    section: str = ""
    court: str = ""
    race: str = ""
    review: str = ""  # pending | decided | "" (any)
    page: int = 1
    kind: str = ""  # conviction | arrest (runs with kinds of rows)
    path: str = ""

    def params(self, **changes: object) -> dict[str, str]:
        """The query as URL parameters (for links to other pages), empty ones left out."""
        values = {**self.__dict__, **changes}
        return {k: str(v) for k, v in values.items() if v != ""}


@dataclass
class Page:
    rows: list[dict]
    total: int
    page: int
    pages: int


def empty_reviews() -> pl.DataFrame:
    return pl.DataFrame(schema=REVIEW_SCHEMA)


@lru_cache(maxsize=32)
def _columns(path: str, _mtime: float) -> tuple[str, ...]:
    return tuple(pl.scan_parquet(path).collect_schema().names())


def has_kinds(path: Path) -> bool:
    """Whether the run's rows are of several kinds (a ca-auto-relief run)."""
    return "kind" in _columns(str(path), path.stat().st_mtime)


def shown(path: Path) -> tuple[str, ...]:
    """The columns the table reads from this run's file."""
    return SHOWN + KIND_COLUMNS if has_kinds(path) else SHOWN


def filters(path: Path) -> tuple[str, ...]:
    return FILTERS + KIND_FILTERS if has_kinds(path) else FILTERS


@lru_cache(maxsize=32)
def _options(path: str, _mtime: float, columns: tuple[str, ...]) -> dict[str, list[str]]:
    scan = pl.scan_parquet(path)
    frames = pl.collect_all([scan.select(pl.col(c).drop_nulls().unique().sort()) for c in columns])
    return {c: frame[c].to_list() for c, frame in zip(columns, frames, strict=True)}


def options(path: Path) -> dict[str, list[str]]:
    """The values each filter can take in this run (read once per file)."""
    return _options(str(path), path.stat().st_mtime, filters(path))


def _filtered(path: Path, reviews: pl.DataFrame, query: Query) -> pl.LazyFrame:
    scan = pl.scan_parquet(path)
    conditions = []
    for column in ("reason", "section", "court", "race", *KIND_FILTERS):
        value = getattr(query, column)
        if column in KIND_FILTERS and not has_kinds(path):
            continue
        if value:
            conditions.append(pl.col(column) == value)
    text = query.q.strip().lower()
    if text:
        conditions.append(
            pl.any_horizontal(
                pl.col(c).str.to_lowercase().str.contains(text, literal=True).fill_null(False)
                for c in SEARCHED
            )
        )
    if conditions:
        scan = scan.filter(*conditions)
    frame = (
        scan.select(shown(path))
        .join(
            reviews.lazy().select(list(REVIEW_SCHEMA)),
            on=["subject_id", "cnt_order"],
            how="left",
            maintain_order="left",  # pages follow the file's order
        )
        .with_columns(
            engine_determination=pl.col("determination"),
            determination=pl.coalesce("review_decision", "determination"),
            opened=pl.col("opened").fill_null(False),
        )
    )
    if query.determination:
        frame = frame.filter(pl.col("determination") == query.determination)
    reviewable = (pl.col("engine_determination") == "review") | pl.col("opened")
    if query.review == "pending":
        frame = frame.filter(reviewable & pl.col("review_decision").is_null())
    elif query.review == "decided":
        frame = frame.filter(pl.col("review_decision").is_not_null())
    return frame


# The review state of some people (a list of subject ids), or of everyone (None).
Reviews = Callable[[Sequence[str] | None], pl.DataFrame]


def page(path: Path, reviews: pl.DataFrame | Reviews, query: Query) -> Page:
    """One page of the table for the query (rows in the file's order: person, count).

    ``reviews`` is the review frame, or a function giving it for some people: then a
    query that does not filter on the decision reads the review state of the page's
    people only.
    """
    if isinstance(reviews, pl.DataFrame):
        frame, lookup = reviews, None
    elif query.determination or query.review:
        frame, lookup = reviews(None), None
    else:
        frame, lookup = empty_reviews(), reviews
    filtered = _filtered(path, frame, query)
    total = filtered.select(pl.len()).collect().item()
    pages = max(1, math.ceil(total / PAGE_SIZE))
    number = min(max(1, query.page), pages)
    chosen = filtered.slice((number - 1) * PAGE_SIZE, PAGE_SIZE).collect()
    if lookup is not None:
        # The page's rows first, then their review state, joined as _filtered does.
        subjects = chosen["subject_id"].unique().to_list()
        found = lookup(subjects).select(list(REVIEW_SCHEMA))
        chosen = (
            chosen.drop("opened", "review_decision", "reviewed_by", "determination")
            .rename({"engine_determination": "determination"})
            .join(found, on=["subject_id", "cnt_order"], how="left", maintain_order="left")
            .with_columns(
                engine_determination=pl.col("determination"),
                determination=pl.coalesce("review_decision", "determination"),
                opened=pl.col("opened").fill_null(False),
            )
            .select(chosen.columns)
        )
    return Page(rows=chosen.to_dicts(), total=total, page=number, pages=pages)


def conviction(path: Path, subject_id: str, cnt_order: str) -> dict | None:
    """One conviction's row (the engine's determination), or None if not in the run."""
    found = (
        pl.scan_parquet(path)
        .filter(pl.col("subject_id") == subject_id, pl.col("cnt_order") == cnt_order)
        .select(shown(path))
        .collect()
    )
    return found.row(0, named=True) if found.height else None
