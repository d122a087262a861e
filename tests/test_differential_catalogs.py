"""The generated planner (planner.py, om_dsl/planning/compiled.py) against the
interpreter, on every catalog in specs/ and on orders that change an installed
base; and that the generated path is the one taken.

tests/test_differential.py holds the random Acme orders and the catalog of
every expression form; this file adds the other catalogs of specs/, modify,
delete and noChange orders, and the fast path's own guarantees: it plans the
usual order without the shared planner's per-item rule calls, and a compiled
catalog without a planner.py (or for another ABI) still plans, the old way.
"""

from __future__ import annotations

import json
import shutil

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_differential import SETTINGS, acme_orders, char, chars_of, item, order_fields, outputs_strategy, rarely, task_values

from om_dsl.build import build, write
from om_dsl.planning import keys
from om_dsl.planning.compiled import planner_of
from om_dsl.planning.installed import Asset, InstalledBase, InstalledLine
from om_dsl.planning.order import Rejected
from om_dsl.planning.pipeline import plan_order
from om_dsl.planning.report import planned_data, rejected_data, to_json
from om_dsl.rules.generated import GeneratedRules
from om_dsl.rules.interpreter import Interpreter

from support import ROOT

ORDERS = ROOT / "examples" / "orders"


@pytest.fixture(scope="module")
def catalogs(tmp_path_factory):
    """Every catalog of specs/, compiled: {name: (generated, interpreter, folder)}."""
    result = build([str(ROOT / "specs")])
    assert result.ok
    out = tmp_path_factory.mktemp("generated")
    write(out, result.files())
    return {c.name: (GeneratedRules(out / c.name), Interpreter(c), out / c.name) for c in result.catalogs}


def outcome(rules, doc, installed=None):
    try:
        planned = plan_order(rules.catalog, rules, json.loads(json.dumps(doc)), "ORD-T", installed)
    except Rejected as exc:
        return to_json(rejected_data(exc, "ORD-T")), None
    return to_json(planned_data(planned)), planned


def agree(generated, interpreter, doc, installed=None, outputs=None):
    g_text, g_planned = outcome(generated, doc, installed)
    i_text, i_planned = outcome(interpreter, doc, installed)
    assert g_text == i_text
    if g_planned is not None and outputs is not None:
        assert task_values(generated, g_planned, outputs) == task_values(interpreter, i_planned, outputs)
    return g_text


# ---- the mobile catalog ----------------------------------------------------------------------


@st.composite
def mobile_orders(draw):
    doc = draw(order_fields())
    roots, n = [], 1
    for _ in range(draw(st.integers(1, 3))):
        root_n, children = n, []
        n += 1
        for _ in range(draw(st.just(2) if draw(rarely) else st.integers(0, 1))):
            children.append(item(n, "HANDSET", chars_of(draw, {"model": ["X-1", "Pixel"]}, {"model": 7})))
            n += 1
        for _ in range(draw(st.integers(0, 1))):
            children.append(item(n, "NUMBER_PORT", chars_of(draw, {"msisdn": ["+31612345678"], "donor": ["KPN", "T-Mobile"]}, {"donor": None})))
            n += 1
        chars = chars_of(draw, {"tariff": ["S", "M", "L"], "sim_type": ["physical", "esim"]}, {"tariff": "XL", "sim_type": True})
        roots.append(item(root_n, "MOBILE_SUBSCRIPTION", chars, children))
    doc["productOrderItem"] = roots
    return doc


def test_every_catalog_in_specs_has_random_orders(catalogs):
    """A catalog added to specs/ needs its strategy here (and a test below)."""
    assert sorted(catalogs) == sorted(STRATEGIES)


STRATEGIES = {"acme": acme_orders(), "mobile": mobile_orders()}


@SETTINGS
@given(doc=mobile_orders(), outputs=outputs_strategy)
def test_mobile_orders_agree(catalogs, doc, outputs):
    generated, interpreter, _ = catalogs["mobile"]
    agree(generated, interpreter, doc, outputs=outputs)


@SETTINGS
@given(doc=acme_orders())
def test_acme_orders_agree_through_the_specs_build(catalogs, doc):
    generated, interpreter, _ = catalogs["acme"]
    agree(generated, interpreter, doc)


# ---- orders that change what a customer has ------------------------------------------------------


def installed_from(planned) -> InstalledBase:
    """The installed base a completed order leaves (its tasks' outputs aside)."""
    customer = planned.order.fields.get("customer_account")
    assets = [Asset(item.asset_id or keys.asset_id(planned.order.id, item.id), customer, item.product, dict(item.values), None, "active") for item in planned.order.items]
    by_item = {i.id: a for i, a in zip(planned.order.items, assets)}
    assets = [Asset(a.id, a.customer, a.product, a.attributes, by_item[i.parent.id].id if i.parent else None, a.status) for i, a in zip(planned.order.items, assets)]
    lines = [InstalledLine(l.key, l.product, dict(l.values), l.source_asset, l.rule, customer, "active") for l in planned.lines]
    return InstalledBase(assets, lines)


@pytest.mark.parametrize("name", sorted(p.stem for p in (ORDERS / "macd").glob("*.json") if p.stem != "base-fiber-300"))
def test_modify_delete_and_nochange_orders_agree(catalogs, name):
    generated, interpreter, _ = catalogs["acme"]
    base = json.loads((ORDERS / "macd" / "base-fiber-300.json").read_text())
    installed = installed_from(plan_order(interpreter.catalog, interpreter, base))
    doc = json.loads((ORDERS / "macd" / f"{name}.json").read_text())
    text = agree(generated, interpreter, doc, installed)
    assert '"status": "accepted"' in text, text  # each example is a valid change of the base order


def _is_json(path) -> bool:
    try:
        json.loads(path.read_text())
    except ValueError:  # (a malformed example: refused before any catalog reads it, so nothing to compare)
        return False
    return True


@pytest.mark.parametrize("path", sorted(p.relative_to(ORDERS).as_posix() for p in ORDERS.rglob("*.json") if _is_json(p)))
def test_every_example_order_agrees(catalogs, path):
    """The examples, valid and invalid (malformed JSON left out), on the catalog that sells them."""
    doc = json.loads((ORDERS / path).read_text())
    name = "mobile" if path.startswith("mobile/") else "acme"
    generated, interpreter, _ = catalogs[name]
    agree(generated, interpreter, doc)


@SETTINGS
@given(doc=acme_orders(), quantities=st.lists(st.sampled_from([1, 2, 3, "2", 0, 2.5]), min_size=1, max_size=6))
def test_orders_with_quantities_agree(catalogs, doc, quantities):
    """`quantity` makes units (`ID~k`) of an item and its subtree, each with its own lines."""
    generated, interpreter, _ = catalogs["acme"]
    items = [doc["productOrderItem"][0], *doc["productOrderItem"][0].get("productOrderItem", [])]
    for it, q in zip(items, quantities):
        it["quantity"] = q
    agree(generated, interpreter, doc)


# ---- the generated path is the one taken --------------------------------------------------------


class Counting:
    """Rules whose per-item entry points count their calls (the shared planner's walk)."""

    def __init__(self, rules):
        self.rules, self.calls = rules, []

    def __getattr__(self, name):
        value = getattr(self.rules, name)
        if name in ("decompose", "plan_applies", "task_when"):

            def counted(*args, **kw):
                self.calls.append(name)
                return value(*args, **kw)

            return counted
        return value


@pytest.mark.parametrize("name", ["new-fiber-every-option.json", "fiber-tv-ported-phone.json", "tv-alone.json"])
def test_the_generated_planner_plans_an_added_order_itself(catalogs, name):
    """No item's lines and no line's tasks go through the rules one call at a time:
    planner.py's functions make them (the reference path calls the rules per item and per task)."""
    generated, interpreter, _ = catalogs["acme"]
    doc = json.loads((ORDERS / name).read_text())
    fast = Counting(generated)
    planned = plan_order(fast.catalog, fast, json.loads(json.dumps(doc)), "ORD-T")
    assert fast.calls == []
    slow = Counting(interpreter)
    assert to_json(planned_data(plan_order(slow.catalog, slow, doc, "ORD-T"))) == to_json(planned_data(planned))
    assert slow.calls.count("decompose") >= len(planned.order.items) and "plan_applies" in slow.calls


def test_a_value_the_generated_coercion_does_not_take_goes_to_the_reference(catalogs):
    """A string for an int is coerced the shared way; a value not allowed is rejected in the shared words."""
    generated, interpreter, _ = catalogs["acme"]
    attributes = generated.planner.ATTRIBUTES["HOME_FIBER"]
    assert attributes([char("speed_mbps", "1000"), char("address_id", "A")])["speed_mbps"] == 1000
    assert attributes([char("speed_mbps", 500), char("address_id", "A")]) is None
    assert attributes([char("address_id", "A"), char("address_id", "B")]) is None  # given twice
    doc = {"id": "ORD-T", "relatedParty": [{"id": "ACC-1", "role": "customer"}], "productOrderItem": [item(1, "HOME_FIBER", [char("speed_mbps", 500), char("address_id", "A")], [item(2, "WIFI_ROUTER")])]}
    text = agree(generated, interpreter, doc)
    assert '"rule": "allowed_values"' in text and '"path": "/productOrderItem/0/product/productCharacteristic/0/value"' in text


def test_a_catalog_compiled_without_planner_py_plans_the_old_way(catalogs, tmp_path):
    generated, interpreter, folder = catalogs["acme"]
    old = tmp_path / "acme"
    shutil.copytree(folder, old)
    (old / "planner.py").unlink()
    (old / "plan.json").write_text((old / "plan.json").read_text())  # same plan.json: the same package name
    rules = GeneratedRules(old, check_sources=False)
    assert rules.planner is None and planner_of(rules) is None
    doc = json.loads((ORDERS / "new-fiber-every-option.json").read_text())
    assert outcome(rules, doc)[0] == outcome(interpreter, doc)[0]


def test_a_planner_py_of_another_abi_is_not_used(catalogs, monkeypatch):
    generated, _, _ = catalogs["acme"]
    assert planner_of(generated) is generated.planner
    monkeypatch.setattr(generated.planner, "ABI", 0)
    assert planner_of(generated) is None
    counting = Counting(generated)
    plan_order(counting.catalog, counting, json.loads((ORDERS / "tv-alone.json").read_text()), "ORD-T")
    assert "decompose" in counting.calls and "plan_applies" in counting.calls


def test_a_cycle_of_relies_on_is_named_alike(catalogs):
    """Items that rely on each other: both planners reject the order naming the same cycle."""
    generated, interpreter, _ = catalogs["acme"]
    doc = json.loads((ORDERS / "tmf622" / "v4-flat-fiber.json").read_text())
    doc["productOrderItem"][0]["productOrderItemRelationship"].append({"id": "20", "relationshipType": "reliesOn"})
    text = agree(generated, interpreter, doc)
    assert '"rule": "plan_cycle"' in text


def test_a_planner_py_generated_from_another_plan_json_is_refused(catalogs, tmp_path, monkeypatch):
    """Like the other generated modules (PLAN_SHA256 in __init__.py), planner.py names its plan.json."""
    import sys

    from om_dsl.rules.generated import CompiledCatalogError

    for name in [m for m in sys.modules if m.startswith("_om_generated_")]:
        monkeypatch.delitem(sys.modules, name)  # this process loaded the catalog: load the folder afresh
    _, _, acme = catalogs["acme"]
    _, _, mobile = catalogs["mobile"]
    mixed = tmp_path / "acme"
    shutil.copytree(acme, mixed)
    shutil.copy(mobile / "planner.py", mixed / "planner.py")
    with pytest.raises(CompiledCatalogError, match="planner.py was not generated from its plan.json"):
        GeneratedRules(mixed, check_sources=False)
