"""Expression IR -> Python source.

The code reads values from a few locals, named the same in every generated
function: `a` (the item's or line's values), `item` (for parent and
children), `o` (the order's fields), `out` (task outputs), `prev` (the
installed line's values). Where a value can never be null (a required
attribute, an attribute with a default, a literal), the operation is written
inline; elsewhere it goes through `om_dsl.rules.ops`, the same functions
the interpreter uses, so both give the same result for every input.
"""

from __future__ import annotations

from om_dsl.model import expr as E

NON_NULL_ORDER_FIELDS = {"id", "root_items", "items"}
NULL_SAFE_FUNCTIONS = {"count", "sum", "any", "all"}


class Constants:
    """Module-level constants the generated code refers to (hoisted once)."""

    def __init__(self):
        self.lines: list[str] = []
        self._names: dict[str, str] = {}

    def add(self, prefix: str, source: str) -> str:
        if source not in self._names:
            name = f"_{prefix}{len(self._names)}"
            self._names[source] = name
            self.lines.append(f"{name} = {source}")
        return self._names[source]


class PyExpr:
    def __init__(self, constants: Constants, nullable_attrs: dict[str, bool], tables: dict):
        self.k = constants
        self.nullable_attrs = nullable_attrs
        self.tables = tables  # table name -> module constant name

    # ---- nullability ----------------------------------------------------------------

    def nullable(self, x) -> bool:
        if not isinstance(x, tuple):
            return x is None
        head = x[0]
        if head in ("decimal", "date", "duration", "children", "pluck", "set", "changed", "lines"):
            return False
        if head == "attr":
            return self.nullable_attrs.get(x[1], True)
        if head == "order":
            return x[1] not in NON_NULL_ORDER_FIELDS
        if head in ("parent", "output", "lookup", "map", "line"):
            return True
        if head == "if":
            return self.nullable(x[2]) or self.nullable(x[3])
        if head in ("and", "or", "not", "in", "not in", "is null", "is not null") or head in E.COMPARISONS:
            return False
        if head == "call":
            name, args = x[1], x[2:]
            if name in NULL_SAFE_FUNCTIONS:
                return False
            if name == "first":  # of no value (an empty list, or only nulls): null
                return True
            if name == "coalesce":
                return all(self.nullable(a) for a in args)
            return any(self.nullable(a) for a in args)
        # neg, + - * / %
        return any(self.nullable(a) for a in x[1:])

    # ---- code ---------------------------------------------------------------------------

    def truth(self, x) -> str:
        """Code giving a Python bool: true only when the value is true (null is false)."""
        code = self.code(x)
        return code if not self.nullable(x) else f"({code} is True)"

    def code(self, x) -> str:
        if not isinstance(x, tuple):
            return repr(x)
        head = x[0]
        m = getattr(self, "_" + head.replace(" ", "_"), None)
        if m is not None:
            return m(x)
        if head in ("+", "-", "*"):
            l, r = x[1], x[2]
            if self.nullable(l) or self.nullable(r):
                fn = {"+": "add", "-": "sub", "*": "mul"}[head]
                return f"_ops.{fn}({self.code(l)}, {self.code(r)})"
            return f"({self.code(l)} {head} {self.code(r)})"
        if head in ("/", "%"):
            fn = "div" if head == "/" else "mod"
            return f"_ops.{fn}({self.code(x[1])}, {self.code(x[2])})"
        if head in ("<", "<=", ">", ">="):
            l, r = x[1], x[2]
            if self.nullable(l) or self.nullable(r):
                fn = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge"}[head]
                return f"_ops.{fn}({self.code(l)}, {self.code(r)})"
            return f"({self.code(l)} {head} {self.code(r)})"
        if head in ("==", "!="):
            return f"({self.code(x[1])} {head} {self.code(x[2])})"
        raise ValueError(f"unknown expression {head!r}")  # pragma: no cover - the model is checked

    # constants
    def _decimal(self, x):
        return self.k.add("D", f"Decimal({x[1]!r})")

    def _date(self, x):
        y, m, d = (int(p) for p in x[1].split("-"))
        return self.k.add("T", f"date({y}, {m}, {d})")

    def _duration(self, x):
        return repr(x[1])

    # names
    def _attr(self, x):
        return f"a[{x[1]!r}]"

    def _order(self, x):
        return f"o[{x[1]!r}]"

    def _parent(self, x):
        return f"(item.parent.values.get({x[1]!r}) if item.parent is not None else None)"

    def _output(self, x):
        return f"(out.get({x[1]!r}) or _NO_OUTPUTS).get({x[2]!r})"

    def _lines(self, x):
        return f"_ops.across(out, {E.across_key(x[1], x[2], x[3])!r}, {x[4]!r})"

    def _line(self, x):
        return f"_ops.first({self._lines(x)})"

    def _children(self, x):
        return f"item.children_of({x[1]!r})"

    def _pluck(self, x):
        return f"[e.values.get({x[2]!r}) for e in {self.code(x[1])}]"

    def _lookup(self, x):
        return f"{self.tables[x[1]]}.get({self.code(x[2])})"

    def _map(self, x):
        subject, entries = x[1], x[2]
        if all(E.is_constant(v) for _k, v in entries):
            table = "{" + ", ".join(f"{self._const(k)}: {self._const(v)}" for k, v in entries) + "}"
            return f"{self.k.add('M', table)}.get({self.code(subject)})"
        chain = " else ".join(f"{self.code(v)} if s == {self._const(k)}" for k, v in entries)
        return f"(lambda s: {chain} else None)({self.code(subject)})"

    def _const(self, c) -> str:
        return self.code(c)

    # operators
    def _if(self, x):
        return f"({self.code(x[2])} if {self.truth(x[1])} else {self.code(x[3])})"

    def _and(self, x):
        return f"({self.truth(x[1])} and {self.truth(x[2])})"

    def _or(self, x):
        return f"({self.truth(x[1])} or {self.truth(x[2])})"

    def _not(self, x):
        return f"(not {self.code(x[1])})" if not self.nullable(x[1]) else f"({self.code(x[1])} is not True)"

    def _neg(self, x):
        return f"(-{self.code(x[1])})" if not self.nullable(x[1]) else f"_ops.neg({self.code(x[1])})"

    def _is_null(self, x):
        return f"({self.code(x[1])} is None)"

    def _is_not_null(self, x):
        return f"({self.code(x[1])} is not None)"

    def _container(self, c) -> str:
        if isinstance(c, tuple) and c[0] == "set" and all(E.is_constant(e) for e in c[1:]):
            return self.k.add("S", "frozenset({" + ", ".join(self._const(e) for e in c[1:]) + "})") if len(c) > 1 else "frozenset()"
        return self.code(c)

    def _in(self, x):
        if self.nullable(x[1]):
            return f"_ops.contains({self.code(x[1])}, {self._container(x[2])})"
        return f"({self.code(x[1])} in {self._container(x[2])})"

    def _not_in(self, x):
        if self.nullable(x[1]):
            return f"_ops.not_contains({self.code(x[1])}, {self._container(x[2])})"
        return f"({self.code(x[1])} not in {self._container(x[2])})"

    def _set(self, x):
        return "[" + ", ".join(self.code(e) for e in x[1:]) + "]"

    def _call(self, x):
        name, args = x[1], x[2:]
        if name == "count" and len(args) == 1 and isinstance(args[0], tuple) and args[0][0] == "children":
            return f"len({self.code(args[0])})"
        fn = {"sum": "sum_", "any": "any_", "all": "all_", "len": "len_", "min": "min_", "max": "max_", "abs": "abs_", "round": "round_"}.get(name, name)
        return f"_ops.{fn}({', '.join(self.code(a) for a in args)})"

    def _changed(self, x):
        tests = " or ".join(f"a.get({n!r}) != prev.get({n!r})" for n in x[1:])
        return f"(prev is None or {tests})"
