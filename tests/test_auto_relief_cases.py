"""Readable cases of California automatic relief: a history in, every row decided out.

Each file in the pack's cases/ folder (src/clearance/packs/ca-auto-relief/cases/)
holds cases on one theme; its README.md explains the format. Every case becomes one
pytest item named after the case. The history is turned into real 95-field extract
lines (conftest.line), run through the whole pipeline with ``--law ca-auto-relief``
(`clearance.run.run`), and checked against the folder's determinations.parquet: the
case lists every row the person must get (each conviction count and each arrest of
the county), with its kind, determination, reason and, when given, its path,
eligible_on, objection_deadline and petitions. Cases sharing a policy, an as-of date
and a county run together in one extract (each case is its own person).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml

from case_batches import Batches
from clearance.law import load_pack
from clearance.policy.pack_policy import PackPolicy, load_pack_policy, pack_policy_from_mapping
from clearance.run import run
from conftest import line

LAW = load_pack("ca-auto-relief")
CASES_DIR = LAW.cases_folder

CASE_KEYS = {"name", "cite", "note", "policy", "as_of", "county", "person", "history", "expect"}
PERSON_KEYS = {"dob", "race", "gender", "name"}
ENTRY_KEYS = {
    "date",
    "type",
    "offense",
    "disposition",
    "severity",
    "sentence",
    "county",
    "comment",
    "case",
    "step",
    "count",
    "ofn",
    "court_case",
    "disp_order",
    "fields",
}
EXPECT_KEYS = {
    "kind",
    "offense",
    "date",
    "determination",
    "reason",
    "rule",
    "path",
    "eligible_on",
    "objection_deadline",
    "petitions",
}
CHECKED = (
    "determination",
    "reason",
    "rule",
    "path",
    "eligible_on",
    "objection_deadline",
    "petitions",
)

DEFAULT_COUNTY = "SACRAMENTO"
DEFAULT_PERSON = {"dob": "19700615", "race": "WHITE", "gender": "M"}
STEP_TYPES = {
    "court": ("COURT ACTION", "CASC", "CONVICTED-PROBATION", "FELONY"),
    "arrest": ("ARREST/DETAINED/CITED", "CAPD", "", "MISDEMEANOR"),
    "registration": ("REGISTRATION", "CASO", "", ""),
    "deceased": ("DECEASED", "CACORONER", "", ""),
}
SEVERITIES = {"FELONY": "F", "MISDEMEANOR": "M", "INFRACTION": "I", "": ""}


@dataclass(frozen=True)
class Case:
    file: str
    name: str
    data: Mapping[str, Any] = field(repr=False)
    subject_id: str = ""

    @property
    def as_of(self) -> dt.date:
        value = self.data["as_of"]
        assert isinstance(value, dt.date), f"{self.name}: as_of must be a date"
        return value

    @property
    def county(self) -> str:
        return str(self.data.get("county", DEFAULT_COUNTY)).upper()

    @property
    def batch(self) -> str:
        return json.dumps([self.data["policy"], str(self.as_of), self.county], default=str)


def _check_keys(where: str, value: Any, allowed: set[str], required: set[str] = frozenset()):
    assert isinstance(value, Mapping), f"{where}: expected a mapping, found {value!r}"
    unknown, missing = set(value) - allowed, set(required) - set(value)
    assert not unknown and not missing, (
        f"{where}: unknown {sorted(unknown)}, missing {sorted(missing)}"
    )


def load_cases() -> list[Case]:
    cases: list[Case] = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        for item in yaml.safe_load(path.read_text("utf-8")) or []:
            where = f"{path.name}: {item.get('name', item) if isinstance(item, dict) else item}"
            _check_keys(where, item, CASE_KEYS, {"name", "cite", "policy", "as_of", "history"})
            _check_keys(f"{where}: person", item.get("person", {}), PERSON_KEYS)
            for entry in item["history"]:
                _check_keys(f"{where}: history", entry, ENTRY_KEYS)
                assert entry.get("type", "court") in STEP_TYPES, f"{where}: type {entry['type']!r}"
            for row in item.get("expect") or []:
                _check_keys(
                    f"{where}: expect", row, EXPECT_KEYS, {"kind", "determination", "reason"}
                )
            cases.append(Case(path.stem, item["name"], item, str(93_000_000 + len(cases))))
    names = [c.name for c in cases]
    assert len(names) == len(set(names)), "case names must be unique"
    return cases


CASES = load_cases()


def _raw_date(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.strftime("%Y%m%d")
    return str(value)


def extract_lines(case: Case) -> list[str]:
    """The case's history as extract lines: one per count, disposition and sentence part.

    Entries with the same `case` label are one cycle (an arrest and its court steps);
    a new step starts whenever the type or date differs from the cycle's previous
    entry, unless `step` gives the step number. Each court step's counts carry the
    case number `C<subject>-<cycle>` unless `ofn` gives another.
    """
    person = {**DEFAULT_PERSON, **(case.data.get("person") or {})}
    common = {
        "SUBJECT_ID": case.subject_id,
        "CII_NUMBER": f"A{case.subject_id}",
        "PRI_NAME": person.get("name", f"CASE,{case.subject_id}"),
        "PRI_DOB": _raw_date(person["dob"]),
        "RACE_DESCR": person["race"],
        "GENDER": person["gender"],
    }
    cycles: dict[Any, int] = {}
    last: dict[int, tuple] = {}  # cycle -> (type, date, step)
    counts: dict[tuple[int, int], int] = {}
    lines = []
    for index, entry in enumerate(case.data["history"], start=1):
        label = entry.get("case", f"#{index}")
        cycle = cycles.setdefault(label, len(cycles) + 1)
        kind = entry.get("type", "court")
        date = _raw_date(entry.get("date"))
        previous = last.get(cycle)
        if "step" in entry:
            step = int(entry["step"])
        elif previous and previous[:2] == (kind, date):
            step = previous[2]
        else:
            step = (previous[2] + 1) if previous else 1
        last[cycle] = (kind, date, step)
        if "count" in entry:  # another disposition line of a count already written
            number = int(entry["count"])
        else:
            counts[(cycle, step)] = counts.get((cycle, step), 0) + 1
            number = counts[(cycle, step)]
        event, agency, disposition, severity = STEP_TYPES[kind]
        severity = str(entry.get("severity", severity)).upper()
        county = str(entry.get("county", case.county)).upper()
        offense = entry.get(
            "offense", "290 PC-REGISTRATION OF SEX OFFENDER" if kind == "registration" else ""
        )
        fields = {
            **common,
            "CYC_ORDER": f"{cycle:03d}",
            "CYC_DATE": date,
            "STP_ORDER": f"{step:03d}",
            "STP_EVENT_DATE": date,
            "STP_TYPE_DESCR": event,
            "STP_ORI_DESCR": f"{agency} {county}",
            "STP_ORI_CNTY_NAME": county,
            "CNT_ORDER": f"{cycle:03d}{step:03d}{number:03d}000",
            "OFN": entry.get("ofn", f"C{case.subject_id}-{cycle}" if kind == "court" else ""),
            "FE_NUM_CRT_CASE": entry.get("court_case", ""),
            "OFFENSE_DESCR": offense,
            "OFFENSE_TOC": SEVERITIES.get(severity, ""),
            "DISP_ORDER": str(entry.get("disp_order", 1)),
            "DISP_DESCR": entry.get("disposition", disposition),
            "CONV_STAT_DESCR": severity if kind == "court" else "",
            "COMMENT_TEXT": entry.get("comment", ""),
            **(entry.get("fields") or {}),
        }
        parts = entry.get("sentence") or []
        if parts and not isinstance(parts[0], list):
            parts = [parts]
        for order, part in enumerate(parts or [None], start=1):
            sentence = {}
            if part is not None:
                where, length, unit = part
                sentence = {
                    "SENT_ORDER": f"{order:02d}",
                    "SENT_LOC_DESCR": str(where),
                    "SENT_LENGTH": str(length),
                    "SENT_TIME_CODE": str(unit),
                }
            lines.append(line({**fields, **sentence}))
    return lines


def case_policy(case: Case) -> PackPolicy:
    """A preset by name, or a mapping of the settings it changes (on the statute preset)."""
    spec = case.data["policy"]
    if isinstance(spec, str):
        return load_pack_policy(spec, LAW)
    return pack_policy_from_mapping(
        {"name": f"rule case: {case.name}", **spec}, LAW, source=f"cases: {case.name}"
    )


@pytest.fixture(scope="session")
def batches(tmp_path_factory) -> Batches:
    def run_batch(cases, extract: Path, out: Path) -> None:
        first = cases[0]
        run([extract], county=first.county, policy=case_policy(first), as_of=first.as_of,
            out=out, law=LAW, report=False)  # fmt: skip

    return Batches(tmp_path_factory.mktemp("auto_relief_cases"), CASES, extract_lines, run_batch)


def _matches(row: Mapping[str, Any], want: Mapping[str, Any]) -> bool:
    if row["kind"] != want["kind"]:
        return False
    offense = want.get("offense")
    if offense is not None and not str(row["offense"] or "").upper().startswith(
        str(offense).upper()
    ):
        return False
    if "date" in want:
        date = row["conviction_date"] if row["kind"] == "conviction" else row["arrest_date"]
        return str(want["date"]) == str(date)
    return True


def _wanted(want: Mapping[str, Any]) -> dict[str, Any]:
    wanted = {}
    for key in CHECKED:
        if key in want:
            value = want[key]
            if key == "petitions":
                value = (
                    sorted(value) if isinstance(value, list) else ([] if value is None else [value])
                )
            wanted[key] = None if value is None else (value if key == "petitions" else str(value))
    return wanted


def _got(row: Mapping[str, Any], want: Mapping[str, Any]) -> dict[str, Any]:
    got = {}
    for key in CHECKED:
        if key in want:
            value = row[key]
            if key == "petitions":
                value = sorted(value.split("; ")) if value else []
            got[key] = value
    return got


def _shown(rows: pl.DataFrame) -> str:
    shown = (
        "kind",
        "offense",
        "conviction_date",
        "arrest_date",
        "determination",
        "reason",
        "path",
        "eligible_on",
        "objection_deadline",
        "petitions",
    )
    out = []
    for row in rows.to_dicts():
        true = ", ".join(c[2:] for c in rows.columns if c.startswith("t_") and row[c]) or "none"
        out.append("  " + ", ".join(f"{c}={row[c]}" for c in shown) + f"\n    tests true: {true}")
    return "\n" + ("\n".join(out) or "  (no determination)")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_auto_relief_case(case: Case, batches: Batches):
    rows = batches.determinations(case)
    expected = case.data.get("expect") or []
    found = f"{case.name} ({case.data['cite']}); the engine gave:{_shown(rows)}"
    assert rows.height == len(expected), (
        f"expected {len(expected)} row(s), found {rows.height}: {found}"
    )
    remaining = rows.to_dicts()
    for want in expected:
        hits = [row for row in remaining if _matches(row, want)]
        assert hits, f"no row matches {want}: {found}"
        outcomes = [(_got(row, want), row) for row in hits]
        got, row = next(((g, r) for g, r in outcomes if g == _wanted(want)), outcomes[0])
        remaining.remove(row)
        assert got == _wanted(want), f"for {want}: {found}"
        assert row["citation"] and row["rule"], "every row cites its rule"
