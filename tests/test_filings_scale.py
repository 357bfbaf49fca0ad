"""Filings at size, per courthouse, and from a reviewed run folder.

A synthetic run folder (run.json and determinations.parquet, the only files the
filings read) stands in for a large county: thousands of granted convictions,
split into exhibit files and paginated, every row printed exactly once.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import polars as pl
import pytest

from clearance.filings import blank_office, write_filings
from clearance.filings.cases import group_courts, read_run
from clearance.filings.office import office_from_mapping
from filings_support import (
    W,
    docx_table_rows,
    docx_xml,
    expected_keys,
    pdf_exhibit_keys,
    pdf_pages,
    pdf_row_numbers,
    read_csv,
    squash,
)

LONG_NAME = "WOLFESCHLEGELSTEINHAUSEN-BERGERDORFF,HUBERT BLAINE XAVIER"


def synthetic_run(folder: Path, n: int, *, courts=("CASC SACRAMENTO",), seed: int = 7) -> Path:
    """A run folder with `n` convictions: most granted, some challenged, a few for review."""
    import random

    rng = random.Random(seed)
    rows = []
    for i in range(n):
        person = i // 2  # two convictions a person
        kind = rng.random()
        determination, reason, citation = (
            ("dismiss", "baseline", "HS 11361.8(e), (f); HS 11362.1(a)")
            if kind < 0.55
            else ("reduce", "baseline", "HS 11361.8(e), (f); HS 11362.1(a)")
            if kind < 0.88
            else ("not_eligible", "two_priors", "HS 11358(d)(2), 11359(c)(2), 11360(a)(3)(B)")
            if kind < 0.98
            else ("review", "comment_charge", "HS 11361.9(b)")
        )
        section = rng.choice(["11357", "11358", "11359", "11360"])
        rows.append(
            {
                "subject_id": f"9{person:07d}",
                "cii_number": f"A{person:08d}",
                "name": LONG_NAME if person % 97 == 0 else f"PERSON{person:05d},SAM Q",
                "dob": f"19{50 + person % 40}-0{1 + person % 9}-1{person % 10}",
                "cnt_order": f"{1 + i % 2:03d}001001000",
                "case_number": f"{80 + i % 20}F{i:05d}",
                "court": courts[i % len(courts)],
                "county": "SACRAMENTO",
                "conviction_date": f"{1980 + i % 30}-0{1 + i % 9}-2{i % 8}",
                "offense": f"{section} HS-CANNABIS",
                "section": section,
                "subsection": None,
                "attempt": False,
                "severity": rng.choice(["F", "M"]),
                "determination": determination,
                "reason": reason,
                "rule": f"HS11361.8-{reason}",
                "citation": citation,
            }
        )
    folder.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(rows).write_parquet(folder / "determinations.parquet")
    run = {"as_of": "2020-07-01", "county": "SACRAMENTO", "policy": {"name": "Statute"}}
    (folder / "run.json").write_text(json.dumps(run))
    return folder


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("big")
    run = synthetic_run(base / "run", 3400)
    out = base / "filings"
    write_filings(run, out, part_size=1000, letters=False)
    return run, out


def test_thousands_of_cases_split_into_parts_each_row_printed_once(big):
    run, out = big
    frame = pl.read_parquet(run / "determinations.parquet")
    granted = frame.filter(pl.col("determination").is_in(["dismiss", "reduce"]))
    assert 2900 < granted.height < 3100
    manifest = json.loads((out / "filings.json").read_text())
    parts = manifest["courts"][0]["exhibit_a_parts"]
    assert parts == -(-granted.height // 1000)
    pdfs = [out / "sacramento" / f"exhibit-a-part-{i:02d}.pdf" for i in range(1, parts + 1)]
    assert pdf_exhibit_keys(pdfs) == expected_keys(granted)
    numbers = [n for path in pdfs for n in pdf_row_numbers(path)]
    assert numbers == list(range(1, granted.height + 1))
    docx_rows = []
    for i in range(1, parts + 1):
        rows = docx_table_rows(out / "sacramento" / f"exhibit-a-part-{i:02d}.docx")
        assert rows[0][:3] == ["No.", "Name", "Birth date"]
        docx_rows += rows[1:]
    assert [int(r[0].replace(",", "")) for r in docx_rows] == list(range(1, granted.height + 1))
    assert Counter(tuple(r[2:7]) for r in docx_rows) == expected_keys(granted)


def test_every_exhibit_page_repeats_the_header_and_is_full(big):
    _, out = big
    path = out / "sacramento" / "exhibit-a-part-02.pdf"
    pages = pdf_pages(path)
    assert len(pages) > 15
    per_page = []
    for number, page in enumerate(pages, start=1):
        assert "No. Name Birth date CII Case no. Convicted Section Level Relief" in page
        assert "part 2 of" in page and f"- {number} -" in page
        per_page.append(len([n for n in pdf_row_numbers_of(page)]))
    assert "Part 2 of 3: rows 1,001 to 2,000" in squash(pages[0])
    assert sum(per_page) == 1000
    assert max(per_page) <= 56  # 28 numbered lines, two table rows to a line
    assert min(per_page[1:-1]) >= 40  # pages are filled, even with wrapped names
    # the Word part repeats its header row on every printed page
    header_row = next(docx_xml(out / "sacramento" / "exhibit-a-part-02.docx").iter(f"{W}tr"))
    assert header_row.find(f"{W}trPr/{W}tblHeader") is not None


def pdf_row_numbers_of(page: str) -> list[int]:
    import re

    return [int(m.group(1).replace(",", "")) for m in re.finditer(r"^(\d[\d,]*) \S", page, re.M)]


def test_long_names_wrap_inside_their_cell(big):
    _, out = big
    parts = sorted((out / "sacramento").glob("exhibit-a-part-*.pdf"))
    text = "\n".join(page for path in parts for page in pdf_pages(path))
    assert LONG_NAME not in text  # too wide for its column: broken over lines ...
    assert "".join(LONG_NAME.split()) in "".join(text.split())  # ... and printed whole
    for line in text.split("\n"):
        assert not line.startswith("WOLFESCHLEGELSTEINHAUSEN-BERGERDORFF")


def test_doj_file_points_each_row_at_its_exhibit_part(big):
    _, out = big
    doj = read_csv(out / "doj-disposition-update.csv")
    assert doj["exhibit_row"].cast(int).to_list() == list(range(1, doj.height + 1))
    for row in doj.to_dicts():
        part = (int(row["exhibit_row"]) - 1) // 1000 + 1
        assert row["exhibit_file"] == f"sacramento/exhibit-a-part-{part:02d}.pdf"


def test_a_filing_per_courthouse_the_data_names(tmp_path):
    courts = ("CASC SACRAMENTO", "CAMC SACRAMENTO", "CAMC FOLSOM", "CASC ELK GROVE")
    run = synthetic_run(tmp_path / "run", 80, courts=courts)
    info, frame = read_run(run)
    split = group_courts(info, frame, blank_office())
    assert [c.slug for c in split] == ["sacramento", "sacramento-elk-grove", "sacramento-folsom"]
    assert split[0].data_names == ("CAMC SACRAMENTO", "CASC SACRAMENTO")
    assert split[2].display_name.endswith("County of Sacramento (Folsom)")
    total = sum(c.granted.height + c.challenged.height + c.awaiting.height for c in split)
    assert total == frame.height

    def office(courts_section: dict):
        return office_from_mapping(
            {
                "office": {"name": "O", "address": ["A"], "phone": "1"},
                "attorney": {"name": "N", "title": "T", "bar_number": "1"},
                "courts": courts_section,
            }
        )

    named = group_courts(info, frame, office({"names": {"camc folsom": "Folsom Branch"}}))
    assert [c.courthouse for c in named] == [None, "Elk Grove", "Folsom Branch"]
    together = group_courts(info, frame, office({"split_by_courthouse": False}))
    assert [c.slug for c in together] == ["sacramento"]
    out = tmp_path / "filings"
    write_filings(run, out, letters=False)
    caption = squash(pdf_pages(out / "sacramento-folsom" / "motion.pdf")[0])
    assert "IN AND FOR THE COUNTY OF SACRAMENTO FOLSOM" in caption


def test_a_reviewed_run_folder_files_the_reviewers_decisions(tmp_path):
    run = synthetic_run(tmp_path / "run", 400, seed=3)
    frame = pl.read_parquet(run / "determinations.parquet")
    review = frame.with_row_index("i").filter(pl.col("determination") == "review")["i"].to_list()
    assert len(review) >= 4
    granted_on_review, challenged_on_review = review[:2], review[2:4]
    decisions = [None] * frame.height
    notes = [None] * frame.height
    for i in granted_on_review:
        decisions[i] = "dismiss"
        notes[i] = "charge confirmed from the court file"
    for i in challenged_on_review:
        decisions[i] = "not_eligible"
        notes[i] = "court file shows a sale to a minor"
    decided = frame.with_columns(
        pl.Series("review_decision", decisions, dtype=pl.String),
        pl.Series("review_note", notes, dtype=pl.String),
        pl.Series("reviewed_by", ["attorney" if d else None for d in decisions], pl.String),
        pl.Series(
            "reviewed_at", ["2020-06-30T10:00:00" if d else None for d in decisions], pl.String
        ),
    ).with_columns(
        pl.coalesce(pl.col("review_decision"), pl.col("determination")).alias("determination")
    )
    decided.write_parquet(run / "determinations.parquet")
    out = tmp_path / "filings"
    result = write_filings(run, out)
    counts = result.manifest["convictions"]
    assert counts["awaiting_review"] == len(review) - 4
    assert result.manifest["run"]["reviewed"] is True

    exhibit_a = docx_table_rows(out / "sacramento" / "exhibit-a.docx")[1:]
    marked = [r for r in exhibit_a if r[8].endswith("†")]
    assert len(marked) == 2
    legend = squash(pdf_pages(out / "sacramento" / "exhibit-a.pdf")[0])
    assert "decided on review by the People" in legend
    exhibit_b = docx_table_rows(out / "sacramento" / "exhibit-b.docx")[1:]
    on_review = [r for r in exhibit_b if r[7].startswith("Decided on review")]
    assert [r[7] for r in on_review] == [
        "Decided on review by the People: court file shows a sale to a minor (HS 11361.9(c)(1))"
    ] * 2
    doj = read_csv(out / "doj-disposition-update.csv")
    assert (doj["decided_on_review"] == "true").sum() == 2
    awaiting = read_csv(out / "awaiting-review.csv")
    assert awaiting.height == len(review) - 4
    mailing = read_csv(out / "letters" / "mailing-list.csv")
    granted_people = decided.filter(pl.col("determination").is_in(["dismiss", "reduce"]))
    assert mailing.height == granted_people["subject_id"].n_unique()


def test_convictions_dated_after_the_cutoff_are_in_no_filing(tmp_path):
    """DOJ listed convictions up to the cut-off: later ones are counted, never filed.

    Here the late rows are an after_prop64 challenge, a review case and one a reviewer
    granted, all in a courthouse with nothing else: it gets no filing at all.
    """
    run = synthetic_run(tmp_path / "run", 60, seed=5)
    frame = pl.read_parquet(run / "determinations.parquet")
    late = {
        0: ("2016-11-09", "not_eligible", "after_prop64", None),
        1: ("2018-03-01", "not_eligible", "after_prop64", None),
        2: ("2017-01-05", "review", "unparsed_charge", None),
        3: ("2019-02-02", "dismiss", "unparsed_charge", "dismiss"),
    }
    rows = frame.to_dicts()
    for i, (date, determination, reason, decision) in late.items():
        rows[i].update(conviction_date=date, determination=determination, reason=reason)
        rows[i]["court"] = "CAMC FOLSOM"
        rows[i]["review_decision"] = decision
    rows[4]["conviction_date"] = "2016-11-08"  # the cut-off itself is on DOJ's list
    for row in rows:
        row.setdefault("review_decision", None)
    pl.DataFrame(rows).write_parquet(run / "determinations.parquet")
    out = tmp_path / "filings"
    result = write_filings(run, out, letters=False)
    counts = result.manifest["convictions"]
    assert counts["after_cutoff"] == 4 and counts["after_cutoff_granted"] == 1
    assert counts["conviction_cutoff"] == "2016-11-08"
    listed = frame.height - 4
    assert counts["granted"] + counts["challenged"] + counts["awaiting_review"] == listed
    assert [c["folder"] for c in result.manifest["courts"]] == ["sacramento"]
    assert not (out / "sacramento-folsom").exists()
    assert any("1 conviction(s) dated after 2016-11-08" in w for w in result.warnings)
    keys = {(rows[i]["subject_id"], rows[i]["cnt_order"]) for i in late}
    for name in ("doj-disposition-update.csv", "awaiting-review.csv"):
        table = read_csv(out / name)
        assert not set(zip(table["subject_id"], table["cnt_order"], strict=True)) & keys
        assert (table["conviction_date"] <= "2016-11-08").all()
    printed = docx_table_rows(out / "sacramento" / "exhibit-a.docx")[1:]
    printed += docx_table_rows(out / "sacramento" / "exhibit-b.docx")[1:]
    assert "11/08/2016" in {r[5] for r in printed}
    assert not {"11/09/2016", "03/01/2018", "01/05/2017", "02/02/2019"} & {r[5] for r in printed}
