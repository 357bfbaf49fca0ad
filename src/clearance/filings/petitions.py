"""Petition drafts for one person's open remedies (issue 19), on pleading paper.

`group_petitions` gathers the person's rows into one petition per remedy and
court case (a row with no case number stands alone); `draft_petitions` writes
each as PDF and Word with the words of templates/petitions.yaml and the facts
the runs hold. A fact the runs do not hold is never guessed: it prints as the
template's `blank` marker, and the petition's `to_complete` names it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clearance import __version__
from clearance.filings.build import _write_both
from clearance.filings.document import DocMeta, Pleading
from clearance.filings.errors import FilingsError
from clearance.filings.letters import split_name
from clearance.filings.objections import _caption, _county_title, _long, pleading_blocks
from clearance.filings.office import Office
from clearance.filings.person_record import Count, PersonRecord
from clearance.filings.text import _load, letter_text, render
from clearance.textsafe import xml_safe

__all__ = ["Drafted", "PetitionGroup", "draft_petitions", "group_petitions", "petition_words"]

_TERM = re.compile(r"^\s*(\d+)\s*([a-z])\s*$", re.IGNORECASE)
_DATE_FACTS = ("conviction_date", "arrest_date", "probation_end", "completion")


def petition_words() -> dict[str, Any]:
    """templates/petitions.yaml."""
    return _load("petitions.yaml")


@dataclass(frozen=True)
class PetitionGroup:
    """The rows one petition covers: one remedy, one court case."""

    remedy: str
    pack: str
    county: str | None
    court: str | None
    case_number: str | None
    counts: tuple[Count, ...]


@dataclass(frozen=True)
class Drafted:
    """A petition written: where, for what, and what is left to complete."""

    number: int
    remedy: str
    citation: str
    pack: str
    court: str | None
    county: str | None
    case_number: str | None
    counts: tuple[Count, ...]
    to_complete: tuple[str, ...]  # labels of the facts printed as blanks
    files: tuple[str, ...]

    def row(self) -> dict[str, Any]:
        """Its row of petitions.csv."""
        return {
            "petition": self.number,
            "remedy": self.remedy,
            "citation": self.citation,
            "pack": self.pack,
            "court": self.court,
            "county": self.county,
            "case_number": self.case_number,
            "counts": len(self.counts),
            "rows": "; ".join(c.key for c in self.counts),
            "to_complete": "; ".join(self.to_complete),
            "files": "; ".join(self.files),
        }


def _event_date(count: Count) -> str:
    return count.facts.get("conviction_date") or count.facts.get("arrest_date") or "9999-99-99"


def group_petitions(record: PersonRecord) -> list[PetitionGroup]:
    """One group per remedy and case, remedies in the template's order, then by date."""
    order = {code: i for i, code in enumerate(petition_words()["remedies"])}
    groups: dict[tuple[Any, ...], list[Count]] = {}
    for count in sorted(record.counts, key=lambda c: (_event_date(c), c.key)):
        for remedy in count.remedies:
            if remedy not in order:
                raise FilingsError(
                    f"templates/petitions.yaml: no words for the remedy {remedy!r} the run "
                    "lists; add them there before drafting"
                )
            f = count.facts
            case = f.get("case_number")
            key = (
                (remedy, count.pack, f.get("county"), f.get("court"), case)
                if case
                else (remedy, count.pack, count.kind, count.key)
            )
            groups.setdefault(key, []).append(count)
    result = [
        PetitionGroup(
            remedy=key[0],
            pack=key[1],
            county=counts[0].facts.get("county"),
            court=counts[0].facts.get("court"),
            case_number=counts[0].facts.get("case_number"),
            counts=tuple(counts),
        )
        for key, counts in groups.items()
    ]
    result.sort(key=lambda g: (order[g.remedy], _event_date(g.counts[0]), g.counts[0].key))
    return result


class _Facts:
    """A count's facts as a petition prints them, with blanks marked and counted."""

    def __init__(self, words: dict[str, Any]) -> None:
        self.words = words
        self.labels: dict[str, str] = words["fact_labels"]
        self.court_words = letter_text("en")["court"]
        self.missing: list[str] = []

    def blank(self, name: str) -> str:
        label = self.labels.get(name, name.replace("_", " "))
        if label not in self.missing:
            self.missing.append(label)
        return render(self.words["blank"], {"label": label})

    def _sentence(self, facts: dict[str, Any]) -> str | None:
        words = self.words["sentence"]
        parts = []
        if facts.get("prison"):
            parts.append(words["prison"])
        term = facts.get("probation_term")
        if term:
            match = _TERM.match(str(term))
            unit = self.words["term_units"].get(match.group(2).lower()) if match else None
            shown = f"{int(match.group(1))} {unit}" if match and unit else str(term)
            parts.append(render(words["probation"], {"term": shown}))
        elif facts.get("probation_end"):
            parts.append(words["probation_no_term"])
        return words["separator"].join(parts) or None

    def court(self, facts: dict[str, Any], kind: str) -> str | None:
        county, recorded = facts.get("county"), facts.get("court")
        if not county or (not recorded and kind != "arrest"):
            return None  # an arrest's petition goes to the county's court
        text = render(self.court_words, {"county": _county_title(county), "courthouse": None})
        return f"{text} ({recorded})" if recorded else text

    def value(self, name: str, count: Count) -> str:
        f = count.facts
        if name == "court":
            value = self.court(f, count.kind)
        elif name == "level":
            value = self.words["levels"].get(f.get("severity") or "")
        elif name == "sentence":
            value = self._sentence(f)
        elif name in _DATE_FACTS:
            value = _long(f[name]) if _is_date(f.get(name)) else None
        else:
            value = f.get(name)
        return xml_safe(str(value)) if value not in (None, "") else self.blank(name)


def _is_date(value: Any) -> bool:
    try:
        dt.date.fromisoformat(str(value))
    except ValueError:
        return False
    return True


def _pleading(
    record: PersonRecord, group: PetitionGroup, office: Office, words: dict[str, Any]
) -> tuple[Pleading, tuple[str, ...]]:
    remedy = words["remedies"][group.remedy]
    facts = _Facts(words)
    rows: list[tuple[str, str]] = []
    counts = []
    for i, count in enumerate(group.counts, start=1):
        if len(group.counts) > 1:
            rows.append((f"Count {i} of {len(group.counts)}", ""))
        values = {name: facts.value(name, count) for name in remedy["facts"]}
        rows += [(facts.labels[name], values[name]) for name in remedy["facts"]]
        counts.append(values)
    case_number = group.case_number or facts.blank("case_number")
    county = group.county
    county_upper = county.upper() if county else facts.blank("county")
    name = xml_safe(record.name) if record.name else facts.blank("name")
    display = split_name(record.name)[3] if record.name else name
    reliefs = {c.determination for c in group.counts}
    context = {
        "office": office.as_context(),
        "court": {
            "county": _county_title(county) if county else county_upper,
            "county_upper": county_upper,
            "name": group.court,
        },
        "person": {"name": name, "display_name": xml_safe(display)},
        "record": {"name": name},
        "case": {
            "number": case_number,
            "number_known": bool(group.case_number),
            "counts": counts,
            "relief": reliefs.pop() if len(reliefs) == 1 else "review",
            "serving": any(c.facts.get("serving") for c in group.counts),
            "revoked": any(c.facts.get("revoked") for c in group.counts),
            "pending": any(c.facts.get("pending") for c in group.counts),
        },
        "remedy": {
            "code": group.remedy,
            "citation": remedy["citation"],
            "words": " ".join(remedy["words"].split()),
            "serving_words": " ".join(remedy.get("serving_words", "").split()),
        },
        "run": {"as_of": record.as_of.isoformat(), "as_of_long": _long(record.as_of.isoformat())},
        "pending_note": render(words["pending_note"], {}),
    }
    caption_words = {
        "defendant_role": words["defendant_role"],
        "counsel_for": words["counsel_for"],
        "case_number": words["case_number"],
        "title": remedy["title"],
        "subtitle": remedy["subtitle"],
    }
    body = pleading_blocks(
        remedy["blocks"], context, office, (words["facts_table"]["columns"], rows)
    )
    pleading = Pleading(
        caption=_caption(office, context, caption_words),
        body=tuple(body),
        footer=render(remedy["footer"], context),
        meta=DocMeta(
            title=render(remedy["title"], context),
            author=office.name,
            subject=remedy["citation"],
            date=record.as_of,
            creator=f"clearance {__version__}",
        ),
    )
    return pleading, tuple(facts.missing)


def _slug(citation: str, code: str) -> str:
    code_word = citation.split()[0].lower() if citation.split() else "x"
    return re.sub(r"[^a-z0-9]+", "-", f"{code_word} {code}".lower()).strip("-")


def draft_petitions(
    record: PersonRecord, groups: Sequence[PetitionGroup], office: Office, folder: Path
) -> list[Drafted]:
    """Write each group's petition (PDF and Word) into `folder`."""
    words = petition_words()
    drafted = []
    for number, group in enumerate(groups, start=1):
        pleading, missing = _pleading(record, group, office, words)
        citation = words["remedies"][group.remedy]["citation"]
        stem = f"{number:02d}-{_slug(citation, group.remedy)}"
        files = _write_both(pleading, folder, stem)
        drafted.append(
            Drafted(
                number=number,
                remedy=group.remedy,
                citation=citation,
                pack=group.pack,
                court=group.court,
                county=group.county,
                case_number=group.case_number,
                counts=group.counts,
                to_complete=missing,
                files=tuple(files),
            )
        )
    return drafted
