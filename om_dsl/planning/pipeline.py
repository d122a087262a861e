"""Per-order planning: intake -> validate -> enrich -> decompose -> plan.

`plan_order` runs an order document through one catalog's rules (the
generated modules or the interpreter: anything with the rule interface of
`om_dsl.rules.interpreter.Interpreter`) and returns the `PlannedOrder`,
or raises `Rejected` naming every problem.
"""

from __future__ import annotations

import gc
from typing import Optional

import attrs

from om_dsl.model.catalog import Catalog
from om_dsl.planning import decompose as D
from om_dsl.planning.compiled import CompiledPlanner, planner_of
from om_dsl.planning.installed import EMPTY
from om_dsl.planning.intake import document_id, intake
from om_dsl.planning.order import FulfillmentLine, Order, Rejected
from om_dsl.planning.relationships import read as read_prerequisites
from om_dsl.planning.tasks import OrchestrationPlan, instantiate


@attrs.define
class FulfillmentRequest:
    """The lines of one bundle (one root order item), or of the order scope."""

    id: str
    bundle: Optional[str]
    lines: list


@attrs.define
class PlannedOrder:
    catalog: Catalog
    order: Order
    lines: list  # [FulfillmentLine]
    fulfillment_requests: list  # [FulfillmentRequest]
    plan: OrchestrationPlan
    waits_for: list = attrs.field(factory=list)  # [relationships.Prerequisite]: other orders it waits for


def plan_order(catalog: Catalog, rules, doc: dict, order_id: str | None = None, installed=None) -> PlannedOrder:
    """Plan an order. Items that modify, end or keep what a customer has are
    checked against `installed` (an om_dsl.planning.installed.InstalledBase);
    without one, such items are rejected: their asset is unknown."""
    installed = installed or EMPTY
    # Planning allocates many small objects and frees none until it returns:
    # the cyclic collector would scan the growing heap again and again
    # (bench/run.py: 57 us per item at 10,000 items, 23 without it).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _plan(catalog, rules, doc, order_id, installed)
    finally:
        if collecting:
            gc.enable()


def _plan(catalog: Catalog, rules, doc: dict, order_id, installed) -> PlannedOrder:
    generated = planner_of(rules)  # a compiled catalog's planner.py: the fast path (planning/compiled.py)
    prerequisites, problems = read_prerequisites(doc, order_id or document_id(doc))
    try:
        order = intake(catalog, doc, order_id, installed, generated)
    except Rejected as exc:
        raise Rejected(exc.problems + problems) from None
    if problems:
        raise Rejected(problems)
    D.validate(rules, order)
    D.enrich(rules, order)
    decomposer = D.Decomposer(catalog, rules, order, installed)
    lines = decomposer.run()
    # The installed values of the lines that have them (only order-scoped ones, when every line is the generated code's).
    previous = {line.id: line.previous for line in (lines if decomposer.by_bundle is None else decomposer.by_bundle.get(None, ())) if line.previous is not None}
    if generated is not None:
        plan = CompiledPlanner(catalog, rules, order, lines, previous, generated).run()
    else:
        plan = instantiate(catalog, rules, order, lines, previous)
    return PlannedOrder(catalog, order, lines, _requests(order, lines, decomposer.by_bundle), plan, prerequisites)


def _requests(order: Order, lines: list[FulfillmentLine], by_bundle: dict | None = None) -> list[FulfillmentRequest]:
    """The lines by bundle: `by_bundle` when decomposition grouped them as it made them (each in line order)."""
    out = []
    if by_bundle is None:
        by_bundle = {}
        for l in lines:
            by_bundle.setdefault(l.bundle, []).append(l)
    for root in order.fields["root_items"]:
        mine = by_bundle.get(root.id)
        if mine:
            out.append(FulfillmentRequest(f"FR-{root.id}", root.id, mine))
    scoped = by_bundle.get(None)  # the order scope's lines, in their order
    if scoped:
        out.append(FulfillmentRequest("FR-order", None, scoped))
    return out
