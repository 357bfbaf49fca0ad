"""The engine applies the pack and nothing else (issue 16): change it, the outcome changes.

Each kind of value a lawyer may edit in a copy of the Prop 64 pack (a threshold, a
list, the order of the rules, a rule's determination, a date) changes the
determinations of a run with `--law` that folder; and the run records the changed
pack, which `explain` then walks.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from clearance.cli import app
from clearance.explain import PackMismatch, explain
from clearance.law import RulePackError, load_pack, load_rulepack, read_rulepack
from conftest import line

runner = CliRunner()
AS_OF = "2020-07-01"
PACK = load_rulepack().folder


def _count(subject: str, cycle: int, date: str, offense: str, *, severity: str = "FELONY"):
    toc = {"FELONY": "F", "MISDEMEANOR": "M"}[severity]
    return line(
        SUBJECT_ID=subject,
        CII_NUMBER=f"A{subject}",
        PRI_NAME=f"CASE,{subject}",
        PRI_DOB="19700101",
        CYC_ORDER=f"{cycle:03d}",
        CYC_DATE=date,
        STP_ORDER="001",
        STP_EVENT_DATE=date,
        STP_TYPE_DESCR="COURT",
        STP_ORI_DESCR="CASC SACRAMENTO",
        STP_ORI_CNTY_NAME="SACRAMENTO",
        CNT_ORDER=f"{cycle:03d}001001000",
        OFN=f"C{subject}-{cycle}",
        OFFENSE_DESCR=offense,
        OFFENSE_TOC=toc,
        DISP_DESCR="CONVICTED",
        CONV_STAT_DESCR=severity,
    )


# subject -> history; each person's last conviction is the one the tests look at.
PEOPLE = {
    # Two earlier convictions under HS 11359, then a third: two_priors (min_priors 2).
    "100": [("20050301", "11359 HS-POSSESS MARIJUANA FOR SALE"),
            ("20060301", "11359 HS-POSSESS MARIJUANA FOR SALE"),
            ("20080301", "11359 HS-POSSESS MARIJUANA FOR SALE")],
    # A super strike (PC 187), then a sale: prior_superstrike.
    "200": [("19900101", "187 PC-MURDER"), ("20100301", "11360 HS-SELL MARIJUANA")],
    # Convicted after the cut-off: after_prop64.
    "300": [("20170301", "11357 HS-POSSESS MARIJUANA")],
    # A super strike and two earlier sales: prior_superstrike comes before two_priors.
    "400": [("19900101", "187 PC-MURDER"),
            ("20050301", "11360 HS-SELL MARIJUANA"),
            ("20060301", "11360 HS-SELL MARIJUANA"),
            ("20080301", "11360 HS-SELL MARIJUANA")],
}  # fmt: skip


@pytest.fixture(scope="module")
def extract(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("extract") / "people.dat"
    lines = [
        _count(subject, cycle, date, offense)
        for subject, history in PEOPLE.items()
        for cycle, (date, offense) in enumerate(history, start=1)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def pack_copy(tmp_path):
    """A copy of the Prop 64 pack and a function to edit one of its files."""
    folder = shutil.copytree(PACK, tmp_path / "pack")

    def edit(old: str, new: str, file: str = "pack.yaml") -> Path:
        path = folder / file
        text = path.read_text()
        assert text.count(old) == 1, old
        path.write_text(text.replace(old, new))
        return folder

    return edit


def _run(extract: Path, out: Path, *law: str) -> dict[str, tuple[str, str]]:
    args = ["run", str(extract), "--county", "SACRAMENTO", "--as-of", AS_OF, "--out", str(out)]
    result = runner.invoke(app, [*args, *law])
    assert result.exit_code == 0, result.output
    rows = pl.read_csv(out / "determinations.csv", infer_schema=False)
    last = rows.sort("conviction_date").group_by("subject_id").last()
    return {r["subject_id"]: (r["determination"], r["reason"]) for r in last.iter_rows(named=True)}


@pytest.fixture(scope="module")
def installed(extract, tmp_path_factory) -> dict[str, tuple[str, str]]:
    return _run(extract, tmp_path_factory.mktemp("installed") / "out")


def test_the_installed_pack_decides_as_prop64_md_says(installed):
    assert installed == {
        "100": ("not_eligible", "two_priors"),
        "200": ("not_eligible", "prior_superstrike"),
        "300": ("not_eligible", "after_prop64"),
        "400": ("not_eligible", "prior_superstrike"),
    }


def test_a_copy_unchanged_decides_the_same(extract, installed, tmp_path):
    copy = shutil.copytree(PACK, tmp_path / "same")
    assert _run(extract, tmp_path / "out", "--law", str(copy)) == installed


def test_a_threshold_changed_in_the_pack_changes_the_outcome(
    extract, installed, pack_copy, tmp_path
):
    """The issue's check: two_priors' number of priors set to 3 in a copy of the pack."""
    folder = pack_copy(
        "test: {function: prior_same_section, min_priors: 2}",
        "test: {function: prior_same_section, min_priors: 3}",
    )
    out = tmp_path / "out"
    changed = _run(extract, out, "--law", str(folder))
    # Exactly two earlier same-section convictions: no longer disqualified; the
    # statute policy reduces HS 11359.
    assert installed["100"] == ("not_eligible", "two_priors")
    assert changed["100"] == ("reduce", "baseline")
    assert {k: v for k, v in changed.items() if k != "100"} == {
        k: v for k, v in installed.items() if k != "100"
    }
    recorded = json.loads((out / "run.json").read_text())["rule_pack"]
    assert recorded["sha256"] == read_rulepack(folder).sha256 != load_rulepack().sha256
    assert recorded["source"] == str(folder.resolve())
    # explain walks the run's own pack: the changed rule, with its new test.
    walked = explain(out, "100")
    last = max(walked.decisions, key=lambda d: d.conviction["conviction_date"])
    two = next(c for c in last.checks if c.reason == "two_priors")
    assert two.test == "prior_same_section(min_priors=3)"
    assert two.status == "does not apply"
    assert two.detail == "2 earlier conviction case(s) under HS 11359"
    shown = runner.invoke(app, ["explain", "--run", str(out), "100"])
    assert shown.exit_code == 0, shown.output
    assert "prior_same_section(min_priors=3)" in shown.output
    assert str(folder.resolve()) in shown.output.replace("\n", "")


def test_explain_refuses_a_run_whose_pack_folder_has_changed_since(extract, pack_copy, tmp_path):
    folder = pack_copy("min_priors: 2}", "min_priors: 3}")
    out = tmp_path / "out"
    _run(extract, out, "--law", str(folder))
    (folder / "pack.yaml").write_text((folder / "pack.yaml").read_text().replace(
        "min_priors: 3}", "min_priors: 4}"))  # fmt: skip
    with pytest.raises(PackMismatch, match="rule pack prop64"):
        explain(out, "100")
    shutil.rmtree(folder)
    with pytest.raises(PackMismatch, match="not available"):
        explain(out, "100")


def test_a_list_changed_in_the_pack_changes_the_outcome(extract, installed, pack_copy, tmp_path):
    folder = pack_copy(
        '  - {section: "187", citation: "PC 667(e)(2)(C)(iv)(IV)", note: murder}\n',
        "",
        file="lists/superstrikes.yaml",
    )
    changed = _run(extract, tmp_path / "out", "--law", str(folder))
    assert changed["200"] == ("reduce", "baseline")  # murder is no longer on the list
    assert changed["400"] == ("not_eligible", "two_priors")  # the next rule now decides


def test_the_order_of_the_rules_changed_in_the_pack_changes_the_outcome(
    extract, installed, tmp_path
):
    text = (PACK / "pack.yaml").read_text()
    start = text.index("  - id: two_priors\n")
    end = text.index("  - id: undated_disqualifier\n")
    rule = text[start:end]
    moved = text[:start] + text[end:]
    moved = moved.replace("  - id: prior_superstrike\n", rule + "  - id: prior_superstrike\n")
    folder = shutil.copytree(PACK, tmp_path / "pack")
    (folder / "pack.yaml").write_text(moved)
    changed = _run(extract, tmp_path / "out", "--law", str(folder))
    assert installed["400"] == ("not_eligible", "prior_superstrike")
    assert changed["400"] == ("not_eligible", "two_priors")
    assert [s.id for s in read_rulepack(folder).steps][3:6] == [
        "excluded_subsection", "two_priors", "prior_superstrike"
    ]  # fmt: skip


def test_a_determination_changed_in_the_pack_changes_the_outcome(
    extract, installed, pack_copy, tmp_path
):
    folder = pack_copy(
        '    determination: not_eligible\n    basis: statute\n    citation: "HS 11361.8(a), (e)"',
        '    determination: review\n    basis: statute\n    citation: "HS 11361.8(a), (e)"',
    )
    changed = _run(extract, tmp_path / "out", "--law", str(folder))
    assert changed["300"] == ("review", "after_prop64")


def test_a_date_changed_in_the_pack_changes_the_outcome(extract, installed, pack_copy, tmp_path):
    folder = pack_copy("    value: 2016-11-08\n", "    value: 2017-06-30\n")
    changed = _run(extract, tmp_path / "out", "--law", str(folder))
    assert changed["300"] == ("dismiss", "baseline")


def test_a_pack_whose_rule_calls_an_unknown_function_is_refused(pack_copy, extract, tmp_path):
    folder = pack_copy("    test: invalid_date\n", "    test: invalid_dates\n")
    with pytest.raises(
        RulePackError, match=r"rules \(invalid_date\): no test function 'invalid_dates'"
    ):
        read_rulepack(folder)
    result = runner.invoke(app, ["run", str(extract), "--county", "SACRAMENTO", "--as-of", AS_OF,
                                 "--out", str(tmp_path / "o"), "--law", str(folder)])  # fmt: skip
    assert result.exit_code == 2
    assert "no test function 'invalid_dates'" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_rule_given_arguments_its_function_does_not_take_is_refused(pack_copy):
    folder = pack_copy("min_priors: 2}", "min_prior: 2}")
    with pytest.raises(RulePackError, match=r"prior_same_section: .*min_prior"):
        read_rulepack(folder)


def test_an_unknown_pack_name_is_a_one_line_error(extract, tmp_path):
    with pytest.raises(RulePackError, match="no such rule pack"):
        load_pack("prop46")
    result = runner.invoke(app, ["run", str(extract), "--county", "SACRAMENTO", "--as-of", AS_OF,
                                 "--out", str(tmp_path / "o"), "--law", "prop46"])  # fmt: skip
    assert result.exit_code == 2
    assert "no such rule pack" in result.output


def test_laws_lists_the_packs_and_shows_every_rule_with_citation_and_statute():
    listed = runner.invoke(app, ["laws"])
    assert listed.exit_code == 0
    assert "prop64" in listed.output
    shown = runner.invoke(app, ["laws", "show", "prop64"])
    assert shown.exit_code == 0, shown.output
    law = load_rulepack()
    text = shown.output
    positions = [text.index(f". {step.id}: ") for step in law.steps]
    assert positions == sorted(positions)  # every rule, in the order of evaluation
    for rule in law.rules.values():
        assert f"citation {rule.citation}" in text
    # The statute's words, e.g. HS 11359(c)(2), quoted.
    words = " ".join(text.split())
    assert "The person has two or more prior convictions under subdivision (b)" in words
    assert "“" in text


def test_a_section_the_extract_reader_cannot_find_is_refused_not_ignored(pack_copy):
    folder = pack_copy(
        '      - {section: "11357", name: possession,',
        '      - {section: "11362", name: other, citation: "HS 11362"}\n'
        '      - {section: "11357", name: possession,',
    )
    with pytest.raises(RulePackError, match="section 11362 is not one the extract reader reads"):
        read_rulepack(folder)


def test_the_report_and_the_filings_word_reasons_as_the_runs_pack_does(
    extract, pack_copy, tmp_path
):
    folder = pack_copy(
        '    label: "Earlier super strike"\n    ground: "Prior super-strike conviction"\n',
        '    label: "A strike before (edited)"\n    ground: "Strike before (edited ground)"\n',
    )
    out = tmp_path / "out"
    _run(extract, out, "--law", str(folder))
    report = runner.invoke(app, ["report", "--run", str(out)])
    assert report.exit_code == 0, report.output
    assert "A strike before (edited)" in (out / "report.html").read_text()
    filed = runner.invoke(app, ["filings", "--run", str(out), "--out", str(tmp_path / "f"),
                                "--no-letters"])  # fmt: skip
    assert filed.exit_code == 0, filed.output
    exhibit = next((tmp_path / "f").rglob("exhibit-b.docx"))
    from docx import Document

    text = "\n".join(c.text for t in Document(exhibit).tables for r in t.rows for c in r.cells)
    assert "Strike before (edited ground)" in text
    assert "Prior super-strike conviction" not in text


def test_the_policy_schema_is_the_packs_settings():
    """Every key of a Prop 64 policy is a setting the pack declares, and the reverse."""
    from clearance.policy import load_policy

    policy = load_policy("statute").to_file()
    keys = {
        f"{key}.{inner}" if isinstance(value, dict) else key
        for key, value in policy.items()
        if key not in ("name", "county")
        for inner in (value if isinstance(value, dict) else [None])
    }
    assert keys == set(load_rulepack().settings)


@pytest.mark.parametrize("preset", ["statute", "los-angeles-2020", "bear-default"])
def test_the_web_policy_form_is_built_from_the_packs_settings(preset):
    """Every grouped setting of the pack is a field; a preset goes through the form unchanged."""
    from clearance.policy import load_policy
    from clearance.web import policy_form

    fields = {f"{g}.{f}" for g, _legend, fs in policy_form.groups() for f, _s in fs}
    assert fields == {k for k in load_rulepack().settings if "." in k}
    values = policy_form.preset_values(preset)
    form = {k: ("on" if v is True else "" if v is False else str(v)) for k, v in values.items()}
    form.update({k: v for k, v in values.items() if k.startswith("outcome_")})
    policy = policy_form.policy_from_form(form)
    expected = load_policy(preset)
    ignored = {"name": "", "county": None}  # the form names neither: the run does
    assert policy.to_file() | ignored == expected.to_file() | ignored
