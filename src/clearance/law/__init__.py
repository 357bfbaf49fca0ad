"""The law as data: Prop 64's dates, sections, disqualifier lists and rules, with citations.

The facts live in the YAML files of this folder, each value with the statute
it comes from; `load_rulepack()` reads and validates them once.  See
`clearance.law.rulepack` for the matching rules and their limits.

    >>> from clearance.law import load_rulepack, offense_in
    >>> load_rulepack().rule("after_prop64").citation
    'HS 11361.8(a), (e)'
    >>> counts.with_columns(offense_in("superstrikes"))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from clearance.law.rulepack import (
    DEFAULT_ENHANCEMENT_COLUMNS,
    DETERMINATIONS,
    Attempt,
    CannabisSection,
    Disqualifier,
    ExcludedSubsection,
    OffenseEntry,
    OffenseList,
    Rule,
    RulePack,
    RulePackError,
    load_rulepack,
    read_rulepack,
)

__all__ = [
    "DETERMINATIONS",
    "Attempt",
    "CannabisSection",
    "Disqualifier",
    "ExcludedSubsection",
    "OffenseEntry",
    "OffenseList",
    "Rule",
    "RulePack",
    "RulePackError",
    "excluded_subsection",
    "load_rulepack",
    "offense_in",
    "read_rulepack",
]


def offense_in(
    list_name: str, *, enhancement_columns: Sequence[str] = DEFAULT_ENHANCEMENT_COLUMNS
) -> pl.Expr:
    """`load_rulepack().offense_in(...)`: the row's offense is on the named list."""
    return load_rulepack().offense_in(list_name, enhancement_columns=enhancement_columns)


def excluded_subsection() -> pl.Expr:
    """`load_rulepack().excluded_subsection()`: HS 11359(c)(3), (d), 11360(a)(3)(C), (D)."""
    return load_rulepack().excluded_subsection()
