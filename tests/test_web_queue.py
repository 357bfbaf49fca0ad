"""The review queue through HTTP (FastAPI's TestClient): what an attorney and an analyst
rely on when a county has thousands of cases.

Every filter and sort of the table (checked against the run's own Parquet file), the
forgiving name search, "decide and go to the next case", bulk decisions (one audit
entry per case, all or none), and the export of any view as CSV and Excel, safe to open
in a spreadsheet and logged as a download. A synthetic extract (clearance.synth, a
fixed seed) run under a policy that sends misdemeanors to review gives the queue its
cases; two hand-written people give the search and the spreadsheet a name to find.
"""

from __future__ import annotations

import csv
import html
import io
import random
import re
import unicodedata
import zipfile
from urllib.parse import urlencode

import fastexcel
import polars as pl
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from clearance.synth import generate
from clearance.web import results
from clearance.web.db import AuditEntry
from conftest import line
from test_web_api import csrf_of, make_app, quick_hashes, sign_in, upload, wait_for  # noqa: F401
from test_web_auto_relief import auto_run  # noqa: F401

AS_OF = "2020-07-01"
FLORES = "99000001"
FORMULA = "99000002"
EXTRA = (
    "\n".join(
        [
            line(SUBJECT_ID=FLORES, CII_NUMBER="A99000001", PRI_NAME="FLORES,JOSE", OFN="20F1"),
            line(
                SUBJECT_ID=FORMULA, CII_NUMBER="A99000002", PRI_NAME="=HYPERLINK(1),X", OFN="20F2"
            ),
        ]
    )
    + "\n"
)


def start(client: TestClient, token: str, files: list[tuple[str, bytes]], **fields) -> int:
    """Upload ``files`` and run them all; the finished run's id."""
    response = upload(client, token, files)
    assert response.status_code == 303, response.text
    ids = re.findall(r'name="upload" value="(\d+)"', client.get("/runs/new").text)
    data = {"csrf_token": token, "upload": ids, "county": "SACRAMENTO", "policy_mode": "preset",
            "as_of": AS_OF, **fields}  # fmt: skip
    response = client.post("/runs", data=data)
    assert response.status_code == 303, response.text
    run_id = int(response.headers["location"].rsplit("/", 1)[1])
    run = wait_for(client, run_id)
    assert run.state == "done", run.error
    return run_id


@pytest.fixture(scope="module")
def queue(tmp_path_factory):
    """A finished Prop 64 run with about 60 cases waiting for review."""
    folder = tmp_path_factory.mktemp("web-queue")
    generate(folder / "synth.dat", subjects=80, seed=18)
    app = make_app(folder / "home")
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        token = sign_in(client, "ana")
        files = [("synth.dat", (folder / "synth.dat").read_bytes()), ("extra.dat", EXTRA.encode())]
        run_id = start(client, token, files, preset="los-angeles-2020")
        yield client, run_id


def engine(client: TestClient, run_id: int) -> pl.DataFrame:
    path = client.app.state.web.settings.runs_dir / str(run_id) / "output"
    return pl.read_parquet(path / "determinations.parquet")


def shown_cases(page: str) -> list[tuple[str, str]]:
    """The cases of a table page, in order (subject id, count), from its links."""
    return re.findall(r'href="/runs/\d+/people/(\d+)\?[^"]*cnt=(\d+)#', page)


def total(page: str) -> int:
    return int(re.search(r"([\d,]+) (?:conviction|record)s?\b", page)[1].replace(",", ""))


def all_cases(client: TestClient, run_id: int, params: dict) -> list[tuple[str, str]]:
    """Every case of a view, page after page."""
    cases, number = [], 1
    while True:
        page = client.get(f"/runs/{run_id}/results?{urlencode({**params, 'page': number})}")
        assert page.status_code == 200, page.text
        found = shown_cases(page.text)
        cases += found
        if len(cases) >= total(page.text) or not found:
            return cases
        number += 1


def decision_entries(client: TestClient, run_id: int, **where) -> list[AuditEntry]:
    with client.app.state.web.sessions() as db:
        query = select(AuditEntry).where(AuditEntry.run_id == run_id)
        for column, value in where.items():
            query = query.where(getattr(AuditEntry, column) == value)
        return list(db.scalars(query.order_by(AuditEntry.id)))


def current(client: TestClient, run_id: int) -> pl.DataFrame:
    """The run's rows with the decisions made so far (the latest on each case) applied."""
    latest = {(e.subject_id, e.cnt_order): e.decision for e in
              decision_entries(client, run_id, action="review_decided")}  # fmt: skip
    rows = engine(client, run_id)
    return rows.with_columns(
        determination=pl.Series(
            [latest.get(k, d) for k, d in zip(keys(rows), rows["determination"], strict=True)]
        )
    )


def keys(frame: pl.DataFrame) -> list[tuple[str, str]]:
    return list(zip(frame["subject_id"], frame["cnt_order"], strict=True))


@pytest.mark.parametrize("column", ["determination", "reason", "section", "court"])
def test_each_filter_shows_exactly_the_matching_cases(queue, column):
    client, run_id = queue
    sign_in(client, "ana")
    rows = current(client, run_id)
    value = rows[column].drop_nulls().mode().sort()[0]  # the most common value
    expected = rows.filter(pl.col(column) == value)
    assert 0 < expected.height < rows.height
    assert all_cases(client, run_id, {column: value}) == keys(expected)


def test_the_review_filters_pending_decided_and_who_opened(queue):
    client, run_id = queue
    token = sign_in(client, "ana")
    rows = engine(client, run_id)
    # ana opens an engine-decided conviction for review; the engine opened the rest.
    dismissed = rows.filter(pl.col("determination") == "dismiss").row(0, named=True)
    response = client.post(
        f"/runs/{run_id}/reviews/open",
        data={"csrf_token": token, "subject_id": dismissed["subject_id"],
              "cnt_order": dismissed["cnt_order"], "note": "check the priors"},
    )  # fmt: skip
    assert response.status_code == 303, response.text
    page = client.get(f"/runs/{run_id}/results?opened_by=ana")
    assert shown_cases(page.text) == [(dismissed["subject_id"], dismissed["cnt_order"])]
    assert '<option value="ana" selected>ana</option>' in page.text
    engine_sent = keys(rows.filter(pl.col("determination") == "review"))
    assert all_cases(client, run_id, {"opened_by": "engine"}) == engine_sent
    pending = all_cases(client, run_id, {"review": "pending"})
    opened = (dismissed["subject_id"], dismissed["cnt_order"])
    decided = {(e.subject_id, e.cnt_order) for e in
               decision_entries(client, run_id, action="review_decided")}  # fmt: skip
    assert sorted(pending) == sorted({*engine_sent, opened} - decided)
    # A decision moves a case from pending to decided.
    token = sign_in(client, "atty")
    subject, cnt = engine_sent[-1]
    response = client.post(
        f"/runs/{run_id}/reviews/decide",
        data={"csrf_token": token, "subject_id": subject, "cnt_order": cnt,
              "decision": "not_eligible", "note": "filter test"},
    )  # fmt: skip
    assert response.status_code == 303, response.text
    assert (subject, cnt) not in all_cases(client, run_id, {"review": "pending"})
    assert (subject, cnt) in all_cases(client, run_id, {"review": "decided"})
    decided = client.get(f"/runs/{run_id}/results?review=decided&determination=not_eligible")
    assert (subject, cnt) in shown_cases(decided.text) and "reviewed by atty" in decided.text


@pytest.mark.parametrize(
    "sort", ["name", "-name", "conviction_date", "-court", "section", "-reason"]
)
def test_sorting_by_a_column_orders_the_whole_view_not_just_a_page(queue, sort):
    client, run_id = queue
    sign_in(client, "ana")
    column, descending = sort.removeprefix("-"), sort.startswith("-")
    expected = engine(client, run_id).sort(
        column, descending=descending, nulls_last=True, maintain_order=True
    )
    first = client.get(f"/runs/{run_id}/results?sort={sort}")
    assert shown_cases(first.text) == keys(expected.head(50))
    direction = "descending" if descending else "ascending"
    assert re.search(rf'<th scope="col" aria-sort="{direction}"><a class="sort" ', first.text)
    second = client.get(f"/runs/{run_id}/results?sort={sort}&page=2")
    assert shown_cases(second.text) == keys(expected.slice(50, 50))
    # The heading's link turns the order around.
    turned = "-" + sort if not descending else column
    assert f"sort={turned}".replace(",", "%2C") in html.unescape(first.text)


def test_sorting_by_the_reviewed_determination_and_a_bad_sort(queue):
    client, run_id = queue
    sign_in(client, "ana")
    cases = all_cases(client, run_id, {"sort": "determination", "review": "pending"})
    page = client.get(f"/runs/{run_id}/results?sort=determination")
    labels = re.findall(r'<span class="det det-(\w+)">', page.text)
    assert labels == sorted(labels) and cases
    bad = client.get(f"/runs/{run_id}/results?sort=dob")
    assert bad.status_code == 400 and "cannot sort by 'dob'" in bad.text
    assert client.get(f"/runs/{run_id}/results?review=maybe").status_code == 400


@pytest.mark.parametrize("text", ["Jose Flores", "flores jose", "FLORES, JOSÉ", "flores,jose",
                                  "  josé   FLORES "])  # fmt: skip
def test_a_name_is_found_in_any_order_case_comma_or_accent(queue, text):
    client, run_id = queue
    sign_in(client, "ana")
    page = client.get(f"/runs/{run_id}/results", params={"q": text})
    assert [s for s, _ in shown_cases(page.text)] == [FLORES]
    assert "FLORES,JOSE" in page.text


def test_a_search_still_finds_ids_and_nothing_that_does_not_match(queue):
    client, run_id = queue
    sign_in(client, "ana")
    for text in (FLORES, "A99000001", "20F1"):
        page = client.get(f"/runs/{run_id}/results", params={"q": text})
        assert [s for s, _ in shown_cases(page.text)] == [FLORES], text
    nobody = client.get(f"/runs/{run_id}/results", params={"q": "Maria Flores"})
    assert shown_cases(nobody.text) == [] and total(nobody.text) == 0


WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyzáéíóúñüç", min_size=2, max_size=8)


@pytest.fixture(scope="module")
def names_file(tmp_path_factory):
    """A determinations file of three people, the first named by each example."""

    def write(name: str):
        path = tmp_path_factory.mktemp("names") / "determinations.parquet"
        names = [name, "SMITH,JOHN", "ZZTOP,QQQ"]
        pl.DataFrame(
            {c: [f"{c}-{i}" for i in range(3)] for c in (*results.SHOWN, "cii_number")}
            | {"name": names}
        ).write_parquet(path)
        return path

    return write


@settings(max_examples=40, deadline=None)
@given(words=st.lists(WORD, min_size=2, max_size=3, unique=True), seed=st.integers(0, 99),
       upper=st.booleans(), comma=st.booleans(), accents=st.booleans())  # fmt: skip
def test_any_order_case_comma_or_accent_finds_the_name(names_file, words, seed, upper, comma,
                                                       accents):  # fmt: skip
    """The DOJ writes LAST,FIRST MIDDLE in capitals; a search of the same words in any
    order, either case, with or without commas and accents finds it."""
    recorded = (words[0] + "," + " ".join(words[1:])).upper()
    path = names_file(recorded)
    typed = list(words)
    random.Random(seed).shuffle(typed)
    text = (", " if comma else " ").join(typed)
    text = text.upper() if upper else text
    if not accents:
        text = "".join(
            c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)
        )
    found = results.page(path, results.empty_reviews(), results.Query(q=text))
    assert [r["name"] for r in found.rows] == [recorded]


def decide_form(page: str, cnt: str) -> dict:
    """The fields of the decision form of one conviction on a person's page."""
    panel = re.search(rf'id="review-{cnt}".*?</form>', page, re.S)[0]
    fields = re.findall(
        r'name="(subject_id|cnt_order|seen|request_key|queue)" value="([^"]*)"', panel
    )
    return {k: html.unescape(v) for k, v in fields}


def test_decide_and_go_to_the_next_case_in_the_view_s_order(queue):
    client, run_id = queue
    token = sign_in(client, "atty")
    view = {"review": "pending", "sort": "-name"}
    order = all_cases(client, run_id, view)
    assert len(order) > 3
    first = client.get(f"/runs/{run_id}/results?{urlencode(view)}")
    link = html.unescape(re.search(r'href="(/runs/\d+/people/[^"]+)"', first.text)[1])
    person = client.get(link)
    assert person.status_code == 200 and f"case 1 of {len(order)}" in person.text
    assert (
        "Record and go to the next case" in person.text and 'aria-keyshortcuts="1"' in person.text
    )
    for n in range(3):  # three cases, one after the other
        subject, cnt = order[n]
        assert f"/people/{subject}?" in link and f"cnt={cnt}" in link
        fields = decide_form(person.text, cnt)
        response = client.post(
            f"/runs/{run_id}/reviews/decide",
            data={**fields, "csrf_token": token, "decision": "dismiss", "note": f"next {n}",
                  "then": "next"},
        )  # fmt: skip
        assert response.status_code == 303, response.text
        link = response.headers["location"]
        # The next case is the one after it in the view as it was (the decided one left it).
        assert f"/people/{order[n + 1][0]}?" in link and f"cnt={order[n + 1][1]}" in link
        person = client.get(link)
        assert f"case 1 of {len(order) - n - 1}" in person.text
    # Through HTMX the answer is a redirect header for the browser.
    subject, cnt = order[3]
    response = client.post(
        f"/runs/{run_id}/reviews/decide",
        data={**decide_form(person.text, cnt), "csrf_token": token, "decision": "reduce",
              "note": "by htmx", "then": "next"},
        headers={"HX-Request": "true"},
    )  # fmt: skip
    assert response.status_code == 200 and f"cnt={order[4][1]}" in response.headers["HX-Redirect"]
    assert len(decision_entries(client, run_id, action="review_decided", note="by htmx")) == 1


def test_the_last_case_leads_back_to_the_view_and_an_error_keeps_the_queue(queue):
    client, run_id = queue
    token = sign_in(client, "atty")
    view = {"review": "pending", "sort": "subject_id"}
    subject, cnt = all_cases(client, run_id, view)[-1]
    url = f"/runs/{run_id}/people/{subject}?" + urlencode({"queue": urlencode(view), "cnt": cnt})
    person = client.get(url)
    assert "the last case of this view" in person.text
    fields = decide_form(person.text, cnt)
    missing_note = client.post(
        f"/runs/{run_id}/reviews/decide",
        data={**fields, "csrf_token": token, "decision": "dismiss", "note": " ", "then": "next"},
    )
    assert missing_note.status_code == 400 and "a note is required" in missing_note.text
    assert 'name="queue"' in missing_note.text  # the queue is still there to go on with
    response = client.post(
        f"/runs/{run_id}/reviews/decide",
        data={**fields, "csrf_token": token, "decision": "dismiss", "note": "last", "then": "next"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/runs/{run_id}/results?{urlencode(view)}&end=1"
    assert "the last case of this view" in client.get(response.headers["location"]).text


def test_a_bulk_decision_records_one_audit_entry_per_case(queue):
    client, run_id = queue
    token = sign_in(client, "atty")
    view = {"review": "pending", "sort": "name"}
    page = client.get(f"/runs/{run_id}/results?{urlencode(view)}").text
    boxes = [html.unescape(b) for b in re.findall(r'name="case" value="([^"]+)"', page)]
    assert len(boxes) >= 8 and 'id="select-all"' in page
    chosen = boxes[:7]
    key = csrf_of(page)[:32]
    data = {"csrf_token": token, "decision": "reduce", "note": "bulk: one note for all",
            "case": chosen, "queue": urlencode(view), "request_key": key}  # fmt: skip
    before = {tuple(b.split("/")[:2]) for b in chosen}
    response = client.post(f"/runs/{run_id}/reviews/bulk", data=data)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"/runs/{run_id}/results?{urlencode(view)}&recorded=7"
    assert "7 decisions recorded" in client.get(response.headers["location"]).text
    entries = decision_entries(
        client, run_id, action="review_decided", note="bulk: one note for all"
    )
    assert sorted((e.subject_id, e.cnt_order) for e in entries) == sorted(before)
    assert {(e.decision, e.username) for e in entries} == {("reduce", "atty")}
    # The same form posted again records nothing new.
    again = client.post(f"/runs/{run_id}/reviews/bulk", data=data)
    assert again.status_code == 303
    assert len(decision_entries(client, run_id, action="review_decided",
                                note="bulk: one note for all")) == 7  # fmt: skip
    pending = all_cases(client, run_id, view)
    assert not before & set(pending)


def test_a_bulk_decision_is_all_or_none_and_for_attorneys_only(queue):
    client, run_id = queue
    token = sign_in(client, "atty")
    view = {"review": "pending"}
    page = client.get(f"/runs/{run_id}/results?{urlencode(view)}").text
    boxes = [html.unescape(b) for b in re.findall(r'name="case" value="([^"]+)"', page)][:3]
    rows = engine(client, run_id)
    not_open = rows.filter(pl.col("determination") == "dismiss").row(-1, named=True)
    bad = f"{not_open['subject_id']}/{not_open['cnt_order']}/0"
    data = {"csrf_token": token, "decision": "dismiss", "note": "all or none",
            "case": [*boxes, bad], "queue": urlencode(view)}  # fmt: skip
    response = client.post(f"/runs/{run_id}/reviews/bulk", data=data)
    assert response.status_code == 400
    assert "nothing was recorded: case 4 of 4" in response.text
    assert "open this conviction for review before deciding it" in response.text
    assert response.text.count(" checked ") + response.text.count(" checked aria") >= 3
    assert decision_entries(client, run_id, note="all or none") == []
    # Nothing ticked, no note: a clear message, nothing recorded.
    assert "select the cases" in client.post(
        f"/runs/{run_id}/reviews/bulk", data={**data, "case": []}).text  # fmt: skip
    assert "a note is required" in client.post(
        f"/runs/{run_id}/reviews/bulk", data={**data, "note": ""}).text  # fmt: skip
    # An analyst sees no bulk form and cannot post one.
    token = sign_in(client, "ana")
    assert 'name="case"' not in client.get(f"/runs/{run_id}/results?{urlencode(view)}").text
    response = client.post(f"/runs/{run_id}/reviews/bulk", data={**data, "csrf_token": token,
                                                                 "case": boxes})  # fmt: skip
    assert response.status_code == 403
    assert decision_entries(client, run_id, note="all or none") == []


def test_a_bulk_decision_refuses_a_case_decided_since_the_page_was_shown(queue):
    client, run_id = queue
    token = sign_in(client, "atty")
    page = client.get(f"/runs/{run_id}/results?review=pending").text
    box = html.unescape(re.findall(r'name="case" value="([^"]+)"', page)[0])
    subject, cnt, _ = box.split("/")
    response = client.post(
        f"/runs/{run_id}/reviews/decide",
        data={"csrf_token": token, "subject_id": subject, "cnt_order": cnt,
              "decision": "dismiss", "note": "first"},
    )  # fmt: skip
    assert response.status_code == 303
    response = client.post(
        f"/runs/{run_id}/reviews/bulk",
        data={"csrf_token": token, "decision": "reduce", "note": "stale", "case": [box]},
    )
    assert response.status_code == 409 and "after this page was shown" in response.text
    assert decision_entries(client, run_id, note="stale") == []


def test_a_view_downloads_as_csv_and_excel_safe_and_logged(queue):
    client, run_id = queue
    sign_in(client, "ana")
    view = {"opened_by": "engine", "sort": "-name", "q": "x"}
    expected = all_cases(client, run_id, view)
    assert (FORMULA, "001001001000") in expected
    answer = client.get(f"/runs/{run_id}/results.csv?{urlencode(view)}")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert f"run-{run_id}-view.csv" in answer.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [(r["subject_id"], r["cnt_order"]) for r in rows] == expected
    assert {r["review"] for r in rows} <= {"waiting for a decision", "decided"}
    assert {r["opened_by"] for r in rows} == {"engine"}
    formula = next(r for r in rows if r["subject_id"] == FORMULA)
    assert formula["name"] == "'=HYPERLINK(1),X"  # never run as a formula
    assert not any(v[:1] in "=+-@" for r in rows for v in r.values() if v)
    book = client.get(f"/runs/{run_id}/results.xlsx?{urlencode(view)}")
    assert book.status_code == 200
    sheet = fastexcel.read_excel(book.content).load_sheet(0).to_polars()
    # Headers and determinations in words (the Columns sheet names each column).
    assert {"Subject ID", "Count (DOJ order)", "Determination", "Reviewed by"} <= set(sheet.columns)
    assert set(sheet["Determination"]) <= {"Dismissed", "Reduced to a misdemeanor", "Not eligible",
                                          "For review by a person"}  # fmt: skip
    sheet = sheet.rename({"Subject ID": "subject_id", "Count (DOJ order)": "cnt_order"})
    assert keys(sheet) == expected
    assert sheet.filter(pl.col("subject_id") == FORMULA)["Name"][0] == "=HYPERLINK(1),X"
    with zipfile.ZipFile(io.BytesIO(book.content)) as archive:
        xml = archive.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in xml  # text, never a formula
    logged = decision_entries(client, run_id, action="downloaded", username="ana")[-2:]
    assert [e.note.split(":")[0] for e in logged] == ["results.csv", "results.xlsx"]
    assert logged[0].note == (
        f"results.csv: {len(expected)} rows (opened_by=engine, sort=-name; searched)"
    )  # the search text (it may be a name) is not written to the log
    # The temporary file is gone once sent.
    folder = client.app.state.web.settings.runs_dir / str(run_id)
    assert not list(folder.glob(".view-*"))


def test_the_queue_of_an_automatic_relief_run(auto_run):  # noqa: F811
    client, run_id, _ = auto_run
    sign_in(client, "ana")
    rows = engine(client, run_id)
    for column in ("kind", "eligible_on", "-objection_deadline"):
        name = column.removeprefix("-")
        expected = rows.sort(name, descending=column.startswith("-"), nulls_last=True,
                             maintain_order=True)  # fmt: skip
        page = client.get(f"/runs/{run_id}/results?sort={column}")
        assert page.status_code == 200 and shown_cases(page.text) == keys(expected.head(50))
    arrests = client.get(f"/runs/{run_id}/results.csv?kind=arrest")
    exported = list(csv.DictReader(io.StringIO(arrests.text)))
    assert exported and {r["kind"] for r in exported} == {"arrest"}
    assert len(exported) == rows.filter(pl.col("kind") == "arrest").height
    review = rows.filter(pl.col("determination") == "review")
    pending = all_cases(client, run_id, {"review": "pending", "opened_by": "engine"})
    assert pending == keys(review)


def test_next_case_and_bulk_on_an_automatic_relief_run(auto_run):  # noqa: F811
    client, run_id, _ = auto_run
    token = sign_in(client, "atty")
    rows = engine(client, run_id)
    # Open three engine-decided records for review, so the queue has cases to work through.
    for row in rows.filter(pl.col("determination") != "review").head(3).iter_rows(named=True):
        response = client.post(
            f"/runs/{run_id}/reviews/open",
            data={"csrf_token": token, "subject_id": row["subject_id"],
                  "cnt_order": row["cnt_order"], "note": "queue test"},
        )  # fmt: skip
        assert response.status_code == 303, response.text
    view = {"review": "pending", "sort": "-subject_id"}
    order = all_cases(client, run_id, view)
    assert len(order) >= 3
    subject, cnt = order[0]
    url = f"/runs/{run_id}/people/{subject}?" + urlencode({"queue": urlencode(view), "cnt": cnt})
    person = client.get(url)
    assert "Record and go to the next case" in person.text and ">relief" in person.text
    response = client.post(
        f"/runs/{run_id}/reviews/decide",
        data={**decide_form(person.text, cnt), "csrf_token": token, "decision": "relief",
              "note": "auto next", "then": "next"},
    )  # fmt: skip
    assert response.status_code == 303 and f"/people/{order[1][0]}?" in response.headers["location"]
    page = client.get(f"/runs/{run_id}/results?{urlencode(view)}").text
    boxes = [html.unescape(b) for b in re.findall(r'name="case" value="([^"]+)"', page)]
    assert len(boxes) == len(order) - 1
    response = client.post(
        f"/runs/{run_id}/reviews/bulk",
        data={"csrf_token": token, "decision": "not_eligible", "note": "auto bulk",
              "case": boxes, "queue": urlencode(view)},
    )  # fmt: skip
    assert response.status_code == 303, response.text
    entries = decision_entries(client, run_id, action="review_decided", note="auto bulk")
    assert len(entries) == len(boxes) == len({(e.subject_id, e.cnt_order) for e in entries})
    assert all_cases(client, run_id, view) == []


def test_the_pager_goes_to_the_first_and_the_last_page(queue):
    client, run_id = queue
    sign_in(client, "ana")
    pages = -(-engine(client, run_id).height // 50)
    assert pages >= 3
    first = client.get(f"/runs/{run_id}/results?sort=name").text
    assert f'href="?page={pages}&amp;sort=name"' in first and "last »" in first
    assert "« first" not in first
    last = client.get(f"/runs/{run_id}/results?sort=name&page={pages}").text
    assert re.search(r'href="\?sort=name"[^>]*>« first</a>', last) and "last »" not in last


def test_an_analyst_steps_through_the_view_but_is_offered_no_decision(queue):
    client, run_id = queue
    sign_in(client, "ana")
    view = {"review": "pending", "sort": "name"}
    first = client.get(f"/runs/{run_id}/results?{urlencode(view)}").text
    link = html.unescape(re.search(r'href="(/runs/\d+/people/[^"]+)"', first)[1])
    person = client.get(link).text
    assert 'id="next-case"' in person and "Back to the view" in person
    assert "Record and go to the next case" not in person and "choose a decision" not in person
