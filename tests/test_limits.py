"""om_dsl.limits: JSON from outside is read within bounds, or refused with a reason."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from om_dsl import limits
from om_dsl.limits import InputLimit, load_json


@pytest.mark.parametrize(
    "text,reason",
    [
        ("1e999999", "exponent"),
        ("-1e-999999", "exponent"),
        ("[1E+101]", "exponent"),
        ('{"a": ' + "9" * 5000 + "}", "5000 digits"),
        ("0." + "1" * 41, "41 digits"),
        ("[" * 100_000, "nests deeper"),
        ("[" * 65 + "]" * 65, "nests deeper"),
        ('"\\ud800"', "lone surrogate"),
        ('{"\\udfff": 1}', "lone surrogate"),
        ("NaN", "not a JSON number"),
        ("[-Infinity]", "not a JSON number"),
        (b"\xff\xfe", "not UTF-8"),
        ('"' + "x" * (limits.MAX_STRING + 1) + '"', "characters"),
    ],
)
def test_input_past_a_limit_is_refused_with_its_reason(text, reason):
    with pytest.raises(InputLimit) as exc:
        load_json(text, decimals=True)
    assert reason in str(exc.value)


def test_the_pointer_names_where():
    with pytest.raises(InputLimit) as exc:
        load_json('{"items": [{"id": "\\ud800"}]}')
    assert exc.value.path == "/items/0/id"


def test_within_the_limits_it_reads_as_json_does():
    text = '{"a": [1, 2.5, -3e2, "x", true, null], "b": {"c": ' + "9" * limits.MAX_DIGITS + "}}"
    assert load_json(text) == json.loads(text)
    assert load_json(text, decimals=True)["a"][1] == Decimal("2.5")
    assert load_json("[" * limits.MAX_DEPTH + "]" * limits.MAX_DEPTH) is not None


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet='[]{}",:0123456789eE.+-tnufalsr \\u', max_size=200))
def test_any_text_is_read_or_refused_as_a_value_error(text):
    try:
        load_json(text, decimals=True)
    except ValueError:  # InputLimit and json.JSONDecodeError alike
        pass


@pytest.mark.parametrize("value", ["ORD-1\nforged line", "a\x00b", "x" * (limits.MAX_ID + 1), "a\u2028b"])
def test_ids_with_control_characters_or_past_the_length_are_refused(value):
    with pytest.raises(InputLimit):
        limits.check_id(value)


def test_ordinary_ids_pass():
    limits.check_id("ORD-1004")
    limits.check_id("urn:acme:order:1/2")


def _takes(value: str) -> bool:
    try:
        limits.check_id(value)
    except InputLimit:
        return False
    return value != ""


@given(st.text(max_size=300) | st.text(alphabet=st.sampled_from("a\x00\x1f\x7f\x80\x9f\u2028\u2029\u00a0\u200b\ud800 "), max_size=5))
@settings(max_examples=500)
def test_plain_id_is_check_id_on_a_non_empty_id(value):
    """plain_id answers printable text without the match: it still takes exactly what check_id takes."""
    assert limits.plain_id(value) == _takes(value)


@pytest.mark.parametrize("value", ["", "x" * 257, "a\nb", "a\x85", "a\u2028", "\u00a0", "\u200b", "x" * 256, "ORD-1"])
def test_plain_id_at_the_edges(value):
    assert limits.plain_id(value) == _takes(value)
