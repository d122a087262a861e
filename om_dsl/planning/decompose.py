"""Validate, enrich and decompose an accepted order into fulfillment lines."""

from __future__ import annotations

import functools

from om_dsl.model import expr as E
from om_dsl.model.catalog import Catalog, ids
from om_dsl.planning import keys
from om_dsl.planning.compiled import planner_of
from om_dsl.planning.installed import EMPTY, line_key
from om_dsl.planning.order import EvaluationError, FulfillmentLine, Order, Problem, Rejected, show_value
from om_dsl.rules import ops


def _failed(exc: EvaluationError, item=None) -> Problem:
    where = f" ({exc.source})" if exc.source else ""
    return Problem(exc.element, f"{exc.element}{where} cannot be evaluated: {exc.message}", item.id if item else None, item.product if item else None, item.path if item else None)


def _ruled(catalog: Catalog, key: str, kind: str) -> frozenset:
    """The products with validation (or enrichment) rules: an item of another has none to run."""
    return catalog.memo(key, lambda: frozenset(r.product for r in getattr(catalog, kind)))


def validate(rules, order: Order) -> None:
    problems = []
    o = order.fields
    ruled = _ruled(rules.catalog, "decompose.validations", "validations")
    for item in order.items:
        if item.product not in ruled:
            continue
        try:
            for name, message in rules.validate(item, o):
                problems.append(Problem(ids.validation(item.product, name), message, item.id, item.product, item.path))
        except EvaluationError as exc:
            problems.append(_failed(exc, item))
    if problems:
        raise Rejected(problems)


def enrich(rules, order: Order) -> None:
    o = order.fields
    ruled = _ruled(rules.catalog, "decompose.enrichments", "enrichments")
    for item in order.items:  # parents before children: `parent.x` sees enriched values
        if item.product not in ruled:
            continue
        try:
            rules.enrich(item, o)
        except EvaluationError as exc:
            raise Rejected([_failed(exc, item)]) from None


class Decomposer:
    """Decomposes an order's items into lines, and gives each line its action.

    An added item's lines are added. For an item that modifies or keeps an
    installed product, the lines the rules make now are compared with the
    installed lines of its asset, by key: a mapped attribute that differs ->
    modify (which, from what to what), none -> noChange, a line the rules no
    longer make -> delete, a line not installed -> add. An ended item's
    installed lines are deleted, and no mapping runs for them."""

    def __init__(self, catalog: Catalog, rules, order: Order, installed=None):
        self.catalog = catalog
        self.rules = rules
        self.order = order
        self.installed = installed or EMPTY
        self.lines: list[FulfillmentLine] = []
        self.problems: list[Problem] = []
        self.generated = planner_of(rules)  # a compiled catalog's decomposition per product (planning/compiled.py)
        self.by_bundle: dict | None = {}  # bundle -> its lines, while every line is the generated code's (see `requests`)

    # The catalog's rules by name, and their conditions as written: only the reference's steps read them.
    @functools.cached_property
    def rule_defs(self) -> dict:
        return self.catalog.memo("decompose.rules", lambda: {d.name: d for d in self.catalog.decompositions})

    @functools.cached_property
    def conditions(self) -> dict:
        return self.catalog.memo("decompose.conditions", lambda: {d.name: E.render(d.when) for d in self.catalog.decompositions if d.when is not None})

    @functools.cached_property
    def asset_ids(self):
        return keys.asset_ids(self.order.id)

    def asset_of(self, item) -> str:
        return item.asset_id or self.asset_ids(item.id)

    def run(self) -> list[FulfillmentLine]:
        o = self.order.fields
        generated = self.generated.LINES if self.generated is not None else {}
        roots: dict = {}  # order item -> its root's id (parents come before their children)
        head = keys.asset_head(self.order.id) if generated else None
        lines, by_bundle = self.lines, self.by_bundle
        for item in self.order.items:
            fn = generated.get(item.product) if item.action == "add" else None
            if fn is not None:  # the generated decomposition of an added item; None: the reference does it
                iid = item.id
                ref = item._parent  # (the weak reference: no property call per item)
                root = roots[item] = iid if ref is None else roots.get(ref()) or item.root.id
                if keys.plain_item(iid):
                    prefix, asset = iid, head + iid
                else:
                    prefix, asset = keys.line_prefix(iid), self.asset_ids(iid)
                if item.asset_id is not None:
                    asset = item.asset_id
                try:
                    new = fn(item.values, item, o, iid, prefix, root, asset, asset, None)
                except (ops.Fault, ArithmeticError):  # the reference names the rule and its spec line
                    new = None
                if new is not None:
                    lines += new
                    if by_bundle is not None:
                        mine = by_bundle.get(root)
                        if mine is None:
                            by_bundle[root] = new
                        else:
                            mine += new
                    continue
            self.by_bundle = by_bundle = None  # lines the reference makes: `requests` groups them
            asset = self.asset_of(item)
            if item.action == "delete":
                for inst in self.installed.lines_of(asset):
                    self.lines.append(self.installed_line(inst, item, asset, "delete", "disconnected with its item: no mapping runs"))
                continue
            try:
                made = self.rules.decompose(item, o)
            except EvaluationError as exc:
                self.problems.append(_failed(exc, item))
                continue
            new = self.build(made, item, keys.line_prefix(item.id), item.root.id, asset, None, None)
            if item.action == "add":
                for line in new:
                    line.action, line.why = "add", "its item is added"
                self.lines.extend(new)
            else:
                self.compare(new, {inst.key: inst for inst in self.installed.lines_of(asset)}, item, asset)
        if not self.added_order_scope(o):
            self.order_scope(o)
        if self.problems:
            raise Rejected(self.problems)
        return self.lines

    def build(self, made, item, prefix, bundle, asset, parent_key, source_line) -> list[FulfillmentLine]:
        """The lines the rules make now (actions come later), technical chains included."""
        out = []
        customer = self.order.fields.get("customer_account")
        for rule_name, count, values in made:
            rule = self.rule_defs[rule_name]
            for n in range(1, count + 1):
                unit = n if rule.per is not None else None
                line_id = f"{prefix}/{rule_name}" + (f"#{n}" if unit is not None else "")
                line = FulfillmentLine(
                    id=line_id,
                    product=rule.target,
                    action="add",
                    values=self.complete(rule, dict(values), item, line_id),
                    source_item=item.id if item is not None else None,
                    bundle=bundle,
                    rule=rule_name,
                    relationship=f"{rule.source or 'order'} -> {rule.target}",
                    condition=self.conditions.get(rule_name),
                    unit=(n, count) if unit is not None else None,
                    source_line=source_line,
                    key=line_key(asset, customer, rule_name, unit, parent_key),
                    source_asset=asset,
                )
                out.append(line)
                # A technical line can be decomposed further (CFS -> RFS).
                if self.generated is not None and line.product not in self.generated.LINES:
                    continue  # the generated planner knows it has no rules
                try:
                    further = self.rules.decompose(line, self.order.fields)
                except EvaluationError as exc:
                    self.problems.append(_failed(exc, item))
                    continue
                out.extend(self.build(further, item, line_id, bundle, asset, line.key, line_id))
        return out

    def compare(self, new: list, installed: dict, item, asset: str) -> None:
        for line in new:
            inst = installed.pop(line.key, None)
            if inst is None:
                line.action, line.why = "add", f"new: {line.rule} makes it now" + (f" ({line.condition})" if line.condition else "")
                self.lines.append(line)
                continue
            self.against(line, inst)
            self.lines.append(line)
        for inst in installed.values():  # what the rules no longer make
            rule = self.rule_defs.get(inst.rule)
            why = f"gone: {inst.rule} no longer makes it" + (f" ({E.render(rule.when)} is false)" if rule is not None and rule.when is not None else "")
            self.lines.append(self.installed_line(inst, item, asset, "delete", why))

    def against(self, line: FulfillmentLine, inst) -> None:
        """modify or noChange: the mapped attributes, compared with the installed line.

        A mapping that gives nothing (null) for an attribute that fulfillment
        sets (`sets` in a plan of the product, such as the phone number the
        voice platform assigned) keeps the installed value: it is no change."""
        rule = self.rule_defs[line.rule]
        fulfilled = self.fulfilled_attributes(line.product)
        mapped = [m.target for m in rule.mappings if not (line.values.get(m.target) is None and inst.attributes.get(m.target) is not None and m.target in fulfilled)]
        changes = {a: (inst.attributes.get(a), line.values.get(a)) for a in mapped if inst.attributes.get(a) != line.values.get(a)}
        values = dict(inst.attributes)  # what fulfillment set (port_id...) stays
        for a in mapped:
            values[a] = line.values.get(a)
        for attr in self.catalog.product(line.product).attributes:
            values.setdefault(attr.name, None)
        line.values = values
        line.previous = dict(inst.attributes)
        if changes:
            line.action, line.changes = "modify", changes
            line.why = "changed: " + ", ".join(f"{a} from {show_value(old)} to {show_value(new)}" for a, (old, new) in sorted(changes.items()))
        else:
            line.action, line.why = "noChange", "unchanged"

    def fulfilled_attributes(self, product: str) -> set:
        """The attributes of a product that a task of one of its plans sets."""
        return self.catalog.memo(
            f"decompose.fulfilled.{product}", lambda: {attr for p in self.catalog.plans if p.product == product for i in p.items for attr, _ in i.sets}
        )

    def installed_line(self, inst, item, asset: str, action: str, why: str) -> FulfillmentLine:
        rule = self.rule_defs.get(inst.rule)
        suffix = inst.key[len(asset):] if asset and inst.key.startswith(asset) else "/" + inst.key
        line_id = (keys.line_prefix(item.id) if item is not None else "order") + suffix
        return FulfillmentLine(
            id=line_id,
            product=inst.product,
            action=action,
            values=dict(inst.attributes),
            source_item=item.id if item is not None else None,
            bundle=item.root.id if item is not None else None,
            rule=inst.rule,
            relationship=f"{(rule.source or 'order') if rule else '?'} -> {inst.product}",
            condition=self.conditions.get(inst.rule),
            key=inst.key,
            source_asset=inst.source_asset,
            previous=dict(inst.attributes),
            why=why,
        )

    def added_order_scope(self, o) -> bool:
        """The order scope's lines through the generated code, when a root item is added
        (order_scope's first case); False: order_scope does it."""
        fn = self.generated.ORDER_LINES if self.generated is not None else None
        if fn is None or not any(root.action == "add" for root in o["root_items"]):
            return False
        base = keys.order_base(o.get("customer_account"))
        try:
            made = fn({}, None, o, None, "order", None, None, base, None)
        except (ops.Fault, ArithmeticError):
            return False
        if made is None:
            return False
        installed = self.installed if self.installed is not EMPTY else None
        for line in made:
            line.why = "a root item is added"  # (the lines decomposed from an order-scoped line too)
            inst = installed.line(line.key) if installed is not None else None
            if inst is not None:
                line.previous = dict(inst.attributes)
        self.lines.extend(made)
        if self.by_bundle is not None and made:
            self.by_bundle[None] = made
        return True

    def order_scope(self, o) -> None:
        """Order-scoped lines (billing): add when any root item is added, delete
        when every root item is deleted, else modify when any other line changes
        (noChange when none does). Section 4 of the reference catalog."""
        self.by_bundle = None
        try:
            made = self.rules.decompose_order(o)
        except EvaluationError as exc:
            self.problems.append(_failed(exc))
            return
        roots = self.order.root_items
        others_change = any(line.action != "noChange" for line in self.lines)
        for line in self.build(made, None, "order", None, None, None, None):
            inst = self.installed.line(line.key)
            if any(i.action == "add" for i in roots):
                line.action, line.why = "add", "a root item is added"
                if inst is not None:
                    line.previous = dict(inst.attributes)
            elif roots and all(i.action == "delete" for i in roots):
                if inst is not None:
                    line.values, line.previous = dict(inst.attributes), dict(inst.attributes)
                line.action, line.why = "delete", "every root item is deleted"
            elif inst is None:
                line.action, line.why = "add", "new: not installed yet"
            else:
                self.against(line, inst)
                if others_change and line.action == "noChange":
                    line.action, line.why = "modify", "another line of the order changes"
                elif not others_change and line.action == "noChange":
                    line.why = "no line of the order changes"
            self.lines.append(line)

    def complete(self, rule, values: dict, item, line_id: str) -> dict:
        """Every attribute of the target, unmapped ones null; check required and allowed values."""
        target = self.catalog.product(rule.target)
        out = {}
        for attr in target.attributes:
            value = values.get(attr.name)
            if value is None and attr.default is not None:
                value = E.constant_value(attr.default)
            out[attr.name] = value
            where = (item.id, item.product, item.path) if item is not None else (None, None, None)
            if value is None and attr.required:
                self.problems.append(Problem(ids.mapping(rule.name, attr.name), f"decomposition {rule.name} gives no value for `{attr.name}`, which {rule.target} requires (line {line_id})", *where))
            elif value is not None and attr.allowed is not None and value not in [E.constant_value(v) for v in attr.allowed]:
                allowed = ", ".join(show_value(E.constant_value(v)) for v in attr.allowed)
                self.problems.append(Problem(ids.mapping(rule.name, attr.name), f"decomposition {rule.name} gives `{attr.name}` = {show_value(value)}, not one of {allowed} (line {line_id})", *where))
            elif value is not None and attr.range is not None:
                low, high = (E.constant_value(v) for v in attr.range)
                if not (low <= value <= high):
                    self.problems.append(Problem(ids.mapping(rule.name, attr.name), f"decomposition {rule.name} gives `{attr.name}` = {show_value(value)}, outside {show_value(low)}..{show_value(high)} (line {line_id})", *where))
        return out


def decompose(catalog: Catalog, rules, order: Order, installed=None) -> list[FulfillmentLine]:
    return Decomposer(catalog, rules, order, installed).run()

