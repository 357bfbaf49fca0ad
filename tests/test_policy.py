"""Policies (clearance.policy): presets, YAML files, gogen/BEAR JSON, validation messages."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from clearance.law import load_rulepack
from clearance.policy import (
    AdditionalRelief,
    PolicyError,
    ReviewTriggers,
    describe,
    list_presets,
    load_policy,
)
from conftest import GOGEN_OPTIONS

PRESETS = load_rulepack().presets_folder
assert sorted(PRESETS.glob("*.yaml")), f"no presets in {PRESETS}"

# ------------------------------------------------------------------------ presets


def test_the_presets_shipped():
    assert [name for name, _, _ in list_presets()] == [
        "statute",
        "bear-default",
        "los-angeles-2020",
        "sacramento-2019",
        "san-joaquin-2019",
        "contra-costa-2019",
    ]
    for name, display, summary in list_presets():
        assert display and summary, name
        assert load_policy(name).source == name


@pytest.mark.parametrize("name", [p.stem for p in sorted(PRESETS.glob("*.yaml"))])
def test_every_preset_file_gives_its_sources_in_comments(name):
    text = (PRESETS / f"{name}.yaml").read_text()
    comments = [line for line in text.splitlines() if line.startswith("#")]
    assert text.startswith(f'# Preset "{name}"')
    assert len(comments) >= 10, "the sources and assumptions are written out"


def test_statute_preset():
    policy = load_policy("statute")
    assert policy.dismiss == ("11357", "11358")
    assert policy.reduce == ("11359", "11360")
    assert policy.misdemeanors == "dismiss"
    assert policy.additional_relief == AdditionalRelief()  # no additional relief
    assert policy.county is None


def test_bear_default_preset_dismisses_all_four_sections():
    policy = load_policy("bear-default")
    assert policy.dismiss == ("11357", "11358", "11359", "11360")
    assert policy.reduce == ()
    assert policy.county is None


def test_los_angeles_2020_preset():
    policy = load_policy("los-angeles-2020")
    relief = policy.additional_relief
    assert policy.county == "LOS ANGELES"
    assert policy.misdemeanors == "review"  # city attorneys' review
    assert relief.age_threshold == 50
    assert relief.under_21 is True
    assert relief.crime_free == 10  # no conviction for 10 years
    assert relief.deceased is True
    # "only cannabis convictions AND finished the sentences": only_prop64, with
    # counts still being served sent to review first (the preset explains why).
    assert relief.only_prop64 is True
    assert relief.sentence_completed is False
    assert policy.review.still_serving is True
    assert relief.conviction_age is None


@pytest.mark.parametrize(
    ("name", "county", "dismiss", "reduce", "crime_free"),
    [
        ("sacramento-2019", "SACRAMENTO", ("11357", "11358"), ("11359", "11360"), 10),
        ("san-joaquin-2019", "SAN JOAQUIN", ("11357",), (), 5),
        ("contra-costa-2019", "CONTRA COSTA", ("11357",), (), 5),
    ],
)
def test_pilot_county_presets(name, county, dismiss, reduce, crime_free):
    policy = load_policy(name)
    assert (policy.county, policy.dismiss, policy.reduce) == (county, dismiss, reduce)
    assert policy.misdemeanors == "dismiss"
    assert policy.additional_relief.crime_free == crime_free
    assert policy.additional_relief.sentence_completed is False  # see the preset comments


def test_to_dict_is_the_file_schema_and_loads_back(tmp_path):
    for name, _, _ in list_presets():
        resolved = load_policy(name).to_dict()
        assert resolved.pop("source") == name
        assert list(resolved) == [
            "name",
            "county",
            "dismiss",
            "reduce",
            "misdemeanors",
            "additional_relief",
            "review",
        ]
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(resolved))
        again = load_policy(path)
        assert again.to_dict() == {**resolved, "source": str(path)}


def test_describe_in_plain_english():
    statute = describe(load_policy("statute"))
    assert statute[0] == (
        "Policy “Statute (HS 11361.8)” (preset statute), applied to convictions in the county "
        "given with the run."
    )
    assert (
        "Convictions under HS 11357 (possession) and HS 11358 (cultivation) are dismissed "
        "and sealed." in statute
    )
    assert (
        "Otherwise, convictions under HS 11359 (possession for sale) and HS 11360 (sale, "
        "transport, gift) are reduced to misdemeanors." in statute
    )
    assert not any("additional relief" in line for line in statute)

    la = " ".join(describe(load_policy("los-angeles-2020")))
    assert "the person is 50 or older on the as-of date" in la
    assert "Misdemeanor and infraction convictions go to review." in la
    assert "its sentence had not ended by the as-of date" in la

    san_joaquin = describe(load_policy("san-joaquin-2019"))
    assert san_joaquin[-1] == (
        "The policy names no outcome for HS 11358 (cultivation), HS 11359 (possession for "
        "sale), and HS 11360 (sale, transport, gift); convictions no rule above decides go "
        "to review."
    )


# -------------------------------------------------------------------- YAML files


@pytest.fixture
def policy_file(tmp_path):
    def write(text: str, name: str = "county.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


MINIMAL = "name: Example County 2020\ndismiss: [11357, 11358]\nreduce: [11359, 11360]\n"


def test_a_minimal_policy_file_turns_everything_else_off(policy_file):
    policy = load_policy(policy_file(MINIMAL))
    assert policy.county is None  # the run's --county supplies it
    assert policy.misdemeanors is None
    assert policy.additional_relief == AdditionalRelief()
    assert policy.review == ReviewTriggers()
    assert policy.with_county("  los   angeles ").county == "LOS ANGELES"


def test_the_spec_example_loads(policy_file):
    example = """
name: Example County 2020
county: EXAMPLE
dismiss: [11357, 11358]
reduce: [11359, 11360]
misdemeanors: dismiss
additional_relief:
  under_21: true
  age_threshold: 50
  conviction_age: 10
  crime_free: 10
  only_prop64: true
  deceased: true
  sentence_completed: false
review:
  comment_charge: true
  still_serving: false
"""
    policy = load_policy(str(policy_file(example, "example.yml")))
    assert policy.county == "EXAMPLE"
    assert policy.additional_relief == AdditionalRelief(
        under_21=True, age_threshold=50, conviction_age=10, crime_free=10, only_prop64=True,
        deceased=True,
    )  # fmt: skip
    assert policy.outcome_for(11359) == "reduce"


# Each broken policy file and the message it must give: file name, key, problem.
INVALID = [
    (
        "dismis: [11357]",
        "county.yaml: dismis: unknown key; did you mean 'dismiss'?",
    ),
    (
        "additional_relief: {age_treshold: 50}",
        "county.yaml: additional_relief.age_treshold: unknown key; did you mean 'age_threshold'?",
    ),
    (
        "review: {comment: true}",
        "county.yaml: review.comment: unknown key; did you mean 'comment_charge'?",
    ),
    (
        "additional_relief: {under_21: maybe}",
        "county.yaml: additional_relief.under_21: expected true or false, found 'maybe'",
    ),
    (
        "additional_relief: {age_threshold: '50'}",
        "county.yaml: additional_relief.age_threshold: expected a whole number of years or null, "
        "found '50'",
    ),
    (
        "additional_relief: {age_threshold: 5}",
        "county.yaml: additional_relief.age_threshold: 5 is out of range; expected 18 to 100 "
        "years, or null",
    ),
    (
        "additional_relief: {crime_free: 0}",
        "county.yaml: additional_relief.crime_free: 0 is out of range; expected 1 to 100 years, "
        "or null",
    ),
    (
        "additional_relief: {conviction_age: 7.5}",
        "county.yaml: additional_relief.conviction_age: expected a whole number of years or null, "
        "found 7.5",
    ),
    (
        "additional_relief: yes",
        "county.yaml: additional_relief: expected a mapping of keys, found true",
    ),
    (
        "misdemeanors: expunge",
        "county.yaml: misdemeanors: expected one of dismiss, reduce, review or null, "
        "found 'expunge'",
    ),
    (
        "county: 7",
        "county.yaml: county: expected a county name or null, found 7",
    ),
]


@pytest.mark.parametrize(("extra", "message"), INVALID, ids=[i[0] for i in INVALID])
def test_invalid_policy_files_name_file_and_key(policy_file, extra, message):
    path = policy_file(MINIMAL + extra + "\n")
    with pytest.raises(PolicyError) as error:
        load_policy(path)
    assert str(error.value) == message.replace("county.yaml", str(path))


# Section lists: the whole file and the message.
INVALID_SECTIONS = [
    (
        "name: X\ndismiss: [11357, 11361]\nreduce: []",
        "dismiss: unknown section 11361; only 11357, 11358, 11359, 11360 can be listed",
    ),
    (
        "name: X\ndismiss: [11357]\nreduce: [HS 11359]",
        "reduce: unknown section 'HS 11359'; only 11357, 11358, 11359, 11360 can be listed",
    ),
    (
        "name: X\ndismiss: [11357, 11359]\nreduce: [11359, 11360]",
        "reduce: section 11359 is also in 'dismiss'; each section takes one outcome",
    ),
    (
        "name: X\ndismiss: [11357, 11357]\nreduce: []",
        "dismiss: section 11357 is listed twice",
    ),
    (
        "name: X\ndismiss: 11357\nreduce: []",
        "dismiss: expected a list of sections like [11357, 11358], found 11357",
    ),
    (
        "name: X\ndismiss: [11357]",
        "reduce: missing; a policy must give name, dismiss and reduce",
    ),
    (
        "name: ''\ndismiss: []\nreduce: []",
        "name: expected non-empty text, found ''",
    ),
    (
        "name: X\ndismiss: []\nreduce: []\nreduce: [11360]",
        "line 4: key 'reduce' appears twice",
    ),
    (
        "- name: X",
        "expected a mapping of keys, found a list",
    ),
]


@pytest.mark.parametrize(
    ("text", "message"), INVALID_SECTIONS, ids=[i[1] for i in INVALID_SECTIONS]
)
def test_invalid_section_lists(policy_file, text, message):
    path = policy_file(text + "\n")
    with pytest.raises(PolicyError) as error:
        load_policy(path)
    assert str(error.value) == f"{path}: {message}"


def test_finding_a_policy(tmp_path):
    with pytest.raises(
        PolicyError, match=re.escape("statue: no such preset; did you mean 'statute'?")
    ):
        load_policy("statue")
    with pytest.raises(PolicyError, match="policy file not found"):
        load_policy(tmp_path / "missing.yaml")
    with pytest.raises(PolicyError, match=r"must end in \.yaml, \.yml or \.json"):
        load_policy(tmp_path / "policy.txt")
    (tmp_path / "empty.yaml").write_text("# nothing\n")
    with pytest.raises(PolicyError, match=re.escape("empty.yaml: the policy file is empty")):
        load_policy(tmp_path / "empty.yaml")


# ---------------------------------------------------------------- gogen / BEAR JSON


def test_gogen_eligibility_options_import(gogen):
    """gogen's own options file (peer data) imports as gogen decided with it."""
    assert_gogen_options(load_policy(gogen / "eligibility_options.json"))


def test_gogen_form_options_import(policy_file):
    """The same options in gogen's form, written here: the import needs no peer data."""
    path = policy_file(json.dumps(GOGEN_OPTIONS, indent=2), "eligibility_options.json")
    assert_gogen_options(load_policy(path))


def assert_gogen_options(policy):
    assert policy.dismiss == ("11357", "11358")
    assert policy.reduce == ("11359", "11360")
    assert policy.additional_relief == AdditionalRelief(
        under_21=True, age_threshold=57, conviction_age=10, crime_free=None, only_prop64=True,
        deceased=True, sentence_completed=False,
    )  # fmt: skip
    assert policy.misdemeanors == "dismiss"  # gogen dismisses every misdemeanor first
    assert policy.review == ReviewTriggers()  # gogen has no review triggers
    assert policy.county is None
    assert policy.name == "gogen options (eligibility_options.json)"


def test_bear_options_with_switches_and_11357_subsections(policy_file):
    # The form BEAR writes (its own tests): switches beside each threshold,
    # HS 11357 split into its subsection choices.
    options = {
        "baselineEligibility": {
            "dismiss": [
                "11357(a)",
                "11357(b)",
                "11357(c)",
                "11357(d)",
                "11357(no-sub-section)",
                "11358",
            ],
            "reduce": ["11359", "11360"],
        },
        "additionalRelief": {
            "subjectUnder21AtConviction": False,
            "dismissOlderThanAgeThreshold": False,
            "subjectAgeThreshold": 0,
            "dismissYearsSinceConvictionThreshold": True,
            "yearsSinceConvictionThreshold": 3,
            "dismissYearsCrimeFreeThreshold": False,
            "yearsCrimeFreeThreshold": 5,
            "subjectHasOnlyProp64Charges": False,
            "subjectIsDeceased": False,
        },
    }
    policy = load_policy(policy_file(json.dumps(options), "bear.json"))
    assert policy.dismiss == ("11357", "11358")
    assert policy.additional_relief == AdditionalRelief(conviction_age=3)


INVALID_GOGEN = [
    (
        {"baselineEligibility": {"dismiss": ["11357"]}, "additionalRelief": {"subjectAge": 50}},
        "additionalRelief.subjectAge: unknown key; did you mean 'subjectAgeThreshold'?",
    ),
    (
        {"baselineEligibility": {"dismiss": ["11357"]}, "county": "SACRAMENTO"},
        "county: unknown key; known keys: baselineEligibility, additionalRelief",
    ),
    (
        {"baselineEligibility": {"dismiss": ["11357"], "reduce": ["11357"]}},
        "baselineEligibility: 11357 is in both dismiss and reduce; a clearance policy gives "
        "each section one outcome",
    ),
    (
        {"baselineEligibility": {"dismiss": ["11357(a)"], "reduce": ["11357(b)"]}},
        "baselineEligibility: 11357 is in both dismiss and reduce; a clearance policy gives "
        "each section one outcome",
    ),
    (
        {"baselineEligibility": {"dismiss": ["11357(a)", "11358"]}},
        "baselineEligibility.dismiss: only some subsections of 11357 are listed (11357(a)); a "
        "clearance policy chooses for the whole section: list 11357 or all its subsections",
    ),
    (
        {"baselineEligibility": {"reduce": ["11362.1"]}},
        "baselineEligibility.reduce: unknown section '11362.1'; only 11357, 11358, 11359, 11360",
    ),
    (
        {"baselineEligibility": {}, "additionalRelief": {"subjectAgeThreshold": 150}},
        "additionalRelief.subjectAgeThreshold: 150 is out of range; expected 18 to 100 years, "
        "or null",
    ),
    (
        {"baselineEligibility": {}, "additionalRelief": {"yearsCrimeFreeThreshold": -1}},
        "additionalRelief.yearsCrimeFreeThreshold: expected a whole number (0 = off), found -1",
    ),
    (
        {"baselineEligibility": {}, "additionalRelief": {"subjectIsDeceased": "yes"}},
        "additionalRelief.subjectIsDeceased: expected true or false, found 'yes'",
    ),
    (
        {"additionalRelief": {}},
        "baselineEligibility: missing; it holds the dismiss and reduce lists",
    ),
]


@pytest.mark.parametrize(("options", "message"), INVALID_GOGEN, ids=[i[1] for i in INVALID_GOGEN])
def test_invalid_gogen_options_name_file_and_key(policy_file, options, message):
    path = policy_file(json.dumps(options), "options.json")
    with pytest.raises(PolicyError) as error:
        load_policy(path)
    assert str(error.value) == f"{path}: {message}"


def test_gogen_file_that_is_not_json(policy_file):
    path = policy_file("{not json", "options.json")
    with pytest.raises(PolicyError, match=re.escape("options.json: not valid JSON")):
        load_policy(path)
