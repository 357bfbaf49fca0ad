"""The bundled synthetic extract used by `clearance demo` (never real people's data)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

SAMPLE_COUNTY = "SACRAMENTO"
SAMPLE_FILE = "sample.dat"


def sample_path() -> Path:
    path = Path(str(resources.files("clearance") / "data" / SAMPLE_FILE))
    if not path.is_file():
        raise FileNotFoundError(f"the bundled sample extract is missing: {path}")
    return path
