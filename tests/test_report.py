"""The impact report, read back as a reader would: every figure against summary.json.

The HTML is parsed (BeautifulSoup): each figure is a <data> element naming its place
in summary.json or run.json, so every one is checked. The PDF's text is extracted
(pypdf) and its headline figures and table rows are looked for, label then values,
as computed here straight from summary.json.
"""

from __future__ import annotations

import json
import re
import shutil

import polars as pl
import pytest
from bs4 import BeautifulSoup
from pypdf import PdfReader
from typer.testing import CliRunner

from clearance.cli import app
from clearance.law import load_rulepack
from clearance.report import ReportError, write_report
from clearance.report.figures import build, read_run
from clearance.report.suppress import THRESHOLD

runner = CliRunner()
DETERMINATIONS = ("dismiss", "reduce", "not_eligible", "review")
CHARTED = 8  # section, decade, race, gender, age, court, arresting agency, city


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """`clearance demo`, as a user runs it; then the public variant, in its own folder."""
    out = tmp_path_factory.mktemp("report") / "demo"
    result = runner.invoke(app, ["demo", "--out", str(out)])
    assert result.exit_code == 0, result.output
    public = runner.invoke(app, ["report", "--run", str(out), "--public"])
    assert public.exit_code == 0, public.output
    return out


@pytest.fixture(scope="module")
def public(folder):
    """Where `report --public` writes without --out: beside the run folder, not in it."""
    return folder.parent / "demo-public"


@pytest.fixture(scope="module")
def summary(folder):
    return json.loads((folder / "summary.json").read_text())


@pytest.fixture(scope="module")
def provenance(folder):
    return json.loads((folder / "run.json").read_text())


def lookup(path, summary, provenance):
    source, *keys = path
    node = {"summary": summary, "run": provenance}[source]
    for key in keys:
        node = node.get(key, 0) if isinstance(node, dict) else node[key]  # tallies omit zeros
    return node


def soup(folder, name="report.html"):
    return BeautifulSoup((folder / name).read_text("utf-8"), "html.parser")


def pdf_text(folder, name="report.pdf") -> str:
    reader = PdfReader(folder / name)
    return "\n".join(page.extract_text() for page in reader.pages)


# --- the folder ---------------------------------------------------------------------


def test_demo_writes_the_report_next_to_summary_json(folder):
    names = {p.name for p in folder.iterdir()}
    assert {"summary.json", "run.json", "report.html", "report.pdf"} <= names
    assert not [n for n in names if n.startswith(".")]  # no partial file left behind


def test_the_public_report_goes_to_its_own_folder_away_from_personal_data(folder, public):
    """`report --public` without --out: `<run>-public/` beside the run folder, holding
    only the public files; nothing public is written among determinations.csv & co."""
    assert {p.name for p in public.iterdir()} == {
        "report-public.html",
        "report-public.pdf",
        "summary-public.json",
    }
    assert not public.resolve().is_relative_to(folder.resolve())
    assert not [p for p in folder.iterdir() if "public" in p.name]
    again = runner.invoke(app, ["report", "--run", str(folder), "--public"])  # again: replaced
    assert again.exit_code == 0, again.output
    assert str(public) in again.output.replace("\n", "")


def test_the_html_is_self_contained(folder):
    page = soup(folder)
    assert not page.find_all("script")
    assert not page.find_all("link")
    assert not page.find_all("img")  # charts are inline SVG
    for tag in page.find_all(True):
        for attribute in ("src", "href"):
            value = tag.get(attribute)
            assert value is None or value.startswith("#"), (tag.name, value)
    assert "http://" not in page.style.text and "https://" not in page.style.text
    assert len(page.find_all("svg")) == CHARTED


# --- every figure of the HTML -----------------------------------------------------------


def check_figures(page, summary, provenance, *, public: bool) -> set[tuple]:
    """Every <data> equals summary.json; returns the summary paths shown."""
    seen = set()
    for element in page.find_all("data"):
        path = tuple(json.loads(element["data-path"]))
        if path[0] == "compare":
            continue
        value = lookup(path, summary, provenance)
        shown = element.get_text()
        if element.has_attr("data-of"):
            whole = lookup(tuple(json.loads(element["data-of"])), summary, provenance)
            percent = 100 * value / whole
            assert abs(float(element["value"]) - percent) < 1e-3, path
            assert abs(int(shown.rstrip("%")) - percent) <= 0.5, (path, shown)
        else:
            assert int(element["value"]) == value, path
            assert shown == f"{value:,}", (path, shown)
            if public and path[0] == "summary" and path[1] not in ("rows", "rejects_by_reason"):
                assert not 0 < value < THRESHOLD, (path, value)
        seen.add(path)
    return seen


def test_every_figure_in_the_html_is_summary_json(folder, summary, provenance):
    seen = check_figures(soup(folder), summary, provenance, public=False)
    # The figures offices announce, and every cell of the tables, are there.
    expected = {("summary", "by_determination", d) for d in DETERMINATIONS}
    expected |= {("summary", "impact", k) for k in summary["impact"]}
    expected |= {
        ("summary", table, row, column)
        for table in ("by_section", "by_severity", "by_decade", "by_court", "by_city")
        for row in summary[table]
        for column in (*DETERMINATIONS, "total")
    }
    expected |= {
        ("summary", "demographics", group, "race", race)
        for group in ("people_helped", "everyone")
        for race in summary["demographics"]["everyone"]["race"]
    }
    expected |= {("summary", "review_by_reason", r) for r in summary["review_by_reason"]}
    expected |= {("summary", "rejects_by_reason", r) for r in summary["rejects_by_reason"]}
    assert expected <= seen, sorted(expected - seen)[:5]


def test_table_cells_hold_figures_not_loose_numbers(folder):
    for cell in soup(folder).select("td.n"):
        figures = cell.find_all(["data", "span"])
        assert len(figures) == 1 and figures[0].get_text() == cell.get_text(), cell


def test_charts_draw_the_figures_of_their_table(folder):
    """Each number drawn on a chart is a figure of the table beside it, and each chart
    has a text alternative (<title>, <desc>) and a caption."""
    page = soup(folder)
    for figure in page.find_all("figure"):
        svg = figure.find("svg")
        assert svg["role"] == "img" and svg.find("title").get_text() and svg.find("desc")
        table = figure.find_next("table")
        shown = {td.get_text() for td in table.select("td.n")}
        for text in svg.find_all("text"):
            if "tick" in (text.get("class") or []):
                continue  # axis scale
            label = text.get_text().strip()
            if re.fullmatch(r"[\d,]+%?", label):
                assert label in shown, (figure.find_previous("h3").get_text(), label)
        assert figure.find("figcaption").get_text().startswith(("Stacked", "Paired"))


# --- the PDF ----------------------------------------------------------------------------


def row_pattern(label: str, values, between: int = 0) -> re.Pattern:
    """A table row in extracted PDF text: the label (maybe wrapped, maybe followed by more
    words on its line, and by up to ``between`` lines of text), then its values, one to a
    line."""
    words = r"\s+".join(re.escape(w) for w in label.split())
    gap = r"[^\n]*\n" + (f"(?:[^\\n]*\\n){{0,{between}}}?" if between else "")
    return re.compile(words + gap + r"\n".join(re.escape(v) for v in values) + r"\n")


def expected_rows(summary):
    """(label, values, lines between) for every row the PDF's tables show, from
    summary.json alone."""
    rows = []
    severity = {"F": "Felony", "M": "Misdemeanor", "I": "Infraction"}
    for table, label in (("by_section", None), ("by_severity", severity), ("by_decade", {})):
        for key, counts in summary[table].items():
            name = label.get(key, key) if label is not None else f"HS {key}"
            rows.append((name, [f"{counts[c]:,}" for c in (*DETERMINATIONS, "total")], 0))
    for table, dimension in (("by_court", "court"), ("by_city", "city")):
        for key, counts in summary[table].items():
            if key in ("unknown", "not a city agency"):
                continue
            name = key.title() if dimension == "city" else key
            helped = summary["people_helped_by"][dimension].get(key, 0)
            values = [f"{counts[c]:,}" for c in (*DETERMINATIONS, "total")] + [f"{helped:,}"]
            rows.append((name, values, 0))
    people = summary["demographics"]
    whole = {"people_helped": summary["impact"]["people_helped"], "everyone": summary["subjects"]}
    for race in people["everyone"]["race"]:
        helped = people["people_helped"]["race"].get(race, 0)
        everyone = people["everyone"]["race"][race]
        rows.append(
            (
                race,
                [
                    f"{helped:,}",
                    f"{100 * helped / whole['people_helped']:.0f}%",
                    f"{everyone:,}",
                    f"{100 * everyone / whole['everyone']:.0f}%",
                ],
                0,
            )
        )
    for reason, counts in summary["by_reason_determination"].items():
        values = [f"{counts[c]:,}" for c in (*DETERMINATIONS, "total")]
        rows.append(
            (load_rulepack().rules[reason].label, values, 12)
        )  # its meaning and law come between
    return rows


def test_every_figure_in_the_pdf_is_summary_json(folder, summary):
    text = pdf_text(folder)
    d, impact = summary["by_determination"], summary["impact"]
    headlines = [
        ("Cannabis convictions decided", summary["convictions_in_scope"]),
        ("Dismissed", d["dismiss"]),
        ("Reduced", d["reduce"]),
        ("Not eligible", d["not_eligible"]),
        ("For review by a person", d["review"]),
        ("Felony convictions", summary["by_severity"]["F"]["total"]),
        ("Misdemeanor convictions", summary["by_severity"]["M"]["total"]),
        ("Felonies dismissed or reduced", impact["felonies_dismissed_or_reduced"]),
        ("People with a conviction decided", summary["people_in_scope"]),
        ("People helped", impact["people_helped"]),
    ]
    for label, value in headlines:
        assert row_pattern(label, [f"{value:,}"]).search(text), label
    # A headline with its definition under it: the figure follows the definition.
    for key, label in (
        ("people_no_felony", "Left with no felony"),
        ("people_no_conviction", "Left with no conviction"),
        ("people_no_conviction_7_years", "No conviction in the last seven years"),
    ):
        assert re.search(re.escape(label) + r"\n[^\n]+\n" + f"{impact[key]:,}\n", text), label
    announcement = (
        f"{impact['convictions_dismissed_or_reduced']:,} cannabis convictions in Sacramento"
    )
    assert announcement in text
    for label, values, between in expected_rows(summary):
        assert row_pattern(label, values, between).search(text), (label, values)
    rows = summary["rows"]
    assert f"{rows['read']:,} lines read, {rows['used']:,} used and {rows['rejected']:,}" in text


def test_the_pdf_shows_the_charts_and_renders(folder):
    """The charts are vector drawings with text as text: each one's key, row labels and
    axis label are read between its title and its caption."""
    reader = PdfReader(folder / "report.pdf")
    assert not any(page.images for page in reader.pages)
    assert reader.metadata["/CreationDate"].startswith("D:20200701")  # the as-of date
    text = pdf_text(folder)
    report = build(*read_run(folder), public=False, hidden=set())
    charted = [t for t in report.tables() if t.chart is not None and t.rows]
    assert len(charted) == CHARTED
    for table in charted:
        start = text.index(f"\n{table.title}\n")
        caption = table.alt.split(".")[0]  # "Stacked bars, determinations by section"
        drawn = " ".join(text[start : text.index(caption, start)].split())
        rows = table.rows[: table.chart.limit] if table.chart.limit else table.rows
        keys = [table.columns[i].label for i in table.chart.series]
        for label in (*keys, *(row.label for row in rows), table.chart.axis_label):
            assert label in drawn, (table.title, label)
    if shutil.which("pdftoppm"):
        import subprocess

        subprocess.run(
            ["pdftoppm", "-png", "-r", "30", "-f", "2", "-l", "2", str(folder / "report.pdf"),
             str(folder.parent / "page")],
            check=True,
        )  # fmt: skip
        assert list(folder.parent.glob("page*.png"))


def test_the_pdf_pages_say_page_n_of_m_and_keep_headings_and_tables_whole(folder, public):
    """What a reader of the printed report checks: every page numbered "page N of M";
    no heading at the foot of a page with its text on the next; a table that fits on a
    page on one page (title, header and last row together); a last page that is more
    than a stray line."""
    for where, name in ((folder, "report.pdf"), (public, "report-public.pdf")):
        pages = [page.extract_text() for page in PdfReader(where / name).pages]
        assert len(pages) > 1
        report = build(*read_run(folder), public=False, hidden=set())
        headings = {s.title for s in report.sections} | {t.title for t in report.tables()}
        headings |= {"Methods", "The policy", "The date", "The law", "The data", "Places"}
        for number, text in enumerate(pages, start=1):
            lines = [line.strip() for line in text.strip().split("\n")]
            assert lines[-1] == f"page {number} of {len(pages)}", name
            assert lines[-2] not in headings, (name, number, lines[-2])  # no orphan heading
        whole = " ".join(pages)
        for table in report.tables():
            if len(table.rows) > 8 or table.total is None:
                continue
            on = [i for i, text in enumerate(pages) if f"\n{table.title}\n" in f"\n{text}"]
            assert on, table.title
            after = pages[on[-1]].rsplit(f"{table.title}\n", 1)[1]  # (headlines share titles)
            if table.chart is not None:  # the chart, then the table: maybe on the next page
                rest = [after, *pages[on[-1] + 1 :]]
                after = next(p for p in rest if f"{table.row_header}\n" in p)
                after = after.split(f"{table.row_header}\n", 1)[1]
            assert table.total.label in after, table.title
        assert whole.count("page 1 of") == 1
        assert _lowest_text(PdfReader(where / name).pages[-1]) < 792 * 0.75, name  # a quarter


def _lowest_text(page) -> float:
    """The baseline of the lowest text on the page above the footer (points from the
    bottom): where the page's content ends."""
    found: list[float] = []

    def visit(text, cm, tm, font, size) -> None:
        if text.strip():
            found.append(cm[5] + tm[5])

    page.extract_text(visitor_text=visit)
    return min(y for y in found if y > 50)


def test_methods_say_how_the_figures_were_made(folder, provenance):
    methods = soup(folder).find(id="methods").get_text(" ", strip=True)
    assert "Convictions under HS 11357 (possession) and HS 11358 (cultivation) are dismissed" in (
        methods
    )
    assert "as of 2020-07-01, given with the run" in methods
    assert f"rule pack {provenance['rule_pack']['version']}" in methods
    assert "HS 11361.8" in methods and "HS 11361.9(b)" in methods
    assert "does not name the prosecuting agency" in methods
    assert "wrong number of fields" in methods  # rows rejected, and why
    assert provenance["inputs"][0]["sha256"] in methods
    assert provenance["inputs"][0]["path"] not in methods  # file name only


# --- the public variant -------------------------------------------------------------------


def test_the_public_report_hides_small_counts(public, summary, provenance):
    page = soup(public, "report-public.html")
    check_figures(page, summary, provenance, public=True)
    figures = json.loads((public / "summary-public.json").read_text())
    hidden = page.select("span.hidden")
    assert hidden, "the demo has counts under 11"
    for span in hidden:
        path = tuple(json.loads(span["data-path"]))
        node = figures
        for key in path[1:]:
            node = node.get(key) if isinstance(node, dict) else None
        assert node is None, path  # hidden in the HTML, null for open-data portals
    review = summary["by_determination"]["review"]
    assert review < THRESHOLD
    text = pdf_text(public, "report-public.pdf")
    assert row_pattern("For review by a person", ["*"]).search(text)
    assert "fewer than 11" in text


def test_no_personal_data_in_any_report(folder, public):
    people = pl.read_csv(folder / "determinations.csv", infer_schema=False)
    names = set(people["name"].drop_nulls()) | set(people["cii_number"].drop_nulls())
    for where, name in (
        (folder, "report.html"),
        (public, "report-public.html"),
        (public, "summary-public.json"),
    ):
        text = (where / name).read_text("utf-8")
        assert not [n for n in names if n in text], name
    for where, name in ((folder, "report.pdf"), (public, "report-public.pdf")):
        text = pdf_text(where, name)
        assert not [n for n in names if n in text], name


# --- the same run gives the same bytes; bad folders fail clearly ---------------------------


def test_the_same_run_gives_the_same_report(folder, public, tmp_path):
    for variant, first in ((False, folder), (True, public)):
        again = write_report(folder, public=variant, out=tmp_path / str(variant))
        for path in again:
            assert path.read_bytes() == (first / path.name).read_bytes(), path.name


def test_a_summary_from_an_older_version_is_refused(folder, tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    summary = json.loads((folder / "summary.json").read_text())
    del summary["by_decade"]
    (old / "summary.json").write_text(json.dumps(summary))
    shutil.copy(folder / "run.json", old / "run.json")
    with pytest.raises(ReportError, match="by_decade"):
        read_run(old)
    result = runner.invoke(app, ["report", "--run", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "not a run folder (no summary.json)" in result.output


def test_report_writes_where_it_is_told(folder, tmp_path):
    result = runner.invoke(app, ["report", "--run", str(folder), "--out", str(tmp_path / "x")])
    assert result.exit_code == 0, result.output
    assert {p.name for p in (tmp_path / "x").iterdir()} == {"report.html", "report.pdf"}
