"""The impact report of a California automatic-relief run (ca-auto-relief).

The same page and PDF as Prop 64's (html.py, pdf.py draw any ``Report``), with this
law's figures from summary.json: records by kind and determination, relief by path
and by reason, the people with a clean slate and those stuck only on records a
person must review, and the people relieved beside everyone in the extract by
race or ethnicity, gender and age. Every figure names its place in summary.json.
"""

from __future__ import annotations

from collections.abc import Mapping

from clearance.report.figures import (
    DIMENSIONS,
    Chart,
    Column,
    Headline,
    HeadlineGroup,
    Methods,
    Report,
    ReportError,
    Row,
    Section,
    Table,
    Text,
    _demographic_table,
    _run_pack,
    _Source,
    inputs_table,
    rejects_table,
)

DETERMINATIONS = ("relief", "upcoming", "not_eligible", "review")
LABELS = {
    "relief": "Relief due",
    "upcoming": "Eligible later",
    "not_eligible": "Not eligible",
    "review": "Review",
}
KIND_LABELS = {"conviction": "Convictions (PC 1203.425)", "arrest": "Arrests (PC 851.93)"}
PATH_LABELS = {
    "conviction I-a": "Conviction, probation completed (I-a)",
    "conviction I-b": "Conviction, misdemeanor sentence completed (I-b)",
    "conviction II": "Conviction, felony four years after completion (II)",
    "arrest A": "Arrest, misdemeanor dismissed (A)",
    "arrest B": "Arrest, misdemeanor, no charges or acquitted (B)",
    "arrest C": "Arrest, felony, no charges or acquitted (C)",
    "arrest D": "Arrest, diversion completed (D)",
}


def is_auto_relief(summary: Mapping) -> bool:
    """A summary.json of a run that decides convictions and arrests (this report)."""
    return "by_kind" in summary


def _columns() -> tuple[Column, ...]:
    return (*(Column(d, LABELS[d]) for d in DETERMINATIONS), Column("total", "Total"))


def _kind_table(source: _Source, summary: Mapping) -> Table:
    rows = []
    for kind in ("conviction", "arrest"):
        cells = [source("by_kind", kind, d) for d in (*DETERMINATIONS, "total")]
        rows.append(Row(kind, KIND_LABELS[kind], tuple(cells)))
    return Table(
        id="by-kind",
        title="Records by kind",
        intro="Every conviction count and every arrest of the county that the run decided.",
        row_header="Record",
        columns=_columns(),
        rows=tuple(rows),
        total=Row(
            "total",
            "All records",
            (*(source("by_determination", d) for d in DETERMINATIONS), source("records_in_scope")),
        ),
        chart=Chart("stacked", tuple(range(len(DETERMINATIONS))), "Records"),
    )


def _path_table(source: _Source, summary: Mapping) -> Table:
    paths = summary.get("by_path", {})
    order = [p for p in PATH_LABELS if p in paths] + sorted(
        p for p in paths if p not in PATH_LABELS
    )
    rows = tuple(
        Row(
            p,
            PATH_LABELS.get(p, p),
            (source("by_path", p, "relief"), source("by_path", p, "upcoming")),
        )
        for p in order
    )
    return Table(
        id="by-path",
        title="Relief by path",
        intro=(
            "The path of the statute each record is relieved by: due on or before the as-of "
            "date, or eligible on a later date (the prosecution may petition to prohibit "
            "conviction relief until 90 days before it)."
        ),
        row_header="Path",
        columns=(Column("relief", LABELS["relief"]), Column("upcoming", LABELS["upcoming"])),
        rows=rows,
        chart=Chart("stacked", (0, 1), "Records"),
    )


def _reason_table(source: _Source, summary: Mapping, law) -> Table:
    reasons = summary.get("by_reason_determination", {})
    order = [s.reason for s in law.steps]
    keys = sorted(reasons, key=lambda r: (order.index(r) if r in order else len(order), r))
    rules = law.rules_by_reason()
    rows = tuple(
        Row(
            r,
            (rules[r].label or r) if r in rules else r,
            tuple(source("by_reason_determination", r, c) for c in (*DETERMINATIONS, "total")),
        )
        for r in keys
    )
    return Table(
        id="by-reason",
        title="Records by reason",
        intro="The rule that decided each record, in the order the rules are applied.",
        row_header="Reason",
        columns=_columns(),
        rows=rows,
    )


def build(summary: Mapping, run: Mapping, *, public: bool = False) -> Report:
    if public:
        raise ReportError(
            "the public report (small counts hidden) is made for Prop 64 runs only so far; "
            "this run is a ca-auto-relief run: share its report.html within the office"
        )
    law = _run_pack(run)
    source = _Source(summary, run, set())
    county = summary["county"].title()
    announcement: tuple[Text, ...] = (
        (
            f"As of {summary['as_of']}, ",
            source("by_kind", "conviction", "relief"),
            " convictions and ",
            source("by_kind", "arrest", "relief"),
            f" arrests in {county} County are due automatic relief, for ",
            source("impact", "people_relieved"),
            " people; ",
            source("by_determination", "upcoming"),
            " more records become eligible on a later date.",
        ),
        (
            source("impact", "people_clean_slate"),
            " people have every record the run decided relieved (a clean slate); ",
            source("impact", "people_stuck"),
            " are left with a record only because the records cannot decide a case and a "
            "person must review it.",
        ),
    )
    headlines = (
        HeadlineGroup(
            "Records",
            tuple(Headline(LABELS[d], source("by_determination", d)) for d in DETERMINATIONS),
        ),
        HeadlineGroup(
            "People",
            (
                Headline(
                    "Relieved",
                    source("impact", "people_relieved"),
                    "at least one record due relief",
                ),
                Headline(
                    "Clean slate",
                    source("impact", "people_clean_slate"),
                    "every record decided is relieved, now or already",
                ),
                Headline(
                    "Stuck",
                    source("impact", "people_stuck"),
                    "left with a record only by records a person must review",
                ),
            ),
        ),
    )
    sections = (
        Section(
            "records",
            "Records",
            "Convictions relieved under PC 1203.425 and arrests under PC 851.93, as the "
            "DOJ's records show them.",
            (
                _kind_table(source, summary),
                _path_table(source, summary),
                _reason_table(source, summary, law),
            ),
        ),
        Section(
            "people",
            "People relieved",
            "A person is relieved when at least one record is due relief. Each group's share "
            "of the people relieved stands beside its share of everyone in the extract.",
            tuple(
                _demographic_table(source, summary, d, "people_relieved", "People relieved")
                for d in DIMENSIONS
            ),
        ),
    )
    return Report(
        public=False,
        title=f"Automatic relief in {county} County",
        subtitle=(
            f"PC 1203.425 and 851.93 · policy: {summary['policy']} · as of {summary['as_of']} · "
            f"clearance {run.get('tool', {}).get('version', '?')}, rule pack "
            f"{law.name} {run.get('rule_pack', {}).get('version', '?')}"
        ),
        announcement=announcement,
        headlines=headlines,
        sections=sections,
        methods=_methods(source, summary, run, law),
        pdf_date=summary["as_of"],
    )


def _methods(source: _Source, summary: Mapping, run: Mapping, law) -> Methods:
    policy = dict(run.get("policy") or {})
    sentences = tuple(
        f"{setting.description} {policy.get(key) if policy.get(key) is not None else 'none'}."
        for key, setting in law.settings.items()
    )
    cited = tuple((s.rule.label or s.reason, s.rule.citation) for s in law.steps if s.rule)
    return Methods(
        policy_name=summary["policy"],
        policy_source=str(policy.get("source") or "not recorded"),
        policy_sentences=sentences,
        as_of=summary["as_of"],
        as_of_source={
            "argument": "given with the run (--as-of)",
            "today": "the day of the run (no --as-of was given)",
        }.get(run.get("as_of_source", ""), "not recorded"),
        county=summary["county"],
        tool_version=run.get("tool", {}).get("version", "not recorded"),
        rulepack_version=run.get("rule_pack", {}).get("version", "not recorded"),
        rulepack_note=f"Rule pack {law.name}: {law.title}.",
        law=tuple(dict.fromkeys(cited)),
        inputs=inputs_table(source, run),
        rows=(
            source("rows", "read"),
            " lines read, ",
            source("rows", "used"),
            " used and ",
            source("rows", "rejected"),
            " rejected.",
        ),
        rejects=rejects_table(source, summary),
        not_tested=None,
        definitions=(
            "Relief due: the records show eligibility on or before the as-of date.",
            "Eligible later: eligible on a later date (eligible_on); the worklist upcoming.csv "
            "lists the next months' convictions by the last day to petition to prohibit relief.",
            "Clean slate: every record of the person that the run decided (in this county) is "
            "due relief now or was relieved already.",
            "Stuck: the person's records are relieved except those a person must review (the "
            "records cannot decide them: a missing disposition, an unreadable sentence ...).",
            "Everyone in the extract: every person the DOJ extract holds.",
        ),
        places=(),
        warnings=tuple(run.get("warnings", [])),
        suppression=(),
    )


__all__ = ["build", "is_auto_relief"]
