"""Evaluating person buckets one at a time gives exactly what one pass gives."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

import clearance.run as run_module
from clearance.policy import load_policy
from clearance.sample import SAMPLE_COUNTY, sample_path

OUTPUTS = (
    "determinations.csv",
    "determinations.parquet",
    "determinations.xlsx",
    "summary.json",
    "rejects.csv",
    "history.parquet",
    "people.parquet",
)


def decide(out, policy):
    return run_module.run(
        [sample_path()],
        county=SAMPLE_COUNTY,
        policy=load_policy(policy),
        as_of=dt.date(2020, 7, 1),
        out=out,
    )


@pytest.mark.parametrize("policy", ["statute", "los-angeles-2020"])
def test_outputs_do_not_depend_on_the_number_of_buckets(tmp_path, monkeypatch, policy):
    one = decide(tmp_path / "one", policy)
    monkeypatch.setattr(run_module, "buckets_for", lambda size: 5)
    five = decide(tmp_path / "five", policy)
    assert five.provenance["environment"]["buckets"] == "5"
    assert one.provenance["environment"]["buckets"] == "1"
    for name in OUTPUTS:
        if name == "history.parquet":  # in input order within each person bucket
            a, b = (pl.read_parquet(r.out / name).sort("row_order") for r in (one, five))
            assert a.equals(b)
        else:
            assert (one.out / name).read_bytes() == (five.out / name).read_bytes(), name
