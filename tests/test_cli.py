"""The command line contract (product.md): commands, outputs, exit codes, messages."""

from __future__ import annotations

import json

import polars as pl
import pytest
from typer.testing import CliRunner

from clearance.cli import app
from clearance.outputs.determinations import CONTRACT_COLUMNS
from conftest import GOGEN, line

runner = CliRunner()

PEER_RUN = [
    "run",
    str(GOGEN / "no_headers.csv"),
    "--county",
    "SAN JOAQUIN",
    "--policy",
    str(GOGEN / "eligibility_options.json"),
    "--as-of",
    "2019-11-11",
]
FOLDER = {
    "determinations.csv",
    "determinations.parquet",
    "determinations.xlsx",
    "summary.json",
    "rejects.csv",
    "run.json",
}


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def peer_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "out"
    result = invoke(*PEER_RUN, "--out", out)
    assert result.exit_code == 0, result.output
    return out


def test_inspect_bad_csv_reports_37_rows_and_the_missing_end_of_rec():
    result = invoke("inspect", GOGEN / "bad.csv", "--json")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["rows"]["read"] == 37
    assert figures["rows"]["rejected"] == 0
    assert any("END_OF_REC" in w for w in figures["warnings"])


def test_inspect_counts_people_and_cannabis_convictions():
    figures = json.loads(invoke("inspect", GOGEN / "no_headers.csv", "--json").output)
    assert figures["subjects"] == 11
    assert figures["cannabis_convictions_by_county"]["SAN JOAQUIN"] == {
        "11357": 3,
        "11358": 8,
        "11359": 4,
    }


def test_run_writes_the_contract_folder(peer_run):
    assert {p.name for p in peer_run.iterdir()} >= FOLDER
    determinations = pl.read_csv(peer_run / "determinations.csv", infer_schema=False)
    assert tuple(determinations.columns[: len(CONTRACT_COLUMNS)]) == CONTRACT_COLUMNS
    assert determinations.height == 15
    assert determinations["rule"].null_count() == 0
    assert determinations["citation"].null_count() == 0
    assert pl.read_parquet(peer_run / "determinations.parquet").height == 15
    workbook = pl.read_excel(peer_run / "determinations.xlsx")
    assert workbook.height == 15


def test_summary_reconciles_rows_and_convictions(peer_run):
    summary = json.loads((peer_run / "summary.json").read_text())
    rows = summary["rows"]
    assert rows["read"] == rows["used"] + rows["rejected"] == 38
    assert summary["convictions_in_scope"] == sum(summary["by_determination"].values()) == 15
    assert set(summary["by_determination"]) == {"dismiss", "reduce", "not_eligible", "review"}
    assert sum(summary["by_reason"].values()) == 15
    helped = summary["demographics"]["people_helped"]
    assert sum(helped["race"].values()) == summary["impact"]["people_helped"]


def test_run_json_records_provenance(peer_run):
    provenance = json.loads((peer_run / "run.json").read_text())
    assert provenance["as_of"] == "2019-11-11"
    assert provenance["as_of_source"] == "argument"
    assert provenance["rule_pack"]["version"]
    assert provenance["policy"]["dismiss"] == [11357, 11358]
    (source,) = provenance["inputs"]
    assert len(source["sha256"]) == 64 and source["rows_read"] == 38
    assert provenance["timings_seconds"]["total"] > 0


def test_same_inputs_give_byte_identical_outputs(peer_run, tmp_path):
    again = tmp_path / "again"
    assert invoke(*PEER_RUN, "--out", again).exit_code == 0
    for name in FOLDER - {"run.json"}:  # run.json records timings
        assert (peer_run / name).read_bytes() == (again / name).read_bytes(), name


def test_explain_walks_the_rules_with_citations(peer_run):
    result = invoke("explain", "--run", peer_run, "84734892")
    assert result.exit_code == 0, result.output
    assert "prior_superstrike" in result.output
    assert "667(e)(2)(C)(iv)" in result.output
    assert "not_eligible" in result.output


def test_explain_unknown_person_is_a_clear_error(peer_run):
    result = invoke("explain", "--run", peer_run, "00000000")
    assert result.exit_code == 2
    assert "no determination" in result.output


def test_unknown_county_fails_with_the_counties_found(tmp_path):
    result = invoke(*PEER_RUN[:3], "SAN JAOQUIN", "--out", tmp_path / "x")
    assert result.exit_code == 2
    assert "SAN JOAQUIN" in result.output
    assert not (tmp_path / "x").exists()
    assert not list(tmp_path.iterdir())  # nothing half-written is left behind


def test_bad_policy_fails_with_one_line(tmp_path):
    policy = tmp_path / "p.yaml"
    policy.write_text("name: X\ndismiss: [11357]\nreduce: []\nmisdemeanours: dismiss\n")
    result = invoke(*PEER_RUN[:5], policy, "--as-of", "2020-07-01", "--out", tmp_path / "o")
    assert result.exit_code == 2
    assert "misdemeanours" in result.output and "p.yaml" in result.output


def test_bad_as_of_date(tmp_path):
    result = invoke(*PEER_RUN[:-1], "2020-02-30", "--out", tmp_path / "o")
    assert result.exit_code == 2
    assert "YYYY-MM-DD" in result.output


def test_missing_input_file(tmp_path):
    result = invoke("run", tmp_path / "nope.dat", "--county", "X", "--out", tmp_path / "o")
    assert result.exit_code == 2
    assert "no such file" in result.output


def test_run_refuses_to_overwrite_a_folder_that_is_not_a_run(tmp_path):
    target = tmp_path / "documents"
    target.mkdir()
    (target / "letter.txt").write_text("keep me")
    result = invoke(*PEER_RUN, "--out", target)
    assert result.exit_code == 2
    assert (target / "letter.txt").read_text() == "keep me"


def test_rerun_replaces_an_earlier_run(peer_run, tmp_path):
    out = tmp_path / "out"
    assert invoke(*PEER_RUN, "--out", out).exit_code == 0
    assert invoke(*PEER_RUN, "--out", out).exit_code == 0
    assert {p.name for p in out.iterdir()} >= FOLDER
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_default_as_of_is_today_and_recorded(tmp_path):
    out = tmp_path / "out"
    assert invoke(*PEER_RUN[:-2], "--out", out).exit_code == 0
    assert json.loads((out / "run.json").read_text())["as_of_source"] == "today"


def test_rejects_are_listed_and_never_quote_personal_data(tmp_path):
    extract = tmp_path / "x.dat"
    bad = line(PRI_NAME="SECRET,NAME").rsplit(",", 1)[0]
    extract.write_text("\n".join([line(), bad, line(SUBJECT_ID="2")]) + "\n")
    out = tmp_path / "out"
    result = invoke("run", extract, "--county", "SACRAMENTO", "--as-of", "2020-07-01", "--out", out)
    assert result.exit_code == 0, result.output
    rejects = pl.read_csv(out / "rejects.csv")
    assert rejects.select("file", "line", "reason_code").rows() == [
        ("x.dat", 2, "wrong_field_count")
    ]
    assert "SECRET" not in (out / "rejects.csv").read_text()
    assert "SECRET" not in result.output


def test_policies_lists_and_shows_presets():
    listing = invoke("policies")
    assert listing.exit_code == 0
    for name in ("statute", "los-angeles-2020", "bear-default"):
        assert name in listing.output
    shown = invoke("policies", "show", "los-angeles-2020")
    assert shown.exit_code == 0 and "50" in shown.output
    as_yaml = invoke("policies", "show", "statute", "--yaml")
    assert "dismiss:" in as_yaml.output


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0 and result.output.startswith("clearance ")
