"""The audit log holds (issue 15): nothing rewrites it, a rewrite by hand is detected,
reads of personal data are in it, and decisions are recorded once and never silently
overwritten.

- REPLACE, INSERT OR REPLACE and UPSERT are refused by the database (tested with the
  sqlite3 module, as a person with the database file would do it);
- every entry is chained to the one before it by SHA-256: ``clearance audit verify``
  names the first entry changed, removed or cut from the end, and the web app warns
  admins and attorneys;
- an audit log made before the chain is chained once when the app first opens it;
- a person-page view and a download are entries (who, when, which run, person, file);
- a decision posted twice (the same form, or a retry) is recorded once; a decision
  made after another attorney's, on a page shown before it, is refused with 409 and
  the other decision shown, also when two attorneys post at the same instant;
- a person page reads only the person's rows, a results page only its people's
  review state.
"""

from __future__ import annotations

import datetime as dt
import inspect
import re
import sqlite3
import threading
import time
from pathlib import Path

import polars as pl
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from clearance.cli import app as cli_app
from clearance.web import accounts
from clearance.web import results as results_module
from clearance.web import reviews as reviews_module
from clearance.web.app import create_app
from clearance.web.db import AuditEntry, entry_digest, make_engine, session_factory
from clearance.web.routes import results as results_routes
from clearance.web.settings import Settings
from test_web_api import (  # noqa: F401  (fixtures used by name)
    PASSWORD,
    finished,
    make_app,
    quick_hashes,
    review_rows,
    sign_in,
    start_run,
    wait_for,
)

FORGED = "REPLACE INTO audit_log (id, at, user_id, username, role, action, run_id, subject_id, "
FORGED += "cnt_order, engine_determination, decision, note, request_key, prev_hash, entry_hash) "


def entries(client: TestClient, **where) -> list[AuditEntry]:
    with client.app.state.web.sessions() as db:
        query = select(AuditEntry).order_by(AuditEntry.id)
        for name, value in where.items():
            query = query.where(getattr(AuditEntry, name) == value)
        return list(db.scalars(query))


def database(client: TestClient) -> Path:
    return client.app.state.web.settings.data_dir / "clearance.db"


def panel_form(page: str, cnt: str) -> dict[str, str]:
    """The hidden fields of the decision form of conviction ``cnt`` on a person page."""
    panel = page[page.index(f'id="review-{cnt}"') :]
    panel = panel[: panel.index("</form>")]
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', panel))


def decide(client: TestClient, run_id: int, form: dict, decision: str, note: str, **headers):
    data = {**form, "decision": decision, "note": note}
    return client.post(f"/runs/{run_id}/reviews/decide", data=data, headers=headers)


@pytest.fixture(scope="module")
def second_attorney(finished):  # noqa: F811
    client, _ = finished
    with client.app.state.web.sessions() as db:
        accounts.create_user(db, "atty2", "attorney", PASSWORD)
        db.commit()
    return "atty2"


def verify(home: Path):
    return CliRunner().invoke(cli_app, ["audit", "verify", "--data-dir", str(home)])


# Nothing rewrites an entry


def test_replace_insert_or_replace_and_upsert_cannot_rewrite_a_decision(finished):  # noqa: F811
    """The issue's reproduction: not_eligible turned into dismiss by REPLACE INTO."""
    client, run_id = finished
    sign_in(client, "atty")
    subject, cnt = review_rows(client, run_id)[0]
    form = panel_form(client.get(f"/runs/{run_id}/people/{subject}").text, cnt)
    note = "prior conviction for sale, HS 11360"
    assert decide(client, run_id, form, "not_eligible", note).status_code == 303
    entry = entries(client, action="review_decided", subject_id=subject, cnt_order=cnt)[-1]
    values = (
        f"VALUES ({entry.id}, '2026-01-01 00:00:00', {entry.user_id}, 'atty', 'attorney', "
        f"'review_decided', {run_id}, '{subject}', '{cnt}', 'review', 'dismiss', 'forged', "
    )
    connection = sqlite3.connect(database(client))  # recursive_triggers off, as by hand
    assert connection.execute("PRAGMA recursive_triggers").fetchone() == (0,)
    for statement in (
        FORGED + values + "NULL, 'a', 'b')",
        FORGED.replace("REPLACE", "INSERT OR REPLACE") + values + "NULL, 'a', 'b')",
        # A new id, but the replaced entry's unique keys: REPLACE would delete it.
        FORGED + values.replace(f"({entry.id},", "(999999,") + f"'{entry.request_key}', 'c', 'd')",
        FORGED + values.replace(f"({entry.id},", "(999999,") + f"NULL, '{entry.prev_hash}', 'd')",
        FORGED.replace("REPLACE", "INSERT") + values + "NULL, 'a', 'b') "
        "ON CONFLICT(id) DO UPDATE SET decision = 'dismiss'",
        "INSERT INTO audit_log (username, role, action, note) VALUES ('x', 'x', 'x', 'unhashed')",
        "REPLACE INTO security_log (id, at, event, note) "
        "SELECT id, at, 'sign_in_succeeded', 'forged' FROM security_log LIMIT 1",
    ):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            connection.execute(statement)
    connection.close()
    again = entries(client, id=entry.id)[0]
    assert (again.decision, again.note) == ("not_eligible", note)
    page = client.get(f"/runs/{run_id}/people/{subject}").text
    assert "not eligible</span>" in page and "forged" not in page
    assert verify(client.app.state.web.settings.data_dir).exit_code == 0


# The chain


def test_audit_verify_names_the_first_entry_changed_by_hand(tmp_path):
    home = tmp_path / "home"
    app = make_app(home, run_worker=False)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        token = sign_in(client, "root")
        for _ in range(3):
            start_run(client, token)  # three run_created entries (the worker is off)
    result = verify(home)
    assert result.exit_code == 0, result.output
    assert re.fullmatch(r"audit log intact: \d+ entries, the last #\d+, head [0-9a-f]{64}\n",
                        result.output)  # fmt: skip

    connection = sqlite3.connect(home / "clearance.db")
    ids = [row[0] for row in connection.execute("SELECT id FROM audit_log ORDER BY id")]
    for (name,) in connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'"
    ).fetchall():
        connection.execute(f"DROP TRIGGER {name}")  # what only a person with the file can do
    connection.execute(f"UPDATE audit_log SET note = 'rewritten' WHERE id = {ids[1]}")
    connection.commit()
    result = verify(home)
    assert result.exit_code == 2
    assert result.output == (
        f"clearance: audit log broken at entry {ids[1]}: its content does not match its hash "
        "(it was changed after it was written)\n"
    )
    # Computing the rewritten entry's hash again breaks the link of the entry after it.
    connection.row_factory = sqlite3.Row
    row = dict(connection.execute(f"SELECT * FROM audit_log WHERE id = {ids[1]}").fetchone())
    row["at"] = dt.datetime.fromisoformat(row["at"])
    digest = entry_digest(row, row["prev_hash"])
    connection.execute(f"UPDATE audit_log SET entry_hash = '{digest}' WHERE id = {ids[1]}")
    connection.commit()
    assert f"broken at entry {ids[2]}: it does not follow" in verify(home).output
    connection.close()


def test_audit_verify_notices_an_entry_removed_from_the_middle_or_the_end(tmp_path):
    home = tmp_path / "home"
    app = make_app(home, run_worker=False)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        token = sign_in(client, "root")
        for _ in range(4):
            start_run(client, token)
    connection = sqlite3.connect(home / "clearance.db")
    connection.execute("DROP TRIGGER audit_log_no_delete")
    ids = [row[0] for row in connection.execute("SELECT id FROM audit_log ORDER BY id")]
    connection.execute(f"DELETE FROM audit_log WHERE id = {ids[-1]}")
    connection.commit()
    result = verify(home)
    assert result.exit_code == 2
    assert f"broken at entry {ids[-1]}: the log ends at entry {ids[-2]}" in result.output
    connection.execute(f"DELETE FROM audit_log WHERE id = {ids[1]}")
    connection.commit()
    assert f"broken at entry {ids[2]}: it does not follow" in verify(home).output
    connection.close()


def test_audit_verify_without_a_database_is_one_line(tmp_path):
    result = verify(tmp_path / "nothing")
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "no database" in result.output


def test_the_app_warns_admins_and_attorneys_when_the_chain_is_broken(tmp_path):
    home = tmp_path / "home"
    app = make_app(home, run_worker=False)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        token = sign_in(client, "root")
        start_run(client, token)
        assert "fails its check" not in client.get("/audit").text
        connection = sqlite3.connect(home / "clearance.db")
        connection.execute("DROP TRIGGER audit_log_no_update")
        connection.execute("UPDATE audit_log SET note = 'rewritten' WHERE action = 'run_created'")
        connection.commit()
        connection.close()
        page = client.get("/audit").text  # the audit page checks the entries it shows
        assert "The audit log fails its check" in page
        assert "its content does not match its hash" in page
        sign_in(client, "atty")
        assert "The audit log fails its check" in client.get("/runs").text
        sign_in(client, "ana")
        assert "The audit log fails its check" not in client.get("/runs").text
    # A new start checks the whole chain.
    app = create_app(Settings(data_dir=home, run_worker=False))
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        sign_in(client, "root")
        assert "The audit log fails its check" in client.get("/runs").text


def test_an_audit_log_made_before_the_chain_is_chained_once(tmp_path):
    """A database of the previous version: entries without hashes, UPDATE refused."""
    path = tmp_path / "clearance.db"
    connection = sqlite3.connect(path)
    connection.executescript(
        """
        CREATE TABLE audit_log (id INTEGER PRIMARY KEY, at DATETIME, user_id INTEGER,
          username VARCHAR(64), role VARCHAR(16), action VARCHAR(32), run_id INTEGER,
          subject_id VARCHAR(64), cnt_order VARCHAR(32), engine_determination VARCHAR(16),
          decision VARCHAR(16), note TEXT);
        INSERT INTO audit_log VALUES (1, '2026-01-02 10:00:00.000000', NULL, 'maria',
          'admin', 'user_created', NULL, NULL, NULL, NULL, NULL, 'added joe');
        INSERT INTO audit_log VALUES (2, '2026-01-02 11:00:00.000000', NULL, 'joe',
          'attorney', 'review_decided', 7, '123', '2', 'review', 'dismiss', 'ok');
        CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
          BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
        """
    )
    connection.close()
    engine = make_engine(f"sqlite:///{path}")
    with session_factory(engine)() as db:
        from clearance.web.audit import verify as check

        result = check(db)
        assert result.whole and result.entries == 2
        first, second = db.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        assert second.prev_hash == first.entry_hash and second.note == "ok"
        db.add(AuditEntry(username="x", role="attorney", action="review_opened", note="n"))
        db.commit()
        assert check(db).whole and check(db).entries == 3
    engine.dispose()
    # Opened again: nothing is chained twice, and UPDATE is refused again.
    engine = make_engine(f"sqlite:///{path}")
    with session_factory(engine)() as db:
        assert check(db).whole
    engine.dispose()
    connection = sqlite3.connect(path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        connection.execute("UPDATE audit_log SET note = 'x' WHERE id = 1")
    connection.close()


# What is read is logged


def test_person_views_and_downloads_are_in_the_audit_log(finished):  # noqa: F811
    client, run_id = finished
    sign_in(client, "ana")
    subject, _ = review_rows(client, run_id)[0]
    before = entries(client)[-1].id
    assert client.get(f"/runs/{run_id}/people/{subject}").status_code == 200
    assert client.get(f"/runs/{run_id}/download/determinations.csv").status_code == 200
    new = [e for e in entries(client) if e.id > before]
    assert [(e.action, e.username, e.role, e.run_id) for e in new] == [
        ("person_viewed", "ana", "analyst", run_id),
        ("downloaded", "ana", "analyst", run_id),
    ]
    assert (new[0].subject_id, new[0].note) == (subject, "")
    assert (new[1].subject_id, new[1].note) == (None, "determinations.csv")
    audit = client.get(f"/audit?run={run_id}").text
    assert "person viewed" in audit and "determinations.csv" in audit


# Decisions: once, and never silently overwritten


def test_a_decision_form_posted_twice_is_recorded_once(finished):  # noqa: F811
    client, run_id = finished
    sign_in(client, "atty")
    subject, cnt = review_rows(client, run_id)[3]
    form = panel_form(client.get(f"/runs/{run_id}/people/{subject}").text, cnt)
    assert len(form["request_key"]) == 32
    note = "court record: HS 11357(c), no priors"
    for _ in range(3):  # the browser retried after a lost answer
        assert decide(client, run_id, form, "reduce", note).status_code == 303
    decided = entries(client, action="review_decided", subject_id=subject, cnt_order=cnt)
    assert [(e.decision, e.note, e.request_key) for e in decided] == [
        ("reduce", note, form["request_key"])
    ]
    # The same token for something else is refused, not recorded.
    response = decide(client, run_id, form, "dismiss", note)
    assert response.status_code == 400 and "already used" in response.text
    # A retry without the token (same attorney, decision and note, moments later): once.
    bare = {k: v for k, v in form.items() if k not in ("request_key", "seen")}
    assert decide(client, run_id, bare, "reduce", note).status_code == 303
    assert len(entries(client, action="review_decided", subject_id=subject, cnt_order=cnt)) == 1


def test_a_decision_made_on_a_stale_page_is_refused_with_the_other_decision(
    finished,  # noqa: F811
    second_attorney,
):
    client, run_id = finished
    subject, cnt = review_rows(client, run_id)[4]
    sign_in(client, "atty")
    stale = panel_form(client.get(f"/runs/{run_id}/people/{subject}").text, cnt)
    token = sign_in(client, second_attorney)
    fresh = panel_form(client.get(f"/runs/{run_id}/people/{subject}").text, cnt)
    assert decide(client, run_id, fresh, "dismiss", "possession only, 2 oz").status_code == 303

    token = sign_in(client, "atty")
    stale["csrf_token"] = token
    response = decide(
        client, run_id, stale, "not_eligible", "prior strike", **{"HX-Request": "true"}
    )
    assert response.status_code == 409
    assert "atty2 recorded a decision on this conviction (dismiss," in response.text
    assert "yours was not recorded" in response.text
    assert "possession only, 2 oz" in response.text  # the other decision, shown
    decided = entries(client, action="review_decided", subject_id=subject, cnt_order=cnt)
    assert [(e.username, e.decision) for e in decided] == [("atty2", "dismiss")]
    # The panel it answered with carries the new state: deciding from it is accepted.
    again = panel_form(response.text, cnt)
    assert again["seen"] == str(decided[-1].id)
    assert decide(client, run_id, again, "not_eligible", "prior strike").status_code == 303


def test_two_attorneys_deciding_one_case_at_the_same_instant(finished, second_attorney):  # noqa: F811
    """Two posts race on one case (threads, one barrier): one is recorded, the other
    is told (409), however the server interleaves them."""
    client, run_id = finished
    app = client.app
    for round_ in range(3):
        subject, cnt = review_rows(client, run_id)[0]  # the decided ones leave the list
        clients, forms = [], []
        for name in ("atty", second_attorney):
            other = TestClient(app, base_url="https://testserver", follow_redirects=False)
            sign_in(other, name)
            forms.append(panel_form(other.get(f"/runs/{run_id}/people/{subject}").text, cnt))
            clients.append(other)
        barrier = threading.Barrier(2)
        statuses: list[int] = []

        def post(other, form, decision, barrier=barrier, statuses=statuses) -> None:
            barrier.wait()
            response = decide(other, run_id, form, decision, f"{decision} on review")
            statuses.append(response.status_code)

        threads = [
            threading.Thread(target=post, args=(clients[0], forms[0], "dismiss")),
            threading.Thread(target=post, args=(clients[1], forms[1], "not_eligible")),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert sorted(statuses) == [303, 409], round_
        decided = entries(client, action="review_decided", subject_id=subject, cnt_order=cnt)
        assert len(decided) == 1
    assert verify(app.state.web.settings.data_dir).exit_code == 0


def test_review_decision_results_person_and_download_handlers_run_off_the_event_loop():
    """They are plain functions: FastAPI runs them in its thread pool, so a decision
    waiting for the audit log's lock, or a Parquet read, never stops the server."""
    routes = [r for r in results_routes.router.routes if isinstance(r, APIRoute)]
    assert {r.path for r in routes} >= {
        "/runs/{run_id}/reviews/decide",
        "/runs/{run_id}/reviews/open",
        "/runs/{run_id}/results",
        "/runs/{run_id}/people/{subject_id}",
        "/runs/{run_id}/download/{name}",
    }
    assert [r.path for r in routes if inspect.iscoroutinefunction(r.endpoint)] == []


# Pages read only what they show


def test_a_person_page_reads_only_that_persons_rows(finished, monkeypatch):  # noqa: F811
    """No whole-file read of the run's Parquet files: each is scanned with the person's
    filter pushed down (a whole history.parquet was read for every person page)."""
    client, run_id = finished
    sign_in(client, "ana")
    subject, _ = review_rows(client, run_id)[0]

    def whole_file(*_args, **_kwargs):
        raise AssertionError("a whole Parquet file was read for one person")

    monkeypatch.setattr(pl, "read_parquet", whole_file)
    page = client.get(f"/runs/{run_id}/people/{subject}")
    assert page.status_code == 200 and "conviction-" in page.text


def test_a_results_page_reads_the_review_state_of_its_own_people_only(finished, monkeypatch):  # noqa: F811
    client, run_id = finished
    sign_in(client, "ana")
    asked: list = []
    real = reviews_module.review_frame

    def spy(session, run, subjects=None):
        asked.append(None if subjects is None else list(subjects))
        return real(session, run, subjects)

    monkeypatch.setattr(reviews_module, "review_frame", spy)
    page = client.get(f"/runs/{run_id}/results?page=1").text
    shown = set(re.findall(r"/people/(\d+)(?:\?[^\"#]*)?#", page))
    assert len(asked) == 1 and asked[0] is not None
    assert set(asked[0]) == shown and len(shown) <= 50
    # A filter on the decision needs every reviewed conviction of the run.
    asked.clear()
    client.get(f"/runs/{run_id}/results?review=pending")
    assert asked == [None]


def test_two_people_opening_one_conviction_at_once_open_it_once(finished, monkeypatch):  # noqa: F811
    """Both read "not open" before either writes (the read is slowed to make sure):
    the check made again under the audit log's lock lets one through."""
    client, run_id = finished
    slow_read = results_module.conviction

    def conviction(*args):
        time.sleep(0.3)
        return slow_read(*args)

    monkeypatch.setattr(results_module, "conviction", conviction)
    sign_in(client, "ana")
    output = client.app.state.web.settings.runs_dir / str(run_id) / "output"
    engine = pl.read_parquet(output / "determinations.parquet")
    row = engine.filter(pl.col("determination") == "dismiss").row(-1, named=True)
    subject, cnt = row["subject_id"], row["cnt_order"]
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def post(name: str) -> None:
        other = TestClient(client.app, base_url="https://testserver", follow_redirects=False)
        token = sign_in(other, name)
        data = {"subject_id": subject, "cnt_order": cnt, "note": f"{name}: check the priors"}
        barrier.wait()
        response = other.post(f"/runs/{run_id}/reviews/open", data={**data, "csrf_token": token})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=post, args=(name,)) for name in ("ana", "atty")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(statuses) == [303, 400]
    assert len(entries(client, action="review_opened", subject_id=subject, cnt_order=cnt)) == 1
