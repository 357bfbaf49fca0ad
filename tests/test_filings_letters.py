"""Ready to mail and to file: letters with addresses fed back in, their date, who has no
address, Spanish hours; and the proof of service appended to each paper.

Each check reads what a person at the office would: the text of the letter PDFs
(and where on the page the address is printed), the mailing list and the list of
people without an address, and what the command says on screen.
"""

from __future__ import annotations

import json

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pypdf import PdfReader
from typer.testing import CliRunner

from clearance.cli import app
from clearance.filings.addresses import AddressError, read_addresses_text
from clearance.filings.letters import ADDRESS_LEFT, ADDRESS_TOP, ADDRESS_WIDTH, PAGE_HEIGHT
from filings_support import EXAMPLE_OFFICE, W, docx_xml, pdf_body_text, read_csv, squash

runner = CliRunner()
FILED_ON = "2020-08-03"
WITHOUT = 4  # people of the demo the addresses file leaves out
BAD_NAME = "ZZTOPSECRET"  # a name in a bad row: it must never be printed
CITY_LINE = ("city", "state", "zip")


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def helped(demo) -> list[dict]:
    """The people helped in the demo (subject_id, cii_number), in subject_id order."""
    frame = pl.read_parquet(demo / "determinations.parquet")
    granted = frame.filter(pl.col("determination").is_in(["dismiss", "reduce"]))
    return granted.select("subject_id", "cii_number").unique().sort("subject_id").to_dicts()


def address_rows(helped: list[dict]) -> list[str]:
    """A synthetic address for all but WITHOUT people: keyed by subject_id, or by CII
    for every fifth person; two of the left-out people have a row with a problem."""
    rows = ["subject_id,cii_number,name,address_line1,address_line2,city,state,zip"]
    for i, person in enumerate(helped[:-WITHOUT]):
        key = f",{person['cii_number']}" if i % 5 == 0 else f"{person['subject_id']},"
        second = "Apt 4" if i % 3 == 0 else ""
        rows.append(f"{key},,{100 + i} Example Street,{second},Example City,ca,9{i % 10}000")
    rows.append(f"{helped[-1]['subject_id']},,{BAD_NAME},1 Example Road,,Example City,CA,123")
    rows.append(f"{helped[-2]['subject_id']},,{BAD_NAME},,,Example City,CA,90000")
    rows.append("X-NOBODY,,,1 Example Way,,Example City,CA,90000")
    return rows


@pytest.fixture(scope="module")
def mailed(demo, helped, tmp_path_factory):
    folder = tmp_path_factory.mktemp("letters")
    addresses = folder / "addresses.csv"
    addresses.write_text("\n".join(address_rows(helped)) + "\n", encoding="utf-8")
    out = folder / "f"
    result = invoke(
        "filings", "--run", demo, "--office", EXAMPLE_OFFICE, "--out", out,
        "--addresses", addresses, "--filed-on", FILED_ON,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return out, result.output


def test_each_letter_has_its_address_in_the_envelope_window_and_the_date(mailed, helped):
    out, _ = mailed
    mailing = read_csv(out / "letters" / "mailing-list.csv")
    english = PdfReader(out / "letters" / "letters-en.pdf")
    spanish = PdfReader(out / "letters" / "letters-es.pdf")
    with_address = mailing.filter(pl.col("address_line_1").is_not_null())
    assert with_address.height == len(helped) - WITHOUT
    for row in with_address.head(25).to_dicts():
        page = english.pages[int(row["pdf_en_page"]) - 1]
        text = page.extract_text()
        assert "August 3, 2020" in text  # --filed-on, never the clock
        city_line = f"{row['city']}, {row['state']} {row['zip']}"
        assert row["state"] == "CA"  # written in capitals whatever the file had
        block = [row["address_name"], row["address_line_1"], row["address_line_2"], city_line]
        block = [line for line in block if line]
        placed = _placed(page)
        for line in block:
            x, y = placed[line]  # printed as one line, inside the window
            assert ADDRESS_LEFT - 1 <= x <= ADDRESS_LEFT + 1, line
            assert PAGE_HEIGHT - ADDRESS_TOP - 4 * 12 - 2 <= y <= PAGE_HEIGHT - ADDRESS_TOP, line
        # top to bottom in the order an envelope needs
        assert [placed[line][1] for line in block] == sorted(
            (placed[line][1] for line in block), reverse=True
        )
        spanish_text = spanish.pages[int(row["pdf_es_page"]) - 1].extract_text()
        assert "3 de agosto de 2020" in spanish_text and city_line in spanish_text
    assert ADDRESS_LEFT + ADDRESS_WIDTH <= 4.875 * 72  # within a 4.5 in window from 7/8 in


def _placed(page) -> dict[str, tuple[float, float]]:
    """Each text run on the page with where it starts (x, baseline y)."""
    found: dict[str, tuple[float, float]] = {}

    def visit(text, cm, tm, font, size):
        if text.strip():
            found.setdefault(text.strip(), (cm[4] + tm[4], cm[5] + tm[5]))

    page.extract_text(visitor_text=visit)
    return found


def test_the_command_counts_and_lists_the_people_without_an_address(mailed, helped):
    out, output = mailed
    text = squash(output)
    assert f"{WITHOUT} of {len(helped)} people have no address" in text
    assert "letters/no-address.csv" in text
    missing = read_csv(out / "letters" / "no-address.csv")
    assert sorted(missing["subject_id"]) == sorted(p["subject_id"] for p in helped[-WITHOUT:])
    reasons = dict(zip(missing["subject_id"], missing["reason"], strict=True))
    assert reasons[helped[-3]["subject_id"]] == "not in addresses.csv"
    assert "has a problem" in reasons[helped[-1]["subject_id"]]
    english = PdfReader(out / "letters" / "letters-en.pdf")
    for row in missing.to_dicts():  # the letter is still written, with the name only
        page = english.pages[int(row["pdf_en_page"]) - 1].extract_text()
        assert f"Dear {row['display_name']}:" in page
    manifest = json.loads((out / "filings.json").read_text())
    assert manifest["letters"]["addresses"] == {
        "file": "addresses.csv",
        "with_address": len(helped) - WITHOUT,
        "without_address": WITHOUT,
        "no_address_file": "letters/no-address.csv",
        "rows_with_problems": 2,
        "rows_for_nobody_here": 1,
    }
    assert manifest["letters"]["date"] == FILED_ON


def test_bad_address_rows_name_file_line_and_problem_never_the_values(mailed, helped):
    out, output = mailed
    text = squash(output)
    line = len(helped) - WITHOUT + 2  # the header is line 1
    assert f"addresses.csv: line {line}: zip must be 5 digits or ZIP+4 (12345-6789)" in text
    assert f"addresses.csv: line {line + 1}: address_line_1 is empty" in text
    assert "1 row(s) of addresses.csv name nobody who gets a letter" in text
    assert BAD_NAME not in output and helped[-1]["subject_id"] not in output
    problems = read_csv(out / "letters" / "address-problems.csv")
    assert problems["line"].to_list() == [str(line), str(line + 1)]


def test_the_filled_in_mailing_list_can_be_given_back(mailed, demo, tmp_path):
    out, _ = mailed
    again = invoke(
        "filings", "--run", demo, "--office", EXAMPLE_OFFICE, "--out", tmp_path / "again",
        "--addresses", out / "letters" / "mailing-list.csv", "--filed-on", FILED_ON,
    )  # fmt: skip
    assert again.exit_code == 0, again.output
    assert "column(s) not used" not in again.output  # its own columns are read past
    before = read_csv(out / "letters" / "mailing-list.csv")
    after = read_csv(tmp_path / "again" / "letters" / "mailing-list.csv")
    columns = ["subject_id", "address_line_1", "address_line_2", "city", "state", "zip"]
    assert after.select(columns).equals(before.select(columns))


def test_without_a_filing_date_letters_carry_the_runs_as_of_date(demo, tmp_path):
    result = invoke("filings", "--run", demo, "--out", tmp_path / "f", "--office", EXAMPLE_OFFICE)
    assert result.exit_code == 0, result.output
    assert "have no address (no --addresses file)" in squash(result.output)
    first = PdfReader(tmp_path / "f" / "letters" / "letters-en.pdf").pages[0].extract_text()
    assert "July 1, 2020" in first  # the demo's as-of date


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("name,city\nA,B\n", "line 1: the header must name subject_id or cii_number"),
        ("subject_id,city,state,zip\n1,B,CA,90000\n", "(missing address_line_1)"),
        (b"subject_id,address_line_1,city,state,zip\n1,\xff,B,CA,9\n", "line 2: is not UTF-8"),
        ("", "is empty; it needs a header line"),
    ],
)
def test_an_addresses_file_that_is_not_a_table_of_addresses_is_one_line(
    demo, tmp_path, content, message
):
    path = tmp_path / "addresses.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    result = invoke("filings", "--run", demo, "--out", tmp_path / "f", "--addresses", path)
    assert result.exit_code == 2, result.output
    assert message in squash(result.output) and "addresses.csv" in result.output
    assert not (tmp_path / "f").exists()


def _contact_line(pdf) -> str:
    return squash(PdfReader(pdf).pages[0].extract_text())


def test_the_spanish_letter_gives_office_hours_in_spanish(mailed):
    out, _ = mailed
    spanish = _contact_line(out / "letters" / "letters-es.pdf")
    english = _contact_line(out / "letters" / "letters-en.pdf")
    assert "(de lunes a viernes, de 9 a.m. a 4 p.m.)" in spanish
    assert "Monday" not in spanish and "Friday" not in spanish
    assert "(Monday to Friday, 9 a.m. to 4 p.m.)" in english


def test_an_office_file_with_one_text_for_the_hours_still_works(demo, tmp_path):
    """Office files written before the hours had a language: English hours, none in
    the Spanish letter, and a warning that says how to give them."""
    old = EXAMPLE_OFFICE.read_text().replace(
        "  contact_hours:                      # one per language of the letters (or one text: "
        "English)\n    en: Monday to Friday, 9 a.m. to 4 p.m.\n"
        "    es: de lunes a viernes, de 9 a.m. a 4 p.m.\n",
        "  contact_hours: Monday to Friday, 9 a.m. to 4 p.m.\n",
    )
    assert "contact_hours: Monday" in old
    office = tmp_path / "office.yaml"
    office.write_text(old)
    result = invoke("filings", "--run", demo, "--out", tmp_path / "f", "--office", office)
    assert result.exit_code == 0, result.output
    assert "letters.contact_hours has no text for es" in squash(result.output)
    assert "Monday" not in _contact_line(tmp_path / "f" / "letters" / "letters-es.pdf")
    assert "(Monday to Friday" in _contact_line(tmp_path / "f" / "letters" / "letters-en.pdf")


# --- the proof of service -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stem", "exhibit"),
    [("motion", "EXHIBIT A"), ("order", "EXHIBIT A"), ("challenge-notice", "EXHIBIT B")],
)
def test_each_paper_ends_with_a_proof_of_service_by_mail_and_electronic_service(
    mailed, stem, exhibit
):
    out, _ = mailed
    pages = [squash(p.extract_text()) for p in PdfReader(out / "sacramento" / f"{stem}.pdf").pages]
    start = next(i for i, page in enumerate(pages) if "PROOF OF SERVICE" in page)
    assert start > 0 and "Dated:" not in pages[start]  # a page of its own, after the paper
    proof = squash(pdf_body_text(out / "sacramento" / f"{stem}.pdf").split("PROOF OF SERVICE")[1])
    for words in (
        "I, Casey M. Example, declare",  # office.yaml: service.name
        "My business address is 100 Example Plaza, Suite 200, Example City, CA 90000",
        "my electronic service address is eservice@da.example.invalid",
        "On August 3, 2020, I served the following documents",  # --filed-on
        exhibit,
        "Office of the Public Defender, County of Example",  # served on
        "eservice@pd.example.invalid",
        "BY MAIL (Code Civ. Proc., §§ 1013, subd. (a), 1013a, subd. (3))",
        "United States Postal Service at Example City, California",
        "BY ELECTRONIC SERVICE (Code Civ. Proc., § 1010.6; Cal. Rules of Court, rule 2.251)",
        "under penalty of perjury",
        "(Signature of person serving)",
    ):
        assert words in proof, words
    word = "".join(docx_xml(out / "sacramento" / f"{stem}.docx").itertext())
    assert "PROOF OF SERVICE" in word and "I, Casey M. Example, declare" in word
    assert "eservice@pd.example.invalid" in word


def test_without_a_service_section_the_proof_is_marked_to_fill_in(demo, tmp_path):
    out = tmp_path / "f"
    assert invoke("filings", "--run", demo, "--out", out, "--no-letters").exit_code == 0
    proof = squash(PdfReader(out / "sacramento" / "motion.pdf").pages[-2].extract_text())
    proof += squash(PdfReader(out / "sacramento" / "motion.pdf").pages[-1].extract_text())
    assert "I, [NAME OF PERSON SERVING], declare" in proof
    assert "On ____________________, I served" in proof  # no --filed-on: a date to fill in


# --- the exhibits on the pleading paper's lines; headings whole -----------------------------


def test_exhibit_rows_sit_on_the_numbered_lines(mailed):
    """Rows are half lines: each row's first baseline is a numbered line's baseline, or
    exactly half way to the next, on every page (read from where pypdf finds the text)."""
    from clearance.filings.pleading import HALF, TEXT_LEFT, line_baseline

    out, _ = mailed
    reader = PdfReader(out / "sacramento" / "exhibit-a.pdf")
    checked = 0
    for page in reader.pages:
        numbers: list[float] = []

        def visit(text, cm, tm, font, size, numbers=numbers):
            x, y = cm[4] + tm[4], cm[5] + tm[5]
            words = text.split()
            if TEXT_LEFT <= x < TEXT_LEFT + 28 and words and words[0].replace(",", "").isdigit():
                numbers.append(y)  # a row: its number, then its cells

        page.extract_text(visitor_text=visit)
        assert numbers
        for y in numbers:
            offset = (line_baseline(1) - y) / HALF
            assert abs(offset - round(offset)) < 0.01, y
            assert 0 <= round(offset) <= 2 * 27
        lines_used = {round((line_baseline(1) - y) / HALF) % 2 for y in numbers}
        assert 0 in lines_used  # rows on the numbered lines themselves, not only between
        checked += len(numbers)
    assert checked == len(read_csv(out / "doj-disposition-update.csv"))


def test_a_heading_never_parts_a_citation(mailed):
    out, _ = mailed
    for stem in ("exhibit-a", "motion", "challenge-notice"):
        first = PdfReader(out / "sacramento" / f"{stem}.pdf").pages[0].extract_text()
        lines = [" ".join(line.split()) for line in first.split("\n")]
        for citation in ("sections 11361.8 and 11361.9", "§§ 11361.8, 11361.9", "§ 11361.9"):
            if citation in " ".join(lines):
                assert any(citation in line for line in lines), (stem, citation)
        assert not any(line.endswith(("§", "§§", "sections", "SECTION")) for line in lines)


@settings(max_examples=150, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=300),
        st.lists(
            st.lists(
                st.one_of(
                    st.sampled_from(["subject_id", "cii_number", "address_line_1", "city"]),
                    st.sampled_from(["state", "zip", "CA", "95814", "ZZSECRET", '"', ""]),
                    st.text(max_size=12),
                ),
                max_size=8,
            ),
            max_size=6,
        ).map(lambda rows: "\n".join(",".join(r) for r in rows).encode("utf-8", "replace")),
    )
)
def test_any_addresses_file_is_read_or_refused_with_one_line(data):
    """Whatever the bytes, the reader returns rows and problems or refuses the file with
    one line; no message quotes a value of the file."""
    try:
        book = read_addresses_text(data, "addresses.csv")
    except AddressError as exc:
        messages = [str(exc)]
    else:
        book.match([("1", "A1"), ("2", None)])
        messages = book.messages()
    for message in messages:
        assert message.startswith("addresses.csv: ") and "\n" not in message
        assert "ZZSECRET" not in message


def test_the_word_template_puts_the_address_in_the_window_and_dates_the_letter(mailed):
    out, _ = mailed
    for language, date in (("en", "August 3, 2020"), ("es", "3 de agosto de 2020")):
        body = docx_xml(out / "letters" / f"letter-template-{language}.docx")
        framed = []
        for paragraph in body.iter(f"{W}p"):
            frame = paragraph.find(f"{W}pPr/{W}framePr")
            if frame is not None:
                fields = [f.get(f"{W}instr").split()[1] for f in paragraph.iter(f"{W}fldSimple")]
                framed += fields
                assert frame.get(f"{W}y") == str(round(ADDRESS_TOP * 20))  # twips from the top
                assert frame.get(f"{W}x") == str(round(ADDRESS_LEFT * 20))
        assert framed == [
            "address_name",
            "address_line_1",
            "address_line_2",
            "city",
            "state",
            "zip",
        ]
        assert date in "".join(body.itertext())


# The order Word requires for a paragraph's properties (ECMA-376, CT_PPr): out of
# order, Word reports the file as damaged and offers to repair it.
PPR_ORDER = [
    "pStyle",
    "keepNext",
    "keepLines",
    "pageBreakBefore",
    "framePr",
    "widowControl",
    "numPr",
    "suppressLineNumbers",
    "pBdr",
    "shd",
    "tabs",
    "suppressAutoHyphens",
    "kinsoku",
    "wordWrap",
    "overflowPunct",
    "topLinePunct",
    "autoSpaceDE",
    "autoSpaceDN",
    "bidi",
    "adjustRightInd",
    "snapToGrid",
    "spacing",
    "ind",
    "contextualSpacing",
    "mirrorIndents",
    "suppressOverlap",
    "jc",
    "textDirection",
    "textAlignment",
    "textboxTightWrap",
    "outlineLvl",
    "divId",
    "cnfStyle",
    "rPr",
    "sectPr",
    "pPrChange",
]


def test_every_word_file_has_its_paragraph_properties_in_the_schemas_order(mailed):
    out, _ = mailed
    files = sorted(out.rglob("*.docx"))
    assert len(files) == 7  # motion, order, notice, two exhibits, two letter templates
    for path in files:
        for paragraph in docx_xml(path).iter(f"{W}pPr"):
            names = [child.tag.removeprefix(W) for child in paragraph]
            ranks = [PPR_ORDER.index(name) for name in names]
            assert ranks == sorted(ranks), (path.name, names)


def test_addresses_without_letters_to_address_are_refused(demo, tmp_path):
    path = tmp_path / "addresses.csv"
    path.write_text("subject_id,address_line_1,city,state,zip\n1,1 Main St,Town,CA,95814\n")
    result = invoke(
        "filings", "--run", demo, "--out", tmp_path / "f", "--addresses", path, "--no-letters"
    )
    assert result.exit_code == 2
    assert "--addresses: the letters are not written (--no-letters)" in squash(result.output)
    result = invoke(
        "filings", "--run", demo, "--out", tmp_path / "f", "--addresses", path, "--person", "1"
    )
    assert result.exit_code == 2 and "takes no --objections, --filed-on or --addresses" in (
        squash(result.output)
    )
    assert not (tmp_path / "f").exists()
