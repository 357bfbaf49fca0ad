"""What a user sees at the edges of the command line (issue 14): the as-of date
checked against the law, a policy file written by `policies show --yaml` read back,
a policy for another county, a county not in the file, and `explain` piped.

Everything here runs on the bundled sample or on a few extract lines built in the
test, so it needs nothing outside the repository.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from clearance.cli import app
from clearance.law import load_rulepack
from clearance.policy import load_policy, preset_names
from clearance.run import RunError, check_as_of, future_as_of
from clearance.sample import SAMPLE_COUNTY, sample_path
from conftest import line

runner = CliRunner()
LAW = load_rulepack()
EFFECTIVE = LAW.effective_date  # 2016-11-09
REFUSED = (
    "clearance: --as-of 2016-11-08 is before Proposition 64 took effect (2016-11-09); "
    "there was no relief yet\n"
)


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def extract(tmp_path) -> Path:
    """Two people convicted in SACRAMENTO, one in YOLO, an arrest (no conviction) in PLACER."""
    path = tmp_path / "x.dat"
    lines = [
        line(SUBJECT_ID="10000001"),
        line(SUBJECT_ID="10000002", STP_EVENT_DATE="20120305", OFN="12M0002"),
        line(SUBJECT_ID="10000003", STP_ORI_CNTY_NAME="YOLO", STP_ORI_DESCR="CASC YOLO"),
        line(
            SUBJECT_ID="10000004",
            STP_ORI_CNTY_NAME="PLACER",
            STP_ORI_DESCR="CAPD ROSEVILLE",
            STP_TYPE_DESCR="ARREST/DETAINED/CITED",
            DISP_DESCR="",
            CONV_STAT_DESCR="",
        ),
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def run_args(extract: Path, out: Path, *more) -> list:
    return ["run", extract, "--county", "SACRAMENTO", "--out", out, *more]


# --------------------------------------------------------------------------- 5. the as-of date


def test_an_as_of_date_before_the_law_took_effect_is_refused_in_one_line(extract, tmp_path):
    out = tmp_path / "out"
    result = invoke(*run_args(extract, out, "--as-of", "2016-11-08"))
    assert result.exit_code == 2
    assert result.stderr == REFUSED
    assert result.stdout == ""
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["x.dat"]
    result = invoke(*run_args(extract, out, "--as-of", "1999-01-01"))
    assert result.exit_code == 2
    assert "--as-of 1999-01-01 is before Proposition 64 took effect" in result.stderr


def test_the_day_the_law_took_effect_is_accepted_without_a_warning(extract, tmp_path):
    out = tmp_path / "out"
    result = invoke(*run_args(extract, out, "--as-of", EFFECTIVE.isoformat()))
    assert result.exit_code == 0, result.output
    assert "warning" not in result.stderr
    provenance = json.loads((out / "run.json").read_text())
    assert provenance["as_of"] == "2016-11-09" and provenance["warnings"] == []


def test_today_is_not_in_the_future(extract, tmp_path):
    out = tmp_path / "out"
    result = invoke(*run_args(extract, out, "--as-of", dt.date.today().isoformat()))
    assert result.exit_code == 0, result.output
    assert "after the day of this run" not in result.output
    assert json.loads((out / "run.json").read_text())["warnings"] == []


def test_an_as_of_date_after_today_warns_on_screen_and_in_run_json(extract, tmp_path):
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    out = tmp_path / "out"
    result = invoke(*run_args(extract, out, "--as-of", tomorrow))
    assert result.exit_code == 0, result.output
    expected = (
        f"warning: the as-of date {tomorrow} is after the day of this run: ages, years since "
        "conviction and sentences are counted to that date, as if the history in the "
        "extract does not change before then"
    )
    assert expected in result.stderr.splitlines()
    assert expected not in result.stdout
    provenance = json.loads((out / "run.json").read_text())
    assert provenance["as_of"] == tomorrow
    assert provenance["warnings"] == [expected.removeprefix("warning: ")]


def test_the_boundaries_of_the_as_of_checks():
    check_as_of(EFFECTIVE, LAW)  # the day it took effect: fine
    with pytest.raises(RunError, match=r"^as-of date 2016-11-08 is before Proposition 64"):
        check_as_of(EFFECTIVE - dt.timedelta(days=1), LAW)
    today = dt.date(2020, 7, 1)
    assert future_as_of(today, today) == []
    assert future_as_of(today - dt.timedelta(days=1), today) == []
    (warning,) = future_as_of(today + dt.timedelta(days=1), today)
    assert warning.startswith("the as-of date 2020-07-02 is after the day of this run")


def test_compare_refuses_a_run_whose_as_of_date_is_before_the_law(extract, tmp_path):
    out = tmp_path / "out"
    assert invoke(*run_args(extract, out, "--as-of", "2020-07-01")).exit_code == 0
    provenance = json.loads((out / "run.json").read_text())
    provenance["as_of"] = "2016-11-08"  # a run made before the check, or edited
    (out / "run.json").write_text(json.dumps(provenance))
    result = invoke("compare", "--run", out, "--policy", "statute", "--policy", "bear-default")
    assert result.exit_code == 2
    assert result.stderr == (
        f"clearance: {out / 'run.json'}: as_of 2016-11-08 is before Proposition 64 took "
        "effect (2016-11-09); there was no relief yet\n"
    )


# --------------------------------------------------------------------------- 6a. policy files


@pytest.mark.parametrize("name", preset_names())
def test_policies_show_yaml_writes_a_file_run_accepts(name, tmp_path):
    shown = invoke("policies", "show", name, "--yaml")
    assert shown.exit_code == 0, shown.output
    mine = tmp_path / "mine.yaml"
    mine.write_text(shown.stdout)
    original = load_policy(name)
    assert load_policy(str(mine)) == dataclasses.replace(original, source=str(mine))


def test_a_policy_file_from_policies_show_runs(extract, tmp_path):
    mine = tmp_path / "mine.yaml"
    mine.write_text(invoke("policies", "show", "statute", "--yaml").stdout)
    out = tmp_path / "out"
    result = invoke(*run_args(extract, out, "--as-of", "2020-07-01", "--policy", mine))
    assert result.exit_code == 0, result.output
    policy = json.loads((out / "run.json").read_text())["policy"]
    assert policy["name"] == "Statute (HS 11361.8)" and policy["source"] == str(mine)


# --------------------------------------------------------------------------- 6b. policy county


def test_a_policy_for_another_county_warns_and_the_run_uses_county(extract, tmp_path):
    out = tmp_path / "out"
    args = run_args(extract, out, "--as-of", "2020-07-01", "--policy", "los-angeles-2020")
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    expected = (
        "the policy 'Los Angeles County 2020' names the county LOS ANGELES, but the run is "
        "for SACRAMENTO (--county); its convictions are decided under this policy all the same"
    )
    assert f"warning: {expected}" in result.stderr.splitlines()
    provenance = json.loads((out / "run.json").read_text())
    assert provenance["county"] == "SACRAMENTO"
    assert provenance["warnings"] == [expected]
    decided = pl.read_csv(out / "determinations.csv", infer_schema=False)
    assert decided.height == 2 and set(decided["county"]) == {"SACRAMENTO"}
    # a policy for the same county, or for none, says nothing
    same = tmp_path / "sacramento.yaml"
    same.write_text("name: Ours\ncounty: Sacramento\ndismiss: [11357, 11358]\nreduce: [11359]\n")
    quiet = invoke(*run_args(extract, tmp_path / "o2", "--as-of", "2020-07-01", "--policy", same))
    assert quiet.exit_code == 0 and "warning" not in quiet.stderr


# --------------------------------------------------------------------------- 6d. wrong county


def test_a_county_not_in_the_file_lists_its_counties_and_the_closest(extract, tmp_path):
    out = tmp_path / "out"
    result = invoke("run", extract, "--county", "SACRAMENTP", "--as-of", "2020-07-01", "--out", out)
    assert result.exit_code == 2
    assert result.stderr == (
        "clearance: no event in the extract names the county 'SACRAMENTP'; did you mean "
        "'SACRAMENTO'? The extract's counties, with their convictions: PLACER 0, "
        "SACRAMENTO 2, YOLO 1\n"
    )
    assert not out.exists()
    far = invoke("run", extract, "--county", "Humboldt", "--as-of", "2020-07-01", "--out", out)
    assert far.exit_code == 2
    assert far.stderr == (
        "clearance: no event in the extract names the county 'HUMBOLDT'. The extract's "
        "counties, with their convictions: PLACER 0, SACRAMENTO 2, YOLO 1\n"
    )


def test_the_sample_lists_every_county_on_one_line(tmp_path):
    result = invoke(
        "run", sample_path(), "--county", "LOS ANGELS", "--as-of", "2020-07-01",
        "--out", tmp_path / "o",
    )  # fmt: skip
    assert result.exit_code == 2
    (message,) = result.stderr.splitlines()
    assert "did you mean 'LOS ANGELES'?" in message
    listed = message.split("with their convictions: ")[1].split(", ")
    assert len(listed) > 20  # every county, none left out
    assert f"{SAMPLE_COUNTY} 1,342" in listed


# --------------------------------------------------------------------------- 6c. explain piped


def _superstrike_person(demo: Path) -> tuple[str, pl.DataFrame]:
    decided = pl.read_parquet(demo / "determinations.parquet")
    subject = decided.filter(pl.col("reason") == "prior_superstrike")["subject_id"][0]
    history = pl.read_parquet(demo / "history.parquet").filter(pl.col("subject_id") == subject)
    return subject, history


def _check_explained(text: str, history: pl.DataFrame) -> None:
    assert "…" not in text  # nothing cut short
    lines = text.splitlines()
    dates = {d.isoformat() for d in history["event_date"].drop_nulls()}
    assert dates
    for date in dates:
        assert any(date in line for line in lines), date
    superstrike = "HS 11358(d)(1), 11359(c)(1), 11360(a)(3)(A); PC 667(e)(2)(C)(iv)"
    rule_line = next(line for line in lines if line.split()[1:2] == ["prior_superstrike"])
    assert "applies" in rule_line and rule_line.rstrip().endswith(superstrike)
    assert any("relief covers convictions on or before 2016-11-08" in line for line in lines)


def test_explain_captured_prints_whole_dates_and_citations(demo):
    subject, history = _superstrike_person(demo)
    result = invoke("explain", "--run", demo, subject)
    assert result.exit_code == 0, result.output
    _check_explained(result.stdout, history)


def test_explain_redirected_to_a_pipe_prints_whole_lines(demo):
    subject, history = _superstrike_person(demo)
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    done = subprocess.run(
        [sys.executable, "-m", "clearance", "explain", "--run", str(demo), subject],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    _check_explained(done.stdout, history)


# --- a file that is not an extract (issue 18) ---------------------------------------------


@pytest.mark.parametrize("command", ["inspect", "run"])
def test_a_file_with_no_usable_line_is_not_an_extract(command, tmp_path):
    junk = tmp_path / "notes.txt"
    junk.write_text("hello world\nnot an extract\n")
    args = [command, junk]
    if command == "run":
        args += ["--county", "SACRAMENTO", "--as-of", "2020-07-01", "--out", tmp_path / "out"]
    result = invoke(*args)
    assert result.exit_code == 2
    assert result.output == (
        "clearance: notes.txt: not a DOJ extract: none of its 2 lines could be used (line 1: "
        "wrong number of fields: expected 95, found 1); docs/extract-format.md describes "
        "the format\n"
    )  # one line, and no word about the county
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["inspect", "run"])
def test_an_empty_file_is_not_an_extract(command, tmp_path):
    empty = tmp_path / "empty.dat"
    empty.write_bytes(b"")
    args = [command, empty]
    if command == "run":
        args += ["--county", "SACRAMENTO", "--as-of", "2020-07-01", "--out", tmp_path / "out"]
    result = invoke(*args)
    assert result.exit_code == 2
    assert result.output == "clearance: empty.dat: not a DOJ extract: the file has no data line\n"


def test_serve_on_a_port_in_use_is_one_line_and_exit_2(tmp_path):
    import socket

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        result = invoke("serve", "--port", port, "--data-dir", tmp_path / "web")
    finally:
        taken.close()
    assert result.exit_code == 2
    assert result.output.count("\n") == 1  # no URL announced first
    assert result.output.startswith(f"clearance: cannot listen on 127.0.0.1 port {port}: ")
    assert "choose another --port" in result.output
