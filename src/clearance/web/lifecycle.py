"""Ending a run early, and deleting one: what an office does when a run should not exist.

- **Cancel** (anyone who may start runs): a queued run is cancelled at once; a
  running one is marked ``cancelling`` and the worker stops at its next progress
  callback, removing the partial folder (worker.py).
- **Delete** (admins only, with a reason and the run's number typed to confirm):
  the run's uploaded extracts, its output folder and its reviewed folder (report,
  filings) are removed from the disk. What is kept is a tombstone (who, when, why,
  the inputs' names, SHA-256 and sizes, and the counts: rows, people, convictions by
  determination, decisions), the audit log entry of the deletion, and the review
  decisions already in the audit log, which is append-only. The run cannot be opened
  again: its pages answer 410 Gone with the tombstone's who, when and why.

Deletion is recorded in the database first, then the files are removed (under the
run's export lock, so no download rewrites them meanwhile); a server stopped in
between removes them on its next start (``worker.sweep_deleted``).
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from clearance._digest import file_sha256
from clearance.sample import sample_path
from clearance.web import reviews
from clearance.web.db import ACTIVE_STATES, Run, RunTombstone, Upload, User, audit_entry, utcnow
from clearance.web.exports import run_lock
from clearance.web.reviewed import DECISIONS
from clearance.web.settings import Settings
from clearance.web.worker import Worker, output_dir, run_folder

log = logging.getLogger("clearance.web")
DELETABLE = ("queued", "done", "failed", "cancelled")
MAX_REASON = 4000


class RunActionError(ValueError):
    """A cancel or delete that cannot be carried out; ``status`` is the HTTP status."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _audit(db: Session, user: User, action: str, run_id: int, note: str) -> None:
    db.add(audit_entry(user, action, run_id=run_id, note=note))


def cancel_run(db: Session, worker: Worker, user: User, run: Run) -> str:
    """Cancel a queued or running run; return its new state. Logged in the audit log."""
    for before, after in (("queued", "cancelled"), ("running", "cancelling")):
        changed = db.execute(
            update(Run)
            .where(Run.id == run.id, Run.state == before)
            .values(state=after, **({"finished_at": utcnow()} if after == "cancelled" else {}))
        ).rowcount
        if changed:
            _audit(db, user, "run_cancelled", run.id, f"cancelled while {before}")
            db.commit()
            if after == "cancelling":
                worker.cancel(run.id)
            db.refresh(run)
            return after
    raise RunActionError(
        f"run {run.id} is {run.state}: only a queued or running run can be cancelled", 409
    )


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}


def tombstone_inputs(settings: Settings, run: Run) -> list[dict]:
    """Each input's name, SHA-256, size and rows: enough to recognise the file again."""
    read = _read_json(output_dir(settings, run.id) / "run.json").get("inputs", [])
    kept = []
    for i, item in enumerate(run.inputs):
        entry = {"kind": item["kind"], "name": item["name"], "size_bytes": item["size_bytes"]}
        if item["kind"] == "upload":
            entry["upload_id"] = item["upload_id"]
            entry["sha256"] = item["sha256"]
        elif item.get("sha256"):  # a rap sheet's (sheets.py)
            entry["sha256"] = item["sha256"]
        else:
            entry["sha256"] = file_sha256(sample_path())
        if i < len(read) and read[i].get("sha256") == entry["sha256"]:
            for key in ("rows_read", "rows_used", "rows_rejected"):
                entry[key] = read[i].get(key)
        kept.append(entry)
    return kept


def tombstone_counts(settings: Settings, db: Session, run: Run) -> dict:
    """Figures of the run that name nobody: rows, people and convictions, decisions."""
    summary = _read_json(output_dir(settings, run.id) / "summary.json")
    decided = reviews.latest_decisions(db, run.id)
    counts: dict = {
        "county": run.county,
        "policy": run.policy_name,
        "as_of": run.as_of,
        "review_decisions": {d: sum(x.decision == d for x in decided) for d in DECISIONS},
    }
    if summary:
        counts.update(
            rows=summary["rows"],
            people_in_scope=summary["people_in_scope"],
            convictions_in_scope=summary["convictions_in_scope"],
            engine_by_determination=summary["by_determination"],
        )
    return counts


def delete_run(
    settings: Settings, db: Session, user: User, run: Run, *, reason: str, confirm: str
) -> RunTombstone:
    """Delete a run (see the module's docstring); RunActionError says why not."""
    reason = reviews.required_text(
        reason, "reason", "say why the run is deleted", RunActionError, MAX_REASON
    )
    if confirm.strip() != str(run.id):
        raise RunActionError(f"type the run's number ({run.id}) to confirm the deletion")
    if run.state in ACTIVE_STATES and run.state != "queued":
        raise RunActionError(f"run {run.id} is {run.state}: cancel it first, then delete it", 409)
    if run.state not in DELETABLE:
        raise RunActionError(f"run {run.id} is {run.state}", 409)
    upload_ids = [i["upload_id"] for i in run.inputs if i["kind"] == "upload"]
    others = db.scalars(
        select(Run).where(Run.state.in_(ACTIVE_STATES), Run.id != run.id).order_by(Run.id)
    ).all()
    for other in others:
        shared = [i["name"] for i in other.inputs if i.get("upload_id") in upload_ids]
        if shared:
            raise RunActionError(
                f"run {other.id} ({other.state}) still reads {shared[0]}: "
                "cancel it or let it finish first",
                409,
            )
    uploads = [u for u in (db.get(Upload, i) for i in upload_ids) if u is not None]
    with run_lock(run.id):
        tomb = RunTombstone(
            run_id=run.id,
            deleted_by=user.id,
            username=user.username,
            role=user.role,
            reason=reason,
            state=run.state,
            inputs_json=json.dumps(tombstone_inputs(settings, run), sort_keys=True),
            counts_json=json.dumps(tombstone_counts(settings, db, run), sort_keys=True),
        )
        # Conditional: the worker may have claimed a queued run meanwhile.
        claimed = db.execute(
            update(Run).where(Run.id == run.id, Run.state.in_(DELETABLE)).values(state="deleted")
        ).rowcount
        if not claimed:
            db.rollback()
            raise RunActionError(f"run {run.id} has just started: cancel it first", 409)
        db.add(tomb)
        removed = f"its folders and {len(uploads)} uploaded file(s) removed"
        _audit(db, user, "run_deleted", run.id, f"{reason} ({removed})")
        for upload in uploads:
            db.delete(upload)
        db.commit()
        _remove(run_folder(settings, run.id))
        for upload_id in upload_ids:
            _remove(settings.uploads_dir / str(upload_id))
    db.refresh(run)
    return tomb


def _remove(folder: Path) -> None:
    """Remove a folder; a failure is logged (by path, which names no one) and swept
    again on the next start."""
    try:
        shutil.rmtree(folder)
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("could not remove %s (%s); removed again on the next start", folder, exc)


def tombstone(db: Session, run_id: int) -> RunTombstone | None:
    return db.scalar(select(RunTombstone).where(RunTombstone.run_id == run_id))
