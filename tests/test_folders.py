"""Output folders (issue 15): what --out may replace, stale partial folders, owner-only
permissions, and disk errors said in one line (src/clearance/_folders.py)."""

from __future__ import annotations

import errno
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clearance import __version__
from clearance.cli import app
from conftest import line

runner = CliRunner()
SRC = Path(__file__).resolve().parents[1] / "src"
AS_OF = "2020-07-01"
TOOL = {"tool": {"name": "clearance", "version": __version__}}


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def one_line(result) -> str:
    """The output of a failed command: exactly one line."""
    assert result.output.endswith("\n") and result.output.count("\n") == 1, result.output
    return result.output


def extract(folder: Path, name: str = "extract.dat") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    rows = [
        line(SUBJECT_ID="1", PRI_NAME="ROE,RICHARD"),
        line(SUBJECT_ID="2", PRI_NAME="DOE,JANE", OFFENSE_DESCR="11359 HS-POSSESS FOR SALE"),
    ]
    path.write_text("\n".join(rows) + "\n")
    return path


def run(source: Path, out: Path):
    return invoke("run", source, "--county", "SACRAMENTO", "--as-of", AS_OF, "--out", out)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() if p.is_file() else b"<dir>"
        for p in sorted(folder.rglob("*"))
    }


@pytest.fixture
def source(tmp_path) -> Path:
    return extract(tmp_path / "in")


@pytest.fixture(scope="module")
def earlier(tmp_path_factory) -> Path:
    """A run folder, with its public report too (put there with --out)."""
    base = tmp_path_factory.mktemp("earlier")
    out = base / "run"
    result = run(extract(base / "in"), out)
    assert result.exit_code == 0, result.output
    assert invoke("report", "--run", out, "--public", "--out", out).exit_code == 0
    return out


# --- what --out may replace --------------------------------------------------


def test_out_holding_the_input_extract_is_refused_and_the_extract_kept(tmp_path):
    """`clearance run nr6/extract.dat --out nr6` deleted the extract."""
    source = extract(tmp_path / "nr6")
    before = source.read_bytes()
    result = run(source, tmp_path / "nr6")
    assert result.exit_code == 2
    assert "nr6 holds" in one_line(result) and "an input of this command" in result.output
    assert source.read_bytes() == before


def test_out_holding_the_input_beside_a_real_run_is_refused(tmp_path, source):
    out = tmp_path / "out"
    assert run(source, out).exit_code == 0
    moved = out / "extract.dat"
    source.rename(moved)  # the input now lives in the earlier run's folder
    result = run(moved, out)
    assert result.exit_code == 2
    assert "an input of this command" in one_line(result)
    assert moved.exists()


def test_out_holding_a_hard_link_to_the_input_is_refused(tmp_path, source):
    out = tmp_path / "out"
    assert run(source, out).exit_code == 0
    (out / "rejects.csv").unlink()
    os.link(source, out / "rejects.csv")  # the input under a name a run writes
    result = run(source, out)
    assert result.exit_code == 2
    assert "an input of this command" in one_line(result)
    assert source.exists()


def test_out_with_a_run_json_not_written_by_clearance_is_refused(tmp_path, source):
    """run.json = {}, a document and a subfolder: wiped before."""
    out = tmp_path / "mine"
    (out / "sub").mkdir(parents=True)
    (out / "run.json").write_text("{}")
    (out / "letter.docx").write_text("keep me")
    (out / "sub" / "notes.txt").write_text("keep me too")
    before = snapshot(out)
    result = run(source, out)
    assert result.exit_code == 2
    message = one_line(result)
    assert "mine is not an earlier run's output folder" in message
    assert "run.json was not written by clearance" in message
    assert snapshot(out) == before


@pytest.mark.parametrize("content", ["not json", "[]", '{"tool": "clearance"}', "{" * 10_000])
def test_a_run_json_that_does_not_name_the_tool_is_not_a_run(tmp_path, source, content):
    out = tmp_path / "out"
    out.mkdir()
    (out / "run.json").write_text(content)
    (out / "determinations.csv").write_text("keep")
    result = run(source, out)
    assert result.exit_code == 2
    assert "was not written by clearance" in one_line(result)
    assert (out / "determinations.csv").read_text() == "keep"


def test_a_folder_without_run_json_is_not_a_run(tmp_path, source):
    out = tmp_path / "out"
    out.mkdir()
    (out / "determinations.csv").write_text("keep")
    result = run(source, out)
    assert result.exit_code == 2
    assert "it has no run.json" in one_line(result)


def test_a_clearance_run_json_beside_a_stray_file_is_refused(tmp_path, source):
    out = tmp_path / "out"
    out.mkdir()
    (out / "run.json").write_text(json.dumps(TOOL))
    (out / "letter.docx").write_text("keep me")
    result = run(source, out)
    assert result.exit_code == 2
    assert "it holds the file letter.docx, which a run does not write" in one_line(result)
    assert (out / "letter.docx").read_text() == "keep me"


def test_a_real_run_with_a_subfolder_or_a_link_added_is_refused(tmp_path, source):
    out = tmp_path / "out"
    assert run(source, out).exit_code == 0
    (out / "filings").mkdir()
    result = run(source, out)
    assert result.exit_code == 2
    assert "it holds the folder filings/" in one_line(result)
    (out / "filings").rmdir()
    (out / "summary.json").unlink()
    (out / "summary.json").symlink_to(source)
    result = run(source, out)
    assert result.exit_code == 2
    assert source.exists()


def test_an_earlier_run_with_its_reports_and_comparison_is_replaced(tmp_path, source):
    out = tmp_path / "out"
    assert run(source, out).exit_code == 0
    assert invoke("report", "--run", out, "--public", "--out", out).exit_code == 0
    (out / "compare.json").write_text("{}")  # what `compare` adds
    (out / ".DS_Store").write_bytes(b"\0")  # what a desktop adds
    result = run(source, out)
    assert result.exit_code == 0, result.output
    assert not (out / "report-public.html").exists()  # the folder was replaced whole
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_out_under_a_file_is_one_line(tmp_path, source):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run(source, blocker / "out")
    assert result.exit_code == 2
    assert "is a file, not a folder" in one_line(result)
    result = run(source, blocker)
    assert result.exit_code == 2
    assert "is a file, not a folder" in one_line(result)
    assert blocker.read_text() == "x"


# --- every command that writes a folder with --out ----------------------------


def test_demo_refuses_a_folder_that_is_not_a_run(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "run.json").write_text("{}")
    (out / "thesis.docx").write_text("keep")
    result = invoke("demo", "--out", out)
    assert result.exit_code == 2
    _banner, error = result.output.split("\nclearance: ")  # the demo's banner goes to stdout
    assert "\n" not in error.rstrip("\n") and "not an earlier run's output folder" in error
    assert (out / "thesis.docx").exists()


def test_filings_replaces_only_an_earlier_filings_folder(earlier, tmp_path):
    out = tmp_path / "filings"
    out.mkdir()
    (out / "filings.json").write_text("{}")
    (out / "motion.docx").write_text("my own motion")
    result = invoke("filings", "--run", earlier, "--out", out)
    assert result.exit_code == 2
    assert "not an earlier filings folder" in one_line(result)
    assert (out / "motion.docx").read_text() == "my own motion"

    fresh = tmp_path / "fresh"
    assert invoke("filings", "--run", earlier, "--out", fresh).exit_code == 0
    assert invoke("filings", "--run", earlier, "--out", fresh).exit_code == 0  # replaced
    (fresh / "sacramento" / "notes.txt").write_text("mine")
    result = invoke("filings", "--run", earlier, "--out", fresh)
    assert result.exit_code == 2
    assert "sacramento/notes.txt, which clearance filings does not write" in one_line(result)


def test_filings_never_replaces_its_run_folder(earlier, tmp_path):
    result = invoke("filings", "--run", earlier, "--out", earlier)
    assert result.exit_code == 2
    assert "is an input of this command" in one_line(result)
    assert (earlier / "run.json").exists()


def test_stage_replaces_only_an_earlier_stage_folder(tmp_path, source):
    out = tmp_path / "stage"
    out.mkdir()
    (out / "manifest.json").write_text('{"format": "something else"}')
    (out / "data.csv").write_text("keep")
    result = invoke("stage", source, "--out", out)
    assert result.exit_code == 2
    assert "not an earlier stage folder" in one_line(result)
    assert (out / "data.csv").exists()
    fresh = tmp_path / "fresh"
    assert invoke("stage", source, "--out", fresh).exit_code == 0
    assert invoke("stage", source, "--out", fresh).exit_code == 0
    result = invoke("stage", fresh / "rejects.csv", "--out", fresh)
    assert result.exit_code == 2
    assert "an input of this command" in one_line(result)


def test_report_out_writes_only_into_a_reports_or_run_folder(earlier, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "report.html").write_text("my own report")
    (mine / "notes.txt").write_text("mine")
    result = invoke("report", "--run", earlier, "--out", mine)
    assert result.exit_code == 2
    assert "it holds the file notes.txt" in one_line(result)
    assert (mine / "report.html").read_text() == "my own report"

    public = tmp_path / "public"
    for _ in range(2):  # written, then written again over its own reports
        result = invoke("report", "--run", earlier, "--public", "--out", public)
        assert result.exit_code == 0, result.output
    result = invoke("report", "--run", earlier, "--out", tmp_path / "mine" / "notes.txt")
    assert result.exit_code == 2
    assert "is a file, not a folder" in one_line(result)


def test_compare_out_is_checked_before_deciding(earlier, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "compare.html").write_text("mine")
    (mine / "budget.xlsx").write_text("mine")
    result = invoke(
        "compare",
        "--run",
        earlier,
        "--policy",
        "statute",
        "--policy",
        "bear-default",
        "--out",
        mine,
    )
    assert result.exit_code == 2
    assert "it holds the file budget.xlsx" in one_line(result)
    assert (mine / "compare.html").read_text() == "mine"


# --- stale partial folders -----------------------------------------------------


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_stale_partial_folder_is_removed_by_the_next_run(tmp_path, source):
    pid = dead_pid()
    stale = tmp_path / f".out.partial-{pid}"
    stale.mkdir()
    (stale / "history.parquet").write_text("names, dates of birth")
    (tmp_path / f".out.old-{pid}").mkdir()
    (tmp_path / f".out.tmp-{pid}").mkdir()
    # Not this command's kind, or still alive: left alone.
    other = tmp_path / f".other.partial-{pid}"
    other.mkdir()
    alive = tmp_path / f".out.partial-{os.getppid()}"
    alive.mkdir()
    unlike = tmp_path / ".out.partial-notapid"
    unlike.mkdir()

    assert run(source, tmp_path / "out").exit_code == 0
    left = {p.name for p in tmp_path.iterdir()}
    assert left == {"in", "out", other.name, alive.name, unlike.name}


def test_filings_and_stage_remove_their_stale_partial_folders(earlier, tmp_path, source):
    for name, command in (
        ("filings", ["filings", "--run", earlier]),
        ("stage", ["stage", source]),
    ):
        stale = tmp_path / f".{name}.tmp-{dead_pid()}"
        stale.mkdir()
        (stale / "doj-disposition-update.csv").write_text("personal data")
        assert invoke(*command, "--out", tmp_path / name).exit_code == 0
        assert not stale.exists()


def test_a_killed_run_leaves_no_partial_folder_after_the_next_run(tmp_path):
    """SIGKILL a run mid-way on a synthetic extract, run again: no partial folder left."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    data = tmp_path / "synth.dat"
    cmd = [sys.executable, "-m", "clearance"]
    subprocess.run(
        [*cmd, "synth", "--subjects", "1500", "--county", "SACRAMENTO", "--out", data],
        env=env,
        check=True,
        capture_output=True,
    )
    out = tmp_path / "out"
    run_cmd = [*cmd, "run", data, "--county", "SACRAMENTO", "--as-of", AS_OF, "--out", out]
    child = subprocess.Popen(run_cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    partial = tmp_path / f".out.partial-{child.pid}"
    while child.poll() is None and not (partial.is_dir() and any(partial.iterdir())):
        time.sleep(0.005)
    if child.poll() is not None:
        pytest.fail(f"the run ended before it could be killed: {child.stderr.read()!r}")
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert partial.is_dir()  # what a kill leaves behind...
    assert stat.S_IMODE(partial.stat().st_mode) == 0o700  # ...readable by its owner only
    done = subprocess.run(run_cmd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "synth.dat"]


# --- owner-only permissions -----------------------------------------------------


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def assert_owner_only(folder: Path) -> None:
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    for path in folder.rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))


def test_a_run_folder_and_its_files_are_owner_only_under_umask_022(umask_022, tmp_path, source):
    out = tmp_path / "out"
    assert run(source, out).exit_code == 0
    assert_owner_only(out)
    assert invoke("report", "--run", out, "--public").exit_code == 0
    assert_owner_only(out)
    assert_owner_only(tmp_path / "out-public")  # the public report's own folder


def test_filings_stage_and_report_folders_are_owner_only(umask_022, earlier, tmp_path, source):
    assert invoke("filings", "--run", earlier, "--out", tmp_path / "filings").exit_code == 0
    assert_owner_only(tmp_path / "filings")
    assert invoke("stage", source, "--out", tmp_path / "stage").exit_code == 0
    assert_owner_only(tmp_path / "stage")
    assert invoke("report", "--run", earlier, "--out", tmp_path / "report").exit_code == 0
    assert_owner_only(tmp_path / "report")


# --- disk errors: one line, exit 2 --------------------------------------------------


def no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_during_a_run_is_one_line_and_leaves_nothing(monkeypatch, tmp_path, source):
    import clearance.run

    monkeypatch.setattr(clearance.run, "write_outputs", no_space)
    out = tmp_path / "out"
    result = run(source, out)
    assert result.exit_code == 2
    assert "cannot write the output: no space left on device" in one_line(result)
    assert str(out) in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


def test_a_full_disk_in_filings_and_report_is_one_line(monkeypatch, earlier, tmp_path):
    import clearance.filings.build
    import clearance.report

    monkeypatch.setattr(clearance.filings.build, "write_doj_file", no_space)
    result = invoke("filings", "--run", earlier, "--out", tmp_path / "filings")
    assert result.exit_code == 2
    assert "no space left on device" in one_line(result)
    assert list(tmp_path.iterdir()) == []

    monkeypatch.setattr(clearance.report, "write_private", no_space)
    result = invoke("report", "--run", earlier, "--out", tmp_path / "report")
    assert result.exit_code == 2
    assert "no space left on device" in one_line(result)


def test_a_full_disk_writing_a_file_is_one_line(tmp_path):
    """/dev/full: a real write that fails with ENOSPC."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    from clearance._folders import writing

    with (
        pytest.raises(ValueError, match=r"^out: cannot write the output: no space left"),
        writing(Path("out"), ValueError),
        open("/dev/full", "wb") as handle,
    ):
        handle.write(b"x" * 65536)
        handle.flush()


def test_a_read_only_output_folder_is_one_line(monkeypatch, tmp_path, source):
    parent = tmp_path / "locked"
    parent.mkdir()
    if os.geteuid() == 0:  # root writes anywhere: the file system says read-only instead

        def read_only(path, mode=0o777, *args, **kwargs):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

        monkeypatch.setattr(os, "mkdir", read_only)
        expected = "read-only file system"
    else:
        parent.chmod(0o500)
        expected = "is not writable"
    try:
        result = run(source, parent / "out")
    finally:
        parent.chmod(0o700)
    assert result.exit_code == 2
    assert expected in one_line(result)


def test_out_that_is_a_link_to_a_folder_is_refused(tmp_path, source):
    target = tmp_path / "target"
    assert run(source, target).exit_code == 0
    link = tmp_path / "link"
    link.symlink_to(target)
    result = run(source, link)
    assert result.exit_code == 2
    assert "is a link; give the folder it points to" in one_line(result)
    assert (target / "run.json").exists()


def test_a_large_folder_is_refused_without_reading_it_all(tmp_path, source, monkeypatch):
    """The hard-link search walks only a folder already known to be a run's."""
    import clearance._folders

    big = tmp_path / "home"
    (big / "a" / "b").mkdir(parents=True)
    (big / "notes.txt").write_text("x")
    walked = []
    real_walk = os.walk
    monkeypatch.setattr(
        clearance._folders.os, "walk", lambda top, *a, **k: walked.append(top) or real_walk(top)
    )
    result = run(source, big)
    assert result.exit_code == 2
    assert "it has no run.json" in one_line(result)
    assert walked == []


def test_synth_onto_a_full_disk_is_one_line(tmp_path):
    """/dev/full: every write fails with ENOSPC, as on a full disk."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    result = invoke("synth", "--subjects", "50", "--out", "/dev/full")
    assert result.exit_code == 2
    assert "/dev/full: no space left on device" in one_line(result)
    assert Path("/dev/full").exists()


def test_a_full_disk_leaves_no_half_written_report(monkeypatch, earlier, tmp_path):
    import clearance._folders

    monkeypatch.setattr(clearance._folders.os, "fdopen", lambda fd, mode: FullFile(fd))
    out = tmp_path / "report"
    result = invoke("report", "--run", earlier, "--out", out)
    assert result.exit_code == 2
    assert f"{out}: cannot write the output: no space left on device" in one_line(result)
    assert list(out.iterdir()) == []


class FullFile:
    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        os.close(self.fd)

    def write(self, data: bytes) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_what_a_killed_compare_leaves_in_a_run_is_its_own_and_removed(tmp_path, source):
    out = tmp_path / "out"
    assert run(source, out).exit_code == 0
    stale = out / f".compare.partial-{dead_pid()}"
    (stale / "staged").mkdir(parents=True)
    (stale / "staged" / "part.parquet").write_text("personal data")
    result = invoke("compare", "--run", out, "--policy", "statute", "--policy", "bear-default")
    assert result.exit_code == 0, result.output
    assert not stale.exists()  # removed by the next compare
    stale.mkdir()
    assert run(source, out).exit_code == 0  # a run folder with it is still a run's
    other = out / ".mine.partial-1"
    other.mkdir()
    result = run(source, out)
    assert result.exit_code == 2
    assert "it holds the folder .mine.partial-1/" in one_line(result)


def test_an_earlier_run_made_read_only_is_replaced_and_removed(tmp_path, source):
    out = tmp_path / "out"
    assert run(source, out).exit_code == 0
    for path in out.iterdir():
        path.chmod(0o400)
    out.chmod(0o500)
    assert run(source, out).exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "out"]  # no .out.old-PID
