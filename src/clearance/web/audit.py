"""Checking the audit log's hash chain: ``clearance audit verify`` and the web app's warning.

Every entry stores the SHA-256 of its content and of the previous entry's hash
(``db.entry_digest``), and the one-row ``audit_chain_head`` table the last entry
written. The chain is whole when every entry's hash matches its content, every
entry names the hash of the entry before it, and the entry the head names is there
with that hash. A row changed by hand (even with the triggers dropped) breaks its
own hash; a row removed breaks the link of the next one; rows removed from the end
leave the head pointing past the log. The check names the first broken entry.

What a chain cannot show is a rewrite that recomputes every later hash and the
head: ``audit verify`` prints the head's hash, so an office that writes it down
(in a paper log, a ticket, an e-mail) can tell later that the log it checks is the
one it saw.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearance.web.db import GENESIS, HASHED_FIELDS, AuditChainHead, AuditEntry, entry_digest

_COLUMNS = [getattr(AuditEntry, name) for name in (*HASHED_FIELDS, "prev_hash", "entry_hash")]


@dataclass(frozen=True)
class ChainCheck:
    """The result of a check: ``broken_at`` is the first broken entry's id (None if whole)."""

    entries: int
    last_id: int
    last_hash: str
    broken_at: int | None = None
    problem: str = ""

    @property
    def whole(self) -> bool:
        return self.broken_at is None and not self.problem

    def line(self) -> str:
        """One line for the terminal or the warning banner."""
        if self.whole:
            return (
                f"audit log intact: {self.entries:,} entries, the last #{self.last_id}, "
                f"head {self.last_hash}"
            )
        return f"audit log broken at entry {self.broken_at}: {self.problem}"


def _entry_problem(row, expected_prev: str | None) -> str:
    """What is wrong with one entry, or "" (``expected_prev`` None: the link is not checked)."""
    if row.entry_hash is None or row.prev_hash is None:
        return "it carries no hash (it was written outside the app, or the chain was cut)"
    if expected_prev is not None and row.prev_hash != expected_prev:
        return (
            "it does not follow the entry before it "
            "(an entry before it was removed, inserted or rewritten)"
        )
    if entry_digest(row._mapping, row.prev_hash) != row.entry_hash:
        return "its content does not match its hash (it was changed after it was written)"
    return ""


def verify(session: Session, after: tuple[int, str] = (0, GENESIS)) -> ChainCheck:
    """Check the chain from the entry after ``after`` (an id and its hash) to the end.

    The head is read first, so entries appended while the check runs do not count as
    a fault. Rows are streamed, so a long log costs time, not memory.
    """
    head = session.get(AuditChainHead, 1)
    last_id, last_hash = after
    count = 0
    head_seen = head is None or head.last_id <= last_id
    rows = session.execute(
        select(*_COLUMNS).where(AuditEntry.id > last_id).order_by(AuditEntry.id),
        execution_options={"yield_per": 2000},
    )
    for row in rows:
        problem = _entry_problem(row, last_hash)
        if problem:
            return ChainCheck(count, last_id, last_hash, row.id, problem)
        count += 1
        last_id, last_hash = row.id, row.entry_hash
        if head is not None and row.id == head.last_id:
            if row.entry_hash != head.last_hash:
                return ChainCheck(
                    count, last_id, last_hash, row.id, "the chain's head names another hash"
                )
            head_seen = True
    if not head_seen:
        head = cast(AuditChainHead, head)  # not seen: there is a head
        return ChainCheck(
            count,
            last_id,
            last_hash,
            head.last_id,
            f"the log ends at entry {last_id} but entry {head.last_id} was written "
            "(entries were removed from its end)",
        )
    return ChainCheck(count, last_id, last_hash)


def verify_entries(session: Session, entries: list[AuditEntry]) -> int | None:
    """The first of the given entries (any order) whose hash does not match its content,
    or that does not follow the entry before it when both are given; None if all hold."""
    by_id = {e.id: e for e in entries}
    for entry in sorted(entries, key=lambda e: e.id):
        before = by_id.get(entry.id - 1)
        expected = before.entry_hash if before is not None else None
        row = _Row(entry)
        if _entry_problem(row, expected):
            return entry.id
    return None


class _Row:
    """An ORM entry seen as a row (``_mapping`` and attributes)."""

    def __init__(self, entry: AuditEntry) -> None:
        self._entry = entry
        self._mapping = {name: getattr(entry, name) for name in HASHED_FIELDS}

    def __getattr__(self, name: str):
        return getattr(self._entry, name)


class AuditWatch:
    """What the running app knows of the chain: checked whole at start, then from the
    last checked entry on (cheap) whenever the audit page is shown. Once broken, it
    stays broken until the server restarts with a whole chain."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.checked: tuple[int, str] = (0, GENESIS)
        self.broken: ChainCheck | None = None

    def check(self, session: Session) -> ChainCheck | None:
        """Check the entries written since the last check (and that the last checked
        entry still has its hash); return the fault, if any."""
        with self._lock:
            if self.broken is not None:
                return self.broken
            last_id, last_hash = self.checked
            if last_id:
                still = session.scalar(
                    select(AuditEntry.entry_hash).where(AuditEntry.id == last_id)
                )
                if still != last_hash:
                    self.broken = ChainCheck(
                        0,
                        last_id,
                        last_hash,
                        last_id,
                        "it was changed or removed since it was checked",
                    )
                    return self.broken
            result = verify(session, self.checked)
            if result.whole:
                self.checked = (result.last_id, result.last_hash)
            else:
                self.broken = result
            return self.broken

    def saw_broken(self, entry_id: int) -> None:
        with self._lock:
            if self.broken is None:
                self.broken = ChainCheck(
                    0, entry_id, "", entry_id, "its content does not match its hash"
                )
