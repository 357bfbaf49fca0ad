"""Speed and memory of `clearance filings` for a 66,000-case filing.

    python benchmarks/bench_filings.py               # 66,000 granted convictions
    python benchmarks/bench_filings.py --cases 20000
    python benchmarks/bench_filings.py --record      # also write its section of RESULTS.md

66,000 is the size of Los Angeles County's 2020 Proposition 64 filing. The run
folder comes from the real pipeline on synthetic data: `clearance synth` writes a
seeded extract, `clearance run` decides it (both kept in benchmarks/data/ for the
next time), and the run's determinations are cut, person by person, to exactly
`--cases` granted convictions (with those people's challenged and review
convictions). Then, each in a fresh process, it measures

- `clearance filings` with everything (filings, exhibits, DOJ file, letters), and
- `clearance filings --no-letters`, to show what the letters cost,

reporting wall and CPU time, peak memory (process tree, sampled every 0.1 s),
files, pages and bytes written. Nothing is asserted; the figures are recorded.
`--record` replaces only the "Filings" section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import polars as pl
from bench import DATA, RESULTS, machine, measure

HERE = Path(__file__).resolve().parent
OFFICE = HERE.parent / "examples" / "office.yaml"
COUNTY = "SACRAMENTO"
AS_OF = "2020-07-01"
SEED = "6"
GRANTED_PER_SUBJECT = 0.68  # about what a synthetic person yields; the cut makes it exact
HEADING = "## Filings (issue 6)"


def run_folder(cases: int) -> Path:
    """A run folder with at least `cases` granted convictions, made once and kept."""
    subjects = int(cases / GRANTED_PER_SUBJECT) + 1000
    folder = DATA / f"filings-run-{subjects}"
    if (folder / "run.json").exists():
        return folder
    DATA.mkdir(exist_ok=True)
    extract = DATA / f"filings-synth-{subjects}.dat"
    print(f"generating {extract.name} ({subjects:,} people)...", flush=True)
    subprocess.run(
        [sys.executable, "-m", "clearance", "synth", "--subjects", str(subjects), "--seed", SEED,
         "--county", COUNTY, "--out", str(extract)],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    print("deciding it with clearance run...", flush=True)
    subprocess.run(
        [sys.executable, "-m", "clearance", "run", str(extract), "--county", COUNTY,
         "--as-of", AS_OF, "--out", str(folder)],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    extract.unlink()
    return folder


def cut(source: Path, cases: int) -> Path:
    """The source run with exactly `cases` granted convictions, whole people first."""
    frame = pl.read_parquet(source / "determinations.parquet").with_row_index("row")
    granted = pl.col("determination").is_in(["dismiss", "reduce"])
    per_person = (
        frame.group_by("subject_id", maintain_order=True)
        .agg(pl.col("row").min().alias("first"), granted.sum().alias("granted"))
        .sort("first")
        .with_columns(pl.col("granted").cum_sum().alias("running"))
    )
    if per_person["running"][-1] < cases:
        raise SystemExit(f"the source run has only {per_person['running'][-1]:,} granted")
    whole = per_person.filter(pl.col("running") <= cases)["subject_id"]
    kept = frame.filter(pl.col("subject_id").is_in(whole.implode()))
    short = cases - kept.filter(granted).height
    if short:
        rest = frame.filter(~pl.col("subject_id").is_in(whole.implode()) & granted).head(short)
        kept = pl.concat([kept, rest]).sort("row")
    folder = DATA / f"filings-{cases}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    kept.drop("row").write_parquet(folder / "determinations.parquet")
    shutil.copy(source / "run.json", folder / "run.json")
    return folder


def pages(folder: Path) -> int:
    """Pages in every PDF written (counted from the files' page objects)."""
    page = re.compile(rb"/Type /Page\b(?!s)")
    return sum(len(page.findall(p.read_bytes())) for p in folder.rglob("*.pdf"))


def bench(cases: int) -> dict:
    run = cut(run_folder(cases), cases)
    frame = pl.read_parquet(run / "determinations.parquet")
    counts = dict(frame["determination"].value_counts().iter_rows())
    results = {"cases": cases, "convictions": frame.height, "counts": counts,
               "load": os.getloadavg()[0]}  # fmt: skip
    for label, extra in (("all", []), ("no_letters", ["--no-letters"])):
        with tempfile.TemporaryDirectory(prefix="clearance-filings-", dir=DATA) as tmp:
            out = Path(tmp) / "filings"
            measured = measure(
                [sys.executable, "-m", "clearance", "filings", "--run", str(run), "--office",
                 str(OFFICE), "--out", str(out), *extra]
            )  # fmt: skip
            manifest = json.loads((out / "filings.json").read_text())
            files = [p for p in out.rglob("*") if p.is_file()]
            results[label] = {
                **measured,
                "files": len(files),
                "bytes_mb": sum(p.stat().st_size for p in files) / 1e6,
                "pages": pages(out),
                "people": (manifest["letters"] or {}).get("people"),
                "parts": sum(c["exhibit_a_parts"] for c in manifest["courts"]),
            }
    return results


def section(r: dict) -> str:
    a, n = r["all"], r["no_letters"]
    c = r["counts"]
    return (
        f"{HEADING}\n\n"
        f"Measured {dt.date.today().isoformat()} with `python benchmarks/bench_filings.py "
        f"--record` on: {machine()}.\n\n"
        f"A filing of {r['cases']:,} granted convictions ({c.get('dismiss', 0):,} dismiss, "
        f"{c.get('reduce', 0):,} reduce) in one court, with {c.get('not_eligible', 0):,} "
        f"challenged and {c.get('review', 0):,} awaiting review: {r['convictions']:,} "
        "convictions from `clearance synth` + `clearance run`, cut to size by person.\n\n"
        "| command | wall | CPU | peak memory | files | PDF pages | written |\n"
        "|---|---:|---:|---:|---:|---:|---:|\n"
        f"| `clearance filings` (with letters to {a['people']:,} people, English and "
        f"Spanish) | {a['wall']:.1f} s | {a['cpu']:.1f} s | {a['peak_mb']:,.0f} MB "
        f"| {a['files']} | {a['pages']:,} | {a['bytes_mb']:,.0f} MB |\n"
        f"| `clearance filings --no-letters` | {n['wall']:.1f} s | {n['cpu']:.1f} s "
        f"| {n['peak_mb']:,.0f} MB | {n['files']} | {n['pages']:,} | {n['bytes_mb']:,.0f} MB |\n"
        f"\nExhibit A is written in {a['parts']} part{'s' if a['parts'] != 1 else ''} of at "
        "most 5,000 rows (PDF and Word each); see docs/filings.md for why. One-minute load "
        "average before: "
        f"{r['load']:.1f}.\n"
    )


def record(r: dict) -> None:
    """Replace (or add) this benchmark's section of RESULTS.md, leaving the rest as is."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    start = text.find(HEADING)
    if start >= 0:
        end = text.find("\n## ", start + len(HEADING))
        text = text[:start].rstrip("\n") + "\n\n" + (text[end + 1 :] if end >= 0 else "")
    RESULTS.write_text(text.rstrip("\n") + "\n\n" + section(r))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=66_000, help="granted convictions")
    parser.add_argument("--record", action="store_true", help="write its part of RESULTS.md")
    args = parser.parse_args()
    result = bench(args.cases)
    print(section(result), flush=True)
    if args.record:
        record(result)
        print(f"recorded in {RESULTS}")


if __name__ == "__main__":
    main()
