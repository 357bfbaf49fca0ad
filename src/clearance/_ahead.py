"""Make the next item of an iterator on a thread while the caller uses this one.

Polars, pyarrow and zlib release the GIL while they work, so on two cores reading
the next group of rows (or serialising the next piece of a sheet) runs alongside
the caller's work on the current one: the time of the longer of the two, not
their sum. One item is made ahead, so memory holds at most one more.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


def made_ahead(items: Iterator[T]) -> Iterator[T]:
    """``items`` in order, each next one made on a thread; errors are raised here."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ahead") as maker:
        pending = maker.submit(next, items, _DONE)
        try:
            while (item := pending.result()) is not _DONE:
                pending = maker.submit(next, items, _DONE)
                yield item  # type: ignore[misc]
        finally:
            wait([pending])  # the thread is idle before the iterator is closed
            close = getattr(items, "close", None)
            if close is not None:
                close()
