"""The web app's rough edges, smoothed: times in the app's zone, today as the form's
as-of date, county counts that say when they come from the first 8 MB only, and the
office form that names every wrong field (docs/web.md)."""

from __future__ import annotations

import datetime as dt
import gzip
import re
from types import SimpleNamespace

import pytest
import yaml
from fastapi.testclient import TestClient

from clearance.sample import sample_path
from clearance.web import office_form
from clearance.web.reviews import DecisionConflict
from clearance.web.settings import (
    TIMEZONE_ENV,
    Settings,
    SettingsError,
    from_environment,
    local_time,
    time_zone,
)
from clearance.web.uploads import HEAD_BYTES
from test_web_api import make_app, sign_in, upload

NOON_UTC = dt.datetime(2026, 12, 2, 12, 0)


def test_times_are_shown_in_the_configured_zone_and_a_wrong_zone_is_refused(monkeypatch):
    zone = time_zone("America/Los_Angeles")
    assert local_time(NOON_UTC, zone) == "2026-12-02 04:00 PST"
    assert local_time(dt.datetime(2026, 7, 1, 12, 0), zone) == "2026-07-01 05:00 PDT"
    monkeypatch.setenv(TIMEZONE_ENV, "Mars/Olympus")
    with pytest.raises(SettingsError, match="CLEARANCE_TIMEZONE='Mars/Olympus' is not a time"):
        from_environment("/tmp/unused")
    monkeypatch.setenv(TIMEZONE_ENV, "Pacific/Auckland")
    assert from_environment("/tmp/unused").timezone == "Pacific/Auckland"
    monkeypatch.delenv(TIMEZONE_ENV)
    monkeypatch.setenv("TZ", "Asia/Tokyo")  # unset: the machine's own zone
    assert local_time(NOON_UTC, time_zone()) == "2026-12-02 21:00 JST"


def test_the_new_run_form_starts_at_today_in_the_apps_zone(tmp_path):
    # 23:30 UTC on 1 December is already 2 December in Auckland.
    late = dt.datetime(2026, 12, 1, 23, 30)
    app = make_app(
        tmp_path / "home", run_worker=False, timezone="Pacific/Auckland", clock=lambda: late
    )
    assert app.state.web.settings.today() == dt.date(2026, 12, 2)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        sign_in(client, "ana")
        page = client.get("/runs/new").text
        assert re.search(r'name="as_of"[^>]* value="2026-12-02"', page)
        sample = client.get("/runs/new?sample=on").text  # the demo keeps its date
        assert re.search(r'name="as_of"[^>]* value="2020-07-01"', sample)
        sign_in(client, "root")
        client.get("/admin/users")  # an account change is logged with the time...
        audit = client.get("/audit").text
        assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d NZDT", audit)  # ...shown in NZ time


def test_county_counts_from_the_first_8_mb_say_so(tmp_path):
    app = make_app(tmp_path / "home", run_worker=False, max_upload_bytes=64 * 1024 * 1024)
    lines = sample_path().read_bytes().splitlines(keepends=True)
    header, body = lines[0], lines[1:]
    big = header + b"".join(body * (HEAD_BYTES // len(b"".join(body)) + 2))
    assert len(big) > HEAD_BYTES
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        token = sign_in(client, "ana")
        whole = upload(client, token, [("small.dat", sample_path().read_bytes())])
        page = client.get(whole.headers["location"]).text
        assert re.search(r">SACRAMENTO — \d+ cannabis convictions, [\d,]+ events</option>", page)
        assert "— at least" not in page and "county-hint" not in page
        partial = upload(client, token, [("big.dat.gz", gzip.compress(big))])
        page = client.get(partial.headers["location"]).text
        option = re.search(r">(SACRAMENTO — [^<]*)</option>", page)[1]
        assert option.startswith("SACRAMENTO — at least ") and option.endswith("first 8 MB")
        assert "counted in the first 8 MB of\n  big.dat.gz" in page
        assert 'aria-describedby="county-hint"' in page


def test_the_office_form_names_every_wrong_field_in_the_validators_words():
    values = {f.key: "" for f in office_form.FIELDS} | {
        "office.name": "Office of the District Attorney, County of Example",
        "office.address": "1 Example Plaza\n\nExample City, CA 90000",
        "office.phone": "(555) 010-0100",
        "attorney.name": "Jordan R. Sample",
        "attorney.title": "x" * 201,
        "attorney.bar_number": "12345678",
        "courts.split_by_courthouse": True,
        "courts.names": "CAMC EXAMPLE CITY = Example City Courthouse",
    }
    data, errors = office_form.mapping_from_values(values)
    assert errors == {}
    assert data["office"]["address"] == ["1 Example Plaza", "Example City, CA 90000"]
    assert data["courts"] == {"names": {"CAMC EXAMPLE CITY": "Example City Courthouse"}}
    assert office_form.field_errors(data) == {
        "attorney.title": "is longer than 200 characters",
        "attorney.bar_number": "must be the State Bar number, 1 to 7 digits",
    }
    _, errors = office_form.mapping_from_values(values | {"courts.names": "no equals sign"})
    assert errors == {
        "courts.names": "line 1: write it as the court in the data = the courthouse's name"
    }
    fixed = values | {"attorney.title": "Deputy District Attorney", "attorney.bar_number": "9"}
    data, _ = office_form.mapping_from_values(fixed)
    assert office_form.field_errors(data) == {}
    text = office_form.to_yaml(data)
    assert office_form.values_from_mapping(yaml.safe_load(text)) == fixed | {
        "office.address": "1 Example Plaza\nExample City, CA 90000"  # the empty line dropped
    }


def test_settings_default_to_the_machines_zone(tmp_path):
    assert Settings(data_dir=tmp_path).timezone == ""


def test_a_decision_conflict_gives_the_other_decisions_time_in_the_apps_zone():
    other = SimpleNamespace(at=NOON_UTC, username="atty2", decision="not_eligible")
    message = str(DecisionConflict(other, time_zone("America/Los_Angeles")))
    assert "atty2 recorded a decision on this conviction (not eligible, 2026-12-02 04:00 PST)" in (
        message
    )
