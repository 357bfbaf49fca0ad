"""Exact integer keys for text columns, and what keeps them stable: ``pinned()``.

A text column's categorical code is one integer per distinct text. Grouping, windows
and joins on it cost a fraction of what they cost on the text, and unlike a hash no
two texts can share one. The model keys its counts by such codes (``extract.model``),
and ca-auto-relief keys its group tables by them (``rules.ca_auto_relief``), across
several queries: the counts of one, the lines of another, the people of a third.

Those codes come from Polars' global categories, which Polars keeps only while some
categorical value is alive. Once none is, the mapping is dropped, and the next cast
numbers texts afresh, in the order it meets them: in the order its threads insert
them, or after texts another query inserted meanwhile. Two queries (or two branches
of one) could then give the same SUBJECT_ID two codes, and a join on the codes would
set one person's name, birth date or PC 290 registration beside another's records.

So codes are only made while ``pinned()`` is held: it keeps one categorical value
alive, and with it the mapping and every code it gave, until its last holder leaves
(holders nest and may run on several threads). Between a run's groups nothing is
held, so the mapping, which grows with every distinct text cast, does not outlive
the group that needed it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import polars as pl

_lock = threading.Lock()
_holders = 0
_pin: pl.Series | None = None


@contextmanager
def pinned() -> Iterator[None]:
    """Keep the global categories (and so every code ``code`` gives) while held."""
    global _holders, _pin
    with _lock:
        if _holders == 0:
            _pin = pl.Series("pin", [""], dtype=pl.Categorical)
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0:
                _pin = None


def is_pinned() -> bool:
    """Whether some ``pinned()`` is held now."""
    return _holders > 0


def code(column: str) -> pl.Expr:
    """The column's categorical code, as UInt64: the same text, the same integer, in
    every query evaluated while ``pinned()`` is held (and only then)."""
    return pl.col(column).cast(pl.Categorical).to_physical().cast(pl.UInt64)
