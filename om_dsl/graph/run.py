"""The graph of a running order, as the order service shows it (`order()`):
one cluster per fulfillment line, its tasks filled by state, the plan's
dependencies as edges (solid within a line, dashed across lines). A
point of no return is drawn red, as in the planned order's graph.

It reads the service's JSON-ready answer, not the engine's state, so the
console draws an order the same way on both engines.
"""

from __future__ import annotations

from om_dsl.graph.model import Cluster, Edge, Graph, Node, natural_key
from om_dsl.graph.order import line_id, task_id


def run_graph(order: dict) -> Graph:
    g = Graph(order["id"], f"order {order['id']}: {order.get('status')}", "order")
    tasks = order.get("tasks") or []
    lines = sorted({t["line"] for t in tasks}, key=natural_key)
    for line in lines:
        g.add_cluster(Cluster(line_id(line), line, "line"))
    for t in tasks:
        details = [f"{t['type']}: {t['status']}"]
        if t.get("attempts"):
            details.append(f"attempts {t['attempts']}")
        if t.get("jeopardy"):
            details.append(f"jeopardy {t['jeopardy']}")
        notes = [t[k] for k in ("waiting_for", "error") if t.get(k)]
        g.add_node(Node(task_id(t["id"]), t["name"], "task", line_id(t["line"]), details, notes, t["type"] if t["type"] in ("callout", "auto", "manual", "milestone", "wait") else None, t.get("point_of_no_return"), state=t["status"]))
    line_of = {t["id"]: t["line"] for t in tasks}
    for t in tasks:
        for dep in t.get("depends_on") or []:
            if dep in line_of:
                g.add_edge(Edge(task_id(dep), task_id(t["id"]), "after" if line_of[dep] == t["line"] else "cross"))
    g.check()
    return g
