"""Rule cases: a history in, determinations out, written as YAML a lawyer can read.

Each file in the rule pack's cases/ folder (src/clearance/packs/prop64/cases/) holds
cases on one theme; its README.md explains
the format. Every case becomes one pytest item named after the case. The history is
turned into real 95-field extract lines (conftest.line) and goes through the whole
pipeline: `clearance.run.run` reads the file, builds the model, applies the rules
and writes the output folder, and the case is checked against the folder's
determinations.parquet. Cases that share a policy, an as-of date and a county run
together in one extract (each case is its own person), so the suite stays fast.
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
from clearance.law import load_rulepack
from clearance.policy import Policy, load_policy, policy_from_mapping, preset_names
from clearance.run import run
from conftest import line

RULES = load_rulepack().cases_folder

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
    "fields",
}
EXPECT_KEYS = {"offense", "date", "determination", "reason", "rule", "not_tested"}

DEFAULT_COUNTY = "SACRAMENTO"
DEFAULT_PERSON = {"dob": "19800615", "race": "WHITE", "gender": "M"}

# Step types (STP_TYPE_DESCR) and what an entry of each type carries by default.
STEP_TYPES = {
    "court": {
        "STP_TYPE_DESCR": "COURT ACTION",
        "agency": "CASC",
        "disposition": "CONVICTED-PROBATION",
    },
    "arrest": {"STP_TYPE_DESCR": "ARREST/DETAINED/CITED", "agency": "CAPD", "disposition": ""},
    "registration": {
        "STP_TYPE_DESCR": "REGISTRATION",
        "agency": "CASO",
        "disposition": "",
        "offense": "290 PC-REGISTRATION OF SEX OFFENDER",
    },
    "deceased": {"STP_TYPE_DESCR": "DECEASED", "agency": "CACORONER", "disposition": ""},
}
SEVERITIES = {"FELONY": "F", "MISDEMEANOR": "M", "INFRACTION": "I", "": ""}
SHOWN = ["offense", "conviction_date", "severity", "determination", "reason", "not_tested"]


# --------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Case:
    file: str
    name: str
    data: Mapping[str, Any] = field(repr=False)
    subject_id: str = ""

    @property
    def as_of(self) -> dt.date:
        return _date(self.data["as_of"], "as_of")

    @property
    def county(self) -> str:
        return str(self.data.get("county", DEFAULT_COUNTY)).upper()

    @property
    def batch(self) -> str:
        """Cases with the same policy, as-of date and county run in one extract."""
        return json.dumps(
            [self.data["policy"], str(self.as_of), self.county], default=str, sort_keys=True
        )


def _date(value: Any, what: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    raise ValueError(f"{what}: expected a date like 2020-07-01, found {value!r}")


def _check_keys(where: str, value: Any, allowed: set[str], required: set[str] = frozenset()):
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: expected a mapping, found {value!r}")
    unknown = set(value) - allowed
    missing = set(required) - set(value)
    if unknown or missing:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}, missing keys {sorted(missing)}")


def load_cases() -> list[Case]:
    cases: list[Case] = []
    for path in sorted(RULES.glob("*.yaml")):
        for item in yaml.safe_load(path.read_text("utf-8")) or []:
            where = f"{path.name}: {item.get('name', item) if isinstance(item, dict) else item}"
            _check_keys(where, item, CASE_KEYS, {"name", "cite", "policy", "as_of", "history"})
            _check_keys(f"{where}: person", item.get("person", {}), PERSON_KEYS)
            for entry in item["history"]:
                _check_keys(f"{where}: history", entry, ENTRY_KEYS)
                assert entry.get("type", "court") in STEP_TYPES, f"{where}: type {entry['type']!r}"
                assert str(entry.get("severity", "")).upper() in SEVERITIES, f"{where}: severity"
            for row in item.get("expect") or []:
                _check_keys(f"{where}: expect", row, EXPECT_KEYS, {"determination", "reason"})
            subject_id = str(91_000_000 + len(cases))
            cases.append(Case(path.stem, item["name"], item, subject_id))
    names = [c.name for c in cases]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    assert not duplicated, f"case names must be unique: {duplicated}"
    return cases


CASES = load_cases()


# ------------------------------------------------------------- history -> extract


def _raw_date(value: Any) -> str:
    """YYYYMMDD for a date; anything else (19800000, "") is written as given."""
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.strftime("%Y%m%d")
    return str(value)


def extract_lines(case: Case) -> list[str]:
    """The case's history as extract lines: one per count and sentence part."""
    person = {**DEFAULT_PERSON, **(case.data.get("person") or {})}
    common = {
        "SUBJECT_ID": case.subject_id,
        "CII_NUMBER": f"A{case.subject_id}",
        "PRI_NAME": person.get("name", f"CASE,{case.subject_id}"),
        "PRI_DOB": _raw_date(person["dob"]),
        "RACE_DESCR": person["race"],
        "GENDER": person["gender"],
    }
    cycles: dict[str, int] = {}  # `case` label -> cycle number
    counts: dict[int, int] = {}  # cycle -> counts so far
    lines = []
    for index, entry in enumerate(case.data["history"], start=1):
        label = entry.get("case")
        cycle = cycles.setdefault(label, index) if label is not None else index
        counts[cycle] = counts.get(cycle, 0) + 1
        step = STEP_TYPES[entry.get("type", "court")]
        county = str(entry.get("county", case.county)).upper()
        severity = str(entry.get("severity", "FELONY" if step["disposition"] else "")).upper()
        date = _raw_date(entry.get("date"))
        fields = {
            **common,
            "CYC_ORDER": f"{cycle:03d}",
            "CYC_DATE": date,
            "STP_ORDER": "001",
            "STP_EVENT_DATE": date,
            "STP_TYPE_DESCR": step["STP_TYPE_DESCR"],
            "STP_ORI_DESCR": f"{step['agency']} {county}",
            "STP_ORI_CNTY_NAME": county,
            "CNT_ORDER": f"{cycle:03d}001{counts[cycle]:03d}000",
            "OFN": f"C{case.subject_id}-{cycle}",
            "OFFENSE_DESCR": entry.get("offense", step.get("offense", "")),
            "OFFENSE_TOC": SEVERITIES[severity],
            "DISP_DESCR": entry.get("disposition", step["disposition"]),
            "CONV_STAT_DESCR": severity,
            "COMMENT_TEXT": entry.get("comment", ""),
            **(entry.get("fields") or {}),
        }
        parts = entry.get("sentence") or []
        if parts and not isinstance(parts[0], list):
            parts = [parts]  # one part: [PROBATION, 36, M]
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


def case_policy(case: Case) -> Policy:
    """A preset by name, or an inline mapping in the policy schema.

    An inline mapping may start from a preset with `based_on: <preset>` and change
    only the keys it gives (`additional_relief` and `review` key by key).
    """
    spec = case.data["policy"]
    if isinstance(spec, str):
        return load_policy(spec)
    spec = dict(spec)
    base: dict[str, Any] = {"name": f"rule case: {case.name}"}
    if "based_on" in spec:
        base = load_policy(spec.pop("based_on")).to_dict()
        base.pop("source")
        base["name"] = f"rule case: {case.name}"
    for key, value in spec.items():
        if key in ("additional_relief", "review"):
            base[key] = {**base.get(key, {}), **value}
        else:
            base[key] = value
    return policy_from_mapping(base, source=f"cases/{case.file}.yaml: {case.name}")


# --------------------------------------------------------------------- the runs


@pytest.fixture(scope="session")
def batches(tmp_path_factory) -> Batches:
    def run_batch(cases, extract: Path, out: Path) -> None:
        first = cases[0]
        run([extract], county=first.county, policy=case_policy(first), as_of=first.as_of,
            out=out)  # fmt: skip

    return Batches(tmp_path_factory.mktemp("rule_cases"), CASES, extract_lines, run_batch)


# --------------------------------------------------------------------- checking


def _matches(row: Mapping[str, Any], expected: Mapping[str, Any]) -> bool:
    """`offense` is the start of the offense text, or the cannabis section."""
    offense = expected.get("offense")
    if offense is not None:
        offense = str(offense).upper()
        text = str(row["offense"] or "").upper()
        if not (text.startswith(offense) or row["section"] == offense):
            return False
    return "date" not in expected or str(expected["date"]) == str(row["conviction_date"])


def _not_tested(value: Any) -> set[str]:
    if value is None:
        return set()
    items = value if isinstance(value, list) else str(value).split(",")
    return {str(item).strip() for item in items if str(item).strip()}


def _shown(rows: pl.DataFrame) -> str:
    """The person's determinations, and for each which rule tests were true or unknown."""
    lines = []
    for row in rows.to_dicts():
        tests = {c[2:]: row[c] for c in rows.columns if c.startswith("t_")}
        true = ", ".join(name for name, value in tests.items() if value) or "none"
        unknown = ", ".join(name for name, value in tests.items() if value is None) or "none"
        shown = ", ".join(f"{c}={row[c]}" for c in SHOWN)
        lines.append(f"  {shown}\n    tests true: {true}; unknown: {unknown}")
    return "\n" + ("\n".join(lines) or "  (no determination)")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_rule_case(case: Case, batches: Batches):
    rows = batches.determinations(case)
    expected = case.data.get("expect") or []
    found = f"{case.name} ({case.data['cite']}); the engine gave:{_shown(rows)}"
    assert rows.height == len(expected), (
        f"expected {len(expected)} determination(s), found {rows.height}: {found}"
    )
    remaining = rows.to_dicts()
    for want in expected:
        hits = [row for row in remaining if _matches(row, want)]
        assert hits, f"no determination matches {want}: {found}"
        # Counts the selector cannot tell apart (two counts of one case) are
        # interchangeable: take one that gives the expected outcome, if any.
        outcomes = [(_outcome(row, want), row) for row in hits]
        got, row = next(((g, r) for g, r in outcomes if g == _wanted(want)), outcomes[0])
        remaining.remove(row)
        assert got == _wanted(want), f"for {want}: {found}"
        assert row["citation"], "every determination cites the statute"


def _wanted(want: Mapping[str, Any]) -> dict[str, Any]:
    wanted = {key: want[key] for key in ("determination", "reason", "rule") if key in want}
    if "not_tested" in want:
        wanted["not_tested"] = _not_tested(want["not_tested"])
    return wanted


def _outcome(row: Mapping[str, Any], want: Mapping[str, Any]) -> dict[str, Any]:
    """The row's values for the keys the expectation names."""
    got = {key: row[key] for key in ("determination", "reason", "rule") if key in want}
    if "not_tested" in want:
        got["not_tested"] = _not_tested(row["not_tested"])
    return got


# ---------------------------------------------------------------- coverage checks


def test_every_reason_code_has_a_case():
    """prop64.md: one case per reason code of the rule pack (and its documented additions)."""
    reasons = set(load_rulepack().rules_by_reason())
    covered = {row["reason"] for case in CASES for row in case.data.get("expect") or []}
    assert reasons - covered == set()
    assert covered - reasons == set(), "cases expect reason codes the rule pack does not know"


def test_every_preset_has_a_case():
    used = {case.data["policy"] for case in CASES if isinstance(case.data["policy"], str)}
    assert set(preset_names()) - used == set()
