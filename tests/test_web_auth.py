"""Sessions, sign-in and the server under concurrent use (issue 15, items 4 and 5).

- A new password, a new role or disabling an account ends its sessions: the old
  cookie is sent to the sign-in page and cannot decide a review.
- Lockout is counted atomically: a burst of parallel wrong passwords is tried no more
  times than the limit, and a right password in the burst does not slip past a lock.
- An unlock gives the name a grace period in which only the failing address is locked
  for it, so nobody keeps an admin out with five requests after each unlock.
- X-Forwarded-For is believed only from a configured proxy; HSTS under TLS; security
  headers on every answer, errors included.
- Sign-ins and uploads do their database, argon2 and file work off the event loop:
  30 sign-ins at once against a real server all complete.
"""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from clearance.cli import app as cli_app
from clearance.web import accounts
from clearance.web.db import AuditEntry, SessionRow, User
from test_web_api import (
    PASSWORD,
    csrf_of,
    make_app,
    review_rows,
    sign_in,
    start_run,
    wait_for,
)

NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture(scope="module", autouse=True)
def quick_hashes():
    """Cheaper argon2 parameters (the app's defaults take a third of a second a hash)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024))
        yield


def client_for(app, **kwargs) -> TestClient:
    return TestClient(app, base_url="https://testserver", follow_redirects=False, **kwargs)


@pytest.fixture(scope="module")
def decided(tmp_path_factory):
    """An app with a finished run of the sample, and the conviction an attorney decides."""
    home = tmp_path_factory.mktemp("auth") / "home"
    app = make_app(home)
    with client_for(app) as client:
        token = sign_in(client, "ana")
        run_id = start_run(client, token)
        assert wait_for(client, run_id).state == "done"
        yield app, home, run_id, review_rows(client, run_id)[0]


def user_id(app, name: str) -> int:
    with app.state.web.sessions() as db:
        return accounts.find(db, name).id


def decisions(app) -> int:
    with app.state.web.sessions() as db:
        decided = select(AuditEntry).where(AuditEntry.action == "review_decided")
        return len(db.scalars(decided).all())


def decide(client: TestClient, run_id: int, case: tuple[str, str], token: str):
    subject, cnt = case
    sent = {"subject_id": subject, "cnt_order": cnt, "decision": "dismiss",
            "note": "court file shows HS 11357(b)", "csrf_token": token}  # fmt: skip
    return client.post(f"/runs/{run_id}/reviews/decide", data=sent)


def reset_atty(app, change: dict[str, str]) -> None:
    """An admin, in a browser of their own, changes the attorney's account."""
    with client_for(app) as admin:
        token = sign_in(admin, "root")
        sent = {"csrf_token": token, **change}
        answer = admin.post(f"/admin/users/{user_id(app, 'atty')}", data=sent)
        assert answer.status_code == 303, answer.text
        assert admin.get("/admin/users").status_code == 200  # the admin stays signed in


def restore_atty(app) -> None:
    with app.state.web.sessions() as db:
        user = accounts.find(db, "atty")
        accounts.change_user(db, user, by=None, role="attorney", active=True, password=PASSWORD)
        db.commit()


@pytest.mark.parametrize(
    "change",
    [{"password": NEW_PASSWORD}, {"role": "analyst"}, {"active": "no"}],
    ids=["password", "role", "disabled"],
)
def test_a_new_password_role_or_disabling_ends_the_accounts_sessions(decided, change):
    app, _, run_id, case = decided
    with client_for(app) as old:
        token = sign_in(old, "atty")
        assert old.get("/runs").status_code == 200
        reset_atty(app, change)
        # The old cookie is signed out: a page sends it to sign in, a decision is refused.
        page = old.get("/runs")
        assert page.status_code == 303 and page.headers["location"].startswith("/login")
        before = decisions(app)
        refused = decide(old, run_id, case, token)
        assert refused.status_code == 401 and refused.text == "sign in first"
        assert decisions(app) == before
    with app.state.web.sessions() as db:
        sessions = db.scalars(select(SessionRow).where(SessionRow.user_id == user_id(app, "atty")))
        assert list(sessions) == []
        note = db.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first().note
        assert note.endswith("1 session ended")
    restore_atty(app)


def test_the_new_password_signs_in_and_decides(decided):
    app, _, run_id, case = decided
    with client_for(app) as old:
        sign_in(old, "atty")
        reset_atty(app, {"password": NEW_PASSWORD})
        token = csrf_of(old.get("/login").text)
        sent = {"username": "atty", "password": NEW_PASSWORD, "csrf_token": token}
        assert old.post("/login", data=sent).status_code == 303
        token = csrf_of(old.get("/runs").text)
        before = decisions(app)
        assert decide(old, run_id, case, token).status_code == 303
        assert decisions(app) == before + 1
    restore_atty(app)


def test_a_password_set_from_the_command_line_ends_the_sessions(decided):
    app, home, run_id, case = decided
    with client_for(app) as old:
        token = sign_in(old, "atty")
        result = CliRunner().invoke(
            cli_app,
            ["users", "set", "atty", "--password-stdin", "--data-dir", str(home)],
            input=NEW_PASSWORD + "\n",
        )
        assert result.exit_code == 0, result.output
        assert old.get("/runs").status_code == 303
        before = decisions(app)
        assert decide(old, run_id, case, token).status_code == 401
        assert decisions(app) == before
    restore_atty(app)


def test_an_admin_changing_their_own_password_stays_signed_in_elsewhere_not(decided):
    app, _, _, _ = decided
    with client_for(app) as here, client_for(app) as elsewhere:
        sign_in(elsewhere, "root")
        token = sign_in(here, "root")
        sent = {"csrf_token": token, "password": NEW_PASSWORD}
        assert here.post(f"/admin/users/{user_id(app, 'root')}", data=sent).status_code == 303
        assert here.get("/admin/users").status_code == 200
        assert elsewhere.get("/admin/users").status_code == 303
    with app.state.web.sessions() as db:
        user = accounts.find(db, "root")
        accounts.change_user(db, user, by=None, password=PASSWORD)
        db.commit()


def test_a_session_made_under_an_older_epoch_is_refused(decided):
    """A sign-in that checked the old password just before a reset, and stores its
    session just after, is refused too: the session carries the epoch it was made in."""
    app, _, _, _ = decided
    with client_for(app) as old:
        sign_in(old, "atty")
        with app.state.web.sessions() as db:
            user = db.get(User, user_id(app, "atty"))
            user.session_epoch += 1  # what a reset does, without deleting the session
            db.commit()
        assert old.get("/runs").status_code == 303
