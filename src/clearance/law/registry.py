"""The functions a rule pack calls by name: scope, facts and tests over Polars expressions.

A law's functions live in one module of `clearance.rules` (`clearance.rules.prop64`)
and register themselves on a `Library`:

    law = Library("prop64")

    @law.test
    def invalid_date(ctx: Context) -> pl.Expr:
        return pl.col("event_date").is_null() | (pl.col("event_date") <= pl.col("dob"))

A pack names its library (`functions: prop64`) and each rule's test by name with
its arguments (`test: {function: prior_listed, list: pc290, min_priors: 1}`);
the pack is refused on load if a name is unknown or the arguments do not fit the
function.  A test returns a Boolean expression that is true, false or null
(unknown); the engine (`clearance.rules.engine`) does the rest.

Only the libraries named in `LIBRARIES` can be loaded: a pack folder is data, and
never makes clearance import code of its choosing.

The tests every law may use (`always`, `any_unknown`, `fact`, `convicted_after`,
`severity_in`) are defined here.
"""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import polars as pl

from clearance.law.validate import Reader

# The pack (clearance.law.rulepack.RulePack) and its rules (Step) are typed Any here:
# rulepack reads this module to check a pack's function names, not the other way round.
RulePack = Step = Any

__all__ = ["LIBRARIES", "Context", "Library", "library"]

# Library name -> the module that registers it.
LIBRARIES: Mapping[str, str] = MappingProxyType(
    {"prop64": "clearance.rules.prop64", "ca_auto_relief": "clearance.rules.ca_auto_relief"}
)


@dataclass
class Context:
    """What a law's functions read besides the rows: the pack, the policy, the as-of date."""

    law: RulePack
    policy: Any  # the pack's policy (clearance.policy.Policy for prop64)
    as_of: dt.date
    county: str
    tests: dict[str, pl.Expr] = field(default_factory=dict)  # the earlier rules' tests, by id
    # What a law's functions work out once per group and share (its tables).
    shared: dict[str, Any] = field(default_factory=dict)

    @property
    def as_of_lit(self) -> pl.Expr:
        return pl.lit(self.as_of, dtype=pl.Date)

    def data(self, name: str) -> Any:
        """The value of the pack's datum `name`."""
        return self.law.value(name)

    def setting(self, key: str) -> Any:
        """The policy's value for a dotted setting (`additional_relief.age_threshold`)."""
        value = self.policy
        for part in key.split("."):
            value = value[part] if isinstance(value, Mapping) else getattr(value, part)
        return value

    def date_setting(self, key: str) -> pl.Expr:
        """A date setting of the policy as a Polars literal."""
        return pl.lit(self.setting(key), dtype=pl.Date)


Function = Callable[..., Any]


class Library:
    """A law's named functions."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.scopes: dict[str, Function] = {}
        # Scopes that build the rows to decide themselves (ctx, model) -> LazyFrame:
        # for laws whose rows are not conviction counts (an arrest, say).
        self.row_scopes: dict[str, Function] = {}
        self.facts: dict[str, Function] = {}
        # Run on the decided rows, in the pack's order (ctx, rows) -> LazyFrame.
        self.finishers: dict[str, Function] = {}
        # What the law reads of every line of a count, as columns of the model's counts:
        # (pack) -> extract.model.CountLines, given to model.build (None: first lines do).
        self.count_lines: Function | None = None
        self.tests: dict[str, Function] = dict(_COMMON_TESTS)
        self.checks: list[Function] = []  # (pack, reader) -> None: what the functions assume

    # Decorators: register a function under its own name.
    def scope(self, fn: Function) -> Function:
        self.scopes[fn.__name__] = fn
        return fn

    def rows(self, fn: Function) -> Function:
        """A scope that builds the rows to decide from the model (``(ctx, model)``)."""
        self.row_scopes[fn.__name__] = fn
        return fn

    def fact(self, fn: Function) -> Function:
        self.facts[fn.__name__] = fn
        return fn

    def finish(self, fn: Function) -> Function:
        """A function of the decided rows (``(ctx, rows)``): what follows a determination."""
        self.finishers[fn.__name__] = fn
        return fn

    def test(self, fn: Function) -> Function:
        self.tests[fn.__name__] = fn
        return fn

    def check(self, fn: Function) -> Function:
        """Register a check of a pack read with this library (raise ``r.fail(...)``)."""
        self.checks.append(fn)
        return fn

    def check_pack(self, pack: RulePack, r: Reader) -> None:
        for check in self.checks:
            check(pack, r)

    # Checks made when a pack is read.
    def check_scope(self, name: str, r: Reader) -> None:
        if name not in self.scopes and name not in self.row_scopes:
            known = ", ".join([*self.scopes, *self.row_scopes])
            raise r.fail("scope", f"no scope function {name!r} in library {self.name} "
                         f"(it has: {known})")  # fmt: skip

    def check_finish(self, name: str, arguments: Mapping[str, Any], where: str, r: Reader) -> None:
        if name not in self.finishers:
            raise r.fail(where, f"no finishing function {name!r} in library {self.name} "
                         f"(it has: {', '.join(self.finishers)})")  # fmt: skip
        _check_call(self.finishers[name], (None, None), arguments, where, r)

    def check_fact(self, name: str, arguments: Mapping[str, Any], where: str, r: Reader) -> None:
        if name not in self.facts:
            raise r.fail(where, f"no fact function {name!r} in library {self.name} "
                         f"(it has: {', '.join(self.facts)})")  # fmt: skip
        _check_call(self.facts[name], (None, None, None), arguments, where, r)

    def check_test(self, step: Step, steps: tuple[Step, ...] | list[Step], r: Reader) -> None:
        where = f"rules ({step.id})"
        if step.function not in self.tests:
            raise r.fail(where, f"no test function {step.function!r} in library {self.name} "
                         f"(it has: {', '.join(sorted(self.tests))})")  # fmt: skip
        _check_call(self.tests[step.function], (None,), step.arguments, where, r)
        if step.function == "any_unknown":
            earlier = [s.id for s in steps[: list(steps).index(step)]]
            for name in step.arguments.get("of") or []:
                if name not in earlier:
                    raise r.fail(where, f"any_unknown: {name!r} is not an earlier rule")

    def scope_expr(self, ctx: Context) -> pl.Expr:
        return self.scopes[ctx.law.scope_function](ctx)

    def test_expr(self, step: Step, ctx: Context) -> pl.Expr:
        arguments = {
            key: ctx.setting(value["setting"]) if isinstance(value, Mapping) else value
            for key, value in step.arguments.items()
        }
        return self.tests[step.function](ctx, **arguments)


def _check_call(fn: Function, leading: tuple, arguments: Mapping[str, Any], where: str, r: Reader):
    try:
        inspect.signature(fn).bind(*leading, **arguments)
    except TypeError as exc:
        raise r.fail(where, f"{fn.__name__}: {exc}") from None


def library(name: str, r: Reader) -> Library:
    """The registered library `name` (imported on first use)."""
    if name not in LIBRARIES:
        raise r.fail("functions", f"no function library {name!r} (known: {', '.join(LIBRARIES)})")
    module = importlib.import_module(LIBRARIES[name])
    found = getattr(module, "law", None)
    if not isinstance(found, Library) or found.name != name:
        raise r.fail("functions", f"{LIBRARIES[name]} does not register library {name!r}")
    return found


# --------------------------------------------------------------- tests for any law


def always(ctx: Context) -> pl.Expr:
    """True: the last rule, which decides what no earlier rule did."""
    return pl.lit(True)


def any_unknown(ctx: Context, *, of: list[str]) -> pl.Expr:
    """True when any of the named earlier rules' tests is unknown (null)."""
    return pl.any_horizontal(*(ctx.tests[name].is_null() for name in of))


def fact(ctx: Context, *, column: str) -> pl.Expr:
    """A Boolean fact column as it stands (null when unknown)."""
    return pl.col(column)


def convicted_after(ctx: Context, *, date: str) -> pl.Expr:
    """The conviction is dated after the pack's date `date` (a datum of kind date)."""
    return pl.col("event_date") > pl.lit(ctx.data(date), dtype=pl.Date)


def severity_in(ctx: Context, *, severities: list[str]) -> pl.Expr:
    """The conviction's severity (F, M, I) is one of `severities`."""
    return pl.col("severity").is_in(list(severities))


_COMMON_TESTS: Mapping[str, Function] = MappingProxyType(
    {fn.__name__: fn for fn in (always, any_unknown, fact, convicted_after, severity_in)}
)
