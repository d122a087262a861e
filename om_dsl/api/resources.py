"""om's orders, cancellations and subscriptions as TMF622 resources, per
version. The ProductOrder is the order as submitted (its last revision),
with what om knows added: id, href, state, orderDate, completionDate, the
items' states, and why a rejected order was rejected (v5 `errorMessage`, v4
`note`: v4 has no error field on an order)."""

from __future__ import annotations

from typing import Optional
from urllib.parse import quote

from om_dsl.planning.order import Problem
from om_dsl.tmf622 import errors as tmf_errors

ORDER_STATES = {
    "v4": {"acknowledged", "rejected", "pending", "held", "inProgress", "cancelled", "completed", "failed", "partial", "assessingCancellation", "pendingCancellation"},
    "v5": {"acknowledged", "rejected", "pending", "held", "inProgress", "cancelled", "completed", "failed", "partial", "assessingCancellation", "pendingCancellation", "draft"},
}
ITEM_STATES = {"acknowledged", "rejected", "pending", "held", "inProgress", "cancelled", "completed", "failed", "assessingCancellation", "pendingCancellation"}
# Request fields copied into the resource as they came (the rest of the resource is om's).
KEPT = ("externalId", "description", "category", "priority", "requestedCompletionDate", "requestedStartDate", "relatedParty", "note", "channel", "billingAccount", "agreement", "@baseType", "@schemaLocation")


def order_state(version: str, status: str) -> str:
    if status in ORDER_STATES[version]:
        return status
    return "acknowledged" if status == "draft" else "inProgress"  # v4 has no draft


def _item_state(order_status: str) -> str:
    if order_status in ITEM_STATES:
        return order_status
    if order_status == "draft":
        return "acknowledged"
    return "failed" if order_status == "partial" else "inProgress"


def _problem(p: dict) -> Problem:
    """A rejection's problem as the store keeps it (item, rule, message, path)."""
    return Problem(str(p.get("rule") or "rejected"), str(p.get("message") or ""), p.get("item"), p.get("product"), p.get("path"))


def _items(items, state: str, version: str) -> list:
    out = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        item = dict(item, state=state)
        if version == "v5":
            item.setdefault("@type", "ProductOrderItem")
        if "productOrderItem" in item:
            item["productOrderItem"] = _items(item["productOrderItem"], state, version)
        out.append(item)
    return out


def _external_id(value, version: str):
    if version == "v4":
        if isinstance(value, list):  # a v5 order read over v4: its first identifier
            first = next((x for x in value if isinstance(x, dict) and x.get("id")), None)
            return str(first["id"]) if first else None
        return value if isinstance(value, str) else None
    if isinstance(value, str):
        return [{"@type": "ExternalIdentifier", "id": value}]
    return value if isinstance(value, list) else None


def product_order(version: str, base: str, order: dict, document: Optional[dict]) -> dict:
    """`order`: the service's `order()`; `document`: its `order_document()`."""
    doc = document or {}
    out = {"id": order["id"], "href": f"{base}/productOrder/{quote(order['id'], safe='')}", "@type": "ProductOrder"}
    for key in KEPT:
        if key in doc:
            out[key] = doc[key]
    if "externalId" in out:
        external = _external_id(out["externalId"], version)
        if external is None:
            del out["externalId"]
        else:
            out["externalId"] = external
    out["state"] = order_state(version, order["status"])
    if order.get("created_at"):
        out["orderDate"] = order["created_at"]
    if order["status"] in ("completed", "cancelled", "failed", "partial") and order.get("updated_at"):
        out["completionDate"] = order["updated_at"]
    out["productOrderItem"] = _items(doc.get("productOrderItem"), _item_state(order["status"]), version)
    problems = [_problem(p) for p in order.get("problems") or [] if isinstance(p, dict)]
    if problems:
        if version == "v5":  # each as TMF622 errors (om_dsl.tmf622.errors), with the item it names
            out["errorMessage"] = [
                {**tmf_errors.error(p, version), "@type": "ProductOrderErrorMessage", **({"productOrderItem": [{"@type": "ProductOrderItemRef", "itemId": p.item, "productOrderId": order["id"]}]} if p.item else {})}
                for p in problems
            ]
        else:  # v4 has no error field on an order: each reason is a note
            notes = [n for n in out.get("note", []) if isinstance(n, dict)]
            out["note"] = notes + [{"text": "rejected: " + p.render()} for p in problems]
    return out


def cancellation(version: str, base: str, c: dict) -> dict:
    out = {
        "id": c["id"],
        "href": f"{base}/cancelProductOrder/{quote(c['id'], safe='')}",
        "@type": "CancelProductOrder",
        "productOrder": {"id": c["order"], "href": f"{base}/productOrder/{quote(c['order'], safe='')}", **({"@type": "ProductOrderRef"} if version == "v5" else {})},
        "state": c["state"],
    }
    if c.get("reason"):
        out["cancellationReason"] = c["reason"]
    if c["state"] == "done":
        out["effectiveCancellationDate"] = c["updated_at"]
    if version == "v5":
        out["creationDate"] = c["requested_at"]
    return out


def subscription(version: str, sub: dict) -> dict:
    out = {"id": sub["id"], "callback": sub["callback"]}
    if sub.get("query"):
        out["query"] = sub["query"]
    if version == "v5":
        out["@type"] = "Hub"
    return out
