"""The events the engine core takes (each carries `now`, in ms: the core reads
no clock), the step it gives back, and the rejection of an event that does
not apply. `core` re-exports them: drivers import them from there."""

from __future__ import annotations

from typing import Optional

import attrs

from om_dsl.engine import state as S
from om_dsl.suggest import did_you_mean

# ---- events ------------------------------------------------------------------------------------


@attrs.frozen
class CallSucceeded:
    task: str
    outputs: dict
    now: int


@attrs.frozen
class CallAccepted:
    """An asynchronous operation acknowledged the call; the answer comes by callback."""

    task: str
    now: int


@attrs.frozen
class CallFailed:
    task: str
    message: str
    retryable: bool
    now: int
    failure: Optional[str] = None  # its kind, for retry policies that choose: "503", "timeout", ...


@attrs.frozen
class CallbackReceived:
    key: str  # the correlation id: the idempotency key of the call
    outputs: dict
    ok: bool
    message: str
    now: int


@attrs.frozen
class ManualCompleted:
    task: str
    data: dict
    by: str
    now: int


@attrs.frozen
class OperatorRetry:
    """An operator retries a failed task (or one held for an offline system)."""

    task: str
    by: str
    reason: str
    now: int


@attrs.frozen
class OperatorSkip:
    """An operator skips a task that has not completed: what depends on it goes ahead."""

    task: str
    by: str
    reason: str
    now: int


@attrs.frozen
class OrderResume:
    """An operator resumes a held order: every fatally failed task is retried."""

    by: str
    reason: str
    now: int


@attrs.frozen
class OrderRelease:
    """A draft order is released: it starts."""

    by: str
    now: int


@attrs.frozen
class InformationRequired:
    """A revision of a draft was refused: the draft lacks what it needs to be
    planned. `missing` is [{"path": JSON pointer, "message"}], as the rejection says."""

    missing: list
    by: str
    now: int


@attrs.frozen
class SystemOffline:
    """The call of a dispatched task was not made: its system is offline. The task waits on hold."""

    task: str
    now: int


@attrs.frozen
class SystemOnline:
    """A system is back: the tasks held for it are dispatched again."""

    system: str
    now: int


@attrs.frozen
class CancelRequested:
    """Cancel the order: nothing new starts, running tasks finish, completed
    tasks with a compensation are undone in reverse order, then cancelled."""

    by: str
    reason: str
    force: bool
    now: int


@attrs.frozen
class GiveUp:
    """An operator gives a held order up: it ends partial (some items completed)
    or failed (none did), once the work of what did not complete is undone."""

    by: str
    reason: str
    now: int


@attrs.frozen
class Amend:
    """A revision of the order (a supplemental order), already planned:
    `plan` is `plan_snapshot(...)` of it."""

    revision: int
    plan: dict
    by: str
    force: bool
    now: int


@attrs.frozen
class OtherOrderProgressed:
    """How an order this one waits for stands (engine/waits.py): its status
    and the milestones it reached. Idempotent: a driver may repeat it."""

    order: str
    status: str
    milestones: tuple
    now: int


@attrs.frozen
class TimePassed:
    """The clock moved on: retries and waits that are due go ahead."""

    now: int


@attrs.define
class Step:
    run: S.OrderRun
    commands: list  # [commands.Command]
    history: list  # [dict]: at, subject, from, to, cause
    # What the step changed, for a driver that writes only that: the tasks and
    # lines, or (`reshaped`: tasks added, removed or rewired) all of them.
    changed: set = attrs.Factory(set)
    lines_changed: set = attrs.Factory(set)
    reshaped: bool = False
    more: bool = False  # ready tasks left to start (handle's max_starts): the driver sends TimePassed
    started: int = 0  # tasks the step started (what handle's max_starts counts)


class Rejection(Exception):
    """An event that does not apply to the order as it is (completing a task that is not open...)."""


def _no_task(r: S.OrderRun, task_id: str) -> Rejection:
    """An operator named a task the order does not have: the closest one is the likely one."""
    hint = did_you_mean(task_id, r.tasks)
    return Rejection(f"order {r.id} has no task {task_id}" + (f"; {hint}" if hint else ""))

