"""The law as data (clearance.law): the lists, the rules table, the matchers.

The tables below are meant to be read by a lawyer next to shared/spec/prop64.md.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import polars as pl
import pytest

from clearance.law import RulePackError, load_rulepack, read_rulepack

RULEPACK = load_rulepack()
PACK = RULEPACK.folder
offense_in = RULEPACK.offense_in
excluded_subsection = RULEPACK.excluded_subsection


# ---------------------------------------------------------------- dates, sections


def test_dates_and_sections_in_scope():
    assert RULEPACK.effective_date == dt.date(2016, 11, 9)
    assert RULEPACK.conviction_cutoff == dt.date(2016, 11, 8)
    assert RULEPACK.conviction_cutoff_citation == "HS 11361.8(a), (e)"
    assert RULEPACK.cannabis_sections == ("11357", "11358", "11359", "11360")
    assert RULEPACK.disqualifier_sections == ("11358", "11359", "11360")
    assert RULEPACK.data["attempt"].citation == "PC 664"
    assert RULEPACK.data["attempt"].value.section == "664"
    assert RULEPACK.version


def test_disqualifiers_cite_the_subsection_of_each_section():
    pinpoints = {
        reason: {
            s: RULEPACK.pinpoint(reason, s, None) for s in ("11357", "11358", "11359", "11360")
        }
        for reason in ("prior_superstrike", "prior_pc290", "two_priors")
    }
    assert pinpoints == {
        "prior_superstrike": {
            "11357": None,
            "11358": "HS 11358(d)(1); PC 667(e)(2)(C)(iv)",
            "11359": "HS 11359(c)(1); PC 667(e)(2)(C)(iv)",
            "11360": "HS 11360(a)(3)(A); PC 667(e)(2)(C)(iv)",
        },
        "prior_pc290": {
            "11357": None,
            "11358": "HS 11358(d)(1); PC 290(c)",
            "11359": "HS 11359(c)(1); PC 290(c)",
            "11360": "HS 11360(a)(3)(A); PC 290(c)",
        },
        "two_priors": {
            "11357": None,
            "11358": "HS 11358(d)(2)",
            "11359": "HS 11359(c)(2)",
            "11360": "HS 11360(a)(3)(B)",
        },
    }
    assert RULEPACK.step("prior_superstrike").arguments == {"list": "superstrikes", "min_priors": 1}
    assert RULEPACK.step("prior_pc290").arguments == {"list": "pc290", "min_priors": 1}
    assert RULEPACK.step("two_priors").arguments == {"min_priors": 2}
    assert RULEPACK.pinpoint("excluded_subsection", "11360", "(a)(3)(d)") == "HS 11360(a)(3)(D)"


# ------------------------------------------------------------------- rules table

# prop64.md "Determinations": reason -> determination, in the order of evaluation.
REASONS = [
    ("invalid_date", ("review",)),
    ("unparsed_charge", ("review",)),
    ("after_prop64", ("not_eligible",)),
    ("excluded_subsection", ("not_eligible",)),
    ("prior_superstrike", ("not_eligible",)),
    ("prior_pc290", ("not_eligible",)),
    ("two_priors", ("not_eligible",)),
    # clearance's documented addition (docs/rules.md): an undated disqualifier goes to review.
    ("undated_disqualifier", ("review",)),
    ("comment_charge", ("review",)),
    ("still_serving", ("review",)),
    ("misdemeanor", ("dismiss", "reduce", "review")),
    ("baseline", ("dismiss", "reduce")),
    ("under_21", ("dismiss",)),
    ("age_threshold", ("dismiss",)),
    ("conviction_age", ("dismiss",)),
    ("crime_free", ("dismiss",)),
    ("only_prop64", ("dismiss",)),
    ("deceased", ("dismiss",)),
    ("sentence_completed", ("dismiss",)),
    ("no_policy", ("review",)),
]


def test_one_rule_per_reason_in_the_order_of_evaluation():
    assert [(r.reason, r.determinations) for r in RULEPACK.rules.values()] == REASONS


def test_every_rule_has_a_stable_id_a_citation_and_a_description():
    ids = [r.id for r in RULEPACK.rules.values()]
    assert len(set(ids)) == len(ids)
    for rule in RULEPACK.rules.values():
        assert rule.id.endswith("-" + rule.reason)
        assert rule.citation.startswith(("HS ", "PC "))
        assert rule.description and "\n" not in rule.description


def test_rule_lookup_and_join_frame():
    assert RULEPACK.rule("after_prop64").id == "HS11361.8-after_prop64"
    assert RULEPACK.rule("after_prop64").determination == "not_eligible"
    assert RULEPACK.rules_by_reason()["after_prop64"].rule_id == "HS11361.8-after_prop64"
    assert RULEPACK.last_conviction_date == RULEPACK.conviction_cutoff
    with pytest.raises(KeyError, match="known reasons"):
        RULEPACK.rule("no_such_reason")
    frame = RULEPACK.rules_frame()
    assert frame.columns == ["reason", "rule_id", "citation", "description"]
    assert frame.height == len(REASONS)


# ----------------------------------------------------------------- offense lists


def entry_keys(list_name: str) -> set[tuple]:
    return {
        (e.code, e.section, e.subsections, e.with_decimals, e.requires_enhancement)
        for e in RULEPACK.lists[list_name].entries
    }


def pc(section, *subsections, decimals=False, gang=None, code="PC"):
    return (code, section, tuple(subsections), decimals, gang)


def test_superstrike_list_is_the_spec_list():
    gang = "186.22(b)(4)"
    expected = {
        *(pc(s) for s in ["37", "128", "187", "188", "189", "189.1", "189.5", "191"]),
        pc("190", decimals=True),
        *(pc(s) for s in ["191.5", "205", "207", "209", "209.5", "217.1", "218", "219", "220"]),
        pc("245", "(d)(3)"),
        *(pc(s) for s in ["261", "262", "264.1", "269", "273ab", "287", "288", "288.5"]),
        pc("286", "(c)(1)", "(c)(2)", "(c)(3)", "(d)(1)", "(d)(2)", "(d)(3)"),
        pc("288", "(a)"),
        pc("288", "(b)(1)", "(b)(2)"),
        pc("288a", "(c)(1)", "(c)(2)(a)", "(c)(2)(b)", "(c)(2)(c)", "(d)"),
        pc("289", "(a)(1)(a)", "(a)(1)(b)", "(a)(1)(c)", "(a)(2)(c)", "(j)"),
        *(pc(s) for s in ["451.5", "653f", "667.61", "667.7", "667.71", "4500"]),
        pc("11418", "(a)(1)"),
        pc("11418", "(b)(1)", "(b)(2)"),
        *(pc(s) for s in ["12308", "12310", "18745", "18755"]),
        pc("1672", "(a)", code="MV"),
        *(pc(s, gang=gang) for s in ["136.1", "215", "246", "519", "12022.55"]),
        pc("213", "(a)(1)(a)", gang=gang),
    }
    assert entry_keys("superstrikes") == expected


def test_pc290_list_is_the_spec_list():
    whole = [
        "243.4", "261", "264.1", "266", "266c", "266j", "267", "269", "272", "285", "286",
        "287", "288", "288a", "288.2", "288.3", "288.4", "288.5", "288.7", "289", "311.1",
        "311.3", "311.4", "311.10", "311.11", "647.6", "647a",
    ]  # fmt: skip
    expected = {
        *(pc(s) for s in whole),
        pc("236.1", "(b)", "(c)"),
        pc("262", "(a)(1)"),
        pc("266h", "(b)"),
        pc("266i", "(b)"),
        pc("311.2", "(b)", "(c)", "(d)"),
        pc("314", "(1)", "(2)"),
        pc("653f", "(b)", "(c)"),
    }
    assert entry_keys("pc290") == expected


@pytest.mark.parametrize("list_name", ["superstrikes", "pc290"])
def test_every_list_entry_has_a_citation(list_name):
    offenses = RULEPACK.lists[list_name]
    assert offenses.citation in ("PC 667(e)(2)(C)(iv)", "PC 290(c)")
    for entry in offenses.entries:
        assert entry.citation.startswith(offenses.citation), entry


# Matching table: the count as the data model holds it -> on the list?
# Columns: code, section, subsection, charge text, offense qualifiers,
#          super strike?, PC 290(c)?, why.
MATCHES = [
    ("PC", "37", None, "37 PC-TREASON", None, True, False, "37 is listed"),
    ("PC", "137", None, "137 PC-INDUCE FALSE TESTIMONY", None, False, False, "37 is not 137"),
    ("PC", "37.5", None, None, None, False, False, "37 is not 37.5"),
    ("HS", "37", None, None, None, False, False, "code must be PC"),
    ("PC", "288", None, "288 PC-LEWD W/MINOR", None, True, True, "288, any subsection"),
    ("PC", "288", "(c)(1)", None, None, True, True, "288, any subsection"),
    ("PC", "288.5", None, None, None, True, True, "288.5 is listed itself"),
    ("PC", "288.7", None, None, None, False, True, "288.7 is PC 290 only, not 288"),
    ("PC", "288a", None, None, None, False, True, "288a is not 288; super strike needs (c)/(d)"),
    ("PC", "288a", "(c)(2)(B)", None, None, True, True, "288a(c)(2)(B), either case"),
    ("PC", "288a", "(b)(1)", None, None, False, True, "288a(b) is not a super strike"),
    ("PC", "245", "(d)(3)", None, None, True, False, "245(d)(3) is listed"),
    ("PC", "245", "(d)(3)(a)", None, None, True, False, "deeper than (d)(3)"),
    ("PC", "245", "(d)(1)", None, None, False, False, "only (d)(3)"),
    ("PC", "245", None, None, None, False, False, "no subsection: not narrowed enough"),
    ("PC", "245", "(d)(30)", None, None, False, False, "(d)(30) is not under (d)(3)"),
    ("MV", "1672", "(a)", "1672(A) MV-AID ENEMY", None, True, False, "MV 1672(a)"),
    ("PC", "1672", "(a)", None, None, False, False, "1672(a) is MV, not PC"),
    ("MV", "1672", "(b)", None, None, False, False, "only 1672(a)"),
    ("PC", "190.2", None, None, None, True, False, "190.x"),
    ("PC", "1902", None, None, None, False, False, "not 190.x"),
    ("pc", "311.10", None, None, None, False, True, "311.10 is not 311.1; code any case"),
    ("PC", "311.2", "(a)", None, None, False, False, "311.2 only (b)-(d)"),
    ("PC", "215", None, "215 PC-CARJACKING", None, False, False, "215 without 186.22(b)(4)"),
    ("PC", "215", None, "215 PC/186.22(B)(4)", None, True, False, "gang enhancement in charge"),
    ("PC", "215", None, "215 PC", "186.22 (b) (4) PC", True, False, "in the qualifiers"),
    ("PC", "215", None, "215 PC", "186.22(B)(1) PC", False, False, "(b)(1) is not (b)(4)"),
    ("PC", "215", None, "215 PC", "1186.22(B)(4)", False, False, "1186.22 is not 186.22"),
    ("PC", "213", "(a)(1)(A)", "213 PC/186.22(B)(4)", None, True, False, "213(a)(1)(A) + gang"),
    ("PC", "213", "(a)(2)", "213 PC/186.22(B)(4)", None, False, False, "only 213(a)(1)(A)"),
    ("PC", "186.22", "(b)(4)", "186.22(B)(4) PC", None, False, False, "the enhancement alone"),
    (None, None, None, None, None, False, False, "no charge read"),
]


def test_offense_lists_match_anchored_on_the_normalised_section():
    columns = ["code", "section", "subsection", "charge", "offense_qualifiers"]
    frame = pl.DataFrame(
        [row[:5] for row in MATCHES], schema=dict.fromkeys(columns, pl.String), orient="row"
    )
    result = frame.select(offense_in("superstrikes"), offense_in("pc290"))
    got = list(zip(result["in_superstrikes"], result["in_pc290"], strict=True))
    wrong = [
        (row[7], row[:3], (row[5], row[6]), got[i])
        for i, row in enumerate(MATCHES)
        if got[i] != (row[5], row[6])
    ]
    assert wrong == []


def test_enhancement_columns_are_chosen_by_the_caller():
    frame = pl.DataFrame(
        {"code": ["PC"], "section": ["246"], "subsection": [None], "offense_raw": ["186.22(b)(4)"]}
    )
    with_text = frame.select(offense_in("superstrikes", enhancement_columns=["offense_raw"]))
    without = frame.select(offense_in("superstrikes", enhancement_columns=()))
    assert with_text.item() is True
    assert without.item() is False


def test_unknown_list_is_a_clear_error():
    with pytest.raises(KeyError, match="known lists: superstrikes, pc290"):
        offense_in("strikes")


# cannabis section, subsection -> excluded (HS 11359(c)(3), (d); 11360(a)(3)(C), (D))?
EXCLUDED = [
    ("11359", "(c)(3)", True),
    ("11359", "(C)(3)", True),
    ("11359", "(c)(1)", False),
    ("11359", "(d)", True),
    ("11359", "(d)(1)", True),
    ("11359", None, False),
    ("11360", "(a)(3)(c)", True),
    ("11360", "(a)(3)(D)", True),
    ("11360", "(a)(3)(b)", False),
    ("11360", "(d)", False),
    ("11357", "(d)", False),
    (None, "(d)", False),
]


def test_excluded_subsections():
    frame = pl.DataFrame(
        [row[:2] for row in EXCLUDED],
        schema={"cannabis_section": pl.String, "subsection": pl.String},
        orient="row",
    )
    got = frame.select(excluded_subsection())["excluded_subsection"].to_list()
    assert got == [row[2] for row in EXCLUDED]


# -------------------------------------------------------------------- validation


@pytest.fixture
def law_copy(tmp_path):
    """A writable copy of the rule pack's folder; returns a function to edit one file."""
    shutil.copytree(PACK, tmp_path, dirs_exist_ok=True)

    def edit(name: str, old: str, new: str) -> Path:
        path = tmp_path / name
        text = path.read_text()
        assert old in text, old
        path.write_text(text.replace(old, new, 1))
        return tmp_path

    return edit


def test_a_copy_of_the_files_reads_the_same(law_copy, tmp_path):
    copy = read_rulepack(tmp_path)
    assert copy.rules == RULEPACK.rules
    assert copy.steps == RULEPACK.steps
    assert copy.sha256 == RULEPACK.sha256
    assert not copy.installed and RULEPACK.installed


BROKEN = [
    (
        "lists/pc290.yaml",
        '- {section: "266c"',
        '- {section: "266z"',
        "lists/pc290.yaml: entries[N] (section 266z): section '266z' has a letter but is not in "
        "extract/sections.yaml",
    ),
    (
        "lists/superstrikes.yaml",
        '{section: "37", citation: "PC 667(e)(2)(C)(iv)(VIII)", note: treason}',
        '{section: "37", note: treason}',
        "lists/superstrikes.yaml: entries[N] (section 37): missing 'citation'",
    ),
    (
        "lists/pc290.yaml",
        '{section: "285", citation: "PC 290(c)", note: incest}',
        '{section: "285", citation: "PC 290(c)", note: incest, subsection: "(a)"}',
        "lists/pc290.yaml: entries[N] (section 285): unknown key 'subsection'",
    ),
    (
        "lists/pc290.yaml",
        '{section: "311.10", citation',
        "{section: 311.10, citation",
        "lists/pc290.yaml: entries[N]: 'section' must be text (quote it",
    ),
    (
        "lists/superstrikes.yaml",
        'subsections: ["(d)(3)"]',
        'subsections: ["d3"]',
        "lists/superstrikes.yaml: entries[N] (section 245): subsection 'd3' is not of the form",
    ),
    (
        "pack.yaml",
        '        citation: "HS 11359(c)(3)"\n',
        "",
        "pack.yaml: data.excluded_subsections.entries[N]: missing 'citation'",
    ),
    (
        "pack.yaml",
        "    determination: not_eligible\n    basis: statute",
        "    determination: ineligible\n    basis: statute",
        "pack.yaml: rules[2] (after_prop64): 'determination' must be one of dismiss, reduce",
    ),
    (
        "pack.yaml",
        '  review: "For review by a person"\n',
        '  review: "For review by a person"\n  pardon: "Pardoned"\n',
        "pack.yaml: determination_labels: 'pardon' is not one of 'determinations'",
    ),
    (
        "pack.yaml",
        "version:",
        "versoin:",
        "pack.yaml: unknown key 'versoin'",
    ),
    (
        "pack.yaml",
        "    value: 2016-11-08",
        "    value: 2016-11-08\n    value: 2016-11-09",
        "pack.yaml: line N: key 'value' appears twice",
    ),
]


@pytest.mark.parametrize(("file", "old", "new", "message"), BROKEN, ids=[b[3] for b in BROKEN])
def test_broken_files_fail_naming_file_and_entry(law_copy, file, old, new, message):
    folder = law_copy(file, old, new)
    with pytest.raises(RulePackError) as error:
        read_rulepack(folder)
    # Positions change as the files grow; the message must still say where.
    said = re.sub(r"entries\[\d+\]", "entries[N]", str(error.value))
    said = re.sub(r"line \d+", "line N", said)
    assert said.startswith(message), str(error.value)
