"""Allocator settings reach Polars' jemalloc (Linux, where Polars' wheels use it)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="Polars uses jemalloc on Linux"
)


def jemalloc_options(user_conf: str) -> str:
    """What jemalloc reports at exit for a process that imports clearance, then Polars."""
    env = {**os.environ, "_RJEM_MALLOC_CONF": user_conf}
    done = subprocess.run(
        [sys.executable, "-c", "import clearance, polars; polars.DataFrame({'a': [1]})"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout + done.stderr


def test_freed_pages_are_kept_two_seconds_and_then_returned():
    options = jemalloc_options("stats_print:true")
    assert "opt.dirty_decay_ms: 2000" in options
    assert "opt.muzzy_decay_ms: 0" in options


def test_a_setting_the_user_made_wins():
    options = jemalloc_options("dirty_decay_ms:3000,stats_print:true")
    assert "opt.dirty_decay_ms: 3000" in options
    assert "opt.muzzy_decay_ms: 0" in options
