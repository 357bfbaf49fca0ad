"""Allocator settings reach Polars' jemalloc (Linux, where Polars' wheels use it).

The batch commands set them through the command launcher (``clearance.__main__``,
the ``clearance`` script and ``python -m clearance``) before Polars is imported;
other commands, and ``import clearance`` itself, leave the environment alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from clearance.__main__ import BATCH_COMMANDS, command_of

SRC = Path(__file__).resolve().parents[1] / "src"
linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="Polars uses jemalloc on Linux"
)


def _env(**extra: str) -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path, **extra}


def jemalloc_options(user_conf: str, *args: str) -> str:
    """What jemalloc reports at exit for ``python -m clearance ARGS``."""
    done = subprocess.run(
        [sys.executable, "-m", "clearance", *args],
        env=_env(_RJEM_MALLOC_CONF=user_conf), capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout + done.stderr


@pytest.fixture
def synth_args(tmp_path) -> list[str]:
    """A batch command: a tiny synthetic extract."""
    return ["synth", "--subjects", "2", "--out", str(tmp_path / "x.dat")]


@linux_only
def test_a_batch_command_keeps_freed_pages_two_seconds_and_then_returns_them(synth_args):
    options = jemalloc_options("stats_print:true", *synth_args)
    assert "opt.dirty_decay_ms: 2000" in options
    assert "opt.muzzy_decay_ms: 0" in options


@linux_only
def test_a_setting_the_user_made_wins(synth_args):
    options = jemalloc_options("dirty_decay_ms:3000,stats_print:true", *synth_args)
    assert "opt.dirty_decay_ms: 3000" in options
    assert "opt.muzzy_decay_ms: 0" in options


@linux_only
def test_other_commands_keep_jemallocs_defaults():
    options = jemalloc_options("stats_print:true", "policies")
    assert "opt.dirty_decay_ms: 2000" not in options
    assert "opt.muzzy_decay_ms: 0" not in options


def test_the_batch_commands_are_found_on_the_command_line():
    assert command_of(["run", "x.dat", "--county", "X"]) == "run"
    assert command_of(["--version"]) is None
    assert command_of([]) is None
    assert {"run", "demo", "synth", "compare"} <= BATCH_COMMANDS
    assert "serve" not in BATCH_COMMANDS


def _environment_change(modules: str) -> dict:
    """What importing ``modules`` (comma-separated) changes in ``os.environ``."""
    code = (
        "import json, os; before = dict(os.environ); "
        f"import {modules}; "
        "after = dict(os.environ); "
        "print(json.dumps({k: after.get(k) for k in set(before) ^ set(after) "
        "| {k for k in before if before[k] != after.get(k)}}))"
    )
    env = _env()
    env.pop("_RJEM_MALLOC_CONF", None)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def test_importing_clearance_leaves_the_environment_alone():
    assert _environment_change("clearance, clearance.web") == {}
    # Polars sets its own allocator defaults in os.environ when imported (polars/__init__.py);
    # importing the web app and the command line, which import Polars, adds nothing to that.
    polars_own = _environment_change("polars")
    assert _environment_change("clearance, clearance.web.app, clearance.cli") == polars_own
    assert "2000" not in polars_own.get("_RJEM_MALLOC_CONF", "")
