"""The sheet layout's data (layout.yaml), loaded once."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import yaml


@dataclass(frozen=True)
class Layout:
    step_types: dict[str, str]
    agency_types: dict[str, str]
    county_prefixes: frozenset[str]
    time_units: dict[str, str]
    annotations: tuple[str, ...]

    @property
    def headers(self) -> dict[str, str]:
        """Extract step type -> the header a sheet prints for it."""
        return {v: k for k, v in self.step_types.items()}

    @property
    def unit_words(self) -> dict[str, str]:
        """SENT_TIME_CODE -> the unit a sheet prints (the first listed)."""
        words: dict[str, str] = {}
        for word, code in self.time_units.items():
            words.setdefault(code, word)
        return words


def _load() -> Layout:
    text = resources.files("clearance.sheet").joinpath("layout.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    return Layout(
        step_types={str(k): str(v) for k, v in data["step_types"].items()},
        agency_types={str(k): str(v) for k, v in data["agency_types"].items()},
        county_prefixes=frozenset(str(p) for p in data["county_prefixes"]),
        time_units={str(k): str(v) for k, v in data["time_units"].items()},
        annotations=tuple(str(a) for a in data["annotations"]),
    )


LAYOUT = _load()
