"""The one failure the filings raise for bad input: its message is safe to print.

Messages name the file and the problem, never a person's data.
"""

from __future__ import annotations

__all__ = ["FilingsError"]


class FilingsError(ValueError):
    """A run folder, office file or output folder the filings cannot use."""
