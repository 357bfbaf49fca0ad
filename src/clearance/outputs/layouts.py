"""The layout of each rule pack's outputs, by its function library."""

from __future__ import annotations

from clearance.outputs.auto_relief import LAYOUT as AUTO_RELIEF
from clearance.outputs.determinations import PROP64, Layout

__all__ = ["layout_for"]

LAYOUTS: dict[str, Layout] = {"prop64": PROP64, "ca_auto_relief": AUTO_RELIEF}


def layout_for(law) -> Layout:
    """The layout of a rule pack's outputs (Prop 64's when no pack is given)."""
    if law is None:
        return PROP64
    return LAYOUTS[law.functions]
