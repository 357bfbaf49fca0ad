"""The reviewed run folder: a run folder with the attorneys' decisions applied.

It has the layout of a run folder (product.md, "Output folder"), so everything that
reads a run folder (``explain``, the report, the filings) reads it unchanged. In
``determinations.{csv,parquet,xlsx}`` a decided conviction carries the reviewer's
determination, with reason ``reviewed``, rule ``HS11361.9-reviewed`` and as citation
the statute that grants the relief (dismiss, reduce) or the reviewer's note (not
eligible: the note is the reason a person gave). Four columns say who decided what:
``review_decision``, ``review_note``, ``reviewed_by``, ``reviewed_at`` (empty when the
conviction was not reviewed); they follow the contract columns. ``summary.json`` is
recomputed from the reviewed table with the run's own summary code; the figures
about the whole extract (``subjects``, everyone's demographics, rows read), which
the folder cannot recompute, are the run's. ``run.json`` is the run's, plus a
``review`` entry. The same run and decisions give the same bytes.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from clearance._folders import make_temp, move_into_place
from clearance.extract.model import Model
from clearance.extract.reader import FileStats, ReadResult
from clearance.outputs import determinations as det_out
from clearance.outputs.summary import summarize
from clearance.run import HISTORY_FILE, PEOPLE_FILE
from clearance.textsafe import write_csv

REASON = "reviewed"
RULE = "HS11361.9-reviewed"
# The prosecution's review of the DOJ list (HS 11361.9(b)) granting the relief of
# HS 11361.8(e), (f): dismissal and sealing, or redesignation as a misdemeanor.
RELIEF_CITATION = "HS 11361.8(e), (f); HS 11361.9(b)"
DECISIONS = ("dismiss", "reduce", "not_eligible")
REVIEW_COLUMNS = ("review_decision", "review_note", "reviewed_by", "reviewed_at")
REVIEWED_ON = "reviewed_on"  # the workbook's: the date of reviewed_at (UTC), a real date
COPIED = ("rejects.csv", HISTORY_FILE, PEOPLE_FILE)
REVIEW_FILE = "run.json"


class ReviewedRunError(ValueError):
    """Decisions that do not fit the run (unknown conviction, unknown decision)."""


@dataclass(frozen=True)
class ReviewDecision:
    """The latest decision on one conviction, as the audit log holds it."""

    subject_id: str
    cnt_order: str
    decision: str  # dismiss | reduce | not_eligible
    note: str
    reviewed_by: str
    reviewed_at: dt.datetime


def _json(data: dict) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n"


def reviewed_table(
    determinations: pl.DataFrame, decisions: Iterable[ReviewDecision]
) -> pl.DataFrame:
    """The determinations with the decisions applied and the review columns added."""
    rows = list(decisions)
    for d in rows:
        if d.decision not in DECISIONS:
            raise ReviewedRunError(f"unknown review decision {d.decision!r}")
    decided = pl.DataFrame(
        {
            "subject_id": [d.subject_id for d in rows],
            "cnt_order": [d.cnt_order for d in rows],
            "review_decision": [d.decision for d in rows],
            "review_note": [d.note for d in rows],
            "reviewed_by": [d.reviewed_by for d in rows],
            "reviewed_at": [d.reviewed_at.replace(microsecond=0).isoformat() for d in rows],
        },
        schema={
            "subject_id": pl.String,
            "cnt_order": pl.String,
            **dict.fromkeys(REVIEW_COLUMNS, pl.String),
        },
    )
    if decided.select(pl.struct("subject_id", "cnt_order").is_duplicated().any()).item():
        raise ReviewedRunError("two decisions for one conviction; pass the latest of each")
    unknown = decided.join(determinations, on=["subject_id", "cnt_order"], how="anti")
    if unknown.height:
        raise ReviewedRunError(f"{unknown.height} decision(s) name a conviction not in the run")
    joined = determinations.join(
        decided, on=["subject_id", "cnt_order"], how="left", maintain_order="left"
    )
    was_decided = pl.col("review_decision").is_not_null()
    joined = joined.with_columns(
        determination=pl.coalesce("review_decision", "determination"),
        reason=pl.when(was_decided).then(pl.lit(REASON)).otherwise("reason"),
        rule=pl.when(was_decided).then(pl.lit(RULE)).otherwise("rule"),
        citation=pl.when(pl.col("review_decision") == "not_eligible")
        .then("review_note")
        .when(was_decided)
        .then(pl.lit(RELIEF_CITATION))
        .otherwise("citation"),
    )
    contract = list(det_out.CONTRACT_COLUMNS)
    rest = [c for c in joined.columns if c not in contract and c not in REVIEW_COLUMNS]
    return joined.select(*contract, *REVIEW_COLUMNS, *rest)


def write_reviewed_run(
    run_dir: Path, decisions: Iterable[ReviewDecision], out_dir: Path, *, last_audit_id: int = 0
) -> dict:
    """Write the reviewed run folder for ``run_dir`` into ``out_dir``; return its summary.

    Written under a temporary name and moved into place, like a run, so a reader
    never sees half a folder. ``last_audit_id`` records which audit log entries the
    folder reflects (the web app rewrites it when a later decision arrives).
    """
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    provenance = json.loads((run_dir / "run.json").read_text())
    original = json.loads((run_dir / "summary.json").read_text())
    decisions = list(decisions)
    table = reviewed_table(pl.read_parquet(run_dir / "determinations.parquet"), decisions)

    tmp = make_temp(out_dir)  # owner-only; one a killed process left is removed
    try:
        published = table.select(*det_out.CONTRACT_COLUMNS, *REVIEW_COLUMNS, *det_out.FACT_COLUMNS)
        write_csv(published, tmp / "determinations.csv")
        table.write_parquet(tmp / "determinations.parquet", statistics=True)
        summary = _summary(table, run_dir, provenance, original, decisions)
        # The workbook has the day of each decision as a real date besides its time.
        at = REVIEW_COLUMNS.index("reviewed_at") + len(det_out.CONTRACT_COLUMNS) + 1
        sheet = published.insert_column(
            at, published["reviewed_at"].str.slice(0, 10).alias(REVIEWED_ON)
        )
        det_out.write_workbook(
            sheet,
            tmp / "determinations.xlsx",
            f"{provenance['policy']['name']}: reviewed determinations as of {provenance['as_of']}",
            pack_of(provenance),  # determinations in the pack's plain words, as the run's
            summary,
        )
        for name in COPIED:
            shutil.copyfile(run_dir / name, tmp / name)
        (tmp / "summary.json").write_text(_json(summary))
        provenance["review"] = {
            "decisions": len(decisions),
            "by_decision": {d: sum(x.decision == d for x in decisions) for d in DECISIONS},
            "last_audit_id": last_audit_id,
            "reason": REASON,
            "rule": RULE,
            "relief_citation": RELIEF_CITATION,
        }
        (tmp / REVIEW_FILE).write_text(_json(provenance))
        move_into_place(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return summary


def pack_of(provenance: dict):
    """The run's rule pack, for the workbook's plain words (None: codes as they are)."""
    from clearance.explain import ExplainError, pack_for_run

    try:
        return pack_for_run(provenance)
    except ExplainError:
        return None


def _summary(
    table: pl.DataFrame,
    run_dir: Path,
    provenance: dict,
    original: dict,
    decisions: list[ReviewDecision],
) -> dict:
    """summary.json recomputed by the run's own code from the reviewed table."""
    model = Model(
        people=pl.scan_parquet(run_dir / PEOPLE_FILE),
        events=pl.LazyFrame(),
        counts=pl.scan_parquet(run_dir / HISTORY_FILE),
    )
    rejects = pl.read_csv(run_dir / "rejects.csv", infer_schema=False)
    read = ReadResult(
        rows=pl.LazyFrame(),
        rejects=rejects,
        files=[FileStats(**f) for f in provenance["inputs"]],
    )
    summary = summarize(
        table,
        model,
        read,
        as_of=dt.date.fromisoformat(provenance["as_of"]),
        county=provenance["county"],
        policy_name=provenance["policy"]["name"],
    )
    # What only the whole extract knows; the folder holds the people determined only.
    summary["subjects"] = original["subjects"]
    summary["demographics"]["everyone"] = original["demographics"]["everyone"]
    summary["rejects_by_reason"] = original["rejects_by_reason"]
    summary["review"] = {
        "decided": len(decisions),
        "by_decision": {d: sum(x.decision == d for x in decisions) for d in DECISIONS},
        "still_for_review": summary["by_determination"]["review"],
        "engine_by_determination": original["by_determination"],
    }
    return summary
