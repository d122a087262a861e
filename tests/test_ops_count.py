"""ops.count, which generated and interpreted rules share: the items that are not null."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from om_dsl.rules import ops

_VALUES = st.none() | st.integers() | st.text(max_size=3) | st.booleans()


@given(st.lists(_VALUES, max_size=8))
def test_count_is_the_values_that_are_not_null(xs):
    expected = sum(1 for x in xs if x is not None)
    assert ops.count(xs) == expected
    assert ops.count(tuple(xs)) == expected  # a list or a tuple: counted in C
    assert ops.count(iter(xs)) == expected  # any other iterable: one by one


def test_count_of_null_is_zero():
    assert ops.count(None) == 0
    assert ops.count([None, None]) == 0
    assert ops.count([0, False, ""]) == 3  # falsy values are values
