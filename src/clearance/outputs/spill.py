"""A run's results, kept in bounded memory however many there are.

The local engine decides groups of whole people one at a time (a stream's batches,
or person buckets) and hands each group's results to ``Results``: its
determinations, its people, and the counts of the people it determined. They are
held in memory until they reach ``spill_bytes()`` (256 MiB; the environment
variable ``CLEARANCE_SPILL_BYTES`` sets another limit), then *spilled*: the
summary's figures are tallied from them (summary.tallies, which add up across
groups of different people), and the determinations and the people determined are
sorted and written as Parquet parts in a private folder (``.spill``: 0700, its
files 0600) inside the run's temporary output folder. A run whose results never
reach the limit (every run up to a few million rows of today's rule pack) writes
its outputs from memory as before.

The outputs are then written from the parts in their order (determinations by
``subject_id``, ``cnt_order``; people by ``subject_id``). Each part is sorted and
holds whole people, so parts that follow each other (a stream of an extract sorted
by person) are simply read one after the other. Otherwise the parts are merged by
ranges of ``subject_id``: every part keeps a sample of its keys, the samples cut the
keys into ranges of about ``spill_bytes()`` of rows, and each range is read from the
parts whose keys it overlaps, sorted, and written, one range at a time. The files
are byte for byte those written from memory: CSV pieces are appended, and Parquet
is written in the row groups Polars gives the whole frame (``_row_groups``). The
workbook is written from the finished determinations.parquet, read in slices.

The folder is removed once the outputs are written (``close``), and with the whole
temporary folder when the run fails.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import os
import shutil
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow as pa

from clearance._folders import FILE_MODE, private_dir
from clearance.extract.model import Model
from clearance.outputs import determinations as det_out
from clearance.outputs import summary as summary_
from clearance.textsafe import write_csv

SPILL_BYTES = 128 * 1024 * 1024
SPILL_ENV = "CLEARANCE_SPILL_BYTES"
SPILL_DIR = ".spill"
SAMPLES_PER_LIMIT = 64  # keys sampled per spill limit's worth of rows: ranges within ~2%
DETERMINATIONS_ORDER = ("subject_id", "cnt_order")
PEOPLE_ORDER = ("subject_id",)


def spill_bytes() -> int:
    """How many bytes of results a run holds in memory before it spills them to disk."""
    text = os.environ.get(SPILL_ENV, "").strip()
    if not text:
        return SPILL_BYTES
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{SPILL_ENV} must be a whole number of bytes, not {text!r}") from None
    return max(value, 1)


def compact(frame: pl.DataFrame) -> pl.DataFrame:
    """A copy of ``frame`` that holds only its own values.

    Text columns share their buffers with the frames they came from: a group's
    few determinations would keep every row of the group alive until the end of
    the run. Through Arrow's oldest layout and back, text is copied into one buffer
    of just its values, and every other column is copied (``concat_arrays``: a slice
    of a column would share its buffers too): a quarter of the time an IPC round trip
    took.
    """
    table = frame.to_arrow(compat_level=pl.CompatLevel.oldest())
    copied = [
        column
        if pa.types.is_large_string(column.type) or not column.num_chunks  # text: copied
        else pa.chunked_array([pa.concat_arrays(column.chunks)], type=column.type)
        for column in table.columns
    ]
    return pl.from_arrow(pa.table(copied, schema=table.schema))  # type: ignore[return-value]


def in_order(frame: pl.DataFrame, keys: Sequence[str]) -> pl.DataFrame:
    """``frame`` sorted by ``keys`` (text columns), not sorted again when it already is
    (the people of groups of an extract sorted by person, each sorted by the model):
    checking costs a fiftieth of sorting a hundred columns. The determinations of the
    groups are sorted here once, not group by group as well (``determine(ordered=False)``)."""
    if not frame[keys[0]].is_sorted():  # not even by the first key (a bucket's people)
        return frame.sort(*keys)
    key = frame.select(pl.concat_str(keys, separator="\x00")).to_series()
    # A key part holding a NUL could make the joined key sorted when the keys are not.
    parts_clean = not frame.select(
        pl.any_horizontal(pl.col(keys).str.contains("\x00", literal=True).any())
    ).item()
    if parts_clean and key.null_count() == 0 and key.is_sorted():
        return frame
    return frame.sort(*keys)


@dataclass
class Part:
    """One spilled Parquet part: sorted, whole people, with a sample of its keys."""

    path: Path
    rows: int
    bytes: int  # in memory, before it was written
    first: str
    last: str
    samples: list[str]
    step: int  # rows each sample stands for


@dataclass
class Results:
    """Every group's results, in memory up to ``limit`` bytes, then on disk as parts."""

    folder: Path  # the run's temporary output folder; parts go in folder/.spill
    as_of: dt.date
    limit: int = field(default_factory=spill_bytes)
    layout: det_out.Layout = det_out.PROP64  # the rule pack's table and figures
    policy: object = None  # the run's policy (a layout's figures may read it)
    # Held since the last spill.
    decided: list[pl.DataFrame] = field(default_factory=list)
    people: list[pl.DataFrame] = field(default_factory=list)
    counts: list[pl.DataFrame] = field(default_factory=list)
    held: int = 0
    tallies: dict | None = None
    determinations_parts: list[Part] = field(default_factory=list)
    people_parts: list[Part] = field(default_factory=list)
    # Once every group is in (``finish``): the tables themselves when nothing spilled.
    published: pl.DataFrame | None = None
    determined: pl.DataFrame | None = None
    schemas: tuple[pl.Schema, pl.Schema] | None = None
    # The group being copied on a thread (``add``), held once ``_settle`` takes it.
    _pending: Future | None = field(default=None, repr=False)
    _thread: ThreadPoolExecutor | None = field(default=None, repr=False)

    @property
    def spill_dir(self) -> Path:
        return self.folder / SPILL_DIR

    @property
    def spilled(self) -> bool:
        return bool(self.determinations_parts or self.people_parts or self.schemas)

    def add(self, decided: pl.DataFrame, people: pl.DataFrame, counts: pl.DataFrame) -> None:
        """A group's results: its determinations (the columns ``det_out.table`` reads),
        everyone in it (``people``), and the counts of the people it determined.

        They are copied (``compact``) on a thread while the next group is decided (Arrow
        releases the GIL); the group before is held, or spilled, first.
        """
        self._settle()
        if self._thread is None:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="results")
        counts = self.layout.counts_read(counts)
        self._pending = self._thread.submit(lambda: tuple(map(compact, (decided, people, counts))))

    def _settle(self) -> None:
        """Hold the group being copied (raising what copying it raised), spilling at the limit."""
        if self._pending is None:
            return
        decided, people, counts = self._pending.result()
        self._pending = None
        self.decided.append(decided)
        self.people.append(people)
        self.counts.append(counts)
        self.held += decided.estimated_size() + people.estimated_size() + counts.estimated_size()
        if self.held >= self.limit:
            self._spill()

    def _take(self) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
        """What is held, as the published table and the people determined (both
        sorted), with its tallies; then nothing is held."""
        decided = pl.concat(self.decided) if self.decided else None
        if decided is None:
            raise RuntimeError("no group's results were added")
        everyone = pl.concat(self.people)
        counts = pl.concat(self.counts)
        self.decided.clear()
        self.people.clear()
        self.counts.clear()
        self.held = 0
        published = self.layout.table(in_order(decided, DETERMINATIONS_ORDER))
        del decided
        model = Model(people=everyone.lazy(), events=pl.LazyFrame(), counts=counts.lazy())
        tallies = self.layout.tallies(published, model, self.as_of, self.policy)
        ids = published["subject_id"].unique().implode()
        determined = in_order(everyone.filter(pl.col("subject_id").is_in(ids)), PEOPLE_ORDER)
        self.tallies = tallies if self.tallies is None else summary_.add(self.tallies, tallies)
        return published, determined, tallies

    def _spill(self) -> None:
        published, determined, _ = self._take()
        if self.schemas is None:
            self.schemas = (published.schema, determined.schema)
        private_dir(self.spill_dir)
        n = len(self.determinations_parts)
        for frame, parts, name in (
            (published, self.determinations_parts, f"determinations-{n:05d}.parquet"),
            (determined, self.people_parts, f"people-{n:05d}.parquet"),
        ):
            if frame.height:
                parts.append(self._write_part(frame, self.spill_dir / name))

    def _write_part(self, frame: pl.DataFrame, path: Path) -> Part:
        size = frame.estimated_size()
        # A sample of the keys: SAMPLES_PER_LIMIT for each limit's worth of rows.
        rows_per_limit = max(1, frame.height * self.limit // max(size, 1))
        step = max(1, rows_per_limit // SAMPLES_PER_LIMIT)
        keys = frame["subject_id"]
        # Small row groups with statistics: a range read skips the groups outside it.
        frame.write_parquet(
            path, compression="lz4", statistics=True, row_group_size=max(step * 4, 1024)
        )
        os.chmod(path, FILE_MODE)
        return Part(
            path=path,
            rows=frame.height,
            bytes=size,
            first=keys[0],
            last=keys[-1],
            samples=keys.gather_every(step).to_list(),
            step=step,
        )

    def finish(self) -> None:
        """Every group is in: spill what is held if anything was spilled, else keep it."""
        self._settle()
        if self._thread is not None:
            self._thread.shutdown()
            self._thread = None
        if self.spilled:
            if self.decided:
                self._spill()
        else:
            self.published, self.determined, _ = self._take()

    def tallied(self) -> dict:
        """summary.tallies of every group, added up (once ``finish`` is called)."""
        if self.tallies is None:
            raise RuntimeError("the results were tallied before every group was in (finish)")
        return self.tallies

    def close(self) -> None:
        """Remove the spilled parts (the outputs are written, or the run failed)."""
        if self._thread is not None:
            self._thread.shutdown(cancel_futures=True)
            self._thread = None
            self._pending = None
        shutil.rmtree(self.spill_dir, ignore_errors=True)
        self.determinations_parts.clear()
        self.people_parts.clear()

    # The outputs.

    def write(
        self, out: Path, title: str, people_file: str, law=None, summary: dict | None = None
    ) -> det_out.Pending:
        """determinations.csv, .parquet and .xlsx (the workbook maybe still being
        written: wait on what is returned; ``summary`` is its first sheet) and the
        people determined."""
        if self.published is not None and self.determined is not None:
            pending = det_out.write_all(
                self.published,
                out,
                title,
                self.layout.columns,
                self.layout.workbook_columns,
                law,
                summary,
            )
            self.determined.write_parquet(out / people_file)
            return pending
        if self.schemas is None:
            raise RuntimeError("the results were written before every group was in (finish)")
        det_schema, people_schema = self.schemas
        columns = self.layout.columns
        parquet = out / "determinations.parquet"
        with (out / "determinations.csv").open("wb") as csv:
            first = True

            def csv_too(frames: Iterator[pl.DataFrame]) -> Iterator[pl.DataFrame]:
                nonlocal first
                for frame in frames:
                    write_csv(frame.select(columns), csv, include_header=first)
                    first = False
                    yield frame

            rows = sum(p.rows for p in self.determinations_parts)
            ordered = csv_too(_ordered(self.determinations_parts, DETERMINATIONS_ORDER, self.limit))
            write_parquet(ordered, rows, det_schema, parquet)
            if first:  # no determination at all: the header alone
                write_csv(pl.DataFrame(schema=det_schema).select(columns), csv)
        height = rows
        pending = det_out.start_workbook(
            pl.scan_parquet(parquet).select(self.layout.workbook_columns or columns),
            height,
            out,
            title,
            law,
            summary,
        )
        write_parquet(
            _ordered(self.people_parts, PEOPLE_ORDER, self.limit),
            sum(p.rows for p in self.people_parts),
            people_schema,
            out / people_file,
        )
        return pending


def _ordered(parts: Sequence[Part], by: Sequence[str], limit: int) -> Iterator[pl.DataFrame]:
    """The rows of every part, sorted by ``by``, a range of ``subject_id`` at a time."""
    parts = [p for p in parts if p.rows]
    if all(a.last < b.first for a, b in itertools.pairwise(parts)):
        for part in parts:  # each follows the one before: nothing to merge
            yield pl.read_parquet(part.path)
        return
    rows = sum(p.rows for p in parts)
    size = sum(p.bytes for p in parts)
    budget = max(1, rows * limit // max(size, 1))  # rows to a range
    samples = sorted((key, p.step) for p in parts for key in p.samples)
    bounds: list[str] = []
    taken = 0
    for key, weight in samples:
        if taken >= budget and (not bounds or key > bounds[-1]):
            bounds.append(key)
            taken = 0
        taken += weight
    key = pl.col("subject_id")
    for low, high in zip([None, *bounds], [*bounds, None], strict=True):
        chosen = [
            p.path
            for p in parts
            if (high is None or p.first < high) and (low is None or p.last >= low)
        ]
        if not chosen:
            continue
        scan = pl.scan_parquet(chosen)
        if low is not None:
            scan = scan.filter(key >= low)
        if high is not None:
            scan = scan.filter(key < high)
        yield scan.collect().sort(*by)


def _row_groups(rows: int) -> list[int]:
    """The row groups (their heights) Polars writes a frame of ``rows`` rows in.

    DataFrame.write_parquet cuts a frame into row groups of about equal height; asked
    of a frame of one boolean column, which costs a few milliseconds a million rows.
    """
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pl.select(pl.repeat(False, rows, dtype=pl.Boolean).alias("a")).write_parquet(
        buffer, compression="uncompressed", statistics=False
    )
    buffer.seek(0)
    metadata = pq.ParquetFile(buffer).metadata
    return [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]


def _pieces(frames: Iterator[pl.DataFrame], heights: list[int]) -> Iterator[pl.DataFrame]:
    """``frames`` cut again into frames of ``heights`` rows, each in one chunk."""
    held: list[pl.DataFrame] = []
    have = 0
    wanted = iter(heights)
    height = next(wanted, None)
    for frame in frames:
        held.append(frame)
        have += frame.height
        while height is not None and have >= height:
            joined = pl.concat(held, rechunk=False)
            yield joined.slice(0, height).rechunk()
            rest = joined.slice(height)
            held, have = [rest], rest.height
            height = next(wanted, None)
    if have:
        raise RuntimeError("more rows than counted in the spilled parts")
    if height is not None:
        raise RuntimeError("fewer rows than counted in the spilled parts")


def write_parquet(frames: Iterator[pl.DataFrame], rows: int, schema: pl.Schema, path: Path) -> None:
    """Write ``frames`` (``rows`` rows in all, in order) as one Parquet file: the same
    bytes as ``pl.concat(frames).write_parquet(path, statistics=True)``."""
    from polars.io.plugins import register_io_source

    if not rows:
        for _ in frames:  # nothing, but the CSV side of them
            pass
        pl.DataFrame(schema=schema).write_parquet(path, statistics=True)
        return
    pieces = _pieces(frames, _row_groups(rows))
    called = False

    def source(
        with_columns: list[str] | None, predicate: pl.Expr | None, n_rows: int | None,
        batch_size: int | None,
    ) -> Iterator[pl.DataFrame]:  # fmt: skip
        nonlocal called
        if called:  # the pieces are a one-way stream (and feed the CSV)
            raise RuntimeError("the spilled parts were read twice")
        called = True
        for piece in pieces:
            yield piece.cast(schema)  # type: ignore[arg-type]

    register_io_source(source, schema=schema).sink_parquet(
        path, statistics=True, engine="streaming"
    )
