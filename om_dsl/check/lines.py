"""Reads across fulfillment lines: `SIM_RFS.allocate_sim.iccid in bundle`.

A plan's task may read another line's task output or attribute. Two facts
about the catalog decide whether such a read means one value:

- how many lines of the read product a bundle (or an order) can hold, from
  the decomposition rules and the `has` cardinalities: one at most is a
  value, several is a list that the spec must aggregate (`first`, `count`,
  `any`, `all`, `sum`) or the read is ambiguous;
- whether the read task is upstream of the reader, through the `after` and
  `before` clauses of every plan (the planner adds the edge at run time too,
  so a value is never read before it exists).
"""

from __future__ import annotations

from om_dsl.check.scope import CatalogScope
from om_dsl.syntax import ast

MANY = 2  # multiplicities are counted up to "more than one"


def _cap(n: int) -> int:
    return min(n, MANY)


class LineFacts:
    """What the checker knows of a catalog's lines and tasks, built once."""

    def __init__(self, scope: CatalogScope):
        self.scope = scope
        self._bundles: dict[str, dict[str, int]] | None = None
        self._preds: dict | None = None

    # ---- how many lines of a product a bundle or an order holds --------------------

    def bundles(self) -> dict[str, dict[str, int]]:
        """Root product -> {product: how many of it one bundle of that root holds (0, 1, MANY)}."""
        if self._bundles is None:
            self._bundles = {code: self._bundle(code) for code, p in self.scope.commercial.items() if p.role == "root"}
        return self._bundles

    def _bundle(self, root: str) -> dict[str, int]:
        counts = {root: 1}
        frontier = [root]
        # Items first, through `has` (bounded depth: cycles are reported elsewhere).
        for _ in range(len(self.scope.commercial) + 1):
            nxt = []
            for code in frontier:
                product = self.scope.commercial.get(code)
                for h in product.children if product else ():
                    child = h.product.value
                    most = MANY if h.max is None else h.max
                    counts[child] = _cap(counts.get(child, 0) + counts[code] * most)
                    nxt.append(child)
            frontier = nxt
            if not frontier:
                break
        # Then lines, through the decomposition rules (technical chains
        # included, to a fixed point); several rules may make one product.
        lines: dict[str, int] = {}
        for _ in range(len(self.scope.decompositions) + 1):
            made: dict[str, int] = {}
            for rule in self.scope.decompositions.values():
                if rule.source is None:
                    continue  # order scope: such lines belong to no bundle
                source = rule.source.value
                n = counts.get(source, 0) if source in self.scope.commercial else lines.get(source, 0)
                if n:
                    target = rule.target.value
                    made[target] = _cap(made.get(target, 0) + n * (MANY if rule.per is not None else 1))
            if made == lines:
                break
            lines = made
        return lines

    def in_bundle(self, reader: str, product: str) -> int:
        """The most lines of `product` the bundle of a `reader` line can hold."""
        found = [counts.get(product, 0) for counts in self.bundles().values() if counts.get(reader, 0)]
        return max(found) if found else 0

    def in_order(self, product: str) -> int:
        """Lines of `product` in one order: several root items may make them, unless
        only one order-scoped rule (without `per`) does."""
        rules = [r for r in self.scope.decompositions.values() if r.target.value == product]
        if not rules:
            return 0
        if len(rules) == 1 and rules[0].source is None and rules[0].per is None:
            return 1
        return MANY

    # ---- upstream, across plans ----------------------------------------------------------

    def _predecessors(self) -> dict:
        """(product, action, task) -> [(predecessor node, scope of the edge)]."""
        if self._preds is not None:
            return self._preds
        nodes: dict[str, list] = {}
        for (code, action), plan in self.scope.plans.items():
            for item in plan.items:
                nodes.setdefault(code, []).append((code, action, item.name.value))
        preds: dict = {}

        def edge(src, dst, scope):
            preds.setdefault(dst, []).append((src, scope))

        for (code, action), plan in self.scope.plans.items():
            for item in plan.items:
                me = (code, action, item.name.value)
                for dep, after in [(d, True) for d in item.after] + [(d, False) for d in item.before]:
                    if dep.task is None:
                        targets = [n for c, ns in nodes.items() if c != code for n in ns]
                    elif dep.product is None:
                        targets = [(code, action, dep.task.value)]
                    else:
                        targets = [n for n in nodes.get(dep.product.value, []) if n[2] == dep.task.value]
                    for target in targets:
                        edge(target, me, dep.scope) if after else edge(me, target, dep.scope)
        self._preds = preds
        return preds

    def upstream(self, reader: tuple[str, str, str], product: str, task: str, scope: str) -> bool:
        """Is every `product.task` (of any of its plans) upstream of `reader`? For
        a read `in order`, the edge out of the read task must wait for the
        whole order (`in order`): a bundle's edge says nothing of other bundles."""
        targets = [(c, a, i.name.value) for (c, a), plan in self.scope.plans.items() if c == product for i in plan.items if i.name.value == task]
        if not targets:
            return False
        preds = self._predecessors()
        reached: dict = {}  # node -> the scopes of the edges it was reached through
        todo = [reader]
        seen = {reader}
        while todo:
            node = todo.pop()
            for src, edge_scope in preds.get(node, ()):
                reached.setdefault(src, set()).add(edge_scope)
                if src not in seen:
                    seen.add(src)
                    todo.append(src)
        for target in targets:
            scopes = reached.get(target)
            if not scopes:
                return False
            if scope == "order" and "order" not in scopes:
                return False
        return True

    def setters(self, product: str, attribute: str, action: str) -> list[str]:
        """The tasks of `product`'s plan for `action` that set this attribute of its
        line. (Those of its other plans run in other orders, or, in a modify order
        that adds the line, the planner makes the reader wait for them.)"""
        out = []
        for (code, plan_action), plan in self.scope.plans.items():
            if code == product and plan_action == action:
                out.extend(i.name.value for i in plan.items if any(s.attribute.value == attribute for s in i.sets) and i.name.value not in out)
        return sorted(out)

    def task(self, product: str, name: str) -> ast.PlanItem | None:
        for (code, _action), plan in sorted(self.scope.plans.items()):
            if code == product:
                for item in plan.items:
                    if item.name.value == name:
                        return item
        return None

    def tasks_of(self, product: str) -> list[str]:
        return sorted({i.name.value for (c, _a), p in self.scope.plans.items() if c == product for i in p.items})


# ---- the check of one read ----------------------------------------------------------------

AGGREGATES = ("first", "count", "any", "all", "sum")  # functions that take a read of several lines


def _chain(expr) -> list | None:
    """`A.b.c` as [Name-like (value, span), ...]; None when it is not a chain of names."""
    if isinstance(expr, ast.Ref):
        return [(expr.name, expr.span)]
    if isinstance(expr, ast.Member):
        head = _chain(expr.obj)
        return None if head is None else head + [(expr.name.value, expr.name.span)]
    return None


def check_line_read(checker, expr: ast.LineRead, ctx, many: bool):
    """The type of `PRODUCT.task.output in SCOPE` or `PRODUCT.attribute in SCOPE`
    (a list of it when `many`: the argument of an aggregate), and its diagnostics."""
    from om_dsl.check import types as T
    from om_dsl.check.expressions import task_outputs
    from om_dsl.check.suggest import did_you_mean, unknown_product
    from om_dsl.diagnostics.diagnostic import error

    scope, facts, report = checker.scope, checker.lines, checker.diagnostics.append
    where = expr.scope
    if ctx.tasks is None or ctx.reader is None or ctx.action is None:
        report(
            error(
                "E521",
                "another line is read only by the tasks of a plan",
                expr.span,
                f"not available in {ctx.where}",
                help="read it in a task: its arguments, `when`, `sets` or `compensate`",
            )
        )
        return T.UNKNOWN
    chain = _chain(expr.target)
    if chain is None or len(chain) not in (2, 3):
        report(
            error(
                "E521",
                f"`... in {where}` reads another line: `PRODUCT.task.output in {where}` or `PRODUCT.attribute in {where}`",
                expr.target.span,
                "not a technical product's task output or attribute",
                help="to test whether a value is in a set, write the set: `x in {\"a\", \"b\"}`",
            )
        )
        return T.UNKNOWN
    (code, code_span), *rest = chain
    if code in scope.commercial:
        report(error("E521", f"`{code}` is a commercial product: only fulfillment lines (technical products) are read", code_span, "a commercial product", help="read a technical product it decomposes into"))
        return T.UNKNOWN
    if code not in scope.technical:
        report(unknown_product(code, code_span, scope.technical, "no technical product of that code"))
        return T.UNKNOWN
    reader = (ctx.product, ctx.action, ctx.reader)
    if len(rest) == 2:
        (task, task_span), (name, name_span) = rest
        item = facts.task(code, task)
        if item is None:
            tasks = facts.tasks_of(code)
            known = f"the tasks of `{code}` are {', '.join(f'`{t}`' for t in tasks)}" if tasks else f"`{code}` has no plan yet"
            report(error("E107", f"no plan of `{code}` defines a task `{task}`", task_span, "unknown task", help=did_you_mean(task, tasks) or known))
            return T.UNKNOWN
        outputs = task_outputs(scope, item)
        if outputs is None:
            return T.UNKNOWN
        if name not in outputs:
            declared = ", ".join(f"`{o}`" for o in sorted(outputs)) or "no outputs"
            report(error("E504", f"task `{code}.{task}` has no output `{name}`", name_span, "not an output of this task", secondary=[(item.name.span, f"`{task}` declares {declared}")], help=did_you_mean(name, outputs)))
            return T.UNKNOWN
        value, needed = outputs[name], [task]
    else:
        (name, name_span), = rest
        attributes = {a.name.value: T.named(a.type.value) for a in scope.technical[code].attributes}
        if name not in attributes:
            hint = f"a task output is read as `{code}.TASK.{name} in {where}`" if facts.tasks_of(code) else ""
            report(error("E102", f"unknown attribute `{name}` of `{code}`", name_span, f"not an attribute of `{code}`", help=did_you_mean(name, attributes) or hint))
            return T.UNKNOWN
        value, needed = attributes[name], facts.setters(code, name, ctx.action)
    for task in needed:
        if not facts.upstream(reader, code, task, where):
            report(
                error(
                    "E523",
                    f"`{code}.{task}` is not guaranteed to have completed when `{ctx.reader}` reads " + (f"its output `{name}`" if len(rest) == 2 else f"the `{name}` it sets"),
                    expr.span,
                    f"`{code}.{task}` is not upstream of `{ctx.reader}`",
                    help=f"add `after {code}.{task} in {where}` to `{ctx.reader}`" + (" (a read in order waits for the whole order)" if where == "order" else ""),
                )
            )
    lines = facts.in_bundle(ctx.product, code) if where == "bundle" else facts.in_order(code)
    if lines == 0:
        report(
            error(
                "E521",
                f"no `{code}` line is ever in the {where} of a `{ctx.product}` line",
                expr.span,
                "this read is always null",
                help="a bundle holds the lines decomposed from one root order item and its children; read it `in order` if it comes from elsewhere" if where == "bundle" else f"no decomposition rule makes `{code}`",
            )
        )
    elif lines >= MANY and not many:
        report(
            error(
                "E522",
                f"ambiguous read: the {where} of a `{ctx.product}` line can hold several `{code}` lines",
                expr.span,
                "which one?",
                help=f"aggregate their values: `first({'.'.join(n for n, _ in chain)} in {where})`, or `count(...)`, `any(...)`, `all(...)`, `sum(...)`",
                notes=[
                    f"one root order item's bundle holds one `{code}` line at most, unless a `per` or a `has` whose maximum is above 1 multiplies it"
                    if where == "bundle"
                    else "an order may hold several root items: only an order-scoped rule without `per` makes one line per order"
                ],
            )
        )
    return T.ListOf(value) if many else value

