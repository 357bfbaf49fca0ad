"""The synthetic-extract generator: shape, determinism, proportions, rare facts, defects.

The intended figures the generator returns come from its own ground truth; these
tests recount them from the file (independently, with the csv module) and, when the
extract reader and model are importable, compare them with what the pipeline finds.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from clearance.extract.columns import FIELDS, POSITION
from clearance.synth import SAMPLE, generate, write_sample

P = POSITION
CANNABIS = ("11357", "11358", "11359", "11360")


def _valid_date(text: str) -> bool:
    try:
        date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return False
    return len(text) == 8


def _records(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="latin-1") as fh:
        return list(csv.reader(fh))


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> tuple[Path, dict, list[list[str]]]:
    """2,000 subjects, no defects: the proportions sample."""
    path = tmp_path_factory.mktemp("synth") / "clean.dat"
    figures = generate(path, subjects=2000, seed=11)
    return path, figures, _records(path)


@pytest.fixture(scope="module")
def dirty(tmp_path_factory) -> tuple[Path, dict]:
    path = tmp_path_factory.mktemp("synth") / "dirty.dat"
    return path, generate(path, subjects=1500, seed=12, dirty=0.04, header=True)


# ------------------------------------------------------------------ shape


def test_same_arguments_give_identical_bytes(tmp_path):
    a, b, c = tmp_path / "a.dat", tmp_path / "b.dat", tmp_path / "c.dat"
    fa = generate(a, subjects=300, seed=4, dirty=0.01)
    fb = generate(b, subjects=300, seed=4, dirty=0.01)
    generate(c, subjects=300, seed=5, dirty=0.01)
    assert a.read_bytes() == b.read_bytes()
    assert fa == fb
    assert a.read_bytes() != c.read_bytes()


def test_chunks_do_not_change_the_first_subjects(tmp_path):
    # 6,000 subjects span two chunks; the first chunk is the same as on its own
    small, big = tmp_path / "s.dat", tmp_path / "b.dat"
    generate(small, subjects=5000, seed=3)
    fig = generate(big, subjects=6000, seed=3)
    assert big.read_bytes().startswith(small.read_bytes())
    assert fig["subjects"] == 6000


def test_every_line_has_95_fields_lf_and_ascii(clean):
    path, figures, records = clean
    raw = path.read_bytes()
    assert b"\r" not in raw and raw.endswith(b"\n")
    assert raw.isascii()
    assert len(records) == figures["rows"]["read"]
    assert {len(r) for r in records} == {len(FIELDS)}
    assert records[0][P["RECORD_ID"]] != "RECORD_ID"
    assert figures["rows"]["rejected"] == 0


def test_header_option(tmp_path):
    path = tmp_path / "h.dat"
    figures = generate(path, subjects=20, seed=1, header=True)
    records = _records(path)
    assert records[0] == list(FIELDS)
    assert len(records) - 1 == figures["rows"]["read"]
    assert generate(tmp_path / "n.dat", subjects=20, seed=1) == figures | {
        "parameters": figures["parameters"] | {"header": False}
    }


def test_progress_reports_subjects_written(tmp_path):
    seen: list[int] = []
    generate(tmp_path / "p.dat", subjects=12_000, seed=1, progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == 12_000 and len(seen) >= 3


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError):
        generate(tmp_path / "x.dat", subjects=-1)
    with pytest.raises(ValueError):
        generate(tmp_path / "x.dat", subjects=1, dirty=1.5)


# ------------------------------------------------------------------ content


def test_every_subject_has_a_cannabis_conviction_in_the_county(clean):
    _, figures, records = clean
    subjects = {r[P["SUBJECT_ID"]] for r in records}
    cannabis = re.compile(r"^(CHRG )?(664/)?113(5[789]|60)(?![\d.])")
    anchored = {
        r[P["SUBJECT_ID"]]
        for r in records
        if r[P["DISP_DESCR"]].startswith("CONVICTED")
        and r[P["STP_ORI_DESCR"]] == "CASC SACRAMENTO"
        and r[P["STP_ORI_CNTY_NAME"]] == "SACRAMENTO"
        and (cannabis.match(r[P["OFFENSE_DESCR"]]) or cannabis.match(r[P["COMMENT_TEXT"]]))
    }
    assert len(subjects) == figures["subjects"] == 2000
    assert anchored == subjects


def test_proportions_are_as_documented(clean):
    _, figures, records = clean
    people = {r[P["SUBJECT_ID"]]: r for r in records}
    n = len(people)
    assert 22 <= len(records) / n <= 28  # about 25 rows per person
    race = Counter(r[P["RACE_DESCR"]] for r in people.values())
    assert abs(race["HISPANIC"] / n - 0.40) < 0.04
    assert abs(race["WHITE"] / n - 0.30) < 0.04
    assert abs(race["BLACK"] / n - 0.20) < 0.03
    asian = ("CHINESE", "FILIPINO", "OTHER ASIAN", "VIETNAMESE", "JAPANESE", "KOREAN")
    assert 0.03 < sum(race[a] for a in asian) / n < 0.08
    gender = Counter(r[P["GENDER"]] for r in people.values())
    assert abs(gender["M"] / n - 0.85) < 0.03
    dobs = [r[P["PRI_DOB"]] for r in people.values() if _valid_date(r[P["PRI_DOB"]])]
    older = sum(int(d[:4]) <= 1975 for d in dobs) / len(dobs)
    assert 0.4 < older < 0.75  # 50 or older in 2025

    counts: dict[tuple[str, str], list[str]] = {}
    for r in records:
        counts.setdefault((r[P["SUBJECT_ID"]], r[P["CNT_ORDER"]]), r)
    court = [r for r in counts.values() if r[P["STP_TYPE_DESCR"]] == "COURT ACTION"]
    convicted = [r for r in court if r[P["DISP_DESCR"]].startswith("CONVICTED")]
    assert 0.5 < len(convicted) / len(court) < 0.7
    assert {r[P["DISP_DESCR"]] for r in convicted} >= {
        "CONVICTED-JAIL", "CONVICTED-PROBATION", "CONVICTED-PRISON", "CONVICTED-FINE"
    }  # fmt: skip
    assert {r[P["CONV_STAT_DESCR"]] for r in convicted} >= {"FELONY", "MISDEMEANOR", "INFRACTION"}
    assert any(r[P["DISP_DESCR"]].startswith("DISMISSED") for r in court)
    by_section = figures["cannabis_convictions_by_county"]["SACRAMENTO"]
    total = sum(by_section.values())
    assert by_section["11357"] > by_section["11360"] > by_section["11358"]
    assert by_section["11359"] > by_section["11360"]
    assert by_section["11357"] / total > 0.35 and by_section["11359"] / total > 0.25
    assert len(figures["cannabis_convictions_by_county"]) > 10  # histories across counties

    years = Counter(int(r[P["STP_EVENT_DATE"]][:4]) // 10 * 10 for r in convicted)
    assert min(years) == 1960 and max(years) == 2020
    assert all(years[d] > 0 for d in range(1960, 2030, 10))
    assert figures["facts"]["cannabis_convictions_after_prop64"] > 0
    assert figures["facts"]["cannabis_convictions_under_21"] > 0
    agencies = {r[P["STP_ORI_DESCR"]][:4] for r in records}
    assert agencies >= {"CAPD", "CASO", "CASC", "CAMC"}
    units = {r[P["SENT_TIME_CODE"]] for r in records}
    assert units >= {"D", "M", "Y"}


def test_rows_are_consistent_with_their_keys(clean):
    _, _, records = clean
    positions: dict[tuple[str, str], list[int]] = {}
    for i, r in enumerate(records):
        key = r[P["CNT_ORDER"]]
        assert re.fullmatch(r"\d{9}000", key)
        assert key[:3] == r[P["CYC_ORDER"]] and key[3:6] == r[P["STP_ORDER"]]
        if r[P["STP_TYPE_DESCR"]] == "COURT ACTION":
            assert r[P["OFN"]].strip()  # a case number (or NULL filler) on court rows
            assert r[P["DISP_DATE"]] == r[P["STP_EVENT_DATE"]]
        assert re.fullmatch(r"[A-Z]+,[A-Z]+( [A-Z])?", r[P["PRI_NAME"]])
        positions.setdefault((r[P["SUBJECT_ID"]], key), []).append(i)
    repeated = [p for p in positions.values() if len(p) > 1]
    assert len(repeated) > 1000
    assert any(p[-1] - p[0] >= len(p) for p in repeated)  # some repeats are not adjacent


def test_every_rare_fact_appears(clean):
    path, figures, records = clean
    text = path.read_text(encoding="latin-1")
    for needle in (
        ",REGISTRATION,", "290 PC-REGISTRATION OF SEX OFFENDER", ",DECEASED,",
        "664/11359 HS-", "11359(D) HS-", "11360(A)(3)(D) HS-", ",SEE COMMENT FOR CHARGE,",
        ",CHRG 1135", "11359 PC-", "11360HS-", "11357HS-", "11357.5(A) HS", "137(B) PC",
    ):  # fmt: skip
        assert needle in text, needle
    offenses = {r[P["OFFENSE_DESCR"]].split("-")[0] for r in records}
    assert offenses & {"187(A) PC", "261(A)(2) PC", "288(A) PC", "207(A) PC"}
    assert offenses & {"314(1) PC", "647.6(A) PC", "243.4(A) PC"}
    assert any(r[P["STP_EVENT_DATE"]].endswith("0000") for r in records)  # partial event date
    assert any(r[P["CYC_DATE"]].endswith("0000") for r in records)
    blank_with_comment = [r for r in records if not r[P["OFFENSE_DESCR"]] and r[P["COMMENT_TEXT"]]]
    assert blank_with_comment
    facts = figures["facts"]
    for name in (
        "subjects_superstrike_prior", "subjects_pc290_prior", "subjects_registration",
        "subjects_registration_without_conviction", "subjects_two_priors_same_section",
        "subjects_deceased", "cannabis_attempts", "cannabis_excluded_subsection",
        "cannabis_miscoded", "cannabis_comment_only", "cannabis_convictions_after_prop64",
        "multi_part_counts_not_adjacent",
    ):  # fmt: skip
        assert facts[name] > 0, name
    assert figures["invalid_event_dates"] > 0


def test_two_priors_and_superstrike_come_before_a_cannabis_conviction(clean):
    _, _, records = clean
    history: dict[str, list[tuple[str, str]]] = {}
    for r in records:
        if r[P["DISP_DESCR"]].startswith("CONVICTED") and _valid_date(r[P["STP_EVENT_DATE"]]):
            charge = r[P["OFFENSE_DESCR"]] or r[P["COMMENT_TEXT"]]
            history.setdefault(r[P["SUBJECT_ID"]], []).append((r[P["STP_EVENT_DATE"]], charge))
    prior_strike = two_priors = 0
    for convictions in history.values():
        for day, charge in convictions:
            m = re.match(r"(?:CHRG )?(?:664/)?(1135[89]|11360)", charge)
            if not m:
                continue
            earlier = [c for d, c in convictions if d < day]
            prior_strike += any(c.startswith(("187(A) PC", "288(A) PC")) for c in earlier)
            same = {(d, c) for d, c in convictions if d < day and m.group(1) in c}
            two_priors += len(same) >= 2
    assert prior_strike > 0 and two_priors > 0


# ------------------------------------------------------------------ figures


def test_intended_figures_are_self_consistent(clean, dirty):
    for _, fig in (clean[:2], dirty):
        assert fig["rows"]["rejected"] == sum(fig["rejects_by_reason"].values())
        assert fig["convictions"] == sum(fig["convictions_by_code"].values())
        cannabis = sum(sum(v.values()) for v in fig["cannabis_convictions_by_county"].values())
        assert cannabis == fig["facts"]["cannabis_convictions"]
        assert fig["convictions_by_code"]["HS"] >= cannabis
        assert set(fig["rejects_by_reason"]) == {"wrong_field_count", "unbalanced_quote"}
        assert fig["subjects"] <= fig["parameters"]["subjects"]
        json.dumps(fig)  # JSON-able


def test_clean_figures_match_an_independent_count(clean):
    _, figures, records = clean
    convictions: dict[tuple[str, str], list[str]] = {}
    invalid = set()
    for r in records:
        key = (r[P["SUBJECT_ID"]], r[P["CNT_ORDER"]])
        if r[P["DISP_DESCR"]].startswith("CONVICTED"):
            convictions.setdefault(key, r)
        if not _valid_date(r[P["STP_EVENT_DATE"]]):
            invalid.add(key)
    assert len(convictions) == figures["convictions"]
    assert len(invalid) == figures["invalid_event_dates"]
    codes = Counter()
    for r in convictions.values():
        charge = r[P["OFFENSE_DESCR"]] if "-" in r[P["OFFENSE_DESCR"]] else r[P["COMMENT_TEXT"]]
        label = re.search(r"\d[\dA-Z().]*\s*([A-Z]{2})\b", charge.replace("CHRG ", "")).group(1)
        codes[
            "HS" if re.match(r"(664/)?113(5[789]|60)", charge.replace("CHRG ", "")) else label
        ] += 1
    assert dict(codes) == figures["convictions_by_code"]


def test_dirty_lines_are_as_counted(dirty):
    path, fig = dirty
    lines = path.read_bytes().split(b"\n")[1:-1]  # header, final LF
    assert len(lines) == fig["rows"]["read"]
    odd = [ln for ln in lines if ln.count(b'"') % 2]
    even = [ln for ln in lines if not ln.count(b'"') % 2]
    wrong = [ln for ln in even if len(next(csv.reader([ln.decode("latin-1")]))) != len(FIELDS)]
    assert len(odd) == fig["rejects_by_reason"]["unbalanced_quote"] > 0
    assert len(wrong) == fig["rejects_by_reason"]["wrong_field_count"] > 0
    latin1 = [ln for ln in lines if b"\xd1" in ln]
    assert len(latin1) == fig["dirty"]["lines"]["latin1_name"] > 0
    assert all(ln.decode("latin-1").count("\u00d1") == 1 for ln in latin1)
    good = [next(csv.reader([ln.decode("latin-1")])) for ln in even if ln not in set(wrong)]
    impossible = [
        r for r in good
        if not _valid_date(r[P["STP_EVENT_DATE"]]) and not r[P["STP_EVENT_DATE"]].endswith("00")
    ]  # fmt: skip
    assert len(impossible) == fig["dirty"]["lines"]["impossible_date"] > 0
    total = sum(fig["dirty"]["lines"].values())
    assert abs(total / len(lines) - 0.04) < 0.01
    assert fig["rows"]["rejected"] == len(odd) + len(wrong)
    assert fig["subjects"] == len({r[P["SUBJECT_ID"]] for r in good})


# ------------------------------------------------------------------ bundled sample


def test_bundled_sample_is_current(tmp_path):
    bundled = Path(__file__).resolve().parents[1] / "src" / "clearance" / "data"
    figures = write_sample(tmp_path)
    assert (tmp_path / "sample.dat").read_bytes() == (bundled / "sample.dat").read_bytes()
    assert json.loads((bundled / "sample.intended.json").read_text()) == json.loads(
        json.dumps(figures)
    )
    assert SAMPLE["subjects"] == figures["subjects"] == 300
    assert figures["rows"]["rejected"] > 0


# ------------------------------------------------------------------ round trip


def test_round_trip_through_reader_and_model(dirty, tmp_path):
    reader = pytest.importorskip("clearance.extract.reader")
    model = pytest.importorskip("clearance.extract.model")
    pl = pytest.importorskip("polars")
    path, fig = dirty
    result = reader.read_extracts([path], tmp_path / "work")
    assert result.rows_read == fig["rows"]["read"]
    assert result.rows_rejected == fig["rows"]["rejected"]
    reasons = dict(result.rejects.group_by("reason_code").len().iter_rows())
    assert reasons == {k: v for k, v in fig["rejects_by_reason"].items() if v}
    m = model.build(result.rows)
    counts = m.counts.collect()
    assert m.people.collect().height == fig["subjects"]
    convicted = counts.filter(pl.col("convicted"))
    assert convicted.height == fig["convictions"]
    assert dict(convicted.group_by("code").len().iter_rows()) == fig["convictions_by_code"]
    found: dict[str, dict[str, int]] = {}
    cannabis = convicted.filter(pl.col("cannabis_section").is_not_null())
    for county, section, n in cannabis.group_by("county", "cannabis_section").len().iter_rows():
        found.setdefault(county, dict.fromkeys(CANNABIS, 0))[section] = n
    assert found == fig["cannabis_convictions_by_county"]
    assert counts.filter(pl.col("event_date").is_null()).height == fig["invalid_event_dates"]
    # the facts of automatic relief, as the model sees them
    facts = fig["facts"]
    disp = pl.col("disposition").fill_null("")
    set_aside = counts.filter(disp.str.contains("SET ASIDE", literal=True)).height
    assert set_aside == sum(
        facts[f"convictions_set_aside_{v}"] for v in ("1203_4", "1203_4a", "1203_41")
    )
    enhancements = convicted.filter(pl.col("offense_raw").str.contains(r"^12022[.(]"))
    assert enhancements.height == facts["enhancement_counts"] > 0
    revocation_events = counts.filter(disp.str.contains("PROB") & disp.str.contains("REVOK"))
    revocations = revocation_events.select("subject_id", "event_key").unique().height
    assert revocations == facts["revocation_steps"] > 0


def test_csv_module_reads_the_sample_like_the_figures_say():
    data = Path(__file__).resolve().parents[1] / "src" / "clearance" / "data"
    fig = json.loads((data / "sample.intended.json").read_text())
    raw = (data / "sample.dat").read_bytes().decode("latin-1")
    lines = raw.split("\n")[:-1]
    bad = sum(
        ln.count('"') % 2 == 1 or len(next(csv.reader(io.StringIO(ln)))) != len(FIELDS)
        for ln in lines
    )
    assert len(lines) == fig["rows"]["read"] and bad == fig["rows"]["rejected"]


# ------------------------------------------------------------------ automatic relief


def _kind(text: str) -> str:
    """A disposition's kind, as ca-automatic-relief.md reads it (written apart from the
    generator's own reading)."""
    t = text.strip().upper()
    if t.startswith("CONVICTED"):
        return "convicted"
    if re.search(r"SET ASIDE.*1203\.4", t):
        return "relieved"
    if "PROB" in t and "REVOK" in t:
        return "revoked"
    if re.search(r"DIVERSION|DEJ", t) and re.search(r"COMPLET|DISM", t):
        return "diversion"
    if "ACQUIT" in t or "NOT GUILTY" in t:
        return "acquitted"
    if t.startswith("DISMISS"):
        return "dismissed"
    if t in ("", "COMPLAINT FILED", "BENCH WARRANT ISSUED", "CONTINUED") or re.search(
        r"REL/TOT|TRANSFER", t
    ):
        return "open"
    return "rejected" if t.startswith("PROS REJ") else "final"


def _plus_months(day: date, months: int) -> date:
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(day.day, d))
        except ValueError:
            continue
    raise AssertionError(day)


def test_relief_facts_match_an_independent_count(clean):
    _, figures, records = clean
    facts = figures["facts"]
    counts: dict[tuple[str, str], dict] = {}
    steps: dict[tuple[str, str, str], dict] = {}
    for r in records:
        sid, cyc, stp = r[P["SUBJECT_ID"]], r[P["CYC_ORDER"]], r[P["STP_ORDER"]]
        cnt = counts.setdefault(
            (sid, r[P["CNT_ORDER"]]),
            {"row": r, "locs": set(), "kind": _kind(r[P["DISP_DESCR"]]), "cyc": (sid, cyc)},
        )
        cnt["locs"].add(r[P["SENT_LOC_DESCR"]])
        step = steps.setdefault(
            (sid, cyc, stp), {"type": r[P["STP_TYPE_DESCR"]], "counts": set(), "locs": set()}
        )
        step["counts"].add(r[P["CNT_ORDER"]])
        step["locs"].add(r[P["SENT_LOC_DESCR"]])
        step["disp"] = r[P["DISP_DESCR"]]
    by_cycle: dict[tuple[str, str], list[dict]] = {}
    for cnt in counts.values():
        by_cycle.setdefault(cnt["cyc"], []).append(cnt)
    revoked = {k for k, cs in by_cycle.items() if any(c["kind"] == "revoked" for c in cs)}
    conv = [c for c in counts.values() if c["kind"] == "convicted"]
    enh = re.compile(r"12022[.(]")
    base = [c for c in conv if not enh.match(c["row"][P["OFFENSE_DESCR"]])]
    found = Counter()
    found["convictions_probation"] = sum("PROBATION" in c["locs"] for c in base)
    found["convictions_probation_revoked"] = sum(
        "PROBATION" in c["locs"] and c["cyc"] in revoked for c in base
    )
    found["convictions_jail"] = sum("JAIL" in c["locs"] for c in base)
    found["convictions_prison"] = sum("PRISON" in c["locs"] for c in base)
    found["enhancement_counts"] = len(conv) - len(base)
    from clearance.synth.tables import SERIOUS_VIOLENT

    serious = {o[0] for o, _ in SERIOUS_VIOLENT}
    found["convictions_serious_violent"] = sum(
        c["row"][P["OFFENSE_DESCR"]] in serious for c in conv
    )
    for c in counts.values():
        text = c["row"][P["DISP_DESCR"]]
        for name, pat in (
            ("1203_4", "1203.4 PC"),
            ("1203_4a", "1203.4A PC"),
            ("1203_41", "1203.41"),
        ):
            found[f"convictions_set_aside_{name}"] += "SET ASIDE" in text and pat in text
    court_steps = {k: s for k, s in steps.items() if s["type"] == "COURT ACTION"}
    rev = [s for s in court_steps.values() if _kind(s["disp"]) == "revoked"]
    found["revocation_steps"] = len(rev)
    found["revocation_steps_new_jail"] = sum("JAIL" in s["locs"] for s in rev)
    found["revocation_steps_new_prison"] = sum("PRISON" in s["locs"] for s in rev)
    found["set_aside_steps"] = sum(_kind(s["disp"]) == "relieved" for s in court_steps.values())
    # court counts (not the later steps) by outcome, and the arrests behind them
    court_cnt = [
        c for c in counts.values()
        if c["row"][P["STP_TYPE_DESCR"]] == "COURT ACTION"
        and c["kind"] not in ("revoked", "relieved")
    ]  # fmt: skip
    for kd in ("dismissed", "acquitted", "diversion", "open"):
        found[f"court_counts_{kd}"] = sum(c["kind"] == kd for c in court_cnt)
    cyc_court: dict[tuple[str, str], list[str]] = {}
    for c in court_cnt:
        cyc_court.setdefault(c["cyc"], []).append(c["kind"])
    step_kinds: dict[tuple[str, str, str], list[str]] = {}
    for c in court_cnt:
        r = c["row"]
        step_kinds.setdefault((*c["cyc"], r[P["STP_ORDER"]]), []).append(c["kind"])
    found["court_steps_open"] = sum(set(k) == {"open"} for k in step_kinds.values())
    open_subjects = {c["cyc"][0] for c in court_cnt if c["kind"] == "open"}
    for (sid, cyc, _), s in steps.items():
        if s["type"] != "ARREST/DETAINED/CITED":
            continue
        found["arrests"] += 1
        kinds = cyc_court.get((sid, cyc))
        if kinds is None:
            fel = any(counts[(sid, k)]["row"][P["OFFENSE_TOC"]] == "F" for k in s["counts"])
            found[
                "arrests_without_court_felony" if fel else "arrests_without_court_misdemeanor"
            ] += 1
            kind = _kind(s["disp"])
            found["arrests_without_court_rejected"] += kind == "rejected"
            found["arrests_without_court_open"] += kind == "open"
            if kind == "open":
                open_subjects.add(sid)
        elif "convicted" not in kinds:
            found["arrests_court_no_conviction"] += 1
            for kd in ("acquitted", "diversion", "open"):
                found[f"arrests_court_{kd}"] += kd in kinds
            found["arrests_court_all_dismissed"] += set(kinds) == {"dismissed"}
    found["subjects_open_record"] = len(open_subjects)
    # prison, then a felony conviction within four years of completion (the term and
    # three years of supervision) or only later
    felonies: dict[str, list[date]] = {}
    for c in conv:
        r = c["row"]
        level = r[P["CONV_STAT_DESCR"]] or {"F": "FELONY"}.get(r[P["OFFENSE_TOC"]], "")
        if level == "FELONY" and _valid_date(r[P["STP_EVENT_DATE"]]):
            d = r[P["STP_EVENT_DATE"]]
            felonies.setdefault(r[P["SUBJECT_ID"]], []).append(
                date(int(d[:4]), int(d[4:6]), int(d[6:]))
            )
    prison_rows = {
        (r[P["SUBJECT_ID"]], r[P["CNT_ORDER"]]): r
        for r in records
        if r[P["SENT_LOC_DESCR"]] == "PRISON" and r[P["DISP_DESCR"]].startswith("CONVICTED")
    }
    for (sid, _), r in prison_rows.items():
        d = r[P["STP_EVENT_DATE"]]
        if not _valid_date(d):
            continue
        months = int(r[P["SENT_LENGTH"]]) * (12 if r[P["SENT_TIME_CODE"]] == "Y" else 1)
        end = _plus_months(date(int(d[:4]), int(d[4:6]), int(d[6:])), months + 36)
        end4 = _plus_months(end, 48)
        later = [f for f in felonies.get(sid, []) if f > end]
        if any(f <= end4 for f in later):
            found["prison_then_felony_within_4y"] += 1
        elif later:
            found["prison_then_felony_after_4y"] += 1
    for name, n in found.items():
        assert facts[name] == n, name
    # every feature is there, in plausible proportions
    for name in found:
        assert facts[name] > 0, name
    assert 0.1 < facts["convictions_probation_revoked"] / facts["convictions_probation"] < 0.35
    assert facts["arrests_without_court_felony"] and facts["arrests_without_court_misdemeanor"]
    assert 0.05 < facts["subjects_open_record"] / figures["subjects"] < 0.3
    assert facts["court_counts_dismissed"] > facts["court_counts_diversion"]
    assert facts["court_counts_diversion"] > facts["court_counts_acquitted"]
