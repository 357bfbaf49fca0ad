"""One person's history and each decision, rule by rule, with citations.

This is what an attorney reads before signing. It is rendered from the run folder
alone: the per-rule tests (``t_<rule>``) the engine stored with each determination,
the facts beside them, the person's history and the resolved policy. Nothing is
decided again here, so the explanation cannot drift from the decision.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from clearance.law import RulePack, RulePackError, load_pack, load_rulepack
from clearance.law.describe import test_call
from clearance.law.wording import evaluate, render
from clearance.rules.engine import enabled


class ExplainError(Exception):
    """The run folder or the person cannot be found."""


class PackMismatch(ExplainError):
    """The run was decided under another rule pack than the one installed."""


def check_pack(provenance: dict, law: RulePack) -> None:
    """Refuse a run whose rule pack is not ``law`` (product.md, "rule pack").

    An explanation walks the pack's rules beside the tests the run stored: under
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
        f"this run was decided under the {made}, not the one available ({law.name} "
        f"{law.version}, SHA-256 {law.sha256[:12]}…): explain it with the clearance and "
        "rule pack that made it, or run the extract again"
    )


def pack_for_run(provenance: dict) -> RulePack:
    """The rule pack a run was decided under, or `PackMismatch` if it is not available.

    A run under an installed pack is explained by that pack; a run under a pack
    folder (`--law DIR`) by the folder it recorded, if it still holds the same files.
    """
    recorded = provenance.get("rule_pack") or {}
    source = recorded.get("source", "installed")
    name = recorded.get("name")
    try:
        law = (
            load_pack(name)
            if source == "installed" and name
            else (load_rulepack() if source == "installed" else load_pack(Path(source)))
        )
    except RulePackError as exc:
        raise PackMismatch(
            f"this run was decided under the rule pack {name or '(unnamed)'} from {source}, "
            f"which is not available: {exc}"
        ) from None
    check_pack(provenance, law)
    return law


@dataclass
class Check:
    """One rule as walked for one conviction."""

    step: int
    reason: str
    status: str  # applies | does not apply | not tested | not used by policy | not reached
    detail: str
    citation: str
    test: str = ""  # the rule's test as the pack writes it: two_priors' prior_same_section(...)


@dataclass
class Decision:
    conviction: dict  # the determination's row (a conviction, or an arrest for kinds packs)
    checks: list[Check]
    evidence: list[tuple[str, str]]  # (what, as recorded): the fields the rules read
    statute: list[tuple[str, str]] = field(default_factory=list)  # (provision, its words)


@dataclass
class Explanation:
    person: dict
    timeline: list[dict]
    decisions: list[Decision]
    policy: dict
    as_of: str
    pack: dict | None = None  # run.json's rule_pack: name, version, sha256, source


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


# What a row of a pack deciding several kinds (ca-auto-relief) shows beside its rules.
KIND_EVIDENCE = (
    ("Offense as recorded", "offense"),
    ("Date as recorded", "date"),
    ("Court or agency", "agency"),
    ("Case number", "case_number"),
    ("Probation term", "probation_term"),
    ("Probation revoked on", "revocation_date"),
    ("Sentence ends", "sentence_end"),
    ("Sentence and supervision completed", "completion"),
    ("Serving or supervised until", "serving_until"),
    ("Court dispositions", "court_dispositions"),
    ("Path of relief", "path"),
    ("Relief due on", "eligible_on"),
    ("Last day to petition to prohibit relief", "objection_deadline"),
    ("Petitions still open", "petitions"),
)


def kind_evidence(row: dict) -> list[tuple[str, str]]:
    """The recorded fields and worked-out dates a kinds pack's decision rests on."""
    items = []
    for what, key in KIND_EVIDENCE:
        value = row.get(key)
        if value not in (None, "") or key in ("offense", "date"):
            items.append((what, "(missing)" if value in (None, "") else str(value)))
    return items


def _detail(law: RulePack, step_id: str, row: dict, tests: dict, policy: dict, as_of: str) -> str:
    """Why the rule did or did not apply, in the pack's words, from the facts it read."""
    context = {
        **row,
        "t": tests,
        "policy": policy,
        "as_of": as_of,
        "data": {name: _shown(d.value) for name, d in law.data.items()},
        "step": step_id,
    }
    for guard in law.guards:
        applies = (
            step_id in guard.only if guard.only is not None else (step_id not in guard.except_)
        )
        if applies and evaluate(guard.when, context):
            return render(guard.says, context)
    return render(law.step(step_id).explain, context)


def _shown(value):
    """A datum as templates read it: dates as YYYY-MM-DD, entries as plain mappings."""
    if isinstance(value, tuple):
        return [dict(v) if not isinstance(v, str) else v for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _age(value) -> str:
    return "unknown" if value is None else str(value)


def explain(run_dir: Path, subject_id: str, *, missing_ok: bool = False) -> Explanation | None:
    """The person's explanation in a run folder; ``subject_id`` may be the CII number.

    ``missing_ok``: None, not an error, when the run has no determination for them.
    """
    run_dir = Path(run_dir)
    try:
        provenance = json.loads((run_dir / "run.json").read_text())
    except FileNotFoundError:
        raise ExplainError(f"{run_dir} is not a run folder (no run.json)") from None
    law = pack_for_run(provenance)
    # Only the person's rows are read: the filter is pushed to the scan, which skips
    # every row group whose subject_id statistics exclude the person.
    person = pl.col("subject_id") == subject_id
    known = pl.scan_parquet(run_dir / "people.parquet").filter(person).select(pl.len())
    if known.collect().item() == 0:  # not a subject id: the CII number of one
        cii = pl.scan_parquet(run_dir / "people.parquet").filter(pl.col("cii_number") == subject_id)
        ids = cii.select("subject_id").collect()["subject_id"]
        if ids.len() == 1:
            person = pl.col("subject_id") == ids[0]
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
        if missing_ok:
            return None
        raise ExplainError(f"subject {subject_id} has no determination in this run")
    policy = provenance["policy"]
    as_of = provenance["as_of"]
    rules = law.rules_by_reason()
    decisions = []
    for row in decided.iter_rows(named=True):
        checks: list[Check] = []
        decided_at = None
        tests = {step.id: row.get(f"t_{step.id}") for step in law.steps}
        kind = row.get("kind") if law.kinds else None
        steps = [s for s in law.steps if kind is None or s.kind in (None, kind)]
        decisive = None
        for i, step in enumerate(steps, start=1):
            value = tests[step.id]
            if not enabled(law, policy, step.id):
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
                decisive = step
            checks.append(
                Check(
                    step=i,
                    reason=step.reason,
                    status=status,
                    detail=""
                    if status == "not used by policy"
                    else _detail(law, step.id, row, tests, policy, as_of),
                    citation=(step.rule or rules[step.reason]).citation,
                    test=test_call(step),
                )
            )
        if kind is None:
            decisions.append(Decision(conviction=row, checks=checks, evidence=evidence(row)))
            continue
        rule = decisive.rule if decisive is not None and decisive.rule else None
        quoted = [(p, law.statutes[p]) for p in (rule.statute if rule else ())]
        decisions.append(
            Decision(conviction=row, checks=checks, evidence=kind_evidence(row), statute=quoted)
        )
    return Explanation(
        person=people.row(0, named=True),
        timeline=history.to_dicts(),
        decisions=decisions,
        policy=policy,
        as_of=as_of,
        pack=provenance.get("rule_pack"),
    )
