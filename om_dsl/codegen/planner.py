"""Codegen of `planner.py`: planning specialized to one catalog.

The shared planner (om_dsl.planning: intake, decompose, tasks) walks the
catalog's definitions for every item, line and task. This module writes that
walk out once, per product and per plan, as straight-line Python:

- `attributes__P(chars)`: an added item's characteristics -> its attribute
  values (coerced, checked against allowed values and ranges, defaults filled);
- `lines__P(...)`: the fulfillment lines an added item (or a line) of P makes,
  completed and checked, chained decompositions included;
- `tasks__P__A(...)`: the planned items of a line of P with action A, its
  `when`s decided at planning time evaluated;
- `edges__P__A(...)`: their dependencies, those within the plan as constants.

Each function covers the usual case and returns None on anything else (a
problem to report, a value to coerce that is not plain): the shared planner,
the reference, then does that item or line step by step, so rejections are
its own, word for word. om_dsl.planning.compiled drives these functions.
"""

from __future__ import annotations

import re

from om_dsl.codegen.emit import _ident, comment_text
from om_dsl.codegen.pyexpr import Constants, PyExpr
from om_dsl.model import expr as E
from om_dsl.model.catalog import ids
from om_dsl.model.plans import reads_across, static_when

# The interface between this module and om_dsl.planning.compiled: a compiled
# catalog whose planner.py says another number is planned by the shared planner.
PLANNER_ABI = 2

# om_dsl.planning.order.FulfillmentLine's fields, in order: generated code makes lines
# positionally (tests/test_compiled_intake.py checks the order; a change is a new PLANNER_ABI).
LINE_FIELDS = ("id", "product", "action", "values", "source_item", "bundle", "rule", "relationship", "condition", "unit", "source_line", "key", "source_asset", "previous", "changes", "why")

# Python types whose values a characteristic may give as they are (others go through `coerced`).
_PLAIN = {"int": "int", "bool": "bool", "string": "str"}


class _Writer:
    """Lines of one function, indented."""

    def __init__(self):
        self.lines: list[str] = []
        self.depth = 1

    def __call__(self, text: str) -> None:
        self.lines.append("    " * self.depth + text)

    def text(self) -> str:
        return "\n".join(self.lines)


def _marker(g, element: str) -> str:
    return f"# @om {comment_text(element)}  {comment_text(g.source(element))}"


def _constant_set(k: Constants, px: PyExpr, values) -> str:
    return k.add("ALLOWED_", "frozenset({" + ", ".join(px.code(v) for v in values) + "})")


def _checks(w: _Writer, k: Constants, px: PyExpr, attr, local: str, maybe_null: bool, required: bool = True) -> None:
    """Return None unless LOCAL is a value the attribute takes (required, allowed, range),
    checked as the reference does (om_dsl.planning.decompose.Decomposer.complete)."""
    if attr.required and required and maybe_null:
        w(f"if {local} is None:")
        w("    return None")
    guard = f"{local} is not None and " if maybe_null and not attr.required else ""
    if attr.allowed is not None:
        w(f"if {guard}{local} not in {_constant_set(k, px, attr.allowed)}:")
        w("    return None")
    if attr.range is not None:
        low, high = (px.code(v) for v in attr.range)
        w(f"if {guard}not ({low} <= {local} <= {high}):")
        w("    return None")


class PlannerModule:
    def __init__(self, g):
        self.g = g
        self.cat = g.cat
        self.k = Constants()
        self.tables = g.tables(self.k)
        self.functions: list[str] = []
        self.sources = {d.source for d in self.cat.decompositions if d.source is not None}

    # ---- intake: characteristics -> attribute values -----------------------------------

    def attributes(self, product) -> str:
        name = _ident("attributes", product.code)
        px = PyExpr(self.k, {}, self.tables)
        w = _Writer()
        w(_marker(self.g, ids.product(product.code)))
        if not product.attributes:
            w("return None if chars else {}  # it has no attributes to give")
            self.functions.append(f"def {name}(chars):\n{w.text()}")
            return name
        locals_ = {a.name: f"v_{a.name}" for a in product.attributes}
        w(" = ".join(locals_.values()) + " = _UNSET")
        w("for ch in chars:")
        w.depth += 1
        w("if type(ch) is not dict:")
        w("    return None")
        w("name = ch.get('name')")
        for n, attr in enumerate(product.attributes):
            local = locals_[attr.name]
            w(f"{'if' if n == 0 else 'elif'} name == {attr.name!r}:")
            w.depth += 1
            w(_marker(self.g, ids.attribute(product.code, attr.name)))
            w(f"if {local} is not _UNSET:  # given twice")
            w("    return None")
            w(f"{local} = raw = ch.get('value')")
            w("if raw is not None:")
            w.depth += 1
            plain = _PLAIN.get(attr.type)
            if plain is not None:
                w(f"if type(raw) is not {plain}:")
                w(f"    {local} = raw = _coerced({attr.type!r}, raw)")
                w("    if raw is _BAD:")
                w("        return None")
            else:
                w(f"{local} = raw = _coerced({attr.type!r}, raw)")
                w("if raw is _BAD:")
                w("    return None")
            _checks(w, self.k, px, attr, "raw", False, required=False)
            w.depth -= 2
        w("else:")
        w("    return None")
        w.depth -= 1
        for attr in product.attributes:
            local = locals_[attr.name]
            if attr.default is not None:
                w(f"if {local} is _UNSET or {local} is None:")
                w(f"    {local} = {px.code(attr.default)}")
            elif attr.required:
                w(f"if {local} is _UNSET or {local} is None:")
                w("    return None")
            else:
                w(f"if {local} is _UNSET:")
                w(f"    {local} = None")
        w("return {" + ", ".join(f"{a.name!r}: {locals_[a.name]}" for a in product.attributes) + "}")
        self.functions.append(f"def {name}(chars):\n{w.text()}")
        return name

    def item(self, product, attributes: str) -> str:
        """`item__P(raw, path, parent, depth, items)`: the whole intake of an added item of P and
        its subtree (om_dsl.planning.compiled_intake drives it), or None: the reference reads the order."""
        name = _ident("item", product.code)
        w = _Writer()
        w(_marker(self.g, ids.product(product.code)))
        w("read = _plain(raw)  # (its id, its characteristics), or None: not a plainly added item")
        w("if read is None:")
        w("    return None")
        w(f"values = {attributes}(read[1])")
        w("if values is None:")
        w("    return None")
        w(f"item = _added(read[0], {product.code!r}, values, path, parent, raw)")
        w("items.append(item)")
        w("kids = raw.get('productOrderItem')")
        children = product.children
        if not children:
            w("if kids is not None and (kids != [] or depth >= _MAX_DEPTH):")
            w(f"    return None  # {product.code} takes no children")
            w("return item")
            self.functions.append(f"def {name}(raw, path, parent, depth, items):\n{w.text()}")
            return name
        w("if kids is not None:")
        w.depth += 1
        w("if type(kids) is not list or depth >= _MAX_DEPTH:")
        w("    return None")
        w(" = ".join(f"n_{c.product}" for c in children) + " = 0")
        w("for k, kid in enumerate(kids):")
        w.depth += 1
        w("code = _code(kid)")
        for n, c in enumerate(children):
            w(f"{'if' if n == 0 else 'elif'} code == {c.product!r}:")
            w(f"    n_{c.product} += 1")
            w(f"    kid = {_ident('item', c.product)}(kid, f'{{path}}/productOrderItem/{{k}}', item, depth + 1, items)")
        w("else:")
        w(f"    return None  # not a child of {product.code}: the reference says where it belongs")
        w("if kid is None:")
        w("    return None")
        w("item.children.append(kid)")
        w.depth -= 1
        wrong = []  # the counts a cardinality refuses
        for c in children:
            if c.max is not None and c.min == c.max:
                wrong.append(f"n_{c.product} != {c.min}")
                continue
            if c.min > 0:
                wrong.append(f"n_{c.product} < {c.min}")
            if c.max is not None:
                wrong.append(f"n_{c.product} > {c.max}")
        if wrong:
            w(f"if {' or '.join(wrong)}:")
            w("    return None  # a cardinality: the reference says which")
        w.depth -= 1
        needed = [c.product for c in children if c.min > 0]
        if needed:
            w("else:")
            w(f"    return None  # it needs {', '.join(needed)}")
        w("return item")
        self.functions.append(f"def {name}(raw, path, parent, depth, items):\n{w.text()}")
        return name

    # ---- decomposition: an item (or a line) -> its lines ----------------------------------

    def lines(self, code: str | None, nullable: dict) -> str:
        """`lines__P`: the lines an added item (or a line) of P makes; `lines__order` (code None): the order scope's."""
        name = _ident("lines", code) if code is not None else "lines__order"
        px = PyExpr(self.k, nullable, self.tables)
        w = _Writer()
        w("lines = []")
        for d in self.cat.decompositions_from(code):
            self.rule(w, px, d)
        w("return lines")
        self.functions.append(f"def {name}(a, item, o, source_item, prefix, bundle, asset, base, source_line):\n{w.text()}")
        return name

    def rule(self, w: _Writer, px: PyExpr, d) -> None:
        g, cat = self.g, self.cat
        target = cat.product(d.target)
        w(_marker(g, ids.decomposition(d.name)))
        depth = w.depth
        if d.when is not None:
            w(f"if {px.truth(d.when)}:")
            w.depth += 1
        if d.per is not None:
            w(f"n = {px.code(d.per)}")
            w("if n is not None and n > 0:")
            w.depth += 1
        mapped = {}
        for m in d.mappings:
            local = f"v_{m.target}"
            w(_marker(g, ids.mapping(d.name, m.target)))
            w(f"{local} = {px.code(m.expr)}")
            mapped[m.target] = (local, m.expr)
        values = []
        for attr in target.attributes:
            if attr.name in mapped:
                local, expr = mapped[attr.name]
                maybe_null = not E.is_constant(expr) or E.constant_value(expr) is None
                if attr.default is not None and maybe_null:
                    w(f"if {local} is None:")
                    w(f"    {local} = {px.code(attr.default)}")
                    maybe_null = False
                _checks(w, self.k, px, attr, local, maybe_null)
                values.append(f"{attr.name!r}: {local}")
                continue
            value = E.constant_value(attr.default) if attr.default is not None else None
            ok = (value is not None or not attr.required) and (
                value is None
                or (attr.allowed is None or value in [E.constant_value(v) for v in attr.allowed])
                and (attr.range is None or E.constant_value(attr.range[0]) <= value <= E.constant_value(attr.range[1]))
            )
            if not ok:  # the reference reports it for every line this rule makes
                w(f"return None  # `{attr.name}` of {d.target} gets no value it takes")
            values.append(f"{attr.name!r}: {px.code(attr.default) if attr.default is not None else 'None'}")
        fields = {
            "product": repr(d.target),
            "action": "'add'",
            "source_item": "source_item",
            "bundle": "bundle",
            "rule": repr(d.name),
            "relationship": repr(f"{d.source or 'order'} -> {d.target}"),
            "condition": repr(E.render(d.when)) if d.when is not None else "None",
            "unit": "None",
            "source_line": "source_line",
            "source_asset": "asset",
            "previous": "None",
            "changes": "None",
            "why": repr("its item is added" if d.source is not None else "a root item is added"),
        }
        if d.per is not None:
            w("for unit in range(1, n + 1):")
            w.depth += 1
            fields["id"], fields["key"] = f"f'{{prefix}}/{d.name}#{{unit}}'", f"f'{{base}}/{d.name}#{{unit}}'"
            fields["unit"] = "(unit, n)"
        else:
            fields["id"], fields["key"] = f"prefix + {'/' + d.name!r}", f"base + {'/' + d.name!r}"
        fields["values"] = "{" + ", ".join(values) + "}"
        w("line = _Line(  # its fields in their order (positional: a keyword call costs twice as much)")
        for k in LINE_FIELDS:
            w(f"    {fields[k]},  # {k}")
        w(")")
        w("lines.append(line)")
        if d.target in self.sources:  # a technical line decomposed further (CFS -> RFS)
            w(f"further = {_ident('lines', d.target)}(line.values, line, o, source_item, line.id, bundle, asset, line.key, line.id)")
            w("if further is None:")
            w("    return None")
            w("lines.extend(further)")
        w.depth = depth

    # ---- plans: a line -> its planned items, and their dependencies ----------------------------

    def tasks(self, plan) -> str:
        g = self.g
        name = _ident("tasks", plan.product, plan.action)
        product = self.cat.product(plan.product)
        written = {attr for i in plan.items for attr, _ in i.sets}
        px = PyExpr(self.k, {a.name: not a.required or a.name in written for a in product.attributes}, self.tables)
        w = _Writer()
        w(_marker(g, ids.plan(plan.product, plan.action)))
        decided = {d.name for d in plan.items if static_when(plan, d)}
        conditions = [(None, px.truth(plan.when))] if plan.when is not None else []
        conditions += [(d.name, px.truth(d.when)) for d in plan.items if d.name in decided]
        if any(re.search(r"\bout\b", code) for _, code in conditions):
            w("out = _NO_OUTPUTS  # decided before any task ran")
        for task, code in conditions:
            if task is None:
                w(f"if not {code}:")
                w("    return None")
            else:
                w(_marker(g, ids.task(plan.product, plan.action, task)))
                w(f"when_{task} = {code}")
        w("return (")
        for d in plan.items:
            w(f"    {_marker(g, ids.task(plan.product, plan.action, d.name))}")
            args = [f"lid + {':' + d.name!r}", repr(d.name), repr(d.kind), repr(plan.product), repr(plan.action), "lid", "bundle", f"defs[{d.name!r}]"]
            if d.when is not None and d.name in decided:
                skipped = f"_Skipped(lid + {':' + d.name!r}, lid, {('when ' + E.render(d.when) + ' is false')!r})"
                w(f"    ({d.name!r}, _Item({', '.join(args)}) if when_{d.name} else {skipped}),")
                continue
            if d.when is not None:
                args.append(f"condition={E.render(d.when)!r}")
            w(f"    ({d.name!r}, _Item({', '.join(args)})),")
        w(")")
        self.functions.append(f"def {name}(a, o, prev, lid, bundle, defs):\n{w.text()}")
        return name

    def edges(self, plan) -> str:
        g = self.g
        name = _ident("edges", plan.product, plan.action)
        names = {d.name for d in plan.items}
        w = _Writer()
        w("e = p.edges")
        for d in plan.items:
            after = [(dep, f"after {dep.describe()}") for dep in d.after] + list(reads_across(self.cat, d))
            before = [(dep, f"{d.name} before {dep.describe()}") for dep in d.before]
            if not after and not before:
                continue
            w(_marker(g, ids.task(plan.product, plan.action, d.name)))
            w(f"me = lid + {':' + d.name!r}")
            for dep, via in after:
                if dep.scope == "plan":
                    if dep.task in names and dep.task != d.name:
                        w(f"e[me].append(_Dep(lid + {':' + dep.task!r}, {via!r}))")
                    continue
                w(f"for t in p.targets(line, {self.dependency(dep)}):")
                w("    if t != me:")
                w(f"        e[me].append(_Dep(t, {via!r}))")
            for dep, via in before:
                if dep.scope == "plan":
                    if dep.task in names and dep.task != d.name:
                        w(f"e[lid + {':' + dep.task!r}].append(_Dep(me, {via!r}))")
                    continue
                w(f"for t in p.targets(line, {self.dependency(dep)}):")
                w("    if t != me:")
                w(f"        e[t].append(_Dep(me, {via!r}))")
        if len(w.lines) == 1:
            w.lines = ["    pass  # its tasks wait for nothing"]
        self.functions.append(f"def {name}(p, line, lid):\n{w.text()}")
        return name

    def dependency(self, dep) -> str:
        return self.k.add("DEP_", f"_DependencyDef({dep.product!r}, {dep.task!r}, {dep.scope!r})")

    # ---- the module ----------------------------------------------------------------------------

    def render(self, enriched_nullable: dict, plan_sha256: str) -> str:
        cat = self.cat
        attributes = {p.code: self.attributes(p) for p in cat.products if p.kind == "commercial"}
        items = {p.code: self.item(p, attributes[p.code]) for p in cat.products if p.kind == "commercial"}
        roots = {code: fn for code, fn in items.items() if cat.product(code).role != "child"}
        lines = {}
        for p in cat.products:
            if p.code in self.sources or p.kind == "commercial":
                lines[p.code] = self.lines(p.code, enriched_nullable.get(p.code) or self.g.item_nullability(p.code))
        order_lines = self.lines(None, {}) if cat.decompositions_from(None) else None
        tasks = {(p.product, p.action): (self.tasks(p), self.edges(p)) for p in cat.plans}
        return self.g.render(
            "planner.py.j2",
            "Planning specialized to this catalog.",
            abi=PLANNER_ABI,
            plan_sha256=plan_sha256,
            functions=self.functions,
            constants=self.k.lines,
            attributes=attributes,
            roots=roots,
            lines=lines,
            order_lines=order_lines,
            tasks=tasks,
        )
