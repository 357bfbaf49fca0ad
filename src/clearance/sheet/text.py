"""A rap sheet file's text: a text file, a PDF's text layer, or a scan through OCR.

Text files are read as UTF-8 (Latin-1 where a byte is not UTF-8). A PDF's text
layer is read with pypdf, page by page (a form feed between pages). A PDF with no
text layer is a scan: its pages are rasterised with pypdfium2 and read by Tesseract
through pytesseract (the optional extra ``ocr``: ``pip install 'clearance[ocr]'``,
and Debian's ``tesseract-ocr``); without them the reader says so in one line.
"""

from __future__ import annotations

import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from clearance.sheet.parse import SheetError

OCR_DPI = 300
OCR_THREADS = max(1, min(4, os.cpu_count() or 1))  # pages read at once, one Tesseract each
# Fewer characters than this on every page: a scan, not a text layer.
MIN_TEXT = 40


def sheet_text(path: Path) -> tuple[str, str]:
    """(text, how it was read: ``text``, ``pdf`` or ``ocr``). Raises SheetError."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SheetError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise SheetError(f"{path}: is a folder, not a rap sheet") from None
    except OSError as exc:
        raise SheetError(f"{path}: cannot be read ({exc.strerror or 'error'})") from None
    if data.startswith(b"%PDF"):
        text = _pdf_text(path)
        if len("".join(text.split())) >= MIN_TEXT:
            return text, "pdf"
        return _ocr(path), "ocr"
    if b"\x00" in data[:4096]:
        raise SheetError(f"{path.name} is not a rap sheet: it is neither text nor a PDF")
    try:
        return data.decode("utf-8-sig"), "text"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "text"


def _pdf_text(path: Path) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(path)
        pages = [page.extract_text(extraction_mode="layout") or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise SheetError(f"{path.name}: the PDF cannot be read ({type(exc).__name__})") from None
    return "\n\f\n".join(pages)


def ocr_missing() -> str | None:
    """Why OCR cannot run here, or None when it can."""
    try:
        import pypdfium2  # noqa: F401
        import pytesseract  # noqa: F401
    except ImportError:
        return "the optional extra 'ocr' is not installed (pip install 'clearance[ocr]')"
    if shutil.which("tesseract") is None:
        return "Tesseract is not installed (Debian: apt-get install tesseract-ocr)"
    return None


def _ocr(path: Path) -> str:
    missing = ocr_missing()
    if missing:
        raise SheetError(f"{path.name} is a scan with no text layer and needs OCR: {missing}")
    import pypdfium2 as pdfium
    import pytesseract

    # Tesseract's own threads (OpenMP) make a page eight times slower on two cores:
    # one thread each, and the pages read side by side instead.
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    pdf = pdfium.PdfDocument(path)
    try:
        images = [page.render(scale=OCR_DPI / 72).to_pil() for page in pdf]
    finally:
        pdf.close()

    def read(image) -> str:
        # psm 6: one uniform block of text, as a terminal printout is.
        return pytesseract.image_to_string(image, config="--psm 6")

    with ThreadPoolExecutor(max_workers=OCR_THREADS) as pool:
        pages = list(pool.map(read, images))  # in page order
    return "\n\f\n".join(pages)
