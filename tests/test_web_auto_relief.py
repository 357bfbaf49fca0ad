"""The web app with the second rule pack: a ca-auto-relief run, its worklist, objections
marked and withdrawn through the audit log, and the petitions in the filings download.
"""

from __future__ import annotations

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
