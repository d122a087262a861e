"""Rejections as TMF622 Errors (om_dsl/tmf622/errors.py): each problem keeps
its item, rule and JSON pointer, gets a code, reason and status, and
validates against the Error schema of both versions."""

from __future__ import annotations

import re

import pytest

from om_dsl.check import check_paths
from om_dsl.lower import lower
from om_dsl.planning.intake import parse_document
from om_dsl.planning.order import Problem, Rejected
from om_dsl.planning.pipeline import plan_order
from om_dsl.rules.interpreter import Interpreter
from om_dsl.tmf622 import errors as TE

from support import ROOT
from support.tmf622_schemas import errors_of

INVALID = sorted((ROOT / "examples" / "orders").glob("invalid-*.json"))


@pytest.fixture(scope="module")
def rejections():
    result = check_paths([str(ROOT / "specs")])
    catalog = lower(result.catalog("acme"))
    rules = Interpreter(catalog)
    out = {}
    for path in INVALID:
        try:
            plan_order(catalog, rules, parse_document(path.read_text(encoding="utf-8")))
        except Rejected as exc:
            out[path.name] = exc
    assert set(out) == {p.name for p in INVALID}  # each is rejected
    return out


@pytest.mark.parametrize("version", ["v4", "v5"])
def test_every_rejection_of_the_invalid_examples_is_a_valid_tmf_error(rejections, version):
    for name, rejected in rejections.items():
        for problem, err in zip(rejected.problems, TE.errors(rejected, version)):
            assert errors_of(version, "Error", err) == [], name
            assert err["code"] == problem.rule.split(":")[0]
            assert f"(rule: {problem.rule})" in err["message"]
            if problem.item:
                assert f"order item {problem.item}" in err["message"]
            if problem.path:
                assert f"[at {problem.path}]" in err["message"]
        assert errors_of(version, "Error", TE.response(rejected, version)) == []


def test_codes_reasons_and_statuses():
    e = TE.error(Problem("validation:VOICE_LINE.port_in_requires_number", "port_in requires phone_number", "5", "VOICE_LINE", "/productOrderItem/0/productOrderItem/3"))
    assert (e["code"], e["status"], e["@type"]) == ("validation", "400", "Error")
    assert e["message"] == "order item 5 (VOICE_LINE): port_in requires phone_number (rule: validation:VOICE_LINE.port_in_requires_number) [at /productOrderItem/0/productOrderItem/3]"
    assert TE.error(Problem("asset_in_flight", "busy"))["status"] == "409"
    assert TE.error(Problem("input_limit", "too big"))["status"] == "413"
    assert TE.error(Problem("some_future_rule", "x"))["status"] == "400"
    with pytest.raises(ValueError):
        TE.error(Problem("required", "x"), "v3")


def test_one_response_for_many_problems():
    rejected = Rejected([Problem("required", "a", "1", "HOME_FIBER", "/productOrderItem/0"), Problem("asset_in_flight", "b", "2", "WIFI_ROUTER", "/productOrderItem/1")])
    r = TE.response(rejected, "v5")
    assert r["code"] == "required" and r["status"] == "409" and "1 more problem" in r["reason"]
    assert r["message"].splitlines() == [p.render() for p in rejected.problems]


def test_every_rule_om_raises_has_a_reason():
    """A rule literal anywhere in om_dsl (Problem("rule", ...), problem("rule", ...)) is in REASONS."""
    found = set()
    for path in (ROOT / "om_dsl").rglob("*.py"):
        found |= set(re.findall(r'(?:Problem|problem|_problem)\(\s*"([a-z_]+)"', path.read_text(encoding="utf-8")))
    assert found and found - set(TE.REASONS) == set()
