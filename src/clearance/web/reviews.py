"""Review: opening a conviction for review and deciding it, always through the audit log.

A decision is never stored anywhere but in the append-only audit log: the current
decision on a conviction is the latest ``review_decided`` entry for it, and a
changed mind is a new entry, so the log shows every decision ever made, by whom,
when and why. Who may do what is checked here as well as in the routes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from clearance.web import results
from clearance.web.accounts import can
from clearance.web.db import REVIEW_DECISIONS, AuditEntry, Run, User, audit_entry
from clearance.web.reviewed import ReviewDecision

OPENED = "review_opened"
DECIDED = "review_decided"
MAX_NOTE = 4000


class ReviewError(ValueError):
    """A review request that cannot be carried out; ``status`` is the HTTP status."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class ReviewState:
    """Where one conviction stands: the engine's determination, opened, decided."""

    engine_determination: str
    opened: bool
    decision: ReviewDecision | None

    @property
    def reviewable(self) -> bool:
        return self.engine_determination == "review" or self.opened


def _entries(session: Session, run_id: int, *actions: str):
    return session.scalars(
        select(AuditEntry)
        .where(AuditEntry.run_id == run_id, AuditEntry.action.in_(actions))
        .order_by(AuditEntry.id)
    ).all()


def latest_decisions(session: Session, run_id: int) -> list[ReviewDecision]:
    """The current decision on each decided conviction (the latest entry wins)."""
    latest: dict[tuple[str, str], ReviewDecision] = {}
    for e in _entries(session, run_id, DECIDED):
        latest[(e.subject_id, e.cnt_order)] = ReviewDecision(
            subject_id=e.subject_id or "",
            cnt_order=e.cnt_order or "",
            decision=e.decision or "",
            note=e.note,
            reviewed_by=e.username,
            reviewed_at=e.at,
        )
    return [latest[k] for k in sorted(latest)]


def last_decision_id(session: Session, run_id: int) -> int:
    """The id of the run's latest decision entry (0 if none): what a reviewed folder reflects."""
    entries = _entries(session, run_id, DECIDED)
    return entries[-1].id if entries else 0


def review_frame(session: Session, run_id: int) -> pl.DataFrame:
    """Opened and decided convictions of a run, to join onto the determinations."""
    opened = {(e.subject_id, e.cnt_order) for e in _entries(session, run_id, OPENED)}
    decided = {(d.subject_id, d.cnt_order): d for d in latest_decisions(session, run_id)}
    keys = sorted(opened | set(decided))
    if not keys:
        return results.empty_reviews()
    return pl.DataFrame(
        {
            "subject_id": [k[0] for k in keys],
            "cnt_order": [k[1] for k in keys],
            "opened": [k in opened for k in keys],
            "review_decision": [decided[k].decision if k in decided else None for k in keys],
            "reviewed_by": [decided[k].reviewed_by if k in decided else None for k in keys],
        },
        schema=results.REVIEW_SCHEMA,
    )


def state(session: Session, run: Run, determinations: Path, subject_id: str, cnt_order: str):
    """The review state of one conviction, or ReviewError 404 if the run has no such one."""
    row = results.conviction(determinations, subject_id, cnt_order)
    if row is None:
        raise ReviewError("this run has no such conviction", 404)
    entries = [
        e
        for e in _entries(session, run.id, OPENED, DECIDED)
        if e.subject_id == subject_id and e.cnt_order == cnt_order
    ]
    decided = [e for e in entries if e.action == DECIDED]
    decision = None
    if decided:
        e = decided[-1]
        decision = ReviewDecision(subject_id, cnt_order, e.decision or "", e.note, e.username, e.at)
    return ReviewState(
        engine_determination=row["determination"],
        opened=any(e.action == OPENED for e in entries),
        decision=decision,
    )


def history(session: Session, run_id: int, subject_id: str) -> list[AuditEntry]:
    """Every review entry about one person in a run, oldest first."""
    return [e for e in _entries(session, run_id, OPENED, DECIDED) if e.subject_id == subject_id]


def required_text(
    text: str, what: str, hint: str, error: Callable[[str], Exception], most: int
) -> str:
    """``text`` with its white space folded; ``error`` if it is empty or over ``most``
    characters. A why written into the audit log is required, and bounded."""
    text = " ".join(text.split())
    if not text:
        raise error(f"a {what} is required: {hint}")
    if len(text) > most:
        raise error(f"the {what} is too long (at most {most} characters)")
    return text


def _record(
    session: Session,
    user: User,
    action: str,
    run: Run,
    current: ReviewState,
    subject_id: str,
    cnt_order: str,
    note: str,
    decision: str | None = None,
) -> AuditEntry:
    """Write one review entry about a conviction into the audit log (the note checked)."""
    entry = audit_entry(
        user,
        action,
        run_id=run.id,
        subject_id=subject_id,
        cnt_order=cnt_order,
        engine_determination=current.engine_determination,
        decision=decision,
        note=required_text(note, "note", "say why", ReviewError, MAX_NOTE),
    )
    session.add(entry)
    return entry


def open_review(
    session: Session,
    user: User,
    run: Run,
    determinations: Path,
    subject_id: str,
    cnt_order: str,
    note: str,
) -> AuditEntry:
    """Send a conviction the engine decided to a person (any signed-in reader may)."""
    if not can(user, "open_review"):
        raise ReviewError("your role cannot open a review", 403)
    current = state(session, run, determinations, subject_id, cnt_order)
    if current.reviewable:
        raise ReviewError("this conviction is already open for review")
    return _record(session, user, OPENED, run, current, subject_id, cnt_order, note)


def decide(
    session: Session,
    user: User,
    run: Run,
    determinations: Path,
    subject_id: str,
    cnt_order: str,
    decision: str,
    note: str,
) -> AuditEntry:
    """Record an attorney's decision on a conviction that is open for review."""
    if not can(user, "decide_review"):
        raise ReviewError("only an attorney can decide a review", 403)
    if decision not in REVIEW_DECISIONS:
        raise ReviewError("choose dismiss, reduce or not eligible")
    current = state(session, run, determinations, subject_id, cnt_order)
    if not current.reviewable:
        raise ReviewError("open this conviction for review before deciding it")
    return _record(session, user, DECIDED, run, current, subject_id, cnt_order, note, decision)
