"""Stream DOJ extract files into staged rows, reporting every line that cannot be used.

The reader's promise (doj-extract.md, product.md): every data line of every file is
either *used* (it becomes one staged row) or *rejected* (it appears in the rejects
table with its file, line number and a plain reason), so that for each file

    lines read = rows used + rows rejected.

Files are read in chunks of whole lines and each chunk is checked and parsed
column-wise with Polars, then written to a Parquet part in the work folder. Memory
therefore depends on the chunk size, never on the size of the file.

Line checks, in order (the first that fails names the reason):

- ``repeated_header``  a second header line inside the file (files concatenated);
- ``carriage_return``  a carriage return (CR) that does not end the line: a line
  break typed into a value, which a CSV parser would read as the end of a line
  (or as part of the value, depending on the parser);
- ``unbalanced_quote`` a quoted value that is never closed on its line (a CSV
  parser would run on into the following lines);
- ``stray_quote``      text after the closing quote of a quoted value.

A value is quoted when it starts with ``"`` (RFC 4180, ``""`` inside it is one
quote). A ``"`` inside an unquoted value is kept as a character, as Python's csv
module and Polars read it, so ``O"BRIEN`` is a value, not an error.

- ``wrong_field_count`` not the number of fields the header (or the 95-field
  layout) says;
- ``missing_subject_id`` / ``missing_cnt_order`` no value to place the row in a
  person's history.

Blank lines are not data lines: they are counted per file (``blank_lines``) and
otherwise ignored. Error messages never contain the content of a line, only its
position, because lines hold personal data.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import polars as pl

from clearance._allocator import keep_large_buffers, release_buffers
from clearance._digest import file_sha256
from clearance.extract.columns import (
    CLEANED_BY_MODEL,
    FIELDS,
    N_FIELDS,
    PADDING,
    POSITION,
    REQUIRED,
    USED,
    cleaned,
)
from clearance.extract.reasons import REJECT_REASONS

CHUNK_BYTES = 32 * 1024 * 1024
# Input bytes per person bucket: a bucket's rows, normalised, fit comfortably in
# memory (about a million rows of a real extract), whatever the size of the input.
BUCKET_BYTES = 96 * 1024 * 1024
BUCKET_SEED = 1361  # fixed, so the same input always falls into the same buckets
# Work files are written once and read once: LZ4 decodes five times faster than zstd.
WORK_COMPRESSION = "lz4"
BOM = b"\xef\xbb\xbf"
POSITION_OF_SUBJECT = POSITION["SUBJECT_ID"]  # in the 95-field layout, without a header


REJECTS_SCHEMA = {
    "source_file": pl.String,
    "line": pl.UInt64,
    "reason_code": pl.String,
    "reason": pl.String,
}

# A quoted value at the start of a field, RFC 4180 ("" is an escaped quote).
_QUOTED_FIELD = r'(^|,)"(?:[^"]|"")*"'
# A whole line of fields, each quoted, unquoted (not starting with a quote), or empty.
_FIELD = r'(?:"(?:[^"]|"")*"|[^,"][^,]*|)'
_WELL_FORMED = rf"^{_FIELD}(?:,{_FIELD})*$"
# One field at a position: quoted (group 1, "" inside) or unquoted (group 2, maybe empty).
_ONE_FIELD = re.compile(r'"([^"]*(?:""[^"]*)*)"|([^,"][^,]*|)')
# A carriage return that does not end a line (CRLF, or a last line ending in CR).
_LONE_CR = re.compile(rb"\r(?!\n|\Z)")


class ExtractError(Exception):
    """A file that cannot be read at all (missing, unreadable, header unusable)."""


@dataclass
class FileStats:
    """What reading one file found; recorded in inspect output and run.json."""

    path: str
    name: str
    sha256: str = ""
    size_bytes: int = 0
    header: bool = False
    fields: int = N_FIELDS
    rows_read: int = 0
    rows_used: int = 0
    rows_rejected: int = 0
    blank_lines: int = 0
    latin1_lines: int = 0
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "name": self.name,
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
            "header": self.header,
            "fields": self.fields,
            "rows_read": self.rows_read,
            "rows_used": self.rows_used,
            "rows_rejected": self.rows_rejected,
            "blank_lines": self.blank_lines,
            "latin1_lines": self.latin1_lines,
            "warnings": list(self.warnings),
        }


@dataclass
class ReadResult:
    """Staged rows (lazily, over Parquet parts), rejects and per-file statistics."""

    rows: pl.LazyFrame
    rejects: pl.DataFrame
    files: list[FileStats]
    staged_dir: Path | None = None
    buckets: int = 1

    def bucket(self, b: int) -> pl.LazyFrame:
        """The staged rows of one person bucket (every row of each of its people)."""
        if self.staged_dir is None:
            return self.rows
        return pl.scan_parquet(self.staged_dir / f"bucket-{b:04d}" / "*.parquet")

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def rows_used(self) -> int:
        return sum(f.rows_used for f in self.files)

    @property
    def rows_rejected(self) -> int:
        return sum(f.rows_rejected for f in self.files)

    @property
    def warnings(self) -> list[str]:
        return [f"{f.name}: {w}" for f in self.files for w in f.warnings]


@dataclass
class _Layout:
    """Where the used fields sit in this file's lines."""

    n_fields: int
    positions: dict[str, int]  # staged column name -> 0-based field position


def staged_schema() -> dict[str, pl.DataType]:
    schema: dict[str, pl.DataType] = {"source_file": pl.String(), "line": pl.UInt64()}
    schema.update({name: pl.String() for name in USED.values()})
    return schema


def buckets_for(total_bytes: int) -> int:
    """How many person buckets keep each one's evaluation within bounded memory."""
    return max(1, -(-total_bytes // BUCKET_BYTES))


def bucket_of(buckets: int) -> pl.Expr:
    """The bucket of each row's person: a hash of SUBJECT_ID, stable for a Polars version."""
    return (pl.col("subject_id").hash(seed=BUCKET_SEED) % buckets).cast(pl.UInt32)


def read_extracts(
    paths: Sequence[Path | str],
    work_dir: Path,
    *,
    progress: Callable[[int], None] | None = None,
    chunk_bytes: int = CHUNK_BYTES,
    buckets: int = 1,
) -> ReadResult:
    """Read extract files into Parquet parts under ``work_dir/staged``.

    With ``buckets`` > 1 the rows are split by person (``bucket_of``) into
    ``staged/bucket-NNNN/``, so that everything about one person is in one bucket
    and each bucket can be evaluated on its own (``ReadResult.bucket``).
    ``progress`` is called with the number of bytes just consumed.
    Raises ExtractError for a file that cannot be read at all.
    """
    staged_dir = Path(work_dir) / "staged"
    for b in range(buckets):
        (staged_dir / f"bucket-{b:04d}").mkdir(parents=True, exist_ok=True)
        # An empty part, so that a bucket no row falls in still has the schema.
        pl.DataFrame(schema=staged_schema()).write_parquet(
            staged_dir / f"bucket-{b:04d}" / "part-000000.parquet"
        )
    reading = Reading()
    for part, frame in enumerate(reading.frames(paths, progress, chunk_bytes), start=1):
        if buckets == 1:
            pieces = {0: frame}
        else:
            split = frame.with_columns(_bucket=bucket_of(buckets))
            pieces = {
                key[0]: piece.drop("_bucket")
                for key, piece in split.partition_by("_bucket", as_dict=True).items()
            }
        for b, piece in pieces.items():
            piece.write_parquet(
                staged_dir / f"bucket-{b:04d}" / f"part-{part:06d}.parquet",
                statistics=False,
                compression=WORK_COMPRESSION,
            )
    return reading.result(
        rows=pl.scan_parquet(staged_dir / "bucket-*" / "*.parquet"),
        staged_dir=staged_dir,
        buckets=buckets,
    )


class Reading:
    """Extract files read as a stream of staged frames, with statistics and rejects.

    ``frames`` yields the staged rows chunk by chunk, in input order (files in the
    order given, lines in file order), and records each file's statistics and
    rejected lines as it goes; ``result`` gathers them once every frame is taken.
    """

    def __init__(self) -> None:
        self.files: list[FileStats] = []
        self.rejects: list[pl.DataFrame] = []

    def frames(
        self,
        paths: Sequence[Path | str],
        progress: Callable[[int], None] | None = None,
        chunk_bytes: int = CHUNK_BYTES,
    ) -> Iterator[pl.DataFrame]:
        keep_large_buffers()
        names_seen: set[str] = set()
        for raw_path in paths:
            path = Path(raw_path)
            fs = FileStats(path=str(path), name=_unique_name(path, names_seen))
            self.files.append(fs)
            source = _read_parquet if _is_parquet(path) else _read_file
            for frame, rejected in source(path, fs, chunk_bytes, progress):
                if rejected.height:
                    self.rejects.append(rejected)
                if frame.height:
                    yield frame
        release_buffers()  # the chunk buffers kept for reuse are not needed any more

    def result(
        self, rows: pl.LazyFrame, staged_dir: Path | None = None, buckets: int = 1
    ) -> ReadResult:
        rejects = self.rejects or [pl.DataFrame(schema=REJECTS_SCHEMA)]
        return ReadResult(
            rows=rows,
            rejects=pl.concat(rejects).sort("source_file", "line", maintain_order=True),
            files=self.files,
            staged_dir=staged_dir,
            buckets=buckets,
        )


class NotGrouped(Exception):
    """A person's rows are not all together in the input (see ``person_batches``)."""


def person_batches(frames: Iterable[pl.DataFrame], rows: int) -> Iterator[pl.DataFrame]:
    """Staged frames regrouped into batches of whole people, about ``rows`` rows each.

    An extract lists each person's rows together, so a person cut by the end of a
    chunk is carried into the next batch, and each batch can be evaluated on its
    own, like a bucket. Raises NotGrouped, before yielding the batch concerned, as
    soon as a person's rows turn out not to be together: apart within a batch, or
    in two batches (an input of several files that repeat a history, or rows
    sorted otherwise). A batch is yielded only when every person in it is complete.
    """
    seen: set[str] = set()
    held: list[pl.DataFrame] = []
    height = 0

    def complete(batch: pl.DataFrame) -> pl.DataFrame:
        ids = batch["subject_id"]
        runs = int(ids.ne_missing(ids.shift(1)).sum()) if batch.height else 0
        distinct = ids.unique().to_list()
        if runs != len(distinct) or not seen.isdisjoint(distinct):
            raise NotGrouped("a person's rows are not together in the input")
        seen.update(distinct)
        return batch

    for frame in frames:
        held.append(frame)
        height += frame.height
        if height < rows:
            continue
        # Not rechunked: the model reads a batch of several chunks as fast, and
        # copying every column into one costs 0.2 to 0.4 s of CPU a million rows.
        batch = pl.concat(held, rechunk=False)
        ids = batch["subject_id"]
        # The last person may go on in the next chunk: carried, with their rows.
        starts = ids.ne_missing(ids.shift(1)).arg_true()
        last = int(starts[-1])
        held, height = [batch.slice(last)], batch.height - last
        if last:
            yield complete(batch.slice(0, last))
    if held:
        yield complete(pl.concat(held, rechunk=False))


PEEK_BYTES = 64 * 1024  # enough for a few whole lines at each end of a file


def in_one_order(paths: Sequence[Path | str]) -> bool:
    """Whether the files look like one extract cut into parts, in order.

    Each file's first and last SUBJECT_ID are read from its two ends (a few KB): a
    file that starts before the previous one ends (county extracts sorted alike,
    whose histories overlap) is not a continuation, and its people's rows are
    likely apart. Files whose ends cannot be read cheaply (Parquet, empty, unusual)
    do not count against it. A guess to choose how to read, never a guarantee:
    ``person_batches`` still checks every row.
    """
    ends = [_first_and_last_subject(Path(p)) for p in paths]
    known = [e for e in ends if e is not None]
    return all(_not_after(a[1], b[0]) for a, b in itertools.pairwise(known))


def _not_after(a: str, b: str) -> bool:
    """``a`` comes no later than ``b``: as numbers when both are digits, else as text."""
    if a.isdigit() and b.isdigit():
        return int(a) <= int(b)
    return a <= b


def _first_and_last_subject(path: Path) -> tuple[str, str] | None:
    """SUBJECT_ID of the first and the last data line of a text extract, if cheap to tell."""
    try:
        if _is_parquet(path) or compression_of(path):
            return None
    except ExtractError:
        return None  # refused when read
    try:
        with path.open("rb") as handle:
            head = handle.read(PEEK_BYTES)
            size = handle.seek(0, 2)
            start = max(0, size - PEEK_BYTES)
            handle.seek(start)
            tail = handle.read(PEEK_BYTES)
    except OSError:
        return None
    head_lines = head.removeprefix(BOM).split(b"\n")
    if len(head) == PEEK_BYTES:
        head_lines.pop()  # cut by the end of the read
    tail_lines = tail.split(b"\n")
    if start:
        tail_lines.pop(0)  # cut by the start of the read
    position = POSITION_OF_SUBJECT
    top = head_lines[0].decode("latin-1").strip("\r") if head_lines else ""
    if _is_header(top):
        names = _header_names(top)
        if names is None or "SUBJECT_ID" not in names:
            return None
        position = names.index("SUBJECT_ID")
        head_lines = head_lines[1:]
    first = _subject_of(head_lines, position)
    last = _subject_of(reversed(tail_lines), position)
    return (first, last) if first and last else None


def _subject_of(lines: Iterable[bytes], position: int) -> str | None:
    """SUBJECT_ID of the first of ``lines`` with a value there (blank lines skipped)."""
    for raw in lines:
        text = raw.decode("latin-1").strip("\r")
        if not text.strip():
            continue
        fields = _fields(text)
        if fields is None:  # a defect the reader will report: no guess from this file
            return None
        value = fields[position].strip(PADDING) if position < len(fields) else ""
        return value or None
    return None


def _unique_name(path: Path, seen: set[str]) -> str:
    """The file's name, made unique when two inputs share one (a/x.dat, b/x.dat)."""
    name = path.name
    if name in seen:
        name = str(path)
    seen.add(name)
    return name


def _read_file(
    path: Path,
    fs: FileStats,
    chunk_bytes: int,
    progress: Callable[[int], None] | None,
) -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
    kind = compression_of(path)
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ExtractError(f"{path}: cannot open ({exc.strerror or exc})") from exc
    digest = hashlib.sha256()
    raw = _Counted(handle, digest)
    text = _decompressed(raw, kind) if kind else None
    if kind:
        fs.warnings.append(
            f"{COMPRESSED[kind]}-compressed: read as it is decompressed "
            "(its size and SHA-256 are of the compressed file)"
        )

    def read_block() -> tuple[bytes, int]:
        # Reading, hashing and decompressing release the GIL: done on a thread while
        # the previous block is parsed. Returns the block and the file bytes it took.
        if text is None:
            block = handle.read(chunk_bytes)
            digest.update(block)
            return block, len(block)
        before = raw.consumed
        block = _read_fully(text, chunk_bytes)
        return block, raw.consumed - before

    with handle, ThreadPoolExecutor(max_workers=1) as prefetch:
        layout: _Layout | None = None
        next_line = 1
        carry = b""
        first = True
        pending = prefetch.submit(read_block)
        while True:
            try:
                block, taken = pending.result()
            except (OSError, EOFError, ValueError, _arrow_errors()) as exc:
                raise ExtractError(_unreadable(path, kind, next_line, exc)) from None
            if block:
                pending = prefetch.submit(read_block)
            fs.size_bytes += taken
            if progress and taken:
                progress(taken)
            if not block:
                if not carry:
                    break
                lines_blob, carry = carry, b""
            else:
                cut = block.rfind(b"\n")
                if cut < 0:
                    carry += block
                    if first and b"\r" in carry[:PEEK_BYTES] and len(carry) >= PEEK_BYTES:
                        raise ExtractError(f"{path}: {CR_ONLY}")
                    if len(carry) > MAX_LINE_BYTES:  # memory must not grow with the file
                        raise ExtractError(
                            f"{path}, line {next_line}: no line break in "
                            f"{MAX_LINE_BYTES // (1024 * 1024)} MB; is this a DOJ extract?"
                        )
                    continue
                # One copy: the carried start of a line, then this block's whole lines.
                lines_blob, carry = carry + memoryview(block)[: cut + 1], block[cut + 1 :]
            if first:
                first = False
                if b"\r" in lines_blob and b"\n" not in lines_blob[:PEEK_BYTES]:
                    raise ExtractError(f"{path}: {CR_ONLY}")
                if lines_blob.startswith(BOM):
                    lines_blob = lines_blob[len(BOM) :]
                    fs.warnings.append("starts with a UTF-8 byte-order mark (ignored)")
                layout, header_len = _layout(path, lines_blob, fs)
                if header_len:
                    lines_blob = lines_blob[header_len:]
                    next_line = 2
            if layout is None:  # read from the first block, before any line is parsed
                raise RuntimeError(f"{path}: no layout after the first block")
            body, n_lines = _marked(lines_blob)
            # A carriage return inside a line would be read as part of a value: such a
            # block goes through the line checks, which reject its line.
            lone_cr = b"\r" in lines_blob and _LONE_CR.search(lines_blob) is not None
            parsed = None if lone_cr else _parse_clean_block(body, n_lines, layout)
            del body
            if parsed is not None:
                fs.rows_read += n_lines
                yield _stage(parsed, _line_numbers(next_line, n_lines), fs)
            else:
                lines = _decode_lines(lines_blob, fs)
                if len(lines) != n_lines:  # line numbers would be wrong from here on
                    raise RuntimeError(
                        f"{path}, line {next_line}: {len(lines)} lines decoded, {n_lines} marked"
                    )
                yield _process_chunk(lines, next_line, layout, fs)
            next_line += n_lines
            if not block:
                break
        if text is not None:
            # The digest is of the file as stored: read to its end, past the data.
            while raw.read(CHUNK_BYTES):
                pass
            fs.size_bytes = raw.consumed
    fs.sha256 = digest.hexdigest()
    if fs.size_bytes == 0:
        fs.warnings.append("the file is empty")
    if fs.rows_read and not fs.rows_used:
        fs.warnings.append("no line of the file could be used")


# A line longer than this is no extract line (about 500 bytes): the file is refused
# rather than held in memory whole while the reader looks for the line's end.
MAX_LINE_BYTES = 64 * 1024 * 1024
CR_ONLY = (
    "its lines end in a carriage return only (old Mac line endings); "
    "save it with LF or CRLF line endings"
)

# Extracts sent compressed are read as they are decompressed, never unpacked on disk.
# gzip with ISA-L (already used for the workbook; twice as fast as zlib), zstd with
# Arrow's codec (pyarrow is already required): no new dependency.
COMPRESSED = {"gzip": "gzip", "zstd": "zstd"}
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gzip"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)
# Other formats a file might be in by mistake: refused by name, with what to do.
_REFUSED: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a ZIP archive (or an Excel workbook): unzip it, or save the sheet as CSV"),
    (b"BZh", "bzip2-compressed: decompress it (bunzip2), or send it gzip- or zstd-compressed"),
    (b"\xfd7zXZ\x00", "xz-compressed: decompress it (unxz), or send it gzip- or zstd-compressed"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive: unpack it first"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Excel 97-2003 workbook: save the sheet as CSV"),
)
# How many times its size a compressed extract is taken to hold, to choose the number
# of person buckets before reading (synthetic extracts compress 16 times; more buckets
# than needed only cost a little time).
COMPRESSED_RATIO = 16


def compression_of(path: Path) -> str | None:
    """``gzip`` or ``zstd`` for a compressed extract, None for text (or Parquet).

    Raises ExtractError for an archive or another format that is not an extract.
    """
    try:
        with path.open("rb") as handle:
            start = handle.read(8)
    except OSError:
        return None  # _read_file reports why it cannot be opened
    for magic, kind in _MAGIC:
        if start.startswith(magic):
            return kind
    for magic, what in _REFUSED:
        if start.startswith(magic) and not (magic == b"BZh" and start[3:4] not in b"123456789"):
            raise ExtractError(f"{path}: {what}")
    return None


def input_bytes(paths: Iterable[Path | str]) -> int:
    """The bytes of text the files hold, compressed ones estimated (COMPRESSED_RATIO)."""
    total = 0
    for p in paths:
        size = Path(p).stat().st_size
        total += size * COMPRESSED_RATIO if compression_of(Path(p)) else size
    return total


def read_start(path: Path, size: int) -> tuple[bytes, bool]:
    """Up to ``size`` bytes from the start of the file's text (decompressed when it is
    gzip or zstd), and whether more follow: a quick look, as the web upload's check
    takes. Raises ExtractError as the reader would."""
    kind = compression_of(path)
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ExtractError(f"{path}: cannot open ({exc.strerror or exc})") from exc
    with handle:
        text = _decompressed(handle, kind) if kind else handle
        try:
            head = _read_fully(text, size)
            more = bool(text.read(1))
        except (OSError, EOFError, ValueError, _arrow_errors()) as exc:
            raise ExtractError(_unreadable(path, kind, None, exc)) from None
    return head, more


class _Counted(io.RawIOBase):
    """A file read through, hashed and counted on the way (for a decompressor)."""

    def __init__(self, handle: io.BufferedReader, digest: hashlib._Hash) -> None:
        self._handle = handle
        self._digest = digest
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        n = self._handle.readinto(buffer)
        if n:
            self._digest.update(memoryview(buffer)[:n])
            self.consumed += n
        return n or 0


def _decompressed(handle, kind: str):
    if kind == "gzip":
        from isal import igzip

        return igzip.IGzipFile(fileobj=handle, mode="rb")
    import pyarrow as pa

    return pa.CompressedInputStream(pa.PythonFile(handle, mode="r"), "zstd")


def _read_fully(stream, size: int) -> bytes:
    """``size`` bytes, fewer only at the end (a decompressor may return less)."""
    block = stream.read(size)
    if len(block) < size and block:
        pieces = [block]
        got = len(block)
        while got < size:
            more = stream.read(size - got)
            if not more:
                break
            pieces.append(more)
            got += len(more)
        block = b"".join(pieces)
    return bytes(block)


def _arrow_errors() -> type[Exception]:
    import pyarrow as pa

    return pa.ArrowException


def _unreadable(path: Path, kind: str | None, line: int | None, exc: BaseException) -> str:
    where = f"{path}, after line {line - 1}" if line and line > 1 else str(path)
    if kind:
        return (
            f"{where}: the {COMPRESSED[kind]}-compressed data is damaged or cut short "
            f"({type(exc).__name__})"
        )
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
    return f"{where}: cannot read ({reason})"


PARQUET_MAGIC = b"PAR1"
PARQUET_BATCH_ROWS = 100_000
CNT_ORDER_DIGITS = 12  # CCCSSSNNN000 (doj-extract.md): leading zeros are part of the key


def _is_parquet(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(4) == PARQUET_MAGIC
    except OSError:
        return False  # _read_file reports why it cannot be opened


def _read_parquet(
    path: Path,
    fs: FileStats,
    chunk_bytes: int,
    progress: Callable[[int], None] | None,
) -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
    """An extract already in Parquet: the DOJ layout's columns, by name.

    Read in batches of rows (memory stays bounded); "line" is the row's 1-based
    position in the file. Columns are matched by name, as a CSV header is, and
    values become the extract's text: integers as digits (CNT_ORDER zero-padded to
    its 12 digits, which a conversion to a number loses), dates as YYYYMMDD.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as exc:
        raise ExtractError(f"{path}: not a readable Parquet file ({type(exc).__name__})") from exc
    fs.header = True
    columns = parquet.schema_arrow.names
    fs.fields = len(columns)
    names = [n.strip().upper() for n in columns]
    _check_names(names, fs, where=str(path), what="the Parquet file")
    by_name = dict(zip(names, columns, strict=True))
    wanted = {by_name[f]: USED[f] for f in USED if f in by_name}
    nested = [
        n
        for n in names
        if n in USED and pa.types.is_nested(parquet.schema_arrow.field(by_name[n]).type)
    ]
    if nested:
        several = len(nested) > 1
        raise ExtractError(
            f"{path}: the Parquet column{'s' if several else ''} {', '.join(nested)} "
            f"{'hold' if several else 'holds'} lists or structures, "
            "not one value a row as the DOJ layout has"
        )
    total_rows = max(parquet.metadata.num_rows, 1)
    fs.size_bytes = path.stat().st_size
    fs.sha256 = file_sha256(path, CHUNK_BYTES)
    first = 1
    batches = parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=list(wanted))
    while True:
        try:
            batch = next(batches, None)
            if batch is None:
                break
            frame = cast(pl.DataFrame, pl.from_arrow(batch))  # a record batch: a DataFrame
            frame = frame.select(_as_text(c, wanted[c], frame.schema[c]) for c in wanted)
        except (OSError, pa.ArrowException, pl.exceptions.PolarsError) as exc:
            # A damaged page, or a value that is not text (bytes that are not UTF-8).
            raise ExtractError(
                f"{path}, row {first}: the rows from here cannot be read as the extract's "
                f"text (a damaged Parquet file?) ({type(exc).__name__})"
            ) from None
        fs.rows_read += frame.height
        yield _stage(frame, _line_numbers(first, frame.height), fs)
        first += frame.height
        if progress:
            progress(fs.size_bytes * frame.height // total_rows)
    if fs.rows_read and not fs.rows_used:
        fs.warnings.append("no row of the file could be used")


def _as_text(column: str, staged: str, dtype: pl.DataType) -> pl.Expr:
    """A Parquet column's values as the text the extract would hold."""
    value = pl.col(column)
    if dtype == pl.Date or isinstance(dtype, pl.Datetime):
        value = value.dt.strftime("%Y%m%d")
    elif dtype.is_integer() and staged == "cnt_order":
        value = value.cast(pl.String).str.zfill(CNT_ORDER_DIGITS)
    elif dtype != pl.String:
        value = value.cast(pl.String)
    return value.alias(staged)


def _is_header(text: str) -> bool:
    """A header line: its first name is RECORD_ID (quoted or not)."""
    return text.lstrip().lstrip('"').upper().startswith("RECORD_ID")


def _header_names(text: str) -> list[str] | None:
    """The column names of a header line, trimmed and upper case; None when a quote
    in it is unbalanced or stray, or a carriage return is inside it."""
    fields = None if "\r" in text else _fields(text)
    return None if fields is None else [n.strip().upper() for n in fields]


def _fields(text: str) -> list[str] | None:
    """The values of one line, RFC 4180 as Python's csv module reads them (a quote
    inside an unquoted value is a character), or None when a quote is unbalanced or
    stray. No limit on a value's length, and no error but None."""
    values = []
    at = 0
    while True:
        # Never None: the second alternative matches the empty string.
        match = cast("re.Match[str]", _ONE_FIELD.match(text, at))
        quoted, plain = match.groups()
        values.append(quoted.replace('""', '"') if quoted is not None else plain)
        at = match.end()
        if at == len(text):
            return values
        if text[at] != ",":
            return None
        at += 1


def _layout(path: Path, blob: bytes, fs: FileStats) -> tuple[_Layout, int]:
    """Read the header line if there is one; return the layout and the header's length."""
    end = blob.find(b"\n")
    first_line = blob[: end + 1 if end >= 0 else len(blob)]
    text = first_line.decode("latin-1").rstrip("\r\n")
    if not _is_header(text):
        return _Layout(N_FIELDS, {USED[f]: i for i, f in enumerate(FIELDS) if f in USED}), 0

    fs.header = True
    names = _header_names(text)
    if names is None:
        raise ExtractError(
            f"{path}, line 1: the header has an unbalanced or stray quote, "
            "or a carriage return inside it"
        )
    while names and names[-1] == "":
        names.pop()
        fs.warnings.append("the header line ends with an extra comma (ignored)")
    if "" in names:
        raise ExtractError(f"{path}, line 1: the header has an empty column name")
    _check_names(names, fs, where=f"{path}, line 1", what="the header")
    if "END_OF_REC" not in names:
        fs.warnings.append("the header has no END_OF_REC column; columns are read by name")
    positions = {USED[n]: i for i, n in enumerate(names) if n in USED}
    fs.fields = len(names)
    return _Layout(len(names), positions), len(first_line)


def _check_names(names: list[str], fs: FileStats, *, where: str, what: str) -> None:
    """Column names (upper case) of a header or a Parquet schema, checked alike.

    A repeated name or a missing key column stops the file (ExtractError at
    ``where``); names outside the DOJ layout and used fields that are absent are
    warnings.
    """
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ExtractError(f"{where}: {what} repeats {', '.join(duplicates)}")
    missing = [n for n in REQUIRED if n not in names]
    if missing:
        raise ExtractError(
            f"{where}: {what} has no {', '.join(missing)} column, "
            "so no row can be placed in a person's history"
        )
    unknown = [n for n in names if n not in FIELDS]
    if unknown:
        fs.warnings.append(f"{what} has columns not in the DOJ layout: {', '.join(unknown)}")
    absent = [f for f in USED if f not in names]
    if absent:
        fs.warnings.append(f"{what} lacks {', '.join(absent)}; those values are empty")


def _decode_lines(blob: bytes, fs: FileStats) -> list[str]:
    """Split a block of whole lines and decode it: UTF-8, or Latin-1 line by line.

    The encoding is not declared (doj-extract.md): ASCII is expected, and a line that
    is not valid UTF-8 is read as Latin-1, which never fails, so no line is lost.
    """
    if blob.endswith(b"\n"):
        blob = blob[:-1]
    try:
        return blob.decode("utf-8").split("\n")
    except UnicodeDecodeError:
        lines = []
        for raw in blob.split(b"\n"):
            try:
                lines.append(raw.decode("utf-8"))
            except UnicodeDecodeError:
                lines.append(raw.decode("latin-1"))
                fs.latin1_lines += 1
        return lines


def _process_chunk(
    lines: list[str], first_line: int, layout: _Layout, fs: FileStats
) -> tuple[pl.DataFrame, pl.DataFrame]:
    text = pl.col("text")
    checked = (
        pl.DataFrame({"text": lines})
        .with_columns(
            line=pl.int_range(first_line, first_line + len(lines), dtype=pl.UInt64),
            text=text.str.strip_suffix("\r"),
        )
        .with_columns(blank=text.str.strip_chars() == "")
        .filter(~pl.col("blank"))
        .with_columns(quotes=text.str.count_matches('"', literal=True))
        .with_columns(
            unquoted=pl.when(pl.col("quotes") > 0)
            .then(text.str.replace_all(_QUOTED_FIELD, "$1"))
            .otherwise(text)
        )
        .with_columns(
            fields=pl.col("unquoted").str.count_matches(",", literal=True) + 1,
            reason_code=pl.when(
                text.str.strip_chars_start().str.strip_chars_start('"').str.starts_with("RECORD_ID")
            )
            .then(pl.lit("repeated_header"))
            .when(text.str.contains("\r", literal=True))
            .then(pl.lit("carriage_return"))
            .when((pl.col("quotes") > 0) & ~text.str.contains(_WELL_FORMED))
            .then(
                pl.when(pl.col("quotes") % 2 == 1)
                .then(pl.lit("unbalanced_quote"))
                .otherwise(pl.lit("stray_quote"))
            ),
        )
        .with_columns(
            reason_code=pl.when(
                pl.col("reason_code").is_null() & (pl.col("fields") != layout.n_fields)
            )
            .then(pl.lit("wrong_field_count"))
            .otherwise(pl.col("reason_code"))
        )
    )
    fs.blank_lines += len(lines) - checked.height
    fs.rows_read += checked.height

    structural = checked.filter(pl.col("reason_code").is_not_null()).select(
        "line",
        "reason_code",
        reason=_reason_text(pl.col("reason_code"), pl.col("fields"), layout.n_fields),
    )
    good = checked.filter(pl.col("reason_code").is_null())
    # Lines with a quote inside an unquoted value are parsed one by one with Python's
    # csv module: Polars' parallel reader cannot split a buffer safely around them.
    literal = pl.col("unquoted").str.contains('"', literal=True)
    plain, odd = good.filter(~literal), good.filter(literal)
    parsed = _read_csv("\n".join(plain["text"].to_list()).encode("utf-8"), layout)
    if odd.height:
        parsed = pl.concat([parsed, _read_lines_one_by_one(odd["text"].to_list(), layout)])
    if parsed.height != good.height:  # a silent loss here would deny someone relief
        raise AssertionError(f"parsed {parsed.height} rows from {good.height} checked lines")
    lines = pl.concat([plain["line"], odd["line"]])
    order = lines.arg_sort()
    used, rejected = _stage(parsed[order], lines[order], fs)
    structural = structural.select(pl.lit(fs.name, dtype=pl.String).alias("source_file"), pl.all())
    fs.rows_rejected += structural.height
    return used, pl.concat([structural.cast(REJECTS_SCHEMA), rejected])  # type: ignore[arg-type]


def _read_lines_one_by_one(lines: list[str], layout: _Layout) -> pl.DataFrame:
    names = sorted(layout.positions, key=layout.positions.__getitem__)
    rows = [_fields(text) for text in lines]  # well formed: checked by _process_chunk
    values = [[row[layout.positions[n]] for n in names] for row in rows if row is not None]
    if len(values) != len(lines):
        raise AssertionError("a line checked as well formed could not be split")
    return pl.DataFrame(values, schema=dict.fromkeys(names, pl.String), orient="row")


def _line_numbers(first: int, n: int) -> pl.Series:
    return pl.Series("line", range(first, first + n), dtype=pl.UInt64)


def _stage(
    parsed: pl.DataFrame, lines: pl.Series, fs: FileStats
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Clean parsed fields; reject rows that cannot be placed in a history.

    Fields are trimmed, and nulled when empty or a filler (``columns.cleaned``),
    except those the model cleans once per distinct value (``CLEANED_BY_MODEL``).
    """
    names = [c for c in parsed.columns if not c.startswith("_")]
    values = [pl.col(n) if n in CLEANED_BY_MODEL else cleaned(pl.col(n)).alias(n) for n in names]
    absent = [pl.lit(None, dtype=pl.String).alias(n) for n in USED.values() if n not in names]
    rows = parsed.select(
        pl.lit(fs.name, dtype=pl.String).alias("source_file"),
        lines.alias("line"),
        *values,
        *absent,
    ).select("source_file", "line", *USED.values())
    if rows["subject_id"].null_count() == 0 and rows["cnt_order"].null_count() == 0:
        fs.rows_used += rows.height  # the usual case: every row has its keys
        return rows, pl.DataFrame(schema=REJECTS_SCHEMA)
    missing = (
        pl.when(pl.col("subject_id").is_null())
        .then(pl.lit("missing_subject_id"))
        .when(pl.col("cnt_order").is_null())
        .then(pl.lit("missing_cnt_order"))
    )
    rows = rows.with_columns(reason_code=missing)
    rejected = (
        rows.filter(pl.col("reason_code").is_not_null())
        .select(
            pl.lit(fs.name, dtype=pl.String).alias("source_file"),
            "line",
            "reason_code",
            reason=_reason_text(pl.col("reason_code"), pl.lit(0), 0),
        )
        .cast(REJECTS_SCHEMA)  # type: ignore[arg-type]
    )
    used = rows.filter(pl.col("reason_code").is_null()).drop("reason_code")
    fs.rows_used += used.height
    fs.rows_rejected += rejected.height
    return used, rejected


MARK = b"\x01"  # a byte no extract holds: appended to each line as one more field


def _read_csv(body: bytes, layout: _Layout, *, marked: bool = False) -> pl.DataFrame:
    """Parse lines into the used fields (named as staged).

    With ``marked``, each line carries one extra field, MARK, and the result has a
    ``_mark`` column: MARK exactly when the line had the layout's number of fields
    (fewer fields put MARK earlier; more make the parse fail).
    """
    n = layout.n_fields
    wanted = {pos: name for name, pos in layout.positions.items()}
    if marked:
        wanted[n] = "_mark"
    positions = sorted(wanted)
    if not body:
        return pl.DataFrame(schema={wanted[p]: pl.String for p in positions})
    parsed = pl.read_csv(
        io.BytesIO(body),
        has_header=False,
        schema={f"f{i}": pl.String for i in range(n + marked)},
        columns=positions,
        quote_char='"',
        truncate_ragged_lines=False,
        missing_columns="insert",
        raise_if_empty=False,
    )
    parsed.columns = [wanted[p] for p in positions]
    return parsed


def _marked(blob: bytes) -> tuple[bytes, int]:
    """The lines of ``blob`` with MARK appended to each as one more field, and how
    many lines there are (counted from the bytes the marks added: no second pass)."""
    body = blob.replace(b"\n", b"," + MARK + b"\n")
    n_lines = (len(body) - len(blob)) // len(b"," + MARK)
    if blob.endswith(b"\n"):
        return body, n_lines
    return body + b"," + MARK, n_lines + 1  # the last line of a file without a newline


def _parse_clean_block(body: bytes, n_lines: int, layout: _Layout) -> pl.DataFrame | None:
    """Parse a marked block (``_marked``) in one pass when it is provably clean, else None.

    Clean means: valid UTF-8, no repeated header, one parsed row per line (a quote
    left open would swallow the next line; a blank line would be skipped), and every
    line with exactly the layout's number of fields (the mark lands in its place).
    Anything else goes through the line-by-line checks, which say which line is
    wrong and why.
    """
    try:
        parsed = _read_csv(body, layout, marked=True)
    except (pl.exceptions.PolarsError, UnicodeDecodeError):
        return None
    if parsed.height != n_lines or not parsed["_mark"].eq_missing(MARK.decode()).all():
        return None
    if parsed["subject_id"].eq_missing("SUBJECT_ID").any():  # a header repeated inside
        return None
    return parsed.drop("_mark")


def _reason_text(code: pl.Expr, fields: pl.Expr, expected: int) -> pl.Expr:
    expr = pl.when(code == "wrong_field_count").then(
        pl.format("wrong number of fields: expected {}, found {}", pl.lit(expected), fields)
    )
    for reason_code, text in REJECT_REASONS.items():
        if reason_code != "wrong_field_count":
            expr = expr.when(code == reason_code).then(pl.lit(text))
    return expr.otherwise(code)
