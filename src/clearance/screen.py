"""The console every command prints through: data never drives the terminal.

A name or a court in an extract may hold terminal escape codes (``\\x1b[31m``) or
text Rich reads as markup (``[/]``, ``[bold]``). Two guards keep them inert:

- every string printed, whole lines and table cells alike, passes through
  ``textsafe.terminal_safe`` on its way to Rich, so no control character from the data
  reaches the terminal (line feeds and tabs of a message are kept); Rich's own styles
  are added after, and are unaffected;
- a value placed in a line with markup of its own is escaped where it is placed
  (``textsafe.shown``). Should one be missed, a line whose markup does not parse is
  printed as plain text rather than stopping the command with a traceback.

Emoji codes (``:cat:``) are never replaced either: a name is printed as it is written.
JSON (``inspect --json``) is printed in ASCII, every other character as a ``\\uXXXX``
escape, so a C1 control inside a string (which JSON may hold as is) stays inert too.
"""

from __future__ import annotations

import contextlib
from typing import Any, NoReturn

from rich.console import Console
from rich.errors import MarkupError
from rich.text import Text

from clearance.textsafe import terminal_safe

__all__ = ["CLOSED_PIPE_LINE", "CLOSED_PIPE_STATUS", "Screen", "closed_pipe"]


# A command whose output pipe closed early (``clearance inspect x | head -1``) stops
# with one line on standard error and the status of a problem outside clearance (2),
# never the 1 of an internal error (issue 18, "CLI polish").
CLOSED_PIPE_STATUS = 2
CLOSED_PIPE_LINE = "clearance: the output was closed before all of it was written"


def closed_pipe() -> NoReturn:
    """Say the output was closed early, in one line, and exit with CLOSED_PIPE_STATUS."""
    import os
    import sys

    try:  # standard error may be gone too; the status says it all then
        sys.stderr.write(CLOSED_PIPE_LINE + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    # Nothing more reaches the closed pipe at exit (Python would complain of the flush).
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    raise SystemExit(CLOSED_PIPE_STATUS)


class Screen(Console):
    """A Rich console that passes no control character of a string to the terminal."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("emoji", False)
        super().__init__(*args, **kwargs)

    def print_json(self, json: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("ensure_ascii", True)
        super().print_json(json, **kwargs)

    def render_str(self, text: str, **kwargs: Any) -> Text:
        text = terminal_safe(text, lines=True)
        try:
            return super().render_str(text, **kwargs)
        except MarkupError:
            return super().render_str(text, **{**kwargs, "markup": False})

    def on_broken_pipe(self) -> None:
        """The reader went away (``| head``): one line, status 2 (Rich's own exits 1)."""
        with contextlib.suppress(SystemExit):
            super().on_broken_pipe()
        closed_pipe()
