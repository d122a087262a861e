"""Order intake: a TMF622 productOrder document -> an `Order`, or every
problem that rejects it.

Intake checks what the catalog says about each item before any rule runs:
the product code, the action, each characteristic's name, type and allowed
values, required attributes (defaults fill absent ones), where each child
sits and how many there are. Rules (validation, enrichment...) come after.
"""

from __future__ import annotations

import datetime
import json
import math
import re
from decimal import Decimal

import attrs

from om_dsl.limits import MAX_UNITS, InputLimit, check_id, check_number_text, load_json
from om_dsl.model import expr as E
from om_dsl.model.catalog import AttributeDef, Catalog
from om_dsl.planning.compiled_intake import order_of as compiled_order
from om_dsl.planning.fields import customer_of, document_id, id_problem, order_fields  # noqa: F401 (customer_of, document_id: read here by the runners)
from om_dsl.planning.fields import show_raw as _show_raw
from om_dsl.planning.order import ACTIONS, Order, OrderItem, Problem, Rejected, show_value
from om_dsl.planning.request import MAX_DEPTH, item_tree, kept, version_of

_INT = re.compile(r"[+-]?\d+\Z")
_DECIMAL = re.compile(r"[+-]?\d+(\.\d+)?\Z")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_document(text: str) -> dict:
    """JSON text -> the productOrder object; malformed JSON is a problem with
    line and column, JSON past om's limits (om_dsl.limits) one with its path.
    An order whose own id cannot be shown is refused here: nothing is stored under it."""
    try:
        doc = load_json(text, decimals=True)
    except json.JSONDecodeError as exc:
        raise Rejected([Problem("malformed_json", f"the order is not valid JSON: {exc.msg}", path=f"line {exc.lineno}, column {exc.colno}")]) from None
    except InputLimit as exc:
        where = exc.path or (_number_past_limits(text) if isinstance(text, str) else None)
        raise Rejected([Problem("input_limit", f"the order is beyond om's limits: {exc.reason}", path=where)]) from None
    if not isinstance(doc, dict):
        raise Rejected([Problem("not_an_order", "the order must be a JSON object (a TMF622 productOrder)", path="/")])
    given = doc.get("id")
    if isinstance(given, str):
        try:
            check_id(given, "the order's id")
        except InputLimit as exc:
            raise Rejected([Problem("bad_id", str(exc), path="/id")]) from None
    return doc


_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?')


def _number_past_limits(text: str) -> str | None:
    """Line and column of the first number past the limits (json's hooks do not know where they are).
    Only run on a refused document."""
    for m in _TOKEN.finditer(text):
        if m.group()[0] != '"':
            try:
                check_number_text(m.group())
            except InputLimit:
                line = text.count("\n", 0, m.start()) + 1
                return f"line {line}, column {m.start() - text.rfind(chr(10), 0, m.start())}"
    return None


def _shown_id(value: str) -> str:
    """An id refused by check_id, as a problem names its item: escaped, and cut short."""
    shown = json.dumps(value)[1:-1]
    return shown if len(shown) <= 40 else shown[:40] + "..."


def intake(catalog: Catalog, doc: dict, order_id: str | None = None, installed=None, generated=None) -> Order:
    """Read and check an order against the catalog (and, for items that change
    or end what a customer has, the installed base); raise `Rejected` with every problem.
    `generated`: a compiled catalog's planner.py (om_dsl.planning.compiled.planner_of), whose
    item functions read the usual order (om_dsl.planning.compiled_intake); this module, the
    reference, reads any other (with the generated coercion per product) and reports what is wrong."""
    if generated is not None:
        order = compiled_order(doc, order_id, generated, catalog)
        if order is not None:
            return order
    from om_dsl.planning.installed import EMPTY

    return _Intake(catalog, installed or EMPTY, generated.ATTRIBUTES if generated is not None else None).run(doc, order_id)


def coerce(attr: AttributeDef, raw):
    if isinstance(raw, (float, Decimal)):
        # A document built in code skips load_json's checks: int() of Decimal("1e999999") would not end.
        _within_limits(str(raw) if isinstance(raw, Decimal) else repr(raw))
        if not math.isfinite(raw):
            raise ValueError("is not a number")
    elif isinstance(raw, str) and attr.type in ("int", "decimal"):
        _within_limits(raw)
    return _coerce(attr, raw)


def _within_limits(text: str) -> None:
    try:
        check_number_text(text)
    except InputLimit as exc:
        raise ValueError(f"is beyond om's limits ({exc.reason})") from None


def _coerce(attr: AttributeDef, raw):
    """A characteristic value -> the attribute's type; raises ValueError with the reason.

    TMF622 characteristic values are often strings: "300" is accepted for
    an int, "true" for a bool, but "fast" is not."""
    t = attr.type
    if t == "int":
        if isinstance(raw, bool):
            raise ValueError("is a bool")
        if isinstance(raw, int):
            return raw
        if isinstance(raw, (Decimal, float)) and raw == int(raw):
            return int(raw)
        if isinstance(raw, str) and _INT.match(raw.strip()):
            return int(raw.strip())
    elif t == "decimal":
        if isinstance(raw, bool):
            raise ValueError("is a bool")
        if isinstance(raw, (int, Decimal)):
            return Decimal(raw)
        if isinstance(raw, float):  # a document parsed without parse_float=Decimal
            return Decimal(repr(raw))
        if isinstance(raw, str) and _DECIMAL.match(raw.strip()):
            return Decimal(raw.strip())
    elif t == "bool":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
            return raw.strip().lower() == "true"
    elif t == "string":
        if isinstance(raw, str):
            return raw
    elif t == "date":
        if isinstance(raw, str) and _DATE.fullmatch(raw.strip()):
            try:
                return datetime.date.fromisoformat(raw.strip())
            except ValueError:
                raise ValueError("is not a calendar date") from None
    raise ValueError(f"is not {'an' if t == 'int' else 'a'} {t}")


def request_of(doc: dict, version: str, items: list[OrderItem]) -> dict:
    """What `Order.request` is (see there)."""
    by_id: dict = {}
    units: dict = {}
    for i in items:
        if not i.implicit and "id" in i.request:
            by_id[str(i.request["id"])] = i.request
            units.setdefault(str(i.request["id"]), []).append(i.id)
    return {"version": version, "order": kept(doc, "order"), "items": by_id, "units": {k: v for k, v in units.items() if v != [k]}}


def _preorder(roots: list[OrderItem]) -> list[OrderItem]:
    """Parents before children, in tree order."""
    out: list[OrderItem] = []
    todo = roots[::-1]  # a stack, not a function that calls itself (a reference cycle holding `out`)
    while todo:
        item = todo.pop()
        out.append(item)
        todo.extend(reversed(item.children))
    return out


def _unit_copy(item: OrderItem, k: int, n: int, parent: OrderItem | None) -> OrderItem:
    """Unit k of n of an item: its id `ID~k`, its subtree copied, each id suffixed alike."""
    copy = attrs.evolve(item, id=f"{item.id}~{k}", values=dict(item.values), parent=parent, children=[], unit=(k, n) if parent is item.parent else item.unit)
    copy.children = [_unit_copy(c, k, n, copy) for c in item.children]
    return copy


def _parents(catalog: Catalog) -> dict[str, set]:
    """Product -> the products it may sit under."""
    parents: dict[str, set] = {}
    for p in catalog.products:
        for c in p.children:
            parents.setdefault(c.product, set()).add(p.code)
    return parents


class _Intake:
    def __init__(self, catalog: Catalog, installed, generated: dict | None = None):
        self.catalog = catalog
        self.installed = installed
        self.generated = generated or {}
        self.problems: list[Problem] = []
        self.unreadable_children: set[int] = set()
        self.added_units = 0  # items `quantity` added (limits.MAX_UNITS)
        self.products = catalog.memo("intake.products", lambda: {p.code: p for p in catalog.products})
        self.parents = catalog.memo("intake.parents", lambda: _parents(catalog))
        self.child_products = catalog.memo("intake.children", lambda: {p.code: {c.product for c in p.children} for p in catalog.products})

    def problem(self, rule: str, message: str, item: OrderItem | None = None, path: str | None = None, item_id=None, product=None) -> None:
        self.problems.append(Problem(rule, message, item.id if item else item_id, item.product if item else product, path))

    def run(self, doc: dict, order_id: str | None) -> Order:
        version = version_of(doc)
        fields = self.fields(doc, order_id)
        self.order_id = fields["id"]
        items: list[OrderItem] = []
        raw_items = doc.get("productOrderItem")
        if not isinstance(raw_items, list) or not raw_items:
            self.problem("no_items", "the order has no productOrderItem", path="/productOrderItem")
        else:
            roots, problems = item_tree(raw_items, "/productOrderItem", MAX_DEPTH)
            self.problems.extend(problems)
            made = self.read_items(roots, None)
            made = self.installed_parents(made, fields.get("customer_account"))
            items = _preorder(made)
            self.link_relies_on(items)
        if not self.problems:
            items = self.installed_items(items, fields.get("customer_account"))
        else:  # the installed children of a change are not known: no cardinality for it
            self.unreadable_children.update(id(i) for i in items if i.action != "add")
        if any(p.rule.startswith("asset") or p.rule == "unknown_asset" for p in self.problems):
            raise Rejected(self.problems)  # the tree is not known: placement and cardinality would mislead
        seen: dict[str, OrderItem] = {}
        for item in items:
            if item.id in seen:
                self.problem("duplicate_item_id", f"the item id `{item.id}` is used twice", item, item.path)
            if item.id == "order" and item.parent is None:
                # Lines and requests of the order scope are named `order/...` and `FR-order`.
                self.problem("reserved_item_id", "the item id `order` is reserved for the order scope: give the root item another id", item, item.path + "/id")
            seen[item.id] = item
        self.structure(items)
        if self.problems:
            raise Rejected(self.problems)
        fields["root_items"] = [i for i in items if i.parent is None]
        fields["items"] = list(items)
        fields["request"] = request_of(doc, version, items)
        return Order(fields, items)

    # ---- order fields ------------------------------------------------------------------

    def fields(self, doc: dict, order_id: str | None) -> dict:
        fields = order_fields(doc, self.problem)
        fields["id"] = order_id or document_id(doc)
        return fields

    # ---- items ---------------------------------------------------------------------------

    def read_items(self, nodes: list, parent: OrderItem | None) -> list[OrderItem]:
        """The items of these nodes and their subtrees; an item with a `quantity`
        of N > 1 as N units, each with its own copy of the subtree."""
        made = []
        for node in nodes:
            item = self.read_item(node.raw, parent, node.path)
            if item is None:
                if parent is not None:
                    self.unreadable_children.add(id(parent))  # its cardinalities cannot be judged
                continue
            if node.relies_on:
                item.relies_on = [n.id for n in node.relies_on]
            if node.children:
                item.children = self.read_items(node.children, item)
            units = self.quantity(node.raw, item) if "quantity" in node.raw else [item]
            if len(units) > 1 and id(item) in self.unreadable_children:
                self.unreadable_children.update(id(u) for u in units)
            made.extend(units)
        return made

    def quantity(self, raw: dict, item: OrderItem) -> list[OrderItem]:
        """`quantity`: N units of the item (1 when absent)."""
        n = raw.get("quantity", 1)
        where = item.path + "/quantity"
        if isinstance(n, Decimal) and n == int(n):
            n = int(n)
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            self.problem("quantity", f"`quantity` must be a whole number of units, 1 or more, not {_show_raw(n)}", item, where)
            return [item]
        if n == 1:
            return [item]
        if item.action != "add":
            self.problem("quantity", f"a {item.action} names one installed product (`product.id`): its `quantity` must be 1, not {n}", item, where)
            return [item]
        added = (n - 1) * len(_preorder([item]))
        if self.added_units + added > MAX_UNITS:
            self.problem("quantity", f"`quantity` {n} takes the order past om's limit: quantities may add at most {MAX_UNITS:,} items to an order (units, and copies of their children)", item, where)
            return [item]
        self.added_units += added
        return [_unit_copy(item, k, n, item.parent) for k in range(1, n + 1)]

    def installed_parents(self, roots: list[OrderItem], customer) -> list[OrderItem]:
        """A child product changed or ended on its own (no parent in the order):
        its parent is the one the installed base has, in the order as noChange
        (or the item of the order that changes that parent)."""
        out: list[OrderItem] = []
        parents: dict[str, OrderItem] = {r.asset_id: r for r in roots if r.asset_id and r.action != "add"}
        for item in roots:
            product = self.products.get(item.product)
            if product.role != "child" or item.action == "add" or not item.asset_id:
                out.append(item)
                continue
            asset = self.installed.asset(item.asset_id)
            if asset is None or asset.parent is None or asset.customer != customer:
                out.append(item)  # asset_of says what is wrong with it
                continue
            parent = parents.get(asset.parent)
            if parent is None:
                pa = self.installed.asset(asset.parent)
                if pa is None:
                    out.append(item)
                    continue
                parent = OrderItem(pa.id, pa.product, "noChange", {}, f"{item.path} (installed parent {pa.id})", None, asset_id=pa.id, implicit=True)
                parents[pa.id] = parent
                out.append(parent)
            item.parent = parent
            parent.children.append(item)
        return out

    def link_relies_on(self, items: list[OrderItem]) -> None:
        """`reliesOn` names an item of the request: every unit of it."""
        if not any(i.relies_on for i in items):
            return
        units: dict[str, list[str]] = {}
        for item in items:
            if not item.implicit:
                units.setdefault(str(item.request.get("id")), []).append(item.id)
        for item in items:
            item.relies_on = [unit for base in item.relies_on for unit in units.get(base, ())]

    def read_item(self, raw, parent, path) -> OrderItem | None:
        if not isinstance(raw, dict):
            self.problem("malformed_item", "an order item must be a JSON object", path=path)
            return None
        item_id = raw.get("id")
        if not isinstance(item_id, (str, int)) or isinstance(item_id, bool) or str(item_id) == "":
            self.problem("malformed_item", "the order item has no `id`", path=path + "/id")
            return None
        item_id = str(item_id)
        why = id_problem(item_id, "the order item's id")
        if why:
            self.problem("bad_id", why, path=path + "/id", item_id=_shown_id(item_id))
            return None
        prod = raw.get("product")
        action = raw.get("action", "add")
        code, where = self.product_code(raw, prod, action, path, item_id)
        if code is None:
            return None
        product = self.products.get(code)
        if product is None or product.kind != "commercial":
            known = ", ".join(p.code for p in self.catalog.products if p.kind == "commercial")
            what = "a technical product: orders name commercial products" if product is not None else "not a product of this catalog"
            self.problem("unknown_product", f"`{code}` is {what} (the catalog sells {known})", path=where, item_id=item_id, product=code)
            return None
        item = OrderItem(item_id, code, action if isinstance(action, str) else "add", {}, path, parent, request=kept(raw, "item"))
        if action not in ACTIONS:
            self.problem("unknown_action", f"the action {_show_raw(action)} is not one of {', '.join(ACTIONS)}", item, path + "/action")
        chars = []
        if prod is not None:
            if not isinstance(prod, dict):
                self.problem("malformed_item", "`product` must be a JSON object", item, path + "/product")
            else:
                asset = prod.get("id")
                item.asset_id = str(asset) if isinstance(asset, (str, int)) and not isinstance(asset, bool) else None
                why = id_problem(item.asset_id, "the installed product's id (`product.id`)") if item.asset_id else None
                if why:
                    self.problem("bad_id", why, item, path + "/product/id")
                    item.asset_id = None
                chars = prod.get("productCharacteristic", [])
                if not isinstance(chars, list):
                    self.problem("malformed_item", "`productCharacteristic` must be a list", item, path + "/product/productCharacteristic")
                    chars = []
        self.attributes(item, product, chars, path + "/product/productCharacteristic")
        return item

    def product_code(self, raw: dict, prod, action, path: str, item_id: str):
        """The product an item orders, and the pointer to where it is named:
        `productOffering.id`; else, for a change of an installed product, that
        product's; else `product.productSpecification.id`."""
        offering = raw.get("productOffering")
        if offering is not None:
            code = offering.get("id") if isinstance(offering, dict) else None
            if isinstance(code, str) and code:
                return code, path + "/productOffering/id"
            self.problem("malformed_item", "`productOffering` has no `id` (the product code)", path=path + "/productOffering", item_id=item_id)
            return None, None
        prod = prod if isinstance(prod, dict) else {}
        asset_id = prod.get("id")
        if action in ACTIONS and action != "add" and isinstance(asset_id, (str, int)) and not isinstance(asset_id, bool):
            asset = self.installed.asset(str(asset_id))
            if asset is None:
                self.problem("unknown_asset", f"`{asset_id}` is not in the installed base (and the item names no `productOffering`)", path=path + "/product/id", item_id=item_id)
                return None, None
            return asset.product, path + "/product/id"
        spec = prod.get("productSpecification")
        code = spec.get("id") if isinstance(spec, dict) else None
        if isinstance(code, str) and code:
            return code, path + "/product/productSpecification/id"
        self.problem("malformed_item", "the order item names no product: `productOffering.id` (the product code), or `product.id` of an installed product to change", path=path + "/productOffering", item_id=item_id)
        return None, None

    def attributes(self, item: OrderItem, product, chars: list, path: str) -> None:
        fast = self.generated.get(product.code) if item.action == "add" else None
        values = fast(chars) if fast is not None else None
        if values is not None:  # the generated coercion took every value as it is
            item.values = values
            return
        given: dict = {}
        named: set = set()  # given, even if its value was rejected
        for n, ch in enumerate(chars):
            here = f"{path}/{n}"
            if not isinstance(ch, dict) or not isinstance(ch.get("name"), str):
                self.problem("malformed_item", "a characteristic must be an object with a `name`", item, here)
                continue
            name = ch["name"]
            attr = product.attribute(name)
            if attr is None:
                names = ", ".join(a.name for a in product.attributes) or "none"
                self.problem("unknown_attribute", f"`{name}` is not an attribute of {product.code} (its attributes: {names})", item, here + "/name")
                continue
            if name in named:
                self.problem("duplicate_attribute", f"`{name}` is given twice", item, here)
                continue
            named.add(name)
            raw = ch.get("value")
            if raw is None:
                given[name] = None
                continue
            try:
                value = coerce(attr, raw)
            except ValueError as exc:
                self.problem("attribute_type", f"`{name}` = {_show_raw(raw)} {exc}; it must be {'an' if attr.type == 'int' else 'a'} {attr.type}", item, here + "/value")
                continue
            if attr.allowed is not None and value not in [E.constant_value(v) for v in attr.allowed]:
                allowed = ", ".join(show_value(E.constant_value(v)) for v in attr.allowed)
                self.problem("allowed_values", f"`{name}` = {show_value(value)} is not allowed (allowed: {allowed})", item, here + "/value")
                continue
            if attr.range is not None:
                low, high = (E.constant_value(v) for v in attr.range)
                if not (low <= value <= high):
                    self.problem("allowed_values", f"`{name}` = {show_value(value)} is outside {show_value(low)}..{show_value(high)}", item, here + "/value")
                    continue
            given[name] = value
        if item.action != "add":
            # What it changes is merged onto the installed asset (installed_items).
            item.values = given
            return
        for attr in product.attributes:
            value = given.get(attr.name)
            if value is None and attr.default is not None:
                value = E.constant_value(attr.default)
            if value is None and attr.required and attr.name not in named - set(given):
                self.problem("required", f"the required attribute `{attr.name}` is missing", item, path)
            item.values[attr.name] = value

    # ---- the installed base ------------------------------------------------------------------

    def installed_items(self, items: list[OrderItem], customer) -> list[OrderItem]:
        """Items that modify, end or keep an installed product: check their
        asset, merge what they change onto it, and carry along the installed
        children the order does not mention (kept, or ended with their parent)."""
        if all(i.action == "add" and not i.asset_id for i in items):
            return items  # nothing installed to check or carry along: the order stays as it is
        mentioned = {i.asset_id for i in items if i.asset_id}
        for item in list(items):
            if item.action == "add":
                if item.asset_id:
                    self.problem("asset_on_add", f"an added item makes a new product: it cannot name the installed `{item.asset_id}` (to change that, use the action modify)", item, item.path + "/product/id")
                continue
            if item.parent is not None and item.parent.action == "delete" and item.action != "delete":
                self.problem("asset_parent", f"{item.product} sits under an item that is deleted: it can only be deleted too", item, item.path + "/action")
                continue
            asset = self.asset_of(item, customer)
            if asset is None:
                self.unreadable_children.add(id(item))  # its installed children are unknown: no cardinality
                continue
            product = self.catalog.product(item.product)
            declared = {a.name for a in product.attributes}
            values = {k: v for k, v in asset.attributes.items() if k in declared}
            if item.action == "modify":
                values.update(item.values)
            for attr in product.attributes:
                values.setdefault(attr.name, None)
                if values[attr.name] is None and attr.required and item.action != "delete":
                    self.problem("required", f"the {item.action} leaves the required attribute `{attr.name}` without a value", item, item.path)
            item.values = values
            for child in self.installed.children(asset.id):
                if child.id in mentioned:
                    continue
                action = "delete" if item.action == "delete" else "noChange"
                kid = OrderItem(child.id, child.product, action, {}, f"{item.path} (installed {child.id})", item, asset_id=child.id, implicit=True)
                child_product = self.catalog.product(child.product)
                if child_product is None:
                    self.problem("installed_product", f"the installed {child.id} is a {child.product}, which the catalog no longer has", item, item.path)
                    continue
                kid.values = {a.name: child.attributes.get(a.name) for a in child_product.attributes}
                item.children.append(kid)
                mentioned.add(child.id)
        # Parents before children, in document order, the carried-along children after the others.
        return _preorder([i for i in items if i.parent is None])

    def asset_of(self, item: OrderItem, customer):
        if not item.asset_id:
            self.problem("asset_required", f"the action {item.action} needs `product.id`: the installed product it applies to", item, item.path + "/product/id")
            return None
        asset = self.installed.asset(item.asset_id)
        if asset is None:
            self.problem("unknown_asset", f"`{item.asset_id}` is not in the installed base", item, item.path + "/product/id")
            return None
        if asset.customer != customer:
            self.problem("asset_of_another_customer", f"`{asset.id}` belongs to another customer than {customer or 'this order'}'s", item, item.path + "/product/id")
            return None
        if asset.product != item.product:
            self.problem("asset_product", f"`{asset.id}` is a {asset.product}, not a {item.product}", item, item.path + "/productOffering/id")
            return None
        if asset.status != "active":
            self.problem("asset_ended", f"`{asset.id}` was ended by an earlier order", item, item.path + "/product/id")
            return None
        parent_asset = (item.parent.asset_id or None) if item.parent is not None and item.parent.action != "add" else None
        if item.parent is not None and asset.parent != parent_asset:
            where = f"`{parent_asset}`" if parent_asset else f"the new {item.parent.product} (item {item.parent.id})"
            self.problem("asset_parent", f"`{asset.id}` is not installed under {where}", item, item.path)
            return None
        busy = self.installed.in_flight(asset.id)
        if busy is not None and busy != self.order_id:  # (a revision of that order is fine)
            self.problem("asset_in_flight", f"`{asset.id}` is being changed by order {busy}, still in progress: amend that order, or wait for it", item, item.path + "/product/id")
            return None
        return asset

    # ---- the tree ---------------------------------------------------------------------------

    def structure(self, items: list[OrderItem]) -> None:
        for item in items:
            product = self.products.get(item.product)
            if item.parent is None and product.role == "child":
                parents = " or ".join(sorted(self.parents.get(item.product, ()))) or "no product"
                self.problem("placement", f"{item.product} cannot be ordered on its own: it belongs under {parents}", item, item.path)
            elif item.parent is not None:
                if item.product not in self.child_products[item.parent.product]:
                    where = " or ".join(sorted(self.parents.get(item.product, ()))) or "nothing: it is a root product"
                    self.problem("placement", f"{item.product} cannot be under {item.parent.product} (item {item.parent.id}); it belongs under {where}", item, item.path)
            if item.action == "delete" or not product.children:
                continue  # an ended item keeps no cardinality
            counts: dict = {}
            for k in item.children:
                if k.action != "delete":
                    counts[k.product] = counts.get(k.product, 0) + 1
            for c in product.children if id(item) not in self.unreadable_children else ():
                n = counts.get(c.product, 0)
                if n < c.min or (c.max is not None and n > c.max):
                    card = f"exactly {c.min}" if c.min == c.max else (f"at least {c.min}" if c.max is None else f"{c.min} to {c.max}")
                    self.problem("cardinality", f"has {n} {c.product} item{'s' if n != 1 else ''}; {item.product} takes {card}", item, item.path)
