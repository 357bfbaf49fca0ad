"""`clearance filings` on the demo run: what the court, DOJ and each person receive.

Every check reads the written files back (PDF text with pypdf, Word with
python-docx or its XML, CSV with Polars) and compares them with the run's
determinations: each dismissed or reduced conviction is listed exactly once in
Exhibit A and in the DOJ file, each challenged one in Exhibit B with its ground
and provision, and nothing awaiting review is filed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections import Counter
from pathlib import Path

import docx
import polars as pl
import pytest
from pypdf import PdfReader
from typer.testing import CliRunner

from clearance.cli import app
from clearance.filings.pleading import LINES, NUMBER_RIGHT, TEXT_LEFT, line_baseline
from clearance.law import load_rulepack
from filings_support import (
    EXAMPLE_OFFICE,
    W,
    docx_table_rows,
    docx_xml,
    expected_key,
    expected_keys,
    pdf_body_text,
    pdf_exhibit_keys,
    pdf_pages,
    pdf_row_numbers,
    pdf_text,
    read_csv,
    squash,
)

runner = CliRunner()
GRANTED = ("dismiss", "reduce")
CUTOFF = load_rulepack().conviction_cutoff  # 2016-11-08: DOJ listed convictions up to it


def dated_after_cutoff() -> pl.Expr:
    return pl.col("conviction_date").str.to_date("%Y-%m-%d", strict=False) > CUTOFF


def challenged_rows(determinations: pl.DataFrame) -> pl.DataFrame:
    """What Exhibit B must list: not_eligible convictions dated on or before the cut-off."""
    return determinations.filter(
        (pl.col("determination") == "not_eligible") & ~dated_after_cutoff()
    )


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def determinations(demo) -> pl.DataFrame:
    return pl.read_parquet(demo / "determinations.parquet")


@pytest.fixture(scope="module")
def filed(demo, tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("filings") / "f"
    result = invoke("filings", "--run", demo, "--office", EXAMPLE_OFFICE, "--out", out)
    assert result.exit_code == 0, result.output
    return out, result.output


@pytest.fixture(scope="module")
def court(filed) -> Path:
    return filed[0] / "sacramento"


def test_writes_motion_order_exhibits_challenge_notice_doj_file_and_letters(filed, court):
    out, output = filed
    for stem in ("motion", "order", "exhibit-a", "challenge-notice", "exhibit-b"):
        for ext in ("pdf", "docx"):
            assert (court / f"{stem}.{ext}").stat().st_size > 1000, f"{stem}.{ext}"
    for name in (
        "doj-disposition-update.csv",
        "awaiting-review.csv",
        "filings.json",
        "letters/letters-en.pdf",
        "letters/letters-es.pdf",
        "letters/letter-template-en.docx",
        "letters/letter-template-es.docx",
        "letters/mailing-list.csv",
    ):
        assert (out / name).is_file(), name
    assert "353 not challenged (234 dismiss, 119 reduce), 13 challenged" in squash(output)
    assert "8 awaiting review (not filed)" in squash(output)
    assert "35 dated after 2016-11-08 (never on DOJ's list: in no filing)" in squash(output)


def test_manifest_accounts_for_every_conviction(filed, determinations):
    manifest = json.loads((filed[0] / "filings.json").read_text())
    c = manifest["convictions"]
    counts = Counter(determinations["determination"].to_list())
    assert c["dismiss"] == counts["dismiss"] and c["reduce"] == counts["reduce"]
    assert c["challenged"] == challenged_rows(determinations).height
    assert c["awaiting_review"] == counts["review"]
    assert c["after_cutoff"] == determinations.filter(dated_after_cutoff()).height
    assert c["conviction_cutoff"] == CUTOFF.isoformat()
    total = c["granted"] + c["challenged"] + c["awaiting_review"] + c["after_cutoff"]
    assert total == c["total"] == determinations.height
    assert manifest["office"] == {"file": "office.yaml", "blank": False}
    # CAMC and CASC SACRAMENTO are the same county court: one filing
    assert [court["folder"] for court in manifest["courts"]] == ["sacramento"]


def test_exhibit_a_pdf_lists_each_granted_conviction_exactly_once(court, determinations):
    granted = determinations.filter(pl.col("determination").is_in(GRANTED))
    assert pdf_exhibit_keys([court / "exhibit-a.pdf"]) == expected_keys(granted)
    assert pdf_row_numbers(court / "exhibit-a.pdf") == list(range(1, granted.height + 1))


def test_exhibit_a_docx_lists_each_granted_conviction_with_its_relief(court, determinations):
    granted = determinations.filter(pl.col("determination").is_in(GRANTED))
    document = docx.Document(court / "exhibit-a.docx")
    table = document.tables[0]
    header = [cell.text for cell in table.rows[0].cells]
    assert header == [
        "No.",
        "Name",
        "Birth date",
        "CII",
        "Case no.",
        "Convicted",
        "Section",
        "Level",
        "Relief",
    ]
    printed = Counter()
    relief = Counter()
    for row in table.rows[1:]:
        cells = [cell.text for cell in row.cells]
        printed[(cells[2], cells[3], cells[4], cells[5], cells[6])] += 1
        relief[(cells[7], cells[8])] += 1
    assert printed == expected_keys(granted)
    expected_relief = Counter(
        (
            r["severity"],
            "Dismiss and seal"
            if r["determination"] == "dismiss"
            else "Reduce to misdemeanor"
            if r["severity"] == "F"
            else "Reduce to misd. or infr.",
        )
        for r in granted.to_dicts()
    )
    assert relief == expected_relief


def test_exhibit_b_gives_each_challenged_conviction_its_ground_and_provision(court, determinations):
    challenged = challenged_rows(determinations)
    rows = docx_table_rows(court / "exhibit-b.docx")[1:]
    assert len(rows) == challenged.height
    assert pdf_exhibit_keys([court / "exhibit-b.pdf"]) == expected_keys(challenged)
    grounds = {r[4] + "|" + r[6]: r[7] for r in rows}  # case number|section -> ground
    for row in challenged.to_dicts():
        ground = grounds[
            (row["case_number"] or "(none)")
            + "|"
            + row["section"]
            + (row["subsection"] or "").upper()
        ]
        if row["reason"] == "prior_superstrike":
            # the narrowest provision for this section, not all three sections
            narrow = {"11358": "(d)(1)", "11359": "(c)(1)", "11360": "(a)(3)(A)"}
            assert f"(HS {row['section']}{narrow[row['section']]}; PC 667(e)(2)(C)(iv))" in ground
        elif row["reason"] == "two_priors":
            narrow = {"11358": "(d)(2)", "11359": "(c)(2)", "11360": "(a)(3)(B)"}
            assert f"(HS {row['section']}{narrow[row['section']]})" in ground
        else:
            assert "(HS " in ground, ground


def test_doj_file_has_one_row_per_granted_conviction_pointing_at_its_exhibit_row(
    filed, court, determinations
):
    doj = read_csv(filed[0] / "doj-disposition-update.csv")
    granted = determinations.filter(pl.col("determination").is_in(GRANTED))
    assert doj.height == granted.height
    keys = list(zip(doj["subject_id"], doj["cnt_order"], strict=True))
    assert len(set(keys)) == len(keys)
    assert set(keys) == set(zip(granted["subject_id"], granted["cnt_order"], strict=True))
    assert doj["order_date"].null_count() == doj.height  # filled in once the order is signed
    for column in ("cii_number", "court", "case_number", "conviction_date", "section", "relief"):
        assert column in doj.columns
    # each row points at the Exhibit A row that prints the same conviction
    exhibit = {int(r[0]): r for r in docx_table_rows(court / "exhibit-a.docx")[1:]}
    by_key = {(r["subject_id"], r["cnt_order"]): r for r in granted.to_dicts()}
    for row in doj.to_dicts():
        printed = exhibit[int(row["exhibit_row"])]
        conviction = by_key[(row["subject_id"], row["cnt_order"])]
        assert tuple(printed[2:7]) == expected_key(conviction)
        assert printed[8] == row["relief"]
        assert row["exhibit_file"] == "sacramento/exhibit-a.pdf"


def test_review_cases_are_not_filed_but_counted(filed, court, determinations):
    review = determinations.filter(pl.col("determination") == "review")
    awaiting = read_csv(filed[0] / "awaiting-review.csv")
    assert sorted(awaiting["cnt_order"] + awaiting["subject_id"]) == sorted(
        review["cnt_order"] + review["subject_id"]
    )
    for path in ("exhibit-a.pdf", "exhibit-b.pdf"):
        printed = pdf_exhibit_keys([court / path])
        assert not set(printed) & set(expected_keys(review)), path
    motion = squash(pdf_text(court / "motion.pdf"))
    assert "A further 8 convictions in this court are still under review by the People" in motion


def test_motion_states_the_legal_basis_counts_and_signature(court):
    text = squash(pdf_text(court / "motion.pdf"))
    for words in (
        "NOTICE OF DECISION NOT TO CHALLENGE",
        "Health and Safety Code section 11361.9, subdivision (c)(2)",
        "sections 11361.8 and 11361.9, subdivision (e)",
        "HS 11361.8(e), (f); HS 11362.1(a)",  # the relief citation, from the rule pack
        "Exhibit A lists 353 convictions of 263 persons",
        "234 to be dismissed and sealed, and 119 to be reduced",
        "Jordan R. Sample (SBN 999999)",
        "Office of the District Attorney, County of Example",
        "SUPERIOR COURT OF THE STATE OF CALIFORNIA",
        "IN AND FOR THE COUNTY OF SACRAMENTO",
        "THE PERSONS LISTED IN EXHIBIT A",
        "Respectfully submitted,",
        "Deputy District Attorney",
    ):
        assert words in text, words
    order = squash(pdf_text(court / "order.pdf"))
    assert "is dismissed and sealed as legally invalid" in order
    assert "(Health & Saf. Code, § 11361.9, subd. (f))" in order
    assert "Judge of the Superior Court" in order
    challenge = squash(pdf_text(court / "challenge-notice.pdf"))
    assert "challenge the recall or dismissal of sentence" in challenge
    assert "OFFICE OF THE PUBLIC DEFENDER, COUNTY OF EXAMPLE" in challenge


@pytest.mark.parametrize("stem", ["motion", "order", "challenge-notice"])
def test_word_and_pdf_say_the_same_words(court, stem):
    pdf = "".join(pdf_body_text(court / f"{stem}.pdf").split())
    document = docx.Document(court / f"{stem}.docx")
    paragraphs = [p.text for p in document.paragraphs if p.text.strip()]
    for table in document.tables:
        for row in table.rows:
            paragraphs += [p.text for cell in row.cells for p in cell.paragraphs if p.text.strip()]
    assert len(paragraphs) > 10
    for text in paragraphs:
        # the PDF breaks lines where Word may not; compare without spaces
        assert "".join(text.split()) in pdf, text


def test_pdf_is_on_pleading_paper(court):
    """28 numbers down the left margin on every page, on the text's baselines."""
    reader = PdfReader(court / "motion.pdf")
    for page in reader.pages:
        numbers: dict[int, float] = {}

        def visit(text, cm, tm, font, size, numbers=numbers):
            x, y = tm[4] * cm[0] + cm[4], tm[5] * cm[3] + cm[5]
            if text.strip().isdigit() and x < NUMBER_RIGHT:
                numbers[int(text.strip())] = y

        page.extract_text(visitor_text=visit)
        assert sorted(numbers) == list(range(1, LINES + 1))
        for n, y in numbers.items():
            assert abs(y - line_baseline(n)) < 0.5
    first = pdf_pages(court / "motion.pdf")[0]
    assert "Notice and Motion under Health & Safety Code § 11361.9" in first  # footer title
    assert TEXT_LEFT > NUMBER_RIGHT


def test_word_document_is_on_pleading_paper(court):
    document = docx_xml(court / "motion.docx")
    borders = document.find(f".//{W}sectPr/{W}pgBorders")
    assert borders.find(f"{W}left").get(f"{W}val") == "double"
    assert borders.find(f"{W}right").get(f"{W}val") == "single"
    header = docx_xml(court / "motion.docx", "word/header1.xml")
    box = next(header.iter(f"{W}txbxContent"))  # the text box beside the lines
    numbers = ["".join(p.itertext()) for p in box.iter(f"{W}p")]
    assert numbers == [str(n) for n in range(1, LINES + 1)]
    footer = docx.Document(court / "motion.docx").sections[0].footer
    assert "Notice and Motion under Health & Safety Code § 11361.9" in [
        p.text for p in footer.paragraphs
    ]


def test_letters_reach_each_person_helped_in_english_and_spanish(filed, determinations):
    letters = filed[0] / "letters"
    granted = determinations.filter(pl.col("determination").is_in(GRANTED))
    mailing = read_csv(letters / "mailing-list.csv")
    assert sorted(mailing["subject_id"]) == sorted(granted["subject_id"].unique())
    assert mailing["convictions"].cast(int).sum() == granted.height
    assert mailing["address_line_1"].null_count() == mailing.height  # not in the extract
    english = PdfReader(letters / "letters-en.pdf")
    spanish = PdfReader(letters / "letters-es.pdf")
    assert len(english.pages) == len(spanish.pages) == mailing.height  # one page each here
    for row in mailing.head(20).to_dicts():
        page = english.pages[int(row["pdf_en_page"]) - 1].extract_text()
        assert f"Dear {row['display_name']}:" in page
        assert "What this means for you" in page and "background" in page.lower()
        page_es = spanish.pages[int(row["pdf_es_page"]) - 1].extract_text()
        assert f"Estimado/a {row['display_name']}:" in page_es
        assert "Lo que esto significa para usted" in page_es
        assert int(row["dismissed"]) == 0 or "dismiss and seal it" in squash(page)
        assert int(row["reduced"]) == 0 or "reduce it" in squash(page)
    assert "11361.8" in pdf_text(letters / "letters-en.pdf")


def test_letter_templates_merge_only_mailing_list_columns(filed):
    letters = filed[0] / "letters"
    columns = set(read_csv(letters / "mailing-list.csv").columns)
    for language in ("en", "es"):
        body = docx_xml(letters / f"letter-template-{language}.docx")
        fields = {f.get(f"{W}instr").split()[1] for f in body.iter(f"{W}fldSimple")}
        assert {"display_name", f"convictions_{language}", f"outcome_{language}"} <= fields
        assert fields <= columns, fields - columns


def test_same_run_and_office_give_byte_identical_files(demo, filed, tmp_path):
    again = tmp_path / "again"
    assert (
        invoke("filings", "--run", demo, "--office", EXAMPLE_OFFICE, "--out", again).exit_code == 0
    )

    def digests(folder: Path) -> dict[str, str]:
        return {
            str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*"))
            if p.is_file()
        }

    assert digests(again) == digests(filed[0])
    metadata = PdfReader(again / "sacramento" / "motion.pdf").metadata
    assert metadata["/CreationDate"].startswith("D:20200701")  # the run's as-of date
    properties = docx.Document(again / "sacramento" / "motion.docx").core_properties
    assert properties.created.date().isoformat() == "2020-07-01"


def test_without_an_office_file_fields_are_marked_to_fill_in(demo, tmp_path):
    out = tmp_path / "blank"
    result = invoke("filings", "--run", demo, "--out", out, "--no-letters")
    assert result.exit_code == 0, result.output
    assert "no --office file" in squash(result.output)
    text = squash(pdf_text(out / "sacramento" / "motion.pdf"))
    for marker in (
        "[ATTORNEY NAME] (SBN [BAR NO.])",
        "[OFFICE NAME]",
        "[PUBLIC DEFENDER'S OFFICE]",
    ):
        assert marker in text, marker
    manifest = json.loads((out / "filings.json").read_text())
    assert manifest["office"]["blank"] is True and manifest["letters"] is None
    assert not (out / "letters").exists()


def test_refuses_to_overwrite_a_folder_that_is_not_a_filings_folder(demo):
    result = invoke("filings", "--run", demo, "--out", demo)
    assert result.exit_code == 2
    assert "is an input of this command" in result.output


def test_bad_run_folder_is_one_clear_line(tmp_path):
    result = invoke("filings", "--run", tmp_path, "--out", tmp_path / "f")
    assert result.exit_code == 2
    assert "not a run folder (run.json is missing)" in squash(result.output)
    (tmp_path / "run.json").write_text(json.dumps({"as_of": "2020-07-01", "county": "X"}))
    pl.DataFrame({"subject_id": ["1"]}).write_parquet(tmp_path / "determinations.parquet")
    result = invoke("filings", "--run", tmp_path, "--out", tmp_path / "f")
    assert result.exit_code == 2
    assert "determinations.parquet: missing column(s) cii_number" in squash(result.output)
    assert not (tmp_path / "f").exists()


def _us_to_iso(text: str) -> dt.date:
    month, day, year = text.split("/")
    return dt.date(int(year), int(month), int(day))


def _letter_dates(text: str) -> list[dt.date]:
    """Conviction dates as the English letters print them: `convicted January 30, 1990`."""
    found = re.findall(r"convicted ([A-Z][a-z]+) (\d{1,2}), (\d{4})", squash(text))
    return [dt.datetime.strptime(f"{m} {d} {y}", "%B %d %Y").date() for m, d, y in found]


def test_no_conviction_dated_after_the_cutoff_reaches_any_filing(filed, court, determinations):
    """HS 11361.9: the filings answer for what DOJ listed, convictions up to the cut-off.

    On the demo, 35 of the 48 not_eligible convictions are after_prop64 (dated after
    2016-11-08): none of them is in Exhibit B, the notice of challenge, or anything
    else written; Exhibit B and the notices count the other 13.
    """
    out = filed[0]
    late = determinations.filter(dated_after_cutoff())
    assert late.height == 35 and set(late["reason"]) == {"after_prop64"}
    challenged = challenged_rows(determinations)
    assert challenged.height == 13
    assert determinations.filter(pl.col("determination") == "not_eligible").height == 48
    late_keys = set(expected_keys(late))

    # Exhibits, PDF and Word: every row dated on or before the cut-off, none of the late rows
    for stem in ("exhibit-a", "exhibit-b"):
        printed = pdf_exhibit_keys([court / f"{stem}.pdf"])
        assert printed and not set(printed) & late_keys, stem
        assert all(_us_to_iso(key[3]) <= CUTOFF for key in printed), stem
        rows = docx_table_rows(court / f"{stem}.docx")[1:]
        assert all(_us_to_iso(row[5]) <= CUTOFF for row in rows), stem
    exhibit_b = docx_table_rows(court / "exhibit-b.docx")[1:]
    assert len(exhibit_b) == challenged.height
    assert pdf_exhibit_keys([court / "exhibit-b.pdf"]) == expected_keys(challenged)
    assert not any(row[7].startswith("Convicted after Prop. 64") for row in exhibit_b)

    # The notices count what the exhibits list
    notice = squash(pdf_text(court / "challenge-notice.pdf"))
    people = challenged["subject_id"].n_unique()
    assert f"redesignation of the 13 convictions of {people} persons listed in Exhibit B" in notice
    assert "Convicted after Prop. 64" not in notice
    grounds = docx_table_rows(court / "challenge-notice.docx", table=-2)[1:]  # -1: service
    assert sum(int(row[2]) for row in grounds) == challenged.height
    motion = squash(pdf_text(court / "motion.pdf"))
    assert "The People challenge relief for 13 convictions in this court" in motion

    # The DOJ file, the review list, the letters and the mailing list
    for name in ("doj-disposition-update.csv", "awaiting-review.csv"):
        table = read_csv(out / name)
        dates = table["conviction_date"].str.to_date("%Y-%m-%d")
        assert table.height and (dates <= CUTOFF).all(), name
        keys = set(zip(table["subject_id"], table["cnt_order"], strict=True))
        assert not keys & set(zip(late["subject_id"], late["cnt_order"], strict=True)), name
    mailing = read_csv(out / "letters" / "mailing-list.csv")
    lettered = [d for text in mailing["convictions_en"] for d in _letter_dates(text)]
    assert len(lettered) == mailing["convictions"].cast(int).sum() > 0
    assert max(lettered) <= CUTOFF
    assert max(_letter_dates(pdf_text(out / "letters" / "letters-en.pdf"))) <= CUTOFF

    manifest = json.loads((out / "filings.json").read_text())
    c = manifest["convictions"]
    assert (c["challenged"], c["after_cutoff"], c["after_cutoff_granted"]) == (13, 35, 0)
    (entry,) = manifest["courts"]
    assert entry["challenged"] == len(exhibit_b)
    assert entry["granted"] == len(docx_table_rows(court / "exhibit-a.docx")) - 1
