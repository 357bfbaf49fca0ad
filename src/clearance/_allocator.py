"""Let the C allocator reuse the reader's large buffers instead of returning them.

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
import sys
from functools import cache

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
