"""The operations of the expression language, with their null semantics.

Both the interpreter and the generated modules call these, so the two can
never disagree on an edge case. The rules (docs/language.md, "Null"):

- arithmetic, comparisons other than `==`/`!=`, and string and date functions
  give null (comparisons: false) when an operand is null;
- a condition that is null counts as false (`when`, `require`, `if`, `and`,
  `or`, `not`);
- `count`, `sum`, `any` and `all` skip null elements; `coalesce` picks the
  first non-null argument.

An error no type check can rule out (a division by zero) raises `Fault`.
"""

from __future__ import annotations

import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation


class Fault(Exception):
    """An expression that has no value for these inputs (division by zero...)."""


def truth(x) -> bool:
    return x is True


def neg(x):
    return None if x is None else -x


def add(a, b):
    return None if a is None or b is None else a + b


def sub(a, b):
    return None if a is None or b is None else a - b


def mul(a, b):
    return None if a is None or b is None else a * b


def div(a, b):
    if a is None or b is None:
        return None
    if b == 0:
        raise Fault("division by zero")
    try:
        return Decimal(a) / Decimal(b)
    except InvalidOperation as exc:  # pragma: no cover - beyond 28 digits
        raise Fault(f"decimal arithmetic: {exc}") from None


def mod(a, b):
    if a is None or b is None:
        return None
    if b == 0:
        raise Fault("remainder of a division by zero")
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        return Decimal(a) % Decimal(b)
    return a % b


def lt(a, b):
    return a is not None and b is not None and a < b


def le(a, b):
    return a is not None and b is not None and a <= b


def gt(a, b):
    return a is not None and b is not None and a > b


def ge(a, b):
    return a is not None and b is not None and a >= b


def contains(x, container) -> bool:
    return x is not None and container is not None and x in container


def not_contains(x, container) -> bool:
    return x is not None and container is not None and x not in container


# ---- functions ----------------------------------------------------------------------


def count(xs) -> int:
    if type(xs) is list or type(xs) is tuple:
        return len(xs) - xs.count(None)  # (in C: `count(order.root_items)` runs once per order)
    return 0 if xs is None else sum(1 for x in xs if x is not None)


def sum_(xs):
    total = 0
    for x in xs or ():
        if x is not None:
            total = total + x
    return total


def any_(xs) -> bool:
    return any(x is True for x in xs or ())


def all_(xs) -> bool:
    return all(x is True for x in xs or () if x is not None)


def first(xs):
    """The first value that is not null, or null."""
    return next((x for x in xs or () if x is not None), None)


def across(out, key: str, name: str) -> list:
    """One output (or attribute) of the other lines a task reads: one value per
    line in scope, in the order's line order; null where its task has not
    completed (skipped, or not in this order)."""
    return [None if v is None else v.get(name) for v in out.get(key, ())]


def coalesce(*args):
    for a in args:
        if a is not None:
            return a
    return None


def lower(s):
    return None if s is None else s.lower()


def upper(s):
    return None if s is None else s.upper()


def trim(s):
    return None if s is None else s.strip()


def len_(s):
    return None if s is None else len(s)


def concat(*args):
    return None if any(a is None for a in args) else "".join(args)


def starts_with(s, prefix):
    return None if s is None or prefix is None else s.startswith(prefix)


def min_(*args):
    return None if any(a is None for a in args) else min(args)


def max_(*args):
    return None if any(a is None for a in args) else max(args)


def abs_(x):
    return None if x is None else abs(x)


def round_(x, *places):
    """`round(x)` gives an int; `round(x, n)` a decimal with n decimals (half up)."""
    if x is None or (places and places[0] is None):
        return None
    try:
        if not places:
            return int(Decimal(x).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        return Decimal(x).quantize(Decimal(1).scaleb(-places[0]), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise Fault(f"cannot round {x} to {places[0] if places else 0} decimals") from None


def add_days(d, n):
    if d is None or n is None:
        return None
    try:
        return d + datetime.timedelta(days=n)
    except OverflowError:
        raise Fault(f"{d.isoformat()} plus {n} days is not a calendar date") from None


def days_between(a, b):
    return None if a is None or b is None else (b - a).days


# name in the .om language -> the function
FUNCTIONS = {
    "count": count,
    "sum": sum_,
    "any": any_,
    "all": all_,
    "first": first,
    "coalesce": coalesce,
    "lower": lower,
    "upper": upper,
    "trim": trim,
    "len": len_,
    "concat": concat,
    "starts_with": starts_with,
    "min": min_,
    "max": max_,
    "abs": abs_,
    "round": round_,
    "add_days": add_days,
    "days_between": days_between,
}

BINARY = {"+": add, "-": sub, "*": mul, "/": div, "%": mod, "<": lt, "<=": le, ">": gt, ">=": ge}
