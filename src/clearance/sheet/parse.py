"""A rap sheet's text into the extract's staged rows (rap-sheet.md, docs/rap-sheet.md).

The sheet is read line by line. Every line is *used* (it gives the model a fact),
*noise* (recognised and carrying nothing the rules read: blank lines, transmission
headers, banners, page headers and footers, cycle and step delimiters, identifiers
that are never kept) or *rejected* (reported with its line number and a reason; the
reason never quotes the line, which holds personal data), so that

    lines read = lines used + lines of noise + lines rejected.

The result is the staged rows the extract reader would give for the same history:
one row per count and sentence part (and per further disposition), with the
person's CII number as the subject id and the cycle, step and count numbers in
``CNT_ORDER`` (``CCCSSSNNN000``), so that every rule pack decides it unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from clearance.run_common import RunError
from clearance.sheet.places import county_of
from clearance.sheet.rules import LAYOUT

USED, NOISE, REJECTED = "used", "noise", "rejected"
# Why a line is rejected (rejects.csv reason_code; docs/rap-sheet.md).
REJECT_CODES = frozenset(
    {
        "count_outside_step", "count_number", "date_outside_step", "update_text",
        "dispo_outside_count", "status_outside_count", "sen_outside_count",
        "com_outside_count", "status_in_update", "unrecognised_line",
    }
)  # fmt: skip

# What OCR and terminals make of the characters a sheet's numbers are written in.
_DIGITS = str.maketrans(
    {"O": "0", "o": "0", "D": "0", "Q": "0", "l": "1", "L": "1", "I": "1", "|": "1"}
)
_DASHES = str.maketrans({"\u2014": "-", "\u2013": "-", "\u2012": "-", "\u2212": "-"})
_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"})

_END = re.compile(r"END\s*OF\s*MESSAGE")
_PAGE = re.compile(r"^(?:PAGE\s+\d+(?:\s+OF\s+\d+)?|-\s*\d+\s*-)$")
# A browser's print header or footer: the page's address, then its date or page number.
_PRINTED = re.compile(r"^(?:FILE|HTTPS?):///?\S+(?:\s+.*)?$")
_CYCLE = re.compile(r"^[\s*.:,_'`~=\-]*$")
_STEP_DELIM = re.compile(r"^(?:-\s*){3,}$")
_CNT = re.compile(r"^C[NM]T\s*[:;.]\s*(.*)$")
_DISPO = re.compile(r"^\*?\s*D[I1l|]SP(?:O|0)?\s*[:;]\s*(.*)$")
_STATUS = re.compile(r"^C[O0]NV\s+STATUS\s*[:;]\s*(.*)$")
_SEN = re.compile(r"^SEN\s*[:;]\s*(.*)$")
_COM = re.compile(r"^C[O0]M\s*[:;]\s*(.*)$")
_TOC = re.compile(r"^TOC\s*[:;=]\s*([FMI])$")
_CII = re.compile(r"^C[I1lL|]{2}\s*/\s*(\S+)")
# What OCR makes of a row of asterisks (`wKkKK*`, `* x * «`, `* kek k *`, `* kK OK OX`):
# a delimiter all the same.
_STARS = frozenset("*xXkKwWeEO\u00ab\u00bb%#")
_STAR_PUNCT = frozenset(".,:;'`~_-|!")
# A scan's margin read as a short word before the line (`Pia DOB/...`, `ear NAM/01 ...`).
_MARGIN = re.compile(
    r"^[^\sA-Z0-9*]?\S{0,3}\s+(?=C[I1lL|]{2}\s*/|D[O0]B/|NAM/|SEX/|CNT\s*:|\*?DISPO)"
)
_NAM = re.compile(r"^NAM\s*/\s*(\d+)\s+(.+)$")
_ALIAS = re.compile(r"^\d{2}\s+\S")
_IDENT = re.compile(r"^[A-Z]{3}\s*/")
_FIELD = re.compile(r"([A-Z]{3})/(.*?)(?=\s+[A-Z]{3}/|$)")
_SENT_PART = re.compile(r"^(\S+)\s+(\S+)(?:\s+(.+))?$")


def _header_pattern(key: str) -> str:
    ocr = {"O": "[O0]", "I": "[I1l|]", "D": "[DO0]", "S": "[S5]", "L": "[L1I]"}
    parts = []
    for ch in key:
        if ch == "/":
            parts.append(r"\s*/\s*")
        elif ch == " ":
            parts.append(r"\s+")
        else:
            parts.append(ocr.get(ch, re.escape(ch)))
    return "".join(parts)


_HEADERS = [
    (
        key,
        re.compile(
            rf"^(?:{_header_pattern(key)})(?:\s*[:;]\s*(?P<rest>.*)|\s+(?P<nam>NAME?\s*[:;].*)|\s*$)"
        ),
    )
    for key in sorted(LAYOUT.step_types, key=len, reverse=True)
]


class SheetError(RunError):
    """A file that cannot be read as a rap sheet at all (one line, exit 2)."""


@dataclass
class _Count:
    number: int
    line: int
    case: str | None = None
    offense: str | None = None
    toc: str | None = None
    comments: list[str] = field(default_factory=list)
    dispositions: list[str] = field(default_factory=list)
    conv_status: str | None = None
    parts: list[tuple[str | None, str | None, str | None]] = field(default_factory=list)


@dataclass
class _Update:
    line: int
    date_raw: str | None
    dispositions: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    parts: list[tuple[str | None, str | None, str | None]] = field(default_factory=list)


@dataclass
class _Step:
    key: str
    line: int
    date_raw: str | None = None
    agency: str | None = None
    dated: bool = False
    case: str | None = None
    counts: list[_Count] = field(default_factory=list)
    updates: list[_Update] = field(default_factory=list)


@dataclass
class Person:
    cii: str | None = None
    name: str | None = None
    dob_raw: str | None = None
    gender: str | None = None
    race: str | None = None


@dataclass
class Parsed:
    """What the lines gave: the person, the cycles of steps, and each line's fate."""

    person: Person
    cycles: list[list[_Step]]
    fates: dict[int, str]
    rejects: list[tuple[int, str, str]]  # line, reason code, reason

    @property
    def counts(self) -> int:
        return sum(len(s.counts) for c in self.cycles for s in c)


def date_token(token: str) -> str | None:
    """An 8-character step date as written, read through OCR's confusions, or None.

    ``1984O725`` is 19840725; ``1984?725`` is kept as written (an invalid date the
    model keeps as such, never guessed); a charge such as ``11357(B)`` is no date.
    """
    fixed = token.translate(_DIGITS)
    if len(fixed) != 8 or any(c in fixed for c in "()./-#"):
        return None
    if sum(c.isdigit() for c in fixed) < 6:
        return None
    return fixed


def _ocr_stars(s: str) -> bool:
    """A row of asterisks as OCR reads it: star-like marks, at least three of them."""
    marks = [c for c in s if not c.isspace()]
    stars = sum(c in _STARS for c in marks)
    others = sum(not (c in _STARS or c in _STAR_PUNCT) for c in marks)
    # Star-like marks only (`xkKkKKK`, `KKK`), or one stray letter in a longer row
    # (`kKkRKKK`).
    return (others == 0 and stars >= 3) or (others == 1 and stars >= 5)


def _ocr_words(text: str) -> str:
    """A disposition or status read through OCR's letter confusions."""
    text = " ".join(text.split()).upper()
    text = re.sub(r"(?<=[A-Z])0(?=[A-Z])|\b0(?=[A-Z]{2})", "O", text)
    text = re.sub(r"(?<=[A-Z])[1|](?=[A-Z])", "I", text)
    return re.sub(r"S{3,}", "SS", text)


def _sentence(text: str) -> list[tuple[str | None, str | None, str | None]]:
    """``012 MONTHS PROBATION, 045 DAYS JAIL, FINE`` -> (place, length, unit) parts."""
    parts = []
    for raw in text.split(","):
        part = " ".join(raw.split()).upper()
        if not part:
            continue
        m = _SENT_PART.match(part)
        length = m.group(1).translate(_DIGITS) if m else ""
        if m and length.isdigit():
            unit = LAYOUT.time_units.get(m.group(2), m.group(2))
            parts.append((m.group(3), m.group(1).translate(_DIGITS), unit))
        else:
            parts.append((part, None, None))
    return parts


def _count_numbers(text: str) -> tuple[list[int], str | None] | None:
    """``01 #388555T,89894371`` -> ([1], '388555T'); ``01-03`` -> [1, 2, 3]; OCR's
    ``0    1`` and ``00l`` are 01. None when the number cannot be read."""
    cut = re.search(r"[#*]", text)
    numbers, case = (text[: cut.start()], text[cut.start() + 1 :]) if cut else (text, "")
    numbers = re.sub(r"\s+", "", numbers).translate(_DIGITS).lstrip("-_.:")
    m = re.fullmatch(r"(\d{1,3})(?:-(\d{1,3}))?", numbers)
    if not m:
        return None
    first = int(m.group(1))
    last = int(m.group(2)) if m.group(2) else first
    if first < 1 or last < first or last - first > 98:
        return None
    number = case.split(",")[0].strip() or None
    return list(range(first, last + 1)), number


class _Reader:
    def __init__(self) -> None:
        self.person = Person()
        self.cycles: list[list[_Step]] = []
        self.fates: dict[int, str] = {}
        self.rejects: list[tuple[int, str, str]] = []
        self.in_person = False  # the CII is read: identification follows
        self.identified = False  # a name or date of birth read after the CII
        self.in_cycles = False  # a cycle delimiter after the identification: steps follow
        self.new_cycle = True
        self.step: _Step | None = None
        self.count: _Count | None = None
        self.update: _Update | None = None
        self.after_step_delim = False
        self.continues: list[str] | None = None  # a COM or SEN line ending in a comma
        self.continues_sen = False
        self.skip_next = False  # the line after `CONV OF:`
        self.summary = False  # the supervision summary before the first cycle
        self.ended = False
        self._range: list[_Count] = []  # the counts the current CNT line names (01-03)

    # -- fates ---------------------------------------------------------------------
    def mark(self, n: int, fate: str) -> None:
        self.fates[n] = fate

    def reject(self, n: int, code: str, reason: str) -> None:
        self.fates[n] = REJECTED
        self.rejects.append((n, code, f"line {n}: {reason}"))

    # -- structure -----------------------------------------------------------------
    def close_step(self) -> None:
        self.step = self.count = self.update = None
        self.continues = None

    def open_step(self, key: str, n: int) -> None:
        if self.new_cycle or not self.cycles:
            self.cycles.append([])
            self.new_cycle = False
        self.step = _Step(key=key, line=n)
        self.cycles[-1].append(self.step)
        self.count = self.update = None
        self.continues = None
        self.after_step_delim = False

    # -- one line ------------------------------------------------------------------
    def line(self, n: int, raw: str) -> None:
        text = raw.replace("\f", "").translate(_DASHES).translate(_QUOTES).strip()
        margin = _MARGIN.match(text.upper())
        if margin:
            text = text[margin.end() :]
        s = text.upper()
        if not s:
            return self.mark(n, NOISE)
        if self.ended:
            return self.mark(n, NOISE)
        if _END.search(s):
            self.ended = True
            self.close_step()
            return self.mark(n, NOISE)
        if _PAGE.match(s) or _PRINTED.match(s):
            return self.mark(n, NOISE)
        if self.skip_next:
            self.skip_next = False
            return self.mark(n, NOISE)
        if _STEP_DELIM.match(s):
            if self.in_cycles:
                self.close_step()
                self.after_step_delim = True
            return self.mark(n, NOISE)
        if (_CYCLE.match(s) and s.count("*") >= 3) or _ocr_stars(s):
            if self.identified:
                self.in_cycles = True
                self.summary = False
                self.close_step()
                self.after_step_delim = False
                self.new_cycle = True
            return self.mark(n, NOISE)
        if s.startswith("**") or (s.startswith("*") and s.endswith("*") and len(s) > 2):
            return self.mark(n, NOISE)  # a banner
        if self.continues is not None and not self._keyword(s):
            self.continues.append(text)
            if self.continues_sen:
                self._add_parts(_sentence(text))
            if not s.endswith(","):
                self.continues = None
            return self.mark(n, USED)
        self.continues = None
        header = self._header(s)
        if header is not None and self.in_person:
            key, rest = header
            if rest.startswith("EXP") or (not self.in_cycles and key == "PROBATION"):
                self.summary = True  # the supervision summary (PROBATION: EXP:...)
                return self.mark(n, NOISE)
            self.in_cycles = True
            self.summary = False
            self.open_step(key, n)
            return self.mark(n, USED)
        if not self.in_cycles:
            return self._identification(n, s, text)
        return self._in_cycle(n, s, text)

    def _keyword(self, s: str) -> bool:
        return bool(
            _CNT.match(s)
            or _DISPO.match(s)
            or _STATUS.match(s)
            or _SEN.match(s)
            or _COM.match(s)
            or self._header(s)
            or date_token(s.split()[0])
        )

    def _header(self, s: str) -> tuple[str, str] | None:
        for key, pattern in _HEADERS:
            m = pattern.match(s)
            if m:
                return key, (m.group("rest") or "").strip()
        return None

    def _identification(self, n: int, s: str, text: str) -> None:
        """Before the first cycle: the transmission header and notices (noise), the
        person's CII, date of birth, sex, race and names (used), other identifiers
        (read and dropped: never kept, never printed)."""
        m = _CII.match(s)
        if m:
            self.person.cii = m.group(1).strip()  # the last CII before the cycles
            self.in_person = True
            return self.mark(n, USED)
        if not self.in_person or self.summary:
            return self.mark(n, NOISE)
        m = _NAM.match(text)
        if m:
            self.identified = True
            if self.person.name is None or m.group(1).translate(_DIGITS) in ("01", "1"):
                self.person.name = " ".join(m.group(2).split())
            return self.mark(n, USED)
        if s.startswith(("DOB/", "D0B/", "SEX/")):
            self.identified = True
            for key, value in _FIELD.findall(text):
                value = value.strip()
                if key in ("DOB", "D0B") and self.person.dob_raw is None and value:
                    token = value.split()[0]
                    self.person.dob_raw = date_token(token) or token
                elif key == "SEX" and value:
                    self.person.gender = value.upper()
                elif key == "RAC" and value:
                    self.person.race = " ".join(value.split()).upper()
            return self.mark(n, USED)
        # Aliases (the numbered names after NAM/), other identifiers (FBI/, CDL/,
        # SOC/, ...), fingerprint classes, marks: read, and dropped.
        return self.mark(n, NOISE)

    def _in_cycle(self, n: int, s: str, text: str) -> None:
        step = self.step
        first = s.split()[0]
        date = date_token(first)
        m = _CNT.match(s)
        if m:
            if step is None:
                return self.reject(
                    n, "count_outside_step", "a count outside any step (its header is unreadable)"
                )
            read = _count_numbers(text[m.start(1) :])  # the case number as written
            if read is None:
                return self.reject(n, "count_number", "the count number cannot be read")
            numbers, number = read
            if number and step.case is None:
                step.case = number
            self.update = None
            for k in numbers:
                step.counts.append(_Count(number=k, line=n, case=number or step.case))
            self.count = step.counts[-1]
            self._range = step.counts[-len(numbers) :]
            return self.mark(n, USED)
        if date is not None:
            rest = text[len(first) :].strip()
            if step is not None and not step.dated and not step.counts:
                step.date_raw, step.agency, step.dated = date, rest or None, True
                return self.mark(n, USED)
            if step is None and self.after_step_delim and self.cycles:
                # A step with no header after `- - - -`: one more of the previous kind.
                self.open_step(self.cycles[-1][-1].key, n)
                self.step.date_raw, self.step.agency, self.step.dated = date, rest or None, True
                return self.mark(n, USED)
            if step is not None and step.counts:
                self.update = _Update(line=n, date_raw=date)
                step.updates.append(self.update)
                self.count = None
                if rest:
                    d = _DISPO.match(rest.upper())
                    if not d:
                        return self.reject(
                            n, "update_text", "an update's date is followed by no disposition"
                        )
                    self.update.dispositions.append(_ocr_words(d.group(1)))
                return self.mark(n, USED)
            return self.reject(n, "date_outside_step", "a date outside any step")
        for pattern, what in ((_DISPO, "dispo"), (_STATUS, "status"), (_SEN, "sen"), (_COM, "com")):
            m = pattern.match(s)
            if m:
                return self._fact(n, what, text[m.start(1) :].strip() if m.group(1) else "")
        m = _TOC.match(s)
        if m and self.count is not None:
            for count in self._range:
                count.toc = m.group(1)
            return self.mark(n, USED)
        if step is None:
            return self.mark(n, NOISE)  # notices between cycles (banners' text)
        if any(s.startswith(a) for a in LAYOUT.annotations):
            self.skip_next = s.startswith("CONV OF:")
            return self.mark(n, NOISE)
        count = self.count
        if (
            self.update is None
            and count is not None
            and count.offense is None
            and not (count.dispositions or count.parts or count.conv_status)
        ):
            for c in self._range:
                c.offense = " ".join(text.split())
            return self.mark(n, USED)
        if self.update is None and not step.counts and step.dated:
            # A charge printed with no CNT line (a registration after `- - - -`): count 01.
            count = _Count(number=1, line=n, case=step.case, offense=" ".join(text.split()))
            step.counts.append(count)
            self.count, self._range = count, [count]
            return self.mark(n, USED)
        return self.reject(n, "unrecognised_line", "a line no part of a step explains")

    def _fact(self, n: int, what: str, value: str) -> None:
        target: _Count | _Update | None = self.update or self.count
        if target is None:
            return self.reject(n, f"{what}_outside_count", f"a {_WHAT[what]} outside any count")
        targets = [target] if isinstance(target, _Update) else self._range
        if what == "dispo":
            for t in targets:
                t.dispositions.append(_ocr_words(value))
        elif what == "status":
            if isinstance(target, _Update):
                return self.reject(n, "status_in_update", "a conviction status in a dated update")
            for t in targets:
                t.conv_status = _ocr_words(value) or None
        elif what == "sen":
            self._add_parts(_sentence(value))
            self.continues, self.continues_sen = [value], True
            if not value.rstrip().endswith(","):
                self.continues = None
        else:
            for t in targets:
                t.comments.append(" ".join(value.split()))
            self.continues, self.continues_sen = targets[-1].comments, False
            if not value.rstrip().endswith(","):
                self.continues = None
            else:
                self.continues = _Joined(targets)
        return self.mark(n, USED)

    def _add_parts(self, parts: list) -> None:
        targets = [self.update] if self.update is not None else self._range
        for t in targets:
            if t is not None:
                t.parts.extend(parts)


class _Joined(list):
    """The comment a continuation line extends, on every count of a range."""

    def __init__(self, targets: list) -> None:
        super().__init__()
        self.targets = targets

    def append(self, text: str) -> None:  # type: ignore[override]
        for t in self.targets:
            t.comments[-1] = f"{t.comments[-1]} {' '.join(text.split())}"


_WHAT = {
    "dispo": "disposition",
    "status": "conviction status",
    "sen": "sentence",
    "com": "comment",
}


def text_lines(text: str) -> list[str]:
    """A text's lines as an editor numbers them: cut at line feeds only (a form feed
    between pages is part of its line, not a line break as ``str.splitlines`` has it)."""
    lines = text.replace("\r\n", "\n").split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines


def parse(text: str) -> Parsed:
    """Read a sheet's text. Raises nothing: what is not a sheet is decided by the caller."""
    reader = _Reader()
    for n, raw in enumerate(text_lines(text), start=1):
        reader.line(n, raw)
    cycles = [[s for s in c if s.dated or s.counts] for c in reader.cycles]
    return Parsed(
        person=reader.person,
        cycles=[c for c in cycles if c],
        fates=reader.fates,
        rejects=reader.rejects,
    )


def staged_rows(parsed: Parsed, source: str) -> list[dict]:
    """The staged rows of the extract reader (columns.USED names) for a parsed sheet."""
    p = parsed.person
    race = p.race
    person = {
        "subject_id": p.cii,
        "cii_number": p.cii,
        "name": p.name,
        "gender": p.gender,
        "dob_raw": p.dob_raw,
        "race_code": race if race and len(race) == 1 else None,
        "race_descr": race if race and len(race) > 1 else None,
    }
    rows: list[dict] = []
    for c, cycle in enumerate(parsed.cycles, start=1):
        steps: list[tuple[_Step, _Update | None]] = []
        for step in cycle:
            steps.append((step, None))
            steps.extend((step, u) for u in step.updates)
        for s, (step, update) in enumerate(steps, start=1):
            event_type = LAYOUT.step_types[step.key]
            court = event_type == "COURT ACTION"
            agency = step.agency
            prefix = agency.split()[0].upper() if agency else ""
            event = {
                "cyc_order": f"{c:03d}",
                "stp_order": f"{s:03d}",
                "event_date_raw": update.date_raw if update else step.date_raw,
                "event_type": event_type,
                "agency_type": LAYOUT.agency_types.get(prefix),
                "agency": agency,
                "county": county_of(agency),
            }
            for count in step.counts:
                case = count.case if court else None
                comments = count.comments + (update.comments if update else [])
                dispositions = update.dispositions if update else count.dispositions
                parts = update.parts if update else count.parts
                base = {
                    **person,
                    **event,
                    "source_file": source,
                    "line": update.line if update else count.line,
                    "cnt_order": f"{c:03d}{s:03d}{count.number:03d}000",
                    "case_number": case,
                    "court_case": case,
                    "offense_raw": count.offense,
                    "offense_toc": count.toc,
                    "offense_qualifiers": None,
                    "comment_text": "; ".join(comments) or None,
                    "conv_status": None if update else count.conv_status,
                }
                first = dispositions[0] if dispositions else None
                lines = [
                    (first, 1 if first else None, part, k)
                    for k, part in enumerate(parts or [None], start=1)
                ]
                lines += [(d, k, None, None) for k, d in enumerate(dispositions[1:], start=2)]
                for disposition, disp_order, part, sent_order in lines:
                    loc, length, unit = part or (None, None, None)
                    rows.append(
                        {
                            **base,
                            "disp_order": str(disp_order) if disp_order else None,
                            "disposition": disposition,
                            "sent_order": str(sent_order) if part else None,
                            "sent_loc": loc,
                            "sent_length_raw": length,
                            "sent_time_code": unit,
                        }
                    )
    return rows
