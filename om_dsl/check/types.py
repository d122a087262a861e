"""The types of the expression language.

Scalars are plain strings; lists, items and tasks are small frozen classes.
`UNKNOWN` stands for an expression already reported as wrong: it is
compatible with everything, so one mistake gives one diagnostic.
"""

from __future__ import annotations

import datetime

import attrs

INT = "int"
DECIMAL = "decimal"
STRING = "string"
BOOL = "bool"
DATE = "date"
DURATION = "duration"
NULL = "null"
UNKNOWN = "unknown"

ATTRIBUTE_TYPES = (INT, DECIMAL, STRING, BOOL, DATE)
NUMERIC = (INT, DECIMAL)


@attrs.frozen
class ListOf:
    elem: object

    def __str__(self) -> str:
        return f"list of {describe(self.elem)}"


@attrs.frozen
class ItemOf:
    """An order item of one of these products (empty: any product)."""

    products: tuple[str, ...]

    def __str__(self) -> str:
        return "order item" if not self.products else f"{' or '.join(self.products)} item"


@attrs.frozen
class TaskRef:
    """A task of the plan in scope, whose outputs can be read (`task.output`)."""

    name: str

    def __str__(self) -> str:
        return f"task `{self.name}`"


def describe(t) -> str:
    return str(t)


def named(type_name: str):
    """The type a declaration names (`int`, `date`...); UNKNOWN when the name is not a type (reported as E110)."""
    return type_name if type_name in ATTRIBUTE_TYPES else UNKNOWN


def is_calendar_date(text: str) -> bool:
    try:
        datetime.date.fromisoformat(text)
        return True
    except ValueError:
        return False


def assignable(src, dst) -> bool:
    """Can a value of type `src` go where `dst` is expected?"""
    if src == UNKNOWN or dst == UNKNOWN or src == NULL:
        return True
    if src == dst:
        return True
    if src == INT and dst == DECIMAL:
        return True
    if isinstance(src, ListOf) and isinstance(dst, ListOf):
        return assignable(src.elem, dst.elem)
    return False


def unify(a, b):
    """The common type of two branches, or None when there is none."""
    if a == UNKNOWN or b == UNKNOWN:
        return UNKNOWN
    if a == NULL:
        return b
    if b == NULL:
        return a
    if a == b:
        return a
    if {a, b} == {INT, DECIMAL}:
        return DECIMAL
    if isinstance(a, ListOf) and isinstance(b, ListOf):
        elem = unify(a.elem, b.elem)
        return None if elem is None else ListOf(elem)
    return None


def literal_type(kind: str):
    return {"int": INT, "decimal": DECIMAL, "string": STRING, "bool": BOOL, "date": DATE, "duration": DURATION, "null": NULL}[kind]
