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

import contextlib
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import httpx2 as httpx
import pytest
import uvicorn
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from typer.testing import CliRunner

from clearance.cli import app as cli_app
from clearance.sample import sample_path
from clearance.web import accounts, server, throttle
from clearance.web.app import create_app
from clearance.web.db import AuditEntry, SecurityEvent, SessionRow, Upload, User
from clearance.web.server import uvicorn_options
from test_web_api import (
    PASSWORD,
    WRONG,
    Clock,
    csrf_of,
    free_port,
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


def users(app, *args: str, input: str | None = None):
    """`clearance users ...` on the app's data directory and database."""
    settings = app.state.web.settings
    return CliRunner().invoke(
        cli_app,
        ["users", *args, "--data-dir", str(settings.data_dir)],
        input=input,
        env={"CLEARANCE_DATABASE_URL": settings.database_url},
    )


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
    app, _, run_id, case = decided
    with client_for(app) as old:
        token = sign_in(old, "atty")
        result = users(app, "set", "atty", "--password-stdin", input=NEW_PASSWORD + "\n")
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


# Lockout: counted before the password is checked; a grace period after an unlock


def attempt(client, name: str, password: str = WRONG):
    token = csrf_of(client.get("/login").text)
    return client.post("/login", data={"username": name, "password": password, "csrf_token": token})


def events(app) -> list[SecurityEvent]:
    with app.state.web.sessions() as db:
        return list(db.scalars(select(SecurityEvent).order_by(SecurityEvent.id)))


@pytest.fixture
def guarded(tmp_path):
    clock = Clock()
    app = make_app(tmp_path / "home", run_worker=False, clock=clock)
    with client_for(app, client=("10.1.2.3", 40000)) as attacker:
        yield app, attacker, clock


def test_an_unlock_gives_the_name_a_grace_period_locked_only_from_the_failing_address(guarded):
    app, attacker, clock = guarded
    for _ in range(5):
        attempt(attacker, "root")
    assert attempt(attacker, "root", PASSWORD).status_code == 429  # locked for everyone
    result = users(app, "unlock", "root")
    assert result.exit_code == 0, result.output
    # Five more failures lock the name again, but only from the attacker's address.
    for _ in range(4):
        assert attempt(attacker, "root").status_code == 401
    assert attempt(attacker, "root").status_code == 429
    assert attempt(attacker, "root", PASSWORD).status_code == 429
    with client_for(app, client=("10.4.5.6", 40000)) as admin:
        assert attempt(admin, "root", PASSWORD).status_code == 303
        assert "from 10.1.2.3 only" in admin.get("/admin/security").text
        assert "from 10.1.2.3" in admin.get("/admin/users").text
    listed = users(app, "list")
    assert re.search(r"root\s+admin\s+active\s+locked until .* from 10.1.2.3", listed.output)
    locked = [(e.event, e.address) for e in events(app) if e.event.endswith("_locked")]
    assert locked == [("account_locked", "10.1.2.3"), ("account_address_locked", "10.1.2.3")]
    # After the grace period, failures lock the name for every address again.
    clock.advance(minutes=16)
    for _ in range(5):
        attempt(attacker, "root")
    with client_for(app, client=("10.4.5.6", 40000)) as admin:
        assert attempt(admin, "root", PASSWORD).status_code == 429


def test_an_unlock_lifts_the_names_locks_from_every_address(guarded):
    app, attacker, _ = guarded
    for _ in range(5):
        attempt(attacker, "ana")
    with client_for(app, client=("10.4.5.6", 40000)) as admin:
        token = sign_in(admin, "root")
        ana = user_id(app, "ana")
        assert admin.post(f"/admin/users/{ana}/unlock", data={"csrf_token": token}).status_code
        for _ in range(5):
            attempt(attacker, "ana")  # locked from 10.1.2.3 only, in the grace period
        assert attempt(attacker, "ana", PASSWORD).status_code == 429
        token = csrf_of(admin.get("/admin/users").text)
        assert admin.post(f"/admin/users/{ana}/unlock", data={"csrf_token": token}).status_code
    assert attempt(attacker, "ana", PASSWORD).status_code == 303


# Security headers, HSTS and ids beyond the database's integers


def test_hsts_only_over_tls_and_security_headers_on_every_answer(tmp_path):
    app = make_app(tmp_path / "home", run_worker=False)
    with client_for(app) as tls:
        assert tls.get("/login").headers["strict-transport-security"] == "max-age=31536000"
        sign_in(tls, "ana")
        huge = tls.get("/runs/99999999999999999999", headers={"accept": "text/html"})
        assert huge.status_code == 404 and "no such page" in huge.text
        assert huge.headers["content-security-policy"].startswith("default-src 'self'")
        assert huge.headers["strict-transport-security"]
        for path in ("/runs/9223372036854775808/results", "/runs/2147483648/people/1"):
            assert tls.get(path).status_code == 404
        assert tls.get("/runs/2147483647").status_code == 404  # the largest id: no such run
    plain = TestClient(app, base_url="http://testserver", follow_redirects=False)
    response = plain.get("/login")
    assert "strict-transport-security" not in response.headers
    assert response.headers["x-content-type-options"] == "nosniff"


def test_an_internal_error_answers_one_line_with_the_security_headers(tmp_path, monkeypatch):
    app = make_app(tmp_path / "home", run_worker=False)

    def broken(*args, **kwargs):
        raise RuntimeError("DOE,JANE 19700101")  # never shown to the browser

    monkeypatch.setattr(throttle, "reserve", broken)
    with client_for(app, raise_server_exceptions=False) as client:
        response = attempt(client, "ana")
    assert response.status_code == 500
    assert response.text == "internal error (RuntimeError); the server's log has the details"
    assert response.headers["content-security-policy"].startswith("default-src 'self'")
    assert response.headers["strict-transport-security"] == "max-age=31536000"
    assert response.headers["cache-control"] == "no-store"


# A real server on loopback: concurrent sign-ins, the lockout in a burst, proxy headers


@contextlib.contextmanager
def live(app, settings_overrides: dict | None = None):
    """The app served by uvicorn, as `clearance serve` configures it, on a free port."""
    options = uvicorn_options(app.state.web.settings, "127.0.0.1", free_port())
    server = uvicorn.Server(uvicorn.Config(app, **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{options['port']}"
    finally:
        server.should_exit = True
        thread.join(30)


def post_sign_in(base: str, name: str, password: str, **headers: str) -> httpx.Response:
    """One browser's sign-in: the page (its pre-session cookie and token), then the form.
    The cookies are Secure, which httpx keeps to https, so they are sent by hand."""
    with httpx.Client(base_url=base, timeout=120) as browser:
        page = browser.get("/login")
        cookie = re.search(r"clearance_presession=([^;]+)", page.headers["set-cookie"]).group(1)
        sent = {"username": name, "password": password, "csrf_token": csrf_of(page.text)}
        return browser.post(
            "/login", data=sent, headers={"cookie": f"clearance_presession={cookie}", **headers}
        )


class Watching(PasswordHasher):
    """A hasher that records how many verifications run at once, each taking a while."""

    def __init__(self, pause: float = 0.05) -> None:
        super().__init__(time_cost=1, memory_cost=1024)
        self.pause, self.lock = pause, threading.Lock()
        self.running = self.most = self.calls = 0

    def verify(self, hash, password):
        with self.lock:
            self.running += 1
            self.calls += 1
            self.most = max(self.most, self.running)
        try:
            time.sleep(self.pause)
            return super().verify(hash, password)
        finally:
            with self.lock:
                self.running -= 1


def test_thirty_sign_ins_at_once_all_complete_with_the_right_answers(tmp_path, monkeypatch):
    app = make_app(tmp_path / "home", run_worker=False)
    with app.state.web.sessions() as db:
        for i in range(24):
            accounts.create_user(db, f"clerk{i:02d}", "analyst", PASSWORD)
        db.commit()
    watching = Watching()
    monkeypatch.setattr(accounts, "_hasher", watching)
    tries = [(f"clerk{i:02d}", PASSWORD) for i in range(24)]
    tries += [(f"clerk{i:02d}", WRONG) for i in range(24, 27)]  # names no account has
    tries += [(name, WRONG) for name in ("ana", "atty", "root")]
    with live(app) as base, ThreadPoolExecutor(len(tries)) as pool:
        futures = [pool.submit(post_sign_in, base, name, password) for name, password in tries]
        answers = [future.result(timeout=300) for future in futures]  # never hangs forever
        # The server still answers after the burst.
        assert httpx.get(f"{base}/login", timeout=30).status_code == 200
    assert [a.status_code for a in answers] == [303] * 24 + [401] * 6
    assert all("clearance_session=" in a.headers["set-cookie"] for a in answers[:24])
    assert all("wrong user name or password" in a.text for a in answers[24:])
    assert watching.calls == 30
    assert watching.most <= app.state.web.settings.hash_concurrency  # argon2 bounded


def test_a_burst_of_wrong_passwords_is_checked_no_more_times_than_the_limit(tmp_path, monkeypatch):
    """Ten wrong passwords at once, then the right one while they are being checked: five
    are checked, the rest refused, and the right one is refused too (the name is locked)."""
    app = make_app(tmp_path / "home", run_worker=False, hash_concurrency=10)
    release = threading.Event()
    entered: list[str] = []

    class Held(PasswordHasher):
        def verify(self, hash, password):
            if password == WRONG:
                entered.append(password)
                release.wait(60)
            return super().verify(hash, password)

    monkeypatch.setattr(accounts, "_hasher", Held(time_cost=1, memory_cost=1024))
    with live(app) as base, ThreadPoolExecutor(10) as pool:
        wrong = [pool.submit(post_sign_in, base, "root", WRONG) for _ in range(10)]
        deadline = time.monotonic() + 60
        while len(entered) + sum(f.done() for f in wrong) < 10:  # every attempt got its turn
            assert time.monotonic() < deadline, "the attempts did not arrive"
            time.sleep(0.05)
        right = post_sign_in(base, "root", PASSWORD)
        release.set()
        answers = [f.result(timeout=120) for f in wrong]
    assert len(entered) == 5
    assert right.status_code == 429 and "too many failed sign-ins" in right.text
    # The sixth locked the name: the five checked ones, failing after it, say so too.
    assert [a.status_code for a in answers] == [429] * 10
    logged = [e.event for e in events(app) if e.account == "root"]
    assert logged.count("sign_in_started") == 5 and logged.count("sign_in_refused") == 6


def test_x_forwarded_for_is_believed_only_from_a_configured_proxy(tmp_path):
    app = make_app(tmp_path / "home", run_worker=False)
    assert uvicorn_options(app.state.web.settings, "127.0.0.1", 8000)["proxy_headers"] is False
    spoofed = {"x-forwarded-for": "10.9.9.9"}
    with live(app) as base:
        assert post_sign_in(base, "ana", WRONG, **spoofed).status_code == 401
    trusting = create_app(replace(app.state.web.settings, forwarded_allow_ips="127.0.0.1"))
    with live(trusting) as base:
        assert post_sign_in(base, "ana", WRONG, **spoofed).status_code == 401
    failed = [e.address for e in events(app) if e.event == "sign_in_failed"]
    assert failed == ["127.0.0.1", "10.9.9.9"]


def test_serve_takes_the_trusted_proxies_from_the_option_or_the_environment(tmp_path, monkeypatch):
    seen: list[str] = []
    monkeypatch.setattr(server, "serve", lambda settings, *a, **k: seen.append(
        settings.forwarded_allow_ips))  # fmt: skip
    home = str(tmp_path / "home")
    runner = CliRunner()
    assert runner.invoke(cli_app, ["serve", "--data-dir", home]).exit_code == 0
    monkeypatch.setenv("CLEARANCE_FORWARDED_ALLOW_IPS", "10.0.0.2")
    assert runner.invoke(cli_app, ["serve", "--data-dir", home]).exit_code == 0
    option = ["serve", "--data-dir", home, "--forwarded-allow-ips", "127.0.0.1"]
    assert runner.invoke(cli_app, option).exit_code == 0
    assert seen == ["", "10.0.0.2", "127.0.0.1"]


def test_a_sign_in_that_waits_too_long_for_a_password_check_is_asked_to_retry(
    tmp_path, monkeypatch
):
    app = make_app(tmp_path / "home", run_worker=False, hash_concurrency=1, hash_wait_seconds=0.2)
    release, entered = threading.Event(), threading.Event()

    class Held(PasswordHasher):
        def verify(self, hash, password):
            entered.set()
            release.wait(60)
            return super().verify(hash, password)

    monkeypatch.setattr(accounts, "_hasher", Held(time_cost=1, memory_cost=1024))
    with live(app) as base, ThreadPoolExecutor(1) as pool:
        first = pool.submit(post_sign_in, base, "ana", PASSWORD)
        assert entered.wait(60), "the first sign-in was not checked"
        waiting = post_sign_in(base, "atty", PASSWORD)  # its turn does not come in time
        release.set()
        assert first.result(timeout=120).status_code == 303
    assert waiting.status_code == 503
    assert "checking many sign-ins at once; try again in a moment" in waiting.text
    refused = [e for e in events(app) if e.event == "sign_in_refused"]
    assert [e.account for e in refused] == ["atty"]


def signed_in_browser(base: str, name: str) -> tuple[dict[str, str], str]:
    """The session cookie header of a signed-in browser, and its CSRF token."""
    answer = post_sign_in(base, name, PASSWORD)
    assert answer.status_code == 303, answer.text
    cookie = re.search(r"clearance_session=([^;]+)", answer.headers["set-cookie"]).group(1)
    headers = {"cookie": f"clearance_session={cookie}"}
    page = httpx.get(f"{base}/runs/new", headers=headers, timeout=60)
    return headers, csrf_of(page.text)


def upload_sample(base: str, headers: dict[str, str], token: str) -> httpx.Response:
    sample = sample_path().read_bytes()
    return httpx.post(
        f"{base}/uploads",
        data={"csrf_token": token},
        files=[("files", ("county.dat", sample, "application/octet-stream"))],
        headers=headers,
        timeout=120,
    )


def test_uploads_and_sign_ins_at_once_are_all_served(tmp_path, monkeypatch):
    """Three uploads and 27 sign-ins at once: more requests in flight than the old
    connection pool had connections, which froze the server when they were served on
    the event loop."""
    app = make_app(tmp_path / "home", run_worker=False)
    with app.state.web.sessions() as db:
        for i in range(27):
            accounts.create_user(db, f"clerk{i:02d}", "analyst", PASSWORD)
        db.commit()
    monkeypatch.setattr(accounts, "_hasher", Watching())
    with live(app) as base:
        browsers = [signed_in_browser(base, "ana") for _ in range(3)]
        with ThreadPoolExecutor(30) as pool:
            uploads = [pool.submit(upload_sample, base, *browser) for browser in browsers]
            sign_ins = [pool.submit(post_sign_in, base, f"clerk{i:02d}", PASSWORD)
                        for i in range(27)]  # fmt: skip
            answers = [f.result(timeout=300) for f in uploads + sign_ins]
    assert [a.status_code for a in answers] == [303] * 30
    assert all(a.headers["location"].startswith("/runs/new?upload=") for a in answers[:3])
    with app.state.web.sessions() as db:
        assert len(db.scalars(select(Upload)).all()) == 3


def test_a_database_made_before_session_epochs_gains_them_and_keeps_its_sessions(tmp_path):
    app = make_app(tmp_path / "home", run_worker=False)
    with client_for(app) as client:
        sign_in(client, "ana")
        with app.state.web.engine.begin() as connection:  # as the first release made them
            connection.execute(text("ALTER TABLE sessions DROP COLUMN epoch"))
            connection.execute(text("ALTER TABLE users DROP COLUMN session_epoch"))
        again = create_app(app.state.web.settings)
        with client_for(again) as restarted:
            restarted.cookies = client.cookies
            assert restarted.get("/runs").status_code == 200  # still signed in
            reset_atty(again, {"password": NEW_PASSWORD})  # and a reset still ends sessions
