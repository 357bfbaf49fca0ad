"""What a run shares with its engines, the report and the commands.

Kept apart from run.py so that the Spark engine, the report and the command line
can use these without importing the run (which imports them): ``RunError``, the
run folder's files, the checks of the as-of date and the county, and the
``Evaluation`` an engine hands the output writers. ``clearance.run`` re-exports
every name here.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import polars as pl

from clearance._folders import OutputKind
from clearance.extract import model as model_
from clearance.law import RulePack, load_rulepack
from clearance.outputs import spill

__all__ = [
    "HISTORY_FILE",
    "PEOPLE_FILE",
    "RUN_FILES",
    "RUN_FOLDER",
    "Evaluation",
    "RunError",
    "check_as_of",
    "check_county",
    "check_extracts",
    "county_convictions",
    "json_text",
]

# Written into the folder so `explain` and later steps need nothing but the folder.
HISTORY_FILE = "history.parquet"
PEOPLE_FILE = "people.parquet"
# Every file a run folder may hold: what a run writes, then what `report` (also
# --public) and `compare` add to it. `--out` replaces only such a folder (_folders.py).
RUN_FILES = frozenset(
    {
        "determinations.csv",
        "determinations.parquet",
        "determinations.xlsx",
        "summary.json",
        "rejects.csv",
        "run.json",
        HISTORY_FILE,
        PEOPLE_FILE,
        "report.html",
        "report.pdf",
        "report-public.html",
        "report-public.pdf",
        "summary-public.json",
        "compare.html",
        "compare.json",
    }
)
RUN_FOLDER = OutputKind(
    what="an earlier run's output folder",
    marker="run.json",
    file_ok=RUN_FILES.__contains__,
    work_dirs=r"\.compare\.partial-\d+",  # what a killed `compare` leaves
)


class RunError(Exception):
    """A run that cannot proceed; the message says why in plain words."""


def json_text(data: dict) -> str:
    """``data`` as the JSON files of a folder are written: indented, keys sorted."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n"


@dataclass
class Evaluation:
    """What an engine hands the output writers.

    Either ``results`` (the local engine: every group's results, tallied and held in
    memory or spilled to disk, outputs/spill.py), or ``decided`` and ``model``:
    ``decided`` is ``determine(...)`` collected and sorted by (``subject_id``,
    ``cnt_order``), with at least the columns ``outputs.determinations.table``
    reads; ``model.people`` holds everyone in the extract and ``model.counts`` at
    least every count of every person determined (summary.json and the history read
    no other counts). ``environment`` adds the engine's name and versions to
    run.json. ``history_written``: the engine already wrote history.parquet (the
    counts of everyone determined) into the output folder.
    """

    decided: pl.DataFrame | None
    model: model_.Model | None
    environment: dict[str, str] = field(default_factory=dict)
    history_written: bool = False
    results: spill.Results | None = None


def check_as_of(as_of: dt.date, law: RulePack | None = None, *, label: str = "as-of date") -> None:
    """Refuse an as-of date before the law took effect (the rule pack's `effective_date`).

    Before Proposition 64 took effect there was no relief to decide (prop64.md, "Dates").
    """
    law = law or load_rulepack()
    if as_of < law.effective_date:
        what = "Proposition 64" if law.functions == "prop64" else f"the law of {law.name}"
        raise RunError(
            f"{label} {as_of.isoformat()} is before {what} took effect "
            f"({law.effective_date.isoformat()}); there was no relief yet"
        )


def county_convictions(counts: pl.DataFrame) -> dict[str, int]:
    """Every county the counts name, with how many of them are convictions."""
    tally = (
        counts.lazy()
        .filter(pl.col("county").is_not_null())
        .group_by("county")
        .agg(pl.col("convicted").fill_null(False).sum().alias("n"))
        .collect()
    )
    return dict(zip(tally["county"].to_list(), tally["n"].to_list(), strict=True))


ALL_COUNTIES = "ALL"  # --county ALL: a statewide run


def check_extracts(files: Sequence, rejects: pl.DataFrame | None = None) -> None:
    """Stop at the first input file none of whose lines could be used: it is not an
    extract (a wrong file), whatever county or policy was asked for.

    One line naming the file, how many lines it had, and the first line's reason
    (reasons never quote a line's content).
    """
    for f in files:
        if f.rows_used:
            continue
        if not f.rows_read:
            raise RunError(f"{f.name}: not a DOJ extract: the file has no data line")
        first = ""
        if rejects is not None and rejects.height:
            mine = rejects.filter(pl.col("source_file") == f.name).head(1)
            if mine.height:
                first = f" (line {mine['line'][0]}: {mine['reason'][0]})"
        raise RunError(
            f"{f.name}: not a DOJ extract: none of its {f.rows_read:,} lines could be "
            f"used{first}; docs/extract-format.md describes the format"
        )


def check_county(found: Mapping[str, int] | Sequence[str], county: str) -> None:
    """Stop a run whose county no event names (a typo, or the wrong file).

    One line: the closest county's name when one is close (difflib), then every
    county the extract names, with its convictions when ``found`` counts them.
    """
    if county in found or county == ALL_COUNTIES:
        return
    names = sorted(found)
    close = difflib.get_close_matches(county, names, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else "."
    if isinstance(found, Mapping):
        listed = ", ".join(f"{name} {found[name]:,}" for name in names)
        what = "The extract's counties, with their convictions"
    else:
        listed = ", ".join(names)
        what = "The extract's counties"
    raise RunError(
        f"no event in the extract names the county {county!r}{hint} {what}: {listed or 'none'}"
    )
