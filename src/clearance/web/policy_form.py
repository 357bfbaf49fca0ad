"""The custom-policy form: fields to a policy mapping, validated by the policy schema.

The form only gathers values; ``policy_from_mapping`` (the function the command line
uses for YAML files) validates them, so a custom policy from the browser is refused
with exactly the message ``clearance run --policy mine.yaml`` would give. A number
field that is not a number is passed on as text, for the schema to name.

Prop 64's form has its own layout (an outcome per section, grouped settings). Any
other pack's form is built from its flat ``policy.settings``, a field per setting by
its kind (``years``, ``age`` and ``days`` whole numbers, empty for null where the
pack's default preset is null; ``date``; ``flag``; ``choice``), and checked by
``pack_policy_from_mapping``, as a policy file of that pack is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from clearance.law import RulePack, Setting, load_rulepack
from clearance.policy import Policy, list_presets, load_policy, policy_from_mapping, preset_names
from clearance.policy.pack_policy import (
    PackPolicy,
    load_pack_policy,
    pack_policy_from_mapping,
    pack_preset_names,
)

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


# ------------------------------------------------------------------ other packs

PROP64 = "prop64"
NUMBER_KINDS = ("years", "age", "days")


def is_prop64(law: RulePack) -> bool:
    return law.functions == PROP64


def presets(law: RulePack) -> list[tuple[str, str, str]]:
    """(name, title, summary) of the pack's presets, its default first."""
    if is_prop64(law):
        return list_presets()
    found = []
    for name in pack_preset_names(law):
        policy = load_pack_policy(name, law)
        found.append((name, policy.name, pack_summary(policy, law)))
    return found


def pack_summary(policy: PackPolicy, law: RulePack) -> str:
    """One line of a pack policy's values (the preset menu's summary)."""
    shown = []
    for key, setting in law.settings.items():
        value = policy[key]
        if setting.kind == "flag":
            value = "yes" if value else "no"
        elif value is None:
            value = "off"
        shown.append(f"{key.replace('_', ' ')} {value}")
    return "; ".join(shown)


def pack_fields(law: RulePack) -> list[tuple[str, Setting, bool]]:
    """The pack's settings as form fields: (name, setting, may be empty)."""
    defaults = load_pack_policy(law.default_policy, law)
    return [(key, s, defaults[key] is None) for key, s in law.settings.items()]


def pack_mapping_from_form(form: Mapping[str, str], law: RulePack) -> dict[str, Any]:
    """The policy file mapping the form of a pack describes (not yet validated)."""
    values: dict[str, Any] = {"law": law.name, "name": form.get("name", "").strip()}
    for key, setting in law.settings.items():
        raw = form.get(key)
        if setting.kind == "flag":
            values[key] = raw == "on"
        elif setting.kind in NUMBER_KINDS:
            values[key] = _number(raw)
        else:  # date, choice: text, or null when empty
            values[key] = (raw or "").strip() or None
    return values


def pack_policy_from_form(form: Mapping[str, str], law: RulePack) -> PackPolicy:
    """The validated custom policy of a pack; raises PolicyError naming the field."""
    return pack_policy_from_mapping(pack_mapping_from_form(form, law), law, source=SOURCE)


def pack_form_values(policy: PackPolicy) -> dict[str, Any]:
    """A pack policy as form values (from a preset)."""
    values = {k: v for k, v in policy.to_file().items() if k not in ("law", "county")}
    values["name"] = f"{policy.name} (edited)"
    return {k: "" if v is None else v for k, v in values.items()}


def custom_values(law: RulePack, start: str) -> dict[str, Any]:
    """The custom form of the pack filled from its preset ``start`` (or its default)."""
    if is_prop64(law):
        return preset_values(start)
    name = start if start in pack_preset_names(law) else law.default_policy
    return pack_form_values(load_pack_policy(name, law))
