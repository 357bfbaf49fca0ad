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
- ``unbalanced_quote`` an odd number of ``"`` characters: a CSV parser would run
  on into the following lines, so the line is rejected before parsing;
- ``stray_quote``      a ``"`` that is not part of an RFC 4180 quoted value;
- ``wrong_field_count`` not the number of fields the header (or the 95-field
  layout) says;
- ``missing_subject_id`` / ``missing_cnt_order`` no value to place the row in a
  person's history.

Blank lines are not data lines: they are counted per file (``blank_lines``) and
otherwise ignored. Error messages never contain the content of a line, only its
position, because lines hold personal data.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from clearance.extract.columns import FIELDS, FILLERS, N_FIELDS, REQUIRED, USED

CHUNK_BYTES = 32 * 1024 * 1024
BOM = b"\xef\xbb\xbf"
PADDING = " \t"  # what fixed-width padding is made of; values are trimmed of it

REJECT_REASONS: dict[str, str] = {
    "repeated_header": "a header line inside the file",
    "unbalanced_quote": "unbalanced quote (odd number of double quotes)",
    "stray_quote": "a double quote outside a quoted value",
    "wrong_field_count": "wrong number of fields",
    "missing_subject_id": "no SUBJECT_ID",
    "missing_cnt_order": "no CNT_ORDER",
}

REJECTS_SCHEMA = {
    "source_file": pl.String,
    "line": pl.UInt64,
    "reason_code": pl.String,
    "reason": pl.String,
}

# A quoted value at the start of a field, RFC 4180 ("" is an escaped quote).
_QUOTED_FIELD = r'(^|,)"(?:[^"]|"")*"'


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


def read_extracts(
    paths: Sequence[Path | str],
    work_dir: Path,
    *,
    progress: Callable[[int], None] | None = None,
    chunk_bytes: int = CHUNK_BYTES,
) -> ReadResult:
    """Read extract files into Parquet parts under ``work_dir/staged``.

    ``progress`` is called with the number of bytes just consumed.
    Raises ExtractError for a file that cannot be read at all.
    """
    staged_dir = Path(work_dir) / "staged"
    staged_dir.mkdir(parents=True, exist_ok=True)
    rejects: list[pl.DataFrame] = []
    stats: list[FileStats] = []
    part = 0
    names_seen: set[str] = set()
    for raw_path in paths:
        path = Path(raw_path)
        name = _unique_name(path, names_seen)
        fs = FileStats(path=str(path), name=name)
        stats.append(fs)
        for frame, rejected in _read_file(path, fs, chunk_bytes, progress):
            if frame.height:
                frame.write_parquet(staged_dir / f"part-{part:06d}.parquet", statistics=False)
                part += 1
            if rejected.height:
                rejects.append(rejected)
    if part == 0:
        pl.DataFrame(schema=staged_schema()).write_parquet(staged_dir / "part-000000.parquet")
    rows = pl.scan_parquet(staged_dir / "*.parquet")
    reject_frame = (pl.concat(rejects) if rejects else pl.DataFrame(schema=REJECTS_SCHEMA)).sort(
        "source_file", "line", maintain_order=True
    )
    return ReadResult(rows=rows, rejects=reject_frame, files=stats)


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
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ExtractError(f"{path}: cannot open ({exc.strerror or exc})") from exc
    digest = hashlib.sha256()
    with handle:
        layout: _Layout | None = None
        next_line = 1
        carry = b""
        first = True
        while True:
            block = handle.read(chunk_bytes)
            if block:
                digest.update(block)
                fs.size_bytes += len(block)
                if progress:
                    progress(len(block))
            data = carry + block
            if not block:
                if not data:
                    break
                lines_blob, carry = data, b""
            else:
                cut = data.rfind(b"\n")
                if cut < 0:
                    carry = data
                    continue
                lines_blob, carry = data[: cut + 1], data[cut + 1 :]
            if first:
                first = False
                if lines_blob.startswith(BOM):
                    lines_blob = lines_blob[len(BOM) :]
                    fs.warnings.append("starts with a UTF-8 byte-order mark (ignored)")
                layout, header_len = _layout(path, lines_blob, fs)
                if header_len:
                    lines_blob = lines_blob[header_len:]
                    next_line = 2
            assert layout is not None
            lines = _decode_lines(lines_blob, fs)
            yield _process_chunk(lines, next_line, layout, fs)
            next_line += len(lines)
            if not block:
                break
    fs.sha256 = digest.hexdigest()
    if fs.size_bytes == 0:
        fs.warnings.append("the file is empty")
    if fs.rows_read and not fs.rows_used:
        fs.warnings.append("no line of the file could be used")


def _layout(path: Path, blob: bytes, fs: FileStats) -> tuple[_Layout, int]:
    """Read the header line if there is one; return the layout and the header's length."""
    end = blob.find(b"\n")
    first_line = blob[: end + 1 if end >= 0 else len(blob)]
    text = first_line.decode("latin-1").rstrip("\r\n")
    if not text.lstrip().lstrip('"').upper().startswith("RECORD_ID"):
        return _Layout(N_FIELDS, {USED[f]: i for i, f in enumerate(FIELDS) if f in USED}), 0

    fs.header = True
    names = [n.strip().upper() for n in next(csv.reader([text]))]
    while names and names[-1] == "":
        names.pop()
        fs.warnings.append("the header line ends with an extra comma (ignored)")
    if "" in names:
        raise ExtractError(f"{path}, line 1: the header has an empty column name")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ExtractError(f"{path}, line 1: the header repeats {', '.join(duplicates)}")
    missing_required = [n for n in REQUIRED if n not in names]
    if missing_required:
        raise ExtractError(
            f"{path}, line 1: the header has no {', '.join(missing_required)} column, "
            "so no row can be placed in a person's history"
        )
    if "END_OF_REC" not in names:
        fs.warnings.append("the header has no END_OF_REC column; columns are read by name")
    unknown = [n for n in names if n not in FIELDS]
    if unknown:
        fs.warnings.append(f"the header has columns not in the DOJ layout: {', '.join(unknown)}")
    absent = [f for f in USED if f not in names]
    if absent:
        fs.warnings.append(f"the header lacks {', '.join(absent)}; those values are empty")
    positions = {USED[n]: i for i, n in enumerate(names) if n in USED}
    fs.fields = len(names)
    return _Layout(len(names), positions), len(first_line)


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
            .when(pl.col("quotes") % 2 == 1)
            .then(pl.lit("unbalanced_quote"))
            .when(pl.col("unquoted").str.contains('"', literal=True))
            .then(pl.lit("stray_quote")),
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

    structural = checked.filter(pl.col("reason_code").is_not_null())
    good = checked.filter(pl.col("reason_code").is_null())
    rows = _parse(good, layout)
    missing = (
        pl.when(pl.col("subject_id").is_null())
        .then(pl.lit("missing_subject_id"))
        .when(pl.col("cnt_order").is_null())
        .then(pl.lit("missing_cnt_order"))
    )
    rows = rows.with_columns(reason_code=missing)
    rejected = pl.concat(
        [
            structural.select(
                "line",
                "reason_code",
                reason=_reason_text(pl.col("reason_code"), pl.col("fields"), layout.n_fields),
            ),
            rows.filter(pl.col("reason_code").is_not_null()).select(
                "line",
                "reason_code",
                reason=_reason_text(pl.col("reason_code"), pl.lit(0), layout.n_fields),
            ),
        ]
    ).select(pl.lit(fs.name).alias("source_file"), pl.all())
    used = rows.filter(pl.col("reason_code").is_null()).select(
        pl.lit(fs.name, dtype=pl.String).alias("source_file"), pl.exclude("reason_code")
    )
    fs.rows_used += used.height
    fs.rows_rejected += rejected.height
    return used, rejected.cast(REJECTS_SCHEMA)  # type: ignore[arg-type]


def _reason_text(code: pl.Expr, fields: pl.Expr, expected: int) -> pl.Expr:
    expr = pl.when(code == "wrong_field_count").then(
        pl.format("wrong number of fields: expected {}, found {}", pl.lit(expected), fields)
    )
    for reason_code, text in REJECT_REASONS.items():
        if reason_code != "wrong_field_count":
            expr = expr.when(code == reason_code).then(pl.lit(text))
    return expr.otherwise(code)


def _parse(good: pl.DataFrame, layout: _Layout) -> pl.DataFrame:
    """Parse structurally valid lines into the staged columns, trimmed, fillers nulled."""
    names = sorted(layout.positions, key=layout.positions.__getitem__)
    if good.height == 0:
        return pl.DataFrame(schema=staged_schema()).drop("source_file")
    body = "\n".join(good["text"].to_list()).encode("utf-8")
    parsed = pl.read_csv(
        io.BytesIO(body),
        has_header=False,
        columns=[layout.positions[n] for n in names],
        infer_schema=False,
        quote_char='"',
        truncate_ragged_lines=False,
        raise_if_empty=False,
    )
    if parsed.height != good.height:  # a silent loss here would deny someone relief
        raise AssertionError(f"parsed {parsed.height} rows from {good.height} checked lines")
    parsed.columns = names
    cleaned = [
        pl.when(
            pl.col(n).str.strip_chars(PADDING).is_in(list(FILLERS))
            | (pl.col(n).str.strip_chars(PADDING) == "")
        )
        .then(None)
        .otherwise(pl.col(n).str.strip_chars(PADDING))
        .alias(n)
        for n in names
    ]
    absent = [pl.lit(None, dtype=pl.String).alias(n) for n in USED.values() if n not in names]
    return parsed.select(
        pl.Series("line", good["line"]),
        *cleaned,
        *absent,
    ).select("line", *USED.values())
