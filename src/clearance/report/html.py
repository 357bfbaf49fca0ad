"""The report as one self-contained HTML file: CSS inline, charts as inline SVG.

Nothing is fetched: no script, no font, no stylesheet from elsewhere, so the file
opens the same on a locked-down office machine as on a press officer's laptop.
Every figure is a ``<data>`` element whose ``data-path`` names its place in
summary.json or run.json (a percentage also names its denominator in ``data-of``),
which is how tests/test_report.py checks each one; a hidden figure of the public
report is a ``<span class="hidden">`` with the same path.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from markupsafe import Markup, escape

from clearance.report.charts import Drawn
from clearance.report.figures import (
    DETERMINATION_LABELS,
    HIDDEN_NOTE,
    PEOPLE,
    PEOPLE_LABELS,
    Figure,
    Report,
    Share,
    Table,
)
from clearance.textsafe import xml_safe

TEMPLATES = Path(__file__).parent / "templates"


@cache
def _environment():
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    environment.filters["cell"] = cell
    environment.filters["text"] = text
    environment.globals["number"] = number
    environment.globals["DETERMINATION_LABELS"] = DETERMINATION_LABELS
    environment.tests["numeric"] = lambda c: isinstance(c, Figure | Share)
    return environment


def _path(path: tuple) -> str:
    return json.dumps(list(path), ensure_ascii=False)


def cell(value: Figure | Share | str) -> Markup:
    """One table cell's content: a figure with its source, or plain text."""
    if isinstance(value, Figure):
        if value.hidden:
            return Markup('<span class="hidden" data-path="{}" title="not shown">{}</span>').format(
                _path(value.path), value.text
            )
        return Markup('<data value="{}" data-path="{}">{}</data>').format(
            value.value, _path(value.path), value.text
        )
    if isinstance(value, Share):
        attributes = Markup('data-path="{}" data-of="{}"').format(
            _path(value.part.path), _path(value.whole.path)
        )
        if value.percent is None:
            return Markup('<span class="hidden" {}>{}</span>').format(attributes, value.text)
        return Markup('<data value="{:.4f}" {}>{}</data>').format(
            value.percent, attributes, value.text
        )
    return escape(value)


def text(fragments) -> Markup:
    """A sentence of text and figures."""
    return Markup("").join(cell(f) for f in fragments)


def render(report: Report, charts: dict[str, Drawn]) -> str:
    """The whole page. ``charts`` maps a table's id to its drawn chart."""
    template = _environment().get_template("report.html.j2")
    svgs = {key: Markup(drawn.svg) for key, drawn in charts.items()}
    page = template.render(report=report, charts=svgs, hidden_note=HIDDEN_NOTE, css=_css())
    return xml_safe(page)  # a control character from the data is no character of HTML


def render_compare(comparison: dict, chart: Drawn, table: Table) -> str:
    """The comparison page; ``table`` is the chart's data (convictions by outcome)."""
    template = _environment().get_template("compare.html.j2")
    labels = [(key, PEOPLE_LABELS[key]) for key in PEOPLE]
    page = template.render(
        c=comparison, chart=Markup(chart.svg), table=table, people_labels=labels, css=_css()
    )
    return xml_safe(page)


def number(value: int, *path: str | int, signed: bool = False, size: bool = False) -> Markup:
    """A figure of compare.json, with its place in it (``data-path``). ``signed`` shows
    +/-; ``size`` shows the magnitude only, for sentences that say "more" or "fewer"."""
    shown = f"{value:+,}" if signed else f"{abs(value):,}" if size else f"{value:,}"
    return Markup('<data value="{}" data-path="{}">{}</data>').format(
        value, _path(("compare", *path)), shown
    )


@cache
def _css() -> Markup:
    return Markup((TEMPLATES / "report.css").read_text("utf-8"))
