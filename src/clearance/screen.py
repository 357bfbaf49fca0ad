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

from typing import Any

from rich.console import Console
from rich.errors import MarkupError
from rich.text import Text

from clearance.textsafe import terminal_safe

__all__ = ["Screen"]


# The status of a command whose output pipe closed early (``clearance inspect x | head
# -1``): quiet, with the status a shell reports for git or coreutils, which SIGPIPE
# ends (128 + 13), never the 1 of an internal error.
CLOSED_PIPE_STATUS = 141


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
        """The reader went away (``| head``): stop quietly (Rich's own exits 1)."""
        super_exit = None
        try:
            super().on_broken_pipe()
        except SystemExit as exc:
            super_exit = exc
        raise SystemExit(CLOSED_PIPE_STATUS) from super_exit
