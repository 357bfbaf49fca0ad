"""The attorneys' workbook: the same rows as the CSV, written alongside when large."""

from __future__ import annotations

import polars as pl

from clearance.outputs import determinations as det_out


def frame(n: int) -> pl.DataFrame:
    data = {c: [f"{c}-{i}" for i in range(n)] for c in det_out.COLUMNS}
    data["name"] = ['=HYPERLINK("x")'] + [f"N{i}" for i in range(1, n)]
    return pl.DataFrame(data)


def test_a_large_workbook_is_written_by_a_separate_process(tmp_path, monkeypatch):
    monkeypatch.setattr(det_out, "WORKBOOK_IN_PROCESS_ROWS", 10)
    rows = frame(50)
    pending = det_out.write_all(rows, tmp_path, "test")
    assert pending.process is not None
    pending.wait()
    back = pl.read_excel(tmp_path / "determinations.xlsx", infer_schema_length=0)
    assert back.height == 50
    assert back["subject_id"].to_list() == rows["subject_id"].to_list()


def test_text_is_never_a_formula(tmp_path):
    det_out.write_all(frame(3), tmp_path, "test").wait()
    back = pl.read_excel(tmp_path / "determinations.xlsx", infer_schema_length=0)
    assert back["name"][0] == '=HYPERLINK("x")'
