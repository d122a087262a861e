"""The generated plan instantiation (planner.py's tasks__P__A / edges__P__A, driven
by om_dsl.planning.compiled.CompiledPlanner) on the rules the Acme catalog does
not exercise: dependencies the catalog fixes made with the tasks (an intra-plan
`before`, the same edge said twice), a cross-line `before` and `every task`
`before` (which leave the tasks they reach open), waits through skipped tasks
across lines, tasks held for a later line (placed in one pass, or by Kahn's heap
when many are held), and `reliesOn` (a cycle: the reference names it). Each plan is
held to the interpreter's, byte for byte, as tests/test_differential*.py do."""

from __future__ import annotations

import gc
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from om_dsl.build import build, write
from om_dsl.planning.compiled import CompiledPlanner, planner_of
from om_dsl.planning.order import Order, OrderItem, Rejected
from om_dsl.planning.pipeline import plan_order
from om_dsl.planning.report import planned_data, rejected_data, to_json
from om_dsl.planning.tasks import PlannedItem
from om_dsl.rules.generated import GeneratedRules
from om_dsl.rules.interpreter import Interpreter

from support import ROOT

SPEC = """catalog cp version "1"

commercial SITE "Site" root {
  attr fast: bool = false
}

commercial TAIL "Tail" root {
  attr n: int = 1
}

technical PREP_CFS "Prep" cfs {
  attr fast: bool required
}

technical LINK_RFS "Link" rfs {
  attr fast: bool required
}

technical END_RFS "End" rfs {
  attr n: int required
}

decompose C1: SITE -> PREP_CFS { fast = fast }
decompose C2: SITE -> LINK_RFS { fast = fast }
decompose C3: TAIL -> END_RFS { n = n }

system s "S" {
  operation op()
}

plan PREP_CFS on add {
  callout a = s.op()
  callout b = s.op()
    after a, d
  callout c = s.op()
    before b
  callout d = s.op()
    after a
    before b
  callout w = s.op()
    after END_RFS.z in order
}

plan LINK_RFS on add {
  callout p = s.op()
    when fast
  callout q = s.op()
    after p, PREP_CFS.d in bundle
    when fast
  callout r = s.op()
    after q, PREP_CFS.a in bundle
}

plan END_RFS on add {
  callout y = s.op()
    before PREP_CFS.c in order
  callout z = s.op()
    after LINK_RFS.q in order
}
"""

# The same catalog with a `before every task`: then any task may gain an edge, and none is fixed.
EVERY = SPEC.replace("  callout y = s.op()\n    before PREP_CFS.c in order", "  callout y = s.op()\n    before PREP_CFS.c in order\n  callout x = s.op()\n    before every task in bundle")


@pytest.fixture(scope="module", params=["fixed", "every"])
def engines(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(request.param)
    (folder / "cp.om").write_text(SPEC if request.param == "fixed" else EVERY)
    result = build([str(folder)])
    assert result.ok, result.diagnostics
    out = folder / "generated"
    write(out, result.files())
    generated = GeneratedRules(out / "cp")
    assert planner_of(generated) is not None
    return generated, Interpreter(result.catalogs[0]), out / "cp", request.param


def order(sites, tail=True, relies=None):
    items = [{"id": str(n), "productOffering": {"id": "SITE"}, "product": {"productCharacteristic": [{"name": "fast", "value": fast}]}} for n, fast in enumerate(sites, 1)]
    if tail:
        items.append({"id": "t", "productOffering": {"id": "TAIL"}})
    if relies is not None:  # (item, the item it relies on)
        items[relies[0]]["productOrderItemRelationship"] = [{"id": items[relies[1]]["id"], "relationshipType": "reliesOn"}]
    return {"id": "O-1", "productOrderItem": items}


def outcome(rules, doc):
    try:
        return to_json(planned_data(plan_order(rules.catalog, rules, json.loads(json.dumps(doc)), "O-1")))
    except Rejected as exc:
        return to_json(rejected_data(exc, "O-1"))


ORDERS = {
    "one fast site": order([True]),
    "one slow site": order([False]),
    "mixed sites": order([True, False, False, True]),
    "no tail": order([False, True], tail=False),
    "many held": order([False, True] * 4),
    "relies on": order([True, False], tail=False, relies=(0, 1)),
    "relies on, a cycle": order([True, False], relies=(0, 2)),  # 1 waits for t, whose z waits for 1's q
}


@pytest.mark.parametrize("name", ORDERS)
def test_the_generated_plan_is_the_interpreters(engines, name):
    generated, interpreter, _, _ = engines
    text = outcome(generated, ORDERS[name])
    assert text == outcome(interpreter, ORDERS[name])
    assert ('"plan_cycle"' if "cycle" in name else '"status": "accepted"') in text


@st.composite
def orders(draw):
    sites = draw(st.lists(st.booleans(), min_size=0, max_size=8))
    tail = draw(st.booleans())
    doc = order(sites, tail)
    n = len(doc["productOrderItem"])
    if n > 1 and draw(st.booleans()):
        a, b = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
        if a != b:
            doc["productOrderItem"][a]["productOrderItemRelationship"] = [{"id": doc["productOrderItem"][b]["id"], "relationshipType": "reliesOn"}]
    return doc


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=orders())
def test_random_orders_plan_alike(engines, doc):
    """Any mix of sites (their tasks skipped or not), with or without the last line they wait
    for, and a `reliesOn` between any two items (a cycle among them): plans or rejections alike."""
    generated, interpreter, _, _ = engines
    assert outcome(generated, doc) == outcome(interpreter, doc)


def test_a_task_the_catalog_fixes_is_made_with_its_dependencies(engines):
    """`b` waits for a, c (`c before b`) and d (`after d`, said again as `d before b`: the first clause names it)."""
    generated, interpreter, folder, kind = engines
    source = (folder / "planner.py").read_text()
    made = "[lid + ':a', lid + ':c', lid + ':d'], ('after a', 'c before b', 'after d'))"
    if kind == "every":  # `before every task`: any task may gain an edge, so none is fixed
        assert made not in source and "lid + ':a'" in source
        return
    assert made in source
    # `c` gains an edge from END_RFS.y (another line), `w` waits for one: both are left to the edges.
    assert "items[t_c] = _Item(t_c, 'c', 'callout', 'PREP_CFS', 'add', lid, bundle, defs['c'], [])" in source
    assert "items[t_w] = _Item(t_w, 'w', 'callout', 'PREP_CFS', 'add', lid, bundle, defs['w'], [])" in source
    planned = plan_order(generated.catalog, generated, order([True]), "O-1")
    b = next(i for i in planned.plan.items if i.id == "1/C1:b")
    assert [(d.on, d.via) for d in b.dependencies] == [("1/C1:a", "after a"), ("1/C1:c", "c before b"), ("1/C1:d", "after d")]


def test_a_wait_through_skipped_tasks_names_the_clause_and_the_skipped_task(engines):
    generated = engines[0]
    planned = plan_order(generated.catalog, generated, order([False]), "O-1")
    r = next(i for i in planned.plan.items if i.id == "1/C2:r")
    skipped = "skipped (when fast is false), which waits for it"
    assert [(d.on, d.via) for d in r.dependencies] == [("1/C1:a", "after PREP_CFS.a in bundle"), ("1/C1:d", f"after q, {skipped}")]
    z = next(i for i in planned.plan.items if i.id == "t/C3:z")  # LINK_RFS.q skipped: z waits for what q waited for
    assert [(d.on, d.via) for d in z.dependencies] == [("1/C1:d", f"after LINK_RFS.q in order, {skipped}")]


def test_many_tasks_held_for_a_later_line_take_kahns_heap(engines, monkeypatch):
    generated, interpreter, _, _ = engines
    calls = []
    kahn = CompiledPlanner.kahn
    monkeypatch.setattr(CompiledPlanner, "kahn", lambda self: calls.append(1) or kahn(self))
    outcome(generated, order([False, True]))  # a few held: placed in the one pass
    assert calls == []
    doc = order([False, True] * 4)  # each site's c, b and w wait for the last line: 24 held
    assert outcome(generated, doc) == outcome(interpreter, doc)
    assert calls == [1]


def test_relies_on_is_planned_through_the_generated_code_and_a_cycle_by_the_reference(engines, monkeypatch):
    generated, interpreter, _, _ = engines
    calls = []
    reference = CompiledPlanner.reference
    monkeypatch.setattr(CompiledPlanner, "reference", lambda self: calls.append(1) or reference(self))
    planned = plan_order(generated.catalog, generated, order([True, False], tail=False, relies=(0, 1)), "O-1")
    assert calls == []
    b = next(i for i in planned.plan.items if i.id == "1/C1:b")  # made with its dependencies, then given more
    assert [(d.on, d.via) for d in b.dependencies][:3] == [("1/C1:a", "after a"), ("1/C1:c", "c before b"), ("1/C1:d", "after d")]
    assert {d.on for d in b.dependencies if d.via == "order item 1 reliesOn 2"} == {"2/C1:a", "2/C1:b", "2/C1:c", "2/C1:d", "2/C1:w", "2/C2:p", "2/C2:q", "2/C2:r"} - {"2/C2:p", "2/C2:q"}
    with pytest.raises(Rejected, match="dependency cycle"):
        plan_order(generated.catalog, generated, ORDERS["relies on, a cycle"], "O-1")
    assert calls == [1]


def test_a_planned_order_is_freed_when_dropped_with_no_collector_pass():
    """No reference cycles in the order model or the plan (an item holds its parent weakly,
    intake's walks let go of the items): dropping a planned order frees it at once."""
    rules = GeneratedRules(ROOT / "generated" / "acme")
    doc = json.loads((ROOT / "examples" / "orders" / "new-fiber-every-option.json").read_text())
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        planned = plan_order(rules.catalog, rules, doc, "O-1")
        router = next(i for i in planned.order.items if i.parent is not None)
        assert router.parent.id == "1" and router.root.id == "1"
        del planned, router
        gc.collect()
        left = [type(o).__name__ for o in gc.garbage if isinstance(o, (Order, OrderItem, PlannedItem))]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert left == []


# `every task in order` over lines whose tasks may be skipped. In PASS a skippable WORK_CFS.m waits
# for BILL_RFS.k, so a walk through a skipped m gives `total` (of BILL_RFS, which the clause leaves
# out) the k's; in KEPT m waits for nothing, so the skipped ones are left out of the clause's targets.
EVERY_SKIPPED = """catalog ev version "1"

commercial SITE "Site" root {
  attr fast: bool = false
}

technical WORK_CFS "Work" cfs {
  attr fast: bool required
}

technical BILL_RFS "Bill" rfs {
  attr fast: bool required
}

decompose E1: SITE -> WORK_CFS { fast = fast }
decompose E2: SITE -> BILL_RFS { fast = fast }

system s "S" {
  operation op()
}

plan WORK_CFS on add {
  callout m = s.op()
    when fast
    after BILL_RFS.k in order
  callout n = s.op()
}

plan BILL_RFS on add {
  callout k = s.op()
  callout total = s.op()
    after every task in order
}
"""


@pytest.fixture(scope="module", params=["pass", "kept"])
def every_skipped(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(request.param)
    text = EVERY_SKIPPED if request.param == "pass" else EVERY_SKIPPED.replace("    when fast\n    after BILL_RFS.k in order\n", "    when fast\n")
    (folder / "ev.om").write_text(text)
    result = build([str(folder)])
    assert result.ok, result.diagnostics
    write(folder / "generated", result.files())
    generated = GeneratedRules(folder / "generated" / "ev")
    return generated, Interpreter(result.catalogs[0]), (folder / "generated" / "ev" / "planner.py").read_text(), request.param


@pytest.mark.parametrize("sites, relies", [([False], None), ([False, True, False], None), ([True, True], None), ([False, False], (0, 1))])
def test_every_task_in_order_past_skipped_tasks_plans_as_the_interpreter(every_skipped, sites, relies):
    """The skipped tasks are left out of `every task in order` only when they can pass nothing
    on to a task of the clause's product, and not when items rely on others."""
    generated, interpreter, source, kind = every_skipped
    assert ("x.every_other(_ORDER, 'BILL_RFS', True)" in source) is (kind == "kept")
    doc = order(sites, tail=False, relies=relies)
    text = outcome(generated, doc)
    assert text == outcome(interpreter, doc)
    if relies is not None:  # (1's tasks wait for 2's total, which waits for 1's: a cycle, named alike)
        assert '"plan_cycle"' in text
        return
    total = next(i for i in plan_order(generated.catalog, generated, doc, "O-1").plan.items if i.id == "1/E2:total")
    through = [d.on for d in total.dependencies if "skipped (when fast is false)" in d.via]
    if kind == "pass" and not sites[0]:  # the walk through 1's skipped m reaches the k's
        assert through == [f"{n}/E2:k" for n in range(1, len(sites) + 1)]
    elif kind == "kept":
        assert through == []


# Waits within a plan through skipped tasks, decided when the catalog is compiled
# (PlannerModule.settled): `r` waits through q (which waits through p) and names k of another
# line; `u` names m, which another line's task may skip, so its walk stays the planner's.
SETTLED = """catalog st version "1"

commercial SITE "Site" root {
  attr a: bool = false
  attr b: bool = false
}

technical WORK_CFS "Work" cfs {
  attr a: bool required
  attr b: bool required
}

technical PRE_RFS "Pre" rfs {
  attr a: bool required
}

decompose S1: SITE -> WORK_CFS {
  a = a
  b = b
}

decompose S2: SITE -> PRE_RFS {
  a = a
}

system s "S" {
  operation op()
}

plan WORK_CFS on add {
  callout p = s.op()
    when a
  callout q = s.op()
    when b
    after p
  callout r = s.op()
    after PRE_RFS.k in bundle, q, p
  callout u = s.op()
    after q, PRE_RFS.m in order
  callout v = s.op()
    after q
}

plan PRE_RFS on add {
  callout k = s.op()
  callout m = s.op()
    when a
    after k
}
"""


@pytest.fixture(scope="module")
def settled(tmp_path_factory):
    folder = tmp_path_factory.mktemp("settled")
    (folder / "st.om").write_text(SETTLED)
    result = build([str(folder)])
    assert result.ok, result.diagnostics
    write(folder / "generated", result.files())
    generated = GeneratedRules(folder / "generated" / "st")
    return generated, Interpreter(result.catalogs[0]), (folder / "generated" / "st" / "planner.py").read_text()


def site_order(flags, relies=None):
    items = [{"id": str(n), "productOffering": {"id": "SITE"}, "product": {"productCharacteristic": [{"name": "a", "value": a}, {"name": "b", "value": b}]}} for n, (a, b) in enumerate(flags, 1)]
    if relies is not None:
        items[relies[0]]["productOrderItemRelationship"] = [{"id": items[relies[1]]["id"], "relationshipType": "reliesOn"}]
    return {"id": "O-1", "productOrderItem": items}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flags=st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=4), relies=st.booleans())
def test_waits_settled_at_compile_time_plan_as_the_interpreter(settled, flags, relies):
    generated, interpreter, _ = settled
    doc = site_order(flags, (0, len(flags) - 1) if relies and len(flags) > 1 else None)
    assert outcome(generated, doc) == outcome(interpreter, doc)


def test_a_task_waits_through_skipped_ones_by_the_table_of_its_case(settled):
    generated, _, source = settled
    assert "_SETTLED_" in source and "for n, via in _SETTLED_" in source
    assert source.count("for n, via in _SETTLED_") == 2  # r and v: u's walk may cross into another line's skipped m
    planned = plan_order(generated.catalog, generated, site_order([(False, False)]), "O-1")
    r = next(i for i in planned.plan.items if i.id == "1/S1:r")
    assert [(d.on, d.via) for d in r.dependencies] == [("1/S2:k", "after PRE_RFS.k in bundle")]  # q and p skipped: nothing within the plan
    planned = plan_order(generated.catalog, generated, site_order([(True, False)]), "O-1")
    r, v = (next(i for i in planned.plan.items if i.id == f"1/S1:{t}") for t in "rv")
    assert [(d.on, d.via) for d in r.dependencies] == [("1/S1:p", "after p"), ("1/S2:k", "after PRE_RFS.k in bundle")]  # named: not through q
    assert [(d.on, d.via) for d in v.dependencies] == [("1/S1:p", "after q, skipped (when b is false), which waits for it")]
