"""The expression IR: how the plan model holds expressions.

An expression is a constant or a tuple whose first element says what it is:

    constants   None, True, 300, "GPON", ("decimal", "29.90"),
                ("date", "2026-01-31"), ("duration", 86400000)
    names       ("attr", name)            an attribute of the item or line
                ("parent", name)          an attribute of the parent item
                ("order", field)          a field of the order
                ("output", task, name)    an output of a task of the plan
                ("line", scope, product, task, name)
                                          another line's task output (task None:
                                          its attribute), in bundle or order: one value
                ("lines", scope, product, task, name)
                                          ... every line's, a list (aggregated)
                ("children", code)        the item's children of a product
                ("pluck", list, name)     each element's attribute
                ("lookup", table, key)    a table lookup
                ("map", subject, ((k, v), ...))
    operators   ("if", c, a, b), ("not", x), ("neg", x), ("set", x, ...),
                (op, left, right) for + - * / % == != < <= > >= and or,
                ("in", x, c), ("not in", x, c), ("is null", x), ("is not null", x)
    functions   ("call", name, arg, ...), ("changed", attr, ...)

Tuples keep the model hashable and make the JSON form (nested lists) plain.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

BINARY = ("+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=", "and", "or")
COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")

# Binding strength, loosest first, for rendering (mirrors the grammar).
_PRECEDENCE = {"if": 1, "or": 2, "and": 3, "not": 4, "cmp": 5, "+": 6, "-": 6, "*": 7, "/": 7, "%": 7, "neg": 8, "atom": 9}


def is_constant(expr) -> bool:
    return not isinstance(expr, tuple) or expr[0] in ("decimal", "date", "duration")


def constant_value(expr):
    """The runtime value of a constant: Decimal, datetime.date, ms, or as is."""
    if isinstance(expr, tuple):
        kind, text = expr
        if kind == "decimal":
            return Decimal(text)
        if kind == "date":
            return datetime.date.fromisoformat(text)
        return text  # duration: milliseconds
    return expr


def constant_of(value):
    """The IR of a runtime value (the inverse of `constant_value`)."""
    if isinstance(value, Decimal):
        return ("decimal", str(value))
    if isinstance(value, datetime.date):
        return ("date", value.isoformat())
    return value


def children(expr) -> list:
    """The sub-expressions of an expression."""
    if not isinstance(expr, tuple) or is_constant(expr):
        return []
    head = expr[0]
    if head in ("attr", "parent", "order", "output", "children", "changed", "line", "lines"):
        return []
    if head == "pluck":
        return [expr[1]]
    if head == "lookup":
        return [expr[2]]
    if head == "map":
        return [expr[1]] + [v for _k, v in expr[2]]
    if head == "call":
        return list(expr[2:])
    return list(expr[1:])


def walk(expr):
    """Every node of an expression, outermost first."""
    yield expr
    for child in children(expr):
        yield from walk(child)


def reads(expr, kind: str) -> set:
    """The names an expression reads of one kind: attr, parent, order, output, changed."""
    out = set()
    if expr is None:
        return out
    for node in walk(expr):
        if isinstance(node, tuple) and node and node[0] == kind:
            if kind == "output":
                out.add(node[1])
            elif kind == "changed":
                out.update(node[1:])
            else:
                out.add(node[1])
    return out


def across_key(scope: str, product: str, task) -> str:
    """Where the values of other lines wait in a task's outputs (`out`), beside
    its own line's tasks: no task name holds a dot or a space."""
    return f"{product}.{task} in {scope}" if task is not None else f"{product} in {scope}"


def across(expr) -> set:
    """The reads of other lines in an expression: {(scope, product, task, name), ...}."""
    out = set()
    if expr is None:
        return out
    for node in walk(expr):
        if isinstance(node, tuple) and node and node[0] in ("line", "lines"):
            out.add(tuple(node[1:5]))
    return out


# ---- rendering, in the syntax of the .om language -----------------------------------


def render(expr) -> str:
    """An expression as an architect writes it (for messages and listings)."""
    return _render(expr)[0]


def _const(value) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
        return f'"{escaped}"'
    if isinstance(value, tuple):
        kind, v = value
        if kind == "duration":
            return _duration(v)
        return str(v)
    return str(value)


def _duration(ms: int) -> str:
    for unit, size in (("w", 604_800_000), ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def _render(expr) -> tuple[str, int]:
    if is_constant(expr):
        text = _const(expr)
        return text, _PRECEDENCE["atom"] if not text.startswith("-") else _PRECEDENCE["neg"]
    head = expr[0]
    atom = _PRECEDENCE["atom"]
    if head == "attr":
        return expr[1], atom
    if head == "parent":
        return f"parent.{expr[1]}", atom
    if head == "order":
        return f"order.{expr[1]}", atom
    if head == "output":
        return f"{expr[1]}.{expr[2]}", atom
    if head == "children":
        return f"children({expr[1]})", atom
    if head in ("line", "lines"):
        path = ".".join(p for p in expr[2:] if p is not None)
        return f"{path} in {expr[1]}", _PRECEDENCE["cmp"]
    if head == "pluck":
        return f"{_wrap(expr[1], atom)}.{expr[2]}", atom
    if head == "lookup":
        return f"{expr[1]}[{render(expr[2])}]", atom
    if head == "map":
        entries = ", ".join(f"{_const(k)} -> {render(v)}" for k, v in expr[2])
        return f"map {_wrap(expr[1], atom)} {{ {entries} }}", atom
    if head == "call":
        return f"{expr[1]}({', '.join(render(a) for a in expr[2:])})", atom
    if head == "changed":
        return f"changed({', '.join(expr[1:])})", atom
    if head == "set":
        return "{" + ", ".join(render(a) for a in expr[1:]) + "}", atom
    if head == "if":
        p = _PRECEDENCE["if"]
        return f"if {_wrap(expr[1], p + 1)} then {_wrap(expr[2], p + 1)} else {_wrap(expr[3], p)}", p
    if head == "not":
        p = _PRECEDENCE["not"]
        return f"not {_wrap(expr[1], p)}", p
    if head == "neg":
        p = _PRECEDENCE["neg"]
        return f"-{_wrap(expr[1], p)}", p
    if head in ("is null", "is not null"):
        p = _PRECEDENCE["cmp"]
        return f"{_wrap(expr[1], p + 1)} {head}", p
    if head in ("in", "not in") or head in COMPARISONS:
        p = _PRECEDENCE["cmp"]
        return f"{_wrap(expr[1], p + 1)} {head} {_wrap(expr[2], p + 1)}", p
    p = _PRECEDENCE[head if head in _PRECEDENCE else "cmp"]
    return f"{_wrap(expr[1], p)} {head} {_wrap(expr[2], p + 1)}", p


def _wrap(expr, min_precedence: int) -> str:
    text, p = _render(expr)
    return text if p >= min_precedence else f"({text})"
