"""A run records the rule pack it was decided under, and explain refuses another (issue 16).

product.md, "rule pack": every run records the pack's name, version and a SHA-256 of
its files in run.json, and explain refuses a run whose pack differs from the one
installed.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clearance.cli import app
from clearance.explain import PackMismatch, explain
from clearance.law import load_rulepack, read_rulepack

LAW = Path(__file__).resolve().parents[1] / "src" / "clearance" / "packs" / "prop64"
runner = CliRunner()


def test_run_json_names_the_pack_its_version_and_the_hash_of_its_files(demo):
    recorded = json.loads((demo / "run.json").read_text())["rule_pack"]
    files = {
        p.relative_to(LAW).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in LAW.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert recorded["files"] == files
    assert {"pack.yaml", "lists/superstrikes.yaml", "presets/statute.yaml"} <= set(files)
    assert recorded["source"] == "installed"
    assert (recorded["name"], recorded["version"]) == ("prop64", load_rulepack().version)
    assert recorded["sha256"] == load_rulepack().sha256


def test_a_value_changed_in_a_copy_of_the_pack_changes_its_hash(tmp_path):
    copy = shutil.copytree(LAW, tmp_path / "law")
    text = (copy / "pack.yaml").read_text()
    (copy / "pack.yaml").write_text(text.replace("min_priors: 2", "min_priors: 3", 1))
    changed = read_rulepack(copy)
    assert changed.files["pack.yaml"] != load_rulepack().files["pack.yaml"]
    assert changed.files["lists/pc290.yaml"] == load_rulepack().files["lists/pc290.yaml"]
    assert changed.sha256 != load_rulepack().sha256


def _decided_under_another_pack(demo: Path, tmp_path: Path) -> Path:
    other = shutil.copytree(demo, tmp_path / "run")
    provenance = json.loads((other / "run.json").read_text())
    provenance["rule_pack"]["sha256"] = "0" * 64
    provenance["rule_pack"]["version"] = "2019.1"
    (other / "run.json").write_text(json.dumps(provenance))
    return other


def test_explain_refuses_a_run_decided_under_another_pack(demo, tmp_path):
    other = _decided_under_another_pack(demo, tmp_path)
    subject = _any_subject(demo)
    explain(demo, subject)  # the run's own pack: explained
    with pytest.raises(PackMismatch, match=re.escape("rule pack prop64 2019.1")):
        explain(other, subject)
    result = runner.invoke(app, ["explain", "--run", str(other), subject])
    assert result.exit_code == 2
    assert "not the one available" in result.output and len(result.output.splitlines()) == 1


def test_a_run_that_recorded_only_the_version_is_compared_by_version(demo, tmp_path):
    older = shutil.copytree(demo, tmp_path / "older")
    provenance = json.loads((older / "run.json").read_text())
    provenance["rule_pack"] = {"version": load_rulepack().version}
    (older / "run.json").write_text(json.dumps(provenance))
    subject = _any_subject(demo)
    assert explain(older, subject).decisions
    provenance["rule_pack"] = {"version": "2026.11.2"}
    (older / "run.json").write_text(json.dumps(provenance))
    older_pack = re.escape("rule pack prop64 2026.11.2, not the one available")
    with pytest.raises(PackMismatch, match=older_pack):
        explain(older, subject)


def _any_subject(run: Path) -> str:
    import polars as pl

    return pl.read_parquet(run / "determinations.parquet")["subject_id"][0]
