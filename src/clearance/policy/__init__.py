"""Policies: a county's choice of Prop 64 relief (shared/spec/prop64.md, "Policies").

    >>> from clearance.policy import load_policy, describe
    >>> policy = load_policy("statute")
    >>> policy.dismiss, policy.reduce
    (('11357', '11358'), ('11359', '11360'))

`load_policy` takes a preset name (`list_presets()`), a YAML policy file, or
a gogen/BEAR eligibility options JSON file; every path validates and raises
`PolicyError` naming the file and the key.
"""

from __future__ import annotations

from clearance.policy.describe import describe, summarize
from clearance.policy.loader import list_presets, load_policy
from clearance.policy.presets import preset_names
from clearance.policy.schema import (
    AGE_RANGE,
    MISDEMEANOR_OUTCOMES,
    YEARS_RANGE,
    AdditionalRelief,
    Policy,
    PolicyError,
    ReviewTriggers,
    policy_from_mapping,
)

__all__ = [
    "AGE_RANGE",
    "MISDEMEANOR_OUTCOMES",
    "YEARS_RANGE",
    "AdditionalRelief",
    "Policy",
    "PolicyError",
    "ReviewTriggers",
    "describe",
    "list_presets",
    "load_policy",
    "policy_from_mapping",
    "preset_names",
    "summarize",
]
