"""The report's charts, drawn with ReportLab's graphics: one Drawing per chart, written
as inline SVG for the HTML (``reportlab.graphics.renderSVG``) and placed as it is, in
vector form, in the PDF.

Readable in black and white: each series has its own grey and hatching (hatch lines
are drawn as lines, computed to end at the bar's edges: ReportLab has no hatch fill),
bars carry their values as direct labels, and every chart comes with a text
alternative (``Table.alt``, written into the SVG's <title>/<desc>) and the data table
it draws. A hidden figure of the public report is drawn as nothing and labelled ``*``.

Text stays text (Helvetica, one of the PDF's standard fonts; in the SVG the same
family with its metric twins, Arial and Liberation Sans, as fall-backs), so the
figures can be searched and read by screen readers. Layout is computed here from
Helvetica's metrics (no layout pass), and the output is deterministic: no dates, no
random ids, ids prefixed per chart so that the charts do not clash in the page.
Drawing the eight charts of a report takes a few milliseconds.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING

from clearance.report.figures import HIDDEN, Figure, Share, Table

if TYPE_CHECKING:
    from reportlab.graphics.shapes import Drawing

WIDTH = 490  # points (6.8 in); the PDF's text column is 511
FONT = "Helvetica"
SVG_FONT = {"family": "Helvetica, Arial, 'Liberation Sans', sans-serif"}
LABEL_SIZE = 9  # row labels, axis label
VALUE_SIZE = 7.5  # values on and beside the bars
KEY_SIZE = 8  # legend, axis scale, totals
MAX_LABEL = 0.32 * WIDTH  # a longer row label is wrapped onto two lines


@dataclass(frozen=True)
class Style:
    """How a series is filled: a grey, and hatch lines ("/" and/or "\\"), if any."""

    fill: str
    hatch: str = ""
    spacing: float = 4.0  # between hatch lines, points

    @property
    def ink(self) -> str:
        """The colour of a value written on the bar."""
        return "white" if self.fill == "#525252" else "black"


# Distinguishable in print and on screen: hatched white, light grey, dark grey,
# cross-hatched white.
STYLES = (
    Style("white", "/"),
    Style("#bdbdbd"),
    Style("#525252"),
    Style("white", "/\\", 5.0),
)
PAIRED = (Style("white", "/"), Style("#8c8c8c"))


@dataclass(frozen=True)
class Drawn:
    svg: str  # inline <svg> element, with <title> and <desc>
    drawing: Drawing  # the same chart, for the PDF (a platypus flowable)
    width: float  # points
    height: float


def draw(table: Table) -> Drawn:
    """Draw ``table.chart`` once, as a Drawing; write it as SVG too."""
    from reportlab.graphics import renderSVG

    chart = table.chart
    if chart is None:
        raise ValueError(f"the table {table.id!r} has no chart to draw")
    rows = table.rows[: chart.limit] if chart.limit else table.rows
    drawing = _Chart(table, rows).drawing()
    svg = renderSVG.drawToString(drawing, fontHacks={FONT: SVG_FONT})
    return Drawn(_inline(svg, table), drawing, drawing.width, drawing.height)


def _width(text: str, size: float) -> float:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    return stringWidth(text, FONT, size)


def _wrap(label: str) -> list[str]:
    """A row label on one line, or two if it is long (at a space, as even as fits)."""
    if _width(label, LABEL_SIZE) <= MAX_LABEL or " " not in label:
        return [label]
    words = label.split(" ")
    splits = [(" ".join(words[:n]), " ".join(words[n:])) for n in range(1, len(words))]
    fitting = [s for s in splits if _width(s[0], LABEL_SIZE) <= MAX_LABEL] or splits[:1]
    first, rest = min(
        fitting, key=lambda s: abs(_width(s[0], LABEL_SIZE) - _width(s[1], LABEL_SIZE))
    )
    return [first, rest]


def _count(cell) -> int:
    return cell.value if isinstance(cell, Figure) and cell.value is not None else 0


def _baseline(middle: float, size: float) -> float:
    """The baseline that centres digits and capitals on ``middle``, to half a point:
    renderSVG places text by whole units of twice its baseline."""
    return round(2 * (middle - 0.35 * size)) / 2


def _nice_step(span: float, whole: bool, ticks: int = 6) -> float:
    """A round step for about ``ticks`` steps over ``span``; a whole number if ``whole``."""
    raw = span / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    steps = [m * magnitude for m in (1, 2, 2.5, 5, 10)]
    if whole:
        steps = [s for s in steps if s >= 1 and s == int(s)]
    return next(s for s in steps if s >= raw)


class _Chart:
    """The layout of one chart, in points, origin at the bottom left (ReportLab's)."""

    GAP = 4  # between a bar's end and its label

    def __init__(self, table: Table, rows) -> None:
        from reportlab.graphics.shapes import Group

        self.table = table
        self.chart = table.chart
        self.rows = rows
        self.paired = self.chart.kind == "paired"
        self.pitch = 30 if self.paired else 22
        self.labels = [_wrap(row.label) for row in rows]
        lines = [line for label in self.labels for line in label]
        widest = max((_width(line, LABEL_SIZE) for line in lines), default=0)
        self.x0 = round(min(widest + 10, WIDTH / 2), 1)  # the value axis
        self.x1 = WIDTH - 4
        self.series = self.chart.series
        self.styles = PAIRED if self.paired else STYLES
        self.key_rows = self._key_layout()
        self.plot_top = 4 + 14 * len(self.key_rows) + 6
        self.bottom = 30  # the axis, its scale and its label
        self.height = math.ceil(self.plot_top + self.pitch * len(rows) + 4 + self.bottom)
        self.group = Group()

    # -- geometry ----------------------------------------------------------------------

    def middle(self, n: int) -> float:
        """The vertical middle of row ``n`` (the first row on top)."""
        return self.height - self.plot_top - self.pitch * (n + 0.5)

    def fit(self, ends: list[tuple[float, str]], floor: float) -> float:
        """Points per unit such that each bar and the label after it fit, and at least
        ``floor`` units show."""
        room = self.x1 - self.x0
        scales = [room / floor]
        for end, label in ends:
            if end > 0:
                scales.append((room - self.GAP - _width(label, KEY_SIZE)) / end)
        return max(min(scales), 1e-9)

    # -- shapes --------------------------------------------------------------------------

    def add(self, shape) -> None:
        self.group.add(shape)

    def text(self, x, y, text, size, anchor="start", colour="black", tick=False) -> None:
        from reportlab.graphics.shapes import String
        from reportlab.lib.colors import toColor

        string = String(
            round(x, 2), y, text, fontName=FONT, fontSize=size, fillColor=toColor(colour),
            textAnchor=anchor,
        )  # fmt: skip
        if tick:
            string._svgAttrs = {"class": "tick"}  # the axis scale, not a figure
        self.add(string)

    def bar(self, x, y, width, height, style: Style) -> None:
        from reportlab.graphics.shapes import Path, Rect
        from reportlab.lib.colors import black, toColor

        x, y, width, height = (round(v, 2) for v in (x, y, width, height))
        self.add(Rect(x, y, width, height, fillColor=toColor(style.fill), strokeColor=None))
        if style.hatch:
            lines = Path(strokeColor=black, strokeWidth=0.5, fillColor=None)
            for direction in style.hatch:
                _hatch(lines, x, y, x + width, y + height, style.spacing, direction == "/")
            self.add(lines)
        self.add(Rect(x, y, width, height, fillColor=None, strokeColor=black, strokeWidth=0.6))

    def line(self, x1, y1, x2, y2, width=0.8) -> None:
        from reportlab.graphics.shapes import Line
        from reportlab.lib.colors import black

        self.add(Line(x1, y1, x2, y2, strokeColor=black, strokeWidth=width))

    def value(self, x, middle, text, style: Style) -> None:
        """A value centred on a bar segment, on a patch of the fill where hatched."""
        from reportlab.graphics.shapes import Rect
        from reportlab.lib.colors import toColor

        if style.hatch:
            width = _width(text, VALUE_SIZE) + 3
            self.add(
                Rect(
                    round(x - width / 2, 2), middle - VALUE_SIZE * 0.55, round(width, 2),
                    VALUE_SIZE * 1.1, fillColor=toColor(style.fill), strokeColor=None,
                )
            )  # fmt: skip
        self.text(x, _baseline(middle, VALUE_SIZE), text, VALUE_SIZE, "middle", style.ink)

    # -- the parts -------------------------------------------------------------------------

    def drawing(self) -> Drawing:
        """The chart, drawn in reading order (the order a PDF's text is read in): the
        key; each row's label, values and total; the axes."""
        from reportlab.graphics.shapes import Drawing

        self._key()
        if self.paired:
            scale, top = self._paired()
        else:
            scale, top = self._stacked()
        self._axes(scale, top)
        drawing = Drawing(WIDTH, self.height)
        drawing.add(self.group)
        return drawing

    def _stacked(self) -> tuple[float, float]:
        """Horizontal stacked bars, one segment per series; values inside the segments
        they fit in; the row's total after the bar."""
        table = self.table
        total_column = next((i for i, c in enumerate(table.columns) if c.key == "total"), None)
        ends = []
        for row in self.rows:
            end = sum(_count(row.cells[i]) for i in self.series)
            shown = row.cells[total_column] if total_column is not None else None
            label = shown.text if isinstance(shown, Figure) else f"{end:,}"
            hidden = any(getattr(row.cells[i], "hidden", False) for i in self.series)
            if hidden and label != HIDDEN:
                label += f" ({HIDDEN})"
            ends.append((end, label))
        scale = self.fit(ends, max([e for e, _ in ends] + [1]) * 1.05)
        height = self.pitch * 0.62
        for n, (row, (end, label)) in enumerate(zip(self.rows, ends, strict=True)):
            middle = self.middle(n)
            self._row_label(n)
            left = 0
            for k, i in enumerate(self.series):
                style = self.styles[k % len(self.styles)]
                value = _count(row.cells[i])
                if not value:
                    continue
                x, width = self.x0 + left * scale, value * scale
                self.bar(x, middle - height / 2, width, height, style)
                text = f"{value:,}"
                if _width(text, VALUE_SIZE) + 3.5 <= width:  # a little room either side
                    self.value(x + width / 2, middle, text, style)
                left += value
            self.text(
                self.x0 + end * scale + self.GAP, _baseline(middle, KEY_SIZE), label, KEY_SIZE
            )
        return scale, (self.x1 - self.x0) / scale

    def _paired(self) -> tuple[float, float]:
        """Two bars per row (a share of the people helped, a share of everyone), each
        labelled with its share."""
        cells = [[row.cells[i] for i in self.series] for row in self.rows]

        def percent(cell) -> float:
            return (cell.percent or 0.0) if isinstance(cell, Share) else 0.0

        ends = [(percent(c), c.text) for pair in cells for c in pair]
        scale = self.fit(ends, 10.0)
        height = self.pitch * 0.38
        for n, pair in enumerate(cells):
            self._row_label(n)
            for k, cell in enumerate(pair):
                middle = self.middle(n) + (0.2 if k == 0 else -0.2) * self.pitch
                width = percent(cell) * scale
                if width > 0:
                    self.bar(self.x0, middle - height / 2, width, height, self.styles[k])
                self.text(
                    self.x0 + width + self.GAP, _baseline(middle, VALUE_SIZE), cell.text,
                    VALUE_SIZE,
                )  # fmt: skip
        return scale, (self.x1 - self.x0) / scale

    def _row_label(self, n: int) -> None:
        """Row ``n``'s label, right-aligned against the row axis, on one or two lines."""
        lines = self.labels[n]
        leading = LABEL_SIZE + 1
        first = self.middle(n) + leading * (len(lines) - 1) / 2
        for k, line in enumerate(lines):
            y = _baseline(first - k * leading, LABEL_SIZE)
            self.text(self.x0 - 6, y, line, LABEL_SIZE, "end")

    def _axes(self, scale: float, top: float) -> None:
        """The value axis along the bottom, with its scale and label; the row axis on
        the left, with a tick at each row."""
        y_axis = self.height - self.plot_top - self.pitch * len(self.rows) - 4
        self.line(self.x0, y_axis, self.x0, self.height - self.plot_top)
        self.line(self.x0, y_axis, self.x1, y_axis)
        step = _nice_step(top, whole=not self.paired)
        ticks = int(top / step + 1e-9)
        for k in range(ticks + 1):
            value = round(k * step, 6)
            x = round(self.x0 + value * scale, 2)
            self.line(x, y_axis, x, y_axis - 3, 0.6)
            text = f"{value:g}%" if self.paired else f"{value:,.0f}"
            if x + _width(text, KEY_SIZE) / 2 <= WIDTH:  # else cut at the chart's edge
                self.text(x, y_axis - 3 - KEY_SIZE - 1, text, KEY_SIZE, "middle", tick=True)
        self.text((self.x0 + self.x1) / 2, y_axis - 26, self.chart.axis_label, LABEL_SIZE, "middle")
        for n in range(len(self.rows)):
            self.line(self.x0 - 3, self.middle(n), self.x0, self.middle(n), 0.6)

    def _key_layout(self) -> list[list[tuple[float, int]]]:
        """The legend's entries (x, series number), in rows as wide as the chart."""
        rows: list[list[tuple[float, int]]] = [[]]
        x = 2.0
        for k, i in enumerate(self.series):
            width = 16 + 4 + _width(self.table.columns[i].label, KEY_SIZE)
            if rows[-1] and x + width > WIDTH:
                rows.append([])
                x = 2.0
            rows[-1].append((x, k))
            x += width + 16
        return rows

    def _key(self) -> None:
        """The key, across the top of the chart."""
        for r, entries in enumerate(self.key_rows):
            middle = self.height - 4 - 14 * r - 6
            for x, k in entries:
                style = self.styles[k % len(self.styles)]
                self.bar(x, middle - 4.5, 16, 9, style)
                label = self.table.columns[self.series[k]].label
                self.text(x + 20, _baseline(middle, KEY_SIZE), label, KEY_SIZE)


def _hatch(path, x0: float, y0: float, x1: float, y1: float, spacing: float, rising: bool):
    """Add to ``path`` the hatch lines of the rectangle (x0, y0)-(x1, y1): rising (``/``)
    or falling (``\\``) at 45 degrees, on a grid shared by every bar, each cut at the
    rectangle's edges."""
    if rising:  # y = x - c
        first, last = x0 - y1, x1 - y0
    else:  # y = c - x
        first, last = x0 + y0, x1 + y1
    c = math.floor(first / spacing) * spacing
    while c <= last:
        if rising:
            lo, hi = max(x0, y0 + c), min(x1, y1 + c)
            points = (lo, lo - c, hi, hi - c)
        else:
            lo, hi = max(x0, c - y1), min(x1, c - y0)
            points = (lo, c - lo, hi, c - hi)
        if hi - lo > 0.05:
            a, b, e, f = (round(v, 2) for v in points)
            path.moveTo(a, b)
            path.lineTo(e, f)
        c += spacing


_PROLOGUE = re.compile(r"^.*?(?=<svg\b)", re.DOTALL)
_PLACEHOLDERS = re.compile(r"\s*<title>\.\.\.</title>\s*<desc>\.\.\.</desc>")
_BETWEEN_TAGS = re.compile(r">\s+<")  # renderSVG's indentation (no text is blank)


def _inline(svg: str, table: Table) -> str:
    """An <svg> element fit for inlining: no XML prologue, ids unique in the page,
    sized by its viewBox, with the title and text alternative screen readers read."""
    prefix = table.id
    svg = _PROLOGUE.sub("", svg, count=1)
    svg = _PLACEHOLDERS.sub("", svg, count=1)  # renderSVG's "..."; ours go first
    svg = _BETWEEN_TAGS.sub("><", svg).replace(' transform=""', "")
    svg = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}-\1"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", rf"url(#{prefix}-\1)", svg)
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
