"""How far each commercial order item is, and what an order event tells.

An item's state is rolled up from the tasks of its fulfillment lines (of its
children's, when it has none of its own), in TMF622's item states:
acknowledged (nothing started), inProgress, held (a task fatally failed or
waits for an offline system), completed, failed (the order was given up
before it completed), and the order's own state while the order is being
cancelled, or is cancelled or rejected.

An order event is a notice: plain facts taken at the moment it happens (the
order's and its items' states, the event's own facts), which a driver turns
into TMF622's official shape (`om_dsl.tmf622.events`) when it sends it. The
facts are kept in the outbox: the event says what was true when it was made,
whenever it is delivered.
"""

from __future__ import annotations

from typing import Optional

from om_dsl.engine import state as S
from om_dsl.engine.instants import show_instant
from om_dsl.planning import keys as K

ACKNOWLEDGED, IN_PROGRESS, HELD, COMPLETED, FAILED = S.ACKNOWLEDGED, S.IN_PROGRESS, S.HELD, S.ORDER_COMPLETED, S.ORDER_FAILED
FOLLOW_ORDER = (S.ASSESSING_CANCELLATION, S.PENDING_CANCELLATION, S.ORDER_CANCELLED, S.REJECTED)  # every item is in the order's state


def _tasks_by_item(run: S.OrderRun) -> dict:
    """Each item's tasks: those of its own lines (runs a revision superseded, `TASK@N`, apart)."""
    own: dict = {i.id: [] for i in run.items}
    for task in run.tasks.values():
        if "@" in task.id:
            continue
        line = run.lines.get(task.line)
        if line is not None and line.source_item in own:
            own[line.source_item].append(task)
    children: dict = {}
    for i in run.items:
        if i.parent is not None:
            children.setdefault(i.parent, []).append(i.id)

    def rolled(item_id: str, seen: frozenset) -> list:
        if own[item_id] or item_id in seen:
            return own[item_id]
        return [t for c in children.get(item_id, []) if c in own for t in rolled(c, seen | {item_id})]

    return {i.id: rolled(i.id, frozenset()) for i in run.items}


def _state(tasks: list, order: str) -> str:
    if order in FOLLOW_ORDER:
        return order
    work = [t for t in tasks if t.type != "compensation"]
    done = all(t.status in S.DONE for t in work)
    if order in (S.ORDER_FAILED, S.PARTIAL):  # given up: what had not completed failed
        return COMPLETED if done and (work or order == S.PARTIAL) else FAILED
    if all(t.status == S.PENDING for t in work) and (order == S.ACKNOWLEDGED or work):
        return ACKNOWLEDGED
    if not work:  # nothing to do: done as soon as the order runs
        return COMPLETED
    if any(t.status in (S.FATALLY_FAILED, S.ON_HOLD) for t in tasks):  # an undo of its own too
        return HELD
    return COMPLETED if done else IN_PROGRESS


def item_states(run: S.OrderRun) -> dict:
    """item id -> its state (TMF622's names), in the order's item order."""
    tasks = _tasks_by_item(run)
    return {i.id: _state(tasks[i.id], run.status) for i in run.items}


def completed_items(run: S.OrderRun) -> set:
    """The items with work of their own (or their children's) that is all done."""
    tasks = _tasks_by_item(run)
    return {i.id for i in run.items if (work := [t for t in tasks[i.id] if t.type != "compensation"]) and all(t.status in S.DONE for t in work)}


def kept_part(run: S.OrderRun) -> S.OrderRun:
    """What a partial order delivered: its completed items and their lines
    (and the order's own lines), for the installed base to record."""
    done = completed_items(run)
    part = S.clone(run)
    part.items = [i for i in run.items if i.id in done]
    part.lines = {k: line for k, line in part.lines.items() if line.source_item is None or line.source_item in done}
    part.tasks = {k: t for k, t in part.tasks.items() if t.line in part.lines}
    return part


def asset_of(run: S.OrderRun, item: S.ItemRecord, state: str) -> Optional[str]:
    """The installed product an item changes, or the one it created (once it has)."""
    if item.asset_id:
        return item.asset_id
    if item.action == "add" and state == COMPLETED and run.status in (S.ORDER_COMPLETED, S.PARTIAL):
        return K.asset_id(run.id, item.id)
    return None


def order_facts(run: S.OrderRun, now: int) -> dict:
    """What an order event (or the resource) says of the order as of now."""
    states = item_states(run)
    order = {
        "id": run.id, "state": run.status, "orderDate": show_instant(run.created_at),
        "items": [
            {"id": i.id, "action": i.action, "state": states[i.id], **({"parent": i.parent} if i.parent else {}), **({"asset": a} if (a := asset_of(run, i, states[i.id])) else {})}
            for i in run.items
        ],
    }
    if run.external_id is not None:
        order["externalId"] = run.external_id
    kept = run.fields.get("request") or {}
    if kept.get("version"):  # the version the order speaks (intake's), for a driver without its request
        order["version"] = kept["version"]
    units = kept.get("units")
    if units:  # a request item with a quantity is several items here: its units
        order["units"] = units
    if run.revision > 1:  # the request in force is that revision's (a driver returns what it carried)
        order["revision"] = run.revision
    if run.status in S.FINAL:
        order["completionDate"] = show_instant(run.updated_at if run.updated_at <= now else now)
    return order


def notice(run: S.OrderRun, event_type: str, now: int, **facts) -> dict:
    """An order event's facts, as of now; `facts` are the event's own
    (jeopardy, milestone, cancellation, revision)."""
    order = order_facts(run, now)
    if run.status in S.FINAL:
        order["completionDate"] = show_instant(now)
    return {"eventId": K.event_id(run.id, run.events), "eventTime": show_instant(now), "eventType": event_type, "order": order, **({"facts": facts} if facts else {})}
