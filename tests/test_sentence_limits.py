"""Impossible sentence lengths (issue 15): an end past 9999-12-31 is unknown, never an
overflow, through the model, `run`, `explain` and the web app's person page."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from clearance.cli import app
from clearance.extract import model as model_
from clearance.extract.reader import read_extracts
from clearance.web import accounts
from conftest import line
from test_web_api import make_app, sign_in, start_run, upload, wait_for

runner = CliRunner()
POLICY = """name: Statute, with still_serving
dismiss: [11357, 11358]
reduce: [11359, 11360]
misdemeanors: dismiss
review: {comment_charge: true, still_serving: true}
"""


def part(length: str, unit: str, order: int = 1, **values: str) -> str:
    return line(
        SENT_ORDER=str(order),
        SENT_LOC_DESCR="PRISON",
        SENT_LENGTH=length,
        SENT_TIME_CODE=unit,
        STP_EVENT_DATE="20150601",
        OFFENSE_DESCR="11359 HS-POSSESS MARIJUANA FOR SALE",
        **values,
    )


def extract(tmp_path, parts: int) -> str:
    """Person 1: a sale with ``parts`` parts of 99999 years; person 2: a plain conviction."""
    lines = [part("99999", "Y", i, SUBJECT_ID="1") for i in range(1, parts + 1)]
    lines.append(line(SUBJECT_ID="2"))
    path = tmp_path / "extract.dat"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(
    ("parts", "end"),
    [
        ([("99999", "Y")], None),
        ([("99999", "Y")] * 3, None),
        ([("99999", "M"), ("99999", "D")], None),
        ([("7984", "Y"), ("6", "M"), ("29", "D")], dt.date(9999, 12, 30)),
        ([("7984", "Y"), ("7", "M")], None),  # 2015-06-01 + 7984 y 7 mo: 10000-01-01
        ([("999", "Y")], dt.date(3014, 6, 1)),
    ],
)
def test_an_end_past_the_last_date_is_unknown(tmp_path, parts, end):
    lines = [part(length, unit, i) for i, (length, unit) in enumerate(parts, start=1)]
    path = tmp_path / "x.dat"
    path.write_text("\n".join(lines) + "\n")
    result = read_extracts([path], tmp_path / "work")
    row = model_.build(result.rows, [path.name]).counts.collect().row(0, named=True)
    assert row["sentence_end"] == end
    assert row["sent_unknown"] is (end is None)


@pytest.mark.parametrize("parts", [1, 3])
def test_run_and_explain_read_an_impossible_sentence_as_unknown(tmp_path, parts):
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        ["run", str(extract(tmp_path, parts)), "--county", "SACRAMENTO", "--policy",
         str(policy), "--as-of", "2020-07-01", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = pl.read_csv(out / "determinations.csv", infer_schema=False)
    person = rows.filter(pl.col("subject_id") == "1").row(0, named=True)
    assert (person["determination"], person["reason"]) == ("review", "still_serving")
    assert person["sentence_end"] is None
    assert json.loads((out / "summary.json").read_text())["convictions_in_scope"] == 2

    explained = runner.invoke(app, ["explain", "--run", str(out), "1"])
    assert explained.exit_code == 0, explained.output
    assert "sentence ends unknown" in explained.output
    assert "unreadable part" in explained.output


@pytest.fixture(scope="module", autouse=True)
def quick_hashes():
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024))
        yield


def test_the_person_page_shows_an_impossible_sentence(tmp_path):
    app_ = make_app(tmp_path / "home")
    with TestClient(app_, base_url="https://testserver", follow_redirects=False) as client:
        token = sign_in(client, "ana")
        data = extract(tmp_path, 1).read_bytes()
        location = upload(client, token, [("county.dat", data)]).headers["location"]
        run_id = start_run(client, token, sample="", upload=location.rsplit("=", 1)[1])
        run = wait_for(client, run_id, timeout=120)
        assert run.state == "done", run.error
        page = client.get(f"/runs/{run_id}/people/1")
        assert page.status_code == 200
        assert "99999y" in page.text
