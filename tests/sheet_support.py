"""Helpers for the rap-sheet tests: decide staged rows directly, as a run does."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from clearance.extract import model as model_
from clearance.extract.reader import read_extracts
from clearance.law.rulepack import installed_packs, load_pack
from clearance.policy import load_policy
from clearance.rules.engine import determine

AS_OF = dt.date(2026, 7, 1)
# What a determination says, without where it was read from (file, line, subject id).
COMPARED = ("cii_number", "cnt_order", "determination", "reason", "rule", "citation")


def staged(path: Path, work: Path) -> pl.DataFrame:
    """An extract's staged rows, as the extract reader gives them."""
    return read_extracts([path], work).rows.collect().sort("source_file", "line")


def decided(rows: pl.DataFrame, county: str, as_of: dt.date = AS_OF) -> dict[str, pl.DataFrame]:
    """Every installed pack's determinations of the staged rows, by pack name."""
    files = rows["source_file"].unique(maintain_order=True).to_list()
    # As a run builds it (`run._Decide`): rows in input order, each person's together.
    built = model_.build(rows.lazy(), files, in_order=True, grouped=True)
    counts, people, lines = pl.collect_all([built.counts, built.people, built.lines])
    model = model_.Model(people.lazy(), built.events, counts.lazy(), lines.lazy())
    out = {}
    for name in installed_packs():
        law = load_pack(name)
        table = determine(model, load_policy("statute", law), county, as_of, law).collect()
        cols = [c for c in (*COMPARED, "kind", "eligible_on", "petitions") if c in table.columns]
        out[name] = table.select(cols).sort(cols, nulls_last=True)
    return out
