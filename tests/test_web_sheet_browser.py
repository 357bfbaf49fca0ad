"""One person's rap sheet in a real browser (Debian's Chromium, Playwright): an
analyst uploads a synthetic person's printed rap sheet, watches it decided, and reads
the person's page: every pack's decisions and the petitions open."""

from __future__ import annotations

import re

import polars as pl

from clearance.sheet.render import render_person
from clearance.synth import generate
from sheet_support import staged
from test_web_browser import ARGS, ARTIFACTS, CHROMIUM, Shots, pytestmark, server, sign_in  # noqa: F401


def test_an_analyst_uploads_a_rap_sheet_and_reads_the_persons_page(server, tmp_path):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    generate(tmp_path / "x.dat", subjects=40, county="SACRAMENTO", seed=19)
    rows = staged(tmp_path / "x.dat", tmp_path / "work")
    person = rows.filter(pl.col("subject_id") == rows["subject_id"][0])
    sheet = tmp_path / "rap-sheet.txt"
    sheet.write_text(render_person(person))
    requested: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.on("request", lambda request: requested.append(request.url))
        page.set_default_timeout(15_000)
        shot = Shots(page, tmp_path / "screenshots", ARTIFACTS.parent / "web-sheet")
        sign_in(page, server, "ana")
        page.get_by_role("link", name="Rap sheets").click()
        page.get_by_label("As of").fill("2026-07-01")
        page.get_by_label(re.compile("The rap sheet")).set_input_files(str(sheet))
        shot("upload")
        page.get_by_role("button", name="Upload and decide").click()
        page.wait_for_url(re.compile(r".*/sheets/\d+$"))
        expect(page.locator(".state-done")).to_be_visible(timeout=60_000)  # polled by HTMX
        cii = person["cii_number"][0]
        expect(page.get_by_role("heading", name=re.compile(f"CII {cii}"))).to_be_visible()
        expect(page.get_by_role("heading", name="Petitions open")).to_be_visible()
        expect(page.get_by_text("HS 11361.8 (Prop 64)").first).to_be_visible()
        shot("persons-page")
        # One run a pack and county (the counties of the sheet's courts), each reviewed
        # on its run's person page.
        reviews = page.get_by_role("link", name="Review", exact=True)
        assert reviews.count() >= 2
        reviews.first.click()
        expect(page.get_by_role("heading", name="History")).to_be_visible()
        shot("review")
        browser.close()
    assert all(url.startswith(server) for url in requested), "asked another host"
