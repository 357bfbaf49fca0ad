"""`clearance filings`: every filing, the DOJ file and the letters from one run folder.

Output folder (docs/filings.md):

    filings.json                    what was written, the figures, the run it came from
    doj-disposition-update.csv      one row per granted conviction (HS 11361.9(f))
    awaiting-review.csv             convictions still under review: not filed
    <court>/motion.pdf|.docx        notice of decision not to challenge and motion
    <court>/order.pdf|.docx         [proposed] order
    <court>/exhibit-a[-part-NN].pdf|.docx   the granted convictions
    <court>/challenge-notice.pdf|.docx      notice of challenge (if any challenged)
    <court>/exhibit-b[-part-NN].pdf|.docx   the challenged convictions, with grounds
    letters/                        notice letters (letters.py)

Only the convictions DOJ listed are filed: a conviction dated after the rule
pack's conviction cut-off (2016-11-08) is in no file and is counted apart in
filings.json (`convictions.after_cutoff`); see cases.py.

Everything is computed from the run folder and the office file, so the same
inputs give the same bytes. The folder is written beside its destination and
moved into place at the end: a failed run leaves nothing that looks complete.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from clearance import __version__
from clearance._folders import (
    FolderError,
    OutputKind,
    check_destination,
    disk_error_line,
    make_temp,
    move_into_place,
)
from clearance.explain import PackMismatch, pack_for_run
from clearance.filings import letters as letters_
from clearance.filings.addresses import AddressBook
from clearance.filings.cases import GRANTED, Court, RunInfo, after_cutoff, group_courts, read_run
from clearance.filings.document import (
    BodyItem,
    Caption,
    DocMeta,
    Exhibit,
    PageBreak,
    Pleading,
    Signature,
    SimpleTable,
)
from clearance.filings.docx_writer import write_exhibit_docx, write_pleading_docx
from clearance.filings.doj import DOJ_FILE, doj_rows, write_doj_file
from clearance.filings.errors import FilingsError
from clearance.filings.exhibits import COLUMNS, ExhibitPart, exhibit_parts, grounds, provision
from clearance.filings.office import Office, blank_office
from clearance.filings.pleading import write_exhibit_pdf, write_pleading_pdf
from clearance.filings.text import (
    Block,
    bind_citations,
    document_text,
    pleading_text,
    render,
    thousands,
)
from clearance.law import RulePack, load_rulepack
from clearance.textsafe import write_csv

__all__ = ["DEFAULT_PART_SIZE", "MANIFEST", "FilingsResult", "write_filings"]

MANIFEST = "filings.json"
AWAITING_FILE = "awaiting-review.csv"
DEFAULT_PART_SIZE = 5000
FORMATS = ("pdf", "docx")


@dataclass
class FilingsResult:
    out: Path
    manifest: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def _long_date(date: dt.date) -> str:
    """`July 1, 2020`, whatever the machine's locale."""
    return f"{MONTHS[date.month - 1]} {date.day}, {date.year}"


def _context(info: RunInfo, office: Office, court: Court, law: RulePack) -> dict[str, Any]:
    granted, challenged = court.granted, court.challenged
    return {
        "office": office.as_context(),
        "court": {
            "county_upper": court.county,
            "county": court.county_title,
            "courthouse": court.courthouse,
            "name": court.display_name,
        },
        "counts": {
            "granted": granted.height,
            "dismiss": granted.filter(pl.col("determination") == "dismiss").height,
            "reduce": granted.filter(pl.col("determination") == "reduce").height,
            "challenged": challenged.height,
            "review": court.awaiting.height,
            "people_granted": granted["subject_id"].n_unique(),
            "people_challenged": challenged["subject_id"].n_unique(),
        },
        "run": {
            "as_of": info.as_of.isoformat(),
            "as_of_long": _long_date(info.as_of),
            "policy": info.policy,
            "rule_pack": info.rule_pack,
        },
        "law": {
            "relief_citation": law.rule("baseline").citation,
            "cutoff_long": _long_date(law.conviction_cutoff),
        },
        "labels": pleading_text()["labels"],
        "reviewed": False,
    }


def _caption(
    text: dict[str, Any], office: Office, context: dict, title: str, subtitle: str, defendants: str
) -> Caption:
    court = text["court"]
    counsel = []
    if office.elected:
        counsel.append(office.elected)
    counsel.append(f"{office.attorney_name} (SBN {office.bar_number})")
    counsel.append(office.attorney_title)
    counsel.append(office.name)
    counsel += list(office.address)
    counsel.append(f"Telephone: {office.phone}")
    email = office.attorney_email or office.email
    if email:
        counsel.append(f"Email: {email}")
    counsel.append("")
    counsel.append(render(court["counsel_for"], context))
    court_lines = [render(court["title"], context), render(court["county"], context)]
    if context["court"]["courthouse"]:
        court_lines.append(context["court"]["courthouse"].upper())
    parties = (
        (render(court["plaintiff"], context), 0),
        (render(court["plaintiff_role"], context), 2),
        (render(court["versus"], context), 1),
        (defendants, 0),
        (render(court["defendant_role"], context), 2),
    )
    return Caption(
        counsel=tuple(counsel),
        court=tuple(court_lines),
        parties=parties,
        case_number=render(court["case_number"], context),
        title=title,
        subtitle=subtitle,
    )


def _signature(kind: str, office: Office) -> Signature:
    words = pleading_text()["signature"]
    if kind == "server":
        name = office.server_name or "[NAME OF PERSON SERVING]"
        return Signature("server", name, (words["server_line"], words["server_title"]))
    if kind == "judge":
        return Signature("judge", words["dated"], (words["judge_line"], words["judge_title"]))
    return Signature(
        "prosecutor",
        words["dated"],
        (
            words["respectfully"],
            office.elected or office.name,
            "",
            words["by"],
            office.attorney_name,
            office.attorney_title,
        ),
    )


def _summary_table(court: Court, law: RulePack) -> SimpleTable:
    words = pleading_text()["tables"]["summary"]
    counts = court.granted.group_by("section", "determination").len()
    table: dict[tuple[str, str], int] = {(s, d): n for s, d, n in counts.iter_rows()}
    rows = []
    sections = list(law.sections) + sorted({s for s, _ in table if s not in law.sections}, key=str)
    for section in sections:
        dismiss, reduce = table.get((section, "dismiss"), 0), table.get((section, "reduce"), 0)
        if dismiss + reduce == 0:
            continue
        info = law.sections.get(section)
        label = f"HS {section}" + (f" ({info.name})" if info else "")
        rows.append((label, thousands(dismiss), thousands(reduce), thousands(dismiss + reduce)))
    dismiss_total = sum(n for (_, d), n in table.items() if d == "dismiss")
    reduce_total = sum(n for (_, d), n in table.items() if d == "reduce")
    rows.append(
        (
            words["total"],
            thousands(dismiss_total),
            thousands(reduce_total),
            thousands(dismiss_total + reduce_total),
        )
    )
    return SimpleTable(
        header=tuple(words["columns"]),
        rows=tuple(rows),
        widths=(0.43, 0.19, 0.19, 0.19),
        align=("left", "right", "right", "right"),
        total_row=True,
    )


def _reasons_table(court: Court, law: RulePack) -> SimpleTable:
    """Challenged convictions by ground, with the rule's provision, most frequent first."""
    text = pleading_text()
    labels = text["labels"]
    frame = court.challenged
    worded = grounds(law)
    statutory = frame["reason"].is_in(list(worded))
    if "review_decision" in frame.columns:
        on_review = frame["review_decision"].is_not_null() & ~statutory
    else:
        on_review = pl.Series([False] * frame.height)
    counts: dict[tuple[str, str], int] = {}
    for reason, citation, review in zip(
        frame["reason"].to_list(), frame["citation"].to_list(), on_review.to_list(), strict=True
    ):
        if review:
            key = (
                render(labels["decided_on_review"], {"note": ""}),
                labels["decided_on_review_citation"],
            )
        else:
            ground = worded.get(reason) or (
                law.rules[reason].description if reason in law.rules else str(reason)
            )
            key = (ground, provision(None, None, None, law, citation))
        counts[key] = counts.get(key, 0) + 1
    rows = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return SimpleTable(
        header=tuple(text["tables"]["reasons"]["columns"]),
        rows=tuple((g, c, thousands(n)) for (g, c), n in rows),
        widths=(0.46, 0.38, 0.16),
        align=("left", "left", "right"),
    )


# The exhibit each document goes with.
_EXHIBIT_OF = {"motion": "a", "order": "a", "challenge": "b"}


def _proof_of_service(
    key: str, office: Office, context: dict[str, Any], served_on: dt.date | None
) -> list[BodyItem]:
    """The proof of service by mail and electronic service on the public defender,
    on a page of its own after the document (words: pleadings.yaml, proof_of_service)."""
    text = pleading_text()
    words = text["proof_of_service"]
    exhibit = _EXHIBIT_OF[key]
    exhibit_info = context[f"exhibit_{exhibit}"]
    documents = [
        render(text["documents"][key]["title"], context),
        *words["served_with"][key],
        render(
            words["exhibit"],
            {
                "letter": text["exhibits"][exhibit]["letter"],
                "parts": exhibit_info["parts"],
                "rows": exhibit_info["rows"],
            },
        ),
    ]
    server_address = list(office.server_address) or ["[BUSINESS ADDRESS]"]
    pos_context = {
        **context,
        "server": {
            "name": office.server_name or "[NAME OF PERSON SERVING]",
            "address": server_address,
            "email": office.server_email,
            "city": _city(office.server_address) or words["blank_city"],
        },
        "served": {
            "date_long": _long_date(served_on) if served_on else words["blank_date"],
            "documents": documents,
        },
    }
    defender = (
        office.public_defender_name,
        "; ".join(office.public_defender_address) or "[ADDRESS]",
        office.public_defender_email or words["no_email"],
    )
    body: list[BodyItem] = [PageBreak()]
    for item in words["blocks"]:
        (kind, value), *_ = item.items()
        if kind == "table":
            body.append(
                SimpleTable(
                    header=tuple(words["service_columns"]),
                    rows=(defender,),
                    widths=(0.34, 0.38, 0.28),
                    align=("left", "left", "left"),
                )
            )
        elif kind == "signature":
            body.append(_signature(value, office))
        else:
            body.append(Block(kind, render(value, pos_context)))
    return body


def _city(address: tuple[str, ...]) -> str | None:
    """`Example City` from an address whose last line is `Example City, CA 90000`."""
    if not address:
        return None
    city, comma, _ = address[-1].rpartition(",")
    return city.strip() if comma and city.strip() else None


def _pleading(
    key: str, court: Court, office: Office, info: RunInfo, law: RulePack, context: dict[str, Any]
) -> Pleading:
    doc = document_text(key, context)
    body = []
    for block in doc.blocks:
        if block.kind == "table":
            body.append(
                _summary_table(court, law)
                if block.text == "summary"
                else _reasons_table(court, law)
            )
        elif block.kind == "signature":
            body.append(_signature(block.text, office))
        else:
            body.append(block)
    body += _proof_of_service(key, office, context, context["served_on"])
    body = [
        Block(b.kind, bind_citations(b.text)) if isinstance(b, Block) and b.kind == "heading" else b
        for b in body
    ]
    caption = _caption(
        pleading_text(),
        office,
        context,
        bind_citations(doc.title),
        bind_citations(doc.subtitle),
        doc.defendants,
    )
    return Pleading(
        caption=caption,
        body=tuple(body),
        footer=doc.footer,
        meta=_meta(doc.title, office, court, info),
    )


def _meta(title: str, office: Office, court: Court, info: RunInfo) -> DocMeta:
    return DocMeta(
        title=title,
        author=office.name,
        subject=court.display_name,
        date=info.as_of,
        creator=f"clearance {__version__}",
    )


def _exhibit(
    part: ExhibitPart, court: Court, office: Office, info: RunInfo, context: dict[str, Any]
) -> Exhibit:
    text = pleading_text()["exhibits"]
    spec = text[part.exhibit]
    part_line = (
        render(
            text["part"],
            {"part": part.part, "parts": part.parts, "first": part.first, "last": part.last},
        )
        if part.parts > 1
        else ""
    )
    footer = render(spec["footer"], context)
    if part.parts > 1:
        footer += f" - part {part.part} of {part.parts}"
    columns = COLUMNS[part.exhibit]
    return Exhibit(
        heading=render(spec["heading"], context),
        title=bind_citations(render(spec["title"], context)),
        part_line=part_line,
        legend=render(spec["legend"], context),
        headers=tuple(text["columns"][c.key] for c in columns),
        columns=columns,
        part=part,
        footer=footer,
        meta=_meta(f"{spec['heading']} - {court.display_name}", office, court, info),
    )


def _write_both(item: Pleading | Exhibit, folder: Path, stem: str) -> list[str]:
    if isinstance(item, Pleading):
        write_pleading_pdf(item, folder / f"{stem}.pdf")
        write_pleading_docx(item, folder / f"{stem}.docx")
    else:
        write_exhibit_pdf(item, folder / f"{stem}.pdf")
        write_exhibit_docx(item, folder / f"{stem}.docx")
    return [f"{folder.name}/{stem}.{ext}" for ext in FORMATS]


def _write_court(
    court: Court,
    office: Office,
    info: RunInfo,
    law: RulePack,
    folder: Path,
    part_size: int,
    tick: Callable[[], None],
    filed_on: dt.date | None = None,
) -> tuple[dict[str, Any], pl.DataFrame]:
    folder.mkdir()
    context = _context(info, office, court, law)
    context["served_on"] = filed_on
    context["reviewed"] = info.reviewed and bool(court.granted["decided_on_review"].any())
    parts_a = exhibit_parts(court.granted, "a", law, part_size)
    parts_b = exhibit_parts(court.challenged, "b", law, part_size)
    context["exhibit_a"] = {"parts": len(parts_a), "rows": court.granted.height}
    context["exhibit_b"] = {"parts": len(parts_b), "rows": court.challenged.height}
    files: list[str] = []
    if court.granted.height:
        for key, stem in (("motion", "motion"), ("order", "order")):
            files += _write_both(_pleading(key, court, office, info, law, context), folder, stem)
            tick()
        for part in parts_a:
            files += _write_both(_exhibit(part, court, office, info, context), folder, part.stem)
            tick()
    if court.challenged.height:
        files += _write_both(
            _pleading("challenge", court, office, info, law, context), folder, "challenge-notice"
        )
        tick()
        for part in parts_b:
            files += _write_both(_exhibit(part, court, office, info, context), folder, part.stem)
            tick()
    doj = doj_rows(
        court.granted,
        folder.name,
        [(f"{folder.name}/{p.stem}.pdf", len(p.rows)) for p in parts_a],
    )
    counts = context["counts"]
    entry = {
        "folder": folder.name,
        "court": court.display_name,
        "courthouse": court.courthouse,
        "data_names": list(court.data_names),
        "granted": counts["granted"],
        "dismiss": counts["dismiss"],
        "reduce": counts["reduce"],
        "challenged": counts["challenged"],
        "awaiting_review": counts["review"],
        "people_granted": counts["people_granted"],
        "exhibit_a_parts": len(parts_a),
        "exhibit_b_parts": len(parts_b),
        "files": files,
    }
    return entry, doj


def _awaiting(courts: list[Court], path: Path) -> int:
    columns = [
        "subject_id",
        "cnt_order",
        "court",
        "case_number",
        "conviction_date",
        "section",
        "reason",
        "rule",
        "citation",
    ]
    frames = [c.awaiting.select(pl.lit(c.slug).alias("filing"), *columns) for c in courts]
    table = (
        pl.concat(frames)
        if frames
        else pl.DataFrame(schema={"filing": pl.String, **{c: pl.String for c in columns}})
    )
    write_csv(table, path)
    return table.height


# objections.csv and not-objected.csv: a ca-auto-relief run's filings (objections.py).
_TOP_FILES = frozenset({MANIFEST, DOJ_FILE, AWAITING_FILE, "objections.csv", "not-objected.csv"})
_COURT_FILE = re.compile(
    r"(?:motion|order|challenge-notice|exhibit-[ab](?:-part-\d+)?|petition-[A-Za-z0-9-]+)"
    r"\.(?:pdf|docx)"
)
_LETTER_FILE = re.compile(
    r"letters-[a-z]+(?:-part-\d+)?\.pdf|letter-template-[a-z]+\.docx|"
    + "|".join(
        re.escape(name)
        for name in (letters_.MAILING_FILE, letters_.NO_ADDRESS_FILE, letters_.PROBLEMS_FILE)
    )
)
_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def _filings_file(path: str) -> bool:
    """A file `clearance filings` writes (relative path in the folder)."""
    folder, _, name = path.rpartition("/")
    if not folder:
        return name in _TOP_FILES
    if folder == letters_.FOLDER:
        return _LETTER_FILE.fullmatch(name) is not None
    return _SLUG.fullmatch(folder) is not None and _COURT_FILE.fullmatch(name) is not None


FILINGS_FOLDER = OutputKind(
    what="an earlier filings folder",
    marker=MANIFEST,
    file_ok=_filings_file,
    dir_ok=lambda path: _SLUG.fullmatch(path) is not None,  # a court's folder, or letters
    command="clearance filings",
)


def write_filings(
    run_dir: Path,
    out: Path,
    office: Office | None = None,
    *,
    part_size: int = DEFAULT_PART_SIZE,
    letters: bool = True,
    progress: Callable[[int], None] | None = None,
    addresses: AddressBook | None = None,
    filed_on: dt.date | None = None,
) -> FilingsResult:
    """Write the filings for `run_dir` into `out`; see the module docstring.

    `addresses` (addresses.py) fills the letters' address blocks; `filed_on` dates the
    letters and the proofs of service (default: the run's as-of date)."""
    if part_size < 1:
        raise FilingsError("--part-size must be at least 1")
    info, frame = read_run(run_dir)
    try:
        check_destination(out, FILINGS_FOLDER, [run_dir])
    except FolderError as exc:
        raise FilingsError(str(exc)) from None
    office = office or blank_office()
    # The run's own rule pack: its citations and grounds are the ones that decided. A
    # run folder that records none (made by hand, or before packs were recorded) is
    # filed under the installed pack.
    provenance = json.loads((run_dir / "run.json").read_text("utf-8"))
    try:
        law = pack_for_run(provenance) if provenance.get("rule_pack") else load_rulepack()
    except PackMismatch as exc:
        raise FilingsError(str(exc)) from None
    courts = group_courts(info, frame, office, law.conviction_cutoff)
    tick = (lambda: progress(1)) if progress else (lambda: None)

    try:
        tmp = make_temp(out)
    except OSError as exc:
        raise FilingsError(disk_error_line(exc, out) or f"{out}: cannot be written") from None
    try:
        entries, doj_frames = [], []
        for court in courts:
            entry, doj = _write_court(
                court, office, info, law, tmp / court.slug, part_size, tick, filed_on
            )
            entries.append(entry)
            doj_frames.append(doj)
        doj_count = write_doj_file(doj_frames, tmp / DOJ_FILE)
        awaiting = _awaiting(courts, tmp / AWAITING_FILE)
        letter_summary = (
            letters_.write_letters(
                courts,
                office,
                info,
                law,
                tmp / letters_.FOLDER,
                part_size,
                tick,
                addresses=addresses,
                date=filed_on,
            )
            if letters
            else None
        )
        manifest = _manifest(
            info, office, frame, law, entries, doj_count, awaiting, letter_summary, part_size
        )
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        move_into_place(tmp, out)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        line = disk_error_line(exc, out) if isinstance(exc, OSError) else None
        if line is not None:  # a full disk, a folder not writable: one line, exit 2
            raise FilingsError(line) from None
        raise
    warnings = []
    late = manifest["convictions"]["after_cutoff_granted"]
    if late:
        warnings.append(
            f"{late:,} conviction(s) dated after {law.conviction_cutoff.isoformat()} were "
            "decided dismiss or reduce on review; they are not filed: DOJ lists only "
            "convictions dated on or before that day (HS 11361.9(a))"
        )
    if letters:
        warnings += _letter_warnings(office, addresses, manifest["letters"])
    if office.blank:
        warnings.append(
            "no --office file: the office, attorney and public defender fields are marked "
            "[LIKE THIS]; fill them in before filing (see examples/office.yaml)"
        )
    return FilingsResult(out=out, manifest=manifest, warnings=warnings)


SHOWN_PROBLEMS = 10  # address rows with a problem named on screen; all are in the file


def _letter_warnings(office: Office, book: AddressBook | None, entry: dict | None) -> list[str]:
    """What the office should know before mailing: rows not used, hours not translated."""
    warnings = []
    given = bool(office.contact_hours)
    missing = [lang for lang in letters_.LANGUAGES if given and not office.hours(lang)]
    if missing:
        warnings.append(
            f"{office.source_name or 'office.yaml'}: letters.contact_hours has no text for "
            f"{', '.join(missing)}: those letters give no office hours (write it as "
            "{en: ..., es: ...}, docs/filings.md)"
        )
    if book is None or entry is None:
        return warnings
    if book.unknown_columns:
        warnings.append(
            f"{book.file_name}: column(s) not used: {', '.join(book.unknown_columns)} "
            "(known: subject_id, cii_number, name, address_line_1, address_line_2, city, "
            "state, zip)"
        )
    messages = book.messages()
    warnings += messages[:SHOWN_PROBLEMS]
    if len(messages) > SHOWN_PROBLEMS:
        warnings.append(f"... {len(messages) - SHOWN_PROBLEMS:,} more rows with a problem")
    if messages:
        warnings.append(
            f"{len(messages):,} row(s) of {book.file_name} not used: every one is in "
            f"{letters_.FOLDER}/{letters_.PROBLEMS_FILE}"
        )
    nobody = entry["addresses"]["rows_for_nobody_here"]
    if nobody:
        warnings.append(
            f"{nobody:,} row(s) of {book.file_name} name nobody who gets a letter in this run"
        )
    return warnings


def _manifest(
    info: RunInfo,
    office: Office,
    frame: pl.DataFrame,
    law: RulePack,
    entries: list[dict],
    doj_count: int,
    awaiting: int,
    letters: dict | None,
    part_size: int,
) -> dict:
    # Only the convictions DOJ listed (dated on or before the cut-off) are filed;
    # the others are counted apart so that the figures add up to the run's.
    late = after_cutoff(law.conviction_cutoff)
    by = frame.filter(~late)["determination"].value_counts()
    determinations = {d: n for d, n in by.iter_rows()}
    granted = determinations.get("dismiss", 0) + determinations.get("reduce", 0)
    unlisted = frame.filter(late)
    return {
        "tool": {"name": "clearance", "version": __version__},
        "run": {
            "as_of": info.as_of.isoformat(),
            "county": info.county,
            "policy": info.policy,
            "rule_pack": info.rule_pack,
            "reviewed": info.reviewed,
            "run_json_sha256": info.run_sha256,
            "determinations_sha256": info.determinations_sha256,
        },
        "office": {
            "file": office.source_name,
            "blank": office.blank,
        },
        "part_size": part_size,
        "convictions": {
            "total": frame.height,
            "granted": granted,
            "dismiss": determinations.get("dismiss", 0),
            "reduce": determinations.get("reduce", 0),
            "challenged": determinations.get("not_eligible", 0),
            "awaiting_review": determinations.get("review", 0),
            "conviction_cutoff": law.conviction_cutoff.isoformat(),
            "after_cutoff": unlisted.height,
            "after_cutoff_granted": unlisted.filter(pl.col("determination").is_in(GRANTED)).height,
        },
        "courts": entries,
        "doj_file": {"file": DOJ_FILE, "rows": doj_count},
        "awaiting_review_file": {"file": AWAITING_FILE, "rows": awaiting},
        "letters": letters,
    }
