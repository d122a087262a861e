"""The engine core: (order state, event) -> (new state, commands, history).

Pure and deterministic: no I/O, no clock (every event carries `now`, in ms),
no threads. The embedded runner (SQLite) and, later, a Temporal workflow
drive the same core. Expressions (conditions, arguments, values set on the
line) are evaluated through the catalog's rules, generated or interpreted,
which are pure functions too.

Commands are what the driver must do next: `call` a system's operation,
run a `python` auto task, `notify` the originating system of an order event
(TMF622-shaped: created, state changed, jeopardy). Each `call` and `python`
carries an idempotency key that stays the same when the command is repeated
(after a crash, or a retry), so that a system applies it once; each event
has an id of its own, for the receiver to do the same.
"""

from __future__ import annotations

import copy
import datetime
from typing import Optional

import attrs

from om_dsl.model.catalog import Catalog
from om_dsl.runtime.engine import state as S
from om_dsl.runtime.engine.retry import retry_delay
from om_dsl.runtime.order import EvaluationError

DAY_MS = 86_400_000
CALLING = ("callout", "auto")  # the task types that make calls


# ---- events ----------------------------------------------------------------------------------


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
class TimePassed:
    """The clock moved on: retries and waits that are due go ahead."""

    now: int


@attrs.define
class Step:
    run: S.OrderRun
    commands: list  # [dict]
    history: list  # [dict]: at, subject, from, to, cause


class Rejection(Exception):
    """An event that does not apply to the order as it is (completing a task that is not open...)."""


_RANK = {S.GREEN: 0, S.YELLOW: 1, S.RED: 2}


def _jeopardy_of(task: S.TaskRun, now: int) -> Optional[str]:
    if task.due_at is None or task.status in S.DONE or task.status == S.CANCELLED:
        return None
    if now >= task.due_at:
        return S.RED
    if now >= task.started_at + S.YELLOW_SHARE * (task.due_at - task.started_at):
        return S.YELLOW
    return S.GREEN


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


def _has_type(value, type_: str) -> bool:
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


def _at(ms: int) -> str:
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch_ms(day: datetime.date) -> int:
    return int(datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.timezone.utc).timestamp() * 1000)


class Engine:
    def __init__(self, catalog: Catalog, rules):
        self.catalog = catalog
        self.rules = rules

    # ---- starting an order -------------------------------------------------------------------

    def start(self, planned, catalog_sha: str, now: int) -> Step:
        """A planned order (om_dsl.runtime.planning.PlannedOrder) begins."""
        order = planned.order
        fields = {k: v for k, v in order.fields.items() if k not in ("root_items", "items")}
        items = [S.ItemRecord(i.id, i.product, i.action, i.parent.id if i.parent else None, dict(i.values), i.asset_id) for i in order.items]
        lines = {l.id: S.LineRun(l.product, l.action, dict(l.values), l.bundle, l.source_item, l.rule, l.key, l.source_asset, l.previous) for l in planned.lines}
        tasks = {}
        for it in planned.plan.items:
            d = it.definition
            system = d.call.target.split(".", 1)[0] if it.type == "callout" else None
            tasks[it.id] = S.TaskRun(it.id, it.name, it.type, it.product, it.action, it.line, list(it.depends_on), queue=d.queue, key=f"{order.id}:{it.id}:1", system=system)
        run = S.OrderRun(order.id, catalog_sha, S.ACKNOWLEDGED, fields, items, lines, tasks, now, now, fields.get("external_id"))
        step = Step(run, [], [])
        self._record(step, "order", None, S.ACKNOWLEDGED, "order accepted", now)
        self._publish(step, "ProductOrderCreateEvent", now)
        for s in planned.plan.skipped:
            self._record(step, s.id, None, S.SKIPPED, f"skipped at planning: {s.reason}", now)
        self._advance(step, now)
        return step

    # ---- events --------------------------------------------------------------------------------

    def handle(self, run: S.OrderRun, event) -> Step:
        step = Step(copy.deepcopy(run), [], [])
        now = event.now
        r = step.run
        if r.status in S.FINAL:
            raise Rejection(f"order {r.id} is {r.status}")
        if isinstance(event, CallSucceeded):
            task = self._open(r, event.task, (S.RUNNING,), CALLING)
            task.next_at = None
            self._answer(step, task, event.outputs, "the system answered" if task.type == "callout" else "the auto task returned", now)
        elif isinstance(event, CallAccepted):
            task = self._open(r, event.task, (S.RUNNING,), CALLING)
            timeout = self._definition(task).timeout_ms
            task.next_at = now + timeout if timeout else None  # no callback by then: the call failed
            self._record(step, task.id, S.RUNNING, S.RUNNING, "acknowledged: waiting for the callback", now)
        elif isinstance(event, CallFailed):
            task = self._open(r, event.task, (S.RUNNING,), CALLING)
            self._fail(step, task, event.message, event.retryable, now)
        elif isinstance(event, CallbackReceived):
            task = next((t for t in r.tasks.values() if t.key == event.key), None)
            # A late answer (after the deadline, while the retry waits) is an answer all the same.
            late = task is not None and task.status == S.FAILED and task.type == "callout" and self._definition(task).is_async
            if task is None or (task.status != S.RUNNING and not late):
                what = "unknown" if task is None else f"for {task.id}, which is {task.status}"
                self._record(step, task.id if task else "order", None, None, f"callback {event.key} ignored: {what}", now)
            elif event.ok:
                task.next_at = None
                self._answer(step, task, event.outputs, "callback received", now)
            else:
                self._fail(step, task, event.message, False, now)
        elif isinstance(event, ManualCompleted):
            task = self._open(r, event.task, (S.READY,))
            if task.type != "manual":
                raise Rejection(f"{task.id} is a {task.type}, not a manual task")
            self._complete(step, task, dict(event.data), f"completed by {event.by}", now)
        elif isinstance(event, TimePassed):
            self._timers(step, now)
        elif isinstance(event, OperatorRetry):
            task = self._open(r, event.task, (S.FATALLY_FAILED, S.FAILED, S.ON_HOLD))
            self._retry_now(step, task, f"retried by {event.by}" + (f": {event.reason}" if event.reason else ""), now)
        elif isinstance(event, OperatorSkip):
            task = r.tasks.get(event.task)
            if task is None:
                raise Rejection(f"order {r.id} has no task {event.task}")
            if task.status in S.DONE or task.status == S.CANCELLED or (task.status == S.RUNNING and task.type != "wait"):
                raise Rejection(f"task {task.id} of order {r.id} is {task.status}: " + ("it is done" if task.status in S.DONE else "its call is in flight; wait for its answer"))
            task.next_at = None
            self._set(step, task, S.SKIPPED, f"skipped by {event.by}: {event.reason}", now)
        elif isinstance(event, OrderResume):
            if r.status != S.HELD:
                raise Rejection(f"order {r.id} is {r.status}, not held")
            for task in r.tasks.values():
                if task.status == S.FATALLY_FAILED:
                    self._retry_now(step, task, f"order resumed by {event.by}" + (f": {event.reason}" if event.reason else ""), now)
        elif isinstance(event, SystemOffline):
            task = self._open(r, event.task, (S.RUNNING,), ("callout",))
            task.attempts -= 1  # the call was not made
            self._set(step, task, S.ON_HOLD, f"system {task.system} is offline", now)
        elif isinstance(event, SystemOnline):
            for task in r.tasks.values():
                if task.status == S.ON_HOLD and task.system == event.system:
                    self._dispatch(step, task, now, cause=f"system {event.system} is online again")
        else:  # pragma: no cover - programming error
            raise TypeError(event)
        self._advance(step, now)
        return step

    def _open(self, r: S.OrderRun, task_id: str, states, types=None) -> S.TaskRun:
        task = r.tasks.get(task_id)
        if task is None:
            raise Rejection(f"order {r.id} has no task {task_id}")
        if types is not None and task.type not in types:
            raise Rejection(f"task {task_id} of order {r.id} is a {task.type}: it makes no calls")
        if task.status not in states:
            raise Rejection(f"task {task_id} of order {r.id} is {task.status}, not {' or '.join(states)}")
        return task

    # ---- transitions ------------------------------------------------------------------------------

    def _record(self, step: Step, subject: str, old, new, cause: str, now: int) -> None:
        step.history.append({"at": now, "subject": subject, "from": old, "to": new, "cause": cause})

    def _set(self, step: Step, task: S.TaskRun, new: str, cause: str, now: int) -> None:
        old = task.status
        task.status = new
        self._record(step, task.id, old, new, cause, now)

    def _definition(self, task: S.TaskRun):
        return self.catalog.plan(task.product, task.action).item(task.name)

    def _outputs(self, r: S.OrderRun, line: str) -> dict:
        return {t.name: t.outputs for t in r.tasks.values() if t.line == line and t.status == S.COMPLETED and t.outputs is not None}

    def _order_view(self, r: S.OrderRun) -> dict:
        o = dict(r.fields)
        o["items"] = list(r.items)
        o["root_items"] = [i for i in r.items if i.parent is None]
        return o

    def _eval(self, step: Step, task: S.TaskRun, fn, now: int):
        """Evaluate one of the task's expressions; an expression fault fatally fails the task."""
        r = step.run
        line = r.lines[task.line]
        try:
            return True, fn(task.product, task.action, task.name, line.values, self._outputs(r, task.line), self._order_view(r), line.previous)
        except EvaluationError as exc:
            task.error = f"{exc.element} ({exc.source}): {exc.message}"
            self._set(step, task, S.FATALLY_FAILED, f"cannot evaluate: {task.error}", now)
            return False, None

    def _complete(self, step: Step, task: S.TaskRun, outputs: dict, cause: str, now: int) -> None:
        task.outputs = outputs
        task.finished_at = now
        task.next_at = None
        self._set(step, task, S.COMPLETED, cause, now)
        d = self._definition(task)
        if d.sets:
            ok, values = self._eval(step, task, self.rules.task_sets, now)
            if ok:
                step.run.lines[task.line].values.update(values)
                self._record(step, task.line, None, None, "line attributes set: " + ", ".join(f"{k}" for k in sorted(values)), now)

    def _answer(self, step: Step, task: S.TaskRun, outputs: dict, cause: str, now: int) -> None:
        """A call's answer: it must carry every output the plan declares, of its type."""
        wrong = []
        for p in self._definition(task).outputs:
            value = outputs.get(p.name)
            if value is None:
                wrong.append(f"no `{p.name}`")
            elif not _has_type(value, p.type):
                wrong.append(f"`{p.name}` = {value!r} is not {'an' if p.type == 'int' else 'a'} {p.type}")
        if wrong:
            self._fail(step, task, "the answer does not fit the plan: " + "; ".join(wrong), False, now)
            return
        declared = {p.name for p in self._definition(task).outputs}
        self._complete(step, task, {k: v for k, v in outputs.items() if k in declared}, cause, now)

    def _fail(self, step: Step, task: S.TaskRun, message: str, retryable: bool, now: int) -> None:
        task.error = message
        d = self._definition(task)
        delay = retry_delay(d.retry, task.attempts) if retryable else None
        if delay is None:
            why = "not retryable" if not retryable else f"no retry left after {task.attempts} attempt{'s' if task.attempts != 1 else ''}"
            self._set(step, task, S.FATALLY_FAILED, f"{message} ({why})", now)
        else:
            task.next_at = now + delay
            self._set(step, task, S.FAILED, f"{message}; retry {task.attempts} of the policy in {delay // 1000} s", now)

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
                self._fail(step, task, f"no callback within {self._definition(task).timeout_ms // 1000} s", True, now)

    # ---- moving on ---------------------------------------------------------------------------------

    def _advance(self, step: Step, now: int) -> None:
        r = step.run
        progressed = True
        while progressed:
            progressed = False
            for task in r.tasks.values():
                if task.status != S.PENDING:
                    continue
                if all(r.tasks[d].status in S.DONE for d in task.depends_on if d in r.tasks):
                    self._ready(step, task, now)
                    progressed = True
        self._roll_up(step, now)
        self._jeopardy(step, now)
        for task in r.tasks.values():
            task.wake_at = _wake_at(task)
        if any(h["to"] is not None for h in step.history):
            r.updated_at = now

    def _ready(self, step: Step, task: S.TaskRun, now: int) -> None:
        d = self._definition(task)
        if d.when is not None:
            ok, holds = self._eval(step, task, self.rules.task_when, now)
            if not ok:
                return
            if not holds:
                self._set(step, task, S.SKIPPED, "its condition is false", now)
                return
        task.started_at = now
        if d.due_ms is not None:
            task.due_at = now + d.due_ms
        if task.type == "milestone":
            self._set(step, task, S.READY, "its dependencies completed", now)
            self._complete(step, task, {}, "milestone reached", now)
        elif task.type == "manual":
            self._set(step, task, S.READY, f"waiting for a person in queue {task.queue}", now)
        elif task.type == "wait":
            self._start_wait(step, task, d, now)
        else:
            self._set(step, task, S.READY, "its dependencies completed", now)
            self._dispatch(step, task, now)

    def _start_wait(self, step: Step, task: S.TaskRun, d, now: int) -> None:
        if d.wait_for_ms is not None:
            due = now + d.wait_for_ms
        else:
            ok, day = self._eval(step, task, self.rules.wait_until, now)
            if not ok:
                return
            due = epoch_ms(day) if day is not None else now
        if due <= now:
            self._set(step, task, S.RUNNING, "waiting", now)
            self._complete(step, task, {}, "the date has come", now)
            return
        task.next_at = due
        self._set(step, task, S.RUNNING, f"waiting until {_at(due)}", now)

    def _retry_now(self, step: Step, task: S.TaskRun, cause: str, now: int) -> None:
        """An operator's retry: a call goes out again (its policy starts over);
        a task that makes no calls (it failed evaluating its condition) is
        taken back to pending, to be evaluated again."""
        task.attempts = 0
        task.error = None
        task.next_at = None
        if task.type not in CALLING:
            self._set(step, task, S.PENDING, cause, now)
            return
        self._dispatch(step, task, now, cause=cause)

    def _dispatch(self, step: Step, task: S.TaskRun, now: int, retry: bool = False, cause: Optional[str] = None) -> None:
        d = self._definition(task)
        ok, args = self._eval(step, task, self.rules.task_args, now)
        if not ok:
            return
        task.attempts += 1
        cause = f"attempt {task.attempts}" + (" (retry)" if retry else "") + (f", {cause}" if cause else "")
        self._set(step, task, S.RUNNING, cause, now)
        command = {"order": step.run.id, "task": task.id, "key": task.key, "attempt": task.attempts, "args": args, "timeout_ms": d.timeout_ms}
        if task.type == "callout":
            system, operation = d.call.target.split(".", 1)
            command.update(kind="call", system=system, operation=operation, is_async=d.is_async, outputs=[[p.name, p.type] for p in d.outputs])
        else:
            command.update(kind="python", target=d.call.target)
        step.commands.append(command)

    def _roll_up(self, step: Step, now: int) -> None:
        r = step.run
        states = [t.status for t in r.tasks.values()]
        if all(s in S.DONE for s in states):
            new = S.ORDER_COMPLETED
        elif any(s == S.FATALLY_FAILED for s in states):
            new = S.HELD
        else:
            new = S.IN_PROGRESS
        if new != r.status:
            old = r.status
            r.status = new
            cause = {S.ORDER_COMPLETED: "every task is completed or skipped", S.HELD: "a task fatally failed: an operator must act", S.IN_PROGRESS: "tasks are running"}[new]
            self._record(step, "order", old, new, cause, now)
            self._publish(step, "ProductOrderStateChangeEvent", now)

    # ---- jeopardy and events ----------------------------------------------------------------------------

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
        if worst != r.jeopardy:
            old = r.jeopardy
            r.jeopardy = worst
            if worst in (S.YELLOW, S.RED) or old in (S.YELLOW, S.RED):
                self._record(step, "order", None, None, f"jeopardy {old or S.GREEN} -> {worst or S.GREEN}", now)
            if worst == S.RED:
                self._publish(step, "ProductOrderJeopardyEvent", now)

    def _publish(self, step: Step, event_type: str, now: int) -> None:
        """An order event for the originating system, TMF622-shaped, with an id of its own."""
        r = step.run
        r.events += 1
        order = {"id": r.id, "externalId": r.external_id, "state": r.status}
        if event_type == "ProductOrderJeopardyEvent":
            order["jeopardy"] = r.jeopardy
            order["tasksInJeopardy"] = sorted(t.id for t in r.tasks.values() if t.jeopardy == S.RED)
        step.commands.append(
            {"kind": "notify", "order": r.id, "key": f"{r.id}:event:{r.events}", "event": {"eventId": f"{r.id}:event:{r.events}", "eventTime": _at(now), "eventType": event_type, "event": {"productOrder": order}}}
        )

    # ---- what an order waits for -----------------------------------------------------------------------

    def waiting_for(self, run: S.OrderRun, task: S.TaskRun) -> Optional[str]:
        """Why a task that is not done has not moved on (operators ask)."""
        if task.status == S.PENDING:
            open_deps = [d for d in task.depends_on if d in run.tasks and run.tasks[d].status not in S.DONE]
            if not open_deps:
                return None
            shown = ", ".join(f"{d} ({run.tasks[d].status})" for d in open_deps[:3])
            more = f" and {len(open_deps) - 3} more" if len(open_deps) > 3 else ""
            return f"waiting for {shown}{more}"
        if task.status == S.READY and task.type == "manual":
            return f"waiting for a person in queue {task.queue}"
        if task.status == S.RUNNING and task.type == "wait" and task.next_at:
            return f"waiting until {_at(task.next_at)}"
        if task.status == S.RUNNING and task.next_at:
            return f"waiting for the callback, until {_at(task.next_at)}"
        if task.status == S.RUNNING:
            return "waiting for the system to answer"
        if task.status == S.FAILED and task.next_at:
            return f"retry due at {_at(task.next_at)}"
        if task.status == S.FATALLY_FAILED:
            return f"fatally failed: {task.error}"
        if task.status == S.ON_HOLD:
            return f"on hold: system {task.system} is offline"
        return None

    def next_timer(self, run: S.OrderRun) -> Optional[int]:
        due = [t.wake_at for t in run.tasks.values() if t.wake_at is not None]
        return min(due) if due else None
