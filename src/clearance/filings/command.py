"""`clearance filings`: the command's body (cli.py registers it and parses options).

Kept here so the command line stays a thin layer: read the office file, write the
filings with a progress bar on a terminal, print what was written and say so
when the office fields were left to fill in. Failures a user can fix print one
line naming the file and the problem, and exit with status 2.
"""

from __future__ import annotations

from pathlib import Path

from clearance.console import err, out, progress_bar, user_errors
from clearance.filings.build import write_filings
from clearance.filings.office import load_office
from clearance.textsafe import shown

__all__ = ["main"]


def main(
    run_dir: Path, out_dir: Path, office_file: Path | None, part_size: int, letters: bool
) -> None:
    with user_errors():  # FilingsError (and OfficeError) print as one line, exit 2
        office = load_office(office_file) if office_file is not None else None
        with progress_bar("Writing filings", None) as advance:
            result = write_filings(
                run_dir,
                out_dir,
                office,
                part_size=part_size,
                letters=letters,
                progress=advance,
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
        out.print(f"  letters/: {m['letters']['people']:,} people, English and Spanish")
    out.print(f"Filings in {result.out}", markup=False)
