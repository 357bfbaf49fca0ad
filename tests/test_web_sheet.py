"""One person's rap sheet in the web app (docs/web.md, "One person's rap sheet"):
upload, the person's page under every pack, review with the audit trail, the drafts
downloaded, and the sheet deleted like a run."""

from __future__ import annotations

import io
import json
import logging
import time
import zipfile

import polars as pl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from clearance.sheet.render import render_person
from clearance.synth import generate
from clearance.web.db import AuditEntry, Run, RunTombstone
from clearance.web.sheets import Sheet
from sheet_support import staged
from test_web_api import make_app, quick_hashes, sign_in  # noqa: F401

AS_OF = "2026-07-01"
COUNTY = "SACRAMENTO"


def upload_sheet(client: TestClient, token: str, name: str, content: bytes, **fields):
    data = {"csrf_token": token, "as_of": AS_OF, **fields}
    return client.post("/sheets", data=data, files=[("file", (name, content, "text/plain"))])


def wait_sheet(client: TestClient, sheet_id: int, timeout: float = 60) -> Sheet:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with client.app.state.web.sessions() as db:
            sheet = db.get(Sheet, sheet_id)
            if sheet.state in ("done", "failed"):
                return sheet
        time.sleep(0.1)
    raise AssertionError(f"sheet {sheet_id} was not decided in {timeout} s")


def audit(client: TestClient) -> list[AuditEntry]:
    with client.app.state.web.sessions() as db:
        return list(db.scalars(select(AuditEntry).order_by(AuditEntry.id)))


@pytest.fixture(scope="module")
def person(tmp_path_factory) -> pl.DataFrame:
    """A synthetic person (the first of seed 19: a Prop 64 conviction, arrests and
    convictions under automatic relief), as the extract reader stages it."""
    tmp = tmp_path_factory.mktemp("sheet-person")
    generate(tmp / "x.dat", subjects=40, county=COUNTY, seed=19)
    rows = staged(tmp / "x.dat", tmp / "work")
    return rows.filter(pl.col("subject_id") == rows["subject_id"][0])


@pytest.fixture(scope="module")
def decided_sheet(tmp_path_factory, person):
    """An app with a rap sheet uploaded by an analyst and decided in the background."""
    home = tmp_path_factory.mktemp("web-sheet") / "home"
    app = make_app(home)
    text = render_person(person).encode("utf-8")
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        token = sign_in(client, "ana")
        response = upload_sheet(client, token, "person.txt", text)
        assert response.status_code == 303, response.text
        sheet_id = int(response.headers["location"].rsplit("/", 1)[1])
        sheet = wait_sheet(client, sheet_id)
        assert sheet.state == "done", sheet.error
        yield client, sheet, home


def test_the_persons_page_shows_every_packs_decisions(decided_sheet, person, caplog):
    client, sheet, home = decided_sheet
    sign_in(client, "ana")
    with caplog.at_level(logging.DEBUG):
        page = client.get(f"/sheets/{sheet.id}").text
    answer = json.loads((home / "sheets" / str(sheet.id) / "decided" / "sheet.json").read_text())
    assert f"CII {person['cii_number'][0]}" in page
    assert sheet.subject_id == answer["subject_id"]
    assert "Proposition 64" in page or "prop64" in page
    packs = {item["pack"] for item in sheet.runs}
    assert packs == set(answer["packs"])
    for item in sheet.runs:  # each pack's run is a finished run of the app, with a link
        rows = answer["packs"][item["pack"]][item["county"]]["rows"]
        link = f"/runs/{item['run_id']}/people/{sheet.subject_id}" if rows else (
            f"/runs/{item['run_id']}"
        )  # fmt: skip
        assert f'href="{link}"' in page
        for row in rows:
            assert row["citation"] in page
            assert (row["reason"] or "") in page
    prop64 = answer["packs"]["prop64"][COUNTY]["rows"]
    assert any(r["determination"] in ("dismiss", "reduce") for r in prop64)
    assert "Petitions open" in page and "HS 11361.8 (Prop 64)" in page
    # The runs list and the sheets list show it; the audit log names the sheet, not the file.
    listing = client.get("/sheets").text
    assert f'href="/sheets/{sheet.id}"' in listing
    runs = client.get("/runs").text
    for run_id in sheet.run_ids:  # each a run of the app, with its own page
        assert f'href="/runs/{run_id}"' in runs
        assert client.get(f"/runs/{run_id}").status_code == 200
    entries = audit(client)
    created = [e for e in entries if e.action == "sheet_created"]
    assert len(created) == 1 and f"sheet {sheet.id}" in created[0].note
    made = [e for e in entries if e.action == "run_created" and f"sheet {sheet.id}" in e.note]
    assert {e.run_id for e in made} == set(sheet.run_ids)
    assert any(e.action == "person_viewed" and e.note == f"sheet {sheet.id}" for e in entries)
    name = person["name"][0]
    assert all("person.txt" not in e.note and name not in e.note for e in entries)
    assert name not in caplog.text and str(person["cii_number"][0]) not in caplog.text


def test_a_review_of_the_sheet_is_audited_and_shown_on_its_page(decided_sheet):
    client, sheet, _ = decided_sheet
    prop64 = next(i["run_id"] for i in sheet.runs if i["pack"] == "prop64")
    page = client.get(f"/sheets/{sheet.id}").text
    assert "not reviewed" in page
    out = client.app.state.web.settings.runs_dir / str(prop64) / "output"
    row = pl.read_parquet(out / "determinations.parquet").row(0, named=True)
    case = {"subject_id": sheet.subject_id, "cnt_order": row["cnt_order"]}
    token = sign_in(client, "ana")
    opened = client.post(
        f"/runs/{prop64}/reviews/open",
        data={**case, "note": "the court file shows a second count", "csrf_token": token},
    )
    assert opened.status_code == 303, opened.text
    decision = {**case, "decision": "not_eligible", "note": "HS 11359 with a minor, per file"}
    refused = client.post(f"/runs/{prop64}/reviews/decide", data={**decision, "csrf_token": token})
    assert refused.status_code == 403  # an analyst opens, only an attorney decides
    token = sign_in(client, "atty")
    decided = client.post(f"/runs/{prop64}/reviews/decide", data={**decision, "csrf_token": token})
    assert decided.status_code == 303, decided.text
    page = client.get(f"/sheets/{sheet.id}").text
    assert "not eligible by atty: HS 11359 with a minor, per file" in page
    actions = [(e.action, e.run_id, e.username) for e in audit(client)]
    assert ("review_opened", prop64, "ana") in actions
    assert ("review_decided", prop64, "atty") in actions


def test_the_drafts_are_downloaded_and_the_download_audited(decided_sheet):
    client, sheet, _ = decided_sheet
    sign_in(client, "atty")
    response = client.get(f"/sheets/{sheet.id}/drafts.zip")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert f"sheet-{sheet.id}-drafts.zip" in response.headers["content-disposition"]
    names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    assert names and all(n.startswith("drafts/") for n in names)
    assert any(n.endswith(".docx") for n in names), names
    last = audit(client)[-1]
    assert (last.action, last.username, last.subject_id) == ("downloaded", "atty", sheet.subject_id)
    assert last.note == f"sheet {sheet.id} drafts.zip"


def test_a_file_that_is_not_a_rap_sheet_fails_with_the_readers_line(decided_sheet):
    client, _, _ = decided_sheet
    token = sign_in(client, "ana")
    response = upload_sheet(client, token, "letter.txt", b"Dear court,\nplease find attached.\n")
    assert response.status_code == 303
    sheet = wait_sheet(client, int(response.headers["location"].rsplit("/", 1)[1]))
    assert sheet.state == "failed"
    assert sheet.error.startswith("letter.txt is not a rap sheet")
    assert sheet.error in client.get(f"/sheets/{sheet.id}").text.replace("&#39;", "'")
    refused = upload_sheet(client, token, "sheet.docx", b"PK\x03\x04")
    assert refused.status_code == 400 and "upload the rap sheet as text (.txt) or PDF" in (
        refused.text
    )
    fake = upload_sheet(client, token, "scan.pdf", b"hello")
    assert fake.status_code == 400 and "scan.pdf: not a PDF file" in fake.text
    bad_date = upload_sheet(client, token, "p.txt", b"x", as_of="2010-01-01")
    assert bad_date.status_code == 400 and "before" in bad_date.text
    stored = client.app.state.web.settings.data_dir / "sheets"
    assert not [p for p in stored.iterdir() if p.name.startswith(".partial-")]


def test_a_pdf_rap_sheet_is_read_from_its_text_layer(decided_sheet, peers):
    client, _, _ = decided_sheet
    token = sign_in(client, "ana")
    pdf = (peers / "cfa-rapsheets" / "chewbacca_rap_sheet.pdf").read_bytes()
    response = upload_sheet(client, token, "chewbacca.pdf", pdf, county=" san  francisco ")
    assert response.status_code == 303, response.text
    sheet = wait_sheet(client, int(response.headers["location"].rsplit("/", 1)[1]))
    assert sheet.state == "done", sheet.error
    assert (sheet.subject_id, sheet.county) == ("A99000099", "SAN FRANCISCO")
    assert {i["county"] for i in sheet.runs} == {"SAN FRANCISCO"}
    assert "CII A99000099" in client.get(f"/sheets/{sheet.id}").text


def test_a_run_of_a_sheet_deleted_on_its_own_leaves_the_rest(decided_sheet, person):
    client, _, _ = decided_sheet
    token = sign_in(client, "root")
    response = upload_sheet(client, token, "again.txt", render_person(person).encode(),
                            county=COUNTY)  # fmt: skip
    sheet = wait_sheet(client, int(response.headers["location"].rsplit("/", 1)[1]))
    assert sheet.state == "done" and len(sheet.runs) == 2, sheet.error
    auto = next(i["run_id"] for i in sheet.runs if i["pack"] == "ca-auto-relief")
    form = {"csrf_token": token, "reason": "entered twice", "confirm": str(auto)}
    assert client.post(f"/runs/{auto}/delete", data=form).status_code == 303
    page = client.get(f"/sheets/{sheet.id}")
    assert page.status_code == 200
    assert f"Run {auto} (ca-auto-relief, {COUNTY}) was deleted." in page.text
    assert client.get(f"/sheets/{sheet.id}/drafts.zip").status_code == 200


def test_the_sheet_is_deleted_like_a_run(decided_sheet):
    client, sheet, home = decided_sheet
    token = sign_in(client, "atty")
    form = {"csrf_token": token, "reason": "client withdrew", "confirm": str(sheet.id)}
    assert client.post(f"/sheets/{sheet.id}/delete", data=form).status_code == 403
    token = sign_in(client, "root")
    wrong = client.post(f"/sheets/{sheet.id}/delete", data={**form, "csrf_token": token,
                                                            "confirm": "0"})  # fmt: skip
    assert wrong.status_code == 400 and "to confirm" in wrong.text
    gone = client.post(f"/sheets/{sheet.id}/delete", data={**form, "csrf_token": token})
    assert gone.status_code == 303
    assert client.get(f"/sheets/{sheet.id}").status_code == 410
    assert not (home / "sheets" / str(sheet.id)).exists()
    for run_id in sheet.run_ids:
        assert client.get(f"/runs/{run_id}").status_code == 410
        assert not (home / "runs" / str(run_id)).exists()
    with client.app.state.web.sessions() as db:
        tombs = db.scalars(select(RunTombstone).where(RunTombstone.run_id.in_(sheet.run_ids))).all()
        assert {t.run_id for t in tombs} == set(sheet.run_ids)
        assert all(t.inputs[0]["sha256"] == sheet.sha256 for t in tombs)
        assert {db.get(Run, i).state for i in sheet.run_ids} == {"deleted"}
    actions = [(e.action, e.run_id) for e in audit(client)]
    assert all(("run_deleted", i) in actions for i in sheet.run_ids)
    assert ("sheet_deleted", None) in actions


def test_a_sheet_over_the_limit_is_refused_and_nothing_is_stored(tmp_path):
    app = make_app(tmp_path / "home", max_upload_bytes=1024, run_worker=False)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        token = sign_in(client, "ana")
        response = upload_sheet(client, token, "big.txt", b"x" * 4096)
        assert response.status_code == 413 and "larger than the limit" in response.text
        assert not [p for p in (tmp_path / "home" / "sheets").rglob("*")]
        with app.state.web.sessions() as db:
            assert db.scalars(select(Sheet)).all() == []


def test_a_stored_sheet_is_private_and_one_left_running_fails_on_restart(tmp_path, person):
    home = tmp_path / "home"
    app = make_app(home, run_worker=False)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        token = sign_in(client, "ana")
        response = upload_sheet(client, token, "p.txt", render_person(person).encode())
        assert response.status_code == 303
        (stored,) = [p for p in (home / "sheets").rglob("*") if p.is_file()]
        assert stored.stat().st_mode & 0o777 == 0o600
        assert (home / "sheets").stat().st_mode & 0o777 == 0o700
        with app.state.web.sessions() as db:
            (sheet,) = db.scalars(select(Sheet)).all()
            sheet.state = "running"  # as a server stopped mid-way leaves it
            db.commit()
        worker = app.state.sheet_worker
        worker.start()
        worker.stop()
        with app.state.web.sessions() as db:
            sheet = db.get(Sheet, sheet.id)
            assert sheet.state == "failed" and sheet.error.startswith("interrupted")
