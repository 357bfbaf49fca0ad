"""The law as data: rule packs (dates, lists, rules in order, the statute's words).

A pack is a folder (`src/clearance/packs/<name>/`, or any folder given with
`--law DIR`); `load_pack()` reads and checks one.  See `clearance.law.rulepack`
for the format, `clearance.law.offenses` for offense-list matching and
`clearance.law.registry` for the named functions a pack's rules call.

    >>> from clearance.law import load_rulepack
    >>> load_rulepack().rule("after_prop64").citation
    'HS 11361.8(a), (e)'
"""

from __future__ import annotations

from clearance.law.offenses import DEFAULT_ENHANCEMENT_COLUMNS, OffenseEntry, OffenseList
from clearance.law.rulepack import (
    DETERMINATIONS,
    Datum,
    Rule,
    RulePack,
    Setting,
    Step,
    installed_packs,
    load_pack,
    load_rulepack,
    read_rulepack,
)
from clearance.law.validate import RulePackError

__all__ = [
    "DEFAULT_ENHANCEMENT_COLUMNS",
    "DETERMINATIONS",
    "Datum",
    "OffenseEntry",
    "OffenseList",
    "Rule",
    "RulePack",
    "RulePackError",
    "Setting",
    "Step",
    "installed_packs",
    "load_pack",
    "load_rulepack",
    "read_rulepack",
]
