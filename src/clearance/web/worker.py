"""Runs in the background: one worker thread calls ``clearance.run.run()``.

The state of every run (queued, running, done, failed), its progress in bytes read
and its error live in the database, so any request can show them and a restart
finds them. One run at a time: a run uses the machine's cores, and two at once
would only make both slower. A run is claimed with a conditional UPDATE (queued ->
running), so two servers on one PostgreSQL database never carry out the same run.
A server that stops mid-run leaves it ``running``; the next start marks it failed
and removes its partial folder.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import shutil
import threading
import time
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from clearance.explain import ExplainError
from clearance.extract.reader import ExtractError
from clearance.law import RulePackError
from clearance.policy import PolicyError, policy_from_mapping
from clearance.run import RunError, run
from clearance.sample import sample_path
from clearance.web.db import Run, utcnow
from clearance.web.settings import Settings

log = logging.getLogger("clearance.web")

# Failures whose message is written for users: it names files and lines, never data.
USER_ERRORS = (ExtractError, ExplainError, FileNotFoundError, PolicyError, RulePackError, RunError)
PROGRESS_EVERY = 0.5  # seconds between progress writes to the database
OUTPUT = "output"


def output_dir(settings: Settings, run_id: int) -> Path:
    return settings.runs_dir / str(run_id) / OUTPUT


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


class Worker:
    """A queue of run ids and the thread that carries them out in order."""

    def __init__(self, settings: Settings, sessions: sessionmaker[Session]) -> None:
        self.settings = settings
        self.sessions = sessions
        self._queue: queue.Queue[int | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Recover from an earlier stop, queue what was waiting, start the thread."""
        with self.sessions.begin() as session:
            interrupted = session.scalars(select(Run).where(Run.state == "running")).all()
            for r in interrupted:
                r.state = "failed"
                r.error = "interrupted: the server stopped during the run; start it again"
                r.finished_at = utcnow()
                self._remove_partials(r.id)
            waiting = session.scalars(select(Run.id).where(Run.state == "queued")).all()
        self._thread = threading.Thread(target=self._loop, name="clearance-runs", daemon=True)
        self._thread.start()
        for run_id in sorted(waiting):
            self.submit(run_id)

    def submit(self, run_id: int) -> None:
        self._queue.put(run_id)

    def stop(self, timeout: float = 5.0) -> None:
        if self._thread is None:
            return
        self._queue.put(None)
        self._thread.join(timeout)
        self._thread = None

    def _loop(self) -> None:
        while True:
            run_id = self._queue.get()
            if run_id is None:
                return
            try:
                self.execute(run_id)
            except Exception as exc:  # keep the worker alive; the run is marked failed
                log.error("run %s: internal error (%s)", run_id, type(exc).__name__)

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
            policy = policy_from_mapping(claimed.policy, source=claimed.policy_source)
            run(
                inputs,
                county=claimed.county,
                policy=policy,
                as_of=dt.date.fromisoformat(claimed.as_of),
                out=output_dir(self.settings, run_id),
                as_of_source="web form",
                progress=self._progress(run_id, claimed.total_bytes),
            )
        except USER_ERRORS as exc:
            error = str(exc).replace(str(self.settings.data_dir) + "/", "")
        except Exception as exc:
            # An unexpected error's text may quote data: record only its kind.
            error = f"internal error ({type(exc).__name__})"
            log.error("run %s: internal error (%s)", run_id, type(exc).__name__)
        with self.sessions.begin() as session:
            row = session.get(Run, run_id)
            assert row is not None
            row.state = "failed" if error else "done"
            row.error = error
            row.finished_at = utcnow()
            if not error:
                row.done_bytes = row.total_bytes

    def _progress(self, run_id: int, total: int):
        """A progress callback writing bytes read to the database (twice a second, and at
        the end of reading, so the page can say the engine has moved on to deciding)."""
        done = 0
        last = 0.0

        def advance(n: int) -> None:
            nonlocal done, last
            done += n
            now = time.monotonic()
            if now - last >= PROGRESS_EVERY or done >= total:
                last = now
                with self.sessions.begin() as session:
                    session.execute(update(Run).where(Run.id == run_id).values(done_bytes=done))

        return advance

    def _remove_partials(self, run_id: int) -> None:
        folder = self.settings.runs_dir / str(run_id)
        for partial in folder.glob(f".{OUTPUT}.partial-*"):
            shutil.rmtree(partial, ignore_errors=True)
