"""The court documents as editable Word files (python-docx), on pleading paper.

Attorneys edit the filings before signing, so each PDF has a .docx twin with the
same words, built from the same `document.py` objects:

- the 28 line numbers sit in a text box in the page header, as in the pleading
  templates California courts and offices use (Word's own line numbering counts
  lines of text, not the paper's 28 lines); body text is set at exactly 24 points
  a line so it runs along them;
- the double rule left and single rule right are page borders;
- the footer holds the page number (a PAGE field) above a rule and the short title.

Exhibit rows are written as table XML in chunks rather than through python-docx's
per-cell API, which costs about a millisecond per cell; appending one huge table
element at once is slow in lxml, so chunks of a few hundred rows are moved in.

Files are reproducible: core properties carry the run's as-of date, and the zip
entries get a fixed timestamp (python-docx stamps them with the clock).
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Sequence
from pathlib import Path

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.section import WD_SECTION_START
from docx.enum.text import WD_LINE_SPACING
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.shared import Pt, Twips

from clearance.filings.document import (
    Caption,
    DocMeta,
    Exhibit,
    PageBreak,
    Pleading,
    Signature,
    SimpleTable,
)
from clearance.filings.pleading import (
    COUNSEL_WIDTH,
    LINES,
    NUMBER_RIGHT,
    PAGE_HEIGHT,
    PAGE_WIDTH,
    RULE_RIGHT,
    RULES_LEFT,
    TEXT_LEFT,
    TEXT_RIGHT,
    TEXT_WIDTH,
    TOP,
    CaptionLayout,
    keeps_with_next,
)
from clearance.filings.text import Block
from clearance.textsafe import xml_safe, xml_text

__all__ = ["deterministic_save", "write_exhibit_docx", "write_pleading_docx"]

FONT = "Times New Roman"
LINE_TWIPS = 480  # 24 points
HALF_TWIPS = 240
TEXT_TWIPS = round(TEXT_WIDTH * 20)
ROW_CHUNK = 400  # exhibit rows parsed and moved into the table at a time
_VML = 'xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office"'


# --------------------------------------------------------------------------- page set-up


def _run_props(size: float | None = None, bold: bool = False) -> str:
    props = f'<w:rFonts w:ascii="{FONT}" w:hAnsi="{FONT}" w:cs="{FONT}"/>'
    if bold:
        props += "<w:b/>"
    if size is not None:
        half_points = round(size * 2)
        props += f'<w:sz w:val="{half_points}"/><w:szCs w:val="{half_points}"/>'
    return f"<w:rPr>{props}</w:rPr>"


def _para_xml(
    text: str,
    *,
    align: str = "left",
    line: int = LINE_TWIPS,
    size: float | None = None,
    bold: bool = False,
    border_top: bool = False,
) -> str:
    border = (
        '<w:pBdr><w:top w:val="single" w:sz="6" w:space="1" w:color="000000"/></w:pBdr>'
        if border_top
        else ""
    )
    return (
        f'<w:p><w:pPr>{border}<w:spacing w:before="0" w:after="0" w:line="{line}" '
        f'w:lineRule="exact"/><w:jc w:val="{align}"/></w:pPr>'
        f'<w:r>{_run_props(size, bold)}<w:t xml:space="preserve">{xml_text(text)}</w:t></w:r></w:p>'
    )


def _line_numbers_xml() -> str:
    """A header paragraph anchoring a text box with the numbers 1-28 beside the lines."""
    numbers = "".join(_para_xml(str(n), align="right") for n in range(1, LINES + 1))
    width = 30.0
    left = width + (TEXT_LEFT - NUMBER_RIGHT)  # right edge where the PDF's numbers end
    return (
        f'<w:p {nsdecls("w")} {_VML}><w:pPr><w:spacing w:before="0" w:after="0" '
        'w:line="240" w:lineRule="auto"/></w:pPr><w:r><w:pict>'
        '<v:shapetype id="_x0000_t202" coordsize="21600,21600" o:spt="202" '
        'path="m,l,21600r21600,l21600,xe"><v:stroke joinstyle="miter"/>'
        '<v:path gradientshapeok="t" o:connecttype="rect"/></v:shapetype>'
        '<v:shape id="PleadingLineNumbers" o:spid="_x0000_s1025" type="#_x0000_t202" '
        f'style="position:absolute;margin-left:-{left:.0f}pt;margin-top:0;width:{width:.0f}pt;'
        f"height:{LINE_TWIPS * LINES / 20:.0f}pt;z-index:-251657216;"
        'mso-position-horizontal-relative:margin;mso-position-vertical-relative:margin" '
        'filled="f" stroked="f"><v:textbox inset="0,0,0,0"><w:txbxContent>'
        f"{numbers}</w:txbxContent></v:textbox></v:shape></w:pict></w:r></w:p>"
    )


def _set_up(doc: DocxDocument, footer: str) -> None:
    """Letter paper, pleading margins, borders, numbered header and footer."""
    section = doc.sections[0]
    section.start_type = WD_SECTION_START.NEW_PAGE
    section.page_width = Twips(round(PAGE_WIDTH * 20))
    section.page_height = Twips(round(PAGE_HEIGHT * 20))
    section.top_margin = Twips(round(TOP * 20))
    section.bottom_margin = Twips(round((PAGE_HEIGHT - TOP - LINES * 24) * 20))
    section.left_margin = Twips(round(TEXT_LEFT * 20))
    section.right_margin = Twips(round((PAGE_WIDTH - TEXT_RIGHT) * 20))
    section.header_distance = Twips(360)
    section.footer_distance = Twips(200)
    left_space = round(TEXT_LEFT - RULES_LEFT[1])
    right_space = round(RULE_RIGHT - TEXT_RIGHT)
    borders = parse_xml(
        f'<w:pgBorders {nsdecls("w")} w:offsetFrom="text">'
        f'<w:left w:val="double" w:sz="4" w:space="{left_space}" w:color="000000"/>'
        f'<w:right w:val="single" w:sz="4" w:space="{right_space}" w:color="000000"/>'
        "</w:pgBorders>"
    )
    sect_pr = section._sectPr
    # schema order: pgBorders comes right after pgMar
    sect_pr.find(qn("w:pgMar")).addnext(borders)

    style = doc.styles["Normal"]
    style.font.name = FONT
    style.font.size = Pt(12)
    style.element.rPr.rFonts.set(qn("w:eastAsia"), FONT)
    fmt = style.paragraph_format
    fmt.space_before = Pt(0)
    fmt.space_after = Pt(0)
    fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    fmt.line_spacing = Pt(24)

    header = section.header
    header.is_linked_to_previous = False
    header_element = header._element
    for p in list(header_element):
        header_element.remove(p)
    header_element.append(parse_xml(_line_numbers_xml()))

    footer_part = section.footer
    footer_part.is_linked_to_previous = False
    footer_element = footer_part._element
    for p in list(footer_element):
        footer_element.remove(p)
    page = (
        f'<w:p {nsdecls("w")}><w:pPr><w:spacing w:before="0" w:after="0" w:line="240" '
        'w:lineRule="exact"/><w:jc w:val="center"/></w:pPr>'
        f'<w:r>{_run_props(12)}<w:t xml:space="preserve">- </w:t></w:r>'
        f'<w:fldSimple w:instr=" PAGE "><w:r>{_run_props(12)}<w:t>1</w:t></w:r></w:fldSimple>'
        f'<w:r>{_run_props(12)}<w:t xml:space="preserve"> -</w:t></w:r></w:p>'
    )
    footer_element.append(parse_xml(page))
    footer_element.append(
        _element(_para_xml(footer, align="center", line=200, size=8, border_top=True))
    )


def _new_document(footer: str) -> DocxDocument:
    doc = Document()
    body = doc.element.body
    for child in list(body):
        if child.tag != qn("w:sectPr"):
            body.remove(child)
    _set_up(doc, footer)
    return doc


def _element(xml: str):
    """Parse a fragment whose root tag lacks the namespace declaration."""
    tag_end = xml.index(">")
    if xml[tag_end - 1] == "/":
        tag_end -= 1
    if "xmlns:w=" not in xml[:tag_end]:
        xml = f"{xml[:tag_end]} {nsdecls('w')}{xml[tag_end:]}"
    return parse_xml(xml)


def _append(doc: DocxDocument, xml: str) -> None:
    """Insert body XML (one element) before the final section properties."""
    doc.element.body.sectPr.addprevious(_element(xml))


# --------------------------------------------------------------------------- caption and body


def _caption(doc: DocxDocument, caption: Caption) -> None:
    layout = CaptionLayout(caption)
    # counsel wraps at the same width as in the PDF, so it ends on the same line
    right_indent = round((TEXT_WIDTH - COUNSEL_WIDTH) * 20)
    for text in caption.counsel:
        _append(
            doc,
            _para_xml(text, line=HALF_TWIPS).replace(
                "<w:jc ", f'<w:ind w:right="{right_indent}"/><w:jc ', 1
            ),
        )
    # counsel is padded to the court title's line (line 8 unless counsel is longer)
    for _ in range(max(0, 2 * (layout.court_line - 1) - len(layout.counsel))):
        _append(doc, _para_xml("", line=HALF_TWIPS))
    for text in caption.court:
        _append(doc, _para_xml(text, align="center", bold=True))
    _append(doc, _para_xml(""))
    left = "".join(
        _para_xml(text, line=HALF_TWIPS).replace(
            "<w:jc ", f'<w:ind w:left="{level * 1440}"/><w:jc ', 1
        )
        + _para_xml("", line=HALF_TWIPS)
        for text, level in caption.parties
    )
    right_parts = (
        _para_xml(caption.case_number, line=HALF_TWIPS)
        + _para_xml("", line=HALF_TWIPS)
        + _para_xml(caption.title, line=HALF_TWIPS, bold=True)
        + _para_xml("", line=HALF_TWIPS)
        + (_para_xml(caption.subtitle, line=HALF_TWIPS) if caption.subtitle else "")
    )
    right = right_parts.replace("<w:jc ", '<w:ind w:left="240"/><w:jc ')  # schema order
    height = layout.box_lines * LINE_TWIPS
    split = round(layout.box_split * 20)
    cell_margins = (
        '<w:tblCellMar><w:top w:w="0" w:type="dxa"/><w:left w:w="0" w:type="dxa"/>'
        '<w:bottom w:w="0" w:type="dxa"/><w:right w:w="120" w:type="dxa"/></w:tblCellMar>'
    )
    table = (
        f'<w:tbl {nsdecls("w")}><w:tblPr><w:tblW w:w="{TEXT_TWIPS}" w:type="dxa"/>'
        f'<w:tblLayout w:type="fixed"/>{cell_margins}</w:tblPr>'
        f'<w:tblGrid><w:gridCol w:w="{split}"/><w:gridCol w:w="{TEXT_TWIPS - split}"/></w:tblGrid>'
        f'<w:tr><w:trPr><w:cantSplit/><w:trHeight w:val="{height}" w:hRule="atLeast"/></w:trPr>'
        f'<w:tc><w:tcPr><w:tcW w:w="{split}" w:type="dxa"/><w:tcBorders>'
        '<w:bottom w:val="single" w:sz="6" w:color="000000"/>'
        '<w:right w:val="single" w:sz="6" w:color="000000"/></w:tcBorders></w:tcPr>'
        f"{left}</w:tc>"
        f'<w:tc><w:tcPr><w:tcW w:w="{TEXT_TWIPS - split}" w:type="dxa"/></w:tcPr>'
        f"{right}</w:tc>"
        "</w:tr></w:tbl>"
    )
    doc.element.body.sectPr.addprevious(parse_xml(table))
    _append(doc, _para_xml(""))


def _simple_table(doc: DocxDocument, table: SimpleTable) -> None:
    widths = [round(TEXT_TWIPS * w) for w in table.widths]
    grid = "".join(f'<w:gridCol w:w="{w}"/>' for w in widths)

    def row(values: Sequence[str], bold: bool, header: bool) -> str:
        props = '<w:trPr><w:cantSplit/><w:trHeight w:val="480" w:hRule="atLeast"/>'
        props += "<w:tblHeader/></w:trPr>" if header else "</w:trPr>"
        cells = "".join(
            f'<w:tc><w:tcPr><w:tcW w:w="{w}" w:type="dxa"/><w:vAlign w:val="center"/></w:tcPr>'
            + _para_xml(v, line=HALF_TWIPS, size=10, bold=bold, align=a)
            + "</w:tc>"
            for v, w, a in zip(values, widths, table.align, strict=True)
        )
        return f"<w:tr>{props}{cells}</w:tr>"

    rows = [row(table.header, True, True)]
    for i, values in enumerate(table.rows):
        rows.append(row(values, table.total_row and i == len(table.rows) - 1, False))
    xml = (
        f'<w:tbl {nsdecls("w")}><w:tblPr><w:tblW w:w="{sum(widths)}" w:type="dxa"/>'
        '<w:tblBorders><w:top w:val="single" w:sz="4" w:color="000000"/>'
        '<w:bottom w:val="single" w:sz="4" w:color="000000"/>'
        '<w:insideH w:val="single" w:sz="2" w:color="000000"/></w:tblBorders>'
        '<w:tblLayout w:type="fixed"/>'
        f"</w:tblPr><w:tblGrid>{grid}</w:tblGrid>{''.join(rows)}</w:tbl>"
    )
    doc.element.body.sectPr.addprevious(parse_xml(xml))


def _signature(doc: DocxDocument, signature: Signature) -> None:
    middle = TEXT_TWIPS // 2
    lines = list(signature.lines)
    rows = [("", ""), (signature.dated, lines[0] if lines else "")]  # one blank line first
    rows += [("", text) for text in lines[1:]]
    for i, (left, right) in enumerate(rows):
        keep = "<w:keepNext/>" if i < len(rows) - 1 else ""  # the block stays on one page
        xml = (
            f'<w:p><w:pPr>{keep}<w:keepLines/><w:tabs><w:tab w:val="left" '
            f'w:pos="{middle}"/></w:tabs><w:spacing w:before="0" w:after="0" '
            f'w:line="{LINE_TWIPS}" w:lineRule="exact"/></w:pPr>'
            f'<w:r>{_run_props()}<w:t xml:space="preserve">{xml_text(left)}</w:t></w:r>'
            f"<w:r>{_run_props()}<w:tab/>"
            f'<w:t xml:space="preserve">{xml_text(right)}</w:t></w:r></w:p>'
        )
        _append(doc, xml)


def _body(doc: DocxDocument, items: Sequence) -> None:
    number = 0
    new_page = False  # the next paragraph starts a page (after a PageBreak)
    for item, following in zip(items, [*items[1:], None], strict=True):
        if isinstance(item, SimpleTable):
            _simple_table(doc, item)
        elif isinstance(item, Signature):
            _signature(doc, item)
        elif isinstance(item, PageBreak):
            new_page = True
        elif isinstance(item, Block):
            keep = "<w:keepNext/>" if keeps_with_next(item, following) else ""
            if new_page:
                keep += "<w:pageBreakBefore/>"
                new_page = False
            if item.kind == "heading":
                xml = _para_xml(item.text, align="center", bold=True)
                _append(doc, xml.replace("<w:pPr>", f"<w:pPr>{keep}", 1))
                continue
            text = item.text
            if item.kind == "para":
                number += 1
                text = f"{number}.  {text}"
            xml = (
                _para_xml(text, align="both")
                .replace("<w:pPr>", f"<w:pPr>{keep}", 1)
                .replace("<w:jc ", '<w:ind w:firstLine="720"/><w:jc ', 1)  # schema order
            )
            _append(doc, xml)


# --------------------------------------------------------------------------- exhibit table


def _exhibit_table(doc: DocxDocument, exhibit: Exhibit) -> None:
    scale = TEXT_TWIPS / sum(c.width for c in exhibit.columns)
    widths = [round(c.width * scale) for c in exhibit.columns]
    aligns = ["right" if c.align == "right" else "left" for c in exhibit.columns]
    cell_props = [f'<w:tcPr><w:tcW w:w="{w}" w:type="dxa"/></w:tcPr>' for w in widths]
    plain = _run_props(8)
    bold = _run_props(8, bold=True)
    para_props = [
        f'<w:pPr><w:spacing w:before="0" w:after="0" w:line="{HALF_TWIPS}" '
        f'w:lineRule="exact"/><w:jc w:val="{a}"/></w:pPr>'
        for a in aligns
    ]

    def row(values: Sequence[str], header: bool) -> str:
        run = bold if header else plain
        cells = "".join(
            f'<w:tc>{cp}<w:p>{pp}<w:r>{run}<w:t xml:space="preserve">{xml_text(v)}</w:t></w:r>'
            "</w:p></w:tc>"
            for v, cp, pp in zip(values, cell_props, para_props, strict=True)
        )
        flags = "<w:cantSplit/><w:tblHeader/>" if header else "<w:cantSplit/>"
        return f"<w:tr><w:trPr>{flags}</w:trPr>{cells}</w:tr>"

    grid = "".join(f'<w:gridCol w:w="{w}"/>' for w in widths)
    table = parse_xml(
        f'<w:tbl {nsdecls("w")}><w:tblPr><w:tblW w:w="{sum(widths)}" w:type="dxa"/>'
        '<w:tblBorders><w:top w:val="single" w:sz="6" w:color="000000"/>'
        '<w:bottom w:val="single" w:sz="6" w:color="000000"/>'
        '<w:insideH w:val="single" w:sz="2" w:color="000000"/>'
        '<w:insideV w:val="single" w:sz="2" w:color="000000"/></w:tblBorders>'
        '<w:tblLayout w:type="fixed"/><w:tblCellMar><w:left w:w="50" w:type="dxa"/>'
        '<w:right w:w="50" w:type="dxa"/></w:tblCellMar></w:tblPr>'
        f"<w:tblGrid>{grid}</w:tblGrid>{row(exhibit.headers, True)}</w:tbl>"
    )
    doc.element.body.sectPr.addprevious(table)
    rows = exhibit.part.rows
    for start in range(0, len(rows), ROW_CHUNK):
        chunk = "".join(row(values, False) for values in rows[start : start + ROW_CHUNK])
        holder = parse_xml(f"<w:tbl {nsdecls('w')}>{chunk}</w:tbl>")
        table.extend(list(holder))


# --------------------------------------------------------------------------- saving


def _core_properties(doc: DocxDocument, meta: DocMeta) -> None:
    stamp = dt.datetime.combine(meta.date, dt.time(0, 0))
    props = doc.core_properties
    props.title = xml_safe(meta.title)
    props.author = xml_safe(meta.author)
    props.subject = xml_safe(meta.subject)
    props.comments = xml_safe(meta.creator)
    props.last_modified_by = xml_safe(meta.creator)
    props.created = stamp
    props.modified = stamp
    props.last_printed = stamp
    props.revision = 1


def deterministic_save(doc: DocxDocument, path: Path, date: dt.date) -> None:
    """Save with every zip entry stamped `date`, so equal content gives equal bytes."""
    buffer = io.BytesIO()
    doc.save(buffer)
    stamp = (date.year, date.month, date.day, 0, 0, 0)
    if stamp[0] < 1980:  # the zip format's earliest date
        stamp = (1980, 1, 1, 0, 0, 0)
    with (
        zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as source,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=stamp)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.create_system = 3
            entry.external_attr = 0o644 << 16
            target.writestr(entry, source.read(info.filename))


def write_pleading_docx(pleading: Pleading, path: Path) -> None:
    """A motion, order or notice as an editable Word document on pleading paper."""
    doc = _new_document(pleading.footer)
    _caption(doc, pleading.caption)
    _body(doc, pleading.body)
    _core_properties(doc, pleading.meta)
    deterministic_save(doc, path, pleading.meta.date)


def write_exhibit_docx(exhibit: Exhibit, path: Path) -> None:
    """One part of an exhibit as an editable Word document."""
    doc = _new_document(exhibit.footer)
    _append(doc, _para_xml(exhibit.heading, align="center", bold=True, size=14))
    _append(doc, _para_xml(exhibit.title, align="center", bold=True))
    if exhibit.part_line:
        _append(doc, _para_xml(exhibit.part_line, align="center", size=11))
    _append(doc, _para_xml(exhibit.legend, line=HALF_TWIPS, size=9))
    _append(doc, _para_xml("", line=HALF_TWIPS))
    _exhibit_table(doc, exhibit)
    _core_properties(doc, exhibit.meta)
    deterministic_save(doc, path, exhibit.meta.date)
