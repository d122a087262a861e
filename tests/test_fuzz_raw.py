"""Fuzz: raw JSON TEXT from outside (not parsed dicts) gives a clean rejection
or a usage error, never another exception and never a hang.

Three doors: an order (parse_document, then planning against the Acme
catalog, then its text and JSON output), the `--data` pairs of `om tasks
complete` (limits.parse_data) and the orders folder of `om diff --orders`.
The text is arbitrary, JSON-like token soup, example orders mutated, or an
example order with one value replaced by an extreme literal.

Each example runs under a watchdog (faulthandler): a conversion stuck in C
(`int(Decimal("1e999999"))`) cannot be interrupted, so the process is ended
with every thread's traceback rather than left hanging. OM_FUZZ_EXAMPLES
sets how many examples each test runs (default sized for a fast suite).
"""

from __future__ import annotations

import contextlib
import faulthandler
import json
import os
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from om_dsl.diff import diff, load_side, to_json, to_text
from om_dsl.limits import parse_data
from om_dsl.planning import report
from om_dsl.planning.intake import parse_document
from om_dsl.planning.order import Rejected
from om_dsl.planning.pipeline import plan_order
from om_dsl.rules.interpreter import Interpreter

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "examples" / "orders").glob("*.json"))]

EXAMPLES_PER_TEST = int(os.environ.get("OM_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES_PER_TEST, deadline=None, suppress_health_check=list(HealthCheck), database=None)
WATCHDOG_S = 120  # a hang detector, not a timing assert: far above any example on a loaded machine

EXTREMES = [
    "1e999999",
    "-1e-999999",
    "1E+99999",
    "1" + "0" * 5000,
    "-" + "9" * 4301,
    "0." + "0" * 60 + "1",
    "9" * 41,
    "1e101",
    "NaN",
    "Infinity",
    "-Infinity",
    "[" * 100_000,
    '{"a":' * 50_000,
    '"\\ud800"',
    '"x\\udfffy"',
    '"\\udc00\\ud800"',
    '"' + "x" * 70_000 + '"',
    '"1e999999"',
    '"' + "9" * 5000 + '"',
    '"a\\nforged line"',
    '"\\u0000"',
    '"\\u2028"',
    '"\\u0085"',
    '"\\u001b[2J"',
    '"' + "i" * 300 + '"',
    "-0",
    "1.5e-7",
    "true",
    "null",
    "[]",
    "{}",
]
TOKENS = ['{', '}', '[', ']', ':', ',', '"', '"id"', '"productOrderItem"', '"productOffering"', '"product"', '"productCharacteristic"', '"name"', '"value"', '"action"', '"add"', '"HOME_FIBER"', '"speed_mbps"', "300", " ", "\n", "\\"] + EXTREMES[:12]

# A JSON value token of an example: a string, a number, a literal.
_VALUE = re.compile(r'"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null')


@contextlib.contextmanager
def watchdog():
    faulthandler.dump_traceback_later(WATCHDOG_S, exit=True)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


@pytest.fixture(scope="module")
def acme():
    side = load_side(str(ROOT / "generated" / "acme"))
    return side, Interpreter(side.catalog)


# ---- what each door must do ------------------------------------------------------------------------


def assert_order_door(acme, text) -> None:
    """An order: planned and printed, or rejected with problems that print on one line each."""
    side, rules = acme
    try:
        doc = parse_document(text)
        planned = plan_order(side.catalog, rules, doc)
    except Rejected as exc:
        assert exc.problems
        for p in exc.problems:
            assert isinstance(p.rule, str) and p.rule and isinstance(p.message, str) and p.message
        shown = report.rejection_text(exc, None)
        assert len(shown.splitlines()) == 1 + len(exc.problems)  # nothing forged a line of its own
        shown.encode("utf-8")
        report.to_json(report.rejected_data(exc, None)).encode("utf-8")
        return
    report.to_text(planned).encode("utf-8")
    report.to_json(report.planned_data(planned)).encode("utf-8")


def assert_data_door(text) -> None:
    """`--data key=TEXT`: outputs that can be stored (JSON, UTF-8), or a ValueError (a usage error)."""
    try:
        outputs = parse_data(("serial=" + text,))
    except ValueError as exc:
        assert str(exc)
        return
    json.dumps(outputs, allow_nan=False).encode("utf-8")


def assert_diff_door(acme, tmp_path_factory, raw: bytes) -> None:
    """`om diff --orders`: the order is planned on both sides, accepted or rejected, and the report prints."""
    side, _ = acme
    folder = tmp_path_factory.mktemp("orders")
    (folder / "fuzz.json").write_bytes(raw)
    result = diff(side, side, str(folder))
    [order] = result.orders
    assert order.old.status in ("accepted", "rejected") and order.old == order.new
    to_text(result).encode("utf-8")
    to_json(result).encode("utf-8")


def through_every_door(acme, tmp_path_factory, text: str) -> None:
    with watchdog():
        assert_order_door(acme, text)
        assert_data_door(text)
        assert_diff_door(acme, tmp_path_factory, text.encode("utf-8", "surrogatepass"))


# ---- strategies ----------------------------------------------------------------------------------


ANY_TEXT = st.text(st.characters(blacklist_categories=()), max_size=300)  # surrogates included
SOUP = st.lists(st.sampled_from(TOKENS), max_size=60).map("".join)


@st.composite
def mutated_example(draw):
    text = draw(st.sampled_from(EXAMPLES))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        how = draw(st.sampled_from(["insert", "delete", "replace"]))
        if how == "insert":
            text = text[:at] + draw(st.sampled_from(TOKENS + EXTREMES)) + text[at:]
        elif how == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 40)):]
        else:
            text = text[:at] + draw(st.text(max_size=5)) + text[at + 5:]
    return text


@st.composite
def example_with_an_extreme(draw):
    """An example order with one of its values (an id, a code, a characteristic...) replaced by an extreme literal."""
    text = draw(st.sampled_from(EXAMPLES))
    values = list(_VALUE.finditer(text))
    if not values:
        return text
    m = draw(st.sampled_from(values))
    return text[: m.start()] + draw(st.sampled_from(EXTREMES)) + text[m.end():]


# ---- the fuzz --------------------------------------------------------------------------------------


@pytest.mark.parametrize("literal", EXTREMES)
def test_every_extreme_literal_alone(acme, tmp_path_factory, literal):
    through_every_door(acme, tmp_path_factory, literal)


@FUZZ
@given(ANY_TEXT)
def test_arbitrary_text(acme, tmp_path_factory, text):
    through_every_door(acme, tmp_path_factory, text)


@FUZZ
@given(SOUP)
def test_json_token_soup(acme, tmp_path_factory, text):
    through_every_door(acme, tmp_path_factory, text)


@FUZZ
@given(mutated_example())
def test_mutated_example_orders(acme, tmp_path_factory, text):
    through_every_door(acme, tmp_path_factory, text)


@FUZZ
@given(example_with_an_extreme())
def test_example_orders_with_an_extreme_value(acme, tmp_path_factory, text):
    through_every_door(acme, tmp_path_factory, text)


def test_every_value_of_an_example_replaced_by_every_extreme(acme, tmp_path_factory):
    """Exhaustive over one example: each of its values, each extreme (the order door only: it is the deep one)."""
    text = (ROOT / "examples" / "orders" / "fiber-tv-ported-phone.json").read_text(encoding="utf-8")
    with watchdog():
        for m in _VALUE.finditer(text):
            for literal in EXTREMES:
                assert_order_door(acme, text[: m.start()] + literal + text[m.end():])
