"""The command line contract (product.md): commands, outputs, exit codes, messages."""

from __future__ import annotations

import hashlib
import json

import polars as pl
import pytest
from typer.testing import CliRunner

from clearance.cli import app
from clearance.extract.columns import FIELDS
from clearance.outputs.determinations import CONTRACT_COLUMNS
from clearance.sample import SAMPLE_COUNTY, sample_path
from conftest import GOGEN_OPTIONS, header, line

runner = CliRunner()

# The bundled synthetic extract (`clearance demo`), and what its generator says it put in it.
SAMPLE = sample_path()
INTENDED = json.loads((SAMPLE.parent / "sample.intended.json").read_text())
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
def sample_args(tmp_path_factory):
    """`clearance run` on the sample with a policy file, as of a given date (no --out)."""
    policy = tmp_path_factory.mktemp("policy") / "options.json"
    policy.write_text(json.dumps(GOGEN_OPTIONS))
    return ["run", SAMPLE, "--county", SAMPLE_COUNTY, "--policy", policy, "--as-of", "2020-07-01"]


@pytest.fixture(scope="module")
def sample_run(sample_args, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "out"
    result = invoke(*sample_args, "--out", out)
    assert result.exit_code == 0, result.output
    return out


def test_inspect_reports_rows_and_the_missing_end_of_rec(write):
    names = FIELDS[:-1]
    data = ",".join(["", "", "7", *[""] * 47, "001001001000", *[""] * 43])
    extract = write(header(names) + "\n" + data + "\n" + data.rsplit(",", 1)[0] + "\n")
    result = invoke("inspect", extract, "--json")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert (figures["rows"]["read"], figures["rows"]["rejected"]) == (2, 1)
    assert any("END_OF_REC" in w for w in figures["warnings"])


def test_inspect_peer_bad_csv_reports_37_rows_and_the_missing_end_of_rec(gogen):
    result = invoke("inspect", gogen / "bad.csv", "--json")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["rows"]["read"] == 37
    assert figures["rows"]["rejected"] == 0
    assert any("END_OF_REC" in w for w in figures["warnings"])


def test_inspect_counts_people_and_cannabis_convictions():
    figures = json.loads(invoke("inspect", SAMPLE, "--json").output)
    assert figures["subjects"] == INTENDED["subjects"] == 300
    assert figures["rows"] == {"read": 7888, "used": 7880, "rejected": 8}
    assert figures["cannabis_convictions_by_county"][SAMPLE_COUNTY] == {
        "11357": 184,
        "11358": 34,
        "11359": 132,
        "11360": 59,
    }
    assert figures["cannabis_convictions_by_county"] == {
        county: {section: n for section, n in sections.items() if n}
        for county, sections in INTENDED["cannabis_convictions_by_county"].items()
    }


def test_run_writes_the_contract_folder(sample_run):
    in_county = INTENDED["facts"]["cannabis_convictions_in_county"]  # 409
    assert {p.name for p in sample_run.iterdir()} >= FOLDER
    determinations = pl.read_csv(sample_run / "determinations.csv", infer_schema=False)
    assert tuple(determinations.columns[: len(CONTRACT_COLUMNS)]) == CONTRACT_COLUMNS
    assert determinations.height == in_county
    assert determinations["rule"].null_count() == 0
    assert determinations["citation"].null_count() == 0
    assert pl.read_parquet(sample_run / "determinations.parquet").height == in_county
    workbook = pl.read_excel(sample_run / "determinations.xlsx")
    assert workbook.height == in_county


def test_summary_reconciles_rows_and_convictions(sample_run):
    summary = json.loads((sample_run / "summary.json").read_text())
    rows = summary["rows"]
    assert rows["read"] == rows["used"] + rows["rejected"] == INTENDED["rows"]["read"]
    assert rows["rejected"] == INTENDED["rows"]["rejected"]
    in_county = INTENDED["facts"]["cannabis_convictions_in_county"]
    assert summary["convictions_in_scope"] == sum(summary["by_determination"].values()) == in_county
    assert set(summary["by_determination"]) == {"dismiss", "reduce", "not_eligible", "review"}
    assert sum(summary["by_reason"].values()) == in_county
    helped = summary["demographics"]["people_helped"]
    assert sum(helped["race"].values()) == summary["impact"]["people_helped"]


def test_run_json_records_provenance(sample_run):
    provenance = json.loads((sample_run / "run.json").read_text())
    assert provenance["as_of"] == "2020-07-01"
    assert provenance["as_of_source"] == "argument"
    assert provenance["rule_pack"]["version"]
    assert provenance["policy"]["dismiss"] == [11357, 11358]
    (source,) = provenance["inputs"]
    assert source["sha256"] == hashlib.sha256(SAMPLE.read_bytes()).hexdigest()
    assert source["rows_read"] == INTENDED["rows"]["read"]
    assert provenance["timings_seconds"]["total"] > 0


def test_same_inputs_give_byte_identical_outputs(sample_args, sample_run, tmp_path):
    again = tmp_path / "again"
    assert invoke(*sample_args, "--out", again).exit_code == 0
    for name in FOLDER - {"run.json"}:  # run.json records timings
        assert (sample_run / name).read_bytes() == (again / name).read_bytes(), name


def test_explain_walks_the_rules_with_citations(sample_run):
    # FREEMAN,JAMAL F: a PC 288(a) conviction of 2010 (a super strike), then HS 11359 in 2016.
    result = invoke("explain", "--run", sample_run, "50378253")
    assert result.exit_code == 0, result.output
    assert "prior_superstrike" in result.output
    assert "667(e)(2)(C)(iv)" in result.output
    assert "not_eligible" in result.output
    # Every explanation lists every rule with its citation; this one is decided by the super
    # strike, which it names.
    assert "not_eligible (prior_superstrike)" in result.output
    assert "288(a)" in result.output


def test_explain_unknown_person_is_a_clear_error(sample_run):
    result = invoke("explain", "--run", sample_run, "00000000")
    assert result.exit_code == 2
    assert "no determination" in result.output


def test_unknown_county_fails_with_the_counties_found(write, tmp_path):
    # Two counties: the message lists the first 12 of the extract's counties, sorted.
    extract = write(line() + "\n" + line(SUBJECT_ID="2", STP_ORI_CNTY_NAME="SAN JOAQUIN") + "\n")
    result = invoke("run", extract, "--county", "SAN JAOQUIN", "--out", tmp_path / "x")
    assert result.exit_code == 2
    assert "SAN JOAQUIN" in result.output and "SACRAMENTO" in result.output
    assert not (tmp_path / "x").exists()
    assert list(tmp_path.iterdir()) == [extract]  # nothing half-written is left behind


def test_bad_policy_fails_with_one_line(sample_args, tmp_path):
    policy = tmp_path / "p.yaml"
    policy.write_text("name: X\ndismiss: [11357]\nreduce: []\nmisdemeanours: dismiss\n")
    result = invoke(*sample_args[:5], policy, "--as-of", "2020-07-01", "--out", tmp_path / "o")
    assert result.exit_code == 2
    assert "misdemeanours" in result.output and "p.yaml" in result.output


def test_bad_as_of_date(sample_args, tmp_path):
    result = invoke(*sample_args[:-1], "2020-02-30", "--out", tmp_path / "o")
    assert result.exit_code == 2
    assert "YYYY-MM-DD" in result.output


def test_missing_input_file(tmp_path):
    result = invoke("run", tmp_path / "nope.dat", "--county", "X", "--out", tmp_path / "o")
    assert result.exit_code == 2
    assert "no such file" in result.output


def test_run_refuses_to_overwrite_a_folder_that_is_not_a_run(sample_args, tmp_path):
    target = tmp_path / "documents"
    target.mkdir()
    (target / "letter.txt").write_text("keep me")
    result = invoke(*sample_args, "--out", target)
    assert result.exit_code == 2
    assert "is not an earlier run's output folder" in result.output
    assert (target / "letter.txt").read_text() == "keep me"


def test_rerun_replaces_an_earlier_run(sample_args, tmp_path):
    out = tmp_path / "out"
    assert invoke(*sample_args, "--out", out).exit_code == 0
    assert invoke(*sample_args, "--out", out).exit_code == 0
    assert {p.name for p in out.iterdir()} >= FOLDER
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_default_as_of_is_today_and_recorded(sample_args, tmp_path):
    out = tmp_path / "out"
    assert invoke(*sample_args[:-2], "--out", out).exit_code == 0
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


@pytest.mark.parametrize("args", [["inspect", str(SAMPLE)], ["explain", "--help"]])
def test_a_closed_pipe_ends_the_command_with_one_line_and_status_2(args):
    # `clearance inspect x | head -1`: the reader goes away before the figures (or a
    # command's help, which Rich prints) are written; no traceback, no "internal
    # error": one line and status 2 (issue 18).
    import os
    import subprocess
    import sys
    from pathlib import Path

    from clearance.screen import CLOSED_PIPE_LINE, CLOSED_PIPE_STATUS

    src = str(Path(__file__).resolve().parent.parent / "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    process = subprocess.Popen(
        [sys.executable, "-m", "clearance", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # the reader is gone before anything is written
    errors = process.stderr.read()
    assert process.wait(timeout=120) == CLOSED_PIPE_STATUS == 2
    assert errors.decode().splitlines() == [CLOSED_PIPE_LINE]


def test_the_workbook_speaks_plain_words_and_keeps_the_codes(sample_run):
    import fastexcel

    from clearance.law import load_rulepack

    law = load_rulepack()
    book = fastexcel.read_excel(sample_run / "determinations.xlsx")
    assert book.sheet_names == ["Determinations", "Summary", "Columns"]
    sheet = book.load_sheet(0).to_polars()
    csv = pl.read_csv(sample_run / "determinations.csv", infer_schema=False)
    # Headers in words; the Columns sheet pairs each with its name in the CSV.
    pairs = book.load_sheet("Columns").to_polars()
    assert pairs.columns == ["Header in this workbook", "Column in determinations.csv"]
    header = dict(zip(pairs[:, 1], pairs[:, 0], strict=True))
    assert sheet.columns == [header[c] for c in pairs[:, 1]]
    assert header["determination"] == "Determination" and header["cnt_order"] != "cnt_order"
    assert header["conviction_date"] == "Conviction date" and header["reason"] == "Reason (code)"
    assert set(csv.columns) <= set(header)
    labels = dict(law.determination_labels)
    assert labels["not_eligible"] == "Not eligible"  # from pack.yaml, not from code
    assert sheet["Determination"].to_list() == [labels[d] for d in csv["determination"]]
    assert sheet["Reason (code)"].to_list() == csv["reason"].to_list()  # beside its words
    at = sheet.columns.index("Reason (code)")
    assert sheet.columns[at + 1] == "Reason"
    assert sheet["Reason"].to_list() == [law.rule(r).label for r in csv["reason"]]
    assert sheet.schema["Conviction date"] == pl.Datetime("ms")  # real dates
    assert sheet.schema["Date of birth"] == pl.Datetime("ms")
    assert "not_eligible" in set(csv["determination"])  # the CSV keeps its codes


def test_the_workbook_summary_sheet_has_summary_json_figures(sample_run):
    import fastexcel

    summary = json.loads((sample_run / "summary.json").read_text())
    figures = (
        fastexcel.read_excel(sample_run / "determinations.xlsx")
        .load_sheet("Summary", header_row=None)
        .to_polars()
    )
    # (A column of text and numbers is read back as text: compared as text.)
    rows = {r[0]: r[1] for r in figures.rows() if r[0] is not None}
    assert rows["County"] == summary["county"]
    assert rows["Convictions decided"] == str(summary["convictions_in_scope"])
    assert rows["People in the extract"] == str(summary["subjects"])
    assert rows["People helped"] == str(summary["impact"]["people_helped"])
    coded = {r[2]: r[1] for r in figures.rows() if r[2] not in (None, "Code")}
    assert coded and {"dismiss", "reduce"} <= set(coded)
    for determination, n in summary["by_determination"].items():
        assert coded[determination] == str(n)
    for reason, n in summary["by_reason"].items():
        assert coded[reason] == str(n)
