"""Sign-in throttling: failed sign-ins lock a user name, or a client address, for a while.

The security log (``db.SecurityEvent``) is both the record and the state: a lock is
an ``account_locked`` or ``address_locked`` entry younger than the lockout period
with no unlock after it, and failures are counted from the entries since the last
lock, unlock or (for a name) successful sign-in. So the state survives a restart,
is shared by every server on one database, and cannot be quietly edited (the table
is append-only, like the audit log).

A user name is locked whether or not an account has it, and the message is the same
for both: a locked name says nothing about which names exist. A locked name or
address is refused before any password is checked.

A loopback address (127.0.0.1, ::1) is never locked, only logged: every person at
the server's own machine shares it, and so does every request through a proxy that
does not pass the browser's address on, so locking it would let one guesser lock
the whole office out. The lock on the name still applies.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clearance.web.db import SecurityEvent, User
from clearance.web.security import is_loopback_host
from clearance.web.settings import Settings

FAILED = "sign_in_failed"
SUCCEEDED = "sign_in_succeeded"
REFUSED = "sign_in_refused"
ACCOUNT_LOCKED = "account_locked"
ADDRESS_LOCKED = "address_locked"
ACCOUNT_UNLOCKED = "account_unlocked"
ADDRESS_UNLOCKED = "address_unlocked"
COMMAND_LINE = "(command line)"
# What a lock is on: the column it keys on, the events that set and lift it.
_EVENTS = {
    "account": ("name_key", ACCOUNT_LOCKED, ACCOUNT_UNLOCKED),
    "address": ("address", ADDRESS_LOCKED, ADDRESS_UNLOCKED),
}


@dataclass(frozen=True)
class Lock:
    """A lock in force: on a user name (``name_key``) or on a client ``address``."""

    kind: str  # account | address
    value: str  # the name key or the address
    locked_at: dt.datetime
    until: dt.datetime
    account: str | None = None  # the account's name, when an account has the locked name

    def message(self) -> str:
        """What the sign-in page says: the same words for any name, known or not."""
        return (
            "too many failed sign-ins: sign-in is refused until "
            f"{self.until:%H:%M} UTC; an administrator can lift this sooner"
        )


def _latest(db: Session, events: tuple[str, ...], **where: str) -> SecurityEvent | None:
    conditions = [getattr(SecurityEvent, k) == v for k, v in where.items()]
    return db.scalars(
        select(SecurityEvent)
        .where(SecurityEvent.event.in_(events), *conditions)
        .order_by(SecurityEvent.id.desc())
        .limit(1)
    ).first()


def _lock_in_force(
    db: Session, settings: Settings, kind: str, value: str, now: dt.datetime
) -> Lock | None:
    column, locked, unlocked = _EVENTS[kind]
    last = _latest(db, (locked, unlocked), **{column: value})
    if last is None or last.event != locked:
        return None
    until = last.at + settings.sign_in.lockout
    if until <= now:
        return None
    return Lock(kind, value, last.at, until, last.account)


def lock_for(db: Session, settings: Settings, name_key: str, address: str) -> Lock | None:
    """The lock that refuses this sign-in (the name's first, then the address's), if any."""
    now = settings.clock()
    return _lock_in_force(db, settings, "account", name_key, now) or _lock_in_force(
        db, settings, "address", address, now
    )


def _failures_since(
    db: Session, settings: Settings, now: dt.datetime, resets: tuple[str, ...], **where: str
) -> int:
    """Failures within the window, after the last event that starts the count again."""
    reset = _latest(db, resets, **where)
    conditions = [getattr(SecurityEvent, k) == v for k, v in where.items()]
    query = (
        select(func.count())
        .select_from(SecurityEvent)
        .where(
            SecurityEvent.event == FAILED,
            SecurityEvent.at > now - settings.sign_in.window,
            *conditions,
        )
    )
    if reset is not None:
        query = query.where(SecurityEvent.id > reset.id)
    return db.scalar(query) or 0


def _add(db: Session, event: str, now: dt.datetime, **values: str | None) -> None:
    db.add(SecurityEvent(event=event, at=now, **values))
    db.flush()  # the next count sees it


def refused(
    db: Session, settings: Settings, lock: Lock, name_key: str, address: str, account: str | None
) -> None:
    """Log a sign-in refused because of a lock (its password was not checked)."""
    note = f"{lock.kind} locked until {lock.until:%Y-%m-%d %H:%M} UTC"
    _add(db, REFUSED, settings.clock(), account=account, name_key=name_key, address=address,
         note=note)  # fmt: skip


def failed(
    db: Session, settings: Settings, name_key: str, address: str, account: str | None
) -> Lock | None:
    """Log a failed sign-in; lock the name or the address when it is one too many."""
    now = settings.clock()
    limits = settings.sign_in
    _add(db, FAILED, now, account=account, name_key=name_key, address=address)
    name_failures = _failures_since(
        db, settings, now, (ACCOUNT_LOCKED, ACCOUNT_UNLOCKED, SUCCEEDED), name_key=name_key
    )
    if name_failures >= limits.account_failures:
        note = f"{name_failures} failed sign-ins within {_minutes(limits.window)}"
        _add(db, ACCOUNT_LOCKED, now, account=account, name_key=name_key, address=address,
             note=note)  # fmt: skip
    address_failures = (
        0
        if is_loopback_host(address)
        else _failures_since(db, settings, now, (ADDRESS_LOCKED, ADDRESS_UNLOCKED), address=address)
    )
    if address_failures >= limits.address_failures:
        note = f"{address_failures} failed sign-ins from it within {_minutes(limits.window)}"
        _add(db, ADDRESS_LOCKED, now, address=address, note=note)
    return lock_for(db, settings, name_key, address)


def succeeded(db: Session, settings: Settings, user: User, name_key: str, address: str) -> None:
    """Log a successful sign-in (which starts the name's failure count again)."""
    _add(db, SUCCEEDED, settings.clock(), account=user.username, name_key=name_key,
         address=address)  # fmt: skip


def unlock_account(
    db: Session, settings: Settings, name_key: str, *, by: User | None, account: str | None
) -> bool:
    """Lift the lock on a user name; False if it was not locked. Logged with who did it."""
    if _lock_in_force(db, settings, "account", name_key, settings.clock()) is None:
        return False
    _add(db, ACCOUNT_UNLOCKED, settings.clock(), account=account, name_key=name_key,
         by_username=by.username if by else COMMAND_LINE)  # fmt: skip
    return True


def unlock_address(db: Session, settings: Settings, address: str, *, by: User | None) -> bool:
    """Lift the lock on a client address; False if it was not locked. Logged."""
    if _lock_in_force(db, settings, "address", address, settings.clock()) is None:
        return False
    _add(db, ADDRESS_UNLOCKED, settings.clock(), address=address,
         by_username=by.username if by else COMMAND_LINE)  # fmt: skip
    return True


def locks(db: Session, settings: Settings) -> list[Lock]:
    """Every lock in force now, newest first (for the admin pages)."""
    now = settings.clock()
    recent = db.scalars(
        select(SecurityEvent)
        .where(
            SecurityEvent.event.in_((ACCOUNT_LOCKED, ADDRESS_LOCKED)),
            SecurityEvent.at > now - settings.sign_in.lockout,
        )
        .order_by(SecurityEvent.id.desc())
    ).all()
    found: dict[tuple[str, str], Lock] = {}
    for e in recent:
        kind = "account" if e.event == ACCOUNT_LOCKED else "address"
        value = e.name_key if kind == "account" else e.address
        if value is None or (kind, value) in found:
            continue
        lock = _lock_in_force(db, settings, kind, value, now)
        if lock is not None:
            found[(kind, value)] = lock
    return list(found.values())


def _minutes(span: dt.timedelta) -> str:
    minutes = round(span.total_seconds() / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"
