"""Render an Explanation on a terminal (Rich), or as plain text when piped.

Every value from the run passes ``shown`` (control characters replaced, markup
escaped): a name is printed as written, and never styles or moves the terminal.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from clearance.explain import Explanation
from clearance.textsafe import shown

STATUS_STYLE = {
    "applies": "bold",
    "does not apply": "",
    "not tested": "yellow",
    "not used by policy": "dim",
    "not reached": "dim",
}


def _sentence(row: dict) -> str:
    parts = [
        f"{row[k]}{unit}"
        for k, unit in (("sent_years", "y"), ("sent_months", "m"), ("sent_days", "d"))
        if row.get(k)
    ]
    if row.get("sent_unknown"):
        parts.append("unreadable part")
    return " ".join(parts)


def render(explanation: Explanation, console: Console) -> None:
    person = explanation.person
    born = person.get("dob") or person.get("dob_raw") or "unknown"
    console.print(
        f"[bold]{shown(person.get('name') or '(no name)')}[/]  "
        f"subject {shown(person['subject_id'])}  CII {shown(person.get('cii_number') or '-')}  "
        f"born {shown(born)}  "
        f"{shown(person.get('gender') or '')} {shown(person.get('race') or '')}",
        highlight=False,
    )
    flags = [
        text
        for key, text in (("deceased", "death recorded"), ("registered_290", "PC 290 registration"))
        if person.get(key)
    ]
    if flags:
        console.print("Record shows: " + ", ".join(flags), highlight=False)
    console.print(
        f"Policy: {explanation.policy.get('name')}; as of {explanation.as_of}",
        highlight=False,
        markup=False,
    )
    if explanation.pack:
        pack = explanation.pack
        where = "" if pack.get("source", "installed") == "installed" else f" from {pack['source']}"
        console.print(
            f"Rule pack: {pack.get('name')} {pack.get('version')} "
            f"(SHA-256 {pack.get('sha256') or 'not recorded'}){where}",
            highlight=False,
            markup=False,
        )

    timeline = Table(title="History", show_lines=False)
    for column in ("date", "event", "court or agency", "county", "charge", "disposition", "sev",
                   "sentence"):  # fmt: skip
        timeline.add_column(column)
    for row in explanation.timeline:
        date = (
            row["event_date"].isoformat()
            if row.get("event_date")
            else (f"invalid ({row.get('event_date_raw') or 'missing'})")
        )
        cells = (
            date,
            row.get("event_type") or "",
            row.get("agency") or "",
            row.get("county") or "",
            row.get("offense_raw") or row.get("charge") or "",
            row.get("disposition") or "",
            row.get("severity") or "",
            _sentence(row),
        )
        timeline.add_row(*(shown(cell) for cell in cells))
    console.print(timeline)

    for decision in explanation.decisions:
        c = decision.conviction
        if c.get("kind") == "arrest":
            console.print(
                f"\n[bold]Arrest {shown(c.get('cyc_order'))}/{shown(c.get('stp_order'))}[/] "
                f"(cycle/step) on {shown(c.get('arrest_date') or 'unknown date')} by "
                f"{shown(c.get('agency') or 'unknown agency')}: {shown(c.get('offense'))} "
                f"({shown(c.get('severity') or 'level unknown')})",
                highlight=False,
            )
        else:
            console.print(
                f"\n[bold]Conviction {shown(c['cnt_order'])}[/] on {shown(c['conviction_date'])} "
                f"in {shown(c.get('court') or 'unknown court')}, "
                f"case {shown(c.get('case_number') or 'unknown')}: "
                f"{shown(c.get('offense'))} ({shown(c.get('severity') or 'severity unknown')})",
                highlight=False,
            )
        console.print(
            f"  → [bold]{shown(c['determination'])}[/] ({shown(c['reason'])}), "
            f"rule {shown(c['rule'])}, {shown(c['citation'])}",
            highlight=False,
        )
        for what, value in decision.evidence:
            console.print(f"  {what}: {value}", highlight=False, markup=False)
        rules = Table(show_header=True, box=None, pad_edge=False)
        for column in ("#", "rule", "test", "result", "facts", "citation"):
            rules.add_column(column)
        for check in decision.checks:
            style = STATUS_STYLE[check.status]
            rules.add_row(
                str(check.step),
                check.reason,
                shown(check.test),
                f"[{style}]{check.status}[/]" if style else check.status,
                shown(check.detail),
                shown(check.citation),
            )
        console.print(rules)
        for provision, words in decision.statute:
            console.print(f"  {provision}: “{words}”", highlight=False, markup=False)
        if c.get("not_tested"):
            console.print(f"  Could not be tested (input unknown): {c['not_tested']}", markup=False)
