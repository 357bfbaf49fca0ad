"""Results: the determinations table, a person's page, review decisions, downloads.

Every handler here is a plain ``def``: FastAPI runs it in its thread pool, so the
database (a decision waits for the audit log's write lock) and the Parquet files are
never read on the event loop. A POST's form is read by an async dependency
(``posted``) before the handler runs, and its CSRF token checked in the handler.
Person-page views and downloads are written to the audit log (who, when, which run,
person or file).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import tempfile
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import polars as pl
from fastapi import APIRouter, Depends, HTTPException, Request
from starlette.background import BackgroundTask
from starlette.datastructures import FormData
from starlette.responses import FileResponse, RedirectResponse, Response

from clearance.explain import ExplainError, PackMismatch, explain
from clearance.filings import FilingsError
from clearance.outputs.determinations import write_workbook
from clearance.report import ReportError
from clearance.textsafe import write_csv
from clearance.web import laws, objections, results, reviewed, reviews
from clearance.web.context import Ctx, require, text
from clearance.web.db import Run, audit_entry
from clearance.web.exports import (
    DOWNLOADS,
    XLSX,
    RunGone,
    ensure_report,
    ensure_reviewed,
    ensure_run_file,
    save_addresses,
)
from clearance.web.routes import filings
from clearance.web.routes.runs import _run_page, get_run
from clearance.web.security import CSRF_FIELD, CSRF_HEADER
from clearance.web.worker import output_dir

router = APIRouter()
VIEWED = "person_viewed"
DOWNLOADED = "downloaded"


async def posted(request: Request) -> FormData:
    """The posted form, read on the event loop (its CSRF token is checked by ``csrf``)."""
    return await request.form()


def csrf(ctx: Ctx, form: FormData) -> FormData:
    """The form, after its CSRF token (field or header) is checked."""
    token = ctx.request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD)
    if not ctx.csrf_ok(token if isinstance(token, str) else None):
        raise HTTPException(403, "the form has expired; reload the page and try again")
    return form


def _seen(form: FormData) -> int | None:
    """The decision the form was shown with (``seen``: an audit entry id, 0 for none)."""
    value = text(form, "seen")
    if not value:
        return None
    if not value.isdigit() or len(value) > 18:
        raise HTTPException(400, "the form is damaged; reload the page")
    return int(value)


def finished_run(ctx: Ctx, run_id: int) -> Run:
    run = get_run(ctx, run_id)
    if run.state != "done":
        raise HTTPException(409, "this run has not finished")
    return run


def _determinations(ctx: Ctx, run: Run):
    return output_dir(ctx.settings, run.id) / "determinations.parquet"


def _query(file: Path, values) -> results.Query:
    """The view the URL parameters ask for (400 with the reason if one is bad)."""
    try:
        return results.check(file, results.Query.parse(values))
    except results.QueryError as exc:
        raise HTTPException(400, str(exc)) from None


def _results_values(ctx: Ctx, run: Run, query: results.Query) -> dict:
    file = _determinations(ctx, run)
    found = results.page(file, reviews.reviews_of(run.id, ctx.db), query)
    return {"run": run, "query": query, "found": found, "options": results.options(file),
            "kinds": results.has_kinds(file), "sorts": results.sorts(file),
            "openers": [results.ENGINE, *reviews.openers(ctx.db, run.id)],
            "determinations": laws.run_law(run).determinations,
            "decisions": laws.review_decisions(run), "can_decide": ctx.can("decide_review"),
            "request_key": secrets.token_hex(16), "selected": set(),
            "queue_link": lambda row: _person_link(run, row["subject_id"], row["cnt_order"],
                                                   query)}  # fmt: skip


@router.get("/runs/{run_id}/results")
def results_page(
    run_id: int, ctx: Ctx = Depends(require("read")), recorded: int = 0, end: int = 0
) -> Response:
    """The determinations table; with ``review=pending``, the review queue."""
    run = finished_run(ctx, run_id)
    query = _query(_determinations(ctx, run), ctx.request.query_params)
    values = _results_values(ctx, run, query)
    values.update(recorded=recorded, end=bool(end))
    if ctx.is_htmx and ctx.request.headers.get("hx-target") == "results-table":
        return ctx.render("_results_table.html", **values)
    return ctx.render("results.html", **values)


def _person_link(run: Run, subject_id: str, cnt_order: str, query: results.Query | None) -> str:
    """A case's place on its person's page, within the view it was opened from."""
    url = f"/runs/{run.id}/people/{subject_id}"
    if query is not None:
        url += "?" + urlencode({"queue": urlencode(query.params()), "cnt": cnt_order})
    return f"{url}#conviction-{cnt_order}"


def _queue_url(run: Run, query: results.Query, **extra: int) -> str:
    params = {**query.params(), **{k: str(v) for k, v in extra.items()}}
    return f"/runs/{run.id}/results" + ("?" + urlencode(params) if params else "")


def _queue_of(ctx: Ctx, run: Run, value: object) -> results.Query | None:
    """The view a person's page was opened from (its ``queue`` parameter: the view's own
    parameters, empty for the whole table), if it was opened from one."""
    if not isinstance(value, str):
        return None
    if len(value) > 2000:
        raise HTTPException(400, "queue: too long; open the case from the queue again")
    return _query(_determinations(ctx, run), dict(parse_qsl(value)))


def _export(ctx: Ctx, run_id: int, kind: str) -> Response:
    """Every row of the view as CSV or Excel (spreadsheet-safe), logged as a download."""
    run = finished_run(ctx, run_id)
    file = _determinations(ctx, run)
    if not file.exists():
        raise HTTPException(410, f"run {run.id} has no output folder any more (it was deleted)")
    query = _query(file, ctx.request.query_params)
    rows = results.export_rows(file, reviews.reviews_of(run.id, ctx.db), query)
    # Written in the run's own (owner-only) folder, removed once sent.
    fd, name = tempfile.mkstemp(
        dir=output_dir(ctx.settings, run.id).parent, prefix=".view-", suffix=f".{kind}"
    )
    os.close(fd)
    path = Path(name)
    try:
        if kind == "csv":
            write_csv(rows, path)
        else:
            # In the rule pack's plain words, as the run's own workbook.
            write_workbook(rows, path, f"Run {run.id}: a view of the determinations", _law(file))
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    # The view, without any search text (it may be a name) or page.
    shown = {k: v for k, v in query.params().items() if k not in ("q", "page")}
    what = ", ".join(f"{k}={v}" for k, v in shown.items()) or "everything"
    note = f"results.{kind}: {rows.height} rows ({what}{'; searched' if query.q else ''})"
    ctx.db.add(audit_entry(ctx.user, DOWNLOADED, run_id=run.id, note=note))
    ctx.db.commit()
    return FileResponse(
        path,
        media_type="text/csv" if kind == "csv" else XLSX,
        filename=f"run-{run.id}-view.{kind}",
        background=BackgroundTask(path.unlink, missing_ok=True),
    )


@router.get("/runs/{run_id}/results.csv")
def export_csv(run_id: int, ctx: Ctx = Depends(require("read"))) -> Response:
    return _export(ctx, run_id, "csv")


@router.get("/runs/{run_id}/results.xlsx")
def export_xlsx(run_id: int, ctx: Ctx = Depends(require("read"))) -> Response:
    return _export(ctx, run_id, "xlsx")


@router.post("/runs/{run_id}/reviews/bulk")
def bulk_decide(
    run_id: int, ctx: Ctx = Depends(require("decide_review")), form: FormData = Depends(posted)
) -> Response:
    """One decision and note on every ticked case: one audit entry each, all or none."""
    csrf(ctx, form)
    run = finished_run(ctx, run_id)
    query = _queue_of(ctx, run, form.get("queue")) or results.Query()
    user = ctx.require_user()
    values = [v for v in form.getlist("case") if isinstance(v, str)]
    try:
        cases = [reviews.parse_case(v) for v in values]
        entries = reviews.decide_many(
            ctx.db, user, run, _determinations(ctx, run), cases, text(form, "decision"),
            str(form.get("note") or ""), request_key=text(form, "request_key"),
        )  # fmt: skip
        ctx.db.commit()
    except reviews.ReviewError as exc:
        ctx.db.rollback()
        page = _results_values(ctx, run, query)
        page.update(error=str(exc), selected=set(values), note=str(form.get("note") or ""),
                    chosen=text(form, "decision"))  # fmt: skip
        return ctx.render("results.html", status=exc.status, **page)
    return RedirectResponse(_queue_url(run, query, recorded=len(entries)), status_code=303)


def _person_values(ctx: Ctx, run: Run, subject_id: str) -> dict:
    try:
        explanation = explain(output_dir(ctx.settings, run.id), subject_id)
    except PackMismatch as exc:  # the run's law is not the one installed
        raise HTTPException(409, str(exc)) from None
    except ExplainError as exc:
        raise HTTPException(404, str(exc)) from None
    engine = {d.conviction["cnt_order"]: d.conviction["determination"] for d in
              explanation.decisions}  # fmt: skip
    states, history = reviews.person_states(ctx.db, run.id, subject_id, engine)
    return {
        "run": run,
        "explanation": explanation,
        "states": states,
        "history": history,
        "decisions": laws.review_decisions(run),
        "auto_relief": laws.is_auto_relief(run),
        "objections": {
            m["cnt_order"]: m
            for m in objections.marked_rows(ctx.db, run.id, _determinations(ctx, run), subject_id)
        },
        "objectable": objections.DUE,
        # A fresh idempotency token for each decision form on the page.
        "request_key": lambda: secrets.token_hex(16),
    }


def _queue_values(ctx: Ctx, run: Run, queue: results.Query | None, subject_id: str,
                  cnt_order: str) -> dict:  # fmt: skip
    """The queue a person's page was opened from: where the case stands in it, links."""
    if queue is None:
        return {"queue": None}
    place = results.position(
        _determinations(ctx, run), reviews.reviews_of(run.id, ctx.db), queue, subject_id,
        cnt_order,
    )  # fmt: skip
    link = lambda key: key and _person_link(run, key[0], key[1], queue)  # noqa: E731
    return {"queue": queue, "queue_param": urlencode(queue.params()), "current": cnt_order,
            "place": place, "back": _queue_url(run, queue),
            "previous_link": link(place.previous) if place else None,
            "next_link": link(place.next) if place else None}  # fmt: skip


@router.get("/runs/{run_id}/people/{subject_id}")
def person_page(
    run_id: int,
    subject_id: str,
    ctx: Ctx = Depends(require("read")),
    queue: str | None = None,
    cnt: str = "",
) -> Response:
    """A person's history and decisions; opened from a view (``queue``, the view's own
    parameters, and ``cnt``, the case), with the way to the case before and after."""
    run = finished_run(ctx, run_id)
    values = _person_values(ctx, run, subject_id)
    values.update(_queue_values(ctx, run, _queue_of(ctx, run, queue), subject_id, cnt))
    ctx.db.add(audit_entry(ctx.user, VIEWED, run_id=run.id, subject_id=subject_id))
    ctx.db.commit()
    return ctx.render("person.html", **values)


def _review_action(ctx: Ctx, form: FormData, run_id: int, action: str) -> Response:
    csrf(ctx, form)
    run = finished_run(ctx, run_id)
    subject_id, cnt_order = text(form, "subject_id"), text(form, "cnt_order")
    note = str(form.get("note") or "")
    ctx.require_user()
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
                seen=_seen(form),
                request_key=text(form, "request_key"),
                zone=ctx.settings.zone,
            )
        ctx.db.commit()
    except reviews.ReviewError as exc:
        ctx.db.rollback()
        if exc.status == 404:
            raise HTTPException(404, str(exc)) from None
        error, status = str(exc), exc.status
    queue = _queue_of(ctx, run, form.get("queue"))
    if not error and queue is not None and text(form, "then") == "next":
        # Decide and go to the next case of the queue (after this one, in its order).
        place = results.position(_determinations(ctx, run), reviews.reviews_of(run.id, ctx.db),
                                 queue, subject_id, cnt_order)  # fmt: skip
        if place is not None and place.next is not None:
            url = _person_link(run, place.next[0], place.next[1], queue)
        else:
            url = _queue_url(run, queue, end=1)
        if ctx.is_htmx:
            return Response(status_code=200, headers={"HX-Redirect": url})
        return RedirectResponse(url, status_code=303)
    if not ctx.is_htmx:
        if error:
            values = _person_values(ctx, run, subject_id)
            values.update(_queue_values(ctx, run, queue, subject_id, cnt_order))
            return ctx.render(
                "person.html", status=status, **values, error=error, error_for=cnt_order
            )
        return RedirectResponse(_person_link(run, subject_id, cnt_order, queue), status_code=303)
    values = _person_values(ctx, run, subject_id)
    values.update(_queue_values(ctx, run, queue, subject_id, cnt_order))
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
def open_review(
    run_id: int, ctx: Ctx = Depends(require("open_review")), form: FormData = Depends(posted)
) -> Response:
    return _review_action(ctx, form, run_id, "open")


@router.post("/runs/{run_id}/reviews/decide")
def decide_review(
    run_id: int, ctx: Ctx = Depends(require("decide_review")), form: FormData = Depends(posted)
) -> Response:
    return _review_action(ctx, form, run_id, "decide")


def _made(ctx: Ctx, run: Run, name: str) -> Path:
    """The file ``name`` of the reviewed run, made first if needed (one-line error if not)."""
    try:
        if laws.is_auto_relief(run):  # no reviewed run: the engine's own files
            if name == "filings.zip":
                return filings.archive(ctx, run)  # made in the background; waited for
            return ensure_run_file(ctx.settings, run, name)
        if name == "upcoming.csv":
            raise HTTPException(404, "no worklist: this run is not of automatic relief")
        if name == "filings.zip":
            return filings.archive(ctx, run)
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
    path = _made(ctx, run, name)
    ctx.db.add(audit_entry(ctx.user, DOWNLOADED, run_id=run.id, note=name))
    ctx.db.commit()
    return FileResponse(
        path,
        media_type=DOWNLOADS[name],
        filename=f"run-{run.id}-reviewed-{name}",
    )


MAX_ADDRESSES_BYTES = 50 * 1024 * 1024
ADDRESSES_SAVED = "addresses_saved"


@router.post("/runs/{run_id}/addresses")
def upload_addresses(
    run_id: int, ctx: Ctx = Depends(require("upload")), form: FormData = Depends(posted)
) -> Response:
    """The mailing addresses for the run's letters: a CSV file checked as `clearance
    filings --addresses` checks it, kept with the run, used by its filings from then on."""
    csrf(ctx, form)
    run = finished_run(ctx, run_id)
    if laws.is_auto_relief(run):
        raise HTTPException(404, "a run of automatic relief has no letters to address")
    upload = form.get("addresses")
    if upload is None or isinstance(upload, str) or not upload.filename:
        return _run_page(ctx, run, status=400, addresses_error="choose a CSV file to upload")
    data = upload.file.read(MAX_ADDRESSES_BYTES + 1)
    if len(data) > MAX_ADDRESSES_BYTES:
        message = f"the file is larger than {MAX_ADDRESSES_BYTES // (1024 * 1024)} MB"
        return _run_page(ctx, run, status=413, addresses_error=message)
    try:
        book = save_addresses(ctx.settings, run.id, data)
    except FilingsError as exc:  # names the file, the line and the problem: no values
        return _run_page(ctx, run, status=400, addresses_error=str(exc))
    note = (
        f"addresses.csv saved: {len(book.rows):,} rows usable, {len(book.problems):,} with a "
        f"problem (sha256 {hashlib.sha256(data).hexdigest()[:16]}…)"
    )
    ctx.db.add(audit_entry(ctx.user, ADDRESSES_SAVED, run_id=run.id, note=note))
    ctx.db.commit()
    return RedirectResponse(f"/runs/{run.id}#addresses", status_code=303)


@router.get("/runs/{run_id}/report.html")
def report_inline(run_id: int, ctx: Ctx = Depends(require("read"))) -> Response:
    """The impact report of the reviewed run, shown in a sandboxed frame of the run page."""
    run = finished_run(ctx, run_id)
    return FileResponse(_made(ctx, run, "report.html"), media_type="text/html")


# ------------------------------------------------------------------ the worklist


def _worklist_values(ctx: Ctx, run: Run) -> dict:
    if not laws.is_auto_relief(run):
        raise HTTPException(404, "no worklist: this run is not of automatic relief")
    out = output_dir(ctx.settings, run.id)
    if not (out / "upcoming.csv").exists():
        raise HTTPException(410, f"run {run.id} has no output folder any more (it was deleted)")
    on = objections.today()
    rows = [
        {**r, "days_left": objections.days_left(r["objection_deadline"], on)}
        for r in pl.read_csv(out / "upcoming.csv", infer_schema=False).iter_rows(named=True)
    ]
    listed = {(r["subject_id"], r["cnt_order"]) for r in rows}
    marked = objections.marked_rows(ctx.db, run.id, _determinations(ctx, run))
    as_of = json.loads((out / "run.json").read_text())["as_of"]
    return {"run": run, "rows": rows, "as_of": as_of, "today": on.isoformat(),
            "marked": {(m["subject_id"], m["cnt_order"]): m for m in marked},
            "late": [m for m in marked if m["late"]],
            "elsewhere": [m for m in marked if (m["subject_id"], m["cnt_order"]) not in listed],
            "can_mark": ctx.can("decide_review"), "filings": filings.status(ctx, run)}  # fmt: skip


@router.get("/runs/{run_id}/worklist")
def worklist_page(run_id: int, ctx: Ctx = Depends(require("read"))) -> Response:
    """The prosecutor's worklist: convictions eligible within the window, by the last day
    to petition to prohibit relief, with the office's marks."""
    run = finished_run(ctx, run_id)
    return ctx.render("worklist.html", **_worklist_values(ctx, run))


@router.post("/runs/{run_id}/objections")
def mark_objection(
    run_id: int, ctx: Ctx = Depends(require("decide_review")), form: FormData = Depends(posted)
) -> Response:
    """Mark (or, with ``withdraw``, unmark) a conviction the office objects to; back to
    the worklist, or to the person's page when the form was there (``back``)."""
    csrf(ctx, form)
    run = finished_run(ctx, run_id)
    if not laws.is_auto_relief(run):
        raise HTTPException(404, "no objections: this run is not of automatic relief")
    subject_id, cnt_order = text(form, "subject_id"), text(form, "cnt_order")
    on_person = text(form, "back") == "person"
    ctx.require_user()
    try:
        if form.get("withdraw"):
            objections.withdraw(ctx.db, ctx.user, run, subject_id, cnt_order,
                                str(form.get("note") or ""))  # fmt: skip
        else:
            objections.mark(ctx.db, ctx.user, run, _determinations(ctx, run), subject_id,
                            cnt_order, str(form.get("grounds") or ""))  # fmt: skip
    except objections.ObjectionError as exc:
        ctx.db.rollback()
        if on_person and exc.status != 404:
            values = _person_values(ctx, run, subject_id)
            return ctx.render("person.html", status=exc.status, **values,
                              objection_error=str(exc), error_for=cnt_order)  # fmt: skip
        values = _worklist_values(ctx, run)
        return ctx.render("worklist.html", status=exc.status, **values, error=str(exc))
    if on_person:
        return RedirectResponse(
            f"/runs/{run.id}/people/{subject_id}#conviction-{cnt_order}", status_code=303
        )
    return RedirectResponse(f"/runs/{run.id}/worklist#row-{subject_id}-{cnt_order}",
                            status_code=303)  # fmt: skip


def _law(determinations: Path):
    """The rule pack of the run whose determinations these are (None: codes as they are)."""
    try:
        provenance = json.loads((determinations.parent / "run.json").read_text())
    except (OSError, ValueError):
        return None
    return reviewed.pack_of(provenance)
