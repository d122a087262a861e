"""Jeopardy and timers: how time alone changes an order (a task's due time
passed or near, a retry or a wait due, a callback overdue). Pure: `now`
comes in the event."""

from __future__ import annotations

import math
from typing import Optional

from om_dsl.engine import state as S
from om_dsl.engine.events import Step
from om_dsl.engine.index import UNKNOWN, OrderIndex
from om_dsl.engine.instants import show_instant as _at

_RANK = {S.GREEN: 0, S.YELLOW: 1, S.RED: 2}


def _jeopardy_of(task: S.TaskRun, now: int) -> Optional[str]:
    if task.due_at is None or task.status in S.DONE or task.status == S.CANCELLED:
        return None
    if now >= task.due_at:
        return S.RED
    if now >= task.started_at + S.YELLOW_SHARE * (task.due_at - task.started_at):
        return S.YELLOW
    return S.GREEN


def _due_jeopardy(r: S.OrderRun, now: int) -> Optional[str]:
    """How the order is doing against its requested completion (TMF622
    requestedCompletionDate, `due_at`): as a task against its due time."""
    due = r.fields.get("due_at")
    if due is None or r.status in S.FINAL or r.status == S.DRAFT:
        return None
    if now >= due:
        return S.RED
    if now >= r.created_at + S.YELLOW_SHARE * (due - r.created_at):
        return S.YELLOW
    return S.GREEN


def _due_wake_at(r: S.OrderRun) -> Optional[int]:
    due = r.fields.get("due_at")
    if r.due_jeopardy == S.GREEN:
        return math.ceil(r.created_at + S.YELLOW_SHARE * (due - r.created_at))  # not before it turns yellow
    if r.due_jeopardy == S.YELLOW:
        return due
    return None


def _wake_at(task: S.TaskRun) -> Optional[int]:
    """The next moment at which time alone changes the task."""
    times = []
    if task.next_at is not None and task.status in (S.FAILED, S.RUNNING):
        times.append(task.next_at)
    if task.jeopardy == S.GREEN:
        times.append(int(task.started_at + S.YELLOW_SHARE * (task.due_at - task.started_at)))
    elif task.jeopardy == S.YELLOW:
        times.append(task.due_at)
    return min(times) if times else None


class Timing:
    """The part of the engine that time drives (mixed into `Engine`). It looks
    only at the tasks time can change (`OrderIndex.timed`), in plan order."""

    def _timers(self, step: Step, now: int) -> None:
        r = step.run
        ix = OrderIndex.of(r)
        for tid in ix.in_order(ix.timed):
            task = r.tasks[tid]
            if task.next_at is None or task.next_at > now:
                continue
            if task.status == S.FAILED:
                task.next_at = None
                self._dispatch(step, task, now, retry=True)
            elif task.status == S.RUNNING and task.type == "wait":
                self._complete(step, task, {}, "the wait is over", now)
            elif task.status == S.RUNNING:  # an acknowledged call whose callback is overdue
                task.next_at = None
                self._fail(step, task, f"no callback within {self._timeout(task) // 1000} s", True, now, "timeout")

    def _jeopardy(self, step: Step, now: int) -> None:
        r = step.run
        ix = OrderIndex.of(r)
        worst = None
        for tid in ix.in_order(ix.due | step.changed):
            task = r.tasks.get(tid)
            if task is None:
                continue
            level = _jeopardy_of(task, now)
            if level != task.jeopardy:
                if level in (S.YELLOW, S.RED):
                    self._record(step, task.id, None, None, f"jeopardy {task.jeopardy or S.GREEN} -> {level or 'done'}", now)
                task.jeopardy = level
                step.changed.add(tid)
            if level is not None and _RANK[level] > _RANK.get(worst, -1):
                worst = level
        level = _due_jeopardy(r, now)
        if level != r.due_jeopardy:
            if level in (S.YELLOW, S.RED):
                self._record(step, "order", None, None, f"due date jeopardy {r.due_jeopardy or S.GREEN} -> {level} (requested completion {_at(r.fields['due_at'])})", now)
            r.due_jeopardy = level
        if level is not None and _RANK[level] > _RANK.get(worst, -1):
            worst = level
        if worst != r.jeopardy:
            old = r.jeopardy
            r.jeopardy = worst
            if worst in (S.YELLOW, S.RED) or old in (S.YELLOW, S.RED):
                self._record(step, "order", None, None, f"jeopardy {old or S.GREEN} -> {worst or S.GREEN}", now)
            if worst == S.RED:
                late = sorted((t for t in r.tasks.values() if t.jeopardy == S.RED), key=lambda t: t.id)
                tasks = [{"id": t.id, "name": t.name, "item": r.lines[t.line].source_item, "due": t.due_at} for t in late]
                overdue = {"due": r.fields["due_at"]} if r.due_jeopardy == S.RED else None  # the order itself, past its requested completion
                self._publish(step, "ProductOrderJeopardyAlertEvent", now, jeopardy={"level": S.RED, "tasks": tasks, **({"order": overdue} if overdue else {})})

    def _set_wake_times(self, step: Step) -> None:
        """Each task's next wake-up, kept in the state so that a driver can set its timer (`next_timer`).
        The order's due date wakes it too: through its open tasks, whose wake
        times are what drivers keep (an order not done has one). Only a task the
        step changed, or one time may change, can have a new one; every task,
        when the order's due wake-up moved."""
        r = step.run
        ix = OrderIndex.of(r)
        due = _due_wake_at(r)
        if ix.due_wake is UNKNOWN and not self._reshaped(step):
            ix.due_wake = due  # an index of an order as stored: its wake times hold the due date as it is
        ids = list(r.tasks) if due != ix.due_wake or self._reshaped(step) else ix.timed | step.changed
        ix.due_wake = due
        for tid in ids:
            task = r.tasks.get(tid)
            if task is None:
                continue
            wake = _wake_at(task)
            if due is not None and task.status not in S.DONE and task.status != S.CANCELLED:
                wake = due if wake is None else min(wake, due)
            if wake != task.wake_at:
                task.wake_at = wake
                step.changed.add(tid)
            ix.track(task)

    def next_timer(self, run: S.OrderRun) -> Optional[int]:
        ix = OrderIndex.of(run)
        due = [run.tasks[tid].wake_at for tid in ix.timed if run.tasks[tid].wake_at is not None]
        order_due = _due_wake_at(run)
        if order_due is not None and ix.open():  # (what every open task's wake time holds)
            due.append(order_due)
        return min(due) if due else None
