"""Small-cell suppression: no count under 11 is shown, and none can be worked out.

"Worked out" is tested the way an attacker would: from everything published (the
shown cells and the sums that tie them), is there another table of non-negative
whole counts in which a hidden cell has another value? If there is, the hidden
value cannot be recovered. The check here is a search of its own (a ±1 shift of the
hidden cells that keeps every sum), not the module's linear algebra.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clearance.report import figures
from clearance.report.suppress import THRESHOLD, Grid, Line, exposed, primary, suppress

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def shiftable(cell, values, relations, hidden) -> bool:
    """Another non-negative table, equal on every published cell and every sum,
    in which ``cell`` differs by one: a search over shifts of -1, 0, +1."""
    unknowns = sorted(hidden, key=str)
    sums = [
        [(1, c) for c in r.parts if c in hidden] + ([(-1, r.total)] if r.total in hidden else [])
        for r in relations
    ]
    sums = [s for s in sums if s]
    order = [cell] + [c for c in unknowns if c != cell]
    shift: dict = {}

    def feasible() -> bool:
        for s in sums:
            total = sum(sign * shift[c] for sign, c in s if c in shift)
            open_ = sum(1 for _, c in s if c not in shift)
            if abs(total) > open_:
                return False
        return True

    def search(i: int) -> bool:
        if i == len(order):
            return True
        c = order[i]
        options = (1, -1) if i == 0 else (0, 1, -1)
        for step in options:
            if values[c] + step < 0:
                continue
            shift[c] = step
            if feasible() and search(i + 1):
                return True
            del shift[c]
        return False

    return search(0)


def check(values, tables):
    hidden = suppress(values, tables)
    relations = [r for t in tables for r in t.relations()]
    assert primary(values) <= hidden
    assert all(not 0 < values[c] < THRESHOLD for c in values if c not in hidden)
    assert not exposed(relations, hidden)
    for cell in hidden:
        assert shiftable(cell, values, relations, hidden), cell
    return hidden


counts = st.one_of(st.integers(0, 12), st.integers(11, 80))


@st.composite
def grid(draw, rows=None, columns=None, prefix="a"):
    n_rows = rows or draw(st.integers(1, 4))
    n_columns = columns or draw(st.integers(1, 4))
    inner = [[draw(counts) for _ in range(n_columns)] for _ in range(n_rows)]
    return _grid(inner, prefix)


def _grid(inner, prefix, totals=None):
    values = {}
    rows = []
    for r, row in enumerate(inner):
        keys = []
        for c, value in enumerate(row):
            values[(prefix, r, c)] = value
            keys.append((prefix, r, c))
        values[(prefix, r, "total")] = sum(row)
        rows.append((*keys, (prefix, r, "total")))
    columns = [sum(col) for col in zip(*inner, strict=True)]
    totals = totals or (*(("margin", c) for c in range(len(columns))), ("all",))
    for key, value in zip(totals, [*columns, sum(columns)], strict=True):
        values[key] = value
    return values, Grid(tuple(rows), totals)


@SETTINGS
@given(grid())
def test_a_table_with_totals_hides_every_small_count_unrecoverably(table):
    values, tables = table[0], [table[1]]
    check(values, tables)


@SETTINGS
@given(st.lists(counts, min_size=1, max_size=7))
def test_a_list_with_its_total_hides_every_small_count_unrecoverably(parts):
    values = {("part", i): v for i, v in enumerate(parts)}
    values[("total",)] = sum(parts)
    hidden = check(values, [Line(tuple(k for k in values if k[0] == "part"), ("total",))])
    assert len(hidden) != 1  # one hidden cell in a sum would be its total minus the rest


@st.composite
def linked(draw):
    """Two tables that split the same convictions two ways: they share column totals."""
    first_values, first = draw(grid(columns=3, prefix="a"))
    margins = [first_values[("margin", c)] for c in range(3)]
    n_rows = draw(st.integers(1, 3))
    columns = []
    for total in margins:
        cuts = sorted(
            draw(st.lists(st.integers(0, total), min_size=n_rows - 1, max_size=n_rows - 1))
        )
        bounds = [0, *cuts, total]
        columns.append([bounds[i + 1] - bounds[i] for i in range(n_rows)])
    inner = [list(row) for row in zip(*columns, strict=True)]
    second_values, second = _grid(inner, "b", totals=first.totals)
    headline = Line(first.totals[:-1], first.totals[-1])
    return {**first_values, **second_values}, [headline, first, second]


@SETTINGS
@given(linked())
def test_tables_sharing_totals_are_protected_together(case):
    values, tables = case
    check(values, tables)


def test_the_classic_rectangle():
    values, table = _grid([[5, 20], [30, 40]], "a")
    assert suppress(values, [table]) == {("a", 0, 0), ("a", 0, 1), ("a", 1, 0), ("a", 1, 1)}


def test_nothing_small_nothing_hidden():
    values, table = _grid([[15, 20], [30, 40]], "a")
    assert suppress(values, [table]) == set()


def test_a_zero_is_shown_and_a_zero_is_the_last_complement():
    values = {"a": 5, "b": 0, "c": 30, "t": 35}
    assert suppress(values, [Line(("a", "b", "c"), "t")]) == {"a", "c"}


def test_the_same_figures_give_the_same_cells():
    values, table = _grid([[5, 20, 3], [30, 40, 12], [11, 2, 50]], "a")
    first = suppress(values, [table])
    assert all(suppress(dict(values), [table]) == first for _ in range(3))


@pytest.fixture(scope="module")
def demo_summary(tmp_path_factory):
    import datetime as dt

    from clearance.policy import load_policy
    from clearance.run import run
    from clearance.sample import SAMPLE_COUNTY, sample_path

    out = tmp_path_factory.mktemp("suppress") / "demo"
    result = run(
        [sample_path()],
        county=SAMPLE_COUNTY,
        policy=load_policy("statute"),
        as_of=dt.date(2020, 7, 1),
        out=out,
        report=False,
    )
    return json.loads((result.out / "summary.json").read_text())


def test_the_demo_summary_is_protected(demo_summary):
    values, tables = figures.cells_and_sums(demo_summary)
    hidden = figures.hidden_cells(demo_summary)
    relations = [r for t in tables for r in t.relations()]
    assert primary(values) <= hidden
    assert not exposed(relations, hidden)
    public = figures.public_summary(demo_summary, hidden)
    # The copy for open-data portals hides the same cells, aliases included.
    review = demo_summary["by_determination"]["review"]
    assert review < THRESHOLD and public["by_determination"]["review"] is None
    for reason, n in demo_summary["review_by_reason"].items():
        hidden_original = ("by_reason_determination", reason, "review") in hidden
        assert (public["review_by_reason"][reason] is None) == hidden_original, n
    assert public["rows"] == demo_summary["rows"]  # lines of the file, not people
