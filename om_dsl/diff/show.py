"""How model elements read in a diff: in the syntax of the .om language,
as far as it goes (expressions through `om_dsl.model.expr.render`)."""

from __future__ import annotations

from typing import Optional

from om_dsl.model import expr as E
from om_dsl.model.catalog import (
    AttributeDef,
    CallDef,
    ChildDef,
    PlanItemDef,
    RetryPolicyDef,
)


def expr(e) -> Optional[str]:
    return None if e is None else E.render(e)


def const(v) -> str:
    return E.render(v)


def duration(ms: Optional[int]) -> Optional[str]:
    return None if ms is None else E.render(("duration", ms))


def values(vs) -> str:
    return "{" + ", ".join(const(v) for v in vs) + "}"


def allowed(a: AttributeDef) -> Optional[str]:
    return None if a.allowed is None else values(a.allowed)


def range_(a: AttributeDef) -> Optional[str]:
    return None if a.range is None else f"{const(a.range[0])}..{const(a.range[1])}"


def attribute(a: AttributeDef) -> str:
    """`int in {100, 300, 1000} = 300`, `string required`, `string optional`."""
    return a.describe()


def child(c: ChildDef) -> str:
    if c.max == c.min:
        return f"[{c.min}]"
    return f"[{c.min}..{'*' if c.max is None else c.max}]"


def retry(r: Optional[RetryPolicyDef]) -> Optional[str]:
    if r is None:
        return None
    classes = (" for " + ", ".join(r.retry_on) if r.retry_on is not None else "") + (" fatal " + ", ".join(r.fatal_on) if r.fatal_on else "")
    return _retry_kind(r) + classes


def _retry_kind(r: RetryPolicyDef) -> str:
    if r.kind == "none":
        return "none"
    if r.kind == "fixed":
        times = "forever" if r.count is None else f"{r.count} times"
        return f"fixed {times} every {duration(r.delays_ms[0])}"
    if r.kind == "staggered":
        return "staggered " + ", ".join(duration(d) for d in r.delays_ms)
    return f"exponential {r.count} times from {duration(r.delays_ms[0])} factor {r.factor} cap {duration(r.cap_ms)}"


def params(ps) -> str:
    return "(" + ", ".join(f"{p.name}: {p.type}" for p in ps) + ")"


def operation(o) -> str:
    text = o.name + params(o.inputs)
    if o.outputs:
        text += " -> " + params(o.outputs)
    if o.is_async:
        text += " async"
    return text


def call(c: Optional[CallDef]) -> Optional[str]:
    if c is None:
        return None
    args = ", ".join(f"{name} = {E.render(e)}" for name, e in c.args)
    target = c.target if c.kind == "operation" else f'python "{c.target}"'
    return f"{target}({args})"


def task(i: PlanItemDef) -> str:
    """One line: `callout inventory.reserve_port(...) after check_address`."""
    text = i.kind
    if i.call is not None:
        text += " " + call(i.call)
    if i.queue is not None:
        text += f" queue {i.queue}"
    if i.wait_for_ms is not None:
        text += f" for {duration(i.wait_for_ms)}"
    if i.wait_until is not None:
        text += f" until {expr(i.wait_until)}"
    if i.when is not None:
        text += f" when {expr(i.when)}"
    if i.after:
        text += " after " + ", ".join(d.describe() for d in i.after)
    if i.before:
        text += " before " + ", ".join(d.describe() for d in i.before)
    if i.on_amend is not None:
        text += f" on amend {i.on_amend}"
    return text


def edges(plan_items) -> dict[str, tuple[str, str]]:
    """The dependency edges a plan declares, `A -> B` (A runs first) -> (task, clause)."""
    out = {}
    for i in plan_items:
        for d in i.after:
            out[f"{d.describe()} -> {i.name}"] = (i.name, f"after {d.describe()}")
        for d in i.before:
            out[f"{i.name} -> {d.describe()}"] = (i.name, f"before {d.describe()}")
    return out
