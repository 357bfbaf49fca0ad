"""The evidence beside every review (issue 14): what the rules read, shown where people look.

A comment-only charge goes to review; the comment that caused it must be in the
determinations, in ``explain``, and the comment_charge line must name the section the
comment names.
"""

from __future__ import annotations

import polars as pl
import pytest
from typer.testing import CliRunner

from clearance.cli import app
from clearance.explain import explain
from conftest import line

runner = CliRunner()

COMMENT_ONLY = "CHRG 11359 HS POSS MARIJUANA FOR SALE"
OTHER_SECTION = "AMENDED FROM 11360 HS"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("evidence")
    extract = folder / "extract.dat"
    lines = [
        line(SUBJECT_ID="1", CNT_ORDER="001001001000", OFFENSE_DESCR="SEE COMMENT FOR CHARGE",
             COMMENT_TEXT=COMMENT_ONLY),
        line(SUBJECT_ID="2", CNT_ORDER="001001001000", OFFENSE_DESCR="11357 HS-POSSESS",
             COMMENT_TEXT=OTHER_SECTION),
        line(SUBJECT_ID="3", CNT_ORDER="001001001000", OFFENSE_DESCR="HS-POSSESS MARIJUANA",
             PRI_DOB="19700101"),
        line(SUBJECT_ID="4", CNT_ORDER="001001001000", PRI_DOB="20120101",
             OFFENSE_DESCR="11360A2 HS-SELL MARIJUANA"),
    ]  # fmt: skip
    extract.write_text("\n".join(lines) + "\n")
    out = folder / "out"
    result = runner.invoke(
        app,
        ["run", str(extract), "--county", "SACRAMENTO", "--as-of", "2020-07-01", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    return out


def determinations(run_dir) -> dict[str, dict]:
    rows = pl.read_csv(run_dir / "determinations.csv", infer_schema=False).to_dicts()
    return {row["subject_id"]: row for row in rows}


def test_the_comment_that_caused_a_review_is_in_the_determinations(run_dir):
    rows = determinations(run_dir)
    assert (rows["1"]["reason"], rows["1"]["comment_text"]) == ("comment_charge", COMMENT_ONLY)
    assert (rows["1"]["charge_source"], rows["1"]["section"]) == ("comment", "11359")
    assert (rows["2"]["reason"], rows["2"]["comment_text"]) == ("comment_charge", OTHER_SECTION)
    assert rows["2"]["comment_cannabis_section"] == "11360"
    assert rows["4"]["charge_notation"] == "run_on"


def test_explain_shows_the_comment_and_the_section_it_names(run_dir):
    result = runner.invoke(app, ["explain", "--run", str(run_dir), "1"])
    assert result.exit_code == 0, result.output
    assert f"Comment: {COMMENT_ONLY}" in result.output
    assert "Charge read from: the comment text (HS 11359)" in result.output
    checks = {c.reason: c for c in explain(run_dir, "1").decisions[0].checks}
    assert checks["comment_charge"].status == "applies"
    assert checks["comment_charge"].detail == (
        f"charge read from the comment text, which names HS 11359: “{COMMENT_ONLY}”"
    )
    other = {c.reason: c for c in explain(run_dir, "2").decisions[0].checks}
    assert other["comment_charge"].detail == (
        f"offense field reads HS 11357; the comment names HS 11360: “{OTHER_SECTION}”"
    )


def test_an_unreadable_charge_and_an_impossible_date_say_what_was_read(run_dir):
    unreadable = explain(run_dir, "3").decisions[0]
    checks = {c.reason: c for c in unreadable.checks}
    assert checks["unparsed_charge"].status == "applies"
    assert "“HS-POSSESS MARIJUANA”" in checks["unparsed_charge"].detail
    assert ("Charge read from", "nowhere: no code section could be read") in unreadable.evidence

    before_birth = explain(run_dir, "4").decisions[0]
    checks = {c.reason: c for c in before_birth.checks}
    assert checks["invalid_date"].status == "applies"
    assert checks["invalid_date"].detail.endswith("on or before the date of birth (2012-01-01)")
    assert before_birth.conviction["age_at_conviction"] is None
