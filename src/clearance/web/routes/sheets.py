"""One person's rap sheet: upload, the person's page under every pack, the drafts,
and deleting the sheet (sheets.py; docs/web.md, "One person's rap sheet")."""

from __future__ import annotations

import datetime as dt
import re

from fastapi import APIRouter, Depends, HTTPException, Request
from sqlalchemy import select
from starlette.datastructures import FormData
from starlette.responses import FileResponse, RedirectResponse, Response

from clearance.filings import FilingsError
from clearance.law import installed_packs, load_pack
from clearance.run_common import RunError, check_as_of
from clearance.sheet.answer import sections
from clearance.web import lifecycle, sheets
from clearance.web.context import Ctx, checked_form, in_thread, require, text, users_by_id
from clearance.web.db import audit_entry
from clearance.web.uploads import ReceivedFile, UploadError, megabytes, receive

router = APIRouter()
COUNTY_RE = re.compile(r"^[A-Z][A-Z .'-]{0,63}$")
VIEWED = "person_viewed"
DOWNLOADED = "downloaded"


def sheet_worker(ctx: Ctx) -> sheets.SheetWorker:
    return ctx.request.app.state.sheet_worker


def _list_page(ctx: Ctx, status: int = 200, error: str | None = None,
               values: dict | None = None) -> Response:  # fmt: skip
    rows = list(ctx.db.scalars(select(sheets.Sheet).order_by(sheets.Sheet.id.desc())))
    return ctx.render(
        "sheets.html",
        status=status,
        sheets=rows,
        users=users_by_id(ctx.db),
        error=error,
        values=values or {},
        today=dt.date.today().isoformat(),  # the form's default only; always sent
        limit=megabytes(sheets.sheet_limit(ctx.settings)),
    )


@router.get("/sheets")
def sheets_page(ctx: Ctx = Depends(require("read"))) -> Response:
    return _list_page(ctx)


def _checked_values(fields: dict[str, str]) -> tuple[dict, str | None]:
    """The form's as-of date and county, and what is wrong with them (or None)."""
    values = {
        "as_of": fields.get("as_of", "").strip(),
        "county": " ".join(fields.get("county", "").split()).upper(),
    }
    try:
        as_of = dt.date.fromisoformat(values["as_of"])
    except ValueError:
        return values, "give the as-of date as YYYY-MM-DD"
    try:
        for name in installed_packs():
            check_as_of(as_of, load_pack(name), label="the as-of date")
    except RunError as exc:
        return values, str(exc)
    if values["county"] and not COUNTY_RE.match(values["county"]):
        return values, "the county is a California county's name, e.g. SACRAMENTO, or empty"
    return values, None


@router.post("/sheets")
async def upload_sheet(request: Request, ctx: Ctx = Depends(require("upload"))) -> Response:
    """Receive the rap sheet (streamed, size-limited, checked), then queue its decision."""
    if not ctx.can("run"):
        raise HTTPException(403, f"your role ({ctx.user and ctx.user.role}) cannot do this")
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        await checked_form(ctx)  # a form without the file: its token first (403), then 400
    ctx.db.commit()
    fields: dict[str, str] = {}
    try:
        received = await receive(
            request,
            sheets.sheets_dir(ctx.settings),
            limit=sheets.sheet_limit(ctx.settings),
            csrf_ok=ctx.csrf_ok,
            refuse_name=sheets.refuse_sheet_name,
            check=sheets.check_sheet,
            fields=fields,
            what="rap sheet file",
        )
    except UploadError as exc:
        if exc.status == 403:
            raise HTTPException(403, str(exc)) from None
        return await in_thread(ctx, _list_page, status=exc.status, error=str(exc))
    return await in_thread(ctx, _store_sheet, received, fields)


def _store_sheet(ctx: Ctx, received: list[ReceivedFile], fields: dict[str, str]) -> Response:
    user = ctx.require_user()
    try:
        if len(received) != 1:
            raise UploadError("upload one rap sheet at a time (one file)")
        values, error = _checked_values(fields)
        if error:
            raise UploadError(error)
        sheet = sheets.new_sheet(
            ctx.settings, ctx.db, user, received[0], values["as_of"], values["county"]
        )
        ctx.db.commit()
    except UploadError as exc:
        ctx.db.rollback()
        for item in received:
            item.path.unlink(missing_ok=True)
        return _list_page(ctx, status=400, error=str(exc), values=fields)
    except BaseException:
        ctx.db.rollback()
        for item in received:
            item.path.unlink(missing_ok=True)
        raise
    sheet_worker(ctx).submit(sheet.id)
    return RedirectResponse(f"/sheets/{sheet.id}", status_code=303)


def get_sheet(ctx: Ctx, sheet_id: int) -> sheets.Sheet:
    sheet = ctx.db.get(sheets.Sheet, sheet_id)
    if sheet is None:
        raise HTTPException(404, "no such sheet")
    if sheet.state == "deleted":
        raise HTTPException(410, f"sheet {sheet.id} was {sheet.deleted_note or 'deleted'}")
    return sheet


@router.get("/sheets/{sheet_id}")
def sheet_page(sheet_id: int, ctx: Ctx = Depends(require("read"))) -> Response:
    return _sheet_page(ctx, get_sheet(ctx, sheet_id))


def _sheet_page(ctx: Ctx, sheet: sheets.Sheet, status: int = 200, **extra) -> Response:
    values: dict = {"sheet": sheet, "users": users_by_id(ctx.db), **extra}
    answer = sheets.answer(ctx.settings, sheet) if sheet.state == "done" else None
    if answer is not None:
        runs = sheets.live_runs(ctx.db, sheet)
        values["answer"] = answer
        values["parts"] = sections(answer)
        values["packs"] = [
            {
                **item,
                "run": run,
                "title": load_pack(item["pack"]).title,
                "rows": sheets.pack_rows(ctx.db, answer, item, run),
            }
            for item, run in runs
        ]
        values["gone"] = [i for i in sheet.runs if i["run_id"] not in {r.id for _, r in runs}]
        if runs:
            note = f"sheet {sheet.id}"
            ctx.db.add(audit_entry(ctx.user, VIEWED, run_id=runs[0][1].id,
                                   subject_id=sheet.subject_id, note=note))  # fmt: skip
            ctx.db.commit()
    return ctx.render("sheet.html", status=status, **values)


@router.get("/sheets/{sheet_id}/progress")
def progress_fragment(sheet_id: int, ctx: Ctx = Depends(require("read"))) -> Response:
    """The sheet's state; polled by HTMX every second until it is decided."""
    sheet = ctx.db.get(sheets.Sheet, sheet_id)
    if sheet is None:
        raise HTTPException(404, "no such sheet")
    response = ctx.render("_sheet_progress.html", sheet=sheet)
    if sheet.state not in ("queued", "running") and ctx.is_htmx:
        response.headers["HX-Refresh"] = "true"
    return response


@router.get("/sheets/{sheet_id}/drafts.zip")
def download_drafts(sheet_id: int, ctx: Ctx = Depends(require("read"))) -> Response:
    """The person's petitions and letters, from the reviewed runs (audit-logged)."""
    sheet = get_sheet(ctx, sheet_id)
    if sheet.state != "done":
        raise HTTPException(409, f"sheet {sheet.id} is {sheet.state}: nothing is drafted yet")
    try:
        path = sheets.drafts_zip(ctx.settings, ctx.db, sheet)
    except (FilingsError, RunError) as exc:
        message = str(exc).replace(str(ctx.settings.data_dir) + "/", "")
        raise HTTPException(422, f"cannot draft the petitions: {message}") from None
    runs = sheets.live_runs(ctx.db, sheet)
    ctx.db.add(audit_entry(ctx.user, DOWNLOADED, run_id=runs[0][1].id,
                           subject_id=sheet.subject_id,
                           note=f"sheet {sheet.id} {sheets.DRAFTS_ZIP}"))  # fmt: skip
    ctx.db.commit()
    return FileResponse(
        path, media_type="application/zip", filename=f"sheet-{sheet.id}-{sheets.DRAFTS_ZIP}"
    )


@router.post("/sheets/{sheet_id}/delete")
async def delete_sheet(sheet_id: int, ctx: Ctx = Depends(require("delete_run"))) -> Response:
    """Delete a sheet, its runs (as runs are deleted) and its files (admins only)."""
    form = await checked_form(ctx)
    return await in_thread(ctx, _delete_sheet, sheet_id, form)


def _delete_sheet(ctx: Ctx, sheet_id: int, form: FormData) -> Response:
    sheet = get_sheet(ctx, sheet_id)
    user = ctx.require_user()
    reason = str(form.get("reason") or "")
    try:
        sheets.delete_sheet(
            ctx.settings, ctx.db, user, sheet, reason=reason, confirm=text(form, "confirm")
        )
    except lifecycle.RunActionError as exc:
        ctx.db.rollback()
        if exc.status != 400:
            raise HTTPException(exc.status, str(exc)) from None
        return _sheet_page(ctx, sheet, status=400, delete_error=str(exc), reason=reason)
    return RedirectResponse("/sheets", status_code=303)
