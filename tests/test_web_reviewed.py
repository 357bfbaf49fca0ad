"""The reviewed run folder: a run folder with the attorneys' decisions applied.

What a reader of the downloads relies on: a decided conviction carries the
reviewer's determination, reason ``reviewed``, the relief's statute (or the note for
not eligible) and who decided when; nothing else changes; the figures are the run's
own summary code applied to the reviewed table; the same decisions give the same
bytes; a decision that names no conviction of the run is refused.
"""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest

from clearance.cli import DEMO_AS_OF
from clearance.explain import explain
from clearance.policy import load_policy
from clearance.run import run
from clearance.sample import SAMPLE_COUNTY, sample_path
from clearance.web.reviewed import (
    RELIEF_CITATION,
    REVIEW_COLUMNS,
    ReviewDecision,
    ReviewedRunError,
    write_reviewed_run,
)

WHEN = dt.datetime(2020, 6, 30, 9, 15)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("reviewed") / "run"
    run(
        [sample_path()],
        county=SAMPLE_COUNTY,
        policy=load_policy("statute"),
        as_of=dt.date.fromisoformat(DEMO_AS_OF),
        out=out,
    )
    return out


def decisions_for(run_dir) -> list[ReviewDecision]:
    table = pl.read_parquet(run_dir / "determinations.parquet")
    review = table.filter(pl.col("determination") == "review").row(0, named=True)
    dismissed = table.filter(pl.col("determination") == "dismiss").row(0, named=True)
    return [
        ReviewDecision(
            review["subject_id"], review["cnt_order"], "reduce", "docket: HS 11359", "atty", WHEN
        ),
        ReviewDecision(
            dismissed["subject_id"],
            dismissed["cnt_order"],
            "not_eligible",
            "out-of-state super strike in 1999",
            "atty",
            WHEN,
        ),
    ]


def test_decided_rows_carry_the_decision_and_nothing_else_changes(run_dir, tmp_path):
    decisions = decisions_for(run_dir)
    write_reviewed_run(run_dir, decisions, tmp_path / "reviewed", last_audit_id=2)
    before = pl.read_parquet(run_dir / "determinations.parquet")
    after = pl.read_parquet(tmp_path / "reviewed" / "determinations.parquet")
    assert after.height == before.height
    assert after.columns[18:22] == list(REVIEW_COLUMNS)
    keyed = {(r["subject_id"], r["cnt_order"]): r for r in after.iter_rows(named=True)}
    reduced, refused = (keyed[(d.subject_id, d.cnt_order)] for d in decisions)
    assert (reduced["determination"], reduced["reason"], reduced["citation"]) == (
        "reduce",
        "reviewed",
        RELIEF_CITATION,
    )
    assert (reduced["review_note"], reduced["reviewed_by"]) == ("docket: HS 11359", "atty")
    assert reduced["reviewed_at"] == "2020-06-30T09:15:00"
    assert (refused["determination"], refused["citation"]) == (
        "not_eligible",
        "out-of-state super strike in 1999",
    )
    untouched = after.filter(pl.col("review_decision").is_null()).drop(REVIEW_COLUMNS)
    assert untouched.equals(
        before.join(
            pl.DataFrame(
                {"subject_id": [d.subject_id for d in decisions],
                 "cnt_order": [d.cnt_order for d in decisions]}
            ),
            on=["subject_id", "cnt_order"],
            how="anti",
            maintain_order="left",
        )
    )  # fmt: skip
    csv = pl.read_csv(tmp_path / "reviewed" / "determinations.csv", infer_schema=False)
    assert csv.filter(pl.col("review_decision").is_not_null()).height == 2
    provenance = json.loads((tmp_path / "reviewed" / "run.json").read_text())
    assert provenance["review"]["last_audit_id"] == 2
    assert provenance["as_of"] == DEMO_AS_OF


def test_figures_are_recomputed_by_the_run_summary(run_dir, tmp_path):
    original = json.loads((run_dir / "summary.json").read_text())
    unchanged = write_reviewed_run(run_dir, [], tmp_path / "none")
    unchanged.pop("review")
    assert json.loads(json.dumps(unchanged)) == original
    summary = write_reviewed_run(run_dir, decisions_for(run_dir), tmp_path / "two")
    by = summary["by_determination"]
    assert by["review"] == original["by_determination"]["review"] - 1
    assert by["reduce"] == original["by_determination"]["reduce"] + 1
    assert by["not_eligible"] == original["by_determination"]["not_eligible"] + 1
    assert by["dismiss"] == original["by_determination"]["dismiss"] - 1
    assert summary["by_reason"]["reviewed"] == 2
    assert summary["review"]["by_decision"] == {"dismiss": 0, "reduce": 1, "not_eligible": 1}
    written = json.loads((tmp_path / "two" / "summary.json").read_text())
    assert written["by_determination"] == by


def test_the_same_decisions_give_the_same_bytes(run_dir, tmp_path):
    decisions = decisions_for(run_dir)
    write_reviewed_run(run_dir, decisions, tmp_path / "a")
    write_reviewed_run(run_dir, list(reversed(decisions)), tmp_path / "b")
    for name in ("determinations.csv", "determinations.parquet", "determinations.xlsx",
                 "summary.json", "run.json"):  # fmt: skip
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_the_reviewed_folder_is_a_run_folder(run_dir, tmp_path):
    decisions = decisions_for(run_dir)
    write_reviewed_run(run_dir, decisions, tmp_path / "reviewed")
    explained = explain(tmp_path / "reviewed", decisions[0].subject_id)
    decided = next(
        d for d in explained.decisions if d.conviction["cnt_order"] == decisions[0].cnt_order
    )
    assert decided.conviction["determination"] == "reduce"
    assert decided.conviction["reason"] == "reviewed"


def test_decisions_that_do_not_fit_the_run_are_refused(run_dir, tmp_path):
    stray = ReviewDecision("00000000", "001001001000", "dismiss", "n", "atty", WHEN)
    with pytest.raises(ReviewedRunError, match="not in the run"):
        write_reviewed_run(run_dir, [stray], tmp_path / "x")
    good = decisions_for(run_dir)[0]
    with pytest.raises(ReviewedRunError, match="unknown review decision"):
        write_reviewed_run(
            run_dir, [ReviewDecision(good.subject_id, good.cnt_order, "pardon", "n", "a", WHEN)],
            tmp_path / "y",
        )  # fmt: skip
    with pytest.raises(ReviewedRunError, match="two decisions"):
        write_reviewed_run(run_dir, [good, good], tmp_path / "z")
    assert not any(tmp_path.iterdir())  # nothing half-written


def test_the_reviewed_workbook_shows_the_decision_note_and_date(run_dir, tmp_path):
    import fastexcel

    from clearance.law import load_rulepack

    decisions = decisions_for(run_dir)
    write_reviewed_run(run_dir, decisions, tmp_path / "reviewed")
    book = fastexcel.read_excel(tmp_path / "reviewed" / "determinations.xlsx")
    assert book.sheet_names == ["Determinations", "Summary", "Columns"]
    sheet = book.load_sheet(0).to_polars()
    assert sheet.schema["Reviewed on (UTC date)"] == pl.Datetime("ms")  # a real date
    decided = sheet.filter(pl.col("Reviewer's decision").is_not_null())
    assert decided.height == len(decisions)
    by_key = {(d.subject_id, d.cnt_order): d for d in decisions}
    for row in decided.iter_rows(named=True):
        d = by_key[(row["Subject ID"], row["Count (DOJ order)"])]
        assert row["Reviewer's decision"] == dict(load_rulepack().determination_labels)[d.decision]
        assert row["Reviewer's note"] == d.note
        assert row["Reviewed on (UTC date)"].date() == d.reviewed_at.date()
    figures = book.load_sheet("Summary", header_row=None).to_polars()
    assert "Records by determination" in figures[:, 0].to_list()
