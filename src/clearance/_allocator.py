"""Allocator settings: keep freed memory a little longer instead of returning it.

Polars allocates with jemalloc, glibc's allocator serves Python's large byte
strings; both give freed pages back to the system soon after, and pages given back
must be faulted in again by the next allocation. A run allocates and frees the same
amounts batch after batch, so that churn cost a 10M-row run 19 s of system time.

``tune_jemalloc`` (called by the command launcher, ``clearance.__main__``, for the
batch commands only, before Polars is imported; never on ``import clearance``) keeps
jemalloc's freed pages for 2 s and then returns them at once, without the "muzzy"
stage (pages marked free but still counted as resident): a 10M-row run spends 12 s
of system time instead of 19 s, and 47 s instead of 51 s in all, at the same peak
memory (docs/performance.md). Polars reads ``_RJEM_MALLOC_CONF`` when it is first
imported, after its own defaults; a value the user set wins over ours.

The reader's large buffers (``keep_large_buffers``):

glibc serves allocations above a threshold (at most 32 MiB, adjusted dynamically) with
fresh ``mmap`` pages and gives them back on free. The reader handles 32 MiB chunks of
bytes one after another, so every chunk would fault in new pages; on virtual
machines that costs more than the work on the bytes itself (measured: copying a
chunk 4x slower). Raising the thresholds keeps those pages in the heap for the next
chunk. Peak memory does not grow: the same few chunk-sized buffers are reused.

Linux with glibc only; elsewhere this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from functools import cache

JEMALLOC_CONF = "dirty_decay_ms:2000,muzzy_decay_ms:0"

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 256 * 1024 * 1024
TRIM_THRESHOLD = 1024 * 1024 * 1024


@cache
def _libc() -> ctypes.CDLL | None:
    """glibc, on Linux; None elsewhere or when it cannot be loaded."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


@cache
def keep_large_buffers() -> bool:
    """Tune glibc once per process; True when it took effect."""
    libc = _libc()
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is None:
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )


def release_buffers() -> bool:
    """Give the heap's free pages back to the system (after the reader is done)."""
    trim = getattr(_libc(), "malloc_trim", None)
    return bool(trim(0)) if trim is not None else False


def tune_jemalloc() -> None:
    """Set jemalloc's decay for Polars, keeping any setting the user made (theirs last)."""
    if "polars" in sys.modules:  # too late: jemalloc is configured once, at import
        return
    mine = os.environ.get("_RJEM_MALLOC_CONF")
    os.environ["_RJEM_MALLOC_CONF"] = JEMALLOC_CONF + (f",{mine}" if mine else "")
