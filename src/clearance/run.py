"""One run: extract files in, the output folder of product.md out.

The folder is built beside its destination under a hidden temporary name and moved
into place only when every file is written, so a run that fails leaves no folder
that looks complete. Intermediate tables (staged rows, the model) live in a work
folder inside that temporary folder and are deleted before the move.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import platform
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, cast

import polars as pl

from clearance import __version__
from clearance._ahead import made_ahead
from clearance._folders import (
    disk_error_line,
    move_into_place,
    start,
)
from clearance.extract import keys
from clearance.extract import model as model_
from clearance.extract.reader import (
    NotGrouped,
    Reading,
    ReadResult,
    buckets_for,
    in_one_order,
    input_bytes,
    person_batches,
    read_extracts,
    staged_schema,
)
from clearance.law import RulePack, load_rulepack
from clearance.outputs import determinations as det_out
from clearance.outputs import spill
from clearance.outputs.layouts import layout_for
from clearance.outputs.summary import finish as finish_summary
from clearance.policy import Policy
from clearance.report import write_report
from clearance.rules.engine import count_lines, determine
from clearance.run_common import (
    HISTORY_FILE,
    PEOPLE_FILE,
    RUN_FOLDER,
    Evaluation,
    RunError,
    check_as_of,
    check_county,
    check_extracts,
    county_convictions,
)
from clearance.run_common import json_text as _json
from clearance.spark.engine import evaluate_staged
from clearance.textsafe import write_csv

if TYPE_CHECKING:  # imported when history is written: pyarrow takes 0.2 s to import
    import pyarrow.parquet as pq

# history.parquet columns whose values hardly repeat: written without a dictionary.
HISTORY_PLAIN = frozenset(
    {"subject_id", "cnt_order", "event_key", "line", "row_order", "case_number"}
    | {"event_date", "event_date_raw", "sentence_end"}
)
# Input files whose people's rows are together (as DOJ writes them, and as a large
# extract cut between people comes) are decided as they are read, in batches of
# whole people of about this many rows (the size of a bucket).
STREAM = True
STREAM_BATCH_ROWS = 100_000
# Read in smaller chunks than staging does: the chunks being read live alongside a
# batch's model, and 8 MiB keeps a 1M-row run within 0.75 GB at the same speed.
STREAM_CHUNK_BYTES = 8 * 1024 * 1024


@dataclass
class RunResult:
    out: Path
    summary: dict
    provenance: dict
    warnings: list[str] = field(default_factory=list)


ENGINES = ("local", "spark")


def run(
    inputs: Sequence[Path],
    *,
    county: str,
    policy: Policy,
    as_of: dt.date,
    out: Path,
    as_of_source: str = "argument",
    progress: Callable[[int], None] | None = None,
    engine: str = "local",
    spark_master: str | None = None,
    report: bool = True,
    law: RulePack | None = None,
    staged: ReadResult | None = None,
) -> RunResult:
    """Read, decide and write the output folder.

    ``staged``: rows already read from ``inputs`` by another reader (a rap sheet,
    docs/rap-sheet.md), decided as one group of whole people instead of reading
    ``inputs`` as extracts.

    ``engine`` is ``local`` (Polars in this process) or ``spark`` (the same engine
    code on each partition of the extract, by person; docs/spark.md). The files
    written are the same either way. ``law`` is the rule pack (default: the
    installed Prop 64 pack; ``clearance.law.load_pack`` reads another).
    """
    if engine not in ENGINES:
        raise RunError(f"unknown engine {engine!r}; choose one of: {', '.join(ENGINES)}")
    county = county.strip().upper()
    out = Path(out)
    law = law or load_rulepack()
    check_as_of(as_of, law)
    # The only place a run reads the clock: to warn of an as-of date still to come.
    ahead = future_as_of(as_of, dt.date.today())
    tmp = start(out, RUN_FOLDER, inputs, RunError)
    timings: dict[str, float] = {}
    cpu: dict[str, float] = {}  # this process's CPU time, all threads: steadier than wall time
    started = clock = time.perf_counter()
    cpu_clock = time.process_time()

    def lap(name: str) -> None:
        """Add the time since the last lap to a stage (stages repeat once per group)."""
        nonlocal clock, cpu_clock
        now, cpu_now = time.perf_counter(), time.process_time()
        timings[name] = round(timings.get(name, 0.0) + now - clock, 3)
        cpu[name] = round(cpu.get(name, 0.0) + cpu_now - cpu_clock, 3)
        clock, cpu_clock = now, cpu_now

    try:
        work = tmp / ".work"
        decide = _Decide(policy, county, as_of, law, tmp, lap)
        evaluation: Evaluation | None = None
        if staged is not None:
            read = staged
            evaluation = replace(decide, grouped=True)(
                [staged.rows], lambda: [f.name for f in staged.files]
            )
            evaluation.environment["staging"] = "sheet"
        elif engine == "local" and STREAM and in_one_order(inputs):
            # Each person's rows together (as DOJ writes an extract): decided batch by
            # batch as the files are read, with no staging on disk. Otherwise by bucket:
            # county extracts whose ranges of people overlap go there at once (their
            # repeated histories would stop the stream only once the repeat is reached).
            # NotGrouped: a person's rows apart after all (found early for a file
            # sorted otherwise).
            with contextlib.suppress(NotGrouped):
                evaluation, read = _evaluate_stream(inputs, decide, progress)
        if evaluation is None:
            # Spark partitions by person itself; the local engine takes a bucket at a time.
            buckets = 1 if engine == "spark" else buckets_for(input_bytes(inputs))
            read = read_extracts(inputs, work, progress=progress, buckets=buckets)
            lap("read")
            check_extracts(read.files, read.rejects)
            file_order = [f.name for f in read.files]
            if engine == "spark":
                evaluation = evaluate_staged(
                    work / "staged",
                    file_order,
                    policy=policy,
                    county=county,
                    as_of=as_of,
                    law=law,
                    master=spark_master,
                    rows=read.rows_used,
                    lap=lap,
                )
            else:
                groups = (read.bucket(b) for b in range(read.buckets))
                evaluation = decide(groups, lambda: file_order)
                evaluation.environment.update(staging="buckets", buckets=str(read.buckets))
        warnings = [*ahead, *policy_county(policy, county), *read.warnings]
        summary, workbook = write_outputs(
            evaluation, read, tmp, policy=policy, county=county, as_of=as_of, law=law
        )
        lap("outputs")
        provenance = _provenance(read, policy, law, county, as_of, as_of_source, timings)
        provenance["cpu_seconds"] = cpu
        provenance["environment"].update(evaluation.environment)
        provenance["warnings"] = warnings
        # Written now for the report (which reads no timings), again once all is done.
        (tmp / "run.json").write_text(_json(provenance))
        if report:  # report.html and report.pdf, from summary.json and run.json (docs/report.md)
            # While a large run's workbook is still being written on its thread.
            write_report(tmp)
            lap("report")
        workbook.wait()
        lap("outputs")
        timings["total"] = round(time.perf_counter() - started, 3)
        cpu["total"] = round(sum(v for k, v in cpu.items() if k != "total"), 3)
        (tmp / "run.json").write_text(_json(provenance))
        shutil.rmtree(work, ignore_errors=True)  # none when the input was streamed
        move_into_place(tmp, out)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        line = disk_error_line(exc, out) if isinstance(exc, OSError) else None
        if line is not None:  # a full disk, a folder not writable: one line, exit 2
            raise RunError(line) from None
        raise
    return RunResult(out=out, summary=summary, provenance=provenance, warnings=warnings)


def future_as_of(as_of: dt.date, today: dt.date) -> list[str]:
    """A warning for an as-of date after the day of the run (allowed: planning ahead).

    The message does not name the day of the run, so that run.json and the report
    stay the same whichever later day a run with this as-of date is made again.
    """
    if as_of <= today:
        return []
    return [
        f"the as-of date {as_of.isoformat()} is after the day of this run: ages, years "
        "since conviction and sentences are counted to that date, as if the history "
        "in the extract does not change before then"
    ]


def policy_county(policy: Policy, county: str) -> list[str]:
    """A warning when the policy names another county than the run's (the run's wins)."""
    if policy.county is None or policy.county == " ".join(county.split()).upper():
        return []
    return [
        f"the policy {policy.name!r} names the county {policy.county}, but the run is for "
        f"{county} (--county); its convictions are decided under this policy all the same"
    ]


def _evaluate_stream(
    inputs: Sequence[Path], decide: _Decide, progress: Callable[[int], None] | None
) -> tuple[Evaluation, ReadResult]:
    """Read the files in order and decide them batch by batch, each batch whole people.

    Raises NotGrouped (before any output is final) when a person's rows are not
    together; the caller then stages the rows by bucket instead.
    """
    reading = Reading()

    def batches() -> Iterator[pl.LazyFrame]:
        taken = 0
        frames = reading.frames(inputs, progress, STREAM_CHUNK_BYTES)
        for batch in person_batches(frames, STREAM_BATCH_ROWS):
            taken += 1
            yield batch.lazy()
        if not taken:  # an input with no usable row still gets its (empty) model
            yield pl.DataFrame(schema=staged_schema()).lazy()

    def check_inputs() -> None:
        rejects = pl.concat(reading.rejects) if reading.rejects else None
        check_extracts(reading.files, rejects)

    # The next batch is read while this one is decided.
    evaluation = replace(decide, grouped=True, check_inputs=check_inputs)(
        made_ahead(batches()), lambda: [f.name for f in reading.files]
    )
    evaluation.environment["staging"] = "stream"
    return evaluation, reading.result(rows=pl.LazyFrame(schema=staged_schema()))


@dataclass
class _Decide:
    """The local engine: the model and the rules as Polars queries in this process.

    Called with groups of whole people (person buckets, or batches of a file read
    in one stream), one at a time: every rule reads one person's history only, so
    memory depends on the size of a group, not of the input. Each group's history
    (the counts of everyone it determined) is appended to the folder's
    history.parquet as soon as it is decided, in group order; its determinations
    and people go to ``spill.Results``, which keeps them in memory up to a limit
    and on disk beyond it, and writes them in a canonical order (subject id).
    """

    policy: Policy
    county: str
    as_of: dt.date
    law: RulePack
    folder: Path
    lap: Callable[[str], None]
    # Each person's rows together in every group (a stream's batches: checked by
    # ``person_batches``); a bucket's people are interleaved.
    grouped: bool = False
    # Checks the files read are extracts (check_extracts), before the county is checked.
    check_inputs: Callable[[], None] | None = None

    @property
    def count_lines(self) -> model_.CountLines | None:
        """What the law reads of every line of a count, worked out with the counts."""
        return count_lines(self.law)

    def __call__(
        self, groups: Iterable[pl.LazyFrame], file_order: Callable[[], list[str]]
    ) -> Evaluation:
        layout = layout_for(self.law)
        results = spill.Results(self.folder, self.as_of, layout=layout, policy=self.policy)
        # Every county the events name, with its convictions (for a wrong --county).
        found: dict[str, int] = {}
        with _HistoryWriter(self.folder / HISTORY_FILE) as history:
            for group in groups:
                self.lap("read")  # waiting for the group's rows
                with keys.pinned():  # the group's keys, the same in each of its queries
                    self._decide_group(group, file_order(), history, results, found)
                self.lap("rules")
        if self.check_inputs is not None:
            self.check_inputs()
        check_county(found, self.county)
        results.finish()
        self.lap("outputs")
        # Groups in order, each in input order: history.parquet is in that order (a
        # global merge by input order would hold every count).
        return Evaluation(
            decided=None,
            model=None,
            environment={"engine": "local"},
            history_written=True,
            results=results,
        )

    def _decide_group(
        self,
        group: pl.LazyFrame,
        file_order: list[str],
        history: _HistoryWriter,
        results: spill.Results,
        found: dict[str, int],
    ) -> None:
        """One group: its model and determinations; its history written, its results
        kept, the convictions of each county it names counted in ``found``."""
        # Every group's rows come in input order (a stream's batch, a bucket's parts).
        read = self.count_lines
        model = model_.build(
            group, file_order, in_order=True, grouped=self.grouped, count_lines=read
        )
        # Counts and people in one query (they share the normalised rows), in
        # memory: a group is bounded, and nothing is written to be read back.
        # Polars' in-memory engine: a fifth less CPU than streaming, and it
        # reads a bucket's parts once for both (at 10M rows, a bucket is 136
        # small parts, and the streaming engine costs 40% more).
        counts, group_people = pl.collect_all([model.counts, model.people], engine="in-memory")
        self.lap("model")
        in_memory = model_.Model(people=group_people.lazy(), events=model.events,
                                 counts=counts.lazy())  # fmt: skip
        # Not sorted here: the results are sorted together (spill.in_order).
        group_decided = determine(
            in_memory, self.policy, self.county, self.as_of, self.law, ordered=False
        ).collect(engine="in-memory")  # three times cheaper than streaming here
        for name, n in county_convictions(counts).items():
            found[name] = found.get(name, 0) + n
        # Only the counts of the people determined go on (summary, history).
        ids = group_decided["subject_id"].unique().implode()
        # (history.parquet holds the model's counts, whatever the law read beside them.)
        kept = counts.filter(pl.col("subject_id").is_in(ids)).drop(read.columns if read else [])
        history.write(kept)
        # Only the columns the published table reads; spilled to disk once
        # the results held reach a limit.
        results.add(
            group_decided.select(results.layout.needed(group_decided.columns)),
            group_people,
            kept,
        )
        del counts, kept


class _HistoryWriter:
    """history.parquet, written a group at a time (a bucket or a stream's batch; one
    row group each, zstd).

    Each group is encoded on a thread (pyarrow releases the GIL) while the next is
    decided; at most one waits, so memory holds one group's counts.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.writer: pq.ParquetWriter | None = None
        self.schema: dict | None = None
        self.thread = ThreadPoolExecutor(max_workers=1)
        self.pending: Future[None] | None = None

    def __enter__(self) -> _HistoryWriter:
        return self

    def write(self, counts: pl.DataFrame) -> None:
        if self.schema is None:
            self.schema = dict(counts.schema)
        self._wait()
        self.pending = self.thread.submit(self._write, counts.cast(self.schema))  # type: ignore[arg-type]

    def _write(self, counts: pl.DataFrame) -> None:
        import pyarrow.parquet as pq

        # Arrow's newest layout shares Polars' buffers (string views): no copy.
        table = counts.to_arrow(compat_level=pl.CompatLevel.newest())
        if self.writer is None:
            self.writer = pq.ParquetWriter(
                self.path,
                table.schema,
                compression="zstd",
                # A dictionary only where values repeat; statistics only for the key
                # readers filter on (`explain` reads one person): 40% less CPU.
                use_dictionary=[c for c in table.column_names if c not in HISTORY_PLAIN],
                write_statistics=["subject_id"],
            )
        self.writer.write_table(table)

    def _wait(self) -> None:
        if self.pending is not None:
            self.pending.result()  # raises what the thread raised
            self.pending = None

    def __exit__(self, *exc: object) -> None:
        try:
            self._wait()
        finally:
            self.thread.shutdown()
            if self.writer is not None:
                self.writer.close()


def write_outputs(
    evaluation: Evaluation,
    read: ReadResult,
    folder: Path,
    *,
    policy: Policy,
    county: str,
    as_of: dt.date,
    law: RulePack | None = None,
) -> tuple[dict, det_out.Pending]:
    """Every file of the output folder except run.json and the report.

    Returns the summary and the workbook, which may still be being written (wait on it).
    """
    title = f"{policy.name}: determinations as of {as_of}"
    results = evaluation.results
    layout = layout_for(law)
    # The summary first: the workbook's first sheet shows its headline figures.
    if results is not None:  # the local engine: history.parquet written, the rest here
        summary = finish_summary(
            results.tallied(), read, as_of=as_of, county=county, policy_name=policy.name
        )
        try:
            workbook = results.write(folder, title, PEOPLE_FILE, law or load_rulepack(), summary)
        finally:
            results.close()  # the spilled parts
    elif evaluation.decided is None or evaluation.model is None:
        raise RuntimeError("the engine handed the outputs no determinations")
    else:
        published = layout.table(evaluation.decided)
        summary = finish_summary(
            layout.tallies(published, evaluation.model, as_of, policy), read, as_of=as_of,
            county=county, policy_name=policy.name,
        )  # fmt: skip
        workbook = det_out.write_all(
            published, folder, title, layout.columns, layout.workbook_columns,
            law or load_rulepack(), summary,
        )  # fmt: skip
        _write_history(evaluation, published, folder)
    (folder / "summary.json").write_text(_json(summary))
    write_csv(read.rejects.rename({"source_file": "file"}), folder / "rejects.csv")
    layout.write_more(folder, as_of=as_of, policy=policy)
    return summary, workbook


def _write_history(evaluation: Evaluation, published: pl.DataFrame, out: Path) -> None:
    """The whole history of everyone determined, for `explain` and review.

    history.parquet holds counts in the model's order (input order; by person bucket
    first when the run used several), streamed, unless the engine wrote it already;
    people.parquet, one row a person, is sorted by subject id.
    """
    model = cast(model_.Model, evaluation.model)  # given with ``decided`` (write_outputs)
    ids = published["subject_id"].unique().implode()
    if not evaluation.history_written:  # written as the local engine writes it
        with _HistoryWriter(out / HISTORY_FILE) as history:
            history.write(model.counts.filter(pl.col("subject_id").is_in(ids)).collect())
    model.people.filter(pl.col("subject_id").is_in(ids)).collect(engine="streaming").sort(
        "subject_id"
    ).write_parquet(out / PEOPLE_FILE)


def _provenance(
    read: ReadResult,
    policy: Policy,
    law: RulePack,
    county: str,
    as_of: dt.date,
    as_of_source: str,
    timings: dict[str, float],
) -> dict:
    return {
        "tool": {"name": "clearance", "version": __version__},
        # Name, version and a SHA-256 of the pack's files: explain refuses a run whose
        # pack is not the one installed (product.md, "rule pack").
        "rule_pack": law.provenance(),
        "policy": policy.to_dict(),
        "county": county,
        "as_of": as_of.isoformat(),
        "as_of_source": as_of_source,
        "inputs": [f.to_dict() for f in read.files],
        "rows": {
            "read": read.rows_read,
            "used": read.rows_used,
            "rejected": read.rows_rejected,
        },
        "timings_seconds": timings,
        "environment": {
            "python": platform.python_version(),
            "polars": pl.__version__,
        },
    }
