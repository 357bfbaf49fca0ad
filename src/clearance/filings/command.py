"""`clearance filings`: the command's body (cli.py registers it and parses options).

Kept here so the command line stays a thin layer: read the office file, write the
filings with a progress bar on a terminal, print what was written and say so
when the office fields were left to fill in. Failures a user can fix print one
line naming the file and the problem, and exit with status 2.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from clearance.console import err, out, progress_bar, user_errors
from clearance.explain import PackMismatch, pack_for_run
from clearance.filings.addresses import read_addresses
from clearance.filings.build import write_filings
from clearance.filings.errors import FilingsError
from clearance.filings.objections import read_objections, write_objection_filings
from clearance.filings.office import load_office
from clearance.textsafe import shown

__all__ = ["main", "person_main"]


def main(
    run_dir: Path,
    out_dir: Path,
    office_file: Path | None,
    part_size: int,
    letters: bool,
    objections_file: Path | None = None,
    filed_on: dt.date | None = None,
    addresses_file: Path | None = None,
) -> None:
    with user_errors():  # FilingsError (and OfficeError) print as one line, exit 2
        office = load_office(office_file) if office_file is not None else None
        law, provenance = _run_pack(run_dir)
        if law is not None and law.functions == "ca_auto_relief":
            if addresses_file is not None:
                raise FilingsError(
                    "--addresses: a ca-auto-relief run's filings have no letters to address"
                )
            _objections(run_dir, out_dir, law, provenance, office, objections_file, filed_on)
            return
        if objections_file is not None:
            raise FilingsError(
                "--objections: objections to automatic relief are filed from a "
                "ca-auto-relief run; this run was decided under another rule pack"
            )
        if addresses_file is not None and not letters:
            raise FilingsError("--addresses: the letters are not written (--no-letters)")
        addresses = read_addresses(addresses_file) if addresses_file is not None else None
        with progress_bar("Writing filings", None) as advance:
            result = write_filings(
                run_dir,
                out_dir,
                office,
                part_size=part_size,
                letters=letters,
                progress=advance,
                addresses=addresses,
                filed_on=filed_on,
            )
    for warning in result.warnings:
        err.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)
    m = result.manifest
    c = m["convictions"]
    out.print(
        f"{c['total']:,} convictions in {shown(m['run']['county'])} as of {m['run']['as_of']}: "
        f"[bold]{c['granted']:,}[/] not challenged ({c['dismiss']:,} dismiss, "
        f"{c['reduce']:,} reduce), [bold]{c['challenged']:,}[/] challenged, "
        f"[bold]{c['awaiting_review']:,}[/] awaiting review (not filed)"
        + (
            f", [bold]{c['after_cutoff']:,}[/] dated after {c['conviction_cutoff']} "
            "(never on DOJ's list: in no filing)"
            if c["after_cutoff"]
            else ""
        )
    )
    for court in m["courts"]:
        out.print(
            f"  {court['folder']}/: {court['court']}: {court['granted']:,} granted in "
            f"{court['exhibit_a_parts']} exhibit file(s), {court['challenged']:,} challenged",
            highlight=False,
            markup=False,
        )
    out.print(f"  {m['doj_file']['file']}: {m['doj_file']['rows']:,} rows for DOJ", markup=False)
    if m["letters"]:
        lt = m["letters"]
        a = lt["addresses"]
        out.print(
            f"  letters/: {lt['people']:,} people, English and Spanish, dated {lt['date']}",
            markup=False,
        )
        if a["without_address"]:
            where = "no --addresses file" if a["file"] is None else f"from {a['file']}"
            out.print(
                f"  {a['without_address']:,} of {lt['people']:,} people have no address "
                f"({where}): listed, with the reason, in {a['no_address_file']}",
                markup=False,
                highlight=False,
            )
        else:
            out.print(f"  every letter has an address (from {a['file']})", markup=False)
    out.print(f"Filings in {result.out}", markup=False)


def _run_pack(run_dir: Path):
    """The run's rule pack and provenance (None: a run folder that records no pack)."""
    try:
        provenance = json.loads((run_dir / "run.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None, {}  # write_filings names the problem
    if not isinstance(provenance, dict) or not provenance.get("rule_pack"):
        return None, provenance
    try:
        return pack_for_run(provenance), provenance
    except PackMismatch as exc:
        raise FilingsError(str(exc)) from None


def _objections(run_dir, out_dir, law, provenance, office, objections_file, filed_on) -> None:
    """A ca-auto-relief run: petitions to prohibit relief for the marked convictions."""
    marked = read_objections(objections_file) if objections_file is not None else []
    manifest, warnings = write_objection_filings(
        run_dir, out_dir, law, provenance, office, marked, filed_on=filed_on
    )
    for warning in warnings:
        err.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)
    o = manifest["objections"]
    out.print(
        f"{manifest['convictions']['due_or_upcoming']:,} convictions due relief or upcoming "
        f"as of {manifest['run']['as_of']}: [bold]{o['marked']:,}[/] objected to "
        f"({o['late']:,} past the objection deadline), "
        f"[bold]{manifest['not_objected']['rows']:,}[/] not objected to (not-objected.csv)"
    )
    for court, n in o["by_court"].items():
        out.print(f"  {court}/: {n:,} petition(s) to prohibit relief", markup=False)
    out.print(f"Filings in {out_dir}", markup=False)


def person_main(
    run_dirs: list[Path], person: str, out_dir: Path, office_file: Path | None, letters: bool
) -> None:
    """`--person`: one person's petition drafts and letter (person.py)."""
    from clearance.filings.person import write_person_filings

    with user_errors():
        office = load_office(office_file) if office_file is not None else None
        result = write_person_filings(run_dirs, person, office, out_dir, letters=letters)
    for warning in result.warnings:
        err.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)
    m = result.manifest
    runs = ", ".join(f"{r['pack']} ({r['rows']} rows)" for r in m["runs"])
    out.print(f"As of {m['as_of']}, from {runs}:", markup=False, highlight=False)
    if not m["petitions"]:
        out.print("  no petition is open to this person", markup=False)
    for p in m["petitions"]:
        blanks = f"; to complete: {', '.join(p['to_complete'])}" if p["to_complete"] else ""
        out.print(
            f"  {p['files'][0].rsplit('.', 1)[0]}: {p['citation']}, {p['counts']} count(s){blanks}",
            markup=False,
            highlight=False,
        )
    if m["letters"]["files"]:
        out.print("  letter/: the letter to the person, English and Spanish", markup=False)
    out.print(f"Filings in {result.out}", markup=False)
