"""People, events and counts, built lazily from normalized rows (docs/model.md).

A count (one charge in one event) can appear on several rows: one per sentence
part, and those rows are not always adjacent (doj-extract.md). A person's history
can also appear twice when several county extracts are read together, because each
county's extract holds the whole history. The model therefore

1. reduces sentence parts to distinct ones per count (so a history read twice is
   not served twice) and sums them, and
2. takes every other attribute of a count, event or person from the first line it
   appears on (input order, then line number), so results never depend on how the
   engine happened to group rows.

Everything here returns LazyFrames: the caller decides when, and how (streaming),
to collect them. Counts and events keep the input order (file, then line); people
are sorted by subject id.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from clearance.extract.keys import code
from clearance.extract.normalize import CHARGE_COLUMNS, normalize, race_group

COUNT_KEY = ("subject_id", "cnt_order")
EVENT_KEY = ("subject_id", "event_key")

_PART_COLUMNS = ("sent_order", "sent_loc", "sent_length_raw", "sent_time_code")

COUNT_ATTRIBUTES = (
    "event_key",
    "cyc_order",
    "stp_order",
    "source_file",
    "line",
    "event_date",
    "event_date_raw",
    "event_type",
    "agency",
    "agency_type",
    "county",
    "case_number",
    "court_case",
    "offense_raw",
    "offense_qualifiers",
    "comment_text",
    *CHARGE_COLUMNS,
    "disposition",
    "convicted",
    "severity",
)

EVENT_ATTRIBUTES = (
    "cyc_order",
    "stp_order",
    "event_date",
    "event_date_raw",
    "event_type",
    "agency",
    "agency_type",
    "county",
)

PERSON_ATTRIBUTES = ("cii_number", "name", "gender", "race_code", "race_descr")


@dataclass
class Model:
    """The three tables of docs/model.md, as lazy queries over the same rows."""

    people: pl.LazyFrame
    events: pl.LazyFrame
    counts: pl.LazyFrame
    # Every normalised line (a count's sentence parts and dispositions, one a line),
    # for the laws that read more of a count than its first line (``LINE_COLUMNS``).
    lines: pl.LazyFrame | None = None


# What a law reads line by line: each sentence part with its place (probation,
# jail, prison, fine) and each disposition of a count (DISP_ORDER 1, 2, ...).
LINE_COLUMNS = ("subject_id", "cnt_order", "disp_order", "disposition", "convicted",
                "sent_order", "sent_loc", "sent_length_raw", "sent_time_code", "sent_days",
                "sent_months", "sent_years", "sent_unknown")  # fmt: skip
# A count's distinct sentence parts: the columns they are told apart by.
PART_COLUMNS = (*_PART_COLUMNS, "sent_days", "sent_months", "sent_years", "sent_unknown")
COUNT = "_count"  # a count's key among its lines and parts (one integer, `_count_id`)
_OVER_LINES = "\0over lines"  # a law's line column read over all of a count's lines


@dataclass(frozen=True)
class CountLines:
    """What a law reads of every line of a count, worked out with the counts: one
    column of ``counts`` each (a law that reads more of a count than its first line).

    - ``lines``: the lines (``LINE_COLUMNS`` and more), in the order given (a count's
      first line is read from it), with the law's columns: the value each line gives,
      a Boolean (never null) or a value;
    - ``line_aggregations``: how each of those columns is read over a count's lines:
      ``any`` (a Boolean) or ``min`` (a value, nulls left out); over one line, either
      is the line's own value, so only the counts of several lines are aggregated
      (most counts have one line);
    - ``parts``: the count's distinct sentence parts (``COUNT`` and ``PART_COLUMNS``,
      the same parts the model adds up) with the columns the law's aggregations read;
    - ``part_aggregations``: over a count's parts, beside the model's sums.

    ``columns``: the columns they add to the counts, left out of history.parquet (the
    model's counts, as every law's run writes them).
    """

    lines: Callable[[pl.LazyFrame], pl.LazyFrame]
    line_aggregations: dict[str, str]
    parts: Callable[[pl.LazyFrame], pl.LazyFrame]
    part_aggregations: tuple[pl.Expr, ...]
    columns: tuple[str, ...]

    def over_lines(self) -> list[pl.Expr]:
        """The line columns aggregated over a count's lines."""
        how = {"any": pl.Expr.any, "min": pl.Expr.min}
        return [how[kind](pl.col(name)) for name, kind in self.line_aggregations.items()]


def build(
    staged: pl.LazyFrame,
    file_order: list[str] | None = None,
    *,
    in_order: bool = False,
    grouped: bool = False,
    count_lines: CountLines | None = None,
) -> Model:
    """Build the model from staged rows; ``file_order`` ranks source files (input order).

    ``in_order``: the caller guarantees the rows come in input order (files in
    ``file_order``, lines ascending), as the reader yields them. The first line of
    a count or a person is then simply the first one seen, which is cheaper to
    find than the lowest row order; the result is the same.

    ``grouped``: the caller guarantees each person's rows are together (one run of
    rows, as in a batch of a stream, checked by ``person_batches``). A count is then
    told apart by the run of its person, which is cheaper than by the person's
    identifier; the result is the same.

    ``count_lines``: what the law reads of each count's lines, as columns of the
    counts (``CountLines``).
    """
    # Normalised once for the three tables: collected together, they share it (left
    # to the optimiser, each table's own columns make it normalise again).
    rows = _with_row_order(normalize(staged), file_order).cache()
    return Model(
        people=people(rows, in_order=in_order),
        events=events(rows, in_order=in_order),
        counts=counts(rows, in_order=in_order, grouped=grouped, count_lines=count_lines),
        lines=rows.select(LINE_COLUMNS),
    )


def _with_row_order(rows: pl.LazyFrame, file_order: list[str] | None) -> pl.LazyFrame:
    """A total order over input lines: file (in input order), then line number."""
    if file_order:
        rank = pl.col("source_file").replace_strict(
            {name: i for i, name in enumerate(file_order)},
            default=len(file_order),
            return_dtype=pl.UInt64,
        )
    else:
        rank = pl.lit(0, dtype=pl.UInt64)
    return rows.with_columns(row_order=(rank * (1 << 40)) + pl.col("line").cast(pl.UInt64))


def _first_line(rows: pl.LazyFrame, key: tuple[str, ...], *, in_order: bool) -> pl.LazyFrame:
    """The first line (lowest row order) of each group: one row per key.

    Rows in input order: the first seen. Otherwise a window minimum, not a sort or a
    per-column aggregation: it does not depend on the order rows arrive in, and
    costs one hash pass.
    """
    if in_order:
        group = pl.col(key[0]) if len(key) == 1 else pl.struct(key)
        return rows.filter(group.is_first_distinct())
    return rows.filter(pl.col("row_order") == pl.col("row_order").min().over(key))


def _first_present(column: str, present: str | None = None, *, in_order: bool) -> pl.Expr:
    """``column`` on the earliest line where ``present`` (default: the column) has a value.

    Rows in input order: the first such value a group-by sees. Otherwise an arg-min
    over the row order of those lines, not a sort: order-independent, and one pass
    per group.
    """
    has_value = pl.col(present or column).is_not_null()
    if in_order:
        return pl.col(column).filter(has_value).first().alias(column)
    first = pl.col("row_order").filter(has_value).arg_min()
    return pl.col(column).filter(has_value).get(first).alias(column)


def _count_id(*, grouped: bool = False) -> pl.Expr:
    """One integer per distinct (subject_id, cnt_order): their categorical codes.

    Exact (no hash that two keys could share), and grouping, windows and joins on
    one integer cost a fraction of what they cost on two text columns (evaluated while
    ``keys.pinned()`` is held: extract/keys.py says why). When each
    person's rows are together (``grouped``), the person is the run of rows it
    is in: one comparison a row instead of a hash of its identifier.
    """

    person = pl.col("subject_id").rle_id().cast(pl.UInt64) if grouped else code("subject_id")
    return (person * (1 << 32) + code("cnt_order")).alias(COUNT)


# The last day a date holds (Python's, and so explain's and the web app's): a sentence
# that would end later (99999 Y; parts adding up to thousands of years) has no end
# that can be computed, and counts as a sentence whose length cannot be read
# (docs/model.md, "Model tables").
LAST_SENTENCE_END = dt.date(9999, 12, 31)
_MAX_YEARS = 10_000  # each step's cap: past LAST_SENTENCE_END from any event date


def counts(
    rows: pl.LazyFrame,
    *,
    in_order: bool = False,
    grouped: bool = False,
    count_lines: CountLines | None = None,
) -> pl.LazyFrame:
    rows = rows.with_columns(_count_id(grouped=grouped))
    # Only lines with a sentence part add to a count's sentence: the others (most
    # lines: arrests, dismissals) are left out before the distinct parts are found.
    parts = (
        rows.select(COUNT, *PART_COLUMNS)
        .filter(pl.any_horizontal(pl.col(c).is_not_null() for c in _PART_COLUMNS))
        .unique()
    )
    if count_lines is not None:
        parts = count_lines.parts(parts)
    parts = parts.group_by(COUNT).agg(
        pl.col("sent_days").sum(),
        pl.col("sent_months").sum(),
        pl.col("sent_years").sum(),
        pl.col("sent_unknown").any(),
        (
            (pl.col("sent_days") + pl.col("sent_months") + pl.col("sent_years") > 0)
            | pl.col("sent_unknown")
        )
        .any()
        .alias("has_sentence"),
        *(count_lines.part_aggregations if count_lines is not None else ()),
    )
    rows = rows.with_columns(n_rows=pl.len().over(COUNT).cast(pl.UInt32))
    read: tuple[str, ...] = ()
    if count_lines is not None:  # each line's values, on the line
        rows = count_lines.lines(rows)
        read = tuple(count_lines.line_aggregations)
    attributes = _first_line(rows, (COUNT,), in_order=in_order).select(
        COUNT, *COUNT_KEY, *COUNT_ATTRIBUTES, "row_order", "n_rows", *read
    )
    attributes = attributes.join(parts, on=COUNT, how="left", maintain_order="left")
    if count_lines is not None:
        # A count of one line has its line's values (its first line's, above); only
        # the counts of several lines are read over all of them.
        several = (
            rows.filter(pl.col("n_rows") > 1)
            .group_by(COUNT)
            .agg(e.name.suffix(_OVER_LINES) for e in count_lines.over_lines())
        )
        attributes = attributes.join(several, on=COUNT, how="left", maintain_order="left")
        attributes = attributes.with_columns(
            pl.coalesce(name + _OVER_LINES, name).alias(name) for name in read
        ).drop(name + _OVER_LINES for name in read)
    # Years, then months, then days, each a calendar step (prop64.md, "Dates"):
    # 2016-02-29 + 1 year + 1 month is 2017-03-28. The steps are capped (each at most
    # about 10,000 years) so that no length overflows the date arithmetic; an end past
    # LAST_SENTENCE_END is no real end, and is unknown (below).
    end = (
        pl.col("event_date")
        .dt.offset_by(pl.format("{}y", pl.col("sent_years").clip(0, _MAX_YEARS)))
        .dt.offset_by(pl.format("{}mo", pl.col("sent_months").clip(0, 12 * _MAX_YEARS)))
        .dt.offset_by(pl.format("{}d", pl.col("sent_days").clip(0, 366 * _MAX_YEARS)))
    )
    impossible = (end > pl.lit(LAST_SENTENCE_END)).fill_null(False)
    # Input order, not sorted: every step keeps it, so the result is deterministic,
    # and sorting two million counts by two text keys would cost more than the rest.
    return (
        attributes.drop(COUNT)
        .with_columns(  # a count with no sentence part: nothing to add up
            pl.col("sent_days", "sent_months", "sent_years").fill_null(0),
            pl.col("sent_unknown", "has_sentence").fill_null(False),
        )
        .with_columns(sent_unknown=pl.col("sent_unknown") | impossible)
        .with_columns(sentence_end=pl.when(pl.col("sent_unknown")).then(None).otherwise(end))
    )


def events(rows: pl.LazyFrame, *, in_order: bool = False) -> pl.LazyFrame:
    return _first_line(
        rows.filter(pl.col("event_key").is_not_null()), EVENT_KEY, in_order=in_order
    ).select(*EVENT_KEY, *EVENT_ATTRIBUTES)


def people(rows: pl.LazyFrame, *, in_order: bool = False) -> pl.LazyFrame:
    registration = (pl.col("event_type") == "REGISTRATION") & (pl.col("section") == "290")
    return (
        rows.group_by("subject_id")
        .agg(
            *(_first_present(c, in_order=in_order) for c in PERSON_ATTRIBUTES),
            # The birth date and its raw text come from the same line.
            _first_present("dob_raw", in_order=in_order),
            _first_present("dob", present="dob_raw", in_order=in_order),
            deceased=(pl.col("event_type") == "DECEASED").any(),
            registered_290=registration.any(),
            first_registration_date=pl.col("event_date").filter(registration).min(),
        )
        .with_columns(race=race_group())
        .sort("subject_id")
    )
