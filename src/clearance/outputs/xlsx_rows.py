"""Cell rows of a worksheet, serialised column-wise with Polars.

XlsxWriter builds the workbook: the package, styles, column widths, the header row,
the filter, the frozen panes and the document properties. What it does cell by cell
in Python, at about 10 µs a cell, is the rows: 55,000 determinations of 36 columns
took 15 s, longer than the rest of a million-row run. This module writes the same
``<row>`` elements, byte for byte what XlsxWriter's constant-memory mode writes
(ECMA-376 Part 1, 18.3.1.73 ``row`` and 18.3.1.4 ``c``, inline strings), as Polars
string expressions over whole columns, and splices them into XlsxWriter's sheet.
tests/test_workbook.py checks the bytes against XlsxWriter's own output.

Values: text as inline strings (escaped for XML; control characters and text that
looks like an escape are written as Excel's ``_xHHHH_`` escapes), integers and
floats as numbers, booleans as booleans, nulls as no cell at all.
"""

from __future__ import annotations

import collections
import datetime as dt
import re
import sys
import zipfile
import zlib
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import IO

import numpy as np
import polars as pl
import pyarrow as pa
from isal import isal_zlib

from clearance._ahead import made_ahead
from clearance._folders import aside
from clearance._views import BUFFER, LENGTH, OFFSET, string_views

EXCEL_MAX_CHARS = 32_767  # the longest text a cell holds
ROWS_PER_PIECE = 10_000  # rows serialised at a time: bounds memory (about 20 MB of XML)

# XML 1.0 cannot carry these; Excel reads them from _xHHHH_ (XlsxWriter writes the same:
# every C0 control but tab and line feed, and the two non-characters).
_CONTROL = [chr(c) for c in (*range(0x00, 0x09), *range(0x0B, 0x20), 0xFFFE, 0xFFFF)]
_CONTROL_CLASS = "[\\x00-\\x08\\x0b-\\x1f\\x{fffe}\\x{ffff}]"


def column_letters(index: int) -> str:
    """Excel's column name for a 0-based index: 0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


Rows = pl.DataFrame | pl.LazyFrame  # a sheet's rows: in memory, or scanned (never held whole)


# What each escape is for, as a pattern over a value.
ESCAPES = {
    "xml": r"[&<>]",
    "escape_like": r"_x[0-9A-Fa-f]{4}_",
    "control": _CONTROL_CLASS,
    "space": r"^\s|\s$",
}


def _needs(piece: pl.DataFrame) -> dict[str, set[str]]:
    """Which escapes each text column of a piece needs at all (most need none).

    A first look at each column's bytes (`_may_need`, a few vector operations) finds
    the columns that might need one; only those are then tested pattern by pattern.
    """
    needs: dict[str, set[str]] = {}
    tests: list[pl.Expr] = []
    for n, dtype in piece.schema.items():
        if dtype != pl.String:
            continue
        needs[n] = set()
        maybe = _may_need(piece[n])
        if "special" in maybe:
            tests += [
                pl.col(n).str.contains(ESCAPES[c]).any().alias(f"{n}\0{c}")
                for c in ("xml", "escape_like", "control")
            ]
        if "space" in maybe:
            tests.append(pl.col(n).str.contains(ESCAPES["space"]).any().alias(f"{n}\0space"))
        if "long" in maybe:
            tests.append((pl.col(n).str.len_chars().max() > EXCEL_MAX_CHARS).alias(f"{n}\0long"))
    found = piece.select(tests).row(0, named=True) if tests else {}
    for key, present in found.items():
        if present:
            name, check = key.split("\0")
            needs[name].add(check)
    return needs


# Bytes an escape starts from (besides "_x" of ``_xHHHH_``): XML's three, and the lead
# byte of U+FFFE and U+FFFF (EF BF BE, EF BF BF); and any byte below 0x20 (the C0
# controls, but also tab and line feed: then the column is tested exactly).
_SPECIAL_BYTES = (0x26, 0x3C, 0x3E, 0xEF)
# Bytes a value with white space at either end may start or end with: ASCII's white
# space (and the four separators some count as white space, 0x1C to 0x1F), and any
# byte of a character beyond ASCII (U+00A0, U+2000 ... are white space).
_EDGE_LOW, _EDGE_HIGH = (0x09, 0x0D), (0x1C, 0x20)


def _at_edge(first: np.ndarray) -> bool:
    return bool(
        ((first >= _EDGE_LOW[0]) & (first <= _EDGE_LOW[1])).any()
        or ((first >= _EDGE_HIGH[0]) & (first <= _EDGE_HIGH[1])).any()
        or (first >= 0x80).any()
    )


def _may_need(texts: pl.Series) -> set[str]:
    """What a text column may need, from its bytes alone (Arrow keeps the values end to
    end): ``special``, a byte an escape starts from or ``_x``; ``space``, a value
    starting or ending with a byte white space can; ``long``, a value of more bytes
    than a cell holds characters. Never less than the column needs (a null's bytes,
    if it has any, can only add to it); what it finds, `_needs` tests exactly."""
    array = texts.to_arrow(compat_level=pl.CompatLevel.oldest())  # large_string
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if not len(array) or array.null_count == len(array):
        return set()
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)
    offsets = offsets[array.offset : array.offset + len(array) + 1]
    buffer = array.buffers()[2]
    found = set()
    if buffer is not None and offsets[-1] > offsets[0]:
        data = np.frombuffer(buffer, dtype=np.uint8)
        used = data[offsets[0] : offsets[-1]]
        # One comparison a byte at a time (a table lookup over every byte costs more).
        if (
            used.min() < 0x20
            or any((used == b).any() for b in _SPECIAL_BYTES)
            or ((used[:-1] == 0x5F) & (used[1:] == 0x78)).any()
        ):
            found.add("special")
        starts, ends = offsets[:-1], offsets[1:]
        filled = ends > starts
        if _at_edge(data[starts[filled]]) or _at_edge(data[ends[filled] - 1]):
            found.add("space")
        if (ends - starts).max() > EXCEL_MAX_CHARS:
            found.add("long")
    return found


def _unescapable(value: pl.Expr, needs: set[str]) -> pl.Expr:
    """Characters XML cannot carry, as Excel's _xHHHH_ escapes (and escape-like text)."""
    if "escape_like" in needs:
        value = value.str.replace_all(r"_(x[0-9A-Fa-f]{4}_)", "_x005F_$1")
    if "control" in needs:
        for char in _CONTROL:
            value = value.str.replace_all(char, f"_x{ord(char):04X}_", literal=True)
    return value


def _xml(value: pl.Expr, needs: set[str]) -> pl.Expr:
    """Escape text for a ``<t>`` element."""
    if "xml" in needs:
        value = (
            value.str.replace_all("&", "&amp;", literal=True)
            .str.replace_all("<", "&lt;", literal=True)
            .str.replace_all(">", "&gt;", literal=True)
        )
    return value


def _has_value(name: str, dtype: pl.DataType) -> pl.Expr:
    """Whether a value makes a cell: not null, and for text not empty (XlsxWriter writes
    an empty text as a blank, and a blank without a format not at all)."""
    if dtype == pl.String:
        return pl.col(name).is_not_null() & (pl.col(name) != "")
    return pl.col(name).is_not_null()


# Excel's day 0 (its serial numbers count days from here, for dates from 1900-03-01 on:
# Excel counts a 1900-02-29 that never was, so earlier dates are written as text).
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_FIRST_EXCEL_DATE = dt.date(1900, 3, 1)
_EPOCH_DAYS = (dt.date(1970, 1, 1) - _EXCEL_EPOCH).days  # a date's own count starts in 1970


def _parsed(name: str) -> pl.Expr:
    """A text column of ISO dates (``YYYY-MM-DD``) parsed (null where a value is none).
    No cache: a column's dates are mostly distinct."""
    return pl.col(name).str.to_date("%Y-%m-%d", strict=False, cache=False)


def _serial(name: str, parsed: str) -> pl.Expr:
    """A text column of ISO dates as Excel's serial day numbers, as text, from the
    column ``parsed`` (``_parsed``, made first: within one expression Polars parsed each
    value twice); null where the value is no such date (or one Excel cannot show: before
    1900-03-01). A value that parses holds digits and dashes alone, so its length in
    bytes is its length in characters."""
    date = pl.col(parsed)
    real = date.is_not_null() & (pl.col(name).str.len_bytes() == 10) & (date >= _FIRST_EXCEL_DATE)
    return pl.when(real).then((date.cast(pl.Int32) + _EPOCH_DAYS).cast(pl.String))


def _date_cell(
    name: str, ref: str, row: pl.Expr, needs: set[str], style: int, *, texts: bool, full: bool
) -> list[str | pl.Expr]:
    """A column of ISO dates as real Excel dates: the day's serial number (the column
    ``_SERIAL + name``, made by ``_serial``) with the date format ``style``. A value that
    is no such date stays text. ``texts``: some value of the piece is one; ``full``:
    every row of the piece has a value (with no text, a date cell in every row)."""
    serial = pl.col(_SERIAL + name)
    as_date: list[str | pl.Expr] = [f'<c r="{ref}', row, f'" s="{style}"><v>', serial, "</v></c>"]
    if not texts:
        if full:  # written straight into the row's text
            return as_date
        # A null serial: no value, and no cell.
        return [pl.concat_str(_literals_joined(as_date))]
    as_text = _cell(name, pl.String, ref, row, needs)
    date_cell = pl.concat_str(_literals_joined(as_date))
    return [pl.when(serial.is_not_null()).then(date_cell).otherwise(as_text)]


_SERIAL = "\0serial "  # a date column's serial numbers, beside it in a piece


def _cell(name: str, dtype: pl.DataType, ref: str, row: pl.Expr, needs: set[str]) -> pl.Expr:
    """One column's ``<c>`` elements (null where the value is: no cell, as the row's text
    leaves out its null parts)."""
    col = pl.col(name)
    if dtype == pl.String:
        col = pl.when(_has_value(name, dtype)).then(col)
        if "long" in needs:
            col = col.str.slice(0, EXCEL_MAX_CHARS)
        col = _unescapable(col, needs)
        tag = pl.lit("<t>")
        if "space" in needs:  # leading or trailing white space, once escapes are made
            preserve = col.str.contains(r"^\s|\s$")
            tag = pl.when(preserve).then(pl.lit('<t xml:space="preserve">')).otherwise(tag)
        body = [pl.lit('" t="inlineStr"><is>'), tag, _xml(col, needs), pl.lit("</t></is></c>")]
    elif dtype == pl.Boolean:
        body = [pl.lit('" t="b"><v>'), col.cast(pl.UInt8).cast(pl.String), pl.lit("</v></c>")]
    elif dtype.is_numeric():
        # Excel has no NaN or infinity: such a float is written as no cell, like a null.
        value = col if dtype.is_integer() else pl.when(col.is_finite()).then(col)
        body = [pl.lit('"><v>'), value.cast(pl.String), pl.lit("</v></c>")]
    else:
        raise TypeError(f"column {name!r}: {dtype} cannot go in the workbook; convert it to text")
    return pl.concat_str(pl.lit(f'<c r="{ref}'), row, *body)


def _pieces(frame: Rows) -> Iterator[pl.DataFrame]:
    """The rows, ROWS_PER_PIECE at a time, in order (a scan is read batch by batch)."""
    if isinstance(frame, pl.DataFrame):
        for start in range(0, frame.height, ROWS_PER_PIECE):
            yield frame.slice(start, ROWS_PER_PIECE)
    else:
        yield from frame.collect_batches(chunk_size=ROWS_PER_PIECE, maintain_order=True)


def _rows_xml(
    frame: Rows, first_row: int, dates: dict[str, int] | None = None
) -> Iterator[list[memoryview]]:
    """The ``<row>`` elements for ``frame``, its first row at sheet row ``first_row``.

    ``first_row`` is 1-based, as in the sheet (row 1 is the header). Two pieces are
    serialised at a time, on two threads (Polars releases the GIL), and given in order.
    """
    with ThreadPoolExecutor(max_workers=PIECES_AT_ONCE, thread_name_prefix="rows") as pool:
        pending: collections.deque[Future[list[memoryview]]] = collections.deque()
        first = first_row
        for piece in _pieces(frame):
            pending.append(pool.submit(_piece_xml, piece, first, dates))
            first += piece.height
            if len(pending) >= PIECES_AT_ONCE:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


PIECES_AT_ONCE = 2


def _piece_xml(piece: pl.DataFrame, first: int, dates: dict[str, int] | None) -> list[memoryview]:
    """One piece's rows, the first of them sheet row ``first``.

    Each piece is escaped as its own texts need: an escape changes only the values
    that hold what it replaces, so the bytes are those of escaping the whole column.
    """
    row = pl.col(_ROW)
    schema = piece.schema
    needs = _needs(piece)
    dated = [n for n, t in schema.items() if dates and n in dates and t == pl.String]
    if dated:  # each date's serial number worked out once, beside it
        piece = piece.with_columns(_parsed(n).alias(_SERIAL + n) for n in dated)
        piece = piece.with_columns(_serial(n, _SERIAL + n).alias(_SERIAL + n) for n in dated)
    # The columns with a value in every row of the piece: their cells are written
    # straight into the row's text, with no string of their own first. And the date
    # columns with a value that is no date: only theirs are written as text too.
    found = piece.select(
        *(_has_value(n, t).all().alias(n) for n, t in schema.items()),
        *(
            (_has_value(n, pl.String) & pl.col(_SERIAL + n).is_null()).any().alias(_SERIAL + n)
            for n in dated
        ),
    ).row(0, named=True)
    full = [found[n] for n in schema]
    # Text written as it is (str) or worked out a row at a time (Expr); the texts that
    # meet are joined first, a third fewer parts a row for Polars to put together.
    parts: list[str | pl.Expr] = ['<row r="', row, '">']
    for i, ((name, dtype), always) in enumerate(zip(schema.items(), full, strict=True)):
        ref = column_letters(i)
        need = needs.get(name, set())
        if name in dated:
            parts += _date_cell(name, ref, row, need, dates[name],  # type: ignore[index]
                                texts=found[_SERIAL + name], full=always)  # fmt: skip
        elif always and dtype == pl.String and not need:
            parts += [f'<c r="{ref}', row, '" t="inlineStr"><is><t>', pl.col(name),
                      "</t></is></c>"]  # fmt: skip
        elif always and dtype.is_integer():
            parts += [f'<c r="{ref}', row, '"><v>', pl.col(name).cast(pl.String), "</v></c>"]
        else:
            parts.append(_cell(name, dtype, ref, row, need))
    parts.append("</row>")
    numbered = pl.int_range(first, first + piece.height, dtype=pl.UInt32).cast(pl.String)
    rows = piece.with_columns(numbered.alias(_ROW))
    if not any(full):  # a row with no value has no element at all, as in XlsxWriter's output
        rows = rows.filter(pl.any_horizontal(_has_value(n, t) for n, t in schema.items()))
    # A null part (a cell with no value) is no cell: nothing in the row's text.
    rows = rows.select(pl.concat_str(_literals_joined(parts), ignore_nulls=True))
    return _joined(rows.to_series())


def _literals_joined(parts: list[str | pl.Expr]) -> list[pl.Expr]:
    """The parts, each run of texts side by side joined into one literal."""
    joined: list[str | pl.Expr] = []
    for part in parts:
        if isinstance(part, str) and joined and isinstance(joined[-1], str):
            joined[-1] += part
        else:
            joined.append(part)
    return [pl.lit(p) if isinstance(p, str) else p for p in joined]


_ROW = "\0row"  # the piece's row numbers, as text (no column of a table is so named)


def _joined(texts: pl.Series) -> list[memoryview]:
    """The texts end to end, as views of the buffers that hold them (no copy).

    Polars keeps a string column as views into data buffers, each value's bytes after
    the last one's when the values were made one after another (as ``concat_str``
    makes rows): each run of values that follow each other in one buffer is one view.
    Anything else (short values kept in their view, a null, values out of place) is
    copied end to end instead, through Arrow's oldest layout.
    """
    array = texts.to_arrow(compat_level=pl.CompatLevel.newest())
    chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
    views: list[memoryview] = []
    for chunk in chunks:
        if len(chunk):
            views += _in_place(chunk) or [_copied(chunk)]
    return views


# A run of more views than this is copied instead (one copy costs less than that many
# writes); rows made by concat_str fill a handful of buffers.
_MOST_VIEWS = 64


def _in_place(array: pa.Array) -> list[memoryview] | None:
    """Views of the bytes of a string-view array's values, in order, when each value
    is in a data buffer right after the one before (or opens a run); else None."""
    view = string_views(array)
    if view is None or array.null_count:
        return None
    buffers = array.buffers()
    length, buffer = view[:, LENGTH].astype(np.int64), view[:, BUFFER]
    offset = view[:, OFFSET].astype(np.int64)
    if (length <= 12).any():  # kept in the view itself
        return None
    follows = (buffer[1:] == buffer[:-1]) & (offset[1:] == offset[:-1] + length[:-1])
    starts = np.flatnonzero(~follows) + 1
    if len(starts) >= _MOST_VIEWS:
        return None
    firsts = np.concatenate(([0], starts))
    lasts = np.concatenate((starts - 1, [len(array) - 1]))
    return [
        memoryview(buffers[2 + buffer[a]])[offset[a] : offset[b] + length[b]]
        for a, b in zip(firsts.tolist(), lasts.tolist(), strict=True)
    ]


def _copied(array: pa.Array) -> memoryview:
    """The values end to end in one new buffer (Arrow's oldest layout keeps them so)."""
    array = array.cast(pa.large_string())
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)
    start, end = offsets[array.offset], offsets[array.offset + len(array)]
    return memoryview(array.buffers()[2])[start:end]


_DIMENSION = re.compile(rb'<dimension ref="[^"]*"/>')
# Deflate level for the big sheets. ISA-L's level 1 deflates 90 MB of sheet XML in
# 0.1 s against zlib's 0.36 s at its level 1, and a little smaller.
SHEET_LEVEL = 1
# ISA-L's deflate stream depends on where its input is cut (zlib's does not): the
# sheet is given to it in blocks of this many bytes, whatever the pieces and however
# their rows lie in memory, so that the same rows give the same file. Blocks of a
# quarter of a megabyte also deflate faster than pieces of 15 MB (they stay in cache).
SHEET_BLOCK = 1 << 18


def splice_rows(path: Path, sheets: dict[str, Rows], dates: dict[str, int] | None = None) -> None:
    """Put each frame's rows after the header row of its sheet in the workbook at ``path``.

    ``sheets`` maps a sheet's part name (``xl/worksheets/sheet1.xml``) to its rows.
    ``dates`` maps a text column of ISO dates to the index of its date format: its
    dates are written as real Excel dates. Every other part is copied unchanged with
    its original zip entry, so the same data gives the same bytes.
    """
    with aside(path) as tmp, zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w") as dst:
        for entry in src.infolist():
            data = src.read(entry)
            frame = sheets.get(entry.filename)
            # The used range, as Excel counts it: the header to the last row with a value.
            last = None if frame is None else _last_row_with_value(frame)
            if frame is None or last is None:
                dst.writestr(entry, data)
                continue
            head, tail = data.split(b"</sheetData>", 1)
            width = len(frame.lazy().collect_schema())
            last_cell = f"{column_letters(width - 1)}{last + 2}"
            head = _DIMENSION.sub(f'<dimension ref="A1:{last_cell}"/>'.encode(), head, count=1)
            _crc_with_isal()
            with dst.open(_fast_entry(entry), "w", force_zip64=True) as entry_out:
                _deflate_with_isal(entry_out)
                out = _Blocks(entry_out)
                out.write(head)
                for piece in made_ahead(_rows_xml(frame, first_row=2, dates=dates)):
                    for view in piece:
                        out.write(view)
                out.write(b"</sheetData>" + tail)
                out.close()


class _Blocks:
    """Writes to ``out`` in blocks of ``size`` bytes, whatever the writes it is given
    (the last block may be shorter: ``close``). A block inside one write is a view of
    it; only a block that two writes share is copied."""

    def __init__(self, out: IO[bytes], size: int = SHEET_BLOCK) -> None:
        self.out, self.size = out, size
        self.carry = bytearray()

    def write(self, data: bytes | memoryview) -> None:
        view = memoryview(data).cast("B")
        if self.carry:  # the rest of a block an earlier write began
            need = self.size - len(self.carry)
            self.carry += view[:need]
            view = view[need:]
            if len(self.carry) < self.size:
                return
            self.out.write(self.carry)
            self.carry = bytearray()
        whole = len(view) - len(view) % self.size
        for start in range(0, whole, self.size):
            self.out.write(view[start : start + self.size])
        self.carry += view[whole:]

    def close(self) -> None:
        if self.carry:
            self.out.write(self.carry)
            self.carry = bytearray()


def _last_row_with_value(frame: Rows) -> int | None:
    """The 0-based index of the last row with a value in some column (None: no such row).

    The last rows are looked at first (a table's last row nearly always has a value);
    the whole table only when none of them has one.
    """
    schema = frame.lazy().collect_schema()
    valued = pl.any_horizontal(_has_value(n, t) for n, t in schema.items())
    height = (
        frame.height
        if isinstance(frame, pl.DataFrame)
        else frame.select(pl.len()).collect(engine="streaming").item()
    )
    for start in (max(height - LAST_ROWS_FIRST, 0), 0):
        last = (
            frame.lazy()
            .slice(start)
            .with_row_index("_index", offset=start)
            .filter(valued)
            .select(pl.col("_index").max())
            .collect(engine="streaming")
            .item()
        )
        if last is not None or start == 0:
            return last
    return None


LAST_ROWS_FIRST = 1_000


def _fast_entry(entry: zipfile.ZipInfo) -> zipfile.ZipInfo:
    """The same zip entry (name, date, attributes), deflated at SHEET_LEVEL."""
    info = zipfile.ZipInfo(entry.filename, date_time=entry.date_time)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = entry.external_attr
    info.create_system = entry.create_system
    # Public as ZipInfo.compress_level from Python 3.13; _compresslevel before.
    setattr(info, "compress_level" if sys.version_info >= (3, 13) else "_compresslevel",
            SHEET_LEVEL)  # fmt: skip
    return info


def _crc_with_isal() -> None:
    """Have zipfile take each entry's CRC-32 from ISA-L instead of zlib.

    zipfile reads the function from its module (``zipfile.crc32``, zlib's) each time it
    is given data. ISA-L's is the same checksum (the same polynomial, the same running
    value), about ten times as fast: 0.09 s down to 0.01 s of CPU for a 367 MB sheet.
    Once set, every zip written in the process uses it; left as it is if zipfile
    changes, or if the two disagree on a check value.
    """
    if zipfile.crc32 is zlib.crc32 and all(
        isal_zlib.crc32(data, start) == zlib.crc32(data, start)
        for data, start in ((b"", 0), (b"123456789", 0), (b"clearance", 0xCBF43926))
    ):
        zipfile.crc32 = isal_zlib.crc32  # type: ignore[attr-defined]


def _deflate_with_isal(entry: IO[bytes]) -> None:
    """Have a zip entry open for writing deflate with ISA-L instead of zlib.

    zipfile takes no compressor of one's own: its writer keeps zlib's in
    ``_compressor`` (CPython 3.8 to 3.14), which ISA-L's stands in for (the same
    raw deflate stream format, the same methods). Left as it is if that changes.
    """
    if isinstance(getattr(entry, "_compressor", None), type(zlib.compressobj())):
        entry._compressor = isal_zlib.compressobj(  # type: ignore[attr-defined]
            SHEET_LEVEL, isal_zlib.DEFLATED, -15
        )
