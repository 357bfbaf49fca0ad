"""The engine every rule pack is decided by: facts, three-valued tests, the first rule that applies.

For a pack (clearance.law.RulePack), a policy, a county and an as-of date, all
lazy Polars queries:

1. **Scope**: the conviction counts of the county that the pack's scope function
   selects get a determination; everything else is context.
2. **Facts**: the pack's fact functions, in order, add to each in-scope row what
   the rules read about the person's whole history and the conviction's earlier
   ones.
3. **Tests**: one Boolean column per rule (``t_<id>``), from the function the
   rule names.  A test is true, false or null (unknown: its input is missing);
   an unknown test does not apply.  A rule the policy turns off (``enabled_by``)
   is false.
4. **Determination**: the first rule, in the pack's order, whose test is true
   decides: its determination (or the policy's choice), its reason, and the
   rule id and citation of that reason.  Enabled rules whose test was unknown
   and that say ``unknown: recorded`` are listed in ``not_tested``.

The tests are kept in the output so ``clearance explain`` walks every rule for a
conviction from the very values that decided it.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from clearance.extract.model import Model
from clearance.law import RulePack, load_rulepack
from clearance.law.registry import Context, library
from clearance.law.validate import Reader
from clearance.policy import Policy

__all__ = ["determine", "enabled", "scope"]


def _library(law: RulePack):
    return library(law.functions, Reader("pack.yaml"))


def enabled(law: RulePack, policy: Policy | dict, step_id: str) -> bool:
    """Whether the policy uses the rule (a rule without `enabled_by` is always used)."""
    step = law.step(step_id)
    if step.enabled_by is None:
        return True
    value = policy
    for part in step.enabled_by.split("."):
        value = value.get(part) if isinstance(value, dict) else getattr(value, part)
    return bool(value)


def scope(law: RulePack, policy: Policy, county: str, as_of: dt.date) -> pl.Expr:
    """The in-scope conviction counts of the county, as a filter over ``model.counts``."""
    ctx = Context(law, policy, as_of, county)
    return (
        pl.col("convicted")
        & _library(law).scope_expr(ctx)
        & (pl.col("county").str.to_uppercase() == county.strip().upper())
    )


def determine(
    model: Model, policy: Policy, county: str, as_of: dt.date, law: RulePack | None = None
) -> pl.LazyFrame:
    """One row per in-scope conviction: the determination, reason, rule, citation, facts."""
    law = law or load_rulepack()
    functions = _library(law)
    ctx = Context(law, policy, as_of, county)
    rows = model.counts.filter(scope(law, policy, county, as_of))
    for name, arguments in law.facts:
        rows = functions.facts[name](ctx, model, rows, **arguments)
    # Columns a fact function keeps for its tests only are named with a leading "_".
    decided = _decide(rows, ctx, functions).select(pl.exclude("^_.*$"))
    return decided.sort("subject_id", "cnt_order")


def _decide(rows: pl.LazyFrame, ctx: Context, functions) -> pl.LazyFrame:
    law, policy = ctx.law, ctx.policy
    for step in law.steps:
        used = enabled(law, policy, step.id)
        ctx.tests[step.id] = functions.test_expr(step, ctx) if used else pl.lit(False)
    rows = rows.with_columns(**{f"t_{name}": expr for name, expr in ctx.tests.items()})

    determination = reason = None
    for step in reversed(law.steps):
        fires = pl.col(f"t_{step.id}").fill_null(False)
        chosen = step.determination or ctx.setting(step.policy_determination) or "review"
        if determination is None:
            determination, reason = pl.lit(chosen), pl.lit(step.reason)
        else:
            determination = pl.when(fires).then(pl.lit(chosen)).otherwise(determination)
            reason = pl.when(fires).then(pl.lit(step.reason)).otherwise(reason)

    recorded = [s.id for s in law.steps if s.unknown_recorded and enabled(law, policy, s.id)]
    not_tested = (
        pl.concat_list(
            [
                pl.when(pl.col(f"t_{r}").is_null())
                .then(pl.lit(r))
                .otherwise(pl.lit(None, pl.String))
                for r in recorded
            ]
            or [pl.lit(None, pl.String)]
        )
        .list.drop_nulls()
        .list.join(", ")
    )
    rules = law.rules_by_reason()
    return rows.with_columns(
        determination=determination,
        reason=reason,
        not_tested=pl.when(not_tested == "").then(None).otherwise(not_tested),
    ).with_columns(
        rule=pl.col("reason").replace_strict({k: v.rule_id for k, v in rules.items()}),
        citation=pl.col("reason").replace_strict({k: v.citation for k, v in rules.items()}),
    )
