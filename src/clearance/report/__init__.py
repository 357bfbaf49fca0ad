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

from clearance.report.figures import ReportError, build, hidden_cells, public_summary, read_run

__all__ = ["ReportError", "report_files", "write_report"]


def report_files(public: bool = False) -> tuple[str, ...]:
    """The names ``write_report`` writes."""
    if public:
        return ("report-public.html", "report-public.pdf", "summary-public.json")
    return ("report.html", "report.pdf")


def write_report(folder: Path, *, public: bool = False, out: Path | None = None) -> list[Path]:
    """Write the report of the run in ``folder`` into ``out`` (default: the folder)."""
    from clearance.report import charts, html, pdf

    folder = Path(folder)
    out = Path(out) if out is not None else folder
    summary, run = read_run(folder)
    hidden = hidden_cells(summary) if public else set()
    report = build(summary, run, public=public, hidden=hidden)
    drawn = {t.id: charts.draw(t) for t in report.tables() if t.chart is not None and t.rows}
    out.mkdir(parents=True, exist_ok=True)
    names = report_files(public)
    paths = [out / name for name in names]
    _write(paths[0], html.render(report, drawn).encode("utf-8"))
    _write(paths[1], pdf.render(report, drawn))
    if public:
        figures = public_summary(summary, hidden)
        text = json.dumps(figures, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        _write(paths[2], text.encode("utf-8"))
    return paths


def _write(path: Path, data: bytes) -> None:
    """Write beside the destination, then rename: no half-written report is left."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(data)
    partial.replace(path)
