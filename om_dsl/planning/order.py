"""The order as the runtime sees it: commercial order items in their tree,
the order's fields, fulfillment lines, and the problems that reject it."""

from __future__ import annotations

import weakref
from typing import Optional

import attrs

from om_dsl.limits import shown
from om_dsl.rules.errors import EvaluationError  # noqa: F401 (planning reports it as a problem)
from om_dsl.values import show_value  # noqa: F401  (a rejection shows values as a diagnostic does)

# TMF622 item actions.
ACTIONS = ("add", "modify", "delete", "noChange")


_REF = weakref.ref


def _weak(parent):
    return parent if parent is None or type(parent) is _REF else _REF(parent)


@attrs.define(eq=False, init=False, on_setattr=attrs.setters.NO_OP)  # (no __setattr__ hook: `parent`'s setter makes the weak reference)
class OrderItem:
    """A commercial order item (TMF622 productOrderItem) after intake.

    An item holds its parent weakly (the order's `items` hold every item), so
    that an order is freed as soon as it is dropped, with no collector pass."""

    id: str
    product: str
    action: str
    values: dict  # attribute -> value (Decimal, date, ...); enriched ones added later
    path: str  # JSON pointer into the order document, for messages
    _parent: Optional[weakref.ref] = attrs.field(default=None, alias="parent", repr=False)
    children: list = attrs.field(factory=list)
    asset_id: Optional[str] = None  # TMF622 product.id: the installed product it changes
    enriched: list = attrs.field(factory=list)  # names of enriched attributes, in order
    implicit: bool = False  # not in the order: an installed child (or parent) of a changed item, carried along
    unit: Optional[tuple] = None  # (n, of): one unit of an item with `quantity` of > 1
    relies_on: list = attrs.field(factory=list)  # ids of the items whose lines this item's lines wait for (`reliesOn`)
    request: dict = attrs.field(factory=dict)  # the item's TMF622 fields as they came (planning.request.kept)

    def __init__(self, id, product, action, values, path, parent=None, children=None, asset_id=None, enriched=None, implicit=False, unit=None, relies_on=None, request=None):
        """attrs' __init__ written out: the weak reference made here, not by a converter
        called per item (planning makes one item per order item)."""
        self.id = id
        self.product = product
        self.action = action
        self.values = values
        self.path = path
        self._parent = parent if parent is None or type(parent) is _REF else _REF(parent)
        self.children = [] if children is None else children
        self.asset_id = asset_id
        self.enriched = [] if enriched is None else enriched
        self.implicit = implicit
        self.unit = unit
        self.relies_on = [] if relies_on is None else relies_on
        self.request = {} if request is None else request

    @property
    def parent(self) -> Optional["OrderItem"]:
        ref = self._parent
        return None if ref is None else ref()

    @parent.setter
    def parent(self, parent: Optional["OrderItem"]) -> None:
        self._parent = _weak(parent)

    @property
    def root(self) -> "OrderItem":
        item = self
        while item.parent is not None:
            item = item.parent
        return item

    def children_of(self, product: str) -> list:
        return [c for c in self.children if c.product == product]

    def describe(self) -> str:
        return f"order item {self.id} ({self.product})"


@attrs.define(eq=False)
class Order:
    fields: dict  # order.FIELD -> value; every field of ORDER_FIELDS is present
    items: list  # every item, parents before children, in document order

    @property
    def request(self) -> dict:
        """The TMF622 request as om keeps it, for the ProductOrder resource:
        {"version": "v4" | "v5", "order": the order's fields as they came,
        "items": {an item's id in the request: its fields as they came},
        "units": {an item's id in the request: the ids of its units, for an
        item with a `quantity` (or under one)}}, all but what om sets itself
        and the nested items (planning.request.kept).
        It is `fields["request"]`, so that the engines' state carries it."""
        return self.fields["request"]

    @property
    def version(self) -> str:
        return self.fields["request"]["version"]

    @property
    def id(self) -> str:
        return self.fields["id"]

    @property
    def root_items(self) -> list:
        return [i for i in self.items if i.parent is None]


@attrs.define(eq=False)
class FulfillmentLine:
    """A technical line: what one decomposition rule made of one source."""

    id: str
    product: str
    action: str
    values: dict
    source_item: Optional[str]  # the commercial order item it comes from; None: the order
    bundle: Optional[str]  # the root order item it belongs to; None: order scope
    rule: str
    relationship: str  # "HOME_FIBER -> FIBER_ACCESS_CFS"
    condition: Optional[str]  # the rule's `when`, as written, when it has one
    unit: Optional[tuple] = None  # (n, of) for rules with `per`
    source_line: Optional[str] = None  # for lines decomposed from a technical line
    key: Optional[str] = None  # its key in the installed base (see om_dsl.planning.installed)
    source_asset: Optional[str] = None  # the commercial asset it comes from
    previous: Optional[dict] = None  # the installed line's values, when there is one
    changes: Optional[dict] = None  # modify: attribute -> (installed value, new value)
    why: Optional[str] = None  # why it has its action

    # A line seen as the source of a further decomposition has no parent and no children.
    parent = None

    def children_of(self, product: str) -> list:
        return []


@attrs.frozen
class Problem:
    """One reason an order is rejected: which item, which rule, what is wrong."""

    rule: str  # "required", "allowed_values", "validation:VOICE_LINE.port_in_requires_number", ...
    message: str
    item: Optional[str] = None
    product: Optional[str] = None
    path: Optional[str] = None  # JSON pointer, or "line L, column C" for malformed JSON

    def render(self) -> str:
        where = f"order item {self.item} ({self.product})" if self.item and self.product else (f"order item {self.item}" if self.item else "the order")
        at = f" [at {self.path}]" if self.path else ""
        return shown(f"{where}: {self.message} (rule: {self.rule}){at}")  # an order's text cannot start lines of its own


class Rejected(Exception):
    """The order is rejected; `problems` says why, every problem found."""

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(p.render() for p in problems))
        self.problems = problems
