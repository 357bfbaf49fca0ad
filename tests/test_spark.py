"""The Spark engine gives the local engine's determinations, row for row (docs/spark.md).

One local SparkSession serves the module (Spark's start-up is the slow part). The
extract is synthetic, with defects, read as two county files: the second repeats a
third of the first one's lines in reverse order and comes first, so a count's
attributes come from the second file's lines. A worker that did not receive the
input order would take them from other lines, and the tables would differ.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sys
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from clearance.cli import app
from clearance.policy import load_policy
from clearance.run import run
from clearance.synth import generate

COUNTY = "SACRAMENTO"
AS_OF = dt.date(2020, 7, 1)
POLICIES = ("statute", "los-angeles-2020")
SAME_FILES = (
    "determinations.csv",
    "determinations.xlsx",
    "summary.json",
    "rejects.csv",
    "history.parquet",
    "people.parquet",
)

runner = CliRunner()


@pytest.fixture(scope="module")
def spark():
    pytest.importorskip("pyspark")
    pytest.importorskip("pandas")  # mapInArrow checks for it
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        pytest.skip("Spark needs Java 17 or newer")
    from pyspark.sql import SparkSession

    saved = os.environ.get("PYSPARK_PYTHON")
    os.environ["PYSPARK_PYTHON"] = sys.executable  # workers need this venv's clearance
    session = (
        SparkSession.builder.master("local[2]")
        .appName("clearance-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.memory", "1g")
        .config("spark.log.level", "ERROR")
        .getOrCreate()
    )
    yield session
    session.stop()
    if saved is None:
        os.environ.pop("PYSPARK_PYTHON", None)
    else:
        os.environ["PYSPARK_PYTHON"] = saved


@pytest.fixture(scope="module")
def extract(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("spark-extract")
    generate(folder / "x.dat", subjects=600, seed=3, dirty=0.01)
    lines = (folder / "x.dat").read_bytes().splitlines(keepends=True)
    (folder / "y.dat").write_bytes(b"".join(reversed(lines[: len(lines) // 3])))
    return [folder / "y.dat", folder / "x.dat"]


@pytest.fixture(scope="module")
def runs(spark, extract, tmp_path_factory) -> dict[tuple[str, str], Path]:
    """Both engines, both policies: the output folders (one Spark run through the CLI)."""
    folder = tmp_path_factory.mktemp("spark-runs")
    out = {}
    for name in POLICIES:
        for engine in ("local", "spark"):
            out[name, engine] = folder / f"{name}-{engine}"
            if (name, engine) == ("los-angeles-2020", "spark"):
                result = runner.invoke(
                    app,
                    [
                        "run",
                        *map(str, extract),
                        "--county",
                        COUNTY,
                        "--policy",
                        name,
                        "--as-of",
                        AS_OF.isoformat(),
                        "--out",
                        str(out[name, engine]),
                        "--engine",
                        "spark",
                    ],
                )
                assert result.exit_code == 0, result.output
                continue
            run(
                extract,
                county=COUNTY,
                policy=load_policy(name),
                as_of=AS_OF,
                out=out[name, engine],
                engine=engine,
            )
    return out


@pytest.mark.parametrize("policy", POLICIES)
def test_spark_determinations_equal_the_local_engines(runs, policy):
    local, spark = runs[policy, "local"], runs[policy, "spark"]
    expected = pl.read_parquet(local / "determinations.parquet")
    got = pl.read_parquet(spark / "determinations.parquet")
    assert expected.height > 500
    assert set(expected["determination"]) >= {"dismiss", "not_eligible", "review"}
    assert set(expected["source_file"]) == {"x.dat", "y.dat"}
    assert_frame_equal(got, expected)  # every column, every test, same order
    for name in SAME_FILES:
        assert (spark / name).read_bytes() == (local / name).read_bytes(), name


@pytest.mark.parametrize("policy", POLICIES)
def test_spark_summary_figures_equal_the_local_engines(runs, policy):
    local, spark = runs[policy, "local"], runs[policy, "spark"]
    expected = json.loads((local / "summary.json").read_text())
    assert json.loads((spark / "summary.json").read_text()) == expected
    assert expected["rows"]["reconciled"] and expected["rows"]["rejected"] > 0


def test_spark_decides_california_automatic_relief_as_the_local_engine(spark, extract, tmp_path):
    """The second rule pack on both engines: the same rows, files and figures."""
    from clearance.law import load_pack

    law = load_pack("ca-auto-relief")
    policy = load_policy("statute", law)
    folders = {}
    for engine in ("local", "spark"):
        folders[engine] = tmp_path / engine
        run(
            extract,
            county=COUNTY,
            policy=policy,
            as_of=dt.date(2026, 7, 1),
            out=folders[engine],
            engine=engine,
            law=law,
        )
    expected = pl.read_parquet(folders["local"] / "determinations.parquet")
    assert set(expected["kind"]) == {"conviction", "arrest"}
    assert {"relief", "not_eligible", "review"} <= set(expected["determination"])
    assert_frame_equal(pl.read_parquet(folders["spark"] / "determinations.parquet"), expected)
    for name in (*SAME_FILES, "upcoming.csv"):
        assert (folders["spark"] / name).read_bytes() == (folders["local"] / name).read_bytes()


def test_run_json_records_the_engine(runs):
    local = json.loads((runs["statute", "local"] / "run.json").read_text())
    spark = json.loads((runs["statute", "spark"] / "run.json").read_text())
    assert local["environment"]["engine"] == "local"
    assert spark["environment"]["engine"] == "spark"
    assert spark["environment"]["spark"] and spark["environment"]["spark_master"] == "local[2]"
    assert spark["inputs"] == local["inputs"]
    assert "rules" in spark["timings_seconds"]


def test_the_partitioning_does_not_change_a_determination(spark, extract, runs, tmp_path):
    """Seven partitions for 600 people: many histories cut apart from their neighbours."""
    from clearance.extract.reader import read_extracts
    from clearance.law import load_rulepack
    from clearance.spark.engine import evaluate_staged

    read = read_extracts(extract, tmp_path)
    evaluation = evaluate_staged(
        tmp_path / "staged",
        [f.name for f in read.files],
        policy=load_policy("los-angeles-2020"),
        county=COUNTY,
        as_of=AS_OF,
        law=load_rulepack(),
        partitions=7,
    )
    assert evaluation.environment["spark_partitions"] == "7"
    expected = pl.read_parquet(runs["los-angeles-2020", "local"] / "determinations.parquet")
    from clearance.outputs.determinations import table

    assert_frame_equal(table(evaluation.decided), expected)


def test_stage_then_spark_submit_writes_the_same_determinations(spark, extract, runs, tmp_path):
    from clearance.spark import submit

    result = runner.invoke(app, ["stage", *map(str, extract), "--out", str(tmp_path / "stage")])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "stage" / "manifest.json").read_text())
    assert manifest["file_order"] == ["y.dat", "x.dat"]
    assert manifest["rows"]["reconciled"]
    local = runs["statute", "local"]
    assert (tmp_path / "stage" / "rejects.csv").read_bytes() == (local / "rejects.csv").read_bytes()

    status = submit.main(
        [
            "--staged",
            str(tmp_path / "stage"),
            "--county",
            "sacramento",
            "--policy",
            "statute",
            "--as-of",
            AS_OF.isoformat(),
            "--out",
            str(tmp_path / "determinations"),
            "--history-out",
            str(tmp_path / "history"),
            "--partitions",
            "3",
        ]
    )
    assert status == 0
    expected = pl.read_parquet(local / "determinations.parquet")
    got = pl.read_parquet(tmp_path / "determinations" / "*.parquet")
    assert got.columns == expected.columns
    assert_frame_equal(got.cast(dict(expected.schema)), expected)
    history = pl.read_parquet(local / "history.parquet")
    got = pl.read_parquet(tmp_path / "history" / "*.parquet")
    assert_frame_equal(got.cast(dict(history.schema)), history)


def test_spark_engine_without_pyspark_says_what_to_install(monkeypatch, extract, tmp_path):
    import clearance.spark

    monkeypatch.setattr(clearance.spark, "pyspark_available", lambda: False)
    result = runner.invoke(
        app,
        [
            "run",
            str(extract[1]),
            "--county",
            COUNTY,
            "--out",
            str(tmp_path / "out"),
            "--engine",
            "spark",
        ],
    )
    assert result.exit_code == 2
    assert "the spark engine needs: pip install 'clearance[spark]'" in result.output
    assert not (tmp_path / "out").exists()


def test_stage_refuses_a_folder_that_is_not_a_stage(extract, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    result = runner.invoke(app, ["stage", str(extract[1]), "--out", str(tmp_path / "mine")])
    assert result.exit_code == 2
    assert "not an earlier stage folder" in result.output
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"


def test_a_wrong_county_gets_the_local_engines_one_line(spark, extract, tmp_path):
    """Every county with its convictions, and the closest name, whichever engine read it."""
    messages = []
    for engine in ("local", "spark"):
        result = runner.invoke(
            app,
            [
                "run",
                *map(str, extract),
                "--county",
                "SACRAMENTP",
                "--as-of",
                AS_OF.isoformat(),
                "--out",
                str(tmp_path / engine),
                "--engine",
                engine,
            ],
        )
        assert result.exit_code == 2, result.output
        messages.append(result.stderr)
    assert messages[0] == messages[1]
    assert messages[0].startswith(
        "clearance: no event in the extract names the county 'SACRAMENTP'; "
        "did you mean 'SACRAMENTO'? The extract's counties, with their convictions: "
    )
    assert len(messages[0].splitlines()) == 1
