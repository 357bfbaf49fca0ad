"""The review queue in a real browser (Debian's Chromium, driven by Playwright).

An analyst runs a synthetic county extract (clearance.synth, a fixed seed) under a
policy that sends misdemeanors to review, so the queue has some 80 cases. An attorney
sorts and filters the queue, works through 50 cases one after the other with "next"
(the keys for some, the buttons for the others; j and k to step), decides 20 more at
once with a bulk decision and one note, and downloads the decided cases of the view as
Excel, read back with fastexcel. The audit log has one decision entry per case.

Skipped, like tests/test_web_browser.py, where /usr/bin/chromium is not installed.
"""

from __future__ import annotations

import re

import fastexcel
import polars as pl
from sqlalchemy import create_engine, text

from clearance.law import load_rulepack
from clearance.synth import generate
from test_web_browser import ARGS, ARTIFACTS, CHROMIUM, Shots, pytestmark, server, sign_in  # noqa: F401

BY_NEXT, IN_BULK = 50, 20


def test_an_attorney_works_through_the_queue(server, tmp_path):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    base = server
    extract = tmp_path / "county.dat"
    generate(extract, subjects=110, seed=18)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = browser.new_context(
            accept_downloads=True, viewport={"width": 1280, "height": 900}
        )
        page = context.new_page()
        page.set_default_timeout(15_000)
        shot = Shots(page, tmp_path / "screenshots", ARTIFACTS.with_name("web-queue"))

        # An analyst runs the extract under a policy that sends misdemeanors to review.
        sign_in(page, base, "ana")
        page.get_by_role("link", name="New run").first.click()
        page.locator("input[name=files]").set_input_files(str(extract))
        page.get_by_role("button", name="Upload").click()
        page.wait_for_url(re.compile(r".*/runs/new\?upload=\d+$"))
        page.get_by_label("Preset", exact=True).select_option("los-angeles-2020")
        page.get_by_label("As of").fill("2020-07-01")
        page.get_by_role("button", name="Start the run").click()
        page.wait_for_url(re.compile(r".*/runs/\d+$"))
        run_url = page.url
        expect(page.locator(".state-done")).to_be_visible(timeout=45_000)
        waiting = int(page.locator(".figure-review .n").inner_text())
        assert waiting >= BY_NEXT + IN_BULK
        page.get_by_role("button", name="Sign out").click()

        # An attorney opens the queue, sorts it by name and keeps the engine's cases.
        sign_in(page, base, "atty")
        page.goto(run_url)
        page.get_by_role("link", name=re.compile("Review queue")).click()
        expect(page.get_by_text(f"{waiting} convictions")).to_be_visible()
        page.locator("thead").get_by_role("link", name="Name").click()
        expect(page.locator('th[aria-sort="ascending"]')).to_contain_text("Name")
        page.get_by_label("Opened by").select_option("engine")  # HTMX swaps the table
        expect(page).to_have_url(re.compile(r"opened_by=engine"))
        names = page.locator("#results-table tbody tr td:nth-child(3)").all_inner_texts()
        assert names == sorted(names) and len(names) == 50
        shot("queue-sorted-filtered")

        # ... and works through 50 cases, one after the other, with "next".
        page.locator("#results-table tbody tr a").first.click()
        seen = []
        for n in range(BY_NEXT):
            expect(page.locator(".queue-nav")).to_contain_text(f"case 1 of {waiting - n}")
            current = page.locator(".review-panel.current")
            seen.append(page.url)
            if n == 1:  # j opens the case after this one, k this one again
                page.keyboard.press("j")
                expect(page.locator(".queue-nav")).to_contain_text(f"case 2 of {waiting - n}")
                page.keyboard.press("k")
                page.wait_for_url(seen[1])
                expect(page.locator(".queue-nav")).to_contain_text(f"case 1 of {waiting - n}")
            note = f"Case {n + 1}: court file read; under 28.5 g"
            if n % 2 == 0:  # the keys: 1 chooses dismiss, Ctrl+Enter records and goes on
                page.keyboard.press("1")
                expect(current.get_by_label("dismiss")).to_be_checked()
                expect(current.get_by_label("Note (required: why)")).to_be_focused()
                page.keyboard.type(note)
                page.keyboard.press("Control+Enter")
            else:
                current.get_by_label("dismiss").check()
                current.get_by_label("Note (required: why)").fill(note)
                current.get_by_role("button", name="Record and go to the next case").click()
            page.wait_for_url(lambda url, before=seen[-1]: url != before)
            if n == 0:
                shot("next-case")
        assert len(set(seen)) == BY_NEXT

        # Back in the queue: 20 more, decided at once with one note.
        page.get_by_role("link", name="← Back to the view").click()
        expect(page.get_by_text(f"{waiting - BY_NEXT} convictions")).to_be_visible()
        page.locator("select[name=review]").select_option("pending")
        expect(page).to_have_url(re.compile(r"review=pending"))
        everyone = page.get_by_label("Tick every case waiting for a decision on this page")
        everyone.check()
        expect(page.locator("input.pick:checked")).to_have_count(min(50, waiting - BY_NEXT))
        everyone.uncheck()
        expect(page.locator("input.pick:checked")).to_have_count(0)
        boxes = page.locator("input.pick.waiting")
        for i in range(IN_BULK):
            boxes.nth(i).check()
        bulk = page.locator("fieldset.bulk-decision")
        bulk.get_by_label("not eligible").check()
        bulk_note = "Bulk: each of these has a felony prior on the court file"
        bulk.get_by_label(re.compile("Note for every ticked case")).fill(bulk_note)
        shot("bulk-ticked")
        bulk.get_by_role("button", name="Decide the ticked cases").click()
        expect(page.get_by_role("status")).to_contain_text(f"{IN_BULK} decisions recorded")
        expect(page.get_by_text(f"{waiting - BY_NEXT - IN_BULK} convictions")).to_be_visible()

        # The decided cases of the view, downloaded as Excel and read back.
        page.locator("select[name=review]").select_option("decided")
        expect(page.get_by_text(f"{BY_NEXT + IN_BULK} convictions")).to_be_visible()
        shot("decided-view")
        with page.expect_download() as download:
            page.get_by_role("link", name="Excel").click()
        saved = tmp_path / download.value.suggested_filename
        download.value.save_as(saved)
        browser.close()

    # The workbook is in words: its Columns sheet pairs each header with the CSV's name.
    book = fastexcel.read_excel(saved.read_bytes())
    columns = book.load_sheet("Columns").to_polars()
    sheet = book.load_sheet(0).to_polars().rename(dict(columns.iter_rows()))
    words = dict(load_rulepack().determination_labels)
    assert sheet.height == BY_NEXT + IN_BULK
    assert sheet["name"].to_list() == sorted(sheet["name"].to_list())
    assert set(sheet["review"]) == {"decided"} and set(sheet["reviewed_by"]) == {"atty"}
    assert set(sheet["opened_by"]) == {"engine"}
    assert set(sheet["engine_determination"]) == {words["review"]}
    counts = dict(sheet.group_by("determination").len().iter_rows())
    assert counts == {words["dismiss"]: BY_NEXT, words["not_eligible"]: IN_BULK}

    # The audit log: one decision entry per case, the bulk ones with the one note.
    database = create_engine(f"sqlite:///{tmp_path / 'home' / 'clearance.db'}")
    with database.connect() as connection:
        entries = pl.DataFrame(
            connection.execute(
                text(
                    "SELECT subject_id, cnt_order, decision, note, username FROM audit_log "
                    "WHERE action = 'review_decided'"
                )
            ).all(),
            schema=["subject_id", "cnt_order", "decision", "note", "username"],
            orient="row",
        )
    assert entries.height == BY_NEXT + IN_BULK
    assert entries.select("subject_id", "cnt_order").n_unique() == entries.height
    assert entries.filter(pl.col("note") == bulk_note).height == IN_BULK
    decided = [words[d] for d in entries.sort("subject_id", "cnt_order")["decision"]]
    assert decided == sheet.sort("subject_id", "cnt_order")["determination"].to_list()
