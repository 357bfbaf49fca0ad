"""Speed and memory of `clearance run` against the cost of just reading the file.

    python benchmarks/bench.py                   # 1M and 10M rows, and 1M in 4 files
    python benchmarks/bench.py --sizes 1m        # one size
    python benchmarks/bench.py --record          # also write benchmarks/RESULTS.md
    python benchmarks/bench.py --sizes 50m --repeats 1 --clean   # 50M rows, 22 GB

For each size it generates a seeded synthetic extract with `clearance synth` (kept in
benchmarks/data/ for the next run; `1m-4files` is the 1M extract cut into four
files between people, as several counties' extracts would come, which a run
stages by person bucket instead of streaming; `50m` is a LOS ANGELES extract of
50M rows, 22 GB, whose 2.8M decided convictions are spilled to disk as they come,
outputs/spill.py: asked for by name only, and best deleted after with `--clean`),
then, back to back, each in its own process:

- **floor**: a plain lazy Polars scan of the columns the rules need from the same
  file (`scan_csv(...).select(...).collect(engine="streaming")`; for `50m`, whose
  rows do not fit in memory, read batch by batch and let go: `collect_batches()`);
- **run**: `clearance run` with every default output.

Each is measured three times (`--repeats`) and the fastest counts, for both alike: other work on
a shared machine only ever slows a process down. It reports wall time (every run's,
too), peak memory (the highest resident memory of the process and all its
children together, sampled every 0.1 s, the highest of the three), rows per
second and the ratio of run to floor. Nothing here is asserted: the figures are
measured and recorded, never checked by the test suite.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
RESULTS = HERE / "RESULTS.md"
ROWS_PER_SUBJECT = 25  # about what `clearance synth` writes per person
# Rows, and the number of files the extract is given as: several files (as several
# counties' extracts would be) are staged by person bucket, one file is streamed.
SIZES = {
    "1m": (1_000_000, 1),
    "10m": (10_000_000, 1),
    "1m-4files": (1_000_000, 4),
    "50m": (50_000_000, 1),
}
COUNTY = "SACRAMENTO"
# The extract's county where it is not COUNTY: Los Angeles' extract is the largest.
SIZE_COUNTY = {"50m": "LOS ANGELES"}
REPEATS = 3  # of the floor and of the run: the fastest of each counts (--repeats)
AS_OF = "2020-07-01"

FLOOR = """
import sys, polars as pl
from clearance.extract.columns import POSITION, USED
positions = sorted(POSITION[name] for name in USED)
query = pl.scan_csv(sys.argv[2:], has_header=False, infer_schema=False).select(pl.nth(positions))
if sys.argv[1] == "held":
    print(query.collect(engine="streaming").height)
else:  # 50M rows of these columns do not fit in memory: read and let go, a batch at a time
    print(sum(batch.height for batch in query.collect_batches()))
"""
# Sizes whose floor reads the rows batch by batch without holding them (FLOOR).
FLOOR_STREAMED = {"50m"}

MEASURE = """
import json, resource, subprocess, sys, time
from pathlib import Path

def tree_rss(pid):
    # Resident memory of a process and all its descendants, from /proc (Linux).
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            pass
    return total

start = time.perf_counter()
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
peak = 0
while child.poll() is None:
    peak = max(peak, tree_rss(child.pid))
    time.sleep(0.1)
_, stderr = child.communicate()
wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
peak = max(peak, usage.ru_maxrss * 1024)
print(json.dumps({"wall": wall, "peak_mb": peak / 1e6, "cpu": usage.ru_utime + usage.ru_stime,
                  "code": child.returncode, "stderr": stderr[-2000:]}))
"""


def measure(command: list[str]) -> dict:
    """Run a command in a fresh process; its wall time, CPU time and peak memory."""
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, *command], capture_output=True, text=True, check=True
    )
    result = json.loads(out.stdout)
    if result["code"] != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result['stderr']}")
    return result


def county(size: str) -> str:
    return SIZE_COUNTY.get(size.split("-")[0], COUNTY)


def extract(size: str, rows: int) -> tuple[Path, int]:
    DATA.mkdir(exist_ok=True)
    path = DATA / f"synth-{size}.dat"
    intended = DATA / f"synth-{size}.intended.json"
    if size.endswith("files"):  # the same people as the one-file size
        return extract(size.split("-")[0], rows)
    if not (path.exists() and intended.exists()):
        subjects = rows // ROWS_PER_SUBJECT
        print(f"generating {path.name} ({subjects:,} people)...", flush=True)
        subprocess.run(
            [sys.executable, "-m", "clearance", "synth", "--subjects", str(subjects), "--seed",
             "1", "--county", county(size), "--out", str(path), "--intended", str(intended)],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    return path, json.loads(intended.read_text())["rows"]["read"]


def split(path: Path, parts: int) -> list[Path]:
    """``path`` cut into ``parts`` files of about equal size, never inside a person."""
    if parts == 1:
        return [path]
    names = [path.with_name(f"{path.stem}-part{i + 1}of{parts}.dat") for i in range(parts)]
    if all(n.exists() for n in names):
        return names
    per_part = path.stat().st_size // parts + 1
    with path.open("rb") as source:
        outs = [n.open("wb") for n in names]
        current, written, person = 0, 0, b""
        for line in source:
            subject = line.split(b",", 3)[2]
            if subject != person and written >= per_part and current < parts - 1:
                current, written = current + 1, 0
            person = subject
            outs[current].write(line)
            written += len(line)
        for out in outs:
            out.close()
    return names


def bench(size: str, rows: int, files: int, repeats: int = REPEATS) -> dict:
    path, n_rows = extract(size, rows)
    paths = [str(p) for p in split(path, files)]
    floor_mode = "streamed" if size in FLOOR_STREAMED else "held"
    load = os.getloadavg()[0]  # other work on the machine makes wall times longer
    floor = min(
        (measure([sys.executable, "-c", FLOOR, floor_mode, *paths]) for _ in range(repeats)),
        key=lambda m: m["wall"],
    )
    runs = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="clearance-bench-", dir=DATA) as tmp:
            out = Path(tmp) / "out"
            measured = measure(
                [sys.executable, "-m", "clearance", "run", *paths, "--county", county(size),
                 "--as-of", AS_OF, "--out", str(out)]
            )  # fmt: skip
            measured["provenance"] = json.loads((out / "run.json").read_text())
            measured["outputs"] = {p.name: p.stat().st_size for p in sorted(out.iterdir())}
            runs.append(measured)
    run = min(runs, key=lambda m: m["wall"])
    provenance, outputs = run["provenance"], run["outputs"]
    timings = provenance["timings_seconds"]
    cpu_stages = provenance["cpu_seconds"]
    return {
        "size": size if county(size) == COUNTY else f"{size}, {county(size)}",
        "rows": n_rows,
        "file_mb": path.stat().st_size / 1e6,
        "floor_s": floor["wall"],
        "floor_peak_mb": floor["peak_mb"],
        "floor_cpu_s": floor["cpu"],
        "run_s": run["wall"],
        "run_cpu_s": run["cpu"],
        "run_peak_mb": max(r["peak_mb"] for r in runs),
        "runs_s": [r["wall"] for r in runs],
        "rows_per_s": n_rows / run["wall"],
        "ratio": run["wall"] / floor["wall"],
        "stages": timings,
        "staging": provenance["environment"].get("staging", ""),
        "cpu_stages": cpu_stages,
        "load": load,
        "outputs_mb": round(sum(outputs.values()) / 1e6, 1),
    }


def commit() -> str:
    """The checkout's commit, and whether it had changes not committed."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, text=True,
                              capture_output=True, check=True).stdout.strip()  # fmt: skip
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=HERE, text=True, capture_output=True).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" with changes" if dirty else "")


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for text in Path("/proc/cpuinfo").read_text().splitlines():
            if text.startswith("model name"):
                cpu = text.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import polars

    return (
        f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB RAM, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}, Polars {polars.__version__}"
    )


def table(results: list[dict]) -> str:
    head = (
        "| size | rows | file | floor | run | run / floor | every run | rows/s | peak memory (run) "
        "| peak memory (floor) | stages, wall (read / model / rules / outputs) "
        "| CPU: run (all processes) / floor | stages, CPU of the main process "
        "| load before |\n"
        "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---|---|---|---:|\n"
    )
    lines = [
        f"| {r['size']} ({r['staging']}) | {r['rows']:,} | {r['file_mb']:,.0f} MB "
        f"| {r['floor_s']:.1f} s "
        f"| {r['run_s']:.1f} s | {r['ratio']:.2f} "
        f"| {', '.join(f'{w:.1f}' for w in r['runs_s'])} s | {r['rows_per_s']:,.0f} "
        f"| {r['run_peak_mb']:,.0f} MB | {r['floor_peak_mb']:,.0f} MB "
        f"| {r['stages']['read']:.1f} / {r['stages']['model']:.1f} / "
        f"{r['stages']['rules']:.1f} / {r['stages']['outputs']:.1f} s "
        f"| {r['run_cpu_s']:.1f} / {r['floor_cpu_s']:.1f} s "
        f"| {r['cpu_stages']['read']:.1f} / {r['cpu_stages']['model']:.1f} / "
        f"{r['cpu_stages']['rules']:.1f} / {r['cpu_stages']['outputs']:.1f} s "
        f"| {r['load']:.1f} |"
        for r in results
    ]
    return head + "\n".join(lines) + "\n"


def record(results: list[dict]) -> None:
    command = "python benchmarks/bench.py --record" + (
        "" if len(results) == 3 else f" --sizes {','.join(r['size'] for r in results)}"
    )
    text = (
        "# Benchmark results\n\n"
        f"Measured {dt.date.today().isoformat()} (commit {commit()}) with `{command}` on: "
        f"{machine()}.\n\n"
        "Targets (issue 4): 1M rows end to end in under 3 times the floor and under 1 GB "
        "peak memory; 10M rows in under 2 GB peak memory.\n\n"
        + table(results)
        + "\nThe floor is a plain lazy Polars scan of the columns the rules need from the "
        "same file; run is `clearance run` with every default output. Peak memory is the "
        "highest total resident memory of the process and any children it starts, "
        "sampled every 0.1 s. CPU time is user "
        "plus system time; unlike wall time it hardly changes when other work shares the "
        "machine (load before: the one-minute load average when the size began).\n"
    )
    # Other benchmarks keep their own "## " sections of the file (bench_filings.py).
    previous = RESULTS.read_text() if RESULTS.exists() else ""
    others = previous.find("\n## ")
    RESULTS.write_text(text + (previous[others:] if others >= 0 else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        default="1m,10m,1m-4files",
        help=f"comma-separated: {','.join(SIZES)} (default: all but 50m)",
    )
    parser.add_argument(
        "--repeats", type=int, default=REPEATS, help="runs of each; the fastest counts"
    )
    parser.add_argument("--record", action="store_true", help="write benchmarks/RESULTS.md")
    parser.add_argument("--clean", action="store_true", help="delete generated extracts after")
    args = parser.parse_args()
    results = []
    for size in args.sizes.split(","):
        result = bench(size, *SIZES[size], repeats=args.repeats)
        results.append(result)
        print(table([result]), flush=True)
    if args.record:
        record(results)
        print(f"recorded in {RESULTS}")
    if args.clean:
        shutil.rmtree(DATA, ignore_errors=True)


if __name__ == "__main__":
    main()
