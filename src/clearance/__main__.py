"""The ``clearance`` command (pyproject's ``[project.scripts]``) and ``python -m clearance``.

A thin launcher: a batch command (one that reads or writes an extract: ``run``,
``demo``, ``compare``, ``synth``, ``stage``, ``inspect``) first sets Polars'
allocator up for batch after batch of the same sizes (``_allocator.tune_jemalloc``),
which must happen before anything imports Polars, so before ``clearance.cli`` is
imported. Every other command (``serve`` above all) and ``import clearance`` leave
the process's environment as they found it.
"""

from __future__ import annotations

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
    from clearance.screen import CLOSED_PIPE_STATUS

    try:
        app(prog_name="clearance")
    except SystemExit as exc:
        # Text written past a closed pipe (``laws show | head``): Click stops writing
        # (its flush wrapper in place of stdout) and exits 1, an internal error's status.
        if exc.code == 1 and type(sys.stdout).__name__ == "PacifyFlushWrapper":
            sys.exit(CLOSED_PIPE_STATUS)
        raise


if __name__ == "__main__":
    main()
