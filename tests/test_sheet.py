"""Rap sheets (docs/rap-sheet.md): the reader, `clearance sheet`, and the round trip
synthetic extract -> printed sheet -> reader that proves the reader decides as the
extract does, under every rule pack."""

from __future__ import annotations

import os
import random
import re
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from clearance.cli import app
from clearance.extract.reader import staged_schema
from clearance.sheet.parse import REJECT_CODES, parse
from clearance.sheet.read import parse_sheet, sheet_from_text
from clearance.sheet.render import render_person
from clearance.sheet.text import ocr_missing
from clearance.synth import generate
from sheet_support import decided, staged

# Hypothesis examples in the default run (each a few synthetic people, decided under
# every pack); CLEARANCE_SHEET_EXAMPLES=2000 for the long check (docs/rap-sheet.md).
EXAMPLES = int(os.environ.get("CLEARANCE_SHEET_EXAMPLES", "20"))
COUNTY = "SACRAMENTO"


def _sheets(rows: pl.DataFrame, noise: random.Random | None) -> pl.DataFrame:
    """Every person printed as a sheet and read back: the sheets' staged rows."""
    read = []
    for key, person in rows.group_by("subject_id", maintain_order=True):
        text = render_person(person, noise)
        _, got, rejects = sheet_from_text(text, f"{key[0]}.txt")
        assert rejects.is_empty(), rejects.to_dicts()
        read.append(got)
    return pl.concat(read)


def _same_decisions(rows: pl.DataFrame, noise: random.Random | None) -> None:
    want = decided(rows, COUNTY)
    got = decided(_sheets(rows, noise), COUNTY)
    for pack, table in want.items():
        assert table.height > 0 or pack == "prop64"
        assert got[pack].equals(table), pack


@pytest.fixture(scope="module")
def extract(tmp_path_factory) -> pl.DataFrame:
    tmp = tmp_path_factory.mktemp("sheet")
    generate(tmp / "x.dat", subjects=150, county=COUNTY, seed=19)
    return staged(tmp / "x.dat", tmp / "work")


def test_printed_sheets_decide_as_the_extract(extract):
    _same_decisions(extract, None)


def test_sheets_with_ocr_noise_decide_as_the_extract(extract):
    _same_decisions(extract, random.Random(64))


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(0, 2**31), noisy=st.booleans(), subjects=st.integers(1, 6))
def test_round_trip_any_synthetic_people(tmp_path, seed, noisy, subjects):
    path = tmp_path / f"{seed}.dat"
    generate(path, subjects=subjects, county=COUNTY, seed=seed)
    rows = staged(path, tmp_path / f"work-{seed}")
    want = decided(rows, COUNTY)
    got = decided(_sheets(rows, random.Random(seed) if noisy else None), COUNTY)
    for pack, table in want.items():
        assert got[pack].equals(table), pack


# What the model reads of a staged row (not where it was read from). A sheet prints
# the race's description only (RAC/HISPANIC), which the model reads before the code.
FACTS = [
    c
    for c in staged_schema()
    if c not in ("source_file", "line", "subject_id", "disp_order", "sent_order", "race_code")
]


def _facts(rows: pl.DataFrame) -> list[tuple]:
    cleaned = rows.select(
        [pl.col(c).str.strip_chars().replace("", None).alias(c) for c in FACTS]
    ).with_columns(pl.col(c).str.split(" ").list.join(" ") for c in FACTS)
    return sorted(cleaned.unique().rows(), key=repr)


@settings(max_examples=EXAMPLES * 15, deadline=None)
@given(person=st.integers(0, 149), noise=st.one_of(st.none(), st.integers(0, 2**31)))
def test_any_person_printed_and_read_gives_the_same_rows(extract, person, noise):
    """Fast, so run many times: a person's sheet read back gives the rows the model
    reads, fact by fact (the tests above decide them)."""
    ids = extract["subject_id"].unique(maintain_order=True)
    rows = extract.filter(pl.col("subject_id") == ids[person % ids.len()])
    text = render_person(rows, random.Random(noise) if noise is not None else None)
    _, got, rejects = sheet_from_text(text, "person.txt")
    assert rejects.is_empty()
    assert _facts(got) == _facts(rows)


def test_ocr_confusions_and_noise_are_read():
    text = "\n".join(
        [
            "RE: QHY.CA0190043 DATE:20060508",
            "CII/A10000001",
            "DOB/19700101 SEX/F RAC/WHITE",
            "NAM/01 DOE,JANE",
            "SOC/111223333",
            "* * * * *",
            "ARR/OET/CITE:         NAM:01",
            "2O100105  CASO SACRAMENTO",
            "CNT:0    1 #1",
            "  11357 HS-POSSESS MARIJUANA",
            "\u2014 \u2014 \u2014 \u2014",
            "COURT:                NAM:01",
            "2010O201  CASC SACRAMENTO",
            "",
            "CNT:00l     #10M1",
            "  11357 HS-POSSESS MARIJUANA",
            " DISPO:DISMISSSED/FURTHERANCE OF JUSTICE",
            "PAGE 2 OF 3",
            "CNT:02-03",
            "  SEE COMMENT FOR CHARGE",
            "   COM: CHRG 11359 HS",
            "*DISPO:CONVICTED",
            "   CONV STATUS:MISDEMEANOR",
            "   SEN: 012 MONTHS PROBATION, 045 DAYS JAIL,",
            "        FINE",
            "2O120101",
            " DISPO:CONV SET ASIDE & DISM PER 1203.4 PC",
            "19999999  CASC SACRAMENTO",
            "** POTENTIAL FELONY STRIKE ENTRY **",
            "CNT:xx",
            "* * * END OF MESSAGE * * *",
        ]
    )
    _, rows, rejects = sheet_from_text(text, "s.txt")
    assert rejects.select("line", "reason_code").rows() == [
        (28, "update_text"),
        (30, "count_number"),
    ]
    court = rows.filter(pl.col("event_type") == "COURT ACTION", pl.col("stp_order") == "002")
    assert court["event_date_raw"].unique().to_list() == ["20100201"]
    assert sorted(court["cnt_order"].unique()) == ["001002001000", "001002002000", "001002003000"]
    first = court.filter(pl.col("cnt_order") == "001002001000")
    assert first["disposition"].to_list() == ["DISMISSED/FURTHERANCE OF JUSTICE"]
    third = court.filter(pl.col("cnt_order") == "001002003000")
    assert third.select("sent_loc", "sent_length_raw", "sent_time_code").rows() == [
        ("PROBATION", "012", "M"),
        ("JAIL", "045", "D"),
        ("FINE", None, None),
    ]
    assert set(third["comment_text"]) == {"CHRG 11359 HS"}
    update = rows.filter(pl.col("stp_order") == "003")
    assert update["disposition"].unique().to_list() == ["CONV SET ASIDE & DISM PER 1203.4 PC"]
    assert update["event_date_raw"].unique().to_list() == ["20120101"]
    assert rows["subject_id"].unique().to_list() == ["A10000001"]
    assert "111223333" not in str(rows.to_dicts())  # identifiers read, never kept


SHEET_WORDS = st.sampled_from(
    ["CII/A1", "NAM/01 X,Y", "DOB/19700101", "* * * *", "- - - -", "COURT:", "ARR/DET/CITE:",
     "20100101  CASC SACRAMENTO", "2O10O101", "CNT:01", "CNT:01-03", "CNT:0    1 #9", "CNT:xx",
     "  11357 HS-POSSESS", " DISPO:CONVICTED", "*DISPO:DISMISSED", "   CONV STATUS:FELONY",
     "   SEN: 012 MONTHS PROBATION,", "        FINE", "   COM: CHRG 11359 HS", "   TOC:M",
     "PAGE 2", "\f", "", "** BANNER **", "END OF MESSAGE", "garbage 123 (A)"]
)  # fmt: skip


@settings(max_examples=EXAMPLES * 10, deadline=None)
@given(lines=st.lists(st.one_of(SHEET_WORDS, st.text(max_size=40)), max_size=40))
def test_every_line_is_used_noise_or_rejected_without_its_content(lines):
    text = "\n".join(lines)
    parsed = parse(text)
    n = len(text.replace("\r\n", "\n").removesuffix("\n").split("\n")) if text else 0
    assert sorted(parsed.fates) == list(range(1, n + 1))
    assert set(parsed.fates.values()) <= {"used", "noise", "rejected"}
    for line, code, reason in parsed.rejects:
        assert parsed.fates[line] == "rejected" and code in REJECT_CODES
        assert re.fullmatch(rf"line {line}: [a-z ()',]+", reason), reason


def test_unreadable_dates_are_kept_not_guessed():
    text = "CII/A1\nNAM/01 X,Y\n* * * *\nCOURT:\n1984?725  CASC SACRAMENTO\nCNT:01\n  11357 HS\n"
    _, rows, _ = sheet_from_text(text, "s.txt")
    assert rows["event_date_raw"].to_list() == ["1984?725"]


def test_a_file_that_is_not_a_rap_sheet_is_refused(tmp_path):
    letter = tmp_path / "letter.txt"
    letter.write_text("Dear court,\nplease find attached.\n")
    result = CliRunner().invoke(
        app, ["sheet", str(letter), "--as-of", "2026-07-01", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0
    assert "is not a rap sheet" in result.output


def test_sheet_command_on_a_printed_synthetic_person(extract, tmp_path):
    person = extract.filter(pl.col("subject_id") == extract["subject_id"][0])
    path = tmp_path / "person.txt"
    path.write_text(render_person(person))
    out = tmp_path / "out"
    runner = CliRunner()
    result = runner.invoke(app, ["sheet", str(path), "--as-of", "2026-07-01", "--out", str(out)])
    assert result.exit_code == 0, result.output
    cii = person["cii_number"][0]
    assert cii in result.output and person["name"][0] not in result.output
    for pack in ("prop64", "ca-auto-relief"):
        assert list((out / pack).glob("*/determinations.csv"))
    again = runner.invoke(app, ["sheet", str(path), "--as-of", "2026-07-01", "--out", str(out)])
    assert again.exit_code == 0, again.output  # an earlier sheet folder is replaced
    shown = runner.invoke(app, ["explain", "--run", str(out), cii])
    assert shown.exit_code == 0, shown.output
    assert "ca-auto-relief" in shown.output


def test_one_pack_one_county_and_a_folder_not_replaced(extract, tmp_path):
    person = extract.filter(pl.col("subject_id") == extract["subject_id"][1])
    path = tmp_path / "person.txt"
    path.write_text(render_person(person))
    runner = CliRunner()
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    args = ["sheet", str(path), "--as-of", "2026-07-01", "--law", "prop64", "--county", COUNTY]
    refused = runner.invoke(app, [*args, "--out", str(mine)])
    assert refused.exit_code == 2 and (mine / "notes.txt").read_text() == "keep me"
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert [p.name for p in (tmp_path / "out").iterdir() if p.is_dir()] == ["prop64"]
    assert [p.name for p in (tmp_path / "out" / "prop64").iterdir()] == ["sacramento"]


# -- the peer samples (Code for America's synthetic rap sheets) ---------------------------


def _count_numbers(text: str) -> int:
    """The counts a sheet's CNT lines name (a range CNT:01-03 is three)."""
    n = 0
    for m in re.finditer(r"^CNT:\s*([-\dOl ]+?)(?:\s+[#*].*)?$", text, re.M):
        nums = re.sub(r"\s+", "", m.group(1)).translate(str.maketrans("Ol", "01")).lstrip("-")
        a, _, b = nums.partition("-")
        n += int(b) - int(a) + 1 if b else 1
    return n


SAMPLES = [
    "chewbacca_rap_sheet.txt",
    "skywalker_ineligible.txt",
    "skywalker_pc1203_eligible.txt",
    "skywalker_prop64_two_cases_both_convicted.txt",
    "skywalker_rap_sheet_page_1.txt",
    "skywalker_rap_sheet_shorter.txt",
]


@pytest.mark.parametrize("name", SAMPLES)
def test_peer_samples_read_with_every_count(peers, name):
    path = peers / "cfa-rapsheets" / name
    sheet = parse_sheet(path)
    assert sheet.rejects.is_empty(), sheet.rejects.to_dicts()
    lines = sheet.lines()
    data = path.read_bytes()
    assert lines["read"] == data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    assert lines["used"] + lines["noise"] == lines["read"]
    implied = 1 if name == "skywalker_rap_sheet_shorter.txt" else 0  # 290 PC, no CNT line
    assert sheet.parsed.counts == _count_numbers(path.read_text()) + implied


def test_peer_pages_read_as_one_sheet(peers):
    folder = peers / "cfa-rapsheets"
    sheet = parse_sheet(
        [folder / "skywalker_rap_sheet_page_1.txt", folder / "skywalker_rap_sheet_page_2.txt"]
    )
    assert sheet.rejects.is_empty()
    assert {f.name for f in sheet.files} == {
        "skywalker_rap_sheet_page_1.txt",
        "skywalker_rap_sheet_page_2.txt",
    }
    assert "skywalker_rap_sheet_page_2.txt" in set(sheet.rows["source_file"])


def test_peer_sheet_decided_and_explained(peers, tmp_path):
    path = peers / "cfa-rapsheets" / "skywalker_rap_sheet_page_1.txt"
    out = tmp_path / "out"
    runner = CliRunner()
    result = runner.invoke(app, ["sheet", str(path), "--as-of", "2026-07-01", "--out", str(out)])
    assert result.exit_code == 0, result.output
    prop64 = pl.read_csv(out / "prop64" / "los-angeles" / "determinations.csv", infer_schema=False)
    assert prop64.select("section", "determination").rows() == [("11357", "dismiss")]
    relief = pl.concat(
        pl.read_csv(p, infer_schema=False)
        for p in (out / "ca-auto-relief").glob("*/determinations.csv")
    )
    # Every conviction on the sheet is decided (the 1974 San Francisco one too).
    assert set(relief.filter(pl.col("kind") == "conviction")["conviction_date"]) == {
        "1974-01-02",
        "1984-09-18",
        "1986-05-01",
    }
    assert "HS 11361.8" in result.output and "PC 1203.4" in result.output
    text = "".join(p.read_text(errors="replace") for p in out.rglob("*.csv"))
    text += (out / "sheet.json").read_text()
    for identifier in ("987654323", "P0626473", "9001000", "C0040540"):  # SOC, CDL, FBI, IDN
        assert identifier not in text and identifier not in result.output
    shown = runner.invoke(app, ["explain", "--run", str(out), "A99000015"])
    assert shown.exit_code == 0, shown.output
    assert "11357" in shown.output and "192.3" in shown.output


def test_not_a_rap_sheet_pdf_is_refused(peers, tmp_path):
    path = peers / "cfa-rapsheets" / "not_a_valid_rap_sheet.pdf"
    result = CliRunner().invoke(
        app, ["sheet", str(path), "--as-of", "2026-07-01", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1


def test_pdf_with_a_text_layer_is_read(peers):
    sheet = parse_sheet(peers / "cfa-rapsheets" / "chewbacca_rap_sheet.pdf")
    assert sheet.how == "pdf" and sheet.parsed.person.cii == "A99000099"
    assert sheet.parsed.counts >= 10


SCANNED = """CII/A10000001
DOB/19700101 SEX/F RAC/WHITE
NAM/01 DOE,JANE
* * * *
ARR/DET/CITE:         NAM:01
20100105  CASO SACRAMENTO
CNT:01     #1
  11357 HS-POSSESS MARIJUANA
- - - -
COURT:                NAM:01
20100201  CASC SACRAMENTO
CNT:01     #10M1
  11357 HS-POSSESS MARIJUANA
*DISPO:CONVICTED
   CONV STATUS:MISDEMEANOR
   SEN: 012 MONTHS PROBATION, 045 DAYS JAIL
* * * END OF MESSAGE * * *
"""


def _scan(path: Path) -> None:
    """A page of SCANNED as an image-only PDF (no text layer), as a scanner makes it."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=28)
    page = Image.new("L", (1700, 2200), 255)
    draw = ImageDraw.Draw(page)
    for i, line in enumerate(SCANNED.splitlines()):
        draw.text((100, 100 + i * 40), line, font=font, fill=0)
    page.save(path, resolution=200)


def test_scanned_sheet_read_through_ocr(tmp_path):
    missing = ocr_missing()
    if missing:
        pytest.skip(f"OCR not available here: {missing}")
    path = tmp_path / "scan.pdf"
    _scan(path)
    sheet = parse_sheet(path)
    assert sheet.how == "ocr"
    assert sheet.rejects.is_empty(), sheet.rejects.to_dicts()
    assert sheet.subject_id == "A10000001" and sheet.parsed.counts == 2
    prop64 = decided(sheet.rows, COUNTY)["prop64"]
    assert prop64.select("cnt_order", "determination").rows() == [("001002001000", "dismiss")]


def test_scan_without_ocr_says_so_in_one_line(tmp_path, monkeypatch):
    path = tmp_path / "scan.pdf"
    _scan(path)
    monkeypatch.setattr(
        "clearance.sheet.text.ocr_missing", lambda: "Tesseract is not installed (test)"
    )
    result = CliRunner().invoke(
        app, ["sheet", str(path), "--as-of", "2026-07-01", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1
    assert "needs OCR" in result.output and "Tesseract" in result.output


def test_parse_accounts_for_every_line():
    text = (
        "junk\nCII/A1\nNAM/01 X\n* * * *\nCOURT:\n20100101 CASC SACRAMENTO\n"
        "CNT:01\n 11357 HS\nwhat\n"
    )
    parsed = parse(text)
    assert sorted(parsed.fates) == list(range(1, 10))
    assert [r[:2] for r in parsed.rejects] == [(9, "unrecognised_line")]


# --- scans: a sheet printed, scanned (no text layer) and read back through OCR --------

ROW_FACTS = ("cyc_order", "stp_order", "cnt_order", "event_date_raw", "event_type", "agency",
             "case_number", "offense_raw", "disposition", "conv_status", "sent_loc",
             "sent_length_raw", "sent_time_code")  # fmt: skip


def _image_pdf(images, path: Path, dpi: int) -> None:
    """Page images as a PDF with no text layer, as a scanner writes one."""
    pages = [image.convert("L") for image in images]
    pages[0].save(path, save_all=True, append_images=pages[1:], resolution=dpi)


def _scanned_copy(pdf: Path, path: Path, dpi: int = 200) -> None:
    """A PDF's pages rasterised (the text layer gone): a scan of the printout."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(pdf)
    try:
        _image_pdf([page.render(scale=dpi / 72).to_pil() for page in document], path, dpi)
    finally:
        document.close()


def _printed(text: str, path: Path, lines_a_page: int = 50) -> None:
    """A text sheet typed onto letter pages at 200 dpi and saved as images only."""
    from PIL import Image, ImageDraw, ImageFont

    try:  # a terminal's printout is in a fixed-width face, where there is one
        font = ImageFont.truetype("DejaVuSansMono.ttf", 26)
    except OSError:
        font = ImageFont.load_default(size=26)
    lines = text.splitlines()
    pages = []
    for start in range(0, len(lines), lines_a_page):
        page = Image.new("L", (1700, 2200), 255)
        draw = ImageDraw.Draw(page)
        for i, line in enumerate(lines[start : start + lines_a_page]):
            draw.text((90, 90 + i * 40), line, font=font, fill=0)
        pages.append(page)
    _image_pdf(pages, path, 200)


def _needs_ocr() -> None:
    missing = ocr_missing()
    if missing:
        pytest.skip(f"OCR not available here: {missing}")


def test_a_scanned_peer_sheet_reads_every_count_of_its_text_twin(peers, tmp_path):
    _needs_ocr()
    folder = peers / "cfa-rapsheets"
    twin = parse_sheet(folder / "chewbacca_rap_sheet.txt")
    scan = tmp_path / "chewbacca-scanned.pdf"
    _scanned_copy(folder / "chewbacca_rap_sheet.pdf", scan)
    read = parse_sheet(scan)
    assert read.how == "ocr"
    assert read.rejects.is_empty(), read.rejects.to_dicts()  # every line used or noise
    assert read.subject_id == twin.subject_id and read.parsed.counts == twin.parsed.counts
    assert read.rows.select(ROW_FACTS).equals(twin.rows.select(ROW_FACTS))
    for pack, table in decided(twin.rows, COUNTY).items():
        assert decided(read.rows, COUNTY)[pack].equals(table), pack


def test_what_ocr_makes_of_delimiters_footers_and_colons_is_read():
    # Each as Tesseract read it from scanned printouts: rows of asterisks, a browser's
    # print footer, "TOC=F", and END OF MESSAGE run together.
    text = "\n".join([
        "CII/A10000002", "NAM/01 DOE,JOHN", "xk kek k *",
        "ARR/DET/CITE:", "20100105  CASO SACRAMENTO", "CNT:01 #1", "  11357 HS-POSSESS MARIJUANA",
        "file:///Users/someone/sheet.html   9/20/18, 5:03 PM", "* kK OK OX",
        "COURT:", "20100201  CASC SACRAMENTO", "CNT:01 #10M1", "  11357 HS-POSSESS MARIJUANA",
        "TOC=M", "*DISPO:CONVICTED", "kKkRKKK",
        "COURT:", "20110301  CASC SACRAMENTO", "CNT:01 #11M2", "  11357 HS-POSSESS MARIJUANA",
        "*DISPO:CONVICTED", "xkKkKKK", "* * * ENDOFMESSAGE «x « «x",
    ])  # fmt: skip
    parsed, rows, rejects = sheet_from_text(text, "scan.txt")
    assert rejects.is_empty(), rejects.to_dicts()
    assert len(parsed.cycles) == 3 and parsed.counts == 3
    assert rows.filter(pl.col("event_date_raw") == "20100201")["offense_toc"].to_list() == ["M"]


def test_a_scan_of_the_identification_page_alone_is_refused_saying_so(peers, tmp_path):
    _needs_ocr()
    result = CliRunner().invoke(
        app,
        ["sheet", str(peers / "cfa-rapsheets" / "skywalker_rap_sheet.pdf"),
         "--as-of", "2026-07-01", "--out", str(tmp_path / "o")],
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0
    assert "identification section but no arrest or court entry" in result.output
    # No personal data from the sheet in the message (the file's name aside).
    assert "LUKE" not in result.output.upper() and "19570119" not in result.output
