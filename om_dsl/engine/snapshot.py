"""A planned order (or a revision of one) as plain data: what a Temporal
workflow starts from, and what an amendment waits with in the order's state."""

from __future__ import annotations

from om_dsl.engine import state as S
from om_dsl.planning import keys as K


def plan_snapshot(planned, order_id: str) -> dict:
    """A planned revision as plain data (it may wait in the order's state)."""
    lines = {
        line.id: {
            "product": line.product, "action": line.action, "values": dict(line.values), "bundle": line.bundle, "source_item": line.source_item,
            "rule": line.rule, "key": line.key, "source_asset": line.source_asset, "previous": line.previous,
        }
        for line in planned.lines
    }
    tasks = []
    for it in planned.plan.items:
        d = it.definition
        system = d.call.target.split(".", 1)[0] if it.type == "callout" else None
        tasks.append({"id": it.id, "name": it.name, "type": it.type, "product": it.product, "action": it.action, "line": it.line, "depends_on": list(it.depends_on), "queue": d.queue, "system": system})
    items = [
        {"id": i.id, "product": i.product, "action": i.action, "parent": i.parent.id if i.parent else None, "values": dict(i.values), "asset_id": i.asset_id}
        for i in planned.order.items
    ]
    fields = {k: v for k, v in planned.order.fields.items() if k not in ("root_items", "items")}
    skipped = [[s.id, s.reason] for s in planned.plan.skipped]
    return S.encode_value({"lines": lines, "tasks": tasks, "items": items, "fields": fields, "skipped": skipped, "waits_for": [[p.order, p.milestone] for p in getattr(planned, "waits_for", ())]})


def start_records(planned, order_id: str) -> tuple:
    """A planned order as the core's records, before it begins: (fields,
    items, lines, tasks, skipped, waits_for), as `Engine.start` builds them
    (a Temporal client sends them to the workflow: temporal/parts.py)."""
    order = planned.order
    fields = {k: v for k, v in order.fields.items() if k not in ("root_items", "items")}
    items = [S.ItemRecord(i.id, i.product, i.action, i.parent.id if i.parent else None, dict(i.values), i.asset_id) for i in order.items]
    lines = {l.id: S.LineRun(l.product, l.action, dict(l.values), l.bundle, l.source_item, l.rule, l.key, l.source_asset, l.previous) for l in planned.lines}  # noqa: E741
    tasks = {}
    for it in planned.plan.items:
        d = it.definition
        system = d.call.target.split(".", 1)[0] if it.type == "callout" else None
        tasks[it.id] = S.TaskRun(it.id, it.name, it.type, it.product, it.action, it.line, list(it.depends_on), queue=d.queue, key=K.call_key(order_id, it.id), system=system)
    skipped = [(s.id, s.reason) for s in planned.plan.skipped]
    return fields, items, lines, tasks, skipped, [(p.order, p.milestone) for p in getattr(planned, "waits_for", ())]
