"""The impact report and the policy comparison (docs/report.md).

``write_report(folder)`` turns a run folder's summary.json and run.json into
report.html and report.pdf; ``public=True`` writes the public variant
(report-public.html, report-public.pdf and summary-public.json), with small counts
suppressed. ``clearance.report.compare`` runs one extract under several policies.

The report reads only the two small JSON files, never the determinations or the
history, so it takes the same second for a county of millions of rows.
"""

from __future__ import annotations

import json
from pathlib import Path

from clearance._folders import (
    FolderError,
    OutputKind,
    check_destination,
    private_dir,
    write_private,
    writing,
)
from clearance.report.figures import ReportError, build, hidden_cells, public_summary, read_run
from clearance.run_common import RUN_FOLDER

__all__ = ["ReportError", "check_report_out", "public_folder", "report_files", "write_report"]


def public_folder(run_dir: Path) -> Path:
    """Where `clearance report --public` writes without --out: `<run folder>-public`,
    beside the run folder, so the public files are never among its personal data."""
    run_dir = Path(run_dir).resolve()
    return run_dir.parent / f"{run_dir.name}-public"


def report_files(public: bool = False) -> tuple[str, ...]:
    """The names ``write_report`` writes."""
    if public:
        return ("report-public.html", "report-public.pdf", "summary-public.json")
    return ("report.html", "report.pdf")


def write_report(folder: Path, *, public: bool = False, out: Path | None = None) -> list[Path]:
    """Write the report of the run in ``folder`` into ``out`` (default: the folder)."""
    # Start-up speed, not a cycle: the writers load only when a report is written.
    from clearance.report import auto_relief, charts, html, pdf

    folder = Path(folder)
    if out is not None:
        check_report_out(out, folder)
    out = Path(out) if out is not None else folder
    summary, run = read_run(folder)
    if auto_relief.is_auto_relief(summary):  # a ca-auto-relief run: its own figures
        report = auto_relief.build(summary, run, public=public)
    else:
        hidden = hidden_cells(summary) if public else set()
        report = build(summary, run, public=public, hidden=hidden)
    drawn = {t.id: charts.draw(t) for t in report.tables() if t.chart is not None and t.rows}
    names = report_files(public)
    paths = [out / name for name in names]
    with writing(out, ReportError):  # a full disk, a folder not writable: one line
        private_dir(out)
        _write(paths[0], html.render(report, drawn).encode("utf-8"))
        _write(paths[1], pdf.render(report, drawn))
        if public:
            figures = public_summary(summary, hidden)
            text = json.dumps(figures, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
            _write(paths[2], text.encode("utf-8"))
    return paths


def _write(path: Path, data: bytes) -> None:
    """Write beside the destination, owner-only, then rename: no half-written report."""
    write_private(path, data)


# A folder `report --out` or `compare --out` writes into, when it is not a run folder.
REPORT_FILES = frozenset(
    {*report_files(False), *report_files(True), "compare.html", "compare.json"}
)
REPORT_FOLDER = OutputKind(
    what="a run folder or a folder of reports",
    marker=None,
    file_ok=REPORT_FILES.__contains__,
    command="clearance report or compare",
)


def check_report_out(out: Path, run_dir: Path) -> None:
    """Refuse a `report`/`compare` --out that is not the run's, a run's or a reports folder.

    The files are written into ``out`` (nothing else in it is removed), so ``out`` must
    be absent, empty, an earlier run's folder, or hold only reports: a file of the same
    name elsewhere is never overwritten. ReportError (one line) otherwise.
    """
    out, run_dir = Path(out), Path(run_dir)
    try:
        if out.exists() and out.resolve() == run_dir.resolve():
            return
        try:
            check_destination(out, RUN_FOLDER)
        except FolderError:
            check_destination(out, REPORT_FOLDER)
    except FolderError as exc:
        raise ReportError(str(exc)) from None
