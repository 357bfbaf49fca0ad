"""The custom-policy form: fields to a policy mapping, validated by the policy schema.

The form only gathers values; ``policy_from_mapping`` (the function the command line
uses for YAML files) validates them, so a custom policy from the browser is refused
with exactly the message ``clearance run --policy mine.yaml`` would give. A number
field that is not a number is passed on as text, for the schema to name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from clearance.law import Setting, load_rulepack
from clearance.policy import Policy, load_policy, policy_from_mapping, preset_names

SOURCE = "web form"
OUTCOMES = ("dismiss", "reduce", "none")
# What each group of the pack's policy settings does, as the form's legend.
LEGENDS = {
    "additional_relief": "Additional relief (dismiss when…)",
    "review": "Send to review when…",
}


def sections() -> tuple[str, ...]:
    return load_rulepack().cannabis_sections


def groups() -> list[tuple[str, str, list[tuple[str, Setting]]]]:
    """The pack's grouped settings (``additional_relief.under_21``...), as form fieldsets:
    (group, legend, [(field name, setting)]), in the pack's order."""
    found: dict[str, list[tuple[str, Setting]]] = {}
    for key, setting in load_rulepack().settings.items():
        group, dot, field = key.partition(".")
        if dot:
            found.setdefault(group, []).append((field, setting))
    return [(g, LEGENDS.get(g, g.replace("_", " ").capitalize()), f) for g, f in found.items()]


def misdemeanor_choices() -> tuple[str, ...]:
    return load_rulepack().settings["misdemeanors"].choices


def _value(setting: Setting, raw: str | None) -> Any:
    return raw == "on" if setting.kind == "flag" else _number(raw)


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
        **{
            group: {field: _value(setting, form.get(field)) for field, setting in fields}
            for group, _legend, fields in groups()
        },
    }


def policy_from_form(form: Mapping[str, str]) -> Policy:
    """The validated custom policy; raises PolicyError naming the field."""
    return policy_from_mapping(mapping_from_form(form), source=SOURCE)


def form_values(policy: Policy) -> dict[str, Any]:
    """A policy as form values, to fill the custom form (from a preset)."""
    values: dict[str, Any] = {
        "name": f"{policy.name} (edited)",
        "misdemeanors": policy.misdemeanors or "",
        **{f"outcome_{s}": policy.outcome_for(s) or "none" for s in sections()},
    }
    for group, _legend, fields in groups():
        for field, _setting in fields:
            value = getattr(getattr(policy, group), field)
            values[field] = "" if value is None else value
    return values


def preset_values(name: str) -> dict[str, Any]:
    return form_values(load_policy(name if name in preset_names() else "statute"))


def stored_mapping(policy: Policy) -> dict[str, Any]:
    """What a run keeps of its policy: the file mapping, rebuilt by the worker."""
    data = policy.to_dict()
    data.pop("source")
    return data
