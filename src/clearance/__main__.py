"""The ``clearance`` command (pyproject's ``[project.scripts]``) and ``python -m clearance``.

A thin launcher: a batch command (one that reads or writes an extract: ``run``,
``demo``, ``compare``, ``synth``, ``stage``, ``inspect``) first sets Polars'
allocator up for batch after batch of the same sizes (``_allocator.tune_jemalloc``),
which must happen before anything imports Polars, so before ``clearance.cli`` is
imported. Every other command (``serve`` above all) and ``import clearance`` leave
the process's environment as they found it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from clearance._allocator import tune_jemalloc

__all__ = ["BATCH_COMMANDS", "command_of", "main"]

BATCH_COMMANDS = frozenset({"run", "demo", "compare", "synth", "stage", "inspect"})


def command_of(args: Sequence[str]) -> str | None:
    """The command named on a command line (its first word not an option), if any."""
    return next((arg for arg in args if not arg.startswith("-")), None)


def main() -> None:
    """Tune the allocator for a batch command, then run the command line."""
    if command_of(sys.argv[1:]) in BATCH_COMMANDS:
        tune_jemalloc()
    # Imported here, not above: the allocator must be tuned before cli imports Polars.
    from clearance.cli import app
    from clearance.screen import closed_pipe

    output = _identity(1)
    try:
        app(prog_name="clearance")
    except SystemExit as exc:
        # Text written past a closed pipe (``laws show | head``): Click stops writing
        # (its flush wrapper in place of stdout) and exits 1; Rich (a command's help)
        # puts /dev/null in place of standard output and exits 1. Neither is an
        # internal error.
        if exc.code == 1 and (
            type(sys.stdout).__name__ == "PacifyFlushWrapper" or _identity(1) != output
        ):
            closed_pipe()
        raise


def _identity(fd: int) -> tuple[int, int] | None:
    """The device and inode of an open file descriptor (None: not open)."""
    try:
        status = os.fstat(fd)
    except OSError:
        return None
    return status.st_dev, status.st_ino


if __name__ == "__main__":
    main()
