"""The review queue of a county: how long a page, a sort, a search, "next case" and an
export of the view take as the run grows.

    python benchmarks/bench_queue.py              # 40,000 people (about 55,000 convictions)
    python benchmarks/bench_queue.py --subjects 10000,200000
    python benchmarks/bench_queue.py --record     # also write its section of RESULTS.md

A synthetic extract (`clearance synth`, seed 3, kept in benchmarks/data/) is run under
the Los Angeles 2020 preset, which sends misdemeanors to review (about half the
convictions), as of 2020-07-01. A tenth of the review cases are given a decision (the
review state the web app joins in from its database, made here as a frame), then each
view of ``clearance.web.results`` is timed: the best of five, after one warm-up.
Nothing is asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import polars as pl

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

from bench import DATA, RESULTS, commit, machine  # noqa: E402

from clearance.web import results  # noqa: E402

SECTION = "## The review queue (issue 18)"
Q = results.Query


def run_folder(subjects: int) -> Path:
    """A finished run of a synthetic extract of ``subjects`` people (made once, kept)."""
    DATA.mkdir(exist_ok=True)
    extract = DATA / f"queue-{subjects}.dat"
    out = DATA / f"queue-{subjects}-run"
    cli = [sys.executable, "-m", "clearance"]
    source = str(HERE.parent / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (source, os.environ.get("PYTHONPATH", "")) if p)}  # fmt: skip
    if not extract.exists():
        subprocess.run([*cli, "synth", "--subjects", str(subjects), "--seed", "3",
                        "--out", str(extract)], check=True, env=env)  # fmt: skip
    if not (out / "determinations.parquet").exists():
        subprocess.run([*cli, "run", str(extract), "--county", "SACRAMENTO", "--policy",
                        "los-angeles-2020", "--as-of", "2020-07-01", "--out", str(out)],
                       check=True, env=env)  # fmt: skip
    return out


def decided(path: Path) -> pl.DataFrame:
    """A decision on every tenth review case, as the web app's review frame."""
    review = (
        pl.read_parquet(path, columns=["subject_id", "cnt_order", "determination"])
        .filter(pl.col("determination") == "review")
        .gather_every(10)
    )
    n = review.height
    return pl.DataFrame(
        {"subject_id": review["subject_id"], "cnt_order": review["cnt_order"],
         "opened": [False] * n, "opened_by": [None] * n, "review_decision": ["dismiss"] * n,
         "reviewed_by": ["atty"] * n, "decision_id": list(range(1, n + 1))},
        schema=results.REVIEW_SCHEMA,
    )  # fmt: skip


def best(work) -> float:
    work()
    times = []
    for _ in range(5):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def bench(subjects: int) -> dict:
    path = run_folder(subjects) / "determinations.parquet"
    frame = decided(path)

    def reviews(subjects):
        return frame if subjects is None else frame.filter(pl.col("subject_id").is_in(subjects))

    rows = pl.scan_parquet(path).select(pl.len()).collect().item()
    pending = results.page(path, reviews, Q(review="pending")).total
    middle = results.page(path, reviews, Q(review="pending", page=pending // 100)).rows[0]
    key = (middle["subject_id"], middle["cnt_order"])
    views = {
        "page 1, every conviction": lambda: results.page(path, reviews, Q()),
        "queue: waiting, sorted by name, a middle page": lambda: results.page(
            path, reviews, Q(review="pending", sort="name", page=pending // 100)
        ),
        "sorted by the current determination": lambda: results.page(
            path, reviews, Q(sort="-determination")
        ),
        "filtered: section, court": lambda: results.page(
            path, reviews, Q(section="11357", court="CASC SACRAMENTO")
        ),
        "name search (any order, accents)": lambda: results.page(path, reviews, Q(q="jose garcia")),
        "next case in the sorted queue": lambda: results.position(
            path, reviews, Q(review="pending", sort="name"), *key
        ),
        "export of the queue (all rows)": lambda: results.export_rows(
            path, reviews, Q(review="pending", sort="name")
        ),
    }
    return {"subjects": subjects, "rows": rows, "pending": pending,
            "times": {name: best(work) for name, work in views.items()}}  # fmt: skip


def table(found: list[dict]) -> str:
    head = "| view | " + " | ".join(
        f"{f['rows']:,} convictions ({f['pending']:,} waiting)" for f in found
    )
    lines = [head + " |", "|---|" + "---:|" * len(found)]
    for name in found[0]["times"]:
        lines.append(f"| {name} | " + " | ".join(f"{f['times'][name]:.3f} s" for f in found) + " |")
    return "\n".join(lines) + "\n"


def record(found: list[dict]) -> None:
    sizes = ",".join(str(f["subjects"]) for f in found)
    text = (
        f"{SECTION}\n\nMeasured {dt.date.today().isoformat()} (commit {commit()}) with "
        f"`python benchmarks/bench_queue.py --record --subjects {sizes}` on: {machine()}.\n\n"
        "The best of five after a warm-up; a tenth of the review cases decided.\n\n" + table(found)
    )
    previous = RESULTS.read_text() if RESULTS.exists() else ""
    start = previous.find(SECTION)
    if start >= 0:
        end = previous.find("\n## ", start + len(SECTION))
        rest = "\n\n" + previous[end + 1 :] if end >= 0 else ""
        previous = previous[:start].rstrip("\n") + rest
    RESULTS.write_text(previous.rstrip("\n") + "\n\n" + text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subjects", default="40000", help="comma-separated people counts")
    parser.add_argument("--record", action="store_true", help="write its section of RESULTS.md")
    args = parser.parse_args()
    found = [bench(int(n)) for n in args.subjects.split(",")]
    print(table(found))
    if args.record:
        record(found)


if __name__ == "__main__":
    main()
