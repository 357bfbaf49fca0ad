"""The web app takes the run's mailing addresses: an upload on the run page, checked
as `clearance filings --addresses` checks it, and used by the run's filings."""

from __future__ import annotations

import io
import json
import zipfile

import polars as pl
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import select

from clearance.web import accounts
from clearance.web.db import AuditEntry
from test_web_api import make_app, sign_in, start_run, wait_for


@pytest.fixture(scope="module", autouse=True)
def quick_hashes():
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024))
        yield


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    home = tmp_path_factory.mktemp("web") / "home"
    with TestClient(make_app(home), base_url="https://testserver", follow_redirects=False) as c:
        token = sign_in(c, "ana")
        run_id = start_run(c, token)
        assert wait_for(c, run_id).state == "done"
        yield c, run_id


def _filings(client: TestClient, run_id: int) -> zipfile.ZipFile:
    response = client.get(f"/runs/{run_id}/download/filings.zip")
    assert response.status_code == 200, response.text
    return zipfile.ZipFile(io.BytesIO(response.content))


def test_uploaded_addresses_reach_the_letters_of_the_runs_filings(finished):
    client, run_id = finished
    token = sign_in(client, "ana")
    archive = _filings(client, run_id)
    mailing = pl.read_csv(archive.read("filings/letters/mailing-list.csv"), infer_schema=False)
    people = mailing["subject_id"].to_list()
    assert "upload them to print each in the envelope window" in client.get(f"/runs/{run_id}").text

    rows = ["subject_id,address_line_1,city,state,zip"]
    rows += [f"{s},{i + 1} Example Street,Example City,CA,95814" for i, s in enumerate(people[1:])]
    rows.append(f"{people[0]},,Example City,CA,95814")  # a problem: no street
    response = client.post(
        f"/runs/{run_id}/addresses",
        data={"csrf_token": token},
        files={"addresses": ("mine.csv", "\n".join(rows).encode(), "text/csv")},
    )
    assert response.status_code == 303, response.text

    archive = _filings(client, run_id)  # made again: the addresses changed
    manifest = json.loads(archive.read("filings/filings.json"))
    assert manifest["letters"]["addresses"]["without_address"] == 1
    assert manifest["letters"]["addresses"]["rows_with_problems"] == 1
    mailing = pl.read_csv(archive.read("filings/letters/mailing-list.csv"), infer_schema=False)
    first = mailing.filter(pl.col("subject_id") == people[1]).row(0, named=True)
    assert first["address_line_1"] == "1 Example Street"
    letters = PdfReader(io.BytesIO(archive.read("filings/letters/letters-en.pdf")))
    page = letters.pages[int(first["pdf_en_page"]) - 1].extract_text()
    assert "1 Example Street" in page and "Example City, CA 95814" in page
    missing = pl.read_csv(archive.read("filings/letters/no-address.csv"), infer_schema=False)
    assert missing["subject_id"].to_list() == [people[0]]

    page = client.get(f"/runs/{run_id}").text
    assert f"{len(people) - 1} rows used, 1 with a problem" in page
    assert f"1 of {len(people)} letters have no address" in page
    with client.app.state.web.sessions() as db:
        entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "addresses_saved")).one()
        assert entry.run_id == run_id and people[0] not in entry.note


def test_a_file_that_is_not_an_addresses_table_is_refused_with_one_line(finished):
    client, run_id = finished
    token = sign_in(client, "ana")
    response = client.post(
        f"/runs/{run_id}/addresses",
        data={"csrf_token": token},
        files={"addresses": ("x.csv", b"name,city\nZZSECRET,B\n", "text/csv")},
    )
    assert response.status_code == 400
    assert "addresses.csv: line 1: the header must name subject_id or cii_number" in response.text
    assert "ZZSECRET" not in response.text
