"""A rule pack in plain text: what `clearance laws` and `clearance laws show` print."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from typing import Any

from clearance.law.rulepack import RulePack, Step

__all__ = ["pack_lines", "pack_row", "test_call"]

WIDTH = 88


def pack_row(law: RulePack) -> tuple[str, str, str, str, str]:
    """(name, version, rules, citation, title) for the list of packs."""
    return (law.name, law.version, str(len(law.steps)), law.citation, law.title)


def test_call(step: Step) -> str:
    """The rule's test as the pack writes it: `prior_listed(list=pc290, min_priors=1)`."""
    arguments = ", ".join(f"{k}={_argument(v)}" for k, v in step.arguments.items())
    return f"{step.function}({arguments})"


def _argument(value: Any) -> str:
    if isinstance(value, dict):
        return f"policy {value['setting']}"
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value)


def _wrapped(text: str, indent: str) -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=indent) or [indent]


def _outcome(step: Step) -> str:
    if step.by_date is not None:
        on_or_before, after = step.by_date
        return (
            f"path {step.path}: {on_or_before} when {step.eligible_on} is on or before the "
            f"as-of date, else {after}"
        )
    if step.determination is not None:
        return step.determination
    return f"the policy's {step.policy_determination}"


def pack_lines(law: RulePack) -> Iterator[str]:
    """Every part of the pack, the rules in order with citation and the statute's words."""
    yield f"{law.title}"
    yield f"rule pack {law.name} {law.version} ({law.citation})"
    yield f"SHA-256 {law.sha256}"
    yield f"from {'the installed pack' if law.installed else law.folder}"
    yield from _wrapped(law.summary, "")
    yield ""
    yield "Data"
    for datum in law.data.values():
        since = f", since {datum.since}" if datum.since else ""
        yield f"  {datum.name}: {datum.shown()}"
        yield from _wrapped(f"{datum.description} ({datum.citation}{since})", "      ")
    for name, offenses in law.lists.items():
        since = f", since {offenses.since}" if offenses.since else ""
        yield f"  list {name}: {offenses.title}, {len(offenses.entries)} entries"
        yield f"      ({offenses.citation}{since})"
    yield ""
    yield "Scope"
    yield from _wrapped(f"{law.scope_description} ({law.scope_citation})", "  ")
    yield ""
    yield "Rules, in order of evaluation (the first that applies decides)"
    seen: set[tuple[str | None, str]] = set()
    kind = None
    number = 0
    for step in law.steps:
        rule = step.rule or law.rules[step.reason]
        if step.kind != kind:  # a pack deciding several kinds of rows: each its own order
            kind, number = step.kind, 0
            yield ""
            yield f"{kind.capitalize()} rows:"
        number += 1
        yield ""
        yield f"{number:>2}. {step.id}: {_outcome(step)} (reason {step.reason}, {rule.basis})"
        yield f"    rule {rule.id}; citation {rule.citation}"
        if step.enabled_by:
            yield f"    used when the policy sets {step.enabled_by}"
        yield f"    test: {test_call(step)}"
        if step.unknown_recorded:
            yield "    when the test cannot be made, the determination records it (not_tested)"
        yield from _wrapped(rule.description, "    ")
        for section, citation in step.pinpoints.items():
            yield f"    for {section}: {citation}"
        for provision in rule.statute:
            if (step.kind, step.reason) in seen:
                yield f"    statute: {provision} (quoted above)"
                continue
            yield f"    statute: {provision}"
            yield from _wrapped(f"“{law.statutes[provision]}”", "      ")
        seen.add((step.kind, step.reason))
    yield ""
    yield "Policy settings"
    for setting in law.settings.values():
        extra = ""
        if setting.choices:
            extra = f" ({' | '.join(setting.choices)})"
        elif setting.range:
            extra = f" ({setting.range[0]}-{setting.range[1]})"
        yield f"  {setting.key}: {setting.kind}{extra}"
        yield from _wrapped(setting.description, "      ")
    yield f"  presets: {', '.join(sorted(p.stem for p in law.presets_folder.glob('*.yaml')))}"
    yield f"  default: {law.default_policy}"
