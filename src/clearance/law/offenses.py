"""Offense lists (a rule pack's `lists/`): entries with citations, matched column-wise.

`offense_in(entries)` is a Polars expression, true on the rows of a frame whose
`code`, `section` and `subsection` columns name a listed offense.  The rules
(prop64.md, "Super-strike and PC 290 offense lists"):

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
  match only ever removes relief and is shown with its citation), unless the
  entry says `attempts: false` (below).

Limits of the gang-enhancement entries (`requires_enhancement: 186.22(b)(4)`):
the enhancement is looked for as text ("186.22(b)(4)", spacing and case free)
in the columns named by `enhancement_columns` of the same row, by default the
count's `charge` and `offense_qualifiers`.  An enhancement recorded only on a
separate count of the same case, or written another way ("GANG ENHANCEMENT"),
is not seen, so such a prior is missed; a reviewer reading the history can
still find it.  A `requires_enhancement` without subsections (`186.22`) must
not run on into a longer number (`186.225`, `12022.53` for `12022.5`).

Three kinds of entry (ca-automatic-relief.md, "Data files"; the keys below
are optional and an entry of the first kind is exactly an entry of the lists
written before them):

1. A **definite** entry: the offense is on the list.  `offense_in` is true.
2. A **fact** entry, `fact: "<what must be shown>"`: the offense is on the
   list only in a form the charge may not show (PC 1192.7(c)(4) sodomy "by
   force, violence, duress, menace or fear").  It never makes a row a
   definite member by itself; it makes it a *possible* member:
   `offense_possibly_in` is true where a fact entry matches, the row is not a
   definite member (of any entry) and no exception of that entry applies.
   Narrowing, per entry:
   - `subsections`, as for a definite entry.  To say that some subsections
     are certainly on the list, write them as a separate definite entry of the
     same section: a definite match always wins over a possible one;
   - `except_subsections: ["(a)(4)"]`: rows under these subsections are
     certainly not matched by this entry (PC 245(a)(4), force likely to
     produce great bodily injury, is not a serious felony).  Also allowed on a
     definite entry, where it removes those subsections from it;
   - `description_is` / `description_not`: regular expressions (a list, or one
     text) searched for in the charge text (the `charge` column, upper case;
     Rust regex syntax, no look-around; write them in upper case).  The degree
     of a burglary is often only in the words (`459 PC-BURGLARY:FIRST
     DEGREE`).  A row the entry matches whose text matches a `description_is`
     pattern and no `description_not` pattern is a definite member; one whose
     text matches a `description_not` pattern and no `description_is` pattern
     is not matched; a row matching both (`ADW/FORCE:GBI`) or neither stays
     possible.  Only fact entries take them.
3. An **enhancement** entry, `enhancement: true`: the entry names an
   enhancement (PC 12022.5, 12022.53, 12022(b), 186.22(b)) that makes every
   felony of its case a member (PC 1192.7(c)(8), (23), (28), (40)).
   `enhancement_in` is true on an *enhancement row*: a row whose own offense
   (code, section, subsections as for a definite entry) is the enhancement,
   or whose text columns (`enhancement_columns`, by default `charge` and
   `offense_qualifiers`) name it, written `12022.5`, `12022(B)(1)`,
   `186.22 (b) (1)`, not inside a longer number.  Widening the match to the
   case is the engine's work.  Enhancement entries never count in
   `offense_in` or `offense_possibly_in`; they take no `fact`,
   `requires_enhancement`, `except_subsections`, `description_*`,
   `with_decimals` or `attempts`.

`attempts: false` (on an entry, or at the top of the file as the default of
its entries; default true) makes an entry not match a row whose attempt flag
(the `attempt_column`, by default `attempt`, null counts as false) is true:
PC 1192.7(c)(39) takes attempted assaults out, and PC 667.5(c) lists no
attempt but attempted murder.  Only lists that say so read that column.

The three functions are Polars expressions over a frame with the columns
`code`, `section`, `subsection`, `charge` and `offense_qualifiers` (and
`attempt` where a list says `attempts: false`); they are never null: a row
with no code or section is false.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import polars as pl

from clearance.extract.normalize import lettered_sections
from clearance.law.validate import Reader, RulePackError, parse

__all__ = [
    "DEFAULT_ATTEMPT_COLUMN",
    "DEFAULT_DESCRIPTION_COLUMN",
    "DEFAULT_ENHANCEMENT_COLUMNS",
    "OffenseEntry",
    "OffenseList",
    "any_true",
    "enhancement_in",
    "normalised",
    "offense_in",
    "offense_possibly_in",
    "read_list",
    "subsection_in",
]  # fmt: skip

DEFAULT_ENHANCEMENT_COLUMNS: tuple[str, ...] = ("charge", "offense_qualifiers")
DEFAULT_DESCRIPTION_COLUMN = "charge"
DEFAULT_ATTEMPT_COLUMN = "attempt"
_CODE_RE = re.compile(r"^[A-Z]{2,3}$")
_ENHANCEMENT_RE = re.compile(r"[0-9.]+[a-z]*(\([0-9a-z]+\))*")
# A section number written in text must not run on into a longer one: 12022.5 is
# not 12022.53, 186.22 is not 186.225 (Rust regex: no look-ahead, so it consumes).
_DIGITS = re.compile(r"[0-9.]+")  # a section's number, before any letter
_NUMBER_END = r"(?:$|[^0-9.]|\.(?:$|[^0-9]))"


@dataclass(frozen=True)
class OffenseEntry:
    code: str
    section: str
    subsections: tuple[str, ...]  # lower case; empty means any subsection
    with_decimals: bool
    requires_enhancement: str | None
    citation: str
    note: str | None = None
    fact: str | None = None  # set: a fact entry (possible members only)
    except_subsections: tuple[str, ...] = ()  # lower case
    description_is: tuple[str, ...] = ()  # regexes over the upper-case charge text
    description_not: tuple[str, ...] = ()
    enhancement: bool = False  # the entry names an enhancement
    attempts: bool = True  # false: an attempt does not match

    @property
    def kind(self) -> str:
        """`definite`, `fact` or `enhancement` (see the module's docstring)."""
        if self.enhancement:
            return "enhancement"
        return "fact" if self.fact is not None else "definite"

    @property
    def label(self) -> str:
        """The entry as a lawyer writes it: `PC 245(d)(3)`, `PC 286(c)(1)/(c)(2)`."""
        text = f"{self.code} {self.section}"
        if self.with_decimals:
            text += " and " + self.section + ".x"
        if self.subsections:
            text += "/".join(self.subsections)
        if self.except_subsections:
            text += " except " + "/".join(self.except_subsections)
        if self.requires_enhancement:
            text += f" with {self.code} {self.requires_enhancement}"
        if self.enhancement:
            text += " (enhancement)"
        if self.fact is not None:
            text += f" if {self.fact}"
        return text


@dataclass(frozen=True)
class OffenseList:
    name: str
    title: str
    citation: str
    entries: tuple[OffenseEntry, ...]
    since: dt.date | None = None

    def only_for(
        self, sections: Iterable[tuple[str | None, str | None]], texts: Iterable[str | None]
    ) -> OffenseList:
        """The list cut to the entries that can match some rows: those rows' (code, section),
        upper and lower case as `normalised()` makes them, are ``sections``, and the
        values of their enhancement columns are ``texts``.

        An entry's term requires its own code and its section (or, with decimals, a
        section under it); an enhancement entry's may instead find its section written
        in the text, which it cannot without the section's digits (digits have no other
        case). So over such rows the three functions below give the same flags with
        this list as with the whole one, from expressions a fraction of the size: for a
        few rows, planning a whole list's expression costs far more than running it.
        """
        written = "\n".join(t for t in texts if t is not None)
        whole: set[tuple[str, str]] = set()  # (code, section) of the rows
        # (code, a section a row's lies under: 11359 of 11359.5)
        parent: set[tuple[str, str]] = set()
        for code, section in sections:
            if code is None or section is None:
                continue  # no code or no section: no entry's term is true
            whole.add((code, section))
            parent.update((code, section[:i]) for i, c in enumerate(section) if c == ".")

        def can_match(entry: OffenseEntry) -> bool:
            key = (entry.code, entry.section)
            if key in whole or (entry.with_decimals and key in parent):
                return True
            digits = _DIGITS.match(entry.section)
            return entry.enhancement and (digits is None or digits.group() in written)

        return replace(self, entries=tuple(e for e in self.entries if can_match(e)))


def any_true(terms: Iterable[pl.Expr]) -> pl.Expr:
    """True where any term is true; never null (a null term counts as false)."""
    terms = [t.fill_null(False) for t in terms]
    if not terms:
        return pl.lit(False)
    return pl.any_horizontal(terms)


def subsection_in(column: pl.Expr, subsections: Sequence[str], *, lowered: bool = False) -> pl.Expr:
    """The column's subsection is one of `subsections` or lies under one of them
    (``lowered``: the column is lower case already)."""
    sub = column if lowered else column.str.to_lowercase()
    return any_true(
        [(sub == s) | sub.str.starts_with(s + "(") for s in subsections],
    )


def _under(subsection: str, subsections: Sequence[str]) -> bool:
    return any(subsection == s or subsection.startswith(s + "(") for s in subsections)


def _enhancement_pattern(enhancement: str) -> str:
    """Regex for `186.22(b)(4)` written with any case or spacing, not inside a longer number."""
    match = re.fullmatch(r"([0-9.]+[a-z]*)((?:\([0-9a-z]+\))*)", enhancement.lower())
    if match is None:  # validated on load; kept as a guard
        raise RulePackError(f"cannot read enhancement {enhancement!r}")
    section, groups = match.groups()
    parts = [re.escape(section)]
    parts += [rf"\s*\(\s*{re.escape(g)}\s*\)" for g in re.findall(r"\(([0-9a-z]+)\)", groups)]
    if not groups:
        parts.append(_NUMBER_END)
    return r"(?i)(?:^|[^0-9.])" + "".join(parts)


def _text_names(pattern: str, columns: Sequence[str]) -> pl.Expr:
    return any_true(pl.col(c).cast(pl.String).str.contains(pattern) for c in columns)


def normalised(description_column: str = DEFAULT_DESCRIPTION_COLUMN) -> list[pl.Expr]:
    """The columns the matching reads, as text in the case it compares them in (code and
    description upper case, section and subsection lower case): added to a frame, the
    functions below given ``normalised=True`` read them as they are. Their expressions
    are then a fraction of the size, and a fraction of the time to plan (an offense
    list's expression names these columns hundreds of times)."""
    return [
        pl.col("code").cast(pl.String).str.to_uppercase(),
        pl.col("section").cast(pl.String).str.to_lowercase(),
        pl.col("subsection").cast(pl.String).str.to_lowercase(),
        pl.col(description_column).cast(pl.String).str.to_uppercase(),
    ]


class _Columns:
    """The frame's columns as the matching reads them (cast: an all-null column has type Null;
    ``normalised``: as ``normalised()`` made them)."""

    def __init__(self, enhancement_columns: Sequence[str], description_column: str,
                 attempt_column: str | None, normalised: bool = False) -> None:  # fmt: skip
        self.normalised = normalised
        if normalised:
            self.code, self.section = pl.col("code"), pl.col("section")
            self.subsection = pl.col("subsection")
            self.description = pl.col(description_column)
        else:
            self.code = pl.col("code").cast(pl.String).str.to_uppercase()
            self.section = pl.col("section").cast(pl.String).str.to_lowercase()
            self.subsection = pl.col("subsection").cast(pl.String)
            self.description = pl.col(description_column).cast(pl.String).str.to_uppercase()
        self.enhancement_columns = tuple(enhancement_columns)
        self.attempt = (
            pl.lit(False)
            if attempt_column is None
            else pl.col(attempt_column).cast(pl.Boolean).fill_null(False)
        )


def _is_plain(entry: OffenseEntry) -> bool:
    return not (
        entry.subsections
        or entry.with_decimals
        or entry.requires_enhancement
        or entry.except_subsections
        or not entry.attempts
    )


def _offense_term(entry: OffenseEntry, cols: _Columns) -> pl.Expr:
    """The row's offense is the entry's (code, section, subsections, exceptions, attempt)."""
    same_section = cols.section == entry.section
    if entry.with_decimals:
        same_section = same_section | cols.section.str.starts_with(entry.section + ".")
    term = (cols.code == entry.code) & same_section
    if entry.subsections:
        term = term & subsection_in(cols.subsection, entry.subsections, lowered=cols.normalised)
    if entry.except_subsections:
        term = term & ~subsection_in(
            cols.subsection, entry.except_subsections, lowered=cols.normalised
        )
    if entry.requires_enhancement:
        pattern = _enhancement_pattern(entry.requires_enhancement)
        term = term & _text_names(pattern, cols.enhancement_columns)
    if not entry.attempts:
        term = term & ~cols.attempt
    return term


def _description(patterns: Sequence[str], cols: _Columns) -> pl.Expr:
    if not patterns:
        return pl.lit(False)
    return cols.description.str.contains("|".join(f"(?:{p})" for p in patterns)).fill_null(False)


def _fact_terms(entry: OffenseEntry, cols: _Columns) -> tuple[pl.Expr, pl.Expr]:
    """(definite, possible) for a fact entry, from its description patterns."""
    base = _offense_term(entry, cols).fill_null(False)
    says_is = _description(entry.description_is, cols)
    says_not = _description(entry.description_not, cols)
    return base & says_is & ~says_not, base & (says_is == says_not)


def _definite_expr(entries: Sequence[OffenseEntry], cols: _Columns) -> pl.Expr:
    terms: list[pl.Expr] = []
    # Plain entries (a whole section, any subsection) become one is_in per code.
    plain: dict[str, list[str]] = {}
    for entry in entries:
        if entry.kind == "definite" and _is_plain(entry):
            plain.setdefault(entry.code, []).append(entry.section)
    for code_label, sections in plain.items():
        terms.append((cols.code == code_label) & cols.section.is_in(sorted(set(sections))))
    for entry in entries:
        if entry.kind == "definite" and not _is_plain(entry):
            terms.append(_offense_term(entry, cols))
        elif entry.kind == "fact" and entry.description_is:
            terms.append(_fact_terms(entry, cols)[0])
    return any_true(terms)


def _possible_expr(entries: Sequence[OffenseEntry], cols: _Columns) -> pl.Expr:
    terms = [_fact_terms(e, cols)[1] for e in entries if e.kind == "fact"]
    if not terms:
        return pl.lit(False)
    return any_true(terms) & ~_definite_expr(entries, cols)


def _enhancement_expr(entries: Sequence[OffenseEntry], cols: _Columns) -> pl.Expr:
    terms = []
    for entry in entries:
        if entry.kind != "enhancement":
            continue
        terms.append(_offense_term(entry, cols))
        names = [entry.section + s for s in entry.subsections] or [entry.section]
        patterns = [_enhancement_pattern(n) for n in names]
        terms.extend(_text_names(p, cols.enhancement_columns) for p in patterns)
    return any_true(terms)


def offense_in(
    offenses: OffenseList,
    enhancement_columns: Sequence[str] = DEFAULT_ENHANCEMENT_COLUMNS,
    *,
    description_column: str = DEFAULT_DESCRIPTION_COLUMN,
    attempt_column: str | None = DEFAULT_ATTEMPT_COLUMN,
    normalised: bool = False,
) -> pl.Expr:
    """Boolean expression: the row's offense is certainly on the list (a definite member).

    Reads the columns `code`, `section`, `subsection`, and, for entries that
    require an enhancement, the text columns in `enhancement_columns`
    (pass `()` when the frame has none: those entries then never match); for
    fact entries with `description_is`, the `description_column`; for entries
    with `attempts: false`, the `attempt_column` (None: no row is an attempt).
    Fact entries count only where their `description_is` settles the fact;
    enhancement entries never count.  Never null: a row with no code or section
    is false. ``normalised``: the frame has the columns ``normalised()`` makes.
    """
    cols = _Columns(enhancement_columns, description_column, attempt_column, normalised)
    return _definite_expr(offenses.entries, cols).alias(f"in_{offenses.name}")


def offense_possibly_in(
    offenses: OffenseList,
    enhancement_columns: Sequence[str] = DEFAULT_ENHANCEMENT_COLUMNS,
    *,
    description_column: str = DEFAULT_DESCRIPTION_COLUMN,
    attempt_column: str | None = DEFAULT_ATTEMPT_COLUMN,
    normalised: bool = False,
) -> pl.Expr:
    """Boolean expression: a fact entry matches, no exception of it applies, and the row is
    not a definite member (`offense_in`).  Columns as for `offense_in`.  Never null."""
    cols = _Columns(enhancement_columns, description_column, attempt_column, normalised)
    return _possible_expr(offenses.entries, cols).alias(f"possibly_in_{offenses.name}")


def enhancement_in(
    offenses: OffenseList,
    enhancement_columns: Sequence[str] = DEFAULT_ENHANCEMENT_COLUMNS,
    *,
    normalised: bool = False,
) -> pl.Expr:
    """Boolean expression: the row is an enhancement row for the list.

    Its own offense (`code`, `section`, `subsection`) is a listed enhancement,
    or one of the `enhancement_columns` names it as text.  Never null.
    """
    cols = _Columns(enhancement_columns, DEFAULT_DESCRIPTION_COLUMN, None, normalised)
    return _enhancement_expr(offenses.entries, cols).alias(f"enhancement_{offenses.name}")


# ------------------------------------------------------------------ reading

_ENTRY_OPTIONAL = ("code", "subsections", "with_decimals", "requires_enhancement", "note",
                   "fact", "except_subsections", "description_is", "description_not",
                   "enhancement", "attempts")  # fmt: skip
# Keys an enhancement entry does not take, and keys only a fact entry takes.
_NOT_WITH_ENHANCEMENT = ("fact", "requires_enhancement", "except_subsections", "description_is",
                         "description_not", "with_decimals", "attempts")  # fmt: skip
_FACT_ONLY = ("description_is", "description_not")


def _flag(r: Reader, raw: dict, key: str, where: str, default: bool) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise r.fail(where, f"{key!r} must be true or false, found {value!r}")
    return value


def _subsection_list(r: Reader, raw: dict, key: str, where: str) -> tuple[str, ...]:
    value = raw.get(key, [])
    if not isinstance(value, list) or (key in raw and not value):
        raise r.fail(where, f"{key!r} must be a non-empty list when given")
    return tuple(r.subsection(s, where) for s in value)


def _patterns(r: Reader, raw: dict, key: str, where: str) -> tuple[str, ...]:
    """Regexes of `description_is` / `description_not`: one text or a non-empty list."""
    if key not in raw:
        return ()
    value = raw[key]
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise r.fail(where, f"{key!r} must be a pattern or a non-empty list of patterns")
    patterns = []
    for item in items:
        pattern = r.text(item, where, key)
        try:
            pl.select(pl.lit("").str.contains(pattern))
        except pl.exceptions.PolarsError as exc:
            first = str(exc).strip().splitlines()
            raise r.fail(
                where, f"{key!r} pattern {pattern!r} is not a regular expression "
                f"({' '.join(s.strip() for s in first[:4])})"
            ) from None  # fmt: skip
        # The text is upper-cased before it is searched: a lower-case letter outside an
        # escape (\d, \s, \b, \p{L}) or a flag group would never match, unless the
        # pattern asks for case-insensitive matching ((?i)).
        bare = re.sub(r"\\p\{[^}]*\}|\\.|\(\?[a-z]+[:)]", "", pattern)
        if not re.search(r"\(\?[a-z]*i[a-z]*[:)]", pattern) and re.search(r"[a-z]", bare):
            raise r.fail(
                where,
                f"{key!r} pattern {pattern!r} has lower-case letters; the charge text is "
                "matched in upper case, write the pattern in upper case",
            )
        patterns.append(pattern)
    return tuple(patterns)


def _read_entry(r: Reader, raw: Any, where: str, attempts_default: bool) -> OffenseEntry:
    raw = r.mapping(raw, where, required=("section", "citation"), optional=_ENTRY_OPTIONAL)
    code = raw.get("code", "PC")
    if not isinstance(code, str) or not _CODE_RE.match(code):
        raise r.fail(where, f"'code' must be an upper-case code label like PC, found {code!r}")
    subsections = _subsection_list(r, raw, "subsections", where)
    with_decimals = _flag(r, raw, "with_decimals", where, False)
    enhancement = raw.get("requires_enhancement")
    if enhancement is not None:
        enhancement = r.text(enhancement, where, "requires_enhancement")
        if not _ENHANCEMENT_RE.fullmatch(enhancement.lower()):
            raise r.fail(where, f"'requires_enhancement' {enhancement!r} is not a section")
    section = r.section(raw["section"], where)
    if section[-1].isalpha() and section not in lettered_sections():
        raise r.fail(
            where,
            f"section {section!r} has a letter but is not in extract/sections.yaml, so a "
            f"charge written {section.upper()} would be read as subsection "
            f"({section[-1]}) of another section; add it there",
        )
    is_enhancement = _flag(r, raw, "enhancement", where, False)
    if is_enhancement:
        clash = [k for k in _NOT_WITH_ENHANCEMENT if k in raw]
        if clash:
            raise r.fail(where, f"an enhancement entry takes no {clash[0]!r}")
    fact = raw.get("fact")
    if "fact" in raw:
        fact = " ".join(r.text(fact, where, "fact").split())
        if enhancement is not None:
            raise r.fail(where, "a fact entry takes no 'requires_enhancement'")
    else:
        stray = [k for k in _FACT_ONLY if k in raw]
        if stray:
            raise r.fail(where, f"{stray[0]!r} is only for an entry with 'fact'")
    excepted = _subsection_list(r, raw, "except_subsections", where)
    for s in excepted:
        if subsections and not _under(s, subsections):
            raise r.fail(
                where,
                f"except subsection {s} is not under the entry's subsections "
                f"({', '.join(subsections)}), so it excepts nothing",
            )
        if s in subsections:
            raise r.fail(where, f"subsection {s} is both listed and excepted")
    note = raw.get("note")
    return OffenseEntry(
        code=code,
        section=section,
        subsections=subsections,
        with_decimals=with_decimals,
        requires_enhancement=enhancement,
        citation=r.citation(raw, where),
        note=None if note is None else r.text(note, where, "note"),
        fact=fact,
        except_subsections=excepted,
        description_is=_patterns(r, raw, "description_is", where),
        description_not=_patterns(r, raw, "description_not", where),
        enhancement=is_enhancement,
        attempts=_flag(r, raw, "attempts", where, attempts_default),
    )


def read_list(name: str, file: str, text: str, since: dt.date | None = None) -> OffenseList:
    """The offense list `name` from its file's text, every entry checked."""
    r = Reader(file)
    doc = r.mapping(
        parse(file, text), "", required=("name", "title", "citation", "entries"),
        optional=("attempts",),
    )  # fmt: skip
    if doc["name"] != name:
        raise r.fail("name", f"expected {name!r}, found {doc['name']!r}")
    if not isinstance(doc["entries"], list) or not doc["entries"]:
        raise r.fail("entries", "expected a non-empty list")
    attempts_default = _flag(r, doc, "attempts", "", True)
    entries = []
    for i, raw in enumerate(doc["entries"]):
        where = f"entries[{i}]"
        if isinstance(raw, dict) and isinstance(raw.get("section"), str):
            where += f" (section {raw['section']})"
        entries.append(_read_entry(r, raw, where, attempts_default))
    return OffenseList(
        name=name,
        title=r.text(doc["title"], "title", "title"),
        citation=r.citation(doc, ""),
        entries=tuple(entries),
        since=since,
    )
