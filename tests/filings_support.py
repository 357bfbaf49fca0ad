"""Reading filings back the way a clerk would: PDF text, Word tables, CSV rows.

Shared by the filings tests. Each reader returns plain Python values so a test
can compare them with the determinations it started from.
"""

from __future__ import annotations

import re
import zipfile
from collections import Counter
from pathlib import Path

import polars as pl
from lxml import etree
from pypdf import PdfReader

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
EXAMPLE_OFFICE = Path(__file__).resolve().parents[1] / "examples" / "office.yaml"

# In an exhibit row, birth date, CII, case number, conviction date and section are
# printed side by side and never wrap, so they read back as one run of text.
_ROW_KEY = re.compile(
    r"(\d\d/\d\d/\d{4}|\(none\)) (\S+) (\S+) (\d\d/\d\d/\d{4}|\(none\)) (\d{5}\S*(?: att\.)?)"
)
_ROW_NUMBER = re.compile(r"^(\d{1,3}(?:,\d{3})*) \S", re.MULTILINE)


def pdf_pages(path: Path) -> list[str]:
    return [page.extract_text() for page in PdfReader(path).pages]


def pdf_text(path: Path) -> str:
    return "\n".join(pdf_pages(path))


def pdf_body_text(path: Path) -> str:
    """The text of pleading pages without their furniture (line numbers, page
    number, footer title), so a paragraph that runs across pages reads whole."""
    bodies = []
    for page in pdf_pages(path):
        lines = page.split("\n")
        i = 0
        while i < len(lines) and re.fullmatch(r"\s*(\d{1,2}|- \d+ -)\s*", lines[i]):
            i += 1
        bodies.append("\n".join(lines[i + 1 :]))  # the line after the page number: footer
    return "\n".join(bodies)


def squash(text: str) -> str:
    """White space folded, for comparing prose across formats."""
    return " ".join(text.split())


def us_date(iso: str | None) -> str:
    if not iso:
        return "(none)"
    year, month, day = iso.split("-")
    return f"{month}/{day}/{year}"


def section_text(row: dict) -> str:
    text = row["section"] + (row.get("subsection") or "").upper()
    return text + (" att." if row.get("attempt") else "")


def expected_key(row: dict) -> tuple[str, ...]:
    """How a conviction's identifying cells print in an exhibit row."""
    return (
        us_date(row["dob"]),
        row["cii_number"] or "(none)",
        row["case_number"] or "(none)",
        us_date(row["conviction_date"]),
        section_text(row),
    )


def expected_keys(frame: pl.DataFrame) -> Counter:
    return Counter(expected_key(row) for row in frame.to_dicts())


def pdf_exhibit_keys(paths: list[Path]) -> Counter:
    """The identifying cells of every exhibit row printed in these PDFs."""
    keys: Counter = Counter()
    for path in paths:
        for match in _ROW_KEY.finditer(pdf_text(path)):
            keys[match.groups()] += 1
    return keys


def pdf_row_numbers(path: Path) -> list[int]:
    """Exhibit row numbers in print order (a number at the start of a text line)."""
    numbers = []
    for page in pdf_pages(path):
        for match in _ROW_NUMBER.finditer(page):
            numbers.append(int(match.group(1).replace(",", "")))
    return numbers


def docx_xml(path: Path, part: str = "word/document.xml") -> etree._Element:
    with zipfile.ZipFile(path) as archive:
        return etree.fromstring(archive.read(part))


def docx_table_rows(path: Path, table: int = -1) -> list[list[str]]:
    """Every row of a Word table as cell texts (read with lxml: fast for big tables)."""
    tables = docx_xml(path).iter(f"{W}tbl")
    element = list(tables)[table]
    rows = []
    for tr in element.iter(f"{W}tr"):
        rows.append(["".join(tc.itertext()) for tc in tr.iter(f"{W}tc")])
    return rows


def read_csv(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, infer_schema=False)
