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

Only the usual order goes this way: every item added, a `quantity` above 1
only on items without children (their units made as the reference makes them:
`units`), ids and values that need no coercion beyond the plain one, nothing the
reference would report. A nested order is read by the item functions alone;
a flat one (`bundles`, `reliesOn`) gets its tree from the reference's own
reader (request.item_tree) and each item through the generated coercion.
On anything else `order_of` returns None and the reference (om_dsl.planning.
intake, which the interpreter always uses) reads the whole order again, so
every rejection is its own, word for word and pointer for pointer. The fast
path decides nothing the reference would decide otherwise: the differential
tests (tests/test_compiled_intake.py, tests/test_differential*.py) hold it to that.
"""

from __future__ import annotations

from om_dsl.limits import MAX_UNITS, plain_id
from om_dsl.planning.fields import document_id, order_fields
from om_dsl.planning.order import Order, OrderItem
from om_dsl.planning.request import MAX_DEPTH, item_tree, kept, version_of

__all__ = ["added", "code_of", "order_of", "plain", "units"]

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


def plain(raw: dict, related: bool = False):
    """(id, characteristics) of a plainly added item, or None: an id check_id
    takes, action add, no `quantity` but 1, no relationships (unless `related`:
    a flat order's, which item_tree read), no installed product (`product.id`),
    characteristics a list when given."""
    item_id = raw.get("id")
    if type(item_id) is not str or not plain_id(item_id) or raw.get("action", "add") != "add" or ("productOrderItemRelationship" in raw and not related):
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


def _related(raw_items: list) -> bool:
    """Whether an item of the order (a nested one too) names relationships: then its tree is theirs."""
    todo = list(raw_items)
    while todo:
        raw = todo.pop()
        if type(raw) is dict:
            if "productOrderItemRelationship" in raw:
                return True
            kids = raw.get("productOrderItem")
            if type(kids) is list:
                todo.extend(kids)
    return False


def _flat(raw_items: list, module, catalog, items: list, roots: list) -> bool:
    """A flat order read into `items` (and `roots`): its tree as the reference builds it
    (request.item_tree), each item's characteristics through the generated coercion,
    placement and cardinality checked against the catalog; False: the reference reads it."""
    tree, problems = item_tree(raw_items, "/productOrderItem", MAX_DEPTH)
    if problems:
        return False
    children = catalog.memo("compiled_intake.children", lambda: {p.code: (p.children, frozenset(c.product for c in p.children)) for p in catalog.products})
    for node in tree:
        root = _read_node(node, None, module.ROOTS, module, children, items)
        if root is None:
            return False
        roots.append(root)
    return True


def _read_node(node, parent, allowed, module, children: dict, items: list):
    """One item of a flat order's tree and its subtree, or None (a function of the module, not a
    closure that calls itself: that would be a reference cycle holding the order)."""
    raw = node.raw
    code = code_of(raw)
    if code not in allowed:
        return None
    got = plain(raw, related=True)
    values = module.ATTRIBUTES[code](got[1]) if got is not None else None
    if values is None:
        return None
    item = added(got[0], code, values, node.path, parent, raw)
    items.append(item)
    if node.relies_on:
        item.relies_on = [n.id for n in node.relies_on]  # (no quantities: each names one item)
    takes, codes = children[code]
    counts: dict = {}
    for kid in node.children:
        made = _read_node(kid, item, codes, module, children, items)
        if made is None:
            return None
        item.children.append(made)
        counts[made.product] = counts.get(made.product, 0) + 1
    for c in takes:
        n = counts.get(c.product, 0)
        if n < c.min or (c.max is not None and n > c.max):
            return None
    return item


def units(item_id: str, code: str, values: dict, path: str, parent, request: dict, n: int, items: list, into: list):
    """The N units of an added item of a product without children (`quantity` N), as the
    reference makes them (intake._unit_copy of the item): ids `ID~k`, each its own values,
    unit (k, N), the request and the lists an attrs.evolve copy shares with the item; added
    to `items` and `into`; N, or None near om's limit on units (the reference counts them)."""
    if len(items) + n > MAX_UNITS:
        return None
    enriched, relies_on = [], []
    for k in range(1, n + 1):
        unit = OrderItem(f"{item_id}~{k}", code, "add", dict(values), path, parent, [], None, enriched, False, (k, n), relies_on, request)
        items.append(unit)
        into.append(unit)
    return n


def added(item_id: str, code: str, values: dict, path: str, parent, raw: dict) -> OrderItem:
    """The added item as intake makes it (every field given: no attrs factories run)."""
    return OrderItem(item_id, code, "add", values, path, parent, [], None, [], False, None, [], kept(raw, "item"))


def order_of(doc: dict, order_id: str | None, module, catalog=None) -> Order | None:
    """The order, read through the generated item functions of `module` (a
    compiled catalog's planner.py), or None: the reference reads it. A flat
    order (items related by `bundles`, `reliesOn`) is read item by item with the
    generated coercion when `catalog` is given."""
    raw_items = doc.get("productOrderItem")
    if type(raw_items) is not list or not raw_items:
        return None
    readers = module.ROOTS
    items: list[OrderItem] = []  # parents before children, in document order
    roots: list[OrderItem] = []
    for n, raw in enumerate(raw_items):
        read = readers.get(code_of(raw))
        if read is None or read(raw, f"/productOrderItem/{n}", None, 0, items, roots) is None:
            items, roots = [], []
            if catalog is None or not _related(raw_items) or not _flat(raw_items, module, catalog, items, roots):
                return None
            break
    # intake.request_of: each item's fields under its id in the request (its units' too: the same fields)
    requests = {i.request["id"]: i.request for i in items}
    units: dict = {}
    if len(requests) != len(items):  # the units of a quantity, or an id given twice
        if len({i.id for i in items}) != len(items):
            return None  # a duplicate id: the reference names it
        for i in items:
            units.setdefault(i.request["id"], []).append(i.id)
        units = {k: v for k, v in units.items() if v != [k]}
    if "order" in requests and any(i.id == "order" for i in roots):
        return None  # the reserved `order`
    try:
        fields = order_fields(doc, _refuse)
    except _Unusual:
        return None
    fields["id"] = order_id or document_id(doc)
    fields["root_items"] = roots
    fields["items"] = list(items)
    fields["request"] = {"version": version_of(doc), "order": kept(doc, "order"), "items": requests, "units": units}
    return Order(fields, items)
