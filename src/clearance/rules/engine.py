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

from clearance.extract.model import CountLines, Model
from clearance.law import RulePack, load_rulepack
from clearance.law.registry import Context, library
from clearance.law.validate import Reader
from clearance.policy import Policy

__all__ = ["count_lines", "determine", "enabled", "scope"]


def _library(law: RulePack):
    return library(law.functions, Reader("pack.yaml"))


def count_lines(law: RulePack) -> CountLines | None:
    """What the pack's law reads of every line of a count (``Library.count_lines``), for
    ``model.build`` to work out with the counts; None for a law that reads a count's
    first line only (Prop 64)."""
    made = _library(law).count_lines
    return None if made is None else made(law)


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
    return pl.col("convicted") & _library(law).scope_expr(ctx) & in_county(county)


def in_county(county: str, column: str = "county") -> pl.Expr:
    """The row's county is the run's (``--county ALL``: every county, a statewide run)."""
    if county.strip().upper() == "ALL":
        return pl.col(column).is_not_null() | pl.col(column).is_null()
    return (pl.col(column).str.to_uppercase() == county.strip().upper()).fill_null(False)


def determine(
    model: Model,
    policy: Policy,
    county: str,
    as_of: dt.date,
    law: RulePack | None = None,
    *,
    ordered: bool = True,
) -> pl.LazyFrame:
    """One row per in-scope conviction: the determination, reason, rule, citation, facts.

    Sorted by subject id and count order, unless ``ordered`` is false (for a caller
    that sorts the rows of many groups together: sorting a hundred columns twice
    costs a tenth of the rules).
    """
    law = law or load_rulepack()
    functions = _library(law)
    ctx = Context(law, policy, as_of, county)
    if law.scope_function in functions.row_scopes:  # the law builds its own rows
        rows = functions.row_scopes[law.scope_function](ctx, model)
    else:
        rows = model.counts.filter(scope(law, policy, county, as_of))
    for name, arguments in law.facts:
        rows = functions.facts[name](ctx, model, rows, **arguments)
    decided = _decide(rows, ctx, functions)
    for name, arguments in law.finish:
        decided = functions.finishers[name](ctx, decided, **arguments)
    # Columns a fact function keeps for its tests only are named with a leading "_".
    decided = decided.select(pl.exclude("^_.*$"))
    return decided.sort("subject_id", "cnt_order") if ordered else decided


def _decide(rows: pl.LazyFrame, ctx: Context, functions) -> pl.LazyFrame:
    law, policy = ctx.law, ctx.policy
    for step in law.steps:
        used = enabled(law, policy, step.id)
        test = functions.test_expr(step, ctx) if used else pl.lit(False)
        if step.kind is not None:  # a rule for another kind of row does not apply
            test = pl.when(pl.col("kind") == step.kind).then(test).otherwise(False)
        ctx.tests[step.id] = test
    rows = rows.with_columns(**{f"t_{name}": expr for name, expr in ctx.tests.items()})

    # The first rule whose test is true decides; when none is, the last rule (the
    # pack's catch-all). One index a row, then each output read from it by rule.
    steps = law.steps
    last = len(steps) - 1
    first = pl.coalesce(
        [
            pl.when(pl.col(f"t_{step.id}").fill_null(False)).then(pl.lit(i, pl.UInt16))
            for i, step in enumerate(steps[:last])
        ]
        + [pl.lit(last, pl.UInt16)]
    )
    rows = rows.with_columns(_first=first)
    chosen = pl.col("_first")

    def by_rule(values: dict[int, object], dtype: pl.DataType = pl.String) -> pl.Expr:
        return chosen.replace_strict(values, default=None, return_dtype=dtype)

    determination = by_rule({i: _outcome(s, ctx) for i, s in enumerate(steps) if not s.by_date})
    for i, step in enumerate(steps):
        if step.by_date:
            determination = pl.when(chosen == i).then(_by_date(step, ctx)).otherwise(determination)

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
    decided = rows.with_columns(
        determination=determination,
        reason=by_rule({i: s.reason for i, s in enumerate(steps)}),
        not_tested=pl.when(not_tested == "").then(None).otherwise(not_tested),
    )
    if not law.kinds:
        return decided.with_columns(
            rule=pl.col("reason").replace_strict({k: v.rule_id for k, v in rules.items()}),
            citation=pl.col("reason").replace_strict({k: v.citation for k, v in rules.items()}),
        )
    # Rows of several kinds: a reason two kinds share may rest on each kind's own
    # provision, and a rule may grant relief by a path from a day (``eligible_on``).
    own = {i: step.rule or rules[step.reason] for i, step in enumerate(steps)}
    eligible_on = pl.lit(None, pl.Date)
    for i, step in enumerate(steps):
        if step.eligible_on:
            eligible_on = pl.when(chosen == i).then(pl.col(step.eligible_on)).otherwise(eligible_on)
    return decided.with_columns(
        rule=by_rule({i: r.rule_id for i, r in own.items()}),
        citation=by_rule({i: r.citation for i, r in own.items()}),
        path=by_rule({i: s.path for i, s in enumerate(steps)}),
        eligible_on=eligible_on,
    )


def _by_date(step, ctx: Context) -> pl.Expr:
    """Relief on or before the as-of date, or the day it is due after it."""
    on_or_before, after = step.by_date
    return (
        pl.when(pl.col(step.eligible_on) <= ctx.as_of_lit)
        .then(pl.lit(on_or_before))
        .otherwise(pl.lit(after))
    )


def _outcome(step, ctx: Context) -> str:
    """What a rule determines when it decides: fixed, or the policy's choice."""
    return step.determination or ctx.setting(step.policy_determination) or "review"
