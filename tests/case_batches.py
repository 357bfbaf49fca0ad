"""Readable cases run in batches: the cases that share a policy, an as-of date and a
county go into one extract (each case its own person) and one run, made once, on the
first case that asks (test_rule_cases.py, test_auto_relief_cases.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from conftest import header


class Batches:
    """Each batch run once; its determinations kept, or the error every case reports."""

    def __init__(
        self,
        tmp: Path,
        cases: Sequence[Any],
        lines_of: Callable[[Any], list[str]],
        run_batch: Callable[[list[Any], Path, Path], None],
    ) -> None:
        self.tmp, self.cases, self.lines_of, self.run_batch = tmp, cases, lines_of, run_batch
        self.results: dict[str, pl.DataFrame | BaseException] = {}

    def determinations(self, case: Any) -> pl.DataFrame:
        if case.batch not in self.results:
            try:
                self.results[case.batch] = self._run(
                    [c for c in self.cases if c.batch == case.batch]
                )
            except Exception as exc:  # every case of the batch reports it
                self.results[case.batch] = exc
        result = self.results[case.batch]
        if isinstance(result, BaseException):
            raise result
        return result.filter(pl.col("subject_id") == case.subject_id)

    def _run(self, cases: list[Any]) -> pl.DataFrame:
        folder = self.tmp / f"batch{len(self.results)}"
        folder.mkdir()
        extract = folder / "extract.csv"
        lines = [header(), *(text for case in cases for text in self.lines_of(case))]
        extract.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self.run_batch(cases, extract, folder / "out")
        return pl.read_parquet(folder / "out" / "determinations.parquet")
