"""One person's filings (issue 19): petition drafts for the remedies open to them,
and a letter to them, in English and Spanish, from one or more run folders.

A defender sits with one person. `clearance sheet` (or `clearance run` on an
extract) decided their record under each rule pack; this module reads those run
folders and, for the person chosen by subject id or CII number, writes::

    filings.json                 what was written, from which runs (kind: person)
    petitions.csv                one row per petition: remedy, citation, case, court,
                                 counts, the facts left blank to complete, files
    petitions/NN-<remedy>.pdf|.docx
                                 one draft per remedy and court case, on the
                                 pleading paper of the other filings
    letter/letter-en.pdf|.docx, letter-es.pdf|.docx
                                 what was found, in plain words

Which remedies are open comes from the runs, never from here: a ca-auto-relief
row's `petitions` codes (the pack decides them), and Prop 64's HS 11361.8 for a
cannabis conviction decided `dismiss`, `reduce` or `review`. The words of each
petition are in templates/petitions.yaml; the letter's in
templates/person-letter.<language>.yaml.

`draft_person(run_dirs, person_key, office, out_dir)` is what `clearance filings
--run DIR --person ID` runs; the `sheet` command and the web app call it too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil
from collections.abc import Iterable, Sequence
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
from clearance.filings.build import MANIFEST
from clearance.filings.errors import FilingsError
from clearance.filings.office import Office, blank_office
from clearance.filings.person_record import CA_AUTO_RELIEF, PROP64, Count, PersonRecord
from clearance.textsafe import write_csv

__all__ = [
    "CA_AUTO_RELIEF",
    "PERSON_FOLDER",
    "PROP64",
    "Count",
    "PersonRecord",
    "PersonResult",
    "draft_person",
    "read_person",
    "run_folders",
    "write_person_filings",
]

PACKS = (PROP64, CA_AUTO_RELIEF)
PROP64_OPEN = ("dismiss", "reduce", "review")  # HS 11361.8: the person may petition
PROP64_REMEDY = "11361.8"
PETITIONS_FILE = "petitions.csv"
PETITIONS_FOLDER = "petitions"
LETTER_FOLDER = "letter"
_COLUMNS = (
    "subject_id",
    "cii_number",
    "name",
    "dob",
    "kind",
    "cnt_order",
    "cyc_order",
    "stp_order",
    "case_number",
    "court",
    "agency",
    "county",
    "conviction_date",
    "arrest_date",
    "offense",
    "section",
    "subsection",
    "severity",
    "determination",
    "reason",
    "citation",
    "eligible_on",
    "petitions",
    "completion",
    "probation_term",
    "probation_end",
    "sentence_end",
    "prison",
    "court_dispositions",
    "revoked",
    "revocation_date",
    "pending_records",
    "t_still_serving",
)


@dataclass
class PersonResult:
    """What `draft_person` wrote."""

    out: Path
    files: list[Path]
    manifest: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- reading


def run_folders(paths: Iterable[Path]) -> list[Path]:
    """The run folders given: each path is one, or (as `clearance sheet` writes) a
    folder whose sub-folders are run folders, one per rule pack."""
    found: list[Path] = []
    for path in paths:
        path = Path(path)
        if (path / "run.json").is_file():
            found.append(path)
            continue
        if not path.is_dir():
            raise FilingsError(f"{path}: no such run folder")
        inner = sorted(p for p in path.iterdir() if p.is_dir() and (p / "run.json").is_file())
        if not inner:
            raise FilingsError(f"{path}: not a run folder (no run.json in it or its folders)")
        found += inner
    unique: dict[Path, Path] = {}
    for path in found:  # the same folder given twice is read once
        unique.setdefault(path.resolve(), path)
    return list(unique.values())


def _pack_name(provenance: dict[str, Any], columns: Sequence[str], folder: Path) -> str:
    pack = provenance.get("rule_pack") or {}
    name = pack.get("name") if isinstance(pack, dict) else None
    if name is None:  # a run folder made before packs were recorded: Prop 64's
        name = CA_AUTO_RELIEF if "petitions" in columns else PROP64
    if name not in PACKS:
        raise FilingsError(
            f"{folder / 'run.json'}: rule pack {name!r} has no petitions to draft "
            f"(one person's filings read {' and '.join(PACKS)} runs)"
        )
    return name


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _section(pack: str, section: str | None, subsection: str | None) -> str | None:
    """`PC 245` + `(a)(1)` -> `PC 245(a)(1)`; Prop 64's bare `11357` is HS 11357."""
    if not section:
        return None
    text = str(section)
    if pack == PROP64 and re.fullmatch(r"\d+(\.\d+)?", text):
        text = f"HS {text}"
    if subsection and not text.endswith(subsection):
        text += subsection
    return text


def _count(pack: str, row: dict[str, Any]) -> Count:
    kind = row.get("kind") or "conviction"
    if pack == CA_AUTO_RELIEF:
        remedies = tuple(c.strip() for c in (row.get("petitions") or "").split(";") if c.strip())
    else:
        open_ = row["determination"] in PROP64_OPEN
        remedies = (PROP64_REMEDY,) if open_ else ()
    key = (
        f"{row.get('cyc_order') or ''}-{row.get('stp_order') or ''}"
        if kind == "arrest"
        else str(row.get("cnt_order") or "")
    )
    completion = row.get("completion") if pack == CA_AUTO_RELIEF else row.get("sentence_end")
    facts = {
        "case_number": row.get("case_number"),
        "court": row.get("court"),
        "county": row.get("county"),
        "conviction_date": row.get("conviction_date"),
        "arrest_date": row.get("arrest_date"),
        "agency": row.get("agency"),
        "section": _section(pack, row.get("section"), row.get("subsection")),
        "offense": row.get("offense"),
        "severity": row.get("severity"),
        "probation_term": row.get("probation_term"),
        "probation_end": row.get("probation_end"),
        "completion": completion,
        "prison": row.get("prison"),
        "outcome": row.get("court_dispositions"),
        "eligible_on": row.get("eligible_on"),
        "serving": bool(row.get("t_still_serving")),
        "revoked": bool(row.get("revoked")),
        "revocation_date": row.get("revocation_date"),
        "pending": bool(row.get("pending_records")) or row.get("reason") == "pending_case",
    }
    return Count(
        pack=pack,
        kind=kind,
        determination=row["determination"],
        reason=row.get("reason") or "",
        remedies=remedies,
        key=key,
        facts=facts,
    )


def read_person(run_dirs: Iterable[Path], person_key: str) -> PersonRecord:
    """The person whose subject id or CII number is `person_key`, from every run
    folder given (at least one must hold them). The runs must share an as-of date."""
    key = str(person_key).strip()
    if not key:
        raise FilingsError("--person: give the person's subject id or CII number")
    folders = run_folders(run_dirs)
    counts: list[Count] = []
    runs: list[dict[str, Any]] = []
    subjects: set[str] = set()
    identity: dict[str, Any] = {}
    dates: set[str] = set()
    for folder in folders:
        try:
            provenance = json.loads((folder / "run.json").read_text("utf-8"))
        except (OSError, ValueError):
            raise FilingsError(f"{folder / 'run.json'}: not a readable run.json") from None
        if not isinstance(provenance, dict) or not provenance.get("as_of"):
            raise FilingsError(f"{folder / 'run.json'}: records no as-of date")
        table = folder / "determinations.parquet"
        try:
            lazy = pl.scan_parquet(table)
            columns = lazy.collect_schema().names()
        except Exception:
            raise FilingsError(f"{table}: not a readable Parquet file") from None
        missing = [c for c in ("subject_id", "cii_number", "determination") if c not in columns]
        if missing:
            raise FilingsError(f"{table}: missing column(s) {', '.join(missing)}")
        pack = _pack_name(provenance, columns, folder)
        wanted = [c for c in _COLUMNS if c in columns]
        rows = (
            lazy.filter((pl.col("subject_id") == key) | (pl.col("cii_number") == key))
            .select(wanted)
            .collect()
        )
        runs.append(
            {
                "pack": pack,
                "folder": folder.name,
                "as_of": str(provenance["as_of"]),
                "county": provenance.get("county"),
                "determinations_sha256": _sha256(table),
                "rows": rows.height,
            }
        )
        dates.add(str(provenance["as_of"]))
        if rows.is_empty():
            continue
        found = set(rows["subject_id"].drop_nulls().to_list())
        if len(found) > 1:
            raise FilingsError(
                f"{table}: --person matches {len(found)} people (a CII number shared by "
                "several subject ids); give the subject id instead"
            )
        subjects |= found
        head = rows.row(0, named=True)
        for name in ("subject_id", "cii_number", "name", "dob"):
            identity.setdefault(name, head.get(name))
        counts += [_count(pack, row) for row in rows.iter_rows(named=True)]
    if len(subjects) > 1:
        raise FilingsError(
            "--person: the run folders name different people for it; give the subject id"
        )
    if not subjects:
        raise FilingsError(
            f"--person: no row of the {len(folders)} run folder(s) has this subject id or "
            "CII number"
        )
    if len(dates) > 1:
        raise FilingsError(
            "--run: the run folders were decided as of different dates "
            f"({', '.join(sorted(dates))}); decide them as of one date"
        )
    return PersonRecord(
        subject_id=identity["subject_id"],
        cii_number=identity.get("cii_number"),
        name=identity.get("name"),
        dob=identity.get("dob"),
        as_of=dt.date.fromisoformat(dates.pop()),
        counts=tuple(counts),
        runs=tuple(runs),
    )


# --------------------------------------------------------------------------- writing

_PETITION_FILE = re.compile(r"\d{2,}-[a-z0-9]+(?:-[a-z0-9]+)*\.(?:pdf|docx)")
_LETTER_FILE = re.compile(r"letter-[a-z]{2}\.(?:pdf|docx)")


def _person_file(path: str) -> bool:
    folder, _, name = path.rpartition("/")
    if not folder:
        return name in (MANIFEST, PETITIONS_FILE)
    if folder == PETITIONS_FOLDER:
        return _PETITION_FILE.fullmatch(name) is not None
    if folder == LETTER_FOLDER:
        return _LETTER_FILE.fullmatch(name) is not None
    return False


PERSON_FOLDER = OutputKind(
    what="an earlier person's filings folder",
    marker=MANIFEST,
    file_ok=_person_file,
    dir_ok=lambda path: path in (PETITIONS_FOLDER, LETTER_FOLDER),
    command="clearance filings --person",
)


def draft_person(
    run_dirs: Iterable[Path], person_key: str, office: Office | None, out_dir: Path
) -> list[Path]:
    """Write one person's petition drafts and letters into `out_dir`; return the
    documents written (petitions, then letters)."""
    return write_person_filings(run_dirs, person_key, office, out_dir).files


def write_person_filings(
    run_dirs: Iterable[Path],
    person_key: str,
    office: Office | None,
    out_dir: Path,
    *,
    letters: bool = True,
) -> PersonResult:
    """As `draft_person`, with the manifest and the warnings to show."""
    from clearance.filings.person_letter import write_person_letters
    from clearance.filings.petitions import draft_petitions, group_petitions

    run_dirs = run_folders(run_dirs)
    record = read_person(run_dirs, person_key)
    out_dir = Path(out_dir)
    try:
        check_destination(out_dir, PERSON_FOLDER, run_dirs)
    except FolderError as exc:
        raise FilingsError(str(exc)) from None
    office = office or blank_office()
    petitions = group_petitions(record)
    try:
        tmp = make_temp(out_dir)
    except OSError as exc:
        raise FilingsError(
            disk_error_line(exc, out_dir) or f"{out_dir}: cannot be written"
        ) from None
    try:
        (tmp / PETITIONS_FOLDER).mkdir()
        drafted = draft_petitions(record, petitions, office, tmp / PETITIONS_FOLDER)
        table = pl.DataFrame(
            [d.row() for d in drafted],
            schema={
                "petition": pl.Int64,
                "remedy": pl.String,
                "citation": pl.String,
                "pack": pl.String,
                "court": pl.String,
                "county": pl.String,
                "case_number": pl.String,
                "counts": pl.Int64,
                "rows": pl.String,
                "to_complete": pl.String,
                "files": pl.String,
            },
        )
        write_csv(table, tmp / PETITIONS_FILE)
        letter_files: list[str] = []
        if letters:
            (tmp / LETTER_FOLDER).mkdir()
            letter_files = write_person_letters(record, drafted, office, tmp / LETTER_FOLDER)
        petition_files = [f for d in drafted for f in d.files]
        manifest = {
            "tool": {"name": "clearance", "version": __version__},
            "kind": "person",
            "person": {"subject_id": record.subject_id},
            "as_of": record.as_of.isoformat(),
            "runs": list(record.runs),
            "office": {"file": office.source_name, "blank": office.blank},
            "petitions": [
                {
                    "remedy": d.remedy,
                    "citation": d.citation,
                    "pack": d.pack,
                    "counts": len(d.counts),
                    "to_complete": list(d.to_complete),
                    "files": list(d.files),
                }
                for d in drafted
            ],
            "letters": {"files": letter_files},
            "files": sorted([MANIFEST, PETITIONS_FILE, *petition_files, *letter_files]),
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        move_into_place(tmp, out_dir)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        line = disk_error_line(exc, out_dir) if isinstance(exc, OSError) else None
        if line is not None:
            raise FilingsError(line) from None
        raise
    warnings = []
    if office.blank:
        warnings.append(
            "no --office file: the office and attorney fields are marked [LIKE THIS]; fill "
            "them in before filing (see examples/office.yaml)"
        )
    blanks = sum(1 for d in drafted if d.to_complete)
    if blanks:
        warnings.append(
            f"{blanks} petition(s) have facts the records do not hold, marked "
            "[__________ TO COMPLETE: ...]; petitions.csv lists them"
        )
    files = [out_dir / f for f in (*petition_files, *letter_files)]
    return PersonResult(out=out_dir, files=files, manifest=manifest, warnings=warnings)
