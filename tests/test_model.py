"""The person/event/count model (docs/model.md), checked on small histories."""

from __future__ import annotations

import datetime as dt

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from clearance.extract import model as model_
from clearance.extract.reader import read_extracts, staged_schema
from conftest import header, line


def build(tmp_path, *files: list[str]) -> model_.Model:
    paths = []
    for i, lines in enumerate(files):
        path = tmp_path / f"f{i}.dat"
        path.write_text("\n".join(lines) + "\n")
        paths.append(path)
    result = read_extracts(paths, tmp_path / "work")
    return model_.build(result.rows, [f.name for f in result.files])


def counts(model: model_.Model) -> pl.DataFrame:
    return model.counts.collect()


def part(loc: str, length: str, unit: str, **values: str) -> str:
    return line(SENT_LOC_DESCR=loc, SENT_LENGTH=length, SENT_TIME_CODE=unit, **values)


def test_sentence_parts_on_non_adjacent_rows_are_summed(tmp_path):
    other = line(CNT_ORDER="001001002000", OFFENSE_DESCR="459 PC-BURGLARY")
    model = build(
        tmp_path,
        [part("JAIL", "90", "D"), other, part("PROBATION", "3", "Y"), part("FINE", "", "")],
    )
    row = counts(model).filter(pl.col("cnt_order") == "001001001000").row(0, named=True)
    assert (row["sent_years"], row["sent_months"], row["sent_days"]) == (3, 0, 90)
    assert row["n_rows"] == 3
    # 2010-01-05 + 3 years + 90 days
    assert row["sentence_end"] == dt.date(2013, 4, 5)


def test_sentence_end_adds_years_then_months_then_days(tmp_path):
    model = build(
        tmp_path,
        [
            part("JAIL", "1", "Y", STP_EVENT_DATE="20160229"),
            part("PROBATION", "1", "M", STP_EVENT_DATE="20160229"),
        ],
    )
    assert counts(model)["sentence_end"].to_list() == [dt.date(2017, 3, 28)]


def test_unreadable_sentence_part_leaves_the_end_unknown(tmp_path):
    model = build(tmp_path, [part("PRISON", "LIFE", "Y"), part("PROBATION", "3", "Y")])
    row = counts(model).row(0, named=True)
    assert row["sent_unknown"] is True and row["sentence_end"] is None


def test_a_history_read_twice_is_counted_once(tmp_path):
    history = [part("JAIL", "90", "D"), part("PROBATION", "3", "Y")]
    model = build(tmp_path, history, [header(), *history])
    rows = counts(model)
    assert rows.height == 1
    row = rows.row(0, named=True)
    assert (row["sent_years"], row["sent_days"]) == (3, 90)  # not served twice
    assert (row["source_file"], row["line"]) == ("f0.dat", 1)  # the first file, first line


def test_a_count_takes_its_attributes_from_its_first_line(tmp_path):
    model = build(
        tmp_path,
        [
            line(OFN="FIRST", SENT_LENGTH="1", SENT_TIME_CODE="Y"),
            line(OFN="LATER", SENT_LENGTH="2", SENT_TIME_CODE="Y"),
        ],
    )
    assert counts(model)["case_number"].to_list() == ["FIRST"]


def test_invalid_dates_stay_invalid(tmp_path):
    model = build(
        tmp_path,
        [
            line(STP_EVENT_DATE="19800000", CNT_ORDER="001001001000"),
            line(STP_EVENT_DATE="20190231", CNT_ORDER="001001002000"),
            line(STP_EVENT_DATE="", CNT_ORDER="001001003000"),
        ],
    )
    rows = counts(model)
    assert rows["event_date"].null_count() == 3
    assert rows["event_date_raw"].to_list() == ["19800000", "20190231", None]
    assert rows["sentence_end"].null_count() == 3


def test_people_take_the_first_value_present_and_record_death_and_registration(tmp_path):
    model = build(
        tmp_path,
        [
            line(PRI_NAME="", PRI_DOB="19600230", RACE_DESCR="HISPANIC"),
            line(
                CNT_ORDER="002001001000",
                STP_TYPE_DESCR="REGISTRATION",
                STP_EVENT_DATE="19990101",
                OFFENSE_DESCR="290 PC-REGISTRATION OF SEX OFFENDER",
                DISP_DESCR="",
                PRI_NAME="",
            ),
            line(CNT_ORDER="003001001000", STP_TYPE_DESCR="DECEASED", PRI_NAME="ROE,ANN"),
        ],
    )
    person = model.people.collect().row(0, named=True)
    assert person["name"] == "ROE,ANN"
    assert person["dob_raw"] == "19600230" and person["dob"] is None  # impossible date
    assert person["race"] == "Latino"
    assert person["deceased"] is True
    assert person["registered_290"] is True
    assert person["first_registration_date"] == dt.date(1999, 1, 1)


def test_events_are_keyed_by_cycle_and_step(tmp_path):
    model = build(
        tmp_path,
        [
            line(CNT_ORDER="001001001000"),
            line(CNT_ORDER="001001002000"),
            line(CNT_ORDER="001002001000", STP_TYPE_DESCR="ARREST/DETAINED/CITED"),
        ],
    )
    events = model.events.collect()
    assert events["event_key"].to_list() == ["001001", "001002"]
    assert counts(model)["event_key"].to_list() == ["001001", "001001", "001002"]


def test_convictions_and_cannabis_sections(tmp_path):
    model = build(
        tmp_path,
        [
            line(CNT_ORDER="001001001000", OFFENSE_DESCR="664/11359 HS-ATT POSS FOR SALE"),
            line(CNT_ORDER="001001002000", OFFENSE_DESCR="11359 PC-POSS MARIJ FOR SALE"),
            line(CNT_ORDER="001001003000", OFFENSE_DESCR="211357 HS-OTHER", DISP_DESCR="DISMISSED"),
        ],
    )
    rows = counts(model).select("cannabis_section", "attempt", "code", "convicted").rows()
    assert rows == [
        ("11359", True, "HS", True),
        ("11359", False, "HS", True),
        (None, False, "HS", False),
    ]


# Rows in input order (as every local group comes) may be modelled the cheaper way
# (`in_order=True`); it must give exactly what the order-independent way gives.
_VALUES = {
    "cnt_order": st.sampled_from(["001001001000", "001001002000", "002001001000", "bad"]),
    "name": st.sampled_from([None, "DOE,JOHN", "ROE,ANN"]),
    "dob_raw": st.sampled_from([None, "19800101", "19800000"]),
    "event_date_raw": st.sampled_from([None, "20100105", "20160229"]),
    "event_type": st.sampled_from([None, "COURT ACTION", "REGISTRATION", "DECEASED"]),
    "offense_raw": st.sampled_from([None, "11359 HS-POSS FOR SALE", "290 PC-REGISTRATION"]),
    "disposition": st.sampled_from([None, "CONVICTED-JAIL", "DISMISSED"]),
    "sent_loc": st.sampled_from([None, "JAIL", "PROBATION"]),
    "sent_length_raw": st.sampled_from([None, "90", "3", "LIFE"]),
    "sent_time_code": st.sampled_from([None, "D", "Y", "MONTHS"]),
}


@st.composite
def _staged_in_order(draw) -> pl.DataFrame:
    rows = []
    for person in draw(st.lists(st.sampled_from(["1", "2", "3"]), min_size=1, max_size=3,
                                unique=True)):  # fmt: skip
        for _ in range(draw(st.integers(1, 6))):
            rows.append({"subject_id": person, **{k: draw(v) for k, v in _VALUES.items()}})
    frame = pl.DataFrame(rows).with_columns(
        source_file=pl.lit("f0.dat"), line=pl.int_range(1, len(rows) + 1, dtype=pl.UInt64)
    )
    schema = staged_schema()
    return frame.select(
        pl.col(n).cast(t) if n in frame.columns else pl.lit(None, t).alias(n)
        for n, t in schema.items()
    )


@given(_staged_in_order())
@settings(max_examples=150, deadline=None)
def test_in_order_rows_give_the_same_model(staged):
    default = model_.build(staged.lazy(), ["f0.dat"])
    cheaper = model_.build(staged.lazy(), ["f0.dat"], in_order=True)
    # Each person's rows together, as a stream's batch comes: cheaper still.
    cheapest = model_.build(staged.lazy(), ["f0.dat"], in_order=True, grouped=True)
    for table in ("counts", "people", "events"):
        expected = getattr(default, table).collect()
        assert getattr(cheaper, table).collect().equals(expected), table
        assert getattr(cheapest, table).collect().equals(expected), table
