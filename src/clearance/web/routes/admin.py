"""Account management and the security log (admins only), and the audit log (every
signed-in user reads it)."""

from __future__ import annotations

import hashlib

import polars as pl
from fastapi import APIRouter, Depends, HTTPException
from sqlalchemy import func, select
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from clearance._folders import aside
from clearance.filings import OfficeError
from clearance.filings.office import office_from_mapping
from clearance.law.yamlio import YAMLError, load_strict_yaml
from clearance.web import accounts, exports, office_form, throttle
from clearance.web.audit import verify_entries
from clearance.web.context import Ctx, checked_form, in_thread, require, text
from clearance.web.db import ROLES, AuditEntry, SecurityEvent, User, audit_entry
from clearance.web.security import session_id
from clearance.web.worker import output_dir

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


def _office_page(ctx: Ctx, status: int = 200, **values) -> Response:
    last = ctx.db.scalars(
        select(AuditEntry)
        .where(AuditEntry.action == "office_saved")
        .order_by(AuditEntry.id.desc())
        .limit(1)
    ).first()
    return ctx.render(
        "office.html", status=status, fields=office_form.FIELDS, sections=office_form.SECTIONS,
        last=last, **values,
    )  # fmt: skip


@router.get("/admin/office")
def office_page(ctx: Ctx = Depends(require("manage_users")), saved: str = "") -> Response:
    """The office file as a form, filled from the saved file."""
    path = exports.office_path(ctx.settings)
    error, data = None, None
    if path.exists():
        try:
            data = load_strict_yaml(path.read_text("utf-8"))
            office_from_mapping(data, exports.OFFICE_FILE)
        except (YAMLError, UnicodeDecodeError) as exc:
            kind = type(exc).__name__
            error = f"{exports.OFFICE_FILE} cannot be read ({kind}): fill the form in again"
            data = None
        except OfficeError as exc:
            error = f"the saved file is refused: {exc}"
    values = office_form.values_from_mapping(data)
    return _office_page(
        ctx, values=values, errors={}, error=error, exists=path.exists(), saved=saved == "1"
    )


@router.post("/admin/office")
async def save_office(ctx: Ctx = Depends(require("manage_users"))) -> Response:
    """Check the office's details as `clearance filings --office` checks the file, then
    keep them as office.yaml."""
    form = await checked_form(ctx)
    return await in_thread(ctx, _save_office, form)


def _save_office(ctx: Ctx, form: FormData) -> Response:
    path = exports.office_path(ctx.settings)
    values = office_form.values_from_form(form)
    data, errors = office_form.mapping_from_values(values)
    if not errors:
        errors = office_form.field_errors(data)
    if errors:
        count = len(errors)
        error = (
            f"Not saved: {count} field{'s' if count != 1 else ''} to correct"
            if office_form.FORM_ERROR not in errors
            else f"Not saved: {errors[office_form.FORM_ERROR]}"
        )
        return _office_page(
            ctx, status=400, values=values, errors=errors, error=error, exists=path.exists(),
            saved=False,
        )  # fmt: skip
    content = office_form.to_yaml(data)
    office_from_mapping(load_strict_yaml(content), exports.OFFICE_FILE)  # as it will be read
    with aside(path) as partial:
        partial.write_text(content, "utf-8")
    ctx.require_user()
    note = f"office.yaml saved (sha256 {hashlib.sha256(content.encode()).hexdigest()[:16]}…)"
    ctx.db.add(audit_entry(ctx.user, "office_saved", note=note))
    ctx.db.commit()
    return RedirectResponse("/admin/office?saved=1", status_code=303)


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
        "audit.html", entries=entries, run_id=run, page=page, pages=pages, total=total,
        convictions=_convictions(ctx, entries),
    )  # fmt: skip


def _convictions(ctx: Ctx, entries) -> dict[tuple[int, str, str], str]:
    """How the audit page names the convictions its entries are about: by case number
    and date, from the run's determinations (a deleted run's are gone: then by person)."""
    wanted: dict[int, set[str]] = {}
    for e in entries:
        if e.run_id and e.subject_id:
            wanted.setdefault(e.run_id, set()).add(e.subject_id)
    named: dict[tuple[int, str, str], str] = {}
    for run_id, subjects in wanted.items():
        path = output_dir(ctx.settings, run_id) / "determinations.parquet"
        if not path.exists():
            continue
        frame = pl.scan_parquet(path)
        columns = frame.collect_schema().names()
        dates = [c for c in ("conviction_date", "arrest_date") if c in columns]
        rows = (
            frame.filter(pl.col("subject_id").is_in(sorted(subjects)))
            .select("subject_id", "cnt_order", "case_number", *dates)
            .collect()
        )
        for row in rows.iter_rows(named=True):
            when = next((str(row[c]) for c in dates if row[c]), "date unknown")
            case = f"case {row['case_number']}" if row["case_number"] else "no case number"
            named[(run_id, row["subject_id"], row["cnt_order"])] = f"{case}, {when}"
    return named
