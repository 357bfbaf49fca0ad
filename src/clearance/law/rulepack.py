"""The rule pack: Prop 64's legal facts, read from the YAML files beside this module.

- `prop64.yaml`: version, dates, sections in scope, excluded subsections,
  disqualifiers, and the `rules` table (reason -> rule id, determination,
  citation, description) that every determination cites.
- `superstrikes.yaml`, `pc290.yaml`: the offense lists of PC 667(e)(2)(C)(iv)
  and PC 290(c).

Files are validated when read: an unknown key, a missing citation or a value
of the wrong form raises `RulePackError` naming the file and the entry.

Offense matching is vectorised: `RulePack.offense_in("superstrikes")` is a
Polars expression, true on the rows of a frame whose `code`, `section` and
`subsection` columns name a listed offense.  The rules (prop64.md, "Super-
strike and PC 290 offense lists"):

- the section is anchored: `37` never matches `137` or `37.5`; `288` never
  matches `288.5` or `288a` (sections compare whole, lower case);
- a listed subsection narrows: `245(d)(3)` matches a count whose subsection is
  `(d)(3)` or deeper (`(d)(3)(a)`), not `(d)(1)` and not a count with none;
  subsections compare case-insensitively;
- an entry without subsections matches the section with any subsection or none;
- the code label must match (`PC` unless the entry says otherwise, `MV` for
  Military and Veterans Code 1672(a));
- the `attempt` flag is not consulted: an attempt of a listed offense matches
  (PC 667(e)(2)(C)(iv)(IV) names attempted homicide expressly; for the other
  entries this is the reading that errs toward review by a person, since a
  match only ever removes relief and is shown with its citation).

Limits of the gang-enhancement entries (`requires_enhancement: 186.22(b)(4)`):
the enhancement is looked for as text ("186.22(b)(4)", spacing and case free)
in the columns named by `enhancement_columns` of the same row, by default the
count's `charge` and `offense_qualifiers`.  An enhancement recorded only on a
separate count of the same case, or written another way ("GANG ENHANCEMENT"),
is not seen, so such a prior is missed; a reviewer reading the history can
still find it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import polars as pl

from clearance.extract.normalize import lettered_sections
from clearance.law.yamlio import YAMLError, load_strict_yaml

__all__ = [
    "DETERMINATIONS",
    "LIST_FILES",
    "Attempt",
    "CannabisSection",
    "CannabisWords",
    "Disqualifier",
    "ExcludedSubsection",
    "OffenseEntry",
    "OffenseList",
    "Rule",
    "RulePack",
    "RulePackError",
    "load_rulepack",
    "read_rulepack",
]

DETERMINATIONS: tuple[str, ...] = ("dismiss", "reduce", "not_eligible", "review")
BASES: tuple[str, ...] = ("statute", "policy", "data")
RULEPACK_FILE = "prop64.yaml"
LIST_FILES: Mapping[str, str] = MappingProxyType(
    {"superstrikes": "superstrikes.yaml", "pc290": "pc290.yaml"}
)
DEFAULT_ENHANCEMENT_COLUMNS: tuple[str, ...] = ("charge", "offense_qualifiers")

_SECTION_RE = re.compile(r"^[0-9]+(\.[0-9]+)?[a-z]*$")
_SUBSECTION_RE = re.compile(r"^(\([0-9a-z]+\))+$")
_CODE_RE = re.compile(r"^[A-Z]{2,3}$")


class RulePackError(ValueError):
    """A rule-pack file is missing, malformed, or an entry breaks the schema."""


# --------------------------------------------------------------------------- types


@dataclass(frozen=True)
class CannabisSection:
    section: str
    name: str
    citation: str
    disqualifiers_apply: bool


@dataclass(frozen=True)
class ExcludedSubsection:
    section: str
    subsection: str  # lower case, e.g. "(a)(3)(c)"
    citation: str
    description: str


@dataclass(frozen=True)
class Disqualifier:
    reason: str
    list_name: str | None  # None: the rule counts priors under the same section
    min_priors: int
    citation: str
    subsections: Mapping[str, str]  # cannabis section -> where it states the rule


@dataclass(frozen=True)
class Attempt:
    code: str
    section: str
    citation: str
    description: str


@dataclass(frozen=True)
class Rule:
    reason: str
    id: str
    determinations: tuple[str, ...]  # what the rule can produce
    basis: str  # statute | policy | data
    citation: str
    description: str

    @property
    def rule_id(self) -> str:
        """Alias of `id`, the name determinations carry it under."""
        return self.id

    @property
    def determination(self) -> str:
        """The determination, for rules that produce exactly one."""
        if len(self.determinations) != 1:
            raise ValueError(f"rule {self.id} produces one of {', '.join(self.determinations)}")
        return self.determinations[0]


@dataclass(frozen=True)
class OffenseEntry:
    code: str
    section: str
    subsections: tuple[str, ...]  # lower case; empty means any subsection
    with_decimals: bool
    requires_enhancement: str | None
    citation: str
    note: str | None = None

    @property
    def label(self) -> str:
        """The entry as a lawyer writes it: `PC 245(d)(3)`, `PC 286(c)(1)/(c)(2)`."""
        text = f"{self.code} {self.section}"
        if self.with_decimals:
            text += " and " + self.section + ".x"
        if self.subsections:
            text += "/".join(self.subsections)
        if self.requires_enhancement:
            text += f" with {self.code} {self.requires_enhancement}"
        return text


@dataclass(frozen=True)
class OffenseList:
    name: str
    title: str
    citation: str
    entries: tuple[OffenseEntry, ...]


@dataclass(frozen=True)
class CannabisWords:
    patterns: tuple[str, ...]  # regular expressions, matched upper case
    citation: str
    description: str


@dataclass(frozen=True, eq=False)
class RulePack:
    name: str
    version: str
    effective_date: dt.date
    effective_date_citation: str
    conviction_cutoff: dt.date
    conviction_cutoff_citation: str
    oldest_age: int  # years: an older age is impossible (a placeholder birth date)
    sections: Mapping[str, CannabisSection]
    attempt: Attempt
    cannabis_words: CannabisWords
    excluded_subsections: tuple[ExcludedSubsection, ...]
    disqualifiers: Mapping[str, Disqualifier]
    rules: Mapping[str, Rule]  # by reason, in prop64.md's order of evaluation
    lists: Mapping[str, OffenseList]
    files: Mapping[str, str] = field(default_factory=dict)  # file name -> SHA-256 of its bytes

    @property
    def sha256(self) -> str:
        """One digest of every file of the pack: a value changed anywhere changes it."""
        lines = "".join(f"{name} {digest}\n" for name, digest in sorted(self.files.items()))
        return hashlib.sha256(lines.encode("utf-8")).hexdigest()

    def provenance(self) -> dict[str, Any]:
        """What a run records of the pack it was decided under (run.json ``rule_pack``)."""
        return {
            "name": self.name,
            "version": self.version,
            "sha256": self.sha256,
            "files": dict(sorted(self.files.items())),
        }

    @property
    def cannabis_sections(self) -> tuple[str, ...]:
        return tuple(self.sections)

    @property
    def disqualifier_sections(self) -> tuple[str, ...]:
        """The sections the statutory disqualifiers apply to (11358-11360)."""
        return tuple(s for s, info in self.sections.items() if info.disqualifiers_apply)

    @property
    def last_conviction_date(self) -> dt.date:
        """Alias of `conviction_cutoff`: the last conviction date in scope (2016-11-08)."""
        return self.conviction_cutoff

    def rules_by_reason(self) -> Mapping[str, Rule]:
        """The rules table by reason code, in the order of evaluation."""
        return self.rules

    def rule(self, reason: str) -> Rule:
        try:
            return self.rules[reason]
        except KeyError:
            known = ", ".join(self.rules)
            raise KeyError(f"no rule for reason {reason!r}; known reasons: {known}") from None

    def rules_frame(self) -> pl.DataFrame:
        """One row per rule (`reason`, `rule_id`, `citation`, `description`), to join on."""
        return pl.DataFrame(
            {
                "reason": [r.reason for r in self.rules.values()],
                "rule_id": [r.id for r in self.rules.values()],
                "citation": [r.citation for r in self.rules.values()],
                "description": [r.description for r in self.rules.values()],
            }
        )

    def offense_in(
        self,
        list_name: str,
        *,
        enhancement_columns: Sequence[str] = DEFAULT_ENHANCEMENT_COLUMNS,
    ) -> pl.Expr:
        """Boolean expression: the row's offense is on the list (`superstrikes`, `pc290`).

        Reads the columns `code`, `section`, `subsection`, and, for entries that
        require an enhancement, the text columns in `enhancement_columns`
        (pass `()` when the frame has none: those entries then never match).
        Never null: a row with no code or section is false.
        """
        try:
            offenses = self.lists[list_name]
        except KeyError:
            raise KeyError(
                f"no offense list {list_name!r}; known lists: {', '.join(self.lists)}"
            ) from None
        return _entries_expr(offenses.entries, tuple(enhancement_columns)).alias(f"in_{list_name}")

    def names_cannabis(self, *columns: str) -> pl.Expr:
        """Boolean expression: one of the text ``columns`` names cannabis (``cannabis_words``).

        Never null: a row whose columns are all empty is false.
        """
        pattern = "|".join(f"(?:{p})" for p in self.cannabis_words.patterns)
        return _any(pl.col(c).str.to_uppercase().str.contains(pattern) for c in columns)

    def excluded_subsection(self) -> pl.Expr:
        """Boolean expression over `cannabis_section` and `subsection`: an excluded subsection.

        HS 11359(c)(3), 11359(d), 11360(a)(3)(C), 11360(a)(3)(D), each also
        covering deeper subsections.  Never null.
        """
        section = pl.col("cannabis_section").cast(pl.String)
        subsection = pl.col("subsection").cast(pl.String)
        terms = [
            (section == item.section) & _subsection_in(subsection, (item.subsection,))
            for item in self.excluded_subsections
        ]
        return _any(terms).alias("excluded_subsection")


# ----------------------------------------------------------------------- matching


def _any(terms: Iterable[pl.Expr]) -> pl.Expr:
    terms = [t.fill_null(False) for t in terms]
    if not terms:
        return pl.lit(False)
    return pl.any_horizontal(terms)


def _subsection_in(column: pl.Expr, subsections: Sequence[str]) -> pl.Expr:
    """The column's subsection is one of `subsections` or lies under one of them."""
    sub = column.str.to_lowercase()
    return _any(
        [(sub == s) | sub.str.starts_with(s + "(") for s in subsections],
    )


def _enhancement_pattern(enhancement: str) -> str:
    """Regex for `186.22(b)(4)` written with any case or spacing, not inside a longer number."""
    match = re.fullmatch(r"([0-9.]+[a-z]*)((?:\([0-9a-z]+\))*)", enhancement.lower())
    if match is None:  # validated on load; kept as a guard
        raise RulePackError(f"cannot read enhancement {enhancement!r}")
    section, groups = match.groups()
    parts = [re.escape(section)]
    parts += [rf"\s*\(\s*{re.escape(g)}\s*\)" for g in re.findall(r"\(([0-9a-z]+)\)", groups)]
    return r"(?i)(?:^|[^0-9.])" + "".join(parts)


def _entries_expr(entries: Sequence[OffenseEntry], enhancement_columns: tuple[str, ...]) -> pl.Expr:
    # Cast: a column that is all null in a small frame has the Null type.
    code = pl.col("code").cast(pl.String).str.to_uppercase()
    section = pl.col("section").cast(pl.String).str.to_lowercase()
    subsection = pl.col("subsection").cast(pl.String)

    terms: list[pl.Expr] = []
    # Plain entries (a whole section, any subsection) become one is_in per code.
    plain: dict[str, list[str]] = {}
    for entry in entries:
        if entry.subsections or entry.with_decimals or entry.requires_enhancement:
            continue
        plain.setdefault(entry.code, []).append(entry.section)
    for code_label, sections in plain.items():
        terms.append((code == code_label) & section.is_in(sorted(set(sections))))

    for entry in entries:
        if not (entry.subsections or entry.with_decimals or entry.requires_enhancement):
            continue
        same_section = section == entry.section
        if entry.with_decimals:
            same_section = same_section | section.str.starts_with(entry.section + ".")
        term = (code == entry.code) & same_section
        if entry.subsections:
            term = term & _subsection_in(subsection, entry.subsections)
        if entry.requires_enhancement:
            pattern = _enhancement_pattern(entry.requires_enhancement)
            term = term & _any(
                pl.col(c).cast(pl.String).str.contains(pattern) for c in enhancement_columns
            )
        terms.append(term)
    return _any(terms)


# ------------------------------------------------------------------------ reading


@cache
def load_rulepack() -> RulePack:
    """The rule pack shipped with the package (read and validated once)."""
    folder = resources.files("clearance.law")
    return _build({name: (folder / name).read_bytes() for name in _file_names()})


def read_rulepack(directory: str | Path) -> RulePack:
    """A rule pack from another folder holding the same files (not cached)."""
    directory = Path(directory)
    texts = {}
    for name in _file_names():
        path = directory / name
        if not path.is_file():
            raise RulePackError(f"{path}: rule-pack file not found")
        texts[name] = path.read_bytes()
    return _build(texts)


def _file_names() -> list[str]:
    return [RULEPACK_FILE, *LIST_FILES.values()]


class _Reader:
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
    ) -> dict:
        if not isinstance(value, dict):
            raise self.fail(where, f"expected a mapping, found {type(value).__name__}")
        required, optional = list(required), list(optional)
        unknown = [k for k in value if k not in required and k not in optional]
        if unknown:
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


def _parse(file: str, text: str) -> Any:
    try:
        return load_strict_yaml(text)
    except YAMLError as exc:
        raise RulePackError(f"{file}: {exc}") from None


def _build(files: Mapping[str, bytes]) -> RulePack:
    texts = {}
    for name, data in files.items():
        try:
            texts[name] = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RulePackError(f"{name}: not UTF-8 text (byte {exc.start})") from None
    lists = {name: _read_list(name, file, texts[file]) for name, file in LIST_FILES.items()}
    pack = _read_prop64(texts[RULEPACK_FILE], lists)
    digests = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    return replace(pack, files=MappingProxyType(digests))


def _read_list(name: str, file: str, text: str) -> OffenseList:
    r = _Reader(file)
    doc = r.mapping(_parse(file, text), "", required=("name", "title", "citation", "entries"))
    if doc["name"] != name:
        raise r.fail("name", f"expected {name!r}, found {doc['name']!r}")
    if not isinstance(doc["entries"], list) or not doc["entries"]:
        raise r.fail("entries", "expected a non-empty list")
    entries = []
    for i, raw in enumerate(doc["entries"]):
        where = f"entries[{i}]"
        if isinstance(raw, dict) and isinstance(raw.get("section"), str):
            where += f" (section {raw['section']})"
        raw = r.mapping(
            raw,
            where,
            required=("section", "citation"),
            optional=("code", "subsections", "with_decimals", "requires_enhancement", "note"),
        )
        code = raw.get("code", "PC")
        if not isinstance(code, str) or not _CODE_RE.match(code):
            raise r.fail(where, f"'code' must be an upper-case code label like PC, found {code!r}")
        subsections = raw.get("subsections", [])
        if not isinstance(subsections, list) or ("subsections" in raw and not subsections):
            raise r.fail(where, "'subsections' must be a non-empty list when given")
        with_decimals = raw.get("with_decimals", False)
        if not isinstance(with_decimals, bool):
            raise r.fail(where, f"'with_decimals' must be true or false, found {with_decimals!r}")
        enhancement = raw.get("requires_enhancement")
        if enhancement is not None:
            enhancement = r.text(enhancement, where, "requires_enhancement")
            if not re.fullmatch(r"[0-9.]+[a-z]*(\([0-9a-z]+\))*", enhancement.lower()):
                raise r.fail(where, f"'requires_enhancement' {enhancement!r} is not a section")
        section = r.section(raw["section"], where)
        if section[-1].isalpha() and section not in lettered_sections():
            raise r.fail(
                where,
                f"section {section!r} has a letter but is not in extract/sections.yaml, so a "
                f"charge written {section.upper()} would be read as subsection "
                f"({section[-1]}) of another section; add it there",
            )
        note = raw.get("note")
        entries.append(
            OffenseEntry(
                code=code,
                section=section,
                subsections=tuple(r.subsection(s, where) for s in subsections),
                with_decimals=with_decimals,
                requires_enhancement=enhancement,
                citation=r.citation(raw, where),
                note=None if note is None else r.text(note, where, "note"),
            )
        )
    return OffenseList(
        name=name,
        title=r.text(doc["title"], "title", "title"),
        citation=r.citation(doc, ""),
        entries=tuple(entries),
    )


def _read_prop64(text: str, lists: Mapping[str, OffenseList]) -> RulePack:
    r = _Reader(RULEPACK_FILE)
    doc = r.mapping(
        _parse(RULEPACK_FILE, text),
        "",
        required=(
            "name",
            "version",
            "effective_date",
            "conviction_cutoff",
            "oldest_age",
            "sections",
            "attempt",
            "cannabis_words",
            "excluded_subsections",
            "disqualifiers",
            "rules",
        ),
    )
    name = r.text(doc["name"], "name", "name")
    version = r.text(doc["version"], "version", "version")

    dates = {}
    for key in ("effective_date", "conviction_cutoff"):
        raw = r.mapping(doc[key], key, required=("value", "citation"))
        dates[key] = (r.date(raw["value"], key), r.citation(raw, key))

    raw = r.mapping(doc["oldest_age"], "oldest_age", required=("value", "citation"))
    r.citation(raw, "oldest_age")
    oldest_age = raw["value"]
    if not isinstance(oldest_age, int) or isinstance(oldest_age, bool) or oldest_age < 1:
        raise r.fail("oldest_age", f"'value' must be a whole number of years, not {oldest_age!r}")

    sections: dict[str, CannabisSection] = {}
    for i, raw in enumerate(_list(r, doc["sections"], "sections")):
        where = f"sections[{i}]"
        raw = r.mapping(raw, where, required=("section", "name", "citation", "disqualifiers_apply"))
        section = r.section(raw["section"], where)
        if not isinstance(raw["disqualifiers_apply"], bool):
            raise r.fail(where, "'disqualifiers_apply' must be true or false")
        if section in sections:
            raise r.fail(where, f"section {section} listed twice")
        sections[section] = CannabisSection(
            section=section,
            name=r.text(raw["name"], where, "name"),
            citation=r.citation(raw, where),
            disqualifiers_apply=raw["disqualifiers_apply"],
        )

    raw = r.mapping(
        doc["attempt"], "attempt", required=("code", "section", "citation", "description")
    )
    attempt = Attempt(
        code=r.text(raw["code"], "attempt", "code"),
        section=r.section(raw["section"], "attempt"),
        citation=r.citation(raw, "attempt"),
        description=r.text(raw["description"], "attempt", "description"),
    )

    raw = r.mapping(
        doc["cannabis_words"], "cannabis_words", required=("patterns", "citation", "description")
    )
    patterns = tuple(
        r.text(p, "cannabis_words", "patterns") for p in _list(r, raw["patterns"], "patterns")
    )
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise r.fail("cannabis_words", f"pattern {pattern!r} is not valid: {exc}") from None
    cannabis_words = CannabisWords(
        patterns=patterns,
        citation=r.citation(raw, "cannabis_words"),
        description=r.text(raw["description"], "cannabis_words", "description"),
    )

    excluded = []
    for i, raw in enumerate(_list(r, doc["excluded_subsections"], "excluded_subsections")):
        where = f"excluded_subsections[{i}]"
        raw = r.mapping(raw, where, required=("section", "subsection", "citation", "description"))
        section = r.section(raw["section"], where)
        if section not in sections:
            raise r.fail(where, f"section {section} is not one of the sections in scope")
        excluded.append(
            ExcludedSubsection(
                section=section,
                subsection=r.subsection(raw["subsection"], where),
                citation=r.citation(raw, where),
                description=r.text(raw["description"], where, "description"),
            )
        )

    disqualifiers: dict[str, Disqualifier] = {}
    applies = {s for s, info in sections.items() if info.disqualifiers_apply}
    if not isinstance(doc["disqualifiers"], dict) or not doc["disqualifiers"]:
        raise r.fail("disqualifiers", "expected a non-empty mapping")
    for reason, raw in doc["disqualifiers"].items():
        where = f"disqualifiers.{reason}"
        raw = r.mapping(raw, where, required=("list", "min_priors", "citation", "subsections"))
        list_name = raw["list"]
        if list_name is not None and list_name not in lists:
            raise r.fail(where, f"unknown list {list_name!r} (known: {', '.join(lists)})")
        min_priors = raw["min_priors"]
        if not isinstance(min_priors, int) or isinstance(min_priors, bool) or min_priors < 1:
            raise r.fail(where, f"'min_priors' must be a positive whole number, not {min_priors!r}")
        subs = r.mapping(raw["subsections"], where + ".subsections", optional=sorted(applies))
        if set(subs) != applies:
            raise r.fail(where, f"'subsections' must name exactly {', '.join(sorted(applies))}")
        disqualifiers[reason] = Disqualifier(
            reason=reason,
            list_name=list_name,
            min_priors=min_priors,
            citation=r.citation(raw, where),
            subsections=MappingProxyType(
                {s: r.subsection(v, where) for s, v in sorted(subs.items())}
            ),
        )

    rules: dict[str, Rule] = {}
    ids: set[str] = set()
    for i, raw in enumerate(_list(r, doc["rules"], "rules")):
        where = f"rules[{i}]"
        if isinstance(raw, dict) and isinstance(raw.get("reason"), str):
            where += f" ({raw['reason']})"
        raw = r.mapping(
            raw,
            where,
            required=("reason", "id", "determination", "basis", "citation", "description"),
        )
        reason = r.text(raw["reason"], where, "reason")
        rule_id = r.text(raw["id"], where, "id")
        determinations = raw["determination"]
        if isinstance(determinations, str):
            determinations = [determinations]
        if (
            not isinstance(determinations, list)
            or not determinations
            or any(d not in DETERMINATIONS for d in determinations)
        ):
            raise r.fail(
                where,
                f"'determination' must be one or a list of {', '.join(DETERMINATIONS)}, "
                f"found {raw['determination']!r}",
            )
        if raw["basis"] not in BASES:
            raise r.fail(
                where, f"'basis' must be one of {', '.join(BASES)}, found {raw['basis']!r}"
            )
        if reason in rules:
            raise r.fail(where, f"reason {reason!r} has two rules")
        if rule_id in ids:
            raise r.fail(where, f"rule id {rule_id!r} is used twice")
        ids.add(rule_id)
        rules[reason] = Rule(
            reason=reason,
            id=rule_id,
            determinations=tuple(determinations),
            basis=raw["basis"],
            citation=r.citation(raw, where),
            description=r.text(raw["description"], where, "description"),
        )
    for reason in [*disqualifiers, "excluded_subsection"]:
        if reason not in rules:
            raise r.fail("rules", f"no rule for reason {reason!r}")

    return RulePack(
        name=name,
        version=version,
        effective_date=dates["effective_date"][0],
        effective_date_citation=dates["effective_date"][1],
        conviction_cutoff=dates["conviction_cutoff"][0],
        conviction_cutoff_citation=dates["conviction_cutoff"][1],
        oldest_age=oldest_age,
        sections=MappingProxyType(sections),
        attempt=attempt,
        cannabis_words=cannabis_words,
        excluded_subsections=tuple(excluded),
        disqualifiers=MappingProxyType(disqualifiers),
        rules=MappingProxyType(rules),
        lists=MappingProxyType(dict(lists)),
    )


def _list(r: _Reader, value: Any, where: str) -> list:
    if not isinstance(value, list) or not value:
        raise r.fail(where, "expected a non-empty list")
    return value
