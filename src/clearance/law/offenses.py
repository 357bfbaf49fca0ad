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
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import polars as pl

from clearance.extract.normalize import lettered_sections
from clearance.law.validate import Reader, RulePackError, parse

__all__ = ["DEFAULT_ENHANCEMENT_COLUMNS", "OffenseEntry", "OffenseList", "any_true",
           "offense_in", "read_list", "subsection_in"]  # fmt: skip

DEFAULT_ENHANCEMENT_COLUMNS: tuple[str, ...] = ("charge", "offense_qualifiers")
_CODE_RE = re.compile(r"^[A-Z]{2,3}$")


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
    since: dt.date | None = None


def any_true(terms: Iterable[pl.Expr]) -> pl.Expr:
    """True where any term is true; never null (a null term counts as false)."""
    terms = [t.fill_null(False) for t in terms]
    if not terms:
        return pl.lit(False)
    return pl.any_horizontal(terms)


def subsection_in(column: pl.Expr, subsections: Sequence[str]) -> pl.Expr:
    """The column's subsection is one of `subsections` or lies under one of them."""
    sub = column.str.to_lowercase()
    return any_true(
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
            term = term & subsection_in(subsection, entry.subsections)
        if entry.requires_enhancement:
            pattern = _enhancement_pattern(entry.requires_enhancement)
            term = term & any_true(
                pl.col(c).cast(pl.String).str.contains(pattern) for c in enhancement_columns
            )
        terms.append(term)
    return any_true(terms)


def offense_in(
    offenses: OffenseList,
    enhancement_columns: Sequence[str] = DEFAULT_ENHANCEMENT_COLUMNS,
) -> pl.Expr:
    """Boolean expression: the row's offense is on the list.

    Reads the columns `code`, `section`, `subsection`, and, for entries that
    require an enhancement, the text columns in `enhancement_columns`
    (pass `()` when the frame has none: those entries then never match).
    Never null: a row with no code or section is false.
    """
    return _entries_expr(offenses.entries, tuple(enhancement_columns)).alias(f"in_{offenses.name}")


def read_list(name: str, file: str, text: str, since: dt.date | None = None) -> OffenseList:
    """The offense list `name` from its file's text, every entry checked."""
    r = Reader(file)
    doc = r.mapping(parse(file, text), "", required=("name", "title", "citation", "entries"))
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
        since=since,
    )
