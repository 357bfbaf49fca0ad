"""Looking up a run for a route: the run, 404 when there is none, 410 when deleted."""

from __future__ import annotations

import datetime as dt

from fastapi import HTTPException

from clearance.web import lifecycle
from clearance.web.context import Ctx
from clearance.web.db import Run, RunTombstone
from clearance.web.settings import local_time

__all__ = ["deleted_message", "get_run"]


def deleted_message(run: Run, tomb: RunTombstone | None, zone: dt.tzinfo = dt.UTC) -> str:
    if tomb is None:
        return f"run {run.id} was deleted"
    return (
        f"run {run.id} was deleted on {local_time(tomb.deleted_at, zone)} by "
        f"{tomb.username}: {tomb.reason}"
    )


def get_run(ctx: Ctx, run_id: int) -> Run:
    """The run, or 404; a deleted run answers 410 Gone, saying who deleted it and why."""
    run = ctx.db.get(Run, run_id)
    if run is None:
        raise HTTPException(404, "no such run")
    if run.state == "deleted":
        raise HTTPException(
            410, deleted_message(run, lifecycle.tombstone(ctx.db, run.id), ctx.settings.zone)
        )
    return run
