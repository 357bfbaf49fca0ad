"""The court documents as data, before any file format.

`build.py` fills these from the run, the office and the templates; `pleading.py`
lays them out as PDF and `docx_writer.py` as Word, so both formats say the same
words in the same order and a test can compare them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from clearance.filings.exhibits import Column, ExhibitPart
from clearance.filings.text import Block

__all__ = [
    "BodyItem",
    "Caption",
    "DocMeta",
    "Exhibit",
    "PageBreak",
    "Pleading",
    "Signature",
    "SimpleTable",
]


@dataclass(frozen=True)
class DocMeta:
    """File properties. `date` comes from the run (its as-of date), never the clock."""

    title: str
    author: str
    subject: str
    date: dt.date
    creator: str


@dataclass(frozen=True)
class Caption:
    """The first page's heading (Cal. Rules of Court, rule 2.111)."""

    counsel: tuple[str, ...]  # lines 1-7, left: attorney, office, address, for whom
    court: tuple[str, ...]  # from line 8, centred: court title, county, courthouse
    parties: tuple[tuple[str, int], ...]  # left box: (text, indent level 0-2)
    case_number: str
    title: str  # nature of the paper, right of the parties
    subtitle: str


@dataclass(frozen=True)
class SimpleTable:
    """A small table in the body (summary counts, grounds, list of exhibit files)."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    widths: tuple[float, ...]  # fractions of the text width
    align: tuple[str, ...]  # left | right, per column
    total_row: bool = False  # last row printed bold


@dataclass(frozen=True)
class Signature:
    """Date line on the left, the signer's lines on the right."""

    kind: str  # prosecutor | judge
    dated: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class PageBreak:
    """What follows starts a new page (the proof of service)."""


BodyItem = Block | SimpleTable | Signature | PageBreak


@dataclass(frozen=True)
class Pleading:
    """A motion, order or notice: caption, numbered paragraphs, tables, signature."""

    caption: Caption
    body: tuple[BodyItem, ...]
    footer: str
    meta: DocMeta


@dataclass(frozen=True)
class Exhibit:
    """One part of an exhibit: heading, legend and its rows."""

    heading: str  # EXHIBIT A
    title: str
    part_line: str  # "Part 2 of 14: rows 5,001 to 10,000", or ""
    legend: str
    headers: tuple[str, ...]
    columns: tuple[Column, ...]
    part: ExhibitPart
    footer: str
    meta: DocMeta
