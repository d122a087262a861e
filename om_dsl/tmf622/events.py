"""Order events in TMF622's official shapes, v4 and v5.

The engine makes a notice for each event (`om_dsl.engine.progress.notice`:
its id, time, type and facts, taken when it happened); a driver renders it
here, in the version of the order's request, when it sends it:

| notice | v5 | v4 |
|---|---|---|
| ProductOrderCreateEvent | the resource, as the request made it | the same |
| ProductOrderStateChangeEvent | the order's and every item's state | the same |
| ProductOrderAttributeValueChangeEvent (a revision applied) | the order with its items as revised | the same |
| ProductOrderMilestoneEvent (a `milestone` task reached) | `productOrderMilestone` | v4 has none: an AttributeValueChangeEvent with `productOrderMilestone` |
| ProductOrderJeopardyAlertEvent (the order turned red) | `productOrderJeopardyAlert`, one per late task | v4 has none: an AttributeValueChangeEvent with `productOrderJeopardyAlert` |
| CancelProductOrderCreateEvent, ...StateChangeEvent | the cancellation request | the same |
| ProductOrderInformationRequiredEvent (a draft's revision refused) | a reference to the order, `informationRequired` (a JSON Patch at the missing field) | the order, and `fieldPath` |

The envelope is the standard's: `eventId` (the delivery's idempotency key),
`eventTime`, `eventType`, `correlationId` (the order's id: every event of an
order has it), `@type` (the event type), and `event` with the resource.
"""

from __future__ import annotations

from typing import Optional

from om_dsl.engine.instants import show_instant
from om_dsl.tmf622 import resource as R
from om_dsl.tmf622.states import V4, V5, version_of

ATTRIBUTE_CHANGE = "ProductOrderAttributeValueChangeEvent"
V5_ONLY = ("ProductOrderMilestoneEvent", "ProductOrderJeopardyAlertEvent")


def render(notice: dict, request: Optional[dict] = None, version: Optional[str] = None) -> dict:
    """An engine notice as the TMF622 event of the order's version (`request`:
    the order's request document, when the driver has it)."""
    notice = _current(notice)
    order, facts = notice["order"], notice.get("facts", {})
    version = version or (version_of(request) if isinstance(request, dict) else order.get("version", V4))
    kind = notice["eventType"]
    if version == V4 and kind in V5_ONLY:
        kind = ATTRIBUTE_CHANGE
    out = _envelope(notice, kind, order["id"], version)
    if kind == "ProductOrderInformationRequiredEvent":
        return _needs(out, order, facts.get("informationRequired") or [], request, version)
    if kind.startswith("CancelProductOrder"):
        out["event"] = {"cancelProductOrder": _cancellation(order, facts.get("cancellation") or {}, notice["eventTime"], version)}
        return out
    po = R.shape(order, request, version, full=notice["eventType"] == "ProductOrderCreateEvent")
    if "milestone" in facts:
        po["productOrderMilestone"] = [_milestone(order["id"], facts["milestone"], notice["eventTime"], version)]
    if "jeopardy" in facts:
        alerts = [_alert(order["id"], t, notice["eventTime"], version) for t in facts["jeopardy"].get("tasks", [])]
        if facts["jeopardy"].get("order"):
            alerts.append(_overdue(order["id"], facts["jeopardy"]["order"]["due"], notice["eventTime"]))
        po["productOrderJeopardyAlert"] = alerts
    out["event"] = {"productOrder": po}
    return out


def revision_of(notice: dict) -> int:
    """The order's revision when the notice was made: its request is that revision's."""
    return (notice.get("order") or {}).get("revision", 1)


def _needs(out: dict, order: dict, missing: list, request: Optional[dict], version: str) -> dict:
    """What a draft lacks: the first missing field names where (a JSON pointer); every problem is in the description."""
    path = next((m["path"] for m in missing if m.get("path")), "/")
    out["description"] = "; ".join(str(m["message"]) for m in missing if m.get("message"))[:2000]
    if version == V4:
        out["fieldPath"] = path
        out["event"] = {"productOrder": R.shape(order, request, V4, full=True)}
    else:
        ref = {"@type": "ProductOrderRef", "@referredType": "ProductOrder", "id": order["id"], "href": R.href(order["id"], V5)}
        out["event"] = {"productOrder": ref, "informationRequired": {"op": "add", "path": path}}
    return out


# ---- parts ------------------------------------------------------------------------------------------


def _envelope(notice: dict, kind: str, order_id: str, version: str) -> dict:
    out = {"eventId": notice["eventId"], "eventTime": notice["eventTime"], "eventType": kind, "correlationId": order_id, "@type": kind}
    if version == V5:
        out["@baseType"] = "Event"
    return out


def _item_ref(order_id: str, item: Optional[str]) -> list:
    return [{"@type": "ProductOrderItemRef", "productOrderId": order_id, "productOrderItemId": item}] if item else []


def _milestone(order_id: str, m: dict, at: str, version: str) -> dict:
    return {"@type": "ProductOrderMilestone", "id": m["id"], "name": m["name"], "status": "Completed", "milestoneDate": at, "message": f"milestone {m['name']} reached", "productOrderItem": _item_ref(order_id, m.get("item"))}


def _alert(order_id: str, t: dict, at: str, version: str) -> dict:
    due = f" was due at {show_instant(t['due'])}" if t.get("due") is not None else " is late"
    return {
        "@type": "ProductOrderJeopardyAlert", "id": f"{t['id']}:jeopardy", "name": t.get("name") or t["id"], "jeopardyType": "Overdue", "alertDate": at,
        "message": f"task {t['id']}{due}", "productOrderItem": _item_ref(order_id, t.get("item")),
    }


def _overdue(order_id: str, due: int, at: str) -> dict:
    """The order itself is late: past its requested completion date."""
    return {
        "@type": "ProductOrderJeopardyAlert", "id": f"{order_id}:jeopardy", "name": "requestedCompletionDate", "jeopardyType": "Overdue", "alertDate": at,
        "message": f"order {order_id} was due at {show_instant(due)} (its requestedCompletionDate)",
    }


def _cancellation(order: dict, c: dict, at: str, version: str) -> dict:
    """The CancelProductOrder request an operator's cancellation is (one per order)."""
    out = {
        "@type": "CancelProductOrder", "id": f"{order['id']}:cancel", "href": R.href(f"{order['id']}:cancel", version, "cancelProductOrder"),
        "productOrder": {"@type": "ProductOrderRef", "@referredType": "ProductOrder", "id": order["id"], "href": R.href(order["id"], version)},
        "state": c.get("state", "acknowledged"),
    }
    if c.get("reason"):
        out["cancellationReason"] = c["reason"]
    if out["state"] == "acknowledged" and version == V5:
        out["creationDate"] = at
    if out["state"] == "done":
        out["effectiveCancellationDate"] = at
    return out


def _said(p) -> tuple:
    if isinstance(p, dict):
        return p.get("path"), p.get("message")
    return getattr(p, "path", None), getattr(p, "message", None)


def _current(notice: dict) -> dict:
    """A notice as the engine makes it now; an older outbox row (the event
    already half-shaped, `event.productOrder`) is read as one."""
    if "order" in notice:
        return notice
    old = (notice.get("event") or {}).get("productOrder") or {}
    order = {"id": old.get("id"), "state": old.get("state"), "orderDate": notice.get("eventTime"), "items": []}
    if old.get("externalId") is not None:
        order["externalId"] = old["externalId"]
    out = {k: notice[k] for k in ("eventId", "eventTime", "eventType")}
    out["order"] = order
    if notice.get("eventType") == "ProductOrderJeopardyEvent":
        out["eventType"] = "ProductOrderJeopardyAlertEvent"
        out["facts"] = {"jeopardy": {"level": old.get("jeopardy"), "tasks": [{"id": t} for t in old.get("tasksInJeopardy", [])]}}
    return out
