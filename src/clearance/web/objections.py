"""The rule pack of a run, and objections to automatic relief, marked through the audit log.

A ca-auto-relief run's worklist (upcoming.csv)
lets an attorney mark a conviction the office will object to, with the grounds, and
withdraw a mark. As with review decisions (reviews.py), a mark is never stored
anywhere but in the append-only audit log: the current marks of a run are, for each
conviction, its latest ``objection_marked`` or ``objection_withdrawn`` entry, when
that is a mark. The filings of the run (exports.py) draft a petition to prohibit
relief for each (clearance.filings.objections).

The last day to petition is the row's ``objection_deadline``; the app counts the days
left to it from today (``today``), the day an attorney files, and shows a mark whose
day has passed as late: its petition is drafted all the same, marked late.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clearance.web.accounts import can
from clearance.web.db import AuditEntry, Run, User, audit_entry, lock_audit
from clearance.web.reviews import required_text

MARKED = "objection_marked"
WITHDRAWN = "objection_withdrawn"
MAX_GROUNDS = 4000
DUE = ("relief", "upcoming")


class ObjectionError(ValueError):
    """A mark that cannot be made; ``status`` is the HTTP status."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _row(determinations: Path, subject_id: str, cnt_order: str) -> dict | None:
    found = (
        pl.scan_parquet(determinations)
        .filter((pl.col("subject_id") == subject_id) & (pl.col("cnt_order") == cnt_order))
        .select("kind", "determination", "objection_deadline")
        .collect()
    )
    return found.row(0, named=True) if found.height else None


def mark(
    session: Session,
    user: User,
    run: Run,
    determinations: Path,
    subject_id: str,
    cnt_order: str,
    grounds: str,
) -> AuditEntry:
    """Record that the office objects to the conviction's relief, with the grounds."""
    if not can(user, "decide_review"):
        raise ObjectionError("only an attorney can mark an objection", 403)
    grounds = required_text(
        grounds or "",
        "statement of grounds",
        "the petition must show them",
        ObjectionError,
        MAX_GROUNDS,
    )
    row = _row(determinations, subject_id, cnt_order)
    if row is None:
        raise ObjectionError("no such record in this run", 404)
    if row["kind"] != "conviction" or row["determination"] not in DUE:
        raise ObjectionError(
            "only a conviction due relief or upcoming can be objected to "
            f"(this one is {row['kind']}, {row['determination']})"
        )
    lock_audit(session)
    entry = audit_entry(user, MARKED, run_id=run.id, subject_id=subject_id,
                        cnt_order=cnt_order, engine_determination=row["determination"],
                        note=grounds)  # fmt: skip
    session.add(entry)
    session.commit()
    return entry


def withdraw(session: Session, user: User, run: Run, subject_id: str, cnt_order: str, note: str):
    """Withdraw the office's mark on the conviction (the mark stays in the log)."""
    if not can(user, "decide_review"):
        raise ObjectionError("only an attorney can withdraw an objection", 403)
    if (subject_id, cnt_order) not in {
        (m["subject_id"], m["cnt_order"]) for m in marks(session, run.id)
    }:
        raise ObjectionError("this conviction is not marked", 409)
    lock_audit(session)
    entry = audit_entry(user, WITHDRAWN, run_id=run.id, subject_id=subject_id,
                        cnt_order=cnt_order, note=" ".join((note or "").split()))  # fmt: skip
    session.add(entry)
    session.commit()
    return entry


def marks(session: Session, run_id: int) -> list[dict]:
    """The run's current marks: each conviction whose latest entry is a mark."""
    latest = (
        select(func.max(AuditEntry.id))
        .where(AuditEntry.run_id == run_id, AuditEntry.action.in_((MARKED, WITHDRAWN)))
        .group_by(AuditEntry.subject_id, AuditEntry.cnt_order)
    )
    entries = session.scalars(
        select(AuditEntry).where(AuditEntry.id.in_(latest)).order_by(AuditEntry.id)
    )
    return [
        {"subject_id": e.subject_id, "cnt_order": e.cnt_order, "grounds": e.note,
         "by": e.username, "at": e.at, "entry": e.id}
        for e in entries
        if e.action == MARKED
    ]  # fmt: skip


def marks_key(session: Session, run_id: int) -> str:
    """Which marks the run's filings were made with (the latest objection entry)."""
    last = session.scalar(
        select(func.max(AuditEntry.id)).where(
            AuditEntry.run_id == run_id, AuditEntry.action.in_((MARKED, WITHDRAWN))
        )
    )
    return str(last or 0)


def today() -> dt.date:
    """The day the office would file (a function, so that tests can fix it)."""
    return dt.date.today()


def days_left(deadline: str | dt.date | None, on: dt.date) -> int | None:
    """Days from ``on`` to the last day to petition (negative once it has passed)."""
    if not deadline:
        return None
    day = deadline if isinstance(deadline, dt.date) else dt.date.fromisoformat(str(deadline))
    return (day - on).days


def marked_rows(session: Session, run_id: int, determinations: Path,
                subject_id: str | None = None) -> list[dict]:  # fmt: skip
    """The run's current marks (of one person, if given) with their records' deadlines,
    ``days_left`` from today and ``late`` when the last day to petition has passed."""
    found = [m for m in marks(session, run_id) if subject_id in (None, m["subject_id"])]
    if not found:
        return []
    keys = pl.DataFrame(
        [(m["subject_id"], m["cnt_order"]) for m in found],
        schema={"subject_id": pl.String, "cnt_order": pl.String},
        orient="row",
    )
    columns = ("subject_id", "cnt_order", "name", "case_number", "court", "offense",
               "determination", "eligible_on", "objection_deadline")  # fmt: skip
    records = {
        (r["subject_id"], r["cnt_order"]): r
        for r in pl.scan_parquet(determinations)
        .join(keys.lazy(), on=["subject_id", "cnt_order"], how="semi")
        .select(columns)
        .collect()
        .iter_rows(named=True)
    }
    on = today()
    rows = []
    for m in found:
        record = records.get((m["subject_id"], m["cnt_order"]), {})
        left = days_left(record.get("objection_deadline"), on)
        rows.append({**record, **m, "days_left": left, "late": left is not None and left < 0})
    return sorted(rows, key=lambda r: (str(r.get("objection_deadline")), r["subject_id"],
                                       r["cnt_order"]))  # fmt: skip
