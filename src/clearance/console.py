"""What every command shares: the screens, one-line failures and the progress bar.

Kept apart from cli.py so that the commands defined elsewhere (``clearance filings``
in filings/command.py, ``clearance serve``/``users``/``audit`` in web/commands.py)
use the same screens and exit statuses without importing the command line that
registers them. Personal data never goes into a message.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from clearance._folders import disk_error_line
from clearance.explain import ExplainError
from clearance.extract.reader import ExtractError
from clearance.filings.errors import FilingsError
from clearance.law import RulePackError
from clearance.policy import PolicyError
from clearance.report.figures import ReportError
from clearance.run_common import RunError
from clearance.screen import Screen

__all__ = ["USER_ERRORS", "err", "fail", "out", "progress_bar", "user_errors"]

# Data never drives the terminal: see screen.py (values in markup lines pass shown()).
out = Screen()
err = Screen(stderr=True)

# Failures a user can act on: their message is safe to print (names files and lines,
# never the content of a line).
USER_ERRORS: tuple[type[Exception], ...] = (
    ExtractError,
    ExplainError,
    FileNotFoundError,
    FilingsError,
    PolicyError,
    ReportError,
    RulePackError,
    RunError,
)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``clearance: message`` on stderr; the exit to raise (status 2 by default)."""
    err.print(f"clearance: {message}", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code)


@contextmanager
def progress_bar(description: str, total: int | None) -> Iterator:
    """A progress bar on a terminal; silence otherwise (logs, CI, pipes)."""
    if not err.is_terminal:
        yield lambda n: None
        return
    columns = [TextColumn("{task.description}"), BarColumn(), TimeRemainingColumn()]
    if total is not None:
        columns.insert(2, DownloadColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the failures a user can act on into one line and exit status 2."""
    try:
        yield
    except USER_ERRORS as exc:
        raise fail(str(exc)) from None
    except Exception as exc:
        # A full disk, a folder not writable: one line naming the file or folder.
        line = disk_error_line(exc) if isinstance(exc, OSError) else None
        if line is not None:
            raise fail(line) from None
        if os.environ.get("CLEARANCE_DEBUG"):
            raise
        # The message of an unexpected error may quote data; name only its kind.
        raise fail(
            f"internal error ({type(exc).__name__}); set CLEARANCE_DEBUG=1 for details", 1
        ) from None
