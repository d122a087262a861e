"""Orchestration plans: items, arguments, dependencies and their cycles."""

from __future__ import annotations

import re

import attrs

from om_dsl.check import types as T
from om_dsl.check.expressions import ExprChecker, ExprContext, attribute_type
from om_dsl.check.graphs import find_cycles
from om_dsl.check.scope import CatalogScope
from om_dsl.check.suggest import did_you_mean, unknown_product
from om_dsl.check.systems import check_params, check_positive, check_retry, find_operation
from om_dsl.diagnostics.diagnostic import Diagnostic, error
from om_dsl.syntax import ast

_IMPORT_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$")


@attrs.define
class Usage:
    """What the plans use, for the unused-definition warnings."""

    operations: set[tuple[str, str]] = attrs.field(factory=set)
    queues: set[str] = attrs.field(factory=set)
    policies: set[str] = attrs.field(factory=set)


def check_plans(scope: CatalogScope, exprs: ExprChecker, diagnostics: list[Diagnostic], usage: Usage) -> None:
    tasks_by_product: dict[str, set[str]] = {}
    for (code, _action), plan in scope.plans.items():
        tasks_by_product.setdefault(code, set()).update(i.name.value for i in plan.items)
    for plan in scope.plans.values():
        _check_plan(scope, plan, exprs, diagnostics, usage, tasks_by_product)
    _check_cycles(scope, diagnostics)


def _line_context(scope: CatalogScope, plan: ast.Plan, items: dict[str, ast.PlanItem]) -> ExprContext:
    product = scope.technical[plan.product.value]
    return ExprContext(
        where="a plan",
        product=plan.product.value,
        attributes={a.name.value: attribute_type(a) for a in product.attributes},
        tasks=items,
        allow_changed=plan.action.value == "modify",
        action=plan.action.value,
    )


def _ancestors(items: dict[str, ast.PlanItem]) -> dict[str, set[str]]:
    """For every item, the items of its plan that complete before it starts."""
    preds: dict[str, set[str]] = {name: set() for name in items}
    for name, item in items.items():
        for dep in item.after:
            if dep.product is None and dep.task is not None and dep.task.value in items:
                preds[name].add(dep.task.value)
        for dep in item.before:
            if dep.product is None and dep.task is not None and dep.task.value in items:
                preds[dep.task.value].add(name)
    out: dict[str, set[str]] = {}
    for name in items:
        seen: set[str] = set()
        todo = list(preds[name])
        while todo:
            n = todo.pop()
            if n not in seen:
                seen.add(n)
                todo.extend(preds[n])
        seen.discard(name)
        out[name] = seen
    return out


def _check_plan(scope, plan: ast.Plan, exprs: ExprChecker, diagnostics, usage: Usage, tasks_by_product) -> None:
    code = plan.product.value
    if code not in scope.technical:
        if code in scope.commercial:
            diagnostics.append(
                error("E506", f"`{code}` is a commercial product; plans are for technical products", plan.product.span, "a commercial product", help="decompose it into technical products and give those a plan")
            )
        else:
            diagnostics.append(unknown_product(code, plan.product.span, scope.technical))
        return
    items: dict[str, ast.PlanItem] = {}
    for item in plan.items:
        name = item.name.value
        if name in items:
            diagnostics.append(
                error("E120", f"the task `{name}` is defined twice in plan `{code} on {plan.action.value}`", item.name.span, "defined again here", secondary=[(items[name].name.span, "first defined here")])
            )
            continue
        items[name] = item
    base = _line_context(scope, plan, items)
    if plan.when is not None:
        ctx = attrs.evolve(base, where="the `when` of a plan", tasks=None)
        exprs.expect_bool(plan.when, ctx, "the `when` of a plan")
    ancestors = _ancestors(items)
    line_attributes = {a.name.value: a for a in scope.technical[code].attributes}
    for name, item in items.items():
        before = attrs.evolve(base, where=f"task `{name}`", reader=name, completed=ancestors[name])
        after = attrs.evolve(before, completed=ancestors[name] | {name})
        _check_item(scope, plan, item, items, before, after, exprs, diagnostics, usage, tasks_by_product, line_attributes)


def _check_item(scope, plan, item: ast.PlanItem, items, before: ExprContext, after: ExprContext, exprs, diagnostics, usage, tasks_by_product, line_attributes) -> None:
    if item.kind == "callout":
        check_call(scope, item.call, before, exprs, diagnostics, usage)
    elif item.kind == "auto":
        check_python_call(item.python, before, exprs, diagnostics)
        check_params(item.outputs, "output", diagnostics)
    elif item.kind == "manual":
        queue = item.queue.value
        if queue in scope.queues:
            usage.queues.add(queue)
        else:
            diagnostics.append(error("E106", f"unknown queue `{queue}`", item.queue.span, "no queue of that name", help=did_you_mean(queue, scope.queues) or f"define it with `queue {queue} \"...\"`"))
    elif item.kind == "wait":
        if item.wait_until is not None:
            exprs.expect(item.wait_until, T.DATE, before, "the date a wait waits until")
        elif item.wait_for is not None and item.wait_for.value <= 0:
            diagnostics.append(error("E509", f"the duration {item.wait_for.text} is zero", item.wait_for.span, "must be longer than zero"))
    if item.when is not None:
        exprs.expect_bool(item.when, before, f"the `when` of `{item.name.value}`")
    for sets in item.sets:
        target = line_attributes.get(sets.attribute.value)
        if target is None:
            diagnostics.append(
                error(
                    "E102",
                    f"unknown attribute `{sets.attribute.value}` of `{plan.product.value}`",
                    sets.attribute.span,
                    "not an attribute of the line",
                    help=did_you_mean(sets.attribute.value, line_attributes) or f"declare `attr {sets.attribute.value}: ... optional` in `{plan.product.value}`",
                )
            )
            exprs.infer(sets.expr, after)
            continue
        exprs.expect(sets.expr, attribute_type(target), after, f"`{plan.product.value}.{sets.attribute.value}`")
    if item.compensate is not None:
        if isinstance(item.compensate, ast.OperationCall):
            check_call(scope, item.compensate, after, exprs, diagnostics, usage)
        else:
            check_python_call(item.compensate, after, exprs, diagnostics)
    if item.fallout is not None:
        _check_fallout(scope, item, diagnostics, usage)
    if item.retry is not None:
        if item.kind not in ("callout", "auto"):
            diagnostics.append(error("E510", f"a {_kind_words(item.kind)} is never retried", item.retry.span, f"`retry` on a {_kind_words(item.kind)}", help="`retry` applies to callouts and auto tasks"))
        check_retry(item.retry, scope, diagnostics, usage.policies)
    check_positive(item.timeout, diagnostics)
    check_positive(item.due, diagnostics)
    if item.timeout is not None and item.kind not in ("callout", "auto"):
        diagnostics.append(error("E510", f"a {_kind_words(item.kind)} has no timeout", item.timeout.span, f"`timeout` on a {_kind_words(item.kind)}", help="use `due` for the time a task is expected to take"))
    if item.on_amend is not None:
        _check_amend(item, diagnostics)
    for dep in item.after + item.before:
        _check_dependency(scope, plan, item, dep, items, tasks_by_product, diagnostics)


def _check_amend(item: ast.PlanItem, diagnostics) -> None:
    """`on amend`: only calls are done again by a revision, and undoing needs a compensation."""
    strategy = item.on_amend
    if item.kind not in ("callout", "auto"):
        diagnostics.append(
            error(
                "E510",
                f"a {_kind_words(item.kind)} is never done again by a revision",
                strategy.span,
                f"`on amend` on a {_kind_words(item.kind)}",
                help="`on amend` applies to callouts and auto tasks; a revision keeps a completed " + _kind_words(item.kind) + " as it is",
            )
        )
    elif strategy.kind == "undo_redo" and item.compensate is None:
        diagnostics.append(
            error(
                "E534",
                f"`{item.name.value}` is to be undone before it is done again, and has no compensation",
                strategy.span,
                "`on amend undo_redo` needs a `compensate` clause",
                help="say how to undo it (`compensate system.operation(...)`), or choose `on amend redo` (done again without undoing)",
            )
        )


def _check_fallout(scope, item: ast.PlanItem, diagnostics, usage: Usage) -> None:
    queue = item.fallout.value
    if item.kind not in ("callout", "auto"):
        diagnostics.append(
            error("E510", f"a {_kind_words(item.kind)} never fails", item.fallout.span, f"`fallout` on a {_kind_words(item.kind)}", help="`fallout` applies to callouts and auto tasks: what fails there goes to people")
        )
    if queue in scope.queues:
        usage.queues.add(queue)
    else:
        diagnostics.append(error("E106", f"unknown queue `{queue}`", item.fallout.span, "no queue of that name", help=did_you_mean(queue, scope.queues) or f"define it with `queue {queue} \"...\"`"))


def _check_dependency(scope, plan, item, dep: ast.Dependency, items, tasks_by_product, diagnostics) -> None:
    if dep.task is None:
        return  # every task in scope
    name = dep.task.value
    if dep.product is None:
        if name == item.name.value:
            diagnostics.append(error("E501", f"`{name}` depends on itself", dep.span, "a task cannot wait for itself"))
        elif name not in items:
            known = sorted(items)
            diagnostics.append(
                error(
                    "E107",
                    f"no task `{name}` in plan `{plan.product.value} on {plan.action.value}`",
                    dep.task.span,
                    "unknown task",
                    help=_glued_keyword(scope, dep) or did_you_mean(name, known) or "a task of another product is written `PRODUCT.task in bundle` (or `in order`)",
                )
            )
        return
    code = dep.product.value
    if code in scope.commercial:
        diagnostics.append(
            error("E506", f"`{code}` is a commercial product; only technical products have tasks", dep.product.span, "a commercial product", help="depend on a task of a technical product it decomposes into")
        )
        return
    if code not in scope.technical:
        diagnostics.append(unknown_product(code, dep.product.span, scope.technical, "no technical product of that code"))
        return
    tasks = tasks_by_product.get(code, set())
    if name not in tasks:
        diagnostics.append(
            error(
                "E107",
                f"no plan of `{code}` defines a task `{name}`",
                dep.task.span,
                "unknown task",
                help=did_you_mean(name, tasks) or (f"the tasks of `{code}` are {', '.join(f'`{t}`' for t in sorted(tasks))}" if tasks else f"`{code}` has no plan yet"),
            )
        )


def _glued_keyword(scope, dep: ast.Dependency) -> str:
    """A misspelt `after`/`before` the lexer split (`afterr` is `after r`): the hint, or ""."""
    text = next((f.text for f in scope.files if f.path == dep.span.file), None)
    start = dep.span.start
    if text is None or start <= 0 or start > len(text) or not (text[start - 1].isalnum() or text[start - 1] == "_"):
        return ""
    begin = start
    while begin > 0 and (text[begin - 1].isalnum() or text[begin - 1] == "_"):
        begin -= 1
    keyword = text[begin:start]
    return f"`{text[begin:dep.span.end]}` reads as `{keyword} {dep.task.value}`: did you mean `{keyword}`?" if keyword in ("after", "before") else ""


def check_call(scope, call: ast.OperationCall, ctx: ExprContext, exprs: ExprChecker, diagnostics, usage: Usage) -> None:
    op = find_operation(scope, call, diagnostics)
    if op is None:
        for arg in call.args:
            exprs.infer(arg.expr, ctx)
        return
    usage.operations.add((call.system.value, call.operation.value))
    inputs = {p.name.value: p for p in op.inputs}
    given: dict[str, ast.Arg] = {}
    for arg in call.args:
        name = arg.name.value
        if name in given:
            diagnostics.append(error("E503", f"the argument `{name}` is given twice", arg.name.span, "given again here", secondary=[(given[name].name.span, "first given here")]))
            continue
        given[name] = arg
        param = inputs.get(name)
        if param is None:
            diagnostics.append(
                error(
                    "E503",
                    f"`{call.system.value}.{call.operation.value}` has no input `{name}`",
                    arg.name.span,
                    "unknown argument",
                    secondary=[(op.name.span, "operation defined here")],
                    help=did_you_mean(name, inputs) or (f"its inputs are {', '.join(f'`{i}`' for i in inputs)}" if inputs else "it takes no inputs"),
                )
            )
            exprs.infer(arg.expr, ctx)
            continue
        exprs.expect(arg.expr, T.named(param.type.value), ctx, f"the input `{name}` of `{call.system.value}.{call.operation.value}`")
    missing = [p.name.value for p in op.inputs if p.name.value not in given]
    if missing:
        names = ", ".join(f"`{m}`" for m in missing)
        diagnostics.append(
            error(
                "E502",
                f"`{call.system.value}.{call.operation.value}` is missing the input{'s' if len(missing) > 1 else ''} {names}",
                call.span,
                f"{names} not given",
                secondary=[(op.name.span, "operation defined here")],
                help=f"add `{missing[0]} = ...` (or just `{missing[0]}` to pass the line attribute of that name)",
            )
        )


def check_python_call(call: ast.PythonCall, ctx: ExprContext, exprs: ExprChecker, diagnostics) -> None:
    target = str(call.target.value)
    if not _IMPORT_PATH.match(target):
        diagnostics.append(
            error(
                "E508",
                f'"{target}" is not a Python import path',
                call.target.span,
                "expected \"package.module:function\"",
                help='name the module and the function, for example "acme_tasks.numbers:to_e164"',
            )
        )
    given: dict[str, ast.Arg] = {}
    for arg in call.args:
        if arg.name.value in given:
            diagnostics.append(error("E503", f"the argument `{arg.name.value}` is given twice", arg.name.span, "given again here", secondary=[(given[arg.name.value].name.span, "first given here")]))
        given.setdefault(arg.name.value, arg)
        exprs.infer(arg.expr, ctx)


# ---- dependency cycles across plans ---------------------------------------------------


def _check_cycles(scope: CatalogScope, diagnostics: list[Diagnostic]) -> None:
    """Cycles among tasks of all plans, as if every plan ran in one order.

    Bundle- and order-scoped dependencies are both followed, so a cycle found
    here can happen in some order. `every task in ...` waits for the tasks of
    other products: the tasks of its own product are ordered by its plan.
    """
    nodes_of: dict[str, list[tuple[str, str, str]]] = {}
    for (code, action), plan in scope.plans.items():
        if code not in scope.technical:
            continue
        for item in plan.items:
            nodes_of.setdefault(code, []).append((code, action, item.name.value))
    edges: dict = {}

    def add(src, dst, dep) -> None:
        edges.setdefault(src, []).append((dst, dep))

    for (code, action), plan in scope.plans.items():
        if code not in scope.technical:
            continue
        names = {i.name.value for i in plan.items}
        for item in plan.items:
            me = (code, action, item.name.value)
            for dep, direction in [(d, "after") for d in item.after] + [(d, "before") for d in item.before]:
                if dep.task is None:
                    hub = ("*", f"every task in {dep.scope}", f"{code}.{item.name.value}")
                    others = [n for c, ns in nodes_of.items() if c != code for n in ns]
                    for other in others:
                        if direction == "after":
                            add(other, hub, dep)
                        else:
                            add(hub, other, dep)
                    add(hub, me, dep) if direction == "after" else add(me, hub, dep)
                    continue
                if dep.product is None:
                    targets = [(code, action, dep.task.value)] if dep.task.value in names and dep.task.value != item.name.value else []
                else:
                    targets = [n for n in nodes_of.get(dep.product.value, []) if n[2] == dep.task.value]
                for target in targets:
                    add(target, me, dep) if direction == "after" else add(me, target, dep)
    for cycle in find_cycles(edges):
        # `every task` hubs are not tasks: the path shows only the tasks.
        tasks = [src for src, _, _ in cycle if src[0] != "*"]
        path = " --> ".join(_node_name(n) for n in tasks + tasks[:1])
        closing = cycle[-1][2]
        diagnostics.append(
            error(
                "E501",
                f"dependency cycle: {path}",
                closing.span,
                "this dependency closes the cycle",
                secondary=list({dep.span: (dep.span, _edge_label(src, dst, dep)) for src, dst, dep in cycle[:-1] if dep.span != closing.span}.values()),
                help="every task in the cycle waits for another: remove one of these dependencies",
            )
        )


def _kind_words(kind: str) -> str:
    return {"manual": "manual task", "auto": "auto task", "wait": "wait"}.get(kind, kind)


def _edge_label(src, dst, dep) -> str:
    if dep.task is None:
        return f"waits for every task in {dep.scope}"
    return f"{_node_name(src)} --> {_node_name(dst)}"


def _node_name(node) -> str:
    if node[0] == "*":
        return f"({node[1]})"
    return f"{node[0]}.{node[2]}"
