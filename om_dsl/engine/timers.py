"""Jeopardy and timers: how time alone changes an order (a task's due time
passed or near, a retry or a wait due, a callback overdue). Pure: `now`
comes in the event."""

from __future__ import annotations

import math
from typing import Optional

from om_dsl.engine import state as S
from om_dsl.engine.events import Step
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
    """The part of the engine that time drives (mixed into `Engine`)."""

    def _timers(self, step: Step, now: int) -> None:
        for task in step.run.tasks.values():
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
        worst = None
        for task in r.tasks.values():
            level = _jeopardy_of(task, now)
            if level != task.jeopardy:
                if level in (S.YELLOW, S.RED):
                    self._record(step, task.id, None, None, f"jeopardy {task.jeopardy or S.GREEN} -> {level or 'done'}", now)
                task.jeopardy = level
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

    def _set_wake_times(self, r: S.OrderRun) -> None:
        """Each task's next wake-up, kept in the state so that a driver can set its timer (`next_timer`)."""
        due = _due_wake_at(r)
        for task in r.tasks.values():
            task.wake_at = _wake_at(task)
            # The order's due date wakes it too: through its open tasks, whose
            # wake times are what drivers keep (an order not done has one).
            if due is not None and task.status not in S.DONE and task.status != S.CANCELLED:
                task.wake_at = due if task.wake_at is None else min(task.wake_at, due)

    def next_timer(self, run: S.OrderRun) -> Optional[int]:
        due = [t.wake_at for t in run.tasks.values() if t.wake_at is not None]
        return min(due) if due else None
