"""Output folders: where they may go, written aside, owner-only, moved into place whole.

A run, a stage folder, a set of filings or a reviewed run is written into a hidden
temporary folder next to its destination (``.NAME.partial-PID``) and renamed into
place only once complete, so a failure never leaves a folder that looks finished
(product.md). An earlier folder at the destination is moved aside first
(``.NAME.old-PID``) and removed last.

Three guarantees hold for every command that writes a folder with ``--out``:

- ``--out`` replaces only a folder that is provably an earlier output of the same
  kind: its marker file (run.json, filings.json, manifest.json) is JSON naming the
  tool, every file and subfolder in it is one that kind of output writes, and it
  holds no input of the command. Anything else is refused (``FolderError``) and
  left untouched.
- Output folders hold personal data: every folder is created ``0o700`` and every
  file ``0o600`` whatever the umask (the temporary folder is ``0o700`` from the
  start, so nothing in it is readable by others even while it is written).
- A process killed mid-way leaves its temporary folder behind; the next command
  writing to the same destination removes every such folder whose process is gone.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import stat
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "FolderError",
    "OutputKind",
    "aside",
    "check_destination",
    "check_parent",
    "disk_error_line",
    "make_private",
    "make_temp",
    "move_into_place",
    "private_dir",
    "remove_stale",
    "write_private",
    "writing",
]

FOLDER_MODE = 0o700
FILE_MODE = 0o600
TEMP_TAGS = ("partial", "tmp", "old")
# Files the desktop adds to a folder someone opened; never an office's own work.
DESKTOP_FILES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})
MARKER_MAX_BYTES = 16 * 1024 * 1024


class FolderError(Exception):
    """An output folder that cannot be used; the message names it and says why."""


@dataclass(frozen=True)
class OutputKind:
    """What one kind of output folder holds.

    ``what`` names the folder in messages ("an earlier run's output folder");
    ``marker`` is the JSON file that names the tool; ``file_ok`` and ``dir_ok`` say
    whether a path relative to the folder (``/``-separated) is one this kind writes.
    """

    what: str
    marker: str | None  # None: no marker needed (a folder `report --out` writes into)
    file_ok: Callable[[str], bool]
    dir_ok: Callable[[str], bool] = lambda _: False
    command: str = "a run"
    # Hidden work folders the kind leaves when killed (compare's ``.compare.partial-PID``
    # in a run folder): accepted whole, contents unread.
    work_dirs: str | None = None


def _temp_pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"\.{re.escape(name)}\.(?:{'|'.join(TEMP_TAGS)})-(\d+)")


def check_parent(out: Path) -> None:
    """Refuse an ``out`` that cannot be a folder: a file, or a path under a file."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise FolderError(f"{out} is a file, not a folder; choose another --out")
    above = out.parent
    while not above.exists() and above != above.parent:
        above = above.parent
    if above.exists() and not above.is_dir():
        raise FolderError(f"{out} cannot be written: {above} is a file, not a folder")
    if not out.exists() and not os.access(above, os.W_OK | os.X_OK):
        raise FolderError(f"{out} cannot be written: {above} is not writable")


def check_destination(out: Path, kind: OutputKind, inputs: Iterable[Path] = ()) -> None:
    """Refuse ``out`` unless it is absent, empty, or provably an earlier ``kind`` output.

    ``inputs`` are the command's inputs (files or folders): a folder holding one of
    them is never replaced, whatever else it holds.
    """
    out = Path(out)
    check_parent(out)
    if out.is_symlink() and kind.marker is not None:  # replacing it would replace the link
        raise FolderError(f"{out} is a link; give the folder it points to as --out")
    if not out.exists():
        return
    refuse = f"{out} is not {kind.what}"
    inputs = [Path(p) for p in inputs]
    held = _input_inside(out, inputs)
    if held is not None and _same_place(held, out):
        raise FolderError(f"{out} is an input of this command; choose another --out")
    if held is not None:
        raise FolderError(f"{out} holds {held}, an input of this command; choose another --out")
    if not any(out.iterdir()):
        return
    if kind.marker is not None:
        marker = out / kind.marker
        if not marker.is_file() or marker.is_symlink():
            raise FolderError(f"{refuse} (it has no {kind.marker}); choose another --out")
        if not _names_tool(marker):
            raise FolderError(
                f"{refuse} (its {kind.marker} was not written by clearance); choose another --out"
            )
    stray = _stray(out, kind)
    if stray is not None:
        raise FolderError(
            f"{refuse} (it holds {stray}, which {kind.command} does not write); "
            "choose another --out"
        )
    # Last, once the folder is known to be small: an input hard-linked into it.
    held = _input_linked(out, inputs)
    if held is not None:
        raise FolderError(f"{out} holds {held}, an input of this command; choose another --out")


def _same_place(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()


def _input_inside(out: Path, inputs: list[Path]) -> Path | None:
    """The first input that is ``out`` or lies inside it (as given, or its target)."""
    root, given_root = out.resolve(), Path(os.path.abspath(out))
    for path in inputs:
        if path.resolve().is_relative_to(root):
            return path
        if Path(os.path.abspath(path)).is_relative_to(given_root):
            return path
    return None


def _input_linked(out: Path, inputs: list[Path]) -> Path | None:
    """The first input of which a file in ``out`` is a hard link."""
    wanted = {}
    for path in inputs:
        with contextlib.suppress(OSError):
            st = path.stat()
            wanted[(st.st_dev, st.st_ino)] = path
    if not wanted:
        return None
    for folder, _, files in os.walk(out):
        for name in files:
            with contextlib.suppress(OSError):
                st = os.lstat(os.path.join(folder, name))
                if (st.st_dev, st.st_ino) in wanted:
                    return wanted[(st.st_dev, st.st_ino)]
    return None


def _names_tool(marker: Path) -> bool:
    """The marker is a JSON object whose ``tool`` is clearance, with a version."""
    try:
        if marker.stat().st_size > MARKER_MAX_BYTES:
            return False
        data = json.loads(marker.read_bytes())
    except (OSError, ValueError, RecursionError):
        return False
    tool = data.get("tool") if isinstance(data, dict) else None
    return (
        isinstance(tool, dict)
        and tool.get("name") == "clearance"
        and isinstance(tool.get("version"), str)
        and bool(tool["version"])
    )


def _stray(out: Path, kind: OutputKind) -> str | None:
    """The first entry of ``out`` that ``kind`` does not write (a link is never written)."""
    for folder, dirs, files in os.walk(out):
        here = Path(folder).relative_to(out).as_posix()
        prefix = "" if here == "." else here + "/"
        for name in sorted(dirs):
            path = Path(folder, name)
            if path.is_symlink():
                return f"the link {prefix}{name}"
            if not (kind.dir_ok(prefix + name) or _work_dir(kind, prefix + name)):
                return f"the folder {prefix}{name}/"
        dirs[:] = [d for d in dirs if not _work_dir(kind, prefix + d)]
        for name in sorted(files):
            if Path(folder, name).is_symlink():
                return f"the link {prefix}{name}"
            if not _file_ok(prefix, name, kind):
                return f"the file {prefix}{name}"
    return None


def _work_dir(kind: OutputKind, path: str) -> bool:
    return kind.work_dirs is not None and re.fullmatch(kind.work_dirs, path) is not None


def _file_ok(prefix: str, name: str, kind: OutputKind) -> bool:
    if name in DESKTOP_FILES or kind.file_ok(prefix + name):
        return True
    # A file left half-written (``.report.html.partial``) or open in a spreadsheet
    # (``~$determinations.xlsx``) next to a file the command writes.
    half = re.fullmatch(r"\.(.+)\.partial", name)
    if half and kind.file_ok(prefix + half.group(1)):
        return True
    return name.startswith("~$") and kind.file_ok(prefix + name[2:])


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if os.name != "posix":  # os.kill would end the process on Windows: never guess there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: a process of another user
        return True
    return True


def remove_stale(out: Path) -> list[Path]:
    """Remove the temporary folders beside ``out`` left by processes that are gone.

    Only this command's own kind: hidden folders named ``.NAME.partial-PID`` (or
    ``.tmp-``/``.old-``) for this ``out``'s name, owned by this user, whose process
    no longer runs. Returns what was removed.
    """
    out = Path(out)
    pattern = _temp_pattern(out.name)
    removed = []
    try:
        entries = list(out.parent.iterdir())
    except OSError:
        return removed
    for entry in entries:
        found = pattern.fullmatch(entry.name)
        if not found:
            continue
        try:
            st = entry.lstat()
        except OSError:
            continue
        mine = not hasattr(os, "getuid") or st.st_uid == os.getuid()
        if not stat.S_ISDIR(st.st_mode) or not mine:
            continue
        if _alive(int(found.group(1))):
            continue
        remove_tree(entry)
        removed.append(entry)
    return removed


def remove_tree(path: Path) -> None:
    """Remove a folder of this user's, even one made read-only (``chmod -R a-w``)."""

    def writable_and_again(function: Callable, name: str, _: object) -> None:
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(name), FOLDER_MODE)
            if os.path.isdir(name) and not os.path.islink(name):
                os.chmod(name, FOLDER_MODE)
            function(name)

    if not os.path.lexists(path):
        return
    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=writable_and_again)
    else:
        shutil.rmtree(path, onerror=writable_and_again)


def private_dir(path: Path) -> Path:
    """Create ``path`` (and its missing parents) and make it owner-only."""
    path = Path(path)
    if not path.is_dir():
        path.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
        os.chmod(path, FOLDER_MODE)
    return path


def make_temp(out: Path, tag: str = "partial") -> Path:
    """The owner-only temporary folder to build ``out`` in, after removing stale ones."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(out)
    tmp = out.parent / f".{out.name}.{tag}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(mode=FOLDER_MODE)
    os.chmod(tmp, FOLDER_MODE)  # mkdir's mode passes through the umask
    return tmp


def start(
    out: Path, kind: OutputKind, inputs: Iterable[Path] = (), error: type[Exception] = FolderError
) -> Path:
    """What every command that writes a folder begins with: ``out`` checked
    (``check_destination``) and the temporary folder to build it in made (``make_temp``).
    A problem raises ``error`` (the command's own class) with one line."""
    try:
        check_destination(out, kind, inputs)
        return make_temp(out)
    except FolderError as exc:
        raise error(str(exc)) from None
    except OSError as exc:
        raise error(disk_error_line(exc, out) or f"{out}: cannot be written") from None


def make_private(folder: Path) -> None:
    """Every folder under ``folder`` (itself included) ``0o700``, every file ``0o600``."""
    os.chmod(folder, FOLDER_MODE)
    for here, dirs, files in os.walk(folder):
        for name in dirs:
            path = os.path.join(here, name)
            if not os.path.islink(path):
                os.chmod(path, FOLDER_MODE)
        for name in files:
            path = os.path.join(here, name)
            if not os.path.islink(path):
                os.chmod(path, FILE_MODE)


@contextlib.contextmanager
def aside(path: Path) -> Iterator[Path]:
    """The file to write ``path`` into: ``.NAME.partial`` beside it, renamed into place
    when the block ends, removed when it fails (a full disk), so ``path`` is never seen
    half-written. The caller writes the partial file (and chooses its mode)."""
    path = Path(path)
    partial = path.with_name(f".{path.name}.partial")
    try:
        yield partial
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def write_private(path: Path, data: bytes) -> None:
    """Write a file beside its destination, owner-only, then rename it into place.

    A failure (a full disk) removes the half-written file.
    """
    with aside(path) as partial:
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)
        fd = os.open(partial, flags, FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            os.chmod(partial, FILE_MODE)  # an earlier partial kept its mode
            handle.write(data)


def move_into_place(tmp: Path, out: Path) -> None:
    """Replace ``out`` (if it exists) with the complete folder ``tmp``, owner-only."""
    make_private(tmp)
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists() or out.is_symlink():
        out.rename(old)
    tmp.rename(out)
    if old.is_symlink():  # --out was a link to a folder: the link is replaced, not its target
        old.unlink()
    remove_tree(old)


# The errors a user causes on disk: said in one line (cli.py), not "internal error".
USER_OS_ERRORS = frozenset(
    {
        errno.ENOSPC,
        errno.EDQUOT,
        errno.EFBIG,
        errno.EROFS,
        errno.EACCES,
        errno.EPERM,
        errno.ENOTDIR,
        errno.EISDIR,
        errno.EEXIST,
        errno.ENAMETOOLONG,
        errno.ENOENT,
        errno.ELOOP,
        errno.EMFILE,
        errno.EXDEV,
    }
)
# Failures of writing itself: said with the output folder's name.
WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS})


def disk_error_line(exc: OSError, out: Path | None = None) -> str | None:
    """One line for a disk error a user can fix (full, read-only, not allowed), or None.

    Names the file when the system names one (never a data value), else ``out``.
    """
    if exc.errno not in USER_OS_ERRORS:
        return None
    reason = os.strerror(exc.errno).lower()
    if exc.filename is not None and (out is None or exc.errno not in WRITE_ERRNOS):
        return f"{os.fsdecode(exc.filename)}: {reason}"
    if out is None:
        return f"cannot write the output: {reason}"
    return f"{out}: cannot write the output: {reason}"


@contextlib.contextmanager
def writing(out: Path, error: type[Exception] = FolderError) -> Iterator[None]:
    """Turn a disk error a user can fix into ``error`` (the command's own class), one line."""
    try:
        yield
    except OSError as exc:
        line = disk_error_line(exc, out)
        if line is None:
            raise
        raise error(line) from None
