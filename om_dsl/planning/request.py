"""A TMF622 create request as om reads it before the catalog does: which
version it is, the tree of its items (nested, or flat and linked by
`bundles`), what relies on what (`reliesOn`), and the fields om keeps as they
came (`Order.request`, `OrderItem.request`, for the ProductOrder resource).

`FIELDS` says, for every field of an order and of an order item in v4
(ProductOrder_Create) and v5 (ProductOrder_FVO), what om does with it:
docs/tmf622.md shows the table, and tests/test_tmf622_intake.py walks the
official schemas against it.
"""

from __future__ import annotations

import re
from typing import Optional

import attrs

from om_dsl.planning.order import Problem

V4, V5 = "v4", "v5"
MAX_DEPTH = 32  # nesting of productOrderItem: beyond this, the document is not an order
USED, KEPT, IGNORED = "used", "kept", "ignored"

# What om does with each field: used (read, and kept as it came), kept (not
# read, returned as it came), ignored (om sets it itself: a request's value is
# not taken). A bad value of a used field rejects the order. Fields in neither
# schema (extensions, `@schemaLocation`'s) are kept.
FIELDS = {
    "order": {
        "id": (USED, "the order's id; without one, om derives one from the content"),
        "externalId": (USED, "v4: a string; v5: a list of ExternalIdentifier, the first one's `id`; `order.external_id`"),
        "category": (USED, "`order.category`"),
        "priority": (USED, '"0" (highest) to "4": ready work of higher-priority orders is dispatched first; `order.priority`'),
        "requestedStartDate": (USED, "`order.requested_start_date` (its calendar day)"),
        "requestedCompletionDate": (USED, "the order's due date: its jeopardy follows it; `order.requested_completion_date` (its calendar day)"),
        "relatedParty": (USED, "the customer: the party with role customer; else v4 `@referredType: Customer`, v5 `partyOrPartyRole`; `order.customer_account`"),
        "billingAccount": (USED, "its `id`: `order.billing_account`"),
        "requestedInitialState": (USED, "v5: `draft` keeps the order in draft until it is released; `acknowledged` (the default) starts it"),
        "productOrderItem": (USED, "the order items (see the item table)"),
        "description": (KEPT, ""),
        "note": (KEPT, ""),
        "channel": (KEPT, ""),
        "agreement": (KEPT, ""),
        "notificationContact": (KEPT, ""),
        "orderTotalPrice": (KEPT, ""),
        "payment": (KEPT, ""),
        "productOfferingQualification": (KEPT, ""),
        "quote": (KEPT, ""),
        "orderRelationship": (USED, "v5: `dependsOn` or `requires` (with om's `milestone`): the order waits for that order (docs/order-dependencies.md); other types kept"),
        "productOrderErrorMessage": (KEPT, "v5"),
        "productOrderJeopardyAlert": (KEPT, "v5"),
        "productOrderMilestone": (KEPT, "v5"),
        "cancellationDate": (KEPT, "v4 (cancellation is a request of its own)"),
        "cancellationReason": (KEPT, "v4 (cancellation is a request of its own)"),
        "@type": (KEPT, ""),
        "@baseType": (KEPT, ""),
        "@schemaLocation": (USED, "names the version when it says v4 or v5; kept"),
        "href": (IGNORED, "om sets it"),
        "state": (IGNORED, "om sets it"),
        "orderDate": (IGNORED, "om sets it"),
        "completionDate": (IGNORED, "om sets it"),
        "expectedCompletionDate": (IGNORED, "om sets it"),
        "creationDate": (IGNORED, "om sets it"),
    },
    "item": {
        "id": (USED, "the item's id"),
        "action": (USED, "add (the default), modify, delete, noChange"),
        "quantity": (USED, "N units: each its own item (`ID~1`..`ID~N`), lines and asset; cardinality counts units; an order's quantities add at most limits.MAX_UNITS items"),
        "productOffering": (USED, "its `id` is the product code; optional on modify, delete, noChange naming `product.id`"),
        "product": (USED, "`id`: the installed product it changes; `productCharacteristic`: the attributes; `productSpecification.id`: the product code when there is no `productOffering`; the rest kept"),
        "productOrderItem": (USED, "nested items: its children"),
        "productOrderItemRelationship": (USED, "`bundles`: the named item is a child of this one; `reliesOn`: this item's lines wait for the named item's; any other type is refused"),
        "billingAccount": (KEPT, "kept and returned; rules read the order's (`order.billing_account`), not an item's"),
        "appointment": (KEPT, ""),
        "itemPrice": (KEPT, ""),
        "itemTerm": (KEPT, ""),
        "itemTotalPrice": (KEPT, ""),
        "note": (KEPT, ""),
        "payment": (KEPT, ""),
        "productOfferingQualificationItem": (KEPT, ""),
        "quoteItem": (KEPT, ""),
        "qualification": (KEPT, ""),
        "@type": (KEPT, ""),
        "@baseType": (KEPT, ""),
        "@schemaLocation": (KEPT, ""),
        "state": (IGNORED, "om sets it"),
    },
}

# Per scope, the fields `kept` leaves out: the items, and what om sets itself.
DROPPED = {scope: frozenset(["productOrderItem"] + [k for k, (use, _) in table.items() if use == IGNORED]) for scope, table in FIELDS.items()}

# Fields only v5 has: a request with one of them is v5.
_V5_ONLY = ("requestedInitialState", "orderRelationship", "productOrderErrorMessage", "productOrderJeopardyAlert", "productOrderMilestone")
_VERSION_IN_LOCATION = re.compile(r"(?:\bv|/)([45])(?:\.\d+)*\b|\b([45])\.\d+\.\d+\b")
RELATIONSHIPS = ("bundles", "reliesOn")


def version_of(doc: dict) -> str:
    """v4 or v5. A `@schemaLocation` that names a version decides; else a field
    only v5 has (`requestedInitialState`, `orderRelationship`, ...), an
    `externalId` list, or a related party given as `partyOrPartyRole` makes it
    v5; anything else is v4."""
    loc = doc.get("@schemaLocation")
    if isinstance(loc, str) and (m := _VERSION_IN_LOCATION.search(loc)):
        return V5 if (m.group(1) or m.group(2)) == "5" else V4
    if not doc.keys().isdisjoint(_V5_ONLY) or isinstance(doc.get("externalId"), list):
        return V5
    parties = doc.get("relatedParty")
    if isinstance(parties, list) and any(isinstance(p, dict) and "partyOrPartyRole" in p for p in parties):
        return V5
    return V4


def kept(raw: dict, scope: str) -> dict:
    """The fields of an order (scope "order") or item ("item") om keeps, as they
    came: all but the items (each item keeps its own) and what om sets itself."""
    dropped = DROPPED[scope]
    out = raw.copy()  # (a copy, then the few dropped fields it has deleted: cheaper than a filtered comprehension)
    if not dropped.isdisjoint(raw):
        for k in dropped.intersection(raw):
            del out[k]
    return out


@attrs.define(eq=False)
class RawItem:
    """One productOrderItem of the document, where it is, and where it sits in the tree."""

    raw: object
    path: str  # its JSON pointer
    id: Optional[str]  # its id, when it has one that reads
    parent: Optional["RawItem"] = None  # nesting or `bundles`
    children: list = attrs.field(factory=list)
    relies_on: list = attrs.field(factory=list)  # [RawItem]


def _id(raw) -> Optional[str]:
    given = raw.get("id") if isinstance(raw, dict) else None
    return str(given) if isinstance(given, (str, int)) and not isinstance(given, bool) and str(given) else None


def item_tree(raw_items: list, path: str, max_depth: int) -> tuple[list[RawItem], list[Problem]]:
    """The roots of the item tree, children in document order, and what is wrong with it.

    Nesting and `bundles` build the same tree: a flat order whose first item
    bundles the others is its nested equivalent."""
    problems: list[Problem] = []
    every: list[RawItem] = []  # in document order
    related: list[RawItem] = []  # those with relationships

    def collect(items: list, where: str, parent: Optional[RawItem], depth: int) -> None:
        if depth > max_depth:
            problems.append(Problem("too_deep", f"order items nest more than {max_depth} levels deep", path=where))
            return
        for n, raw in enumerate(items):
            node = RawItem(raw, f"{where}/{n}", _id(raw), parent)
            every.append(node)
            if isinstance(raw, dict) and "productOrderItemRelationship" in raw:
                related.append(node)
            sub = raw.get("productOrderItem") if isinstance(raw, dict) else None
            if sub is None:
                continue
            if not isinstance(sub, list):
                problems.append(Problem("malformed_item", "`productOrderItem` must be a list", node.id, path=node.path + "/productOrderItem"))
            else:
                collect(sub, node.path + "/productOrderItem", node, depth + 1)

    collect(raw_items, path, None, 0)
    collect = None  # noqa: F841  (a function that calls itself is a reference cycle: let the document go with the order)
    if not related:  # nested only: the tree is the nesting
        roots = [node for node in every if node.parent is None]
        for node in every:
            if node.parent is not None:
                node.parent.children.append(node)
        return roots, problems
    by_id: dict[str, RawItem] = {}
    for node in every:
        if node.id is not None:
            by_id.setdefault(node.id, node)
    for node in related:
        rels = node.raw["productOrderItemRelationship"]
        if rels is None:
            continue
        where = node.path + "/productOrderItemRelationship"
        if not isinstance(rels, list):
            problems.append(Problem("malformed_item", "`productOrderItemRelationship` must be a list", node.id, path=where))
            continue
        for k, rel in enumerate(rels):
            here = f"{where}/{k}"
            target_id = rel.get("id") if isinstance(rel, dict) else None
            if not isinstance(target_id, (str, int)) or isinstance(target_id, bool) or str(target_id) == "":
                problems.append(Problem("malformed_item", "a relationship must be an object with the `id` of another item of the order", node.id, path=here))
                continue
            kind = rel.get("relationshipType")
            if kind not in RELATIONSHIPS:
                problems.append(Problem("relationship_type", f"om reads the relationship types {' and '.join(RELATIONSHIPS)}, not {_show(kind)}", node.id, path=here + "/relationshipType"))
                continue
            target = by_id.get(str(target_id))
            if target is None or target is node:
                what = "the item itself" if target is node else "no item of this order"
                problems.append(Problem("relationship", f"`{kind}` names `{target_id}`, {what}", node.id, path=here + "/id"))
                continue
            if kind == "reliesOn":
                node.relies_on.append(target)
            elif target.parent is not None and target.parent is not node:
                problems.append(Problem("relationship", f"`bundles` names `{target_id}`, which is already under item {target.parent.id}: an item has one parent", node.id, path=here + "/id"))
            else:
                target.parent = node
    for node in every:  # a `bundles` cycle would have no root; a chain too long is too deep
        seen, up = {id(node)}, node.parent
        depth = 0
        while up is not None and id(up) not in seen and depth <= max_depth:
            seen.add(id(up))
            up, depth = up.parent, depth + 1
        if up is not None:
            rule, message = ("too_deep", f"order items nest more than {max_depth} levels deep") if depth > max_depth else ("relationship", "`bundles` relationships make a cycle through this item")
            problems.append(Problem(rule, message, node.id, path=node.path))
            node.parent = None
    roots = []
    for node in every:
        (node.parent.children if node.parent is not None else roots).append(node)
    return roots, problems


def _show(value) -> str:
    return f'"{value}"' if isinstance(value, str) else ("nothing" if value is None else "a " + type(value).__name__)
