"""Evaluating groups of people one at a time gives exactly what one pass gives.

A run decides its files as it reads them, in batches of whole people, when each
person's rows are together (as DOJ writes them); otherwise (a file sorted another
way, or county extracts that repeat a history) it splits the rows into person
buckets first. Every way gives the same outputs.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import clearance.run as run_module
from clearance.extract.reader import (
    PEEK_BYTES,
    NotGrouped,
    _first_and_last_subject,
    in_one_order,
    person_batches,
)
from clearance.policy import load_policy
from clearance.sample import SAMPLE_COUNTY, sample_path
from conftest import header as conftest_header
from conftest import line

OUTPUTS = (
    "determinations.csv",
    "determinations.parquet",
    "determinations.xlsx",
    "summary.json",
    "rejects.csv",
    "history.parquet",
    "people.parquet",
)


def decide(out, policy, inputs=None):
    return run_module.run(
        inputs or [sample_path()],
        county=SAMPLE_COUNTY,
        policy=load_policy(policy),
        as_of=dt.date(2020, 7, 1),
        out=out,
    )


def assert_same_outputs(a, b):
    for name in OUTPUTS:
        if name == "history.parquet":  # in input order within each group of people
            x, y = (pl.read_parquet(r.out / name).sort("row_order") for r in (a, b))
            assert x.equals(y)
        else:
            assert (a.out / name).read_bytes() == (b.out / name).read_bytes(), name


@pytest.mark.parametrize("policy", ["statute", "los-angeles-2020"])
def test_outputs_do_not_depend_on_how_people_are_grouped(tmp_path, monkeypatch, policy):
    # Small batches, so that the sample (7,619 lines) is decided in several.
    monkeypatch.setattr(run_module, "STREAM_BATCH_ROWS", 700)
    monkeypatch.setattr(run_module, "STREAM_CHUNK_BYTES", 64 * 1024)
    streamed = decide(tmp_path / "streamed", policy)
    assert streamed.provenance["environment"]["staging"] == "stream"
    monkeypatch.setattr(run_module, "STREAM", False)
    one = decide(tmp_path / "one", policy)
    monkeypatch.setattr(run_module, "buckets_for", lambda size: 5)
    five = decide(tmp_path / "five", policy)
    assert five.provenance["environment"]["buckets"] == "5"
    assert one.provenance["environment"]["buckets"] == "1"
    assert_same_outputs(one, five)
    assert_same_outputs(one, streamed)


def test_a_file_whose_people_are_apart_is_split_into_buckets(tmp_path, monkeypatch):
    """Rows in another order (a person's rows apart) give the same determinations."""
    lines = sample_path().read_bytes().splitlines(keepends=True)
    random.Random(7).shuffle(lines)
    shuffled = tmp_path / "shuffled.dat"
    shuffled.write_bytes(b"".join(lines))
    monkeypatch.setattr(run_module, "STREAM_CHUNK_BYTES", 64 * 1024)
    result = decide(tmp_path / "out", "statute", [shuffled])
    assert result.provenance["environment"]["staging"] == "buckets"
    original = decide(tmp_path / "original", "statute")
    assert result.provenance["rows"] == original.provenance["rows"]
    # A person's name comes from their first line in input order (docs/model.md); the
    # sample writes some lines of a few people with a Latin-1 spelling (MU\xd1OZ), so
    # a shuffle may pick the other spelling: compare names with the N-tilde folded.
    decided = [
        pl.read_csv(r.out / "determinations.csv", infer_schema=False)
        .drop("line", "source_file")
        .with_columns(pl.col("name").str.replace_all("\u00d1", "N", literal=True))
        for r in (result, original)
    ]
    assert decided[0].equals(decided[1])


@pytest.mark.parametrize("inside_a_person", [False, True])
def test_an_extract_cut_into_files_is_streamed(tmp_path, monkeypatch, inside_a_person):
    """An extract cut into files is decided as it is read, even when a cut falls
    inside a person's history (the files, in order, still hold it together)."""
    lines = sample_path().read_bytes().splitlines(keepends=True)
    ids = pl.Series([line.split(b",")[2] for line in lines])
    starts = ids.ne_missing(ids.shift(1)).arg_true().to_list()
    cuts = [0, starts[len(starts) // 3], starts[2 * len(starts) // 3], len(lines)]
    if inside_a_person:
        cuts[1] += 1
        assert ids[cuts[1]] == ids[cuts[1] - 1]
    parts = []
    for i, (start, end) in enumerate(itertools.pairwise(cuts)):
        parts.append(tmp_path / f"part{i}.dat")
        parts[-1].write_bytes(b"".join(lines[start:end]))
    monkeypatch.setattr(run_module, "STREAM_BATCH_ROWS", 700)
    streamed = decide(tmp_path / "streamed", "statute", parts)
    assert streamed.provenance["environment"]["staging"] == "stream"
    assert [f["name"] for f in streamed.provenance["inputs"]] == [p.name for p in parts]
    monkeypatch.setattr(run_module, "STREAM", False)
    bucketed = decide(tmp_path / "bucketed", "statute", parts)
    assert bucketed.provenance["environment"]["staging"] == "buckets"
    assert_same_outputs(streamed, bucketed)


def test_files_that_repeat_a_history_are_split_into_buckets(tmp_path):
    """Two county extracts that both hold a person's history: the person is read twice."""
    result = decide(tmp_path / "out", "statute", [sample_path(), sample_path()])
    assert result.provenance["environment"]["staging"] == "buckets"
    once = decide(tmp_path / "once", "statute")
    assert result.summary["convictions_in_scope"] == once.summary["convictions_in_scope"]


# --- person_batches -------------------------------------------------------------------


def frames(*chunks: str) -> list[pl.DataFrame]:
    """Chunks of staged rows, one letter a row: the letter is the person."""
    line = 0
    out = []
    for chunk in chunks:
        out.append(
            pl.DataFrame({"subject_id": list(chunk), "line": range(line, line + len(chunk))})
        )
        line += len(chunk)
    return out


def people(batches) -> list[str]:
    return ["".join(b["subject_id"]) for b in batches]


def test_a_person_cut_by_a_chunk_is_carried_whole_into_one_batch():
    batches = list(person_batches(frames("aab", "bbc", "cd"), rows=3))
    assert people(batches) == ["aa", "bbb", "cc", "d"]
    assert pl.concat(batches)["line"].to_list() == list(range(8))  # input order, all rows


def test_one_person_longer_than_a_batch_stays_in_one_batch():
    assert people(person_batches(frames("aaa", "aaa", "ab"), rows=2)) == ["aaaaaaa", "b"]


def test_small_inputs_are_one_batch():
    assert people(person_batches(frames("ab", "c"), rows=100)) == ["abc"]
    assert people(person_batches([], rows=100)) == []


@pytest.mark.parametrize(
    "chunks",
    [
        ("aba",),  # apart within a batch
        ("aab", "bbc", "ca"),  # back in a later batch
        ("ab", "ba"),  # apart across the carried rows
    ],
)
def test_a_person_whose_rows_are_apart_stops_the_batches(chunks):
    with pytest.raises(NotGrouped):
        list(person_batches(frames(*chunks), rows=2))


@given(
    sizes=st.lists(st.integers(1, 6), min_size=0, max_size=30),
    cuts=st.lists(st.integers(1, 9), min_size=1, max_size=40),
    rows=st.integers(1, 12),
)
@settings(max_examples=200, deadline=None)
def test_batches_are_the_input_in_order_cut_between_people(sizes, cuts, rows):
    """Any chunking of grouped rows gives batches of whole people, all rows, in order."""
    ids = [f"p{person:03d}" for person, size in enumerate(sizes) for _ in range(size)]
    chunks, start, i = [], 0, 0
    while start < len(ids):
        end = start + cuts[i % len(cuts)]
        chunks.append(ids[start:end])
        start, i = end, i + 1
    staged = [pl.DataFrame({"subject_id": c}, schema={"subject_id": pl.String}) for c in chunks]
    batches = list(person_batches(staged, rows))
    assert [s for b in batches for s in b["subject_id"]] == ids
    owners = [set(b["subject_id"]) for b in batches]
    assert sum(len(o) for o in owners) == len(set(ids))  # nobody in two batches
    assert all(b.height for b in batches)


@given(
    sizes=st.lists(st.integers(1, 4), min_size=2, max_size=12),
    data=st.data(),
)
@settings(max_examples=200, deadline=None)
def test_a_person_whose_rows_come_back_later_is_always_found(sizes, data):
    ids = [f"p{person:03d}" for person, size in enumerate(sizes) for _ in range(size)]
    moved = data.draw(st.sampled_from(sorted(set(ids[: -sizes[-1]]))))
    ids.append(moved)  # one more row of someone earlier, after somebody else's rows
    cut = data.draw(st.integers(1, 5))
    rows = data.draw(st.integers(1, 20))
    staged = [
        pl.DataFrame({"subject_id": ids[i : i + cut]}, schema={"subject_id": pl.String})
        for i in range(0, len(ids), cut)
    ]
    with pytest.raises(NotGrouped):
        list(person_batches(staged, rows))


def test_county_extracts_whose_people_overlap_go_straight_to_buckets(tmp_path, monkeypatch):
    """Extracts that each start before the previous one ends are not parts of one
    extract: their repeated histories would stop a stream only once reached."""
    lines = sample_path().read_bytes().splitlines(keepends=True)
    first, second = tmp_path / "a.dat", tmp_path / "b.dat"
    first.write_bytes(b"".join(lines[: len(lines) * 2 // 3]))
    second.write_bytes(b"".join(lines[len(lines) // 3 :]))  # a third of the people again

    def no_stream(*args, **kwargs):
        raise AssertionError("the files were streamed first")

    monkeypatch.setattr(run_module, "_evaluate_stream", no_stream)
    result = decide(tmp_path / "out", "statute", [first, second])
    assert result.provenance["environment"]["staging"] == "buckets"
    monkeypatch.undo()
    once = decide(tmp_path / "once", "statute")
    assert result.summary["convictions_in_scope"] == once.summary["convictions_in_scope"]


def test_files_in_order_that_repeat_a_history_after_all_fall_back_to_buckets(tmp_path):
    """The files' ends say "one extract", but a history comes back in the second."""
    lines = sample_path().read_bytes().splitlines(keepends=True)
    ids = [line.split(b",")[2] for line in lines]
    cut = ids.index(ids[len(ids) // 2])  # the start of a person
    again = [line for line, i in zip(lines, ids, strict=True) if i == ids[0]]
    rest = lines[cut:]
    first, second = tmp_path / "a.dat", tmp_path / "b.dat"
    first.write_bytes(b"".join(lines[:cut]))
    second.write_bytes(b"".join(rest[:10] + again + rest[10:]))
    assert in_one_order([first, second])
    result = decide(tmp_path / "out", "statute", [first, second])
    assert result.provenance["environment"]["staging"] == "buckets"
    once = decide(tmp_path / "once", "statute")
    assert result.summary["convictions_in_scope"] == once.summary["convictions_in_scope"]


# --- which way to read several files ------------------------------------------------


def extract(path, subjects, header=False, bom=False, blank_lines=0) -> None:
    rows = [line(SUBJECT_ID=s) for s in subjects]
    text = "\n".join(([conftest_header()] if header else []) + rows) + "\n" * (1 + blank_lines)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())


@pytest.mark.parametrize("header", [False, True])
@pytest.mark.parametrize("bom", [False, True])
def test_the_first_and_last_person_of_a_file_are_read_from_its_ends(tmp_path, header, bom):
    path = tmp_path / "x.dat"
    extract(path, ["7", "7", "9", "10"], header=header, bom=bom, blank_lines=2)
    assert _first_and_last_subject(path) == ("7", "10")


def test_a_large_file_is_read_only_at_its_ends(tmp_path):
    path = tmp_path / "x.dat"
    extract(path, [str(1000 + i // 3) for i in range(3000)])  # about 1 MB
    assert path.stat().st_size > 4 * PEEK_BYTES
    assert _first_and_last_subject(path) == ("1000", "1999")


def test_parts_of_one_extract_are_in_one_order_and_overlapping_extracts_are_not(tmp_path):
    parts = [tmp_path / f"{i}.dat" for i in range(3)]
    for part, people in zip(parts, [["2", "9"], ["9", "10", "11"], ["12"]], strict=True):
        extract(part, people)
    assert in_one_order(parts)
    assert in_one_order(parts[:1])
    assert not in_one_order([parts[1], parts[0]])  # numbers, not text: 10 after 9
    assert not in_one_order([parts[0], parts[0]])


def test_a_file_whose_ends_cannot_be_read_does_not_decide(tmp_path):
    empty, part = tmp_path / "empty.dat", tmp_path / "part.dat"
    empty.write_bytes(b"")
    extract(part, ["5"])
    assert _first_and_last_subject(empty) is None
    assert in_one_order([part, empty, part])  # the empty file does not count
