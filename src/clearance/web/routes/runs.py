"""Runs: uploads, the run form, the background run and its progress, the runs list,
cancelling and deleting a run (lifecycle.py)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from functools import cache
from urllib.parse import quote

import polars as pl
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from sqlalchemy import select
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from clearance.law import RulePack, installed_packs, load_pack
from clearance.policy import PolicyError, load_policy, preset_names
from clearance.policy.pack_policy import load_pack_policy, pack_preset_names
from clearance.run import RunError, check_as_of
from clearance.sample import sample_path
from clearance.web import exports, laws, lifecycle, objections, policy_form, results, reviews
from clearance.web.context import Ctx, checked_form, in_thread, require, text, users_by_id
from clearance.web.db import ACTIVE_STATES, Run, Upload, audit_entry
from clearance.web.routes.lookup import get_run
from clearance.web.uploads import (
    HEAD_BYTES,
    ReceivedFile,
    UploadError,
    check_file,
    megabytes,
    receive,
)
from clearance.web.worker import output_dir

router = APIRouter()
SAMPLE_AS_OF = "2020-07-01"  # the demo's date: AB 1793's deadline for prosecutors


@cache
def sample_counties() -> tuple[dict, ...]:
    """The bundled sample's counties, read once with the same check as an upload."""
    path = sample_path()
    received = ReceivedFile(filename=path.name, path=path, size=path.stat().st_size)
    check_file(received)
    return tuple(received.counties)


def offered_counties(ctx: Ctx, upload_ids: list[int], sample: bool) -> list[dict]:
    """Counties of the chosen files, the ones with most cannabis convictions first."""
    totals: dict[str, list[int]] = {}
    chosen = [*(u.counties for u in _uploads(ctx, upload_ids)), *([sample_counties()] * sample)]
    for counties in chosen:
        for c in counties:
            entry = totals.setdefault(c["name"], [0, 0])
            entry[0] += c["cannabis_convictions"]
            entry[1] += c["events"]
    ranked = sorted(totals.items(), key=lambda item: (-item[1][0], item[0]))
    return [{"name": n, "cannabis_convictions": v[0], "events": v[1]} for n, v in ranked]


def partly_counted(ctx: Ctx, upload_ids: list[int]) -> list[Upload]:
    """The chosen uploads whose counties were counted on their first 8 MB only: their
    figures are lower bounds (the run itself reads every line)."""
    return [u for u in _uploads(ctx, upload_ids) if not u.checked_whole]


def _uploads(ctx: Ctx, ids: list[int]) -> list[Upload]:
    if not ids:
        return []
    return list(ctx.db.scalars(select(Upload).where(Upload.id.in_(ids)).order_by(Upload.id)))


def _in_use(ctx: Ctx) -> set[int]:
    """Uploads a queued or running run still has to read."""
    active = ctx.db.scalars(select(Run).where(Run.state.in_(ACTIVE_STATES))).all()
    return {i["upload_id"] for r in active for i in r.inputs if i["kind"] == "upload"}


def _new_run_page(
    ctx: Ctx,
    *,
    selected: list[int],
    sample: bool,
    status: int = 200,
    error: str | None = None,
    upload_error: str | None = None,
    values: dict | None = None,
    deleted: str = "",
) -> Response:
    uploads = list(ctx.db.scalars(select(Upload).order_by(Upload.id.desc())))
    values = values or {}
    law = _chosen_law(values.get("law", ""))
    return ctx.render(
        "new_run.html",
        status=status,
        uploads=uploads,
        selected=set(selected),
        sample=sample,
        counties=offered_counties(ctx, selected, sample),
        partial=partly_counted(ctx, selected),
        checked=megabytes(HEAD_BYTES),
        county=values.get("county", ""),
        laws=[(name, load_pack(name).title) for name in installed_packs()],
        **_policy_values(law, values),
        # Today in the app's zone (the demo's date for the sample alone); only the form's
        # default: the run records the date the form sent.
        as_of=values.get("as_of")
        or (SAMPLE_AS_OF if sample and not selected else ctx.settings.today().isoformat()),
        # The browser refuses a date before every pack's; the form's handler checks the
        # chosen pack's.
        min_as_of=min(load_pack(n).effective_date for n in installed_packs()).isoformat(),
        error=error,
        upload_error=upload_error,
        deleted=deleted[:255],
        limit=megabytes(ctx.settings.max_upload_bytes),
        in_use=_in_use(ctx),
        users=users_by_id(ctx.db),
    )


def _chosen_law(name: str) -> RulePack:
    """The rule pack the form chose (Prop 64 when none, or none installed by that name)."""
    return load_pack(name if name in installed_packs() else "prop64")


def _policy_values(law: RulePack, values: dict) -> dict:
    """What the policy part of the form shows for the pack: presets, custom fields."""
    return {
        "law": law,
        "presets": policy_form.presets(law),
        "preset": values.get("preset", "statute"),
        "policy_mode": values.get("policy_mode", "preset"),
        "custom": values.get("custom") or policy_form.custom_values(law, "statute"),
        "sections": policy_form.sections(),
        "groups": policy_form.groups(),
        "misdemeanor_choices": policy_form.misdemeanor_choices(),
        "pack_fields": [] if policy_form.is_prop64(law) else policy_form.pack_fields(law),
    }


def _ids(values: list[str]) -> list[int]:
    return [int(v) for v in values if v.isdigit()]


@router.get("/runs/new")
def new_run(
    ctx: Ctx = Depends(require("run")),
    upload: list[str] = Query(default=[]),
    sample: str = "",
    deleted: str = "",
) -> Response:
    return _new_run_page(ctx, selected=_ids(upload), sample=sample == "on", deleted=deleted)


@router.get("/runs/new/counties")
def counties_fragment(
    ctx: Ctx = Depends(require("run")),
    upload: list[str] = Query(default=[]),
    sample: str = "",
    county: str = "",
) -> Response:
    """The county choices for the files ticked (HTMX swaps them in)."""
    ids = _ids(upload)
    return ctx.render(
        "_counties.html",
        counties=offered_counties(ctx, ids, sample == "on"),
        partial=partly_counted(ctx, ids),
        checked=megabytes(HEAD_BYTES),
        county=county,
        chosen=bool(ids) or sample == "on",
    )


@router.get("/runs/new/policy-choice")
def policy_choice_fragment(ctx: Ctx = Depends(require("run")), law: str = "") -> Response:
    """The policy part of the form for the rule pack chosen (HTMX swaps it in)."""
    return ctx.render("_policy_choice.html", **_policy_values(_chosen_law(law), {}))


@router.get("/runs/new/policy-form")
def policy_fragment(
    ctx: Ctx = Depends(require("run")), start: str = "statute", law: str = ""
) -> Response:
    """The custom-policy fields of the pack filled from a preset (HTMX swaps them in)."""
    chosen = _chosen_law(law)
    values = _policy_values(chosen, {"custom": policy_form.custom_values(chosen, start)})
    prop64 = policy_form.is_prop64(chosen)
    return ctx.render("_policy_fields.html" if prop64 else "_pack_policy_fields.html", **values)


@router.post("/uploads")
async def upload(request: Request, ctx: Ctx = Depends(require("upload"))) -> Response:
    """Stream the files to disk, check them, and store them (all or none).

    The body arrives on the event loop; writing, checking and storing the files, and
    every database call, run in worker threads."""
    folder = ctx.settings.uploads_dir
    ctx.db.commit()  # no transaction stays open while a large file arrives
    try:
        received = await receive(
            request, folder, limit=ctx.settings.max_upload_bytes, csrf_ok=ctx.csrf_ok
        )
    except UploadError as exc:
        if exc.status == 403:
            raise HTTPException(403, str(exc)) from None
        if ctx.is_htmx or "text/html" not in request.headers.get("accept", ""):
            return Response(str(exc), status_code=exc.status, media_type="text/plain")
        page = {"selected": [], "sample": False, "status": exc.status, "upload_error": str(exc)}
        return await in_thread(ctx, _new_run_page, **page)
    return await in_thread(ctx, _store_uploads, received)


def _store_uploads(ctx: Ctx, received: list[ReceivedFile]) -> Response:
    """Record the checked files and move them into their folders (all or none)."""
    folder = ctx.settings.uploads_dir
    ctx.require_user()
    stored: list[int] = []
    moved = []
    try:
        for item in received:
            row = Upload(
                filename=item.filename,
                path="",
                size_bytes=item.size,
                sha256=item.sha256,
                counties_json=json.dumps(item.counties),
                checked_bytes=item.checked_bytes,
                checked_whole=item.checked_whole,
                uploaded_by=ctx.user.id,
            )
            ctx.db.add(row)
            ctx.db.flush()
            target = folder / str(row.id) / item.filename
            target.parent.mkdir()
            item.path.rename(target)
            moved.append(target.parent)
            row.path = str(target.relative_to(ctx.settings.data_dir))
            stored.append(row.id)
        ctx.db.commit()
    except BaseException:
        ctx.db.rollback()
        for item in received:
            item.path.unlink(missing_ok=True)
        for path in moved:
            shutil.rmtree(path, ignore_errors=True)
        raise
    query = "&".join(f"upload={i}" for i in stored)
    return RedirectResponse(f"/runs/new?{query}", status_code=303)


@router.get("/uploads/{upload_id}/delete")
def confirm_delete_upload(upload_id: int, ctx: Ctx = Depends(require("upload"))) -> Response:
    """Ask before an uploaded extract is removed (the form's button posts the answer)."""
    row = ctx.db.get(Upload, upload_id)
    if row is None:
        raise HTTPException(404, "no such upload")
    return ctx.render(
        "upload_delete.html", upload=row, in_use=upload_id in _in_use(ctx),
        users=users_by_id(ctx.db),
    )  # fmt: skip


@router.post("/uploads/{upload_id}/delete")
async def delete_upload(upload_id: int, ctx: Ctx = Depends(require("upload"))) -> Response:
    form = await checked_form(ctx)
    return await in_thread(ctx, _delete_upload, upload_id, text(form, "confirm") == "yes")


def _delete_upload(ctx: Ctx, upload_id: int, confirmed: bool) -> Response:
    row = ctx.db.get(Upload, upload_id)
    if row is None:
        raise HTTPException(404, "no such upload")
    if upload_id in _in_use(ctx):
        raise HTTPException(409, "a run that has not finished is reading this file")
    if not confirmed:
        raise HTTPException(400, "confirm the deletion on the page that asks for it")
    shutil.rmtree(ctx.settings.data_dir / row.path.rsplit("/", 1)[0], ignore_errors=True)
    ctx.require_user()
    note = f"{row.filename} (sha256 {row.sha256[:16]}…, {row.size_bytes:,} bytes)"
    ctx.db.add(audit_entry(ctx.user, "upload_deleted", note=note))
    ctx.db.delete(row)
    ctx.db.commit()
    return RedirectResponse(f"/runs/new?deleted={quote(row.filename)}", status_code=303)


@router.post("/runs")
async def create_run(ctx: Ctx = Depends(require("run"))) -> Response:
    form = await checked_form(ctx)  # the body is read on the loop, the work in a thread
    return await in_thread(ctx, _create_run, form)


def _create_run(ctx: Ctx, form: FormData) -> Response:
    selected = _ids([v for v in form.getlist("upload") if isinstance(v, str)])
    sample = form.get("sample") == "on"
    values = {
        "county": text(form, "county").upper(),
        "law": text(form, "law") or "prop64",
        "preset": text(form, "preset") or "statute",
        "policy_mode": text(form, "policy_mode") or "preset",
        "as_of": text(form, "as_of"),
    }
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    if values["policy_mode"] == "custom":
        values["custom"] = {**fields}

    def again(error: str) -> Response:
        return _new_run_page(
            ctx, selected=selected, sample=sample, status=400, error=error, values=values
        )

    uploads = _uploads(ctx, selected)
    if not uploads and not sample:
        return again("choose at least one extract: an upload or the bundled sample")
    if not values["county"]:
        return again("choose the county whose convictions to decide")
    try:
        as_of = dt.date.fromisoformat(values["as_of"])
    except ValueError:
        return again("give the as-of date as YYYY-MM-DD")
    if values["law"] not in installed_packs():
        return again(f"unknown rule pack {values['law']!r}")
    law = load_pack(values["law"])
    try:
        check_as_of(as_of, law, label="the as-of date")  # after today runs, with a warning
    except RunError as exc:
        return again(str(exc))
    try:
        if not policy_form.is_prop64(law):  # another law: its settings, its presets
            if values["policy_mode"] == "custom":
                policy, source = policy_form.pack_policy_from_form(fields, law), policy_form.SOURCE
            elif values["preset"] not in pack_preset_names(law):
                return again(f"the rule pack {law.name} has no preset {values['preset']!r}")
            else:
                policy, source = load_pack_policy(values["preset"], law), values["preset"]
        elif values["policy_mode"] == "custom":
            policy = policy_form.policy_from_form(fields)
            source = policy_form.SOURCE
        else:
            if values["preset"] not in preset_names():
                return again(f"unknown preset {values['preset']!r}")
            policy, source = load_policy(values["preset"]), values["preset"]
    except PolicyError as exc:
        return again(str(exc))
    inputs = [
        {
            "kind": "upload",
            "upload_id": u.id,
            "name": u.filename,
            "path": u.path,
            "sha256": u.sha256,
            "size_bytes": u.size_bytes,
        }
        for u in uploads
    ]
    if sample:
        path = sample_path()
        inputs.append({"kind": "sample", "name": path.name, "size_bytes": path.stat().st_size})
    ctx.require_user()
    run = Run(
        created_by=ctx.user.id,
        county=values["county"],
        policy_name=policy.name,
        policy_source=source,
        policy_json=json.dumps(
            policy_form.stored_mapping(policy)
            if policy_form.is_prop64(law)
            else policy.to_file()  # names its pack (`law`), which the worker reads
        ),
        as_of=as_of.isoformat(),
        inputs_json=json.dumps(inputs),
        total_bytes=sum(i["size_bytes"] for i in inputs),
    )
    ctx.db.add(run)
    ctx.db.flush()
    note = (
        f"{policy.name}; {run.county}; as of {run.as_of}; "
        f"{len(inputs)} file(s): {', '.join(i['name'] for i in inputs)}"
    )
    ctx.db.add(audit_entry(ctx.user, "run_created", run_id=run.id, note=note))
    ctx.db.commit()
    ctx.web.worker.submit(run.id)
    return RedirectResponse(f"/runs/{run.id}", status_code=303)


@router.get("/runs")
def runs_page(ctx: Ctx = Depends(require("read"))) -> Response:
    runs = list(ctx.db.scalars(select(Run).order_by(Run.id.desc())))
    template = "_runs_table.html" if ctx.is_htmx else "runs.html"
    return ctx.render(template, runs=runs, users=users_by_id(ctx.db))


def effective_counts(ctx: Ctx, run: Run) -> dict[str, int]:
    """Convictions by determination with the decisions made so far applied."""
    path = output_dir(ctx.settings, run.id) / "determinations.parquet"
    frame = (
        pl.scan_parquet(path)
        .select("subject_id", "cnt_order", "determination")
        .join(
            reviews.review_frame(ctx.db, run.id).lazy(),
            on=["subject_id", "cnt_order"],
            how="left",
        )
        .select(pl.coalesce("review_decision", "determination").alias("determination"))
        .group_by("determination")
        .len()
        .collect()
    )
    counts = dict.fromkeys(laws.run_law(run).determinations, 0)
    counts.update(dict(frame.iter_rows()))
    return counts


@router.get("/runs/{run_id}")
def run_page(run_id: int, ctx: Ctx = Depends(require("read"))) -> Response:
    found = ctx.db.get(Run, run_id)
    if found is not None and found.state == "deleted":
        tomb = lifecycle.tombstone(ctx.db, run_id)
        return ctx.render("run_deleted.html", status=410, run=found, tomb=tomb)
    return _run_page(ctx, get_run(ctx, run_id))


def _run_page(ctx: Ctx, run: Run, status: int = 200, **extra) -> Response:
    values: dict = {"run": run, "users": users_by_id(ctx.db), **extra}
    if run.state == "done":
        out = output_dir(ctx.settings, run.id)
        values["summary"] = json.loads((out / "summary.json").read_text())
        values["provenance"] = json.loads((out / "run.json").read_text())
        values["counts"] = effective_counts(ctx, run)
        values["decided"] = reviews.decided_count(ctx.db, run.id)
        values["pending"] = reviews_pending(ctx, run)
        values["office"] = exports.office_path(ctx.settings).exists()
        values["addresses"] = exports.addresses_summary(ctx.settings, run.id)
        values["law"] = laws.run_law(run)
        values["auto_relief"] = laws.is_auto_relief(run)
        values["filings"] = filings_status(ctx, run)
        if values["auto_relief"]:
            values["marked"] = objections.marked_rows(
                ctx.db, run.id, out / "determinations.parquet"
            )
    return ctx.render("run.html", status=status, **values)


def filings_status(ctx: Ctx, run: Run) -> dict:
    from clearance.web.routes import filings  # it reads runs with get_run, below

    return filings.status(ctx, run)


def reviews_pending(ctx: Ctx, run: Run) -> int:
    """Convictions open for review and not yet decided."""
    path = output_dir(ctx.settings, run.id) / "determinations.parquet"
    return results.page(
        path, reviews.review_frame(ctx.db, run.id), results.Query(review="pending")
    ).total


@router.get("/runs/{run_id}/progress")
def progress_fragment(run_id: int, ctx: Ctx = Depends(require("read"))) -> Response:
    """The progress bar; polled by HTMX every second until the run ends."""
    run = ctx.db.get(Run, run_id)
    if run is None:
        raise HTTPException(404, "no such run")
    response = ctx.render("_progress.html", run=run)
    if run.state not in ACTIVE_STATES and ctx.is_htmx:
        response.headers["HX-Refresh"] = "true"  # show the finished (or deleted) run's page
    return response


@router.post("/runs/{run_id}/cancel")
async def cancel_run(run_id: int, ctx: Ctx = Depends(require("run"))) -> Response:
    """Cancel a queued or running run (the worker stops at its next progress callback)."""
    await checked_form(ctx)
    return await in_thread(ctx, _cancel_run, run_id)


def _cancel_run(ctx: Ctx, run_id: int) -> Response:
    run = get_run(ctx, run_id)
    ctx.require_user()
    try:
        lifecycle.cancel_run(ctx.db, ctx.web.worker, ctx.user, run)
    except lifecycle.RunActionError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    if ctx.is_htmx:
        return ctx.render("_progress.html", run=run)
    return RedirectResponse(f"/runs/{run.id}", status_code=303)


@router.post("/runs/{run_id}/delete")
async def delete_run(run_id: int, ctx: Ctx = Depends(require("delete_run"))) -> Response:
    """Delete a run's files for good, keeping a tombstone (admins only; lifecycle.py)."""
    form = await checked_form(ctx)
    return await in_thread(ctx, _delete_run, run_id, form)


def _delete_run(ctx: Ctx, run_id: int, form: FormData) -> Response:
    run = get_run(ctx, run_id)
    ctx.require_user()
    try:
        lifecycle.delete_run(
            ctx.settings,
            ctx.db,
            ctx.user,
            run,
            reason=str(form.get("reason") or ""),
            confirm=text(form, "confirm"),
        )
    except lifecycle.RunActionError as exc:
        ctx.db.rollback()
        if exc.status != 400:
            raise HTTPException(exc.status, str(exc)) from None
        return _run_page(ctx, run, status=400, delete_error=str(exc),
                         reason=str(form.get("reason") or ""))  # fmt: skip
    return RedirectResponse("/runs", status_code=303)
