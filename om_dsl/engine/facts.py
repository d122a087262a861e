"""What the core reads off an order's tasks: the dependency graph, a line's
outputs, whether a call is in flight; and time as the order shows it."""

from __future__ import annotations

import datetime

from om_dsl.engine import state as S
from om_dsl.engine.instants import show_instant as _at  # noqa: F401 (the engine modules' name for it)

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


def _busy(run: S.OrderRun) -> bool:
    """A call is in flight (it must finish before an amendment or the undoing)."""
    return any(t.status == S.RUNNING and t.type != "wait" for t in run.tasks.values())


def epoch_ms(day: datetime.date) -> int:
    return int(datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.timezone.utc).timestamp() * 1000)



def dispatch_rank(priority) -> int:
    """Where an order's ready work goes among other orders' (lower first): its
    TMF622 priority, "0" (the highest) to "4"; an order without one ranks as "2"."""
    return int(priority) if priority in ("0", "1", "2", "3", "4") else 2
