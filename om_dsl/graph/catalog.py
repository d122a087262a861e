"""The graph of a catalog: how orders decompose, and what each plan does.

- the order scope and the commercial products, joined by `has` edges
  (commercial children, with their cardinality);
- one decomposition edge per rule (D1..D9), from its commercial product (or
  the order scope) to its technical product, labelled with the rule's name
  and its `when` and `per`;
- per technical product, a cluster holding the product and, per action
  (add, modify, delete), its plan's tasks. Dependencies within a plan are
  solid edges; `P.T in bundle/order` are dashed edges to every task `T` of
  `P`'s plans; `every task in bundle/order` are dashed edges from (or to) an
  "every task in ..." node. Points of no return and compensations are
  noted on their task.
"""

from __future__ import annotations

from typing import Optional

from om_dsl.graph.model import Cluster, Edge, Graph, Node, natural_key
from om_dsl.model import expr as E
from om_dsl.model.catalog import Catalog, PlanDef, PlanItemDef, ProductDef, ids

ORDER_SCOPE = "scope:order"
COMMERCIAL = "commercial"
ACTIONS = ("add", "modify", "delete")


def every_id(scope: str) -> str:
    return f"every:{scope}"


def cardinality(min_: int, max_: Optional[int]) -> str:
    if max_ is None:
        return f"[{min_}..*]"
    return f"[{min_}]" if min_ == max_ else f"[{min_}..{max_}]"


def duration(ms: int) -> str:
    return E.render(("duration", ms))


def _where(catalog: Catalog, element_id: str) -> Optional[str]:
    ref = catalog.source(element_id)
    return str(ref) if ref is not None else None


def _attribute(a) -> str:
    return f"{a.name}: {a.describe()}"


def _product_node(catalog: Catalog, p: ProductDef, cluster: Optional[str]) -> Node:
    details = ([p.name] if p.name else []) + [f"{p.kind} {p.role}"]
    notes = [f"attr {_attribute(a)}" for a in p.attributes]
    return Node(ids.product(p.code), p.code, p.kind, cluster, details, notes, source=_where(catalog, ids.product(p.code)))


def _call(d: PlanItemDef) -> Optional[str]:
    if d.call is not None:
        return d.call.target if d.call.kind == "operation" else f"python {d.call.target}"
    if d.queue is not None:
        return f"queue {d.queue}"
    if d.wait_for_ms is not None:
        return f"for {duration(d.wait_for_ms)}"
    if d.wait_until is not None:
        return f"until {E.render(d.wait_until)}"
    return None


def retry_text(r) -> str:
    """A resolved retry policy, in words."""
    delays = [duration(ms) for ms in r.delays_ms]
    if r.kind == "none":
        return "none"
    if r.kind == "fixed":
        return f"{'forever' if r.count is None else f'{r.count} times'} every {delays[0] if delays else '?'}"
    if r.kind == "staggered":
        return "after " + ", ".join(delays)
    if r.kind == "exponential":
        text = f"{r.count} times from {delays[0] if delays else '?'}, times {r.factor}"
        return text + (f", at most {duration(r.cap_ms)}" if r.cap_ms is not None else "")
    return r.kind


def task_details(d: PlanItemDef, when: Optional[str]) -> list:
    """What a task's box shows: its call, condition, due date, compensation and point of no return."""
    out = [d.kind]
    call = _call(d)
    if call:
        out[0] += f" {call}"
    if when:
        out.append(f"when {when}")
    if d.due_ms is not None:
        out.append(f"due {duration(d.due_ms)}")
    if d.compensate is not None:
        out.append(f"compensate: {d.compensate.target}")
    if d.point_of_no_return:
        out.append(f"point of no return ({d.point_of_no_return})")
    if d.on_amend is not None:
        out.append(f"on amend {d.on_amend}")
    return out


def task_notes(d: PlanItemDef) -> list:
    out = []
    if d.description:
        out.append(f"description: {d.description}")
    if d.call is not None and d.call.args:
        out.append("arguments: " + ", ".join(f"{k} = {E.render(v)}" for k, v in d.call.args))
    if d.outputs:
        out.append("returns: " + ", ".join(f"{o.name}: {o.type}" for o in d.outputs))
    out += [f"sets {attr} = {E.render(x)}" for attr, x in d.sets]
    if d.retry is not None:
        out.append(f"retry: {retry_text(d.retry)}")
    if d.timeout_ms is not None:
        out.append(f"timeout {duration(d.timeout_ms)}")
    if d.is_async:
        out.append("asynchronous")
    return out


def catalog_graph(catalog: Catalog) -> Graph:
    g = Graph(f"{catalog.name} {catalog.version}", f"catalog {catalog.name} {catalog.version}", "catalog")
    products = sorted(catalog.products, key=lambda p: natural_key(p.code))
    rules = sorted(catalog.decompositions, key=lambda d: natural_key(d.name))

    if any(d.source is None for d in rules):
        g.add_node(Node(ORDER_SCOPE, "order", "scope", None, ["the order scope"], ["rules from `order` give one line per order"]))
    if any(p.kind == "commercial" for p in products):
        g.add_cluster(Cluster(COMMERCIAL, "commercial products", "commercial"))
    for p in products:
        if p.kind == "commercial":
            g.add_node(_product_node(catalog, p, COMMERCIAL))

    plans = {}
    for plan in catalog.plans:
        plans.setdefault(plan.product, []).append(plan)
    for p in products:
        if p.kind != "technical":
            continue
        cluster = ids.product(p.code)
        g.add_cluster(Cluster(cluster, p.code + (f" \u2014 {p.name}" if p.name else "") + f" ({p.role})", "product"))
        g.add_node(_product_node(catalog, p, cluster))
        mine = sorted(plans.get(p.code, []), key=lambda pl: (ACTIONS.index(pl.action) if pl.action in ACTIONS else len(ACTIONS), pl.action))
        for plan in mine:
            _plan(g, catalog, plan, cluster)

    # decomposition rules
    for d in rules:
        src = ORDER_SCOPE if d.source is None else ids.product(d.source)
        label = d.name
        if d.when is not None:
            label += f" when {E.render(d.when)}"
        if d.per is not None:
            label += f" per {E.render(d.per)}"
        notes = [f"{d.name}: {d.source or 'order'} -> {d.target}"] + [f"{m.target} = {E.render(m.expr)}" for m in d.mappings]
        g.add_edge(Edge(src, ids.product(d.target), "decompose", label, notes, _where(catalog, ids.decomposition(d.name))))

    # commercial children
    for p in products:
        for c in p.children:
            g.add_edge(Edge(ids.product(p.code), ids.product(c.product), "has", f"has {cardinality(c.min, c.max)}"))

    # dependencies between tasks
    for plan in sorted(catalog.plans, key=lambda pl: (natural_key(pl.product), pl.action)):
        for d in plan.items:
            me = ids.task(plan.product, plan.action, d.name)
            for dep in d.after:
                for src, kind, label in _targets(g, catalog, plan, dep):
                    g.add_edge(Edge(src, me, kind, label, [f"{d.name} after {dep.describe()}"]))
            for dep in d.before:
                for dst, kind, label in _targets(g, catalog, plan, dep):
                    g.add_edge(Edge(me, dst, kind, label, [f"{d.name} before {dep.describe()}"]))
    for plan in sorted(catalog.plans, key=lambda pl: (natural_key(pl.product), pl.action)):
        if g.has_node(ids.product(plan.product)):
            g.add_layout_edges(ids.product(plan.product), ids.plan(plan.product, plan.action))
    g.check()
    return g


def _plan(g: Graph, catalog: Catalog, plan: PlanDef, product_cluster: str) -> None:
    cid = ids.plan(plan.product, plan.action)
    title = f"{plan.product} on {plan.action}" + (f" when {E.render(plan.when)}" if plan.when is not None else "")
    g.add_cluster(Cluster(cid, title, "plan", product_cluster, source=_where(catalog, cid)))
    for d in plan.items:
        tid = ids.task(plan.product, plan.action, d.name)
        when = E.render(d.when) if d.when is not None else None
        g.add_node(Node(tid, d.name, "task", cid, task_details(d, when), task_notes(d), d.kind, d.point_of_no_return, _where(catalog, tid)))


def _targets(g: Graph, catalog: Catalog, plan: PlanDef, dep) -> list:
    """(node, edge kind, label) for each task a dependency clause names."""
    if dep.task is None:  # every task of the other products' lines in the scope
        node = every_id(dep.scope)
        if not g.has_node(node):
            g.add_node(Node(node, f"every task in {dep.scope}", "every", None, [f"of the other products' lines in the {dep.scope}"]))
        return [(node, "every", None)]
    if dep.product is None:  # the same plan
        return [(ids.task(plan.product, plan.action, dep.task), "after", None)]
    found = [ids.task(other.product, other.action, dep.task) for other in sorted(catalog.plans, key=lambda pl: (natural_key(pl.product), pl.action)) if other.product == dep.product and other.item(dep.task) is not None]
    if found:
        return [(t, "cross", f"in {dep.scope}") for t in found]
    # The checker refuses this; a hand-made plan model could still hold it.
    target = ids.product(dep.product)
    return [(target, "cross", f"{dep.product}.{dep.task} in {dep.scope} (no such task)")] if g.has_node(target) else []
