"""One person's rap sheet in the web app (docs/web.md, "One person's rap sheet").

An attorney uploads a rap sheet (text or PDF) with the as-of date and, if wanted,
the county; a background thread decides it under every rule pack with
``clearance.sheet.decide_sheet``, exactly as ``clearance sheet`` does. Each pack's
run folder (one a pack and county) then becomes a finished run of the app
(``runs/N/output``), so the person's page, the review with its audit trail, the
reviewed downloads and the deletion of a run work on it unchanged. The sheet
keeps its file, ``sheet.json`` and ``rejects.csv`` in ``sheets/S/`` and the
numbers of its runs; its drafts (petitions and letters, ``draft_person``) are
made from the reviewed runs on each download. Deleting the sheet deletes each of
its runs through ``lifecycle.delete_run`` (tombstones, audit entries) and then
its folder.

Nothing here logs or audits the file's name, which may be the person's: the
audit log names the sheet by its number, and an error its kind only.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
import threading
import zipfile
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from clearance._folders import private_dir
from clearance.law import load_pack
from clearance.policy import load_policy
from clearance.run_common import RunError
from clearance.sheet import SheetError, decide_sheet
from clearance.sheet.decide import SHEET_FILE, slug
from clearance.web import lifecycle, policy_form, reviews
from clearance.web.db import Base, Run, User, audit_entry, utcnow
from clearance.web.exports import ensure_reviewed, run_lock, saved_office
from clearance.web.laws import is_auto_relief
from clearance.web.settings import Settings
from clearance.web.uploads import ReceivedFile, UploadError
from clearance.web.worker import USER_ERRORS, QueueThread, output_dir

log = logging.getLogger("clearance.web")

SHEET_SUFFIXES = (".txt", ".pdf")
SHEET_STATES = ("queued", "running", "done", "failed", "deleted")
DECIDED = "decided"  # the folder of decide_sheet's output, in sheets/S/
DRAFTS = "drafts"
DRAFTS_ZIP = "drafts.zip"
MAX_COUNTY = 64
# A rap sheet is a few pages; a scan of many pages at 300 dpi stays well under this.
MAX_SHEET_BYTES = 100 * 1024 * 1024
_drafting: dict[int, threading.Lock] = {}
_drafting_guard = threading.Lock()


class Sheet(Base):
    """One uploaded rap sheet: its file, its settings, its state and its runs."""

    __tablename__ = "sheets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    state: Mapped[str] = mapped_column(String(16), default="queued")
    filename: Mapped[str] = mapped_column(String(255))
    path: Mapped[str] = mapped_column(String(512))  # relative to the data directory
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    as_of: Mapped[str] = mapped_column(String(10))  # YYYY-MM-DD
    county: Mapped[str | None] = mapped_column(String(MAX_COUNTY), nullable=True)
    subject_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # [{"run_id": N, "pack": NAME, "county": NAME}], in the order decided
    runs_json: Mapped[str] = mapped_column(Text, default="[]")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    deleted_note: Mapped[str | None] = mapped_column(Text, nullable=True)

    @property
    def runs(self) -> list[dict[str, Any]]:
        return json.loads(self.runs_json)

    @property
    def run_ids(self) -> list[int]:
        return [r["run_id"] for r in self.runs]


def sheet_limit(settings: Settings) -> int:
    """The largest rap sheet upload: the app's upload limit, at most 100 MB."""
    return min(settings.max_upload_bytes, MAX_SHEET_BYTES)


def sheets_dir(settings: Settings) -> Path:
    return settings.data_dir / "sheets"


def sheet_folder(settings: Settings, sheet_id: int) -> Path:
    """Everything on disk of one sheet but its runs: the file, sheet.json, drafts."""
    return sheets_dir(settings) / str(sheet_id)


def decided_dir(settings: Settings, sheet_id: int) -> Path:
    return sheet_folder(settings, sheet_id) / DECIDED


def refuse_sheet_name(name: str) -> str | None:
    """Why a file name is refused as a rap sheet (None: accepted)."""
    if name.lower().endswith(SHEET_SUFFIXES):
        return None
    return f"{name}: not a rap sheet file; upload the rap sheet as text (.txt) or PDF (.pdf)"


def check_sheet(received: ReceivedFile) -> None:
    """The cheap checks at upload (the reader's own come in the background)."""
    name = received.filename
    if received.size == 0:
        raise UploadError(f"{name}: the file is empty")
    with received.path.open("rb") as handle:
        head = handle.read(4096)
    if name.lower().endswith(".pdf"):
        if not head.startswith(b"%PDF-"):
            raise UploadError(f"{name}: not a PDF file (it does not start as one)")
    elif b"\x00" in head:
        raise UploadError(f"{name}: not a text file (it holds binary data)")
    received.checked_bytes = len(head)


def new_sheet(
    settings: Settings, db: Session, user: User, received: ReceivedFile, as_of: str, county: str
) -> Sheet:
    """Record an uploaded sheet, move its file into ``sheets/S/`` and audit it."""
    sheet = Sheet(
        created_by=user.id,
        filename=received.filename,
        path="",
        size_bytes=received.size,
        sha256=received.sha256,
        as_of=as_of,
        county=county or None,
    )
    db.add(sheet)
    db.flush()
    folder = private_dir(sheet_folder(settings, sheet.id))
    target = folder / received.filename
    received.path.rename(target)
    target.chmod(0o600)
    sheet.path = str(target.relative_to(settings.data_dir))
    where = county or "the counties of the sheet's courts"
    note = (
        f"sheet {sheet.id}; as of {as_of}; {where}; {received.size:,} bytes, "
        f"sha256 {received.sha256[:16]}…"
    )
    db.add(audit_entry(user, "sheet_created", note=note))
    return sheet


class SheetWorker(QueueThread):
    """A queue of sheet ids and the thread that decides them in order."""

    thread_name = "clearance-sheets"

    def __init__(self, settings: Settings, sessions: sessionmaker[Session]) -> None:
        super().__init__()
        self.settings = settings
        self.sessions = sessions
        private_dir(sheets_dir(settings))  # uploads arrive here, owner-only

    def start(self) -> None:
        """Fail what a stopped server left running, queue what waits, start the thread."""
        with self.sessions.begin() as session:
            for sheet in session.scalars(select(Sheet).where(Sheet.state == "running")):
                sheet.state, sheet.finished_at = "failed", utcnow()
                sheet.error = "interrupted: the server stopped while deciding; upload it again"
                shutil.rmtree(decided_dir(self.settings, sheet.id), ignore_errors=True)
            for sheet in session.scalars(select(Sheet).where(Sheet.state == "deleted")):
                shutil.rmtree(sheet_folder(self.settings, sheet.id), ignore_errors=True)
            waiting = session.scalars(select(Sheet.id).where(Sheet.state == "queued")).all()
        self.start_thread()
        for sheet_id in sorted(waiting):
            self.submit(sheet_id)

    def submit(self, sheet_id: int) -> None:
        self.put(sheet_id)

    def carry_out(self, item: int) -> None:
        self.execute(item)

    def name_of(self, item: int) -> str:
        return f"sheet {item}"

    def execute(self, sheet_id: int) -> None:
        """Decide one queued sheet and turn its run folders into runs of the app."""
        with self.sessions.begin() as session:
            claimed = session.execute(
                update(Sheet)
                .where(Sheet.id == sheet_id, Sheet.state == "queued")
                .values(state="running")
            ).rowcount
        if claimed != 1:
            return
        with self.sessions() as session:
            sheet = session.get(Sheet, sheet_id)
            if sheet is None:
                return
            error = None
            try:
                self._decide(session, sheet)
            except (*USER_ERRORS, SheetError, RunError) as exc:
                error = str(exc).replace(str(self.settings.data_dir) + "/", "")
            except Exception as exc:  # its text may quote the sheet: its kind only
                error = f"internal error ({type(exc).__name__})"
                log.error("sheet %s: internal error (%s)", sheet_id, type(exc).__name__)
            if error:
                session.rollback()
                shutil.rmtree(decided_dir(self.settings, sheet_id), ignore_errors=True)
                session.execute(
                    update(Sheet)
                    .where(Sheet.id == sheet_id, Sheet.state == "running")
                    .values(state="failed", error=error, finished_at=utcnow())
                )
                session.commit()

    def _decide(self, db: Session, sheet: Sheet) -> None:
        out = decided_dir(self.settings, sheet.id)
        result = decide_sheet(
            self.settings.data_dir / sheet.path,
            "all",
            sheet.county,
            dt.date.fromisoformat(sheet.as_of),
            out,
        )
        creator = db.get(User, sheet.created_by)
        made: list[dict] = []
        moved: list[Path] = []
        try:
            for pack, by_county in result.answer["packs"].items():
                for county in by_county:
                    run = self._run_of(db, sheet, pack, county)
                    target = output_dir(self.settings, run.id)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    (out / pack / slug(county)).rename(target)
                    moved.append(target.parent)
                    note = f"sheet {sheet.id}: {pack}; {county}; as of {sheet.as_of}"
                    db.add(audit_entry(creator, "run_created", run_id=run.id, note=note))
                    made.append({"run_id": run.id, "pack": pack, "county": county})
                shutil.rmtree(out / pack, ignore_errors=True)
            sheet.runs_json = json.dumps(made)
            sheet.subject_id = result.answer["subject_id"]
            sheet.state, sheet.finished_at = "done", utcnow()
            db.commit()
        except BaseException:
            for folder in moved:
                shutil.rmtree(folder, ignore_errors=True)
            raise

    def _run_of(self, db: Session, sheet: Sheet, pack: str, county: str) -> Run:
        """A finished run of the app for one pack and county of the sheet."""
        law = load_pack(pack)
        policy = load_policy("statute", law)
        stored = (
            policy_form.stored_mapping(policy) if policy_form.is_prop64(law) else policy.to_file()
        )
        now = utcnow()
        run = Run(
            created_by=sheet.created_by,
            state="done",
            county=county,
            policy_name=policy.name,
            policy_source="statute",
            policy_json=json.dumps(stored),
            as_of=sheet.as_of,
            inputs_json=json.dumps([sheet_input(sheet)]),
            total_bytes=sheet.size_bytes,
            done_bytes=sheet.size_bytes,
            started_at=now,
            finished_at=now,
        )
        db.add(run)
        db.flush()
        return run


def sheet_input(sheet: Sheet) -> dict:
    """A sheet run's input, as ``Run.inputs`` lists it (the tombstone keeps its hash)."""
    return {
        "kind": "sheet",
        "sheet_id": sheet.id,
        "name": sheet.filename,
        "sha256": sheet.sha256,
        "size_bytes": sheet.size_bytes,
    }


def answer(settings: Settings, sheet: Sheet) -> dict | None:
    path = decided_dir(settings, sheet.id) / SHEET_FILE
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None


def live_runs(db: Session, sheet: Sheet) -> list[tuple[dict, Run]]:
    """The sheet's runs still there (one of them may be deleted on its own)."""
    found = []
    for item in sheet.runs:
        run = db.get(Run, item["run_id"])
        if run is not None and run.state == "done":
            found.append((item, run))
    return found


def pack_rows(db: Session, sheet_answer: dict, item: dict, run: Run) -> list[dict]:
    """One run's rows of the answer, each with the latest review decision, if any."""
    decided = {
        d.cnt_order: d
        for d in reviews.latest_decisions(db, run.id)
        if d.subject_id == sheet_answer["subject_id"]
    }
    rows = sheet_answer["packs"].get(item["pack"], {}).get(item["county"], {}).get("rows", [])
    return [{**row, "review": decided.get(str(row["cnt_order"]))} for row in rows]


def drafts_zip(settings: Settings, db: Session, sheet: Sheet) -> Path:
    """The person's petitions and letters (``draft_person``) from the sheet's reviewed
    runs (automatic relief's own folders: they have no reviewed run), with the office
    file, zipped; made again on each download, so it follows the latest decisions."""
    runs = live_runs(db, sheet)
    if not runs or sheet.subject_id is None:
        raise RunError(f"sheet {sheet.id} has no run left to draft from")
    folders = []
    for _, run in runs:
        with run_lock(run.id):
            if is_auto_relief(run):
                folders.append(output_dir(settings, run.id))
            else:
                folders.append(ensure_reviewed(settings, db, run))
    with _drafting_guard:
        lock = _drafting.setdefault(sheet.id, threading.Lock())
    with lock:  # one download at a time writes the sheet's drafts
        return _write_drafts(settings, sheet, folders)


def _write_drafts(settings: Settings, sheet: Sheet, folders: list[Path]) -> Path:
    from clearance.filings.person import draft_person

    base = sheet_folder(settings, sheet.id)
    drafts = base / DRAFTS
    shutil.rmtree(drafts, ignore_errors=True)
    draft_person(folders, sheet.subject_id, saved_office(settings), drafts)
    archive = base / DRAFTS_ZIP
    partial = base / f".{DRAFTS_ZIP}.partial"
    when = dt.date.fromisoformat(sheet.as_of)
    stamp = (max(when.year, 1980), when.month, when.day, 0, 0, 0)
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(p for p in drafts.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(f"{DRAFTS}/{path.relative_to(drafts).as_posix()}", stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            zf.writestr(info, path.read_bytes())
    partial.chmod(0o600)
    partial.replace(archive)
    return archive


def delete_sheet(
    settings: Settings, db: Session, user: User, sheet: Sheet, *, reason: str, confirm: str
) -> None:
    """Delete a sheet: each of its runs as a run is deleted (tombstone, audit entry),
    then its folder (the file, sheet.json, drafts); RunActionError says why not."""
    reason = reviews.required_text(
        reason, "reason", "say why the sheet is deleted", lifecycle.RunActionError,
        lifecycle.MAX_REASON,
    )  # fmt: skip
    if confirm.strip() != str(sheet.id):
        raise lifecycle.RunActionError(f"type the sheet's number ({sheet.id}) to confirm")
    if sheet.state in ("queued", "running"):
        raise lifecycle.RunActionError(
            f"sheet {sheet.id} is {sheet.state}: let it finish, then delete it", 409
        )
    for item in sheet.runs:
        run = db.get(Run, item["run_id"])
        if run is not None and run.state != "deleted":
            lifecycle.delete_run(
                settings, db, user, run, reason=f"{reason} (sheet {sheet.id})", confirm=str(run.id)
            )
    when = utcnow()
    claimed = db.execute(
        update(Sheet)
        .where(Sheet.id == sheet.id, Sheet.state.in_(("done", "failed")))
        .values(
            state="deleted",
            deleted_note=f"deleted on {when:%Y-%m-%d %H:%M} UTC by {user.username}: {reason}",
        )
    ).rowcount
    if not claimed:
        db.rollback()
        raise lifecycle.RunActionError(f"sheet {sheet.id} is {sheet.state}", 409)
    runs = len(sheet.runs)
    note = f"sheet {sheet.id}: {reason} (its file, its {runs} run(s) and its drafts removed)"
    db.add(audit_entry(user, "sheet_deleted", note=note))
    db.commit()
    shutil.rmtree(sheet_folder(settings, sheet.id), ignore_errors=True)
    db.refresh(sheet)
