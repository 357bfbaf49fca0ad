"""Notice letters to each person helped, in English and Spanish.

One letter per person with at least one granted conviction in the run, listing
each of them with what the office asked the court to do, and what that means for
jobs, housing and background checks. The words are in templates/letters.*.yaml.

Written to `letters/`:

- `letters-<lang>[-part-NN].pdf`: print-ready, one letter per person, each
  starting on a new page, at most `part_size` letters a file;
- `letter-template-<lang>.docx`: a Word mail-merge document whose fields
  (`«display_name»`, `«convictions_en»`, ...) are the columns of
- `mailing-list.csv`: one row per person, for Word's mail merge or a mailing
  house, with the PDF file and page of each person's letter;
- `no-address.csv`: the people whose letter has no address, and why;
- `address-problems.csv`: the rows of the addresses file that were not used.

The DOJ extract holds no mailing address: the office gives them in a CSV file
(`--addresses`, addresses.py), and each letter prints its person's address where
a window envelope shows it (`ADDRESS_TOP`, `ADDRESS_LEFT`), under the letter's
date: the filing date if given, else the run's as-of date (never the clock).

Speed: tens of thousands of letters are practical because everything a letter
shares with others is drawn once per file as a PDF form (XObject) and placed on
each page; only the name and the list of convictions are drawn per person.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import polars as pl
from docx import Document
from docx.shared import Pt, Twips
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph

from clearance import __version__
from clearance.filings.addresses import Address, AddressBook
from clearance.filings.cases import Court, RunInfo
from clearance.filings.docx_writer import _element, deterministic_save
from clearance.filings.office import Office
from clearance.filings.pleading import binary_streams, canvas_maker, text_widths
from clearance.filings.text import letter_text, render
from clearance.law import RulePack
from clearance.textsafe import write_csv, xml_safe, xml_text

__all__ = [
    "FOLDER",
    "LANGUAGES",
    "MAILING_FILE",
    "NO_ADDRESS_FILE",
    "PROBLEMS_FILE",
    "Person",
    "people",
    "write_letters",
]

FOLDER = "letters"
LANGUAGES = ("en", "es")
MAILING_FILE = "mailing-list.csv"
NO_ADDRESS_FILE = "no-address.csv"
PROBLEMS_FILE = "address-problems.csv"
VARIANTS = ((True, False), (False, True), (True, True))  # (dismissed, reduced)

PAGE_WIDTH, PAGE_HEIGHT = LETTER
MARGIN = 54.0
TOP_MARGIN = 44.0
BOTTOM_MARGIN = 40.0
WIDTH = PAGE_WIDTH - 2 * MARGIN
FONT, BOLD = "Times-Roman", "Times-Bold"
SIZE, LEADING = 10.0, 12.5
BULLET_INDENT = 14.0
# The address block, where the window of a standard No. 10 envelope (4.5 x 1.125 in,
# 7/8 in from the left and 1/2 in from the bottom) shows it when the letter is
# folded in three: from 2.25 in below the top of the page, 7/8 in from its left
# edge, at most 4 in wide and 4 lines of 12 points (docs/filings.md, "Letters").
ADDRESS_TOP = 2.25 * 72
ADDRESS_LEFT = 0.875 * 72
ADDRESS_WIDTH = 4.0 * 72
ADDRESS_SIZE, ADDRESS_LEADING = 10.5, 12.0
ADDRESS_LINES = 4  # name, street, second line, city (Address.block)
DATE_Y = PAGE_HEIGHT - 1.6 * 72  # the letter's date, above the window


@dataclass(frozen=True)
class Person:
    """One letter: the person and their granted convictions, in exhibit order."""

    letter_id: str
    subject_id: str
    cii_number: str | None
    name_as_recorded: str
    first_name: str
    middle_name: str
    last_name: str
    display_name: str
    items: tuple[dict[str, Any], ...]  # court, courthouse, county, case_number, date, section...

    @property
    def dismissed(self) -> bool:
        return any(i["relief_code"] == "dismiss_and_seal" for i in self.items)

    @property
    def reduced(self) -> bool:
        return any(i["relief_code"] != "dismiss_and_seal" for i in self.items)


def _title_word(word: str) -> str:
    """`O'BRIEN` -> `O'Brien`, `SMITH-JONES` -> `Smith-Jones`."""
    out, upper_next = [], True
    for ch in word.lower():
        out.append(ch.upper() if upper_next else ch)
        upper_next = ch in "-'"
    return "".join(out)


def split_name(recorded: str | None) -> tuple[str, str, str, str]:
    """DOJ's `LAST,FIRST MIDDLE` as (first, middle, last, display name)."""
    text = " ".join((recorded or "").split())
    last, _, rest = text.partition(",")
    if not rest:  # no comma: keep the whole as the last name
        last, rest = text, ""
    given = rest.split()
    first = given[0] if given else ""
    middle = " ".join(given[1:])
    words = [w for w in (first, middle, last.strip()) if w]
    display = " ".join(_title_word(w) for part in words for w in part.split())
    return first, middle, last.strip(), display


def people(courts: Sequence[Court]) -> list[Person]:
    """Everyone with a granted conviction, ordered as the exhibits are (name, birth)."""
    frames = [
        c.granted.select(
            "subject_id",
            "cii_number",
            "name",
            "dob",
            "case_number",
            "conviction_date",
            "section",
            "relief_code",
            pl.lit(c.county).alias("county"),
            pl.lit(c.courthouse, dtype=pl.String).alias("courthouse"),
        )
        for c in courts
        if c.granted.height
    ]
    if not frames:
        return []
    frame = (
        pl.concat(frames)
        .with_row_index("order")
        .sort(["name", "dob", "subject_id", "conviction_date", "order"], nulls_last=True)
    )
    result: list[Person] = []
    rows = frame.to_dicts()
    starts = [0] + [
        i for i in range(1, len(rows)) if rows[i]["subject_id"] != rows[i - 1]["subject_id"]
    ]
    for number, (start, end) in enumerate(pairwise([*starts, len(rows)]), start=1):
        group = rows[start:end]
        head = group[0]
        first, middle, last, display = split_name(head["name"])
        result.append(
            Person(
                letter_id=f"L{number:06d}",
                subject_id=head["subject_id"],
                cii_number=head["cii_number"],
                name_as_recorded=head["name"] or "",
                first_name=first,
                middle_name=middle,
                last_name=last,
                display_name=display or "[NAME]",
                items=tuple(group),
            )
        )
    return result


# --------------------------------------------------------------------------- words


class LetterWords:
    """A language's letter text, rendered once per office and per kind of relief."""

    def __init__(self, language: str, office: Office) -> None:
        self.text = letter_text(language)
        self.language = language
        self.office = office.as_context(language)
        self._courts: dict[tuple[str, str | None], str] = {}
        self._dates: dict[str | None, str] = {}
        self._means: dict[tuple[bool, bool], list[str]] = {}
        self._outcomes: dict[tuple[bool, bool], str] = {}
        self._static: dict[tuple[str, bool, bool], str] = {}

    def static(self, key: str, dismissed: bool = True, reduced: bool = True) -> str:
        cache_key = (key, dismissed, reduced)
        if cache_key not in self._static:
            context = {"office": self.office, "dismissed": dismissed, "reduced": reduced}
            self._static[cache_key] = render(self.text[key], context)
        return self._static[cache_key]

    def means(self, dismissed: bool, reduced: bool) -> list[str]:
        key = (dismissed, reduced)
        if key not in self._means:
            context = {"office": self.office, "dismissed": dismissed, "reduced": reduced}
            self._means[key] = [render(p, context) for p in self.text["means"]]
        return self._means[key]

    def outcome(self, dismissed: bool, reduced: bool) -> str:
        key = (dismissed, reduced)
        if key not in self._outcomes:
            parts = []
            if dismissed:
                parts.append(render(self.text["outcome"]["dismissed"], {}))
            if reduced:
                parts.append(render(self.text["outcome"]["reduced"], {}))
            self._outcomes[key] = " ".join(parts)
        return self._outcomes[key]

    def date(self, iso: str | None) -> str:
        if iso not in self._dates:
            try:
                day = dt.date.fromisoformat(iso or "")
            except ValueError:
                self._dates[iso] = iso or "?"
            else:
                month = self.text["months"][day.month - 1]
                self._dates[iso] = render(
                    self.text["date"], {"month": month, "day": day.day, "year": day.year}
                )
        return self._dates[iso]

    def court(self, county: str, courthouse: str | None) -> str:
        key = (county, courthouse)
        if key not in self._courts:
            place = " ".join(w.capitalize() for w in county.split())
            self._courts[key] = render(
                self.text["court"], {"county": place, "courthouse": courthouse}
            )
        return self._courts[key]

    def _values(self, item: dict[str, Any]) -> dict[str, Any]:
        # Text from the extract has the characters XML forbids replaced, the batch
        # separator among them: a case number holding it must not shift the lines.
        return {
            "court": xml_safe(self.court(item["county"], item["courthouse"])),
            "case_number": xml_safe(item["case_number"] or self.text["unknown_case"]),
            "date": self.date(item["conviction_date"]),
            "section": xml_safe(item["section"]),
            "section_name": self.text["section_names"].get(item["section"], item["section"]),
            "relief": self.text["relief"][item["relief_code"]],
        }

    def item(self, item: dict[str, Any]) -> str:
        """One conviction as the letter lists it."""
        return render(self.text["item"], {"item": self._values(item)})

    def items(self, items: Sequence[dict[str, Any]]) -> list[str]:
        """Many convictions at once: one template pass, not one per conviction."""
        if not items:
            return []
        loop = "{% for item in items %}" + self.text["item"] + _SEPARATOR + "{% endfor %}"
        text = render(loop, {"items": [self._values(i) for i in items]}, collapse=False)
        return _pieces(text, len(items))

    def greeting(self, display_name: str) -> str:
        return render(self.text["greeting"], {"person": {"display_name": display_name}})

    def greetings(self, names: Sequence[str]) -> list[str]:
        """Many greetings in one template pass."""
        if not names:
            return []
        loop = "{% for person in people %}" + self.text["greeting"] + _SEPARATOR + "{% endfor %}"
        people = [{"display_name": xml_safe(n)} for n in names]
        text = render(loop, {"people": people}, collapse=False)
        return _pieces(text, len(names))

    def continued(self, person: Person) -> str:
        return render(self.text["continued"], {"person": {"display_name": person.display_name}})


# --------------------------------------------------------------------------- PDF


_SEPARATOR = "\x1e"  # between conviction lines rendered in one pass (xml_safe removes it)


def _pieces(text: str, count: int) -> list[str]:
    """The ``count`` texts rendered in one pass, each followed by the separator (the
    last one may have been stripped with the white space around the whole text).

    Each person's letter takes its lines by position: one piece too many or too few
    would put a conviction in another person's letter, so it is never let through.
    """
    pieces = text.split(_SEPARATOR)
    if len(pieces) == count + 1 and not pieces[-1].strip():
        pieces.pop()
    if len(pieces) != count:
        raise RuntimeError("letters: the texts rendered together did not come apart one each")
    return [" ".join(piece.split()) for piece in pieces]


_BODY = ParagraphStyle("letter", fontName=FONT, fontSize=SIZE, leading=LEADING, spaceAfter=0)
_HEAD = ParagraphStyle("letter-head", fontName=BOLD, fontSize=11, leading=14)


class _Form:
    """Static paragraphs drawn once as a PDF form, placed on many pages."""

    def __init__(
        self, canvas: Canvas, name: str, paragraphs: Sequence[tuple[str, ParagraphStyle, float]]
    ) -> None:
        laid = []
        height = 0.0
        for text, style, gap in paragraphs:
            para = Paragraph(xml_text(text), style)
            _, h = para.wrap(WIDTH, 10_000)
            laid.append((para, h, gap))
            height += h + gap
        self.name, self.height = name, height
        canvas.beginForm(name, 0, 0, WIDTH, max(height, 1))
        y = height
        for para, h, gap in laid:
            y -= h
            para.drawOn(canvas, 0, y)
            y -= gap
        canvas.endForm()

    def place(self, canvas: Canvas, top: float) -> float:
        canvas.saveState()
        canvas.translate(MARGIN, top - self.height)
        canvas.doForm(self.name)
        canvas.restoreState()
        return top - self.height


class _LetterPdf:
    """One PDF file of letters in one language."""

    def __init__(
        self, path: Path, words: LetterWords, office: Office, info: RunInfo, date: dt.date
    ) -> None:
        self.words = words
        self.date = words.date(date.isoformat())
        self.widths = text_widths(FONT, SIZE)
        maker = canvas_maker(info.as_of)
        self.canvas = maker(str(path), pagesize=LETTER)
        c = self.canvas
        c.setTitle(f"Notice letters ({words.text['name']})")
        c.setAuthor(office.name)
        c.setSubject(f"Proposition 64 relief, {info.county.title()} County")
        c.setCreator(f"clearance {__version__}")
        head = [(office.name, ParagraphStyle("o", fontName=BOLD, fontSize=13, leading=16), 0)]
        contact = [*list(office.address), office.phone]
        contact += [v for v in (office.email, office.website) if v]
        head.append(
            (" · ".join(contact), ParagraphStyle("a", fontName=FONT, fontSize=9, leading=11), 0)
        )
        self.head = _Form(c, "head", head)
        self.intro = _Form(
            c,
            "intro",
            [(words.static("intro"), _BODY, 8), (words.static("list_heading"), _HEAD, 2)],
        )
        self.after = {}
        for dismissed, reduced in VARIANTS:
            parts: list[tuple[str, ParagraphStyle, float]] = [
                (words.outcome(dismissed, reduced), _BODY, 8),
                (words.static("means_heading"), _HEAD, 2),
            ]
            parts += [(p, _BODY, 5) for p in words.means(dismissed, reduced)]
            parts += [
                (words.static("contact"), _BODY, 8),
                (words.static("not_advice"), _BODY, 8),
                (words.static("closing"), _BODY, 14),
                (words.static("signer"), _BODY, 0),
            ]
            self.after[(dismissed, reduced)] = _Form(
                c, f"after{int(dismissed)}{int(reduced)}", parts
            )
        self.pages = 0

    def _new_page(self) -> float:
        if self.pages:
            self.canvas.showPage()
        self.pages += 1
        return PAGE_HEIGHT - TOP_MARGIN

    def letter(
        self, person: Person, greeting: str, items: Sequence[str], address: Address | None
    ) -> int:
        """Draw one letter from a new page; returns its first page number."""
        c, words = self.canvas, self.words
        first_page = self.pages + 1
        y = self._new_page()
        y = self.head.place(c, y)
        c.setLineWidth(0.6)
        c.line(MARGIN, y - 4, PAGE_WIDTH - MARGIN, y - 4)
        c.setFont(FONT, SIZE)
        c.drawRightString(PAGE_WIDTH - MARGIN, DATE_Y, self.date)
        block = address.block(person.display_name) if address else [person.display_name]
        _address_block(c, [xml_safe(line) for line in block])
        y = PAGE_HEIGHT - ADDRESS_TOP - ADDRESS_LINES * ADDRESS_LEADING - 12
        c.setFont(BOLD, SIZE)
        c.drawString(MARGIN, y, words.static("reference"))
        y -= 18
        c.setFont(FONT, SIZE)
        c.drawString(MARGIN, y, greeting)
        y -= 8
        y = self.intro.place(c, y)
        for item in items:
            lines = self.widths.wrap(item, WIDTH - BULLET_INDENT)
            if y - LEADING * len(lines) < BOTTOM_MARGIN:
                y = self._continue(person)
            c.setFont(FONT, SIZE)
            c.drawString(MARGIN + 3, y - SIZE, "•")
            for line in lines:
                c.drawString(MARGIN + BULLET_INDENT, y - SIZE, line)
                y -= LEADING
            y -= 2
        y -= 8
        after = self.after[(person.dismissed, person.reduced)]
        if y - after.height < BOTTOM_MARGIN:
            y = self._continue(person)
        after.place(c, y)
        return first_page

    def _continue(self, person: Person) -> float:
        y = self._new_page()
        self.canvas.setFont(FONT, 9)
        self.canvas.drawString(MARGIN, y - 9, self.words.continued(person))
        return y - 24

    def save(self) -> None:
        self.canvas.save()


def _address_block(c: Canvas, lines: Sequence[str]) -> None:
    """The address lines in the envelope window, each shrunk to fit its width."""
    y = PAGE_HEIGHT - ADDRESS_TOP - ADDRESS_SIZE
    for line in lines:
        size = ADDRESS_SIZE
        while size > 7 and stringWidth(line, FONT, size) > ADDRESS_WIDTH:
            size -= 0.5
        c.setFont(FONT, size)
        c.drawString(ADDRESS_LEFT, y, line)
        y -= ADDRESS_LEADING


# --------------------------------------------------------------------------- Word mail merge


def _merge_field(name: str) -> str:
    return (
        f'<w:fldSimple w:instr=" MERGEFIELD {name} "><w:r><w:rPr><w:noProof/></w:rPr>'
        f"<w:t>«{name}»</w:t></w:r></w:fldSimple>"
    )


# The Word template's address block: a frame at the PDF's window position (twips,
# from the page's corner), so a merged letter also shows it in the envelope window.
_ADDRESS_FRAME = (
    f'<w:framePr w:w="{round(ADDRESS_WIDTH * 20)}" '
    f'w:h="{round(ADDRESS_LINES * ADDRESS_LEADING * 20)}" w:hRule="exact" '
    f'w:hAnchor="page" w:vAnchor="page" w:x="{round(ADDRESS_LEFT * 20)}" '
    f'w:y="{round(ADDRESS_TOP * 20)}" w:wrap="notBeside"/>'
)


def _merge_para(
    parts: Sequence[tuple[str, str]],
    *,
    bold: bool = False,
    size: float = SIZE,
    after: int = 120,
    frame: str = "",
) -> str:
    """A paragraph of ("text", value) and ("field", name) parts (`frame`: its framePr)."""
    props = "<w:b/>" if bold else ""
    props += f'<w:sz w:val="{round(size * 2)}"/>'
    runs = []
    for kind, value in parts:
        if kind == "field":
            runs.append(_merge_field(value))
        elif value:
            text = xml_text(value)
            runs.append(f'<w:r><w:rPr>{props}</w:rPr><w:t xml:space="preserve">{text}</w:t></w:r>')
    spacing = f'<w:spacing w:before="0" w:after="{after}"/>'
    return f"<w:p><w:pPr>{frame}{spacing}</w:pPr>{''.join(runs)}</w:p>"


_FIELD = "\x00"  # stands for a merge field while a sentence is rendered


def _around_field(text: str, name: str) -> list[tuple[str, str]]:
    """`Dear \x00:` -> [("text", "Dear "), ("field", name), ("text", ":")]."""
    before, _, after = text.partition(_FIELD)
    return [("text", before), ("field", name), ("text", after)]


def _template_fields(words: LetterWords) -> tuple[list[tuple[str, str]], list[str]]:
    """The `means` paragraphs: static text, or a merge field where the relief changes them."""
    language = words.language
    paragraphs, fields = [], []
    variants = [words.means(d, r) for d, r in VARIANTS]
    for i, texts in enumerate(zip(*variants, strict=True)):
        if len(set(texts)) == 1:
            paragraphs.append(("text", texts[0]))
        else:
            name = f"means_{i + 1}_{language}"
            paragraphs.append(("field", name))
            fields.append(name)
    return paragraphs, fields


def _write_template(
    path: Path, words: LetterWords, office: Office, info: RunInfo, date: dt.date
) -> None:
    language = words.language
    doc = Document()
    body = doc.element.body
    for child in list(body):
        if child.tag != body.sectPr.tag:
            body.remove(child)
    section = doc.sections[0]
    section.page_width, section.page_height = Twips(12240), Twips(15840)
    for side in ("left_margin", "right_margin"):
        setattr(section, side, Twips(round(MARGIN * 20)))
    section.top_margin = section.bottom_margin = Twips(round(TOP_MARGIN * 20))
    style = doc.styles["Normal"]
    style.font.name = "Times New Roman"
    style.font.size = Pt(SIZE)

    means, _ = _template_fields(words)
    xml = [
        _merge_para([("text", office.name)], bold=True, size=13, after=0),
        _merge_para([("text", " · ".join([*office.address, office.phone]))], size=9, after=240),
        _merge_para([("text", words.date(date.isoformat()))], after=240),
        _merge_para([("field", "address_name")], after=0, frame=_ADDRESS_FRAME),
        _merge_para([("field", "address_line_1")], after=0, frame=_ADDRESS_FRAME),
        _merge_para([("field", "address_line_2")], after=0, frame=_ADDRESS_FRAME),
        _merge_para(
            [
                ("field", "city"),
                ("text", ", "),
                ("field", "state"),
                ("text", " "),
                ("field", "zip"),
            ],
            after=0,
            frame=_ADDRESS_FRAME,
        ),
        _merge_para([("text", words.static("reference"))], bold=True),
        _merge_para(_around_field(words.greeting(_FIELD), "display_name")),
        _merge_para([("text", words.static("intro"))]),
        _merge_para([("text", words.static("list_heading"))], bold=True),
        _merge_para([("field", f"convictions_{language}")]),
        _merge_para([("field", f"outcome_{language}")]),
        _merge_para([("text", words.static("means_heading"))], bold=True),
        *(_merge_para([part]) for part in means),
        _merge_para([("text", words.static("contact"))]),
        _merge_para([("text", words.static("not_advice"))]),
        _merge_para([("text", words.static("closing"))], after=480),
        _merge_para([("text", words.static("signer"))]),
    ]
    for fragment in xml:
        body.sectPr.addprevious(_element(fragment))
    props = doc.core_properties
    stamp = dt.datetime.combine(info.as_of, dt.time(0, 0))
    props.title = f"Notice letter template ({words.text['name']})"
    props.author = xml_safe(office.name)
    props.subject = "Mail merge with letters/mailing-list.csv"
    props.comments = props.last_modified_by = f"clearance {__version__}"
    props.created = props.modified = props.last_printed = stamp
    props.revision = 1
    deterministic_save(doc, path, info.as_of)


# --------------------------------------------------------------------------- writing


def _item_texts(words: LetterWords, persons: Sequence[Person]) -> list[list[str]]:
    """Each person's conviction lines, rendered in one pass for everyone."""
    flat = words.items([item for person in persons for item in person.items])
    result, start = [], 0
    for person in persons:
        result.append(flat[start : start + len(person.items)])
        start += len(person.items)
    return result


def _stem(language: str, part: int, parts: int) -> str:
    return f"letters-{language}" if parts == 1 else f"letters-{language}-part-{part:02d}"


def write_letters(
    courts: Sequence[Court],
    office: Office,
    info: RunInfo,
    law: RulePack,
    folder: Path,
    part_size: int,
    tick: Callable[[], None],
    *,
    addresses: AddressBook | None = None,
    date: dt.date | None = None,
) -> dict[str, Any]:
    """Write the letters folder; returns its entry for filings.json.

    `addresses` fills each letter's address block and the mailing list; `date` is the
    letters' date (default the run's as-of date)."""
    folder.mkdir()
    date = date or info.as_of
    persons = people(courts)
    if addresses is not None:
        found, unmatched = addresses.match([(p.subject_id, p.cii_number) for p in persons])
    else:
        found, unmatched = [None] * len(persons), 0
    parts = max(1, -(-len(persons) // part_size))
    files: list[str] = []
    pages: dict[str, list[tuple[str, int]]] = {}
    words = {language: LetterWords(language, office) for language in LANGUAGES}
    items = {language: _item_texts(w, persons) for language, w in words.items()}
    for language in LANGUAGES:
        where: list[tuple[str, int]] = []
        for part in range(parts):
            start, end = part * part_size, (part + 1) * part_size
            chunk = persons[start:end]
            if not chunk:
                break
            name = f"{_stem(language, part + 1, parts)}.pdf"
            greetings = words[language].greetings([p.display_name for p in chunk])
            with binary_streams():
                pdf = _LetterPdf(folder / name, words[language], office, info, date)
                where += [
                    (name, pdf.letter(person, greeting, texts, address))
                    for person, greeting, texts, address in zip(
                        chunk, greetings, items[language][start:end], found[start:end], strict=True
                    )
                ]
                pdf.save()
            files.append(f"{FOLDER}/{name}")
            tick()
        pages[language] = where
        template = f"letter-template-{language}.docx"
        _write_template(folder / template, words[language], office, info, date)
        files.append(f"{FOLDER}/{template}")
    status = _address_status(persons, found, addresses)
    _write_mailing_list(persons, words, items, pages, found, status, folder / MAILING_FILE)
    missing = _write_no_address(persons, found, status, pages, folder / NO_ADDRESS_FILE)
    files += [f"{FOLDER}/{MAILING_FILE}", f"{FOLDER}/{NO_ADDRESS_FILE}"]
    if addresses is not None:
        write_csv(
            pl.DataFrame(
                {
                    "file": [addresses.file_name] * len(addresses.problems),
                    "line": [line for line, _ in addresses.problems],
                    "problem": [problem for _, problem in addresses.problems],
                },
                schema={"file": pl.String, "line": pl.Int64, "problem": pl.String},
            ),
            folder / PROBLEMS_FILE,
        )
        files.append(f"{FOLDER}/{PROBLEMS_FILE}")
    return {
        "people": len(persons),
        "languages": list(LANGUAGES),
        "files": files,
        "date": date.isoformat(),
        "addresses": {
            "file": addresses.file_name if addresses is not None else None,
            "with_address": len(persons) - missing,
            "without_address": missing,
            "no_address_file": f"{FOLDER}/{NO_ADDRESS_FILE}",
            "rows_with_problems": len(addresses.problems) if addresses is not None else 0,
            "rows_for_nobody_here": unmatched,
        },
    }


def _address_status(
    persons: Sequence[Person], found: Sequence[Address | None], book: AddressBook | None
) -> list[str]:
    """Why each letter has its address or none (mailing-list.csv, no-address.csv)."""
    if book is None:
        return ["no addresses file given"] * len(persons)
    rows_of: dict[str, list[int]] = {}
    for line, keys in book.problem_keys.items():
        for key in keys:
            if key:
                rows_of.setdefault(key, []).append(line)
    status = []
    for person, address in zip(persons, found, strict=True):
        if address is not None:
            status.append(f"{book.file_name} line {address.line}")
            continue
        bad = sorted(
            set(rows_of.get(person.subject_id, []) + rows_of.get(person.cii_number or "", []))
        )
        status.append(
            f"not used: {book.file_name} line {bad[0]} has a problem ({PROBLEMS_FILE})"
            if bad
            else f"not in {book.file_name}"
        )
    return status


def _write_no_address(
    persons: Sequence[Person],
    found: Sequence[Address | None],
    status: Sequence[str],
    pages: dict[str, list[tuple[str, int]]],
    path: Path,
) -> int:
    """The people whose letter has no address, with where their letters are."""
    rows = [i for i, address in enumerate(found) if address is None]
    columns: dict[str, list[Any]] = {
        "letter_id": [persons[i].letter_id for i in rows],
        "subject_id": [persons[i].subject_id for i in rows],
        "cii_number": [persons[i].cii_number for i in rows],
        "display_name": [persons[i].display_name for i in rows],
        "reason": [status[i] for i in rows],
    }
    for language in LANGUAGES:
        columns[f"pdf_{language}"] = [pages[language][i][0] for i in rows]
        columns[f"pdf_{language}_page"] = [pages[language][i][1] for i in rows]
    schema = {n: pl.Int64 if n.endswith("_page") else pl.String for n in columns}
    write_csv(pl.DataFrame(columns, schema=schema), path, include_bom=True)
    return len(rows)


def _write_mailing_list(
    persons: Sequence[Person],
    words: dict[str, LetterWords],
    items: dict[str, list[list[str]]],
    pages: dict[str, list[tuple[str, int]]],
    found: Sequence[Address | None],
    status: Sequence[str],
    path: Path,
) -> None:
    def part(getter: Callable[[Address], str]) -> list[str | None]:
        return [getter(a) if a is not None else None for a in found]

    columns: dict[str, list[Any]] = {
        "letter_id": [p.letter_id for p in persons],
        "subject_id": [p.subject_id for p in persons],
        "cii_number": [p.cii_number for p in persons],
        "name_as_recorded": [p.name_as_recorded for p in persons],
        "first_name": [p.first_name for p in persons],
        "middle_name": [p.middle_name for p in persons],
        "last_name": [p.last_name for p in persons],
        "display_name": [p.display_name for p in persons],
        "address_name": [
            (a.name if a is not None and a.name else p.display_name)
            for p, a in zip(persons, found, strict=True)
        ],
        "address_line_1": part(lambda a: a.line_1),
        "address_line_2": part(lambda a: a.line_2 or None),
        "city": part(lambda a: a.city),
        "state": part(lambda a: a.state),
        "zip": part(lambda a: a.zip),
        "address_status": list(status),
        "convictions": [len(p.items) for p in persons],
        "dismissed": [
            sum(i["relief_code"] == "dismiss_and_seal" for i in p.items) for p in persons
        ],
        "reduced": [sum(i["relief_code"] != "dismiss_and_seal" for i in p.items) for p in persons],
    }
    for language, w in words.items():
        columns[f"convictions_{language}"] = [" ".join(texts) for texts in items[language]]
        columns[f"outcome_{language}"] = [w.outcome(p.dismissed, p.reduced) for p in persons]
        _, fields = _template_fields(w)
        for name in fields:
            index = int(name.split("_")[1]) - 1
            columns[name] = [w.means(p.dismissed, p.reduced)[index] for p in persons]
        columns[f"pdf_{language}"] = [name for name, _ in pages[language]]
        columns[f"pdf_{language}_page"] = [page for _, page in pages[language]]
    schema = {
        name: (
            pl.Int64
            if name in ("convictions", "dismissed", "reduced") or name.endswith("_page")
            else pl.String
        )
        for name in columns
    }
    # with a byte-order mark: Word's mail merge and Excel then read the Spanish accents
    write_csv(pl.DataFrame(columns, schema=schema), path, include_bom=True)
