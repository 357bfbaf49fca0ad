"""Results spilled to disk (outputs/spill.py): the same files, and no part left behind."""

from __future__ import annotations

import datetime as dt
import itertools
import stat

import polars as pl
import pytest

import clearance.run as run_module
from clearance.outputs import spill
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


def decide(out, policy="los-angeles-2020"):
    return run_module.run(
        [sample_path()],
        county=SAMPLE_COUNTY,
        policy=load_policy(policy),
        as_of=dt.date(2020, 7, 1),
        out=out,
        report=False,
    )


@pytest.fixture
def small_batches(monkeypatch):
    """The sample (7,619 lines) decided in a dozen groups."""
    monkeypatch.setattr(run_module, "STREAM_BATCH_ROWS", 700)
    monkeypatch.setattr(run_module, "STREAM_CHUNK_BYTES", 64 * 1024)


@pytest.fixture
def parts_seen(monkeypatch):
    """Every part spilled, with its mode and its folder's mode as written."""
    seen = []
    write_part = spill.Results._write_part

    def watched(self, frame, path):
        part = write_part(self, frame, path)
        mode = stat.S_IMODE(path.stat().st_mode)
        seen.append((part, mode, stat.S_IMODE(path.parent.stat().st_mode)))
        return part

    monkeypatch.setattr(spill.Results, "_write_part", watched)
    return seen


@pytest.mark.parametrize("staging", ["stream", "buckets"])
@pytest.mark.parametrize("limit", ["1", "40000"])  # every group spilled; a few together
def test_spilled_results_give_the_same_files(tmp_path, monkeypatch, small_batches, parts_seen,
                                             staging, limit):  # fmt: skip
    if staging == "buckets":
        monkeypatch.setattr(run_module, "STREAM", False)
        monkeypatch.setattr(run_module, "buckets_for", lambda size: 5)
    held = decide(tmp_path / "held")
    assert not parts_seen  # the sample's results are far below the default limit
    monkeypatch.setenv(spill.SPILL_ENV, limit)
    spilled = decide(tmp_path / "spilled")
    assert len(parts_seen) >= 4
    assert all(mode == 0o600 and folder == 0o700 for _, mode, folder in parts_seen)
    for name in OUTPUTS:
        assert (held.out / name).read_bytes() == (spilled.out / name).read_bytes(), name
    assert held.summary == spilled.summary
    assert list(held.summary["by_reason"]) == list(spilled.summary["by_reason"])
    names = [sorted(p.name for p in r.out.iterdir()) for r in (held, spilled)]
    assert names[0] == names[1]
    assert not list(tmp_path.glob("**/.spill")) and not list(tmp_path.glob(".*partial*"))


def test_buckets_spilled_are_merged_by_ranges(tmp_path, monkeypatch, small_batches, parts_seen):
    # Five buckets' people are interleaved: their parts overlap and are merged range by
    # range (several ranges at so small a limit), not read one after the other.
    monkeypatch.setattr(run_module, "STREAM", False)
    monkeypatch.setattr(run_module, "buckets_for", lambda size: 5)
    monkeypatch.setenv(spill.SPILL_ENV, "1")
    ranges = []
    ordered = spill._ordered

    def counted(parts, by, limit):
        for frame in ordered(parts, by, limit):
            ranges.append(frame.height)
            yield frame

    monkeypatch.setattr(spill, "_ordered", counted)
    decide(tmp_path / "out")
    parts = [p for p, _, _ in parts_seen if p.path.name.startswith("determinations")]
    assert any(a.last >= b.first for a, b in itertools.pairwise(parts))
    assert len(ranges) > len(parts_seen)


def test_a_run_that_fails_after_spilling_leaves_no_part(tmp_path, monkeypatch, small_batches,
                                                         parts_seen):  # fmt: skip
    monkeypatch.setenv(spill.SPILL_ENV, "1")
    calls = 0
    determine = run_module.determine

    def failing(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == 5:
            raise RuntimeError("a failure mid-run")
        return determine(*args, **kwargs)

    monkeypatch.setattr(run_module, "determine", failing)
    with pytest.raises(RuntimeError, match="mid-run"):
        decide(tmp_path / "out")
    assert parts_seen  # groups were spilled before the failure
    assert all(not p.path.exists() for p, _, _ in parts_seen)
    assert list(tmp_path.iterdir()) == []


def test_a_run_that_fails_while_writing_the_spilled_outputs_leaves_no_part(
    tmp_path, monkeypatch, small_batches, parts_seen
):
    monkeypatch.setenv(spill.SPILL_ENV, "1")

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(spill, "write_csv", full_disk)
    with pytest.raises(run_module.RunError, match="no space"):
        decide(tmp_path / "out")
    assert parts_seen and all(not p.path.exists() for p, _, _ in parts_seen)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("rows", [0, 1, 1000, 300_001])
def test_parquet_written_in_pieces_is_the_bytes_of_one_frame(tmp_path, rows):
    frame = pl.DataFrame(
        {
            "subject_id": [f"{i:08d}" for i in range(rows)],
            "n": pl.int_range(rows, eager=True),
            "text": [("a", None, "b c")[i % 3] for i in range(rows)],
        }
    )
    frame.write_parquet(tmp_path / "whole.parquet", statistics=True)
    pieces = (frame.slice(start, 7_777) for start in range(0, rows, 7_777))
    spill.write_parquet(pieces, rows, frame.schema, tmp_path / "pieces.parquet")
    assert (tmp_path / "pieces.parquet").read_bytes() == (tmp_path / "whole.parquet").read_bytes()


def test_the_limit_is_read_from_the_environment(monkeypatch):
    monkeypatch.delenv(spill.SPILL_ENV, raising=False)
    assert spill.spill_bytes() == spill.SPILL_BYTES
    monkeypatch.setenv(spill.SPILL_ENV, "1000")
    assert spill.spill_bytes() == 1000
    monkeypatch.setenv(spill.SPILL_ENV, "lots")
    with pytest.raises(ValueError, match=spill.SPILL_ENV):
        spill.spill_bytes()


def test_results_in_order_are_not_sorted_again_and_others_are_sorted():
    keys = ("subject_id", "cnt_order")
    ordered = pl.DataFrame({"subject_id": ["A", "A", "AB"], "cnt_order": ["1", "2", "1"]})
    assert spill.in_order(ordered, keys) is ordered
    # "A" before "AB" whatever the count: the keys compare as a pair, not as joined text.
    shuffled = pl.DataFrame({"subject_id": ["AB", "A", "A"], "cnt_order": ["1", "2", "1"]})
    assert spill.in_order(shuffled, keys).rows() == [("A", "1"), ("A", "2"), ("AB", "1")]
    # A key holding the separator, or a missing key: sorted, never trusted.
    odd = pl.DataFrame({"subject_id": ["A\x00Z", "A"], "cnt_order": ["1", "2"]})
    assert spill.in_order(odd, keys).rows() == [("A", "2"), ("A\x00Z", "1")]
    missing = pl.DataFrame({"subject_id": ["B", None], "cnt_order": ["1", "1"]})
    assert spill.in_order(missing, keys)["subject_id"].to_list() == [None, "B"]


def _bytes_held(frame: pl.DataFrame) -> int:
    """The bytes of the Arrow buffers the frame's columns point into (shared, not copied)."""
    import pyarrow as pa

    total = 0
    for name in frame.columns:
        array = frame[name].to_arrow(compat_level=pl.CompatLevel.newest())
        for chunk in array.chunks if isinstance(array, pa.ChunkedArray) else [array]:
            total += sum(b.size for b in chunk.buffers() if b is not None)
    return total


def test_a_compacted_group_holds_only_its_own_values():
    """A few rows taken from a big group (a filter, a slice) point into the group's
    buffers; `compact` copies them out, every column type the tables use kept."""
    n = 200_000
    group = pl.DataFrame(
        {
            "text": [f"a text long enough not to fit in a view {i:08d}" for i in range(n)],
            "short": [f"{i % 97}" for i in range(n)],
            "number": pl.Series(range(n), dtype=pl.Int64),
            "day": pl.Series(range(n), dtype=pl.Int32).cast(pl.Date),
            "flag": [i % 3 == 0 for i in range(n)],
            "small": pl.Series([i % 5 for i in range(n)], dtype=pl.Int8),
            "maybe": pl.Series([None] * n, dtype=pl.String),
        }
    ).with_columns(nothing=pl.lit(None))
    for few in (group.filter(pl.col("number") % 50_000 == 7), group.slice(n // 2, 4)):
        assert _bytes_held(few) > 5_000_000  # the group's text buffers
        kept = spill.compact(few)
        assert kept.equals(few) and kept.schema == few.schema
        assert _bytes_held(kept) < 2_000
    empty = group.clear()
    assert spill.compact(empty).equals(empty) and spill.compact(empty).schema == empty.schema
