"""The determinations table in the forms users open: CSV, Parquet and an Excel workbook.

Column order is part of the contract (product.md): the first columns are the ones
product.md lists, then the facts each determination used, then where it came from.
Parquet keeps everything, including the per-rule tests (``t_<rule>``) that
``clearance explain`` walks.
"""

from __future__ import annotations

import datetime as dt
import functools
from concurrent.futures import Future, ThreadPoolExecutor
from importlib import resources
from pathlib import Path

import polars as pl
import xlsxwriter

from clearance.outputs.xlsx_rows import splice_rows
from clearance.textsafe import write_csv, xml_safe

# product.md, "determinations.csv": these columns, in this order, come first.
CONTRACT_COLUMNS = (
    "subject_id",
    "cii_number",
    "name",
    "dob",
    "race",
    "gender",
    "cnt_order",
    "case_number",
    "court",
    "county",
    "conviction_date",
    "offense",
    "section",
    "severity",
    "determination",
    "reason",
    "rule",
    "citation",
)

# The facts each determination used (prop64.md; issue 3 "the facts it used").
FACT_COLUMNS = (
    "subsection",
    "attempt",
    "charge_source",
    "charge_notation",
    "comment_text",
    "comment_cannabis_section",
    "age_at_conviction",
    "age_as_of",
    "years_since_conviction",
    "years_since_any_conviction",
    "n_convictions",
    "cannabis_convictions",
    "prior_same_section",
    "superstrikes",
    "pc290_convictions",
    "registered_290",
    "deceased",
    "sentence_end",
    "not_tested",
    "source_file",
    "line",
)

COLUMNS = CONTRACT_COLUMNS + FACT_COLUMNS

# The workbook's creation time is fixed so the same run gives the same bytes.
WORKBOOK_CREATED = dt.datetime(2016, 11, 9)
EXCEL_MAX_ROWS = 1_048_575  # one row of each sheet is the header
# Columns holding ISO dates (YYYY-MM-DD), of either rule pack's table: real Excel dates
# in the workbook (its date filters work), text in the CSV and Parquet (the contract).
DATE_COLUMNS = frozenset({
    "dob", "conviction_date", "arrest_date", "sentence_end", "eligible_on",
    "objection_deadline", "completion", "serving_until", "probation_end", "revocation_date",
    "reviewed_on",
})  # fmt: skip


# The engine's columns table() reads besides COLUMNS and the tests (t_*).
SOURCE_COLUMNS = ("dob_raw", "agency", "event_date", "event_date_raw", "offense_raw",
                  "charge", "cannabis_section")  # fmt: skip


def needed(columns: list[str]) -> list[str]:
    """Of the engine's ``columns``, those table() reads (the rest need not be kept)."""
    wanted = {*COLUMNS, *SOURCE_COLUMNS}
    return [c for c in columns if c in wanted or c.startswith("t_")]


def table(decided: pl.DataFrame) -> pl.DataFrame:
    """Rename and order the engine's columns into the published table (tests kept last)."""
    renamed = decided.with_columns(
        dob=pl.coalesce(pl.col("dob").dt.to_string("%Y-%m-%d"), pl.col("dob_raw")),
        court=pl.col("agency"),
        conviction_date=pl.coalesce(
            pl.col("event_date").dt.to_string("%Y-%m-%d"), pl.col("event_date_raw")
        ),
        offense=pl.coalesce(pl.col("offense_raw"), pl.col("charge")),
        section=pl.col("cannabis_section"),
        sentence_end=pl.col("sentence_end").dt.to_string("%Y-%m-%d"),
    )
    tests = sorted(c for c in decided.columns if c.startswith("t_"))
    return renamed.select(*COLUMNS, *tests)


# Above this many rows the workbook is written on a thread, alongside the rest of
# the run's outputs: its rows are serialised by Polars and deflated by zlib, which
# both release the GIL, so on two cores it costs the run little wall time.
WORKBOOK_IN_PROCESS_ROWS = 20_000


class Pending:
    """A workbook being written; ``wait()`` raises what writing it raised."""

    def __init__(self, future: Future[None] | None = None) -> None:
        self.future = future

    def wait(self) -> None:
        if self.future is None:
            return
        try:
            self.future.result()
        except Exception as exc:  # the message names files, never data
            raise RuntimeError(f"the Excel workbook could not be written: {exc}") from exc


def write_all(
    determinations: pl.DataFrame,
    out: Path,
    title: str,
    columns: tuple[str, ...] = COLUMNS,
    workbook_columns: tuple[str, ...] | None = None,
    law=None,
    summary: dict | None = None,
) -> Pending:
    """Write CSV and Parquet now; the workbook now or on a thread (wait on it)."""
    published = determinations.select(columns)
    sheet = published if workbook_columns is None else published.select(workbook_columns)
    pending = start_workbook(sheet, sheet.height, out, title, law, summary)  # the longest first
    write_csv(published, out / "determinations.csv")
    determinations.write_parquet(out / "determinations.parquet", statistics=True)
    return pending


def start_workbook(
    rows: pl.DataFrame | pl.LazyFrame,
    height: int,
    out: Path,
    title: str,
    law=None,
    summary: dict | None = None,
) -> Pending:
    """Write the workbook of ``rows`` (``height`` of them) now, or, when there are many,
    on a thread (wait on what is returned). A scan is read a slice at a time."""
    pending = Pending()
    path = out / "determinations.xlsx"
    if height <= WORKBOOK_IN_PROCESS_ROWS:
        write_workbook(rows, path, title, law, summary)
    else:
        thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="workbook")
        pending.future = thread.submit(write_workbook, rows, path, title, law, summary)
        thread.shutdown(wait=False)  # the thread ends when the workbook is written
    return pending


REASON_IN_WORDS = "reason_in_words"  # the workbook's column beside ``reason``


def in_words(rows: pl.DataFrame | pl.LazyFrame, law) -> pl.DataFrame | pl.LazyFrame:
    """The rows with each determination in the rule pack's plain words
    (``determination_labels``) and, beside the reason code, the reason in words (its
    rule's ``label``); codes the pack does not word are kept as they are."""
    names = rows.lazy().collect_schema().names()
    changes = []
    if law.determination_labels:
        labels = dict(law.determination_labels)
        # The determination, and in the web app's workbooks the one the rules proposed
        # and the reviewer's decision (determinations too).
        changes += [
            pl.col(name).replace(labels)
            for name in ("determination", "engine_determination", "review_decision")
            if name in names
        ]
    if "reason" in names:
        by_reason = {reason: rule.label for reason, rule in law.rules.items() if rule.label}
        by_kind = {}
        for step in law.steps:
            if step.kind is not None and step.rule is not None and step.rule.label:
                by_kind.setdefault(f"{step.kind}\0{step.reason}", step.rule.label)
        words = pl.col("reason").replace_strict(by_reason, default=None, return_dtype=pl.String)
        if by_kind and "kind" in names:
            key = pl.concat_str(pl.col("kind"), pl.lit("\0"), pl.col("reason"))
            words = pl.coalesce(key.replace_strict(by_kind, default=None,
                                                   return_dtype=pl.String), words)  # fmt: skip
        changes.append(pl.coalesce(words, pl.col("reason")).alias(REASON_IN_WORDS))
        at = names.index("reason") + 1
        names = [*names[:at], REASON_IN_WORDS, *names[at:]]
    return rows.with_columns(changes).select(names) if changes else rows


def write_workbook(
    rows: pl.DataFrame | pl.LazyFrame,
    path: Path,
    title: str,
    law=None,
    summary: dict | None = None,
) -> None:
    """A workbook ready for attorneys: filters, frozen header, readable widths.

    XlsxWriter builds the workbook and its header rows; the data rows are serialised
    column-wise (outputs/xlsx_rows.py: the same XML XlsxWriter writes, 20 times
    faster) and streamed into each sheet, so the workbook never sits whole in
    memory. Text stays text: a value that starts with "=" is never a formula, nor a
    number-like case number a number. Headers are in words (headers.yaml), and a last
    sheet, "Columns", pairs each with its column in the CSV. Given the rule pack
    (``law``), determinations are in its plain words and the reason in words stands
    beside its code (in_words). Given the run's ``summary`` (summary.json), a sheet
    "Summary" shows its headline figures, and the workbook opens on it; the
    determinations stay the first sheet (what a program reading "the first sheet" of
    the workbook has always read).
    """
    if law is not None:
        rows = in_words(rows, law)
    workbook = xlsxwriter.Workbook(
        path,
        {
            "constant_memory": True,
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    # The title names the policy (a user's file): XML cannot carry every character.
    workbook.set_properties({"title": xml_safe(title), "created": WORKBOOK_CREATED})
    header = workbook.add_format({"bold": True, "text_wrap": True, "valign": "top"})
    date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
    # A scan is read piece by piece, never whole.
    height = (
        rows.height if isinstance(rows, pl.DataFrame) else rows.select(pl.len()).collect().item()
    )
    columns = rows.lazy().collect_schema().names()
    chunks = range(0, max(height, 1), EXCEL_MAX_ROWS)
    sheets: dict[str, pl.DataFrame | pl.LazyFrame] = {}
    for i, start in enumerate(chunks):
        part = rows.slice(start, EXCEL_MAX_ROWS)
        part_height = min(EXCEL_MAX_ROWS, max(height - start, 0))
        sheet = workbook.add_worksheet(
            "Determinations" if len(chunks) == 1 else f"Determinations {i + 1}"
        )
        for col, name in enumerate(columns):
            dated = name in DATE_COLUMNS
            sheet.set_column(col, col, max(_width(name), 11) if dated else _width(name),
                             date_format if dated else None)  # fmt: skip
        sheet.write_row(0, 0, [header_of(name) for name in columns], header)
        sheet.autofilter(0, 0, max(part_height, 1), len(columns) - 1)
        sheet.freeze_panes(1, 2)
        sheets[f"xl/worksheets/sheet{i + 1}.xml"] = part
    if summary is not None:
        _summary_sheet(workbook, title, summary, law, header, date_format).activate()
    _columns_sheet(workbook, columns, header)
    workbook.close()
    # The date format's index, given when the workbook was written (it was used).
    dates = {n: date_format.xf_index for n in columns if n in DATE_COLUMNS}
    splice_rows(path, sheets, dates if date_format.xf_index is not None else None)


@functools.cache
def _words() -> dict[str, dict[str, str]]:
    """headers.yaml: the workbook's words for columns and summary figures."""
    from clearance.law.yamlio import load_strict_yaml

    text = resources.files("clearance.outputs").joinpath("headers.yaml").read_text("utf-8")
    return load_strict_yaml(text, shipped=True)


def header_of(column: str) -> str:
    """A column's header in the workbook: its words (headers.yaml), else its name."""
    return _words()["columns"].get(column, column)


def _columns_sheet(workbook, columns: list[str], header) -> None:
    """The last sheet: each header beside the column it is in the CSV and Parquet files."""
    sheet = workbook.add_worksheet("Columns")
    sheet.set_column(0, 0, 40)
    sheet.set_column(1, 1, 28)
    sheet.write_row(0, 0, ["Header in this workbook", "Column in determinations.csv"], header)
    for row, name in enumerate(columns, start=1):
        sheet.write_string(row, 0, header_of(name))
        sheet.write_string(row, 1, name)


# summary.json's figures on the Summary sheet, in this order: a figure, or a group of
# figures (a heading, then one row each). Other keys (the breakdowns by court, city,
# decade ...) are in summary.json and the report.
SUMMARY_FIGURES = (
    "subjects", "people_in_scope", "convictions_in_scope", "arrests_in_scope",
    "records_in_scope", "already_relieved", "impact", "by_determination", "by_reason",
    "review_by_reason", "petitions", "rows", "rejects_by_reason",
)  # fmt: skip


def summary_rows(summary: dict, law=None) -> list[tuple[str, object, str | None]]:
    """The Summary sheet's rows: (words, value, code). A heading has value None; a
    determination or reason is in the rule pack's words, with its code beside it."""
    words = _words()["summary"]
    labels = dict(law.determination_labels) if law is not None else {}
    reasons = {r: rule.label for r, rule in law.rules.items() if rule.label} if law else {}
    rows: list[tuple[str, object, str | None]] = []
    for key in SUMMARY_FIGURES:
        value = summary.get(key)
        if value is None or (isinstance(value, dict) and not value):
            continue
        if not isinstance(value, dict):
            rows.append((words.get(key, key), value, None))
            continue
        rows.append((words.get(key, key), None, None))
        for item, figure in value.items():
            if isinstance(figure, dict):
                continue
            if key == "by_determination":
                rows.append((labels.get(item, item), figure, item))
            elif key in ("by_reason", "review_by_reason"):
                rows.append((reasons.get(item, item), figure, item))
            elif key == "petitions":
                rows.append((f"PC {item}", figure, item))
            else:
                rows.append((words.get(item, item), figure, None))
    return rows


def _summary_sheet(workbook, title: str, summary: dict, law, header, date_format):
    """The sheet of the run's headline figures, the same numbers as summary.json."""
    sheet = workbook.add_worksheet("Summary")
    sheet.set_column(0, 0, 60)
    sheet.set_column(1, 1, 14)
    sheet.set_column(2, 2, 24)
    sheet.write_string(0, 0, xml_safe(title), header)
    words = _words()["summary"]
    row = 2
    for key in ("county", "as_of", "policy"):
        if summary.get(key) is None:
            continue
        sheet.write_string(row, 0, words.get(key, key))
        value = str(summary[key])
        try:
            sheet.write_datetime(row, 1, dt.date.fromisoformat(value), date_format)
        except ValueError:
            sheet.write_string(row, 1, xml_safe(value))
        row += 1
    row += 1
    sheet.write_row(row, 0, ["Figure", "Number", "Code"], header)
    for text, value, code in summary_rows(summary, law):
        row += 1
        if value is None:  # a heading, after a blank row
            row += 1
            sheet.write_string(row, 0, xml_safe(text), header)
            continue
        sheet.write_string(row, 0, xml_safe(str(text)))
        if isinstance(value, bool):
            sheet.write_boolean(row, 1, value)
        elif isinstance(value, int | float):
            sheet.write_number(row, 1, value)
        else:
            sheet.write_string(row, 1, xml_safe(str(value)))
        if code is not None:
            sheet.write_string(row, 2, xml_safe(code))
    return sheet


def _width(column: str) -> int:
    wide = {"name": 24, "offense": 36, REASON_IN_WORDS: 36, "determination": 16,
             "citation": 40, "court": 22, "rule": 26, "petitions": 24,
            "serious_violent": 36, "pending_records": 40, "new_felony": 30}  # fmt: skip
    wider = {"superstrikes": 40, "pc290_convictions": 40, "cannabis_convictions": 26}
    return wide.get(column) or wider.get(column) or max(10, min(len(column) + 2, 20))


class Layout:
    """What a rule pack's determinations table holds, and the figures tallied from it.

    Prop 64's is this module's (``COLUMNS``, ``table``) with ``outputs.summary``'s
    tallies; another law supplies its own (``clearance.outputs.auto_relief``).
    """

    name = "prop64"
    columns: tuple[str, ...] = COLUMNS
    # The workbook's columns, when not all of ``columns`` (a law deciding many more rows
    # keeps its workbook to what an attorney reads; the CSV and Parquet hold the rest).
    workbook_columns: tuple[str, ...] | None = None

    def needed(self, columns: list[str]) -> list[str]:
        return needed(columns)

    def table(self, decided: pl.DataFrame) -> pl.DataFrame:
        return table(decided)

    def counts_read(self, counts: pl.DataFrame) -> pl.DataFrame:
        from clearance.outputs import summary

        return summary.counts_read(counts)

    def tallies(self, published: pl.DataFrame, model, as_of: dt.date, policy) -> dict:
        from clearance.outputs import summary

        return summary.tallies(published, model, as_of)

    def write_more(self, folder: Path, *, as_of: dt.date, policy) -> None:
        """Files beyond the determinations and summary (none for Prop 64)."""


PROP64 = Layout()
