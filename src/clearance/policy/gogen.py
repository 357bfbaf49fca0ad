"""Importing a gogen/BEAR eligibility options file (JSON) as a policy.

The format (gogen 0.2.x `EligibilityOptions`; BEAR writes it for each run),
shown by shared/peers/gogen/eligibility_options.json:

    {"baselineEligibility": {"dismiss": ["11357", "11358"], "reduce": ["11359", "11360"]},
     "additionalRelief": {"subjectUnder21AtConviction": true, "subjectAgeThreshold": 57,
                          "yearsSinceConvictionThreshold": 10, "yearsCrimeFreeThreshold": 0,
                          "subjectIsDeceased": true, "subjectHasOnlyProp64Charges": true}}

Mapping (every key gogen or BEAR writes; any other key is refused):

| gogen / BEAR key                          | policy key                        |
|-------------------------------------------|-----------------------------------|
| baselineEligibility.dismiss / .reduce     | dismiss / reduce                  |
| subjectUnder21AtConviction                | additional_relief.under_21        |
| subjectAgeThreshold (0 = off)             | additional_relief.age_threshold   |
| yearsSinceConvictionThreshold (0 = off)   | additional_relief.conviction_age  |
| yearsCrimeFreeThreshold (0 = off)         | additional_relief.crime_free      |
| subjectIsDeceased                         | additional_relief.deceased        |
| subjectHasOnlyProp64Charges               | additional_relief.only_prop64     |
| dismissOlderThanAgeThreshold,             | BEAR's on/off switches for the    |
| dismissYearsSinceConvictionThreshold,     | three thresholds: false turns the |
| dismissYearsCrimeFreeThreshold            | threshold off whatever its value  |

What gogen does without an option, the import states explicitly: gogen
dismisses every misdemeanor and infraction first (`misdemeanors: dismiss`),
has no sentence-completed test (`sentence_completed: false`) and no review
triggers (`review` all false).  A missing key is gogen's zero value (false,
0).  BEAR can split HS 11357 by subsection (`11357(a)` ... `11357(no-sub-
section)`); the import accepts that only when all five go the same way, since
a clearance policy chooses per section.
"""

from __future__ import annotations

import re
from typing import Any

from clearance.policy.schema import (
    AGE_RANGE,
    YEARS_RANGE,
    Policy,
    check_bool,
    check_mapping,
    check_years,
    fail,
    policy_from_mapping,
)

__all__ = ["policy_from_gogen"]

_TOP = ("baselineEligibility", "additionalRelief")
_BASELINE = ("dismiss", "reduce")
_FLAGS = {
    "subjectUnder21AtConviction": "under_21",
    "subjectIsDeceased": "deceased",
    "subjectHasOnlyProp64Charges": "only_prop64",
}
# gogen key -> (policy key, BEAR's on/off switch, range)
_THRESHOLDS = {
    "subjectAgeThreshold": ("age_threshold", "dismissOlderThanAgeThreshold", AGE_RANGE),
    "yearsSinceConvictionThreshold": (
        "conviction_age",
        "dismissYearsSinceConvictionThreshold",
        YEARS_RANGE,
    ),
    "yearsCrimeFreeThreshold": ("crime_free", "dismissYearsCrimeFreeThreshold", YEARS_RANGE),
}
_SWITCHES = tuple(switch for _, switch, _ in _THRESHOLDS.values())
_RELIEF_KEYS = (*_FLAGS, *_THRESHOLDS, *_SWITCHES)

# BEAR's subsection choices for HS 11357.
_BEAR_SUBSECTIONS = {"11357": frozenset({"a", "b", "c", "d", "no-sub-section"})}
_ENTRY_RE = re.compile(r"^(\d{5})(?:\(([a-z-]+)\))?$", re.IGNORECASE)


def policy_from_gogen(data: Any, *, source: str, name: str) -> Policy:
    """Translate parsed gogen options JSON into a validated `Policy` (county left empty)."""
    data = check_mapping(source, data, "", _TOP)
    if "baselineEligibility" not in data:
        raise fail(source, "baselineEligibility", "missing; it holds the dismiss and reduce lists")
    baseline = check_mapping(source, data["baselineEligibility"], "baselineEligibility", _BASELINE)
    lists = {
        outcome: _entries(source, baseline.get(outcome), f"baselineEligibility.{outcome}")
        for outcome in _BASELINE
    }
    sections = _collapse_subsections(source, lists)

    relief_raw = data.get("additionalRelief")
    relief_raw = {} if relief_raw is None else relief_raw
    relief_raw = check_mapping(source, relief_raw, "additionalRelief", _RELIEF_KEYS)
    relief: dict[str, Any] = {"sentence_completed": False}
    for key, ours in _FLAGS.items():
        relief[ours] = check_bool(source, relief_raw.get(key, False), f"additionalRelief.{key}")
    for key, (ours, switch, bounds) in _THRESHOLDS.items():
        on = check_bool(source, relief_raw.get(switch, True), f"additionalRelief.{switch}")
        value = relief_raw.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise fail(
                source,
                f"additionalRelief.{key}",
                f"expected a whole number (0 = off), found {value!r}",
            )
        relief[ours] = (
            check_years(source, value or None, f"additionalRelief.{key}", bounds) if on else None
        )

    return policy_from_mapping(
        {
            "name": name,
            "dismiss": sections["dismiss"],
            "reduce": sections["reduce"],
            "misdemeanors": "dismiss",
            "additional_relief": relief,
            "review": {"comment_charge": False, "still_serving": False},
        },
        source=source,
    )


def _entries(source: str, value: Any, key: str) -> list[tuple[str, str | None]]:
    """`["11357(a)", "11358"]` -> `[("11357", "a"), ("11358", None)]`."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise fail(source, key, 'expected a list of sections like ["11357", "11358"]')
    entries = []
    for item in value:
        match = _ENTRY_RE.match(str(item).strip()) if isinstance(item, str | int) else None
        section, sub = (match.group(1), match.group(2)) if match else (None, None)
        if section is None or section not in {"11357", "11358", "11359", "11360"}:
            raise fail(source, key, f"unknown section {item!r}; only 11357, 11358, 11359, 11360")
        if sub is not None and sub.lower() not in _BEAR_SUBSECTIONS.get(section, ()):
            raise fail(source, key, f"unknown subsection choice {item!r}")
        entries.append((section, None if sub is None else sub.lower()))
    return entries


def _collapse_subsections(
    source: str, lists: dict[str, list[tuple[str, str | None]]]
) -> dict[str, list[str]]:
    """Whole sections per outcome; a section split across outcomes is an error."""
    outcomes: dict[str, dict[str, set[str | None]]] = {}
    for outcome, entries in lists.items():
        for section, sub in entries:
            outcomes.setdefault(section, {}).setdefault(outcome, set()).add(sub)
    result: dict[str, list[str]] = {outcome: [] for outcome in lists}
    for section, by_outcome in sorted(outcomes.items()):
        if len(by_outcome) > 1:
            raise fail(
                source,
                "baselineEligibility",
                f"{section} is in both dismiss and reduce; a clearance policy gives each "
                "section one outcome",
            )
        ((outcome, subs),) = by_outcome.items()
        if None not in subs and subs != _BEAR_SUBSECTIONS.get(section):
            listed = ", ".join(f"{section}({s})" for s in sorted(s for s in subs if s))
            raise fail(
                source,
                f"baselineEligibility.{outcome}",
                f"only some subsections of {section} are listed ({listed}); a clearance "
                f"policy chooses for the whole section: list {section} or all its subsections",
            )
        result[outcome].append(section)
    return result
