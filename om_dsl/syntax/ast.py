"""The abstract syntax tree of a .om file.

Every node carries its `span`, which takes no part in equality or hashing:
two specs that differ only in layout give equal trees (the formatter relies
on it). Sequences are tuples, so trees are immutable and hashable.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Union

import attrs

from om_dsl.span import UNKNOWN_SPAN, Span


def _span_field():
    return attrs.field(default=UNKNOWN_SPAN, eq=False, order=False, repr=False, kw_only=True)


@attrs.frozen
class Node:
    span: Span = _span_field()


@attrs.frozen
class Name(Node):
    """An identifier as written, with its own span for precise carets."""

    value: str

    def __str__(self) -> str:
        return self.value


# ---- expressions --------------------------------------------------------------


@attrs.frozen
class Literal(Node):
    """A constant. `kind` is one of int, decimal, string, bool, date, duration, null."""

    kind: str
    value: Union[int, Decimal, str, bool, None]
    text: str = attrs.field(eq=False, default="")


@attrs.frozen
class Ref(Node):
    """A bare name: an attribute of the item or line in scope, or a task."""

    name: str


@attrs.frozen
class OrderField(Node):
    """`order.customer_account`: a field of the order being fulfilled."""

    field: Name


@attrs.frozen
class Member(Node):
    """`obj.name`: a task output, a parent's attribute, ..."""

    obj: Expr
    name: Name


@attrs.frozen
class Lookup(Node):
    """`table[key]`."""

    table: Expr
    key: Expr


@attrs.frozen
class Call(Node):
    """A call of one of the built-in functions."""

    func: Name
    args: tuple[Expr, ...]


@attrs.frozen
class Unary(Node):
    op: str  # "-" or "not"
    operand: Expr


@attrs.frozen
class Binary(Node):
    op: str  # + - * / % == != < <= > >= and or
    left: Expr
    right: Expr


@attrs.frozen
class InSet(Node):
    """`item in container` or `item not in container`."""

    item: Expr
    container: Expr
    negated: bool


@attrs.frozen
class LineRead(Node):
    """`PRODUCT.task.output in bundle` or `PRODUCT.attribute in order`: a value
    of another fulfillment line; `target` is the member chain as written."""

    target: Expr
    scope: str  # "bundle" or "order"


@attrs.frozen
class IsNull(Node):
    """`operand is null` or `operand is not null`."""

    operand: Expr
    negated: bool


@attrs.frozen
class IfElse(Node):
    cond: Expr
    then: Expr
    otherwise: Expr


@attrs.frozen
class SetLiteral(Node):
    items: tuple[Expr, ...]


@attrs.frozen
class MapEntry(Node):
    key: Literal
    value: Expr


@attrs.frozen
class MapExpr(Node):
    """A list mapping: `map subject { k -> v, ... }`; unmapped values give null."""

    subject: Expr
    entries: tuple[MapEntry, ...]


Expr = Union[Literal, Ref, OrderField, Member, Lookup, Call, Unary, Binary, InSet, LineRead, IsNull, IfElse, SetLiteral, MapExpr]


# ---- file structure -------------------------------------------------------------


@attrs.frozen
class CatalogHeader(Node):
    name: Name
    version: Literal | None


@attrs.frozen
class LibraryHeader(Node):
    name: Name


@attrs.frozen
class Use(Node):
    path: Literal


@attrs.frozen
class TaskPackage(Node):
    """`tasks "acme_tasks"`: the folder of the catalog's own Python package of
    auto tasks, relative to the file that says it; the folder's name is the package's."""

    path: Literal


@attrs.frozen
class DefaultRetry(Node):
    policy: RetrySpec


@attrs.frozen
class DefaultTimeout(Node):
    duration: Literal


# ---- products ---------------------------------------------------------------------


@attrs.frozen
class AllowedSet(Node):
    values: tuple[Literal, ...]


@attrs.frozen
class AllowedRange(Node):
    low: Literal
    high: Literal


@attrs.frozen
class Attribute(Node):
    name: Name
    type: Name
    allowed: AllowedSet | AllowedRange | None
    default: Literal | None
    presence: str | None  # "required", "optional" or None (not said)


@attrs.frozen
class HasChild(Node):
    """`has CODE [min..max]`; max None means unbounded (`*`)."""

    product: Name
    min: int
    max: int | None


@attrs.frozen
class CommercialProduct(Node):
    code: Name
    display_name: Literal
    role: str  # "root" or "child"
    attributes: tuple[Attribute, ...]
    children: tuple[HasChild, ...]


@attrs.frozen
class TechnicalProduct(Node):
    code: Name
    display_name: Literal | None
    kind: str  # "cfs" or "rfs"
    attributes: tuple[Attribute, ...]
    children: tuple[HasChild, ...]


# ---- rules --------------------------------------------------------------------------


@attrs.frozen
class TableEntry(Node):
    key: Literal
    value: Literal


@attrs.frozen
class Table(Node):
    name: Name
    key_type: Name
    value_type: Name
    entries: tuple[TableEntry, ...]


@attrs.frozen
class Validation(Node):
    product: Name
    name: Name
    when: Expr | None
    require: Expr
    message: Literal


@attrs.frozen
class EnrichRule(Node):
    name: Name
    type: Name
    expr: Expr


@attrs.frozen
class Enrichment(Node):
    product: Name
    rules: tuple[EnrichRule, ...]


@attrs.frozen
class Mapping(Node):
    target: Name
    expr: Expr


@attrs.frozen
class Decomposition(Node):
    """`decompose NAME: SOURCE -> TARGET`; source None is the order scope."""

    name: Name
    source: Name | None
    target: Name
    when: Expr | None
    per: Expr | None
    mappings: tuple[Mapping, ...]
    source_span: Span = attrs.field(default=UNKNOWN_SPAN, eq=False, repr=False, kw_only=True)


# ---- downstream systems ---------------------------------------------------------------


@attrs.frozen
class RetryNone(Node):
    pass


@attrs.frozen
class RetryFixed(Node):
    """`fixed N times every D`; count None is `forever`."""

    count: int | None
    interval: Literal


@attrs.frozen
class RetryStaggered(Node):
    delays: tuple[Literal, ...]


@attrs.frozen
class RetryExponential(Node):
    count: int
    initial: Literal
    factor: Literal | None
    cap: Literal


@attrs.frozen
class RetryRef(Node):
    name: Name


@attrs.frozen
class FailureClass(Node):
    """A kind of failure a retry policy names: `timeout`, `unreachable`, `error`, `409`, `5xx`."""

    text: str


@attrs.frozen
class RetryFiltered(Node):
    """A policy with the failures it retries (`for ...`; None: every retryable
    one) and those that fail at once (`fatal ...`)."""

    spec: "RetrySpec"
    retried: tuple[FailureClass, ...] | None
    fatal: tuple[FailureClass, ...]


RetrySpec = Union[RetryNone, RetryFixed, RetryStaggered, RetryExponential, RetryRef, RetryFiltered]


@attrs.frozen
class RetryPolicy(Node):
    name: Name
    spec: RetrySpec


@attrs.frozen
class Param(Node):
    name: Name
    type: Name


@attrs.frozen
class Operation(Node):
    name: Name
    inputs: tuple[Param, ...]
    outputs: tuple[Param, ...]
    is_async: bool
    retry: RetrySpec | None
    timeout: Literal | None


@attrs.frozen
class System(Node):
    name: Name
    display_name: Literal | None
    retry: RetrySpec | None
    timeout: Literal | None
    operations: tuple[Operation, ...]


@attrs.frozen
class Queue(Node):
    name: Name
    display_name: Literal | None


# ---- orchestration plans ------------------------------------------------------------------


@attrs.frozen
class Arg(Node):
    """`name = expr`, or the shorthand `name` (then `shorthand` is true)."""

    name: Name
    expr: Expr
    shorthand: bool = False


@attrs.frozen
class OperationCall(Node):
    system: Name
    operation: Name
    args: tuple[Arg, ...]


@attrs.frozen
class PythonCall(Node):
    """A Python function by import path, `"package.module:function"`."""

    target: Literal
    args: tuple[Arg, ...]


@attrs.frozen
class Dependency(Node):
    """A task this item depends on (`after`) or that depends on it (`before`).

    `product` None: a task of the same plan. `task` None: every task in scope.
    """

    task: Name | None
    product: Name | None
    scope: str  # "plan", "bundle" or "order"


@attrs.frozen
class SetsLine(Node):
    """`sets attr = expr`: a value fulfillment writes onto the line."""

    attribute: Name
    expr: Expr


@attrs.frozen
class PointOfNoReturn(Node):
    kind: str  # "hard" or "soft"


@attrs.frozen
class AmendStrategy(Node):
    """`on amend keep | redo | undo_redo`: what a revision does to the task once it completed."""

    kind: str


@attrs.frozen
class PlanItem(Node):
    """An orchestration item; `kind` is callout, manual, auto, milestone or wait.

    Only the fields of its kind are set: `call` for callouts, `python` and
    `outputs` for auto tasks, `queue` and `description` for manual tasks,
    `wait_for` or `wait_until` for waits.
    """

    kind: str
    name: Name
    call: OperationCall | None = None
    python: PythonCall | None = None
    outputs: tuple[Param, ...] = ()
    queue: Name | None = None
    description: Literal | None = None
    wait_for: Literal | None = None
    wait_until: Expr | None = None
    after: tuple[Dependency, ...] = ()
    before: tuple[Dependency, ...] = ()
    when: Expr | None = None
    sets: tuple[SetsLine, ...] = ()
    compensate: OperationCall | PythonCall | None = None
    point_of_no_return: PointOfNoReturn | None = None
    due: Literal | None = None
    retry: RetrySpec | None = None
    timeout: Literal | None = None
    fallout: Name | None = None  # the queue a fatal failure opens a fallout task in
    on_amend: AmendStrategy | None = None


@attrs.frozen
class Plan(Node):
    product: Name
    action: Name  # add, modify or delete
    when: Expr | None
    items: tuple[PlanItem, ...]


Declaration = Union[
    Use,
    DefaultRetry,
    DefaultTimeout,
    CommercialProduct,
    TechnicalProduct,
    Table,
    Validation,
    Enrichment,
    Decomposition,
    RetryPolicy,
    System,
    Queue,
    Plan,
    TaskPackage,
]


@attrs.frozen
class Module(Node):
    """One parsed .om file."""

    header: CatalogHeader | LibraryHeader | None
    declarations: tuple[Declaration, ...]
