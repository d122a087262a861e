"""How a planned (or rejected) order is shown: JSON for machines and
snapshots, text for people, DOT and Mermaid for the plan graph.

Every form is deterministic: the same order and catalog give the same bytes.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from om_dsl.model.canonical import dumps
from om_dsl.planning.order import Rejected, show_value
from om_dsl.planning.pipeline import PlannedOrder


def json_value(v):
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, datetime.date):
        return v.isoformat()
    return v


_TAGGED = (Decimal, datetime.date)


def _values(d: dict) -> dict:
    for v in d.values():
        if isinstance(v, _TAGGED):
            return {k: json_value(v) for k, v in d.items()}
    return dict(d)  # (most values are JSON as they are: one copy, no call per value)


def planned_data(p: PlannedOrder) -> dict:
    o = p.order.fields
    order = {k: json_value(o[k]) for k in ("id", "external_id", "category", "priority", "customer_account", "billing_account", "requested_start_date", "requested_completion_date") if o.get(k) is not None}
    if p.waits_for:  # other orders it will wait for (docs/order-dependencies.md)
        order["waits_for"] = [{"order": w.order, **({"milestone": w.milestone} if w.milestone else {})} for w in p.waits_for]
    items = []
    for i in p.order.items:
        items.append(
            {
                "id": i.id,
                **({"asset": i.asset_id} if i.asset_id else {}),
                **({"implicit": True} if i.implicit else {}),
                "product": i.product,
                "action": i.action,
                "parent": i.parent.id if i.parent else None,
                "attributes": _values({k: v for k, v in i.values.items() if k not in i.enriched}),
                "enriched": _values({k: i.values[k] for k in i.enriched}),
            }
        )
    requests = []
    for fr in p.fulfillment_requests:
        lines = []
        for l in fr.lines:
            reason = {"rule": l.rule, "relationship": l.relationship, "condition": l.condition}
            if l.unit is not None:
                reason["unit"] = f"{l.unit[0]} of {l.unit[1]}"
            if l.source_line is not None:
                reason["source_line"] = l.source_line
            if l.why is not None:
                reason["action"] = l.why
            if l.changes:
                reason["changes"] = {a: {"from": json_value(old), "to": json_value(new)} for a, (old, new) in sorted(l.changes.items())}
            lines.append({"id": l.id, "key": l.key, "product": l.product, "action": l.action, "attributes": _values(l.values), "source_item": l.source_item, "reason": reason})
        requests.append({"id": fr.id, "bundle": fr.bundle, "lines": lines})
    plan_items = []
    for it in p.plan.items:
        entry = {
            "id": it.id,
            "name": it.name,
            "type": it.type,
            "product": it.product,
            "line": it.line,
            "depends_on": list(it.depends_on),
            "dependencies": [{"on": on, "via": via} for on, via in it.waits()],
            "point_of_no_return": it.point_of_no_return is not None,
        }
        if it.point_of_no_return:
            entry["point_of_no_return_kind"] = it.point_of_no_return
        if it.target:
            entry["calls"] = it.target
        if it.condition:
            entry["when"] = it.condition
        if it.definition.due_ms is not None:
            entry["due_ms"] = it.definition.due_ms
        if it.definition.compensate is not None:
            entry["compensation"] = it.definition.compensate.target
        if it.definition.on_amend is not None:
            entry["on_amend"] = it.definition.on_amend
        plan_items.append(entry)
    return {
        "status": "accepted",
        "catalog": {"name": p.catalog.name, "version": p.catalog.version},
        "order": order,
        "order_items": items,
        "fulfillment_requests": requests,
        "plan": {
            "items": plan_items,
            "skipped": [{"id": s.id, "line": s.line, "reason": s.reason} for s in p.plan.skipped],
            "lines_without_tasks": [{"line": k, "reason": v} for k, v in p.plan.lines_without_tasks.items()],
        },
    }


def rejected_data(r: Rejected, order_id: str | None = None) -> dict:
    return {
        "status": "rejected",
        "order": order_id,
        "problems": [{k: v for k, v in (("item", p.item), ("product", p.product), ("rule", p.rule), ("path", p.path), ("message", p.message)) if v is not None} for p in r.problems],
    }


def to_json(data: dict) -> str:
    """Stable text: keys sorted, two-space indent (lists of scalars on one line)."""
    return dumps(data)


# ---- text for people ----------------------------------------------------------------------


def to_text(p: PlannedOrder) -> str:
    out = []
    o = p.order.fields
    out.append(f"order {o['id']}" + (f" (external id {o['external_id']})" if o.get("external_id") else "") + f" against catalog {p.catalog.name} {p.catalog.version}")
    if o.get("customer_account"):
        out.append(f"customer account {o['customer_account']}")
    for w in p.waits_for:
        out.append(f"waits for order {w.order}" + (f" to reach its milestone {w.milestone}" if w.milestone else " to complete"))
    out.append("")
    out.append("fulfillment requests")
    items = {i.id: i for i in p.order.items}  # one lookup per request, not a scan of every item
    for fr in p.fulfillment_requests:
        root = items.get(fr.bundle)
        title = f"{fr.id}: bundle of order item {root.id} ({root.product})" if root else f"{fr.id}: order scope"
        out.append(f"  {title}")
        for n, l in enumerate(fr.lines):
            last = n == len(fr.lines) - 1
            branch = "└─" if last else "├─"
            why = f"{l.rule}: {l.relationship}"
            if l.condition:
                why += f" when {l.condition}"
            if l.unit:
                why += f", unit {l.unit[0]} of {l.unit[1]}"
            src = f"from item {l.source_item}" if l.source_item else "from the order"
            out.append(f"  {branch} {l.id}  {l.product}  {l.action}  ({src}; {why})")
            if l.why and l.why != "its item is added":
                out.append(f"  {'   ' if last else '│  '}   {l.action}: {l.why}")
            attrs_text = ", ".join(f"{k} = {show_value(v)}" for k, v in l.values.items() if v is not None)
            out.append(f"  {'   ' if last else '│  '}   {attrs_text}")
    out.append("")
    out.append(f"plan: {len(p.plan.items)} tasks, in dependency order")
    for n, it in enumerate(p.plan.items, 1):
        flags = []
        if it.point_of_no_return:
            flags.append(f"point of no return ({it.point_of_no_return})")
        if it.condition:
            flags.append(f"when {it.condition}")
        if it.definition.on_amend is not None:
            flags.append(f"on amend {it.definition.on_amend}")
        head = f"  {n:>3}. {it.id}  {it.type}"
        if it.target:
            head += f"  {it.target}"
        if flags:
            head += "  [" + "; ".join(flags) + "]"
        out.append(head)
        if it.depends_on:
            out.append("         after " + ", ".join(it.depends_on))
    if p.plan.skipped:
        out.append("")
        out.append("skipped at planning")
        for s in p.plan.skipped:
            out.append(f"  {s.id}: {s.reason}")
    if p.plan.lines_without_tasks:
        out.append("")
        out.append("lines without tasks")
        for k, v in p.plan.lines_without_tasks.items():
            out.append(f"  {k}: {v}")
    return "\n".join(out) + "\n"


def rejection_text(r: Rejected, order_id: str | None = None) -> str:
    head = f"order {order_id} rejected" if order_id else "order rejected"
    lines = [f"{head}: {len(r.problems)} problem{'s' if len(r.problems) != 1 else ''}"]
    lines += [f"  - {p.render()}" for p in r.problems]
    return "\n".join(lines) + "\n"
