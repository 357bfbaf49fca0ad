"""California pleading paper in PDF, with ReportLab.

The layout follows the California Rules of Court, rules 2.100-2.119: letter
paper, 28 numbered lines in the left margin, a double rule left of the text and
a single rule right of it, 12-point type double spaced on the numbered lines, the
page number and the paper's short title in the footer under a rule, and on the
first page the caption (rule 2.111): counsel from line 1, the court's title from
line 8, the parties left and the case number and title of the paper right.

Every body flowable is a whole number of 24-point lines high, so text stays on
the numbered lines from page to page. Exhibit tables use half lines (12 points),
and are drawn by `RowTable`, a small table flowable that splits by row with
the header repeated on every page and draws a page of rows as one text object:
Platypus' general `Table` took four times as long for a 66,000-row exhibit.

Files are reproducible: `invariant=1` fixes the document id, and the creation
and modification dates are the run's as-of date, not the clock.
"""

from __future__ import annotations

import datetime as dt
import re
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import accumulate
from pathlib import Path

from reportlab import rl_config
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    PageTemplate,
    Paragraph,
    Table,
    TableStyle,
)
from reportlab.platypus import PageBreak as PdfPageBreak

from clearance.filings.document import (
    Caption,
    DocMeta,
    Exhibit,
    PageBreak,
    Pleading,
    Signature,
    SimpleTable,
)
from clearance.filings.text import Block
from clearance.textsafe import xml_text

__all__ = [
    "LINES",
    "TEXT_WIDTH",
    "CaptionLayout",
    "RowTable",
    "binary_streams",
    "canvas_maker",
    "text_widths",
    "write_exhibit_pdf",
    "write_pleading_pdf",
]

PAGE_WIDTH, PAGE_HEIGHT = LETTER
FONT, BOLD = "Times-Roman", "Times-Bold"
SIZE = 12.0
LINE = 24.0  # one numbered line: 12-point type, double spaced
HALF = LINE / 2
LINES = 28
TOP = 72.0  # top of line 1, from the top of the page (1 inch)
DROP = 16.0  # a line's baseline sits this far below the top of its line
NUMBER_RIGHT = 80.0  # line numbers are right-aligned here
RULES_LEFT = (87.0, 90.0)  # the double rule
TEXT_LEFT = 100.0
TEXT_RIGHT = 562.0
TEXT_WIDTH = TEXT_RIGHT - TEXT_LEFT
RULE_RIGHT = 570.0
# The frame starts so that a paragraph's first baseline (frame top - font size)
# falls on line 1's baseline; it holds exactly 28 lines.
FRAME_TOP = PAGE_HEIGHT - TOP - (DROP - SIZE)
FRAME_HEIGHT = LINE * LINES
PAGE_NUMBER_Y = 32.0
FOOTER_RULE_Y = 27.0
FOOTER_TITLE_Y = 17.0
TABLE_SIZE = 8.0  # exhibit tables
TABLE_PAD = 2.5
ROW_DROP = 9.0  # an exhibit row's baseline, below the row's top
INDENT = 36.0


def line_baseline(n: int) -> float:
    """The baseline of numbered line `n` (1-28), from the bottom of the page."""
    return PAGE_HEIGHT - TOP - LINE * (n - 1) - DROP


@contextmanager
def binary_streams() -> Iterator[None]:
    """Write page streams compressed but not ASCII85-armoured, while inside.

    ReportLab armours streams as ASCII85 text by default (`rl_config.useA85`);
    a PDF needs no armour, the files are 20 % smaller without it, and encoding
    was a quarter of the time a large exhibit took. The setting is global, so it
    is restored on the way out.
    """
    previous = rl_config.useA85
    rl_config.useA85 = 0
    try:
        yield
    finally:
        rl_config.useA85 = previous


def canvas_maker(date: dt.date) -> type[Canvas]:
    """A Canvas class whose files carry `date` and a content-derived id."""
    stamp = f"D:{date:%Y%m%d}000000+00'00'"

    class _Canvas(Canvas):
        def __init__(self, *args, **kwargs) -> None:
            kwargs["invariant"] = 1
            super().__init__(*args, **kwargs)
            self.setDateFormatter(lambda *_: stamp)

    return _Canvas


def _paper(canvas: Canvas, doc: BaseDocTemplate) -> None:
    """Draw what every page has: numbers, rules, footer."""
    canvas.saveState()
    canvas.setFont(FONT, SIZE)
    for n in range(1, LINES + 1):
        canvas.drawRightString(NUMBER_RIGHT, line_baseline(n), str(n))
    canvas.setLineWidth(0.6)
    for x in RULES_LEFT:
        canvas.line(x, 0, x, PAGE_HEIGHT)
    canvas.line(RULE_RIGHT, 0, RULE_RIGHT, PAGE_HEIGHT)
    middle = (TEXT_LEFT + TEXT_RIGHT) / 2
    canvas.drawCentredString(middle, PAGE_NUMBER_Y, f"- {canvas.getPageNumber()} -")
    canvas.setLineWidth(0.8)
    canvas.line(TEXT_LEFT, FOOTER_RULE_Y, TEXT_RIGHT, FOOTER_RULE_Y)
    canvas.setFont(FONT, 8)
    canvas.drawCentredString(middle, FOOTER_TITLE_Y, doc.footer_title)
    canvas.restoreState()


def _document(path: Path, footer: str, meta: DocMeta) -> BaseDocTemplate:
    doc = BaseDocTemplate(
        str(path),
        pagesize=LETTER,
        title=meta.title,
        author=meta.author,
        subject=meta.subject,
        creator=meta.creator,
        invariant=1,
        leftMargin=TEXT_LEFT,
        rightMargin=PAGE_WIDTH - TEXT_RIGHT,
        topMargin=PAGE_HEIGHT - FRAME_TOP,
        bottomMargin=FRAME_TOP - FRAME_HEIGHT,
    )
    doc.footer_title = footer
    frame = Frame(
        TEXT_LEFT,
        FRAME_TOP - FRAME_HEIGHT,
        TEXT_WIDTH,
        FRAME_HEIGHT,
        leftPadding=0,
        rightPadding=0,
        topPadding=0,
        bottomPadding=0,
        id="body",
    )
    doc.addPageTemplates([PageTemplate(id="paper", frames=[frame], onPage=_paper)])
    return doc


# --------------------------------------------------------------------------- styles

_BODY = ParagraphStyle(
    "body",
    fontName=FONT,
    fontSize=SIZE,
    leading=LINE,
    firstLineIndent=INDENT,
    alignment=TA_JUSTIFY,
)
_HEADING = ParagraphStyle(
    "heading", fontName=BOLD, fontSize=SIZE, leading=LINE, alignment=TA_CENTER
)
_EXHIBIT_HEADING = ParagraphStyle(
    "exhibit", fontName=BOLD, fontSize=14, leading=LINE, alignment=TA_CENTER
)
_CENTERED = ParagraphStyle("centred", fontName=FONT, fontSize=11, leading=LINE, alignment=TA_CENTER)
_LEGEND = ParagraphStyle("legend", fontName=FONT, fontSize=9, leading=HALF)


_BREAKS = re.compile(r"[^\S\u00a0]+")  # white space but the no-break space


class TextWidths:
    """`stringWidth` with a memory: exhibits and letters repeat the same words.

    Dates, sections, relief labels and most words of a letter recur thousands of
    times; measuring each once made wrapping a 66,000-row filing several times
    faster.
    """

    def __init__(self, font: str, size: float) -> None:
        self.font, self.size = font, size
        self._known: dict[str, float] = {}
        self.space = stringWidth(" ", font, size)

    LIMIT = 200_000  # entries; names and case numbers are unique, so the memory is capped

    def __call__(self, text: str) -> float:
        width = self._known.get(text)
        if width is None:
            if len(self._known) >= self.LIMIT:
                self._known.clear()
            width = self._known[text] = stringWidth(text, self.font, self.size)
        return width

    def wrap(self, text: str, width: float) -> list[str]:
        """Greedy line breaking at spaces; a word wider than a line is split by letter."""
        if self(text) <= width:
            return [text]
        lines: list[str] = []
        line: list[str] = []
        used = 0.0
        for word in _BREAKS.split(text):  # a no-break space binds a citation
            if not word:
                continue
            w = self(word)
            if line and used + self.space + w <= width:
                line.append(word)
                used += self.space + w
                continue
            if line:
                lines.append(" ".join(line))
            if w > width:  # a very long word: broken after , - / or else by letter
                pieces = self._break_word(word, width)
                lines += pieces[:-1]
                word = pieces[-1]
                w = self(word)
            line, used = [word], w
        if line:
            lines.append(" ".join(line))
        return lines or [""]

    def _break_word(self, word: str, width: float) -> list[str]:
        pieces: list[str] = []
        current = ""
        for part in re.split(r"(?<=[,/-])", word):
            if current and self(current + part) > width:
                pieces.append(current)
                current = ""
            if self(part) <= width:
                current += part
                continue
            for letter in part:  # a part with no break point: by letter
                if current and self(current + letter) > width:
                    pieces.append(current)
                    current = ""
                current += letter
        pieces.append(current)
        return pieces


_WIDTHS: dict[tuple[str, float], TextWidths] = {}


def text_widths(font: str, size: float) -> TextWidths:
    """The shared width memory for a font and size."""
    key = (font, size)
    if key not in _WIDTHS:
        _WIDTHS[key] = TextWidths(font, size)
    return _WIDTHS[key]


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    return text_widths(font, size).wrap(text, width)


# --------------------------------------------------------------------------- caption


BOX_SPLIT_SHARE = 0.52  # the parties' box takes this share of the text width
COUNSEL_WIDTH = TEXT_WIDTH / 2 - 8


class CaptionLayout:
    """Where the caption's parts fall on the line grid (shared with the Word writer).

    Counsel runs single spaced from line 1 (two text lines to a numbered line);
    the court's title starts on line 8, or lower if counsel needs more room; the
    parties' box starts one line below the court's title and is a whole number of
    lines high, so the body below it stays on the numbered lines.
    """

    def __init__(self, caption: Caption) -> None:
        self.caption = caption
        self.box_split = TEXT_WIDTH * BOX_SPLIT_SHARE
        self.counsel = [
            w for line in caption.counsel for w in _wrap(line, FONT, SIZE, COUNSEL_WIDTH)
        ]
        right_width = TEXT_WIDTH - self.box_split - 12
        self.title_lines = _wrap(caption.title, BOLD, SIZE, right_width)
        self.subtitle_lines = (
            _wrap(caption.subtitle, FONT, SIZE, right_width) if caption.subtitle else []
        )
        # each party: its wrapped lines, then a blank half line
        self.parties: list[tuple[str, int, int]] = []  # text, indent level, half line
        half = 0
        for text, level in caption.parties:
            for line in _wrap(text, FONT, SIZE, self.box_split - level * INDENT * 2 - 6):
                self.parties.append((line, level, half))
                half += 1
            half += 1
        self.court_line = max(8, -(-len(self.counsel) // 2) + 2)
        self.box_line = self.court_line + len(caption.court) + 1
        right_half_lines = 2 + len(self.title_lines) + 1 + len(self.subtitle_lines)
        # one spare half line: Word may wrap the title a little differently
        self.box_lines = -(-(max(half, right_half_lines) + 1) // 2)
        self.lines = self.box_line - 1 + self.box_lines + 1


class CaptionFlowable(Flowable):
    """The first page's caption, drawn on the line grid; always the first flowable."""

    def __init__(self, caption: Caption) -> None:
        super().__init__()
        self.caption = caption
        self.layout = CaptionLayout(caption)

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        self.height = self.layout.lines * LINE
        return available_width, self.height

    def _baseline(self, half_line: int) -> float:
        """Baseline of the `half_line`-th half line (0 = line 1's baseline)."""
        return self.height - SIZE - HALF * half_line

    def draw(self) -> None:
        c, layout = self.canv, self.layout
        c.setFont(FONT, SIZE)
        for i, text in enumerate(layout.counsel):
            c.drawString(0, self._baseline(i), text)
        c.setFont(BOLD, SIZE)
        for i, text in enumerate(self.caption.court):
            c.drawCentredString(
                TEXT_WIDTH / 2, self._baseline(2 * (layout.court_line - 1 + i)), text
            )
        top = 2 * (layout.box_line - 1)  # half line where the box starts
        c.setFont(FONT, SIZE)
        for text, level, half in layout.parties:
            c.drawString(level * INDENT * 2, self._baseline(top + half), text)
        right = layout.box_split + 12
        c.drawString(right, self._baseline(top), self.caption.case_number)
        c.setFont(BOLD, SIZE)
        for i, text in enumerate(layout.title_lines):
            c.drawString(right, self._baseline(top + 2 + i), text)
        c.setFont(FONT, SIZE)
        for i, text in enumerate(layout.subtitle_lines):
            c.drawString(right, self._baseline(top + 3 + len(layout.title_lines) + i), text)
        box_top = self.height - LINE * (layout.box_line - 1) - 4
        box_bottom = self.height - LINE * (layout.box_line - 1 + layout.box_lines) + 6
        c.setLineWidth(0.8)
        c.line(layout.box_split, box_top, layout.box_split, box_bottom)
        c.line(0, box_bottom, layout.box_split, box_bottom)


# --------------------------------------------------------------------------- signature


class SignatureFlowable(Flowable):
    """Date line left, signer's lines right, one numbered line each; never split."""

    def __init__(self, signature: Signature) -> None:
        super().__init__()
        self.signature = signature
        self.lines = 1 + max(1, len(signature.lines))  # one blank line first

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        self.height = LINE * self.lines
        return available_width, self.height

    def split(self, available_width: float, available_height: float) -> list[Flowable]:
        return []  # moves whole to the next page

    def draw(self) -> None:
        c = self.canv
        c.setFont(FONT, SIZE)
        first = self.height - LINE - SIZE
        c.drawString(0, first, self.signature.dated)
        x = TEXT_WIDTH / 2
        for i, text in enumerate(self.signature.lines):
            c.drawString(x, first - LINE * i, text)


# --------------------------------------------------------------------------- tables


def _simple_table(table: SimpleTable) -> Table:
    """A small body table; every row one numbered line high."""
    widths = [TEXT_WIDTH * w for w in table.widths]
    data: list[list[str]] = [list(table.header)]
    heights = [LINE]
    for row in table.rows:
        wrapped = [_wrap(v, FONT, 10, w - 8) for v, w in zip(row, widths, strict=True)]
        data.append(["\n".join(lines) for lines in wrapped])
        most = max(len(lines) for lines in wrapped)
        heights.append(LINE * -(-most // 2))  # two 12-point lines to a numbered line
    style = [
        ("FONT", (0, 0), (-1, -1), FONT, 10),
        ("FONT", (0, 0), (-1, 0), BOLD, 10),
        ("LEADING", (0, 0), (-1, -1), 12),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, "black"),
        ("LINEBELOW", (0, 1), (-1, -1), 0.3, "black"),
        ("LEFTPADDING", (0, 0), (-1, -1), 4),
        ("RIGHTPADDING", (0, 0), (-1, -1), 4),
    ]
    for i, align in enumerate(table.align):
        if align == "right":
            style.append(("ALIGN", (i, 0), (i, -1), "RIGHT"))
    if table.total_row:
        style.append(("FONT", (0, -1), (-1, -1), BOLD, 10))
    result = Table(data, colWidths=widths, rowHeights=heights, repeatRows=1, hAlign="LEFT")
    result.setStyle(TableStyle(style))
    return result


class RowTable(Flowable):
    """Exhibit rows on half lines, header repeated on each page, split by row.

    Rows are shared between the pieces of a split (`start`, `end` index into
    them), so splitting a table of n rows over n/54 pages costs O(n), and a page
    is drawn as one text object.
    """

    def __init__(
        self,
        headers: Sequence[str],
        columns: Sequence,
        cells: Sequence[Sequence[Sequence[str]]],
        heights: Sequence[float],
        start: int = 0,
        end: int | None = None,
        offsets: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        self.headers = headers
        self.columns = columns
        self.cells = cells
        self.heights = heights
        self.start = start
        self.end = len(cells) if end is None else end
        self.offsets = offsets if offsets is not None else [0.0, *accumulate(heights)]
        self.header_lines = [
            _wrap(h, BOLD, TABLE_SIZE, c.width - 2 * TABLE_PAD)
            for h, c in zip(headers, columns, strict=True)
        ]
        # whole numbered lines, so the rows below keep the header's place on the grid
        self.header_height = LINE * -(-max(len(lines) for lines in self.header_lines) // 2)
        self.pad = 0.0

    @classmethod
    def from_rows(cls, headers: Sequence[str], columns: Sequence, rows: Sequence[Sequence[str]]):
        widths = [c.width - 2 * TABLE_PAD for c in columns]
        cells = []
        heights = []
        for row in rows:
            wrapped = [_wrap(v, FONT, TABLE_SIZE, w) for v, w in zip(row, widths, strict=True)]
            cells.append(wrapped)
            heights.append(HALF * max(len(lines) for lines in wrapped))
        return cls(headers, columns, cells, heights)

    def _rows_height(self, start: int, end: int) -> float:
        return self.offsets[end] - self.offsets[start]

    @staticmethod
    def _pad(available_height: float) -> float:
        """The space above the table that puts its text on the numbered lines.

        The frame has no padding, so the table's top is the frame's bottom plus the
        height still available; a row's baseline is `ROW_DROP` below its top, and the
        header is whole lines high: the pad brings the first baseline down to a
        numbered line's (rows are half lines, so every other row sits on a line).
        """
        top = FRAME_TOP - FRAME_HEIGHT + available_height
        return (top - ROW_DROP - line_baseline(1)) % LINE

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        self.pad = self._pad(available_height)
        self.height = self.pad + self.header_height + self._rows_height(self.start, self.end)
        return TEXT_WIDTH, self.height

    def split(self, available_width: float, available_height: float) -> list[Flowable]:
        room = available_height - self.header_height - self._pad(available_height)
        # the last row whose bottom fits: offsets[k] - offsets[start] <= room
        k = bisect_right(self.offsets, self.offsets[self.start] + room + 0.01) - 1
        k = min(k, self.end)
        if k <= self.start:
            return []
        if k >= self.end:
            return [self]
        return [self._piece(self.start, k), self._piece(k, self.end)]

    def _piece(self, start: int, end: int) -> RowTable:
        return RowTable(
            self.headers, self.columns, self.cells, self.heights, start, end, self.offsets
        )

    def draw(self) -> None:
        c = self.canv
        lefts = list(accumulate([0.0, *(col.width for col in self.columns)]))
        text = c.beginText()
        y_top = self.height - self.pad
        # header
        text.setFont(BOLD, TABLE_SIZE)
        for col, lines, left in zip(self.columns, self.header_lines, lefts, strict=False):
            for i, line in enumerate(lines):
                self._place(text, line, col, left, y_top - ROW_DROP - HALF * i, BOLD)
        rules = [y_top - self.header_height]
        y = y_top - self.header_height
        text.setFont(FONT, TABLE_SIZE)
        for index in range(self.start, self.end):
            for col, lines, left in zip(self.columns, self.cells[index], lefts, strict=False):
                for i, line in enumerate(lines):
                    self._place(text, line, col, left, y - ROW_DROP - HALF * i, FONT)
            y -= self.heights[index]
            rules.append(y)
        c.drawText(text)
        c.setLineWidth(0.8)
        c.line(0, rules[0], TEXT_WIDTH, rules[0])
        c.line(0, y_top, TEXT_WIDTH, y_top)
        path = c.beginPath()
        for r in rules[1:]:
            path.moveTo(0, r)
            path.lineTo(TEXT_WIDTH, r)
        for left in lefts[1:-1]:
            path.moveTo(left, y_top)
            path.lineTo(left, y)
        c.setLineWidth(0.25)
        c.drawPath(path, stroke=1, fill=0)

    @staticmethod
    def _place(text, line: str, col, left: float, y: float, font: str) -> None:
        if col.align == "right":
            x = left + col.width - TABLE_PAD - text_widths(font, TABLE_SIZE)(line)
        else:
            x = left + TABLE_PAD
        text.setTextOrigin(x, y)
        text.textOut(line)


# --------------------------------------------------------------------------- documents


def _body_flowables(items: Sequence) -> list[Flowable]:
    flowables: list[Flowable] = []
    number = 0
    for item in items:
        if isinstance(item, SimpleTable):
            flowables.append(_simple_table(item))
        elif isinstance(item, Signature):
            flowables.append(SignatureFlowable(item))
        elif isinstance(item, PageBreak):
            flowables.append(PdfPageBreak())
        elif isinstance(item, Block):
            if item.kind == "heading":
                flowables.append(Paragraph(xml_text(item.text), _HEADING))
            elif item.kind == "para":
                number += 1
                flowables.append(Paragraph(f"{number}.&nbsp;&nbsp;{xml_text(item.text)}", _BODY))
            else:
                flowables.append(Paragraph(xml_text(item.text), _BODY))
        else:  # pragma: no cover - the document model has no other kinds
            raise TypeError(f"cannot lay out {type(item).__name__}")
    for item, flowable, following in zip(items, flowables, [*items[1:], None], strict=True):
        if keeps_with_next(item, following):
            flowable.keepWithNext = True
    return flowables


def keeps_with_next(item: object, following: object) -> bool:
    """A heading stays with what follows it, and so does the paragraph that introduces
    a table or a signature: none ends a page alone (the Word writer's keepNext too)."""
    if following is None or isinstance(following, PageBreak):
        return False
    if isinstance(item, Block) and item.kind == "heading":
        return True
    return isinstance(item, Block) and isinstance(following, SimpleTable | Signature)


def write_pleading_pdf(pleading: Pleading, path: Path) -> None:
    """A motion, order or notice on pleading paper."""
    doc = _document(path, pleading.footer, pleading.meta)
    story = [CaptionFlowable(pleading.caption), *_body_flowables(pleading.body)]
    with binary_streams():
        doc.build(story, canvasmaker=canvas_maker(pleading.meta.date))


def write_exhibit_pdf(exhibit: Exhibit, path: Path) -> None:
    """One part of an exhibit: heading, legend, then the rows page after page."""
    doc = _document(path, exhibit.footer, exhibit.meta)
    story: list[Flowable] = [
        Paragraph(xml_text(exhibit.heading), _EXHIBIT_HEADING),
        Paragraph(xml_text(exhibit.title), _HEADING),
    ]
    if exhibit.part_line:
        story.append(Paragraph(xml_text(exhibit.part_line), _CENTERED))
    legend = Paragraph(xml_text(exhibit.legend), _LEGEND)
    story += [legend, _Gap(HALF)]
    story.append(RowTable.from_rows(exhibit.headers, exhibit.columns, exhibit.part.rows))
    with binary_streams():
        doc.build(story, canvasmaker=canvas_maker(exhibit.meta.date))


class _Gap(Flowable):
    def __init__(self, height: float) -> None:
        super().__init__()
        self.height = height

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return available_width, self.height

    def draw(self) -> None:
        pass
