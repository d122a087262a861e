"""What the API adds to om's TMF622 resources: why a rejected order was
rejected (v5 `errorMessage`, v4 `note`: v4 has no error field on an order),
and the CancelProductOrder and hub subscription resources. The ProductOrder
itself is the engine's (`OrderService.product_order`, om_dsl.tmf622.resource)."""

from __future__ import annotations

from urllib.parse import quote

from om_dsl.planning.order import Problem
from om_dsl.tmf622 import errors as tmf_errors


def problem(p: dict) -> Problem:
    """A rejection's problem as the store keeps it (item, rule, message, path)."""
    return Problem(str(p.get("rule") or "rejected"), str(p.get("message") or ""), p.get("item"), p.get("product"), p.get("path"))


def with_reasons(version: str, out: dict, order: dict) -> dict:
    """A rejected order's reasons on its resource, so that CPQ can read why:
    v5 `errorMessage` (each a TMF622 error, om_dsl.tmf622.errors, with the
    item it names); v4 has no error field on an order, so each is a `note`."""
    problems = [p if isinstance(p, Problem) else problem(p) for p in order.get("problems") or [] if isinstance(p, (dict, Problem))]
    if problems:
        if version == "v5":  # each as TMF622 errors (om_dsl.tmf622.errors), with the item it names
            out["errorMessage"] = [
                {**tmf_errors.error(p, version), "@type": "ProductOrderErrorMessage", **({"productOrderItem": [{"@type": "ProductOrderItemRef", "itemId": p.item, "productOrderId": order["id"]}]} if p.item else {})}
                for p in problems
            ]
        else:  # v4 has no error field on an order: each reason is a note
            notes = [n for n in out.get("note") or [] if isinstance(n, dict)]
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
