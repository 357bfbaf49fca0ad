"""Account management and the security log (admins only), and the audit log (every
signed-in user reads it)."""

from __future__ import annotations

import hashlib

from fastapi import APIRouter, Depends, HTTPException
from sqlalchemy import func, select
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from clearance._folders import aside
from clearance.filings import OfficeError
from clearance.filings.office import office_from_mapping
from clearance.law.yamlio import YAMLError, load_strict_yaml
from clearance.web import accounts, exports, throttle
from clearance.web.audit import verify_entries
from clearance.web.context import Ctx, checked_form, in_thread, require, text
from clearance.web.db import ROLES, AuditEntry, SecurityEvent, User, audit_entry
from clearance.web.security import session_id

router = APIRouter()
AUDIT_PAGE = 100


def _users_page(ctx: Ctx, status: int = 200, **values) -> Response:
    users = list(ctx.db.scalars(select(User).order_by(User.username)))
    by_key = {lock.value: lock for lock in throttle.locks(ctx.db, ctx.settings)}
    locked = {u.id: by_key.get(ctx.web.tokens.name_key(u.username)) for u in users}
    return ctx.render(
        "users.html", status=status, users=users, roles=ROLES, locked=locked, **values
    )


@router.get("/admin/users")
def users_page(ctx: Ctx = Depends(require("manage_users"))) -> Response:
    return _users_page(ctx)


@router.post("/admin/users")
async def add_user(ctx: Ctx = Depends(require("manage_users"))) -> Response:
    form = await checked_form(ctx)
    return await in_thread(ctx, _add_user, form)


def _add_user(ctx: Ctx, form: FormData) -> Response:
    username, role = text(form, "username"), text(form, "role")
    try:
        accounts.create_user(ctx.db, username, role, str(form.get("password") or ""), by=ctx.user)
    except accounts.AccountError as exc:
        ctx.db.rollback()
        return _users_page(ctx, status=400, error=str(exc), username=username, role=role)
    ctx.db.commit()
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/admin/users/{user_id}")
async def change_user(user_id: int, ctx: Ctx = Depends(require("manage_users"))) -> Response:
    form = await checked_form(ctx)
    return await in_thread(ctx, _change_user, form, user_id)


def _change_user(ctx: Ctx, form: FormData, user_id: int) -> Response:
    user = ctx.db.get(User, user_id)
    if user is None:
        raise HTTPException(404, "no such user")
    active = text(form, "active")
    try:
        accounts.change_user(
            ctx.db,
            user,
            by=ctx.user,
            role=text(form, "role") or None,
            active=None if not active else active == "yes",
            password=str(form.get("password") or "") or None,
            keep_session=_own_session(ctx, user),
        )
    except accounts.AccountError as exc:
        ctx.db.rollback()
        return _users_page(ctx, status=400, error=f"{user.username}: {exc}")
    ctx.db.commit()
    return RedirectResponse("/admin/users", status_code=303)


def _own_session(ctx: Ctx, user: User) -> str | None:
    """The admin's own session, kept when they change their own account."""
    ctx.require_user()
    if ctx.session_token is None or ctx.user.id != user.id:
        return None
    return session_id(ctx.session_token)


@router.post("/admin/users/{user_id}/unlock")
async def unlock_user(user_id: int, ctx: Ctx = Depends(require("manage_users"))) -> Response:
    """Lift the sign-in lock on an account (logged in the security log)."""
    await checked_form(ctx)
    return await in_thread(ctx, _unlock_user, user_id)


def _unlock_user(ctx: Ctx, user_id: int) -> Response:
    user = ctx.db.get(User, user_id)
    if user is None:
        raise HTTPException(404, "no such user")
    key = ctx.web.tokens.name_key(user.username)
    throttle.unlock_account(ctx.db, ctx.settings, key, by=ctx.user, account=user.username)
    ctx.db.commit()
    return RedirectResponse("/admin/users", status_code=303)


@router.get("/admin/security")
def security_page(ctx: Ctx = Depends(require("manage_users")), page: int = 1) -> Response:
    """The locks in force and the security log (sign-ins, lockouts, unlocks), newest first."""
    total = ctx.db.scalar(select(func.count()).select_from(SecurityEvent)) or 0
    pages = max(1, -(-total // AUDIT_PAGE))
    page = min(max(1, page), pages)
    events = ctx.db.scalars(
        select(SecurityEvent)
        .order_by(SecurityEvent.id.desc())
        .offset((page - 1) * AUDIT_PAGE)
        .limit(AUDIT_PAGE)
    ).all()
    return ctx.render(
        "security.html",
        locks=throttle.locks(ctx.db, ctx.settings),
        events=events,
        page=page,
        pages=pages,
        total=total,
        limits=ctx.settings.sign_in,
    )


@router.post("/admin/security/unlock")
async def unlock(ctx: Ctx = Depends(require("manage_users"))) -> Response:
    """Lift a lock on a user name (known or not) or on a client address."""
    form = await checked_form(ctx)
    return await in_thread(ctx, _unlock, form)


def _unlock(ctx: Ctx, form: FormData) -> Response:
    kind, value = text(form, "kind"), text(form, "value")
    if kind == "address":
        throttle.unlock_address(ctx.db, ctx.settings, value, by=ctx.user)
    elif kind == "account":
        found = next(
            (lock for lock in throttle.locks(ctx.db, ctx.settings) if lock.value == value), None
        )
        account = found.account if found else None
        throttle.unlock_account(ctx.db, ctx.settings, value, by=ctx.user, account=account)
    else:
        raise HTTPException(400, "unlock an account or an address")
    ctx.db.commit()
    return RedirectResponse("/admin/security", status_code=303)


@router.get("/admin/office")
def office_page(ctx: Ctx = Depends(require("manage_users"))) -> Response:
    path = exports.office_path(ctx.settings)
    saved = path.read_text("utf-8") if path.exists() else ""
    return ctx.render("office.html", text=saved, saved=bool(saved))


@router.post("/admin/office")
async def save_office(ctx: Ctx = Depends(require("manage_users"))) -> Response:
    """Validate the office file as `clearance filings --office` does, then keep it."""
    form = await checked_form(ctx)
    return await in_thread(ctx, _save_office, form)


def _save_office(ctx: Ctx, form: FormData) -> Response:
    content = str(form.get("office") or "").replace("\r\n", "\n")
    path = exports.office_path(ctx.settings)
    try:
        office_from_mapping(load_strict_yaml(content), exports.OFFICE_FILE)
    except YAMLError as exc:
        error = f"{exports.OFFICE_FILE}: not valid YAML: {exc}"
        return ctx.render("office.html", status=400, text=content, error=error, saved=path.exists())
    except OfficeError as exc:
        return ctx.render(
            "office.html", status=400, text=content, error=str(exc), saved=path.exists()
        )
    with aside(path) as partial:
        partial.write_text(content, "utf-8")
    ctx.require_user()
    note = f"office.yaml saved (sha256 {hashlib.sha256(content.encode()).hexdigest()[:16]}…)"
    ctx.db.add(audit_entry(ctx.user, "office_saved", note=note))
    ctx.db.commit()
    return RedirectResponse("/admin/office", status_code=303)


@router.get("/audit")
def audit_page(
    ctx: Ctx = Depends(require("read")), run: int | None = None, page: int = 1
) -> Response:
    """The audit log, newest first; a run's entries only when ``run`` is given."""
    query = select(AuditEntry)
    count = select(func.count()).select_from(AuditEntry)
    if run is not None:
        query = query.where(AuditEntry.run_id == run)
        count = count.where(AuditEntry.run_id == run)
    total = ctx.db.scalar(count) or 0
    pages = max(1, -(-total // AUDIT_PAGE))
    page = min(max(1, page), pages)
    entries = ctx.db.scalars(
        query.order_by(AuditEntry.id.desc()).offset((page - 1) * AUDIT_PAGE).limit(AUDIT_PAGE)
    ).all()
    # The chain, cheaply: the entries shown, and those written since the last check.
    bad = verify_entries(ctx.db, list(entries))
    if bad is not None:
        ctx.web.audit.saw_broken(bad)
    ctx.web.audit.check(ctx.db)
    return ctx.render(
        "audit.html", entries=entries, run_id=run, page=page, pages=pages, total=total
    )
