"""Name resolution and type checking of expressions.

An expression is checked in a context (`ExprContext`) that says which
names it can see: the attributes of the item or line in scope, its parent
and children (commercial items), the order's fields, and, inside a plan,
the outputs of tasks that are guaranteed to have completed before it runs.
"""

from __future__ import annotations

import attrs

from om_dsl.check import types as T
from om_dsl.check.lines import AGGREGATES, LineFacts, check_line_read
from om_dsl.check.scope import CatalogScope
from om_dsl.check.suggest import did_you_mean, unknown_product
from om_dsl.diagnostics.diagnostic import Diagnostic, error, warning
from om_dsl.syntax import ast
from om_dsl.values import show_value

# Order-level fields an expression can read as `order.FIELD` (TMF622 productOrder).
ORDER_FIELDS = {
    "id": T.STRING,
    "external_id": T.STRING,
    "category": T.STRING,
    "priority": T.STRING,
    "customer_account": T.STRING,  # the related party whose role is `customer`
    "billing_account": T.STRING,  # TMF622 billingAccount.id of the order
    "requested_start_date": T.DATE,
    "requested_completion_date": T.DATE,
    "root_items": T.ListOf(T.ItemOf(())),
    "items": T.ListOf(T.ItemOf(())),
}


def attribute_type(attr: ast.Attribute):
    name = attr.type.value
    return T.named(name)


@attrs.define
class ExprContext:
    """What an expression can see, and who is asking (for messages)."""

    where: str  # "a decomposition mapping", "a plan item", ...
    product: str | None = None  # bare names are this product's attributes
    attributes: dict[str, object] = attrs.field(factory=dict)  # name -> type
    later_attributes: set[str] = attrs.field(factory=set)  # enrichment defined further down
    commercial_item: bool = False  # parent and children() available
    tasks: dict[str, ast.PlanItem] | None = None  # the plan's items, by name
    completed: set[str] = attrs.field(factory=set)  # tasks guaranteed done before the reader
    reader: str | None = None
    action: str | None = None  # the reader's plan's action (reads of other lines need it)
    allow_changed: bool = False
    # Why an enriched attribute is not readable yet (validation runs before enrichment).
    before_enrichment: bool = False


class ExprChecker:
    def __init__(self, scope: CatalogScope, diagnostics: list[Diagnostic]):
        self.scope = scope
        self.diagnostics = diagnostics
        self.used_tables: set[str] = set()
        self.lines = LineFacts(scope)

    # ---- entry points -----------------------------------------------------------

    def infer(self, expr, ctx: ExprContext):
        method = getattr(self, "_" + type(expr).__name__)
        return method(expr, ctx)

    def expect(self, expr, expected, ctx: ExprContext, what: str) -> object:
        """Check `expr` and that its type fits `expected`; return its type."""
        actual = self.infer(expr, ctx)
        if not T.assignable(actual, expected):
            self.mismatch(expr, expected, actual, what)
        return actual

    def expect_bool(self, expr, ctx: ExprContext, what: str) -> None:
        self.expect(expr, T.BOOL, ctx, what)

    def mismatch(self, expr, expected, actual, what: str) -> None:
        hint = ()
        if expected == T.BOOL and actual in (T.STRING, T.INT):
            hint = "compare it with a value, for example `x == \"...\"`"
        if expected == T.INT and actual == T.DECIMAL:
            hint = "use `round(x)` to turn a decimal into an int"
        if expected == T.STRING and actual in (T.INT, T.DECIMAL):
            hint = "write the value as a string, in quotes"
        self.diagnostics.append(
            error(
                "E301",
                f"mismatched types: {what} must be {T.describe(expected)}, found {T.describe(actual)}",
                expr.span,
                f"this is {T.describe(actual)}",
                help=hint,
            )
        )

    # ---- literals and names ---------------------------------------------------------

    def _Literal(self, expr: ast.Literal, ctx):
        if expr.kind == "date" and not T.is_calendar_date(str(expr.value)):
            self.diagnostics.append(error("E301", f"`{expr.value}` is not a calendar date", expr.span, "no such day", help="dates are written YYYY-MM-DD"))
            return T.UNKNOWN
        return T.literal_type(expr.kind)

    def _Ref(self, expr: ast.Ref, ctx: ExprContext):
        name = expr.name
        if name in ctx.attributes:
            return ctx.attributes[name]
        if ctx.tasks is not None and name in ctx.tasks:
            return T.TaskRef(name)
        if name == "parent" and ctx.commercial_item:
            parents = self.scope.parents_of(ctx.product)
            if not parents:
                self.diagnostics.append(
                    error("E305", f"`{ctx.product}` has no parent product", expr.span, "no product has it as a child", help=f"declare `has {ctx.product} [...]` in the product it belongs to")
                )
                return T.UNKNOWN
            return T.ItemOf(tuple(sorted(p.code.value for p in parents)))
        if name in ctx.later_attributes and ctx.before_enrichment:
            self.diagnostics.append(
                error(
                    "E102",
                    f"`{name}` is an enriched attribute, and validation runs before enrichment",
                    expr.span,
                    "not derived yet when the order item is validated",
                    help=f"validate the attributes `{name}` is derived from",
                )
            )
            return T.UNKNOWN
        if name in ctx.later_attributes:
            self.diagnostics.append(
                error("E102", f"the enriched attribute `{name}` is used before it is derived", expr.span, "derived further down", help="move this rule below the rule that derives it")
            )
            return T.UNKNOWN
        if name in self.scope.tables:
            self.diagnostics.append(error("E301", f"`{name}` is a table, not a value", expr.span, "a table", help=f"look a value up with `{name}[key]`"))
            return T.UNKNOWN
        candidates = list(ctx.attributes) + list(ctx.tasks or ())
        what = f"`{ctx.product}`" if ctx.product else "this scope"
        self.diagnostics.append(
            error(
                "E102",
                f"unknown attribute `{name}`",
                expr.span,
                f"not an attribute of {what}" if ctx.product else "nothing of that name is in scope here",
                help=did_you_mean(name, candidates) or (f"an order-level field is read as `order.{name}`" if name in ORDER_FIELDS else ""),
            )
        )
        return T.UNKNOWN

    def _OrderField(self, expr: ast.OrderField, ctx):
        name = expr.field.value
        if name in ORDER_FIELDS:
            return ORDER_FIELDS[name]
        self.diagnostics.append(
            error(
                "E111",
                f"unknown order field `{name}`",
                expr.field.span,
                "not a field of the order",
                help=did_you_mean(name, ORDER_FIELDS) or f"the order's fields are {', '.join(f'`{f}`' for f in sorted(ORDER_FIELDS))}",
            )
        )
        return T.UNKNOWN

    def _Member(self, expr: ast.Member, ctx: ExprContext):
        obj = self.infer(expr.obj, ctx)
        name = expr.name.value
        if obj == T.UNKNOWN:
            return T.UNKNOWN
        if isinstance(obj, T.TaskRef):
            return self._task_output(expr, obj.name, name, ctx)
        if isinstance(obj, T.ItemOf):
            return self._item_attribute(expr, obj, name)
        if isinstance(obj, T.ListOf) and isinstance(obj.elem, T.ItemOf):
            elem = self._item_attribute(expr, obj.elem, name)
            return T.UNKNOWN if elem == T.UNKNOWN else T.ListOf(elem)
        self.diagnostics.append(error("E301", f"{T.describe(obj)} has no field `{name}`", expr.name.span, "no such field", secondary=[(expr.obj.span, f"this is {T.describe(obj)}")]))
        return T.UNKNOWN

    def _item_attribute(self, expr: ast.Member, item: T.ItemOf, name: str):
        if not item.products:
            self.diagnostics.append(
                error("E301", f"cannot read `{name}` of an item whose product is not known here", expr.name.span, "the product of these items is not known", help="use `count(...)` on lists of order items")
            )
            return T.UNKNOWN
        found = None
        for code in item.products:
            product = self.scope.product(code)
            attrs_ = {a.name.value: attribute_type(a) for a in product.attributes}
            attrs_.update(enriched_types(self.scope, code))
            if name not in attrs_:
                self.diagnostics.append(
                    error("E102", f"unknown attribute `{name}` of `{code}`", expr.name.span, f"not an attribute of `{code}`", help=did_you_mean(name, attrs_))
                )
                return T.UNKNOWN
            found = attrs_[name]
        return found

    def _task_output(self, expr: ast.Member, task: str, output: str, ctx: ExprContext):
        item = ctx.tasks[task]
        outputs = task_outputs(self.scope, item)
        if outputs is None:
            return T.UNKNOWN  # the task's own operation is unknown: reported there
        if output not in outputs:
            declared = ", ".join(f"`{o}`" for o in sorted(outputs)) or "no outputs"
            self.diagnostics.append(
                error(
                    "E504",
                    f"task `{task}` has no output `{output}`",
                    expr.name.span,
                    "not an output of this task",
                    secondary=[(item.name.span, f"`{task}` declares {declared}")],
                    help=did_you_mean(output, outputs),
                )
            )
            return T.UNKNOWN
        if task not in ctx.completed and task == ctx.reader:
            self.diagnostics.append(
                error(
                    "E505",
                    f"`{task}.{output}` is read by `{task}` itself before it has run",
                    expr.span,
                    "not available until the task has completed",
                    help="a task's outputs can be read in its `sets` and `compensate` clauses, and by tasks that run after it",
                )
            )
        elif task not in ctx.completed:
            self.diagnostics.append(
                error(
                    "E505",
                    f"`{task}.{output}` is read by `{ctx.reader}`, but `{task}` is not guaranteed to have completed",
                    expr.span,
                    f"`{task}` is not upstream of `{ctx.reader}`",
                    secondary=[(item.name.span, f"`{task}` defined here")],
                    help=f"add `after {task}` to `{ctx.reader}`",
                )
            )
        return outputs[output]

    def _Lookup(self, expr: ast.Lookup, ctx: ExprContext):
        if not isinstance(expr.table, ast.Ref):
            self.diagnostics.append(error("E301", "only a table can be looked up with `[...]`", expr.table.span, "not a table name"))
            self.infer(expr.key, ctx)
            return T.UNKNOWN
        name = expr.table.name
        table = self.scope.tables.get(name)
        if table is None:
            self.diagnostics.append(
                error("E103", f"unknown table `{name}`", expr.table.span, "no table of that name", help=did_you_mean(name, self.scope.tables))
            )
            self.infer(expr.key, ctx)
            return T.UNKNOWN
        self.used_tables.add(name)
        self.expect(expr.key, T.named(table.key_type.value), ctx, f"the key of table `{name}`")
        self._check_table_coverage(expr, table, ctx)
        return T.named(table.value_type.value)

    def _check_table_coverage(self, expr: ast.Lookup, table: ast.Table, ctx: ExprContext) -> None:
        """Warn when the key is an attribute whose allowed values the table lacks."""
        if not isinstance(expr.key, ast.Ref) or ctx.product is None:
            return
        product = self.scope.product(ctx.product)
        attr = next((a for a in product.attributes if a.name.value == expr.key.name), None) if product else None
        if attr is None or not isinstance(attr.allowed, ast.AllowedSet):
            return
        keys = {e.key.value for e in table.entries}
        missing = [v for v in attr.allowed.values if v.value not in keys]
        if missing:
            shown = ", ".join(v.text for v in missing)
            self.diagnostics.append(
                warning(
                    "W002",
                    f"table `{table.name.value}` has no entry for {shown}",
                    expr.span,
                    f"`{expr.key.name}` can be {shown}, and the lookup then gives null",
                    secondary=[(table.name.span, "table defined here")],
                    help=f"add {'an entry' if len(missing) == 1 else 'entries'} for {shown} to `{table.name.value}`",
                )
            )

    # ---- operators -------------------------------------------------------------------

    def _Unary(self, expr: ast.Unary, ctx):
        if expr.op == "not":
            self.expect_bool(expr.operand, ctx, "the operand of `not`")
            return T.BOOL
        t = self.infer(expr.operand, ctx)
        if t not in (T.INT, T.DECIMAL, T.UNKNOWN, T.NULL):
            self.mismatch(expr.operand, "a number", t, "the operand of `-`")
            return T.UNKNOWN
        return t

    def _Binary(self, expr: ast.Binary, ctx):
        op = expr.op
        if op in ("and", "or"):
            self.expect_bool(expr.left, ctx, f"the left side of `{op}`")
            self.expect_bool(expr.right, ctx, f"the right side of `{op}`")
            return T.BOOL
        left = self.infer(expr.left, ctx)
        right = self.infer(expr.right, ctx)
        if T.UNKNOWN in (left, right):
            return T.BOOL if op in ("==", "!=", "<", "<=", ">", ">=") else T.UNKNOWN
        if op in ("==", "!="):
            if T.unify(left, right) is None:
                self._operands(expr, left, right, "cannot compare")
            return T.BOOL
        if op in ("<", "<=", ">", ">="):
            ok = (left in T.NUMERIC and right in T.NUMERIC) or (left == right and left in (T.STRING, T.DATE, T.DURATION)) or T.NULL in (left, right)
            if not ok:
                self._operands(expr, left, right, "cannot order")
            return T.BOOL
        if op == "+" and left == T.STRING and right == T.STRING:
            return T.STRING
        if left in T.NUMERIC and right in T.NUMERIC:
            if op == "/":
                return T.DECIMAL
            return T.DECIMAL if T.DECIMAL in (left, right) else T.INT
        if T.NULL in (left, right):
            return left if right == T.NULL else right
        self._operands(expr, left, right, f"cannot apply `{op}` to")
        return T.UNKNOWN

    def _operands(self, expr: ast.Binary, left, right, verb: str) -> None:
        self.diagnostics.append(
            error(
                "E301",
                f"mismatched types: {verb} {T.describe(left)} and {T.describe(right)}",
                expr.span,
                f"`{expr.op}` between {T.describe(left)} and {T.describe(right)}",
                secondary=[(expr.left.span, f"this is {T.describe(left)}"), (expr.right.span, f"this is {T.describe(right)}")],
            )
        )

    def _InSet(self, expr: ast.InSet, ctx):
        item = self.infer(expr.item, ctx)
        container = self.infer(expr.container, ctx)
        if container == T.UNKNOWN or item == T.UNKNOWN:
            return T.BOOL
        if not isinstance(container, T.ListOf):
            self.mismatch(expr.container, "a set or a list", container, "the right side of `in`")
        elif T.unify(item, container.elem) is None:
            self.mismatch(expr.item, container.elem, item, "the value tested with `in`")
        return T.BOOL

    def _LineRead(self, expr: ast.LineRead, ctx, many: bool = False):
        return check_line_read(self, expr, ctx, many)

    def _IsNull(self, expr: ast.IsNull, ctx):
        self.infer(expr.operand, ctx)
        return T.BOOL

    def _IfElse(self, expr: ast.IfElse, ctx):
        self.expect_bool(expr.cond, ctx, "the condition of `if`")
        a = self.infer(expr.then, ctx)
        b = self.infer(expr.otherwise, ctx)
        common = T.unify(a, b)
        if common is None:
            self.diagnostics.append(
                error(
                    "E301",
                    f"mismatched types: `if` and `else` give {T.describe(a)} and {T.describe(b)}",
                    expr.otherwise.span,
                    f"this is {T.describe(b)}",
                    secondary=[(expr.then.span, f"this is {T.describe(a)}")],
                    help="both branches must give the same type",
                )
            )
            return T.UNKNOWN
        return common

    def _SetLiteral(self, expr: ast.SetLiteral, ctx):
        elem = T.NULL
        for item in expr.items:
            t = self.infer(item, ctx)
            common = T.unify(elem, t)
            if common is None:
                self.mismatch(item, elem, t, "every value of a set")
                return T.UNKNOWN
            elem = common
        return T.ListOf(elem)

    def _MapExpr(self, expr: ast.MapExpr, ctx):
        subject = self.infer(expr.subject, ctx)
        result = T.NULL
        seen: dict = {}
        allowed = self._allowed_of(expr.subject, ctx)
        for entry in expr.entries:
            key_type = T.literal_type(entry.key.kind)
            if not T.assignable(key_type, subject) and T.unify(key_type, subject) is None:
                self.mismatch(entry.key, subject, key_type, "a key of `map`")
            if entry.key.value in seen:
                self.diagnostics.append(
                    error("E120", f"the key {entry.key.text} is mapped twice", entry.key.span, "mapped again here", secondary=[(seen[entry.key.value], "first mapped here")])
                )
            seen[entry.key.value] = entry.key.span
            if allowed is not None and entry.key.value not in allowed:
                self.diagnostics.append(
                    error(
                        "E302",
                        f"{entry.key.text} is not an allowed value of `{expr.subject.name}`",
                        entry.key.span,
                        "this key can never match",
                        help=f"`{expr.subject.name}` is one of {', '.join(show_value(v) for v in allowed)}",
                    )
                )
            value = self.infer(entry.value, ctx)
            common = T.unify(result, value)
            if common is None:
                self.mismatch(entry.value, result, value, "every value of `map`")
                return T.UNKNOWN
            result = common
        return result

    def _allowed_of(self, expr, ctx):
        if not isinstance(expr, ast.Ref) or ctx.product is None or expr.name not in ctx.attributes:
            return None
        product = self.scope.product(ctx.product)
        attr = next((a for a in product.attributes if a.name.value == expr.name), None) if product else None
        if attr is None or not isinstance(attr.allowed, ast.AllowedSet):
            return None
        return [v.value for v in attr.allowed.values]

    # ---- functions -----------------------------------------------------------------

    def _Call(self, expr: ast.Call, ctx: ExprContext):
        name = expr.func.value
        if name == "children":
            return self._children(expr, ctx)
        if name == "changed":
            return self._changed(expr, ctx)
        sig = FUNCTIONS.get(name)
        if sig is None:
            self.diagnostics.append(
                error(
                    "E108",
                    f"unknown function `{name}`",
                    expr.func.span,
                    "not a function of the .om language",
                    help=did_you_mean(name, list(FUNCTIONS) + ["children", "changed"]) or "the functions are " + ", ".join(f"`{f}`" for f in sorted(list(FUNCTIONS) + ["changed", "children"])),
                )
            )
            for arg in expr.args:
                self.infer(arg, ctx)
            return T.UNKNOWN
        low, high, rule = sig
        if not (low <= len(expr.args) and (high is None or len(expr.args) <= high)):
            expected = str(low) if low == high else (f"at least {low}" if high is None else f"{low} to {high}")
            self.diagnostics.append(
                error(
                    "E303",
                    f"`{name}` takes {expected} argument{'s' if expected != '1' else ''}, but {len(expr.args)} {'was' if len(expr.args) == 1 else 'were'} given",
                    expr.span,
                    f"{len(expr.args)} given",
                )
            )
            for arg in expr.args:
                self.infer(arg, ctx)
            return T.UNKNOWN
        arg_types = [self._LineRead(arg, ctx, many=True) if isinstance(arg, ast.LineRead) and name in AGGREGATES else self.infer(arg, ctx) for arg in expr.args]
        return rule(self, expr, arg_types)

    def _children(self, expr: ast.Call, ctx: ExprContext):
        if len(expr.args) != 1 or not isinstance(expr.args[0], ast.Ref):
            self.diagnostics.append(error("E303", "`children` takes one product code", expr.span, "for example `children(MESH_EXTENDER)`"))
            return T.UNKNOWN
        code = expr.args[0].name
        if not ctx.commercial_item:
            self.diagnostics.append(error("E305", "`children(...)` is only available on commercial order items", expr.span, f"not available in {ctx.where}"))
            return T.UNKNOWN
        product = self.scope.commercial.get(ctx.product)
        declared = [h.product.value for h in product.children] if product else []
        if code not in declared:
            if self.scope.product(code) is None:
                self.diagnostics.append(unknown_product(code, expr.args[0].span, self.scope.product_codes))
            else:
                self.diagnostics.append(
                    error(
                        "E305",
                        f"`{code}` is not a child of `{ctx.product}`",
                        expr.args[0].span,
                        f"`{ctx.product}` has no `has {code}`",
                        help=did_you_mean(code, declared) or (f"the children of `{ctx.product}` are {', '.join(f'`{c}`' for c in declared)}" if declared else ""),
                    )
                )
            return T.UNKNOWN
        return T.ListOf(T.ItemOf((code,)))

    def _changed(self, expr: ast.Call, ctx: ExprContext):
        if not ctx.allow_changed:
            self.diagnostics.append(
                error("E507", "`changed(...)` is only meaningful in a modify plan", expr.span, f"not available in {ctx.where}", help="use it in `plan PRODUCT on modify when changed(...)` or in an item of such a plan")
            )
            return T.BOOL
        if not expr.args:
            self.diagnostics.append(error("E303", "`changed` takes at least one attribute", expr.span, "no attribute given"))
        for arg in expr.args:
            if not isinstance(arg, ast.Ref):
                self.diagnostics.append(error("E303", "`changed` takes attribute names", arg.span, "not an attribute name"))
                continue
            self.infer(arg, ctx)
        return T.BOOL


# ---- the fixed set of functions ------------------------------------------------------


def _numeric_list(checker, expr, types_):
    t = types_[0]
    if isinstance(t, T.ListOf) and t.elem in T.NUMERIC:
        return t.elem
    if t != T.UNKNOWN and not (isinstance(t, T.ListOf) and t.elem in (T.UNKNOWN, T.NULL)):
        checker.mismatch(expr.args[0], T.ListOf("int or decimal"), t, f"the argument of `{expr.func.value}`")
    return T.UNKNOWN if t == T.UNKNOWN else T.DECIMAL


def _bool_list(checker, expr, types_):
    t = types_[0]
    if not (t == T.UNKNOWN or (isinstance(t, T.ListOf) and T.assignable(t.elem, T.BOOL))):
        checker.mismatch(expr.args[0], T.ListOf(T.BOOL), t, f"the argument of `{expr.func.value}`")
    return T.BOOL


def _count(checker, expr, types_):
    t = types_[0]
    if not (t == T.UNKNOWN or isinstance(t, T.ListOf)):
        checker.mismatch(expr.args[0], "a list", t, "the argument of `count`")
    return T.INT


def _fixed(params, result):
    def rule(checker, expr, types_):
        for arg, t, p in zip(expr.args, types_, params if len(params) == len(types_) else [params[0]] * len(types_)):
            if not T.assignable(t, p):
                checker.mismatch(arg, p, t, f"an argument of `{expr.func.value}`")
        return result

    return rule


def _same_numeric(checker, expr, types_):
    result = T.NULL
    for arg, t in zip(expr.args, types_):
        if t not in T.NUMERIC and t not in (T.UNKNOWN, T.NULL):
            checker.mismatch(arg, "int or decimal", t, f"an argument of `{expr.func.value}`")
            return T.UNKNOWN
        result = T.unify(result, t) or T.UNKNOWN
    return result


def _first(checker, expr, types_):
    t = types_[0]
    if isinstance(t, T.ListOf):
        return t.elem
    if t != T.UNKNOWN:
        checker.mismatch(expr.args[0], "a list", t, "the argument of `first`")
    return T.UNKNOWN


def _coalesce(checker, expr, types_):
    result = T.NULL
    for arg, t in zip(expr.args, types_):
        common = T.unify(result, t)
        if common is None:
            checker.mismatch(arg, result, t, "every argument of `coalesce`")
            return T.UNKNOWN
        result = common
    return result


def _round(checker, expr, types_):
    _fixed([T.DECIMAL, T.INT], None)(checker, expr, types_)
    return T.INT if len(types_) == 1 else T.DECIMAL


# name -> (min args, max args or None, type rule)
FUNCTIONS = {
    "count": (1, 1, _count),
    "sum": (1, 1, _numeric_list),
    "any": (1, 1, _bool_list),
    "all": (1, 1, _bool_list),
    "first": (1, 1, _first),
    "coalesce": (1, None, _coalesce),
    "lower": (1, 1, _fixed([T.STRING], T.STRING)),
    "upper": (1, 1, _fixed([T.STRING], T.STRING)),
    "trim": (1, 1, _fixed([T.STRING], T.STRING)),
    "len": (1, 1, _fixed([T.STRING], T.INT)),
    "concat": (1, None, _fixed([T.STRING], T.STRING)),
    "starts_with": (2, 2, _fixed([T.STRING, T.STRING], T.BOOL)),
    "min": (2, None, _same_numeric),
    "max": (2, None, _same_numeric),
    "abs": (1, 1, _same_numeric),
    "round": (1, 2, _round),
    "add_days": (2, 2, _fixed([T.DATE, T.INT], T.DATE)),
    "days_between": (2, 2, _fixed([T.DATE, T.DATE], T.INT)),
}


# ---- helpers shared with the other checks ----------------------------------------------


def enriched_types(scope: CatalogScope, code: str) -> dict[str, object]:
    out = {}
    for block in scope.enrichments.get(code, ()):
        for rule in block.rules:
            out[rule.name.value] = T.named(rule.type.value)
    return out


def task_outputs(scope: CatalogScope, item: ast.PlanItem) -> dict[str, object] | None:
    """The outputs a plan item declares, by name; None when not known."""
    if item.kind == "callout":
        system = scope.systems.get(item.call.system.value)
        if system is None:
            return None
        op = next((o for o in system.operations if o.name.value == item.call.operation.value), None)
        if op is None:
            return None
        return {p.name.value: T.named(p.type.value) for p in op.outputs}
    if item.kind == "auto":
        return {p.name.value: T.named(p.type.value) for p in item.outputs}
    return {}




def constant_leaves(expr) -> list[ast.Literal] | None:
    """The literals an expression can evaluate to, when it is built of constants only."""
    if isinstance(expr, ast.Literal):
        return [expr]
    if isinstance(expr, ast.IfElse):
        a, b = constant_leaves(expr.then), constant_leaves(expr.otherwise)
        return None if a is None or b is None else a + b
    if isinstance(expr, ast.MapExpr):
        out = []
        for entry in expr.entries:
            leaves = constant_leaves(entry.value)
            if leaves is None:
                return None
            out += leaves
        return out
    return None


__all__ = ["ExprChecker", "ExprContext", "ORDER_FIELDS", "FUNCTIONS", "attribute_type", "enriched_types", "task_outputs", "constant_leaves", "show_value"]
