"""The letter to one person about their record (issue 19), in English and Spanish.

It says, in plain words, what the law clears automatically and when (a
ca-auto-relief run's `relief` and `upcoming` rows), what is stuck and why (its
`not_eligible` and `review` rows, with the reason in words), and which petitions
are open (every remedy drafted, from either pack). The words are in
templates/person-letter.<language>.yaml; dates and court names come from the
notice letters' templates (letters.<language>.yaml) through `LetterWords`, and
the page is the notice letters' (letterhead from office.yaml, Times, the same
margins). Written to `letter/letter-<language>.pdf` and `.docx`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from docx import Document
from docx.shared import Pt, Twips
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import HRFlowable, Paragraph, SimpleDocTemplate, Spacer

from clearance import __version__
from clearance.filings.docx_writer import deterministic_save
from clearance.filings.letters import (
    _BODY,
    _HEAD,
    BOLD,
    BULLET_INDENT,
    FONT,
    LANGUAGES,
    MARGIN,
    SIZE,
    TOP_MARGIN,
    LetterWords,
    split_name,
)
from clearance.filings.office import Office
from clearance.filings.person_record import CA_AUTO_RELIEF, Count, PersonRecord
from clearance.filings.petitions import Drafted
from clearance.filings.pleading import binary_streams, canvas_maker
from clearance.filings.text import _load, render
from clearance.textsafe import xml_safe, xml_text

__all__ = ["letter_words", "person_letter", "write_person_letters"]

AUTOMATIC = ("relief", "upcoming")
RELIEVED = "already_relieved"  # a ca-auto-relief reason: the records show relief granted
_BULLET = ParagraphStyle(
    "person-bullet", parent=_BODY, leftIndent=BULLET_INDENT, bulletIndent=3, spaceAfter=3
)
_OFFICE = ParagraphStyle("person-office", fontName=BOLD, fontSize=13, leading=16)
_CONTACT = ParagraphStyle("person-contact", fontName=FONT, fontSize=9, leading=11)
_GAP = ParagraphStyle("person-body", parent=_BODY, spaceAfter=6)


def letter_words(language: str) -> dict[str, Any]:
    """templates/person-letter.<language>.yaml."""
    return _load(f"person-letter.{language}.yaml")


def _is_date(value: Any) -> bool:
    try:
        dt.date.fromisoformat(str(value))
    except ValueError:
        return False
    return True


class _Words:
    """One language's letter words, with the notice letters' dates and courts."""

    def __init__(self, language: str, office: Office) -> None:
        self.text = letter_words(language)
        self.base = LetterWords(language, office)
        self.office = office.as_context(language)

    def date(self, iso: Any) -> str:
        return self.base.date(str(iso)) if _is_date(iso) else self.text["unknown"]

    def what(self, count: Count) -> str:
        f = count.facts
        unknown = self.text["unknown"]
        item = {
            "level": self.text["levels"].get(f.get("severity") or "", ""),
            "section": xml_safe(f.get("section") or unknown),
            "court": (
                xml_safe(self.base.court(f["county"], None))
                if f.get("county") and f.get("court")
                else unknown
            ),
            "case_number": xml_safe(f.get("case_number") or unknown),
            "agency": xml_safe(f.get("agency") or ""),
        }
        if count.kind == "arrest":
            item["date"] = self.date(f.get("arrest_date"))
            return render(self.text["what_arrest"], {"item": item})
        item["date"] = self.date(f.get("conviction_date"))
        return render(self.text["what_conviction"], {"item": item})

    def line(self, key: str, item: dict[str, Any]) -> str:
        return render(self.text[key], {"item": item})

    def static(self, key: str, context: dict[str, Any]) -> str:
        return render(self.text[key], {"office": self.office, **context})


def _automatic(count: Count) -> bool:
    return count.determination in AUTOMATIC or count.reason == RELIEVED


def _by_date(counts: Sequence[Count]) -> list[Count]:
    return sorted(
        counts,
        key=lambda c: (
            c.facts.get("conviction_date") or c.facts.get("arrest_date") or "9999",
            c.key,
        ),
    )


def person_letter(
    record: PersonRecord, drafted: Sequence[Drafted], office: Office, language: str
) -> list[tuple[str, str]]:
    """The letter as (style, text) paragraphs: head, body, heading, item, sign."""
    w = _Words(language, office)
    name = split_name(record.name)[3] if record.name else ""
    context = {"person": {"display_name": xml_safe(name)}, "run": {"as_of": w.date(record.as_of)}}
    parts: list[tuple[str, str]] = [
        ("name", xml_safe(name)),
        ("reference", w.static("reference", context)),
        ("body", w.static("greeting", context)),
        ("body", w.static("intro", context)),
    ]
    auto = [c for c in record.counts if c.pack == CA_AUTO_RELIEF]
    if CA_AUTO_RELIEF in record.packs:
        due = [c for c in _by_date(auto) if _automatic(c)]
        parts.append(("heading", w.static("automatic_heading", context)))
        if due:
            parts.append(("body", w.static("automatic_intro", context)))
            for count in due:
                item = {"what": w.what(count), "eligible_on": w.date(count.facts["eligible_on"])}
                key = (
                    "relieved_item"
                    if count.reason == RELIEVED
                    else "relief_item"
                    if count.determination == "relief"
                    else "upcoming_item"
                )
                parts.append(("item", w.line(key, item)))
        else:
            parts.append(("body", w.static("none_automatic", context)))
        stuck = [c for c in _by_date(auto) if not _automatic(c)]
        parts.append(("heading", w.static("stuck_heading", context)))
        if stuck:
            reasons = w.text["reasons"]
            for count in stuck:
                reason = reasons.get(count.reason, reasons["other"])
                parts.append(
                    ("item", w.line("stuck_item", {"what": w.what(count), "reason": reason}))
                )
        else:
            parts.append(("body", w.static("none_stuck", context)))
    parts.append(("heading", w.static("petitions_heading", context)))
    lines = _petition_lines(drafted, w)
    if lines:
        parts.append(("body", w.static("petitions_intro", context)))
        parts += [("item", line) for line in lines]
    else:
        parts.append(("body", w.static("none_petitions", context)))
    parts.append(("heading", w.static("means_heading", context)))
    parts += [("item", render(p, {"office": w.office})) for p in w.text["means"]]
    parts += [
        ("body", w.static("contact", context)),
        ("body", w.static("not_advice", context)),
        ("closing", w.static("closing", context)),
        ("body", w.static("signer", context)),
    ]
    return parts


def _petition_lines(drafted: Sequence[Drafted], w: _Words) -> list[str]:
    """One line per conviction or arrest, naming every remedy drafted for it."""
    order = list(w.text["remedies"])
    rows: dict[tuple[str, str], tuple[Count, set[str]]] = {}
    for petition in drafted:
        for count in petition.counts:
            _, codes = rows.setdefault((count.kind, count.key), (count, set()))
            codes.add(petition.remedy)
    lines = []
    for count, codes in (rows[k] for k in sorted(rows, key=lambda k: _sort_key(rows[k][0]))):
        remedies = [w.text["remedies"][c] for c in sorted(codes, key=order.index)]
        item = {"what": w.what(count), "remedies": w.text["remedies_joiner"].join(remedies)}
        lines.append(w.line("petition_item", item))
    return lines


def _sort_key(count: Count) -> tuple[str, str]:
    return (
        count.facts.get("conviction_date") or count.facts.get("arrest_date") or "9999",
        count.key,
    )


# --------------------------------------------------------------------------- files


def _write_pdf(
    path: Path, parts: Sequence[tuple[str, str]], office: Office, record: PersonRecord, title: str
) -> None:
    doc = SimpleDocTemplate(
        str(path),
        pagesize=LETTER,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=TOP_MARGIN,
        bottomMargin=TOP_MARGIN,
        title=title,
        author=office.name,
        subject=title,
        creator=f"clearance {__version__}",
    )
    contact = [*office.address, office.phone, *(v for v in (office.email, office.website) if v)]
    story: list[Any] = [
        Paragraph(xml_text(office.name), _OFFICE),
        Paragraph(xml_text(" · ".join(contact)), _CONTACT),
        HRFlowable(width="100%", thickness=0.6, spaceBefore=4, spaceAfter=22),
    ]
    for style, text in parts:
        para = xml_text(text)
        if style == "name":
            story += [Paragraph(para, _BODY), Spacer(1, 48)]  # room for the address
        elif style == "reference":
            story += [Paragraph(para, _HEAD), Spacer(1, 10)]
        elif style == "heading":
            story += [Spacer(1, 6), Paragraph(para, _HEAD), Spacer(1, 3)]
        elif style == "item":
            story.append(Paragraph(para, _BULLET, bulletText="•"))
        elif style == "closing":
            story += [Spacer(1, 6), Paragraph(para, _BODY), Spacer(1, 20)]
        else:
            story.append(Paragraph(para, _GAP))
    with binary_streams():
        doc.build(story, canvasmaker=canvas_maker(record.as_of))


def _write_docx(
    path: Path, parts: Sequence[tuple[str, str]], office: Office, record: PersonRecord, title: str
) -> None:
    doc = Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Twips(12240), Twips(15840)
    section.left_margin = section.right_margin = Twips(round(MARGIN * 20))
    section.top_margin = section.bottom_margin = Twips(round(TOP_MARGIN * 20))
    normal = doc.styles["Normal"]
    normal.font.name = "Times New Roman"
    normal.font.size = Pt(SIZE)

    def para(
        text: str, *, bold: bool = False, size: float | None = None, after: int = 6, style=None
    ):
        p = doc.add_paragraph(style=style)
        run = p.add_run(xml_safe(text))
        run.bold = bold
        if size:
            run.font.size = Pt(size)
        p.paragraph_format.space_after = Pt(after)
        return p

    para(office.name, bold=True, size=13, after=0)
    contact = [*office.address, office.phone, *(v for v in (office.email, office.website) if v)]
    para(" · ".join(contact), size=9, after=18)
    for style, text in parts:
        if style == "name":
            para(text, after=48)
        elif style in ("reference", "heading"):
            para(text, bold=True, after=4)
        elif style == "item":
            para(text, style="List Bullet", after=3)
        elif style == "closing":
            para(text, after=24)
        else:
            para(text)
    props = doc.core_properties
    stamp = dt.datetime.combine(record.as_of, dt.time(0, 0))
    props.title = title
    props.author = xml_safe(office.name)
    props.comments = props.last_modified_by = f"clearance {__version__}"
    props.created = props.modified = props.last_printed = stamp
    props.revision = 1
    deterministic_save(doc, path, record.as_of)


def write_person_letters(
    record: PersonRecord, drafted: Sequence[Drafted], office: Office, folder: Path
) -> list[str]:
    """Write the letter in each language, PDF and Word; return the paths written."""
    files = []
    for language in LANGUAGES:
        parts = person_letter(record, drafted, office, language)
        title = render(letter_words(language)["reference"], {})
        stem = f"letter-{language}"
        _write_pdf(folder / f"{stem}.pdf", parts, office, record, title)
        _write_docx(folder / f"{stem}.docx", parts, office, record, title)
        files += [f"{folder.name}/{stem}.pdf", f"{folder.name}/{stem}.docx"]
    return files
