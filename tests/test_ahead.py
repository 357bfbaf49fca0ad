"""Items made ahead on a thread come in order, and errors reach the caller."""

from __future__ import annotations

import pytest

from clearance._ahead import made_ahead


def test_items_come_in_order_all_of_them():
    assert list(made_ahead(iter(range(100)))) == list(range(100))
    assert list(made_ahead(iter([]))) == []


def test_an_error_while_making_an_item_is_raised_to_the_caller():
    def items():
        yield 1
        raise ValueError("line 7: wrong number of fields")

    got = []
    with pytest.raises(ValueError, match="line 7"):
        for item in made_ahead(items()):
            got.append(item)
    assert got == [1]


def test_a_caller_that_stops_early_closes_the_source():
    closed = []

    def items():
        try:
            yield from range(10)
        finally:
            closed.append(True)

    source = items()  # still referenced: only made_ahead can have closed it
    for item in made_ahead(source):
        if item == 2:
            break
    assert closed == [True]
