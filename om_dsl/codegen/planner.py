"""Codegen of `planner.py`: planning specialized to one catalog.

The shared planner (om_dsl.planning: intake, decompose, tasks) walks the
catalog's definitions for every item, line and task. This module writes that
walk out once, per product and per plan, as straight-line Python:

- `attributes__P(chars)`: an added item's characteristics -> its attribute
  values (coerced, checked against allowed values and ranges, defaults filled);
- `lines__P(...)`: the fulfillment lines an added item (or a line) of P makes,
  completed and checked, chained decompositions included;
- `tasks__P__A(...)`: the planned items of a line of P with action A, its
  `when`s decided at planning time evaluated; a task whose dependencies the
  catalog fixes (all within its plan, nothing in the plan skippable, no clause
  of another line reaching it) is made with them, as constants; the tasks that
  clauses of other lines name are indexed;
- `edges__P__A(...)`: the other tasks' edges, as (id, clause) pairs.

Each function covers the usual case and returns None on anything else (a
problem to report, a value to coerce that is not plain): the shared planner,
the reference, then does that item or line step by step, so rejections are
its own, word for word. om_dsl.planning.compiled drives these functions.
"""

from __future__ import annotations

import re

from om_dsl.codegen.emit import _ident, comment_text
from om_dsl.codegen.plan_edges import PlanEdges
from om_dsl.codegen.pyexpr import Constants, PyExpr
from om_dsl.model import expr as E
from om_dsl.model.catalog import ids
from om_dsl.model.plans import static_when

# The interface between this module and om_dsl.planning.compiled: a compiled
# catalog whose planner.py says another number is planned by the shared planner.
PLANNER_ABI = 4

# om_dsl.planning.order.FulfillmentLine's fields, in order: generated code makes lines
# positionally (tests/test_compiled_intake.py checks the order; a change is a new PLANNER_ABI).
LINE_FIELDS = ("id", "product", "action", "values", "source_item", "bundle", "rule", "relationship", "condition", "unit", "source_line", "key", "source_asset", "previous", "changes", "why")

# om_dsl.planning.order.OrderItem's fields, in order: generated code makes added items positionally
# (tests/test_compiled_intake.py checks the order; a change is a new PLANNER_ABI).
ITEM_FIELDS = ("id", "product", "action", "values", "path", "_parent", "children", "asset_id", "enriched", "implicit", "unit", "relies_on", "request")

# Python types whose values a characteristic may give as they are (others go through `coerced`).
_PLAIN = {"int": "int", "bool": "bool", "string": "str"}


def _tuple(codes) -> str:
    codes = list(codes)
    return f"({codes[0]},)" if len(codes) == 1 else "(" + ", ".join(codes) + ")"


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
        self.fixed = PlanEdges(self.cat)  # what the catalog fixes about its plans' edges

    def crossing(self) -> tuple:
        """PlanEdges.crossing: what edges between lines reach, over the whole catalog."""
        return self.fixed.crossing()

    @property
    def _crossing(self) -> tuple:
        return self.fixed.crossing()

    @_crossing.setter
    def _crossing(self, crossing: tuple) -> None:
        """The whole catalog's crossing, given when the plans of a part are generated alone
        (codegen.emit.planner_plan_segments, for the compile cache's splices)."""
        self.fixed._crossing = crossing

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
        """`item__P(raw, path, parent, depth, items, into)`: the whole intake of an added item of P
        and its subtree (om_dsl.planning.compiled_intake drives it): the item (or, for a
        `quantity` of N of a product without children, its N units) added to `items` and
        `into` (its parent's children, or the order's roots), and how many; or None: the
        reference reads the order."""
        name = _ident("item", product.code)
        w = _Writer()
        w(_marker(self.g, ids.product(product.code)))
        w("# a plainly added item, or None (om_dsl.planning.compiled_intake.plain, written out)")
        w("item_id = raw.get('id')")
        w("if type(item_id) is not str or not (item_id.isprintable() and 0 < len(item_id) <= _MAX_ID or _plain_id(item_id)):  # (limits.plain_id)")
        w("    return None")
        w("if raw.get('action', 'add') != 'add' or 'productOrderItemRelationship' in raw:")
        w("    return None")
        w("q = raw.get('quantity', 1)")
        w(f"if type(q) is not int or q {'< 1' if not product.children else '!= 1'}:")
        w(f"    return None{'' if not product.children else '  # (the units of a subtree: the reference copies it)'}")
        w("product = raw.get('product')")
        w("if product is None:")
        w("    chars = _NO_CHARS")
        w("elif type(product) is not dict or product.get('id') is not None:")
        w("    return None")
        w("else:")
        w("    chars = product.get('productCharacteristic', _NO_CHARS)")
        w("    if chars is not _NO_CHARS and type(chars) is not list:")
        w("        return None")
        w(f"values = {attributes}(chars)")
        w("if values is None:")
        w("    return None")
        children = product.children
        request = "raw.copy() if _KEEPS_ALL(raw) else _kept(raw, 'item')"
        if not children:
            w("kids = raw.get('productOrderItem')")
            w("if kids is not None and (kids != [] or depth >= _MAX_DEPTH):")
            w(f"    return None  # {product.code} takes no children")
            w("if q != 1:")
            w(f"    return _units(item_id, {product.code!r}, values, path, parent, {request}, q, items, into)")
        w("item = _OrderItem(  # compiled_intake.added, written out: its fields in their order")
        fields = {"id": "item_id", "product": repr(product.code), "action": "'add'", "values": "values", "path": "path", "_parent": "parent", "children": "[]", "asset_id": "None",
                  "enriched": "[]", "implicit": "False", "unit": "None", "relies_on": "[]", "request": request}
        w("    " + ", ".join(fields[k] for k in ITEM_FIELDS) + ",")
        w(")")
        w("items.append(item)")
        w("into.append(item)")
        if not children:
            w("return 1")
            self.functions.append(f"def {name}(raw, path, parent, depth, items, into):\n{w.text()}")
            return name
        w("kids = raw.get('productOrderItem')")
        w("if kids is not None:")
        w.depth += 1
        w("if type(kids) is not list or depth >= _MAX_DEPTH:")
        w("    return None")
        w(" = ".join(f"n_{c.product}" for c in children) + " = 0")
        w("for k, kid in enumerate(kids):")
        w.depth += 1
        w("offering = kid.get('productOffering') if type(kid) is dict else None  # compiled_intake.code_of, written out")
        w("code = offering.get('id') if type(offering) is dict else None")
        for n, c in enumerate(children):
            w(f"{'if' if n == 0 else 'elif'} code == {c.product!r}:")
            w(f"    made = {_ident('item', c.product)}(kid, f'{{path}}/productOrderItem/{{k}}', item, depth + 1, items, item.children)")
            w("    if made is None:")
            w("        return None")
            w(f"    n_{c.product} += made  # (units, for a quantity)")
        w("else:")
        w(f"    return None  # not a child of {product.code}: the reference says where it belongs")
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
        w("return 1")
        self.functions.append(f"def {name}(raw, path, parent, depth, items, into):\n{w.text()}")
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
        named, _, every, _ = self.fixed.crossing()
        closed = self.fixed.closed(plan)
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
                w("    return False")
            else:
                w(_marker(g, ids.task(plan.product, plan.action, task)))
                w(f"when_{task} = {code}")
        w("items = x.items")
        if decided:
            w("skipped = x.skipped")
        for d in plan.items:
            w(_marker(g, ids.task(plan.product, plan.action, d.name)))
            tid = f"t_{d.name}"
            w(f"{tid} = lid + {':' + d.name!r}")
            args = [tid, repr(d.name), repr(d.kind), repr(plan.product), repr(plan.action), "lid", "bundle", f"defs[{d.name!r}]"]
            deps = closed.get(d.name)
            if deps:  # fixed by the catalog: its final dependencies
                vias = {via for _, via in deps}
                args.append("[" + ", ".join(f"lid + {':' + task!r}" for task, _ in deps) + "]")
                args.append(repr(next(iter(vias))) if len(vias) == 1 else _tuple(repr(via) for _, via in deps))
            else:
                args.append("[]")  # (given: attrs would call its factory)
            if d.when is not None and d.name not in decided:
                args.append(f"condition={E.render(d.when)!r}")
            item = f"items[{tid}] = _Item({', '.join(args)})"
            if d.name in decided:
                w(f"if when_{d.name}:")
                w(f"    {item}")
                w("else:")
                w(f"    skipped[{tid}] = _Skipped({tid}, lid, {('when ' + E.render(d.when) + ' is false')!r})")
            else:
                w(item)
        indexed = [d.name for d in plan.items if (plan.product, d.name) in named]
        if indexed:
            w("# the tasks a clause of another line names, by scope")
            w("index = x.index")
            for task in indexed:
                w(f"index[{(plan.product, task)!r}].append(t_{task})")
            w("if bundle is not None:")
            for task in indexed:
                w(f"    index[(bundle, {plan.product!r}, {task!r})].append(t_{task})")
        if not plan.items:
            w("return True")
            self.functions.append(f"def {name}(x, a, o, prev, lid, bundle, defs):\n{w.text()}")
            return name
        w(f"ids = {_tuple(f't_{d.name}' for d in plan.items)}  # (the edges function takes them)")
        if every:  # a clause `every task in ...` reads them
            w(f"tasks = ({plan.product!r}, ids)")
            if "order" in every:
                w("x.every_order.append(tasks)")
            if "bundle" in every:
                w("if bundle is not None:")
                w("    x.every_bundle[bundle].append(tasks)")
        w("return ids")
        self.functions.append(f"def {name}(x, a, o, prev, lid, bundle, defs):\n{w.text()}")
        return name

    def edges(self, plan) -> str | None:
        """The edges of the tasks `closed` does not fix, made as the shared planner makes
        them (om_dsl.planning.tasks: `resolve`), into x.edges; None when there are none."""
        g = self.g
        name = _ident("edges", plan.product, plan.action)
        names = {d.name for d in plan.items}
        closed = self.fixed.closed(plan)
        settled = self.fixed.settled(plan)
        w = _Writer()
        w("e = x.edges")
        for d in plan.items:
            mine = d.name not in closed
            after = [(dep, f"after {dep.describe()}") for dep in d.after] + list(self.fixed.reads(d))
            before = [(dep, f"{d.name} before {dep.describe()}") for dep in d.before]
            body = _Writer()
            body.depth = w.depth
            if mine and d.name in settled:  # its waits within the plan decided by which tasks are skipped
                self.settled_edges(body, plan, d, after, settled[d.name], names)
            else:
                self.clause_edges(body, plan, d, after if mine else (), names)
            for dep, via in before:
                if dep.scope == "plan":
                    if dep.task in names and dep.task != d.name and dep.task not in closed:
                        body(f"e[t_{dep.task}].setdefault(me, {via!r})")
                    continue
                body(f"for t in {self.targets(plan, dep)}:")
                body("    if t != me:")
                body(f"        e[t].setdefault(me, {via!r})")
            if body.lines:
                w(_marker(g, ids.task(plan.product, plan.action, d.name)))
                w(f"me = t_{d.name}")
                w.lines += body.lines
        if len(w.lines) == 1:
            return None
        w.lines.insert(0, "    " + " = ".join([", ".join(f"t_{d.name}" for d in plan.items) + ("," if len(plan.items) == 1 else ""), "ids  # the line's tasks' ids, by name"]))
        self.functions.append(f"def {name}(x, lid, bundle, ids):\n{w.text()}")
        return name

    def settled_edges(self, body: _Writer, plan, d, after: list, settled: tuple, names: set) -> None:
        """A settled task's edges: with items that rely on others, clause by clause as any
        task's; else its clauses into other lines so, and its waits within the plan from
        the table of its case (the ids of its line by position: no clause names them twice)."""
        reach, table = settled
        body("if x.relying:")
        body.depth += 1
        self.clause_edges(body, plan, d, after, names)
        body.depth -= 1
        body("else:")
        body.depth += 1
        cross = [(dep, via) for dep, via in after if dep.scope != "plan"]
        self.clause_edges(body, plan, d, cross, names)
        if not cross:
            body("mine = e[me]")
        flags = ", ".join(f"t_{t} in skipped" for t in reach) + ("," if len(reach) == 1 else "")
        body("skipped = x.skipped")
        body(f"for n, via in {self.k.add('SETTLED_', repr(table))}[{flags}]:  # (the skipped ones' waits passed on as the walk would)")
        body("    mine[ids[n]] = via")
        body.depth -= 1

    def clause_edges(self, body: _Writer, plan, d, after, names: set) -> None:
        """The edges a task's `after`s (and reads) give it, into `mine` (e[me]), the first clause naming a task kept."""
        first = True  # its first clause, in this function: its edges may not be made yet (e.get)
        for dep, via in after:
            if dep.scope == "plan":
                if dep.task in names and dep.task != d.name:
                    if first:
                        body("mine = e.get(me)")
                        body("if mine is None:")
                        body(f"    e[me] = mine = {{t_{dep.task}: {via!r}}}")
                        body("else:")
                        body(f"    mine.setdefault(t_{dep.task}, {via!r})")
                    else:
                        body(f"mine.setdefault(t_{dep.task}, {via!r})")
                    first = False
                continue
            targets = self.targets(plan, dep)
            if dep.task is None or (dep.product, dep.task) != (plan.product, d.name):  # me is not among the targets
                body("mine = e.get(me)" if first else "if not mine:")
                if first:
                    body("if mine is None:  # the first clause: every target is new")
                    body(f"    e[me] = mine = dict.fromkeys({targets}, {via!r})")
                else:
                    body(f"    mine.update(dict.fromkeys({targets}, {via!r}))")
                body("else:")
                body(f"    for t in {targets}:")
                body("        if t not in mine:")
                body(f"            mine[t] = {via!r}")
                first = False
                continue
            if first:
                body("mine = e[me]")
                first = False
            body(f"for t in {targets}:")
            body("    if t != me and t not in mine:")
            body(f"        mine[t] = {via!r}")

    def targets(self, plan, dep) -> str:
        """The ids (kept or skipped) a clause `in bundle` / `in order` of a line of the plan points at."""
        if dep.task is None:  # every task of the other products' lines
            if dep.scope == "order" and None not in self.fixed.passes_to() and plan.product not in self.fixed.passes_to():
                return f"x.every_other(_ORDER, {plan.product!r}, True)"  # (the skipped ones can pass it nothing: left out)
            return f"x.every_other({'bundle' if dep.scope == 'bundle' else '_ORDER'}, {plan.product!r})"
        if dep.scope == "bundle":
            return f"x.index.get((bundle, {dep.product!r}, {dep.task!r}), ())"
        return f"x.index.get({(dep.product, dep.task)!r}, ())"

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
