"""What the console's pages show, from the order service's answers: pure
shaping (filters, pages, fallout groups, worklists, the form of a manual
task), so that the page handlers only fetch and render."""

from __future__ import annotations

import json
from typing import Optional

PAGE_SIZE = 50
ORDER_STATES = ("acknowledged", "draft", "inProgress", "pending", "held", "assessingCancellation", "pendingCancellation", "completed", "failed", "partial", "cancelled", "rejected")
JEOPARDY = ("green", "yellow", "red")
FALLOUT_STATES = ("fatallyFailed", "onHold")  # what an operator retries or skips
TYPES = {"int": "number", "decimal": "text", "bool": "text", "date": "date"}  # an output's type -> the input that takes it


def filtered(rows: list, customer: str = "", external_id: str = "") -> list:
    """Orders whose customer and external id hold the given text (case-insensitive)."""
    c, x = customer.lower(), external_id.lower()
    return [r for r in rows if (not c or c in (r.get("customer") or "").lower()) and (not x or x in (r.get("external_id") or "").lower())]


def paged(rows: list, page: int, size: Optional[int] = None) -> tuple[list, int]:
    """One page of rows (counted from 1), and how many pages there are (at least 1)."""
    size = size or PAGE_SIZE
    pages = max(1, -(-len(rows) // size))
    page = min(max(page, 1), pages)
    return rows[(page - 1) * size : page * size], pages


def fallout_tasks(order: dict) -> list:
    """The order's tasks an operator retries or skips: fatally failed ones, and calls held for an offline system."""
    return [t for t in order.get("tasks") or [] if t["status"] in FALLOUT_STATES and t["type"] != "manual"]


def fallout_groups(orders: list) -> list:
    """Fallout grouped by system, operation and error: [{"system", "operation", "error", "status", "tasks": [{"order", "task", ...}]}]."""
    groups: dict = {}
    for order in orders:
        for t in fallout_tasks(order):
            target = t.get("call") or ""
            system, _, operation = target.partition(".") if "." in target and ":" not in target else ("python" if target else "", "", target)
            error = t.get("error") or t.get("waiting_for") or ""
            key = (system, operation, t["status"], error)
            groups.setdefault(key, []).append({**t, "order": order["id"], "select": select_value(order["id"], t["id"])})
    return [{"system": k[0] or "-", "operation": k[1] or "-", "status": k[2], "error": k[3], "tasks": v} for k, v in sorted(groups.items())]


def select_value(order_id: str, task_id: str) -> str:
    """A checkbox's value naming one task of one order (ids may hold any character)."""
    return json.dumps([order_id, task_id])


def selected(values: list) -> list:
    """The (order, task) pairs a bulk form selected; ValueError for one that is not."""
    out = []
    for v in values:
        pair = json.loads(v)
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, str) for x in pair)):
            raise ValueError("a selected task is not [order, task]")
        out.append((pair[0], pair[1]))
    return list(dict.fromkeys(out))


def worklist(orders: list, queue: Optional[str] = None) -> dict:
    """Open manual tasks by queue, from the orders that hold them: {queue: [task entries with "order"]}, due first."""
    out: dict = {}
    for order in orders:
        for t in order.get("tasks") or []:
            if t["type"] == "manual" and t["status"] == "ready" and (queue is None or t.get("queue") == queue):
                out.setdefault(t.get("queue") or "-", []).append({**t, "order": order["id"], "customer": order.get("customer")})
    for rows in out.values():
        rows.sort(key=lambda r: (r.get("due") or "9999", r["order"], r["id"]))
    return dict(sorted(out.items()))


def form_fields(task: dict) -> list:
    """The inputs of a manual task's completion form: [{"name", "type", "input", "choices"}]."""
    out = []
    for name, type_ in task.get("fields") or []:
        if "|" in type_:  # a fallout task's resolution
            out.append({"name": name, "type": "one of " + ", ".join(type_.split("|")), "input": "select", "choices": type_.split("|")})
        else:
            out.append({"name": name, "type": type_, "input": TYPES.get(type_, "text"), "choices": []})
    return out


def data_pairs(fields: dict, declared: list, extra: str) -> tuple:
    """The `key=value` pairs a completion form gives (declared outputs, then
    free `key=value` lines), as `om tasks complete --data` takes them."""
    pairs = []
    for f in declared:
        value = (fields.get("out." + f["name"]) or [""])[0]
        if value != "":
            pairs.append(f"{f['name']}={value}")
    pairs += [line.strip() for line in extra.splitlines() if line.strip()]
    return tuple(pairs)


def timeline(history: list) -> list:
    """History newest first, each line with what it was about."""
    return list(reversed(history))


def systems(changes: list, orders: list) -> list:
    """Each system an operator changed or an unfinished order calls: offline or online, and the calls it holds."""
    by: dict = {c["system"]: {**c, "held": []} for c in changes}
    for order in orders:
        for t in order.get("tasks") or []:
            target = t.get("call") or ""
            if t["type"] != "callout" or "." not in target:
                continue
            name = target.split(".", 1)[0]
            entry = by.setdefault(name, {"system": name, "offline": t["status"] == "onHold", "since": None, "by": None, "held": []})
            if t["status"] == "onHold":
                entry["held"].append({"order": order["id"], "task": t["id"]})
    return [by[k] for k in sorted(by)]
