"""Every page of the web app, audited for accessibility by axe-core in a real browser,
and checked to fit a phone (375 px wide) without sideways scrolling.

One server, one browser: the setup page while no account exists; then an admin runs
the bundled sample under Prop 64 and an extract under ca-auto-relief, and every page
an admin, an attorney and a signed-out visitor reach is audited: sign-in, runs, new
run (with files chosen), run, results, review queue (as admin and as attorney, with its
bulk decision form), person, worklist, audit log,
users, security, office, the upload deletion page, a deleted run and an error page.

axe-core (vendored by axe-playwright-python) checks WCAG 2.1 A and AA and its best
practices; no rule is disabled. Every page is audited at 375 px, and the pages whose
layout changes most with the width (new run, run, results, worklist, office, person)
at 1280 px too. A page passes when axe finds no violation and, at 375 px, the page
itself does not scroll sideways (a wide table scrolls in its own box). Playwright
drives Debian's /usr/bin/chromium, as tests/test_web_browser.py does.
"""

from __future__ import annotations

import re
import threading
import time

import pytest
import uvicorn
from argon2 import PasswordHasher

from clearance.sample import SAMPLE_COUNTY
from clearance.web import accounts
from clearance.web.app import create_app
from clearance.web.db import Run
from clearance.web.settings import Settings
from conftest import header
from test_auto_relief import PEOPLE
from test_web_browser import ARGS, CHROMIUM, PASSWORD, free_port, sign_in

pytest.importorskip("axe_playwright_python", reason="axe-playwright-python is not installed")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's Chromium is not installed at /usr/bin/chromium (apt-get install chromium)",
)
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def bare_server(tmp_path, monkeypatch):
    """The app under uvicorn with no account yet (the setup page is reachable)."""
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024))
    app = create_app(Settings(data_dir=tmp_path / "home"))
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not uv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", app
    uv.should_exit = True
    thread.join(10)


class Auditor:
    """Runs axe on the page shown, and measures it at phone width; keeps the failures."""

    def __init__(self, page) -> None:
        from axe_playwright_python.sync_playwright import Axe

        self.page, self.axe, self.failures, self.seen = page, Axe(), [], []

    def check(self, name: str) -> None:
        found = self.axe.run(self.page, options={"runOnly": {"type": "tag", "values": TAGS}})
        for violation in found.response["violations"]:
            targets = [" ".join(map(str, n["target"])) for n in violation["nodes"][:3]]
            self.failures.append(f"{name}: {violation['id']} ({violation['help']}) at {targets}")

    def __call__(self, name: str, wide: bool = False) -> None:
        """Audit the page at phone width (and, with ``wide``, at desktop width too: the
        pages whose layout differs most; axe takes a second or two a pass)."""
        page = self.page
        page.wait_for_load_state("networkidle")
        self.seen.append(name)
        if wide:
            self.check(name)
        page.set_viewport_size(PHONE)
        try:
            width = page.evaluate(
                "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
            )
            if width[0] > width[1]:
                self.failures.append(f"{name}: scrolls sideways at 375 px ({width[0]} px wide)")
            self.check(f"{name} at 375 px")
        finally:
            page.set_viewport_size(DESKTOP)


def start_run(page, base: str, law: str, as_of: str) -> str:
    """Start a run from the new-run form with the files ticked; wait until it is done."""
    page.locator("select[name=law]").select_option(law)
    page.wait_for_load_state("networkidle")
    page.locator("input[name=as_of]").fill(as_of)
    page.get_by_role("button", name="Start the run").click()
    page.wait_for_url(re.compile(r".*/runs/\d+$"))
    page.get_by_text("finished").first.wait_for(timeout=60_000)
    return page.url


def test_every_page_passes_axe_and_fits_a_phone(bare_server, tmp_path):
    from playwright.sync_api import sync_playwright

    base, app = bare_server
    extract = tmp_path / "auto.dat"
    extract.write_text(header() + "\n" + "\n".join(PEOPLE) + "\n", "utf-8")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_context(viewport=DESKTOP).new_page()
        page.set_default_timeout(20_000)
        audit = Auditor(page)

        page.goto(f"{base}/setup")
        audit("setup")
        with app.state.web.sessions() as db:
            for name, role in (("root", "admin"), ("atty", "attorney")):
                accounts.create_user(db, name, role, PASSWORD)
            db.commit()
        page.goto(f"{base}/login")
        audit("sign-in")
        sign_in(page, base, "root")
        audit("runs, none yet")

        page.goto(f"{base}/runs/new?sample=on")
        page.locator("select[name=county]").select_option(SAMPLE_COUNTY)
        audit("new run", wide=True)
        prop64 = start_run(page, base, "prop64", "2020-07-01")
        audit("run", wide=True)
        page.get_by_role("button", name="Make the filings (zip)").click()
        page.get_by_role("link", name=re.compile(r"Court filings.*zip")).wait_for(timeout=60_000)
        audit("run, filings made")

        page.goto(f"{base}/runs/new")
        page.locator("input[name=files]").set_input_files(str(extract))
        page.get_by_role("button", name="Upload").click()
        page.wait_for_url(re.compile(r".*/runs/new\?upload=\d+$"))
        audit("new run, an upload chosen")
        upload_id = page.url.rsplit("=", 1)[1]
        auto = start_run(page, base, "ca-auto-relief", "2026-07-01")
        audit("run, automatic relief")
        page.goto(f"{auto}/worklist")
        audit("worklist", wide=True)
        page.goto(f"{auto}/results")
        audit("results, automatic relief")

        page.goto(f"{prop64}/results")
        audit("results", wide=True)
        page.goto(f"{prop64}/results?review=pending")
        audit("review queue")
        subject = page.locator("#results-table tbody a").first.get_attribute("href")
        page.goto(f"{base}{subject}")
        audit("person, admin")
        page.goto(f"{base}/uploads/{upload_id}/delete")
        audit("upload deletion")
        page.goto(f"{base}/audit")
        audit("audit log")
        for path, name in (("users", "users"), ("security", "security"), ("office", "office")):
            page.goto(f"{base}/admin/{path}")
            audit(name)
        page.get_by_role("button", name="Check and save").click()  # required fields empty
        page.wait_for_load_state("networkidle")
        audit("office, refused", wide=True)
        page.goto(f"{base}/runs/99999")
        audit("error page")

        with app.state.web.sessions() as db:  # a deleted run's page
            deleted = int(auto.rsplit("/", 1)[1])
        page.goto(auto)
        page.get_by_text("Delete this run").click()
        page.get_by_label("Reason").fill("audit test")
        page.get_by_label("to confirm").fill(str(deleted))
        page.get_by_role("button", name=f"Delete run {deleted}").click()
        page.wait_for_url(re.compile(r".*/runs$"))
        audit("runs")
        page.goto(auto)
        audit("deleted run")
        with app.state.web.sessions() as db:
            assert db.get(Run, deleted).state == "deleted"

        page.get_by_role("button", name="Sign out").click()
        sign_in(page, base, "atty")
        page.goto(f"{base}{subject}")
        audit("person, attorney", wide=True)
        page.goto(f"{prop64}/results?review=pending")  # with the bulk decision form
        audit("review queue, attorney", wide=True)
        browser.close()
    assert len(audit.seen) >= 20
    assert not audit.failures, "\n".join(audit.failures)
