"""The reviewed run folder of a web run, and what is made from it: report, filings.

Downloads are always of the *reviewed* run: the folder is rewritten when a decision
has been recorded since it was last written (it records the id of the latest
decision it reflects), so a download never misses a decision and an unchanged run
is not rewritten. The impact report (``clearance.report.write_report``) and the
court filings (``clearance.filings.write_filings``) are made from that folder,
exactly as ``clearance report`` and ``clearance filings`` make them from a run
folder: a rewritten folder starts without them, and they are made again on
request. Filings use the office file an admin saved (``office.yaml`` in the data
directory), or the blank draft whose fields are marked to be filled in, and the
run's mailing addresses if some were uploaded (``addresses.csv`` in the run's
folder, read as ``clearance filings --addresses`` reads it).
One re-entrant lock per run keeps two requests from writing at once, and a
download from writing the folder again while a deletion removes it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.orm import Session

from clearance._folders import aside, private_dir, write_private
from clearance.filings import FilingsError, Office, OfficeError, load_office
from clearance.filings.addresses import AddressBook, read_addresses, read_addresses_text
from clearance.web import objections, reviews
from clearance.web.db import Run
from clearance.web.laws import is_auto_relief
from clearance.web.reviewed import write_reviewed_run
from clearance.web.settings import Settings
from clearance.web.worker import RunGone, output_dir

REVIEWED = "reviewed"
OFFICE_FILE = "office.yaml"
FILINGS = "filings"
FILINGS_ZIP = "filings.zip"
FILINGS_KEY = ".filings-key"  # which office and addresses files the filings were made with
ADDRESSES_FILE = "addresses.csv"  # a run's mailing addresses for the letters (uploaded)
_locks: dict[int, threading.RLock] = {}
_locks_guard = threading.Lock()

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# What can be downloaded: name -> media type. Every file is of the reviewed run.
DOWNLOADS = {
    "determinations.csv": "text/csv",
    "determinations.xlsx": XLSX,
    "determinations.parquet": "application/vnd.apache.parquet",
    "summary.json": "application/json",
    "run.json": "application/json",
    "report.html": "text/html",
    "report.pdf": "application/pdf",
    "filings.zip": "application/zip",
    "upcoming.csv": "text/csv",  # a ca-auto-relief run's worklist
}
OBJECTIONS = "objections"  # a ca-auto-relief run's filings: petitions to prohibit relief


def reviewed_dir(settings: Settings, run_id: int) -> Path:
    return settings.runs_dir / str(run_id) / REVIEWED


def run_lock(run_id: int) -> threading.RLock:
    """The lock held while a run's reviewed folder is written, or its files removed."""
    with _locks_guard:
        return _locks.setdefault(run_id, threading.RLock())


def _reflects(folder: Path) -> int | None:
    """The latest decision id a reviewed folder reflects, or None if there is none."""
    try:
        return json.loads((folder / "run.json").read_text())["review"]["last_audit_id"]
    except (FileNotFoundError, KeyError, ValueError):
        return None


def ensure_reviewed(settings: Settings, db: Session, run: Run) -> Path:
    """The run's reviewed folder, rewritten first if a decision has been made since."""
    folder = reviewed_dir(settings, run.id)
    with run_lock(run.id):
        if not (output_dir(settings, run.id) / "determinations.parquet").exists():
            raise RunGone(f"run {run.id} has no output folder any more (it was deleted)")
        latest = reviews.last_decision_id(db, run.id)
        if _reflects(folder) != latest:
            write_reviewed_run(
                output_dir(settings, run.id),
                reviews.latest_decisions(db, run.id),
                folder,
                last_audit_id=latest,
            )
    return folder


def ensure_report(settings: Settings, db: Session, run: Run) -> Path:
    """The reviewed folder with report.html and report.pdf in it (ReportError if not)."""
    from clearance.report import write_report

    with run_lock(run.id):
        folder = ensure_reviewed(settings, db, run)
        if not (folder / "report.html").exists() or not (folder / "report.pdf").exists():
            write_report(folder)
    return folder


def office_path(settings: Settings) -> Path:
    return settings.data_dir / OFFICE_FILE


def saved_office(settings: Settings) -> Office | None:
    """The office file an admin saved, or None (filings are then a marked draft)."""
    path = office_path(settings)
    if not path.exists():
        return None
    try:
        return load_office(path)
    except OfficeError as exc:
        raise OfficeError(str(exc).replace(str(path), OFFICE_FILE)) from None


def _office_key(settings: Settings) -> str:
    path = office_path(settings)
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "blank"


def addresses_path(settings: Settings, run_id: int) -> Path:
    return settings.runs_dir / str(run_id) / ADDRESSES_FILE


def save_addresses(settings: Settings, run_id: int, data: bytes) -> AddressBook:
    """Check an uploaded addresses file as `--addresses` does, then keep it for the run's
    filings; AddressError (one line, no personal data) if it is not such a table."""
    book = read_addresses_text(data, ADDRESSES_FILE)
    with run_lock(run_id):
        path = addresses_path(settings, run_id)
        private_dir(path.parent)
        write_private(path, data)
    return book


def saved_addresses(settings: Settings, run_id: int) -> AddressBook | None:
    path = addresses_path(settings, run_id)
    return read_addresses(path) if path.exists() else None


def addresses_summary(settings: Settings, run_id: int) -> dict | None:
    """What the run page says of the uploaded addresses: rows usable, rows with a problem,
    and, once the filings are made with them, how many letters have no address."""
    try:
        book = saved_addresses(settings, run_id)
    except FilingsError:
        return None
    if book is None:
        return None
    made = filings_manifest(settings, run_id) or {}
    letters = made.get("letters") or {}
    addresses = letters.get("addresses") or {}
    return {
        "rows": len(book.rows),
        "problems": len(book.problems),
        "people": letters.get("people") if addresses.get("file") else None,
        "without_address": addresses.get("without_address") if addresses.get("file") else None,
    }


def _addresses_key(settings: Settings, run_id: int) -> str:
    path = addresses_path(settings, run_id)
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "none"


def _filings_key(settings: Settings, run_id: int) -> str:
    """What a reviewed run's filings depend on besides its decisions: office, addresses."""
    return f"{_office_key(settings)}:{_addresses_key(settings, run_id)}"


def ensure_filings(
    settings: Settings, db: Session, run: Run, progress: Callable[[int], None] | None = None
) -> Path:
    """filings.zip of the reviewed run, made again when a decision, the office or the
    addresses changed (``progress`` is told of each document written)."""
    from clearance.filings import write_filings

    with run_lock(run.id):
        folder = ensure_reviewed(settings, db, run)
        key = _filings_key(settings, run.id)
        archive = folder / FILINGS_ZIP
        marker = folder / FILINGS_KEY
        if not archive.exists() or not marker.exists() or marker.read_text() != key:
            write_filings(
                folder,
                folder / FILINGS,
                saved_office(settings),
                addresses=saved_addresses(settings, run.id),
                progress=progress,
            )
            _zip(folder / FILINGS, archive, _as_of(folder))
            marker.write_text(key)
    return archive


def current_filings(settings: Settings, db: Session, run: Run) -> Path | None:
    """The run's filings.zip if it is up to date (every decision, mark, the office file
    and the addresses as they are now), else None; never makes anything."""
    if is_auto_relief(run):
        folder = settings.runs_dir / str(run.id) / OBJECTIONS
        key = _objections_key(settings, db, run)
    else:
        folder = reviewed_dir(settings, run.id)
        if _reflects(folder) != reviews.last_decision_id(db, run.id):
            return None
        key = _filings_key(settings, run.id)
    archive, marker = folder / FILINGS_ZIP, folder / FILINGS_KEY
    try:
        return archive if archive.exists() and marker.read_text() == key else None
    except FileNotFoundError:
        return None


def make_filings(settings: Settings, db: Session, run: Run, progress=None) -> Path:
    """The run's filings.zip, made if it is not up to date: the petitions to prohibit
    relief of a ca-auto-relief run, the reviewed run's filings otherwise."""
    if is_auto_relief(run):
        return ensure_objection_filings(settings, db, run)
    return ensure_filings(settings, db, run, progress)


def ensure_run_file(settings: Settings, run: Run, name: str) -> Path:
    """A file of a run whose pack has no reviewed run (ca-auto-relief): the run's own
    output, its report made there first if needed. Review decisions stay in the audit
    log; the determinations are the engine's."""
    from clearance.report import write_report

    folder = output_dir(settings, run.id)
    with run_lock(run.id):
        if not (folder / "determinations.parquet").exists():
            raise RunGone(f"run {run.id} has no output folder any more (it was deleted)")
        if name.startswith("report.") and not (folder / name).exists():
            write_report(folder)
    return folder / name


def ensure_objection_filings(settings: Settings, db: Session, run: Run) -> Path:
    """filings.zip of a ca-auto-relief run: a petition to prohibit relief for each
    conviction marked in the audit log, the list of those not objected to; made again
    when a mark, the office or the day changed (a petition past its deadline is late)."""
    from clearance.explain import pack_for_run
    from clearance.filings.objections import objections_from_rows, write_objection_filings

    run_dir = output_dir(settings, run.id)
    folder = settings.runs_dir / str(run.id) / OBJECTIONS
    with run_lock(run.id):
        if not (run_dir / "determinations.parquet").exists():
            raise RunGone(f"run {run.id} has no output folder any more (it was deleted)")
        private_dir(folder)
        # Filed today: a mark whose last day to petition has passed is drafted as late.
        filed_on = objections.today()
        key = _objections_key(settings, db, run, filed_on)
        archive, marker = folder / FILINGS_ZIP, folder / FILINGS_KEY
        if not archive.exists() or not marker.exists() or marker.read_text() != key:
            provenance = json.loads((run_dir / "run.json").read_text())
            marked = objections_from_rows(objections.marks(db, run.id), "web app")
            write_objection_filings(
                run_dir, folder / FILINGS, pack_for_run(provenance), provenance,
                saved_office(settings), marked, filed_on=filed_on,
            )  # fmt: skip
            _zip(folder / FILINGS, archive, _as_of(run_dir))
            marker.write_text(key)
    return archive


def _objections_key(settings: Settings, db: Session, run: Run, on: dt.date | None = None) -> str:
    """What a ca-auto-relief run's filings depend on: the office, the marks, the day."""
    on = on or objections.today()
    return f"{_office_key(settings)}:{objections.marks_key(db, run.id)}:{on}"


def filings_manifest(settings: Settings, run_id: int) -> dict | None:
    """What the last filings of a run hold (filings.json), if they have been made."""
    path = reviewed_dir(settings, run_id) / FILINGS / "filings.json"
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None


def _as_of(folder: Path) -> dt.datetime:
    as_of = dt.date.fromisoformat(json.loads((folder / "run.json").read_text())["as_of"])
    return dt.datetime(max(as_of.year, 1980), as_of.month, as_of.day)


def _zip(source: Path, archive: Path, stamp: dt.datetime) -> None:
    """A zip of the folder with fixed order and dates: the same filings, the same bytes."""
    when = stamp.timetuple()[:6]
    with aside(archive) as partial, zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(f"{FILINGS}/{path.relative_to(source).as_posix()}", when)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, path.read_bytes())
