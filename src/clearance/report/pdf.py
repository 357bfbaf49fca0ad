"""The report as PDF (ReportLab platypus): the same content as the HTML, charts as
vector graphics (the same ReportLab Drawings the HTML's SVG is written from).

Same input, same bytes: ReportLab's invariant mode fixes the document id, and the
creation date is the run's as-of date, never the clock. Text is real text in the
standard Helvetica font, so the figures can be searched, copied and read back
(tests/test_report.py extracts them with pypdf).

Layout: every page's footer says "page N of M" (the canvas keeps the pages until
the last one is laid out, then numbers them); a heading never ends a page (it is
kept with what follows it); a table that fits on a page is kept whole and moves
to the next page rather than split, and a longer one repeats its header row on
each page; the end of the methods is kept together, so the last page is never a
line or two.
"""

from __future__ import annotations

import calendar
import datetime as dt
import io
import time
from collections.abc import Sequence

from clearance.report.charts import Drawn
from clearance.report.figures import HIDDEN_NOTE, Figure, Report, Share, Table
from clearance.textsafe import xml_text

PAGE_MARGIN = 0.7  # inches
GREY = "#555555"


def render(report: Report, charts: dict[str, Drawn]) -> bytes:
    """The whole PDF. ``charts`` maps a table's id to its drawn chart."""
    from reportlab.lib.pagesizes import LETTER
    from reportlab.lib.units import inch
    from reportlab.platypus import SimpleDocTemplate

    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=LETTER,
        leftMargin=PAGE_MARGIN * inch,
        rightMargin=PAGE_MARGIN * inch,
        topMargin=PAGE_MARGIN * inch,
        bottomMargin=PAGE_MARGIN * inch,
        title=report.title + (" (public)" if report.public else ""),
        author="clearance",
        subject=report.subtitle,
        creator=f"clearance {report.methods.tool_version}",
        invariant=True,
        lang="en",
    )
    styles = _styles()
    story = _story(report, charts, styles, document.width)
    footer = f"{report.title} · as of {report.methods.as_of}" + (
        " · public" if report.public else ""
    )

    def on_page(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 7.5)
        canvas.setFillColor(GREY)
        canvas.drawString(doc.leftMargin, 0.45 * inch, footer)
        canvas.restoreState()

    def page_number(canvas, page: int, pages: int) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 7.5)
        canvas.setFillColor(GREY)
        right = document.leftMargin + document.width
        canvas.drawRightString(right, 0.45 * inch, f"page {page} of {pages}")
        canvas.restoreState()

    document.build(
        story,
        onFirstPage=on_page,
        onLaterPages=on_page,
        canvasmaker=_canvas_dated(report.pdf_date, page_number),
    )
    return buffer.getvalue()


def _canvas_dated(date: str, page_number):
    """A canvas whose creation date is ``date`` (the as-of date): invariant mode
    otherwise stamps 2000-01-01, and the default stamps the clock. It holds each page
    until the document ends, then has ``page_number(canvas, n, of)`` number them."""
    from reportlab.pdfgen.canvas import Canvas

    seconds = calendar.timegm(dt.date.fromisoformat(date).timetuple())

    class _Numbered(Canvas):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            stamp = self._doc._timeStamp
            stamp.t = seconds
            stamp.lt = time.gmtime(seconds)
            stamp.YMDhms = tuple(stamp.lt)[:6]
            self._held: list[dict] = []

        def showPage(self) -> None:
            self._held.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            pages = len(self._held)
            for number, state in enumerate(self._held, start=1):
                self.__dict__.update(state)
                page_number(self, number, pages)
                super().showPage()
            super().save()

    return _Numbered


def _styles() -> dict:
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet

    base = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=base["BodyText"], fontSize=9.5, leading=12.5)
    return {
        "title": ParagraphStyle("title", parent=base["Title"], alignment=0, fontSize=20),
        "subtitle": ParagraphStyle("subtitle", parent=body, textColor=GREY),
        "h2": ParagraphStyle(
            "h2", parent=base["Heading2"], fontSize=14, spaceBefore=10, keepWithNext=1
        ),
        "h3": ParagraphStyle(
            "h3", parent=base["Heading3"], fontSize=11, spaceBefore=8, keepWithNext=1
        ),
        "body": body,
        "lead": ParagraphStyle("lead", parent=body, fontSize=11, leading=14.5),
        "small": ParagraphStyle("small", parent=body, fontSize=8, leading=10, textColor=GREY),
        # a table's or a section's introduction: stays with what it introduces
        "intro": ParagraphStyle(
            "intro", parent=body, fontSize=8, leading=10, textColor=GREY, keepWithNext=1
        ),
        "section_intro": ParagraphStyle("section_intro", parent=body, keepWithNext=1),
        "cell": ParagraphStyle("cell", parent=body, fontSize=8, leading=9.5),
        "hash": ParagraphStyle("hash", parent=body, fontName="Courier", fontSize=6.5, leading=8),
        "bullet": ParagraphStyle("bullet", parent=body, leftIndent=12, bulletIndent=2),
    }


def _text(fragments: Sequence[str | Figure | Share]) -> str:
    """A sentence in ReportLab's paragraph markup, figures in bold."""
    parts = []
    for fragment in fragments:
        if isinstance(fragment, Figure | Share):
            parts.append(f"<b>{xml_text(fragment.text)}</b>")
        else:
            parts.append(xml_text(fragment))
    return "".join(parts)


def _story(report: Report, charts: dict[str, Drawn], styles: dict, width: float) -> list:
    from reportlab.platypus import KeepTogether, Paragraph, Spacer

    story: list = [
        Paragraph(xml_text(report.title), styles["title"]),
        Paragraph(xml_text(report.subtitle), styles["subtitle"]),
    ]
    if report.public:
        story.append(
            Paragraph(
                "<b>Public figures: no personal data; small counts not shown.</b>",
                styles["body"],
            )
        )
    story.append(Spacer(1, 6))
    story.extend(Paragraph(_text(s), styles["lead"]) for s in report.announcement)
    for group in report.headlines:
        story.append(Paragraph(xml_text(group.title), styles["h3"]))
        rows = [
            [
                Paragraph(
                    xml_text(item.label)
                    + (
                        f"<br/><font size=7 color='{GREY}'>{xml_text(item.note)}</font>"
                        if item.note
                        else ""
                    ),
                    styles["cell"],
                ),
                item.figure.text,
            ]
            for item in group.items
        ]
        story.append(KeepTogether(_grid(rows, [width * 0.7, width * 0.3], header=False)))
    if report.public:
        story.append(Paragraph(xml_text(HIDDEN_NOTE), styles["small"]))

    for section in report.sections:
        opening = [
            Paragraph(xml_text(section.title), styles["h2"]),
            Paragraph(xml_text(section.intro), styles["section_intro"]),
        ]
        for table in section.tables:
            groups = _table_block(table, charts.get(table.id), styles, width)
            groups[0][:0], opening = opening, []  # the section's heading opens its first table
            story.extend(KeepTogether(group) for group in groups)
        story.extend(opening)
    story.extend(_methods(report, styles, width))
    return story


def _table_block(table: Table, drawn: Drawn | None, styles: dict, width: float) -> list[list]:
    """A table's groups of flowables, each to be kept on one page: its heading with the
    chart and its caption (or with the table itself, when there is no chart), and the
    table, whole if it fits on a page (a longer one splits, its header row repeated)."""
    from reportlab.platypus import Paragraph

    heading = [Paragraph(xml_text(table.title), styles["h3"])]
    if table.intro:
        heading.append(Paragraph(xml_text(table.intro), styles["intro"]))
    data = _data_table(table, styles, width)
    if drawn is None:
        return [[*heading, data]]
    caption = table.alt + "".join(f" {n}" for n in table.notes)
    chart = [*heading, _fitted(drawn, width), Paragraph(xml_text(caption), styles["small"])]
    return [chart, [data]]


def _fitted(drawn: Drawn, width: float):
    """The chart's Drawing (vector graphics, text as text), shrunk if the column is
    narrower than the chart."""
    from reportlab.graphics.shapes import Drawing, Group

    if drawn.width <= width:
        return drawn.drawing
    scale = width / drawn.width
    group = Group(*drawn.drawing.contents)
    group.scale(scale, scale)
    return Drawing(width, drawn.height * scale, group)


def _data_table(table: Table, styles: dict, width: float):
    """A table of figures. A long "what it means" column goes under the row's label
    (a page is too narrow for it beside five columns of numbers)."""
    from reportlab.platypus import Paragraph

    merged = [i for i, c in enumerate(table.columns) if c.key == "description"]
    columns = [c for i, c in enumerate(table.columns) if i not in merged]
    numeric = [c.numeric for c in columns]
    text_columns = sum(1 for n in numeric if not n)
    number_width = (0.7 if text_columns else 0.8 if sum(numeric) > 4 else 0.95) * 72
    label_width = width * (0.32 if merged else 0.22 if text_columns else 0.34)
    rest = width - label_width - number_width * sum(numeric)
    widths = [label_width] + [number_width if n else rest / max(1, text_columns) for n in numeric]

    def row(label: str, cells) -> list:
        text = xml_text(label)
        for i in merged:
            if cells[i]:
                text += f"<br/><font size=7 color='{GREY}'>{xml_text(cells[i])}</font>"
        out = [Paragraph(text, styles["cell"])]
        for i, (column, value) in enumerate(zip(table.columns, cells, strict=True)):
            if i in merged:
                continue
            if isinstance(value, Figure | Share):
                out.append(value.text)
            elif column.key == "sha256":
                out.append(Paragraph(xml_text(value), styles["hash"]))
            else:
                out.append(Paragraph(xml_text(value), styles["cell"]))
        return out

    header = [Paragraph(f"<b>{xml_text(table.row_header)}</b>", styles["cell"])] + [
        Paragraph(f"<b>{xml_text(c.label)}</b>", styles["cell"]) for c in columns
    ]
    rows = [header] + [row(r.label, r.cells) for r in table.rows]
    if table.total is not None:
        rows.append(row(table.total.label, table.total.cells))
    return _grid(rows, widths, header=True, total=table.total is not None, numeric=numeric)


def _grid(rows, widths, *, header: bool, total: bool = False, numeric=None):
    from reportlab.lib import colors
    from reportlab.platypus import Table as PdfTable
    from reportlab.platypus import TableStyle

    style = [
        ("FONT", (0, 0), (-1, -1), "Helvetica", 8.5),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.3, colors.HexColor("#bbbbbb")),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
    if header:
        style.append(("LINEBELOW", (0, 0), (-1, 0), 1, colors.black))
    else:
        style.append(("ALIGN", (1, 0), (1, -1), "RIGHT"))
        style.append(("FONT", (1, 0), (1, -1), "Helvetica-Bold", 10))
    for i, is_number in enumerate(numeric or ()):
        if is_number:
            style.append(("ALIGN", (i + 1, 0), (i + 1, -1), "RIGHT"))
    if total:
        style.append(("LINEABOVE", (0, -1), (-1, -1), 1, colors.black))
        style.append(("FONT", (1, -1), (-1, -1), "Helvetica-Bold", 8.5))
    table = PdfTable(rows, colWidths=widths, repeatRows=1 if header else 0, hAlign="LEFT")
    table.setStyle(TableStyle(style))
    return table


def _methods(report: Report, styles: dict, width: float) -> list:
    from reportlab.platypus import KeepTogether, Paragraph

    m = report.methods
    bullet = styles["bullet"]

    def bullets(items) -> list:
        return [Paragraph(xml_text(item), bullet, bulletText="•") for item in items]

    story = [
        Paragraph("Methods", styles["h2"]),
        Paragraph("The policy", styles["h3"]),
        Paragraph(
            xml_text(
                f"“{m.policy_name}” ({m.policy_source}), applied to convictions in "
                f"{m.county.title()} County:"
            ),
            styles["body"],
        ),
        *bullets(m.policy_sentences),
        Paragraph("The date", styles["h3"]),
        Paragraph(
            xml_text(
                f"Every rule is applied as of {m.as_of}, {m.as_of_source}. Ages, the years "
                "since a conviction and whether a sentence has ended are counted to that date."
            ),
            styles["body"],
        ),
        Paragraph("The law", styles["h3"]),
        Paragraph(
            xml_text(
                f"The law is applied as encoded in clearance {m.tool_version}, rule pack "
                f"{m.rulepack_version}, each rule with the provision it rests on. "
                f"{m.rulepack_note}"
            ),
            styles["body"],
        ),
        *bullets(f"{what}: {citation}" for what, citation in m.law),
        Paragraph("The data", styles["h3"]),
        KeepTogether(
            [
                Paragraph(_text(m.rows), styles["section_intro"]),
                _data_table(m.inputs, styles, width),
            ]
        ),
    ]
    if m.rejects.rows:
        story.append(
            KeepTogether(
                [
                    Paragraph(xml_text(m.rejects.title), styles["h3"]),
                    Paragraph(xml_text(m.rejects.intro), styles["intro"]),
                    _data_table(m.rejects, styles, width),
                ]
            )
        )
    if m.not_tested:
        story.append(Paragraph(_text(m.not_tested), styles["body"]))
    if m.warnings:
        story.append(Paragraph("Warnings recorded with the run:", styles["section_intro"]))
        story.extend(bullets(m.warnings))
    story.append(Paragraph("What the figures mean", styles["h3"]))
    story.extend(bullets(m.definitions))
    # The end is kept together: the last page holds at least these sections, never a
    # stray closing line.
    tail = [Paragraph("Places", styles["h3"]), *bullets(m.places)]
    if m.suppression:
        tail.append(Paragraph("Public figures", styles["h3"]))
        tail.extend(bullets(m.suppression))
    tail.append(
        Paragraph(
            xml_text(
                f"Made by clearance {m.tool_version} from this run's summary.json and "
                "run.json. The figures are proposals: the prosecution decides, and the "
                "court orders."
            ),
            styles["small"],
        )
    )
    story.append(KeepTogether(tail))
    return story
