"""The reader: every data line is used or reported, whatever the file looks like."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clearance.extract.columns import FIELDS, N_FIELDS
from clearance.extract.normalize import normalize
from clearance.extract.reader import ExtractError, read_extracts
from conftest import header, line


def read(path, tmp_path, **kwargs):
    result = read_extracts([path], tmp_path / "work", **kwargs)
    return result, result.rows.collect()


def assert_reconciles(result):
    for f in result.files:
        assert f.rows_read == f.rows_used + f.rows_rejected, f


# --- layouts ----------------------------------------------------------------------------


def test_without_header_fields_are_taken_by_position(write, tmp_path):
    result, rows = read(write(line(SUBJECT_ID="42") + "\n"), tmp_path)
    assert result.files[0].header is False
    assert rows.row(0, named=True)["subject_id"] == "42"
    assert rows["line"].to_list() == [1]


def test_with_header_fields_are_taken_by_name_in_any_order(write, tmp_path):
    names = [FIELDS[0], *reversed(FIELDS[1:])]  # the header always starts with RECORD_ID
    values = {"SUBJECT_ID": "42", "CNT_ORDER": "001002003000", "PRI_NAME": "ROE,RICHARD"}
    data = ",".join(f'"{values.get(n, "")}"' for n in names)
    result, rows = read(write(header(names) + "\n" + data + "\n"), tmp_path)
    row = rows.row(0, named=True)
    assert (row["subject_id"], row["cnt_order"], row["name"]) == (
        "42",
        "001002003000",
        "ROE,RICHARD",
    )
    assert row["line"] == 2  # the header is line 1
    assert result.rows_read == 1


def test_header_without_end_of_rec_reads_with_a_warning(write, tmp_path):
    names = FIELDS[:-1]
    data = ",".join(["", "", "7", *[""] * 47, "001001001000", *[""] * 43])
    assert len(data.split(",")) == len(names)
    result, rows = read(write(header(names) + "\n" + data + "\n"), tmp_path)
    assert rows["subject_id"].to_list() == ["7"]
    assert any("END_OF_REC" in w for w in result.files[0].warnings)


def test_header_with_trailing_comma_reads_with_a_warning(write, tmp_path):
    result, _ = read(write(header() + ",\n" + line() + "\n"), tmp_path)
    assert result.rows_used == 1 and result.rows_rejected == 0
    assert any("extra comma" in w for w in result.files[0].warnings)


def test_header_without_subject_id_cannot_be_read(write, tmp_path):
    names = [n for n in FIELDS if n != "SUBJECT_ID"]
    with pytest.raises(ExtractError, match=r"line 1: .*SUBJECT_ID"):
        read(write(header(names) + "\n"), tmp_path)


# --- encodings and line ends ------------------------------------------------------------


def test_utf8_byte_order_mark_is_ignored(write, tmp_path):
    result, rows = read(
        write(b"\xef\xbb\xbf" + (header() + "\n" + line() + "\n").encode()), tmp_path
    )
    assert result.files[0].header is True
    assert rows.height == 1


def test_latin1_bytes_are_decoded_not_lost(write, tmp_path):
    content = (line(PRI_NAME="MUÑOZ,ANA") + "\n" + line(PRI_NAME="PEÑA,JO") + "\n").encode(
        "latin-1"
    )
    result, rows = read(write(content), tmp_path)
    assert rows["name"].to_list() == ["MUÑOZ,ANA", "PEÑA,JO"]
    assert result.files[0].latin1_lines == 2


def test_utf8_names_are_kept(write, tmp_path):
    _, rows = read(write(line(PRI_NAME="MUÑOZ,ANA") + "\n"), tmp_path)
    assert rows["name"].to_list() == ["MUÑOZ,ANA"]


def test_crlf_and_lf_read_the_same(write, tmp_path):
    lines = [line(SUBJECT_ID=str(i), COMMENT_TEXT="END") for i in range(3)]
    _, lf = read(write("\n".join(lines) + "\n", "lf.dat"), tmp_path / "a")
    _, crlf = read(write("\r\n".join(lines) + "\r\n", "crlf.dat"), tmp_path / "b")
    assert lf.drop("source_file").equals(crlf.drop("source_file"))
    assert crlf["comment_text"].to_list() == ["END"] * 3


def test_last_line_without_newline_is_read(write, tmp_path):
    result, _ = read(write(line() + "\n" + line(SUBJECT_ID="2")), tmp_path)
    assert result.rows_used == 2


# --- values -----------------------------------------------------------------------------


@pytest.mark.parametrize("filler", ["x", "X", "#", "NULL", "  -  ", "x       ", "", "   "])
def test_fillers_read_as_empty(write, tmp_path, filler):
    _, rows = read(write(line(OFN=filler, SENT_TIME_CODE=filler) + "\n"), tmp_path)
    assert rows.row(0, named=True)["case_number"] is None
    # The sentence's unit is left as read, and cleaned by the model once per value.
    assert normalize(rows).row(0, named=True)["sent_time_code"] is None


def test_values_are_trimmed(write, tmp_path):
    _, rows = read(write(line(SENT_TIME_CODE="D         ", OFN="  12345 ") + "\n"), tmp_path)
    assert rows.row(0, named=True)["case_number"] == "12345"
    assert rows.row(0, named=True)["sent_time_code"] == "D         "
    assert normalize(rows).row(0, named=True)["sent_time_code"] == "D"


# --- defects: each line is used or reported ---------------------------------------------


def test_wrong_field_count_is_rejected_and_reading_continues(write, tmp_path):
    short = line(SUBJECT_ID="2").rsplit(",", 1)[0]
    long = line(SUBJECT_ID="3") + ","
    result, rows = read(
        write("\n".join([line(), short, long, line(SUBJECT_ID="4")]) + "\n"), tmp_path
    )
    assert rows["subject_id"].to_list() == ["10000001", "4"]
    rejects = result.rejects.to_dicts()
    assert [(r["line"], r["reason_code"]) for r in rejects] == [
        (2, "wrong_field_count"),
        (3, "wrong_field_count"),
    ]
    assert (
        rejects[0]["reason"] == f"wrong number of fields: expected {N_FIELDS}, found {N_FIELDS - 1}"
    )
    assert_reconciles(result)


def test_unbalanced_quote_is_rejected_without_swallowing_the_next_lines(write, tmp_path):
    broken = line(SUBJECT_ID="2").replace("DOE,JANE Q", 'DOE,JANE Q"X', 1)
    result, rows = read(write("\n".join([line(), broken, line(SUBJECT_ID="3")]) + "\n"), tmp_path)
    assert rows["subject_id"].to_list() == ["10000001", "3"]
    assert result.rejects.select("line", "reason_code").rows() == [(2, "unbalanced_quote")]


def test_text_after_a_closing_quote_is_rejected(write, tmp_path):
    stray = line(SUBJECT_ID="2", OFN="X").replace(",X,", ',"A"B,', 1)
    result, _ = read(write(line() + "\n" + stray + "\n"), tmp_path)
    assert result.rejects.select("line", "reason_code").rows() == [(2, "stray_quote")]


@pytest.mark.parametrize("chunk", [64, 1 << 20])
def test_a_quote_inside_an_unquoted_value_is_a_character(write, tmp_path, chunk):
    """As Python's csv module and Polars read it; the same on both reading paths."""
    odd = line(SUBJECT_ID="2", OFN="X").replace(",X,", ',O"BRIEN,', 1)
    even = line(SUBJECT_ID="3", OFN="X").replace(",X,", ',A"B"C,', 1)
    result, rows = read(write("\n".join([line(), odd, even]) + "\n"), tmp_path, chunk_bytes=chunk)
    assert result.rows_rejected == 0
    assert rows.sort("line")["case_number"].to_list() == ["10F0001", 'O"BRIEN', 'A"B"C']


def test_quoted_commas_and_escaped_quotes_are_values(write, tmp_path):
    _, rows = read(write(line(COMMENT_TEXT='SAID "HI", LEFT') + "\n"), tmp_path)
    assert rows["comment_text"].to_list() == ['SAID "HI", LEFT']


@pytest.mark.parametrize(
    ("field", "reason"), [("SUBJECT_ID", "missing_subject_id"), ("CNT_ORDER", "missing_cnt_order")]
)
def test_row_that_cannot_be_placed_is_rejected(write, tmp_path, field, reason):
    result, rows = read(write(line(**{field: "  "}) + "\n" + line() + "\n"), tmp_path)
    assert rows.height == 1
    assert result.rejects.select("line", "reason_code").rows() == [(1, reason)]


def test_repeated_header_is_rejected(write, tmp_path):
    result, _ = read(write("\n".join([header(), line(), header(), line()]) + "\n"), tmp_path)
    assert result.rows_used == 2
    assert result.rejects.select("line", "reason_code").rows() == [(3, "repeated_header")]


def test_blank_lines_are_not_data_lines(write, tmp_path):
    result, _ = read(write(line() + "\n\n  \n" + line() + "\n\n"), tmp_path)
    assert (result.rows_read, result.rows_used, result.files[0].blank_lines) == (2, 2, 3)


def test_reasons_never_quote_the_line(write, tmp_path):
    broken = line(PRI_NAME="SECRETNAME,X").rsplit(",", 1)[0]
    result, _ = read(write(broken + "\n"), tmp_path)
    assert "SECRETNAME" not in str(result.rejects.to_dicts())


def test_empty_file(write, tmp_path):
    result, rows = read(write(b""), tmp_path)
    assert (result.rows_read, rows.height) == (0, 0)
    assert "the file is empty" in result.files[0].warnings


def test_several_files_keep_their_own_line_numbers(write, tmp_path):
    a = write(line() + "\n", "a.dat")
    b = write(header() + "\n" + line(SUBJECT_ID="2") + "\n", "b.csv")
    result = read_extracts([a, b], tmp_path / "work")
    rows = result.rows.collect().sort("source_file")
    assert rows.select("source_file", "line").rows() == [("a.dat", 1), ("b.csv", 2)]
    assert [f.name for f in result.files] == ["a.dat", "b.csv"]
    assert all(len(f.sha256) == 64 for f in result.files)


# --- chunking: results never depend on where a chunk ends -------------------------------


def test_chunk_boundaries_do_not_change_results(write, tmp_path):
    lines = [line(SUBJECT_ID=str(i)) for i in range(40)]
    lines[7] = lines[7].rsplit(",", 1)[0]
    path = write("\r\n".join(lines) + "\r\n")
    whole, rows_whole = read(path, tmp_path / "whole")
    small, rows_small = read(path, tmp_path / "small", chunk_bytes=333)
    assert rows_whole.sort("line").equals(rows_small.sort("line"))
    assert whole.rejects.equals(small.rejects)
    assert small.rows_read == 40 and small.rows_rejected == 1


# --- generated lines --------------------------------------------------------------------

value = st.text(alphabet=st.characters(codec="latin-1", exclude_characters="\r\n\x00"), max_size=12)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=value,
    comment=value,
    case=value,
    chunk=st.integers(min_value=64, max_value=4096),
    encoding=st.sampled_from(["utf-8", "latin-1"]),
)
def test_any_value_survives_the_round_trip(tmp_path_factory, name, comment, case, chunk, encoding):
    """Whatever a value holds (commas, quotes, accents), it reads back trimmed, or as empty
    (once the model has cleaned the fields the reader leaves as read)."""
    tmp = tmp_path_factory.mktemp("gen")
    text = "\n".join([line(PRI_NAME=name, COMMENT_TEXT=comment, OFN=case), line()]) + "\n"
    path = tmp / "x.dat"
    path.write_bytes(text.encode(encoding))
    result, rows = read(path, tmp, chunk_bytes=chunk)
    assert result.rows_rejected == 0 and rows.height == 2

    # Each line is read as UTF-8 when the whole line is valid UTF-8, else as Latin-1.
    first = text.split("\n")[0].encode(encoding)
    try:
        first.decode("utf-8")
        read_as = "utf-8"
    except UnicodeDecodeError:
        read_as = "latin-1"

    def expected(v):
        v = v.encode(encoding).decode(read_as).strip(" \t\r")
        return None if v in {"", "x", "X", "#", "NULL", "-"} else v

    # COMMENT_TEXT is left as read, and cleaned by the model (once per distinct value).
    row = normalize(rows.sort("line")).row(0, named=True)
    assert (row["name"], row["comment_text"], row["case_number"]) == (
        expected(name),
        expected(comment),
        expected(case),
    )


@settings(max_examples=40, deadline=None)
@given(
    ops=st.lists(
        st.sampled_from(["good", "short", "long", "quote", "blank", "header"]),
        min_size=1,
        max_size=25,
    )
)
def test_every_line_is_used_or_rejected(tmp_path_factory, ops):
    tmp = tmp_path_factory.mktemp("ops")
    build = {
        "good": lambda: line(),
        "short": lambda: line().rsplit(",", 2)[0],
        "long": lambda: line() + ",,",
        "quote": lambda: line().replace(",SACRAMENTO,", ',"SACRAMENTO,', 1),
        "blank": lambda: "",
        "header": header,
    }
    lines = [build[op]() for op in ops]
    path = tmp / "x.dat"
    path.write_text("\n".join(lines) + "\n")
    result = read_extracts([path], tmp / "work", chunk_bytes=500)
    leading_header = ops[0] == "header"
    data_ops = ops[1:] if leading_header else ops
    assert result.rows_read == sum(op != "blank" for op in data_ops)
    assert result.rows_used == data_ops.count("good")
    assert_reconciles(result)


# --- peer files (../shared/peers/gogen) -------------------------------------------------


@pytest.mark.parametrize(
    ("name", "rows", "warning"),
    [
        ("no_headers.csv", 38, None),
        ("extra_comma.csv", 38, "extra comma"),
        ("bad.csv", 37, "END_OF_REC"),
    ],
)
def test_peer_files_read_whole(gogen, tmp_path, name, rows, warning):
    """gogen rejected bad.csv whole; every one of its 37 lines is usable by name."""
    result = read_extracts([gogen / name], tmp_path)
    assert (result.rows_read, result.rows_used, result.rows_rejected) == (rows, rows, 0)
    if warning:
        assert any(warning in w for w in result.files[0].warnings)
    staged = result.rows.collect()
    assert staged["subject_id"].null_count() == 0
    assert staged.filter(pl.col("subject_id") == "18675309")["name"].unique().to_list() == [
        "SKYWALKER,LUKE S"
    ]


# --- person buckets ------------------------------------------------------------------------------


def test_buckets_keep_each_person_whole_and_lose_no_row(write, tmp_path):
    lines = [line(SUBJECT_ID=str(i % 37), CNT_ORDER=f"{i:03d}001001000") for i in range(300)]
    path = write("\n".join(lines) + "\n")
    result = read_extracts([path], tmp_path / "work", buckets=4, chunk_bytes=5000)
    per_bucket = [result.bucket(b).collect() for b in range(4)]
    assert sum(f.height for f in per_bucket) == result.rows_used == 300
    people = [set(f["subject_id"]) for f in per_bucket]
    for i, a in enumerate(people):
        for b in people[i + 1 :]:
            assert not a & b  # nobody is split across buckets
    assert sum(1 for p in people if p) > 1
    assert result.rows.collect().height == 300
