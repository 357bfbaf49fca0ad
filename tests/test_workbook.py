"""The attorneys' workbook: the same rows as the CSV, written alongside when large."""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter
from hypothesis import given, settings
from hypothesis import strategies as st

from clearance.outputs import determinations as det_out
from clearance.outputs.xlsx_rows import splice_rows


def frame(n: int) -> pl.DataFrame:
    data = {c: [f"{c}-{i}" for i in range(n)] for c in det_out.COLUMNS}
    data["name"] = ['=HYPERLINK("x")'] + [f"N{i}" for i in range(1, n)]
    return pl.DataFrame(data)


def test_a_large_workbook_is_written_alongside_the_other_outputs(tmp_path, monkeypatch):
    monkeypatch.setattr(det_out, "WORKBOOK_IN_PROCESS_ROWS", 10)
    rows = frame(50)
    pending = det_out.write_all(rows, tmp_path, "test")
    assert pending.future is not None
    pending.wait()
    back = pl.read_excel(tmp_path / "determinations.xlsx", infer_schema_length=0)
    assert back.height == 50
    assert back[det_out.header_of("subject_id")].to_list() == rows["subject_id"].to_list()


def test_a_workbook_that_cannot_be_written_fails_the_wait(tmp_path, monkeypatch):
    monkeypatch.setattr(det_out, "WORKBOOK_IN_PROCESS_ROWS", 10)

    def broken(rows, path, title, law=None, summary=None):
        raise OSError(f"{path.name}: no space left on device")

    monkeypatch.setattr(det_out, "write_workbook", broken)
    pending = det_out.write_all(frame(50), tmp_path, "test")
    with pytest.raises(
        RuntimeError, match=r"workbook could not be written: determinations\.xlsx: no"
    ):
        pending.wait()


def test_text_is_never_a_formula(tmp_path):
    det_out.write_all(frame(3), tmp_path, "test").wait()
    back = pl.read_excel(tmp_path / "determinations.xlsx", infer_schema_length=0)
    assert back[det_out.header_of("name")][0] == '=HYPERLINK("x")'


# --- the data rows: the same XML XlsxWriter writes, serialised column-wise -------------

TRICKY = [
    "plain",
    "AT&T <b> \"quoted\" 'single'",
    "  leading and trailing  ",
    "line\nbreak",
    "tab\there",
    "bell\x07and\x1fnull\x00",
    "_x0041_ looks like an escape",
    "ÁLVAREZ, JOSÉ ñ 漢字 🙂",
    "=SUM(A1:A2)",
    "00123",
    None,
]


def reference_sheet(rows: pl.DataFrame, tmp_path) -> bytes:
    """What XlsxWriter itself writes for these rows, cell by cell (the old way)."""
    path = tmp_path / "reference.xlsx"
    workbook = xlsxwriter.Workbook(
        path,
        {"constant_memory": True, "strings_to_numbers": False,
         "strings_to_formulas": False, "strings_to_urls": False},
    )  # fmt: skip
    sheet = workbook.add_worksheet("Determinations")
    sheet.write_row(0, 0, rows.columns)
    for r, values in enumerate(rows.iter_rows(), start=1):
        sheet.write_row(r, 0, values)
    workbook.close()
    with zipfile.ZipFile(path) as z:
        return z.read("xl/worksheets/sheet1.xml")


def spliced_sheet(rows: pl.DataFrame, tmp_path) -> bytes:
    path = tmp_path / "spliced.xlsx"
    workbook = xlsxwriter.Workbook(path, {"constant_memory": True})
    workbook.add_worksheet("Determinations").write_row(0, 0, rows.columns)
    workbook.close()
    splice_rows(path, {"xl/worksheets/sheet1.xml": rows})
    with zipfile.ZipFile(path) as z:
        return z.read("xl/worksheets/sheet1.xml")


def test_rows_are_the_xml_xlsxwriter_writes(tmp_path):
    n = len(TRICKY)
    rows = pl.DataFrame(
        {
            "text": TRICKY,
            "number": [None, *range(-5, n - 6)],
            "flag": [True, False, None] * (n // 3) + [True] * (n % 3),
            "big": [2**40 + i for i in range(n)],
        },
        schema_overrides={"number": pl.Int32, "big": pl.UInt64},
    )
    assert spliced_sheet(rows, tmp_path) == reference_sheet(rows, tmp_path)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_any_text_is_written_as_xlsxwriter_writes_it(values):
    with tempfile.TemporaryDirectory() as tmp:
        rows = pl.DataFrame(
            {"a": values, "b": list(reversed(values))}, schema={"a": pl.String, "b": pl.String}
        )
        assert spliced_sheet(rows, Path(tmp)) == reference_sheet(rows, Path(tmp))


def test_a_workbook_reads_back_with_every_value(tmp_path):
    rows = frame(1234).with_columns(name=pl.Series(TRICKY * 112 + TRICKY[:2]))
    det_out.write_workbook(rows, tmp_path / "w.xlsx", "test")
    back = pl.read_excel(tmp_path / "w.xlsx", infer_schema_length=0)
    assert back.columns == [det_out.header_of(c) for c in det_out.COLUMNS]  # in words
    assert back[det_out.header_of("subject_id")].to_list() == rows["subject_id"].to_list()
    expected = [
        None if v is None else v.replace("\x00", "").replace("\x07", "").replace("\x1f", "")
        for v in rows["name"]
    ]
    got = [
        None if v is None else v.replace("\x00", "").replace("\x07", "").replace("\x1f", "")
        for v in back[det_out.header_of("name")]
    ]
    assert got == expected


@pytest.mark.parametrize("rows", [50, 2_000])
def test_sheet_rows_are_deflated_by_isa_l(tmp_path, rows):
    # The big sheet is compressed by ISA-L (a quarter of zlib's CPU): its stored
    # bytes are ISA-L's deflate of the XML, given in blocks of SHEET_BLOCK bytes (one
    # block, or several), and any zip reader inflates them.
    from isal import isal_zlib

    from clearance.outputs.xlsx_rows import SHEET_BLOCK, SHEET_LEVEL

    rows = frame(rows)
    det_out.write_workbook(rows, tmp_path / "w.xlsx", "test")
    with zipfile.ZipFile(tmp_path / "w.xlsx") as z:
        info = z.getinfo("xl/worksheets/sheet1.xml")
        xml = z.read(info)
    with (tmp_path / "w.xlsx").open("rb") as f:
        f.seek(info.header_offset + 26)
        name_len, extra_len = (
            int.from_bytes(f.read(2), "little"),
            int.from_bytes(f.read(2), "little"),
        )
        f.seek(info.header_offset + 30 + name_len + extra_len)
        stored = f.read(info.compress_size)
    deflater = isal_zlib.compressobj(SHEET_LEVEL, isal_zlib.DEFLATED, -15)
    blocks = [xml[i : i + SHEET_BLOCK] for i in range(0, len(xml), SHEET_BLOCK)]
    assert (len(blocks) > 1) == (len(rows) > 50)
    assert stored == b"".join(deflater.compress(b) for b in blocks) + deflater.flush()


def test_the_same_rows_give_the_same_workbook_however_they_lie_in_memory(tmp_path):
    """ISA-L's deflate depends on where its input is cut: the sheet's bytes must not
    depend on how the table is chunked (spilled parts, slices of a scan) nor on the
    pieces' buffers."""
    rows = frame(4_000)
    det_out.write_workbook(rows, tmp_path / "one.xlsx", "test")
    chunked = pl.concat([rows.slice(i, 333) for i in range(0, rows.height, 333)], rechunk=False)
    assert chunked.n_chunks() > 1
    det_out.write_workbook(chunked, tmp_path / "many.xlsx", "test")
    det_out.write_workbook(rows.lazy(), tmp_path / "scan.xlsx", "test")
    one = (tmp_path / "one.xlsx").read_bytes()
    assert (tmp_path / "many.xlsx").read_bytes() == one
    assert (tmp_path / "scan.xlsx").read_bytes() == one


def test_dates_are_real_excel_dates_and_what_is_no_date_stays_text(tmp_path):
    import datetime as dt

    import fastexcel

    rows = frame(4).with_columns(
        conviction_date=pl.Series(["2016-11-08", "2020-07-01", "1900-03-01", "2001-02-28"]),
        dob=pl.Series(["1979-11-19", "19790", None, "1899-06-01"]),  # as recorded, not dates
        eligible_on=pl.Series(["2026-01-01", None, "", "2027-02-03"]),  # dates, and no value
    )
    det_out.write_workbook(rows, tmp_path / "w.xlsx", "test")
    back = fastexcel.read_excel(tmp_path / "w.xlsx").load_sheet(0).to_polars()
    assert back.schema["Conviction date"] == pl.Datetime("ms")  # Excel's date filters work
    assert back["Conviction date"].dt.date().to_list() == [
        dt.date(2016, 11, 8), dt.date(2020, 7, 1), dt.date(1900, 3, 1), dt.date(2001, 2, 28)
    ]  # fmt: skip
    eligible = det_out.header_of("eligible_on")
    assert back.schema[eligible] == pl.Datetime("ms")
    assert back[eligible].dt.date().to_list() == [dt.date(2026, 1, 1), None, None,
                                                  dt.date(2027, 2, 3)]  # fmt: skip
    with zipfile.ZipFile(tmp_path / "w.xlsx") as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
        styles = z.read("xl/styles.xml").decode()
    assert 'formatCode="yyyy-mm-dd"' in styles
    assert "<t>19790</t>" in sheet and "<t>1899-06-01</t>" in sheet  # text, as recorded
    assert '<c r="D2" s="' in sheet  # the valid date of birth is a date cell


TRICKY_PIECES = ["&", "a<b", "_x00A0_", "_X1", " lead", "trail\u2003", "\u00a0", "\x07", "\ufffe",
                 "ok_x", "É"]  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=8),
            st.sampled_from(TRICKY_PIECES),
        ),
        min_size=1,
        max_size=20,
    ),
    st.integers(0, 5),
)
def test_the_first_look_at_a_column_never_misses_an_escape(values, offset):
    """`_may_need` reads a column's bytes; whatever the exact tests find, it has found
    (on a slice too, whose values do not start at the buffer's start)."""
    from clearance.outputs.xlsx_rows import ESCAPES, _may_need, _needs

    whole = pl.Series("t", ["pad"] * offset + values, dtype=pl.String).slice(offset)
    for texts in (whole, *(whole.slice(i, 1) for i in range(len(values)))):
        exact = {name for name, pattern in ESCAPES.items() if texts.str.contains(pattern).any()}
        maybe = _may_need(texts)
        if exact - {"space"}:
            assert "special" in maybe, texts.to_list()
        if "space" in exact:
            assert "space" in maybe, texts.to_list()
        assert _needs(pl.DataFrame({"t": texts}))["t"] == exact
    # And the patterns agree with plain Python.
    assert ("xml" in exact) == any(c in v for v in values[-1:] if v for c in "&<>")


def test_the_used_range_ends_at_the_last_row_with_a_value(tmp_path):
    """Rows without a value at the end (more than are looked at first) are not in the
    sheet's used range, nor written."""
    from clearance.outputs.xlsx_rows import LAST_ROWS_FIRST

    n = LAST_ROWS_FIRST + 500
    rows = pl.DataFrame({"a": ["x", "y", *([None] * n)], "b": [1, None, *([None] * n)]})
    sheet = spliced_sheet(rows, tmp_path).decode()
    assert '<dimension ref="A1:B3"/>' in sheet
    assert sheet.count("<row ") == 3  # the header and two rows
    assert spliced_sheet(rows.head(2), tmp_path) == sheet.encode()


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40),
        min_size=1,
        max_size=60,
    ),
    st.integers(0, 5),
    st.sampled_from(["as read", "made", "made, reversed", "made, every other"]),
)
def test_a_piece_is_handed_on_as_its_rows_end_to_end(values, offset, how):
    """A piece's rows reach the zip as views of Polars' buffers, or copied when they
    are not one after another there: either way, exactly the rows' bytes in order
    (short values kept in their views, a slice, values made by concat_str)."""
    from clearance.outputs.xlsx_rows import _joined

    texts = pl.Series("t", ["pad"] * offset + values, dtype=pl.String).slice(offset)
    if how != "as read":  # as a piece's rows are made: each after the last in a buffer
        row = pl.concat_str(pl.lit("<row>"), pl.lit(texts), pl.lit("</row>"))
        texts = pl.select(row).to_series()
    if how == "made, reversed":  # the same buffer, the values out of place
        texts = texts.reverse()
    elif how == "made, every other":  # gaps between the values kept
        texts = texts.gather_every(2)
    expected = "".join(texts.to_list()).encode()
    assert b"".join(bytes(view) for view in _joined(texts)) == expected


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=40), max_size=30), st.integers(1, 16))
def test_the_sheet_reaches_the_deflater_in_the_same_blocks_however_it_is_written(writes, size):
    """What makes the workbook's bytes independent of how its rows lie in memory:
    whatever the writes, the deflater is given the same blocks of the same bytes."""
    from clearance.outputs.xlsx_rows import _Blocks

    class Out:
        def __init__(self):
            self.writes: list[bytes] = []

        def write(self, data):
            self.writes.append(bytes(data))

    out = Out()
    blocks = _Blocks(out, size)
    for data in writes:
        blocks.write(memoryview(data))
    blocks.close()
    whole = b"".join(writes)
    assert out.writes == [whole[i : i + size] for i in range(0, len(whole), size)]
