"""Validate, enrich and decompose an accepted order into fulfillment lines."""

from __future__ import annotations


from om_dsl.model import expr as E
from om_dsl.model.catalog import Catalog, ids
from om_dsl.runtime.order import EvaluationError, FulfillmentLine, Order, Problem, Rejected, show_value


def _failed(exc: EvaluationError, item=None) -> Problem:
    where = f" ({exc.source})" if exc.source else ""
    return Problem(exc.element, f"{exc.element}{where} cannot be evaluated: {exc.message}", item.id if item else None, item.product if item else None, item.path if item else None)


def validate(rules, order: Order) -> None:
    problems = []
    o = order.fields
    for item in order.items:
        try:
            for name, message in rules.validate(item, o):
                problems.append(Problem(ids.validation(item.product, name), message, item.id, item.product, item.path))
        except EvaluationError as exc:
            problems.append(_failed(exc, item))
    if problems:
        raise Rejected(problems)


def enrich(rules, order: Order) -> None:
    o = order.fields
    for item in order.items:  # parents before children: `parent.x` sees enriched values
        try:
            rules.enrich(item, o)
        except EvaluationError as exc:
            raise Rejected([_failed(exc, item)]) from None


class Decomposer:
    def __init__(self, catalog: Catalog, rules, order: Order):
        self.catalog = catalog
        self.rules = rules
        self.order = order
        self.lines: list[FulfillmentLine] = []
        self.problems: list[Problem] = []
        self.rule_defs = catalog.memo("decompose.rules", lambda: {d.name: d for d in catalog.decompositions})
        self.conditions = catalog.memo("decompose.conditions", lambda: {d.name: E.render(d.when) for d in catalog.decompositions if d.when is not None})

    def run(self) -> list[FulfillmentLine]:
        o = self.order.fields
        for item in self.order.items:
            try:
                made = self.rules.decompose(item, o)
            except EvaluationError as exc:
                self.problems.append(_failed(exc, item))
                continue
            self.add_lines(made, item.action, item, item.id, item.root.id, None)
        try:
            made = self.rules.decompose_order(o)
        except EvaluationError as exc:
            self.problems.append(_failed(exc))
            made = []
        self.add_lines(made, self.order_action(), None, "order", None, None)
        if self.problems:
            raise Rejected(self.problems)
        return self.lines

    def order_action(self) -> str:
        """Section 4: add when any root item is added, delete when every root
        item is deleted, else modify."""
        roots = self.order.root_items
        if any(i.action == "add" for i in roots):
            return "add"
        if roots and all(i.action == "delete" for i in roots):
            return "delete"
        return "modify"

    def add_lines(self, made, action, item, prefix, bundle, source_line) -> None:
        for rule_name, count, values in made:
            rule = self.rule_defs[rule_name]
            for n in range(1, count + 1):
                line_id = f"{prefix}/{rule_name}" + (f"#{n}" if rule.per is not None else "")
                line = FulfillmentLine(
                    id=line_id,
                    product=rule.target,
                    action=action,
                    values=self.complete(rule, dict(values), item, line_id),
                    source_item=item.id if item is not None else None,
                    bundle=bundle,
                    rule=rule_name,
                    relationship=f"{rule.source or 'order'} -> {rule.target}",
                    condition=self.conditions.get(rule_name),
                    unit=(n, count) if rule.per is not None else None,
                    source_line=source_line,
                )
                self.lines.append(line)
                # A technical line can be decomposed further (CFS -> RFS).
                try:
                    further = self.rules.decompose(line, self.order.fields)
                except EvaluationError as exc:
                    self.problems.append(_failed(exc, item))
                    continue
                self.add_lines(further, action, item, line_id, bundle, line_id)

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


def decompose(catalog: Catalog, rules, order: Order) -> list[FulfillmentLine]:
    return Decomposer(catalog, rules, order).run()

