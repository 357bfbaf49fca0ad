"""The filing office: who signs the filings and letters, read from `office.yaml`.

The file is the office's, not the run's: the same run folder can be filed by
different deputies. Every field is validated when read, and a mistake raises
`OfficeError` with a one-line message naming the file and the field, as
`office.yaml: attorney.bar_number: must be the State Bar number, 1 to 7 digits`.

Without a file the filings are still a complete draft: `blank_office()` fills
each field with a bracketed, upper-case marker (`[ATTORNEY NAME]`) that an
attorney sees at once and replaces before signing; `Office.blank` says so.

Schema (examples/office.yaml is a filled-in example):

    office:            name (required), address (1-4 lines, required), phone (required),
                       elected (head of office, optional), email, website (optional)
    attorney:          name, title, bar_number (required), email (optional)
    public_defender:   name, address, phone, email (optional; served with the notices)
    courts:            split_by_courthouse (default true),
                       names: {<court as in the data>: <courthouse name>} (optional)
    letters:           contact_phone, contact_email (optional),
                       contact_hours (optional): one text (English), or one per language
                       of the letters, {en: ..., es: ...}; the Spanish letter prints
                       only Spanish hours
    service:           name, address (1-4 lines), email (optional): who serves the
                       filings and signs their proof of service; public_defender.email
                       is where the notices are served electronically
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from clearance.filings.errors import FilingsError
from clearance.law.yamlio import YAMLError, load_strict_yaml

__all__ = ["Office", "OfficeError", "blank_office", "load_office"]

_BAR_NUMBER = re.compile(r"^[0-9]{1,7}$")
_MAX_ADDRESS_LINES = 4
_MAX_TEXT = 200  # a caption line; longer is a pasting mistake, not a name


class OfficeError(FilingsError):
    """office.yaml is missing, malformed, or a field breaks the schema."""


@dataclass(frozen=True)
class Office:
    """The signing office, attorney and contacts, as the documents print them."""

    name: str
    address: tuple[str, ...]
    phone: str
    attorney_name: str
    attorney_title: str
    bar_number: str
    elected: str | None = None
    email: str | None = None
    website: str | None = None
    attorney_email: str | None = None
    public_defender_name: str = "Office of the Public Defender"
    public_defender_address: tuple[str, ...] = ()
    public_defender_phone: str | None = None
    split_by_courthouse: bool = True
    courthouse_names: Mapping[str, str] = field(default_factory=dict)
    contact_phone: str | None = None
    contact_email: str | None = None
    contact_hours: Mapping[str, str] = field(default_factory=dict)  # language -> hours
    server_name: str | None = None  # who serves the filings (proof of service)
    server_address: tuple[str, ...] = ()
    server_email: str | None = None
    public_defender_email: str | None = None  # electronic service of the notices
    blank: bool = False  # no office file: fields hold [MARKERS] to fill in
    source_name: str | None = None  # the file's name (not its path: outputs must not vary)

    @property
    def letters_phone(self) -> str:
        return self.contact_phone or self.phone

    @property
    def letters_email(self) -> str | None:
        return self.contact_email or self.email

    def hours(self, language: str) -> str | None:
        """The office hours the letters print in `language` (None: not given in it)."""
        return self.contact_hours.get(language)

    def as_context(self, language: str = "en") -> dict[str, Any]:
        """The fields templates read (`office.name`, `office.attorney_name`, ...);
        `language` chooses the letters' office hours."""
        return {
            "name": self.name,
            "address": list(self.address),
            "phone": self.phone,
            "email": self.email,
            "website": self.website,
            "elected": self.elected,
            "attorney_name": self.attorney_name,
            "attorney_title": self.attorney_title,
            "bar_number": self.bar_number,
            "attorney_email": self.attorney_email,
            "public_defender_name": self.public_defender_name,
            "public_defender_address": list(self.public_defender_address),
            "public_defender_phone": self.public_defender_phone,
            "letters_phone": self.letters_phone,
            "letters_email": self.letters_email,
            "contact_hours": self.hours(language),
            "public_defender_email": self.public_defender_email,
            "server_name": self.server_name,
            "server_address": list(self.server_address),
            "server_email": self.server_email,
            "blank": self.blank,
        }


def blank_office() -> Office:
    """An office whose every field is a visible marker to fill in before signing."""
    return Office(
        name="[OFFICE NAME]",
        address=("[STREET ADDRESS]", "[CITY], CA [ZIP]"),
        phone="[PHONE]",
        attorney_name="[ATTORNEY NAME]",
        attorney_title="[TITLE]",
        bar_number="[BAR NO.]",
        elected="[HEAD OF OFFICE], [TITLE]",
        email="[EMAIL]",
        public_defender_name="[PUBLIC DEFENDER'S OFFICE]",
        public_defender_address=("[STREET ADDRESS]", "[CITY], CA [ZIP]"),
        public_defender_email="[E-SERVICE ADDRESS]",
        server_name="[NAME OF PERSON SERVING]",
        server_address=("[BUSINESS ADDRESS]", "[CITY], CA [ZIP]"),
        server_email="[E-SERVICE ADDRESS]",
        blank=True,
    )


# --------------------------------------------------------------------------- reading

_SECTIONS: dict[str, dict[str, bool]] = {
    # key -> required?
    "office": {
        "name": True,
        "address": True,
        "phone": True,
        "elected": False,
        "email": False,
        "website": False,
    },
    "attorney": {"name": True, "title": True, "bar_number": True, "email": False},
    "public_defender": {"name": False, "address": False, "phone": False, "email": False},
    "courts": {"split_by_courthouse": False, "names": False},
    "letters": {"contact_phone": False, "contact_email": False, "contact_hours": False},
    "service": {"name": False, "address": False, "email": False},
}
LETTER_LANGUAGES = ("en", "es")  # the languages of the letters (letters.py), for contact_hours
_REQUIRED_SECTIONS = ("office", "attorney")


class _Reader:
    """Walks the parsed mapping; every complaint names the file and the dotted key."""

    def __init__(self, file_name: str) -> None:
        self.file_name = file_name

    def error(self, key: str, problem: str) -> OfficeError:
        where = f"{self.file_name}: {key}: " if key else f"{self.file_name}: "
        return OfficeError(where + problem)

    def unknown(self, key: str, allowed: list[str], where: str) -> OfficeError:
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(allowed)}"
        return self.error(f"{where}{key}", f"unknown key{hint}")

    def mapping(self, value: Any, key: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.error(key, "must be a mapping of keys to values")
        return value

    def text(self, value: Any, key: str) -> str:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.error(key, "must be text")
        text = " ".join(str(value).split())
        if not text:
            raise self.error(key, "must not be empty")
        if len(text) > _MAX_TEXT:
            raise self.error(key, f"is longer than {_MAX_TEXT} characters")
        return text

    def lines(self, value: Any, key: str) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value:
            raise self.error(key, "must be a list of address lines")
        if len(value) > _MAX_ADDRESS_LINES:
            raise self.error(key, f"has more than {_MAX_ADDRESS_LINES} lines")
        return tuple(self.text(v, f"{key}[{i}]") for i, v in enumerate(value))


def load_office(path: Path) -> Office:
    """Read and validate an office file; `OfficeError` names the file and the field."""
    name = str(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise OfficeError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise OfficeError(f"{name}: is not UTF-8 text") from None
    except OSError as exc:
        raise OfficeError(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        data = load_strict_yaml(raw)
    except YAMLError as exc:
        raise OfficeError(f"{name}: not valid YAML: {_yaml_problem(exc)}") from None
    return dataclasses.replace(office_from_mapping(data, name), source_name=path.name)


def _yaml_problem(exc: YAMLError) -> str:
    """`line 3: expected ...`: the parser's complaint without its echo of the text."""
    cause = exc.__cause__
    if isinstance(cause, yaml.MarkedYAMLError) and cause.problem_mark is not None:
        return f"line {cause.problem_mark.line + 1}: {cause.problem}"
    return str(exc)


def office_from_mapping(data: Any, file_name: str = "office.yaml") -> Office:
    """Validate parsed YAML into an `Office` (used by `load_office` and the web app)."""
    r = _Reader(file_name)
    if data is None:
        raise r.error("", "is empty; it needs at least the office and attorney sections")
    top = r.mapping(data, "")
    for key in top:
        if key not in _SECTIONS:
            raise r.unknown(str(key), list(_SECTIONS), "")
    sections: dict[str, dict[str, Any]] = {}
    for section, keys in _SECTIONS.items():  # first every misspelt key, then what is missing
        values = r.mapping(top.get(section) or {}, section)
        for key in values:
            if key not in keys:
                raise r.unknown(str(key), list(keys), f"{section}.")
        sections[section] = values
    for key in _REQUIRED_SECTIONS:
        if key not in top:
            raise r.error(key, "missing (required section)")
    for section, keys in _SECTIONS.items():
        values = sections[section]
        for key, required in keys.items():
            if required and values.get(key) in (None, ""):
                raise r.error(f"{section}.{key}", "missing (required)")

    office, attorney = sections["office"], sections["attorney"]
    defender, courts = sections["public_defender"], sections["courts"]
    service = sections["service"]

    def optional(section: str, key: str) -> str | None:
        value = sections[section].get(key)
        return None if value is None else r.text(value, f"{section}.{key}")

    bar = r.text(attorney["bar_number"], "attorney.bar_number")
    if not _BAR_NUMBER.match(bar):
        raise r.error("attorney.bar_number", "must be the State Bar number, 1 to 7 digits")

    split = courts.get("split_by_courthouse", True)
    if not isinstance(split, bool):
        raise r.error("courts.split_by_courthouse", "must be true or false")
    names_raw = r.mapping(courts.get("names") or {}, "courts.names")
    names = {
        " ".join(str(k).upper().split()): r.text(v, f"courts.names.{k}")
        for k, v in names_raw.items()
    }

    return Office(
        name=r.text(office["name"], "office.name"),
        address=r.lines(office["address"], "office.address"),
        phone=r.text(office["phone"], "office.phone"),
        elected=optional("office", "elected"),
        email=optional("office", "email"),
        website=optional("office", "website"),
        attorney_name=r.text(attorney["name"], "attorney.name"),
        attorney_title=r.text(attorney["title"], "attorney.title"),
        bar_number=bar,
        attorney_email=optional("attorney", "email"),
        public_defender_name=optional("public_defender", "name") or "Office of the Public Defender",
        public_defender_address=r.lines(defender["address"], "public_defender.address")
        if defender.get("address") is not None
        else (),
        public_defender_phone=optional("public_defender", "phone"),
        split_by_courthouse=split,
        courthouse_names=names,
        contact_phone=optional("letters", "contact_phone"),
        contact_email=optional("letters", "contact_email"),
        contact_hours=_hours(r, sections["letters"].get("contact_hours")),
        public_defender_email=optional("public_defender", "email"),
        server_name=optional("service", "name"),
        server_address=r.lines(service["address"], "service.address")
        if service.get("address") is not None
        else (),
        server_email=optional("service", "email"),
        source_name=file_name,
    )


def _hours(r: _Reader, value: Any) -> dict[str, str]:
    """`letters.contact_hours`: one text (English, as office files before Spanish hours
    had it) or `{en: ..., es: ...}`, one text per language of the letters."""
    key = "letters.contact_hours"
    if value is None:
        return {}
    if not isinstance(value, dict):
        return {"en": r.text(value, key)}
    hours = {}
    for language, text in value.items():
        if language not in LETTER_LANGUAGES:
            raise r.unknown(str(language), list(LETTER_LANGUAGES), f"{key}.")
        hours[language] = r.text(text, f"{key}.{language}")
    return hours
