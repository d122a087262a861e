"""Print literals, expressions and other one-line fragments in canonical form.

Expressions get the fewest parentheses the grammar allows (the precedence of
docs/language.md "Operators", loosest first):

    0  if C then A else B
    1  or                    left-associative
    2  and                   left-associative
    3  not x
    4  == != < <= > >=, in, not in, is null, is not null   (no chaining)
    5  + -                   left-associative
    6  * / %                 left-associative
    7  -x (and negative number literals)
    8  x.name, x[key]
    9  literals, names, calls, order.x, {set}, map x {...}, (...)
"""

from __future__ import annotations

from decimal import Decimal

from om_dsl.syntax import ast

_COMPARE = frozenset({"==", "!=", "<", "<=", ">", ">="})
_SUM = frozenset({"+", "-"})
_TERM = frozenset({"*", "/", "%"})

_DURATION_UNITS = (("w", 604_800_000), ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1))

_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t"}


# ---- literals -----------------------------------------------------------------


def string(value: str) -> str:
    """A string literal with the canonical escapes: `\\\\`, `\\"`, `\\n`, `\\t`."""
    return '"' + "".join(_ESCAPES.get(ch, ch) for ch in value) + '"'


def duration(ms: int) -> str:
    """The largest unit that gives a whole number: 60000 -> `1m`, 90000 -> `90s`."""
    if ms == 0:
        return "0s"
    for unit, size in _DURATION_UNITS:
        if ms % size == 0:
            return f"{ms // size}{unit}"
    raise AssertionError("unreachable: every duration is a whole number of ms")


def _decimal(lit: ast.Literal) -> str:
    value = lit.value
    assert isinstance(value, Decimal)
    digits = lit.text.lstrip("-")
    if not digits or "." not in digits:
        digits = format(abs(value), "f")
        if "." not in digits:
            digits += ".0"
    whole, frac = digits.split(".", 1)
    digits = f"{whole.lstrip('0') or '0'}.{frac}"
    return ("-" if value.is_signed() and value != 0 else "") + digits


def literal(lit: ast.Literal) -> str:
    kind, value = lit.kind, lit.value
    if kind == "int":
        return str(value)
    if kind == "decimal":
        return _decimal(lit)
    if kind == "string":
        return string(str(value))
    if kind == "bool":
        return "true" if value else "false"
    if kind == "null":
        return "null"
    if kind == "date":
        return str(value)
    if kind == "duration":
        return duration(int(value))  # type: ignore[arg-type]
    raise ValueError(f"unknown literal kind {kind!r}")


# ---- expressions ----------------------------------------------------------------


def precedence(e: ast.Expr) -> int:
    if isinstance(e, ast.IfElse):
        return 0
    if isinstance(e, ast.Binary):
        if e.op == "or":
            return 1
        if e.op == "and":
            return 2
        if e.op in _COMPARE:
            return 4
        if e.op in _SUM:
            return 5
        if e.op in _TERM:
            return 6
        raise ValueError(f"unknown operator {e.op!r}")
    if isinstance(e, ast.Unary):
        return 3 if e.op == "not" else 7
    if isinstance(e, (ast.InSet, ast.IsNull, ast.LineRead)):
        return 4
    if isinstance(e, ast.Literal):
        return 7 if literal(e).startswith("-") else 9
    if isinstance(e, (ast.Member, ast.Lookup)):
        return 8
    return 9


def expr(e: ast.Expr, minimum: int = 0) -> str:
    """`e` as text, in parentheses when its precedence is below `minimum`."""
    text = _expr(e)
    return f"({text})" if precedence(e) < minimum else text


def _expr(e: ast.Expr) -> str:
    if isinstance(e, ast.Literal):
        return literal(e)
    if isinstance(e, ast.Ref):
        return e.name
    if isinstance(e, ast.OrderField):
        return f"order.{e.field.value}"
    if isinstance(e, ast.Member):
        return f"{expr(e.obj, 8)}.{e.name.value}"
    if isinstance(e, ast.Lookup):
        return f"{expr(e.table, 8)}[{expr(e.key)}]"
    if isinstance(e, ast.Call):
        return f"{e.func.value}({', '.join(expr(a) for a in e.args)})"
    if isinstance(e, ast.Unary):
        if e.op == "not":
            return f"not {expr(e.operand, 3)}"
        return f"-{expr(e.operand, 7)}"
    if isinstance(e, ast.Binary):
        level = precedence(e)
        if level == 4:  # comparisons do not chain: both sides are sums
            return f"{expr(e.left, 5)} {e.op} {expr(e.right, 5)}"
        return f"{expr(e.left, level)} {e.op} {expr(e.right, level + 1)}"
    if isinstance(e, ast.InSet):
        op = "not in" if e.negated else "in"
        return f"{expr(e.item, 5)} {op} {expr(e.container, 5)}"
    if isinstance(e, ast.LineRead):
        return f"{expr(e.target, 5)} in {e.scope}"
    if isinstance(e, ast.IsNull):
        return f"{expr(e.operand, 5)} is {'not ' if e.negated else ''}null"
    if isinstance(e, ast.IfElse):
        return f"if {expr(e.cond)} then {expr(e.then)} else {expr(e.otherwise)}"
    if isinstance(e, ast.SetLiteral):
        return "{" + ", ".join(expr(item) for item in e.items) + "}"
    if isinstance(e, ast.MapExpr):
        entries = ", ".join(f"{literal(entry.key)} -> {expr(entry.value)}" for entry in e.entries)
        return f"map {expr(e.subject)} {{ {entries} }}"
    raise TypeError(f"not an expression: {type(e).__name__}")


# ---- other fragments --------------------------------------------------------------


def retry_spec(spec: ast.RetrySpec) -> str:
    if isinstance(spec, ast.RetryNone):
        return "none"
    if isinstance(spec, ast.RetryFixed):
        count = "forever" if spec.count is None else f"{spec.count} times"
        return f"fixed {count} every {literal(spec.interval)}"
    if isinstance(spec, ast.RetryStaggered):
        return "staggered " + ", ".join(literal(d) for d in spec.delays)
    if isinstance(spec, ast.RetryExponential):
        factor = f" factor {literal(spec.factor)}" if spec.factor is not None else ""
        return f"exponential {spec.count} times from {literal(spec.initial)}{factor} cap {literal(spec.cap)}"
    if isinstance(spec, ast.RetryRef):
        return spec.name.value
    if isinstance(spec, ast.RetryFiltered):
        text = retry_spec(spec.spec)
        if spec.retried is not None:
            text += " for " + ", ".join(c.text for c in spec.retried)
        if spec.fatal:
            text += " fatal " + ", ".join(c.text for c in spec.fatal)
        return text
    raise TypeError(f"not a retry spec: {type(spec).__name__}")


def params(ps: tuple[ast.Param, ...]) -> str:
    return ", ".join(f"{p.name.value}: {p.type.value}" for p in ps)


def arg(a: ast.Arg) -> str:
    return a.name.value if a.shorthand else f"{a.name.value} = {expr(a.expr)}"


def call_head(call: ast.OperationCall | ast.PythonCall) -> str:
    """The call up to, not including, its `(`."""
    if isinstance(call, ast.OperationCall):
        return f"{call.system.value}.{call.operation.value}"
    return f"python {literal(call.target)}"


def call(c: ast.OperationCall | ast.PythonCall) -> str:
    return f"{call_head(c)}({', '.join(arg(a) for a in c.args)})"


def dependency(d: ast.Dependency) -> str:
    if d.task is None:
        return f"every task in {d.scope}"
    if d.product is None:
        return d.task.value
    return f"{d.product.value}.{d.task.value} in {d.scope}"


def allowed(a: ast.AllowedSet | ast.AllowedRange) -> str:
    if isinstance(a, ast.AllowedSet):
        return "in {" + ", ".join(literal(v) for v in a.values) + "}"
    return f"in {literal(a.low)}..{literal(a.high)}"


def attribute(a: ast.Attribute) -> str:
    text = f"attr {a.name.value}: {a.type.value}"
    if a.allowed is not None:
        text += " " + allowed(a.allowed)
    if a.default is not None:
        text += f" = {literal(a.default)}"
    if a.presence is not None:
        text += f" {a.presence}"
    return text


def has_child(h: ast.HasChild) -> str:
    if h.max == h.min:
        card = str(h.min)
    else:
        card = f"{h.min}..{'*' if h.max is None else h.max}"
    return f"has {h.product.value} [{card}]"


def operation(op: ast.Operation) -> str:
    text = f"operation {op.name.value}({params(op.inputs)})"
    if op.outputs:
        text += f" -> ({params(op.outputs)})"
    if op.is_async:
        text += " async"
    if op.retry is not None:
        text += f" retry {retry_spec(op.retry)}"
    if op.timeout is not None:
        text += f" timeout {literal(op.timeout)}"
    return text
