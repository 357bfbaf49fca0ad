"""Rule packs: a law as a folder of data, read and checked before anything is decided.

A pack is a folder (docs/rule-packs.md; `src/clearance/packs/prop64` is the
worked example):

- `pack.yaml`: the pack's name and version, the statute's words, the law's
  data (dates, thresholds, section lists, each with its citation and the day it
  took effect), the scope and facts functions, the rules in their order of
  evaluation, how `explain` words each, and the policy's settings;
- the files it names: offense lists (`lists/*.yaml`), policy presets
  (`presets/*.yaml`) and readable cases (`cases/*.yaml`).

Everything is checked when read: an unknown key, a missing citation, a rule
whose test function does not exist or takes other arguments, a template that
does not parse, a policy setting no rule knows: each raises `RulePackError`
naming the file and the entry.  The pack's code is never read from the folder:
`functions` names a library registered in `clearance.rules`, so a pack folder
holds data only and `--law DIR` runs nothing but the installed engine.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any

import polars as pl

from clearance.law.offenses import (
    DEFAULT_ATTEMPT_COLUMN,
    DEFAULT_ENHANCEMENT_COLUMNS,
    OffenseList,
    any_true,
    enhancement_in,
    offense_in,
    offense_possibly_in,
    read_list,
    subsection_in,
)
from clearance.law.registry import library
from clearance.law.validate import SHIPPED, Reader, RulePackError, non_empty_list, parse
from clearance.law.wording import check_expression, check_template

__all__ = [
    "BASES",
    "DETERMINATIONS",
    "PACKS",
    "Datum",
    "Rule",
    "RulePack",
    "RulePackError",
    "Setting",
    "Step",
    "installed_packs",
    "load_pack",
    "load_rulepack",
    "read_rulepack",
]

DETERMINATIONS: tuple[str, ...] = ("dismiss", "reduce", "not_eligible", "review")
BASES: tuple[str, ...] = ("statute", "policy", "data")
PACK_FILE = "pack.yaml"
PACKS = Path(__file__).resolve().parent.parent / "packs"  # the installed packs
DEFAULT_PACK = "prop64"
DATA_KINDS = ("date", "years", "sections", "subsections", "offense", "patterns", "classes")
SETTING_KINDS = ("sections", "choice", "flag", "age", "years", "days", "date")
# A pack file larger than this is refused before it is read (the largest is ~40 kB).
MAX_FILE_BYTES = 2_000_000
_ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")


# --------------------------------------------------------------------------- types


class Entry(Mapping):
    """One entry of a datum's list, read as a mapping or by attribute (`entry.section`)."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_values", dict(values))

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __getattr__(self, key: str) -> Any:
        try:
            return self._values[key]
        except KeyError:
            raise AttributeError(key) from None

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError("rule-pack entries are read-only")

    def __repr__(self) -> str:
        return f"Entry({self._values!r})"


@dataclass(frozen=True)
class Datum:
    """One value of the law's data, with where it comes from and when it took effect."""

    name: str
    kind: str
    value: Any  # a date, a number, a tuple of entries (mappings), a mapping, or patterns
    citation: str
    since: dt.date | None
    description: str

    def shown(self) -> str:
        """The value as a line of text (`clearance laws show`)."""
        if self.kind == "sections":
            return ", ".join(f"{e['section']} ({e['name']})" for e in self.value)
        if self.kind == "subsections":
            return ", ".join(e["citation"] for e in self.value)
        if self.kind == "offense":
            return f"{self.value['code']} {self.value['section']}"
        if self.kind == "patterns":
            return ", ".join(self.value)
        if self.kind == "classes":
            return ", ".join(e["name"] for e in self.value)
        return str(self.value)


@dataclass(frozen=True)
class Rule:
    """A reason code as determinations carry it: the rule id, citation and words."""

    reason: str
    id: str
    determinations: tuple[str, ...]  # what the rule can produce
    basis: str  # statute | policy | data
    citation: str
    statute: tuple[str, ...]  # keys of the pack's `statutes`
    description: str
    label: str = ""  # a few words, for the report's tables
    ground: str | None = None  # the ground of challenge a filing states (not_eligible)

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
class Step:
    """One rule in the order of evaluation: its test, its outcome, its wording."""

    id: str  # the test column is t_<id>
    reason: str
    determination: str | None  # None: the policy setting `policy_determination` chooses
    policy_determination: str | None
    function: str
    arguments: Mapping[str, Any]
    enabled_by: str | None  # a policy setting; the rule is not used when it is off
    unknown_recorded: bool  # an unknown test is listed in `not_tested`
    pinpoints: Mapping[str, str]  # section -> narrower citation
    explain: str  # a Jinja template
    kind: str | None = None  # the kind of row the rule decides (a pack with `kinds`)
    path: str | None = None  # the path of relief the rule grants, shown in `path`
    eligible_on: str | None = None  # the column holding the day relief is due
    by_date: tuple[str, str] | None = None  # (on or before the as-of date, after it)
    rule: Rule | None = None  # the rule it gives (by reason, or its kind's own)


@dataclass(frozen=True)
class Setting:
    """One key of the pack's policy schema."""

    key: str  # dotted: additional_relief.age_threshold
    kind: str  # sections | choice | flag | age | years
    description: str
    choices: tuple[str, ...] = ()
    range: tuple[int, int] | None = None


@dataclass(frozen=True)
class Guard:
    when: str  # a Jinja expression over the row
    says: str  # a Jinja template
    only: tuple[str, ...] | None  # step ids it applies to (None: all but `except_`)
    except_: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class RulePack:
    name: str
    title: str
    version: str
    citation: str
    summary: str
    functions: str  # the registered function library (clearance.rules)
    determinations: tuple[str, ...]
    statutes: Mapping[str, str]  # provision -> its words
    data: Mapping[str, Datum]
    lists: Mapping[str, OffenseList]
    scope_function: str
    scope_citation: str
    scope_description: str
    facts: tuple[tuple[str, Mapping[str, Any]], ...]  # (function, arguments), in order
    steps: tuple[Step, ...]
    rules: Mapping[str, Rule]  # by reason, in order of first use
    guards: tuple[Guard, ...]
    settings: Mapping[str, Setting]
    default_policy: str
    folder: Path
    installed: bool
    files: Mapping[str, str] = field(default_factory=dict)  # relative path -> SHA-256
    kinds: tuple[str, ...] = ()  # the kinds of rows decided (empty: convictions only)
    finish: tuple[tuple[str, Mapping[str, Any]], ...] = ()  # (function, arguments)
    # Files of other installed packs this one reads (a shared list): name -> bytes.
    borrowed: Mapping[str, bytes] = field(default_factory=dict)
    # Each determination in plain words, for people (the workbook): code -> words.
    determination_labels: Mapping[str, str] = field(default_factory=dict)

    # ---------------------------------------------------------------- provenance

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
            "source": "installed" if self.installed else str(self.folder),
            "files": dict(sorted(self.files.items())),
        }

    @property
    def presets_folder(self) -> Path:
        return self.folder / "presets"

    @property
    def cases_folder(self) -> Path:
        return self.folder / "cases"

    # ---------------------------------------------------------------------- data

    def value(self, name: str) -> Any:
        """The value of the datum `name` (a date, a number, entries...)."""
        try:
            return self.data[name].value
        except KeyError:
            raise RulePackError(
                f"rule pack {self.name} has no datum {name!r} (it has: {', '.join(self.data)})"
            ) from None

    @property
    def effective_date(self) -> dt.date:
        """The day the law took effect: no as-of date before it is accepted."""
        return self.value("effective_date")

    @property
    def effective_date_citation(self) -> str:
        return self.data["effective_date"].citation

    @property
    def conviction_cutoff(self) -> dt.date:
        return self.value("conviction_cutoff")

    @property
    def conviction_cutoff_citation(self) -> str:
        return self.data["conviction_cutoff"].citation

    @property
    def last_conviction_date(self) -> dt.date:
        """Alias of `conviction_cutoff`: the last conviction date in scope."""
        return self.conviction_cutoff

    @property
    def oldest_age(self) -> int:
        return self.value("oldest_age")

    @cached_property
    def sections(self) -> Mapping[str, Mapping[str, Any]]:
        """The sections decided (datum `sections`), by section number."""
        return MappingProxyType({e["section"]: e for e in self.value("sections")})

    @property
    def cannabis_sections(self) -> tuple[str, ...]:
        return tuple(self.sections)

    @property
    def disqualifier_sections(self) -> tuple[str, ...]:
        """The sections the statutory disqualifiers apply to (`disqualifiers_apply`)."""
        return tuple(s for s, e in self.sections.items() if e.get("disqualifiers_apply"))

    @property
    def excluded_subsections(self) -> tuple[Mapping[str, Any], ...]:
        return self.value("excluded_subsections")

    # --------------------------------------------------------------------- rules

    def rules_by_reason(self) -> Mapping[str, Rule]:
        """The rules table by reason code, in the order of evaluation."""
        return self.rules

    def rule_for(self, kind: str | None, reason: str) -> Rule:
        """The rule a row of ``kind`` decided with ``reason`` carries (a reason two
        kinds share may rest on each kind's own provision)."""
        for step in self.steps:
            same_kind = kind is None or step.kind in (None, kind)
            if step.reason == reason and same_kind and step.rule is not None:
                return step.rule
        return self.rule(reason)

    def rule(self, reason: str) -> Rule:
        try:
            return self.rules[reason]
        except KeyError:
            known = ", ".join(self.rules)
            raise KeyError(f"no rule for reason {reason!r}; known reasons: {known}") from None

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(f"no rule {step_id!r} in rule pack {self.name}")

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

    def pinpoint(
        self, reason: str | None, section: str | None, subsection: str | None
    ) -> str | None:
        """The narrowest citation the pack gives for a reason and a conviction's section.

        A rule's `pinpoints` name the subsection where each section states it
        (`prior_superstrike` on HS 11359 is HS 11359(c)(1)); a rule testing
        subsections cites the listed subsection the conviction falls under.
        None when the pack gives nothing narrower than the rule's citation.
        """
        for step in self.steps:
            if step.reason != reason or not section:
                continue
            if section in step.pinpoints:
                return step.pinpoints[section]
            listed = step.arguments.get("subsections")
            if isinstance(listed, str) and subsection and listed in self.data:
                for entry in self.value(listed):
                    if entry["section"] == section and subsection.lower().startswith(
                        entry["subsection"]
                    ):
                        return entry["citation"]
        return None

    # ------------------------------------------------------------------ matching

    def offense_in(
        self,
        list_name: str,
        *,
        enhancement_columns: tuple[str, ...] | list[str] = DEFAULT_ENHANCEMENT_COLUMNS,
        attempt_column: str | None = DEFAULT_ATTEMPT_COLUMN,
        normalised: bool = False,
    ) -> pl.Expr:
        """Boolean expression: the row's offense is on the named list (see law.offenses;
        ``normalised``: the frame has the columns of ``law.offenses.normalised()``)."""
        return offense_in(
            self._list(list_name), tuple(enhancement_columns), attempt_column=attempt_column,
            normalised=normalised,
        )  # fmt: skip

    def offense_possibly_in(
        self,
        list_name: str,
        *,
        enhancement_columns: tuple[str, ...] | list[str] = DEFAULT_ENHANCEMENT_COLUMNS,
        attempt_column: str | None = DEFAULT_ATTEMPT_COLUMN,
        normalised: bool = False,
    ) -> pl.Expr:
        """Boolean expression: the row's offense is on the named list only in a form the
        charge may not show (a fact entry; see law.offenses)."""
        return offense_possibly_in(
            self._list(list_name), tuple(enhancement_columns), attempt_column=attempt_column,
            normalised=normalised,
        )  # fmt: skip

    def enhancement_in(
        self,
        list_name: str,
        *,
        enhancement_columns: tuple[str, ...] | list[str] = DEFAULT_ENHANCEMENT_COLUMNS,
        normalised: bool = False,
    ) -> pl.Expr:
        """Boolean expression: the row names an enhancement of the named list (see law.offenses)."""
        return enhancement_in(
            self._list(list_name), tuple(enhancement_columns), normalised=normalised
        )

    def _list(self, list_name: str) -> OffenseList:
        try:
            return self.lists[list_name]
        except KeyError:
            raise KeyError(
                f"no offense list {list_name!r}; known lists: {', '.join(self.lists)}"
            ) from None

    def matches(self, datum: str, *columns: str) -> pl.Expr:
        """Boolean expression: a text column matches one of the datum's patterns (upper case).

        Never null: a row whose columns are all empty is false.
        """
        pattern = "|".join(f"(?:{p})" for p in self.value(datum))
        return any_true(pl.col(c).str.to_uppercase().str.contains(pattern) for c in columns)

    def names_cannabis(self, *columns: str) -> pl.Expr:
        """`matches("cannabis_words", ...)`: the text names cannabis."""
        return self.matches("cannabis_words", *columns)

    def classify(self, datum: str, column: str) -> pl.Expr:
        """The first class of the datum (kind ``classes``) whose patterns the text matches.

        The text is trimmed and upper-cased; a class matches when all the patterns of
        any one of its alternatives are found in it. Null when none does.
        """
        text = pl.col(column).cast(pl.String).str.strip_chars().str.to_uppercase()
        expr: Any = None
        for entry in reversed(self.value(datum)):
            found = any_true(
                pl.all_horizontal([text.str.contains(p).fill_null(False) for p in alternative])
                for alternative in entry["any_of"]
            )
            if expr is None:
                expr = pl.when(found).then(pl.lit(entry["name"])).otherwise(pl.lit(None, pl.String))
            else:
                expr = pl.when(found).then(pl.lit(entry["name"])).otherwise(expr)
        return expr

    def classes(self, datum: str) -> Mapping[str, Mapping[str, Any]]:
        """The classes of a datum of kind ``classes``, by name, in order."""
        return MappingProxyType({e["name"]: e for e in self.value(datum)})

    def subsection_in(self, datum: str, section_column: str = "cannabis_section") -> pl.Expr:
        """Boolean expression: the row's section and subsection fall under a listed subsection.

        Each entry of the `subsections` datum also covers deeper subsections.  Never null.
        """
        section = pl.col(section_column).cast(pl.String)
        subsection = pl.col("subsection").cast(pl.String)
        terms = [
            (section == item["section"]) & subsection_in(subsection, (item["subsection"],))
            for item in self.value(datum)
        ]
        return any_true(terms).alias(datum)

    def excluded_subsection(self) -> pl.Expr:
        """`subsection_in("excluded_subsections")`."""
        return self.subsection_in("excluded_subsections").alias("excluded_subsection")


# ------------------------------------------------------------------------ loading


def installed_packs() -> tuple[str, ...]:
    """The names of the packs shipped with clearance, the default first."""
    names = sorted(p.name for p in PACKS.iterdir() if (p / PACK_FILE).is_file())
    return tuple(sorted(names, key=lambda n: n != DEFAULT_PACK))


@cache
def _installed(name: str) -> RulePack:
    shipped = SHIPPED.set(True)
    try:
        return _read_folder(PACKS / name, installed=True)
    finally:
        SHIPPED.reset(shipped)


def load_pack(name_or_dir: str | Path | None = None) -> RulePack:
    """A pack by installed name (`prop64`) or from a folder (`--law DIR`).

    Installed packs are read once; a folder is read every time (it may change).
    """
    if name_or_dir is None:
        return _installed(DEFAULT_PACK)
    text = str(name_or_dir)
    if isinstance(name_or_dir, str) and _NAME_RE.match(text) and text in installed_packs():
        return _installed(text)
    path = Path(name_or_dir)
    if path.is_dir():
        return _read_folder(path, installed=False)
    if isinstance(name_or_dir, str) and _NAME_RE.match(text):
        raise RulePackError(
            f"{text}: no such rule pack (installed: {', '.join(installed_packs())}; "
            "or give the folder of a pack)"
        )
    raise RulePackError(f"{path}: not a rule-pack folder (no such folder)")


def load_rulepack() -> RulePack:
    """The default pack shipped with the package (Prop 64), read and checked once."""
    return _installed(DEFAULT_PACK)


def read_rulepack(directory: str | Path) -> RulePack:
    """A rule pack from a folder (not cached)."""
    return _read_folder(Path(directory), installed=False)


def _read_folder(folder: Path, *, installed: bool) -> RulePack:
    folder = folder.resolve()
    main = folder / PACK_FILE
    if not main.is_file():
        raise RulePackError(f"{main}: rule-pack file not found")
    raw: dict[str, bytes] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix()
        if any(part.startswith(".") or part == "__pycache__" for part in Path(relative).parts):
            continue
        if path.stat().st_size > MAX_FILE_BYTES:
            raise RulePackError(f"{relative}: larger than {MAX_FILE_BYTES:,} bytes")
        raw[relative] = path.read_bytes()
    texts: dict[str, str] = {}
    for name, data in raw.items():
        if not name.endswith((".yaml", ".yml", ".md")):
            continue
        try:
            texts[name] = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RulePackError(f"{name}: not UTF-8 text (byte {exc.start})") from None
    pack = _read_pack(texts, folder, installed)
    digests = {name: hashlib.sha256(data).hexdigest() for name, data in raw.items()}
    digests.update({name: hashlib.sha256(data).hexdigest() for name, data in pack.borrowed.items()})
    object.__setattr__(pack, "files", MappingProxyType(digests))
    return pack


# ------------------------------------------------------------------------ reading

_TOP_REQUIRED = (
    "name", "title", "version", "citation", "summary", "functions",
    "determinations", "statutes", "data", "scope", "facts", "rules", "policy",
)  # fmt: skip
_TOP_OPTIONAL = ("lists", "explain", "cases", "kinds", "finish", "determination_labels")


def _read_pack(texts: Mapping[str, str], folder: Path, installed: bool) -> RulePack:

    r = Reader(PACK_FILE)
    doc = r.mapping(
        parse(PACK_FILE, texts[PACK_FILE]), "", required=_TOP_REQUIRED, optional=_TOP_OPTIONAL
    )
    name = r.text(doc["name"], "name", "name")
    if not _NAME_RE.match(name):
        raise r.fail("name", f"{name!r} must be lower-case letters, digits and hyphens")
    determinations = tuple(non_empty_list(r, doc["determinations"], "determinations"))
    for d in determinations:
        if not isinstance(d, str) or not _ID_RE.match(d):
            raise r.fail("determinations", f"{d!r} is not a determination name")
    labels = r.mapping(doc.get("determination_labels") or {}, "determination_labels",
                       any_other=True)  # fmt: skip
    for code, words in labels.items():
        if code not in determinations:
            raise r.fail("determination_labels", f"{code!r} is not one of 'determinations'")
        r.text(words, "determination_labels", code)
    statutes = _read_statutes(r, doc["statutes"])
    data = _read_data(r, doc["data"], texts)
    if "effective_date" not in data or data["effective_date"].kind != "date":
        raise r.fail("data", "missing 'effective_date' (kind: date), the day the law took effect")
    borrowed: dict[str, bytes] = {}
    lists = _read_lists(r, doc.get("lists") or {}, texts, borrowed)
    kinds: tuple[str, ...] = ()
    if "kinds" in doc:
        kinds = tuple(non_empty_list(r, doc["kinds"], "kinds"))
        for k in kinds:
            if not isinstance(k, str) or not _ID_RE.match(k):
                raise r.fail("kinds", f"{k!r} is not a kind name (lower case, underscores)")
    functions = library(r.text(doc["functions"], "functions", "functions"), r)

    scope = r.mapping(doc["scope"], "scope", required=("function", "citation", "description"))
    functions.check_scope(r.text(scope["function"], "scope", "function"), r)
    facts = []
    for i, raw in enumerate(non_empty_list(r, doc["facts"], "facts")):
        where = f"facts[{i}]"
        raw = dict(r.mapping(raw, where, required=("function",), any_other=True))
        function = r.text(raw.pop("function"), where, "function")
        functions.check_fact(function, raw, where, r)
        facts.append((function, MappingProxyType(raw)))

    settings = _read_settings(r, doc["policy"])
    steps, rules = _read_rules(
        r, doc["rules"], statutes, determinations, settings, data, lists, kinds
    )
    for step in steps:
        functions.check_test(step, steps, r)
    finish = []
    for i, raw in enumerate(doc.get("finish") or []):
        where = f"finish[{i}]"
        raw = dict(r.mapping(raw, where, required=("function",), any_other=True))
        function = r.text(raw.pop("function"), where, "function")
        functions.check_finish(function, raw, where, r)
        finish.append((function, MappingProxyType(raw)))
    guards = _read_guards(r, doc.get("explain") or {}, steps)

    policy = r.mapping(doc["policy"], "policy", required=("presets", "default", "settings"))
    if r.text(policy["presets"], "policy", "presets") != "presets":
        raise r.fail("policy", "'presets' must be the folder 'presets'")
    default = r.text(policy["default"], "policy", "default")
    if f"presets/{default}.yaml" not in texts:
        raise r.fail("policy", f"default preset {default!r} is not in presets/")
    if doc.get("cases", "cases") != "cases":
        raise r.fail("cases", "'cases' must be the folder 'cases'")
    pack = RulePack(
        name=name,
        title=r.text(doc["title"], "title", "title"),
        version=r.text(str(doc["version"]), "version", "version"),
        citation=r.citation(doc, ""),
        summary=r.text(doc["summary"], "summary", "summary"),
        functions=functions.name,
        determinations=determinations,
        statutes=MappingProxyType(statutes),
        data=MappingProxyType(data),
        lists=MappingProxyType(lists),
        scope_function=scope["function"],
        scope_citation=r.citation(scope, "scope"),
        scope_description=r.text(scope["description"], "scope", "description"),
        facts=tuple(facts),
        steps=tuple(steps),
        rules=MappingProxyType(rules),
        guards=guards,
        settings=MappingProxyType(settings),
        default_policy=default,
        folder=folder,
        installed=installed,
        kinds=kinds,
        finish=tuple(finish),
        borrowed=MappingProxyType(borrowed),
        determination_labels=MappingProxyType(dict(labels)),
    )
    functions.check_pack(pack, r)
    return pack


def _read_statutes(r: Reader, raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict) or not raw:
        raise r.fail("statutes", "expected a mapping of provision to its words")
    return {
        r.text(key, "statutes", "provision"): " ".join(
            r.text(text, f"statutes.{key}", "text").split()
        )
        for key, text in raw.items()
    }


def _read_data(r: Reader, raw: Any, texts: Mapping[str, str]) -> dict[str, Datum]:
    if not isinstance(raw, dict) or not raw:
        raise r.fail("data", "expected a non-empty mapping")
    data = {}
    for key, item in raw.items():
        where = f"data.{key}"
        if not isinstance(key, str) or not _ID_RE.match(key):
            raise r.fail("data", f"{key!r} is not a datum name (lower case, underscores)")
        kind = item.get("kind") if isinstance(item, dict) else None
        if kind not in DATA_KINDS:
            raise r.fail(where, f"'kind' must be one of {', '.join(DATA_KINDS)}, found {kind!r}")
        base = ("kind", "citation", "description")
        extra = {
            "date": ("value",),
            "years": ("value",),
            "sections": ("entries",),
            "subsections": ("entries",),
            "offense": ("code", "section"),
            "patterns": ("patterns",),
            "classes": ("file",),
        }[kind]
        item = r.mapping(item, where, required=base + extra, optional=("since",))
        since = r.date(item["since"], where) if "since" in item else None
        data[key] = Datum(
            name=key,
            kind=kind,
            value=_read_classes(r, item, where, texts)
            if kind == "classes"
            else _datum_value(r, kind, item, where),
            citation=r.citation(item, where),
            since=since,
            description=" ".join(r.text(item["description"], where, "description").split()),
        )
    return data


def _datum_value(r: Reader, kind: str, item: dict, where: str) -> Any:
    if kind == "date":
        return r.date(item["value"], where)
    if kind == "years":
        value = item["value"]
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise r.fail(where, f"'value' must be a whole number of years, not {value!r}")
        return value
    if kind == "offense":
        return Entry(
            {
                "code": r.text(item["code"], where, "code"),
                "section": r.section(item["section"], where),
            }
        )
    if kind == "patterns":
        patterns = tuple(
            r.text(p, where, "patterns") for p in non_empty_list(r, item["patterns"], where)
        )
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise r.fail(where, f"pattern {pattern!r} is not valid: {exc}") from None
        return patterns
    entries = []
    seen = set()
    for i, raw in enumerate(non_empty_list(r, item["entries"], where)):
        at = f"{where}.entries[{i}]"
        if kind == "sections":
            raw = r.mapping(raw, at, required=("section", "name", "citation"),
                            optional=("disqualifiers_apply",))  # fmt: skip
            section = r.section(raw["section"], at)
            if section in seen:
                raise r.fail(at, f"section {section} listed twice")
            seen.add(section)
            applies = raw.get("disqualifiers_apply", False)
            if not isinstance(applies, bool):
                raise r.fail(at, "'disqualifiers_apply' must be true or false")
            entries.append(Entry({
                "section": section, "name": r.text(raw["name"], at, "name"),
                "citation": r.citation(raw, at), "disqualifiers_apply": applies,
            }))  # fmt: skip
        else:
            raw = r.mapping(raw, at, required=("section", "subsection", "citation", "description"))
            entries.append(Entry({
                "section": r.section(raw["section"], at),
                "subsection": r.subsection(raw["subsection"], at),
                "citation": r.citation(raw, at),
                "description": r.text(raw["description"], at, "description"),
            }))  # fmt: skip
    return tuple(entries)


def _read_classes(r: Reader, item: Mapping, where: str, texts: Mapping[str, str]) -> tuple:
    """A datum of kind ``classes``: ordered classes of text, each with its citation.

    The file holds ``classes``, a list of ``{name, final, citation, description,
    any_of}``; ``any_of`` lists alternatives, each a list of regular expressions that
    must all be found in the (trimmed, upper-case) text. The first class that matches
    wins, so the file lists the most specific first.
    """
    file = r.text(item["file"], where, "file")
    if file not in texts:
        raise r.fail(where, f"file {file!r} not found in the pack's folder")
    fr = Reader(file)
    doc = fr.mapping(parse(file, texts[file]), "", required=("title", "citation", "classes"))
    entries = []
    names: set[str] = set()
    for i, raw in enumerate(non_empty_list(fr, doc["classes"], "classes")):
        at = f"classes[{i}]"
        raw = fr.mapping(raw, at, required=("name", "final", "citation", "description", "any_of"))
        name = fr.text(raw["name"], at, "name")
        if not _ID_RE.match(name) or name in names:
            raise fr.fail(at, f"class name {name!r} is not a new lower-case name")
        names.add(name)
        if not isinstance(raw["final"], bool):
            raise fr.fail(at, "'final' must be true or false")
        alternatives = []
        for j, alternative in enumerate(non_empty_list(fr, raw["any_of"], f"{at}.any_of")):
            patterns = alternative if isinstance(alternative, list) else [alternative]
            checked = []
            for pattern in patterns:
                pattern = fr.text(pattern, f"{at}.any_of[{j}]", "pattern")
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise fr.fail(at, f"pattern {pattern!r} is not valid: {exc}") from None
                checked.append(pattern)
            alternatives.append(tuple(checked))
        entries.append(Entry({
            "name": name, "final": raw["final"], "citation": fr.citation(raw, at),
            "description": " ".join(fr.text(raw["description"], at, "description").split()),
            "any_of": tuple(alternatives),
        }))  # fmt: skip
    return tuple(entries)


def _read_lists(
    r: Reader, raw: Any, texts: Mapping[str, str], borrowed: dict[str, bytes]
) -> dict[str, OffenseList]:
    """The pack's offense lists: its own files, or (``pack: NAME``) the same list of
    another installed pack, read from there so the law is written once."""
    if not isinstance(raw, dict):
        raise r.fail("lists", "expected a mapping of list name to its file")
    lists = {}
    for name, item in raw.items():
        where = f"lists.{name}"
        item = r.mapping(item, where, required=("file", "since"), optional=("pack",))
        file = r.text(item["file"], where, "file")
        if "pack" in item:
            other = r.text(item["pack"], where, "pack")
            if not _NAME_RE.match(other) or not (PACKS / other / PACK_FILE).is_file():
                raise r.fail(where, f"no installed rule pack {other!r} to take the list from")
            path = PACKS / other / file
            if not path.is_file():
                raise r.fail(where, f"file {file!r} not found in the pack {other}")
            data = path.read_bytes()
            borrowed[f"{other}:{file}"] = data
            text = data.decode("utf-8")
        elif file not in texts:
            raise r.fail(where, f"file {file!r} not found in the pack's folder")
        else:
            text = texts[file]
        lists[name] = read_list(name, file, text, since=r.date(item["since"], where))
    return lists


def _read_settings(r: Reader, raw: Any) -> dict[str, Setting]:
    policy = r.mapping(raw, "policy", required=("presets", "default", "settings"))
    if not isinstance(policy["settings"], dict) or not policy["settings"]:
        raise r.fail("policy.settings", "expected a non-empty mapping")
    settings = {}
    for key, item in policy["settings"].items():
        where = f"policy.settings.{key}"
        item = r.mapping(
            item, where, required=("kind", "description"), optional=("choices", "range")
        )
        if item["kind"] not in SETTING_KINDS:
            raise r.fail(where, f"'kind' must be one of {', '.join(SETTING_KINDS)}")
        choices = tuple(item.get("choices") or ())
        if (item["kind"] == "choice") != bool(choices):
            raise r.fail(where, "'choices' are given for, and only for, kind choice")
        bounds = item.get("range")
        if (item["kind"] in ("age", "years", "days")) != (bounds is not None):
            raise r.fail(where, "'range' is given for, and only for, kinds age, years and days")
        whole = isinstance(bounds, list) and all(isinstance(b, int) for b in bounds)
        if bounds is not None and not (whole and len(bounds) == 2 and bounds[0] <= bounds[1]):
            raise r.fail(where, f"'range' must be [lowest, highest], found {bounds!r}")
        settings[key] = Setting(
            key=key,
            kind=item["kind"],
            description=" ".join(r.text(item["description"], where, "description").split()),
            choices=choices,
            range=None if bounds is None else (bounds[0], bounds[1]),
        )
    return settings


_STEP_REQUIRED = ("id", "reason", "determination", "test", "explain")
_STEP_OPTIONAL = ("rule_id", "basis", "citation", "statute", "description", "enabled_by",
                  "unknown", "pinpoints", "label", "ground", "kind", "path",
                  "eligible_on")  # fmt: skip
_REASON_KEYS = ("rule_id", "basis", "citation", "statute", "description", "label")


def _read_rules(
    r: Reader,
    raw_rules: Any,
    statutes: Mapping[str, str],
    determinations: tuple[str, ...],
    settings: Mapping[str, Setting],
    data: Mapping[str, Datum],
    lists: Mapping[str, OffenseList],
    kinds: tuple[str, ...] = (),
) -> tuple[list[Step], dict[str, Rule]]:
    steps: list[Step] = []
    rules: dict[str, Rule] = {}
    kind_of_reason: dict[str, str | None] = {}
    own_rules: dict[tuple[str | None, str], Rule] = {}
    produced: dict[str, list[str]] = {}
    ids: set[str] = set()
    for i, raw in enumerate(non_empty_list(r, raw_rules, "rules")):
        where = f"rules[{i}]"
        if isinstance(raw, dict) and isinstance(raw.get("id"), str):
            where += f" ({raw['id']})"
        raw = r.mapping(raw, where, required=_STEP_REQUIRED, optional=_STEP_OPTIONAL)
        step_id = r.text(raw["id"], where, "id")
        if not _ID_RE.match(step_id):
            raise r.fail(where, f"'id' {step_id!r} must be lower case letters, digits, underscores")
        if step_id in ids:
            raise r.fail(where, f"rule id {step_id!r} is used twice")
        ids.add(step_id)
        reason = r.text(raw["reason"], where, "reason")
        kind = raw.get("kind")
        if kinds and kind not in kinds:
            raise r.fail(where, f"'kind' must be one of {', '.join(kinds)}, found {kind!r}")
        if not kinds and kind is not None:
            raise r.fail(where, "'kind' is given, but the pack declares no 'kinds'")

        outcome = raw["determination"]
        fixed: str | None = None
        chosen_by: str | None = None
        by_date: tuple[str, str] | None = None
        if isinstance(outcome, dict) and "by_date" in outcome:
            outcome = r.mapping(outcome, where + ".determination", required=("by_date",))
            pair = outcome["by_date"]
            if not (isinstance(pair, list) and len(pair) == 2):
                raise r.fail(where, "'by_date' must be [on or before the as-of date, after it]")
            by_date = (pair[0], pair[1])
            possible = list(pair)
            if not isinstance(raw.get("eligible_on"), str) or not raw.get("path"):
                raise r.fail(where, "a determination 'by_date' needs 'path' and 'eligible_on'")
        elif isinstance(outcome, dict):
            outcome = r.mapping(outcome, where + ".determination", required=("policy", "one_of"))
            chosen_by = r.text(outcome["policy"], where, "determination.policy")
            if chosen_by not in settings or settings[chosen_by].kind != "choice":
                raise r.fail(where, f"'determination' names {chosen_by!r}, not a choice setting")
            possible = list(outcome["one_of"]) if isinstance(outcome["one_of"], list) else []
            if sorted(possible) != sorted(settings[chosen_by].choices):
                raise r.fail(where, f"'one_of' must be the choices of {chosen_by}")
        else:
            fixed = outcome
            possible = [outcome]
        for d in possible:
            if d not in determinations:
                raise r.fail(
                    where,
                    f"'determination' must be one of {', '.join(determinations)} or "
                    f"{{policy: SETTING, one_of: [...]}}, found {raw['determination']!r}",
                )

        own = reason in rules and kind_of_reason.get(reason) != kind and "rule_id" in raw
        if own:  # a reason another kind declared, on this kind's own provision
            missing = [k for k in ("rule_id", "citation", "statute", "description") if k not in raw]
            if missing:
                raise r.fail(where, f"missing {missing[0]!r} (this kind's own rule)")
            for key in raw["statute"] if isinstance(raw["statute"], list) else [None]:
                if key not in statutes:
                    raise r.fail(where, f"statute {key!r} is not quoted in 'statutes'")
            base = rules[reason]
            own_rules[(kind, reason)] = Rule(
                reason=reason,
                id=r.text(raw["rule_id"], where, "rule_id"),
                determinations=(),
                basis=raw.get("basis", base.basis),
                citation=r.citation(raw, where),
                statute=tuple(raw["statute"]),
                description=" ".join(r.text(raw["description"], where, "description").split()),
                label=raw.get("label", base.label),
                ground=_optional_text(r, raw, "ground", where) or base.ground,
            )
        elif reason in rules:
            repeated = [k for k in (*_REASON_KEYS, "ground") if k in raw]
            if repeated:
                raise r.fail(
                    where,
                    f"reason {reason!r} is declared by an earlier rule; {repeated[0]!r} "
                    "belongs there only",
                )
        else:
            missing = [k for k in _REASON_KEYS if k not in raw]
            if missing:
                raise r.fail(where, f"missing {missing[0]!r}")
            if raw["basis"] not in BASES:
                raise r.fail(
                    where, f"'basis' must be one of {', '.join(BASES)}, found {raw['basis']!r}"
                )
            cited = raw["statute"] if isinstance(raw["statute"], list) else None
            if not cited:
                raise r.fail(where, "'statute' must list provisions of 'statutes'")
            for key in cited:
                if key not in statutes:
                    raise r.fail(where, f"statute {key!r} is not quoted in 'statutes'")
            rule_id = r.text(raw["rule_id"], where, "rule_id")
            if any(rule.id == rule_id for rule in rules.values()):
                raise r.fail(where, f"rule id {rule_id!r} is used twice")
            rules[reason] = Rule(
                reason=reason,
                id=rule_id,
                determinations=(),
                basis=raw["basis"],
                citation=r.citation(raw, where),
                statute=tuple(cited),
                description=" ".join(r.text(raw["description"], where, "description").split()),
                label=r.text(raw["label"], where, "label"),
                ground=_optional_text(r, raw, "ground", where),
            )
            kind_of_reason[reason] = kind
        produced.setdefault(reason, [])
        produced[reason] += [d for d in possible if d not in produced[reason]]

        enabled_by = raw.get("enabled_by")
        if enabled_by is not None and enabled_by not in settings:
            raise r.fail(where, f"'enabled_by' {enabled_by!r} is not a policy setting")
        unknown = raw.get("unknown", "does_not_apply")
        if unknown not in ("recorded", "does_not_apply"):
            raise r.fail(where, f"'unknown' must be recorded or does_not_apply, found {unknown!r}")
        test = raw["test"]
        if isinstance(test, str):
            function, arguments = test, {}
        else:
            test = dict(r.mapping(test, where + ".test", required=("function",), any_other=True))
            function, arguments = r.text(test.pop("function"), where, "test.function"), test
        for key, value in arguments.items():
            if isinstance(value, dict):
                ref = r.mapping(value, f"{where}.test.{key}", required=("setting",))
                if ref["setting"] not in settings:
                    raise r.fail(where, f"test argument {key!r} names an unknown setting")
        pinpoints = raw.get("pinpoints") or {}
        if not isinstance(pinpoints, dict):
            raise r.fail(where, "'pinpoints' must map a section to its citation")
        steps.append(
            Step(
                id=step_id,
                reason=reason,
                determination=fixed,
                policy_determination=chosen_by,
                function=function,
                arguments=MappingProxyType(arguments),
                enabled_by=enabled_by,
                unknown_recorded=unknown == "recorded",
                pinpoints=MappingProxyType(
                    {
                        r.section(k, where, "pinpoints"): r.text(v, where, "pinpoints")
                        for k, v in pinpoints.items()
                    }
                ),
                explain=_template(r, raw["explain"], where),
                kind=kind,
                path=_optional_text(r, raw, "path", where),
                eligible_on=_optional_text(r, raw, "eligible_on", where),
                by_date=by_date,
                rule=own_rules.get((kind, reason)) if own else None,
            )
        )
    rules = {
        reason: Rule(**{**rule.__dict__, "determinations": tuple(produced[reason])})
        for reason, rule in rules.items()
    }
    done = []
    for step in steps:
        chosen = step.rule
        if chosen is not None:
            chosen = Rule(**{**chosen.__dict__, "determinations": tuple(produced[step.reason])})
        done.append(Step(**{**step.__dict__, "rule": chosen or rules[step.reason]}))
    return done, rules


def _optional_text(r: Reader, raw: dict, key: str, where: str) -> str | None:
    return None if raw.get(key) is None else r.text(raw[key], where, key)


def _template(r: Reader, text: Any, where: str) -> str:

    text = r.text(text, where, "explain")
    problem = check_template(text)
    if problem:
        raise r.fail(where, f"'explain' is not a valid template: {problem}")
    return text


def _read_guards(r: Reader, raw: Any, steps: list[Step]) -> tuple[Guard, ...]:

    raw = r.mapping(raw, "explain", optional=("guards",))
    ids = {s.id for s in steps}
    guards = []
    for i, item in enumerate(raw.get("guards") or []):
        where = f"explain.guards[{i}]"
        item = r.mapping(item, where, required=("when", "says"), optional=("only", "except"))
        only = tuple(item["only"]) if "only" in item else None
        except_ = tuple(item.get("except") or ())
        for step_id in (*(only or ()), *except_):
            if step_id not in ids:
                raise r.fail(where, f"no rule {step_id!r}")
        when = " ".join(r.text(item["when"], where, "when").split())
        problem = check_expression(when) or check_template(item["says"])
        if problem:
            raise r.fail(where, f"not a valid template: {problem}")
        guards.append(Guard(when=when, says=item["says"], only=only, except_=except_))
    return tuple(guards)
