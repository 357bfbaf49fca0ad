"""The reader never crashes: every input reads, or is refused with one line naming the file.

Lone carriage returns, compressed extracts, archives given by mistake, Parquet files
with nested or damaged columns (issue 15): each either reads (with its defective
lines rejected and counted) or stops with ExtractError, which the command line
prints as one line with exit status 2.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import subprocess

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from clearance.cli import app
from clearance.extract.columns import FIELDS
from clearance.extract.reader import ExtractError, in_one_order, read_extracts
from conftest import header, line

runner = CliRunner()
SECRET = "ZQXJV"  # in a name: must never reach a message


def read(path, tmp_path, **kwargs):
    result = read_extracts([path], tmp_path / "work", **kwargs)
    return result, result.rows.collect()


def reconciles(result) -> bool:
    return all(f.rows_read == f.rows_used + f.rows_rejected for f in result.files)


def lines(n: int = 6) -> list[str]:
    return [line(SUBJECT_ID=str(100 + i), PRI_NAME=f"{SECRET},ANN") for i in range(n)]


def cli(*args):
    return runner.invoke(app, [str(a) for a in args])


def one_line_exit_2(result, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    message = result.output.strip()
    assert "\n" not in message and message.startswith("clearance: ")
    for needle in needles:
        assert needle in message
    assert SECRET not in message and "Traceback" not in message


# --- a lone carriage return --------------------------------------------------------------


def with_cr(text: str, where: str) -> str:
    """``text`` (a line) with a carriage return typed into its name."""
    if where == "stray_quote":
        return text.replace(f'"{SECRET},ANN"', f'{SECRET}"\rANN', 1)
    if where == "quoted":
        return text.replace(f'"{SECRET},ANN"', f'"{SECRET}\r,ANN"', 1)
    return text.replace(f'"{SECRET},ANN"', f"{SECRET}\rANN", 1)


@pytest.mark.parametrize("where", ["unquoted", "stray_quote", "quoted"])
@pytest.mark.parametrize("position", [0, 2, 5])
@pytest.mark.parametrize("chunk", [None, 700])
@pytest.mark.parametrize("ending", ["\n", "\r\n"])
def test_a_lone_carriage_return_rejects_its_line_with_a_reason(
    write, tmp_path, where, position, chunk, ending
):
    """First, middle or last line, in a clean block (one Polars pass) or a small chunk:
    the line is rejected as carriage_return, every other line is used."""
    rows = lines()
    rows[position] = with_cr(rows[position], where)
    path = write(ending.join(rows) + ending)
    result, staged = read(path, tmp_path, **({"chunk_bytes": chunk} if chunk else {}))
    assert result.rejects.select("line", "reason_code").rows() == [
        (position + 1, "carriage_return")
    ]
    assert (result.rows_read, result.rows_used) == (6, 5) and reconciles(result)
    assert not staged["name"].str.contains("\r").any()


def test_a_carriage_return_ending_the_last_line_is_a_line_end(write, tmp_path):
    result, _ = read(write("\n".join(lines()) + "\r"), tmp_path)
    assert (result.rows_read, result.rows_used) == (6, 6)


def test_run_on_a_file_whose_first_and_last_lines_hold_a_carriage_return(write, tmp_path):
    """`run` peeks at both ends of each file (in_one_order): a CR there once crashed it."""
    rows = lines()
    rows[0], rows[-1] = with_cr(rows[0], "unquoted"), with_cr(rows[-1], "stray_quote")
    path = write("\n".join(rows) + "\n")
    assert in_one_order([path, path]) in (True, False)
    out = tmp_path / "out"
    result = cli("run", path, "--county", "SACRAMENTO", "--as-of", "2020-07-01", "--out", out)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    rows = summary["rows"]
    assert (rows["read"], rows["used"], rows["rejected"]) == (6, 4, 2)
    rejects = pl.read_csv(out / "rejects.csv")
    assert rejects["line"].to_list() == [1, 6]
    assert set(rejects["reason_code"]) == {"carriage_return"}


def test_a_carriage_return_in_the_header_stops_the_file_at_line_1(write, tmp_path):
    path = write(header().replace("SUBJECT_STATUS", "SUBJECT\rSTATUS") + "\n" + line() + "\n")
    with pytest.raises(ExtractError, match=r"extract\.dat, line 1: the header"):
        read(path, tmp_path)
    one_line_exit_2(cli("inspect", path), "extract.dat, line 1")


def test_a_stray_quote_in_the_header_stops_the_file_at_line_1(write, tmp_path):
    path = write(header().replace("PRI_NAME", '"PRI"NAME') + "\n" + line() + "\n")
    one_line_exit_2(cli("inspect", path), "extract.dat, line 1", "quote")


def test_a_value_longer_than_the_csv_module_allows_reads(write, tmp_path):
    """Python's csv module stops at 131,072 characters a field: the reader has no limit."""
    long_comment = 'A"B' + "C" * 200_000  # a quote inside: read line by line
    path = write(line(COMMENT_TEXT=long_comment) + "\n" + line(SUBJECT_ID="2") + "\n")
    result, staged = read(path, tmp_path)
    assert result.rows_used == 2
    assert staged.sort("line")["comment_text"][0] == long_comment


# --- compressed extracts -----------------------------------------------------------------


def zstd_frame(data: bytes) -> bytes:
    """A zstd frame, as the zstd tool writes it (Arrow's one-shot compress writes one)."""
    return pa.compress(data, codec="zstd", asbytes=True)


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
@pytest.mark.parametrize("chunk", [None, 1000])
def test_a_compressed_extract_reads_as_the_same_lines(write, tmp_path, kind, chunk):
    rows = lines(40)
    rows[7] = rows[7].rsplit(",", 3)[0]  # a defect: rejected in both
    text = ("\n".join(rows) + "\n").encode()
    packed = gzip.compress(text) if kind == "gzip" else zstd_frame(text)
    plain_path = write(text, "plain.dat")
    packed_path = write(packed, "packed.dat")
    kwargs = {"chunk_bytes": chunk} if chunk else {}
    plain, plain_rows = read(plain_path, tmp_path / "a", **kwargs)
    packed_result, packed_rows = read(packed_path, tmp_path / "b", **kwargs)
    assert packed_rows.drop("source_file").equals(plain_rows.drop("source_file"))
    assert packed_result.rejects.drop("source_file").equals(plain.rejects.drop("source_file"))
    stats = packed_result.files[0]
    assert (stats.rows_read, stats.rows_used, stats.rows_rejected) == (40, 39, 1)
    # Provenance is of the file as stored, which `sha256sum` checks.
    assert stats.sha256 == hashlib.sha256(packed).hexdigest()
    assert stats.size_bytes == len(packed)
    assert any(f"{kind}-compressed" in w for w in stats.warnings)


def test_concatenated_gzip_members_are_read_whole(write, tmp_path):
    first, second = lines(3), [line(SUBJECT_ID=str(900 + i)) for i in range(3)]
    data = gzip.compress(("\n".join(first) + "\n").encode())
    data += gzip.compress(("\n".join(second) + "\n").encode())
    result, staged = read(write(data), tmp_path)
    assert result.rows_used == 6 and staged["line"].to_list() == [1, 2, 3, 4, 5, 6]


def test_run_decides_a_gzip_extract_as_the_plain_one(write, tmp_path):
    text = ("\n".join(lines(20)) + "\n").encode()
    outs = []
    for name, data in (("plain.dat", text), ("packed.dat.gz", gzip.compress(text))):
        out = tmp_path / f"out-{name}"
        result = cli(
            "run", write(data, name), "--county", "SACRAMENTO", "--as-of", "2020-07-01",
            "--out", out,
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        outs.append(pl.read_parquet(out / "determinations.parquet").drop("source_file"))
    assert outs[0].equals(outs[1])


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_a_compressed_extract_cut_short_is_refused_by_name(write, tmp_path, kind):
    text = ("\n".join(lines(2000)) + "\n").encode()
    packed = gzip.compress(text) if kind == "gzip" else zstd_frame(text)
    path = write(packed[: len(packed) // 2], "cut.dat")
    with pytest.raises(ExtractError, match=rf"cut\.dat.*{kind}-compressed data is damaged"):
        read(path, tmp_path, chunk_bytes=4096)
    one_line_exit_2(cli("inspect", path), "cut.dat", f"{kind}-compressed")


@pytest.mark.parametrize(
    ("start", "what"),
    [
        (b"PK\x03\x04", "ZIP archive"),
        (b"BZh91AY&SY", "bzip2"),
        (b"\xfd7zXZ\x00\x00", "xz"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "Excel 97-2003"),
    ],
)
def test_an_archive_given_by_mistake_is_refused_by_name(write, tmp_path, start, what):
    path = write(start + b"\x00" * 64 + SECRET.encode(), "extract.dat")
    with pytest.raises(ExtractError, match=what):
        read(path, tmp_path)
    one_line_exit_2(cli("inspect", path), "extract.dat", what)
    out = tmp_path / "out"
    one_line_exit_2(cli("run", path, "--county", "SACRAMENTO", "--out", out), what)


def test_a_real_zstd_file_reads(write, tmp_path):
    """One written by the zstd tool, when the machine has it."""
    text = ("\n".join(lines(10)) + "\n").encode()
    try:
        packed = subprocess.run(["zstd", "-q", "-c"], input=text, capture_output=True).stdout
    except FileNotFoundError:
        pytest.skip("no zstd tool on this machine")
    result, _ = read(write(packed + packed), tmp_path)  # two frames
    assert result.rows_used == 20


# --- Parquet -----------------------------------------------------------------------------


def parquet_rows(n: int = 5) -> pl.DataFrame:
    text = "\n".join(lines(n))
    return pl.DataFrame(list(csv.reader(io.StringIO(text))), schema=list(FIELDS), orient="row")


@pytest.mark.parametrize(
    "column",
    [
        pl.col("PRI_NAME").str.split(","),
        pl.struct("PRI_NAME", "GENDER").alias("PRI_NAME"),
        pl.concat_list("CNT_ORDER").list.to_array(1).alias("CNT_ORDER"),
    ],
    ids=["list", "struct", "array"],
)
def test_a_parquet_file_with_nested_columns_is_refused(tmp_path, column):
    path = tmp_path / "nested.parquet"
    parquet_rows().with_columns(column).write_parquet(path)
    with pytest.raises(ExtractError, match=r"nested\.parquet: the Parquet column \w+ holds lists"):
        read(path, tmp_path)
    one_line_exit_2(cli("inspect", path), "nested.parquet", "lists or structures")


def test_a_parquet_page_damaged_inside_is_refused_with_its_row(tmp_path):
    path = tmp_path / "damaged.parquet"
    parquet_rows(400).write_parquet(path, compression="uncompressed", row_group_size=100)
    data = bytearray(path.read_bytes())
    footer = int.from_bytes(data[-8:-4], "little") + 8  # the metadata stays readable
    start, end = len(data) // 3, len(data) - footer - 16
    data[start:end] = b"\xff" * (end - start)
    path.write_bytes(bytes(data))
    with pytest.raises(ExtractError, match=r"damaged\.parquet, row \d+: the rows from here"):
        read(path, tmp_path)
    one_line_exit_2(cli("inspect", path), "damaged.parquet, row")


def test_parquet_bytes_that_are_not_text_are_refused(tmp_path):
    table = parquet_rows().to_arrow()
    at = table.schema.get_field_index("PRI_NAME")
    table = table.set_column(at, "PRI_NAME", pa.array([b"\xff\xfe" + SECRET.encode()] * 5))
    pq.write_table(table, tmp_path / "bytes.parquet")
    one_line_exit_2(cli("inspect", tmp_path / "bytes.parquet"), "bytes.parquet, row 1")


# --- files that are not lines ------------------------------------------------------------


@pytest.mark.parametrize("size", [3, 400])
def test_a_file_whose_lines_end_in_cr_only_is_refused_by_name(write, tmp_path, size):
    """Old Mac line endings: one endless line, once held whole in memory and rejected."""
    path = write(("\r".join(lines(size)) + "\r").encode(), "mac.dat")
    with pytest.raises(ExtractError, match=r"mac\.dat: its lines end in a carriage return only"):
        read(path, tmp_path, chunk_bytes=4096)
    one_line_exit_2(cli("inspect", path), "mac.dat", "carriage return only")


def test_a_line_without_end_is_refused_before_memory_grows(write, tmp_path, monkeypatch):
    """A file with no line break (binary data, a dump) stops at MAX_LINE_BYTES, naming
    the line, instead of being held whole in memory."""
    from clearance.extract import reader

    monkeypatch.setattr(reader, "MAX_LINE_BYTES", 100_000)
    path = write(("\n".join(lines(3)) + "\n").encode() + b"A" * 300_000, "dump.dat")
    with pytest.raises(ExtractError, match=r"dump\.dat, line 4: no line break in"):
        read(path, tmp_path, chunk_bytes=8192)
