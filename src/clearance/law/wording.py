"""How `explain` words a rule: the pack's Jinja templates, rendered in a sandbox.

A pack's `explain` templates come from a folder a user may have edited
(`--law DIR`), so they are rendered by Jinja's immutable sandbox: a template
reads the row's values and the pack's data, and can call nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from typing import Any

from jinja2 import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

__all__ = ["check_expression", "check_template", "evaluate", "render"]

_ISO = re.compile(r"\d{4}-\d{2}-\d{2}")


def _or_unknown(value: Any) -> str:
    return "unknown" if value is None else str(value)


@cache
def _env() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(autoescape=False, keep_trailing_newline=False)
    env.filters["or_unknown"] = _or_unknown
    env.tests["iso_date"] = lambda value: isinstance(value, str) and bool(_ISO.fullmatch(value))
    return env


def check_template(text: str) -> str | None:
    """None when the template parses, else the problem in a line."""
    try:
        _env().parse(text)
    except TemplateError as exc:
        return str(exc)
    return None


def check_expression(text: str) -> str | None:
    try:
        _env().compile_expression(text)
    except TemplateError as exc:
        return str(exc)
    return None


@cache
def _compiled(text: str):
    # The template's own line breaks are layout (YAML folds most of them): one space.
    return _env().from_string(" ".join(text.split()))


@cache
def _expression(text: str):
    return _env().compile_expression(text)


def render(text: str, context: Mapping[str, Any]) -> str:
    """The template filled in with the context's values."""
    return _compiled(text).render(**context)


def evaluate(expression: str, context: Mapping[str, Any]) -> Any:
    return _expression(expression)(**context)
