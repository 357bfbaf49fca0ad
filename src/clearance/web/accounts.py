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
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clearance.web.db import ROLES, User, audit_entry

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


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with this name and password, or None (same cost either way)."""
    user = find(session, username.strip())
    try:
        _hasher.verify(user.password_hash if user else dummy_hash(), password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def change_user(
    session: Session,
    user: User,
    *,
    by: User | None,
    role: str | None = None,
    active: bool | None = None,
    password: str | None = None,
) -> None:
    """Change a role, enable or disable, or set a new password; logged. Keeps one admin."""
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
        _log(session, by, "user_changed", f"{user.username}: {', '.join(changes)}")


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
