"""What the core reads off an order's tasks: the dependency graph, a line's
outputs, whether a call is in flight; and time as the order shows it."""

from __future__ import annotations

import datetime

from om_dsl.engine import state as S
from om_dsl.engine.instants import show_instant as _at  # noqa: F401 (the engine modules' name for it)
from om_dsl.model import expr as E

DAY_MS = 86_400_000
CALLING = ("callout", "auto", "compensation")  # the task types that make calls


def _ancestors(tasks: dict, task_id: str) -> set:
    """Every task upstream of this one, through the dependencies."""
    seen: set = set()
    todo = list(tasks[task_id].depends_on)
    while todo:
        t = todo.pop()
        if t in seen or t not in tasks:
            continue
        seen.add(t)
        todo.extend(tasks[t].depends_on)
    return seen


def _line_outputs(tasks: dict, line: str) -> dict:
    """The outputs of the line's completed tasks (their current runs: not a run a revision superseded)."""
    return {t.name: t.outputs for t in tasks.values() if t.line == line and t.status == S.COMPLETED and t.outputs is not None and t.id == f"{line}:{t.name}"}


def across_reads(catalog, product: str, action: str) -> tuple:
    """What the tasks of one plan read of other lines: ((scope, product, task), ...)."""

    def build():
        out = {}
        for plan in catalog.plans:
            reads = set()
            for d in plan.items:
                exprs = [d.when, d.wait_until] + [e for _, e in d.sets] + [e for c in (d.call, d.compensate) if c is not None for _, e in c.args]
                for e in exprs:
                    reads.update(r[:3] for r in E.across(e))
            if reads:
                out[(plan.product, plan.action)] = tuple(sorted(reads, key=str))
        return out

    return catalog.memo("engine.across", build).get((product, action), ())


def across_outputs(lines: dict, tasks: dict, line_id: str, reads: tuple) -> dict:
    """The values of other lines a line's tasks read, keyed as the rules look
    them up (E.across_key): per read, one entry per line of that product in
    the reader's bundle (or order), in line order: the task's outputs when it
    completed (else None), or the line's attributes."""
    me = lines[line_id]
    out = {}
    for scope, product, task in reads:
        found = [lid for lid, l in lines.items() if l.product == product and (scope == "order" or (me.bundle is not None and l.bundle == me.bundle))]
        if task is None:
            out[E.across_key(scope, product, None)] = [lines[lid].values for lid in found]
            continue
        values = []
        for lid in found:
            t = tasks.get(f"{lid}:{task}")
            values.append(t.outputs if t is not None and t.status == S.COMPLETED else None)
        out[E.across_key(scope, product, task)] = values
    return out


def _busy(run: S.OrderRun) -> bool:
    """A call is in flight (it must finish before an amendment or the undoing)."""
    return any(t.status == S.RUNNING and t.type != "wait" for t in run.tasks.values())


def epoch_ms(day: datetime.date) -> int:
    return int(datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.timezone.utc).timestamp() * 1000)



def dispatch_rank(priority) -> int:
    """Where an order's ready work goes among other orders' (lower first): its
    TMF622 priority, "0" (the highest) to "4"; an order without one ranks as "2"."""
    return int(priority) if priority in ("0", "1", "2", "3", "4") else 2


def _has_type(value, type_: str) -> bool:
    """Is an answer's value of the type the plan declares for that output?"""
    from decimal import Decimal

    if type_ == "string":
        return isinstance(value, str)
    if type_ == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if type_ == "decimal":
        return isinstance(value, (int, Decimal)) and not isinstance(value, bool)
    if type_ == "bool":
        return isinstance(value, bool)
    if type_ == "date":
        return isinstance(value, datetime.date)
    return True
