"""Shared test helpers: build extract lines field by field, by DOJ column name; find peer data."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pytest

from clearance.extract.columns import FIELDS

# Peer data (files of earlier tools, ../shared/peers/README.md) lives beside the checkout, not in
# it: CI has it, a fresh clone does not. Tests read it only through the fixtures `peers` and
# `gogen` below, which skip with NO_PEERS as the reason where it is absent.
PEERS = Path(__file__).resolve().parents[2] / "shared" / "peers"
NO_PEERS = "../shared/peers is not beside this checkout (peer data from earlier tools; CI has it)"

DEFAULTS = {
    "SUBJECT_ID": "10000001",
    "CII_NUMBER": "A12345678",
    "PRI_NAME": "DOE,JANE Q",
    "GENDER": "F",
    "PRI_DOB": "19700101",
    "RACE_DESCR": "WHITE",
    "STP_EVENT_DATE": "20100105",
    "STP_TYPE_DESCR": "COURT ACTION",
    "STP_ORI_DESCR": "CASC SACRAMENTO",
    "STP_ORI_CNTY_NAME": "SACRAMENTO",
    "CNT_ORDER": "001001001000",
    "OFN": "10F0001",
    "OFFENSE_DESCR": "11357 HS-POSSESS MARIJUANA",
    "OFFENSE_TOC": "M",
    "DISP_DESCR": "CONVICTED-PROBATION",
    "CONV_STAT_DESCR": "MISDEMEANOR",
}

# A policy in the form gogen writes, the options of its eligibility_options.json, written by the
# tests that need it: a threshold given is a threshold applied (no switches beside them), a relief
# left out is off. Dismiss 11357 and 11358, reduce 11359 and 11360.
GOGEN_OPTIONS = {
    "baselineEligibility": {"dismiss": ["11357", "11358"], "reduce": ["11359", "11360"]},
    "additionalRelief": {
        "subjectUnder21AtConviction": True,
        "subjectAgeThreshold": 57,
        "yearsSinceConvictionThreshold": 10,
        "subjectIsDeceased": True,
        "subjectHasOnlyProp64Charges": True,
    },
}


def line(fields: dict[str, str] | None = None, *, defaults: bool = True, **values: str) -> str:
    """One 95-field extract line (RFC 4180 quoting), by column name."""
    row = dict(DEFAULTS) if defaults else {}
    row.update(fields or {})
    row.update(values)
    unknown = set(row) - set(FIELDS)
    assert not unknown, unknown
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow([row.get(name, "") for name in FIELDS])
    return buffer.getvalue()


def header(names=FIELDS) -> str:
    return ",".join(names)


@pytest.fixture
def write(tmp_path):
    """Write text (or bytes) to a file in tmp_path and return its path."""

    def _write(content: str | bytes, name: str = "extract.dat") -> Path:
        path = tmp_path / name
        if isinstance(content, str):
            content = content.encode("utf-8")
        path.write_bytes(content)
        return path

    return _write


@pytest.fixture(scope="session")
def peers() -> Path:
    """The peer data folder, ../shared/peers; a test that asks for it skips where it is absent."""
    if not PEERS.is_dir():
        # CI has ../shared beside the clone and sets this, so a peer test never skips there
        # unnoticed (.ci/run).
        if os.environ.get("CLEARANCE_REQUIRE_PEERS"):
            pytest.fail(NO_PEERS + "; CLEARANCE_REQUIRE_PEERS is set")
        pytest.skip(NO_PEERS)
    return PEERS


@pytest.fixture(scope="session")
def gogen(peers) -> Path:
    """gogen's files (../shared/peers/gogen): its golden workbook, options and test extracts."""
    return peers / "gogen"


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> Path:
    """The run folder `clearance demo` writes, made once for the session: tests only read it."""
    from typer.testing import CliRunner

    from clearance.cli import app

    out = tmp_path_factory.mktemp("demo") / "run"
    result = CliRunner().invoke(app, ["demo", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out
