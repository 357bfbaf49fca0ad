"""One person's filings (issue 19): petition drafts for the remedies open to them and a
letter to them, from run folders, through the command line as a defender runs it.

A small extract of people whose outcomes are worked out by hand is decided under both
rule packs; each test then drafts one person's filings and reads them back as a clerk
would: the PDF's text (pypdf), the Word file (python-docx), petitions.csv.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from docx import Document
from typer.testing import CliRunner

from clearance.cli import app
from clearance.filings.person import draft_person
from clearance.filings.person_letter import letter_words
from clearance.filings.petitions import petition_words
from clearance.law.rulepack import load_pack
from conftest import header, line
from filings_support import EXAMPLE_OFFICE, pdf_body_text, pdf_text, squash

AS_OF = "2026-07-01"
DEFENDER = EXAMPLE_OFFICE.parent / "defender-office.yaml"


def _row(sid, cyc, stp, date, kind, offense, disp="", sev="", part=None, ofn=""):
    court = kind == "court"
    fields = dict(
        SUBJECT_ID=sid,
        CII_NUMBER=f"A{sid}",
        PRI_NAME=f"PERSON,NUMBER{sid}",
        GENDER="F",
        PRI_DOB="19800101",
        RACE_DESCR="HISPANIC",
        CYC_ORDER=f"{cyc:03d}",
        STP_ORDER=f"{stp:03d}",
        STP_EVENT_DATE=date,
        STP_TYPE_DESCR="COURT ACTION" if court else "ARREST/DETAINED/CITED",
        STP_ORI_DESCR=("CASC" if court else "CAPD") + " SACRAMENTO",
        STP_ORI_CNTY_NAME="SACRAMENTO",
        CNT_ORDER=f"{cyc:03d}{stp:03d}001000",
        OFFENSE_DESCR=offense,
        DISP_DESCR=disp,
        CONV_STAT_DESCR=sev if court else "",
        OFFENSE_TOC=sev[:1],
        OFN=ofn,
        DISP_ORDER="1",
    )
    if part:
        fields.update(
            SENT_ORDER="01", SENT_LOC_DESCR=part[0], SENT_LENGTH=part[1], SENT_TIME_CODE=part[2]
        )
    return line(fields)


PROBATION = ("PROBATION", "3", "Y")
PEOPLE = [
    # 100: misdemeanor, probation completed: relieved automatically, no petition open.
    _row("100", 1, 1, "20150601", "court", "484 PC-PETTY THEFT", "CONVICTED", "MISDEMEANOR",
         PROBATION, ofn="15M001"),
    # 600: a PC 290(c) conviction of 1995 keeps every conviction from automatic relief
    # (not_eligible); its own probation cannot be dismissed (PC 1203.4(b)), but the
    # robbery's of 2010 can: PC 1203.4 is open for it alone.
    _row("600", 1, 1, "19950601", "court", "288(A) PC-LEWD ACT WITH CHILD", "CONVICTED",
         "FELONY", ("PROBATION", "5", "Y"), ofn="95F006"),
    _row("600", 2, 1, "20100104", "court", "211 PC-ROBBERY", "CONVICTED", "FELONY",
         PROBATION, ofn="10F006"),
    # 610: the same without the robbery's case number: the petition leaves it blank.
    _row("610", 1, 1, "19950601", "court", "288(A) PC-LEWD ACT WITH CHILD", "CONVICTED",
         "FELONY", ("PROBATION", "5", "Y"), ofn="95F061"),
    _row("610", 2, 1, "20100104", "court", "211 PC-ROBBERY", "CONVICTED", "FELONY",
         PROBATION),
    # 800: felony arrest, charges filed and dismissed: not relieved, 851.91 open.
    _row("800", 1, 1, "20200101", "arrest", "459 PC-BURGLARY", "", "FELONY"),
    _row("800", 1, 2, "20200301", "court", "459 PC-BURGLARY", "DISMISSED", "FELONY",
         ofn="20F008"),
    # 900: possession for sale of cannabis, a felony of 2012: Prop 64 reduces it.
    _row("900", 1, 1, "20120305", "court", "11359 HS-POSSESS MARIJUANA FOR SALE",
         "CONVICTED", "FELONY", ("JAIL", "6", "M"), ofn="12F009"),
]  # fmt: skip


def _invoke(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("person")
    extract = root / "extract.dat"
    extract.write_text(header() + "\n" + "\n".join(PEOPLE) + "\n", encoding="utf-8")
    folders = {}
    for law in ("ca-auto-relief", "prop64"):
        out = root / law
        result = _invoke(
            "run", extract, "--law", law, "--county", "SACRAMENTO", "--as-of", AS_OF, "--out", out
        )
        assert result.exit_code == 0, result.output
        folders[law] = out
    return folders


@pytest.fixture(scope="module")
def robbery(runs, tmp_path_factory) -> Path:
    """Person 600's filings, from both runs, with the example office."""
    out = tmp_path_factory.mktemp("filed") / "600"
    result = _invoke(
        "filings", "--run", runs["ca-auto-relief"], "--run", runs["prop64"],
        "--person", "600", "--office", EXAMPLE_OFFICE, "--out", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


def _petitions(folder: Path) -> list[dict[str, str]]:
    with (folder / "petitions.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_a_1203_4_petition_names_the_case_court_section_and_date(robbery):
    rows = _petitions(robbery)
    assert [(r["remedy"], r["case_number"]) for r in rows] == [("1203.4", "10F006")]
    assert rows[0]["to_complete"] == ""
    text = squash(pdf_body_text(robbery / "petitions" / "01-pc-1203-4.pdf"))
    assert "PETITION FOR DISMISSAL AFTER COMPLETION OF PROBATION" in text
    assert "Case No.: 10F006" in text
    assert "Sacramento County Superior Court (CASC SACRAMENTO)" in text
    assert "PC 211" in text
    assert "January 4, 2010" in text  # the conviction date
    assert "probation, 3 years" in text  # the sentence
    assert "Penal Code section 1203.4" in text
    assert "Attorneys for Defendant and Petitioner" in text
    assert "Jordan R. Sample (SBN 999999)" in text  # the attorney of office.yaml
    assert "TO COMPLETE" not in text


def test_the_petition_in_word_says_what_the_pdf_says(robbery):
    doc = Document(str(robbery / "petitions" / "01-pc-1203-4.docx"))
    words = squash(" ".join(p.text for p in doc.paragraphs))
    cells = squash(" ".join(c.text for t in doc.tables for row in t.rows for c in row.cells))
    assert "Penal Code section 1203.4" in words
    assert "10F006" in words + cells
    assert "PC 211" in cells and "January 4, 2010" in cells


def test_the_letters_say_what_was_found_in_each_language(robbery):
    english = squash(pdf_text(robbery / "letter" / "letter-en.pdf"))
    spanish = squash(pdf_text(robbery / "letter" / "letter-es.pdf"))
    assert "Dear Number600 Person:" in english
    assert "must register as sex offenders" in english  # why it is not automatic
    assert "dismissal, because you completed probation (Penal Code 1203.4)" in english
    assert "Estimado/a Number600 Person:" in spanish
    assert "Lo que podemos pedirle a un tribunal" in spanish
    assert "(Código Penal 1203.4)" in spanish and "4 de enero de 2010" in spanish
    for english_only in ("Dear", "What we can ask", "conviction", "Sincerely"):
        assert english_only not in spanish
    letter = Document(str(robbery / "letter" / "letter-es.docx"))
    assert "Atentamente," in [p.text for p in letter.paragraphs]


def test_a_person_with_no_open_remedy_gets_no_petition(runs, tmp_path):
    out = tmp_path / "100"
    files = draft_person([runs["ca-auto-relief"], runs["prop64"]], "A100", None, out)
    assert _petitions(out) == []
    assert not list((out / "petitions").iterdir())
    assert sorted(f.name for f in files) == [
        "letter-en.docx", "letter-en.pdf", "letter-es.docx", "letter-es.pdf",
    ]  # fmt: skip
    text = squash(pdf_text(out / "letter" / "letter-en.pdf"))
    assert "We found no petition to file for you at this time." in text
    assert "the records show it qualified on June 1, 2018" in text  # relieved automatically


def test_a_fact_the_runs_do_not_hold_is_a_marked_blank(runs, tmp_path):
    out = tmp_path / "610"
    draft_person([runs["ca-auto-relief"]], "610", None, out)
    (row,) = _petitions(out)
    assert row["case_number"] == "" and row["to_complete"] == "Court case number"
    text = squash(pdf_body_text(out / "petitions" / "01-pc-1203-4.pdf"))
    assert "Court case number [__________ TO COMPLETE: Court case number]" in text
    assert "Case No.: ____________________" in text
    assert "[OFFICE NAME]" in text  # no office file: the office's fields are marked too


def test_an_arrest_without_conviction_gets_an_851_91_petition(runs, tmp_path):
    out = tmp_path / "800"
    draft_person([runs["ca-auto-relief"]], "800", None, out)
    (row,) = _petitions(out)
    assert row["remedy"] == "851.91"
    text = squash(pdf_body_text(out / "petitions" / "01-pc-851-91.pdf"))
    assert "PETITION TO SEAL ARREST AND RELATED RECORDS" in text
    assert "January 1, 2020" in text and "PC 459" in text and "CAPD SACRAMENTO" in text


def test_a_prop64_run_opens_hs_11361_8(runs, tmp_path):
    out = tmp_path / "900"
    draft_person([runs["prop64"]], "900", None, out)
    (row,) = _petitions(out)
    assert (row["remedy"], row["pack"], row["case_number"]) == ("11361.8", "prop64", "12F009")
    text = squash(pdf_body_text(out / "petitions" / "01-hs-11361-8.pdf"))
    assert "Health and Safety Code section 11361.8, subdivision (e)" in text
    assert "redesignate as a misdemeanor or infraction" in text
    assert "HS 11359" in text and "March 5, 2012" in text
    # Only a Prop 64 run: the letter says nothing about automatic relief it did not decide.
    letter = squash(pdf_text(out / "letter" / "letter-en.pdf"))
    assert "Cleared automatically" not in letter
    assert "Proposition 64 (Health and Safety Code 11361.8)" in letter


def test_the_same_runs_give_the_same_bytes(runs, robbery, tmp_path):
    again = tmp_path / "again"
    draft_person([runs["ca-auto-relief"], runs["prop64"]], "600", None, again)
    manifest = json.loads((robbery / "filings.json").read_text())
    assert manifest["kind"] == "person" and manifest["as_of"] == AS_OF
    for name in ("petitions/01-pc-1203-4.pdf", "petitions/01-pc-1203-4.docx"):
        assert name in manifest["files"]
    # written again, with the example office, over the earlier folder: byte for byte
    result = _invoke(
        "filings", "--run", runs["ca-auto-relief"], "--run", runs["prop64"],
        "--person", "600", "--office", EXAMPLE_OFFICE, "--out", again,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    for name in manifest["files"]:
        assert (again / name).read_bytes() == (robbery / name).read_bytes(), name


def test_mistakes_are_one_line_without_personal_data(runs, tmp_path):
    result = _invoke(
        "filings", "--run", runs["prop64"], "--person", "A999", "--out", tmp_path / "x"
    )
    assert result.exit_code == 2
    assert "no row of the 1 run folder(s) has this subject id or CII number" in result.output
    assert "A999" not in result.output
    result = _invoke(
        "filings", "--run", runs["prop64"], "--run", runs["ca-auto-relief"], "--out", tmp_path / "y"
    )
    assert result.exit_code == 2
    assert "give one run folder (several only with --person)" in result.output
    stray = tmp_path / "stray"
    stray.mkdir()
    (stray / "notes.txt").write_text("mine")
    result = _invoke("filings", "--run", runs["prop64"], "--person", "900", "--out", stray)
    assert result.exit_code == 2 and "not an earlier person's filings folder" in result.output
    assert (stray / "notes.txt").read_text() == "mine"


def test_every_remedy_and_reason_has_words_in_both_languages():
    remedies = set(petition_words()["remedies"])
    assert remedies == {"1203.4", "1203.4a", "1203.41", "17b", "851.91", "11361.8"}
    english, spanish = letter_words("en"), letter_words("es")
    assert english.keys() == spanish.keys()
    for key in ("reasons", "remedies", "levels"):
        assert english[key].keys() == spanish[key].keys(), key
    assert set(english["remedies"]) == remedies
    pack = load_pack("ca-auto-relief")
    stuck = {
        step.reason
        for step in pack.steps
        if step.determination in ("not_eligible", "review") and step.reason != "already_relieved"
    }
    assert stuck <= set(english["reasons"]), stuck - set(english["reasons"])


def test_a_folder_of_run_folders_is_read_as_clearance_sheet_writes_it(runs, tmp_path):
    sheet = tmp_path / "sheet"
    for law, folder in runs.items():
        shutil.copytree(folder, sheet / law)
    out = tmp_path / "900"
    result = _invoke(
        "filings", "--run", sheet, "--person", "A900", "--office", DEFENDER, "--out", out
    )
    assert result.exit_code == 0, result.output
    assert [r["remedy"] for r in _petitions(out)] == ["11361.8"]
    manifest = json.loads((out / "filings.json").read_text())
    assert sorted(r["pack"] for r in manifest["runs"]) == ["ca-auto-relief", "prop64"]
    petition = squash(pdf_body_text(out / "petitions" / "01-hs-11361-8.pdf"))
    assert "Casey T. Sample (SBN 999998)" in petition  # examples/defender-office.yaml
    letter = squash(pdf_text(out / "letter" / "letter-en.pdf"))
    assert "Office of the Public Defender, County of Example" in letter
    assert "the records show it qualified on October 1, 2024" in letter  # path II's floor


def test_hostile_text_from_the_data_opens_and_runs_no_formula(tmp_path):
    """A name, court and case number with characters XML forbids, and a case number a
    spreadsheet would evaluate: every document opens, petitions.csv is formula-safe."""
    extract = tmp_path / "hostile.dat"
    rows = [
        line(SUBJECT_ID="301", PRI_NAME="DOE\x1a,JANE\x00 Q", STP_ORI_DESCR="CASC SACRAMENTO\x1aN",
             OFN="10F\x1a0001"),
        line(SUBJECT_ID="302", PRI_NAME='=HYPERLINK("http://x"),A', OFN="+1-555"),
    ]  # fmt: skip
    extract.write_text(header() + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    run = tmp_path / "run"
    result = _invoke("run", extract, "--county", "SACRAMENTO", "--as-of", AS_OF, "--out", run)
    assert result.exit_code == 0, result.output
    for person in ("301", "302"):
        out = tmp_path / person
        files = draft_person([run], person, None, out)
        assert [f.suffix for f in files].count(".pdf") >= 3  # a petition and two letters
        for path in files:
            if path.suffix == ".pdf":
                text = pdf_text(path)
            else:
                document = Document(str(path))
                cells = [c.text for t in document.tables for r in t.rows for c in r.cells]
                text = " ".join([*(p.text for p in document.paragraphs), *cells])
            assert not any(c in text for c in "\x1a\x00"), path
    (row,) = _petitions(tmp_path / "302")
    assert row["case_number"] == "'+1-555"
