"""The determinations table and review queue: searched, filtered, sorted and paged lazily.

Each page is one lazy query over ``determinations.parquet``: only the columns shown
are read, filters are pushed down to the scan, and only the page's rows are
collected, so a page of a million-row run costs about what a page of the sample
does. Review state (opened, decided) comes from the database as a small frame and
is joined in, so the table always shows the current decisions.

A run of a pack with kinds of rows (ca-auto-relief: convictions and arrests) has
more columns (``KIND_COLUMNS``: the kind, the path, the dates relief and the last
petition to prohibit it fall on, the petitions), shown and filtered by the kind when
its file holds them; Prop 64's file does not, and its table is as it was.

The same query gives the queue's order for "next case" (``position``) and the rows of
an export of the filtered view (``export_rows``): one definition of what a view holds.
A name search forgives order, case, commas and accents: "Jose Flores", "flores jose"
and "FLORES, JOSÉ" all find ``FLORES,JOSE``.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
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
    "opened_by": pl.String,  # who first opened it for review (None: nobody did)
    "review_decision": pl.String,
    "reviewed_by": pl.String,
    "decision_id": pl.Int64,  # the audit entry of the current decision (None: undecided)
}
REVIEW_COLUMNS = tuple(c for c in REVIEW_SCHEMA if c not in ("subject_id", "cnt_order"))
# "Opened by" of a conviction the engine itself sent to review.
ENGINE = "engine"
# What the table sorts by: a column of the file, or of the review state joined in.
SORTS = ("subject_id", "name", "case_number", "court", "conviction_date", "section",
         "severity", "race", "determination", "reason", "opened_by", "reviewed_by")  # fmt: skip
KIND_SORTS = ("kind", "path", "eligible_on", "objection_deadline")
# Sorting or filtering on these needs the review state of every conviction of the run.
REVIEW_DEPENDENT = ("determination", "opened_by", "reviewed_by")
EXPORTED = ("subject_id", "name", "cnt_order", "case_number", "court", "conviction_date",
            "section", "severity", "race", "determination", "engine_determination", "reason",
            "review", "opened_by", "reviewed_by")  # fmt: skip
EXPORTED_KINDS = ("kind", "agency", "arrest_date", "path", "eligible_on", "objection_deadline",
                  "petitions")  # fmt: skip
MAX_TEXT = 200  # the longest search text or filter value


class QueryError(ValueError):
    """A view asked for with a parameter it cannot have (answered 400 with the message)."""


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
    opened_by: str = ""  # an account's name, or ENGINE
    sort: str = ""  # a column of SORTS (KIND_SORTS), "-" before it for descending

    def params(self, **changes: object) -> dict[str, str]:
        """The query as URL parameters (for links to other pages), empty ones left out;
        page 1 is left out too."""
        values = {**self.__dict__, **changes}
        return {k: str(v) for k, v in values.items() if v != "" and (k, v) != ("page", 1)}

    @classmethod
    def parse(cls, values: Mapping[str, str]) -> Query:
        """The query of URL parameters (unknown ones ignored); QueryError if one is bad."""
        known: dict[str, object] = {}
        for field in fields(cls):
            value = values.get(field.name)
            if value is None:
                continue
            value = value.strip()
            if len(value) > MAX_TEXT:
                raise QueryError(f"{field.name}: too long (at most {MAX_TEXT} characters)")
            if field.name == "page":
                if value and (not value.isdigit() or len(value) > 9):
                    raise QueryError(f"page: {value!r} is not a page number")
                known["page"] = int(value or 1)
            else:
                known[field.name] = value
        query = cls(**known)  # type: ignore[arg-type]
        if query.review not in ("", "pending", "decided"):
            raise QueryError("review: choose pending or decided (or leave it out)")
        return query

    @property
    def sort_column(self) -> str:
        return self.sort.removeprefix("-")

    @property
    def descending(self) -> bool:
        return self.sort.startswith("-")

    def sorted_by(self, column: str) -> str:
        """The ``sort`` a click on a column's heading asks for: ascending first, then
        descending, then back."""
        return f"-{column}" if self.sort == column else column

    def needs_reviews(self) -> bool:
        """Whether this view filters or sorts on the review state of every conviction."""
        return bool(
            self.determination
            or self.review
            or self.opened_by
            or self.sort_column in REVIEW_DEPENDENT
        )


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


def sorts(path: Path) -> tuple[str, ...]:
    """The columns this run's table sorts by."""
    return SORTS + KIND_SORTS if has_kinds(path) else SORTS


def check(path: Path, query: Query) -> Query:
    """``query``, or QueryError when it sorts by a column this run's table has not."""
    if query.sort and query.sort_column not in sorts(path):
        raise QueryError(
            f"sort: cannot sort by {query.sort_column!r}; sort by one of {', '.join(sorts(path))}"
        )
    return query


def fold(text: str) -> list[str]:
    """The words of a search: accents dropped, lower case, split at anything that is not a
    letter or a digit ("FLORES, JOSÉ" -> ["flores", "jose"])."""
    bare = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return [w for w in re.split(r"[^\w]+|_", bare.lower()) if w]


def _folded(column: str) -> pl.Expr:
    """A text column as ``fold`` sees it: accents dropped, lower case, words apart."""
    return (
        pl.col(column)
        .str.normalize("NFKD")
        .str.replace_all(r"\p{M}", "")
        .str.to_lowercase()
        .str.replace_all(r"[^\p{L}\p{N}]+", " ")
    )


def _search(text: str) -> pl.Expr | None:
    """Rows the search text finds: every word of it in the name, in any order (forgiving
    case, commas and accents), or, for a text with a digit, the text in the subject id,
    CII or case number."""
    text = text.strip().lower()
    if not text:
        return None
    found = []
    if any(c.isdigit() for c in text):
        found += [
            pl.col(c).str.to_lowercase().str.contains(text, literal=True).fill_null(False)
            for c in SEARCHED
            if c != "name"
        ]
    words = fold(text)
    if words:
        # Folding is the costly part: it is done only for names that may match, those
        # holding every word as they are (lower case) or with a letter beyond ASCII.
        lower = pl.col("name").str.to_lowercase()
        maybe = pl.all_horizontal(lower.str.contains(w, literal=True) for w in words) | pl.col(
            "name"
        ).str.contains(r"[^\x00-\x7f]")
        name = _folded("name")
        every = pl.all_horizontal(name.str.contains(w, literal=True) for w in words)
        found.append(pl.when(maybe.fill_null(False)).then(every).otherwise(False).fill_null(False))
    return pl.any_horizontal(found)


@lru_cache(maxsize=32)
def _options(path: str, _mtime: float, columns: tuple[str, ...]) -> dict[str, list[str]]:
    scan = pl.scan_parquet(path)
    frames = pl.collect_all([scan.select(pl.col(c).drop_nulls().unique().sort()) for c in columns])
    return {c: frame[c].to_list() for c, frame in zip(columns, frames, strict=True)}


def options(path: Path) -> dict[str, list[str]]:
    """The values each filter can take in this run (read once per file)."""
    return _options(str(path), path.stat().st_mtime, filters(path))


def _with_reviews(frame: pl.LazyFrame, reviews: pl.LazyFrame) -> pl.LazyFrame:
    """The rows with their review state joined in (in the rows' order): the current
    determination (a decision, else the engine's), who opened it, who decided it."""
    return frame.join(
        reviews.select(list(REVIEW_SCHEMA)),
        on=["subject_id", "cnt_order"],
        how="left",
        maintain_order="left",  # pages follow the file's order
    ).with_columns(
        engine_determination=pl.col("determination"),
        determination=pl.coalesce("review_decision", "determination"),
        opened=pl.col("opened").fill_null(False),
        opened_by=pl.coalesce(
            "opened_by",
            pl.when(pl.col("determination") == "review").then(pl.lit(ENGINE)),
        ),
    )


def _filtered(
    path: Path, reviews: pl.DataFrame, query: Query, keep: tuple[str, str] | None = None
) -> pl.LazyFrame:
    """The rows of the view, sorted. ``keep`` (a subject id and count) keeps that row in
    whether or not it matches, with a column ``_match`` saying whether it does: the place
    of a case just decided, in a queue of cases waiting for a decision."""
    scan = pl.scan_parquet(path)
    on_file = []
    for column in ("reason", "section", "court", "race", *KIND_FILTERS):
        value = getattr(query, column)
        if column in KIND_FILTERS and not has_kinds(path):
            continue
        if value:
            on_file.append(pl.col(column) == value)
    searched = _search(query.q)
    if searched is not None:
        on_file.append(searched)
    joined = []
    if query.determination:
        joined.append(pl.col("determination") == query.determination)
    reviewable = (pl.col("engine_determination") == "review") | pl.col("opened")
    if query.review == "pending":
        joined.append(reviewable & pl.col("review_decision").is_null())
    elif query.review == "decided":
        joined.append(pl.col("review_decision").is_not_null())
    if query.opened_by:
        joined.append(pl.col("opened_by") == query.opened_by)
    if keep is None and on_file:
        scan = scan.filter(*on_file)  # pushed down to the Parquet scan
    columns = [*shown(path), *(c for c in ("cii_number",) if c not in shown(path))]
    frame = _with_reviews(scan.select(columns), reviews.lazy())
    if keep is not None:
        matches = pl.all_horizontal(pl.lit(True), *on_file, *joined).fill_null(False)
        current = (pl.col("subject_id") == keep[0]) & (pl.col("cnt_order") == keep[1])
        frame = frame.with_columns(_match=matches).filter(pl.col("_match") | current)
    elif joined:
        frame = frame.filter(*joined)
    if query.sort:
        # Stable: rows that tie keep the file's order (person, count).
        frame = frame.sort(
            query.sort_column, descending=query.descending, nulls_last=True, maintain_order=True
        )
    return frame


# The review state of some people (a list of subject ids), or of everyone (None).
Reviews = Callable[[Sequence[str] | None], pl.DataFrame]


def page(path: Path, reviews: pl.DataFrame | Reviews, query: Query) -> Page:
    """One page of the table for the query (rows in the file's order, person and count,
    unless sorted).

    ``reviews`` is the review frame, or a function giving it for some people: then a
    query that does not filter or sort on the review state reads the review state of
    the page's people only.
    """
    if isinstance(reviews, pl.DataFrame):
        frame, lookup = reviews, None
    elif query.needs_reviews():
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
        found = lookup(subjects)
        chosen = (
            _with_reviews(
                chosen.lazy()
                .drop(*REVIEW_COLUMNS, "determination")
                .rename({"engine_determination": "determination"}),
                found.lazy(),
            )
            .select(chosen.columns)
            .collect()
        )
    return Page(rows=chosen.to_dicts(), total=total, page=number, pages=pages)


@dataclass
class Position:
    """Where a case stands in a view: its place (1-based), how many the view holds, the
    cases before and after it (subject id, count), and whether it matches the view
    itself (a case just decided has left a queue of cases waiting)."""

    index: int
    total: int
    previous: tuple[str, str] | None
    next: tuple[str, str] | None
    member: bool


def position(
    path: Path, reviews: Reviews, query: Query, subject_id: str, cnt_order: str
) -> Position | None:
    """The case's place in the view, in the view's order; None if the run has no such
    case. Only the key columns of the view's rows are collected."""
    frame = reviews(None) if query.needs_reviews() else empty_reviews()
    keys = (
        _filtered(path, frame, query, keep=(subject_id, cnt_order))
        .select("subject_id", "cnt_order", "_match")
        .collect()
    )
    at = keys.with_row_index("_i").filter(
        pl.col("subject_id") == subject_id, pl.col("cnt_order") == cnt_order
    )
    if not at.height:
        return None
    i, member = at["_i"][0], at["_match"][0]

    def key(n: int) -> tuple[str, str] | None:
        return (keys["subject_id"][n], keys["cnt_order"][n]) if 0 <= n < keys.height else None

    total = keys.height - (0 if member else 1)
    return Position(index=i + 1, total=total, previous=key(i - 1), next=key(i + 1),
                    member=member)  # fmt: skip


def export_rows(path: Path, reviews: Reviews, query: Query) -> pl.DataFrame:
    """Every row of the view, in its order, as a download holds it: the shown columns,
    the current and the engine's determination, where the review stands, who opened
    and who decided it."""
    frame = _filtered(path, reviews(None), query).with_columns(
        review=pl.when(pl.col("review_decision").is_not_null())
        .then(pl.lit("decided"))
        .when((pl.col("engine_determination") == "review") | pl.col("opened"))
        .then(pl.lit("waiting for a decision"))
    )
    columns = EXPORTED + EXPORTED_KINDS if has_kinds(path) else EXPORTED
    return frame.select(columns).collect()


def conviction(path: Path, subject_id: str, cnt_order: str) -> dict | None:
    """One conviction's row (the engine's determination), or None if not in the run."""
    found = (
        pl.scan_parquet(path)
        .filter(pl.col("subject_id") == subject_id, pl.col("cnt_order") == cnt_order)
        .select(shown(path))
        .collect()
    )
    return found.row(0, named=True) if found.height else None
