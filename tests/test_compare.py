"""`clearance compare`: one extract, several policies, figures that agree with real runs."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import pytest
from bs4 import BeautifulSoup
from typer.testing import CliRunner

from clearance.cli import app
from clearance.policy import load_policy
from clearance.run import run
from clearance.sample import SAMPLE_COUNTY, sample_path

runner = CliRunner()
DETERMINATIONS = ("dismiss", "reduce", "not_eligible", "review")
AS_OF = dt.date(2020, 7, 1)


def decide(extract, out, policy):
    return run(
        [extract],
        county=SAMPLE_COUNTY,
        policy=load_policy(policy),
        as_of=AS_OF,
        out=out,
        report=False,
    )


@pytest.fixture(scope="module")
def extract(tmp_path_factory):
    path = tmp_path_factory.mktemp("extract") / "sample.dat"
    shutil.copy(sample_path(), path)
    return path


@pytest.fixture(scope="module")
def statute_run(extract, tmp_path_factory):
    return decide(extract, tmp_path_factory.mktemp("runs") / "statute", "statute")


@pytest.fixture(scope="module")
def compared(statute_run):
    result = runner.invoke(
        app,
        ["compare", "--run", str(statute_run.out), "--policy", "statute",
         "--policy", "los-angeles-2020"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads((statute_run.out / "compare.json").read_text())
    return data, result.output


def test_compare_writes_html_and_json_into_the_run_folder(statute_run, compared):
    assert (statute_run.out / "compare.html").is_file()
    assert not [p for p in statute_run.out.iterdir() if p.name.startswith(".")]  # work removed
    data, _ = compared
    assert [p["spec"] for p in data["policies"]] == ["statute", "los-angeles-2020"]
    assert data["run"]["county"] == SAMPLE_COUNTY and data["run"]["as_of"] == AS_OF.isoformat()


def test_the_baseline_is_the_run_itself(statute_run, compared):
    data, _ = compared
    summary = statute_run.summary
    baseline = data["policies"][0]
    assert baseline["convictions"] == {
        **summary["by_determination"],
        "total": summary["convictions_in_scope"],
    }
    assert baseline["people"]["people_in_scope"] == summary["people_in_scope"]
    for key, value in baseline["people"].items():
        if key != "people_in_scope":
            assert value == summary["impact"][key], key


def test_another_policy_gives_what_a_run_under_it_gives(extract, tmp_path, compared):
    data, _ = compared
    other = decide(extract, tmp_path / "la", "los-angeles-2020").summary
    entry = data["policies"][1]
    assert {d: entry["convictions"][d] for d in DETERMINATIONS} == other["by_determination"]
    assert entry["people"]["people_helped"] == other["impact"]["people_helped"]
    assert entry["people"]["people_no_felony"] == other["impact"]["people_no_felony"]
    assert entry["by_section"] == other["by_section"]


def test_differences_and_transitions_add_up(compared):
    data, _ = compared
    base, other = data["policies"]
    diff = other["difference"]
    for d in (*DETERMINATIONS, "total"):
        assert diff["convictions"][d] == other["convictions"][d] - base["convictions"][d]
    for key in base["people"]:
        assert diff["people"][key] == other["people"][key] - base["people"][key]
    helped = diff["people_newly_helped"] - diff["people_no_longer_helped"]
    assert helped == diff["people"]["people_helped"]
    matrix = other["transitions"]
    for a in DETERMINATIONS:  # every baseline conviction goes somewhere
        assert sum(matrix[a].values()) == base["convictions"][a]
    for b in DETERMINATIONS:  # and every conviction under the other policy came from one
        assert sum(matrix[a][b] for a in DETERMINATIONS) == other["convictions"][b]
    # Los Angeles 2020 sends misdemeanors to review and dismisses more felonies.
    assert matrix["dismiss"]["review"] > 0 and matrix["reduce"]["dismiss"] > 0


def test_the_command_says_what_changes(compared):
    data, output = compared
    diff = data["policies"][1]["difference"]
    dismissed = diff["convictions"]["dismiss"]
    no_felony = diff["people"]["people_no_felony"]
    word = "more" if dismissed > 0 else "fewer"
    assert f"{abs(dismissed):,} {word} convictions dismissed" in " ".join(output.split())
    word = "more" if no_felony > 0 else "fewer"
    assert f"{abs(no_felony):,} {word} people left with no felony" in " ".join(output.split())


def test_every_figure_in_compare_html_is_compare_json(statute_run, compared):
    data, _ = compared
    page = BeautifulSoup((statute_run.out / "compare.html").read_text(), "html.parser")
    figures = page.find_all("data")
    assert len(figures) > 50
    for element in figures:
        source, *path = json.loads(element["data-path"])
        assert source == "compare"
        node = data
        for key in path:
            node = node[key]
        assert int(element["value"]) == node, path
    assert not page.find_all("script") and len(page.find_all("svg")) == 1
    text = " ".join(page.get_text(" ").split())
    assert "more convictions sent to review" in text


def test_a_moved_extract_is_found_with_extract_and_a_changed_one_refused(
    statute_run, extract, tmp_path
):
    moved = tmp_path / "moved.dat"
    shutil.copy(extract, moved)
    args = ["compare", "--run", str(statute_run.out), "--policy", "statute",
            "--policy", "bear-default", "--out", str(tmp_path / "c")]  # fmt: skip
    result = runner.invoke(app, [*args, "--extract", str(moved)])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "c" / "compare.json").read_text())["policies"][1]["spec"] == (
        "bear-default"
    )
    changed = tmp_path / "changed.dat"
    changed.write_bytes(extract.read_bytes().replace(b"SACRAMENTO", b"SACRAMENTA", 1))
    result = runner.invoke(app, [*args, "--extract", str(changed)])
    assert result.exit_code == 2
    assert "SHA-256 differs" in result.output and "changed.dat" in result.output


def test_clear_errors(statute_run, tmp_path):
    result = runner.invoke(app, ["compare", "--run", str(statute_run.out), "--policy", "statute"])
    assert result.exit_code == 2 and "at least two policies" in result.output
    result = runner.invoke(
        app, ["compare", "--run", str(statute_run.out), "--policy", "statute", "--policy", "nope"]
    )
    assert result.exit_code == 2 and "no such preset" in result.output
    gone = tmp_path / "gone"
    gone.mkdir()
    provenance = json.loads((statute_run.out / "run.json").read_text())
    provenance["inputs"][0]["path"] = str(tmp_path / "nowhere.dat")
    (gone / "run.json").write_text(json.dumps(provenance))
    result = runner.invoke(
        app, ["compare", "--run", str(gone), "--policy", "statute", "--policy", "bear-default"]
    )
    assert result.exit_code == 2
    assert "nowhere.dat: the run's extract is not there" in " ".join(result.output.split())
