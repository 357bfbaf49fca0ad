"""Helpers the laws' functions share over Polars frames."""

from __future__ import annotations

import polars as pl

__all__ = ["join_flags", "with_flags"]


def with_flags(rows: pl.LazyFrame, **flags: pl.Expr) -> pl.LazyFrame:
    """``rows`` with a boolean column per flag, each computed once per distinct value.

    The offense lists are long expressions (codes, sections, subsections, text
    patterns); a history repeats a few hundred distinct charges, so they are
    evaluated on those and joined back by the columns they read.
    """
    columns = sorted({c for flag in flags.values() for c in flag.meta.root_names()})
    if not columns:  # constant flags: nothing to look up
        return rows.with_columns(**flags)
    distinct = rows.select(columns).unique().with_columns(**flags)
    found = (
        rows.select(columns)
        .join(distinct, on=columns, how="left", nulls_equal=True, maintain_order="left")
        .drop(columns)
    )
    return pl.concat([rows, found], how="horizontal")


def join_flags(rows: pl.LazyFrame, **flags: pl.Expr) -> pl.LazyFrame:
    """``rows`` with a boolean column per flag, computed once per distinct value and
    joined back by the columns the flags read.

    Unlike ``with_flags``, which sets the flags beside the rows in their order, this
    holds for rows whose order is not fixed (the output of a join or a group-by,
    which a lazy query may produce in another order each time it is evaluated).
    """
    columns = sorted({c for flag in flags.values() for c in flag.meta.root_names()})
    if not columns:
        return rows.with_columns(**flags)
    distinct = rows.select(columns).unique().with_columns(**flags)
    return rows.join(distinct, on=columns, how="left", nulls_equal=True)
