"""The integer keys of text columns stay the same across a group's queries (extract/keys.py).

Polars drops its global categories once no categorical value is alive, and numbers
texts afresh at the next cast: a code made in one query need not be the code another
query makes for the same text. ``keys.pinned()`` keeps them; ca-auto-relief makes all
its keys while it is held, so the row decided for a count always carries its own
person's name, birth date and PC 290 registration.
"""

from __future__ import annotations

import datetime as dt
import gc
import threading
from pathlib import Path

import polars as pl

from clearance.extract import keys
from clearance.extract import model as model_
from clearance.extract.reader import read_extracts
from clearance.law import load_pack
from clearance.policy import load_policy
from clearance.rules.engine import determine
from clearance.synth import generate


def _codes(texts: list[str]) -> dict[str, int]:
    frame = pl.DataFrame({"t": texts}).select("t", c=keys.code("t"))
    return dict(frame.iter_rows())


def test_a_text_keeps_its_code_across_queries_while_pinned():
    with keys.pinned():
        first = _codes(["a", "b", "c"])
        # Another query meets other texts, and the same ones in another order; nothing
        # categorical of ours is alive in between.
        pl.DataFrame({"t": ["z", "c", "y", "b", "a"]}).select(keys.code("t"))
        gc.collect()
        again = _codes(["c", "b", "a", "z"])
    assert {t: again[t] for t in first} == first
    assert len(set(again.values())) == 4  # distinct texts, distinct codes


def test_pins_nest_and_hold_across_threads():
    seen = []
    with keys.pinned():
        first = _codes(["p", "q"])
        with keys.pinned():
            assert keys.is_pinned()

        def elsewhere():
            with keys.pinned():
                seen.append(_codes(["q", "p", "r"]))

        thread = threading.Thread(target=elsewhere)
        thread.start()
        thread.join()
        assert keys.is_pinned()  # the inner holders left; the outer still holds
        assert {t: seen[0][t] for t in first} == first


def test_each_row_decided_carries_its_own_persons_facts(tmp_path: Path):
    """The rules' tables are keyed in one stretch; the query that joins people to the
    rows is evaluated later, here while other codes are alive for the same SUBJECT_IDs
    in another order (as another group's query, or another thread, could hold them)."""
    extract = tmp_path / "x.dat"
    generate(extract, subjects=300, seed=11)
    read = read_extracts([extract], tmp_path / "work")
    model = model_.build(read.rows, [extract.name])
    with keys.pinned():
        counts, people, lines = pl.collect_all([model.counts, model.people, model.lines])
    law = load_pack("ca-auto-relief")
    query = determine(
        model_.Model(people.lazy(), model.events, counts.lazy(), lines.lazy()),
        load_policy("statute", law),
        "SACRAMENTO",
        dt.date(2026, 7, 1),
        law,
    )
    ids = sorted(people["subject_id"].to_list(), reverse=True)
    other_codes = pl.Series(["\0other", *ids]).cast(pl.Categorical)
    decided = query.collect()
    del other_codes
    own = people.select("subject_id", own_cii="cii_number", own_name="name", own_dob="dob")
    joined = decided.join(own, on="subject_id", how="left")
    assert decided.height > 100
    assert joined.filter(
        (pl.col("cii_number") != pl.col("own_cii"))
        | (pl.col("name") != pl.col("own_name"))
        | (pl.col("dob") != pl.col("own_dob"))
    ).is_empty()
