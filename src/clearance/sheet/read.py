"""One rap sheet file into staged rows, rejects and the model (docs/rap-sheet.md)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from clearance._digest import file_sha256
from clearance.extract import model as model_
from clearance.extract.reader import REJECTS_SCHEMA, FileStats, ReadResult, staged_schema
from clearance.sheet.parse import (
    NOISE,
    REJECTED,
    USED,
    Parsed,
    SheetError,
    parse,
    staged_rows,
    text_lines,
)
from clearance.sheet.text import sheet_text


@dataclass
class SheetRead:
    """A sheet read: its staged rows (the extract reader's columns), rejects, figures."""

    paths: list[Path]
    how: str  # text, pdf or ocr
    parsed: Parsed
    rows: pl.DataFrame
    rejects: pl.DataFrame
    files: list[FileStats]

    @property
    def stats(self) -> FileStats:
        return self.files[0]

    @property
    def subject_id(self) -> str:
        return str(self.parsed.person.cii)

    def lines(self) -> dict[str, int]:
        fates = list(self.parsed.fates.values())
        return {
            "read": len(fates),
            "used": fates.count(USED),
            "noise": fates.count(NOISE),
            "rejected": fates.count(REJECTED),
        }

    def read_result(self) -> ReadResult:
        return ReadResult(rows=self.rows.lazy(), rejects=self.rejects, files=self.files)

    def model(self) -> model_.Model:
        return model_.build(self.rows.lazy(), [f.name for f in self.files], in_order=True)


def sheet_from_text(
    text: str, name: str, pages: Sequence[tuple[str, int]] | None = None
) -> tuple[Parsed, pl.DataFrame, pl.DataFrame]:
    """Parse a sheet's text: (parsed, staged rows, rejects). Raises SheetError for
    a text that is not a rap sheet (no CII number, no cycle).

    ``pages``: the text is several files' texts joined; each file's name and the
    number of lines before it, so that rows and rejects name the file and its line.
    """
    parsed = parse(text)
    if parsed.person.cii is not None and not parsed.cycles:
        # The identification section alone (the skywalker scan of ../shared/peers is
        # its first page, twice): a rap sheet, but not all of it.
        raise SheetError(
            f"{name} holds a rap sheet's identification section but no arrest or court "
            "entry: perhaps only its first page was scanned or saved; give the whole sheet"
        )
    if parsed.person.cii is None or not parsed.cycles:
        gone = [w for w, g in (("no CII number", parsed.person.cii is None),
                               ("no cycle", not parsed.cycles)) if g]  # fmt: skip
        raise SheetError(f"{name} is not a rap sheet: {' and '.join(gone)} was found")
    rows = pl.DataFrame(staged_rows(parsed, name), schema=staged_schema())
    rows = rows.sort("line", maintain_order=True)
    rejects = pl.DataFrame(
        [
            {"source_file": name, "line": n, "reason_code": c, "reason": r}
            for n, c, r in parsed.rejects
        ],
        schema=REJECTS_SCHEMA,
    )
    if pages and len(pages) > 1:
        rows, rejects = _per_file(rows, pages), _per_file(rejects, pages)
        rejects = rejects.with_columns(
            reason=pl.format("line {}: ", "line") + pl.col("reason").str.replace(r"^line \d+: ", "")
        )
    return parsed, rows, rejects


def _per_file(frame: pl.DataFrame, pages: Sequence[tuple[str, int]]) -> pl.DataFrame:
    """Lines of the joined text as each file's own name and line."""
    starts = pl.Series([s for _, s in pages], dtype=pl.UInt64)
    names = pl.Series([n for n, _ in pages])
    index = starts.search_sorted(frame["line"], side="left") - 1
    index = index.clip(0, len(pages) - 1)
    return frame.with_columns(
        source_file=names.gather(index),
        line=frame["line"] - starts.gather(index),
    )


def parse_sheet(paths: Path | str | Sequence[Path | str]) -> SheetRead:
    """Read a rap sheet: one file (text, PDF, scanned PDF), or the files of its pages
    in order. Raises SheetError."""
    paths = [Path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
    texts, hows, pages = [], [], []
    before = 0
    for path in paths:
        text, how = sheet_text(path)
        lines = text_lines(text)
        texts.append("".join(f"{line}\n" for line in lines))
        hows.append(how)
        pages.append((path.name, before))
        before += len(lines)
    parsed, rows, rejects = sheet_from_text("".join(texts), paths[0].name, pages)
    files = []
    for i, path in enumerate(paths):
        first, last = pages[i][1], pages[i + 1][1] if i + 1 < len(pages) else before
        fates = [parsed.fates.get(n, NOISE) for n in range(first + 1, last + 1)]
        stats = FileStats(path=str(path), name=path.name)
        stats.sha256 = file_sha256(path)
        stats.size_bytes = path.stat().st_size
        stats.rows_read = len(fates)
        stats.rows_rejected = fates.count(REJECTED)
        stats.rows_used = len(fates) - stats.rows_rejected  # used, or recognised as noise
        files.append(stats)
    how = hows[0] if len(set(hows)) == 1 else "+".join(hows)
    return SheetRead(paths, how, parsed, rows, rejects, files)


def read_sheet(path: Path | str) -> tuple[model_.Model, pl.DataFrame]:
    """(the model's tables for the sheet's person, the rejected lines). Raises SheetError."""
    sheet = parse_sheet(path)
    return sheet.model(), sheet.rejects
