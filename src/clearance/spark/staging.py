"""``clearance stage``: extract files to staged Parquet that a cluster can read.

The reader (``clearance.extract.reader.read_extracts``) runs unchanged, so the
staged rows keep its promise: every data line of every file is used (one staged
row with its file and line number) or rejected (``rejects.csv`` with the reason),
and ``manifest.json`` records, per file, rows read = rows used + rows rejected.

A stage folder::

    manifest.json       tool version, input order, per-file statistics, row totals
    rejects.csv         file, line, reason_code, reason (as in a run's folder)
    staged/bucket-*/part-*.parquet   the staged rows (docs/model.md, "Staged rows")

Copy the folder to shared storage (HDFS, S3, a network file system) and point
``clearance.spark.submit`` at it. The input order (``file_order``) matters: a count
takes its attributes from the first line it appears on, files in input order.
Staging needs no Spark.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from clearance import __version__
from clearance._folders import (
    OutputKind,
    disk_error_line,
    move_into_place,
    start,
)
from clearance.extract.reader import read_extracts, staged_schema
from clearance.run_common import RunError
from clearance.run_common import json_text as _json
from clearance.textsafe import write_csv

MANIFEST = "manifest.json"
REJECTS = "rejects.csv"
STAGED = "staged"
# What a stage folder holds: `--out` replaces only such a folder (_folders.py).
STAGE_FOLDER = OutputKind(
    what="an earlier stage folder",
    marker=MANIFEST,
    file_ok=lambda path: (
        path in (MANIFEST, REJECTS)
        or re.fullmatch(rf"{STAGED}/bucket-\d+/part-\d+\.parquet", path) is not None
    ),
    dir_ok=lambda path: path == STAGED or re.fullmatch(rf"{STAGED}/bucket-\d+", path) is not None,
    command="clearance stage",
)
FORMAT = "clearance-stage/1"


@dataclass(frozen=True)
class Manifest:
    """What a cluster run needs from a stage folder's manifest."""

    file_order: tuple[str, ...]
    rows_used: int
    data: dict

    @classmethod
    def parse(cls, text: str, source: str = MANIFEST) -> Manifest:
        try:
            data = json.loads(text)
        except ValueError:
            raise RunError(f"{source}: not a clearance stage manifest (not JSON)") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise RunError(f"{source}: not a clearance stage manifest (format {FORMAT} expected)")
        return cls(
            file_order=tuple(data["file_order"]),
            rows_used=int(data["rows"]["used"]),
            data=data,
        )


def stage(
    inputs: Sequence[Path], out: Path, *, progress: Callable[[int], None] | None = None
) -> dict:
    """Write a stage folder for ``inputs``; returns the manifest."""
    out = Path(out)
    tmp = start(out, STAGE_FOLDER, inputs, RunError)
    try:
        read = read_extracts(inputs, tmp, progress=progress)  # writes tmp/staged
        write_csv(read.rejects.rename({"source_file": "file"}), tmp / REJECTS)
        manifest = {
            "format": FORMAT,
            "tool": {"name": "clearance", "version": __version__},
            "file_order": [f.name for f in read.files],
            "inputs": [f.to_dict() for f in read.files],
            "rows": {
                "read": read.rows_read,
                "used": read.rows_used,
                "rejected": read.rows_rejected,
                "reconciled": read.rows_read == read.rows_used + read.rows_rejected,
            },
            "staged_columns": {name: str(dtype) for name, dtype in staged_schema().items()},
            "staged_parts": len(list((tmp / STAGED).rglob("*.parquet"))),
            "warnings": read.warnings,
        }
        (tmp / MANIFEST).write_text(_json(manifest))
        move_into_place(tmp, out)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        line = disk_error_line(exc, out) if isinstance(exc, OSError) else None
        if line is not None:  # a full disk, a folder not writable: one line, exit 2
            raise RunError(line) from None
        raise
    return manifest
