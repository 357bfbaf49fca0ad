"""Tests for clearance.extract.normalize (docs/model.md, "Normalized rows")."""

from __future__ import annotations

import datetime as dt
import re
import string
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clearance.extract.columns import CLEANED_BY_MODEL, USED, cleaned
from clearance.extract.normalize import (
    CANNABIS_SECTIONS,
    CODE_LABELS,
    NORMALIZED_COLUMNS,
    lettered_sections,
    normalize,
    race_group,
)

STAGED = ["source_file", "line", *USED.values()]


def staged(*rows: dict[str, Any]) -> pl.DataFrame:
    """Staged rows: every staged column None except the ones a row sets."""
    for row in rows:
        unknown = set(row) - set(STAGED)
        assert not unknown, f"not a staged column: {unknown}"
    schema = {c: (pl.UInt64 if c == "line" else pl.String) for c in STAGED}
    return pl.DataFrame(
        [{c: row.get(c) for c in STAGED} for row in rows], schema=schema, orient="row"
    )


def norm(**fields: Any) -> dict[str, Any]:
    """Normalize one staged row and return it as a dict."""
    return normalize(staged(fields)).row(0, named=True)


def norm_many(column: str, values: list[Any], **fixed: Any) -> list[dict[str, Any]]:
    """Normalize one row per value of `column` in a single query (fast for Hypothesis)."""
    return normalize(staged(*({column: v} | fixed for v in values))).to_dicts()


def charge(row: dict[str, Any]) -> dict[str, Any]:
    keys = ("charge_source", "code", "code_raw", "code_corrected", "section", "subsection")
    return {k: row[k] for k in (*keys, "attempt", "cannabis_section")}


# ---------------------------------------------------------------- the contract


def test_adds_exactly_the_normalized_columns_with_their_types():
    out = normalize(staged({"subject_id": "1"}))
    assert out.columns == [*STAGED, *NORMALIZED_COLUMNS]
    assert dict(out.schema) == {
        **dict(staged({}).schema),
        **NORMALIZED_COLUMNS,
    }


def test_lazy_in_lazy_out_and_streams():
    lazy = normalize(staged({"offense_raw": "11359 HS-X"}).lazy())
    assert isinstance(lazy, pl.LazyFrame)
    out = lazy.collect(engine="streaming")
    assert out["cannabis_section"].to_list() == ["11359"]


def test_normalizing_twice_gives_the_same_result():
    once = normalize(staged({"offense_raw": "11359 HS-X", "dob_raw": "19800101"}))
    assert normalize(once).equals(once)


# The reader leaves these fields as they are in the file; normalize cleans them.
_AS_READ = {
    "offense_raw": ["11359 HS-POSS FOR SALE", "  11357(C) HS-POSS  ", "SEE COMMENT FOR CHARGE"],
    "comment_text": ["CHRG 11360 HS", " 11358 HS ", "NULL"],
    "disposition": ["CONVICTED-JAIL", " CONVICTED ", "DISMISSED"],
    "conv_status": ["FELONY", "MISDEMEANOR  ", "#"],
    "offense_toc": ["F", " M", "X"],
    "sent_length_raw": ["90", " 3  ", "-"],
    "sent_time_code": ["D", "MONTHS    ", "x"],
}
_PADDED = st.sampled_from(["", " ", "  ", "\t"])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                name: st.one_of(
                    st.none(),
                    st.sampled_from(["", "x", "X", "#", "NULL", "-"]),
                    st.tuples(_PADDED, st.sampled_from(values), _PADDED).map("".join),
                )
                for name, values in _AS_READ.items()
            }
        ),
        min_size=1,
        max_size=8,
    )
)
def test_fields_left_as_read_come_out_as_if_cleaned_first(rows):
    # Padding and fillers in the fields the model cleans change nothing: the rows
    # normalise exactly as their cleaned values do (as the reader cleans the rest).
    as_read = staged(*rows)
    first_cleaned = as_read.with_columns(cleaned(pl.col(n)).alias(n) for n in CLEANED_BY_MODEL)
    assert normalize(as_read).equals(normalize(first_cleaned))
    assert (
        normalize(as_read).select(CLEANED_BY_MODEL).equals(first_cleaned.select(CLEANED_BY_MODEL))
    )


def test_empty_row_has_nulls_and_false_flags():
    row = norm()
    assert row["charge_source"] is None and row["section"] is None and row["charge"] is None
    assert row["code_corrected"] is False and row["attempt"] is False
    assert row["convicted"] is False and row["sent_unknown"] is False
    assert (row["sent_days"], row["sent_months"], row["sent_years"]) == (0, 0, 0)


# ------------------------------------------------------------- offense parsing

H = "HS"


@pytest.mark.parametrize(
    ("offense", "code", "code_raw", "corrected", "section", "subsection", "attempt"),
    [
        ("11359 HS-POSSESS MARIJUANA FOR SALE", H, H, False, "11359", None, False),
        ("11357(C)HS-POSSESS MARIJUANA", H, H, False, "11357", "(c)", False),
        ("11357(b)HS-POSSESS MARIJUANA", H, H, False, "11357", "(b)", False),
        ("11359(C) HS-CULTIVATE CANNABIS", H, H, False, "11359", "(c)", False),
        ("11359HS-INTENT SELL CANNABIS", H, H, False, "11359", None, False),
        ("4149 BP - UNLICENSED SALE OF NEEDLES", "BP", "BP", False, "4149", None, False),
        (" 148 PC - RESISTING A PEACE OFFICER", "PC", "PC", False, "148", None, False),
        ("664/11360 HS-SELL MARIJUANA", H, H, False, "11360", None, True),
        ("664 PC/11360 HS", H, H, False, "11360", None, True),
        ("664-11360 HS", H, H, False, "11360", None, True),
        ("11360/664 HS", H, H, False, "11360", None, True),
        ("11359 PC-POSSESS FOR SALE", H, "PC", True, "11359", None, False),
        ("11359-POSSESS", H, None, True, "11359", None, False),
        ("288A PC", "PC", "PC", False, "288a", None, False),
        ("273AB PC", "PC", "PC", False, "273ab", None, False),
        ("189.1 PC", "PC", "PC", False, "189.1", None, False),
        ("12022.55 PC", "PC", "PC", False, "12022.55", None, False),
        ("1672(A) MV", "MV", "MV", False, "1672", "(a)", False),
        ("290 PC-REGISTRATION OF SEX OFFENDER", "PC", "PC", False, "290", None, False),
        ("314(1) PC-INDECENT EXPOSURE", "PC", "PC", False, "314", "(1)", False),
        ("11418(B)(1) PC", "PC", "PC", False, "11418", "(b)(1)", False),
        ("11360(A)(3)(C) HS-SELL TO MINOR", H, H, False, "11360", "(a)(3)(c)", False),
        ("11357 H&S-POSSESS", H, "H&S", False, "11357", None, False),
        ("11357 H S-POSSESS", H, "H S", False, "11357", None, False),
        ("148 P C-RESISTING", "PC", "P C", False, "148", None, False),
        ("23152(A) VC-DUI", "VC", "VC", False, "23152", "(a)", False),
        ("664 PC-ATTEMPTED CRIME", "PC", "PC", False, "664", None, False),
        ("148-RESISTING", None, None, False, "148", None, False),
        # prop64.md "Reading the charge": subsections run on, letters and digits alternating.
        ("11357A HS-POSSESSION OF MARIJUANA", H, H, False, "11357", "(a)", False),
        ("11359B HS-MARIJUANA POSSESS FOR SALE", H, H, False, "11359", "(b)", False),
        ("11359D HS-POSSESS FOR SALE TO MINOR", H, H, False, "11359", "(d)", False),
        ("11360A2 HS-SELL/FURNISH/ETC MARIJUANA/HASH", H, H, False, "11360", "(a)(2)", False),
        ("11360A3C HS-SELL TO MINOR", H, H, False, "11360", "(a)(3)(c)", False),
        ("11357B2 HS-POSSESSION OF MARIJUANA", H, H, False, "11357", "(b)(2)", False),
        ("11360A(2) HS-SELL", H, H, False, "11360", "(a)(2)", False),
        ("11357AHS-POSSESS", H, H, False, "11357", "(a)", False),
        ("664/11360A2 HS-ATTEMPT SELL", H, H, False, "11360", "(a)(2)", True),
        ("11360A/664 HS", H, H, False, "11360", "(a)", True),
        ("11359B PC-POSSESS FOR SALE", H, "PC", True, "11359", "(b)", False),
        ("245D3 PC-ASSAULT W/MACHINE GUN", "PC", "PC", False, "245", "(d)(3)", False),
        ("288AC1 PC", "PC", "PC", False, "288a", "(c)(1)", False),
        ("266H(B) PC", "PC", "PC", False, "266h", "(b)", False),
    ],
)
def test_offense_forms(offense, code, code_raw, corrected, section, subsection, attempt):
    row = norm(offense_raw=offense)
    assert charge(row) == {
        "charge_source": "offense",
        "code": code,
        "code_raw": code_raw,
        "code_corrected": corrected,
        "section": section,
        "subsection": subsection,
        "attempt": attempt,
        "cannabis_section": section if section in CANNABIS_SECTIONS else None,
    }
    assert row["charge"] == offense.strip()


@pytest.mark.parametrize(
    ("offense", "notation"),
    [
        ("11357 HS-POSSESS", "plain"),
        ("664/11359 HS-ATTEMPT", "plain"),
        ("11357(C)HS-POSSESS", "bracketed"),
        ("11360(a)(2) HS-SELL", "bracketed"),
        ("11360A2 HS-SELL", "run_on"),
        ("11360A(2) HS-SELL", "run_on"),
        ("HS-POSSESS MARIJUANA", None),
    ],
)
def test_charge_notation(offense, notation):
    assert norm(offense_raw=offense)["charge_notation"] == notation


@pytest.mark.parametrize(
    ("offense", "section"),
    [
        ("211357 HS-NOT CANNABIS", "211357"),
        ("11357.5 HS-SYNTHETIC CANNABINOIDS", "11357.5"),
        ("113570 HS", "113570"),
        ("111357 HS", "111357"),
        ("11357.5A HS-SYNTHETIC CANNABINOIDS", "11357.5"),
        ("37 PC-TREASON", "37"),
        ("137 PC-INDUCE FALSE TESTIMONY", "137"),
    ],
)
def test_sections_are_anchored(offense, section):
    row = norm(offense_raw=offense)
    assert row["section"] == section
    assert row["cannabis_section"] is None
    assert row["code_corrected"] is False


@pytest.mark.parametrize("offense", ["SEE COMMENT FOR CHARGE", None, "   "])
def test_charge_read_from_comment_when_offense_points_there(offense):
    row = norm(offense_raw=offense, comment_text="11358 HS-CULTIVATE CANNABIS")
    assert row["charge_source"] == "comment"
    assert row["charge"] == "11358 HS-CULTIVATE CANNABIS"
    assert (row["code"], row["section"], row["cannabis_section"]) == ("HS", "11358", "11358")


@pytest.mark.parametrize(
    ("comment", "section", "code_raw", "attempt"),
    [
        ("CHRG 11359 HS POSS FOR SALE", "11359", "HS", False),
        ("11360 HS-SELL MARIJUANA", "11360", "HS", False),
        ("ORIG CHRG 664/11360 HS", "11360", "HS", True),
        ("CHRG 11360A2 HS SELL", "11360", "HS", False),
        ("PLED 11359B", "11359", None, False),  # bare cannabis section, run on
        ("CHRG 11357 POSS MJ", "11357", None, False),  # bare cannabis section: HS
        ("CHRG 11359 POSS, ALSO 148 PC", "11359", None, False),  # the first section wins
        ("DEFT ARRESTED FOR 148 PC", "148", "PC", False),
    ],
)
def test_charge_embedded_in_comment(comment, section, code_raw, attempt):
    row = norm(offense_raw="SEE COMMENT FOR CHARGE", comment_text=comment)
    assert row["charge_source"] == "comment"
    assert (row["section"], row["code_raw"], row["attempt"]) == (section, code_raw, attempt)
    cannabis = section in CANNABIS_SECTIONS
    assert row["code"] == ("HS" if cannabis else code_raw)
    assert row["code_corrected"] is (cannabis and code_raw != "HS")


@pytest.mark.parametrize(
    "comment", [None, "NO CHARGE HERE", "CASE 12345 3 YRS PROB", "PRIOR 211357 WAS DISMISSED"]
)
def test_no_charge_anywhere_gives_null_source(comment):
    row = norm(offense_raw="SEE COMMENT FOR CHARGE", comment_text=comment)
    assert (row["charge_source"], row["charge"], row["section"], row["code"]) == (None,) * 4


def test_unreadable_offense_does_not_fall_back_to_comment():
    row = norm(offense_raw="PROBATION VIOLATION", comment_text="11359 HS")
    assert row["charge_source"] is None and row["section"] is None
    # ... but the comment still names a cannabis section, for the comment_charge review.
    assert row["comment_cannabis_section"] == "11359"


@pytest.mark.parametrize(
    ("comment", "expected"),
    [
        ("11358 HS-CULTIVATE CANNABIS", "11358"),
        ("AMENDED FROM 11359HS TO 11357", "11359"),
        ("PER PLEA 664/11360", "11360"),
        ("CHARGED 11357.", "11357"),
        ("SEE 211357", None),
        ("11357.5 HS", None),
        ("113579", None),
        ("148 PC", None),
        (None, None),
    ],
)
def test_comment_cannabis_section(comment, expected):
    row = norm(offense_raw="148 PC-RESISTING", comment_text=comment)
    assert row["comment_cannabis_section"] == expected
    assert row["charge_source"] == "offense"


# ------------------------------------------------------ disposition, severity


@pytest.mark.parametrize(
    ("disposition", "convicted"),
    [
        ("CONVICTED-JAIL", True),
        ("CONVICTED-PROBATION", True),
        ("CONVICTED", True),
        ("DISMISSED/CHARGE DROPPED", False),
        ("REL/TOT OTHER JURIS/AUTH", False),
        ("NOT CONVICTED", False),
        (None, False),
    ],
)
def test_convicted(disposition, convicted):
    assert norm(disposition=disposition)["convicted"] is convicted


@pytest.mark.parametrize(
    ("conv_status", "offense_toc", "severity"),
    [
        ("FELONY", None, "F"),
        ("MISDEMEANOR", "F", "M"),  # the conviction status wins over the charge type
        ("INFRACTION", None, "I"),
        (None, "F", "F"),
        (None, "M", "M"),
        (None, "I", "I"),
        (None, "X", None),
        ("UNKNOWN", None, None),
        (None, None, None),
    ],
)
def test_severity(conv_status, offense_toc, severity):
    assert norm(conv_status=conv_status, offense_toc=offense_toc)["severity"] == severity


# -------------------------------------------------------------- dates and keys


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("19800514", dt.date(1980, 5, 14)),
        ("20200229", dt.date(2020, 2, 29)),
        ("19610101", dt.date(1961, 1, 1)),
        ("19800000", None),  # partial
        ("19801300", None),  # partial / impossible month
        ("19800100", None),  # no day
        ("20190231", None),  # impossible
        ("20190229", None),  # not a leap year
        ("00010101", None),  # never year 1
        ("1980051", None),  # short
        ("198005141", None),  # long
        ("1980-05-14", None),
        ("ABCDEFGH", None),
        (None, None),
    ],
)
def test_dates(raw, expected):
    row = norm(dob_raw=raw, event_date_raw=raw)
    assert row["dob"] == expected
    assert row["event_date"] == expected


@pytest.mark.parametrize(
    ("cnt_order", "event_key"),
    [
        ("101001002000", "101001"),
        ("102003015500", "102003"),
        ("10100100200", None),  # 11 digits: not a count key
        ("1010010020000", None),
        ("10100A002000", None),
        (None, None),
    ],
)
def test_event_key(cnt_order, event_key):
    assert norm(cnt_order=cnt_order)["event_key"] == event_key


# ------------------------------------------------------------------- sentences


@pytest.mark.parametrize(
    ("loc", "length", "unit", "days", "months", "years", "unknown"),
    [
        ("JAIL", "90", "D", 90, 0, 0, False),
        ("PROBATION", "6", "M", 0, 6, 0, False),
        ("PRISON", "10", "Y", 0, 0, 10, False),
        ("JAIL", "030", "D", 30, 0, 0, False),  # leading zeros
        ("JAIL", "30", "DAYS", 30, 0, 0, False),
        ("PROBATION", "3", "YEARS", 0, 0, 3, False),
        ("PROBATION", "18", "MONTHS", 0, 18, 0, False),
        ("JAIL", "48", "H", 2, 0, 0, False),  # hours: whole days, rounded up
        ("JAIL", "8", "HOURS", 1, 0, 0, False),
        ("JAIL", "0", "D", 0, 0, 0, False),
        ("PRISON", "LIFE", None, 0, 0, 0, True),
        ("PRISON", "LIFE", "Y", 0, 0, 0, True),
        ("JAIL", "999X", "D", 0, 0, 0, True),
        ("JAIL", "90", None, 0, 0, 0, True),  # length without unit
        ("JAIL", None, "D", 0, 0, 0, True),  # unit without length
        ("JAIL", "90", "Q", 0, 0, 0, True),  # unknown unit
        ("PRISON", "123456", "D", 0, 0, 0, True),  # longer than 5 digits
        ("FINE", None, None, 0, 0, 0, False),  # location only: no sentence part
        (None, None, None, 0, 0, 0, False),
    ],
)
def test_sentence_part(loc, length, unit, days, months, years, unknown):
    row = norm(sent_loc=loc, sent_length_raw=length, sent_time_code=unit)
    assert (row["sent_days"], row["sent_months"], row["sent_years"]) == (days, months, years)
    assert row["sent_unknown"] is unknown


# ------------------------------------------------------------------------ race


@pytest.mark.parametrize(
    ("code", "descr", "group"),
    [
        (None, "HISPANIC", "Latino"),
        (None, "BLACK", "Black"),
        (None, "WHITE", "White"),
        (None, "CHINESE", "Asian / Pacific Islander"),
        (None, "FILIPINO", "Asian / Pacific Islander"),
        (None, "ASIAN INDIAN", "Asian / Pacific Islander"),
        (None, "SAMOAN", "Asian / Pacific Islander"),
        (None, "AMERICAN INDIAN", "Native American"),
        (None, "OTHER", "Other"),
        (None, "UNKNOWN", "Unknown"),
        (None, "hispanic", "Latino"),  # compared upper case
        ("H", None, "Latino"),
        ("B", None, "Black"),
        ("V", None, "Asian / Pacific Islander"),
        ("I", None, "Native American"),
        ("W", "BLACK", "Black"),  # the description wins
        ("H", "UNKNOWN", "Latino"),  # ... unless it says nothing
        ("Q", "MARTIAN", "Unknown"),  # unmapped values are Unknown, never guessed
        (None, None, "Unknown"),
    ],
)
def test_race_group(code, descr, group):
    out = staged({"race_code": code, "race_descr": descr}).select(race_group())
    assert out.columns == ["race"]
    assert out["race"].to_list() == [group]


# ------------------------------------------------------------ property tests

numbers = st.builds(
    lambda n, dec: f"{n}{dec}",
    st.integers(min_value=1, max_value=999_999),
    st.sampled_from(["", ".1", ".5", ".55", ".12"]),
)
# A section as written: a number, or a lettered section (288A, 273AB, 266H).
section_numbers = st.one_of(numbers, st.sampled_from(sorted(lettered_sections())).map(str.upper))
# Run-on levels: letters and digits alternating, a letter first (A, B2, A3C).
run_on = st.lists(st.sampled_from("ABCDF"), max_size=3).flatmap(
    lambda letters: st.tuples(*(st.sampled_from(["1", "2", "13"]) for _ in letters)).map(
        lambda digits: "".join(a + d for a, d in zip(letters, digits, strict=True))
    )
) | st.sampled_from(["A", "B", "D"])
subsections = st.lists(
    st.sampled_from(["(A)", "(B)", "(C)", "(1)", "(2)", "(3)", "(D)(1)"]), max_size=3
).map("".join)
labels = st.sampled_from(CODE_LABELS)
separators = st.sampled_from([" ", "", "  "])


def _levels(run: str) -> str:
    return "".join(f"({level.lower()})" for level in re.findall(r"[A-Z]+|[0-9]+", run))


def _reads_as_written(case) -> bool:
    """The run-on letters do not turn the section into another lettered one (288 + A)."""
    n, run = case[0], case[1]
    return not any((n + run[:k]).lower() in lettered_sections() for k in (1, 2) if run[:k])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(section_numbers, run_on, subsections, separators, labels).filter(
            _reads_as_written
        ),
        min_size=1,
    )
)
def test_any_section_and_label_parses_back(cases):
    """prop64.md "Reading the charge": brackets and run-on levels read as the same levels."""
    offenses = [f"{n}{run}{sub}{sep}{label}-X" for n, run, sub, sep, label in cases]
    rows = norm_many("offense_raw", offenses)
    for (n, run, sub, _, label), row in zip(cases, rows, strict=True):
        assert row["section"] == n.lower()
        assert row["subsection"] == ((_levels(run) + sub.lower()) or None)
        assert row["charge_notation"] == ("run_on" if run else "bracketed" if sub else "plain")
        cannabis = n in CANNABIS_SECTIONS
        assert row["code"] == ("HS" if cannabis else label)
        assert row["code_raw"] == label
        assert row["code_corrected"] is (cannabis and label != "HS")
        assert row["cannabis_section"] == (n if cannabis else None)


digits = st.text(alphabet=string.digits, min_size=1, max_size=4)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(CANNABIS_SECTIONS),
            st.sampled_from(["before", "after", "decimal"]),
            digits,
            labels,
        ),
        min_size=1,
    )
)
def test_cannabis_section_never_matches_inside_a_longer_number(cases):
    def longer(section: str, where: str, extra: str) -> str:
        return {"before": extra + section, "after": section + extra}.get(
            where, f"{section}.{extra}"
        )

    numbers = [longer(s, where, extra) for s, where, extra, _ in cases]
    texts = [f"{num} {label}-X" for num, (*_, label) in zip(numbers, cases, strict=True)]
    rows = normalize(
        staged(*({"offense_raw": t, "comment_text": f"PRIOR {t}"} for t in texts))
    ).to_dicts()
    for num, row in zip(numbers, rows, strict=True):
        assert row["section"] == num
        assert row["cannabis_section"] is None
        assert row["comment_cannabis_section"] is None


@settings(max_examples=40, deadline=None)
@given(st.lists(st.dates(dt.date(1800, 1, 1), dt.date(2199, 12, 31)), min_size=1))
def test_any_valid_date_round_trips(dates):
    rows = norm_many("event_date_raw", [d.strftime("%Y%m%d") for d in dates])
    assert [r["event_date"] for r in rows] == dates


def _is_valid_date(text: str) -> bool:
    if len(text) != 8 or not text.isdigit():  # isdigit: also rejects signs and spaces
        return False
    try:
        d = dt.datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        return False
    return d.strftime("%Y%m%d") == text and 1800 <= d.year <= 2199


date_like = st.one_of(
    st.text(alphabet=string.digits, min_size=0, max_size=10),
    st.builds(
        lambda y, m, d: f"{y:04d}{m:02d}{d:02d}",
        st.integers(0, 2999),
        st.integers(0, 13),
        st.integers(0, 32),
    ),
    st.text(max_size=10),
)


@settings(max_examples=40, deadline=None)
@given(st.lists(date_like, min_size=1))
def test_anything_that_is_not_a_valid_date_is_null(texts):
    rows = norm_many("dob_raw", texts)
    for text, row in zip(texts, rows, strict=True):
        if _is_valid_date(text):
            assert row["dob"] == dt.datetime.strptime(text, "%Y%m%d").date()
        else:
            assert row["dob"] is None, text


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 99_999), st.sampled_from(["D", "M", "Y", "DAYS", "YEARS"])),
        min_size=1,
    )
)
def test_any_readable_sentence_lands_in_its_unit(parts):
    rows = normalize(
        staged(*({"sent_length_raw": str(n), "sent_time_code": u} for n, u in parts))
    ).to_dicts()
    for (n, unit), row in zip(parts, rows, strict=True):
        expected = {"D": (n, 0, 0), "M": (0, n, 0), "Y": (0, 0, n)}[unit[0]]
        assert (row["sent_days"], row["sent_months"], row["sent_years"]) == expected
        assert row["sent_unknown"] is False
