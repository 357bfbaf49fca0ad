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
  house, with the PDF file and page of each person's letter.

The DOJ extract holds no mailing address, so the address columns are empty: the
office fills them from its own case system before mailing (docs/filings.md).

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
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph

from clearance import __version__
from clearance.filings.cases import Court, RunInfo
from clearance.filings.docx_writer import _element, deterministic_save
from clearance.filings.office import Office
from clearance.filings.pleading import binary_streams, canvas_maker, text_widths
from clearance.filings.text import letter_text, render
from clearance.law import RulePack
from clearance.textsafe import write_csv, xml_safe, xml_text

__all__ = ["FOLDER", "LANGUAGES", "MAILING_FILE", "Person", "people", "write_letters"]

FOLDER = "letters"
LANGUAGES = ("en", "es")
MAILING_FILE = "mailing-list.csv"
ADDRESS_COLUMNS = ("address_line_1", "address_line_2", "city", "state", "zip")
VARIANTS = ((True, False), (False, True), (True, True))  # (dismissed, reduced)

PAGE_WIDTH, PAGE_HEIGHT = LETTER
MARGIN = 54.0
TOP_MARGIN = 44.0
BOTTOM_MARGIN = 44.0
WIDTH = PAGE_WIDTH - 2 * MARGIN
FONT, BOLD = "Times-Roman", "Times-Bold"
SIZE, LEADING = 10.5, 13.0
BULLET_INDENT = 14.0


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
        self.office = office.as_context()
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

    def __init__(self, path: Path, words: LetterWords, office: Office, info: RunInfo) -> None:
        self.words = words
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
                (words.static("not_advice"), _BODY, 12),
                (words.static("closing"), _BODY, 20),
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

    def letter(self, person: Person, greeting: str, items: Sequence[str]) -> int:
        """Draw one letter from a new page; returns its first page number."""
        c, words = self.canvas, self.words
        first_page = self.pages + 1
        y = self._new_page()
        y = self.head.place(c, y)
        c.setLineWidth(0.6)
        c.line(MARGIN, y - 4, PAGE_WIDTH - MARGIN, y - 4)
        y -= 30
        c.setFont(FONT, 11)
        c.drawString(MARGIN, y, person.display_name)
        y -= 48  # room for the address a mailing house prints (letters/mailing-list.csv)
        c.setFont(BOLD, SIZE)
        c.drawString(MARGIN, y, words.static("reference"))
        y -= 22
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


# --------------------------------------------------------------------------- Word mail merge


def _merge_field(name: str) -> str:
    return (
        f'<w:fldSimple w:instr=" MERGEFIELD {name} "><w:r><w:rPr><w:noProof/></w:rPr>'
        f"<w:t>«{name}»</w:t></w:r></w:fldSimple>"
    )


def _merge_para(
    parts: Sequence[tuple[str, str]], *, bold: bool = False, size: float = SIZE, after: int = 120
) -> str:
    """A paragraph of ("text", value) and ("field", name) parts."""
    props = "<w:b/>" if bold else ""
    props += f'<w:sz w:val="{round(size * 2)}"/>'
    runs = []
    for kind, value in parts:
        if kind == "field":
            runs.append(_merge_field(value))
        elif value:
            text = xml_text(value)
            runs.append(f'<w:r><w:rPr>{props}</w:rPr><w:t xml:space="preserve">{text}</w:t></w:r>')
    return f'<w:p><w:pPr><w:spacing w:before="0" w:after="{after}"/></w:pPr>{"".join(runs)}</w:p>'


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


def _write_template(path: Path, words: LetterWords, office: Office, info: RunInfo) -> None:
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
        _merge_para([("field", "display_name")], after=0),
        _merge_para([("field", "address_line_1")], after=0),
        _merge_para([("field", "address_line_2")], after=0),
        _merge_para(
            [
                ("field", "city"),
                ("text", ", "),
                ("field", "state"),
                ("text", " "),
                ("field", "zip"),
            ],
            after=240,
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
) -> dict[str, Any]:
    """Write the letters folder; returns its entry for filings.json."""
    folder.mkdir()
    persons = people(courts)
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
                pdf = _LetterPdf(folder / name, words[language], office, info)
                where += [
                    (name, pdf.letter(person, greeting, texts))
                    for person, greeting, texts in zip(
                        chunk, greetings, items[language][start:end], strict=True
                    )
                ]
                pdf.save()
            files.append(f"{FOLDER}/{name}")
            tick()
        pages[language] = where
        template = f"letter-template-{language}.docx"
        _write_template(folder / template, words[language], office, info)
        files.append(f"{FOLDER}/{template}")
    _write_mailing_list(persons, words, items, pages, folder / MAILING_FILE)
    files.append(f"{FOLDER}/{MAILING_FILE}")
    return {
        "people": len(persons),
        "languages": list(LANGUAGES),
        "files": files,
        "addresses": "none in the DOJ extract: fill the address columns of "
        f"{FOLDER}/{MAILING_FILE} before mailing",
    }


def _write_mailing_list(
    persons: Sequence[Person],
    words: dict[str, LetterWords],
    items: dict[str, list[list[str]]],
    pages: dict[str, list[tuple[str, int]]],
    path: Path,
) -> None:
    columns: dict[str, list[Any]] = {
        "letter_id": [p.letter_id for p in persons],
        "subject_id": [p.subject_id for p in persons],
        "cii_number": [p.cii_number for p in persons],
        "name_as_recorded": [p.name_as_recorded for p in persons],
        "first_name": [p.first_name for p in persons],
        "middle_name": [p.middle_name for p in persons],
        "last_name": [p.last_name for p in persons],
        "display_name": [p.display_name for p in persons],
        **{c: [None] * len(persons) for c in ADDRESS_COLUMNS},
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
