"""Runs in the background: one worker thread calls ``clearance.run.run()``.

The state of every run (queued, running, done, failed), its progress in bytes read
and its error live in the database, so any request can show them and a restart
finds them. One run at a time: a run uses the machine's cores, and two at once
would only make both slower. A run is claimed with a conditional UPDATE (queued ->
running), so two servers on one PostgreSQL database never carry out the same run.
A server that stops mid-run leaves it ``running``; the next start marks it failed
and removes its partial folder.

A run is cancelled by moving it from ``running`` to ``cancelling`` (or from
``queued`` straight to ``cancelled``): the worker stops at its next progress
callback, where ``clearance.run.run`` removes its partial folder as it does on any
error; a run that has read everything already is let finish and its folder removed.
Web runs do not write the plain run's report: the app shows and serves the report of
the reviewed run folder (exports.py), so it would never be read.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from clearance.explain import ExplainError
from clearance.extract.reader import ExtractError
from clearance.filings import FilingsError
from clearance.law import RulePackError, load_pack
from clearance.policy import PolicyError, policy_from_mapping
from clearance.policy.pack_policy import pack_policy_from_mapping
from clearance.report import ReportError
from clearance.run import RunError, run
from clearance.sample import sample_path
from clearance.web.db import Run, RunTombstone, Upload, utcnow
from clearance.web.settings import Settings

log = logging.getLogger("clearance.web")

# Failures whose message is written for users: it names files and lines, never data.
USER_ERRORS = (ExtractError, ExplainError, FileNotFoundError, PolicyError, RulePackError, RunError)
PROGRESS_EVERY = 0.5  # seconds between progress writes to the database
OUTPUT = "output"


class RunGone(LookupError):
    """The run's output folder is gone (the run was deleted): nothing can be made."""


class RunCancelled(Exception):
    """Raised from the progress callback of a run someone cancelled."""


def output_dir(settings: Settings, run_id: int) -> Path:
    return settings.runs_dir / str(run_id) / OUTPUT


def run_folder(settings: Settings, run_id: int) -> Path:
    """Everything on disk of one run: its output, its reviewed folder, any partial."""
    return settings.runs_dir / str(run_id)


def input_paths(settings: Settings, inputs: list[dict]) -> list[Path]:
    """Where a run's input files are: uploads in the data directory, or the sample."""
    paths = []
    for item in inputs:
        if item["kind"] == "sample":
            paths.append(sample_path())
        else:
            path = settings.data_dir / item["path"]
            if not path.is_file():
                raise RunError(f"{item['name']}: the uploaded file is no longer stored")
            paths.append(path)
    return paths


@dataclass
class Job:
    """A piece of background work other than a run (the filings zip of a run): its state
    and progress, kept in this process's memory (a restart forgets them; the files it
    made stay)."""

    key: str
    state: str = "queued"  # queued | working | done | failed
    done: int = 0  # units of work finished so far (documents written)
    error: str | None = None
    result: Any = None
    finished: threading.Event = field(default_factory=threading.Event)

    @property
    def active(self) -> bool:
        return self.state in ("queued", "working")


class QueueThread:
    """Items carried out one at a time, in order, by a thread of their own (``start``);
    ``stop`` ends the thread once what is queued before it is done. Subclasses say
    what carrying out an item is (``carry_out``): it must not raise; what it raises
    all the same is logged by its kind only (its text may quote data), and the thread
    goes on."""

    thread_name = "clearance-queue"

    def __init__(self) -> None:
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None

    def start_thread(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=self.thread_name, daemon=True)
        self._thread.start()

    def put(self, item: Any) -> None:
        self._queue.put(item)

    def stop(self, timeout: float = 5.0) -> None:
        if self._thread is None:
            return
        self._queue.put(None)
        self._thread.join(timeout)
        self._thread = None

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            try:
                self.carry_out(item)
            except Exception as exc:  # keep the thread alive
                log.error("%s: internal error (%s)", self.name_of(item), type(exc).__name__)

    def carry_out(self, item: Any) -> None:
        raise NotImplementedError

    def name_of(self, item: Any) -> str:
        """The item, as the log names it (never its data)."""
        return self.thread_name


class Jobs(QueueThread):
    """Background jobs, one at a time, in order, on a thread of their own (a run and a
    filings zip do not wait for each other). A job is given a progress callback (one
    unit of work done) and returns its result; a failure whose message is written for
    users (``user_errors``) is kept as it is, anything else as its kind only."""

    thread_name = "clearance-jobs"

    def __init__(self, user_errors: tuple[type[Exception], ...] = ()) -> None:
        super().__init__()
        self.user_errors = user_errors
        self._jobs: dict[str, Job] = {}
        self._guard = threading.Lock()

    def start(self) -> None:
        self.start_thread()

    def get(self, key: str) -> Job | None:
        with self._guard:
            return self._jobs.get(key)

    def submit(self, key: str, work: Callable[[Callable[[int], None]], Any]) -> Job:
        """Queue ``work`` under ``key``, unless a job of that key is queued or working
        already (that one is returned). Without the thread (pages tested without the
        worker) the work is done at once, in the caller's thread."""
        with self._guard:
            job = self._jobs.get(key)
            if job is not None and job.active:
                return job
            job = self._jobs[key] = Job(key)
        if self._thread is None:
            self._carry_out(job, work)
        else:
            self.put((job, work))
        return job

    def carry_out(self, item: tuple[Job, Callable[[Callable[[int], None]], Any]]) -> None:
        self._carry_out(*item)

    def _carry_out(self, job: Job, work: Callable[[Callable[[int], None]], Any]) -> None:
        def advance(n: int) -> None:
            job.done += n

        job.state = "working"
        try:
            job.result = work(advance)
            job.state = "done"
        except self.user_errors as exc:
            job.error, job.state = str(exc), "failed"
        except Exception as exc:  # its text may quote data: only its kind is kept
            job.error, job.state = f"internal error ({type(exc).__name__})", "failed"
            log.error("job %s: internal error (%s)", job.key, type(exc).__name__)
        finally:
            job.finished.set()


class Worker(QueueThread):
    """A queue of run ids and the thread that carries them out in order; and the
    background jobs (``jobs``) on a thread of their own."""

    thread_name = "clearance-runs"

    def __init__(self, settings: Settings, sessions: sessionmaker[Session]) -> None:
        super().__init__()
        self.settings = settings
        self.sessions = sessions
        self._cancelled: set[int] = set()  # asked of this process; others see the state
        self.jobs = Jobs((*USER_ERRORS, FilingsError, ReportError, RunGone))

    def start(self) -> None:
        """Recover from an earlier stop, queue what was waiting, start the thread."""
        with self.sessions.begin() as session:
            interrupted = session.scalars(
                select(Run).where(Run.state.in_(("running", "cancelling")))
            ).all()
            for r in interrupted:
                if r.state == "cancelling":  # nothing of a cancelled run is kept
                    r.state, r.error = "cancelled", None
                    shutil.rmtree(run_folder(self.settings, r.id), ignore_errors=True)
                else:
                    r.state = "failed"
                    r.error = "interrupted: the server stopped during the run; start it again"
                    self._remove_partials(r.id)
                r.finished_at = utcnow()
            waiting = session.scalars(select(Run.id).where(Run.state == "queued")).all()
            sweep_deleted(self.settings, session)
        self.start_thread()
        self.jobs.start()
        for run_id in sorted(waiting):
            self.submit(run_id)

    def submit(self, run_id: int) -> None:
        self.put(run_id)

    def cancel(self, run_id: int) -> None:
        """Stop a run at its next progress callback (its state is already cancelling)."""
        self._cancelled.add(run_id)

    def stop(self, timeout: float = 5.0) -> None:
        self.jobs.stop(timeout)
        super().stop(timeout)

    def carry_out(self, item: int) -> None:
        self.execute(item)  # what it raises is logged; the run is marked failed

    def name_of(self, item: int) -> str:
        return f"run {item}"

    def _claim(self, run_id: int) -> Run | None:
        with self.sessions.begin() as session:
            claimed = session.execute(
                update(Run)
                .where(Run.id == run_id, Run.state == "queued")
                .values(state="running", started_at=utcnow())
            ).rowcount
            return session.get(Run, run_id) if claimed == 1 else None

    def execute(self, run_id: int) -> None:
        """Carry out one queued run and record how it ended."""
        claimed = self._claim(run_id)
        if claimed is None:
            return
        error: str | None = None
        try:
            inputs = input_paths(self.settings, claimed.inputs)
            law = None
            if claimed.policy.get("law"):  # a pack other than Prop 64 names itself
                law = load_pack(claimed.policy["law"])
                stored = {k: v for k, v in claimed.policy.items() if k != "source"}
                policy = pack_policy_from_mapping(stored, law, source=claimed.policy_source)
            else:
                policy = policy_from_mapping(claimed.policy, source=claimed.policy_source)
            run(
                inputs,
                county=claimed.county,
                policy=policy,
                as_of=dt.date.fromisoformat(claimed.as_of),
                out=output_dir(self.settings, run_id),
                as_of_source="web form",
                progress=self._progress(run_id, claimed.total_bytes),
                report=False,  # the app shows the reviewed run's report, made on demand
                law=law,
            )
        except RunCancelled:
            pass
        except USER_ERRORS as exc:
            error = str(exc).replace(str(self.settings.data_dir) + "/", "")
        except Exception as exc:
            # An unexpected error's text may quote data: record only its kind.
            error = f"internal error ({type(exc).__name__})"
            log.error("run %s: internal error (%s)", run_id, type(exc).__name__)
        ended = 0
        if run_id not in self._cancelled:  # conditional: a cancel may arrive meanwhile
            values = {"state": "failed" if error else "done", "error": error}
            if not error:
                values["done_bytes"] = claimed.total_bytes
            with self.sessions.begin() as session:
                ended = session.execute(
                    update(Run)
                    .where(Run.id == run_id, Run.state == "running")
                    .values(finished_at=utcnow(), **values)
                ).rowcount
        if not ended:
            # Stopped, or finished after the request: nothing of it is kept.
            shutil.rmtree(run_folder(self.settings, run_id), ignore_errors=True)
            with self.sessions.begin() as session:
                session.execute(
                    update(Run)
                    .where(Run.id == run_id, Run.state.in_(("running", "cancelling")))
                    .values(state="cancelled", error=None, finished_at=utcnow())
                )
        self._cancelled.discard(run_id)

    def _progress(self, run_id: int, total: int):
        """A progress callback writing bytes read to the database (twice a second, and at
        the end of reading, so the page can say the engine has moved on to deciding)."""
        done = 0
        last = 0.0

        def advance(n: int) -> None:
            nonlocal done, last
            if run_id in self._cancelled:
                raise RunCancelled
            done += n
            now = time.monotonic()
            if now - last >= PROGRESS_EVERY or done >= total:
                last = now
                with self.sessions.begin() as session:
                    still_running = session.execute(
                        update(Run)
                        .where(Run.id == run_id, Run.state == "running")
                        .values(done_bytes=done)
                    ).rowcount
                if not still_running:  # cancelled through another server
                    raise RunCancelled

        return advance

    def _remove_partials(self, run_id: int) -> None:
        folder = run_folder(self.settings, run_id)
        for partial in folder.glob(f".{OUTPUT}.partial-*"):
            shutil.rmtree(partial, ignore_errors=True)


def sweep_deleted(settings: Settings, session: Session) -> None:
    """Remove what a deletion left on disk (a server stopped while it removed files):
    the folders of deleted runs, and the upload folders whose row is gone."""
    for tomb in session.scalars(select(RunTombstone)):
        shutil.rmtree(run_folder(settings, tomb.run_id), ignore_errors=True)
        for item in tomb.inputs:
            upload_id = item.get("upload_id")
            if upload_id is not None and session.get(Upload, upload_id) is None:
                shutil.rmtree(settings.uploads_dir / str(upload_id), ignore_errors=True)
