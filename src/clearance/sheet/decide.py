"""Decide one person's rap sheet under every rule pack (docs/rap-sheet.md).

``decide_sheet(path, laws, county, as_of, out)`` reads the sheet, decides it under
each pack exactly as ``clearance run`` decides an extract (the same run folder, in
``out/<pack>/``), and writes ``out/sheet.json``: how the sheet was read and, for
the person, what is or will be relieved automatically and when, what is stuck and
why, and which petitions are open. Nothing in ``sheet.json`` names the person
beyond the CII number the run folders already hold.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from clearance import __version__
from clearance._folders import OutputKind, disk_error_line, move_into_place, start
from clearance.law import RulePack
from clearance.law.rulepack import installed_packs, load_pack
from clearance.run_common import RUN_FILES, RunError
from clearance.sheet.parse import SheetError
from clearance.sheet.read import SheetRead, parse_sheet
from clearance.textsafe import write_csv

SHEET_FILE = "sheet.json"
PACK_FILES = frozenset(RUN_FILES | {"upcoming.csv"})


def _file_ok(rel: str) -> bool:
    if rel in (SHEET_FILE, "rejects.csv"):
        return True
    parts = rel.split("/")
    return len(parts) == 3 and parts[0] in installed_packs() and parts[2] in PACK_FILES


SHEET_FOLDER = OutputKind(
    what="an earlier `clearance sheet` output folder",
    marker=SHEET_FILE,
    file_ok=_file_ok,
    dir_ok=lambda rel: rel.split("/")[0] in installed_packs() and rel.count("/") <= 1,
    command="`clearance sheet`",
)

# Prop 64's petition (HS 11361.8) for what the pack would dismiss or reduce.
PROP64_PETITION = "11361.8"


@dataclass
class SheetResult:
    out: Path
    sheet: SheetRead
    counties: list[str]
    county_source: str  # "argument" or "courts on the sheet"
    answer: dict  # what sheet.json holds
    warnings: list[str]


def sheet_counties(sheet: SheetRead) -> list[str]:
    """The counties of the sheet's courts: those with the most convictions first."""
    rows = sheet.rows.filter(
        (pl.col("event_type") == "COURT ACTION") & pl.col("county").is_not_null()
    )
    tally = (
        rows.group_by("county")
        .agg(n=pl.col("disposition").str.starts_with("CONVICTED").fill_null(False).sum())
        .sort(["n", "county"], descending=[True, False])
    )
    return [str(c) for c in tally["county"]]


def slug(county: str) -> str:
    """A county's folder name: ``LOS ANGELES`` -> ``los-angeles``."""
    return "-".join("".join(c if c.isalnum() else " " for c in county.lower()).split())


def packs_for(law: str) -> list[RulePack]:
    names = installed_packs() if law == "all" else [law]
    return [load_pack(name) for name in names]


def decide_sheet(
    path: Path | str | Sequence[Path | str],
    laws: Sequence[str] | str = "all",
    county: str | None = None,
    as_of: dt.date | None = None,
    out: Path | str = "out",
) -> SheetResult:
    """Read a rap sheet (one file, or the pages of one sheet in order) and decide the
    person under each pack. Raises SheetError or RunError with one line."""
    from clearance.policy import load_policy
    from clearance.run import run

    if as_of is None:
        raise RunError("the as-of date is required (--as-of YYYY-MM-DD)")
    paths = [Path(p) for p in ([path] if isinstance(path, (str, Path)) else path)]
    names = [laws] if isinstance(laws, str) else list(laws)
    packs = [p for name in names for p in packs_for(name)]
    sheet = parse_sheet(paths)
    if county is None:
        counties, source = sheet_counties(sheet), "courts on the sheet"
        if not counties:
            raise SheetError(
                f"{sheet.stats.name}: no court on the sheet names a county; give one with --county"
            )
    else:
        counties, source = [" ".join(county.split()).upper()], "argument"
    out = Path(out)
    tmp = start(out, SHEET_FOLDER, paths, SheetError)
    try:
        answer: dict = {
            "tool": {"name": "clearance", "version": __version__},
            "sheet": {
                "files": [f.to_dict() for f in sheet.files],
                "read_as": sheet.how,
                "lines": sheet.lines(),
                "counts": sheet.parsed.counts,
            },
            "subject_id": sheet.subject_id,
            "counties": counties,
            "county_source": source,
            "as_of": as_of.isoformat(),
            "packs": {},
        }
        warnings: list[str] = []
        for law in packs:
            policy = load_policy("statute", law)
            answer["packs"][law.name] = {}
            for place in counties:
                folder = tmp / law.name / slug(place)
                folder.parent.mkdir(exist_ok=True)
                result = run(
                    paths,
                    county=place,
                    policy=policy,
                    as_of=as_of,
                    out=folder,
                    law=law,
                    staged=sheet.read_result(),
                    report=False,
                )
                warnings += [w for w in result.warnings if w not in warnings]
                answer["packs"][law.name][place] = pack_answer(folder, law, as_of)
        write_csv(sheet.rejects.rename({"source_file": "file"}), tmp / "rejects.csv")
        (tmp / SHEET_FILE).write_text(json.dumps(answer, indent=2, sort_keys=True) + "\n")
        move_into_place(tmp, out)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        line = disk_error_line(exc, out) if isinstance(exc, OSError) else None
        if line is not None:
            raise SheetError(line) from None
        raise
    return SheetResult(out, sheet, counties, source, answer, warnings)


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def pack_answer(folder: Path, law: RulePack, as_of: dt.date) -> dict:
    """One pack's answer for the person, from its run folder's determinations."""
    decided = pl.read_parquet(folder / "determinations.parquet")
    rows = []
    for row in decided.iter_rows(named=True):
        petitions = re.split(r"[;,\s]+", row.get("petitions") or "")
        petitions = [p for p in petitions if p]
        if law.name == "prop64" and row["determination"] in ("dismiss", "reduce"):
            petitions.append(PROP64_PETITION)
        rows.append(
            {
                "kind": row.get("kind") or "conviction",
                "cnt_order": row["cnt_order"],
                "case_number": row.get("case_number"),
                "court": row.get("court"),
                "agency": row.get("agency"),
                "county": row.get("county"),
                "date": _text(row.get("conviction_date") or row.get("date")),
                "offense": row.get("offense"),
                # Prop 64's rows give the bare section of an HS 11357-11360 charge.
                "section": row.get("section")
                if law.name != "prop64" or not row.get("section")
                else f"HS {row['section']}",
                "severity": row.get("severity"),
                "determination": row["determination"],
                "reason": row.get("reason"),
                "rule": row.get("rule"),
                "citation": row.get("citation"),
                "eligible_on": _text(row.get("eligible_on")),
                "petitions": petitions,
            }
        )
    return {"rule_pack": law.name, "as_of": as_of.isoformat(), "rows": rows}


def run_folders(folder: Path | str) -> list[Path] | None:
    """The run folders of a `clearance sheet` output (pack, then county), or None
    when ``folder`` is not one."""
    folder = Path(folder)
    if not (folder / SHEET_FILE).is_file():
        return None
    return sorted(p.parent for p in folder.glob("*/*/run.json"))
