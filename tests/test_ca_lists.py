"""The California automatic relief offense lists (packs/ca-auto-relief/lists) and the list
format's fact, exception, description and enhancement entries (clearance.law.offenses)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clearance.law.offenses import (
    enhancement_in,
    offense_in,
    offense_possibly_in,
    read_list,
)
from clearance.law.validate import RulePackError

LISTS = (
    Path(__file__).resolve().parents[1] / "src" / "clearance" / "packs" / "ca-auto-relief" / "lists"
)
# The spec lives beside the checkout (../shared/spec), like the peer data (conftest.PEERS).
SPEC_CSV = Path(__file__).resolve().parents[2] / "shared" / "spec" / "ca-serious-violent.csv"
NO_SPEC = "../shared/spec/ca-serious-violent.csv is not beside this checkout"
NAMES = ["serious_felonies", "violent_felonies", "max_term_8_years", "wobblers",
         "pc1203_4_exclusions"]  # fmt: skip
COLUMNS = ["code", "section", "subsection", "charge", "offense_qualifiers", "attempt"]


def load(name: str):
    return read_list(name, f"{name}.yaml", (LISTS / f"{name}.yaml").read_text("utf-8"))


def frame(rows) -> pl.DataFrame:
    """Rows of (code, section, subsection, charge, qualifiers[, attempt])."""
    rows = [(*r, False) if len(r) == 5 else r for r in rows]
    schema = {**dict.fromkeys(COLUMNS[:5], pl.String), "attempt": pl.Boolean}
    return pl.DataFrame(rows, schema=schema, orient="row")


def matches(offenses, rows) -> list[tuple[bool, bool, bool]]:
    out = frame(rows).select(
        offense_in(offenses).alias("definite"),
        offense_possibly_in(offenses).alias("possible"),
        enhancement_in(offenses).alias("enhancement"),
    )
    return list(out.iter_rows())


@pytest.mark.parametrize("name", NAMES)
def test_every_list_loads_and_cites(name):
    offenses = load(name)
    assert offenses.name == name
    for entry in offenses.entries:
        assert entry.citation and entry.note, entry


# (code, section, subsection, charge, qualifiers, attempt) -> (definite, possible, enhancement)
SERIOUS = [
    (("PC", "211", None, "211 PC-ROBBERY", None, False), (True, False, False)),
    (("PC", "211", None, "664/211 PC-ATT ROBBERY", None, True), (True, False, False)),
    (("PC", "2110", None, None, None, False), (False, False, False)),
    (("PC", "211.5", None, None, None, False), (False, False, False)),
    (("PC", "286", "(c)(2)(a)", None, None, False), (True, False, False)),
    (("PC", "286", "(d)(1)", None, None, False), (True, False, False)),
    (("PC", "286", None, "286 PC-SODOMY", None, False), (False, True, False)),
    (("PC", "286", None, "286 PC-SODOMY BY FORCE", None, False), (True, False, False)),
    (("PC", "286", "(b)(1)", None, None, False), (False, False, False)),
    (("PC", "286", "(c)(1)", None, None, False), (False, False, False)),
    (("PC", "286", "(c)(3)", None, None, False), (False, True, False)),
    (("PC", "459", None, "459 PC-BURGLARY", None, False), (False, True, False)),
    (("PC", "459", None, "459 PC-BURGLARY:FIRST DEGREE", None, False), (True, False, False)),
    (("PC", "459", None, "459 PC-BURGLARY:SECOND DEGREE", None, False), (False, False, False)),
    (("PC", "459", None, "459 PC-BURG:1ST/2ND", None, False), (False, True, False)),
    (("PC", "459", None, "664/459 PC-ATT BURGLARY:FIRST DEGREE", None, True), (True, False, False)),
    (("PC", "460", "(a)", None, None, False), (True, False, False)),
    (("PC", "245", "(a)(4)", "245(A)(4) PC-FORCE LIKELY GBI", None, False), (False, False, False)),
    (("PC", "245", "(a)(1)", "245(A)(1) PC-ADW/FORCE:GBI", None, False), (False, True, False)),
    (
        ("PC", "245", "(a)(1)", "245(A)(1) PC-ASSAULT W/DEADLY WEAPON", None, False),
        (True, False, False),
    ),
    (
        ("PC", "245", "(a)(1)", "245(A)(1) PC-ASLT W/FORCE LIKELY", None, False),
        (False, False, False),
    ),
    (("PC", "245", "(a)(2)", None, None, False), (True, False, False)),
    (("PC", "245", "(c)", None, None, False), (True, False, False)),
    # Item 39 excepts attempted assault: attempts of the assault entries do not match.
    (("PC", "245", "(c)", "664/245(C) PC", None, True), (False, False, False)),
    (("PC", "245", "(a)(1)", "664/245(A)(1) PC", None, True), (False, False, False)),
    (("PC", "4500", None, "664/4500 PC", None, True), (True, False, False)),
    (("PC", "288", "(a)", None, None, False), (True, False, False)),
    (("PC", "288", "(b)(2)", None, None, False), (False, False, False)),
    (("PC", "288", "(c)(1)", None, None, False), (False, False, False)),
    (("PC", "288", None, "288 PC-LEWD ACT:CHILD UNDER 14", None, False), (True, False, False)),
    (("PC", "288", None, "288 PC-LEWD ACT", None, False), (False, True, False)),
    (("PC", "288.5", None, None, None, False), (True, False, False)),
    (("PC", "236.1", "(c)(2)", None, None, False), (True, False, False)),
    (("PC", "236.1", "(c)(1)", None, None, False), (False, True, False)),
    (("PC", "236.1", "(a)", None, None, False), (False, False, False)),
    (("PC", "182", "(a)(1)", "182(A)(1) PC-CONSPIRACY", None, False), (False, True, False)),
    (("PC", "664", None, "664 PC-ATTEMPTED CRIME", None, False), (False, True, False)),
    (
        ("PC", "220", "(a)(1)", "220(A)(1) PC-ASSAULT W/INTENT RAPE", None, False),
        (True, False, False),
    ),
    (
        ("PC", "220", "(a)(1)", "220(A)(1) PC-ASLT W/INT COMMIT 289", None, False),
        (False, False, False),
    ),
    (("PC", "220", "(b)", None, None, False), (True, False, False)),
    (("HS", "11353", None, None, None, False), (False, True, False)),
    (("PC", "11353", None, None, None, False), (False, False, False)),
    (("MV", "1672", "(a)", None, None, False), (True, False, False)),
    # Enhancements: the row's own offense, or its text.
    (("PC", "12022.5", "(a)", "12022.5(A) PC", None, False), (False, False, True)),
    (("PC", "12022.53", "(d)", None, None, False), (False, False, True)),
    (("PC", "211", None, "211 PC", "12022.53(D) PC", False), (True, False, True)),
    (("PC", "484", None, "484 PC", "12022.5 PC", False), (False, False, True)),
    (("PC", "484", None, "484 PC", "112022.5 PC", False), (False, False, False)),
    (("PC", "484", None, "484 PC", "12022.50", False), (False, False, False)),
    (("PC", "12022", "(a)(1)", "12022(A)(1) PC", None, False), (False, False, False)),
    (("PC", "12022", "(b)(1)", "12022(B)(1) PC", None, False), (False, False, True)),
    (("PC", "496", None, "496 PC", "12022 (b) (1) PC", False), (False, False, True)),
    (("PC", "496", None, "496 PC/186.22(B)(1)(A)", None, False), (False, False, True)),
    (("PC", "186.22", "(a)", None, None, False), (True, False, False)),
    # PC 1192.8(a): the vehicle offenses with GBI on the count.
    (("VC", "23153", "(a)", "23153(A) VC", None, False), (False, False, False)),
    (("VC", "23153", "(a)", "23153(A) VC", "12022.7(A) PC", False), (True, False, True)),
    ((None, None, None, None, None, False), (False, False, False)),
]


def test_serious_felonies_matching():
    rows = [r for r, _ in SERIOUS]
    got = matches(load("serious_felonies"), rows)
    wrong = [(r, want, g) for (r, want), g in zip(SERIOUS, got, strict=True) if g != want]
    assert wrong == []


VIOLENT = [
    (("PC", "211", None, None, None, False), (True, False, False)),
    (("PC", "211", None, "664/211 PC", None, True), (False, False, False)),
    (("PC", "187", None, "664/187 PC", None, True), (True, False, False)),
    (("PC", "664", None, "664 PC", None, False), (False, True, False)),
    (("PC", "261", "(a)(2)", None, None, False), (True, False, False)),
    (("PC", "261", "(a)(4)", None, None, False), (False, False, False)),
    (("PC", "261", "(a)(3)", None, None, False), (False, True, False)),
    (("PC", "261", None, "261 PC-RAPE", None, False), (False, True, False)),
    (("PC", "286", "(c)(1)", None, None, False), (True, False, False)),
    (("PC", "286", "(f)", None, None, False), (False, False, False)),
    (("PC", "451", "(c)", None, None, False), (False, False, False)),
    (("PC", "451", "(b)", None, None, False), (True, False, False)),
    (("PC", "459", None, "459 PC-BURGLARY:FIRST DEGREE", None, False), (False, True, False)),
    (("PC", "459", None, "459 PC-BURGLARY:SECOND DEGREE", None, False), (False, False, False)),
    (("PC", "459", None, "459 PC", "667.5(C)(21) PC", False), (True, False, False)),
    (("PC", "518", None, "518 PC", None, False), (False, False, False)),
    (("PC", "518", None, "518 PC", "186.22(B)(1)(C) PC", False), (True, False, False)),
    (("PC", "422", None, None, None, False), (False, False, False)),
    (("PC", "12022.53", "(b)", None, None, False), (False, False, True)),
    (("PC", "484", None, None, "12022(B)(1) PC", False), (False, False, False)),
]


def test_violent_felonies_matching():
    rows = [r for r, _ in VIOLENT]
    got = matches(load("violent_felonies"), rows)
    wrong = [(r, want, g) for (r, want), g in zip(VIOLENT, got, strict=True) if g != want]
    assert wrong == []


@pytest.mark.parametrize(
    ("name", "row", "want"),
    [
        ("max_term_8_years", ("PC", "245", "(b)", None, None), (True, False, False)),
        ("max_term_8_years", ("PC", "245", "(a)(1)", None, None), (False, False, False)),
        ("max_term_8_years", ("PC", "245", None, None, None), (False, True, False)),
        ("max_term_8_years", ("PC", "211", None, None, None), (True, False, False)),
        ("max_term_8_years", ("HS", "11379.6", "(a)", None, None), (True, False, False)),
        ("max_term_8_years", ("HS", "11379", None, None, None), (False, False, False)),
        ("max_term_8_years", ("PC", "459", None, None, None), (False, False, False)),
        (
            "wobblers",
            ("PC", "459", None, "459 PC-BURGLARY:SECOND DEGREE", None),
            (True, False, False),
        ),
        (
            "wobblers",
            ("PC", "459", None, "459 PC-BURGLARY:FIRST DEGREE", None),
            (False, False, False),
        ),
        ("wobblers", ("PC", "459", None, "459 PC-BURGLARY", None), (False, True, False)),
        ("wobblers", ("PC", "487", "(d)(2)", None, None), (False, False, False)),
        ("wobblers", ("PC", "487", None, "487 PC-GRAND THEFT", None), (False, True, False)),
        ("wobblers", ("VC", "10851", "(a)", None, None), (True, False, False)),
        ("pc1203_4_exclusions", ("PC", "288", "(c)(1)", None, None), (True, False, False)),
        ("pc1203_4_exclusions", ("PC", "286", "(b)", None, None), (False, False, False)),
        ("pc1203_4_exclusions", ("PC", "311.11", "(a)", None, None), (True, False, False)),
        ("pc1203_4_exclusions", ("PC", "311.1", None, None, None), (True, False, False)),
        ("pc1203_4_exclusions", ("VC", "23152", "(a)", None, None), (False, True, False)),
        ("pc1203_4_exclusions", ("VC", "14601.1", "(a)", None, None), (False, True, False)),
    ],
)
def test_other_lists_matching(name, row, want):
    assert matches(load(name), [row]) == [want]


# ------------------------------------------------------------- the spec's item map


def spec_items() -> list[dict[str, str]]:
    if not SPEC_CSV.is_file():
        pytest.skip(NO_SPEC)
    with SPEC_CSV.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def cited_items(offenses) -> set[tuple[str, str]]:
    """(list, item) pairs the entries cite: "PC 1192.7(c)(7), (22)" -> (1192.7(c), 7), (.., 22)."""
    cited = set()
    for entry in offenses.entries:
        for stem in ("1192.7(c)", "667.5(c)", "1192.8(a)"):
            if f"PC {stem}" in entry.citation:
                rest = entry.citation.split(f"PC {stem}", 1)[1]
                items = re.findall(r"\((\d+)\)", rest) or ["-"]
                cited |= {(stem, item) for item in items}
    return cited


def test_every_spec_item_has_an_entry_citing_it():
    items = spec_items()
    cited = cited_items(load("serious_felonies")) | cited_items(load("violent_felonies"))
    missing = [(i["list"], i["item"]) for i in items if (i["list"], i["item"]) not in cited]
    assert missing == []
    assert len([i for i in items if i["list"] == "1192.7(c)"]) == 43
    assert len([i for i in items if i["list"] == "667.5(c)"]) == 24


def candidate_sections(text: str) -> list[tuple[str, str, str | None]]:
    """`PC 286 (force variants ...)`, `HS 11353; HS 11380` -> (code, section, subsection)."""
    found = []
    for part in text.split(";"):
        m = re.match(r"\s*(PC|HS|VC)\s+([0-9.]+[a-z]*)((?:\([0-9a-z]+\))*)", part.strip())
        if m:
            found.append((m[1], m[2], m[3] or None))
    return found


def test_section_fact_items_are_possible_never_definite():
    items = [i for i in spec_items() if i["match"].startswith("section+fact")]
    assert len(items) >= 9
    lists = {"1192.7(c)": load("serious_felonies"), "667.5(c)": load("violent_felonies")}
    checked = []
    for item in items:
        rows = [
            (code, section, sub, f"{section} {code}", None)
            for code, section, sub in candidate_sections(item["candidate_sections"])
        ]
        assert rows, item
        got = matches(lists[item["list"]], rows)
        for row, (definite, possible, _) in zip(rows, got, strict=True):
            checked.append((item["list"], item["item"], row[:3], definite, possible))
    wrong = [c for c in checked if c[3] or not c[4]]
    assert wrong == []


# ------------------------------------------------------------------ validation

HEAD = "name: t\ntitle: T\ncitation: PC 1\nentries:\n"


def read(entries: str, head: str = HEAD):
    return read_list("t", "lists/t.yaml", head + entries)


BROKEN = [
    ('  - {section: "1", citation: C, fact: ""}\n', "'fact' must be non-empty text"),
    ('  - {section: "1", citation: C, fact: 3}\n', "'fact' must be non-empty text"),
    ('  - {section: "1", citation: C, facts: x}\n', "unknown key 'facts'"),
    (
        '  - {section: "1", citation: C, description_is: [X]}\n',
        "'description_is' is only for an entry with 'fact'",
    ),
    (
        '  - {section: "1", citation: C, fact: x, description_is: ["(A"]}\n',
        "is not a regular expression",
    ),
    (
        '  - {section: "1", citation: C, fact: x, description_not: ["(?<=A)B"]}\n',
        "is not a regular expression",
    ),
    (
        '  - {section: "1", citation: C, fact: x, description_is: [first]}\n',
        "has lower-case letters",
    ),
    (
        '  - {section: "1", citation: C, fact: x, description_is: []}\n',
        "a non-empty list of patterns",
    ),
    (
        '  - {section: "1", citation: C, except_subsections: []}\n',
        "'except_subsections' must be a non-empty list",
    ),
    (
        '  - {section: "1", citation: C, except_subsections: [a4]}\n',
        "subsection 'a4' is not of the form",
    ),
    (
        '  - {section: "1", subsections: ["(a)"], citation: C, except_subsections: ["(b)"]}\n',
        "is not under the entry's subsections",
    ),
    (
        '  - {section: "1", subsections: ["(a)"], citation: C, except_subsections: ["(a)"]}\n',
        "both listed and excepted",
    ),
    ('  - {section: "1", citation: C, enhancement: 1}\n', "'enhancement' must be true or false"),
    (
        '  - {section: "1", citation: C, enhancement: true, fact: x}\n',
        "an enhancement entry takes no 'fact'",
    ),
    (
        '  - {section: "1", citation: C, enhancement: true, attempts: false}\n',
        "an enhancement entry takes no 'attempts'",
    ),
    (
        '  - {section: "1", citation: C, fact: x, requires_enhancement: "2"}\n',
        "a fact entry takes no 'requires_enhancement'",
    ),
    ('  - {section: "1", citation: C, attempts: 0}\n', "'attempts' must be true or false"),
]


@pytest.mark.parametrize(("entries", "message"), BROKEN, ids=[b[1] for b in BROKEN])
def test_broken_entries_fail_naming_file_and_entry(entries, message):
    with pytest.raises(RulePackError) as error:
        read(entries)
    said = str(error.value)
    assert said.startswith("lists/t.yaml: entries[0] (section 1): "), said
    assert message in said, said


def test_top_level_attempts_must_be_a_flag():
    with pytest.raises(
        RulePackError, match=re.escape("lists/t.yaml: 'attempts' must be true or false")
    ):
        read(
            '  - {section: "1", citation: C}\n',
            head=HEAD.replace("entries:", "attempts: maybe\nentries:"),
        )


def test_description_patterns_accept_escapes_and_one_text():
    offenses = read(
        "  - {section: \"1\", citation: C, fact: x, description_is: '\\bFIRST\\s+DEG', "
        "description_not: ['(?i)second']}\n"
    )
    entry = offenses.entries[0]
    assert entry.kind == "fact"
    assert entry.description_is == (r"\bFIRST\s+DEG",)
    got = matches(offenses, [("PC", "1", None, "1 PC-first deg", None),
                             ("PC", "1", None, "1 PC-SECOND", None),
                             ("PC", "1", None, "1 PC", None)])  # fmt: skip
    assert got == [(True, False, False), (False, False, False), (False, True, False)]


def test_old_lists_read_the_same_and_need_no_attempt_column():
    from clearance.law import rulepack

    pack = rulepack.load_rulepack()
    assert all(
        e.kind == "definite" and e.attempts for lst in pack.lists.values() for e in lst.entries
    )
    rows = pl.DataFrame(
        {"code": ["PC"], "section": ["245"], "subsection": ["(d)(3)"], "charge": [None],
         "offense_qualifiers": [None]},
        schema=dict.fromkeys(COLUMNS[:5], pl.String),
    )  # fmt: skip
    got = rows.select(
        pack.offense_in("superstrikes"),
        pack.offense_possibly_in("superstrikes"),
        pack.enhancement_in("superstrikes"),
    )
    assert got.row(0) == (True, False, False)


@pytest.mark.parametrize("name", NAMES)
def test_normalised_columns_match_the_same_rows(name):
    """Read over columns normalised once (offenses.normalised), every list matches exactly
    the rows it matches over the raw columns, whatever their case."""
    from clearance.law.offenses import normalised

    offenses = load(name)
    rows = []
    for entry in offenses.entries:
        for code in (entry.code, entry.code.lower()):
            for sub in ("", *entry.subsections, *entry.except_subsections, "(a)", "(B)(2)"):
                section = entry.section.upper() + (".5" if entry.with_decimals else "")
                for charge in ("", f"{entry.section} {code}-FORCE W/186.22(B)(4)", "burglary"):
                    rows.append((code, section, sub.upper() or None, charge or None,
                                 "12022.53", len(rows) % 3 == 0))  # fmt: skip
    df = frame(rows)
    raw = df.select(
        offense_in(offenses).alias("in"),
        offense_possibly_in(offenses).alias("maybe"),
        enhancement_in(offenses).alias("enh"),
    )
    ready = df.with_columns(normalised()).select(
        offense_in(offenses, normalised=True).alias("in"),
        offense_possibly_in(offenses, normalised=True).alias("maybe"),
        enhancement_in(offenses, normalised=True).alias("enh"),
    )
    assert raw.equals(ready)
    assert raw["in"].any() or raw["maybe"].any()


def _flags(offenses, df: pl.DataFrame) -> pl.DataFrame:
    from clearance.law.offenses import normalised

    # Beside the columns (as the rules add them): a list cut to no entry gives literals.
    return (
        df.with_columns(normalised())
        .with_columns(
            offense_in(offenses, normalised=True).alias("in"),
            offense_possibly_in(offenses, normalised=True).alias("maybe"),
            enhancement_in(offenses, normalised=True).alias("enh"),
        )
        .select("in", "maybe", "enh")
    )


def _cut_for(offenses, df: pl.DataFrame):
    """The list cut to what rows of ``df`` can match (as the rules look up new charges)."""
    from clearance.law.offenses import normalised

    ready = df.with_columns(normalised())
    texts = [t for c in ("charge", "offense_qualifiers") for t in df[c]]
    return offenses.only_for(ready.select("code", "section").rows(), texts)


# Rows naming every list's sections, their decimals, their enhancements in text, and none.
def _rows_of_every_list() -> list[tuple]:
    rows = []
    for name in NAMES:
        for entry in load(name).entries:
            for section in (entry.section, entry.section + ".5", entry.section + "a"):
                for sub in (None, *entry.subsections, *entry.except_subsections, "(b)(1)"):
                    rows.append((entry.code, section.upper(), sub, f"{section} PC-FIRST DEGREE",
                                 None, len(rows) % 2 == 0))  # fmt: skip
        rows.append(("PC", "211", None, "ROBBERY W/12022.53(B)", "186.22(B)(1)", False))
        rows.append((None, None, None, "CHARGE UNREADABLE 12022.5", None, False))
    return rows


@pytest.mark.parametrize("name", NAMES)
def test_a_list_cut_to_some_rows_flags_them_as_the_whole_list(name):
    """`OffenseList.only_for` keeps what rows can match: each row, and all rows at once,
    get the same flags from the cut list as from the whole, and a row of another
    section keeps none of the list's plain entries."""
    offenses = load(name)
    df = frame(_rows_of_every_list())
    whole = _flags(offenses, df)
    assert whole["in"].any()
    if any(e.enhancement for e in offenses.entries):
        assert whole["enh"].any()
    assert _flags(_cut_for(offenses, df), df).equals(whole)
    for i in range(0, df.height, 7):
        row = df.slice(i, 1)
        cut = _cut_for(offenses, row)
        assert _flags(cut, row).equals(whole.slice(i, 1)), row.row(0)
        assert len(cut.entries) < len(offenses.entries)
    # A decimal section alone (the whole frame above holds its parent section too).
    for entry in (e for n in NAMES for e in load(n).entries if e.with_decimals):
        row = frame([(entry.code, entry.section + ".5", None, None, None, False)])
        assert _flags(_cut_for(offenses, row), row).equals(_flags(offenses, row)), entry.label
    nothing = frame([("PC", "99999", None, "NO SUCH OFFENSE", None, False)])
    assert _cut_for(offenses, nothing).entries == ()


SECTIONS = ["187", "459", "245", "12022.5", "12022.53", "186.22", "211", "664", "11352", "288",
            "288.5", "1203.4", "14601", "14601.5", None]  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["PC", "pc", "HS", "VC", None]),
            st.sampled_from(SECTIONS),
            st.sampled_from([None, "(a)", "(a)(1)", "(D)(3)", "(b)(1)(A)", "(c)"]),
            st.sampled_from([None, "FIRST DEGREE", "W/12022.53(B)", "ADW/FORCE:GBI", "186.22 (b)"]),
            st.sampled_from([None, "12022.5", "186.22(B)(4)", "PC 12022(b)(1)"]),
            st.booleans(),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_a_cut_list_agrees_on_generated_rows(name, rows):
    offenses = load(name)
    df = frame(rows)
    assert _flags(_cut_for(offenses, df), df).equals(_flags(offenses, df))
