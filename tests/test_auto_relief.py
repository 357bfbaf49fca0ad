"""California automatic relief end to end: the run folder, the worklist, explain, the pack
shown, the policy file, and objections filed (issue 17, "Done when").

The rules themselves are checked case by case in test_auto_relief_cases.py; here a
small extract of people whose outcomes are worked out by hand goes through the
command line as a user runs it.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from clearance.cli import app
from conftest import header, line

AS_OF = "2026-07-01"


def _row(sid, cyc, stp, cnt, date, kind, offense, disp="", sev="", part=None, ofn="", **more):
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
        CNT_ORDER=f"{cyc:03d}{stp:03d}{cnt:03d}000",
        OFFENSE_DESCR=offense,
        DISP_DESCR=disp,
        CONV_STAT_DESCR=sev if court else "",
        OFFENSE_TOC=sev[:1],
        OFN=ofn,
        DISP_ORDER="1",
    )
    fields.update(more)
    if part:
        fields.update(
            SENT_ORDER="01", SENT_LOC_DESCR=part[0], SENT_LENGTH=part[1], SENT_TIME_CODE=part[2]
        )
    return line(fields)


# Worked out by hand for the as-of date 2026-07-01 (ca-automatic-relief.md):
PEOPLE = [
    # 100: misdemeanor, 3 years' probation from 2015-06-01: relief on path I-a from 2018-06-01.
    _row(
        "100",
        1,
        1,
        1,
        "20150601",
        "court",
        "484 PC-PETTY THEFT",
        "CONVICTED-PROBATION",
        "MISDEMEANOR",
        ("PROBATION", "3", "Y"),
        ofn="15M001",
    ),
    # 200: felony, 2 years' prison from 2019-03-01: done 2021-03-01, + 3 years' supervision
    # = 2024-03-01, + 4 years = 2028-03-01: upcoming, outside the 180-day window.
    _row(
        "200",
        1,
        1,
        1,
        "20190301",
        "court",
        "10851 VC-TAKE VEHICLE",
        "CONVICTED-PRISON",
        "FELONY",
        ("PRISON", "2", "Y"),
        ofn="19F002",
    ),
    # 300: felony, 2 years' jail from 2018-08-15: done 2020-08-15 (a jail term has no
    # parole after it), + 4 years = 2024-08-15, floored to path II's 2024-10-01: relief.
    _row(
        "300",
        1,
        1,
        1,
        "20180815",
        "court",
        "496(A) PC-RECEIVE STOLEN PROPERTY",
        "CONVICTED-JAIL",
        "FELONY",
        ("JAIL", "2", "Y"),
        ofn="18F003",
    ),
    # 400: felony, 1 year's jail from 2021-09-01: done 2022-09-01, + 4 years = 2026-09-01:
    # upcoming within the window; objection deadline 2026-06-03 (90 days before).
    _row(
        "400",
        1,
        1,
        1,
        "20210901",
        "court",
        "666 PC-PETTY THEFT WITH PRIOR",
        "CONVICTED-JAIL",
        "FELONY",
        ("JAIL", "1", "Y"),
        ofn="21F004",
    ),
    # 500: felony, 8 months' jail from 2022-01-01: done 2022-09-01, + 4 years = 2026-09-01
    # too: the worklist orders the two by deadline, then by person.
    _row(
        "500",
        1,
        1,
        1,
        "20220101",
        "court",
        "530.5 PC-IDENTITY THEFT",
        "CONVICTED-JAIL",
        "FELONY",
        ("JAIL", "8", "M"),
        ofn="22F005",
    ),
    # 600: robbery, a serious and violent felony: not eligible.
    _row(
        "600",
        1,
        1,
        1,
        "20100101",
        "court",
        "211 PC-ROBBERY",
        "CONVICTED-PRISON",
        "FELONY",
        ("PRISON", "3", "Y"),
        ofn="10F006",
    ),
    # 700: misdemeanor arrest, prosecutor rejected: path B, relief from 2024-02-01.
    _row(
        "700",
        1,
        1,
        1,
        "20230201",
        "arrest",
        "647(F) PC-DRUNK IN PUBLIC",
        "PROS REJ-INSUFFICIENT EVIDENCE",
        "MISDEMEANOR",
    ),
    # 800: felony arrest, charges filed and dismissed: not eligible, 851.91 open.
    _row("800", 1, 1, 1, "20200101", "arrest", "459 PC-BURGLARY", "", "FELONY"),
    _row(
        "800", 1, 2, 1, "20200301", "court", "459 PC-BURGLARY", "DISMISSED", "FELONY", ofn="20F008"
    ),
]


@pytest.fixture(scope="module")
def extract(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("auto") / "extract.dat"
    path.write_text(header() + "\n" + "\n".join(PEOPLE) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def run_dir(extract) -> Path:
    out = extract.parent / "out"
    result = CliRunner().invoke(
        app,
        [
            "run",
            str(extract),
            "--law",
            "ca-auto-relief",
            "--county",
            "SACRAMENTO",
            "--as-of",
            AS_OF,
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "upcoming.csv" in result.output
    return out


def _rows(run_dir: Path) -> dict[str, dict]:
    with (run_dir / "determinations.csv").open(encoding="utf-8") as f:
        return {r["subject_id"]: r for r in csv.DictReader(f)}


def test_the_run_decides_convictions_and_arrests_with_paths_and_deadlines(run_dir):
    rows = _rows(run_dir)
    got = {
        s: (
            r["kind"],
            r["determination"],
            r["reason"],
            r["path"],
            r["eligible_on"],
            r["objection_deadline"],
            r["petitions"],
        )
        for s, r in rows.items()
    }
    assert got == {
        "100": (
            "conviction",
            "relief",
            "probation_completed",
            "I-a",
            "2018-06-01",
            "2018-03-03",
            "",
        ),
        "200": ("conviction", "upcoming", "felony_completed", "II", "2028-03-01", "2027-12-02", ""),
        "300": ("conviction", "relief", "felony_completed", "II", "2024-10-01", "2024-07-03", ""),
        "400": ("conviction", "upcoming", "felony_completed", "II", "2026-09-01", "2026-06-03", ""),
        "500": ("conviction", "upcoming", "felony_completed", "II", "2026-09-01", "2026-06-03", ""),
        "600": ("conviction", "not_eligible", "serious_violent_felony", "", "", "", "1203.41"),
        "700": ("arrest", "relief", "misdemeanor_no_charges", "B", "2024-02-01", "", ""),
        "800": ("arrest", "not_eligible", "charges_filed", "", "", "", "851.91"),
    }
    assert rows["700"]["cyc_order"] == "001" and rows["700"]["stp_order"] == "001"
    assert all(r["rule"] and r["citation"] for r in rows.values())


def test_upcoming_is_the_worklist_of_the_next_180_days_by_objection_deadline(run_dir):
    with (run_dir / "upcoming.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    # 200 is due 2028-03-01, beyond the window; 400 and 500 on 2026-09-01.
    assert [r["subject_id"] for r in rows] == ["400", "500"]
    assert [r["objection_deadline"] for r in rows] == ["2026-06-03", "2026-06-03"]
    assert rows[0]["days_to_deadline"] == "-28"  # already past on the as-of date


def test_summary_counts_kinds_paths_and_people(run_dir):
    s = json.loads((run_dir / "summary.json").read_text())
    assert s["by_determination"] == {"relief": 3, "upcoming": 3, "not_eligible": 2, "review": 0}
    assert s["by_kind"]["arrest"] == {
        "relief": 1,
        "upcoming": 0,
        "not_eligible": 1,
        "review": 0,
        "total": 2,
    }
    assert s["by_path"]["conviction II"] == {"relief": 1, "upcoming": 3}
    assert s["impact"]["people_clean_slate"] == 3  # 100, 300, 700
    assert s["impact"]["people_stuck"] == 0
    assert s["demographics"]["everyone"]["race"] == {"Latino": 8}
    assert s["rows"]["reconciled"]


def test_the_impact_report_shows_kinds_paths_and_people(run_dir):
    page = (run_dir / "report.html").read_text()
    assert "Automatic relief in Sacramento County" in page
    assert 'data-path="[&#34;summary&#34;, &#34;by_path&#34;, &#34;conviction II&#34;, ' in page
    assert "Clean slate" in page and "People relieved by race or ethnicity" in page
    assert (run_dir / "report.pdf").read_bytes().startswith(b"%PDF")


def test_explain_walks_a_conviction_and_an_arrest_with_citations_and_the_statute(run_dir):
    runner = CliRunner()
    conviction = runner.invoke(app, ["explain", "--run", str(run_dir), "400"])
    assert conviction.exit_code == 0, conviction.output
    text = " ".join(conviction.output.split())
    assert "felony_completed" in text and "PC 1203.425(a)(1)(B)(iv)(II)" in text
    assert "a period of four years has elapsed" in text  # the statute quoted
    arrest = runner.invoke(app, ["explain", "--run", str(run_dir), "700"])
    assert arrest.exit_code == 0, arrest.output
    text = " ".join(arrest.output.split())
    assert "Arrest 001/001" in text and "PC 851.93(a)(2)(B)" in text
    assert "at least one calendar year has elapsed since the date of the arrest" in text
    # An arrest is walked through the arrest rules only.
    assert "probation_completed" not in text


def test_laws_show_prints_every_rule_with_citation_and_statute():
    result = CliRunner().invoke(app, ["laws", "show", "ca-auto-relief"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    for rule in (
        "PC1203.425-probation_completed",
        "PC1203.425-felony_completed",
        "PC851.93-diversion_completed",
        "PC851.93-felony_no_charges",
    ):
        assert rule in text
    assert "Conviction rows:" in text and "Arrest rows:" in text
    assert "“(D) The person successfully completed any of the following" in text


def test_a_policy_file_changes_a_setting_and_is_checked(extract, tmp_path):
    policy = tmp_path / "office.yaml"
    policy.write_text(
        "law: ca-auto-relief\nname: Longer supervision\npost_prison_supervision_years: 5\n"
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        [
            "run",
            str(extract),
            "--law",
            "ca-auto-relief",
            "--county",
            "SACRAMENTO",
            "--as-of",
            AS_OF,
            "--policy",
            str(policy),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    # 200: 2021-03-01 + 5 years' supervision + 4 years.
    assert _rows(out)["200"]["eligible_on"] == "2030-03-01"
    recorded = json.loads((out / "run.json").read_text())["policy"]
    assert recorded["post_prison_supervision_years"] == 5 and recorded["pending_years"] is None

    # The policy names its pack: --law may be left out.
    again = CliRunner().invoke(
        app,
        [
            "run",
            str(extract),
            "--county",
            "SACRAMENTO",
            "--as-of",
            AS_OF,
            "--policy",
            str(policy),
            "--out",
            str(tmp_path / "o2"),
        ],
    )
    assert again.exit_code == 0, again.output
    assert _rows(tmp_path / "o2")["200"]["eligible_on"] == "2030-03-01"

    policy.write_text("law: ca-auto-relief\nname: x\nobjection_days: ninety\n")
    bad = CliRunner().invoke(
        app,
        [
            "run",
            str(extract),
            "--law",
            "ca-auto-relief",
            "--county",
            "SACRAMENTO",
            "--as-of",
            AS_OF,
            "--policy",
            str(policy),
            "--out",
            str(tmp_path / "bad"),
        ],
    )
    assert bad.exit_code == 2
    assert "objection_days" in bad.output and "whole number of days" in bad.output


def test_a_petition_is_drafted_for_a_marked_conviction_and_none_for_an_unmarked(run_dir, tmp_path):
    marked = tmp_path / "objections.csv"
    marked.write_text(
        "subject_id,cnt_order,grounds\n"
        '200,001001001000,"Threats against the victim since release."\n'
    )
    out = tmp_path / "filings"
    result = CliRunner().invoke(
        app, ["filings", "--run", str(run_dir), "--out", str(out), "--objections", str(marked)]
    )
    assert result.exit_code == 0, result.output
    petitions = sorted(p.name for p in out.rglob("petition-*"))
    assert petitions == ["petition-200-001001001000.docx", "petition-200-001001001000.pdf"]
    with (out / "not-objected.csv").open(encoding="utf-8") as f:
        listed = sorted(r["subject_id"] for r in csv.DictReader(f))
    assert listed == ["100", "300", "400", "500"]  # every other conviction due or upcoming
    manifest = json.loads((out / "filings.json").read_text())
    assert manifest["objections"]["marked"] == 1 and manifest["objections"]["late"] == 0
    from docx import Document

    words = " ".join(
        p.text
        for p in Document(out / "casc-sacramento" / "petition-200-001001001000.docx").paragraphs
    )
    assert "substantial threat to the public safety" in words
    assert "Threats against the victim since release." in words


def test_a_marked_record_past_its_deadline_warns_and_a_wrong_key_is_refused(run_dir, tmp_path):
    marked = tmp_path / "objections.csv"
    marked.write_text("subject_id,cnt_order,grounds\n400,001001001000,Recent threats.\n")
    result = CliRunner().invoke(
        app,
        [
            "filings",
            "--run",
            str(run_dir),
            "--out",
            str(tmp_path / "f1"),
            "--objections",
            str(marked),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "objection deadline 2026-06-03 is before the filing date 2026-07-01" in " ".join(
        result.output.split()
    )
    marked.write_text("subject_id,cnt_order,grounds\n600,001001001000,Serious.\n")
    refused = CliRunner().invoke(
        app,
        [
            "filings",
            "--run",
            str(run_dir),
            "--out",
            str(tmp_path / "f2"),
            "--objections",
            str(marked),
        ],
    )
    assert refused.exit_code == 2
    text = " ".join(refused.output.split())
    assert "objections.csv: line 2" in text and "not_eligible" in text
    assert not (tmp_path / "f2").exists()


def test_county_all_decides_every_county(tmp_path):
    """--county ALL: a statewide run decides every county's records (the spec's scope)."""
    lines = [
        *PEOPLE[:2],
        _row(
            "900",
            1,
            1,
            1,
            "20150601",
            "court",
            "484 PC-PETTY THEFT",
            "CONVICTED-JAIL",
            "MISDEMEANOR",
            STP_ORI_CNTY_NAME="FRESNO",
            STP_ORI_DESCR="CASC FRESNO",
        ),
    ]
    extract = tmp_path / "state.dat"
    extract.write_text(header() + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    for county, expected in (("ALL", {"100", "200", "900"}), ("FRESNO", {"900"})):
        out = tmp_path / county
        result = CliRunner().invoke(
            app,
            [
                "run",
                str(extract),
                "--law",
                "ca-auto-relief",
                "--county",
                county,
                "--as-of",
                AS_OF,
                "--out",
                str(out),
            ],
        )
        assert result.exit_code == 0, result.output
        assert set(_rows(out)) == expected


def test_what_a_count_s_lines_record_is_the_same_worked_out_by_the_model_or_the_rules(
    tmp_path: Path,
):
    """A run has the model work out what ca-auto-relief reads of every line of a count
    (its dispositions' classes, its sentence parts by place) with the counts; a model
    built without that gives its lines, and the rules work it out from them. Both give
    the same determinations, and the same model counts for history.parquet."""
    import datetime as dt

    import polars as pl

    from clearance.extract import keys
    from clearance.extract import model as model_
    from clearance.extract.reader import read_extracts
    from clearance.law import load_pack
    from clearance.policy import load_policy
    from clearance.rules.engine import count_lines, determine
    from clearance.synth import generate

    extract = tmp_path / "x.dat"
    generate(extract, subjects=400, seed=5)
    rows = read_extracts([extract], tmp_path / "work").rows
    law = load_pack("ca-auto-relief")
    policy = load_policy("statute", law)
    read = count_lines(law)
    assert read is not None and count_lines(load_pack("prop64")) is None
    decided, counted = [], []
    with keys.pinned():
        for given in (read, None):
            model = model_.build(rows, [extract.name], count_lines=given)
            counts, people, lines = pl.collect_all([model.counts, model.people, model.lines])
            counted.append(counts)
            in_memory = model_.Model(people.lazy(), model.events, counts.lazy(), lines.lazy())
            query = determine(in_memory, policy, "SACRAMENTO", dt.date(2026, 7, 1), law)
            decided.append(query.collect())
    summarised, plain = counted
    assert set(read.columns) <= set(summarised.columns)
    assert not set(read.columns) & set(plain.columns)
    assert summarised.drop(read.columns).equals(plain)
    assert decided[0].height > 100
    assert decided[0].equals(decided[1])


@settings(max_examples=150, deadline=None)
@given(
    st.dates(),
    st.lists(st.one_of(st.none(), st.integers(-40_000, 40_000)), max_size=30),
    st.lists(st.one_of(st.none(), st.integers(-200_000, 200_000)), max_size=30),
)
def test_the_published_dates_are_the_iso_text_of_each_date(start, near, far):
    """The table's date columns are written out from one list of days (each day
    once) when the span is short, cast one by one when it is long: the same text."""
    import datetime as dt

    import polars as pl

    from clearance.outputs.auto_relief import _iso_all

    def days(offsets):
        out = []
        for n in offsets:
            try:
                out.append(None if n is None else start + dt.timedelta(days=n))
            except OverflowError:
                out.append(None)
        return out

    size = max(len(near), len(far))
    frame = pl.DataFrame(
        {
            "a": pl.Series(days(near + [None] * (size - len(near))), dtype=pl.Date),
            "b": pl.Series(days(far + [None] * (size - len(far))), dtype=pl.Date),
        }
    )
    for columns in (["a"], ["a", "b"]):
        got = frame.select(**_iso_all(frame, columns))
        assert got.equals(frame.select(pl.col(columns).cast(pl.String)))
        assert got["a"].to_list() == [None if d is None else d.isoformat() for d in frame["a"]]


def test_dates_past_the_year_9999_are_published_as_polars_writes_them():
    """A hostile extract can give a date Polars holds and Python cannot (a sentence
    ending in the year 11010): the table writes it as a cast does, and does not fail."""
    import polars as pl

    from clearance.outputs.auto_relief import _iso_all

    days = pl.Series("a", [3_300_000, None, 3_300_010, 18_000], dtype=pl.Int32)
    for values in (days.head(3), days):  # a short span (looked up) and a long one (cast)
        frame = values.cast(pl.Date).to_frame()
        got = frame.select(**_iso_all(frame, ["a"]))
        assert got.equals(frame.select(pl.col("a").cast(pl.String)))
        assert got["a"][0].lstrip("+").startswith("1")  # the year 11,000 and some
