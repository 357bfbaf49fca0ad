"""The web app with the second rule pack: a ca-auto-relief run, its worklist, objections
marked and withdrawn through the audit log, and the petitions in the filings download.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from clearance.cli import app as cli_app
from clearance.web.db import AuditEntry
from conftest import header
from test_auto_relief import PEOPLE
from test_web_api import csrf_of, make_app, quick_hashes, sign_in, upload, wait_for  # noqa: F401

AS_OF = "2026-07-01"


@pytest.fixture(scope="module")
def auto_run(tmp_path_factory):
    """A finished ca-auto-relief run of test_auto_relief's extract (outcomes by hand there)."""
    home = tmp_path_factory.mktemp("web-auto") / "home"
    app = make_app(home)
    extract = (header() + "\n" + "\n".join(PEOPLE) + "\n").encode("utf-8")
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        token = sign_in(client, "ana")
        response = upload(client, token, [("auto.dat", extract)])
        assert response.status_code == 303, response.text
        upload_id = re.search(r'name="upload" value="(\d+)"', client.get("/runs/new").text)[1]
        response = client.post(
            "/runs",
            data={"csrf_token": token, "upload": upload_id, "county": "SACRAMENTO",
                  "law": "ca-auto-relief", "policy_mode": "preset", "preset": "statute",
                  "as_of": AS_OF},
        )  # fmt: skip
        assert response.status_code == 303, response.text
        run_id = int(response.headers["location"].rsplit("/", 1)[1])
        run = wait_for(client, run_id)
        assert run.state == "done", run.error
        yield client, run_id, home


def test_a_run_of_the_pack_shows_its_determinations_and_the_worklist(auto_run):
    client, run_id, _ = auto_run
    sign_in(client, "ana")
    page = client.get(f"/runs/{run_id}").text
    assert "Worklist" in page and "relief" in page and "upcoming" in page
    worklist = client.get(f"/runs/{run_id}/worklist")
    assert worklist.status_code == 200
    # 400 and 500 are due 2026-09-01, their deadline 2026-06-03 already passed.
    assert worklist.text.count("2026-06-03") == 2 and "passed" in worklist.text
    assert "/people/400" in worklist.text and "/people/200" not in worklist.text
    person = client.get(f"/runs/{run_id}/people/700")
    assert person.status_code == 200 and "PC 851.93(a)(2)(B)" in person.text


def test_objections_are_marked_withdrawn_audited_and_filed(auto_run):
    client, run_id, home = auto_run
    token = sign_in(client, "atty")
    for subject in ("400", "500"):
        response = client.post(
            f"/runs/{run_id}/objections",
            data={"csrf_token": token, "subject_id": subject, "cnt_order": "001001001000",
                  "grounds": f"Threats against the victim ({subject})."},
        )  # fmt: skip
        assert response.status_code == 303, response.text
    response = client.post(
        f"/runs/{run_id}/objections",
        data={"csrf_token": token, "subject_id": "500", "cnt_order": "001001001000",
              "withdraw": "1", "note": "victim's statement withdrawn"},
    )  # fmt: skip
    assert response.status_code == 303, response.text
    # A not_eligible conviction has no relief to object to.
    refused = client.post(
        f"/runs/{run_id}/objections",
        data={"csrf_token": token, "subject_id": "600", "cnt_order": "001001001000",
              "grounds": "Robbery."},
    )  # fmt: skip
    assert refused.status_code == 400 and "due relief or upcoming" in refused.text
    page = client.get(f"/runs/{run_id}/worklist").text
    assert "Objected" in page and "Threats against the victim (400)." in page
    assert "Threats against the victim (500)." not in page

    with client.app.state.web.sessions() as db:
        actions = [(e.action, e.subject_id) for e in db.scalars(
            select(AuditEntry).where(AuditEntry.run_id == run_id).order_by(AuditEntry.id))
            if e.action.startswith("objection")]  # fmt: skip
    assert actions == [("objection_marked", "400"), ("objection_marked", "500"),
                       ("objection_withdrawn", "500")]  # fmt: skip
    verified = CliRunner().invoke(cli_app, ["audit", "verify", "--data-dir", str(home)])
    assert verified.exit_code == 0, verified.output

    archive = client.get(f"/runs/{run_id}/download/filings.zip")
    assert archive.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(archive.content)).namelist()
    petitions = sorted(n.rsplit("/", 1)[1] for n in names if "petition-" in n)
    assert petitions == ["petition-400-001001001000.docx", "petition-400-001001001000.pdf"]
    assert "filings/not-objected.csv" in names


def test_an_attorney_reviews_a_row_of_the_pack_in_its_own_words(auto_run):
    client, run_id, _ = auto_run
    token = sign_in(client, "atty")
    page = client.get(f"/runs/{run_id}/people/800").text
    assert "not eligible" in page.replace("_", " ")
    bad = client.post(
        f"/runs/{run_id}/reviews/decide",
        data={"csrf_token": token, "subject_id": "800", "cnt_order": "001001001000",
              "decision": "dismiss", "note": "x"},
    )  # fmt: skip
    assert bad.status_code == 400
    assert "choose relief, upcoming, not eligible" in bad.text


def _upload_id(client) -> str:
    return re.search(r'name="upload" value="(\d+)"', client.get("/runs/new").text)[1]


def _policy_form(**changes) -> dict:
    """The custom policy form of the pack, as the statute preset fills it."""
    return {"name": "Sacramento 2026", "pending_years": "", "post_prison_supervision_years": "3",
            "felony_path_from": "2024-10-01", "objection_days": "90", "acquittal_waits": "on",
            "upcoming_window_days": "180", **changes}  # fmt: skip


def test_the_new_run_form_offers_each_pack_with_its_own_policy(auto_run):
    client, _, _ = auto_run
    sign_in(client, "ana")
    page = client.get("/runs/new").text
    assert '<option value="ca-auto-relief"' in page and '<option value="prop64" selected' in page
    assert 'name="outcome_11357"' in page  # Prop 64's form, as before
    fragment = client.get("/runs/new/policy-choice", params={"law": "ca-auto-relief"}).text
    assert "outcome_11357" not in fragment
    assert "Statute (PC 1203.425, 851.93)" in fragment
    # Each kind of setting has its field: years (empty for off where the default is
    # null), a date, days, a flag.
    assert re.search(r"Open records older than[^<]*\(years, 1.100; empty for off\)", fragment)
    assert re.search(r"Years of parole or PRCS[^<]*\(years, 0.20\)\s*<input", fragment)
    assert 'type="date" name="felony_path_from" value="2024-10-01"' in fragment
    assert 'name="objection_days" inputmode="numeric" value="90"' in fragment
    assert 'type="checkbox" name="acquittal_waits" checked' in fragment
    filled = client.get(
        "/runs/new/policy-form", params={"law": "ca-auto-relief", "start": "statute"}
    ).text
    assert 'value="Statute (PC 1203.425, 851.93) (edited)"' in filled
    prop64 = client.get("/runs/new/policy-choice", params={"law": "prop64"}).text
    assert 'name="outcome_11357"' in prop64


def test_a_custom_policy_of_the_pack_is_checked_then_run(auto_run):
    client, _, _ = auto_run
    token = sign_in(client, "ana")
    base = {"csrf_token": token, "upload": _upload_id(client), "county": "SACRAMENTO",
            "law": "ca-auto-relief", "policy_mode": "custom", "as_of": AS_OF}  # fmt: skip
    for changes, message in (
        ({"objection_days": "ninety"}, "objection_days: expected a whole number of days"),
        ({"post_prison_supervision_years": ""}, "post_prison_supervision_years: expected a whole"),
        ({"upcoming_window_days": "0"}, "0 is out of range; expected 1 to 3650 days"),
        ({"felony_path_from": "2024-13-01"}, "felony_path_from: expected a date YYYY-MM-DD"),
        ({"name": ""}, "name"),
    ):
        refused = client.post("/runs", data={**base, **_policy_form(**changes)})
        assert refused.status_code == 400 and message in refused.text, (changes, refused.text)
    # A window of 30 days leaves 400 and 500 (due 2026-09-01, 62 days on) off the worklist.
    response = client.post("/runs", data={**base, **_policy_form(upcoming_window_days="30")})
    assert response.status_code == 303, response.text
    run_id = int(response.headers["location"].rsplit("/", 1)[1])
    run = wait_for(client, run_id)
    assert run.state == "done", run.error
    assert run.policy["law"] == "ca-auto-relief" and run.policy["upcoming_window_days"] == 30
    assert run.policy["pending_years"] is None and run.policy["acquittal_waits"] is True
    worklist = client.get(f"/runs/{run_id}/worklist").text
    assert "No conviction becomes eligible within the window." in worklist


def test_the_determinations_show_the_packs_columns_and_filter_by_kind(auto_run):
    client, run_id, _ = auto_run
    sign_in(client, "ana")
    page = client.get(f"/runs/{run_id}/results").text
    for heading in ("Kind", "Path", "Eligible on", "Last day to object", "Petitions"):
        # A heading is a column's name, or a link sorting by it.
        link = r'(<a class="sort" href="[^"]+">)?'
        assert re.search(rf'<th scope="col">{link}{heading}(</a>)?</th>', page)
    assert "8 records" in page and '<option value="upcoming">upcoming</option>' in page
    arrests = client.get(f"/runs/{run_id}/results", params={"kind": "arrest"}).text
    assert "2 records" in arrests
    assert "/people/700" in arrests and "/people/800" in arrests and "/people/400" not in arrests
    assert "CAPD SACRAMENTO" in arrests and "851.91" in arrests
    upcoming = client.get(
        f"/runs/{run_id}/results", params={"kind": "conviction", "determination": "upcoming"}
    ).text
    assert "3 records" in upcoming and "2026-06-03" in upcoming and "2027-12-02" in upcoming
    person = client.get(f"/runs/{run_id}/people/700").text
    assert "Arrest on 2023-02-01 by CAPD SACRAMENTO" in person and "The statute's words" in person


def test_an_objection_is_marked_from_the_person_page_and_a_late_one_is_shown(auto_run, monkeypatch):
    client, run_id, home = auto_run
    token = sign_in(client, "atty")
    page = client.get(f"/runs/{run_id}/people/300").text  # relief since 2024-10-01
    assert "Objection to relief" in page and 'name="grounds"' in page
    assert "Objection to relief" not in client.get(f"/runs/{run_id}/people/600").text
    empty = client.post(
        f"/runs/{run_id}/objections",
        data={"csrf_token": token, "subject_id": "300", "cnt_order": "001001001000",
              "grounds": "   ", "back": "person"},
    )  # fmt: skip
    assert empty.status_code == 400 and "statement of grounds" in empty.text
    assert "Objection to relief" in empty.text  # the person page again, with the error
    marked = client.post(
        f"/runs/{run_id}/objections",
        data={"csrf_token": token, "subject_id": "300", "cnt_order": "001001001000",
              "grounds": "Stalking of the victim since release.", "back": "person"},
    )  # fmt: skip
    assert marked.status_code == 303
    assert marked.headers["location"] == f"/runs/{run_id}/people/300#conviction-001001001000"
    page = client.get(f"/runs/{run_id}/people/300").text
    assert "Objected" in page and "Stalking of the victim since release." in page
    assert "2024-07-03) has passed" in page  # its last day to petition
    worklist = client.get(f"/runs/{run_id}/worklist").text
    assert "Marked, not on the worklist" in worklist and 'id="late-marks"' in worklist
    assert "Stalking of the victim since release." in worklist
    assert "past the last day to petition" in client.get(f"/runs/{run_id}").text

    # Days left are counted from today: before 400's last day, no mark of it is late.
    monkeypatch.setattr("clearance.web.objections.today", lambda: dt.date(2026, 5, 1))
    worklist = client.get(f"/runs/{run_id}/worklist").text
    row = re.search(r'<tr id="row-400-001001001000".*?</tr>', worklist, re.S)[0]
    assert "<td>33</td>" in row and "passed" not in row
    monkeypatch.undo()

    withdrawn = client.post(
        f"/runs/{run_id}/objections",
        data={"csrf_token": token, "subject_id": "300", "cnt_order": "001001001000",
              "withdraw": "1", "note": "", "back": "person"},
    )  # fmt: skip
    assert withdrawn.status_code == 303
    assert "Stalking of the victim" not in client.get(f"/runs/{run_id}/worklist").text
    again = client.post(
        f"/runs/{run_id}/objections",
        data={"csrf_token": token, "subject_id": "300", "cnt_order": "001001001000",
              "withdraw": "1", "back": "person"},
    )  # fmt: skip
    assert again.status_code == 409 and "not marked" in again.text
    # An analyst reads the marks but cannot make one.
    token = sign_in(client, "ana")
    assert 'name="grounds"' not in client.get(f"/runs/{run_id}/worklist").text
    refused = client.post(
        f"/runs/{run_id}/objections",
        data={"csrf_token": token, "subject_id": "400", "cnt_order": "001001001000",
              "grounds": "x"},
    )  # fmt: skip
    assert refused.status_code == 403
    verified = CliRunner().invoke(cli_app, ["audit", "verify", "--data-dir", str(home)])
    assert verified.exit_code == 0, verified.output


def test_a_prop64_run_has_no_worklist_and_no_objections(auto_run):
    client, _, _ = auto_run
    token = sign_in(client, "ana")
    response = client.post(
        "/runs",
        data={"csrf_token": token, "sample": "on", "county": "SACRAMENTO", "law": "prop64",
              "policy_mode": "preset", "preset": "statute", "as_of": "2020-07-01"},
    )  # fmt: skip
    assert response.status_code == 303, response.text
    run_id = int(response.headers["location"].rsplit("/", 1)[1])
    assert wait_for(client, run_id).state == "done"
    assert "Worklist" not in client.get(f"/runs/{run_id}").text
    assert client.get(f"/runs/{run_id}/worklist").status_code == 404
    page = client.get(f"/runs/{run_id}/results").text
    assert "Eligible on" not in page and '<option value="dismiss">dismiss</option>' in page
    token = sign_in(client, "atty")
    refused = client.post(
        f"/runs/{run_id}/objections",
        data={"csrf_token": token, "subject_id": "1", "cnt_order": "1", "grounds": "x"},
    )
    assert refused.status_code == 404
