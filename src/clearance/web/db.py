"""The web app's tables (SQLAlchemy), SQLite by default, PostgreSQL by URL.

The audit log is the record of who decided what about a person's conviction, so it
is append-only three times over: the app has no code path that updates or deletes
an entry, the ORM refuses to flush a change to one, and the database itself refuses
UPDATE and DELETE (SQLite and PostgreSQL triggers) and any INSERT that would replace
an entry (SQLite's REPLACE, INSERT OR REPLACE), so even a hand-written SQL statement
cannot rewrite history. The security log (sign-ins, lockouts, unlocks) and the
tombstones of deleted runs are kept the same way.

Each audit entry is also chained to the one before it: it stores the SHA-256 of its
own content together with the previous entry's hash (``entry_digest``), so a rewrite
by hand, even with the triggers dropped, breaks the chain at that entry, and
``clearance audit verify`` (``clearance.web.audit``) names it. Entries are chained as
they are flushed, under a lock on the one-row ``audit_chain_head`` table (which also
records the last entry written, so entries removed from the end are noticed too).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from collections.abc import Mapping
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
from sqlalchemy.engine import Connection, Engine
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
CHAIN_HEAD_TABLE = "audit_chain_head"
GENESIS = "0" * 64  # the "previous hash" of the first entry


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
    # Whether the check read the whole file (else its counties are counted from its start).
    checked_whole: Mapped[bool] = mapped_column(Boolean, default=False)
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
    """One line of the audit log: who, when, what, why. Never updated, never deleted.

    ``prev_hash`` is the previous entry's ``entry_hash`` (``GENESIS`` for the first),
    ``entry_hash`` the SHA-256 of this entry's content and ``prev_hash``; both are set
    when the entry is flushed. ``request_key`` is the idempotency token of the form
    that made a decision: a form posted twice records one entry.
    """

    __tablename__ = AUDIT_TABLE
    __table_args__ = (
        Index("ix_audit_log_review", "run_id", "subject_id", "cnt_order", "action", "id"),
        Index("ix_audit_log_run_action", "run_id", "action", "id"),
        Index("ux_audit_log_request_key", "request_key", unique=True),
        Index("ux_audit_log_prev_hash", "prev_hash", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    username: Mapped[str] = mapped_column(String(64))  # as it was when the entry was made
    role: Mapped[str] = mapped_column(String(16))
    # review_opened | review_decided | run_created | run_cancelled | run_deleted |
    # upload_deleted | office_saved | user_created | user_changed | person_viewed |
    # downloaded | sheet_created | sheet_deleted
    action: Mapped[str] = mapped_column(String(32))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"), nullable=True)
    subject_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    cnt_order: Mapped[str | None] = mapped_column(String(32), nullable=True)
    engine_determination: Mapped[str | None] = mapped_column(String(16), nullable=True)
    decision: Mapped[str | None] = mapped_column(String(16), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    request_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    entry_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)


# What an entry's hash covers, besides the previous entry's hash: every column.
HASHED_FIELDS = (
    "id",
    "at",
    "user_id",
    "username",
    "role",
    "action",
    "run_id",
    "subject_id",
    "cnt_order",
    "engine_determination",
    "decision",
    "note",
    "request_key",
)


def _canonical_time(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):  # a driver that hands back text
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def entry_digest(values: Mapping[str, Any], prev_hash: str) -> str:
    """The SHA-256 of an entry's content (``HASHED_FIELDS``) and the previous hash, as
    canonical JSON (sorted keys, no spaces, UTF-8)."""
    content = {name: values[name] for name in HASHED_FIELDS}
    content["at"] = _canonical_time(content["at"])
    content["prev_hash"] = prev_hash
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class AuditChainHead(Base):
    """One row: the last audit entry written and its hash. Updated with every entry
    (in the same transaction); locking it serialises the chain."""

    __tablename__ = CHAIN_HEAD_TABLE

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_id: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64), default=GENESIS)


# Threads of one process that append wait for each other here, woken as soon as the
# lock is free, rather than in SQLite's busy handler, which polls with sleeps of up to
# 0.1 s and lets a newcomer in before a thread that has waited long.
_APPENDING = threading.Lock()
_APPEND_WAIT = 30.0  # then the thread goes on to wait in the database, as any writer


def lock_audit(session: Session) -> None:
    """Take the audit log's write lock for the rest of the transaction (the head row):
    whoever appends next waits until this transaction ends, so what is read from the
    log after this call stays the latest until the commit."""
    if not session.info.get("appending") and _APPENDING.acquire(timeout=_APPEND_WAIT):
        session.info["appending"] = True
    session.execute(
        text(f"UPDATE {CHAIN_HEAD_TABLE} SET last_id = last_id WHERE id = 1"),
        execution_options={"synchronize_session": False},
    )


@event.listens_for(Session, "after_transaction_end")
def _appended(session: Session, transaction: Any) -> None:
    """The transaction that appended has ended (committed or not): let the next one in."""
    if transaction.parent is None and session.info.pop("appending", False):
        _APPENDING.release()


@event.listens_for(Session, "before_flush")
def _chain_new_entries(session: Session, _context: Any, _instances: Any) -> None:
    """Give each new audit entry its id, time and place in the hash chain."""
    new = [obj for obj in session.new if isinstance(obj, AuditEntry)]
    if not new:
        return
    lock_audit(session)
    head = session.execute(
        select(AuditEntry.id, AuditEntry.entry_hash).order_by(AuditEntry.id.desc()).limit(1),
        execution_options={"autoflush": False},
    ).first()
    last_id, last_hash = (head[0], head[1] or GENESIS) if head else (0, GENESIS)
    for entry in new:
        last_id += 1
        entry.id = last_id
        entry.at = entry.at or utcnow()
        entry.note = entry.note if entry.note is not None else ""
        entry.prev_hash = last_hash
        entry.entry_hash = last_hash = entry_digest(
            {name: getattr(entry, name) for name in HASHED_FIELDS}, entry.prev_hash
        )
    session.execute(
        text(f"UPDATE {CHAIN_HEAD_TABLE} SET last_id = :id, last_hash = :hash WHERE id = 1"),
        {"id": last_id, "hash": last_hash},
        execution_options={"synchronize_session": False},
    )


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


# The database half: triggers that abort any UPDATE or DELETE, whoever sends it, and
# (SQLite) any INSERT that names an existing row's key: REPLACE and INSERT OR REPLACE
# delete the row in the way without firing DELETE triggers (unless recursive_triggers
# is on, which a hand-opened database does not have), so they are refused before that.
# An audit entry must also come after the last one and carry its hashes.
_UNIQUE_KEYS = {
    AUDIT_TABLE: ("id", "request_key", "prev_hash"),
    SECURITY_TABLE: ("id",),
    TOMBSTONE_TABLE: ("id", "run_id"),
}
_AUDIT_INSERT_RULES = (
    "NEW.id IS NULL OR NEW.entry_hash IS NULL OR NEW.prev_hash IS NULL "
    f"OR NEW.id <= (SELECT coalesce(max(id), 0) FROM {AUDIT_TABLE}) OR "
)
_SQLITE_TRIGGERS = [
    *(
        f"""CREATE TRIGGER IF NOT EXISTS {table}_no_{verb.lower()}
        BEFORE {verb} ON {table}
        BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"""
        for table in APPEND_ONLY_TABLES
        for verb in ("UPDATE", "DELETE")
    ),
    *(
        f"""CREATE TRIGGER IF NOT EXISTS {table}_no_replace
        BEFORE INSERT ON {table}
        WHEN {_AUDIT_INSERT_RULES if table == AUDIT_TABLE else ""}{
            " OR ".join(f"EXISTS (SELECT 1 FROM {table} WHERE {key} = NEW.{key})" for key in keys)
        }
        BEGIN SELECT RAISE(ABORT, '{table} is append-only: an entry is never replaced'); END"""
        for table, keys in _UNIQUE_KEYS.items()
    ),
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
    # REPLACE's implicit deletion fires DELETE triggers too (the INSERT trigger refuses
    # it first anyway; this covers our own connections twice).
    cursor.execute("PRAGMA recursive_triggers=ON")
    cursor.close()


# Columns added since the first release: a database made before them gains them on start.
_ADDED_COLUMNS = (
    ("users", "session_epoch", "INTEGER NOT NULL DEFAULT 0"),
    ("sessions", "epoch", "INTEGER NOT NULL DEFAULT 0"),
    ("uploads", "checked_whole", "BOOLEAN NOT NULL DEFAULT FALSE"),
)


def _add_missing_columns(engine: Engine) -> None:
    inspector = inspect(engine)
    with engine.begin() as connection:
        for table, column, declaration in _ADDED_COLUMNS:
            if column not in {c["name"] for c in inspector.get_columns(table)}:
                connection.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}"))


def make_engine(url: str, *, pool_size: int = 5) -> Engine:
    """An engine for the URL, with the tables, the audit triggers and the hash chain in
    place (an audit log of an older version is chained once, ``_chain_existing``).

    ``pool_size`` connections are kept (and as many again may be opened for a moment):
    the app sizes it to its thread pool, so a thread never waits for a connection that
    another thread holds while it waits for something else."""
    pool = {"pool_size": pool_size, "max_overflow": pool_size}
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False}, **pool)
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True, **pool)
    with engine.begin() as connection:
        legacy = _add_chain_columns(connection)
    Base.metadata.create_all(engine)
    _add_missing_columns(engine)
    statements = {"sqlite": _SQLITE_TRIGGERS, "postgresql": _POSTGRES_TRIGGERS}.get(
        engine.dialect.name, []
    )
    with engine.begin() as connection:
        if legacy:
            _chain_existing(connection)
        if connection.execute(select(AuditChainHead.id)).first() is None:
            connection.execute(AuditChainHead.__table__.insert().values(id=1))
        for statement in statements:
            connection.execute(text(statement))
    return engine


_CHAIN_COLUMNS = ("request_key", "prev_hash", "entry_hash")


def _add_chain_columns(connection: Connection) -> bool:
    """Add the chain's columns to an audit log made before them; True if it had to."""
    inspector = inspect(connection)
    if not inspector.has_table(AUDIT_TABLE):
        return False
    have = {c["name"] for c in inspector.get_columns(AUDIT_TABLE)}
    missing = [c for c in _CHAIN_COLUMNS if c not in have]
    for column in missing:
        connection.execute(text(f"ALTER TABLE {AUDIT_TABLE} ADD COLUMN {column} VARCHAR(64)"))
    for index in AuditEntry.__table__.indexes:
        index.create(connection, checkfirst=True)
    return bool(missing)


def _chain_existing(connection: Connection) -> None:
    """Chain the entries of an audit log written before the chain existed, once, when
    its columns are added (the triggers that refuse UPDATE are lifted for this only;
    they are put back by ``make_engine`` in the same transaction)."""
    if connection.dialect.name == "sqlite":
        connection.execute(text(f"DROP TRIGGER IF EXISTS {AUDIT_TABLE}_no_update"))
    elif connection.dialect.name == "postgresql":
        connection.execute(
            text(f"DROP TRIGGER IF EXISTS {AUDIT_TABLE}_append_only ON {AUDIT_TABLE}")
        )
    table = AuditEntry.__table__
    last_id, last_hash = 0, GENESIS
    rows = connection.execute(select(table).order_by(table.c.id)).mappings().all()
    for row in rows:
        digest = entry_digest(row, last_hash)
        connection.execute(
            table.update()
            .where(table.c.id == row["id"])
            .values(prev_hash=last_hash, entry_hash=digest)
        )
        last_id, last_hash = row["id"], digest
    head = AuditChainHead.__table__
    connection.execute(head.delete())
    connection.execute(head.insert().values(id=1, last_id=last_id, last_hash=last_hash))


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def any_user(session: Session) -> bool:
    """Whether any account exists (the server binds beyond loopback only then)."""
    return session.scalar(select(User.id).limit(1)) is not None
