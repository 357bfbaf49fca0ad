"""Sign-in throttling: failed sign-ins lock a user name, or a client address, for a while.

The security log (``db.SecurityEvent``) is both the record and the state: a lock is
an ``account_locked``, ``account_address_locked`` or ``address_locked`` entry younger
than the lockout period with no unlock after it, and attempts are counted from the
entries since the last lock, unlock or (for a name) successful sign-in. So the state
survives a restart, is shared by every server on one database, and cannot be quietly
edited (the table is append-only, like the audit log).

Counted before the password is checked, atomically: ``reserve`` checks the locks and
the counts and logs the attempt (``sign_in_started``) in one transaction that holds
the database's write lock (SQLite ``BEGIN IMMEDIATE``, a PostgreSQL advisory lock),
so of a burst of parallel attempts no more than the limit are checked, and the one
after them locks the name. An attempt counts until it succeeds.

A user name is locked whether or not an account has it, and the message is the same
for both: a locked name says nothing about which names exist. A locked name or
address is refused before any password is checked.

After an admin unlocks a name it has a grace period (``SignInLimits.unlock_grace``)
in which failures do not lock the name for everyone, only for the address they come
from (``account_address_locked``): nobody can keep an admin out by failing five times
after each unlock, and a guesser still gets only five tries an address.

A loopback address (127.0.0.1, ::1) is never locked as a whole, only logged: every
person at the server's own machine shares it, and so does every request through a
proxy that is not trusted to pass the browser's address on (server.py), so locking
it would let one guesser lock the whole office out. The locks on names still apply.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from typing import cast

from sqlalchemy import ColumnElement, and_, func, or_, select, text
from sqlalchemy.orm import Session

from clearance.web.db import SecurityEvent, User
from clearance.web.security import is_loopback_host
from clearance.web.settings import Settings, local_time

STARTED = "sign_in_started"  # a password about to be checked: counted at once
FAILED = "sign_in_failed"
SUCCEEDED = "sign_in_succeeded"
REFUSED = "sign_in_refused"
ACCOUNT_LOCKED = "account_locked"
PAIR_LOCKED = "account_address_locked"  # a name from one address, in the grace period
ADDRESS_LOCKED = "address_locked"
ACCOUNT_UNLOCKED = "account_unlocked"
ADDRESS_UNLOCKED = "address_unlocked"
COMMAND_LINE = "(command line)"
# One reservation at a time in this process (the database lock orders processes).
_gate = threading.Lock()
_ADVISORY_KEY = 0x636C_6561_7201  # the PostgreSQL advisory lock sign-ins take


@dataclass(frozen=True)
class Lock:
    """A lock in force: on a user name (``name_key``, for every address, or for one
    ``address`` in the grace period after an unlock) or on a client ``address``."""

    kind: str  # account | address
    value: str  # the name key or the address
    locked_at: dt.datetime
    until: dt.datetime
    account: str | None = None  # the account's name, when an account has the locked name
    address: str | None = None  # an account lock that holds only for this address

    def message(self, zone: dt.tzinfo = dt.UTC) -> str:
        """What the sign-in page says: the same words for any name, known or not (the
        time in the app's zone)."""
        return (
            "too many failed sign-ins: sign-in is refused until "
            f"{local_time(self.until, zone, '%H:%M %Z')}; an administrator can lift this sooner"
        )


def _latest(db: Session, *where: ColumnElement[bool]) -> SecurityEvent | None:
    return db.scalars(
        select(SecurityEvent).where(*where).order_by(SecurityEvent.id.desc()).limit(1)
    ).first()


def _is(event: str | tuple[str, ...], **values: str) -> ColumnElement[bool]:
    events = (event,) if isinstance(event, str) else event
    matches = (getattr(SecurityEvent, k) == v for k, v in values.items())
    return and_(SecurityEvent.event.in_(events), *matches)


def _name_lock(db: Session, name_key: str) -> SecurityEvent | None:
    """The latest lock or unlock of a name (for every address)."""
    return _latest(db, _is((ACCOUNT_LOCKED, ACCOUNT_UNLOCKED), name_key=name_key))


def _pair_lock(db: Session, name_key: str, address: str) -> SecurityEvent | None:
    """The latest lock of a name from one address, or unlock of the name."""
    return _latest(
        db,
        or_(
            _is(PAIR_LOCKED, name_key=name_key, address=address),
            _is(ACCOUNT_UNLOCKED, name_key=name_key),
        ),
    )


def _address_lock(db: Session, address: str) -> SecurityEvent | None:
    return _latest(db, _is((ADDRESS_LOCKED, ADDRESS_UNLOCKED), address=address))


def _in_force(
    settings: Settings, last: SecurityEvent | None, kind: str, value: str, now: dt.datetime
) -> Lock | None:
    if last is None or last.event not in (ACCOUNT_LOCKED, PAIR_LOCKED, ADDRESS_LOCKED):
        return None
    until = last.at + settings.sign_in.lockout
    if until <= now:
        return None
    address = last.address if last.event == PAIR_LOCKED else None
    return Lock(kind, value, last.at, until, last.account, address)


def lock_for(db: Session, settings: Settings, name_key: str, address: str) -> Lock | None:
    """The lock that refuses this sign-in (the name's, then the name's from this
    address, then the address's), if any."""
    now = settings.clock()
    return (
        _in_force(settings, _name_lock(db, name_key), "account", name_key, now)
        or _in_force(settings, _pair_lock(db, name_key, address), "account", name_key, now)
        or _in_force(settings, _address_lock(db, address), "address", address, now)
    )


def in_grace(db: Session, settings: Settings, name_key: str, now: dt.datetime) -> bool:
    """Whether the name was unlocked by an admin less than the grace period ago."""
    unlock = _latest(db, _is(ACCOUNT_UNLOCKED, name_key=name_key))
    return unlock is not None and unlock.at > now - settings.sign_in.unlock_grace


def _count(
    db: Session,
    settings: Settings,
    now: dt.datetime,
    event: str,
    after: list[SecurityEvent | None],
    **where: str,
) -> int:
    """Entries of ``event`` within the window and after every entry of ``after``."""
    query = (
        select(func.count())
        .select_from(SecurityEvent)
        .where(_is(event, **where), SecurityEvent.at > now - settings.sign_in.window)
    )
    start = max((e.id for e in after if e is not None), default=None)
    if start is not None:
        query = query.where(SecurityEvent.id > start)
    return db.scalar(query) or 0


def _unresolved(
    db: Session, settings: Settings, now: dt.datetime, after: list[SecurityEvent | None], **where
) -> int:
    """Attempts that have not succeeded (failed, refused while busy, or still being
    checked): each attempt is a ``sign_in_started`` entry, each success one more entry."""
    started = _count(db, settings, now, STARTED, after, **where)
    return started - _count(db, settings, now, SUCCEEDED, after, **where)


def _lock_if_due(
    db: Session,
    settings: Settings,
    now: dt.datetime,
    counting: str,
    name_key: str,
    address: str,
    account: str | None,
) -> None:
    """Lock the name (or, in its grace period, the name from this address) and the
    address when their counts have reached the limits. ``counting`` is ``STARTED``
    before a password is checked (attempts not yet succeeded) or ``FAILED`` after."""
    limits = settings.sign_in

    def count(after: list[SecurityEvent | None], **where: str) -> int:
        if counting == STARTED:
            return _unresolved(db, settings, now, after, **where)
        return _count(db, settings, now, FAILED, after, **where)

    success = _latest(db, _is(SUCCEEDED, name_key=name_key))
    within = f"within {_minutes(limits.window)}"
    if not in_grace(db, settings, name_key, now):
        last = _name_lock(db, name_key)
        if _in_force(settings, last, "account", name_key, now) is None:
            failures = count([last, success], name_key=name_key)
            if failures >= limits.account_failures:
                _add(db, ACCOUNT_LOCKED, now, account=account, name_key=name_key,
                     address=address, note=f"{failures} failed sign-ins {within}")  # fmt: skip
    else:
        last = _pair_lock(db, name_key, address)
        if _in_force(settings, last, "account", name_key, now) is None:
            failures = count([last, success], name_key=name_key, address=address)
            if failures >= limits.account_failures:
                note = f"{failures} failed sign-ins from this address {within}, after an unlock"
                _add(db, PAIR_LOCKED, now, account=account, name_key=name_key,
                     address=address, note=note)  # fmt: skip
    if is_loopback_host(address):
        return
    last = _address_lock(db, address)
    if _in_force(settings, last, "address", address, now) is None:
        failures = count([last], address=address)
        if failures >= limits.address_failures:
            note = f"{failures} failed sign-ins from it {within}"
            _add(db, ADDRESS_LOCKED, now, address=address, note=note)


def _add(db: Session, event: str, now: dt.datetime, **values: str | None) -> None:
    db.add(SecurityEvent(event=event, at=now, **values))
    db.flush()  # the next count sees it


def _exclusive(db: Session) -> None:
    """Start a transaction that holds the database's write lock until it commits, so
    that what is counted cannot change before the attempt is logged. SQLite: BEGIN
    IMMEDIATE (other writers wait, readers do not); PostgreSQL: an advisory lock."""
    db.commit()
    dialect = db.get_bind().dialect.name
    if dialect == "sqlite":
        db.execute(text("BEGIN IMMEDIATE"))
    elif dialect == "postgresql":
        db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_KEY})


def reserve(
    db: Session, settings: Settings, name_key: str, address: str, account: str | None
) -> Lock | None:
    """Before a password is checked: the lock that refuses this attempt (logged as
    refused), or None, the attempt now logged and counted. One transaction, committed."""
    with _gate:
        _exclusive(db)
        try:
            now = settings.clock()
            lock = lock_for(db, settings, name_key, address)
            if lock is None:  # the limit reached by attempts still being checked
                _lock_if_due(db, settings, now, STARTED, name_key, address, account)
                lock = lock_for(db, settings, name_key, address)
            if lock is not None:
                refused(db, settings, lock, name_key, address, account)
            else:
                _add(db, STARTED, now, account=account, name_key=name_key, address=address)
            db.commit()
        except BaseException:
            db.rollback()
            raise
    return lock


def refused(
    db: Session,
    settings: Settings,
    lock: Lock | None,
    name_key: str,
    address: str,
    account: str | None,
    *,
    note: str = "",
) -> None:
    """Log a sign-in refused because of a lock (its password was not checked)."""
    if lock is not None:
        where = f" from {lock.address}" if lock.address else ""
        note = f"{lock.kind}{where} locked until {lock.until:%Y-%m-%d %H:%M} UTC"
    _add(db, REFUSED, settings.clock(), account=account, name_key=name_key, address=address,
         note=note)  # fmt: skip


def failed(
    db: Session, settings: Settings, name_key: str, address: str, account: str | None
) -> Lock | None:
    """Log a failed sign-in; lock the name or the address when it is one too many.
    Committed; returns the lock now in force, if any."""
    with _gate:
        _exclusive(db)
        try:
            now = settings.clock()
            _add(db, FAILED, now, account=account, name_key=name_key, address=address)
            _lock_if_due(db, settings, now, FAILED, name_key, address, account)
            lock = lock_for(db, settings, name_key, address)
            db.commit()
        except BaseException:
            db.rollback()
            raise
    return lock


def succeeded(db: Session, settings: Settings, user: User, name_key: str, address: str) -> None:
    """Log a successful sign-in (which starts the name's failure count again)."""
    _add(db, SUCCEEDED, settings.clock(), account=user.username, name_key=name_key,
         address=address)  # fmt: skip


def unlock_account(
    db: Session, settings: Settings, name_key: str, *, by: User | None, account: str | None
) -> bool:
    """Lift the locks on a user name (for every address, and from any one address);
    False if it was not locked. Logged with who did it; starts the grace period."""
    if not any(lock.kind == "account" and lock.value == name_key for lock in locks(db, settings)):
        return False
    _add(db, ACCOUNT_UNLOCKED, settings.clock(), account=account, name_key=name_key,
         by_username=by.username if by else COMMAND_LINE)  # fmt: skip
    return True


def unlock_address(db: Session, settings: Settings, address: str, *, by: User | None) -> bool:
    """Lift the lock on a client address; False if it was not locked. Logged."""
    now = settings.clock()
    if _in_force(settings, _address_lock(db, address), "address", address, now) is None:
        return False
    _add(db, ADDRESS_UNLOCKED, now, address=address,
         by_username=by.username if by else COMMAND_LINE)  # fmt: skip
    return True


def locks(db: Session, settings: Settings) -> list[Lock]:
    """Every lock in force now, newest first (for the admin pages)."""
    now = settings.clock()
    recent = db.scalars(
        select(SecurityEvent)
        .where(
            SecurityEvent.event.in_((ACCOUNT_LOCKED, PAIR_LOCKED, ADDRESS_LOCKED)),
            SecurityEvent.at > now - settings.sign_in.lockout,
        )
        .order_by(SecurityEvent.id.desc())
    ).all()
    found: dict[tuple[str, str, str | None], Lock] = {}
    for e in recent:
        if e.event == ADDRESS_LOCKED:
            if e.address is None or ("address", e.address, None) in found:
                continue
            lock = _in_force(settings, _address_lock(db, e.address), "address", e.address, now)
        elif e.name_key is None or (e.address is None and e.event == PAIR_LOCKED):
            continue
        elif e.event == ACCOUNT_LOCKED:
            if ("account", e.name_key, None) in found:
                continue
            lock = _in_force(settings, _name_lock(db, e.name_key), "account", e.name_key, now)
        else:
            address = cast(str, e.address)  # PAIR_LOCKED with an address (the elif above)
            if ("account", e.name_key, address) in found:
                continue
            last = _pair_lock(db, e.name_key, address)
            lock = _in_force(settings, last, "account", e.name_key, now)
        if lock is not None:
            found[(lock.kind, lock.value, lock.address)] = lock
    return list(found.values())


def _minutes(span: dt.timedelta) -> str:
    minutes = round(span.total_seconds() / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"
