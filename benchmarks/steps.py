"""Where a run's time goes: the CPU time of each step of `clearance run`, alone.

    python benchmarks/steps.py                         # the 1M-row benchmark extract
    python benchmarks/steps.py --size 10m
    python benchmarks/steps.py --law ca-auto-relief    # the second rule pack

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
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench

from clearance import run as run_
from clearance.extract import keys, reader
from clearance.extract import model as model_
from clearance.law import load_pack
from clearance.outputs import determinations as det_out
from clearance.outputs import spill
from clearance.outputs.layouts import layout_for
from clearance.outputs.summary import finish as finish_summary
from clearance.policy import load_policy
from clearance.report import write_report
from clearance.rules.engine import count_lines, determine
from clearance.run_common import county_convictions
from clearance.textsafe import write_csv

# Each law's as-of date, as bench_laws.py runs it.
AS_OF = {"prop64": bench.AS_OF, "ca-auto-relief": "2026-07-01"}

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
    parser.add_argument("--law", default="prop64", choices=sorted(AS_OF))
    args = parser.parse_args()
    path, _ = bench.extract(args.size, bench.SIZES[args.size][0])
    as_of = dt.date.fromisoformat(AS_OF[args.law])
    law = load_pack(args.law)
    policy = load_policy("statute", law)
    layout = layout_for(law)
    read_lines = count_lines(law)  # what the law reads of every line of a count
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
            with keys.pinned():
                model = model_.build(
                    batch.lazy(), [path.name], in_order=True, grouped=True, count_lines=read_lines
                )
                with steps("model: normalise, counts, people"):
                    counts, group_people = pl.collect_all(
                        [model.counts, model.people], engine="in-memory"
                    )
                in_memory = model_.Model(group_people.lazy(), model.events, counts.lazy())
                with steps("rules: determine, counties, keep the published columns"):
                    found = determine(
                        in_memory, policy, bench.COUNTY, as_of, law, ordered=False
                    ).collect(engine="in-memory")
                    county_convictions(counts)
                    decided.append(spill.compact(found.select(layout.needed(found.columns))))
                    people.append(spill.compact(group_people))
            ids = found["subject_id"].unique().implode()
            kept = counts.filter(pl.col("subject_id").is_in(ids))
            kept = kept.drop(read_lines.columns if read_lines else [])
            with steps("history.parquet"):
                history.write(kept)
                history._wait()
        history.__exit__(None, None, None)
        read = reading.result(rows=pl.LazyFrame(schema=reader.staged_schema()))
        everyone = pl.concat(people)
        with steps("sort, the published table, summary.json and rejects.csv"):
            published = layout.table(
                spill.in_order(pl.concat(decided), ("subject_id", "cnt_order"))
            )
            model = model_.Model(
                everyone.lazy(), model.events, pl.scan_parquet(out / run_.HISTORY_FILE)
            )
            summary = finish_summary(
                layout.tallies(published, model, as_of, policy), read, as_of=as_of,
                county=bench.COUNTY, policy_name=policy.name,
            )  # fmt: skip
            (out / "summary.json").write_text(run_._json(summary))
            write_csv(read.rejects, out / "rejects.csv")
        with steps("determinations.csv and .parquet"):
            write_csv(published.select(layout.columns), out / "determinations.csv")
            published.write_parquet(out / "determinations.parquet", statistics=True)
        with steps("determinations.xlsx"):
            sheet = published.select(layout.workbook_columns or layout.columns)
            det_out.write_workbook(sheet, out / "determinations.xlsx", "steps", law, summary)
        with steps("people.parquet and the law's other files"):
            ids = published["subject_id"].unique().implode()
            everyone.filter(pl.col("subject_id").is_in(ids)).sort("subject_id").write_parquet(
                out / run_.PEOPLE_FILE
            )
            layout.write_more(out, as_of=as_of, policy=policy)
        provenance = run_._provenance(read, policy, law, bench.COUNTY, as_of, "argument", {})
        (out / "run.json").write_text(run_._json(provenance))
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
