"""Extracts already in Parquet: the DOJ layout's columns by name, decided as the CSV is."""

from __future__ import annotations

import csv
import datetime as dt

import polars as pl
import pytest

from clearance.extract.columns import FIELDS
from clearance.extract.reader import ExtractError, read_extracts
from clearance.policy import load_policy
from clearance.run import run
from clearance.sample import SAMPLE_COUNTY, sample_path

AS_OF = dt.date(2020, 7, 1)
KEY = ["subject_id", "cnt_order", "determination", "reason", "rule"]


@pytest.fixture(scope="module")
def sample_rows() -> pl.DataFrame:
    """The bundled sample's well-formed lines, as the 95 named text columns."""
    with sample_path().open(encoding="latin-1", newline="") as handle:
        rows = [r for r in csv.reader(handle) if len(r) == len(FIELDS)]
    return pl.DataFrame(rows, schema=list(FIELDS), orient="row")


def decide(path, out):
    result = run([path], county=SAMPLE_COUNTY, policy=load_policy("statute"), as_of=AS_OF, out=out)
    return result, pl.read_parquet(out / "determinations.parquet").select(KEY).sort(KEY)


def test_a_parquet_extract_is_decided_as_the_same_rows_in_csv(tmp_path, sample_rows):
    sample_rows.write_parquet(tmp_path / "extract.parquet")
    csv_path = tmp_path / "extract.csv"
    sample_rows.write_csv(csv_path, include_header=False)
    from_parquet, parquet_decided = decide(tmp_path / "extract.parquet", tmp_path / "p")
    from_csv, csv_decided = decide(csv_path, tmp_path / "c")
    assert parquet_decided.height > 300
    assert parquet_decided.equals(csv_decided)
    assert from_parquet.summary["by_determination"] == from_csv.summary["by_determination"]
    read = from_parquet.provenance["inputs"][0]
    assert read["rows_read"] == sample_rows.height == read["rows_used"]
    assert len(read["sha256"]) == 64


def test_typed_columns_read_as_the_extract_text(tmp_path, sample_rows):
    """A conversion that made CNT_ORDER a number (losing its leading zeros) or dates
    real dates still gives the same determinations."""
    typed = sample_rows.with_columns(
        pl.col("CNT_ORDER").cast(pl.Int64),
        pl.col("SUBJECT_ID").cast(pl.Int64),
        pl.col("PRI_DOB").str.to_date("%Y%m%d", strict=False),
    )
    assert typed["CNT_ORDER"].min() < 10**11  # leading zeros really were lost
    typed.write_parquet(tmp_path / "typed.parquet")
    sample_rows.write_parquet(tmp_path / "text.parquet")
    _, typed_decided = decide(tmp_path / "typed.parquet", tmp_path / "t")
    _, text_decided = decide(tmp_path / "text.parquet", tmp_path / "x")
    assert typed_decided.equals(text_decided)


def test_columns_are_matched_by_name_in_any_order_and_case(tmp_path, sample_rows):
    shuffled = sample_rows.select(reversed(sample_rows.columns)).rename(str.lower)
    shuffled.write_parquet(tmp_path / "shuffled.parquet")
    sample_rows.write_parquet(tmp_path / "plain.parquet")
    _, a = decide(tmp_path / "shuffled.parquet", tmp_path / "a")
    _, b = decide(tmp_path / "plain.parquet", tmp_path / "b")
    assert a.equals(b)


def test_rows_without_a_key_are_rejected_with_their_row_number(tmp_path, sample_rows):
    broken = sample_rows.head(5).with_columns(
        SUBJECT_ID=pl.when(pl.int_range(pl.len()) == 2).then(None).otherwise("SUBJECT_ID")
    )
    broken.write_parquet(tmp_path / "broken.parquet")
    read = read_extracts([tmp_path / "broken.parquet"], tmp_path / "work")
    assert read.rows_read == 5 and read.rows_used == 4
    assert read.rejects.select("line", "reason_code").rows() == [(3, "missing_subject_id")]


def test_a_parquet_file_without_the_key_columns_is_refused(tmp_path, sample_rows):
    sample_rows.drop("CNT_ORDER").write_parquet(tmp_path / "nokey.parquet")
    with pytest.raises(ExtractError, match=r"nokey\.parquet: .*no CNT_ORDER column"):
        read_extracts([tmp_path / "nokey.parquet"], tmp_path / "work")


def test_a_damaged_parquet_file_is_refused_by_name(tmp_path, sample_rows):
    sample_rows.write_parquet(tmp_path / "whole.parquet")
    data = (tmp_path / "whole.parquet").read_bytes()
    (tmp_path / "cut.parquet").write_bytes(data[: len(data) // 2])
    with pytest.raises(ExtractError, match=r"cut\.parquet: not a readable Parquet file"):
        read_extracts([tmp_path / "cut.parquet"], tmp_path / "work")
