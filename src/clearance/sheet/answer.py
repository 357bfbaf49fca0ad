"""The one-screen answer of `clearance sheet`, for a defender to read aloud.

From ``sheet.json``'s per-pack rows: what is relieved automatically, what will be
and when, what is stuck and why, and which petitions are open. No name, date of
birth or other identifier is printed: the person is their CII number.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.table import Table

from clearance.textsafe import shown

# ca-auto-relief's determinations, in the answer's words.
AUTOMATIC = "relief"
COMING = "upcoming"
STUCK = ("review", "not_eligible")


def _what(row: dict) -> str:
    section = row.get("section") or "charge unread"
    severity = {"F": "felony", "M": "misdemeanor", "I": "infraction"}.get(row.get("severity"), "")
    kind = "arrest" if row.get("kind") == "arrest" else "conviction"
    return " ".join(p for p in (section, severity, kind) if p)


def _where(row: dict) -> str:
    case = f" #{row['case_number']}" if row.get("case_number") else ""
    place = row.get("agency") if row.get("kind") == "arrest" else row.get("court")
    return f"{place or row.get('county') or ''}{case}"


def _table(title: str, rows: list[tuple[str, ...]], columns: tuple[str, ...]) -> Table:
    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    for c in columns:
        table.add_column(c, overflow="fold")
    for r in rows:
        table.add_row(*(shown(v) for v in r))
    return table


@dataclass
class Sections:
    """The answer's four parts, each a list of rows of text (date first, sorted):
    relieved automatically, to be relieved (and when), stuck (and why), and the
    petitions open by petition."""

    auto: list[tuple[str, ...]] = field(default_factory=list)
    coming: list[tuple[str, ...]] = field(default_factory=list)
    stuck: list[tuple[str, ...]] = field(default_factory=list)
    petitions: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)


def sections(answer: dict) -> Sections:
    """Sort ``sheet.json``'s rows into the answer's parts (the command and the web
    app show the same)."""
    auto, coming, stuck, petitions = [], [], [], {}
    for pack, by_county in answer["packs"].items():
        for rows in by_county.values():
            for row in rows["rows"]:
                when, what, where = row.get("date") or "date unknown", _what(row), _where(row)
                d = row["determination"]
                if pack == "prop64":
                    if d in ("dismiss", "reduce"):
                        outcome = "dismiss" if d == "dismiss" else "reduce to a misdemeanor"
                        key = (when, where, what, f"Prop 64: {outcome}")
                        petitions.setdefault("HS 11361.8 (Prop 64)", []).append(key)
                    else:
                        stuck.append(
                            (
                                when,
                                where,
                                what,
                                f"Prop 64: {d.replace('_', ' ')}",
                                row.get("reason") or "",
                                row.get("citation") or "",
                            )
                        )
                    continue
                if d == AUTOMATIC:
                    auto.append((when, where, what, row.get("citation") or ""))
                elif d == COMING:
                    coming.append(
                        (
                            when,
                            where,
                            what,
                            row.get("eligible_on") or "unknown",
                            row.get("citation") or "",
                        )
                    )
                elif d in STUCK:
                    stuck.append(
                        (
                            when,
                            where,
                            what,
                            d.replace("_", " "),
                            row.get("reason") or "",
                            row.get("citation") or "",
                        )
                    )
                for p in row.get("petitions") or []:
                    petitions.setdefault(f"PC {p}", []).append((when, where, what, "petition open"))
    for section in (auto, coming, stuck):
        section.sort()
    petitions = {name: sorted(set(rows)) for name, rows in sorted(petitions.items())}
    return Sections(auto, coming, stuck, petitions)


def render(answer: dict, screen) -> None:
    """Print the answer on ``screen`` (a Rich console)."""
    lines = answer["sheet"]["lines"]
    counties = ", ".join(answer["counties"])
    screen.print(
        f"Rap sheet of CII {shown(answer['subject_id'])}: {lines['read']:,} lines read, "
        f"{lines['rejected']:,} rejected; {answer['sheet']['counts']:,} counts. "
        f"As of {answer['as_of']}, for {shown(counties)} ({answer['county_source']})."
    )
    parts = sections(answer)
    auto, coming, stuck, petitions = parts.auto, parts.coming, parts.stuck, parts.petitions
    if auto:
        screen.print(
            _table(
                "Relieved automatically (no petition needed)",
                auto,
                ("date", "court or agency", "what", "law"),
            )
        )
    if coming:
        screen.print(
            _table(
                "Will be relieved automatically",
                coming,
                ("date", "court or agency", "what", "on", "law"),
            )
        )
    if stuck:
        screen.print(
            _table(
                "Stuck: not relieved, and why",
                stuck,
                ("date", "court or agency", "what", "answer", "reason", "law"),
            )
        )
    if petitions:
        table = Table(title="Petitions open", title_justify="left", show_edge=False, pad_edge=False)
        for c in ("petition", "date", "court or agency", "what"):
            table.add_column(c, overflow="fold")
        for name, rows in petitions.items():
            for when, where, what, _ in rows:
                table.add_row(shown(name), shown(when), shown(where), shown(what))
        screen.print(table)
    if not (auto or coming or stuck or petitions):
        screen.print("No conviction or arrest on the sheet is in scope of any rule pack.")
