"""The report's charts, drawn with matplotlib: SVG for the HTML, PNG for the PDF.

Readable in black and white: each series has its own hatch and grey, bars carry
their values as direct labels, and every chart comes with a text alternative
(``Table.alt``, written into the SVG's <title>/<desc>) and the data table it draws.
A hidden figure of the public report is drawn as nothing and labelled ``*``.

matplotlib is imported only when a chart is drawn (it costs most of a second), and
through its object API, not pyplot, so no global figure state is kept. Output is
deterministic: fixed fonts, no dates in the metadata, and ids salted per chart.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from html import escape

from clearance.report.figures import HIDDEN, Figure, Share, Table

# Fill grey and hatch per series: distinguishable in print and on screen.
STYLES = (
    ("white", "////"),
    ("#bdbdbd", ""),
    ("#525252", ""),
    ("white", "xxx"),  # not dots: a dot pattern is a large path in SVG
)
PAIRED = (("white", "////"), ("#8c8c8c", ""))
WIDTH_INCHES = 6.8
PNG_DPI = 150
FONT = "DejaVu Sans"  # ships with matplotlib: the same glyphs on every machine


@dataclass(frozen=True)
class Drawn:
    svg: str  # inline <svg> element, with <title> and <desc>
    png: bytes
    width_inches: float
    height_inches: float


def draw(table: Table) -> Drawn:
    """Draw ``table.chart`` once; save it as SVG and as PNG."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure as MplFigure

    chart = table.chart
    assert chart is not None
    rows = table.rows[: chart.limit] if chart.limit else table.rows
    height = 1.3 + (0.42 if chart.kind == "paired" else 0.3) * len(rows)
    settings = {
        "font.family": FONT,
        "font.size": 9,
        "hatch.linewidth": 0.6,
        "svg.fonttype": "none",  # text stays text: searchable, and read by screen readers
        "svg.hashsalt": table.id,
        "axes.spines.top": False,
        "axes.spines.right": False,
    }
    with matplotlib.rc_context(settings):
        figure = MplFigure(figsize=(WIDTH_INCHES, height))
        axes = figure.add_subplot()
        if chart.kind == "stacked":
            _stacked(axes, table, rows)
        else:
            _paired(axes, table, rows)
        axes.set_xlabel(chart.axis_label)
        axes.invert_yaxis()  # first row on top, as in the table
        _margins(figure, rows, height)
        svg_buffer = io.StringIO()
        figure.savefig(svg_buffer, format="svg", metadata={"Date": None, "Creator": None})
        png_buffer = io.BytesIO()
        figure.savefig(
            png_buffer,
            format="png",
            dpi=PNG_DPI,
            metadata={"Software": None},
            pil_kwargs={"compress_level": 3},  # fast; the PDF compresses again anyway
        )
    return Drawn(_inline(svg_buffer.getvalue(), table), png_buffer.getvalue(), WIDTH_INCHES, height)


def _margins(figure, rows, height: float) -> None:
    """Fixed margins from the widest row label, measured in the chart's font: a layout
    pass (tight_layout) would cost another full draw of every chart."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    font = FontProperties(family=FONT, size=9)
    measure = TextToPath().get_text_width_height_descent
    widest = max((measure(row.label, font, ismath=False)[0] for row in rows), default=0.0)
    left = min(0.6, (0.2 + widest / 72) / WIDTH_INCHES)
    figure.subplots_adjust(left=left, right=0.97, top=1 - 0.45 / height, bottom=0.55 / height)


def _count(cell) -> int:
    return cell.value if isinstance(cell, Figure) and cell.value is not None else 0


def _stacked(axes, table: Table, rows) -> None:
    """Horizontal stacked bars, one segment per series; values inside wide segments."""
    series = table.chart.series
    totals = [sum(_count(row.cells[i]) for i in series) for row in rows]
    widest = max(totals, default=0) or 1
    positions = range(len(rows))
    left = [0] * len(rows)
    for n, i in enumerate(series):
        fill, hatch = STYLES[n % len(STYLES)]
        widths = [_count(row.cells[i]) for row in rows]
        bars = axes.barh(
            positions,
            widths,
            left=left,
            height=0.62,
            color=fill,
            hatch=hatch,
            edgecolor="black",
            linewidth=0.6,
            label=table.columns[i].label,
        )
        for bar, value in zip(bars, widths, strict=True):
            if value and value / widest >= 0.06:
                axes.text(
                    bar.get_x() + bar.get_width() / 2,
                    bar.get_y() + bar.get_height() / 2,
                    f"{value:,}",
                    ha="center",
                    va="center",
                    fontsize=7.5,
                    color="white" if fill == "#525252" else "black",
                    bbox={"boxstyle": "square,pad=0.1", "fc": fill, "ec": "none"}
                    if hatch
                    else None,
                )
        left = [a + b for a, b in zip(left, widths, strict=True)]
    total_column = next((i for i, c in enumerate(table.columns) if c.key == "total"), None)
    for y, (row, end) in enumerate(zip(rows, left, strict=True)):
        shown = row.cells[total_column] if total_column is not None else None
        hidden = any(getattr(row.cells[i], "hidden", False) for i in series)
        label = shown.text if isinstance(shown, Figure) else f"{end:,}"
        if hidden and label != HIDDEN:
            label += f" ({HIDDEN})"
        axes.text(end + widest * 0.01, y, label, va="center", fontsize=8)
    axes.set_yticks(list(positions), [row.label for row in rows])
    axes.set_xlim(0, widest * 1.12)
    _legend(axes, len(series))


def _paired(axes, table: Table, rows) -> None:
    """Two bars per row (a share of the people helped, a share of everyone), labelled."""
    first, second = table.chart.series
    positions = range(len(rows))
    shares = []
    for n, i in enumerate((first, second)):
        fill, hatch = PAIRED[n]
        cells = [row.cells[i] for row in rows]
        values = [(c.percent or 0.0) if isinstance(c, Share) else 0.0 for c in cells]
        shares.extend(values)
        offset = -0.2 if n == 0 else 0.2
        axes.barh(
            [p + offset for p in positions],
            values,
            height=0.38,
            color=fill,
            hatch=hatch,
            edgecolor="black",
            linewidth=0.6,
            label=table.columns[i].label,
        )
        for p, cell, value in zip(positions, cells, values, strict=True):
            axes.text(value + 0.8, p + offset, cell.text, va="center", fontsize=7.5)
    axes.set_yticks(list(positions), [row.label for row in rows])
    axes.set_xlim(0, max([*shares, 10.0]) * 1.15 + 4)
    axes.xaxis.set_major_formatter(lambda x, _: f"{x:.0f}%")
    _legend(axes, 2)


def _legend(axes, columns: int) -> None:
    """The key, in one row across the top of the figure (not of the axes, which a long
    row label pushes right)."""
    handles, labels = axes.get_legend_handles_labels()
    axes.figure.legend(
        handles,
        labels,
        loc="upper left",
        bbox_to_anchor=(0.01, 0.995),
        ncol=columns,
        frameon=False,
        fontsize=8,
        handlelength=2.2,
        handleheight=1.1,
    )


_PROLOGUE = re.compile(r"^.*?(?=<svg\b)", re.DOTALL)
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.DOTALL)


def _inline(svg: str, table: Table) -> str:
    """An <svg> element fit for inlining: no XML prologue, ids unique in the page,
    sized by its viewBox, with the title and text alternative screen readers read."""
    prefix = table.id
    svg = _PROLOGUE.sub("", svg, count=1)
    svg = _METADATA.sub("", svg)
    svg = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}-\1"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", rf"url(#{prefix}-\1)", svg)
    svg = re.sub(r'href="#([^"]+)"', rf'href="#{prefix}-\1"', svg)
    svg = re.sub(r'(<svg\b[^>]*?)\swidth="[^"]*"\s+height="[^"]*"', r"\1", svg, count=1)
    opening = svg.index(">", svg.index("<svg")) + 1
    head = svg[: opening - 1] + (
        f' role="img" aria-labelledby="{prefix}-title {prefix}-desc" class="chart">'
    )
    labels = (
        f'<title id="{prefix}-title">{escape(table.title)}</title>'
        f'<desc id="{prefix}-desc">{escape(table.alt)}</desc>'
    )
    return head + labels + svg[opening:]
