"""The web app through its HTTP interface (FastAPI's TestClient): what an office relies on.

Permissions (only attorneys decide), CSRF on every POST, upload limits and bad files
(a clear message and nothing stored), the append-only audit log, decisions flowing
into the downloads, sign-in throttling and lockout, cancelling and deleting a run,
and the server refusing a non-loopback address without accounts.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import html
import io
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from dataclasses import replace
from pathlib import Path

import httpx2 as httpx
import polars as pl
import pytest
import yaml
from argon2 import PasswordHasher, extract_parameters
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import DatabaseError
from typer.testing import CliRunner

from clearance.cli import app as cli_app
from clearance.filings import load_office
from clearance.sample import sample_path
from clearance.web import accounts, office_form
from clearance.web import worker as worker_module
from clearance.web.app import ROUTERS, create_app
from clearance.web.db import (
    AppendOnlyError,
    AuditEntry,
    Run,
    RunTombstone,
    SecurityEvent,
    Upload,
)
from clearance.web.server import ServeError, check_listen
from clearance.web.settings import Settings, utc_clock
from clearance.web.worker import RunCancelled

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
    return re.findall(r'/people/(\d+)(?:\?[^"#]*)?#conviction-(\d+)"', page)


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


def test_the_person_page_and_review_panel_show_the_evidence(finished):
    """Issue 14: the comment that sent a conviction to review is shown beside the decision."""
    client, run_id = finished
    token = sign_in(client, "atty")
    csv_text = client.get(f"/runs/{run_id}/download/determinations.csv").text
    rows = pl.read_csv(io.StringIO(csv_text), infer_schema=False)
    # a charge read from the comment (not a comment naming another section)
    from_comment = pl.col("comment_text").fill_null("").str.contains(pl.col("section"))
    row = rows.filter((pl.col("reason") == "comment_charge") & from_comment).row(0, named=True)
    subject, cnt, comment = row["subject_id"], row["cnt_order"], row["comment_text"]
    assert comment
    person = client.get(f"/runs/{run_id}/people/{subject}").text
    panel = person[person.index(f'id="review-{cnt}"') :]
    assert f"<dt>Comment</dt><dd>{html.escape(comment)}</dd>" in panel
    assert "which names HS " + row["section"] in person  # the comment_charge rule line
    # The panel an attorney's htmx request gets back holds the same evidence (a decision
    # without a note is refused, so nothing is recorded).
    response = client.post(
        f"/runs/{run_id}/reviews/decide",
        data={"subject_id": subject, "cnt_order": cnt, "decision": "reduce", "note": ""},
        headers={"HX-Request": "true", "X-CSRF-Token": token},
    )
    assert response.status_code == 400 and "a note is required" in response.text
    assert f"<dt>Comment</dt><dd>{html.escape(comment)}</dd>" in response.text


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
    other_subject, other_cnt = re.findall(r'/people/(\d+)(?:\?[^"#]*)?#conviction-(\d+)"', page)[0]
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


def test_the_filings_zip_is_made_in_the_background_with_its_progress(finished):
    client, run_id = finished
    token = sign_in(client, "root")
    office_file = client.app.state.web.settings.data_dir / "office.yaml"
    office_file.unlink(missing_ok=True)
    # A new office file makes any zip made before out of date.
    office_file.write_text(
        (Path(__file__).resolve().parents[1] / "examples" / "office.yaml").read_text()
    )
    page = client.get(f"/runs/{run_id}").text
    assert "Make the filings" in page and "download/filings.zip" not in page
    htmx = {"HX-Request": "true", "X-CSRF-Token": token}
    fragment = client.post(f"/runs/{run_id}/filings", headers=htmx).text
    assert 'id="filings"' in fragment
    deadline = time.monotonic() + 60
    while "download/filings.zip" not in fragment:  # the page polls the same fragment
        assert time.monotonic() < deadline, fragment
        assert "being made" in fragment or "queued: made as soon as" in fragment, fragment
        assert 'hx-trigger="every 1s"' in fragment
        time.sleep(0.2)
        fragment = client.get(f"/runs/{run_id}/filings", headers=htmx).text
    assert "(zip, " in fragment and "made " in fragment and "hx-trigger" not in fragment
    archive = zipfile.ZipFile(
        io.BytesIO(client.get(f"/runs/{run_id}/download/filings.zip").content)
    )
    assert json.loads(archive.read("filings/filings.json"))["office"]["blank"] is False
    office_file.unlink()  # another office (here: none): the zip is out of date again
    assert "Make the filings again" in client.get(f"/runs/{run_id}/filings").text


def test_a_background_job_reports_its_progress_and_its_failure():
    jobs = worker_module.Jobs((ValueError,))
    jobs.start()
    release = threading.Event()

    def work(progress):
        progress(1)
        progress(1)
        release.wait(10)
        return "made"

    try:
        job = jobs.submit("filings-1", work)
        deadline = time.monotonic() + 10
        while job.done < 2:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert job.state == "working" and job.active
        assert jobs.submit("filings-1", work) is job  # one job a key at a time
        release.set()
        assert job.finished.wait(10) and (job.state, job.result) == ("done", "made")

        def broken(progress):
            raise ValueError("office.yaml: attorney.bar_number: must be digits")

        failed = jobs.submit("filings-1", broken)
        assert failed is not job and failed.finished.wait(10)
        assert (failed.state, failed.error) == (
            "failed",
            "office.yaml: attorney.bar_number: must be digits",
        )
        secret = jobs.submit("filings-2", lambda progress: {}["JANE DOE 1970-01-01"])
        assert secret.finished.wait(10) and secret.error == "internal error (KeyError)"
    finally:
        release.set()
        jobs.stop()


def test_an_admin_saves_the_office_file_and_the_filings_use_it(finished):
    client, run_id = finished
    token = sign_in(client, "ana")
    assert client.get("/admin/office").status_code == 403
    token = sign_in(client, "root")
    example = Path(__file__).resolve().parents[1] / "examples" / "office.yaml"
    fields = office_form.values_from_mapping(yaml.safe_load(example.read_text()))
    form = {k: v for k, v in fields.items() if v is not False} | {"csrf_token": token}
    form["courts.split_by_courthouse"] = "on"
    assert 'name="office.name" value=""' in client.get("/admin/office").text  # none saved yet
    # Two wrong fields: both are named, each beside its field, and nothing is saved.
    broken = form | {"attorney.bar_number": "CA-12", "office.phone": ""}
    response = client.post("/admin/office", data=broken)
    assert response.status_code == 400
    assert "Not saved: 2 fields to correct" in response.text
    assert '<a href="#f-attorney-bar-number">State Bar number (the attorney who signs)</a>' in (
        response.text
    )
    assert "State Bar number: must be the State Bar number, 1 to 7 digits" in response.text
    assert "Phone: missing (required)" in response.text
    assert 'value="CA-12" aria-required="true" aria-invalid="true"' in response.text
    assert not (client.app.state.web.settings.data_dir / "office.yaml").exists()
    response = client.post("/admin/office", data=form)
    assert response.status_code == 303 and response.headers["location"].endswith("saved=1")
    page = client.get(response.headers["location"]).text
    assert "Saved. Filings made from now on use these details." in page
    assert 'name="attorney.bar_number" value="999999"' in page
    # The file is what `clearance filings --office` reads, with the example's details.
    saved = load_office(client.app.state.web.settings.data_dir / "office.yaml")
    assert saved == replace(load_office(example), source_name="office.yaml")
    archive = zipfile.ZipFile(
        io.BytesIO(client.get(f"/runs/{run_id}/download/filings.zip").content)
    )
    manifest = json.loads(archive.read("filings/filings.json"))
    assert manifest["office"]["blank"] is False
    with client.app.state.web.sessions() as db:
        saved = select(AuditEntry).where(AuditEntry.action == "office_saved")
        entry = db.scalars(saved.order_by(AuditEntry.id.desc())).first()
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


@pytest.mark.parametrize("table", ["security_log", "run_tombstones"])
def test_the_security_log_and_the_tombstones_are_append_only_too(fresh, table):
    client, _ = fresh
    web = client.app.state.web
    run_id = start_run(client, sign_in(client, "root"))
    with web.sessions() as db:
        row = (
            SecurityEvent(event="sign_in_failed", at=utc_clock(), address="10.0.0.1")
            if table == "security_log"
            else RunTombstone(run_id=run_id, username="root", role="admin", reason="r",
                              state="queued", inputs_json="[]", counts_json="{}")
        )  # fmt: skip
        db.add(row)
        db.commit()
        row_id = row.id
    for statement in (f"UPDATE {table} SET reason = 'x'", f"DELETE FROM {table}"):
        statement = statement.replace("reason", "note") if table == "security_log" else statement
        with web.engine.connect() as connection, pytest.raises(DatabaseError, match="append-only"):
            connection.execute(text(statement))
    with web.sessions() as db:
        db.delete(db.get(type(row), row_id))
        with pytest.raises(AppendOnlyError):
            db.commit()


# Sign-in throttling and lockout

WRONG = "not the password at all"
LOCKED = "too many failed sign-ins: sign-in is refused until"


class Clock:
    """The app's clock, moved by the tests instead of sleeping."""

    def __init__(self) -> None:
        self.now = utc_clock()

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **span: float) -> None:
        self.now += dt.timedelta(**span)


@pytest.fixture
def guarded(tmp_path):
    """An app of its own with a clock the test moves (the worker off)."""
    clock = Clock()
    app = make_app(tmp_path / "home", run_worker=False, clock=clock)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        yield client, clock


def attempt(client: TestClient, name: str, password: str = WRONG):
    """One sign-in attempt from this client (the page's CSRF token, then the form)."""
    token = csrf_of(client.get("/login").text)
    return client.post("/login", data={"username": name, "password": password, "csrf_token": token})


def security_events(client: TestClient) -> list[SecurityEvent]:
    with client.app.state.web.sessions() as db:
        return list(db.scalars(select(SecurityEvent).order_by(SecurityEvent.id)))


def test_five_failed_sign_ins_lock_the_account_for_fifteen_minutes(guarded):
    client, clock = guarded
    for _ in range(4):
        response = attempt(client, "ana")
        assert response.status_code == 401 and "wrong user name or password" in response.text
    fifth = attempt(client, "ana")
    assert fifth.status_code == 429 and LOCKED in fifth.text
    assert "an administrator can lift this sooner" in fifth.text
    # Now even the right password is refused, until the lock ends.
    assert attempt(client, "ana", PASSWORD).status_code == 429
    clock.advance(minutes=14, seconds=59)
    assert attempt(client, "ana", PASSWORD).status_code == 429
    clock.advance(seconds=1)
    assert attempt(client, "ana", PASSWORD).status_code == 303
    assert attempt(client, "atty", PASSWORD).status_code == 303  # never locked
    kinds = [e.event for e in security_events(client) if e.account == "ana"]
    # Each checked attempt is logged as started (counted at once), then as its outcome.
    assert kinds == [*["sign_in_started", "sign_in_failed"] * 5, "account_locked",
                     "sign_in_refused", "sign_in_refused", "sign_in_started",
                     "sign_in_succeeded"]  # fmt: skip


def test_only_failures_within_the_window_and_since_the_last_sign_in_count(guarded):
    client, clock = guarded
    for _ in range(4):
        attempt(client, "ana")
    clock.advance(minutes=16)
    for _ in range(4):
        assert attempt(client, "ana").status_code == 401  # the first four have expired
    assert attempt(client, "ana", PASSWORD).status_code == 303  # starts the count again
    for _ in range(4):
        assert attempt(client, "ana").status_code == 401
    assert attempt(client, "ana").status_code == 429


def test_a_lock_says_nothing_about_whether_the_account_exists(guarded, monkeypatch):
    client, _ = guarded
    verified: list[str] = []

    class Counting(PasswordHasher):
        def verify(self, hash, password):
            verified.append(hash)
            return super().verify(hash, password)

    monkeypatch.setattr(accounts, "_hasher", Counting(time_cost=1, memory_cost=1024))
    answers = {}
    for name in ("ana", "nobody-here"):
        before = len(verified)
        answers[name] = [attempt(client, name) for _ in range(6)]
        # One argon2 verification per attempt, known name or not, until the lock; none after.
        assert len(verified) - before == 5
    known, unknown = answers["ana"], answers["nobody-here"]
    assert [r.status_code for r in known] == [401] * 4 + [429] * 2
    assert [r.status_code for r in unknown] == [401] * 4 + [429] * 2
    assert [r.text for r in known] == [r.text.replace("nobody-here", "ana") for r in unknown]
    # The dummy hash has a real one's parameters, so it costs the same to verify.
    with client.app.state.web.sessions() as db:
        real = accounts.find(db, "ana").password_hash
    assert extract_parameters(accounts.dummy_hash()) == extract_parameters(real)
    # A name no account has is logged by a fingerprint, never as typed.
    logged = " ".join(str(vars(e)) for e in security_events(client))
    assert "nobody-here" not in logged and WRONG not in logged
    assert any(e.account is None and e.event == "account_locked" for e in security_events(client))


def test_many_failures_from_one_address_lock_that_address(guarded):
    client, _ = guarded
    for i in range(19):
        assert attempt(client, f"guess-{i}").status_code == 401
    assert attempt(client, "guess-19").status_code == 429
    assert attempt(client, "ana", PASSWORD).status_code == 429  # the address is locked
    elsewhere = TestClient(client.app, base_url="https://testserver", follow_redirects=False,
                           client=("10.1.2.3", 40000))  # fmt: skip
    assert attempt(elsewhere, "ana", PASSWORD).status_code == 303
    locked = [e.address for e in security_events(client) if e.event == "address_locked"]
    assert locked == ["testclient"]


def test_the_loopback_address_is_never_locked_only_the_names(guarded):
    client, _ = guarded
    local = TestClient(client.app, base_url="https://testserver", follow_redirects=False,
                       client=LOOPBACK)  # fmt: skip
    for i in range(25):
        assert attempt(local, f"guess-{i}").status_code == 401
    assert attempt(local, "ana", PASSWORD).status_code == 303
    assert not [e for e in security_events(client) if e.event == "address_locked"]


def test_a_lock_survives_a_restart(guarded):
    client, clock = guarded
    for _ in range(5):
        attempt(client, "ana")
    again = create_app(client.app.state.web.settings)
    with TestClient(again, base_url="https://testserver", follow_redirects=False) as restarted:
        assert attempt(restarted, "ana", PASSWORD).status_code == 429
        clock.advance(minutes=15)
        assert attempt(restarted, "ana", PASSWORD).status_code == 303


def test_an_admin_unlocks_an_account_and_the_security_log_says_who_when_and_where(guarded):
    client, clock = guarded
    for _ in range(5):
        attempt(client, "ana")
    token = sign_in(client, "root")
    page = client.get("/admin/users").text
    assert page.count("sign-in locked until") == 1
    ana_id = re.search(r'action="/admin/users/(\d+)/unlock"', page).group(1)
    assert "account ana" in client.get("/admin/security").text
    response = client.post(f"/admin/users/{ana_id}/unlock", data={"csrf_token": token})
    assert response.status_code == 303
    assert "sign-in locked until" not in client.get("/admin/users").text
    assert attempt(client, "ana", PASSWORD).status_code == 303
    logged = security_events(client)
    unlock = next(e for e in logged if e.event == "account_unlocked")
    assert (unlock.account, unlock.by_username, unlock.at) == ("ana", "root", clock.now)
    failed = [e for e in logged if e.event == "sign_in_failed"]
    assert {(e.account, e.address) for e in failed} == {("ana", "testclient")}
    assert all(PASSWORD not in str(vars(e)) and WRONG not in str(vars(e)) for e in logged)
    # Only admins read the security log or lift a lock.
    token = sign_in(client, "ana")
    assert client.get("/admin/security").status_code == 403
    sent = {"kind": "address", "value": "testclient", "csrf_token": token}
    assert client.post("/admin/security/unlock", data=sent).status_code == 403


def test_an_admin_lifts_an_address_lock_on_the_security_page(guarded):
    client, _ = guarded
    for i in range(20):
        attempt(client, f"guess-{i}")
    other = TestClient(client.app, base_url="https://testserver", follow_redirects=False,
                       client=("10.1.2.3", 40000))  # fmt: skip
    token = sign_in(other, "root")
    assert "address testclient" in other.get("/admin/security").text
    sent = {"kind": "address", "value": "testclient", "csrf_token": token}
    assert other.post("/admin/security/unlock", data=sent).status_code == 303
    assert "address testclient" not in other.get("/admin/security").text
    assert attempt(client, "ana", PASSWORD).status_code == 303


def test_users_unlock_lifts_a_lock_from_the_command_line(tmp_path):
    home = tmp_path / "home"
    app = create_app(Settings(data_dir=home, run_worker=False))
    with app.state.web.sessions() as db:
        accounts.create_user(db, "ana", "analyst", PASSWORD)
        db.commit()
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        for _ in range(5):
            attempt(client, "ana")
        runner = CliRunner()
        listed = runner.invoke(cli_app, ["users", "list", "--data-dir", str(home)])
        assert re.search(r"ana\s+analyst\s+active\s+locked until", listed.output)
        result = runner.invoke(cli_app, ["users", "unlock", "ana", "--data-dir", str(home)])
        assert result.exit_code == 0 and "unlocked ana" in result.output
        again = runner.invoke(cli_app, ["users", "unlock", "ana", "--data-dir", str(home)])
        assert "ana was not locked" in again.output
        assert attempt(client, "ana", PASSWORD).status_code == 303
        unknown = runner.invoke(cli_app, ["users", "unlock", "bob", "--data-dir", str(home)])
        assert unknown.exit_code == 2 and "no user named 'bob'" in unknown.output
        address = runner.invoke(
            cli_app, ["users", "unlock", "--address", "10.9.9.9", "--data-dir", str(home)]
        )
        assert "address 10.9.9.9 was not locked" in address.output
        entry = next(e for e in security_events(client) if e.event == "account_unlocked")
        assert entry.by_username == "(command line)"


# Cancelling and deleting a run


def run_files(home: Path, run_id: int) -> list[Path]:
    return [p for p in (home / "runs" / str(run_id)).rglob("*")]


def test_a_running_run_is_cancelled_at_its_next_progress_callback(fresh, monkeypatch):
    client, home = fresh  # the worker thread is off: the test carries out the run
    token = sign_in(client, "ana")
    run_id = start_run(client, token)
    worker = client.app.state.web.worker
    reading, cancelled, stopped = threading.Event(), threading.Event(), threading.Event()
    progress = worker._progress

    def held(run_id: int, total: int):
        advance = progress(run_id, total)

        def hook(n: int) -> None:
            reading.set()
            cancelled.wait(10)
            try:
                advance(n)
            except RunCancelled:
                stopped.set()
                raise

        return hook

    monkeypatch.setattr(worker, "_progress", held)
    thread = threading.Thread(target=worker.execute, args=(run_id,))
    thread.start()
    assert reading.wait(10)
    assert run_files(home, run_id), "the run has a partial folder while it reads"
    assert "Cancel the run" in client.get(f"/runs/{run_id}").text
    response = client.post(f"/runs/{run_id}/cancel", data={"csrf_token": token})
    assert response.status_code == 303
    assert "cancelling" in client.get(f"/runs/{run_id}/progress").text
    cancelled.set()
    thread.join(30)
    assert stopped.is_set(), "the run went on reading after it was cancelled"
    with client.app.state.web.sessions() as db:
        run = db.get(Run, run_id)
        assert (run.state, run.error) == ("cancelled", None)
        entry = db.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert (entry.action, entry.username, entry.run_id) == ("run_cancelled", "ana", run_id)
    assert run_files(home, run_id) == []  # no output, no partial folder
    assert client.post(f"/runs/{run_id}/cancel", data={"csrf_token": token}).status_code == 409


def test_a_run_cancelled_after_its_last_progress_callback_keeps_nothing(fresh, monkeypatch):
    client, home = fresh
    token = sign_in(client, "ana")
    run_id = start_run(client, token)
    real_run = worker_module.run

    def cancelled_while_deciding(*args, **kwargs):
        result = real_run(*args, **kwargs)  # read, decided and written ...
        assert (home / "runs" / str(run_id) / "output" / "determinations.csv").exists()
        response = client.post(f"/runs/{run_id}/cancel", data={"csrf_token": token})
        assert response.status_code == 303  # ... when the cancel arrives
        return result

    monkeypatch.setattr(worker_module, "run", cancelled_while_deciding)
    client.app.state.web.worker.execute(run_id)
    with client.app.state.web.sessions() as db:
        assert db.get(Run, run_id).state == "cancelled"
    assert run_files(home, run_id) == []


def test_a_queued_run_is_cancelled_at_once_and_never_runs(fresh):
    client, home = fresh
    token = sign_in(client, "ana")
    run_id = start_run(client, token)
    assert client.post(f"/runs/{run_id}/cancel", data={"csrf_token": token}).status_code == 303
    client.app.state.web.worker.execute(run_id)  # what the worker would do next
    with client.app.state.web.sessions() as db:
        assert db.get(Run, run_id).state == "cancelled"
    assert run_files(home, run_id) == []


def test_only_an_admin_deletes_a_run_with_a_reason_and_the_number_typed(finished):
    client, run_id = finished
    form = {"reason": "uploaded the wrong county's extract", "confirm": str(run_id)}
    for name in ("ana", "atty"):
        token = sign_in(client, name)
        response = client.post(f"/runs/{run_id}/delete", data={**form, "csrf_token": token})
        assert response.status_code == 403, name
        assert "Delete this run" not in client.get(f"/runs/{run_id}").text
    token = sign_in(client, "root")
    assert "Delete this run" in client.get(f"/runs/{run_id}").text
    blank = client.post(f"/runs/{run_id}/delete", data={**form, "reason": " ", "csrf_token": token})
    assert blank.status_code == 400 and "a reason is required" in blank.text
    wrong = client.post(
        f"/runs/{run_id}/delete", data={**form, "confirm": "0", "csrf_token": token}
    )
    assert wrong.status_code == 400 and f"type the run's number ({run_id})" in html.unescape(
        wrong.text
    )
    with client.app.state.web.sessions() as db:
        assert db.get(Run, run_id).state == "done"  # nothing happened


def test_deleting_a_run_removes_its_files_and_keeps_a_tombstone(finished):
    client, _ = finished
    web = client.app.state.web
    home = web.settings.data_dir
    token = sign_in(client, "ana")
    location = upload(client, token, [("county.dat", sample_path().read_bytes())]).headers[
        "location"
    ]
    upload_id = int(location.rsplit("=", 1)[1])
    run_id = start_run(client, token, sample="", upload=str(upload_id))
    assert wait_for(client, run_id).state == "done"
    output = home / "runs" / str(run_id) / "output"
    assert not (output / "report.html").exists()  # web runs skip the plain run's report
    people = pl.read_parquet(output / "determinations.parquet")
    summary = json.loads((output / "summary.json").read_text())
    token = sign_in(client, "atty")
    subject, cnt = review_rows(client, run_id)[0]
    decision = {"subject_id": subject, "cnt_order": cnt, "decision": "dismiss",
                "note": "docket confirms possession only", "csrf_token": token}  # fmt: skip
    assert client.post(f"/runs/{run_id}/reviews/decide", data=decision).status_code == 303
    assert client.get(f"/runs/{run_id}/download/determinations.csv").status_code == 200
    assert (home / "runs" / str(run_id) / "reviewed" / "determinations.csv").exists()

    token = sign_in(client, "root")
    reason = "uploaded the wrong county's extract"
    sent = {"reason": reason, "confirm": str(run_id), "csrf_token": token}
    response = client.post(f"/runs/{run_id}/delete", data=sent)
    assert response.status_code == 303 and response.headers["location"] == "/runs"

    # Gone from the disk: output, reviewed folder, the uploaded extract.
    assert not (home / "runs" / str(run_id)).exists()
    assert not (home / "uploads" / str(upload_id)).exists()
    with web.sessions() as db:
        assert db.get(Upload, upload_id) is None
        assert db.get(Run, run_id).state == "deleted"
        tomb = db.scalar(select(RunTombstone).where(RunTombstone.run_id == run_id))
        entries = db.scalars(
            select(AuditEntry).where(AuditEntry.run_id == run_id).order_by(AuditEntry.id)
        ).all()
    assert (tomb.username, tomb.role, tomb.reason, tomb.state) == ("root", "admin", reason, "done")
    sha = hashlib.sha256(sample_path().read_bytes()).hexdigest()
    assert [(i["name"], i["sha256"]) for i in tomb.inputs] == [("county.dat", sha)]
    assert tomb.counts["engine_by_determination"] == summary["by_determination"]
    assert tomb.counts["review_decisions"] == {"dismiss": 1, "reduce": 0, "not_eligible": 0}
    # The tombstone names no one.
    kept = tomb.inputs_json + tomb.counts_json + tomb.reason
    for column in ("subject_id", "name", "cii_number", "case_number", "dob"):
        values = {str(v) for v in people[column].drop_nulls().unique().to_list() if len(str(v)) > 4}
        assert not [v for v in values if v in kept], column
    # The decision stays in the append-only audit log, beside the download and the deletion.
    assert [e.action for e in entries] == [
        "run_created", "review_decided", "downloaded", "run_deleted"
    ]  # fmt: skip
    assert entries[-1].username == "root" and entries[-1].note.startswith(reason)
    assert decision["note"] in client.get(f"/audit?run={run_id}").text

    # The run cannot be opened again: 410 Gone, saying who deleted it and why.
    page = client.get(f"/runs/{run_id}")
    assert page.status_code == 410 and reason in html.unescape(page.text) and sha in page.text
    for path in ("results", f"people/{subject}", "download/determinations.csv", "report.html"):
        response = client.get(f"/runs/{run_id}/{path}")
        assert response.status_code == 410, path
        assert f"run {run_id} was deleted" in response.text and "by root" in response.text
    assert re.search(rf"Run {run_id}</a></td>\s*<td><span class=\"state state-deleted\"",
                     client.get("/runs").text)  # fmt: skip
    assert client.post(f"/runs/{run_id}/delete", data=sent).status_code == 410


def test_a_running_run_or_a_file_another_run_reads_is_not_deleted(fresh):
    client, home = fresh  # the worker is off: runs stay queued unless the test moves them
    token = sign_in(client, "root")
    location = upload(client, token, [("county.dat", sample_path().read_bytes())]).headers[
        "location"
    ]
    upload_id = location.rsplit("=", 1)[1]
    first = start_run(client, token, sample="", upload=upload_id)
    second = start_run(client, token, sample="", upload=upload_id)
    with client.app.state.web.sessions() as db:
        db.get(Run, first).state = "running"
        db.commit()
    sent = {"reason": "duplicate", "csrf_token": token}
    response = client.post(f"/runs/{first}/delete", data={**sent, "confirm": str(first)})
    assert response.status_code == 409 and "cancel it first" in response.text
    response = client.post(f"/runs/{second}/delete", data={**sent, "confirm": str(second)})
    assert response.status_code == 409 and f"run {first} (running) still reads county.dat" in (
        response.text
    )
    assert (home / "uploads" / upload_id / "county.dat").exists()
    # Once the first is cancelled, the queued second can be deleted; the worker skips it.
    assert client.post(f"/runs/{first}/cancel", data={"csrf_token": token}).status_code == 303
    response = client.post(f"/runs/{second}/delete", data={**sent, "confirm": str(second)})
    assert response.status_code == 409  # still cancelling: it reads the file until it stops
    with client.app.state.web.sessions() as db:
        db.get(Run, first).state = "cancelled"  # what the worker records once it has stopped
        db.commit()
    response = client.post(f"/runs/{second}/delete", data={**sent, "confirm": str(second)})
    assert response.status_code == 303
    client.app.state.web.worker.execute(second)
    with client.app.state.web.sessions() as db:
        assert [db.get(Run, r).state for r in (first, second)] == ["cancelled", "deleted"]
    assert not (home / "uploads" / upload_id).exists()
    assert run_files(home, second) == []


def test_what_a_deletion_left_on_disk_is_removed_at_the_next_start(fresh):
    client, home = fresh
    token = sign_in(client, "root")
    run_id = start_run(client, token)
    sent = {"reason": "test run", "confirm": str(run_id), "csrf_token": token}
    assert client.post(f"/runs/{run_id}/delete", data=sent).status_code == 303
    leftover = home / "runs" / str(run_id) / "output" / "determinations.csv"
    leftover.parent.mkdir(parents=True)
    leftover.write_text("left behind by a server stopped mid-deletion\n")
    worker = client.app.state.web.worker
    worker.start()
    worker.stop()
    assert not (home / "runs" / str(run_id)).exists()


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
    assert client.post(deleting, data={"csrf_token": token, "confirm": "yes"}).status_code == 409
    with client.app.state.web.sessions() as db:
        db.get(Run, run_id).state = "done"
        db.commit()
    asking = client.get(deleting)  # the list's button opens a page that asks first
    assert asking.status_code == 200 and "county.dat" in asking.text
    assert 'name="confirm" value="yes"' in asking.text
    assert client.post(deleting, data={"csrf_token": token}).status_code == 400  # unconfirmed
    assert len(stored(home, client)[0]) == 1
    done = client.post(deleting, data={"csrf_token": token, "confirm": "yes"})
    assert done.status_code == 303 and "deleted=county.dat" in done.headers["location"]
    assert "county.dat was deleted" in client.get(done.headers["location"]).text
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
    rows1 = set(re.findall(r"/people/(\d+)(?:\?[^\"#]*)?#conviction-(\d+)", everything))
    rows2 = set(re.findall(r"/people/(\d+)(?:\?[^\"#]*)?#conviction-(\d+)", page2))
    assert len(rows1) == len(rows2) == 50 and rows1.isdisjoint(rows2)
    first_people = {subject for subject, _ in rows1}
    reviews = client.get(f"/runs/{run_id}/results?determination=not_eligible&section=11359").text
    assert "21 convictions" in reviews
    subject = sorted(first_people)[0]
    found = client.get(f"/runs/{run_id}/results?q={subject}").text
    assert set(re.findall(r"/people/(\d+)(?:\?[^\"#]*)?#", found)) == {subject}
    fragment = client.get(
        f"/runs/{run_id}/results?reason=two_priors",
        headers={"HX-Request": "true", "HX-Target": "results-table"},
    ).text
    assert fragment.startswith('<div id="results-table">') and "7 convictions" in fragment


def test_pages_speak_plain_words_and_name_convictions_by_case_and_date(finished):
    client, run_id = finished
    sign_in(client, "ana")
    results = client.get(f"/runs/{run_id}/results?determination=dismiss").text
    assert "The section&#39;s outcome" in results and ">baseline<" not in results
    frame = pl.read_parquet(
        client.app.state.web.settings.runs_dir / str(run_id) / "output" / "determinations.parquet"
    ).filter(pl.col("case_number").is_not_null())
    row = frame.row(0, named=True)
    page = client.get(f"/runs/{run_id}/people/{row['subject_id']}").text
    heading = f"Case {row['case_number']}: convicted on {row['conviction_date']}"
    assert heading in page
    assert f"Conviction {row['cnt_order']}" not in page and "(cycle" not in page


def test_the_person_page_shows_the_history_and_the_reasoning(finished):
    client, run_id = finished
    sign_in(client, "ana")
    subject, cnt = review_rows(client, run_id)[3]
    page = client.get(f"/runs/{run_id}/people/{subject}").text
    assert "History" in page and f'id="conviction-{cnt}"' in page
    # the rule that sent it to review, in the rule pack's words
    assert "Charge read from the comment" in page and "HS 11361.9(b)" in page
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


def test_the_run_form_refuses_an_as_of_date_before_the_law_and_warns_of_one_ahead(finished):
    client, _ = finished
    token = sign_in(client, "ana")
    assert 'name="as_of" required min="2016-11-09"' in client.get("/runs/new").text
    data = {"csrf_token": token, "sample": "on", "county": "SACRAMENTO",
            "policy_mode": "preset", "preset": "statute", "as_of": "2016-11-08"}  # fmt: skip
    response = client.post("/runs", data=data)
    assert response.status_code == 400
    assert (
        "the as-of date 2016-11-08 is before Proposition 64 took effect (2016-11-09); "
        "there was no relief yet" in response.text
    )
    ahead = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    run_id = start_run(client, token, as_of=ahead)
    run = wait_for(client, run_id)
    assert run.state == "done", run.error
    warnings = client.get(f"/runs/{run_id}/download/run.json").json()["warnings"]
    assert warnings[0].startswith(f"the as-of date {ahead} is after the day of this run")
    assert (
        f"the as-of date {ahead} is after the day of this run" in client.get(f"/runs/{run_id}").text
    )


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
