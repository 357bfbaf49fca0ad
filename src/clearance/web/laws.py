"""The rule pack of a web run: a run records it in its policy (``law``; Prop 64's
policies, made before there were several packs, name none)."""

from __future__ import annotations

from clearance.law import RulePack, load_pack, load_rulepack
from clearance.web.db import Run

__all__ = ["is_auto_relief", "review_decisions", "run_law"]


def run_law(run: Run) -> RulePack:
    """The rule pack the run was decided under (Prop 64 when its policy names none)."""
    name = run.policy.get("law")
    return load_pack(name) if name else load_rulepack()


def is_auto_relief(run: Run) -> bool:
    """A run of a pack whose filings are objections to automatic relief."""
    return run_law(run).functions == "ca_auto_relief"


def review_decisions(run: Run) -> tuple[str, ...]:
    """What an attorney may decide on a row of the run: the pack's determinations but
    ``review``."""
    return tuple(d for d in run_law(run).determinations if d != "review")
