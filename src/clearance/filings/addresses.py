"""Mailing addresses for the letters, read from the office's CSV file.

The DOJ extract holds no address, so the office supplies them: `clearance filings
--addresses FILE` (and the web app's upload) reads a CSV file keyed by the
person's `subject_id` or `cii_number`:

    subject_id, cii_number      at least one of the two columns; each row needs one
    name                        optional: the name for the envelope (default: the
                                name as DOJ records it, in the letter's form);
                                also spelt address_name
    address_line_1, address_line_2, city, state, zip
                                the address (address_line_2 may be empty); also
                                spelt address_line1, address_line2

`letters/mailing-list.csv` has these columns, so the office can fill in that file
and give it back; its other columns are read past. Any other column is named in a
warning (a misspelt column must not be dropped unnoticed).

A row with a problem is not used, and the problem is reported with the file's
name, the line and what is wrong, never the values in it (they are personal
data): `addresses.csv: line 7: zip must be 5 digits or ZIP+4 (12345-6789)`. A
file that cannot be read as such a table stops the command with one line.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from clearance.filings.errors import FilingsError
from clearance.textsafe import FORMULA_START

__all__ = [
    "ADDRESS_COLUMNS",
    "Address",
    "AddressBook",
    "AddressError",
    "read_addresses",
    "read_addresses_text",
]

KEYS = ("subject_id", "cii_number")
ADDRESS_COLUMNS = ("address_line_1", "address_line_2", "city", "state", "zip")
COLUMNS = (*KEYS, "name", *ADDRESS_COLUMNS)
ALIASES = {
    "address_line1": "address_line_1",
    "address_line2": "address_line_2",
    "address_name": "name",  # as letters/mailing-list.csv calls it
}
REQUIRED = ("address_line_1", "city", "state", "zip")
# The longest line a standard envelope window takes at the letters' type size.
MAX_LINE = 60
MAX_CITY = 40
MAX_KEY = 40
MAX_BYTES = 200_000_000  # a file this big is not an address list

# USPS two-letter codes: the states, DC, the territories and the military post offices.
_USPS = (
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE "
    "NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY "
    "AS GU MP PR VI FM MH PW AA AE AP"
)
STATES = frozenset(_USPS.split(" "))
_ZIP = re.compile(r"^[0-9]{5}(?:-[0-9]{4})?$")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# The other columns of letters/mailing-list.csv: read past without a warning.
_MAILING_LIST_COLUMN = re.compile(
    r"letter_id|name_as_recorded|first_name|middle_name|last_name|display_name|"
    r"convictions|dismissed|reduced|address_status|"
    r"(?:convictions|outcome)_[a-z]{2}|means_\d+_[a-z]{2}|pdf_[a-z]{2}(?:_page)?"
)


class AddressError(FilingsError):
    """The addresses file cannot be read as a table of addresses (one line, exit 2)."""


@dataclass(frozen=True)
class Address:
    """One person's mailing address, as the letters print it."""

    line: int  # where it is in the file
    subject_id: str
    cii_number: str
    name: str
    line_1: str
    line_2: str
    city: str
    state: str
    zip: str

    def block(self, display_name: str) -> list[str]:
        """The address block: name, street lines, `City, ST 12345`."""
        lines = [self.name or display_name, self.line_1]
        if self.line_2:
            lines.append(self.line_2)
        lines.append(f"{self.city}, {self.state} {self.zip}")
        return lines


@dataclass
class AddressBook:
    """The usable rows of an addresses file, and the problems of the others."""

    file_name: str
    rows: list[Address] = field(default_factory=list)
    problems: list[tuple[int, str]] = field(default_factory=list)  # (line, problem)
    # the subject_id or cii_number of each row not used, by line: whose letter it was for
    problem_keys: dict[int, tuple[str, str]] = field(default_factory=dict)
    unknown_columns: tuple[str, ...] = ()

    def messages(self) -> list[str]:
        """Each problem as `file: line N: problem` (never a value from the row)."""
        return [f"{self.file_name}: line {line}: {problem}" for line, problem in self.problems]

    def match(self, people: Sequence[tuple[str, str | None]]) -> tuple[list[Address | None], int]:
        """The address of each person (subject_id, cii_number), and how many usable rows
        name nobody in `people`. A row naming the same person as an earlier one, or
        whose subject_id and cii_number name two different people, is a problem."""
        index_subject = {subject: i for i, (subject, _) in enumerate(people)}
        index_cii: dict[str, int | None] = {}
        for i, (_, cii) in enumerate(people):
            if cii:
                index_cii[cii] = None if cii in index_cii else i  # None: two people share it
        found: list[Address | None] = [None] * len(people)
        first_line: dict[int, int] = {}
        unmatched = 0
        for row in self.rows:
            self.problem_keys[row.line] = (row.subject_id, row.cii_number)  # if it fails
            by_subject = index_subject.get(row.subject_id) if row.subject_id else None
            by_cii = index_cii.get(row.cii_number) if row.cii_number else None
            if row.cii_number and row.cii_number in index_cii and by_cii is None:
                self.problems.append((row.line, "cii_number is shared by two people in the run"))
                continue
            if by_subject is not None and by_cii is not None and by_subject != by_cii:
                self.problems.append(
                    (row.line, "subject_id and cii_number name two different people")
                )
                continue
            person = by_subject if by_subject is not None else by_cii
            if person is None:
                unmatched += 1
                del self.problem_keys[row.line]
                continue
            if person in first_line:
                self.problems.append(
                    (row.line, f"a second address for the person of line {first_line[person]}")
                )
                continue
            first_line[person] = row.line
            found[person] = row
            del self.problem_keys[row.line]
        self.problems.sort()
        return found, unmatched


def read_addresses(path: Path) -> AddressBook:
    """Read and check an addresses file; `AddressError` if it is not such a table."""
    try:
        if path.stat().st_size > MAX_BYTES:
            raise AddressError(f"{path.name}: is larger than {MAX_BYTES // 1_000_000} MB")
        data = path.read_bytes()
    except FileNotFoundError:
        raise AddressError(f"{path}: addresses file not found") from None
    except IsADirectoryError:
        raise AddressError(f"{path}: is a folder, not an addresses file") from None
    except OSError as exc:
        raise AddressError(f"{path}: cannot be read ({exc.strerror})") from None
    return read_addresses_text(data, path.name)


def read_addresses_text(data: bytes, file_name: str) -> AddressBook:
    """An addresses file's bytes (a file, or the web app's upload) as an `AddressBook`."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise AddressError(
            f"{file_name}: line {line}: is not UTF-8 text (save it as 'CSV UTF-8')"
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise AddressError(f"{file_name}: line 1: not a CSV header ({exc})") from None
    if not header or not any(h.strip() for h in header):
        raise AddressError(f"{file_name}: is empty; it needs a header line naming its columns")
    names = [ALIASES.get(n.strip().lower(), n.strip().lower()) for n in header]
    repeated = sorted({n for n in names if n and names.count(n) > 1})
    if repeated:
        raise AddressError(f"{file_name}: line 1: column {repeated[0]} is named twice")
    if not any(k in names for k in KEYS):
        raise AddressError(
            f"{file_name}: line 1: the header must name subject_id or cii_number "
            "(the person the address is for)"
        )
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise AddressError(
            f"{file_name}: line 1: the header must name {', '.join(REQUIRED)} "
            f"(missing {', '.join(missing)})"
        )
    unknown = tuple(
        n for n in names if n and n not in COLUMNS and not _MAILING_LIST_COLUMN.fullmatch(n)
    )
    book = AddressBook(file_name=file_name, unknown_columns=unknown)
    position = {n: i for i, n in enumerate(names) if n in COLUMNS}
    line = reader.line_num  # the header's last line
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise AddressError(f"{file_name}: line {reader.line_num}: {exc}") from None
        start, line = line + 1, reader.line_num
        if not any(v.strip() for v in values):
            continue
        if len(values) > len(names):
            book.problems.append((start, f"{len(values)} fields, the header names {len(names)}"))
            continue
        row = {c: _value(values[i]) if i < len(values) else "" for c, i in position.items()}
        problem = _problem(row)
        if problem:
            book.problems.append((start, problem))
            book.problem_keys[start] = (row.get("subject_id", ""), row.get("cii_number", ""))
            continue
        book.rows.append(
            Address(
                line=start,
                subject_id=row.get("subject_id", ""),
                cii_number=row.get("cii_number", ""),
                name=row.get("name", ""),
                line_1=row["address_line_1"],
                line_2=row.get("address_line_2", ""),
                city=row["city"],
                state=row["state"].upper(),
                zip=row["zip"],
            )
        )
    return book


def _value(text: str) -> str:
    """A cell, white space folded, the spreadsheet-safe quote (textsafe.py) undone."""
    text = " ".join(text.split())
    if len(text) > 1 and text[0] == "'" and text[1] in FORMULA_START:
        text = text[1:]
    return text


def _problem(row: dict[str, str]) -> str | None:
    """What is wrong with a row, in words that quote none of its values."""
    if not row.get("subject_id") and not row.get("cii_number"):
        return "neither subject_id nor cii_number is given"
    for column, value in row.items():
        if _CONTROL.search(value):
            return f"{column} holds a control character"
    for column in KEYS:
        if len(row.get(column, "")) > MAX_KEY:
            return f"{column} is longer than {MAX_KEY} characters"
    for column in REQUIRED:
        if not row[column]:
            return f"{column} is empty"
    for column in ("name", "address_line_1", "address_line_2"):
        if len(row.get(column, "")) > MAX_LINE:
            return f"{column} is longer than {MAX_LINE} characters (an envelope window's line)"
    if len(row["city"]) > MAX_CITY:
        return f"city is longer than {MAX_CITY} characters"
    if row["state"].upper() not in STATES:
        return "state must be a two-letter USPS code (CA, NV, ...)"
    if not _ZIP.match(row["zip"]):
        return "zip must be 5 digits or ZIP+4 (12345-6789)"
    return None
