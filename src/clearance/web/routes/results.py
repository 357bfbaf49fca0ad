"""Results: the determinations table, a person's page, review decisions, downloads."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException
from starlette.responses import FileResponse, RedirectResponse, Response

from clearance.explain import ExplainError, explain
from clearance.filings import FilingsError
from clearance.report import ReportError
from clearance.web import results, reviews
from clearance.web.context import Ctx, checked_form, require, text
from clearance.web.db import REVIEW_DECISIONS, Run
from clearance.web.exports import (
    DOWNLOADS,
    RunGone,
    ensure_filings,
    ensure_report,
    ensure_reviewed,
)
from clearance.web.routes.runs import get_run
from clearance.web.worker import output_dir

router = APIRouter()


def finished_run(ctx: Ctx, run_id: int) -> Run:
    run = get_run(ctx, run_id)
    if run.state != "done":
        raise HTTPException(409, "this run has not finished")
    return run


def _determinations(ctx: Ctx, run: Run):
    return output_dir(ctx.settings, run.id) / "determinations.parquet"


@router.get("/runs/{run_id}/results")
def results_page(
    run_id: int,
    ctx: Ctx = Depends(require("read")),
    q: str = "",
    determination: str = "",
    reason: str = "",
    section: str = "",
    court: str = "",
    race: str = "",
    review: str = "",
    page: int = 1,
) -> Response:
    run = finished_run(ctx, run_id)
    query = results.Query(q, determination, reason, section, court, race, review, page)
    path = _determinations(ctx, run)
    found = results.page(path, reviews.review_frame(ctx.db, run.id), query)
    values = {"run": run, "query": query, "found": found, "options": results.options(path)}
    if ctx.is_htmx and ctx.request.headers.get("hx-target") == "results-table":
        return ctx.render("_results_table.html", **values)
    return ctx.render("results.html", **values)


def _person_values(ctx: Ctx, run: Run, subject_id: str) -> dict:
    try:
        explanation = explain(output_dir(ctx.settings, run.id), subject_id)
    except ExplainError as exc:
        raise HTTPException(404, str(exc)) from None
    path = _determinations(ctx, run)
    states = {
        d.conviction["cnt_order"]: reviews.state(
            ctx.db, run, path, subject_id, d.conviction["cnt_order"]
        )
        for d in explanation.decisions
    }
    return {
        "run": run,
        "explanation": explanation,
        "states": states,
        "history": reviews.history(ctx.db, run.id, subject_id),
        "decisions": REVIEW_DECISIONS,
    }


@router.get("/runs/{run_id}/people/{subject_id}")
def person_page(run_id: int, subject_id: str, ctx: Ctx = Depends(require("read"))) -> Response:
    run = finished_run(ctx, run_id)
    return ctx.render("person.html", **_person_values(ctx, run, subject_id))


async def _review_action(ctx: Ctx, run_id: int, action: str) -> Response:
    form = await checked_form(ctx)
    run = finished_run(ctx, run_id)
    subject_id, cnt_order = text(form, "subject_id"), text(form, "cnt_order")
    note = str(form.get("note") or "")
    assert ctx.user is not None
    error = None
    status = 200
    try:
        if action == "open":
            reviews.open_review(
                ctx.db, ctx.user, run, _determinations(ctx, run), subject_id, cnt_order, note
            )
        else:
            reviews.decide(
                ctx.db,
                ctx.user,
                run,
                _determinations(ctx, run),
                subject_id,
                cnt_order,
                text(form, "decision"),
                note,
            )
        ctx.db.commit()
    except reviews.ReviewError as exc:
        ctx.db.rollback()
        if exc.status == 404:
            raise HTTPException(404, str(exc)) from None
        error, status = str(exc), exc.status
    if not ctx.is_htmx:
        if error:
            values = _person_values(ctx, run, subject_id)
            return ctx.render(
                "person.html", status=status, **values, error=error, error_for=cnt_order
            )
        return RedirectResponse(
            f"/runs/{run.id}/people/{subject_id}#conviction-{cnt_order}", status_code=303
        )
    values = _person_values(ctx, run, subject_id)
    decision = next(
        d for d in values["explanation"].decisions if d.conviction["cnt_order"] == cnt_order
    )
    return ctx.render(
        "_review_panel.html",
        status=status,
        **values,
        decision=decision,
        state=values["states"][cnt_order],
        error=error,
    )


@router.post("/runs/{run_id}/reviews/open")
async def open_review(run_id: int, ctx: Ctx = Depends(require("open_review"))) -> Response:
    return await _review_action(ctx, run_id, "open")


@router.post("/runs/{run_id}/reviews/decide")
async def decide_review(run_id: int, ctx: Ctx = Depends(require("decide_review"))) -> Response:
    return await _review_action(ctx, run_id, "decide")


def _made(ctx: Ctx, run: Run, name: str) -> Path:
    """The file ``name`` of the reviewed run, made first if needed (one-line error if not)."""
    try:
        if name == "filings.zip":
            return ensure_filings(ctx.settings, ctx.db, run)
        if name.startswith("report."):
            return ensure_report(ctx.settings, ctx.db, run) / name
        return ensure_reviewed(ctx.settings, ctx.db, run) / name
    except (ReportError, FilingsError) as exc:
        raise HTTPException(422, f"cannot make {name}: {exc}") from None
    except RunGone as exc:
        raise HTTPException(410, str(exc)) from None


@router.get("/runs/{run_id}/download/{name}")
def download(run_id: int, name: str, ctx: Ctx = Depends(require("read"))) -> Response:
    """A file of the reviewed run (rewritten first if a decision is newer than it)."""
    run = finished_run(ctx, run_id)
    if name not in DOWNLOADS:
        raise HTTPException(404, "no such download")
    return FileResponse(
        _made(ctx, run, name),
        media_type=DOWNLOADS[name],
        filename=f"run-{run.id}-reviewed-{name}",
    )


@router.get("/runs/{run_id}/report.html")
def report_inline(run_id: int, ctx: Ctx = Depends(require("read"))) -> Response:
    """The impact report of the reviewed run, shown in a sandboxed frame of the run page."""
    run = finished_run(ctx, run_id)
    return FileResponse(_made(ctx, run, "report.html"), media_type="text/html")
