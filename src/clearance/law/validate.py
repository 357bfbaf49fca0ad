"""Reading a rule pack's YAML files: each problem names the file and the entry."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from contextvars import ContextVar
from typing import Any

from clearance.law.yamlio import YAMLError, load_strict_yaml

__all__ = ["Reader", "RulePackError", "parse"]

_SECTION_RE = re.compile(r"^[0-9]+(\.[0-9]+)?[a-z]*$")
_SUBSECTION_RE = re.compile(r"^(\([0-9a-z]+\))+$")


class RulePackError(ValueError):
    """A rule-pack file is missing, malformed, or an entry breaks the schema."""


class Reader:
    """Validation helpers that know which file and entry they are reading."""

    def __init__(self, file: str):
        self.file = file

    def fail(self, where: str, problem: str) -> RulePackError:
        return RulePackError(
            f"{self.file}: {where}: {problem}" if where else f"{self.file}: {problem}"
        )

    def mapping(
        self,
        value: Any,
        where: str,
        *,
        required: Iterable[str] = (),
        optional: Iterable[str] = (),
        any_other: bool = False,
    ) -> dict:
        if not isinstance(value, dict):
            raise self.fail(where, f"expected a mapping, found {type(value).__name__}")
        required, optional = list(required), list(optional)
        unknown = [k for k in value if k not in required and k not in optional]
        if unknown and not any_other:
            allowed = ", ".join(required + optional)
            raise self.fail(where, f"unknown key {unknown[0]!r} (allowed: {allowed})")
        missing = [k for k in required if k not in value]
        if missing:
            raise self.fail(where, f"missing {missing[0]!r}")
        return value

    def text(self, value: Any, where: str, key: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, f"{key!r} must be non-empty text, found {value!r}")
        return value.strip()

    def citation(self, mapping: dict, where: str) -> str:
        if "citation" not in mapping or mapping["citation"] in (None, ""):
            raise self.fail(where, "missing 'citation'")
        return self.text(mapping["citation"], where, "citation")

    def section(self, value: Any, where: str, key: str = "section") -> str:
        if not isinstance(value, str):
            hint = f' (quote it: {key}: "{value}")' if isinstance(value, int | float) else ""
            raise self.fail(where, f"{key!r} must be text{hint}, found {value!r}")
        section = value.strip().lower()
        if not _SECTION_RE.match(section):
            raise self.fail(where, f"{key!r} {value!r} is not a code section number")
        return section

    def subsection(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not _SUBSECTION_RE.match(value.strip().lower()):
            raise self.fail(where, f"subsection {value!r} is not of the form (a)(1)(A)")
        return value.strip().lower()

    def date(self, value: Any, where: str) -> dt.date:
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        raise self.fail(where, f"expected a date (YYYY-MM-DD), found {value!r}")


# Set while an installed pack (shipped with clearance) is read: its files are parsed
# by libyaml, several times faster; a folder given with --law keeps the pure parser's
# depth check (clearance.law.yamlio).
SHIPPED: ContextVar[bool] = ContextVar("shipped", default=False)


def parse(file: str, text: str) -> Any:
    try:
        return load_strict_yaml(text, shipped=SHIPPED.get())
    except YAMLError as exc:
        raise RulePackError(f"{file}: {exc}") from None


def non_empty_list(r: Reader, value: Any, where: str) -> list:
    if not isinstance(value, list) or not value:
        raise r.fail(where, "expected a non-empty list")
    return value
