"""The web app through its HTTP interface (FastAPI's TestClient): what an office relies on.

Permissions (only attorneys decide), CSRF on every POST, upload limits and bad files
(a clear message and nothing stored), the append-only audit log, decisions flowing
into the downloads, and the server refusing a non-loopback address without accounts.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import socket
import subprocess
import sys
import time
import uuid
import zipfile
from pathlib import Path

import httpx2 as httpx
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import DatabaseError
from typer.testing import CliRunner

from clearance.cli import app as cli_app
from clearance.sample import sample_path
from clearance.web import accounts
from clearance.web.app import ROUTERS, create_app
from clearance.web.db import AppendOnlyError, AuditEntry, Run, Upload
from clearance.web.server import ServeError, check_listen
from clearance.web.settings import Settings

PASSWORD = "correct horse battery"
SAMPLE_AS_OF = "2020-07-01"
LOOPBACK = ("127.0.0.1", 50000)


def database_url() -> str:
    """SQLite in the data directory; or, when CLEARANCE_TEST_DATABASE_URL names a
    PostgreSQL database, a new schema of it for each app (the same tests, on PostgreSQL)."""
    url = os.environ.get("CLEARANCE_TEST_DATABASE_URL", "")
    if not url:
        return ""
    schema = f"test_{uuid.uuid4().hex[:12]}"
    with create_engine(url).begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    return f"{url}?options=-csearch_path%3D{schema}"


def make_app(home: Path, **settings):
    app = create_app(Settings(data_dir=home, database_url=database_url(), **settings))
    with app.state.web.sessions() as db:
        for name, role in (("ana", "analyst"), ("atty", "attorney"), ("root", "admin")):
            accounts.create_user(db, name, role, PASSWORD)
        db.commit()
    return app


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page)
    assert found, "no CSRF token on the page"
    return found.group(1)


def sign_in(client: TestClient, name: str) -> str:
    """Sign in; return a CSRF token valid for the new session."""
    client.cookies.clear()
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login", data={"username": name, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/runs").text)


def upload(client: TestClient, token: str, files: list[tuple[str, bytes]], **headers):
    return client.post(
        "/uploads",
        data={"csrf_token": token},
        files=[("files", (name, content, "application/octet-stream")) for name, content in files],
        headers=headers,
    )


def wait_for(client: TestClient, run_id: int, timeout: float = 30) -> Run:
    deadline = time.monotonic() + timeout
    web = client.app.state.web
    while time.monotonic() < deadline:
        with web.sessions() as db:
            run = db.get(Run, run_id)
            if run.state in ("done", "failed"):
                return run
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} did not finish in {timeout} s")


def start_run(client: TestClient, token: str, **fields) -> int:
    data = {
        "csrf_token": token,
        "sample": "on",
        "county": "SACRAMENTO",
        "policy_mode": "preset",
        "preset": "statute",
        "as_of": SAMPLE_AS_OF,
        **fields,
    }
    response = client.post("/runs", data=data)
    assert response.status_code == 303, response.text
    return int(response.headers["location"].rsplit("/", 1)[1])


@pytest.fixture(scope="module", autouse=True)
def quick_hashes():
    """Cheaper argon2 parameters for these tests (the app's defaults take 0.3 s a hash)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024))
        yield


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """An app with three accounts and a finished run of the bundled sample."""
    home = tmp_path_factory.mktemp("web") / "home"
    app = make_app(home)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        token = sign_in(client, "ana")
        run_id = start_run(client, token)
        run = wait_for(client, run_id)
        assert run.state == "done", run.error
        yield client, run_id


@pytest.fixture
def fresh(tmp_path):
    """An app of its own (the worker off), for tests that count what is stored."""
    app = make_app(tmp_path / "home", max_upload_bytes=4 * 1024 * 1024, run_worker=False)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        yield client, tmp_path / "home"


def review_rows(client: TestClient, run_id: int) -> list[tuple[str, str]]:
    page = client.get(f"/runs/{run_id}/results?determination=review").text
    return re.findall(r'/people/(\d+)#conviction-(\d+)"', page)


def stored(home: Path, client: TestClient) -> tuple[list[Path], int]:
    files = [p for p in (home / "uploads").rglob("*") if p.is_file()]
    with client.app.state.web.sessions() as db:
        rows = len(db.scalars(select(Upload)).all())
    return files, rows


# Accounts and sessions


def test_pages_need_sign_in_and_the_cookie_is_locked_down(fresh):
    client, _ = fresh
    response = client.get("/runs")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")
    token = csrf_of(client.get("/login").text)
    wrong = client.post("/login", data={"username": "ana", "password": "nope", "csrf_token": token})
    assert wrong.status_code == 401
    assert "wrong user name or password" in wrong.text
    response = client.post(
        "/login", data={"username": "ana", "password": PASSWORD, "csrf_token": token}
    )
    cookie = response.headers["set-cookie"].lower()
    assert "clearance_session=" in cookie
    for flag in ("secure", "httponly", "samesite=strict"):
        assert flag in cookie


def test_passwords_are_stored_as_argon2_hashes(fresh):
    client, _ = fresh
    with client.app.state.web.sessions() as db:
        user = accounts.find(db, "ana")
        assert user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash


def test_only_admins_manage_users(fresh):
    client, _ = fresh
    token = sign_in(client, "atty")
    assert client.get("/admin/users").status_code == 403
    new = {"username": "bob", "role": "admin", "password": PASSWORD, "csrf_token": token}
    assert client.post("/admin/users", data=new).status_code == 403
    token = sign_in(client, "root")
    assert client.post("/admin/users", data={**new, "csrf_token": token}).status_code == 303
    with client.app.state.web.sessions() as db:
        assert accounts.find(db, "bob").role == "admin"


def test_first_run_setup_only_from_this_machine_and_only_once(tmp_path):
    app = create_app(
        Settings(data_dir=tmp_path / "home", database_url=database_url(), run_worker=False)
    )
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as remote:
        assert remote.get("/setup").status_code == 403
    with TestClient(
        app, base_url="https://testserver", follow_redirects=False, client=LOOPBACK
    ) as local:
        assert local.get("/", follow_redirects=False).headers["location"] == "/setup"
        token = csrf_of(local.get("/setup").text)
        form = {"username": "first", "password": PASSWORD, "confirm": PASSWORD}
        response = local.post("/setup", data={**form, "csrf_token": token})
        assert response.status_code == 303
        assert local.get("/admin/users").status_code == 200  # signed in as the admin
        assert local.get("/setup").status_code == 404


# CSRF


def test_every_post_route_refuses_a_missing_or_wrong_csrf_token(finished):
    client, run_id = finished
    token = sign_in(client, "root")
    posts = [route.path for router in ROUTERS for route in router.routes if "POST" in route.methods]
    assert {"/login", "/logout", "/uploads", "/runs", "/runs/{run_id}/reviews/decide"} <= set(posts)
    for path in posts:
        url = re.sub(r"\{[a-z_]+\}", str(run_id), path)
        for sent in ({}, {"csrf_token": "0" * 64}):
            response = client.post(
                url, data=sent, files={"x": ("a.dat", b"x")} if path == "/uploads" else None
            )
            assert response.status_code == 403, (path, sent, response.status_code)
    assert token  # the session itself was valid


def test_htmx_posts_carry_the_token_in_a_header(finished):
    client, run_id = finished
    sign_in(client, "atty")
    page = client.get("/runs").text
    header = re.search(r'hx-headers=\'\{"X-CSRF-Token": "([0-9a-f]+)"\}\'', page)
    assert header, "the page does not give HTMX the CSRF header"
    subject, cnt = review_rows(client, run_id)[0]
    sent = {"subject_id": subject, "cnt_order": cnt, "decision": "reduce", "note": ""}
    response = client.post(
        f"/runs/{run_id}/reviews/decide",
        data=sent,
        headers={"HX-Request": "true", "X-CSRF-Token": header.group(1)},
    )
    assert response.status_code == 400  # past CSRF; refused for the missing note
    assert "a note is required" in response.text


# Review


def test_an_analyst_cannot_decide_a_review_and_an_attorney_can(finished):
    client, run_id = finished
    subject, cnt = review_rows(client, run_id)[0]
    decision = {"subject_id": subject, "cnt_order": cnt, "decision": "dismiss"}
    decision["note"] = "court file shows HS 11357(b), 1 oz"
    with client.app.state.web.sessions() as db:
        before = len(db.scalars(select(AuditEntry)).all())
    for name in ("ana", "root"):
        token = sign_in(client, name)
        response = client.post(
            f"/runs/{run_id}/reviews/decide", data={**decision, "csrf_token": token}
        )
        assert response.status_code == 403, name
    with client.app.state.web.sessions() as db:
        assert len(db.scalars(select(AuditEntry)).all()) == before
    token = sign_in(client, "ana")
    person = client.get(f"/runs/{run_id}/people/{subject}").text
    assert "Record the decision" not in person
    assert "An attorney decides this conviction" in person

    token = sign_in(client, "atty")
    response = client.post(f"/runs/{run_id}/reviews/decide", data={**decision, "csrf_token": token})
    assert response.status_code == 303
    with client.app.state.web.sessions() as db:
        entry = db.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert (entry.action, entry.username, entry.role) == ("review_decided", "atty", "attorney")
        assert (entry.subject_id, entry.cnt_order, entry.decision) == (subject, cnt, "dismiss")
        assert entry.engine_determination == "review"
        assert entry.note == decision["note"]
    audit = client.get(f"/audit?run={run_id}").text
    assert decision["note"] in audit


def test_a_decision_needs_a_note_and_an_open_review(finished):
    client, run_id = finished
    token = sign_in(client, "atty")
    subject, cnt = review_rows(client, run_id)[1]
    blank = {"subject_id": subject, "cnt_order": cnt, "decision": "reduce", "note": "  "}
    response = client.post(f"/runs/{run_id}/reviews/decide", data={**blank, "csrf_token": token})
    assert response.status_code == 400
    assert "a note is required" in response.text
    # A conviction the engine decided must be opened before it is decided.
    page = client.get(f"/runs/{run_id}/results?determination=dismiss").text
    other_subject, other_cnt = re.findall(r'/people/(\d+)#conviction-(\d+)"', page)[0]
    closed = {"subject_id": other_subject, "cnt_order": other_cnt, "decision": "not_eligible"}
    closed["note"] = "prior out-of-state strike"
    response = client.post(f"/runs/{run_id}/reviews/decide", data={**closed, "csrf_token": token})
    assert response.status_code == 400
    assert "open this conviction for review" in response.text
    token = sign_in(client, "ana")
    opened = {"subject_id": other_subject, "cnt_order": other_cnt, "note": "check the priors"}
    response = client.post(f"/runs/{run_id}/reviews/open", data={**opened, "csrf_token": token})
    assert response.status_code == 303
    token = sign_in(client, "atty")
    response = client.post(f"/runs/{run_id}/reviews/decide", data={**closed, "csrf_token": token})
    assert response.status_code == 303


def test_decisions_flow_into_the_reviewed_downloads(finished):
    client, run_id = finished
    token = sign_in(client, "atty")
    subject, cnt = review_rows(client, run_id)[2]
    note = "charge confirmed as HS 11359 from the docket"
    sent = {"subject_id": subject, "cnt_order": cnt, "decision": "reduce", "note": note}
    assert (
        client.post(
            f"/runs/{run_id}/reviews/decide", data={**sent, "csrf_token": token}
        ).status_code
        == 303
    )
    response = client.get(f"/runs/{run_id}/download/determinations.csv")
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    row = next(r for r in rows if (r["subject_id"], r["cnt_order"]) == (subject, cnt))
    assert (row["determination"], row["reason"], row["review_decision"]) == (
        "reduce",
        "reviewed",
        "reduce",
    )
    assert row["reviewed_by"] == "atty" and row["review_note"] == note
    assert row["citation"].startswith("HS 11361.8")
    untouched = [r for r in rows if not r["review_decision"]]
    assert untouched and all(r["reason"] != "reviewed" for r in untouched)
    summary = client.get(f"/runs/{run_id}/download/summary.json").json()
    decided = [r for r in rows if r["review_decision"]]
    assert summary["review"]["decided"] == len(decided)
    assert summary["by_reason"]["reviewed"] == len(decided)
    assert sum(summary["by_determination"].values()) == len(rows)
    workbook = client.get(f"/runs/{run_id}/download/determinations.xlsx")
    assert workbook.content[:2] == b"PK"


def test_the_report_and_the_filings_are_made_from_the_reviewed_run(finished):
    client, run_id = finished
    token = sign_in(client, "atty")
    subject, cnt = review_rows(client, run_id)[4]
    sent = {"subject_id": subject, "cnt_order": cnt, "decision": "dismiss"}
    sent["note"] = "docket shows HS 11357(a), possession only"
    response = client.post(f"/runs/{run_id}/reviews/decide", data={**sent, "csrf_token": token})
    assert response.status_code == 303
    summary = client.get(f"/runs/{run_id}/download/summary.json").json()

    inline = client.get(f"/runs/{run_id}/report.html")
    assert inline.status_code == 200 and inline.headers["content-type"].startswith("text/html")
    policy = inline.headers["content-security-policy"]
    assert "sandbox" in policy and "script-src" not in policy and "default-src 'none'" in policy
    assert "<script" not in inline.text.lower()
    assert f'src="/runs/{run_id}/report.html"' in client.get(f"/runs/{run_id}").text
    assert client.get(f"/runs/{run_id}/download/report.pdf").content[:5] == b"%PDF-"

    archive = zipfile.ZipFile(
        io.BytesIO(client.get(f"/runs/{run_id}/download/filings.zip").content)
    )
    manifest = json.loads(archive.read("filings/filings.json"))
    assert manifest["run"]["reviewed"] is True
    assert manifest["office"]["blank"] is True
    doj = list(
        csv.DictReader(io.StringIO(archive.read("filings/doj-disposition-update.csv").decode()))
    )
    row = next(r for r in doj if (r["subject_id"], r["cnt_order"]) == (subject, cnt))
    assert row["relief"] == "Dismiss and seal" and row["decided_on_review"] == "true"
    awaiting = archive.read("filings/awaiting-review.csv").decode()
    assert subject not in awaiting
    assert manifest["convictions"]["awaiting_review"] == summary["by_determination"]["review"]
    assert manifest["convictions"]["dismiss"] == summary["by_determination"]["dismiss"]


def test_an_admin_saves_the_office_file_and_the_filings_use_it(finished):
    client, run_id = finished
    token = sign_in(client, "ana")
    assert client.get("/admin/office").status_code == 403
    token = sign_in(client, "root")
    office = (Path(__file__).resolve().parents[1] / "examples" / "office.yaml").read_text()
    broken = office.replace('bar_number: "999999"', 'bar_number: "CA-12"')
    response = client.post("/admin/office", data={"office": broken, "csrf_token": token})
    assert response.status_code == 400
    assert "office.yaml: attorney.bar_number" in response.text
    assert not (client.app.state.web.settings.data_dir / "office.yaml").exists()
    response = client.post("/admin/office", data={"office": office, "csrf_token": token})
    assert response.status_code == 303
    archive = zipfile.ZipFile(
        io.BytesIO(client.get(f"/runs/{run_id}/download/filings.zip").content)
    )
    manifest = json.loads(archive.read("filings/filings.json"))
    assert manifest["office"]["blank"] is False
    with client.app.state.web.sessions() as db:
        entry = db.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert (entry.action, entry.username) == ("office_saved", "root")


# The audit log


def test_the_audit_log_is_append_only(finished):
    client, _ = finished
    web = client.app.state.web
    with web.sessions() as db:
        db.add(AuditEntry(username="x", role="attorney", action="review_decided", note="n"))
        db.commit()
        entry_id = db.scalars(select(AuditEntry.id).order_by(AuditEntry.id.desc())).first()
    for statement in (
        f"UPDATE audit_log SET note = 'rewritten' WHERE id = {entry_id}",
        f"DELETE FROM audit_log WHERE id = {entry_id}",
        "DELETE FROM audit_log",
    ):
        with web.engine.connect() as connection, pytest.raises(DatabaseError, match="append-only"):
            connection.execute(text(statement))
    with web.sessions() as db:
        entry = db.get(AuditEntry, entry_id)
        entry.note = "rewritten"
        with pytest.raises(AppendOnlyError):
            db.commit()
    with web.sessions() as db:
        entry = db.get(AuditEntry, entry_id)
        assert entry.note == "n"
        db.delete(entry)
        with pytest.raises(AppendOnlyError):
            db.commit()
    # And the app offers no way to change one: it has no PUT, PATCH or DELETE route.
    methods = {m for router in ROUTERS for route in router.routes for m in route.methods}
    assert "POST" in methods
    assert not methods & {"PUT", "PATCH", "DELETE"}


# Uploads


def test_an_upload_over_the_limit_is_refused_and_nothing_is_stored(fresh):
    client, home = fresh
    token = sign_in(client, "ana")
    big = sample_path().read_bytes() * 2  # 6.3 MB
    response = upload(client, token, [("big.dat", big)])
    assert response.status_code == 413
    assert "larger than the limit of 4 MB" in response.text
    assert stored(home, client) == ([], 0)

    # A client that sends no Content-Length is stopped while streaming.
    boundary = "clearanceboundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="big.dat"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + big
        + f"\r\n--{boundary}--\r\n".encode()
    )

    def chunks():
        for i in range(0, len(body), 65536):
            yield body[i : i + 65536]

    response = client.post(
        "/uploads",
        content=chunks(),
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 413
    assert stored(home, client) == ([], 0)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.dat", b"", "empty.dat: the file is empty"),
        ("photo.dat", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "photo.dat: not a text file"),
        ("notes.pdf", b"%PDF-1.4", "notes.pdf: not an extract file"),
        ("letter.txt", b"Dear colleague,\nplease find the file.\n", "letter.txt: no line of"),
        ("bad.csv", b"RECORD_ID,NAME\n1,x\n", "bad.csv, line 1: the header has no"),
    ],
)
def test_a_bad_file_gets_a_clear_message_and_nothing_is_stored(fresh, name, content, message):
    client, home = fresh
    token = sign_in(client, "ana")
    response = upload(
        client, token, [("good.dat", sample_path().read_bytes()[:200_000]), (name, content)]
    )
    assert response.status_code == 400
    assert message in response.text
    assert "\n" not in response.text.strip()  # one line
    assert stored(home, client) == ([], 0)


def test_a_good_upload_is_stored_with_its_counties_offered(fresh):
    client, home = fresh
    token = sign_in(client, "ana")
    response = upload(client, token, [("county.dat", sample_path().read_bytes())])
    assert response.status_code == 303
    files, rows = stored(home, client)
    assert rows == 1 and [f.name for f in files] == ["county.dat"]
    assert files[0].read_bytes() == sample_path().read_bytes()
    page = client.get(response.headers["location"]).text
    assert re.search(r'<option value="SACRAMENTO"[^>]*>SACRAMENTO — \d+ cannabis', page)


def test_an_upload_is_deleted_only_when_no_pending_run_reads_it(fresh):
    client, home = fresh  # the worker is off here: a run stays queued
    token = sign_in(client, "ana")
    location = upload(client, token, [("county.dat", sample_path().read_bytes())]).headers[
        "location"
    ]
    upload_id = location.rsplit("=", 1)[1]
    run_id = start_run(client, token, sample="", upload=upload_id)
    assert client.get(f"/runs/{run_id}").status_code == 200
    deleting = f"/uploads/{upload_id}/delete"
    assert client.post(deleting, data={"csrf_token": token}).status_code == 409
    with client.app.state.web.sessions() as db:
        db.get(Run, run_id).state = "done"
        db.commit()
    assert client.post(deleting, data={"csrf_token": token}).status_code == 303
    assert stored(home, client) == ([], 0)
    with client.app.state.web.sessions() as db:
        entry = db.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert (entry.action, entry.username) == ("upload_deleted", "ana")
        assert entry.note.startswith("county.dat")


# Runs, results and the person page


def test_results_are_searchable_filterable_and_paged(finished):
    client, run_id = finished
    sign_in(client, "ana")
    everything = client.get(f"/runs/{run_id}/results").text
    assert "409 convictions" in everything and "page 1 of 9" in everything
    assert 'href="?page=2"' in everything  # the pager keeps the query
    page2 = client.get(f"/runs/{run_id}/results?page=2").text
    assert "page 2 of 9" in page2
    assert (
        'href="?determination=reduce&amp;page=2"'
        in client.get(f"/runs/{run_id}/results?determination=reduce").text
    )
    rows1 = set(re.findall(r"/people/(\d+)#conviction-(\d+)", everything))
    rows2 = set(re.findall(r"/people/(\d+)#conviction-(\d+)", page2))
    assert len(rows1) == len(rows2) == 50 and rows1.isdisjoint(rows2)
    first_people = {subject for subject, _ in rows1}
    reviews = client.get(f"/runs/{run_id}/results?determination=not_eligible&section=11359").text
    assert "21 convictions" in reviews
    subject = sorted(first_people)[0]
    found = client.get(f"/runs/{run_id}/results?q={subject}").text
    assert set(re.findall(r"/people/(\d+)#", found)) == {subject}
    fragment = client.get(
        f"/runs/{run_id}/results?reason=two_priors",
        headers={"HX-Request": "true", "HX-Target": "results-table"},
    ).text
    assert fragment.startswith('<div id="results-table">') and "7 convictions" in fragment


def test_the_person_page_shows_the_history_and_the_reasoning(finished):
    client, run_id = finished
    sign_in(client, "ana")
    subject, cnt = review_rows(client, run_id)[3]
    page = client.get(f"/runs/{run_id}/people/{subject}").text
    assert "History" in page and f'id="conviction-{cnt}"' in page
    assert "comment charge" in page and "HS 11361.9(b)" in page  # the rule that sent it to review
    assert "not reached" in page
    assert client.get(f"/runs/{run_id}/people/99999999").status_code == 404


def test_a_custom_policy_is_validated_like_the_command_line(finished):
    client, _ = finished
    token = sign_in(client, "ana")
    fields = {
        "policy_mode": "custom",
        "name": "Mine",
        "outcome_11357": "dismiss",
        "outcome_11358": "dismiss",
        "outcome_11359": "reduce",
        "outcome_11360": "reduce",
        "age_threshold": "17",
    }
    response = client.post(
        "/runs",
        data={"csrf_token": token, "sample": "on", "county": "SACRAMENTO",
              "as_of": SAMPLE_AS_OF, **fields},
    )  # fmt: skip
    assert response.status_code == 400
    assert (
        "web form: additional_relief.age_threshold: 17 is out of range; expected 18 to 100 years"
        in response.text
    )
    assert 'value="Mine"' in response.text  # the form keeps what was typed
    # The same policy with a valid age runs, and run.json records it as resolved.
    run_id = start_run(client, token, **{**fields, "age_threshold": "40", "under_21": "on"})
    run = wait_for(client, run_id)
    assert run.state == "done", run.error
    provenance = client.get(f"/runs/{run_id}/download/run.json").json()
    assert provenance["policy"]["name"] == "Mine"
    assert provenance["policy"]["source"] == "web form"
    assert provenance["policy"]["additional_relief"]["age_threshold"] == 40
    assert provenance["policy"]["additional_relief"]["under_21"] is True
    assert provenance["as_of"] == SAMPLE_AS_OF


def test_a_run_that_cannot_proceed_fails_with_its_reason(finished):
    client, _ = finished
    token = sign_in(client, "ana")
    run_id = start_run(client, token, county="ALPINE")
    run = wait_for(client, run_id)
    assert run.state == "failed"
    assert "no event in the extract names the county 'ALPINE'" in run.error
    assert "failed" in client.get(f"/runs/{run_id}").text
    assert client.get(f"/runs/{run_id}/results").status_code == 409


def test_assets_are_served_locally_and_no_page_loads_anything_from_elsewhere(finished):
    client, run_id = finished
    sign_in(client, "ana")
    htmx = client.get("/static/htmx.min.js")
    assert htmx.status_code == 200 and htmx.text.startswith("/*! htmx 2.")
    templates = Path(__file__).resolve().parents[1] / "src/clearance/web/templates"
    for page in [client.get(f"/runs/{run_id}").text, *(p.read_text() for p in templates.iterdir())]:
        assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "default-src 'self'" in client.get("/runs").headers["content-security-policy"]


# Serving


def test_serve_refuses_a_non_loopback_address_without_accounts(tmp_path):
    result = CliRunner().invoke(
        cli_app, ["serve", "--host", "0.0.0.0", "--data-dir", str(tmp_path / "home")]
    )
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("clearance: refusing to listen on 0.0.0.0: no account exists yet")
    assert "clearance users add NAME --role admin" in lines[0]
    with pytest.raises(ServeError, match="without TLS"):
        check_listen("0.0.0.0", 8000, accounts=True, tls_cert=None, tls_key=None)
    pem = tmp_path / "server.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\n")
    listening = check_listen("0.0.0.0", 8443, accounts=True, tls_cert=pem, tls_key=pem)
    assert listening.url == "https://0.0.0.0:8443"
    assert check_listen("127.0.0.1", 8000, accounts=False, tls_cert=None, tls_key=None).url == (
        "http://127.0.0.1:8000"
    )


def test_users_add_creates_the_first_admin_from_the_command_line(tmp_path):
    home = tmp_path / "home"
    runner = CliRunner()
    result = runner.invoke(
        cli_app,
        ["users", "add", "boss", "--role", "admin", "--data-dir", str(home), "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    listed = runner.invoke(cli_app, ["users", "list", "--data-dir", str(home)])
    assert re.search(r"boss\s+admin\s+active", listed.output)
    short = runner.invoke(
        cli_app,
        ["users", "add", "x1", "--data-dir", str(home), "--password-stdin"],
        input="short\n",
    )
    assert short.exit_code == 2 and "at least 12 characters" in short.output


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_clearance_serve_answers_on_loopback(tmp_path):
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "clearance", "serve", "--port", str(port),
         "--data-dir", str(tmp_path / "home")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stdout.read().decode()
                assert time.monotonic() < deadline, "the server did not answer"
                time.sleep(0.2)
        assert response.status_code == 303 and response.headers["location"] == "/setup"
        assert httpx.get(f"http://127.0.0.1:{port}/setup").status_code == 200
    finally:
        server.terminate()
        server.wait(10)
