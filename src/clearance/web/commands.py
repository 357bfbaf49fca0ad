"""``clearance serve`` and ``clearance users``: the web app's command-line side.

Kept apart from cli.py so the command line starts without importing the web
stack: FastAPI, SQLAlchemy and argon2 are imported only when these commands run.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import cast

import typer

from clearance.console import fail, out

DATA_DIR_HELP = "The web app's data directory (default: $CLEARANCE_HOME, else ~/.clearance)."


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (loopback)."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    tls_cert: Path | None = typer.Option(
        None, "--tls-cert", help="TLS certificate (PEM); needed beyond loopback."
    ),
    tls_key: Path | None = typer.Option(None, "--tls-key", help="TLS private key (PEM)."),
    forwarded_allow_ips: str | None = typer.Option(
        None,
        "--forwarded-allow-ips",
        help="Reverse proxies trusted for X-Forwarded-For, comma-separated "
        "(default: $CLEARANCE_FORWARDED_ALLOW_IPS, else none).",
    ),
) -> None:
    """Start the local web app: run, review with an audit trail, download (docs/web.md)."""
    from clearance.web.server import ServeError
    from clearance.web.server import serve as run_server
    from clearance.web.settings import SettingsError, from_environment

    try:
        settings = from_environment(data_dir)
        if forwarded_allow_ips is not None:
            settings = replace(settings, forwarded_allow_ips=forwarded_allow_ips.strip())
        run_server(
            settings,
            host,
            port,
            tls_cert=tls_cert,
            tls_key=tls_key,
            announce=lambda line: out.print(line, markup=False, highlight=False, soft_wrap=True),
        )
    except (ServeError, SettingsError) as exc:
        raise fail(str(exc)) from None
    except OSError as exc:  # the port is taken, the folder is not writable, ...
        raise fail(f"cannot start the server: {exc.strerror or exc}") from None


users_app = typer.Typer(help="Manage the web app's accounts.", no_args_is_help=True)


def _session(data_dir: Path | None):
    from clearance.web.db import make_engine, session_factory
    from clearance.web.settings import from_environment

    settings = from_environment(data_dir).prepare()
    return session_factory(make_engine(settings.database))()


def _name_keys(data_dir: Path | None):
    """The settings, and the function that turns a user name into its security-log key."""
    from clearance.web.security import Tokens, load_secret
    from clearance.web.settings import from_environment

    settings = from_environment(data_dir).prepare()
    return settings, Tokens(load_secret(settings.secret_file)).name_key


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


@users_app.command("add")
def users_add(
    name: str = typer.Argument(..., help="The user name to sign in with."),
    role: str = typer.Option("analyst", "--role", help="analyst, attorney or admin."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from standard input (scripts)."
    ),
) -> None:
    """Add an account (the first one is usually `--role admin`); prompts for the password."""
    from clearance.web.accounts import AccountError, check_role, check_username, create_user

    try:
        check_username(name)
        check_role(role)
    except AccountError as exc:
        raise fail(str(exc)) from None
    password = _password(password_stdin)
    with _session(data_dir) as session:
        try:
            create_user(session, name, role, password)
        except AccountError as exc:
            raise fail(str(exc)) from None
        session.commit()
    out.print(f"added {name} ({role})", markup=False, highlight=False)


@users_app.command("list")
def users_list(
    data_dir: Path | None = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
) -> None:
    """List the accounts: name, role, active or disabled, and any sign-in lock."""
    from sqlalchemy import select

    from clearance.web.db import User
    from clearance.web.throttle import locks

    settings, name_key = _name_keys(data_dir)
    with _session(data_dir) as session:
        locked = {lock.value: lock for lock in locks(session, settings)}
        for user in session.scalars(select(User).order_by(User.username)):
            state = "active" if user.active else "disabled"
            lock = locked.get(name_key(user.username))
            if lock is not None:
                state += f"\tlocked until {lock.until:%Y-%m-%d %H:%M} UTC"
                if lock.address:
                    state += f" from {lock.address}"
            out.print(f"{user.username}\t{user.role}\t{state}", markup=False, highlight=False)


@users_app.command("unlock")
def users_unlock(
    name: str | None = typer.Argument(None, help="The user name whose sign-in lock to lift."),
    address: str | None = typer.Option(
        None, "--address", help="Lift the lock on a client address instead."
    ),
    data_dir: Path | None = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
) -> None:
    """Lift a sign-in lock (after too many failed sign-ins) at once; logged."""
    from clearance.web.accounts import find
    from clearance.web.throttle import unlock_account, unlock_address

    if (name is None) == (address is None):
        raise fail("give a user name, or --address ADDRESS")
    settings, name_key = _name_keys(data_dir)
    with _session(data_dir) as session:
        if address is not None:
            lifted = unlock_address(session, settings, address.strip(), by=None)
            what = f"address {address.strip()}"
        else:
            user = find(session, cast(str, name))  # not None: exactly one of the two
            if user is None:
                raise fail(f"no user named {name!r}")
            key = name_key(user.username)
            lifted = unlock_account(session, settings, key, by=None, account=user.username)
            what = user.username
        session.commit()
    message = f"unlocked {what}" if lifted else f"{what} was not locked"
    out.print(message, markup=False, highlight=False)


@users_app.command("set")
def users_set(
    name: str = typer.Argument(..., help="The user name."),
    role: str | None = typer.Option(None, "--role", help="A new role."),
    disable: bool = typer.Option(False, "--disable", help="Disable the account."),
    enable: bool = typer.Option(False, "--enable", help="Enable the account again."),
    password: bool = typer.Option(False, "--password", help="Set a new password (prompts)."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the new password from standard input."
    ),
    data_dir: Path | None = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
) -> None:
    """Change an account's role, disable or enable it, or set its password."""
    from clearance.web.accounts import AccountError, change_user, find

    if disable and enable:
        raise fail("choose --disable or --enable, not both")
    with _session(data_dir) as session:
        user = find(session, name)
        if user is None:
            raise fail(f"no user named {name!r}")
        new_password = _password(password_stdin) if (password or password_stdin) else None
        try:
            change_user(
                session,
                user,
                by=None,
                role=role,
                active=False if disable else (True if enable else None),
                password=new_password,
            )
        except AccountError as exc:
            raise fail(str(exc)) from None
        session.commit()
    out.print(f"updated {name}", markup=False, highlight=False)


audit_app = typer.Typer(help="Check the web app's audit log.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify(
    data_dir: Path | None = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
) -> None:
    """Check the audit log's hash chain; name the first broken entry (exit 2 if broken).

    Reads only: the database is not changed (not even the triggers put back)."""
    from sqlalchemy import create_engine
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.orm import Session

    from clearance.web.audit import verify
    from clearance.web.settings import SettingsError, from_environment

    try:
        settings = from_environment(data_dir)
    except SettingsError as exc:
        raise fail(str(exc)) from None
    if not settings.database_url and not (settings.data_dir / "clearance.db").is_file():
        raise fail(f"{settings.data_dir}: no database (clearance.db) in this data directory")
    engine = create_engine(settings.database)
    try:
        with Session(engine) as session:
            result = verify(session)
    except SQLAlchemyError as exc:
        raise fail(
            f"cannot read the audit log of {settings.data_dir}: "
            f"{type(getattr(exc, 'orig', None) or exc).__name__} (a database of an older "
            "version is chained when `clearance serve` first opens it)"
        ) from None
    finally:
        engine.dispose()
    if not result.whole:
        raise fail(result.line())
    out.print(result.line(), markup=False, highlight=False, soft_wrap=True)
