"""The request schemas compiled to Python code by fastjsonschema (om_dsl/api/compiled.py)
answer as jsonschema does: on the example bodies of each version and kind,
and on bodies broken at random (a value replaced, a key dropped or added,
anywhere in the document). Whatever the compiled check does not compile is
left to jsonschema."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft7Validator

from om_dsl.api import schemas
from om_dsl.api.compiled import compile_check

from support import ROOT
from support.api_server import order_body

EXAMPLES = ["fiber-minimal.json", "new-fiber-every-option.json", "fiber-tv-ported-phone.json", "tv-alone.json"]


def bodies(version: str, kind: str) -> list:
    if kind == "create":
        return [order_body(name, version) for name in EXAMPLES] + [json.loads((ROOT / "examples" / "api" / f"order-{version}.json").read_text())]
    if kind == "patch":
        return [{"note": [{"text": "the customer called"}]}, {"state": "acknowledged"}, json.loads((ROOT / "examples" / "api" / "patch-v4.json").read_text())]
    if kind == "cancel":
        return [{"productOrder": {"id": "ORD-1"}, "cancellationReason": "moved"}, {"productOrder": {"id": "ORD-1", "href": "x", "@referredType": "ProductOrder"}}]
    return [{"callback": "http://127.0.0.1:9/events"}, {"callback": "http://127.0.0.1:9/events", "query": "eventType=ProductOrderStateChangeEvent"}]


KINDS = [(v, k) for v in ("v4", "v5") for k in ("create", "patch", "cancel", "hub")]


def agree(version: str, kind: str, body) -> None:
    reference = schemas.validator(version, schemas.REQUESTS[(version, kind)]).is_valid(body)
    assert schemas.check(version, kind)(body) == reference, (version, kind, json.dumps(body)[:400])
    assert (schemas.problem(version, kind, body) is None) == reference


@pytest.mark.parametrize(("version", "kind"), KINDS)
def test_every_request_schema_compiles_and_agrees_on_the_examples(version, kind):
    assert schemas.check(version, kind) is not None
    for body in bodies(version, kind):
        agree(version, kind, body)


def invalid_variants(version: str) -> list:
    """Orders each broken in one known way (an enum, a required field, a type, a v5 @type the discriminator names)."""
    out = []
    for change in (
        lambda d: d["productOrderItem"][0].update(action="upgrade"),
        lambda d: d["productOrderItem"][0].pop("action"),
        lambda d: d["productOrderItem"][0].pop("id"),
        lambda d: d.update(relatedParty={"id": "ACC-1"}),
        lambda d: d["productOrderItem"][0].update(quantity="two"),
        lambda d: d["relatedParty"][0].update({"@type": "PartyRef"} if version == "v5" else {"id": 7}),
        lambda d: d.update(productOrderItem=[]),
    ):
        body = order_body("fiber-minimal.json", version)
        change(body)
        out.append(body)
    return out


@pytest.mark.parametrize("version", ["v4", "v5"])
def test_orders_broken_in_known_ways_are_refused_by_both(version):
    refused = 0
    for body in invalid_variants(version):
        agree(version, "create", body)
        refused += not schemas.validator(version, schemas.REQUESTS[(version, "create")]).is_valid(body)
    assert refused >= 5  # (the variants do break the schema: the agreement is not on valid bodies alone)


VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.floats(allow_nan=False, allow_infinity=False, width=16) | st.sampled_from(["", "x", "add", "ProductOrder", "PartyRef", "acknowledged", "2026-12-01T10:00:00Z"]),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.sampled_from(["id", "@type", "action", "value", "name"]), inner, max_size=2),
    max_leaves=4,
)


def _paths(node, at=()):
    yield at
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, at + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, at + (i,))


def _broken(body, where: int, how: str, value, key: str):
    body = copy.deepcopy(body)
    paths = list(_paths(body))
    path = paths[where % len(paths)]
    if not path:
        return value if how == "replace" else body
    parent = body
    for p in path[:-1]:
        parent = parent[p]
    if how == "replace":
        parent[path[-1]] = value
    elif how == "drop" and isinstance(parent, dict):
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent[key] = value
    elif isinstance(parent, list):
        parent.append(value)
    return body


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(KINDS), st.integers(0, 10_000), st.integers(0, 10_000), st.sampled_from(["replace", "drop", "add"]), VALUES,
       st.sampled_from(["id", "@type", "state", "action", "productOffering", "relatedParty", "productOrderItem", "value", "query", "x"]), st.integers(1, 3))
def test_bodies_broken_at_random_are_judged_as_jsonschema_judges_them(kind, which, where, how, value, key, times):
    version, kind = kind
    options = bodies(version, kind)
    body = options[which % len(options)]
    for n in range(times):
        body = _broken(body, where + 7919 * n, how, value, key)
    agree(version, kind, body)


def test_what_is_not_compiled_is_left_to_jsonschema():
    assert compile_check(Draft7Validator({"properties": {"a": {"$ref": "#/definitions/missing"}}})) is None  # (a schema fastjsonschema cannot compile)
    from jsonschema import FormatChecker

    assert compile_check(Draft7Validator({"format": "date-time"}, format_checker=FormatChecker())) is None


def test_a_body_it_finds_invalid_is_judged_again_by_jsonschema():
    """Where the two disagree the compiled check says invalid and jsonschema decides: never the other way."""
    for schema, bodies_ in (({"type": "string", "pattern": "^a"}, ["abc", "xbc", 3]), ({"enum": [1, True]}, [1, True, 1.0, 0, False])):
        reference = Draft7Validator(schema)
        check = compile_check(reference)
        for body in bodies_:
            assert not check(body) or reference.is_valid(body), (schema, body)


def test_draft_7_meanings_are_kept():
    ref_beside = Draft7Validator({"definitions": {"s": {"type": "string"}}, "properties": {"a": {"$ref": "#/definitions/s", "type": "integer"}}})
    check = compile_check(ref_beside)
    for value in ("x", 1):  # $ref overrides its siblings in Draft 7
        assert check({"a": value}) == ref_beside.is_valid({"a": value})
    numbers = Draft7Validator({"properties": {"n": {"type": "integer"}, "b": {"type": "number"}}})
    check = compile_check(numbers)
    for body in ({"n": 1.0}, {"n": True}, {"b": False}, {"b": 2.5}, {"n": 1.5}):
        assert check(body) == numbers.is_valid(body), body
    recursive = Draft7Validator({"definitions": {"item": {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/definitions/item"}}}}}, "$ref": "#/definitions/item"})
    check = compile_check(recursive)
    for body in ({"items": [{"items": []}]}, {"items": [{"items": [1]}]}):
        assert check(body) == recursive.is_valid(body)
