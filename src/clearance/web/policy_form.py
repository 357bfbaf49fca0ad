"""The custom-policy form: fields to a policy mapping, validated by the policy schema.

The form only gathers values; ``policy_from_mapping`` (the function the command line
uses for YAML files) validates them, so a custom policy from the browser is refused
with exactly the message ``clearance run --policy mine.yaml`` would give. A number
field that is not a number is passed on as text, for the schema to name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from clearance.law import load_rulepack
from clearance.policy import Policy, load_policy, policy_from_mapping, preset_names

SOURCE = "web form"
FLAGS = ("under_21", "only_prop64", "deceased", "sentence_completed")
YEARS = ("age_threshold", "conviction_age", "crime_free")
TRIGGERS = ("comment_charge", "still_serving")
OUTCOMES = ("dismiss", "reduce", "none")


def sections() -> tuple[str, ...]:
    return load_rulepack().cannabis_sections


def _number(raw: str | None) -> Any:
    text = (raw or "").strip()
    if not text:
        return None
    return int(text) if text.isdigit() else text


def mapping_from_form(form: Mapping[str, str]) -> dict[str, Any]:
    """The policy file mapping the form describes (not yet validated)."""
    outcome = {s: form.get(f"outcome_{s}", "none") for s in sections()}
    return {
        "name": form.get("name", "").strip(),
        "dismiss": [int(s) for s, o in outcome.items() if o == "dismiss"],
        "reduce": [int(s) for s, o in outcome.items() if o == "reduce"],
        "misdemeanors": form.get("misdemeanors") or None,
        "additional_relief": {
            **{k: form.get(k) == "on" for k in FLAGS},
            **{k: _number(form.get(k)) for k in YEARS},
        },
        "review": {k: form.get(k) == "on" for k in TRIGGERS},
    }


def policy_from_form(form: Mapping[str, str]) -> Policy:
    """The validated custom policy; raises PolicyError naming the field."""
    return policy_from_mapping(mapping_from_form(form), source=SOURCE)


def form_values(policy: Policy) -> dict[str, Any]:
    """A policy as form values, to fill the custom form (from a preset)."""
    relief = policy.additional_relief
    values: dict[str, Any] = {
        "name": f"{policy.name} (edited)",
        "misdemeanors": policy.misdemeanors or "",
        **{f"outcome_{s}": policy.outcome_for(s) or "none" for s in sections()},
        **{k: getattr(relief, k) for k in FLAGS},
        **{k: "" if getattr(relief, k) is None else getattr(relief, k) for k in YEARS},
        **{k: getattr(policy.review, k) for k in TRIGGERS},
    }
    return values


def preset_values(name: str) -> dict[str, Any]:
    return form_values(load_policy(name if name in preset_names() else "statute"))


def stored_mapping(policy: Policy) -> dict[str, Any]:
    """What a run keeps of its policy: the file mapping, rebuilt by the worker."""
    data = policy.to_dict()
    data.pop("source")
    return data
