"""A differential test against the shape of gogen's generated data (issue 14, item 8).

On a 1M-row extract made by gogen's test-data generator, clearance left a quarter of
the cannabis convictions out of scope: that data writes subsections run on
(``11357A``, ``11360A2``). tests/fixtures/gogen_shape.py writes a small extract in
that shape, with every notation of prop64.md "Reading the charge", and the figures
it intended (tests/fixtures/gogen_shape.expected.json), computed from its own ground
truth and never by running clearance. These tests run clearance on the committed
fixture and compare.
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import json
import sys
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clearance.cli import app
from clearance.extract.columns import FIELDS, POSITION

FIXTURES = Path(__file__).resolve().parent / "fixtures"
EXTRACT = FIXTURES / "gogen_shape.csv"
EXPECTED = FIXTURES / "gogen_shape.expected.json"
AGE_RELIEF = ("under_21", "age_threshold")

runner = CliRunner()


def _load_generator():
    spec = importlib.util.spec_from_file_location("gogen_shape", FIXTURES / "gogen_shape.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gogen_shape", module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


gogen_shape = _load_generator()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def expected() -> dict:
    return json.loads(EXPECTED.read_text("ascii"))


@pytest.fixture(scope="module")
def truth() -> dict[tuple[str, str], object]:
    """(subject_id, cnt_order) -> the count as the generator intended it."""
    return {c.key: c for c in gogen_shape.build().counts}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, expected) -> Path:
    out = tmp_path_factory.mktemp("gogen_shape") / "out"
    result = invoke(
        "run", EXTRACT, "--county", expected["county"], "--policy", expected["policy"],
        "--as-of", expected["as_of"], "--out", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def determinations(run_dir) -> dict[tuple[str, str], dict[str, str]]:
    with (run_dir / "determinations.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    keyed = {(r["subject_id"], r["cnt_order"]): r for r in rows}
    assert len(keyed) == len(rows), "a (subject_id, cnt_order) decided twice"
    return keyed


def _keys(pairs) -> set[tuple[str, str]]:
    return {tuple(p) for p in pairs}


def _described(keys, truth, limit: int = 25) -> str:
    """Keys with the charge the generator wrote for them, for a failure message."""
    keys = sorted(keys)
    notations = Counter(truth[k].charge.notation if k in truth else "?" for k in keys)
    lines = [
        f"  {k[0]} {k[1]}: {gogen_shape.label(truth[k].charge) if k in truth else '?'}"
        for k in keys[:limit]
    ]
    more = f"\n  ... and {len(keys) - limit} more" if len(keys) > limit else ""
    return f"{len(keys)} ({dict(notations)}):\n" + "\n".join(lines) + more


# ------------------------------------------------------------------ the fixture itself


def test_generator_rewrites_the_committed_fixture_byte_for_byte():
    text, figures = gogen_shape.generate()
    assert text.encode("ascii") == EXTRACT.read_bytes(), (
        "tests/fixtures/gogen_shape.csv differs from its generator; "
        "rewrite it: PYTHONPATH=src python tests/fixtures/gogen_shape.py"
    )
    assert gogen_shape.expected_text(figures).encode("ascii") == EXPECTED.read_bytes()


def test_fixture_is_small_and_in_gogen_shape(expected):
    data = EXTRACT.read_bytes()
    assert len(data) < 1_000_000
    with EXTRACT.open(newline="", encoding="ascii") as fh:
        records = list(csv.reader(fh))
    assert len(records) == expected["rows"]
    assert {len(r) for r in records} == {len(FIELDS)}
    subjects = sorted({int(r[POSITION["SUBJECT_ID"]]) for r in records})
    assert subjects == list(range(10000001, 10000001 + expected["people"]))
    assert {r[POSITION["END_OF_REC"]] for r in records} == {"  -  "}
    for record in records:
        cnt_order = record[POSITION["CNT_ORDER"]]
        assert len(cnt_order) == 12 and cnt_order.endswith("000")
        assert int(cnt_order[:3]) >= 101 and cnt_order[3:6] in ("001", "002")
        assert record[POSITION["STP_ORDER"]] == cnt_order[3:6]


def test_expected_figures_agree_with_the_file(expected):
    """Recount the in-scope keys from the file's own fields (the csv module, not
    clearance), looking each written charge up in the generator's catalogue."""
    catalogue = {(c.offense, c.comment): c for c in gogen_shape.CANNABIS}
    P = POSITION
    scope, invalid, unparsed = set(), set(), set()
    notation: dict[tuple[str, str], str] = {}  # every count naming cannabis
    with EXTRACT.open(newline="", encoding="ascii") as fh:
        for r in csv.reader(fh):
            charge = catalogue.get((r[P["OFFENSE_DESCR"]], r[P["COMMENT_TEXT"]]))
            if charge:
                notation[(r[P["SUBJECT_ID"]], r[P["CNT_ORDER"]])] = charge.notation
            if not (
                charge
                and r[P["STP_TYPE_DESCR"]] == "COURT ACTION"
                and r[P["DISP_DESCR"]] == "CONVICTED"
                and r[P["STP_ORI_CNTY_NAME"]] == expected["county"]
            ):
                continue
            key = (r[P["SUBJECT_ID"]], r[P["CNT_ORDER"]])
            scope.add(key)
            if r[P["STP_EVENT_DATE"]] <= r[P["PRI_DOB"]]:
                invalid.add(key)
            if charge.notation == "unreadable":
                unparsed.add(key)
    assert scope == _keys(expected["keys"])
    assert len(scope) == expected["in_scope"]["total"]
    assert invalid == _keys(expected["invalid_date_keys"])
    assert unparsed == _keys(expected["unparsed_charge_keys"])
    assert not invalid & unparsed
    figures = expected["in_scope"]
    assert figures["by_notation"] == dict(Counter(notation[k] for k in scope))
    assert expected["inspect"]["by_notation"] == dict(Counter(notation.values()))
    assert sum(figures["by_notation"].values()) == figures["total"]
    assert figures["by_notation"]["unreadable"] == figures["unreadable"] == len(unparsed)
    assert figures["on_or_before_birth"] == len(invalid)
    # Every notation is there, in scope, to be found.
    assert all(n > 0 for n in figures["by_notation"].values())
    assert figures["on_birth_date"] > 0 and figures["attempts"] > 0
    assert expected["look_alike_convictions"] > 0


# ------------------------------------------------------------------ clearance run


def test_rows_read_are_used_or_rejected(run_dir, expected):
    summary = json.loads((run_dir / "summary.json").read_text())
    rows = summary["rows"]
    assert rows["read"] == rows["used"] + rows["rejected"] == expected["rows"]
    assert rows["rejected"] == 0


def test_in_scope_convictions_are_exactly_the_intended_ones(determinations, expected, truth):
    found, wanted = set(determinations), _keys(expected["keys"])
    missing, extra = wanted - found, found - wanted
    assert not missing and not extra, (
        f"silently out of scope: {_described(missing, truth)}\n"
        f"in scope but should not be: {_described(extra, truth)}"
    )


def test_summary_counts_the_intended_convictions(run_dir, expected):
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["convictions_in_scope"] == expected["in_scope"]["total"]


def test_conviction_on_or_before_birth_is_invalid_date(determinations, expected, truth):
    wrong = {
        k: determinations[k]["reason"] if k in determinations else "absent"
        for k in _keys(expected["invalid_date_keys"])
        if k not in determinations
        or (determinations[k]["determination"], determinations[k]["reason"])
        != ("review", "invalid_date")
    }
    assert not wrong, f"not review/invalid_date: {Counter(wrong.values())}\n" + _described(
        wrong, truth
    )


def test_unreadable_cannabis_charge_is_unparsed_charge(determinations, expected, truth):
    wrong = {
        k: determinations[k]["reason"] if k in determinations else "absent"
        for k in _keys(expected["unparsed_charge_keys"])
        if k not in determinations
        or (determinations[k]["determination"], determinations[k]["reason"])
        != ("review", "unparsed_charge")
    }
    assert not wrong, f"not review/unparsed_charge: {Counter(wrong.values())}\n" + _described(
        wrong, truth
    )


def test_no_age_relief_from_an_impossible_age(determinations, truth):
    wrong = set()
    for key, row in determinations.items():
        age = row["age_at_conviction"]
        before_birth = (
            row["conviction_date"]
            and row["dob"]
            and dt.date.fromisoformat(row["conviction_date"]) <= dt.date.fromisoformat(row["dob"])
        )
        if ((age and int(age) < 0) or before_birth) and row["reason"] in AGE_RELIEF:
            wrong.add(key)
    assert not wrong, "age relief on a conviction dated on or before birth: " + _described(
        wrong, truth
    )


# ------------------------------------------------------------------ clearance inspect


def test_inspect_counts_every_notation(expected):
    result = invoke("inspect", EXTRACT, "--json")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["rows"]["read"] == expected["rows"]
    assert figures["subjects"] == expected["people"]
    assert figures.get("charges", {}).get("by_notation") == expected["inspect"]["by_notation"]
