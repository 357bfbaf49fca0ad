"""Court filings, the DOJ update file and notice letters, from a run folder.

`write_filings(run_dir, out_dir, office)` is what `clearance filings` runs; see
build.py for the output folder and docs/filings.md for the documents.

The writers (ReportLab, python-docx) load on first use, so importing the error
types for the command line costs nothing.
"""

from __future__ import annotations

from typing import Any

from clearance.filings.errors import FilingsError
from clearance.filings.office import Office, OfficeError, blank_office, load_office

__all__ = [
    "DEFAULT_PART_SIZE",
    "MANIFEST",
    "FilingsError",
    "FilingsResult",
    "Office",
    "OfficeError",
    "blank_office",
    "load_office",
    "write_filings",
]

_LAZY = ("DEFAULT_PART_SIZE", "MANIFEST", "FilingsResult", "write_filings")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from clearance.filings import build

        return getattr(build, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
