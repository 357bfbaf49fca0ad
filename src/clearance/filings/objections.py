"""Objections to automatic conviction relief, filed (PC 1203.425(b); issue 17).

From a `ca-auto-relief` run, the office marks the convictions it will object to,
each with its grounds: in the web app (audit-logged), or in a CSV for the command
line (``--objections FILE``)::

    subject_id,cnt_order,grounds
    10234,001002001000,"On 2025-03-02 the defendant was arrested for ..."

``clearance filings --run DIR --objections FILE`` then writes, into the filings
folder:

    filings.json                       what was written, the figures, the run
    <court>/petition-<subject>-<cnt_order>.pdf|.docx
                                       for each marked conviction: the petition to
                                       prohibit relief, the record's facts, the
                                       showing of a substantial threat to the public
                                       safety, notice to the defendant; on the
                                       pleading paper of the Prop 64 filings
    objections.csv                     the marked convictions, their deadlines and
                                       files (``late`` when the deadline has passed)
    not-objected.csv                   every conviction due relief or upcoming that
                                       the office did not object to, for its file

Only a conviction the run decided ``relief`` or ``upcoming`` can be objected to:
a marked key that is not one is refused, naming the file and the line. A marked
conviction whose objection deadline (``eligible_on`` - the policy's
``objection_days``) is before the filing date (``--filed-on``, by default the
run's as-of date) is still drafted, and the command warns of it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from clearance import __version__
from clearance._folders import (
    FolderError,
    check_destination,
    disk_error_line,
    make_temp,
    move_into_place,
)
from clearance.filings.build import FILINGS_FOLDER, MANIFEST, _signature, _write_both
from clearance.filings.document import Caption, DocMeta, Pleading, SimpleTable
from clearance.filings.errors import FilingsError
from clearance.filings.office import Office, blank_office
from clearance.filings.text import Block, _condition, _load, pleading_text, render
from clearance.law import RulePack
from clearance.textsafe import write_csv

__all__ = [
    "NOT_OBJECTED_FILE",
    "OBJECTIONS_FILE",
    "Objection",
    "objections_from_rows",
    "read_objections",
    "write_objection_filings",
]

OBJECTIONS_FILE = "objections.csv"
NOT_OBJECTED_FILE = "not-objected.csv"
KEY = ("subject_id", "cnt_order")
MAX_GROUNDS_CHARS = 20_000
_RECORD_COLUMNS = (
    "subject_id",
    "cii_number",
    "name",
    "dob",
    "cnt_order",
    "case_number",
    "court",
    "county",
    "conviction_date",
    "offense",
    "severity",
    "determination",
    "reason",
    "citation",
    "path",
    "eligible_on",
    "objection_deadline",
    "completion",
)
LEVELS = {"F": "felony", "M": "misdemeanor", "I": "infraction"}


@dataclass(frozen=True)
class Objection:
    """One marked conviction and the office's grounds (where it was marked: ``source``)."""

    subject_id: str
    cnt_order: str
    grounds: str
    source: str  # "objections.csv line 3", or "web app"


def read_objections(path: Path) -> list[Objection]:
    """The marked convictions of a CSV file (subject_id, cnt_order, grounds)."""
    try:
        text = path.read_text("utf-8-sig")
    except FileNotFoundError:
        raise FilingsError(f"{path}: objections file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FilingsError(
            f"{path}: cannot read the objections file ({type(exc).__name__})"
        ) from None
    reader = csv.DictReader(io.StringIO(text))
    names = [n.strip() for n in reader.fieldnames or []]
    missing = [c for c in (*KEY, "grounds") if c not in names]
    if missing:
        raise FilingsError(
            f"{path.name}: line 1: the header must name subject_id, cnt_order and grounds "
            f"(missing {', '.join(missing)})"
        )
    found: list[Objection] = []
    seen: dict[tuple[str, str], int] = {}
    for number, raw in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        if not any(row.values()):
            continue
        where = f"{path.name}: line {number}"
        subject, cnt = row.get("subject_id", ""), row.get("cnt_order", "")
        grounds = " ".join(row.get("grounds", "").split())
        if not subject or not cnt:
            raise FilingsError(f"{where}: subject_id and cnt_order are both required")
        if not grounds:
            raise FilingsError(f"{where}: the grounds are empty; a petition must state them")
        if len(grounds) > MAX_GROUNDS_CHARS:
            raise FilingsError(
                f"{where}: the grounds are longer than {MAX_GROUNDS_CHARS:,} characters"
            )
        if (subject, cnt) in seen:
            raise FilingsError(
                f"{where}: this conviction is already marked on line {seen[(subject, cnt)]}"
            )
        seen[(subject, cnt)] = number
        found.append(Objection(subject, cnt, grounds, where))
    return found


def objections_from_rows(rows: list[dict[str, str]], source: str) -> list[Objection]:
    """Objections marked elsewhere (the web app): mappings with the three keys."""
    return [
        Objection(
            str(r["subject_id"]), str(r["cnt_order"]), " ".join(str(r["grounds"]).split()), source
        )
        for r in rows
    ]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", (text or "unknown court").lower()).strip("-") or "court"


def _file_part(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-") or "x"


MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def _long(value: str | None) -> str:
    if not value:
        return "(date unknown)"
    date = dt.date.fromisoformat(value)
    return f"{MONTHS[date.month - 1]} {date.day}, {date.year}"


def _county_title(county: str) -> str:
    return " ".join(w.capitalize() for w in (county or "").split())


def _caption(office: Office, context: dict[str, Any], words: dict[str, Any]) -> Caption:
    court = pleading_text()["court"]
    counsel = []
    if office.elected:
        counsel.append(office.elected)
    counsel += [
        f"{office.attorney_name} (SBN {office.bar_number})",
        office.attorney_title,
        office.name,
        *office.address,
        f"Telephone: {office.phone}",
    ]
    email = office.attorney_email or office.email
    if email:
        counsel.append(f"Email: {email}")
    counsel += ["", render(words.get("counsel_for") or court["counsel_for"], context)]
    return Caption(
        counsel=tuple(counsel),
        court=(render(court["title"], context), render(court["county"], context)),
        parties=(
            (render(court["plaintiff"], context), 0),
            (render(court["plaintiff_role"], context), 2),
            (render(court["versus"], context), 1),
            (f"{context['record']['name']},", 0),
            (words["defendant_role"], 2),
        ),
        case_number=render(words["case_number"], context),
        title=render(words["title"], context),
        subtitle=render(words["subtitle"], context),
    )


def pleading_blocks(
    blocks: list[dict[str, Any]],
    context: dict[str, Any],
    office: Office,
    table: tuple[Sequence[str], Sequence[tuple[str, str]]],
) -> list[Any]:
    """A pleading's body from its template's blocks (objections.yaml, petitions.yaml):
    those whose ``when`` holds, each a block of text, the record's table (``table``:
    its header and rows) or the office's signature."""
    header, rows = table
    body: list[Any] = []
    for item in blocks:
        when = item.get("when")
        if when is not None and not _condition(when, context):
            continue
        (kind, value), *_ = [(k, v) for k, v in item.items() if k != "when"]
        if kind == "table":
            body.append(
                SimpleTable(
                    header=tuple(header),
                    rows=tuple(rows),
                    widths=(0.35, 0.65),
                    align=("left", "left"),
                )
            )
        elif kind == "signature":
            body.append(_signature(value, office))
        else:
            body.append(Block(kind, render(value, context)))
    return body


def _petition(record: dict[str, Any], office: Office, context: dict[str, Any]) -> Pleading:
    words = _load("objections.yaml")
    spec = words["record_table"]
    rows = [(label, render(text, context)) for label, text in spec["rows"]]
    body = pleading_blocks(words["blocks"], context, office, (spec["columns"], rows))
    return Pleading(
        caption=_caption(office, context, words),
        body=tuple(body),
        footer=render(words["footer"], context),
        meta=DocMeta(
            title=render(words["title"], context),
            author=office.name,
            subject=str(record.get("court") or ""),
            date=context["run"]["as_of_date"],
            creator=f"clearance {__version__}",
        ),
    )


def write_objection_filings(
    run_dir: Path,
    out: Path,
    law: RulePack,
    provenance: dict[str, Any],
    office: Office | None,
    objections: list[Objection],
    *,
    filed_on: dt.date | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Write the petitions for the marked convictions; return the manifest and warnings."""
    as_of = dt.date.fromisoformat(str(provenance["as_of"]))
    filed_on = filed_on or as_of
    table = run_dir / "determinations.parquet"
    try:
        frame = pl.read_parquet(table)
    except Exception:
        raise FilingsError(f"{table}: not a readable Parquet file") from None
    missing = [c for c in (*_RECORD_COLUMNS, "kind") if c not in frame.columns]
    if missing:
        raise FilingsError(f"{table}: missing column(s) {', '.join(missing)}")
    due = frame.filter(
        (pl.col("kind") == "conviction") & pl.col("determination").is_in(["relief", "upcoming"])
    ).select(_RECORD_COLUMNS)
    by_key = {(r["subject_id"], r["cnt_order"]): r for r in due.iter_rows(named=True)}
    for o in objections:
        if (o.subject_id, o.cnt_order) not in by_key:
            decided = frame.filter(
                (pl.col("subject_id") == o.subject_id) & (pl.col("cnt_order") == o.cnt_order)
            )
            why = (
                "no conviction of the run has this subject_id and cnt_order"
                if decided.is_empty()
                else f"the run decided it {decided['determination'][0]}, not relief or upcoming: "
                "there is no relief to object to"
            )
            raise FilingsError(f"{o.source}: {why}")
    try:
        check_destination(out, FILINGS_FOLDER, [run_dir])
    except FolderError as exc:
        raise FilingsError(str(exc)) from None
    office = office or blank_office()
    objection_words = law.statutes.get("PC 1203.425(b)(1)", "")
    try:
        tmp = make_temp(out)
    except OSError as exc:
        raise FilingsError(disk_error_line(exc, out) or f"{out}: cannot be written") from None
    warnings: list[str] = []
    try:
        marked_rows = []
        courts: dict[str, int] = {}
        for o in sorted(objections, key=lambda o: (o.subject_id, o.cnt_order)):
            record = dict(by_key[(o.subject_id, o.cnt_order)])
            deadline = dt.date.fromisoformat(record["objection_deadline"])
            late = deadline < filed_on
            folder = _slug(record["court"])
            (tmp / folder).mkdir(exist_ok=True)
            courts[folder] = courts.get(folder, 0) + 1
            context = {
                "office": office.as_context(),
                "court": {
                    "county_upper": (record["county"] or "").upper(),
                    "county": _county_title(record["county"]),
                    "name": record["court"],
                },
                "record": {
                    **record,
                    "grounds": o.grounds,
                    "late": late,
                    "level": LEVELS.get(record["severity"] or "", "not recorded"),
                    "eligible_on_long": _long(record["eligible_on"]),
                    "objection_deadline_long": _long(record["objection_deadline"]),
                },
                "run": {
                    "as_of": as_of.isoformat(),
                    "as_of_long": _long(as_of.isoformat()),
                    "as_of_date": as_of,
                },
                "law": {"objection_words": objection_words},
            }
            stem = f"petition-{_file_part(o.subject_id)}-{_file_part(o.cnt_order)}"
            files = _write_both(_petition(record, office, context), tmp / folder, stem)
            if late:
                warnings.append(
                    f"{o.source}: the objection deadline {deadline.isoformat()} is before the "
                    f"filing date {filed_on.isoformat()}; PC 1203.425(b)(1) asks for the petition "
                    "no later than 90 days before eligibility (drafted all the same)"
                )
            marked_rows.append(
                {
                    "subject_id": o.subject_id,
                    "cnt_order": o.cnt_order,
                    "court": record["court"],
                    "case_number": record["case_number"],
                    "eligible_on": record["eligible_on"],
                    "objection_deadline": record["objection_deadline"],
                    "late": late,
                    "grounds": o.grounds,
                    "marked_in": o.source,
                    "files": "; ".join(files),
                }
            )
        marked = pl.DataFrame(
            marked_rows,
            schema={
                c: pl.Boolean if c == "late" else pl.String
                for c in (
                    "subject_id",
                    "cnt_order",
                    "court",
                    "case_number",
                    "eligible_on",
                    "objection_deadline",
                    "late",
                    "grounds",
                    "marked_in",
                    "files",
                )
            },
        )
        write_csv(marked, tmp / OBJECTIONS_FILE)
        keys = pl.DataFrame(
            {
                "subject_id": [o.subject_id for o in objections],
                "cnt_order": [o.cnt_order for o in objections],
            },
            schema={"subject_id": pl.String, "cnt_order": pl.String},
        )
        not_objected = (
            due.join(keys, on=list(KEY), how="anti")
            .sort("objection_deadline", "subject_id", "cnt_order")
            .select(
                "objection_deadline",
                "eligible_on",
                "subject_id",
                "cnt_order",
                "name",
                "court",
                "case_number",
                "conviction_date",
                "offense",
                "severity",
                "determination",
                "path",
            )
        )
        write_csv(not_objected, tmp / NOT_OBJECTED_FILE)
        manifest = {
            "tool": {"name": "clearance", "version": __version__},
            "kind": "objections",
            "run": {
                "as_of": as_of.isoformat(),
                "county": provenance.get("county"),
                "policy": (provenance.get("policy") or {}).get("name"),
                "rule_pack": (provenance.get("rule_pack") or {}).get("version"),
            },
            "filed_on": filed_on.isoformat(),
            "office": {"file": office.source_name, "blank": office.blank},
            "objections": {
                "marked": len(objections),
                "late": int(marked["late"].sum()) if marked.height else 0,
                "by_court": dict(sorted(courts.items())),
                "file": OBJECTIONS_FILE,
            },
            "not_objected": {"rows": not_objected.height, "file": NOT_OBJECTED_FILE},
            "convictions": {"due_or_upcoming": due.height},
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        move_into_place(tmp, out)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        line = disk_error_line(exc, out) if isinstance(exc, OSError) else None
        if line is not None:
            raise FilingsError(line) from None
        raise
    if office.blank:
        warnings.append(
            "no --office file: the office and attorney fields are marked [LIKE THIS]; fill "
            "them in before filing (see examples/office.yaml)"
        )
    return manifest, warnings
