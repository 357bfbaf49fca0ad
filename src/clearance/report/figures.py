"""The impact report's content, built from summary.json and run.json only.

Every number the report shows is a ``Figure`` that carries its place in
summary.json (or run.json), so the HTML and the PDF can be checked against the
files they came from, and so the public variant can hide exactly the cells that
small-cell suppression chose (``clearance.report.suppress``). Percentages are
``Share``s of two figures; sentences are sequences of text and figures.

Nothing here reads the determinations or the history: the report of a run with
millions of rows reads two small JSON files.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clearance.explain import ExplainError, pack_for_run
from clearance.extract.reasons import REJECT_REASONS
from clearance.law import load_rulepack
from clearance.report.suppress import THRESHOLD, Grid, Line, suppress

DETERMINATIONS = ("dismiss", "reduce", "not_eligible", "review")
DETERMINATION_LABELS = {
    "dismiss": "Dismissed",
    "reduce": "Reduced",
    "not_eligible": "Not eligible",
    "review": "For review",
}
# The people figures a comparison shows (compare.html), in order, with their labels.
PEOPLE = (
    "people_in_scope",
    "people_helped",
    "people_no_felony",
    "people_felony_cleared",
    "people_no_conviction",
    "people_no_conviction_7_years",
)
PEOPLE_LABELS = {
    "people_in_scope": "People with a conviction decided",
    "people_helped": "People helped",
    "people_no_felony": "Left with no felony",
    "people_felony_cleared": "Felony record cleared",
    "people_no_conviction": "Left with no conviction",
    "people_no_conviction_7_years": "No conviction in the last seven years",
}
HIDDEN = "*"  # shown for a suppressed figure in the public report
HIDDEN_NOTE = (
    f"* not shown: fewer than {THRESHOLD}, or hidden so that a small count cannot be "
    "worked out from the totals."
)
PLACE_CHART_ROWS = 15  # bars in a chart of courts, agencies or cities; tables list all

# Conviction tables whose rows split the convictions in scope by determination.
CONVICTION_TABLES = (
    "by_section",
    "by_severity",
    "by_decade",
    "by_reason_determination",
    "by_court",
    "by_arresting_agency",
    "by_city",
)
DEMOGRAPHIC_GROUPS = {"people_helped": ("impact", "people_helped"), "everyone": ("subjects",)}
DIMENSIONS = ("race", "gender", "age_band")
PLACE_DIMENSIONS = {
    "court": "by_court",
    "arresting_agency": "by_arresting_agency",
    "city": "by_city",
}

SEVERITY_LABELS = {"F": "Felony", "M": "Misdemeanor", "I": "Infraction"}
GENDER_LABELS = {"F": "Female", "M": "Male"}
UNKNOWN_LABELS = {
    "by_section": "Section not known",
    "by_severity": "Not recorded",
    "by_decade": "Date missing or partial",
    "by_court": "Court not recorded",
    "by_arresting_agency": "No arrest on record for this case",
    "by_city": "No arrest on record for this case",
    "gender": "Not recorded",
    "age_band": "Birth date unknown",
}
NO_CITY = "not a city agency"


def _label(rules, reason: str) -> str:
    """The rule's short label from the rule pack (its `label`), or the code in words."""
    rule = rules.get(reason)
    return rule.label if rule is not None and rule.label else reason.replace("_", " ").capitalize()


# What the report reads from summary.json beyond the tallies (whose absent entries are
# zeros): a summary written before these existed is refused, not shown as zeros.
REQUIRED = (
    ("as_of",),
    ("county",),
    ("policy",),
    ("rows", "read"),
    ("subjects",),
    ("people_in_scope",),
    ("convictions_in_scope",),
    *(("by_determination", d) for d in DETERMINATIONS),
    *(
        ("impact", k)
        for k in (
            "people_helped",
            "people_no_felony",
            "people_felony_cleared",
            "people_no_conviction",
            "people_no_conviction_7_years",
            "felonies_dismissed_or_reduced",
            "convictions_dismissed_or_reduced",
        )
    ),
    ("demographics", "people_helped"),
    ("demographics", "everyone"),
    *((t,) for t in CONVICTION_TABLES),
    ("review_by_reason",),
    ("people_helped_by",),
)


AUTO_RELIEF_REQUIRED = (
    ("as_of",), ("county",), ("policy",), ("rows", "read"), ("subjects",),
    ("records_in_scope",), ("by_determination",), ("by_kind",), ("by_path",),
    ("by_reason_determination",), ("impact", "people_relieved"),
    ("impact", "people_clean_slate"), ("impact", "people_stuck"),
    ("demographics", "people_relieved"), ("demographics", "everyone"),
)  # fmt: skip


class ReportError(Exception):
    """A run folder the report cannot be made from; the message says why."""


Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Figure:
    """One number, and where it comes from: ``("summary", ...)`` or ``("run", ...)``."""

    value: int | None  # None: hidden in the public report
    path: Path_

    @property
    def hidden(self) -> bool:
        return self.value is None

    @property
    def text(self) -> str:
        return HIDDEN if self.value is None else f"{self.value:,}"


@dataclass(frozen=True)
class Share:
    """``part`` as a percentage of ``whole`` (shown rounded to a whole per cent)."""

    part: Figure
    whole: Figure

    @property
    def percent(self) -> float | None:
        if self.part.value is None or self.whole.value is None or self.whole.value == 0:
            return None
        return 100.0 * self.part.value / self.whole.value

    @property
    def hidden(self) -> bool:
        return self.part.hidden or self.whole.hidden

    @property
    def text(self) -> str:
        percent = self.percent
        if percent is None:
            return HIDDEN if self.hidden else "n/a"  # a share of nobody
        return f"{percent:.0f}%"


Cell = Figure | Share | str
Text = tuple[str | Figure | Share, ...]  # a sentence with figures in it


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    numeric: bool = True


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class Chart:
    """How a table is drawn: stacked bars of counts, or paired bars of shares."""

    kind: str  # "stacked" | "paired"
    series: tuple[int, ...]  # indexes of the table's columns drawn
    axis_label: str
    limit: int | None = None  # rows drawn (the table's first rows)


@dataclass(frozen=True)
class Table:
    id: str
    title: str
    intro: str
    row_header: str
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    total: Row | None = None
    chart: Chart | None = None
    notes: tuple[str, ...] = ()

    @property
    def alt(self) -> str:
        """The chart's text alternative: what it shows, row by row (largest first)."""
        if self.chart is None:
            return ""
        rows = self.rows[: self.chart.limit] if self.chart.limit else self.rows
        parts = []
        for row in rows:
            values = ", ".join(
                f"{row.cells[i].text} {self.columns[i].label.lower()}" for i in self.chart.series
            )
            parts.append(f"{row.label}: {values}")
        shown = "" if len(rows) == len(self.rows) else f" (the {len(rows)} largest)"
        kind = "Stacked bars" if self.chart.kind == "stacked" else "Paired bars"
        return f"{kind}, {self.title.lower()}{shown}. " + "; ".join(parts) + "."


@dataclass(frozen=True)
class Headline:
    label: str
    figure: Figure
    note: str = ""


@dataclass(frozen=True)
class HeadlineGroup:
    title: str
    items: tuple[Headline, ...]


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    intro: str
    tables: tuple[Table, ...]


@dataclass(frozen=True)
class Methods:
    policy_name: str
    policy_source: str
    policy_sentences: tuple[str, ...]
    as_of: str
    as_of_source: str
    county: str
    tool_version: str
    rulepack_version: str
    rulepack_note: str
    law: tuple[tuple[str, str], ...]  # (what, citation)
    inputs: Table
    rows: Text
    rejects: Table
    not_tested: Text | None
    definitions: tuple[str, ...]
    places: tuple[str, ...]
    warnings: tuple[str, ...]
    suppression: tuple[str, ...]


@dataclass(frozen=True)
class Report:
    public: bool
    title: str
    subtitle: str
    announcement: tuple[Text, ...]
    headlines: tuple[HeadlineGroup, ...]
    sections: tuple[Section, ...]
    methods: Methods
    pdf_date: str  # the as-of date: the PDF's creation date (never the clock)

    def tables(self) -> Iterable[Table]:
        for section in self.sections:
            yield from section.tables


def read_run(folder: Path) -> tuple[dict, dict]:
    """summary.json and run.json of a run folder (nothing else is read)."""
    folder = Path(folder)
    loaded = []
    for name in ("summary.json", "run.json"):
        path = folder / name
        if not path.is_file():
            raise ReportError(f"{folder} is not a run folder (no {name})")
        try:
            loaded.append(json.loads(path.read_text("utf-8")))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ReportError(f"{path}: cannot be read as JSON ({exc})") from None
    summary, run = loaded
    # A run that decides convictions and arrests (ca-auto-relief) has its own figures.
    required = AUTO_RELIEF_REQUIRED if "by_kind" in summary else REQUIRED
    for path in required:
        node = summary
        for key in path:
            if not isinstance(node, dict) or key not in node:
                raise ReportError(
                    f"{folder / 'summary.json'}: no {'.'.join(path)}; "
                    "it was written by an older clearance: run the extract again"
                )
            node = node[key]
    return summary, run


# --- cells and sums, for suppression ---------------------------------------------


def _get(data: Any, path: Sequence[str | int]) -> Any:
    for key in path:
        # A tally leaves out its zero entries.
        data = data.get(key, 0) if isinstance(data, dict) else data[key]
    return data


def canonical(path: Sequence[str | int]) -> tuple:
    """The suppression cell of a summary.json path (aliases share their original's cell)."""
    path = tuple(path)
    if path[:1] == ("by_reason",):
        return ("by_reason_determination", path[1], "total")
    if path[:1] == ("review_by_reason",):
        return ("by_reason_determination", path[1], "review")
    return path


def cells_and_sums(summary: Mapping) -> tuple[dict[tuple, int], list[Table]]:
    """Every count of people or convictions the report can show, and the tables of sums
    tying them (``clearance.report.suppress``).

    Row counts and rejects describe lines of the input file, not people, and are not
    suppressed (docs/report.md).
    """
    values: dict[tuple, int] = {}
    tables: list[Grid | Line] = []

    def cell(*path: str) -> tuple:
        values[path] = int(_get(summary, path))
        return path

    scope = cell("convictions_in_scope")
    cell("people_in_scope")
    cell("subjects")
    margins = tuple(cell("by_determination", d) for d in DETERMINATIONS)
    tables.append(Line(margins, scope))
    impact = {k: cell("impact", k) for k in summary["impact"]}
    relieved = ("impact", "convictions_dismissed_or_reduced")
    if relieved in values:
        tables.append(Line(margins[:2], relieved))
    for table in CONVICTION_TABLES:
        rows = tuple(
            tuple(cell(table, row, c) for c in (*DETERMINATIONS, "total"))
            for row in summary.get(table, {})
        )
        if rows:
            tables.append(Grid(rows, (*margins, scope)))
    for group, whole in DEMOGRAPHIC_GROUPS.items():
        for dimension in DIMENSIONS:
            keys = _groups(summary, dimension)
            parts = tuple(cell("demographics", group, dimension, k) for k in keys)
            tables.append(Line(parts, whole))
    for dimension in PLACE_DIMENSIONS:
        tally = summary.get("people_helped_by", {}).get(dimension, {})
        parts = tuple(cell("people_helped_by", dimension, k) for k in tally)
        if len(parts) == 1:  # one place: everyone helped was helped there
            tables.append(Line(parts, impact["people_helped"]))
    for key in summary.get("not_tested", {}):
        cell("not_tested", key)
    return values, tables


def hidden_cells(summary: Mapping) -> set[tuple]:
    """The cells the public report hides (``clearance.report.suppress``)."""
    values, tables = cells_and_sums(summary)
    return suppress(values, tables)


def public_summary(summary: Mapping, hidden: set[tuple]) -> dict:
    """summary.json with every hidden figure set to null, for open-data portals."""
    result = json.loads(json.dumps(summary))

    def walk(node: Any, path: tuple) -> Any:
        if isinstance(node, dict):
            return {k: walk(v, (*path, k)) for k, v in node.items()}
        if isinstance(node, int) and not isinstance(node, bool) and canonical(path) in hidden:
            return None
        return node

    result = walk(result, ())
    result["suppression"] = {
        "threshold": THRESHOLD,
        "hidden": "null marks a figure not shown: fewer than "
        f"{THRESHOLD}, or hidden so that a small count cannot be worked out from the totals",
        "method": "docs/report.md, 'Public figures'",
    }
    return result


def _groups(summary: Mapping, dimension: str) -> list[str]:
    """Every group of a demographic dimension, as everyone's tally lists them."""
    demographics = summary["demographics"]
    keys = dict.fromkeys(demographics["everyone"].get(dimension, {}))
    for name, group in demographics.items():
        if name != "everyone":
            keys.update(dict.fromkeys(group.get(dimension, {})))
    return list(keys)


# --- building the report ------------------------------------------------------------


@dataclass
class _Source:
    """Figures from summary.json and run.json, hidden where suppression says so."""

    summary: Mapping
    run: Mapping
    hidden: set[tuple] = field(default_factory=set)

    def __call__(self, *path: str) -> Figure:
        value = int(_get(self.summary, path))
        shown = None if canonical(path) in self.hidden else value
        return Figure(shown, ("summary", *path))

    def run_figure(self, *path: str | int) -> Figure:
        return Figure(int(_get(self.run, path)), ("run", *path))


def _run_pack(run: Mapping):
    """The run's rule pack, or the installed one when it is not available (the methods
    section then says which pack the citations are from)."""
    try:
        return pack_for_run(dict(run))
    except ExplainError:
        return load_rulepack()


def build(
    summary: Mapping, run: Mapping, *, public: bool = False, hidden: set[tuple] | None = None
) -> Report:
    """The report's content. ``public`` hides small cells (and their complements);
    ``hidden`` passes cells already chosen by ``hidden_cells(summary)``."""
    law = _run_pack(run)
    if public and hidden is None:
        hidden = hidden_cells(summary)
    source = _Source(summary, run, hidden if public and hidden is not None else set())
    county = summary["county"]
    policy_name = summary["policy"]
    title = f"Proposition 64 relief in {county.title()} County"
    subtitle = (
        f"Policy: {policy_name} · as of {summary['as_of']} · "
        f"clearance {run.get('tool', {}).get('version', '?')}, "
        f"rule pack {run.get('rule_pack', {}).get('version', '?')}"
    )
    return Report(
        public=public,
        title=title,
        subtitle=subtitle,
        announcement=_announcement(source, summary),
        headlines=_headlines(source, summary),
        sections=(
            Section(
                "convictions",
                "Convictions",
                "Every cannabis conviction (HS 11357-11360) in the county's courts that the "
                "run decided, by what the law and the policy do with it.",
                (
                    _conviction_table(source, "by_section", law),
                    _conviction_table(source, "by_severity", law),
                    _conviction_table(source, "by_decade", law),
                ),
            ),
            Section(
                "people",
                "People helped",
                "A person is helped when at least one conviction is dismissed or reduced. "
                "Each group's share of the people helped stands beside its share of everyone "
                "in the extract: the people with a cannabis conviction in the county, the "
                "disparity the law addresses.",
                tuple(_demographic_table(source, summary, d) for d in DIMENSIONS),
            ),
            Section(
                "places",
                "Where the relief lands",
                "Convictions by the court that convicted, by the agency that arrested or cited "
                "the person, and by the city that agency serves, with the people helped in "
                "each. A person can appear under several.",
                tuple(_place_table(source, summary, d) for d in PLACE_DIMENSIONS),
            ),
            Section(
                "reasons",
                "Reasons",
                "The rule that decided each conviction, in the order the rules are applied, "
                "with the law it rests on; then the convictions a person must review.",
                (_reasons_table(source, summary, law), _review_table(source, summary, law)),
            ),
        ),
        methods=_methods(source, summary, run, law, public),
        pdf_date=summary["as_of"],
    )


def _announcement(source: _Source, summary: Mapping) -> tuple[Text, ...]:
    county = summary["county"].title()
    first: Text = (
        f"Under the policy “{summary['policy']}”, as of {summary['as_of']}, ",
        source("impact", "convictions_dismissed_or_reduced"),
        f" cannabis convictions in {county} County are dismissed or reduced, for ",
        source("impact", "people_helped"),
        " people. ",
        source("impact", "people_no_felony"),
        " of them are left with no felony conviction and ",
        source("impact", "people_no_conviction"),
        " with no conviction at all.",
    )
    helped = summary["demographics"]["people_helped"]["race"]
    named = [g for g in helped if g not in ("Unknown", "Other")]
    top = sorted(named, key=lambda g: (-helped[g], g))[:3]
    if not top:
        return (first,)
    whole = source("impact", "people_helped")
    second: list[str | Figure | Share] = ["Of the people helped, "]
    for i, group in enumerate(top):
        if i:
            second.append(" and " if i == len(top) - 1 else ", ")
        second.append(Share(source("demographics", "people_helped", "race", group), whole))
        second.append(f" are {group}")
    second.append(".")
    return (first, tuple(second))


def _headlines(source: _Source, summary: Mapping) -> tuple[HeadlineGroup, ...]:
    severity = summary["by_severity"]
    felonies = [
        Headline(f"{SEVERITY_LABELS[s]} convictions", source("by_severity", s, "total"))
        for s in ("F", "M", "I")
        if s in severity
    ]
    return (
        HeadlineGroup(
            "Convictions",
            (
                Headline("Cannabis convictions decided", source("convictions_in_scope")),
                Headline("Dismissed", source("by_determination", "dismiss")),
                Headline("Reduced", source("by_determination", "reduce")),
                Headline("Not eligible", source("by_determination", "not_eligible")),
                Headline("For review by a person", source("by_determination", "review")),
            ),
        ),
        HeadlineGroup(
            "Felonies and misdemeanors",
            (
                *felonies,
                Headline(
                    "Felonies dismissed or reduced",
                    source("impact", "felonies_dismissed_or_reduced"),
                ),
            ),
        ),
        HeadlineGroup(
            "People",
            (
                Headline("People with a conviction decided", source("people_in_scope")),
                Headline("People helped", source("impact", "people_helped")),
                Headline(
                    "Left with no felony",
                    source("impact", "people_no_felony"),
                    "people helped whose record keeps no felony",
                ),
                Headline(
                    "Felony record cleared",
                    source("impact", "people_felony_cleared"),
                    "people helped who had a felony and keep none",
                ),
                Headline(
                    "Left with no conviction",
                    source("impact", "people_no_conviction"),
                    "people helped whose every conviction is dismissed",
                ),
                Headline(
                    "No conviction in the last seven years",
                    source("impact", "people_no_conviction_7_years"),
                    "people helped whose remaining convictions are all dated and older",
                ),
            ),
        ),
    )


def _determination_columns() -> tuple[Column, ...]:
    return (
        *(Column(d, DETERMINATION_LABELS[d]) for d in DETERMINATIONS),
        Column("total", "Total"),
    )


def _conviction_rows(source: _Source, table: str, labels: Mapping[str, str]) -> tuple[Row, ...]:
    return tuple(
        Row(
            key,
            labels.get(key, key),
            tuple(source(table, key, c) for c in (*DETERMINATIONS, "total")),
        )
        for key in _ordered(table, source.summary.get(table, {}))
    )


def _total_row(source: _Source) -> Row:
    return Row(
        "total",
        "All convictions",
        (*(source("by_determination", d) for d in DETERMINATIONS), source("convictions_in_scope")),
    )


def _ordered(table: str, rows: Mapping[str, Mapping[str, int]]) -> list[str]:
    """Rows in reading order: by key, or largest first for places; unknowns last."""
    last = ("unknown", NO_CITY)
    keys = [k for k in rows if k not in last]
    if table in PLACE_DIMENSIONS.values():
        keys.sort(key=lambda k: (-rows[k]["total"], k))
    elif table == "by_severity":
        keys.sort(key=lambda k: ("FMI".find(k) if k in "FMI" else 9, k))
    else:
        keys.sort()
    return keys + [k for k in last if k in rows]


def _stacked(axis_label: str, limit: int | None = None) -> Chart:
    return Chart("stacked", tuple(range(len(DETERMINATIONS))), axis_label, limit)


def _conviction_table(source: _Source, table: str, law) -> Table:
    rows = source.summary.get(table, {})
    if table == "by_section":
        labels = {s: f"HS {s} ({law.sections[s].name})" for s in rows if s in law.sections}
        title, header = "Determinations by section", "Section"
        intro = (
            "HS 11357 is possession, 11358 cultivation, 11359 possession for sale and 11360 "
            "sale or transport."
        )
    elif table == "by_severity":
        labels = dict(SEVERITY_LABELS)
        title, header = "Felonies and misdemeanors", "Conviction"
        intro = (
            "As recorded in the extract (CONV_STAT_DESCR, else the charge's type); a "
            "reduced felony becomes a misdemeanor."
        )
    else:
        labels = {}
        title, header = "Convictions by decade of conviction", "Decade"
        intro = "Relief reaches convictions decades old; those after 2016-11-08 are not eligible."
    labels["unknown"] = UNKNOWN_LABELS[table]
    return Table(
        id=table.replace("_", "-"),
        title=title,
        intro=intro,
        row_header=header,
        columns=_determination_columns(),
        rows=_conviction_rows(source, table, labels),
        total=_total_row(source),
        # Felonies and misdemeanors are a few rows the headline figures already give.
        chart=None if table == "by_severity" else _stacked("Convictions"),
    )


def _demographic_table(
    source: _Source,
    summary: Mapping,
    dimension: str,
    group: str = "people_helped",
    label: str = "People helped",
) -> Table:
    """A group of people (``demographics.<group>``, counted in ``impact.<group>``) beside
    everyone in the extract, by one dimension."""
    helped_total = source("impact", group)
    everyone_total = source("subjects")
    keys = _groups(summary, dimension)
    if dimension == "age_band":
        order = ["under 21", "21-29", "30-39", "40-49", "50-59", "60 and over"]
        keys.sort(key=lambda k: (order.index(k) if k in order else len(order), k))
        labels = {"unknown": UNKNOWN_LABELS["age_band"]}
        title, header = f"{label} by age", "Age on the as-of date"
    elif dimension == "gender":
        keys.sort(key=lambda k: (k == "unknown", k))
        labels = {**GENDER_LABELS, "unknown": UNKNOWN_LABELS["gender"]}
        title, header = f"{label} by gender", "Gender"
    else:
        helped = summary["demographics"]["everyone"]["race"]
        keys.sort(key=lambda k: (k in ("Other", "Unknown"), -helped.get(k, 0), k))
        labels = {}
        title, header = f"{label} by race or ethnicity", "Race or ethnicity"
    rows = []
    for key in keys:
        helped = source("demographics", group, dimension, key)
        everyone = source("demographics", "everyone", dimension, key)
        rows.append(
            Row(
                key,
                labels.get(key, key),
                (helped, Share(helped, helped_total), everyone, Share(everyone, everyone_total)),
            )
        )
    total = Row(
        "total",
        "All people",
        (
            helped_total,
            Share(helped_total, helped_total),
            everyone_total,
            Share(everyone_total, everyone_total),
        ),
    )
    intro = {
        "race": "Race or ethnicity as the extract records it (RACE_CODE), grouped.",
        "gender": "Gender as the extract records it.",
        "age_band": "Age on the as-of date, from the date of birth.",
    }[dimension]
    return Table(
        id=f"people-{dimension.replace('_', '-')}"
        + ("" if group == "people_helped" else f"-{group.replace('_', '-')}"),
        title=title,
        intro=intro,
        row_header=header,
        columns=(
            Column("helped", label),
            Column("helped_share", f"Share of {label.lower()}"),
            Column("everyone", "Everyone in the extract"),
            Column("everyone_share", "Share of everyone"),
        ),
        rows=tuple(rows),
        total=total,
        chart=Chart("paired", (1, 3), "Share of people"),
    )


def _place_table(source: _Source, summary: Mapping, dimension: str) -> Table:
    table = PLACE_DIMENSIONS[dimension]
    rows = summary.get(table, {})
    labels = {"unknown": UNKNOWN_LABELS[table]}
    if dimension == "city":
        labels.update({k: k.title() for k in rows if k not in ("unknown", NO_CITY)})
        labels[NO_CITY] = "No city named (sheriff, county or state agency)"
    built = []
    for key in _ordered(table, rows):
        cells = tuple(source(table, key, c) for c in (*DETERMINATIONS, "total"))
        built.append(
            Row(key, labels.get(key, key), (*cells, source("people_helped_by", dimension, key)))
        )
    title, header, intro = {
        "court": (
            "By court",
            "Court",
            "The court of the conviction (STP_ORI_DESCR of the court action).",
        ),
        "arresting_agency": (
            "By arresting agency",
            "Arresting agency",
            "The agency that arrested or cited the person in the same cycle. The extract "
            "does not name the prosecuting agency (district attorney or city attorney).",
        ),
        "city": (
            "By city",
            "City",
            "The city whose police department arrested or cited the person; a sheriff's "
            "arrest names no city.",
        ),
    }[dimension]
    notes = ()
    if len(built) > PLACE_CHART_ROWS:
        notes = (f"The chart shows the {PLACE_CHART_ROWS} largest; the table lists all.",)
    return Table(
        id=f"places-{dimension.replace('_', '-')}",
        title=title,
        intro=intro,
        row_header=header,
        columns=(*_determination_columns(), Column("people_helped", "People helped")),
        rows=tuple(built),
        total=Row(
            "total",
            "All convictions",
            (*_total_row(source).cells, source("impact", "people_helped")),
        ),
        chart=_stacked("Convictions", PLACE_CHART_ROWS),
        notes=notes,
    )


def _rule_order(law, reasons: Iterable[str]) -> list[str]:
    known = list(law.rules_by_reason())
    return sorted(reasons, key=lambda r: (known.index(r) if r in known else len(known), r))


def _reasons_table(source: _Source, summary: Mapping, law) -> Table:
    rules = law.rules_by_reason()
    rows = []
    for reason in _rule_order(law, summary.get("by_reason_determination", {})):
        rule = rules.get(reason)
        counts = tuple(
            source("by_reason_determination", reason, c) for c in (*DETERMINATIONS, "total")
        )
        rows.append(
            Row(
                reason,
                _label(rules, reason),
                (
                    rule.description if rule else "",
                    rule.citation if rule else "",
                    *counts,
                ),
            )
        )
    return Table(
        id="reasons",
        title="Reasons for the determinations",
        intro="One row per rule that decided at least one conviction.",
        row_header="Reason",
        columns=(
            Column("description", "What it means", numeric=False),
            Column("citation", "Law", numeric=False),
            *_determination_columns(),
        ),
        rows=tuple(rows),
        total=Row("total", "All convictions", ("", "", *_total_row(source).cells)),
    )


def _review_table(source: _Source, summary: Mapping, law) -> Table:
    rules = law.rules_by_reason()
    rows = [
        Row(
            reason,
            _label(rules, reason),
            (
                rules[reason].description if reason in rules else "",
                source("review_by_reason", reason),
            ),
        )
        for reason in _rule_order(law, summary.get("review_by_reason", {}))
    ]
    return Table(
        id="review-queue",
        title="The review queue",
        intro=(
            "Convictions the engine does not decide alone: an attorney looks at each one "
            "(clearance explain shows the history and every rule)."
        ),
        row_header="Why it needs review",
        columns=(
            Column("description", "What to check", numeric=False),
            Column("review", "Convictions"),
        ),
        rows=tuple(rows),
        total=Row(
            "total", "All convictions for review", ("", source("by_determination", "review"))
        ),
    )


def inputs_table(source: _Source, run: Mapping) -> Table:
    """The run's input files: SHA-256 and lines read, used and rejected (run.json)."""
    rows = tuple(
        Row(
            str(i),
            item.get("name", "?"),
            (
                item.get("sha256", ""),
                source.run_figure("inputs", i, "rows_read"),
                source.run_figure("inputs", i, "rows_used"),
                source.run_figure("inputs", i, "rows_rejected"),
            ),
        )
        for i, item in enumerate(run.get("inputs", []))
    )
    return Table(
        id="inputs",
        title="Input files",
        intro="",
        row_header="File",
        columns=(
            Column("sha256", "SHA-256", numeric=False),
            Column("rows_read", "Lines read"),
            Column("rows_used", "Used"),
            Column("rows_rejected", "Rejected"),
        ),
        rows=rows,
    )


def rejects_table(source: _Source, summary: Mapping) -> Table:
    """The lines rejected, by reason (summary.json)."""
    rows = tuple(
        Row(
            code,
            REJECT_REASONS.get(code, code.replace("_", " ")),
            (source("rejects_by_reason", code),),
        )
        for code in summary.get("rejects_by_reason", {})
    )
    return Table(
        id="rejects",
        title="Lines rejected, by reason",
        intro="Every rejected line is listed in rejects.csv with its file and line number.",
        row_header="Reason",
        columns=(Column("rejected", "Lines"),),
        rows=rows,
        total=Row("total", "All lines rejected", (source("rows", "rejected"),)),
    )


def _methods(source: _Source, summary: Mapping, run: Mapping, law, public: bool) -> Methods:
    from clearance.policy import PolicyError, describe, policy_from_mapping

    raw_policy = dict(run.get("policy") or {})
    policy_source = str(raw_policy.pop("source", "")) or "not recorded"
    try:
        policy = policy_from_mapping(raw_policy, source=policy_source).with_county(
            summary["county"]
        )
        sentences = tuple(describe(policy))
    except (PolicyError, KeyError):
        sentences = ("The run's policy could not be read back from run.json.",)
    version = run.get("rule_pack", {}).get("version", "not recorded")
    rulepack_note = (
        ""
        if version == law.version
        else f"The run used rule pack {version}; the citations below are from rule pack "
        f"{law.version}, installed now."
    )
    used = _rule_order(law, summary.get("by_reason_determination", {}))
    rules = law.rules_by_reason()
    cited = tuple((_label(rules, r), rules[r].citation) for r in used if r in rules)
    as_of_source = {
        "argument": "given with the run (--as-of)",
        "today": "the day of the run (no --as-of was given)",
    }.get(run.get("as_of_source", ""), run.get("as_of_source", "not recorded"))
    not_tested = summary.get("not_tested") or {}
    not_tested_text: Text | None = None
    if not_tested:
        parts: list[str | Figure | Share] = [
            "Some tests could not be made because a fact was unknown (an invalid birth "
            "date, say); the test then does not apply. Convictions not tested, by test: "
        ]
        for i, key in enumerate(not_tested):
            parts.extend(
                [", " if i else "", f"{key.replace('_', ' ')} ", source("not_tested", key)]
            )
        parts.append(".")
        not_tested_text = tuple(parts)
    suppression = ()
    if public:
        suppression = (
            f"This is the public version: it contains no personal data, and every count of "
            f"people or convictions from 1 to {THRESHOLD - 1} is hidden (primary suppression).",
            "Other counts are hidden as well where a hidden count could otherwise be worked "
            "out by subtraction from a row, column or headline total (complementary "
            "suppression). Tables are protected together, because a headline total is shared "
            "by several tables. Zeros are shown.",
            "Counts of lines read and rejected describe the input file, not people, and are "
            "shown in full.",
            HIDDEN_NOTE,
        )
    return Methods(
        policy_name=summary["policy"],
        policy_source=policy_source,
        policy_sentences=sentences,
        as_of=summary["as_of"],
        as_of_source=as_of_source,
        county=summary["county"],
        tool_version=run.get("tool", {}).get("version", "not recorded"),
        rulepack_version=version,
        rulepack_note=rulepack_note,
        law=(
            ("Relief for convictions before Prop 64", "HS 11361.8"),
            ("Automatic review of the DOJ's list by the prosecution", "HS 11361.9"),
            (
                "Conviction cut-off " + law.conviction_cutoff.isoformat(),
                law.conviction_cutoff_citation,
            ),
            *cited,
        ),
        inputs=inputs_table(source, run),
        rows=(
            source("rows", "read"),
            " lines read, ",
            source("rows", "used"),
            " used and ",
            source("rows", "rejected"),
            " rejected"
            + (
                " (every line accounted for)."
                if summary["rows"].get("reconciled")
                else "; the counts do not reconcile."
            ),
        ),
        rejects=rejects_table(source, summary),
        not_tested=not_tested_text,
        definitions=(
            "People helped: people with at least one conviction dismissed or reduced.",
            "Left with no felony: people helped none of whose convictions, anywhere, remains "
            "a felony (a felony counts as remaining unless this run dismisses or reduces it; "
            "a conviction of unknown severity is not counted as a felony).",
            "Left with no conviction: people helped every one of whose convictions, anywhere, "
            "is dismissed by this run.",
            "No conviction in the last seven years: people helped whose remaining "
            "convictions are all dated more than seven years before the as-of date.",
            "Everyone in the extract: every person the DOJ extract holds, whatever the county "
            "of their convictions.",
        ),
        places=(
            "The extract does not name the prosecuting agency. The report shows instead the "
            "agency that arrested or cited the person for the same case (the first arrest "
            "recorded with the conviction).",
            "A city is named only when that agency is a city police department (the city is "
            "part of its name, e.g. CAPD GALT); an arrest by a sheriff or another county or "
            "state agency names no city. Convictions with no arrest on record for their case "
            "are shown as such.",
        ),
        warnings=tuple(run.get("warnings", [])),
        suppression=suppression,
    )
