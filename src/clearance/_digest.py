"""SHA-256 of a file, read in blocks: what run.json, the filings and tombstones cite."""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_sha256(path: Path, block_bytes: int = 1 << 20) -> str:
    """The file's SHA-256 in hex, read ``block_bytes`` at a time (never whole)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(block_bytes):
            digest.update(block)
    return digest.hexdigest()
