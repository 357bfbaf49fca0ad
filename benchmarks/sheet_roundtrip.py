"""The rap-sheet reader's long check: thousands of synthetic people printed as sheets
(with and without OCR-like noise), read back and decided under every rule pack,
against the same people decided from the extract (docs/rap-sheet.md).

    PYTHONPATH=src:tests python benchmarks/sheet_roundtrip.py [--subjects 3000] [--seed 1]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from clearance.sheet.read import sheet_from_text
from clearance.sheet.render import render_person
from clearance.synth import generate
from sheet_support import decided, staged


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "extract.dat"
        generate(path, subjects=args.subjects, county="SACRAMENTO", seed=args.seed)
        rows = staged(path, Path(tmp) / "work")
        want = decided(rows, "SACRAMENTO")
        failures = 0
        for noisy in (False, True):
            started = time.perf_counter()
            noise = random.Random(args.seed) if noisy else None
            read, rejected = [], 0
            for key, person in rows.group_by("subject_id", maintain_order=True):
                _, got, rejects = sheet_from_text(render_person(person, noise), f"{key[0]}.txt")
                rejected += rejects.height
                read.append(got)
            got = decided(pl.concat(read), "SACRAMENTO")
            for pack, table in want.items():
                same = got[pack].equals(table)
                failures += not same
                print(
                    f"{'noisy' if noisy else 'clean'} {pack}: {len(read):,} people, "
                    f"{table.height:,} determinations, rejected lines {rejected}, "
                    f"same: {same} ({time.perf_counter() - started:.1f} s)"
                )
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
