"""The filings zip of a run, made in the background (the worker's jobs thread) with its
progress on the run's page, and downloadable when ready.

Making a county's filings takes a while (about 11 s for 5,000 people: every motion,
order, exhibit and letter is a PDF). The run's page asks for them with a button; a
job writes them while the page polls its progress (documents written so far); the
link appears when the zip is ready. The zip is up to date until a review decision, an
objection mark or the office's details change; then the page offers to make it again.
A direct request of ``/runs/N/download/filings.zip`` (a script) waits for the same job.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException
from starlette.responses import RedirectResponse, Response

from clearance.web.context import Ctx, checked_form, in_thread, require
from clearance.web.db import Run
from clearance.web.exports import current_filings, make_filings
from clearance.web.laws import is_auto_relief
from clearance.web.routes.lookup import get_run
from clearance.web.worker import Job, RunGone

router = APIRouter()
WAIT_SECONDS = 600  # how long a direct download waits for the background job


def job_key(run_id: int) -> str:
    return f"filings-{run_id}"


def _finished(ctx: Ctx, run_id: int) -> Run:
    run = get_run(ctx, run_id)
    if run.state != "done":
        raise HTTPException(409, "this run has not finished")
    return run


def start(ctx: Ctx, run: Run) -> Job:
    """Ask the background thread for the run's filings (one job a run at a time)."""
    settings, sessions, run_id = ctx.settings, ctx.web.sessions, run.id

    def work(progress) -> Path:
        with sessions() as db:
            found = db.get(Run, run_id)
            if found is None or found.state != "done":
                raise RunGone(f"run {run_id} has no output folder any more (it was deleted)")
            return make_filings(settings, db, found, progress)

    return ctx.web.worker.jobs.submit(job_key(run_id), work)


def archive(ctx: Ctx, run: Run) -> Path:
    """For a direct download: the zip if it is up to date, else wait for the job."""
    ready = current_filings(ctx.settings, ctx.db, run)
    if ready is not None:
        return ready
    ctx.db.rollback()  # no transaction stays open while the job works
    job = start(ctx, run)
    if not job.finished.wait(WAIT_SECONDS):
        raise HTTPException(
            503, f"the filings are still being made; run {run.id}'s page shows their progress"
        )
    if job.state == "failed":
        raise HTTPException(422, f"cannot make filings.zip: {job.error}")
    return job.result


def status(ctx: Ctx, run: Run) -> dict:
    """What the filings part of a run's page shows: making (with progress), ready, failed
    or not made yet."""
    job = ctx.web.worker.jobs.get(job_key(run.id))
    values: dict = {"run": run, "job": job, "ready": None, "auto_relief": is_auto_relief(run)}
    if job is not None and job.active:
        values["state"] = job.state
        return values
    ready = current_filings(ctx.settings, ctx.db, run)
    if ready is not None:
        made = dt.datetime.fromtimestamp(ready.stat().st_mtime, dt.UTC).replace(tzinfo=None)
        values |= {"state": "ready", "ready": ready, "size": ready.stat().st_size, "made": made}
    elif job is not None and job.state == "failed":
        values["state"] = "failed"
    else:
        values["state"] = "stale" if job is not None else "none"
    return values


@router.get("/runs/{run_id}/filings")
def filings_fragment(run_id: int, ctx: Ctx = Depends(require("read"))) -> Response:
    """The filings part of the run's page (HTMX polls it while the zip is being made)."""
    return ctx.render("_filings.html", **status(ctx, _finished(ctx, run_id)))


@router.post("/runs/{run_id}/filings")
async def make(run_id: int, ctx: Ctx = Depends(require("read"))) -> Response:
    """Start making the run's filings zip in the background."""
    await checked_form(ctx)
    return await in_thread(ctx, _make, run_id)


def _make(ctx: Ctx, run_id: int) -> Response:
    run = _finished(ctx, run_id)
    if current_filings(ctx.settings, ctx.db, run) is None:
        start(ctx, run)
    if ctx.is_htmx:
        return ctx.render("_filings.html", **status(ctx, run))
    return RedirectResponse(f"/runs/{run.id}#filings", status_code=303)
