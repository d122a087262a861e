"""The ProductOrder resource, in the TMF622 version the order came in.

Everything the request carried, as it carried it, plus what om knows: the
order's state and each item's (rolled up from its lines' tasks), the dates
(`orderDate` in v4, `creationDate` in v5; `completionDate`,
`expectedCompletionDate`, `cancellationDate`), each item's `product.id` set
to the installed product it changed or, once it is created, the one it
created, and `id`, `href`, `@type`. Pure: the same order and request give
the same resource.
"""

from __future__ import annotations

import copy
import re
from typing import Optional
from urllib.parse import quote

from om_dsl.engine import progress
from om_dsl.engine import state as S
from om_dsl.engine.instants import show_instant
from om_dsl.planning.fields import due_instant
from om_dsl.tmf622.states import V4, V5, item_state, order_state, version_of

# What the server sets: a request's own values of these are not returned.
SERVER_SET = ("id", "href", "state", "orderDate", "creationDate", "completionDate", "expectedCompletionDate", "cancellationDate")
ENDED = (S.ORDER_COMPLETED, S.PARTIAL, S.ORDER_FAILED)


def href(order_id: str, version: str, what: str = "productOrder") -> str:
    return f"/tmf-api/productOrderingManagement/{version}/{what}/{quote(order_id, safe='')}"


def product_order(run: S.OrderRun, request: Optional[dict], version: Optional[str] = None, owned: bool = False) -> dict:
    """The resource of a running or ended order: its state (`run`), its
    request document (what the store keeps; `None`: only what the engine knows;
    `owned`: a copy the caller gives away, used as it is rather than copied)."""
    facts = progress.order_facts(run, run.updated_at)
    version = version or (version_of(request) if isinstance(request, dict) else facts.get("version", V4))
    out = shape(facts, request, version, full=True, owned=owned)
    expected = expected_completion(run)
    if expected is not None:
        out["expectedCompletionDate"] = expected
    return out


def rejected_order(order_id: str, request: Optional[dict], at: int, external_id: Optional[str] = None) -> dict:
    """The resource of an order that was rejected at intake: it never ran."""
    version = version_of(request)
    items = [{"id": i["id"], "action": i.get("action"), "state": S.REJECTED} for i in _request_items(request) if isinstance(i.get("id"), str)]
    facts = {"id": order_id, "state": S.REJECTED, "orderDate": show_instant(at), "items": items}
    if external_id is not None:
        facts["externalId"] = external_id
    return shape(facts, request, version, full=True)


def expected_completion(run: S.OrderRun) -> Optional[str]:
    """When om expects the order to complete: when it did; else the latest due
    time of its open tasks that have one; else the requested completion date."""
    if run.status in ENDED:
        return show_instant(run.updated_at)
    if run.status in S.FINAL:
        return None
    due = [t.due_at for t in run.tasks.values() if t.due_at is not None and t.status not in S.DONE and t.status != S.CANCELLED]
    if due:
        return show_instant(max(due))
    asked = run.fields.get("due_at")  # the requested completion date, as intake read it (ms)
    return show_instant(asked) if asked is not None else None


# ---- shaping --------------------------------------------------------------------------------------


def shape(facts: dict, request: Optional[dict], version: str, full: bool, owned: bool = False) -> dict:
    """A ProductOrder from an order's facts (`progress.order_facts`): with
    `full`, everything the request carried too; else the order's id, state,
    dates and items' states (what a state change event carries)."""
    base = (request if owned else _copied(request)) if full and isinstance(request, dict) else {}
    for k in ("requestedStartDate", "requestedCompletionDate"):
        if k in base:
            base[k] = _date_time(base[k], end_of_day=k == "requestedCompletionDate")
    if version == V5:
        base = _typed(base, None)
    out: dict = {"id": facts["id"], "href": href(facts["id"], version), "@type": base.get("@type") or "ProductOrder"}
    for k, v in base.items():
        if k not in SERVER_SET and k not in out and k != "productOrderItem" and k != "externalId":
            out[k] = v
    if version == V4 and isinstance(out.get("relatedParty"), list):
        out["relatedParty"] = [_referred(p) for p in out["relatedParty"]]
    external = _external_id(base.get("externalId", facts.get("externalId")), version)
    if external is not None:
        out["externalId"] = external
    state = facts["state"]
    out["state"] = order_state(state, version)
    out["orderDate" if version == V4 else "creationDate"] = facts["orderDate"]
    if state == S.ORDER_CANCELLED and "completionDate" in facts:
        out["cancellationDate"] = facts["completionDate"]
    elif state in ENDED and "completionDate" in facts:
        out["completionDate"] = facts["completionDate"]
    by_id = _by_request_item(facts)
    if full and _request_items(request):
        out["productOrderItem"] = [_item(i, by_id, state, version) for i in base["productOrderItem"] if isinstance(i, dict)]
    else:
        known = list(by_id.values()) or [i for i in (request or {}).get("productOrderItem") or [] if isinstance(i, dict)]  # an old notice has no items
        out["productOrderItem"] = [_item({"id": str(i.get("id")), "action": i.get("action")}, by_id, state, version) for i in known]
    return out


def _copied(node):
    """A copy of a JSON document (dicts, lists, scalars), which shaping may change:
    what copy.deepcopy makes of one, at a fraction of its cost (no memo of shared parts)."""
    t = type(node)
    if t is dict:
        return {k: _copied(v) for k, v in node.items()}
    if t is list:
        return [_copied(v) for v in node]
    return copy.deepcopy(node) if t not in _SCALARS else node


_SCALARS = frozenset((str, int, float, bool, type(None)))


def _by_request_item(facts: dict) -> dict:
    """The order's items by their id in the request: the units of an item with
    a `quantity` (`ID~1`..`ID~N`) are one item, in one state."""
    unit_of = {u: r for r, us in (facts.get("units") or {}).items() for u in us}
    groups: dict = {}
    for i in facts["items"]:
        groups.setdefault(unit_of.get(i["id"], i["id"]), []).append(i)
    out = {}
    for rid, group in groups.items():
        if len(group) == 1 and group[0]["id"] == rid:
            out[rid] = group[0]
            continue
        out[rid] = {"id": rid, "action": group[0]["action"], "state": _together([i["state"] for i in group])}
    return out


def _together(states: list) -> str:
    """One state for several units: theirs when they agree; else held when one
    is, in progress while one is under way, partial when some completed and
    some failed (v4 items have no partial: failed)."""
    if len(set(states)) == 1:
        return states[0]
    for s in (S.HELD, S.IN_PROGRESS, S.ACKNOWLEDGED):
        if s in states:
            return S.IN_PROGRESS if s == S.ACKNOWLEDGED else s
    return S.PARTIAL if S.ORDER_COMPLETED in states and S.ORDER_FAILED in states else states[0]


def _item(item: dict, by_id: dict, order: str, version: str) -> dict:
    """A request's item (and its nested items) with its state and its product's id."""
    fact = by_id.get(str(item.get("id")))
    state = fact["state"] if fact is not None and order != "draft" else _state_without_items(order)  # a draft's items are in draft
    item["state"] = item_state(state, version)
    if fact is not None and fact.get("asset"):
        product = item.get("product") if isinstance(item.get("product"), dict) else {}
        product["id"] = fact["asset"]
        item["product"] = product
    if version == V5:
        item.setdefault("@type", "ProductOrderItem")
        if isinstance(item.get("product"), dict):
            p = item["product"]
            p.setdefault("@type", "ProductRef" if set(p) <= {"id", "href", "name", "@referredType"} else "Product")
    children = item.get("productOrderItem")
    if isinstance(children, list):
        item["productOrderItem"] = [_item(c, by_id, order, version) for c in children if isinstance(c, dict)]
    return item


# v5 wants `@type` on every object (Extensible); om takes a request without
# them, and returns the objects it knows typed: key -> (in a list, alone).
V5_TYPES = {
    "productOrderItem": ("ProductOrderItem", None), "productOffering": (None, "ProductOfferingRef"), "productSpecification": (None, "ProductSpecificationRef"),
    "productCharacteristic": ("Characteristic", None), "relatedParty": ("RelatedPartyRefOrPartyRoleRef", None), "partyOrPartyRole": (None, "PartyRoleRef"),
    "billingAccount": (None, "BillingAccountRef"), "channel": ("RelatedChannel", "ChannelRef"), "note": ("Note", None), "externalId": ("ExternalIdentifier", None),
    "productOrderItemRelationship": ("OrderItemRelationship", None), "orderRelationship": ("OrderRelationship", None), "agreement": ("AgreementRef", None),
    "quote": ("QuoteRef", None), "payment": ("PaymentRef", None), "appointment": (None, "AppointmentRef"), "quoteItem": (None, "QuoteItemRef"),
    "place": ("RelatedPlaceRefOrValue", None), "productOfferingQualification": ("ProductOfferingQualificationRef", None),
}


def _typed(node, key):
    """A v5 copy of a request's part with the `@type`s it left out."""
    if isinstance(node, list):
        kind = V5_TYPES.get(key, (None, None))[0]
        return [_typed({"@type": kind, **n} if kind and isinstance(n, dict) and "@type" not in n else n, None) for n in node]
    if not isinstance(node, dict):
        return node
    return {k: _typed({"@type": V5_TYPES[k][1], **v} if isinstance(v, dict) and "@type" not in v and V5_TYPES.get(k, (None, None))[1] else v, k) for k, v in node.items()}


def _date_time(value, end_of_day: bool):
    """A request's date as the date-time TMF622 has (om takes a plain date, or
    one without a zone, as UTC: a start date from the start of its day, a
    completion date at its end)."""
    if not isinstance(value, str) or re.search(r"T.*(Z|[+-]\d\d:?\d\d)$", value):
        return value
    at = due_instant(value)
    if at is None:
        return value
    if re.fullmatch(r"\s*\d{4}-\d{2}-\d{2}\s*", value) and not end_of_day:
        at -= 86_400_000  # due_instant reads a plain date as its end
    return show_instant(at)


def _referred(party):
    """v4 requires a related party's `@referredType`; a customer named by
    `role` alone (as om reads it) is returned as the Customer it is."""
    if isinstance(party, dict) and "@referredType" not in party and str(party.get("role", "")).lower() == "customer":
        return {**party, "@referredType": "Customer"}
    return party


def _state_without_items(order: str) -> str:
    """An item of the request the engine does not know by its id: it is where the order is."""
    return {S.PARTIAL: S.ORDER_COMPLETED}.get(order, order)


def _external_id(value, version: str):
    """v4: a string; v5: a list of ExternalIdentifier (a string becomes one)."""
    if value is None:
        return None
    if version == V4:
        if isinstance(value, list):  # a v5 list read back in v4: its first id
            first = next((e.get("id") for e in value if isinstance(e, dict) and isinstance(e.get("id"), str)), None)
            return first
        return value if isinstance(value, str) else None
    if isinstance(value, str):
        return [{"@type": "ExternalIdentifier", "id": value}]
    if isinstance(value, list):
        return [{"@type": "ExternalIdentifier", **e} if isinstance(e, dict) else e for e in value]
    return None


def _request_items(request) -> list:
    """Every item of a request document, nested ones too (ids as given)."""
    if not isinstance(request, dict) or not isinstance(request.get("productOrderItem"), list):
        return []
    out, todo = [], list(request["productOrderItem"])
    while todo:
        i = todo.pop(0)
        if isinstance(i, dict):
            out.append(i)
            if isinstance(i.get("productOrderItem"), list):
                todo.extend(i["productOrderItem"])
    return out
