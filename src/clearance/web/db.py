"""The web app's tables (SQLAlchemy), SQLite by default, PostgreSQL by URL.

The audit log is the record of who decided what about a person's conviction, so it
is append-only three times over: the app has no code path that updates or deletes
an entry, the ORM refuses to flush a change to one, and the database itself refuses
UPDATE and DELETE (SQLite and PostgreSQL triggers), so even a hand-written SQL
statement cannot rewrite history. The security log (sign-ins, lockouts, unlocks)
and the tombstones of deleted runs are kept the same way.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    create_engine,
    event,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

ROLES = ("analyst", "attorney", "admin")
# A run is queued, then running, then done or failed; "cancelling" is a running run
# asked to stop, "cancelled" one that stopped; "deleted" keeps only its tombstone.
RUN_STATES = ("queued", "running", "cancelling", "done", "failed", "cancelled", "deleted")
ACTIVE_STATES = ("queued", "running", "cancelling")
REVIEW_DECISIONS = ("dismiss", "reduce", "not_eligible")
AUDIT_TABLE = "audit_log"
SECURITY_TABLE = "security_log"
TOMBSTONE_TABLE = "run_tombstones"
APPEND_ONLY_TABLES = (AUDIT_TABLE, SECURITY_TABLE, TOMBSTONE_TABLE)


def utcnow() -> dt.datetime:
    """Now, in UTC, without a zone (stored the same way in SQLite and PostgreSQL)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(256))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # Raised by a new password, a new role or disabling the account: every session made
    # under an older epoch is over (accounts.end_sessions).
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class SessionRow(Base):
    """A signed-in browser; the cookie holds a signed random token, the table its hash."""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the token
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # the user's


class Upload(Base):
    """An extract file stored in the data directory, checked when it arrived."""

    __tablename__ = "uploads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    filename: Mapped[str] = mapped_column(String(255))
    path: Mapped[str] = mapped_column(String(512))  # relative to the data directory
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    counties_json: Mapped[str] = mapped_column(Text, default="[]")
    checked_bytes: Mapped[int] = mapped_column(Integer, default=0)
    uploaded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    @property
    def counties(self) -> list[dict[str, Any]]:
        return json.loads(self.counties_json)


class Run(Base):
    """One run of the engine: its settings, its state and where its folder is."""

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    state: Mapped[str] = mapped_column(String(16), default="queued")
    county: Mapped[str] = mapped_column(String(64))
    policy_name: Mapped[str] = mapped_column(String(128))
    policy_source: Mapped[str] = mapped_column(String(128))
    policy_json: Mapped[str] = mapped_column(Text)
    as_of: Mapped[str] = mapped_column(String(10))  # YYYY-MM-DD
    inputs_json: Mapped[str] = mapped_column(Text)
    total_bytes: Mapped[int] = mapped_column(Integer, default=0)
    done_bytes: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)

    @property
    def inputs(self) -> list[dict[str, Any]]:
        return json.loads(self.inputs_json)

    @property
    def policy(self) -> dict[str, Any]:
        return json.loads(self.policy_json)

    @property
    def folder(self) -> str:
        """The run's folder, relative to the data directory."""
        return f"runs/{self.id}"


class AuditEntry(Base):
    """One line of the audit log: who, when, what, why. Never updated, never deleted."""

    __tablename__ = AUDIT_TABLE

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    username: Mapped[str] = mapped_column(String(64))  # as it was when the entry was made
    role: Mapped[str] = mapped_column(String(16))
    # review_opened | review_decided | run_created | run_cancelled | run_deleted |
    # upload_deleted | office_saved | user_created | user_changed
    action: Mapped[str] = mapped_column(String(32))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"), nullable=True)
    subject_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    cnt_order: Mapped[str | None] = mapped_column(String(32), nullable=True)
    engine_determination: Mapped[str | None] = mapped_column(String(16), nullable=True)
    decision: Mapped[str | None] = mapped_column(String(16), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")


def audit_entry(by: User | None, action: str, **fields: Any) -> AuditEntry:
    """An audit-log entry made by ``by`` (None: the command line); the account's name and
    role are copied in, so the entry still says who it was after the account changes."""
    return AuditEntry(
        user_id=by.id if by else None,
        username=by.username if by else "(command line)",
        role=by.role if by else "-",
        action=action,
        **fields,
    )


class SecurityEvent(Base):
    """One line of the security log: a sign-in, a lockout or an unlock. Never changed.

    ``name_key`` identifies the user name that was typed (an HMAC under the data
    directory's secret, ``security.Tokens.name_key``), so failures for one name can be
    counted, and locked, whether or not an account has it, without writing down what
    was typed (people type passwords into the name field). ``account`` is the
    account's name when one has it. A password is never recorded.
    """

    __tablename__ = SECURITY_TABLE
    __table_args__ = (
        Index("ix_security_log_name_key", "name_key", "id"),
        Index("ix_security_log_address", "address", "id"),
        Index("ix_security_log_event", "event", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    # sign_in_failed | sign_in_succeeded | sign_in_refused | account_locked |
    # address_locked | account_unlocked | address_unlocked
    event: Mapped[str] = mapped_column(String(32))
    account: Mapped[str | None] = mapped_column(String(64), nullable=True)
    name_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    by_username: Mapped[str | None] = mapped_column(String(64), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")


class RunTombstone(Base):
    """What is kept of a deleted run: who deleted it, when, why, and what it was made
    from (file names, SHA-256, sizes) and how many rows, people and convictions it
    counted. No personal data: the run's files are gone from the disk."""

    __tablename__ = TOMBSTONE_TABLE

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), unique=True)
    deleted_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    deleted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    username: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))  # the run's state when it was deleted
    inputs_json: Mapped[str] = mapped_column(Text)
    counts_json: Mapped[str] = mapped_column(Text)

    @property
    def inputs(self) -> list[dict[str, Any]]:
        return json.loads(self.inputs_json)

    @property
    def counts(self) -> dict[str, Any]:
        return json.loads(self.counts_json)


class AppendOnlyError(RuntimeError):
    """An attempt to change or remove an entry of an append-only table."""


_APPEND_ONLY = (AuditEntry, SecurityEvent, RunTombstone)


@event.listens_for(Session, "before_flush")
def _refuse_audit_changes(session: Session, _context: Any, _instances: Any) -> None:
    """The ORM half of the guarantee: a changed or deleted entry never reaches the database."""
    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, _APPEND_ONLY) and (obj in session.deleted or session.is_modified(obj)):
            raise AppendOnlyError(
                f"the {obj.__tablename__} table is append-only: entries are never changed"
            )


# The database half: triggers that abort any UPDATE or DELETE, whoever sends it.
_SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER IF NOT EXISTS {table}_no_{verb.lower()}
        BEFORE {verb} ON {table}
        BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"""
    for table in APPEND_ONLY_TABLES
    for verb in ("UPDATE", "DELETE")
]
_POSTGRES_TRIGGERS = [
    """CREATE OR REPLACE FUNCTION clearance_audit_append_only() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$ LANGUAGE plpgsql""",
    *(
        statement
        for table in APPEND_ONLY_TABLES
        for statement in (
            f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
            f"""CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
                FOR EACH ROW EXECUTE FUNCTION clearance_audit_append_only()""",
            f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
            f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
                FOR EACH STATEMENT EXECUTE FUNCTION clearance_audit_append_only()""",
        )
    ),
]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")  # readers (progress polls) never wait on the worker
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


# Columns added since the first release: a database made before them gains them on start.
_ADDED_COLUMNS = (
    ("users", "session_epoch", "INTEGER NOT NULL DEFAULT 0"),
    ("sessions", "epoch", "INTEGER NOT NULL DEFAULT 0"),
)


def _add_missing_columns(engine: Engine) -> None:
    inspector = inspect(engine)
    with engine.begin() as connection:
        for table, column, declaration in _ADDED_COLUMNS:
            if column not in {c["name"] for c in inspector.get_columns(table)}:
                connection.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}"))


def make_engine(url: str, *, pool_size: int = 5) -> Engine:
    """An engine for the URL, with the tables and the audit triggers in place.

    ``pool_size`` connections are kept (and as many again may be opened for a moment):
    the app sizes it to its thread pool, so a thread never waits for a connection."""
    pool = {"pool_size": pool_size, "max_overflow": pool_size}
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False}, **pool)
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True, **pool)
    Base.metadata.create_all(engine)
    _add_missing_columns(engine)
    statements = {"sqlite": _SQLITE_TRIGGERS, "postgresql": _POSTGRES_TRIGGERS}.get(
        engine.dialect.name, []
    )
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))
    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def any_user(session: Session) -> bool:
    """Whether any account exists (the server binds beyond loopback only then)."""
    return session.scalar(select(User.id).limit(1)) is not None
