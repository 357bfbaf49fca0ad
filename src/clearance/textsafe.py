"""Text from the data, made safe for where it is written: documents, spreadsheets, screens.

An extract carries whatever the systems before it let through: control characters
(a stray ``\\x1a``), text that a spreadsheet would run as a formula (``=HYPERLINK(...)``),
text that a terminal would obey (``\\x1b[31m``) or that Rich would read as markup
(``[/]``). Every writer passes data through one of these functions:

- documents built as XML or markup (the Word filings and letter templates, the
  ReportLab paragraphs of the PDFs, the report's HTML and SVG): ``xml_safe`` replaces
  each character XML 1.0 forbids (the C0 controls but tab, line feed and carriage
  return; lone surrogates; U+FFFE and U+FFFF) with U+FFFD, the Unicode replacement
  character ``"\\ufffd"`` (Word shows it as a question mark in a diamond; the PDFs'
  standard fonts have no glyph for it and print a black square, as they do for any
  control character). ``xml_text`` does the same and escapes ``&``, ``<`` and ``>``.
  The workbook keeps the true values: outputs/xlsx_rows.py writes Excel's own
  ``_xHHHH_`` escapes instead.
- every CSV file: ``spreadsheet_safe`` puts a single quote before a text cell that
  starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return (OWASP's rule for
  CSV injection), or with a single quote itself, so the rule can be undone without
  doubt: a cell that starts with ``'`` had one added; remove it for the value. Only
  text columns are touched: numbers, dates and booleans are written as they are.
- the terminal: ``terminal_safe`` replaces control characters (C0, DEL, C1) and the
  bidirectional overrides with U+FFFD; ``shown`` also escapes Rich markup, for a
  value placed in a line that has markup of its own.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import numpy as np
import polars as pl
import pyarrow as pa

from clearance._views import LENGTH, PREFIX, string_views

__all__ = [
    "FORMULA_START",
    "REPLACEMENT",
    "shown",
    "spreadsheet_safe",
    "terminal_safe",
    "write_csv",
    "xml_safe",
    "xml_text",
]

REPLACEMENT = "\ufffd"

# XML 1.0, production [2] Char: what is not a Char cannot be written, even escaped.
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

# A spreadsheet evaluates a cell starting with one of these (OWASP, "CSV Injection");
# the quote itself is prefixed too, so that every prefixed cell can be told apart.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")
_FORMULA_PATTERN = r"^([=+\-@\t\r'])"

# What a terminal obeys or reorders: C0 and C1 controls, DEL, and the bidirectional
# embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069).
_TERMINAL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# The same, but line feeds and tabs kept: for whole messages, which may have lines.
_TERMINAL_LINES = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def xml_safe(text: str) -> str:
    """``text`` with every character XML 1.0 forbids replaced by U+FFFD."""
    return _XML_FORBIDDEN.sub(REPLACEMENT, text)


def xml_text(text: str) -> str:
    """``text`` fit for XML character data or ReportLab paragraph markup."""
    return escape(xml_safe(text))


def spreadsheet_safe(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with each text cell that a spreadsheet would evaluate prefixed by ``'``.

    Text columns only (String, Categorical, Enum, which become String); numbers, dates
    and booleans keep their type, so ``-3`` in a number column stays the number -3.
    """
    categorical = [n for n, t in frame.schema.items() if isinstance(t, pl.Categorical | pl.Enum)]
    frame = frame.with_columns(pl.col(categorical).cast(pl.String)) if categorical else frame
    text = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    if not text or not frame.height:
        return frame
    # Which columns hold such a cell at all (most hold none). Every character of the
    # rule is a single byte below "A" and none is a digit: a first look at each value's
    # first byte (`_may_start_formula`) leaves the pattern only a few cells to test.
    maybe = [name for name in text if _may_start_formula(frame[name])]
    found = frame.select(
        pl.col(name).str.contains(_FORMULA_PATTERN).any() for name in maybe
    ).row(0) if maybe else ()  # fmt: skip
    return frame.with_columns(
        pl.when(pl.col(name).str.contains(_FORMULA_PATTERN))
        .then(pl.lit("'") + pl.col(name))
        .otherwise(pl.col(name))
        .alias(name)
        for name, present in zip(maybe, found, strict=True)
        if present
    )


def _may_start_formula(texts: pl.Series) -> bool:
    """Whether some value of a text column starts with a byte below "0", or from ":"
    to before "A" (never less often than a cell needs the rule).

    Read from Arrow's string views, which keep each value's first bytes (all of them
    when short) in the view itself: one byte a value, no string compared. A column
    in another layout is compared value by value.
    """
    array = texts.to_arrow(compat_level=pl.CompatLevel.newest())
    for chunk in array.chunks if isinstance(array, pa.ChunkedArray) else [array]:
        if not len(chunk):
            continue
        view = string_views(chunk)
        if view is None:  # compared as text, value by value
            value = pl.col(texts.name)
            may = (value < "0") | ((value >= ":") & (value < "A"))
            return bool(texts.to_frame().select(may.any()).item())
        first = (view[:, PREFIX] & 0xFF).astype(np.uint8)
        may = (view[:, LENGTH] > 0) & ((first < 0x30) | ((first >= 0x3A) & (first < 0x41)))
        if chunk.null_count:
            may &= chunk.is_valid().to_numpy(zero_copy_only=False)
        if may.any():
            return True
    return False


def write_csv(frame: pl.DataFrame, path: Path, **options: Any) -> None:
    """Write ``frame`` as CSV with the spreadsheet-safe rule applied (every CSV file)."""
    spreadsheet_safe(frame).write_csv(path, **options)


def terminal_safe(text: str, *, lines: bool = False) -> str:
    """``text`` with control characters replaced by U+FFFD (``lines``: keep \\n and \\t)."""
    return (_TERMINAL_LINES if lines else _TERMINAL).sub(REPLACEMENT, text)


def shown(value: object) -> str:
    """A value from the data for a line of Rich markup: controls replaced, markup escaped."""
    from rich.markup import escape as markup_escape

    return markup_escape(terminal_safe(str(value)))
