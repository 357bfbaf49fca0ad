"""The whole journey in a real browser: Debian's Chromium, driven by Playwright.

An analyst signs in, uploads the bundled sample extract, starts a run and watches it
finish, opens a person from the review queue; an attorney signs in, decides that
review with a note, and downloads the reviewed determinations, which carry the
decision; an admin deletes the run, giving a reason, and it cannot be opened again.
Every page is screenshotted (into tmp_path and tests/artifacts/), and the browser is
checked to have asked nothing of any host but the app's.

Playwright never downloads a browser here: it launches /usr/bin/chromium (the Debian
package, which .ci/run installs).
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import socket
import threading
import time
import zipfile
from pathlib import Path

import pytest
import uvicorn
from argon2 import PasswordHasher

from clearance.sample import SAMPLE_COUNTY, sample_path
from clearance.web import accounts
from clearance.web.app import create_app
from clearance.web.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts" / "web"
PASSWORD = "correct horse battery"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's Chromium is not installed at /usr/bin/chromium (apt-get install chromium)",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path, monkeypatch):
    """The app under uvicorn on a free loopback port, in a thread, with two accounts."""
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024))
    app = create_app(Settings(data_dir=tmp_path / "home"))
    with app.state.web.sessions() as db:
        accounts.create_user(db, "ana", "analyst", PASSWORD)
        accounts.create_user(db, "atty", "attorney", PASSWORD)
        accounts.create_user(db, "root", "admin", PASSWORD)
        db.commit()
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not uv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(10)


class Shots:
    """Numbered screenshots, saved under tmp_path and copied to tests/artifacts/web."""

    def __init__(self, page, folder: Path, artifacts: Path = ARTIFACTS) -> None:
        self.page, self.folder, self.n, self.artifacts = page, folder, 0, artifacts
        folder.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(artifacts, ignore_errors=True)
        artifacts.mkdir(parents=True)

    def __call__(self, name: str) -> None:
        self.n += 1
        path = self.folder / f"{self.n:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        shutil.copyfile(path, self.artifacts / path.name)


def sign_in(page, base: str, name: str) -> None:
    page.goto(f"{base}/")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/runs$"))


def test_sign_in_upload_run_review_and_download(server, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    base = server
    requested: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = browser.new_context(
            accept_downloads=True, viewport={"width": 1280, "height": 900}
        )
        page = context.new_page()
        page.on("request", lambda request: requested.append(request.url))
        page.set_default_timeout(15_000)
        shot = Shots(page, tmp_path / "screenshots")

        # An analyst signs in.
        page.goto(f"{base}/")
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        shot("sign-in")
        sign_in(page, base, "ana")
        expect(page.locator(".who")).to_contain_text("ana analyst")

        # ... uploads the sample extract; its county is offered from the file.
        page.get_by_role("link", name="New run").first.click()
        page.locator("input[name=files]").set_input_files(str(sample_path()))
        page.get_by_role("button", name="Upload").click()
        page.wait_for_url(re.compile(r".*/runs/new\?upload=\d+$"))
        expect(page.get_by_role("checkbox", name="sample.dat")).to_be_checked()
        county = page.locator("select[name=county]")
        expect(county).to_have_value(SAMPLE_COUNTY)
        shot("uploaded")

        # ... runs it with the statute preset as of AB 1793's deadline.
        page.get_by_label("As of").fill("2020-07-01")
        page.get_by_role("button", name="Start the run").click()
        page.wait_for_url(re.compile(r".*/runs/\d+$"))
        run_url = page.url
        shot("started")
        expect(page.locator(".state-done")).to_be_visible(timeout=45_000)  # polled by HTMX
        expect(page.locator(".figure-review .n")).to_have_text("8")
        shot("finished")

        # ... opens a person from the review queue: only an attorney may decide.
        page.get_by_role("link", name=re.compile("Review queue")).click()
        expect(page.get_by_text("8 convictions")).to_be_visible()
        shot("review-queue")
        page.locator("#results-table tbody tr a").first.click()
        expect(page.get_by_role("heading", name="History")).to_be_visible()
        expect(page.get_by_text("An attorney decides this conviction.").first).to_be_visible()
        person_url = page.url
        shot("person-as-analyst")
        page.get_by_role("button", name="Sign out").click()

        # An attorney signs in, and decides the review with a note.
        sign_in(page, base, "atty")
        page.goto(person_url)
        panel = page.locator(".review-panel").filter(has=page.locator("form.decide")).first
        panel.get_by_label("dismiss").check()
        note = "Court file confirms HS 11357(b): under 28.5 g"
        panel.get_by_label("Note (required: why)").fill(note)
        panel.get_by_role("button", name="Record the decision").click()  # HTMX swaps the panel
        decided = page.locator(".review-panel .decided").first
        expect(decided).to_contain_text("dismiss")
        expect(decided).to_contain_text("by atty")
        expect(decided).to_contain_text(note)
        shot("decided")

        # ... reads the impact report of the reviewed run inline, and downloads the
        # reviewed determinations, which carry the decision.
        page.goto(run_url)
        expect(page.locator(".figure-review .n")).to_have_text("7")
        report = page.frame_locator("iframe.report-frame")
        page.locator("iframe.report-frame").scroll_into_view_if_needed()
        expect(report.locator("h1")).to_contain_text("Proposition 64 relief", timeout=30_000)
        shot("run-with-report")
        with page.expect_download() as download:
            page.get_by_role("link", name="Determinations (CSV)").click()
        saved = tmp_path / download.value.suggested_filename
        download.value.save_as(saved)
        with saved.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        reviewed = [r for r in rows if r["review_decision"]]
        assert len(rows) == 409 and len(reviewed) == 1
        assert reviewed[0]["determination"] == "dismiss"
        assert reviewed[0]["reason"] == "reviewed"
        assert (reviewed[0]["reviewed_by"], reviewed[0]["review_note"]) == ("atty", note)

        page.get_by_role("link", name="Audit log").first.click()
        expect(page.get_by_text(note)).to_be_visible()
        shot("audit-log")
        page.get_by_role("button", name="Sign out").click()

        # An admin deletes the run, with a reason and its number typed to confirm.
        sign_in(page, base, "root")
        page.goto(run_url)
        run_id = run_url.rsplit("/", 1)[1]
        page.get_by_text("Delete this run").click()
        reason = "Test of the sample extract; not a real county run"
        page.get_by_label("Reason (required: why is it deleted?)").fill(reason)
        page.get_by_label(re.compile("to confirm")).fill(run_id)
        page.get_by_role("button", name=f"Delete run {run_id}").click()
        page.wait_for_url(re.compile(r".*/runs$"))
        expect(page.locator(".state-deleted")).to_have_text("deleted")
        shot("deleted")
        page.goto(run_url)  # the tombstone: who, when, why; the files are gone
        expect(page.get_by_role("heading", name=f"Run {run_id}: deleted")).to_be_visible()
        expect(page.get_by_text(reason)).to_be_visible()
        shot("tombstone")
        browser.close()

    # Nothing was asked of any other host: every asset came from the app.
    assert requested and all(url.startswith(base + "/") for url in requested), {
        url for url in requested if not url.startswith(base + "/")
    }
    assert len(list((tmp_path / "screenshots").glob("*.png"))) == 11


def test_a_run_of_automatic_relief_its_worklist_an_objection_and_the_filings(server, tmp_path):
    """An analyst runs ca-auto-relief on a small extract (test_auto_relief's people, their
    outcomes worked out by hand there); an attorney marks an objection on the worklist,
    with the grounds, and downloads the filings: a petition for that conviction only."""
    from playwright.sync_api import expect, sync_playwright

    from conftest import header
    from test_auto_relief import PEOPLE

    base = server
    extract = tmp_path / "sacramento.dat"
    extract.write_text(header() + "\n" + "\n".join(PEOPLE) + "\n", encoding="utf-8")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = browser.new_context(
            accept_downloads=True, viewport={"width": 1280, "height": 900}
        )
        page = context.new_page()
        page.set_default_timeout(15_000)
        shot = Shots(page, tmp_path / "screenshots", ARTIFACTS.with_name("web-auto-relief"))

        sign_in(page, base, "ana")
        page.get_by_role("link", name="New run").first.click()
        page.locator("input[name=files]").set_input_files(str(extract))
        page.get_by_role("button", name="Upload").click()
        page.wait_for_url(re.compile(r".*/runs/new\?upload=\d+$"))
        expect(page.locator("select[name=county]")).to_have_value("SACRAMENTO")
        # Choosing the pack swaps in its policy: its preset and its settings.
        page.get_by_label("Law (the rule pack)").select_option("ca-auto-relief")
        expect(page.locator("#policy > legend")).to_contain_text(re.compile("automatic", re.I))
        preset = page.get_by_label("Preset", exact=True)
        expect(preset).to_contain_text("Statute (PC 1203.425, 851.93)")
        page.get_by_text("Edit the custom policy").click()
        expect(page.locator("input[name=felony_path_from]")).to_have_value("2024-10-01")
        shot("pack-chosen")
        page.get_by_label("As of").fill("2026-07-01")
        page.get_by_role("button", name="Start the run").click()
        page.wait_for_url(re.compile(r".*/runs/\d+$"))
        run_url = page.url
        expect(page.locator(".state-done")).to_be_visible(timeout=45_000)
        expect(page.locator(".figure-relief .n")).to_have_text("3")
        expect(page.locator(".figure-upcoming .n")).to_have_text("3")
        shot("finished")
        page.get_by_role("button", name="Sign out").click()

        # An attorney opens the worklist and marks 400's conviction, with the grounds.
        sign_in(page, base, "atty")
        page.goto(run_url)
        page.get_by_role("link", name="Worklist: objections").click()
        row = page.locator("#row-400-001001001000")
        expect(row).to_contain_text("passed")
        expect(page.locator("#row-500-001001001000")).to_be_visible()
        shot("worklist")
        grounds = "Threats against the victim after the sentence ended"
        row.get_by_label(re.compile("Grounds")).fill(grounds)
        row.get_by_role("button", name="Object to relief").click()
        expect(row).to_contain_text("Objected")
        expect(row).to_contain_text(grounds)
        expect(page.locator("#late-marks")).to_contain_text("1 marked conviction")
        shot("objected")

        # The filings are made in the background; the link appears when they are ready.
        page.get_by_role("button", name="Make the filings (zip)").click()
        made = page.get_by_role("link", name=re.compile("Petitions to prohibit relief"))
        made.wait_for(timeout=60_000)
        with page.expect_download() as download:
            made.click()
        saved = tmp_path / download.value.suggested_filename
        download.value.save_as(saved)
        names = zipfile.ZipFile(io.BytesIO(saved.read_bytes())).namelist()
        petitions = sorted(n.rsplit("/", 1)[1] for n in names if "petition-" in n)
        assert petitions == ["petition-400-001001001000.docx", "petition-400-001001001000.pdf"]

        page.get_by_role("link", name="Audit log").first.click()
        expect(page.get_by_text(grounds)).to_be_visible()
        shot("audit-log")
        browser.close()
