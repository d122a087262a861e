"""Cancellation and compensation: a cancelled order stops starting tasks, lets
running calls finish, then undoes its completed tasks that have a
compensation, the last completed first. The undo tasks are also what an
amendment uses to undo a task it removes or does again (`amend.py`).
A point of no return refuses both."""

from __future__ import annotations

from typing import Optional

from om_dsl.engine import commands as Cmd
from om_dsl.engine import progress
from om_dsl.engine import state as S
from om_dsl.engine.events import CancelRequested, GiveUp, Rejection, Step
from om_dsl.planning import keys as K
from om_dsl.planning.order import EvaluationError


class Cancelling:
    """The part of the engine that cancels and undoes (mixed into `Engine`)."""

    def _ponr(self, r: S.OrderRun, bundles: Optional[set], force: bool, what: str) -> None:
        """Refuse a change past a point of no return: hard always, soft unless forced."""
        for task in r.tasks.values():
            if task.status != S.COMPLETED or task.type == "compensation":
                continue
            if bundles is not None and r.lines[task.line].bundle not in bundles:
                continue
            kind = self._definition(task).point_of_no_return
            if kind == "hard" or (kind == "soft" and not force):
                hint = "" if kind == "hard" else " (a soft point of no return: force it to go ahead)"
                raise Rejection(f"{what} is past the point of no return: {task.id} completed{hint}")

    def _cancel(self, step: Step, event: CancelRequested, now: int) -> None:
        r = step.run
        if r.cancelling:
            raise Rejection(f"order {r.id} is being " + ("given up" if r.giving_up else "cancelled already"))
        self._ponr(r, None, event.force, f"cancelling order {r.id}")
        old = r.status
        r.status = S.ASSESSING_CANCELLATION
        self._record(step, "order", old, S.ASSESSING_CANCELLATION, f"cancellation asked by {event.by}" + (f": {event.reason}" if event.reason else ""), now)
        self._publish(step, "CancelProductOrderCreateEvent", now, cancellation={"state": "acknowledged", "reason": event.reason, "by": event.by})
        self._publish(step, "ProductOrderStateChangeEvent", now)
        self._stop(step, now)

    def _give_up(self, step: Step, event: GiveUp, now: int) -> None:
        """An operator gives a held order up: nothing new starts, running calls
        finish, the work of the items that did not complete is undone (the
        order's own lines' too when no item completed); the order ends
        partial when an item completed, failed when none did."""
        r = step.run
        if r.cancelling:
            raise Rejection(f"order {r.id} is being " + ("given up already" if r.giving_up else "cancelled"))
        if r.status != S.HELD:
            raise Rejection(f"order {r.id} is {r.status}, not held: only a held order can be given up" + (" (cancel it instead)" if r.status == S.IN_PROGRESS else ""))
        r.giving_up = True
        self._record(step, "order", None, None, f"given up by {event.by}: {event.reason}", now)
        self._stop(step, now)

    def _stop(self, step: Step, now: int) -> None:
        """Nothing new starts; what waits is cancelled (an undo under way goes on)."""
        r = step.run
        r.cancelling = True
        r.frozen = False
        if r.pending is not None:
            self._record(step, "order", None, None, f"revision {r.pending['revision']} dropped: the order is " + ("given up" if r.giving_up else "cancelled"), now)
            r.pending = None
        for task in r.tasks.values():
            if task.type == "compensation":
                task.depends_on = [d for d in task.depends_on if r.tasks[d].type == "compensation"]  # an undo under way goes on
                continue
            if task.status in (S.PENDING, S.READY, S.FAILED, S.ON_HOLD, S.FATALLY_FAILED) or (task.status == S.RUNNING and task.type == "wait"):
                task.next_at = None
                self._set(step, task, S.CANCELLED, "the order is given up" if r.giving_up else "the order is cancelled", now)
        r.index = None  # undo tasks rewired: the index is built again
        step.reshaped = True

    def _plan_compensation(self, step: Step, now: int) -> None:
        """Undo the completed tasks that have a compensation, one after the
        other, the last completed first (so a task is undone after every task
        that depended on it)."""
        r = step.run
        r.compensation_planned = True
        has_undo = {t.undoes for t in r.tasks.values() if t.type == "compensation"}
        kept = self._kept_lines(r) if r.giving_up else set()
        done = [
            t for t in r.tasks.values()
            if t.status == S.COMPLETED and t.type != "compensation" and t.id not in has_undo and "@" not in t.id and t.line not in kept and self._definition(t).compensate is not None
        ]
        done.sort(key=lambda t: (-(t.done_seq or 0), t.id))
        previous = None
        for t in done:
            undo = self._undo_task(r, t, [previous] if previous else [])
            previous = undo.id
            self._record(step, undo.id, None, S.PENDING, f"to undo {t.id} ({self._definition(t).compensate.target})", now)
        if not done:
            self._record(step, "order", None, None, "nothing to undo", now)

    def _kept_lines(self, r: S.OrderRun) -> set:
        """Given up: the lines whose work stays, those of the items that completed
        (and the order's own lines, when any item did)."""
        done = progress.completed_items(r)
        return {k for k, line in r.lines.items() if (line.source_item in done) or (line.source_item is None and done)}

    def _undo_task(self, r: S.OrderRun, task: S.TaskRun, depends_on: list) -> S.TaskRun:
        d = self._definition(task)
        system = d.compensate.target.split(".", 1)[0] if d.compensate.kind == "operation" else None
        undo = S.TaskRun(
            f"{task.id}:undo{task.generation if task.generation > 1 else ''}",
            f"undo {task.name}",
            "compensation",
            task.product,
            task.action,
            task.line,
            depends_on,
            key=K.undo_key(r.id, task.id, task.generation),
            system=system,
            undoes=task.id,
        )
        r.tasks[undo.id] = undo
        return undo

    def _dispatch_undo(self, step: Step, task: S.TaskRun, now: int, retry: bool, cause: Optional[str]) -> None:
        r = step.run
        done = r.tasks[task.undoes]
        d = self._definition(done)
        line = r.lines[done.line]
        outputs = self._outputs(r, done.line)
        outputs[done.name] = done.outputs or {}  # the run being undone: its own outputs
        try:
            args = self.rules.compensation_args(done.product, done.action, done.name, line.values, outputs, self._order_view(r), line.previous)
        except EvaluationError as exc:
            task.error = f"{exc.element} ({exc.source}): {exc.message}"
            self._set(step, task, S.FATALLY_FAILED, f"cannot evaluate: {task.error}", now)
            return
        task.args = args
        task.attempts += 1
        self._set(step, task, S.RUNNING, f"attempt {task.attempts}" + (" (retry)" if retry else "") + (f", {cause}" if cause else ""), now)
        attempt = dict(order=r.id, task=task.id, key=task.key, attempt=task.attempts, args=args)
        if d.compensate.kind == "operation":
            system, operation = d.compensate.target.split(".", 1)
            op = self.catalog.operation(system, operation)
            step.commands.append(Cmd.Call(system=system, operation=operation, is_async=op.is_async, outputs=[[p.name, p.type] for p in op.outputs], timeout_ms=op.timeout_ms, **attempt))
        else:
            step.commands.append(Cmd.AutoTask(target=d.compensate.target, timeout_ms=d.timeout_ms, **attempt))

    def _undo_operation(self, task: S.TaskRun):
        """A compensation task's operation (None for a Python compensation)."""
        call = self._definition(self._undone(task)).compensate
        if call.kind != "operation":
            return None
        return self.catalog.operation(*call.target.split(".", 1))

    def _undone(self, task: S.TaskRun) -> S.TaskRun:
        return self._current_run.tasks[task.undoes]

