"""Publishing an output folder whole: written aside, then moved into place.

A run, a set of filings or a reviewed run is written into a temporary folder next
to its destination and renamed into place only once complete, so a failure never
leaves a folder that looks finished (product.md). An earlier folder at the
destination is moved aside first and removed last.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def move_into_place(tmp: Path, out: Path) -> None:
    """Replace ``out`` (if it exists) with the complete folder ``tmp``."""
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        out.rename(old)
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)
