"""Hostile files through the web upload: read as the command line reads them, or refused
with the reader's one line (never a 500), and nothing stored (issue 15)."""

from __future__ import annotations

import gzip
import re

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from clearance.sample import sample_path
from clearance.web import accounts
from conftest import header, line
from test_web_api import make_app, sign_in, stored, upload

SECRET = "ZQXJV"


@pytest.fixture(scope="module", autouse=True)
def quick_hashes():
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024))
        yield


@pytest.fixture
def fresh(tmp_path):
    app = make_app(tmp_path / "home", max_upload_bytes=4 * 1024 * 1024, run_worker=False)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        yield client, tmp_path / "home"


def rows(n: int = 5) -> list[str]:
    return [line(SUBJECT_ID=str(100 + i), PRI_NAME=f"{SECRET},ANN") for i in range(n)]


GOOD = ("\n".join(rows()) + "\n").encode()
CUT = gzip.compress(sample_path().read_bytes()[:2_000_000])


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "header.dat",
            (header().replace("SUBJECT_STATUS", "SUBJECT\rSTATUS") + "\n").encode() + GOOD,
            "header.dat, line 1: the header has an unbalanced or stray quote, "
            "or a carriage return inside it",
        ),
        ("zipped.dat", b"PK\x03\x04" + b"\x00" * 40 + SECRET.encode(), "zipped.dat: a ZIP archive"),
        ("cut.dat.gz", CUT[: len(CUT) // 3], "cut.dat.gz: the gzip-compressed data is damaged"),
        ("packed.dat.bz2", b"BZh9" + GOOD, "packed.dat.bz2: not an extract file"),
    ],
)
def test_a_hostile_file_is_refused_with_one_line_and_nothing_stored(fresh, name, content, message):
    client, home = fresh
    token = sign_in(client, "ana")
    response = upload(client, token, [(name, content)])
    assert response.status_code == 400, response.text
    text = response.text.strip()
    assert message in text and "\n" not in text
    assert SECRET not in text and str(home) not in text
    assert stored(home, client) == ([], 0)


def test_lines_with_a_carriage_return_are_rejected_and_the_rest_uploads(fresh):
    """A CR typed into a name, with and without a stray quote: those lines are rejected
    when the run reads them; the upload is accepted as the command line would read it."""
    client, home = fresh
    lines = rows()
    lines[0] = lines[0].replace(f'"{SECRET},ANN"', f"{SECRET}\rANN")
    lines[-1] = lines[-1].replace(f'"{SECRET},ANN"', f'{SECRET}"\rANN')
    token = sign_in(client, "ana")
    response = upload(client, token, [("county.dat", ("\n".join(lines) + "\n").encode())])
    assert response.status_code == 303, response.text
    files, count = stored(home, client)
    assert count == 1 and [f.name for f in files] == ["county.dat"]


@pytest.mark.parametrize("name", ["county.dat.gz", "county.dat"])
def test_a_gzip_extract_uploads_and_offers_its_counties(fresh, name):
    client, home = fresh
    token = sign_in(client, "ana")
    packed = gzip.compress(sample_path().read_bytes())
    response = upload(client, token, [(name, packed)])
    assert response.status_code == 303, response.text
    files, count = stored(home, client)
    assert count == 1 and files[0].read_bytes() == packed  # stored as sent
    page = client.get(response.headers["location"]).text
    assert re.search(r'<option value="SACRAMENTO"[^>]*>SACRAMENTO — \d+ cannabis', page)
