"""Per-request context: the database session, the signed-in user, CSRF, rendering.

Routes declare what they need as dependencies: ``Ctx`` for any page,
``require("permission")`` for a signed-in user with that permission, and
``posted(...)`` for a checked form POST. A request that is not signed in is sent
to the sign-in page (or to first-run setup while no account exists).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from fastapi import Depends, HTTPException, Request
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import HTMLResponse, Response

from clearance.web.accounts import PERMISSIONS, can
from clearance.web.audit import AuditWatch
from clearance.web.db import SessionRow, User, any_user, utcnow
from clearance.web.security import (
    CSRF_FIELD,
    CSRF_HEADER,
    PRESESSION_COOKIE,
    SESSION_COOKIE,
    Tokens,
    session_id,
    set_cookie,
)
from clearance.web.settings import Settings, local_time
from clearance.web.worker import Worker

TEMPLATES = Path(__file__).parent / "templates"
T = TypeVar("T")


@dataclass
class Web:
    """Everything the app holds for its lifetime (``app.state.web``)."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    tokens: Tokens
    worker: Worker
    templates: Jinja2Templates
    # argon2 verifications at once (Settings.hash_concurrency): each takes 64 MB.
    hashing: threading.BoundedSemaphore
    audit: AuditWatch = field(default_factory=AuditWatch)  # the audit log's hash chain


class SignInRequired(Exception):
    """Raised by ``require`` when nobody is signed in; answered with a redirect."""

    def __init__(self, setup: bool) -> None:
        self.setup = setup


@dataclass
class Ctx:
    request: Request
    web: Web
    db: Session
    user: User | None = None
    session_token: str | None = None
    new_presession: str | None = None  # a pre-session cookie to set on the response

    @property
    def settings(self) -> Settings:
        return self.web.settings

    @property
    def csrf_key(self) -> str | None:
        if self.session_token:
            return self.session_token
        raw = self.new_presession or self.request.cookies.get(PRESESSION_COOKIE)
        return self.web.tokens.session_token(raw)

    def csrf_token(self) -> str:
        """The token this page's forms carry (creates a pre-session before sign-in)."""
        if self.csrf_key is None:
            self.new_presession, _ = self.web.tokens.new_session()
        key = self.csrf_key
        if key is None:  # the pre-session just made gives one
            raise RuntimeError("no CSRF key after making a pre-session")
        return self.web.tokens.csrf_for(key)

    def require_user(self) -> User:
        """The signed-in user, in a handler ``require`` admits only with one."""
        if self.user is None:
            raise SignInRequired(setup=False)
        return self.user

    def csrf_ok(self, token: str | None) -> bool:
        return self.web.tokens.csrf_ok(self.csrf_key, token)

    def can(self, permission: str) -> bool:
        return can(self.user, permission)

    def render(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        response = self.web.templates.TemplateResponse(
            self.request,
            template,
            {
                "ctx": self,
                "user": self.user,
                "csrf": self.csrf_token(),
                "permissions": PERMISSIONS,
                **values,
            },
            status_code=status,
        )
        return self.finish(response)

    def finish(self, response: Response) -> Response:
        if self.new_presession:
            set_cookie(response, PRESESSION_COOKIE, self.new_presession)
        return response

    @property
    def is_htmx(self) -> bool:
        return self.request.headers.get("hx-request") == "true"


def web_of(request: Request) -> Web:
    return request.app.state.web


def get_ctx(request: Request) -> Iterator[Ctx]:
    web = web_of(request)
    with web.sessions() as db:
        ctx = Ctx(request=request, web=web, db=db)
        token = web.tokens.session_token(request.cookies.get(SESSION_COOKIE))
        if token:
            row = db.get(SessionRow, session_id(token))
            if row is not None and row.expires_at > utcnow():
                user = db.get(User, row.user_id)
                # A new password, role or disabling raises the epoch: older sessions end.
                if user is not None and user.active and row.epoch == user.session_epoch:
                    ctx.user, ctx.session_token = user, token
        # Give the connection back while the request body arrives: a connection is held
        # only by a thread that is using it, so the pool (sized to the thread pool) never
        # runs dry while requests wait for the event loop (app.py).
        db.commit()
        yield ctx


def require(permission: str):
    """A dependency: the context of a signed-in user who has ``permission``."""

    def dependency(ctx: Ctx = Depends(get_ctx)) -> Ctx:
        if ctx.user is None:
            raise SignInRequired(setup=not any_user(ctx.db))
        if not ctx.can(permission):
            raise HTTPException(403, f"your role ({ctx.user.role}) cannot do this")
        return ctx

    return dependency


async def checked_form(ctx: Ctx) -> FormData:
    """The posted form, after its CSRF token (field or header) is checked."""
    form = await ctx.request.form()
    token = ctx.request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD)
    if not ctx.csrf_ok(token if isinstance(token, str) else None):
        raise HTTPException(403, "the form has expired; reload the page and try again")
    return form


async def in_thread(ctx: Ctx, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a request's blocking work (database, argon2, files) in a worker thread, so the
    event loop serves other requests meanwhile. Before the thread is given up, whatever
    was not committed is dropped, as at the end of a request, and the database
    connection goes back to the pool: connections are held only by working threads."""

    def run() -> T:
        try:
            return work(ctx, *args, **kwargs)
        finally:
            ctx.db.rollback()

    return await run_in_threadpool(run)


def text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def users_by_id(db: Session) -> dict[int, str]:
    return {u.id: u.username for u in db.scalars(select(User)).all()}


def fmt_time(value: dt.datetime | None, zone: dt.tzinfo = dt.UTC) -> str:
    """A stored (UTC) time as the app shows it: in its zone, the zone named."""
    return "" if value is None else local_time(value, zone)
