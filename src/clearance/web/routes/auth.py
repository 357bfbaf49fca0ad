"""Sign-in, sign-out and first-run setup.

First-run setup creates the first admin from the browser, for offices without a
command line. It is open only while no account exists and only to a browser on
this machine (the server itself binds beyond loopback only once accounts exist);
``clearance users add NAME --role admin`` does the same from a terminal.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException
from sqlalchemy import delete
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from clearance.web import accounts, throttle
from clearance.web.context import Ctx, checked_form, get_ctx, in_thread, text
from clearance.web.db import SessionRow, any_user, utcnow
from clearance.web.security import (
    SESSION_COOKIE,
    client_address,
    client_is_loopback,
    expires,
    session_id,
    set_cookie,
)

WRONG = "wrong user name or password"
BUSY = "the server is checking many sign-ins at once; try again in a moment"

router = APIRouter()


def _safe_next(target: str) -> str:
    """Only a path on this site (never //host or a full URL) is followed after sign-in."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/runs"


def _signed_in(ctx: Ctx, user: accounts.User, target: str, epoch: int) -> Response:
    """The new session carries the account's epoch as read before the password was
    checked: a reset in between ends it (accounts.end_sessions)."""
    cookie, sid = ctx.web.tokens.new_session()
    hours = ctx.settings.session_hours
    ctx.db.execute(delete(SessionRow).where(SessionRow.expires_at < utcnow()))
    ctx.db.add(SessionRow(id=sid, user_id=user.id, expires_at=expires(hours), epoch=epoch))
    ctx.db.commit()
    response = RedirectResponse(_safe_next(target), status_code=303)
    set_cookie(response, SESSION_COOKIE, cookie, max_age=hours * 3600)
    return response


@router.get("/")
def home(ctx: Ctx = Depends(get_ctx)) -> Response:
    if ctx.user is not None:
        return RedirectResponse("/runs", status_code=303)
    if not any_user(ctx.db):
        return RedirectResponse("/setup", status_code=303)
    return RedirectResponse("/login", status_code=303)


@router.get("/login")
def login_page(ctx: Ctx = Depends(get_ctx), next: str = "/runs") -> Response:
    if not any_user(ctx.db):
        return RedirectResponse("/setup", status_code=303)
    return ctx.render("login.html", next=_safe_next(next))


@router.post("/login")
async def login(ctx: Ctx = Depends(get_ctx)) -> Response:
    """Sign in, unless the name or the address is locked (throttle.py); every attempt
    goes to the security log with the name's account (if any) and the address.

    Only the form is read on the event loop; the database and argon2 work run in a
    worker thread (a third of a second and 64 MB a verification, a bounded number at
    once), so other requests are served meanwhile."""
    form = await checked_form(ctx)
    return await in_thread(ctx, _sign_in, form)


def _sign_in(ctx: Ctx, form: FormData) -> Response:
    name = text(form, "username")[:200]
    target = text(form, "next") or "/runs"
    password = str(form.get("password") or "")
    key, address = ctx.web.tokens.name_key(name), client_address(ctx.request)
    known = accounts.find(ctx.db, name)
    account = known.username if known else None
    # The epoch as it is before the password is checked: a reset meanwhile ends the session.
    epoch = known.session_epoch if known else 0
    password_hash = known.password_hash if known else accounts.dummy_hash()

    def refuse(status: int, error: str) -> Response:
        return ctx.render(
            "login.html", status=status, error=error, username=name, next=_safe_next(target)
        )

    # Counted before the password is checked, in one transaction with the check.
    lock = throttle.reserve(ctx.db, ctx.settings, key, address, account)
    if lock is not None:  # refused before the password is checked, for any name alike
        return refuse(429, lock.message(ctx.settings.zone))
    hashing = ctx.web.hashing
    if not hashing.acquire(timeout=ctx.settings.hash_wait_seconds):
        throttle.refused(ctx.db, ctx.settings, None, key, address, account, note=BUSY)
        ctx.db.commit()
        return refuse(503, BUSY)
    try:
        right = accounts.verify(password_hash, password)
        new_hash = accounts.rehashed(password_hash, password) if right and known else None
    finally:
        hashing.release()
    if not right or known is None or not known.active:
        lock = throttle.failed(ctx.db, ctx.settings, key, address, account)
        return refuse(429, lock.message(ctx.settings.zone)) if lock else refuse(401, WRONG)
    if new_hash is not None:
        known.password_hash = new_hash
    throttle.succeeded(ctx.db, ctx.settings, known, key, address)
    return _signed_in(ctx, known, target, epoch)


@router.post("/logout")
async def logout(ctx: Ctx = Depends(get_ctx)) -> Response:
    await checked_form(ctx)
    return await in_thread(ctx, _sign_out)


def _sign_out(ctx: Ctx) -> Response:
    if ctx.session_token:
        ctx.db.execute(delete(SessionRow).where(SessionRow.id == session_id(ctx.session_token)))
        ctx.db.commit()
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="strict")
    return response


def _setup_allowed(ctx: Ctx) -> None:
    if any_user(ctx.db):
        raise HTTPException(404, "setup is done: sign in, or ask an admin for an account")
    if not client_is_loopback(ctx.request):
        raise HTTPException(403, "first-run setup is open only to a browser on this machine")


@router.get("/setup")
def setup_page(ctx: Ctx = Depends(get_ctx)) -> Response:
    _setup_allowed(ctx)
    return ctx.render("setup.html")


@router.post("/setup")
async def setup(ctx: Ctx = Depends(get_ctx)) -> Response:
    form = await checked_form(ctx)
    return await in_thread(ctx, _set_up, form)


def _set_up(ctx: Ctx, form: FormData) -> Response:
    _setup_allowed(ctx)
    username = text(form, "username")
    password = str(form.get("password") or "")
    if password != str(form.get("confirm") or ""):
        return ctx.render("setup.html", status=400, error="the passwords differ", username=username)
    try:
        user = accounts.create_user(ctx.db, username, "admin", password)
    except accounts.AccountError as exc:
        ctx.db.rollback()
        return ctx.render("setup.html", status=400, error=str(exc), username=username)
    ctx.db.commit()
    return _signed_in(ctx, user, "/admin/users", user.session_epoch)
