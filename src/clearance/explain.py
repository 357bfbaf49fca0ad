"""One person's history and each decision, rule by rule, with citations.

This is what an attorney reads before signing. It is rendered from the run folder
alone: the per-rule tests (``t_<rule>``) the engine stored with each determination,
the facts beside them, the person's history and the resolved policy. Nothing is
decided again here, so the explanation cannot drift from the decision.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from clearance.law import load_rulepack
from clearance.rules.prop64 import DISQUALIFIER_REASONS, RELIEF_REASONS, STEP_ORDER


class ExplainError(Exception):
    """The run folder or the person cannot be found."""


class PackMismatch(ExplainError):
    """The run was decided under another rule pack than the one installed."""


def check_pack(provenance: dict, law) -> None:
    """Refuse a run whose rule pack is not the installed one (product.md, "rule pack").

    An explanation walks the installed rules beside the tests the run stored: under
    another pack it could name a rule, an order or a citation the run never applied.
    A run that recorded only the pack's version (made before the digest was recorded)
    is compared by version.
    """
    recorded = provenance.get("rule_pack") or {}
    digest, version = recorded.get("sha256"), recorded.get("version")
    if digest == law.sha256 or (digest is None and version == law.version):
        return
    made = f"rule pack {recorded.get('name', law.name)} {version or '(version not recorded)'}"
    if digest:
        made += f" (SHA-256 {digest[:12]}…)"
    raise PackMismatch(
        f"this run was decided under the {made}, not the one installed ({law.name} "
        f"{law.version}, SHA-256 {law.sha256[:12]}…): explain it with the clearance that "
        "made it, or run the extract again"
    )


@dataclass
class Check:
    """One rule as walked for one conviction."""

    step: int
    reason: str
    status: str  # applies | does not apply | not tested | not used by policy | not reached
    detail: str
    citation: str


@dataclass
class Decision:
    conviction: dict
    checks: list[Check]
    evidence: list[tuple[str, str]]  # (what, as recorded): the fields the rules read


@dataclass
class Explanation:
    person: dict
    timeline: list[dict]
    decisions: list[Decision]
    policy: dict
    as_of: str


def _policy_uses(reason: str, policy: dict) -> bool:
    relief = policy.get("additional_relief", {})
    review = policy.get("review", {})
    if reason in RELIEF_REASONS:
        return bool(relief.get(reason))
    if reason in ("comment_charge", "still_serving"):
        return bool(review.get(reason))
    if reason == "misdemeanor":
        return policy.get("misdemeanors") is not None
    return True


NOTATION_WORDS = {
    "plain": "the section alone",
    "bracketed": "subsections in brackets",
    "run_on": "subsections run on",
}


def evidence(row: dict) -> list[tuple[str, str]]:
    """The fields of the record the rules read for one conviction, as recorded.

    What a reviewer needs beside the decision: the offense and comment text the
    charge was read from (and which section each names), the dates as recorded.
    """
    section = row.get("section")
    items = [("Offense as recorded", row.get("offense") or "(blank)")]
    if row.get("charge_source") == "comment":
        items.append(("Charge read from", f"the comment text (HS {section})"))
    elif section:
        notation = NOTATION_WORDS.get(row.get("charge_notation") or "", "")
        items.append(("Charge read from", f"the offense field (HS {section}; {notation})"))
    else:
        items.append(("Charge read from", "nowhere: no code section could be read"))
    items.append(("Comment", row.get("comment_text") or "(none)"))
    if named := row.get("comment_cannabis_section"):
        items.append(("Cannabis section the comment names", f"HS {named}"))
    items.append(("Conviction date as recorded", row.get("conviction_date") or "(missing)"))
    items.append(("Date of birth as recorded", row.get("dob") or "(missing)"))
    return items


def _before_birth(row: dict) -> bool:
    """The conviction is dated on or before the date of birth (both real dates)."""
    date, dob = row.get("conviction_date") or "", row.get("dob") or ""
    iso = r"\d{4}-\d{2}-\d{2}"
    return bool(re.fullmatch(iso, date) and re.fullmatch(iso, dob) and date <= dob)


def _comment_detail(row: dict) -> str:
    """What the comment_charge rule read: where the charge came from, what the comment names."""
    section, named = row.get("section"), row.get("comment_cannabis_section")
    comment = row.get("comment_text")
    if row.get("charge_source") == "comment":
        return f"charge read from the comment text, which names HS {section}: “{comment}”"
    if named and named != section:
        return f"offense field reads HS {section}; the comment names HS {named}: “{comment}”"
    if comment:
        return f"charge read from the offense field (HS {section}); the comment names no other"
    return f"charge read from the offense field (HS {section}); no comment"


def _detail(reason: str, test: str, row: dict, policy: dict, as_of: str, law) -> str:
    """Why the rule did or did not apply, from the facts it read."""
    date = row["conviction_date"]
    relief = policy.get("additional_relief", {})
    section = row["section"]
    details = {
        "invalid_date": f"conviction date as recorded: {date or 'missing'}"
        + (f", on or before the date of birth ({row.get('dob')})" if _before_birth(row) else ""),
        "unparsed_charge": f"section read: HS {section}"
        if section
        else f"names cannabis, but no code section could be read from “{row.get('offense')}”"
        + (f" or the comment “{row['comment_text']}”" if row.get("comment_text") else ""),
        "after_prop64": f"convicted {date}; relief covers convictions on or before "
        f"{law.last_conviction_date}",
        "excluded_subsection": f"HS {section}{row.get('subsection') or ''}",
        "prior_superstrike": "super-strike convictions: " + (row.get("superstrikes") or "none"),
        "prior_pc290": "PC 290 convictions: "
        + (row.get("pc290_convictions") or "none")
        + ("; registered under PC 290" if row.get("registered_290") else "; no registration"),
        "two_priors": f"{row.get('prior_same_section', 0)} earlier conviction case(s) "
        f"under HS {section}",
        "undated_disqualifier": "a disqualifier above could not be dated"
        if any(row.get(f"t_{r}") is None for r in DISQUALIFIER_REASONS)
        else "every disqualifier found is dated",
        "comment_charge": _comment_detail(row),
        "still_serving": f"sentence ends {row.get('sentence_end') or 'unknown'}; as of {as_of}",
        "misdemeanor": f"severity {row.get('severity') or 'unknown'}",
        "baseline_dismiss": f"policy dismisses {', '.join(map(str, policy.get('dismiss', [])))}",
        "under_21": f"age at conviction {_age(row.get('age_at_conviction'))}",
        "age_threshold": f"age on {as_of}: {_age(row.get('age_as_of'))}; threshold "
        f"{relief.get('age_threshold')}",
        "conviction_age": f"{_age(row.get('years_since_conviction'))} years since conviction; "
        f"threshold {relief.get('conviction_age')}",
        "crime_free": f"{_age(row.get('years_since_any_conviction'))} years since the latest "
        f"conviction; threshold {relief.get('crime_free')}",
        "only_prop64": f"{row.get('n_convictions')} conviction(s) in all; cannabis: "
        f"{row.get('cannabis_convictions') or 'none'}",
        "deceased": "death recorded" if row.get("deceased") else "no death recorded",
        "sentence_completed": f"sentence ends {row.get('sentence_end') or 'unknown'}; "
        f"as of {as_of}",
        "baseline_reduce": f"policy reduces {', '.join(map(str, policy.get('reduce', [])))}",
        "no_policy": f"the policy names no outcome for HS {section}",
    }
    if section is None and test not in ("invalid_date", "unparsed_charge", "after_prop64"):
        return "no section was read from the charge"
    if test in (*DISQUALIFIER_REASONS, "undated_disqualifier") and section not in (
        law.disqualifier_sections
    ):
        return f"HS {section} has no such disqualifier"
    return details[test]


def _age(value) -> str:
    return "unknown" if value is None else str(value)


def explain(run_dir: Path, subject_id: str) -> Explanation:
    run_dir = Path(run_dir)
    try:
        provenance = json.loads((run_dir / "run.json").read_text())
    except FileNotFoundError:
        raise ExplainError(f"{run_dir} is not a run folder (no run.json)") from None
    law = load_rulepack()
    check_pack(provenance, law)
    # Only the person's rows are read: the filter is pushed to the scan, which skips
    # every row group whose subject_id statistics exclude the person.
    person = pl.col("subject_id") == subject_id
    decided, history, people = pl.collect_all(
        [
            pl.scan_parquet(run_dir / "determinations.parquet").filter(person),
            pl.scan_parquet(run_dir / "history.parquet")
            .filter(person)
            .sort("event_date", "cnt_order", nulls_last=True),
            pl.scan_parquet(run_dir / "people.parquet").filter(person),
        ]
    )
    if people.is_empty():
        raise ExplainError(f"subject {subject_id} has no determination in this run")
    policy = provenance["policy"]
    as_of = provenance["as_of"]
    rules = law.rules_by_reason()
    decisions = []
    for row in decided.iter_rows(named=True):
        checks: list[Check] = []
        decided_at = None
        for i, (reason, test) in enumerate(STEP_ORDER, start=1):
            value = row.get(f"t_{test}")
            if not _policy_uses(reason, policy):
                status = "not used by policy"
            elif decided_at is not None:
                status = "not reached"
            elif value is None:
                status = "not tested"
            elif value:
                status = "applies"
            else:
                status = "does not apply"
            if status == "applies":
                decided_at = i
            checks.append(
                Check(
                    step=i,
                    reason=reason,
                    status=status,
                    detail=""
                    if status == "not used by policy"
                    else _detail(reason, test, row, policy, as_of, law),
                    citation=rules[reason].citation,
                )
            )
        decisions.append(Decision(conviction=row, checks=checks, evidence=evidence(row)))
    return Explanation(
        person=people.row(0, named=True),
        timeline=history.to_dicts(),
        decisions=decisions,
        policy=policy,
        as_of=as_of,
    )
