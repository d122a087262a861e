"""Plan instantiation rules that the Acme catalog does not exercise on its own."""

from __future__ import annotations

import attrs
import pytest

from om_dsl.check import check_texts
from om_dsl.lower import lower
from om_dsl.model.catalog import DependencyDef
from om_dsl.planning.order import Rejected
from om_dsl.planning.pipeline import plan_order
from om_dsl.rules.interpreter import Interpreter

SPEC = """catalog p version "1"

commercial SVC "Service" root {
  attr fast: bool = false
}

technical LINE_CFS "Line" cfs {
  attr fast: bool required
}

technical BOX_RFS "Box" rfs {
  attr n: int required
}

decompose R1: SVC -> LINE_CFS { fast = fast }
decompose R2: SVC -> BOX_RFS { n = 1 }

system s "S" {
  operation a()
  operation b()
  operation c()
  operation ship()
}

plan LINE_CFS on add {
  callout a = s.a()
  callout b = s.b()
    after a
    when fast
  callout c = s.c()
    after b
}

plan BOX_RFS on add {
  callout ship = s.ship()
}
"""


def catalog():
    result = check_texts({"p.om": SPEC})
    assert result.ok, result.diagnostics
    return lower(result.scopes[0])


def order(*items):
    return {"id": "O-1", "productOrderItem": [{"id": str(n), "productOffering": {"id": "SVC"}, "product": {"productCharacteristic": [{"name": "fast", "value": fast}]}} for n, fast in enumerate(items, 1)]}


def plan(cat, doc):
    return plan_order(cat, Interpreter(cat), doc)


def test_a_task_skipped_at_planning_passes_its_waits_on():
    p = plan(catalog(), order(False))
    items = {i.id: i for i in p.plan.items}
    assert "1/R1:b" not in items and [s.id for s in p.plan.skipped] == ["1/R1:b"]
    assert items["1/R1:c"].depends_on == ["1/R1:a"]
    assert "skipped (when fast is false)" in items["1/R1:c"].dependencies[0].via


def test_a_task_that_runs_keeps_its_own_edge():
    items = {i.id: i for i in plan(catalog(), order(True)).plan.items}
    assert items["1/R1:c"].depends_on == ["1/R1:b"] and items["1/R1:b"].depends_on == ["1/R1:a"]


def with_dependency(cat, product, task, dep):
    plans = []
    for p in cat.plans:
        if p.product == product:
            items = tuple(attrs.evolve(i, after=i.after + (dep,)) if i.name == task else i for i in p.items)
            p = attrs.evolve(p, items=items)
        plans.append(p)
    return attrs.evolve(cat, plans=plans)


def test_bundle_scope_stays_in_the_bundle_and_order_scope_spans_the_order():
    cat = with_dependency(catalog(), "BOX_RFS", "ship", DependencyDef("LINE_CFS", "a", "bundle"))
    items = {i.id: i for i in plan(cat, order(False, False)).plan.items}
    assert items["1/R2:ship"].depends_on == ["1/R1:a"] and items["2/R2:ship"].depends_on == ["2/R1:a"]
    cat = with_dependency(catalog(), "BOX_RFS", "ship", DependencyDef("LINE_CFS", "a", "order"))
    items = {i.id: i for i in plan(cat, order(False, False)).plan.items}
    assert items["1/R2:ship"].depends_on == ["1/R1:a", "2/R1:a"]


def test_a_cycle_in_an_instantiated_plan_rejects_the_order_naming_it():
    """The checker rejects specs whose plans can form a cycle; the planner still
    guards against one (say, from a hand-edited plan.json)."""
    cat = with_dependency(catalog(), "BOX_RFS", "ship", DependencyDef("LINE_CFS", "c", "bundle"))
    cat = with_dependency(cat, "LINE_CFS", "a", DependencyDef("BOX_RFS", "ship", "bundle"))
    with pytest.raises(Rejected) as info:
        plan(cat, order(True))
    (problem,) = info.value.problems
    assert problem.rule == "plan_cycle"
    assert "1/R1:a -> 1/R1:b -> 1/R1:c -> 1/R2:ship -> 1/R1:a" in problem.message
