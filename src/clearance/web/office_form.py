"""The office file (``office.yaml``) as a form: one field a setting, an error beside
each field that is wrong, and the YAML file kept as the storage the filings read.

The schema and every check are ``clearance.filings.office``'s (``office_from_mapping``,
which ``clearance filings --office`` uses too): this module only turns the form into
the mapping that file holds and back, and asks the validator about each field in
turn, so that every wrong field is named at once, not only the first.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from clearance.filings import OfficeError
from clearance.filings.office import office_from_mapping

OFFICE_FILE = "office.yaml"
FORM_ERROR = "_form"  # an error that belongs to no one field


@dataclass(frozen=True)
class Field:
    key: str  # section.name, as in office.yaml
    label: str
    kind: str = "text"  # text | lines | flag | pairs
    required: bool = False
    hint: str = ""
    placeholder: str = ""  # a valid value, used while the other fields are checked

    @property
    def section(self) -> str:
        return self.key.split(".", 1)[0]

    @property
    def name(self) -> str:
        return self.key.split(".")[1]

    @property
    def language(self) -> str | None:
        """The language of a per-language text (``letters.contact_hours.es``)."""
        parts = self.key.split(".")
        return parts[2] if len(parts) > 2 else None

    @property
    def id(self) -> str:
        return "f-" + self.key.replace(".", "-").replace("_", "-")


SECTIONS = (
    ("office", "The office"),
    ("attorney", "The attorney who signs"),
    ("public_defender", "The public defender (served with the notices)"),
    ("courts", "Courts"),
    ("letters", "Letters to the people whose records are cleared"),
    ("service", "Proof of service: who serves the filings"),
)
FIELDS = (
    Field("office.name", "Name of the office", required=True,
          hint="As the caption prints it, e.g. Office of the District Attorney, County of …"),
    Field("office.elected", "Head of the office",
          hint="Name and title, e.g. … , District Attorney"),
    Field("office.address", "Address", "lines", required=True, hint="One to four lines"),
    Field("office.phone", "Phone", required=True),
    Field("office.email", "Email"),
    Field("office.website", "Website", hint="Printed on the letters"),
    Field("attorney.name", "Name", required=True),
    Field("attorney.title", "Title", required=True, hint="e.g. Deputy District Attorney"),
    Field("attorney.bar_number", "State Bar number", required=True, hint="1 to 7 digits",
          placeholder="1"),
    Field("attorney.email", "Email"),
    Field("public_defender.name", "Name of the office",
          hint="Empty: Office of the Public Defender"),
    Field("public_defender.address", "Address", "lines", hint="One to four lines"),
    Field("public_defender.phone", "Phone"),
    Field("public_defender.email", "Email", hint="The notices are served here electronically"),
    Field("courts.split_by_courthouse", "One filing per courthouse the data names", "flag"),
    Field("courts.names", "Courthouse names", "pairs",
          hint="One a line: the court as the data writes it = the courthouse's name in the "
               "caption"),
    Field("letters.contact_phone", "Phone people call about their letter",
          hint="Empty: the office's phone"),
    Field("letters.contact_email", "Email people write to", hint="Empty: the office's email"),
    Field("letters.contact_hours.en", "Hours, in English",
          hint="e.g. Monday to Friday, 9 a.m. to 4 p.m."),
    Field("letters.contact_hours.es", "Hours, in Spanish (printed on the Spanish letters)",
          hint="e.g. de lunes a viernes, de 9 a.m. a 4 p.m."),
    Field("service.name", "Name", hint="Who serves the filings and signs their proofs"),
    Field("service.address", "Business address", "lines", hint="One to four lines"),
    Field("service.email", "Email", hint="The server's electronic service address"),
)  # fmt: skip
BY_KEY = {f.key: f for f in FIELDS}


def values_from_mapping(data: Any) -> dict[str, str | bool]:
    """What the form shows for a saved office file's mapping."""
    data = data if isinstance(data, Mapping) else {}
    values: dict[str, str | bool] = {}
    for f in FIELDS:
        section = data.get(f.section)
        raw = section.get(f.name) if isinstance(section, Mapping) else None
        if f.language is not None:  # one text (English) or one per language
            if isinstance(raw, Mapping):
                raw = raw.get(f.language)
            elif f.language != "en":
                raw = None
        if f.kind == "flag":
            values[f.key] = raw is not False
        elif f.kind == "lines":
            items = raw if isinstance(raw, list) else [] if raw is None else [raw]
            values[f.key] = "\n".join(str(v) for v in items)
        elif f.kind == "pairs":
            pairs = raw.items() if isinstance(raw, Mapping) else ()
            values[f.key] = "\n".join(f"{k} = {v}" for k, v in pairs)
        else:
            values[f.key] = "" if raw is None else str(raw)
    return values


def values_from_form(form: Mapping[str, Any]) -> dict[str, str | bool]:
    """The form as posted (text trimmed, line ends unified, a flag ticked or not)."""
    values: dict[str, str | bool] = {}
    for f in FIELDS:
        raw = form.get(f.key)
        if f.kind == "flag":
            values[f.key] = raw == "on"
        else:
            values[f.key] = str(raw or "").replace("\r\n", "\n").strip()
    return values


def mapping_from_values(values: Mapping[str, str | bool]) -> tuple[dict, dict[str, str]]:
    """The office.yaml mapping of the form's values (empty fields left out), and the
    errors of fields the form itself cannot turn into the file's shape."""
    data: dict[str, dict[str, Any]] = {"office": {}, "attorney": {}}
    errors: dict[str, str] = {}
    for f in FIELDS:
        value = values.get(f.key, "")
        if f.kind == "flag":
            if value is False:  # true is the default: the file stays short
                data.setdefault(f.section, {})[f.name] = False
            continue
        if not value:
            continue
        if f.kind == "lines":
            converted: Any = [line.strip() for line in str(value).split("\n") if line.strip()]
        elif f.kind == "pairs":
            converted = {}
            for n, line in enumerate(str(value).split("\n"), 1):
                if not line.strip():
                    continue
                court, sep, name = line.partition("=")
                if not sep or not court.strip() or not name.strip():
                    errors[f.key] = (
                        f"line {n}: write it as the court in the data = the courthouse's name"
                    )
                    break
                converted[" ".join(court.split())] = " ".join(name.split())
        else:
            converted = value
        if f.language is not None:
            data.setdefault(f.section, {}).setdefault(f.name, {})[f.language] = converted
        else:
            data.setdefault(f.section, {})[f.name] = converted
    return data, errors


_WHERE = re.compile(r"^(?P<key>[a-z_]+(?:\.[a-z_]+){0,2})")


def _field_of(message: str) -> Field | None:
    """The form field a validator message is about (``office.yaml: office.address[1]:``,
    ``letters.contact_hours.es:``)."""
    rest = message.removeprefix(f"{OFFICE_FILE}: ")
    found = _WHERE.match(rest)
    if not found:
        return None
    key = found["key"]
    return BY_KEY.get(key) or BY_KEY.get(key.rsplit(".", 1)[0])


def _valid_stand_in(f: Field) -> Any:
    if f.kind == "lines":
        return ["x"]
    if f.kind == "pairs":
        return {}
    if f.kind == "flag":
        return True
    return f.placeholder or "x"


def field_errors(data: dict) -> dict[str, str]:
    """Every field the validator refuses, with its words: the validator stops at the
    first problem, so each refused field is set aside (a valid stand-in for a required
    one) and the rest checked again."""
    trial = copy.deepcopy(data)
    errors: dict[str, str] = {}
    for _ in range(len(FIELDS) + 1):
        try:
            office_from_mapping(trial, OFFICE_FILE)
            return errors
        except OfficeError as exc:
            message = str(exc)
            f = _field_of(message)
            if f is None or f.key in errors:
                errors[FORM_ERROR] = message
                return errors
            errors[f.key] = message.removeprefix(f"{OFFICE_FILE}: ").split(": ", 1)[-1]
            section = trial.setdefault(f.section, {})
            if f.required:
                section[f.name] = _valid_stand_in(f)
            elif f.language is not None and isinstance(section.get(f.name), dict):
                section[f.name].pop(f.language, None)
            else:
                section.pop(f.name, None)
    return errors


def to_yaml(data: dict) -> str:
    """The office file's text: the sections in the schema's order, empty ones left out."""
    ordered = {name: data[name] for name, _ in SECTIONS if data.get(name)}
    body = yaml.safe_dump(ordered, sort_keys=False, allow_unicode=True, default_flow_style=False)
    return (
        "# The office on the filings, saved on the web app's Office page.\n"
        "# docs/filings.md describes every field; `clearance filings --office` reads it.\n" + body
    )
