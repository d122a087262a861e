"""Intake's fast path: an order of plainly added items, read through a compiled
catalog's `planner.py` (om_dsl/codegen/planner.py writes it).

The generated `item__P` functions read an item of product P in one call: its
id, its characteristics coerced and checked against P's attributes (names,
types, allowed values and ranges, defaults as constants), its children
dispatched by product code to their own functions, placement and
cardinality as comparisons with constants. `ROOTS` names the products an
order may start with. This module drives them over the document and adds
what no catalog decides: the order's fields, duplicate ids, the request kept
as it came.

Only the usual order goes this way: every item added, nested (no
`productOrderItemRelationship`), no `quantity` but 1, ids and values that
need no coercion beyond the plain one, nothing the reference would report.
On anything else `order_of` returns None and the reference (om_dsl.planning.
intake, which the interpreter always uses) reads the whole order again, so
every rejection is its own, word for word and pointer for pointer. The fast
path decides nothing the reference would decide otherwise: the differential
tests (tests/test_compiled_intake.py, tests/test_differential*.py) hold it to that.
"""

from __future__ import annotations

from om_dsl.limits import plain_id
from om_dsl.planning.fields import document_id, order_fields
from om_dsl.planning.order import Order, OrderItem
from om_dsl.planning.request import kept, version_of

__all__ = ["added", "code_of", "order_of", "plain"]

_ABSENT = object()


class _Unusual(Exception):
    """The order needs the reference: it has a problem to report."""


def _refuse(*args, **kw) -> None:
    raise _Unusual


def code_of(raw) -> str | None:
    """The product code an item names in `productOffering.id`, or None (the reference finds it another way, or reports it)."""
    offering = raw.get("productOffering") if type(raw) is dict else None
    code = offering.get("id") if type(offering) is dict else None
    return code if type(code) is str else None


def plain(raw: dict):
    """(id, characteristics) of a plainly added item, or None: an id check_id
    takes, action add, no `quantity` but 1, no relationships, no installed
    product (`product.id`), characteristics a list when given."""
    item_id = raw.get("id")
    if type(item_id) is not str or not plain_id(item_id) or raw.get("action", "add") != "add" or "productOrderItemRelationship" in raw:
        return None
    if "quantity" in raw:
        q = raw["quantity"]
        if type(q) is not int or q != 1:
            return None
    product = raw.get("product")
    if product is None:
        return item_id, ()
    if type(product) is not dict or product.get("id") is not None:
        return None
    chars = product.get("productCharacteristic", _ABSENT)
    if chars is _ABSENT:
        return item_id, ()
    return (item_id, chars) if type(chars) is list else None


def added(item_id: str, code: str, values: dict, path: str, parent, raw: dict) -> OrderItem:
    """The added item as intake makes it (every field given: no attrs factories run)."""
    return OrderItem(item_id, code, "add", values, path, parent, [], None, [], False, None, [], kept(raw, "item"))


def order_of(doc: dict, order_id: str | None, module) -> Order | None:
    """The order, read through the generated item functions of `module` (a
    compiled catalog's planner.py), or None: the reference reads it."""
    raw_items = doc.get("productOrderItem")
    if type(raw_items) is not list or not raw_items:
        return None
    readers = module.ROOTS
    items: list[OrderItem] = []  # parents before children, in document order
    roots = []
    for n, raw in enumerate(raw_items):
        read = readers.get(code_of(raw))
        root = read(raw, f"/productOrderItem/{n}", None, 0, items) if read is not None else None
        if root is None:
            return None
        roots.append(root)
    ids = {item.id for item in items}
    if len(ids) != len(items) or "order" in ids and any(i.id == "order" for i in roots):
        return None  # a duplicate id, or the reserved `order`
    try:
        fields = order_fields(doc, _refuse)
    except _Unusual:
        return None
    fields["id"] = order_id or document_id(doc)
    fields["root_items"] = roots
    fields["items"] = list(items)
    # intake.request_of, for items without units: each item's fields under its own id
    fields["request"] = {"version": version_of(doc), "order": kept(doc, "order"), "items": {i.id: i.request for i in items}, "units": {}}
    return Order(fields, items)
