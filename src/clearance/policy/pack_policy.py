"""Policies of rule packs other than Prop 64: the pack's settings, checked against it.

A pack declares its policy's settings (pack.yaml, ``policy.settings``: each a kind,
a description and, for numbers, a range) and ships presets (``presets/*.yaml``).
A policy file names the pack (``law: ca-auto-relief``), a ``name``, optionally a
``county``, and any of the settings; a setting it leaves out takes the value of the
pack's default preset, so an office writes down only what it changes::

    law: ca-auto-relief
    name: Sacramento 2026
    pending_years: 10

Every value is checked against its kind: ``flag`` true or false; ``years``,
``age`` and ``days`` whole numbers within the range, or null where the default is
null; ``date`` an ISO date; ``choice`` one of the choices. A message names the file
and the key, as Prop 64's policies do (``clearance.policy.schema``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from clearance.law.yamlio import YAMLError, load_strict_yaml
from clearance.policy.schema import (
    MAX_NAME_CHARS,
    PolicyError,
    _county,
    _shown,
    check_bool,
    check_mapping,
    fail,
    read_policy_text,
)

__all__ = ["PackPolicy", "load_pack_policy", "pack_policy_from_mapping", "pack_preset_names"]

_FIXED = ("law", "name", "county")


@dataclass(frozen=True)
class PackPolicy:
    """A resolved policy of a rule pack: every setting has a value."""

    law: str
    name: str
    county: str | None
    settings: Mapping[str, Any]
    source: str

    def __getattr__(self, key: str) -> Any:  # policy.pending_years
        settings = object.__getattribute__(self, "settings")
        if key in settings:
            return settings[key]
        raise AttributeError(key)

    def get(self, key: str, default: Any = None) -> Any:
        return self.settings.get(key, default)

    def __getitem__(self, key: str) -> Any:
        return self.settings[key]

    def with_county(self, county: str | None) -> PackPolicy:
        return replace(self, county=_county(county))

    def to_file(self) -> dict[str, Any]:
        """The policy as a file holds it: ``pack_policy_from_mapping`` reads it back."""
        values = {
            k: v.isoformat() if isinstance(v, dt.date) else v for k, v in self.settings.items()
        }
        return {"law": self.law, "name": self.name, "county": self.county, **values}

    def to_dict(self) -> dict[str, Any]:
        return {**self.to_file(), "source": self.source}


def pack_preset_names(law) -> list[str]:
    """The presets the pack ships, by file name, the default first."""
    names = sorted(p.stem for p in Path(law.presets_folder).glob("*.yaml"))
    return sorted(names, key=lambda n: n != law.default_policy)


def load_pack_policy(spec: str | Path, law) -> PackPolicy:
    """A preset of the pack by name, or a policy YAML file, checked against the pack."""
    if isinstance(spec, str) and spec in pack_preset_names(law):
        path = Path(law.presets_folder) / f"{spec}.yaml"
        return pack_policy_from_mapping(_yaml(path.read_text("utf-8"), spec), law, source=spec)
    path = Path(spec)
    if path.suffix.lower() not in (".yaml", ".yml"):
        raise PolicyError(
            f"{spec}: no such preset of the rule pack {law.name} (presets: "
            f"{', '.join(pack_preset_names(law))}; or give a .yaml policy file)"
        )
    text = read_policy_text(path, spec)
    return pack_policy_from_mapping(_yaml(text, str(spec)), law, source=str(spec))


def _yaml(text: str, source: str) -> Any:
    try:
        data = load_strict_yaml(text)
    except YAMLError as exc:
        raise PolicyError(f"{source}: {exc}") from None
    if data is None:
        raise PolicyError(f"{source}: the policy file is empty")
    return data


def _defaults(law) -> Mapping[str, Any]:
    path = Path(law.presets_folder) / f"{law.default_policy}.yaml"
    data = _yaml(path.read_text("utf-8"), f"{law.name}/presets/{law.default_policy}.yaml")
    return {k: v for k, v in data.items() if k not in _FIXED}


def pack_policy_from_mapping(
    data: Any, law, *, source: str, defaults: Mapping[str, Any] | None = None
) -> PackPolicy:
    """Check a parsed policy against the pack's settings; fill what it leaves out."""
    data = check_mapping(source, data, "", [*_FIXED, *law.settings])
    named = data.get("law", law.name)
    if named != law.name:
        raise fail(
            source, "law", f"the policy is for the rule pack {_shown(named)}, not {law.name}"
        )
    if "name" not in data:
        raise fail(source, "name", "missing; a policy must give its name")
    name = data["name"]
    if not isinstance(name, str) or not name.strip():
        raise fail(source, "name", f"expected non-empty text, found {_shown(name)}")
    if len(name.strip()) > MAX_NAME_CHARS:
        raise fail(source, "name", f"a policy name has at most {MAX_NAME_CHARS} characters")
    county = data.get("county")
    if county is not None and (
        not isinstance(county, str) or not county.strip() or len(county) > MAX_NAME_CHARS
    ):
        raise fail(source, "county", f"expected a county name or null, found {_shown(county)}")
    base = dict(_defaults(law) if defaults is None else defaults)
    values: dict[str, Any] = {}
    for key, setting in law.settings.items():
        given = key in data
        value = data[key] if given else base.get(key)
        if not given and key not in base:
            raise fail(source, key, "missing, and the pack's default preset gives no value")
        values[key] = _checked(source, key, setting, value, nullable=base.get(key) is None)
    return PackPolicy(
        law=law.name,
        name=name.strip(),
        county=_county(county),
        settings=MappingProxyType(values),
        source=source,
    )


def _checked(source: str, key: str, setting, value: Any, *, nullable: bool) -> Any:
    kind = setting.kind
    if kind == "flag":
        return check_bool(source, value, key)
    if kind == "choice":
        if value not in setting.choices:
            raise fail(source, key, f"expected one of {', '.join(setting.choices)}, "
                       f"found {_shown(value)}")  # fmt: skip
        return value
    if kind == "date":
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value.strip())
            except ValueError:
                pass
        raise fail(source, key, f"expected a date YYYY-MM-DD, found {_shown(value)}")
    if kind in ("years", "age", "days"):
        unit = "days" if kind == "days" else "years"
        if value is None:
            if nullable:
                return None
            raise fail(source, key, f"expected a whole number of {unit}, found null")
        if isinstance(value, bool) or not isinstance(value, int):
            raise fail(source, key, f"expected a whole number of {unit}, found {_shown(value)}")
        low, high = setting.range
        if not low <= value <= high:
            raise fail(source, key, f"{value} is out of range; expected {low} to {high} {unit}")
        return value
    raise fail(source, key, f"settings of kind {kind!r} are not read by this pack's policies")
