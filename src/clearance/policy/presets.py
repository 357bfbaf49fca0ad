"""The presets of the default rule pack (`packs/prop64/presets/`): one YAML file each,
its sources in comments."""

from __future__ import annotations

from functools import cache

from clearance.law import load_rulepack

__all__ = ["PRESET_ORDER", "preset_names", "preset_text"]

# Listing order: the statute first, then the desktop tool's defaults, then the
# pilot counties.  A preset file not named here is listed after them.
PRESET_ORDER: tuple[str, ...] = (
    "statute",
    "bear-default",
    "los-angeles-2020",
    "sacramento-2019",
    "san-joaquin-2019",
    "contra-costa-2019",
)


def _folder():
    return load_rulepack().presets_folder


@cache
def preset_names() -> tuple[str, ...]:
    found = {p.name[: -len(".yaml")] for p in _folder().iterdir() if p.name.endswith(".yaml")}
    ordered = [name for name in PRESET_ORDER if name in found]
    return (*ordered, *sorted(found - set(ordered)))


def preset_text(name: str) -> str:
    return (_folder() / f"{name}.yaml").read_text("utf-8")
