"""The graph of one planned order: its items, fulfillment requests and plan.

- the order, and its items in their tree (`has` edges), installed children
  carried along included;
- one cluster per fulfillment request (a bundle, or the order scope), and in
  it one cluster per line: the line (product, action and why) and its tasks,
  with the tasks skipped at planning greyed out;
- an edge from each item (or the order, or the source line) to each line it
  decomposed into, labelled with the rule, the line's action, the rule's
  `when` and the unit of a `per` rule;
- the plan's dependencies as `om plan --format json` lists them: solid
  within a line, dashed across lines (labelled with the clause that made
  them), dashed grey for `every task in ...`.

The same order and catalog give the same graph as `om plan` shows in text.
"""

from __future__ import annotations

from om_dsl.graph.catalog import task_details, task_notes
from om_dsl.graph.model import Cluster, Edge, Graph, Node
from om_dsl.planning.order import show_value
from om_dsl.planning.pipeline import PlannedOrder

ITEMS = "items"


def order_node_id(order_id: str) -> str:
    return f"order:{order_id}"


def item_id(item: str) -> str:
    return f"item:{item}"


def line_id(line: str) -> str:
    return f"line:{line}"


def task_id(item: str) -> str:
    return f"task:{item}"


def order_graph(p: PlannedOrder) -> Graph:
    o = p.order.fields
    g = Graph(p.order.id, f"order {p.order.id} against catalog {p.catalog.name} {p.catalog.version}", "order")

    details = [f"catalog {p.catalog.name} {p.catalog.version}"]
    if o.get("customer_account"):
        details.append(f"customer {o['customer_account']}")
    notes = [f"{k} = {show_value(o[k])}" for k in ("external_id", "category", "priority", "requested_start_date", "requested_completion_date") if o.get(k) is not None]
    root = order_node_id(p.order.id)
    g.add_node(Node(root, p.order.id, "scope", None, details, notes))

    if p.order.items:
        g.add_cluster(Cluster(ITEMS, "order items", "items"))
    for i in p.order.items:
        details = [i.product, i.action + (f" {i.asset_id}" if i.asset_id and i.asset_id != i.id else "")]
        notes = [f"{k} = {show_value(v)}" + (" (enriched)" if k in i.enriched else "") for k, v in i.values.items()]
        if i.asset_id:
            notes.insert(0, f"asset {i.asset_id}")
        if i.implicit:
            details.append("installed, not in the order")
            notes.insert(0, "not in the order: an installed child carried along with its parent")
        g.add_node(Node(item_id(i.id), f"item {i.id}", "item", ITEMS, details, notes))
        g.add_edge(Edge(item_id(i.parent.id) if i.parent else root, item_id(i.id), "has"))

    by_line: dict = {}
    for it in p.plan.items:
        by_line.setdefault(it.line, []).append(it)
    skipped: dict = {}
    for s in p.plan.skipped:
        skipped.setdefault(s.line, []).append(s)
    roots = {i.id: i for i in p.order.root_items}

    for fr in p.fulfillment_requests:
        frc = f"request:{fr.id}"
        title = f"{fr.id}: bundle of order item {fr.bundle} ({roots[fr.bundle].product})" if fr.bundle in roots else f"{fr.id}: order scope"
        g.add_cluster(Cluster(frc, title, "request"))
        for l in fr.lines:
            lc = line_id(l.id)
            g.add_cluster(Cluster(lc, f"{l.id} {l.product} ({l.action})", "line", frc))
            details = [l.product, l.action]
            if l.changes:
                details += [f"{a}: {show_value(old)} -> {show_value(new)}" for a, (old, new) in sorted(l.changes.items())]
            elif l.why and l.why != "its item is added":
                details[1] += f": {l.why}"
            if l.id in p.plan.lines_without_tasks:
                details.append("no tasks" if l.action == "noChange" else f"no tasks: {p.plan.lines_without_tasks[l.id]}")
            notes = ([f"key {l.key}"] if l.key else []) + [f"{k} = {show_value(v)}" for k, v in l.values.items() if v is not None]
            if l.why:
                notes.append(f"{l.action}: {l.why}")
            g.add_node(Node(line_id(l.id), l.id, "line", lc, details, notes))
            for it in by_line.get(l.id, []):
                d = it.definition
                g.add_node(Node(task_id(it.id), it.name, "task", lc, task_details(d, it.condition), task_notes(d) + [f"{dep.via}: {dep.on}" for dep in it.dependencies], it.type, it.point_of_no_return))
            for s in skipped.get(l.id, []):
                g.add_node(Node(task_id(s.id), s.id.rsplit(":", 1)[-1], "skipped", lc, ["skipped at planning", s.reason]))
            label = f"{l.rule}: {l.action}"
            if l.condition:
                label += f" when {l.condition}"
            if l.unit is not None:
                label += f", unit {l.unit[0]} of {l.unit[1]}"
            src = line_id(l.source_line) if l.source_line else item_id(l.source_item) if l.source_item else root
            g.add_edge(Edge(src, line_id(l.id), "decompose", label, [f"{l.rule}: {l.relationship}"]))

    line_of = {it.id: it.line for it in p.plan.items}
    for it in p.plan.items:
        for dep in it.dependencies:
            if line_of.get(dep.on) == it.line:
                kind, label = "after", None
            elif "every task in " in dep.via.split(",", 1)[0]:
                kind, label = "every", None
            else:
                kind, label = "cross", dep.via
            g.add_edge(Edge(task_id(dep.on), task_id(it.id), kind, label, [dep.via]))
    for fr in p.fulfillment_requests:
        for l in fr.lines:
            g.add_layout_edges(line_id(l.id), line_id(l.id))
    g.check()
    return g
