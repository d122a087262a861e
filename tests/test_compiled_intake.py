"""Intake through generated code (planner.py's item__P, om_dsl/planning/compiled_intake.py)
against the reference intake (om_dsl/planning/intake.py), on every catalog of specs/, the
catalog of every expression form and a catalog whose products nest in a cycle.

The fast path reads an order of plainly added items; on anything else it hands the
order to the reference. So: on orders hypothesis breaks in every way the reference
checks, both must make the same Order, field for field, or the same rejection (item,
rule, message, JSON pointer), and the whole plan must agree with the interpreter's; on
the usual order, the fast path must be the one that reads it.
"""

from __future__ import annotations

import copy
import json
from decimal import Decimal

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_differential import SETTINGS, acme_orders, exprs_orders
from test_differential_catalogs import catalogs, installed_from, mobile_orders  # noqa: F401 (catalogs: the fixture)

from om_dsl.build import build, write
from om_dsl.codegen.planner import ITEM_FIELDS, LINE_FIELDS
from om_dsl.planning.compiled import planner_of
from om_dsl.planning.compiled_intake import order_of
from om_dsl.planning.intake import intake
from om_dsl.planning.order import FulfillmentLine, OrderItem, Rejected
from om_dsl.planning.pipeline import plan_order
from om_dsl.planning.report import planned_data, rejected_data, to_json
from om_dsl.rules.generated import GeneratedRules
from om_dsl.rules.interpreter import Interpreter

from support import ROOT

ORDERS = ROOT / "examples" / "orders"

NEST = """catalog nest version "1"

commercial BOX "Box" root {
  attr size: int in 1..9 = 1
  has CRATE [0..2]
  has TAG [0..1]
}

commercial CRATE "Crate" child {
  attr label: string optional
  has BOX [0..1]
  has TAG [0..1]
}

commercial TAG "Tag" child {
  attr text: string optional
}

technical BOX_RFS "Box" rfs {
  attr size: int required
}

decompose N1: BOX -> BOX_RFS {
  size = size
}
"""


def _compiled(tmp_path_factory, specs):
    result = build([str(specs)])
    assert result.ok
    out = tmp_path_factory.mktemp("generated")
    write(out, result.files())
    return {c.name: (GeneratedRules(out / c.name), Interpreter(c)) for c in result.catalogs}


@pytest.fixture(scope="module")
def exprs(tmp_path_factory):
    return _compiled(tmp_path_factory, ROOT / "tests" / "fixtures" / "exprs")["exprs"]


@pytest.fixture(scope="module")
def nest(tmp_path_factory):
    specs = tmp_path_factory.mktemp("nest")
    (specs / "catalog.om").write_text(NEST)
    return _compiled(tmp_path_factory, specs)["nest"]


# ---- comparing the two intakes ----------------------------------------------------------------


def typed(value):
    """A value with the type of every leaf: 1, 1.0, True and Decimal("1") all differ."""
    if isinstance(value, dict):
        return [(k, typed(v)) for k, v in value.items()]
    if isinstance(value, (list, tuple)):
        return [typed(v) for v in value]
    return (type(value).__name__, repr(value))


def shape(order) -> list:
    """Everything intake makes, in order, parents and children by id."""
    items = [
        (i.id, i.product, i.action, typed(i.values), i.path, i.parent.id if i.parent else None, [c.id for c in i.children], i.asset_id, i.enriched, i.implicit, i.unit, i.relies_on, typed(i.request))
        for i in order.items
    ]
    fields = {k: v for k, v in order.fields.items() if k not in ("items", "root_items")}
    return [typed(fields), [i.id for i in order.fields["items"]], [i.id for i in order.fields["root_items"]], items]


def read(rules, doc, fast: bool, order_id="ORD-T"):
    try:
        order = intake(rules.catalog, copy.deepcopy(doc), order_id, None, planner_of(rules) if fast else None)
    except Rejected as exc:
        return ["rejected", [attrs.astuple(p) for p in exc.problems]]
    return ["order", shape(order)]


def agree(generated, interpreter, doc, installed=None) -> str:
    """The whole plan (or rejection) alike through the generated modules and the interpreter
    (the documents are copied, not sent through JSON: a broken one may hold a Decimal)."""
    texts = []
    for rules in (generated, interpreter):
        try:
            texts.append(to_json(planned_data(plan_order(rules.catalog, rules, copy.deepcopy(doc), "ORD-T", installed))))
        except Rejected as exc:
            texts.append(to_json(rejected_data(exc, "ORD-T")))
    assert texts[0] == texts[1]
    return texts[0]


def same_intake(rules, doc, order_id="ORD-T"):
    fast, reference = read(rules, doc, True, order_id), read(rules, doc, False, order_id)
    assert fast == reference
    return fast


# ---- breaking orders ----------------------------------------------------------------------------

_VALUES = [None, 0, 1, 7, -2, 2.5, "1", " 12 ", "300", "x", "", True, False, "true", "FALSE", [], {}, [1], "2026-01-31", "2026-02-30", Decimal("1.0"), Decimal("1e999"), "1e5", float("nan")]

_ITEM_BREAKS = {
    "id": [7, True, "", "x" * 300, "a\nb", "a\u2028b", "order", None, "é/:#@-%", {"x": 1}],
    "action": ["modify", "delete", "noChange", None, "ADD", 3, "add", ["add"]],
    "quantity": [1, 2, 0, -1, True, "1", 1.0, Decimal("1"), None, 10**7],
    "productOffering": [None, "HOME_FIBER", {}, [], {"id": 5}, {"id": ""}, {"id": "NOPE"}, {"id": "FIBER_ACCESS_CFS"}, {"id": "BILLING_RFS"}],
    "product": [None, [], "x", {}, {"id": "AST-1"}, {"id": None}, {"id": 5}, {"productCharacteristic": None}, {"productCharacteristic": {}}, {"productCharacteristic": []},
                {"productSpecification": {"id": "HOME_FIBER"}}],
    "productOrderItem": [None, {}, [], "x", [None], [7]],
    "productOrderItemRelationship": [None, [], "x", [{"id": "1", "relationshipType": "bundles"}], [{"id": "2", "relationshipType": "reliesOn"}], [{"id": "1", "relationshipType": "contains"}]],
    "state": ["completed"],
    "href": ["/x"],
    "@type": ["ProductOrderItem"],
}

_ORDER_BREAKS = {
    "productOrderItem": [[], {}, None, "x"],
    "relatedParty": ["x", [], [{"role": "customer"}], [{"id": 5, "role": "customer"}], [{"id": "a\nb", "role": "customer"}], [{"id": "ACC-9", "@referredType": "Customer"}]],
    "priority": ["9", 2, None, "", 2.0],
    "requestedStartDate": ["yesterday", 5, "2026-02-30", "2026-01-01T10:00:00+01:00", None],
    "requestedCompletionDate": ["2026-13-01", "2026-01-01", "2026-01-01T10:00"],
    "externalId": [[], [{"id": "X"}], ["x"], 5, "x" * 300, [{"id": "a\nb"}]],
    "billingAccount": [{"id": "BA"}, "BA", {}, {"id": 5}],
    "requestedInitialState": ["draft", "x", "acknowledged"],
    "@schemaLocation": ["https://example.com/TMF622/v5/ProductOrder.json", "v4"],
    "state": ["completed"],
    "category": [["x"], "b2b", "a\tb"],
}


def _items(tree: list) -> list:
    out = []
    for raw in tree:
        out.append(raw)
        if isinstance(raw, dict) and isinstance(raw.get("productOrderItem"), list):
            out.extend(_items(raw["productOrderItem"]))
    return out


@st.composite
def broken(draw, orders, codes: list[str], names: list[str]):
    """A valid-looking order of the strategy, broken in one to three ways."""
    doc = draw(orders)
    for _ in range(draw(st.integers(1, 3))):
        items = [i for i in _items(doc.get("productOrderItem") or []) if isinstance(i, dict)]
        where = draw(st.sampled_from(["item", "item", "item", "char", "char", "move", "add", "order", "order"])) if items else "order"
        if where == "order":
            key = draw(st.sampled_from(sorted(_ORDER_BREAKS)))
            doc[key] = copy.deepcopy(draw(st.sampled_from(_ORDER_BREAKS[key])))
            continue
        it = draw(st.sampled_from(items))
        if where == "item":
            key = draw(st.sampled_from(sorted(_ITEM_BREAKS)))
            if draw(st.booleans()) and key in it:
                del it[key]
            else:
                it[key] = copy.deepcopy(draw(st.sampled_from(_ITEM_BREAKS[key])))
            if key == "id" and draw(st.booleans()):
                it["id"] = draw(st.sampled_from(items)).get("id")  # a duplicate, now and then
        elif where == "char":
            product = it.setdefault("product", {}) if isinstance(it.get("product", {}), dict) else {}
            chars = product.setdefault("productCharacteristic", []) if isinstance(product.get("productCharacteristic", []), list) else []
            how = draw(st.sampled_from(["set", "set", "twice", "odd", "drop"]))
            if how == "set":
                chars.append({"name": draw(st.sampled_from(names)), "value": draw(st.sampled_from(_VALUES))})
            elif how == "twice" and chars:
                chars.append(copy.deepcopy(draw(st.sampled_from(chars))))
            elif how == "odd":
                chars.append(draw(st.sampled_from([None, "speed", {"value": 1}, {"name": 5, "value": 1}, {"name": "speed_mbps"}])))
            elif chars:
                chars.pop(draw(st.integers(0, len(chars) - 1)))
        elif where == "move" and isinstance(doc.get("productOrderItem"), list):
            parents = [i for i in items if isinstance(i.get("productOrderItem"), list) and i["productOrderItem"]]
            if parents:  # a child to the top, or a top item under another
                parent = draw(st.sampled_from(parents))
                doc["productOrderItem"].append(parent["productOrderItem"].pop(0))
            elif len(doc["productOrderItem"]) > 1 and isinstance(doc["productOrderItem"][0], dict) and isinstance(doc["productOrderItem"][0].get("productOrderItem", []), list):
                doc["productOrderItem"][0].setdefault("productOrderItem", []).append(doc["productOrderItem"].pop())  # (not under an item whose children a break made null)
        else:  # another item under this one (a wrong child, one too many...)
            kid = {"id": f"N{len(items)}", "action": "add", "productOffering": {"id": draw(st.sampled_from(codes))}}
            if isinstance(it.get("productOrderItem", []), list):
                it.setdefault("productOrderItem", []).append(kid)
    return doc


def _names(rules) -> list[str]:
    return sorted({a.name for p in rules.catalog.products for a in p.attributes} | {"nope"})


def _codes(rules) -> list[str]:
    return sorted(p.code for p in rules.catalog.products) + ["NOPE"]


def _broken_alike(generated, interpreter, orders, data):
    doc = data.draw(broken(orders, _codes(generated), _names(generated)))
    same_intake(generated, doc, data.draw(st.sampled_from(["ORD-T", None])))
    agree(generated, interpreter, doc)


@SETTINGS
@given(data=st.data())
def test_broken_acme_orders_read_alike(catalogs, data):  # noqa: F811
    """Same Order or same rejection, whichever intake reads the order; and the same plan as the interpreter's."""
    _broken_alike(*catalogs["acme"][:2], acme_orders(), data)


@SETTINGS
@given(data=st.data())
def test_broken_mobile_orders_read_alike(catalogs, data):  # noqa: F811
    _broken_alike(*catalogs["mobile"][:2], mobile_orders(), data)


@SETTINGS
@given(data=st.data())
def test_broken_orders_of_every_expression_form_read_alike(exprs, data):
    _broken_alike(*exprs, exprs_orders(), data)


def single_breaks(doc: dict, names: list[str]):
    """Every order with one field broken: each item's fields and characteristics, each order field."""
    for key, values in _ORDER_BREAKS.items():
        for value in [*values, _ABSENT]:
            yield _changed(doc, None, key, value)
    for n in range(len(_items(doc["productOrderItem"]))):
        for key, values in _ITEM_BREAKS.items():
            for value in [*values, _ABSENT]:
                yield _changed(doc, n, key, value)
        for name in names:
            for value in _VALUES:
                changed = copy.deepcopy(doc)
                it = _items(changed["productOrderItem"])[n]
                it.setdefault("product", {}).setdefault("productCharacteristic", []).append({"name": name, "value": value})
                yield changed


_ABSENT = object()


def _changed(doc, n, key, value):
    changed = copy.deepcopy(doc)
    target = changed if n is None else _items(changed["productOrderItem"])[n]
    if value is _ABSENT:
        target.pop(key, None)
    else:
        target[key] = copy.deepcopy(value)
    return changed


@pytest.mark.parametrize("path", ["new-fiber-every-option.json", "fiber-tv-ported-phone.json", "mobile/sim-handset-port.json"])
def test_every_single_break_of_an_example_order_reads_alike(catalogs, path):  # noqa: F811
    """Systematically, beside hypothesis: one field at a time, every break of the tables above."""
    generated, interpreter, _ = catalogs["mobile" if path.startswith("mobile/") else "acme"]
    doc = json.loads((ORDERS / path).read_text())
    outcomes = set()
    for changed in single_breaks(doc, _names(generated)):
        outcomes.add(same_intake(generated, changed)[0])
    assert outcomes == {"order", "rejected"}


@SETTINGS
@given(data=st.data())
def test_the_usual_order_is_read_by_the_generated_code(catalogs, exprs, data):  # noqa: F811
    """Every order the reference accepts that is plainly added, nested and without quantities, the
    fast path reads itself (and makes the same Order: test above)."""
    pairs = {"acme": (catalogs["acme"][0], acme_orders()), "mobile": (catalogs["mobile"][0], mobile_orders()), "exprs": (exprs[0], exprs_orders())}
    name = data.draw(st.sampled_from(sorted(pairs)))
    generated, orders = pairs[name]
    doc = data.draw(orders)
    accepted = same_intake(generated, doc)[0] == "order"
    assert (order_of(copy.deepcopy(doc), "ORD-T", planner_of(generated), generated.catalog) is not None) == accepted


@pytest.mark.parametrize("path", ["new-fiber-every-option.json", "fiber-tv-ported-phone.json", "fiber-minimal.json", "tv-alone.json", "mobile/sim-handset-port.json"])
def test_the_example_orders_are_read_by_the_generated_code(catalogs, path):  # noqa: F811
    generated, _, _ = catalogs["mobile" if path.startswith("mobile/") else "acme"]
    doc = json.loads((ORDERS / path).read_text())
    assert order_of(copy.deepcopy(doc), "ORD-T", planner_of(generated), generated.catalog) is not None
    assert same_intake(generated, doc)[0] == "order"


def test_what_the_generated_code_does_not_read_goes_to_the_reference(catalogs):  # noqa: F811
    """A quantity of an item with children, a modify, an id not a string, units past om's
    limit: the reference reads each, and says the same."""
    generated, interpreter, _ = catalogs["acme"]
    module = planner_of(generated)
    doc = json.loads((ORDERS / "new-fiber-every-option.json").read_text())
    for n, change in ((0, {"quantity": 2}), (1, {"action": "modify"}), (1, {"id": 1}), (1, {"quantity": 10_001})):
        changed = copy.deepcopy(doc)
        changed["productOrderItem"][n].update(change)
        assert order_of(copy.deepcopy(changed), "ORD-T", module, generated.catalog) is None
        same_intake(generated, changed)
        agree(generated, interpreter, changed)


@pytest.mark.parametrize("where, n", [((1,), 3), ((0, 4), 2), ((0, 2), 3), ((0, 2), 2), ((0, 1), 1)])
def test_a_quantity_of_an_item_without_children_is_read_by_the_generated_code(catalogs, where, n):  # noqa: F811
    """Its units (`ID~k`, unit (k, N), the request's `units`) as the reference makes them, the
    parent's cardinality counting them: 2 units of a mesh extender beside another, allowed
    (3); 3, refused, as 2 units of a phone line beside another (at most 2)."""
    generated, interpreter, _ = catalogs["acme"]
    doc = json.loads((ORDERS / "new-fiber-every-option.json").read_text())
    raw = doc["productOrderItem"][where[0]]
    for k in where[1:]:
        raw = raw["productOrderItem"][k]
    raw["quantity"] = n
    refused = (where, n) in (((0, 2), 3), ((0, 4), 2))
    assert (order_of(copy.deepcopy(doc), "ORD-T", planner_of(generated), generated.catalog) is None) is refused
    read = same_intake(generated, doc)
    assert (read[0] == "rejected") is refused
    text = agree(generated, interpreter, doc)
    if not refused and n > 1:
        assert f'"{raw["id"]}~{n}"' in text


def test_a_flat_order_is_read_through_the_generated_coercion(catalogs):  # noqa: F811
    """`bundles` and `reliesOn` (the TMF622 examples): the tree as the reference builds it, then item by item."""
    generated, interpreter, _ = catalogs["acme"]
    module = planner_of(generated)
    flat = json.loads((ORDERS / "tmf622" / "v4-flat-fiber.json").read_text())
    order = order_of(copy.deepcopy(flat), "ORD-T", module, generated.catalog)
    assert order is not None and [(i.id, [c.id for c in i.children], i.relies_on) for i in order.items] == [("10", ["11"], []), ("11", [], []), ("20", [], ["10"])]
    assert order_of(copy.deepcopy(flat), "ORD-T", module) is None  # (without the catalog: the reference)
    assert same_intake(generated, flat)[0] == "order"
    agree(generated, interpreter, flat)


@st.composite
def flat(draw, orders):
    """An order of the strategy written flat: children after their parent, named by `bundles`; now and then a `reliesOn`."""
    doc = draw(orders)
    out: list = []

    def walk(raw):
        kids = raw.pop("productOrderItem", None) or []
        out.append(raw)
        if kids:
            raw["productOrderItemRelationship"] = [{"id": k["id"], "relationshipType": "bundles"} for k in kids]
        for k in kids:
            walk(k)

    for raw in doc["productOrderItem"]:
        walk(raw)
    for _ in range(draw(st.integers(0, 2))):
        a, b = draw(st.sampled_from(out)), draw(st.sampled_from(out))
        if a is not b:
            a.setdefault("productOrderItemRelationship", []).append({"id": b["id"], "relationshipType": "reliesOn"})
    doc["productOrderItem"] = out
    return doc


@SETTINGS
@given(data=st.data())
def test_flat_orders_read_alike_and_through_the_generated_coercion(catalogs, exprs, data):  # noqa: F811
    pairs = {"acme": (catalogs["acme"][:2], acme_orders()), "mobile": (catalogs["mobile"][:2], mobile_orders()), "exprs": (exprs, exprs_orders())}
    (generated, interpreter), orders = pairs[data.draw(st.sampled_from(sorted(pairs)))]
    doc = data.draw(flat(orders))
    accepted = same_intake(generated, doc)[0] == "order"
    assert (order_of(copy.deepcopy(doc), "ORD-T", planner_of(generated), generated.catalog) is not None) == accepted
    agree(generated, interpreter, doc)


@SETTINGS
@given(data=st.data())
def test_broken_flat_orders_read_alike(catalogs, data):  # noqa: F811
    generated, interpreter, _ = catalogs["acme"]
    doc = data.draw(broken(flat(acme_orders()), _codes(generated), _names(generated)))
    same_intake(generated, doc)
    agree(generated, interpreter, doc)


@pytest.mark.parametrize("last", ["BOX or CRATE", "TAG"])
@pytest.mark.parametrize("depth", [30, 31, 32, 33, 40])
def test_items_nested_past_the_limit_are_refused_alike(nest, depth, last):
    """BOX has CRATE has BOX...: the fast path stops where the reference's depth limit does
    (the last item's empty `productOrderItem` is a level of nesting, as the reference reads it)."""
    generated, interpreter = nest

    def chain(n):
        code = "TAG" if n == depth and last == "TAG" else ("BOX" if n % 2 == 0 else "CRATE")
        return {"id": f"i{n}", "productOffering": {"id": code}, "productOrderItem": [chain(n + 1)] if n < depth else []}

    doc = {"id": "ORD-N", "productOrderItem": [chain(0)]}
    outcome = same_intake(generated, doc)
    assert (outcome[0] == "order") == (depth < 32), outcome
    agree(generated, interpreter, doc)


def test_an_order_scoped_line_already_installed_keeps_its_previous_values(catalogs):  # noqa: F811
    """The billing line of a customer who has one: the generated order scope looks it up as the reference does."""
    generated, interpreter, _ = catalogs["acme"]
    first = json.loads((ORDERS / "fiber-minimal.json").read_text())
    installed = installed_from(plan_order(interpreter.catalog, interpreter, first, "ORD-1"))
    doc = json.loads((ORDERS / "tv-alone.json").read_text())
    doc["relatedParty"] = first["relatedParty"]
    text = agree(generated, interpreter, doc, installed)
    planned = plan_order(generated.catalog, generated, json.loads(json.dumps(doc)), "ORD-T", installed)
    billing = [line for line in planned.lines if line.product == "BILLING_RFS"]
    assert billing and billing[0].previous is not None and billing[0].why == "a root item is added", text


def test_generated_lines_name_the_fields_of_a_line_in_order():
    """planner.py makes lines positionally: LINE_FIELDS must be FulfillmentLine's fields, in order."""
    assert LINE_FIELDS == tuple(f.name for f in attrs.fields(FulfillmentLine))


def test_generated_items_name_the_fields_of_an_order_item_in_order():
    """planner.py makes added items positionally: ITEM_FIELDS must be OrderItem's fields, in order."""
    assert ITEM_FIELDS == tuple(f.name for f in attrs.fields(OrderItem))


def test_an_order_item_made_by_hand_is_as_attrs_would_make_it():
    """OrderItem's __init__ is written out: defaults fresh per item, the parent held weakly, evolve works."""
    parent = OrderItem("1", "P", "add", {}, "/p")
    a, b = OrderItem("2", "C", "add", {}, "/c", parent), OrderItem("3", "C", "add", {}, "/d", parent)
    assert a.parent is parent and a.root is parent and parent.parent is None
    assert a.children == [] and a.children is not b.children and a.enriched is not b.enriched and a.request is not b.request
    assert (a.asset_id, a.implicit, a.unit, a.relies_on, a.request) == (None, False, None, [], {})
    copy = attrs.evolve(a, id="2~1", parent=None)
    assert copy.id == "2~1" and copy.parent is None and copy.product == "C" and copy.children is a.children
    assert [f.alias for f in attrs.fields(OrderItem)] == list(OrderItem.__init__.__code__.co_varnames[1:14])
