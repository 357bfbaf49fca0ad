"""Local accounts: argon2 password hashes, three roles, and who may do what.

Roles (docs/web.md, "Accounts"): an *analyst* uploads extracts, starts (and
cancels) runs, reads results and opens a conviction for review; an *attorney* can
do all of that and is the only one who decides a review; an *admin* manages
accounts and deletes runs (and can read and run, but not decide). Every account
change is written to the audit log.
"""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from clearance.web.db import ROLES, SessionRow, User, audit_entry

MIN_PASSWORD = 12
USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$")

_hasher = PasswordHasher()
_dummy: tuple[PasswordHasher, str] | None = None

# What each role may do; routes ask `can(user, permission)`.
PERMISSIONS: dict[str, frozenset[str]] = {
    "analyst": frozenset({"read", "run", "upload", "open_review"}),
    "attorney": frozenset({"read", "run", "upload", "open_review", "decide_review"}),
    "admin": frozenset({"read", "run", "upload", "open_review", "manage_users", "delete_run"}),
}


class AccountError(ValueError):
    """An account request that cannot be carried out; the message says why."""


def can(user: User | None, permission: str) -> bool:
    return user is not None and user.active and permission in PERMISSIONS.get(user.role, ())


def check_username(name: str) -> str:
    name = name.strip()
    if not USERNAME_RE.match(name):
        raise AccountError(
            "a user name is 2 to 64 letters, digits, '.', '_' or '-', starting with a letter "
            "or digit"
        )
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")
    return password


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}; choose one of: {', '.join(ROLES)}")
    return role


def hash_password(password: str) -> str:
    return _hasher.hash(check_password(password))


def dummy_hash() -> str:
    """A hash verified when the name is unknown, made with the hasher's own parameters, so
    a wrong name costs what a wrong password does (made on first use, not on import)."""
    global _dummy
    if _dummy is None or _dummy[0] is not _hasher:
        _dummy = (_hasher, _hasher.hash("clearance-no-such-user"))
    return _dummy[1]


def find(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.username) == username.lower()))


def create_user(
    session: Session, username: str, role: str, password: str, *, by: User | None = None
) -> User:
    """Add an account (names are unique regardless of case) and log who added it."""
    username = check_username(username)
    check_role(role)
    if find(session, username) is not None:
        raise AccountError(f"a user named {username!r} already exists")
    user = User(username=username, role=role, password_hash=hash_password(password))
    session.add(user)
    session.flush()
    _log(session, by, "user_created", f"{username} created with role {role}")
    return user


def hash_to_check(user: User | None) -> str:
    """The hash a sign-in verifies: the account's, or the dummy one for an unknown name."""
    return user.password_hash if user is not None else dummy_hash()


def verify(password_hash: str, password: str) -> bool:
    """Whether the password matches the hash (argon2: a third of a second, 64 MB; the
    web app calls it in a worker thread, a bounded number at a time)."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def rehashed(password_hash: str, password: str) -> str | None:
    """A new hash of a verified password when the hasher's parameters have changed."""
    return _hasher.hash(password) if _hasher.check_needs_rehash(password_hash) else None


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with this name and password, or None (same cost either way)."""
    user = find(session, username.strip())
    if not verify(hash_to_check(user), password) or user is None or not user.active:
        return None
    new_hash = rehashed(user.password_hash, password)
    if new_hash is not None:
        user.password_hash = new_hash
    return user


def change_user(
    session: Session,
    user: User,
    *,
    by: User | None,
    role: str | None = None,
    active: bool | None = None,
    password: str | None = None,
    keep_session: str | None = None,
) -> None:
    """Change a role, enable or disable, or set a new password; logged. Keeps one admin.

    Any of these ends every session of the account (``end_sessions``), except
    ``keep_session`` (the id of the session making the change, when people change
    their own account), so an old cookie cannot act under the old password or role.
    """
    changes = []
    if role is not None and role != user.role:
        check_role(role)
        _keep_an_admin(session, user, losing=user.role == "admin")
        changes.append(f"role {user.role} -> {role}")
        user.role = role
    if active is not None and active != user.active:
        if not active:
            _keep_an_admin(session, user, losing=user.role == "admin")
        changes.append("enabled" if active else "disabled")
        user.active = active
    if password is not None:
        user.password_hash = hash_password(password)
        changes.append("password set")
    if changes:
        ended = end_sessions(session, user, keep=keep_session)
        if ended:
            changes.append(f"{ended} session{'s' if ended != 1 else ''} ended")
        _log(session, by, "user_changed", f"{user.username}: {', '.join(changes)}")


def end_sessions(session: Session, user: User, *, keep: str | None = None) -> int:
    """Sign the account out everywhere: raise its session epoch (a session made under an
    older one is refused, even one a sign-in in flight creates a moment later) and delete
    its sessions. ``keep`` (a session id) stays signed in. Returns how many ended."""
    user.session_epoch = (user.session_epoch or 0) + 1
    session.flush()
    query = delete(SessionRow).where(SessionRow.user_id == user.id)
    if keep is not None:
        query = query.where(SessionRow.id != keep)
        kept = session.get(SessionRow, keep)
        if kept is not None and kept.user_id == user.id:
            kept.epoch = user.session_epoch
    ended = session.execute(query).rowcount or 0
    session.flush()
    return ended


def _keep_an_admin(session: Session, user: User, *, losing: bool) -> None:
    if not losing:
        return
    others = session.scalar(
        select(func.count())
        .select_from(User)
        .where(User.role == "admin", User.active, User.id != user.id)
    )
    if not others:
        raise AccountError("this is the only active admin; make another admin first")


def _log(session: Session, by: User | None, action: str, note: str) -> None:
    session.add(audit_entry(by, action, note=note))
