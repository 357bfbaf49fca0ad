"""Review: opening a conviction for review and deciding it, always through the audit log.

A decision is never stored anywhere but in the append-only audit log: the current
decision on a conviction is the latest ``review_decided`` entry for it, and a
changed mind is a new entry, so the log shows every decision ever made, by whom,
when and why. Who may do what is checked here as well as in the routes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from clearance.web import results
from clearance.web.accounts import can
from clearance.web.db import (
    AuditEntry,
    Run,
    User,
    audit_entry,
    lock_audit,
    utcnow,
)
from clearance.web.laws import review_decisions
from clearance.web.reviewed import ReviewDecision
from clearance.web.settings import local_time

OPENED = "review_opened"
DECIDED = "review_decided"
MAX_NOTE = 4000
MAX_KEY = 64
# A decision equal to the latest one on its conviction (same attorney, decision and
# note) made this soon after it is a retry, recorded once.
RETRY_WINDOW = dt.timedelta(minutes=2)


class ReviewError(ValueError):
    """A review request that cannot be carried out; ``status`` is the HTTP status."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class DecisionConflict(ReviewError):
    """Another decision was recorded on the conviction after the form was shown."""

    def __init__(self, other: AuditEntry, zone: dt.tzinfo = dt.UTC) -> None:
        when = local_time(other.at, zone)  # in the app's zone (CLEARANCE_TIMEZONE)
        label = (other.decision or "").replace("_", " ")
        super().__init__(
            f"{other.username} recorded a decision on this conviction ({label}, {when}) "
            "after this page was shown; yours was not recorded. Read it below, then "
            "decide again if you still disagree.",
            409,
        )
        self.other = other


@dataclass
class ReviewState:
    """Where one conviction stands: the engine's determination, opened, decided."""

    engine_determination: str
    opened: bool
    decision: ReviewDecision | None
    last_decision_id: int = 0  # the audit entry of ``decision`` (0: none)

    @property
    def reviewable(self) -> bool:
        return self.engine_determination == "review" or self.opened


def _latest_decided_ids(run_id: int):
    """The id of the latest decision on each decided conviction of a run (a subquery
    the index ``ix_audit_log_run_action`` answers without reading other runs)."""
    return (
        select(func.max(AuditEntry.id))
        .where(AuditEntry.run_id == run_id, AuditEntry.action == DECIDED)
        .group_by(AuditEntry.subject_id, AuditEntry.cnt_order)
    )


def latest_decisions(session: Session, run_id: int) -> list[ReviewDecision]:
    """The current decision on each decided conviction (the latest entry wins)."""
    entries = session.scalars(
        select(AuditEntry).where(AuditEntry.id.in_(_latest_decided_ids(run_id)))
    ).all()
    decisions = [
        ReviewDecision(
            subject_id=e.subject_id or "",
            cnt_order=e.cnt_order or "",
            decision=e.decision or "",
            note=e.note,
            reviewed_by=e.username,
            reviewed_at=e.at,
        )
        for e in entries
    ]
    return sorted(decisions, key=lambda d: (d.subject_id, d.cnt_order))


def decided_count(session: Session, run_id: int) -> int:
    """How many convictions of the run have a decision."""
    return session.scalar(select(func.count()).select_from(_latest_decided_ids(run_id).subquery()))


def last_decision_id(session: Session, run_id: int) -> int:
    """The id of the run's latest decision entry (0 if none): what a reviewed folder reflects."""
    found = session.scalar(
        select(func.max(AuditEntry.id)).where(
            AuditEntry.run_id == run_id, AuditEntry.action == DECIDED
        )
    )
    return found or 0


def review_frame(
    session: Session, run_id: int, subjects: Sequence[str] | None = None
) -> pl.DataFrame:
    """Opened and decided convictions of a run (of ``subjects`` only, when given), to join
    onto the determinations: a few columns of the review entries, read by index."""
    opened_query = (
        select(AuditEntry.subject_id, AuditEntry.cnt_order, AuditEntry.username)
        .where(AuditEntry.run_id == run_id, AuditEntry.action == OPENED)
        .order_by(AuditEntry.id)
    )
    decided_query = select(
        AuditEntry.subject_id,
        AuditEntry.cnt_order,
        AuditEntry.decision,
        AuditEntry.username,
        AuditEntry.id,
    ).where(AuditEntry.id.in_(_latest_decided_ids(run_id)))
    if subjects is not None:
        if not subjects:
            return results.empty_reviews()
        opened_query = opened_query.where(AuditEntry.subject_id.in_(list(subjects)))
        decided_query = decided_query.where(AuditEntry.subject_id.in_(list(subjects)))
    opened: dict[tuple[str, str], str] = {}
    for subject, cnt, username in session.execute(opened_query):
        opened.setdefault((subject, cnt), username)  # the first to open it
    decided = {(row[0], row[1]): tuple(row[2:]) for row in session.execute(decided_query)}
    keys = sorted(set(opened) | set(decided))
    if not keys:
        return results.empty_reviews()
    return pl.DataFrame(
        {
            "subject_id": [k[0] for k in keys],
            "cnt_order": [k[1] for k in keys],
            "opened": [k in opened for k in keys],
            "opened_by": [opened.get(k) for k in keys],
            "review_decision": [decided[k][0] if k in decided else None for k in keys],
            "reviewed_by": [decided[k][1] if k in decided else None for k in keys],
            "decision_id": [decided[k][2] if k in decided else None for k in keys],
        },
        schema=results.REVIEW_SCHEMA,
    )


def openers(session: Session, run_id: int) -> list[str]:
    """The accounts that opened a conviction of the run for review (for the filter)."""
    return list(
        session.scalars(
            select(AuditEntry.username)
            .where(AuditEntry.run_id == run_id, AuditEntry.action == OPENED)
            .distinct()
            .order_by(AuditEntry.username)
        )
    )


def reviews_of(run_id: int, session: Session):
    """``review_frame`` for ``results.page``: all reviews (None) or some people's."""
    return lambda subjects: review_frame(session, run_id, subjects)


def history(session: Session, run_id: int, subject_id: str) -> list[AuditEntry]:
    """Every review entry about one person in a run, oldest first (by index)."""
    return list(
        session.scalars(
            select(AuditEntry)
            .where(
                AuditEntry.run_id == run_id,
                AuditEntry.subject_id == subject_id,
                AuditEntry.action.in_((OPENED, DECIDED)),
            )
            .order_by(AuditEntry.id)
        )
    )


def state_from(engine_determination: str, entries: Sequence[AuditEntry]) -> ReviewState:
    """The review state of one conviction from its review entries (oldest first)."""
    decided = [e for e in entries if e.action == DECIDED]
    decision = None
    if decided:
        e = decided[-1]
        decision = ReviewDecision(
            e.subject_id or "", e.cnt_order or "", e.decision or "", e.note, e.username, e.at
        )
    return ReviewState(
        engine_determination=engine_determination,
        opened=any(e.action == OPENED for e in entries),
        decision=decision,
        last_decision_id=decided[-1].id if decided else 0,
    )


def person_states(
    session: Session, run_id: int, subject_id: str, engine: dict[str, str]
) -> tuple[dict[str, ReviewState], list[AuditEntry]]:
    """The review state of each of a person's convictions (``engine``: cnt_order to the
    engine's determination) and the person's review history, in one indexed query."""
    entries = history(session, run_id, subject_id)
    states = {
        cnt: state_from(det, [e for e in entries if e.cnt_order == cnt])
        for cnt, det in engine.items()
    }
    return states, entries


def _conviction_entries(run_id: int, subject_id: str, cnt_order: str, *actions: str) -> Select:
    """The audit entries of these ``actions`` on one conviction of a run (a query)."""
    return select(AuditEntry).where(
        AuditEntry.run_id == run_id,
        AuditEntry.subject_id == subject_id,
        AuditEntry.cnt_order == cnt_order,
        AuditEntry.action.in_(actions),
    )


def state(session: Session, run: Run, determinations: Path, subject_id: str, cnt_order: str):
    """The review state of one conviction, or ReviewError 404 if the run has no such one."""
    row = results.conviction(determinations, subject_id, cnt_order)
    if row is None:
        raise ReviewError("this run has no such conviction", 404)
    entries = session.scalars(
        _conviction_entries(run.id, subject_id, cnt_order, OPENED, DECIDED).order_by(AuditEntry.id)
    ).all()
    return state_from(row["determination"], entries)


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
    """Send a conviction the engine decided to a person (any signed-in reader may); checked
    again under the audit log's lock, so two people opening it at once open it once."""
    if not can(user, "open_review"):
        raise ReviewError("your role cannot open a review", 403)
    required_text(note, "note", "say why", ReviewError, MAX_NOTE)
    for locked in (False, True):
        if locked:
            lock_audit(session)
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
    *,
    seen: int | None = None,
    request_key: str = "",
    zone: dt.tzinfo = dt.UTC,
) -> AuditEntry:
    """Record an attorney's decision on a conviction that is open for review.

    ``seen`` is the id of the decision the form was shown with (0: none); if another
    decision has been recorded since, DecisionConflict (409) and nothing is recorded.
    ``request_key`` is the form's idempotency token: a form posted again, or the same
    decision, note and attorney within ``RETRY_WINDOW`` of the latest one, returns the
    entry already recorded instead of recording another. The checks and the new entry
    are made under the audit log's write lock, so two attorneys deciding at once are
    told apart, one after the other.
    """
    if not can(user, "decide_review"):
        raise ReviewError("only an attorney can decide a review", 403)
    allowed = review_decisions(run)
    if decision not in allowed:
        raise ReviewError(f"choose {', '.join(d.replace('_', ' ') for d in allowed)}")
    if len(request_key) > MAX_KEY:
        raise ReviewError("the form's request key is too long; reload the page")
    note = required_text(note, "note", "say why", ReviewError, MAX_NOTE)
    current = state(session, run, determinations, subject_id, cnt_order)
    if not current.reviewable:
        raise ReviewError("open this conviction for review before deciding it")
    lock_audit(session)  # from here to the commit, nobody else appends
    if request_key:
        earlier = session.scalar(select(AuditEntry).where(AuditEntry.request_key == request_key))
        if earlier is not None:
            same = (earlier.user_id, earlier.run_id, earlier.subject_id, earlier.cnt_order) == (
                user.id,
                run.id,
                subject_id,
                cnt_order,
            )
            if same and (earlier.decision, earlier.note) == (decision, note):
                return earlier  # the same form posted again: recorded once
            raise ReviewError("this form was already used for another decision; reload the page")
    latest = session.scalar(
        _conviction_entries(run.id, subject_id, cnt_order, DECIDED)
        .order_by(AuditEntry.id.desc())
        .limit(1)
    )
    if latest is not None:
        if (latest.user_id, latest.decision, latest.note) == (
            user.id,
            decision,
            note,
        ) and utcnow() - latest.at <= RETRY_WINDOW:
            return latest  # a retry of the decision just recorded
        if seen is not None and latest.id > seen:
            raise DecisionConflict(latest, zone)
    entry = _record(session, user, DECIDED, run, current, subject_id, cnt_order, note, decision)
    entry.request_key = request_key or None
    return entry


MAX_BULK = 500  # the most cases one bulk decision records


@dataclass(frozen=True)
class Case:
    """One case of a bulk decision: a conviction and the decision it was shown with."""

    subject_id: str
    cnt_order: str
    seen: int | None = None


def parse_case(value: str) -> Case:
    """A bulk form's ``case`` value, ``SUBJECT/COUNT/SEEN`` (SEEN: the decision shown,
    0 for none); ReviewError if it is not one."""
    parts = value.split("/")
    if len(parts) != 3 or not all(parts[:2]) or not parts[2].isdigit() or len(parts[2]) > 18:
        raise ReviewError("the form is damaged; reload the page")
    return Case(parts[0], parts[1], int(parts[2]))


def decide_many(
    session: Session,
    user: User,
    run: Run,
    determinations: Path,
    cases: Sequence[Case],
    decision: str,
    note: str,
    *,
    request_key: str = "",
) -> list[AuditEntry]:
    """One decision and one note on each of ``cases``, each recorded as its own audit
    entry (one entry per case, as if decided one by one), all or none: a case that
    cannot be decided (not open for review, decided by another since the page was
    shown) stops the whole, ReviewError naming it, and the caller rolls back.

    ``request_key`` is the form's token; each case's entry carries the token and a
    digest of the case, so the same form posted again records nothing new."""
    if not can(user, "decide_review"):
        raise ReviewError("only an attorney can decide a review", 403)
    allowed = review_decisions(run)
    if decision not in allowed:
        raise ReviewError(f"choose {', '.join(d.replace('_', ' ') for d in allowed)}")
    note = required_text(note, "note", "say why", ReviewError, MAX_NOTE)
    if not cases:
        raise ReviewError("select the cases to decide (tick them in the table)")
    if len(cases) > MAX_BULK:
        raise ReviewError(f"at most {MAX_BULK} cases can be decided at once")
    if len({(c.subject_id, c.cnt_order) for c in cases}) != len(cases):
        raise ReviewError("the form is damaged (a case is selected twice); reload the page")
    if len(request_key) > 32:
        raise ReviewError("the form's request key is too long; reload the page")
    entries = []
    for n, case in enumerate(cases, start=1):
        key = ""
        if request_key:
            digest = hashlib.sha256(f"{case.subject_id}/{case.cnt_order}".encode()).hexdigest()
            key = f"{request_key}-{digest[:24]}"
        try:
            entries.append(
                decide(session, user, run, determinations, case.subject_id, case.cnt_order,
                       decision, note, seen=case.seen, request_key=key)
            )  # fmt: skip
        except ReviewError as exc:
            if len(cases) == 1:
                raise
            where = f"person {case.subject_id}, count {case.cnt_order}"
            raise ReviewError(
                f"nothing was recorded: case {n} of {len(cases)} ({where}): {exc}", exc.status
            ) from None
    return entries
