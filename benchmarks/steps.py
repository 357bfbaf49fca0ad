"""Where a run's time goes: the CPU time of each step of `clearance run`, alone.

    python benchmarks/steps.py            # the 1M-row benchmark extract
    python benchmarks/steps.py --size 10m

In a run the steps overlap on the cores (the next batch is read while this one is
decided, the workbook and history.parquet are written on threads), so their CPU
times cannot be told apart there. Here each step runs alone, one after the other,
in one process, through the same functions a run calls, and its CPU time (all
threads) is taken. The extract is the one `bench.py` generates (and generates if
missing). Prints a Markdown table; nothing is asserted or recorded.

The last lines add up the steps every run needs for the output folder of the
contract (spec/product.md: the determinations as CSV, Parquet and a workbook,
summary.json, rejects.csv, run.json), apart from history.parquet,
people.parquet and the report, which clearance writes besides.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench

from clearance import run as run_
from clearance.extract import model as model_
from clearance.extract import reader
from clearance.law import load_rulepack
from clearance.outputs import determinations as det_out
from clearance.outputs.summary import summarize
from clearance.policy import load_policy
from clearance.report import write_report
from clearance.rules.prop64 import determine

BESIDES = ("history.parquet", "people.parquet", "report.html and report.pdf")


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Steps:
    """CPU time by step: ``with steps("name"): ...`` adds to the step (steps repeat)."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}
        self.name = ""

    def __call__(self, name: str) -> Steps:
        self.name = name
        return self

    def __enter__(self) -> None:
        self.start = cpu()

    def __exit__(self, *exc: object) -> None:
        self.spent[self.name] = self.spent.get(self.name, 0.0) + cpu() - self.start


def start_cpu() -> float:
    """CPU time of a fresh Python importing the command line (what every run pays)."""
    code = (
        "import resource, clearance.cli; u = resource.getrusage(resource.RUSAGE_SELF);"
        "print(u.ru_utime + u.ru_stime)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sizes = [s for s in bench.SIZES if "files" not in s]
    parser.add_argument("--size", default="1m", choices=sizes)
    args = parser.parse_args()
    path, _ = bench.extract(args.size, bench.SIZES[args.size][0])
    as_of = dt.date.fromisoformat(bench.AS_OF)
    law, policy = load_rulepack(), load_policy("statute")
    steps = Steps()
    steps.spent["start: Python and the command's imports"] = start_cpu()

    reading = reader.Reading()
    with steps("read: bytes, SHA-256, parse, trim, fillers"):
        frames = list(reading.frames([path], None, run_.STREAM_CHUNK_BYTES))
    with steps("cut into batches of whole people"):
        batches = list(reader.person_batches(iter(frames), run_.STREAM_BATCH_ROWS))
    del frames
    with tempfile.TemporaryDirectory(prefix="clearance-steps-") as tmp:
        out = Path(tmp)
        decided, people = [], []
        history = run_._HistoryWriter(out / run_.HISTORY_FILE)
        for batch in batches:
            model = model_.build(batch.lazy(), [path.name], in_order=True, grouped=True)
            with steps("model: normalise, counts, people"):
                counts, group_people = pl.collect_all(
                    [model.counts, model.people], engine="in-memory"
                )
            in_memory = model_.Model(group_people.lazy(), model.events, counts.lazy())
            with steps("rules: determine, counties, keep the published columns"):
                found = determine(in_memory, policy, bench.COUNTY, as_of, law).collect(
                    engine="in-memory"
                )
                run_.counties(in_memory)
                decided.append(run_._compact(found.select(det_out.needed(found.columns))))
                people.append(run_._compact(group_people))
            ids = found["subject_id"].unique().implode()
            kept = counts.filter(pl.col("subject_id").is_in(ids))
            with steps("history.parquet"):
                history.write(kept)
                history._wait()
        history.__exit__(None, None, None)
        read = reading.result(rows=pl.LazyFrame(schema=reader.staged_schema()))
        evaluation = run_.Evaluation(
            decided=pl.concat(decided).sort("subject_id", "cnt_order"),
            model=model_.Model(
                pl.concat(people).lazy(), model.events, pl.scan_parquet(out / run_.HISTORY_FILE)
            ),
            history_written=True,
        )
        with steps("determinations.csv and .parquet"):
            published = det_out.table(evaluation.decided)
            columns = published.select(det_out.COLUMNS)
            columns.write_csv(out / "determinations.csv")
            published.write_parquet(out / "determinations.parquet", statistics=True)
        with steps("determinations.xlsx"):
            det_out.write_workbook(columns, out / "determinations.xlsx", "steps")
        with steps("summary.json and rejects.csv"):
            summary = summarize(
                published, evaluation.model, read, as_of=as_of, county=bench.COUNTY,
                policy_name=policy.name,
            )  # fmt: skip
            (out / "summary.json").write_text(run_._json(summary))
            read.rejects.write_csv(out / "rejects.csv")
        with steps("people.parquet"):
            run_._write_history(evaluation, published, out)
        provenance = run_._provenance(
            read, policy, law.version, bench.COUNTY, as_of, "argument", {}
        )
        (out / "run.json").write_text(json.dumps(provenance, default=str))
        with steps("report.html and report.pdf"):
            write_report(out)

    print(f"{path.name}: {read.rows_read:,} lines, {published.height:,} determinations\n")
    print("| step | CPU |\n|---|---:|")
    for name, seconds in steps.spent.items():
        print(f"| {name} | {seconds:.2f} s |")
    total = sum(steps.spent.values())
    besides = sum(s for name, s in steps.spent.items() if name.startswith(BESIDES))
    print(f"| **all steps** | **{total:.2f} s** |")
    print(f"| all but {', '.join(BESIDES)} | {total - besides:.2f} s |")


if __name__ == "__main__":
    main()
