"""Receiving extract files: streamed to disk in chunks, checked, then stored, or nothing.

The request body is parsed as it arrives (python-multipart's streaming parser), and
each file's bytes go straight to a hidden partial file in the uploads folder, hashed
on the way: an extract is never held in memory, whatever its size. The size limit
is enforced from ``Content-Length`` before reading and again while reading (a client
may lie). Each file is then checked with the project's own reader on its first
megabytes, which also yields the counties to offer. A file that fails a check, a
limit that is passed or a dropped connection removes every partial file of the
request: nothing is stored unless everything is.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import polars as pl
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from clearance.extract import inspect as inspect_
from clearance.extract import model as model_
from clearance.extract.reader import ExtractError, read_extracts, read_start
from clearance.web.security import CSRF_FIELD, CSRF_HEADER

# The first bytes of each file are read with the real reader to check it and to offer
# its counties; a smaller file is read whole.
HEAD_BYTES = 8 * 1024 * 1024
SUFFIXES = (".dat", ".csv", ".txt")
COMPRESSED_SUFFIXES = (".gz", ".zst")  # extract.dat.gz: read as it is decompressed
MAX_FIELD_BYTES = 64 * 1024  # ordinary form fields (the CSRF token)
FORM_OVERHEAD = 1024 * 1024  # boundaries and part headers beyond the files' bytes
DISK_MARGIN = 256 * 1024 * 1024  # keep this much disk free after an upload
PARTIAL_PREFIX = ".partial-"


class UploadError(Exception):
    """An upload refused; ``status`` is the HTTP status, the message is for the user."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class ReceivedFile:
    filename: str  # the name as sent, reduced to a safe base name
    path: Path  # the partial file in the uploads folder
    size: int = 0
    sha256: str = ""
    counties: list[dict] = field(default_factory=list)
    checked_bytes: int = 0
    checked_whole: bool = False  # the check read the whole file, not only its start


def megabytes(n: int) -> str:
    return f"{n / (1024 * 1024):,.0f} MB"


def safe_name(raw: str) -> str:
    """The file's base name without any folder part or control character."""
    name = re.split(r"[\\/]", raw)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip().lstrip(".")
    return name[:200] or "extract.dat"


async def receive(
    request: Request,
    folder: Path,
    *,
    limit: int,
    csrf_ok: Callable[[str | None], bool],
    refuse_name: Callable[[str], str | None] | None = None,
    check: Callable[[ReceivedFile], None] | None = None,
    fields: dict[str, str] | None = None,
    what: str = "extract file",
) -> list[ReceivedFile]:
    """Stream every file of a multipart request into ``folder``; check and return them.

    The CSRF token must arrive (as a header, or a form field before the first file)
    before any file byte is written. Raises UploadError after removing every partial.
    By default the files are extracts: ``refuse_name`` (the message refusing a file
    name, or None) and ``check`` (raises UploadError) say what else is accepted, and
    the form's other fields are put in ``fields`` when it is given.
    """
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise UploadError("send the files as a form upload (multipart/form-data)")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit():
        if int(declared) > limit + FORM_OVERHEAD:
            raise UploadError(_too_large(limit), 413)
        free = (await anyio.to_thread.run_sync(shutil.disk_usage, folder)).free
        if int(declared) + DISK_MARGIN > free:
            raise UploadError(
                f"not enough disk space for this upload ({megabytes(free)} free)", 507
            )
    stream = _Stream(folder, limit, csrf_ok, request.headers.get(CSRF_HEADER))
    stream.refuse_name = refuse_name or _refuse_extract_name
    parser = MultipartParser(boundary, stream.callbacks())
    try:
        async for chunk in request.stream():
            if chunk:
                await anyio.to_thread.run_sync(_write, parser, chunk)
        await anyio.to_thread.run_sync(parser.finalize)
        stream.finish()
        if not stream.files:
            if not (stream.authorised or csrf_ok(stream.fields.get(CSRF_FIELD))):
                raise UploadError("the form has expired; reload the page and try again", 403)
            raise UploadError(f"choose at least one {what} to upload")
        for received in stream.files:
            await anyio.to_thread.run_sync(check or check_file, received)
        if fields is not None:
            fields.update(stream.fields)
    except UploadError:
        await _discard(stream)
        raise
    except ClientDisconnect:
        await _discard(stream)
        raise UploadError("the upload was interrupted; nothing was stored") from None
    except MultipartParseError:
        await _discard(stream)
        raise UploadError("the upload could not be read (malformed form data)") from None
    except BaseException:
        stream.discard()  # cancelled: no await here, the files go at once
        raise
    return stream.files


async def _discard(stream: _Stream) -> None:
    await anyio.to_thread.run_sync(stream.discard)


def _write(parser: MultipartParser, chunk: bytes) -> None:
    parser.write(chunk)


def _too_large(limit: int) -> str:
    return (
        f"the upload is larger than the limit of {megabytes(limit)}; nothing was stored "
        "(an administrator can raise CLEARANCE_MAX_UPLOAD_MB)"
    )


class _Stream:
    """The parser's callbacks: route each part to a field value or to a partial file."""

    def __init__(
        self,
        folder: Path,
        limit: int,
        csrf_ok: Callable[[str | None], bool],
        header_token: str | None,
    ) -> None:
        self.folder = folder
        self.limit = limit
        self.csrf_ok = csrf_ok
        self.authorised = csrf_ok(header_token) if header_token else False
        self.fields: dict[str, str] = {}
        self.files: list[ReceivedFile] = []
        self.total = 0
        self._header_field = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._name = ""
        self._value = bytearray()
        self._file: ReceivedFile | None = None
        self._handle = None
        self._digest = None
        self._skip = False
        self.refuse_name: Callable[[str], str | None] = _refuse_extract_name

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field_data,
            "on_header_value": self._header_value_data,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def _part_begin(self) -> None:
        self._headers = {}
        self._header_field = self._header_value = b""

    def _header_field_data(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header_field.lower()] = self._header_value
        self._header_field = self._header_value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        self._value = bytearray()
        self._skip = False
        self._file = None
        if filename is None:
            return
        if not filename:  # a file input left empty
            self._skip = True
            return
        if not self.authorised:
            self.authorised = self.csrf_ok(self.fields.get(CSRF_FIELD))
            if not self.authorised:
                raise UploadError("the form has expired; reload the page and try again", 403)
        name = safe_name(filename.decode("utf-8", "replace"))
        refused = self.refuse_name(name)
        if refused:
            raise UploadError(refused)
        path = self.folder / f"{PARTIAL_PREFIX}{secrets.token_hex(8)}"
        self._file = ReceivedFile(filename=name, path=path)
        self.files.append(self._file)
        self._handle = path.open("wb")
        self._digest = hashlib.sha256()

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._skip:
            return
        if self._file is None:
            if len(self._value) + end - start > MAX_FIELD_BYTES:
                raise UploadError(f"the form field {self._name!r} is too long")
            self._value += data[start:end]
            return
        piece = data[start:end]
        self.total += len(piece)
        if self.total > self.limit:
            raise UploadError(_too_large(self.limit), 413)
        if self._handle is None or self._digest is None:  # opened with self._file
            raise RuntimeError("upload data for a file part with no file open")
        self._handle.write(piece)
        self._digest.update(piece)
        self._file.size += len(piece)

    def _part_end(self) -> None:
        if self._file is not None:
            if self._handle is None or self._digest is None:  # opened with self._file
                raise RuntimeError("the end of a file part with no file open")
            self._handle.close()
            self._handle = None
            self._file.sha256 = self._digest.hexdigest()
            self._file = None
        elif not self._skip and self._name:
            self.fields[self._name] = self._value.decode("utf-8", "replace")

    def finish(self) -> None:
        if self._handle is not None:  # the body ended inside a file part
            raise UploadError("the upload was cut short; nothing was stored")

    def discard(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        for received in self.files:
            received.path.unlink(missing_ok=True)


def check_file(received: ReceivedFile) -> None:
    """Read the file's first megabytes with the real reader; raise UploadError if unusable.

    Fills ``counties``: every county the events name, those with cannabis
    convictions first (most first), so the form can offer the likely one.
    """
    name = received.filename
    if received.size == 0:
        raise UploadError(f"{name}: the file is empty")
    try:  # a gzip or zstd file is checked on its first megabytes of text, as it is read
        head, more = read_start(received.path, HEAD_BYTES)
    except ExtractError as exc:
        raise UploadError(str(exc).replace(str(received.path), name)) from None
    if b"\x00" in head:
        raise UploadError(
            f"{name}: not a text file (it holds binary data); the DOJ extract is text, "
            "one record a line"
        )
    if more:
        cut = head.rfind(b"\n")
        if cut < 0:
            raise UploadError(f"{name}: no line break in the first {megabytes(HEAD_BYTES)}")
        head = head[: cut + 1]
    received.checked_bytes = len(head)
    received.checked_whole = not more
    with tempfile.TemporaryDirectory(prefix="clearance-check-") as work:
        sample = Path(work) / name
        sample.write_bytes(head)
        try:
            result = read_extracts([sample], Path(work) / "read")
            figures = inspect_.summarize(
                result, model_.build(result.rows, [f.name for f in result.files])
            )
        except ExtractError as exc:
            raise UploadError(str(exc).replace(str(sample), name)) from None
        except pl.exceptions.PolarsError:
            raise UploadError(f"{name}: the file could not be read as a DOJ extract") from None
    rows = figures["rows"]
    if rows["read"] == 0:
        raise UploadError(f"{name}: the file holds no record (only blank lines)")
    if rows["used"] == 0:
        first = figures["first_rejects"][0] if figures["first_rejects"] else None
        why = f" (line {first['line']}: {first['reason']})" if first else ""
        part = "its first part" if more else "the file"
        raise UploadError(
            f"{name}: no line of {part} is a DOJ extract record{why}; "
            "is this the bulk extract file?"
        )
    received.counties = _counties(figures)


def _refuse_extract_name(name: str) -> str | None:
    if _extract_name(name):
        return None
    return (
        f"{name}: not an extract file; upload the DOJ extract as .dat, .csv or .txt "
        "(or compressed, as .dat.gz or .dat.zst)"
    )


def _extract_name(name: str) -> bool:
    lower = name.lower()
    for suffix in COMPRESSED_SUFFIXES:
        lower = lower.removesuffix(suffix)
    return lower.endswith(SUFFIXES)


def _counties(figures: dict) -> list[dict]:
    cannabis = {
        county: sum(by_section.values())
        for county, by_section in figures["cannabis_convictions_by_county"].items()
    }
    names = [c for c in figures["counties"] if c != "UNKNOWN"]
    ranked = sorted(names, key=lambda c: (-cannabis.get(c, 0), c))
    return [
        {"name": c, "cannabis_convictions": cannabis.get(c, 0), "events": figures["counties"][c]}
        for c in ranked
    ]
