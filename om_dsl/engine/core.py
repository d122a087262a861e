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
has an id of its own, for the receiver to do the same (both formats are
keys.py's: they escape the free ids they hold, so that no two orders share one).
"""

from __future__ import annotations

import datetime
from typing import Optional

import attrs

from om_dsl.engine import commands as Cmd
from om_dsl.engine import state as S
from om_dsl.engine.retry import retry_delay
from om_dsl.model import expr as E
from om_dsl.model.catalog import Catalog
from om_dsl.planning import keys as K
from om_dsl.planning.order import EvaluationError
from om_dsl.suggest import did_you_mean

DAY_MS = 86_400_000
CALLING = ("callout", "auto", "compensation")  # the task types that make calls


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
class CancelRequested:
    """Cancel the order: nothing new starts, running tasks finish, completed
    tasks with a compensation are undone in reverse order, then cancelled."""

    by: str
    reason: str
    force: bool
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
class TimePassed:
    """The clock moved on: retries and waits that are due go ahead."""

    now: int


@attrs.define
class Step:
    run: S.OrderRun
    commands: list  # [Cmd.Command]
    history: list  # [dict]: at, subject, from, to, cause


class Rejection(Exception):
    """An event that does not apply to the order as it is (completing a task that is not open...)."""


def _no_task(r: S.OrderRun, task_id: str) -> Rejection:
    """An operator named a task the order does not have: the closest one is the likely one."""
    hint = did_you_mean(task_id, r.tasks)
    return Rejection(f"order {r.id} has no task {task_id}" + (f"; {hint}" if hint else ""))


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


def plan_snapshot(planned, order_id: str) -> dict:
    """A planned revision as plain data (it may wait in the order's state)."""
    lines = {
        line.id: {
            "product": line.product, "action": line.action, "values": dict(line.values), "bundle": line.bundle, "source_item": line.source_item,
            "rule": line.rule, "key": line.key, "source_asset": line.source_asset, "previous": line.previous,
        }
        for line in planned.lines
    }
    tasks = []
    for it in planned.plan.items:
        d = it.definition
        system = d.call.target.split(".", 1)[0] if it.type == "callout" else None
        tasks.append({"id": it.id, "name": it.name, "type": it.type, "product": it.product, "action": it.action, "line": it.line, "depends_on": list(it.depends_on), "queue": d.queue, "system": system})
    items = [
        {"id": i.id, "product": i.product, "action": i.action, "parent": i.parent.id if i.parent else None, "values": dict(i.values), "asset_id": i.asset_id}
        for i in planned.order.items
    ]
    fields = {k: v for k, v in planned.order.fields.items() if k not in ("root_items", "items")}
    skipped = [[s.id, s.reason] for s in planned.plan.skipped]
    return S.encode_value({"lines": lines, "tasks": tasks, "items": items, "fields": fields, "skipped": skipped})


def _touched_bundles(r: S.OrderRun, plan: dict) -> set:
    """The bundles in which the revision adds, removes or changes a line."""
    plan = S.decode_value(plan)
    touched = set()
    for line_id, data in plan["lines"].items():
        old = r.lines.get(line_id)
        if old is None or old.action != data["action"] or any(old.values.get(k) != v for k, v in data["values"].items() if v is not None):
            touched.add(data["bundle"])
    for line_id, old in r.lines.items():
        if line_id not in plan["lines"]:
            touched.add(old.bundle)
    return touched


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
        """A planned order (om_dsl.planning.pipeline.PlannedOrder) begins."""
        order = planned.order
        fields = {k: v for k, v in order.fields.items() if k not in ("root_items", "items")}
        items = [S.ItemRecord(i.id, i.product, i.action, i.parent.id if i.parent else None, dict(i.values), i.asset_id) for i in order.items]
        lines = {l.id: S.LineRun(l.product, l.action, dict(l.values), l.bundle, l.source_item, l.rule, l.key, l.source_asset, l.previous) for l in planned.lines}
        tasks = {}
        for it in planned.plan.items:
            d = it.definition
            system = d.call.target.split(".", 1)[0] if it.type == "callout" else None
            tasks[it.id] = S.TaskRun(it.id, it.name, it.type, it.product, it.action, it.line, list(it.depends_on), queue=d.queue, key=K.call_key(order.id, it.id), system=system)
        return self._begin(order.id, fields, items, lines, tasks, [(s.id, s.reason) for s in planned.plan.skipped], catalog_sha, now)

    def start_snapshot(self, snapshot: dict, order_id: str, catalog_sha: str, now: int) -> Step:
        """An order planned elsewhere begins: `snapshot` is `plan_snapshot(...)`
        of it (plain data, as a Temporal workflow receives it)."""
        snap = S.decode_value(snapshot)
        items = [S.ItemRecord(i["id"], i["product"], i["action"], i["parent"], i["values"], i["asset_id"]) for i in snap["items"]]
        lines = {line_id: S.LineRun(**data) for line_id, data in snap["lines"].items()}
        tasks = {
            t["id"]: S.TaskRun(t["id"], t["name"], t["type"], t["product"], t["action"], t["line"], list(t["depends_on"]), queue=t["queue"], key=K.call_key(order_id, t["id"]), system=t["system"])
            for t in snap["tasks"]
        }
        return self._begin(order_id, snap["fields"], items, lines, tasks, [tuple(s) for s in snap["skipped"]], catalog_sha, now)

    def _begin(self, order_id: str, fields: dict, items: list, lines: dict, tasks: dict, skipped: list, catalog_sha: str, now: int) -> Step:
        run = S.OrderRun(order_id, catalog_sha, S.ACKNOWLEDGED, fields, items, lines, tasks, now, now, fields.get("external_id"))
        step = Step(run, [], [])
        self._current_run = run
        self._record(step, "order", None, S.ACKNOWLEDGED, "order accepted", now)
        self._publish(step, "ProductOrderCreateEvent", now)
        for task_id, reason in skipped:
            self._record(step, task_id, None, S.SKIPPED, f"skipped at planning: {reason}", now)
        self._advance(step, now)
        return step

    # ---- events --------------------------------------------------------------------------------

    def handle(self, run: S.OrderRun, event) -> Step:
        step = Step(S.clone(run), [], [])
        self._current_run = step.run
        now = event.now
        r = step.run
        if r.status in S.FINAL:
            raise Rejection(f"order {r.id} is {r.status}")
        if isinstance(event, CallSucceeded):
            task = self._open(r, event.task, (S.RUNNING,), CALLING)
            task.next_at = None
            self._answer(step, task, event.outputs, {"callout": "the system answered", "auto": "the auto task returned"}.get(task.type, f"undone: {task.undoes}"), now)
        elif isinstance(event, CallAccepted):
            task = self._open(r, event.task, (S.RUNNING,), CALLING)
            timeout = self._timeout(task)
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
        elif isinstance(event, CancelRequested):
            self._cancel(step, event, now)
        elif isinstance(event, Amend):
            self._amend(step, event, now)
        elif isinstance(event, OperatorRetry):
            task = self._open(r, event.task, (S.FATALLY_FAILED, S.FAILED, S.ON_HOLD))
            self._retry_now(step, task, f"retried by {event.by}" + (f": {event.reason}" if event.reason else ""), now)
        elif isinstance(event, OperatorSkip):
            task = r.tasks.get(event.task)
            if task is None:
                raise _no_task(r, event.task)
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
            raise _no_task(r, task_id)
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
        return _line_outputs(r.tasks, line)

    def _order_view(self, r: S.OrderRun, items: Optional[list] = None) -> dict:
        """The order as expressions read it (with `items`: those items instead of the order's)."""
        items = r.items if items is None else items
        o = dict(r.fields)
        o["items"] = list(items)
        o["root_items"] = [i for i in items if i.parent is None]
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
        step.run.completions += 1
        task.done_seq = step.run.completions
        task.next_at = None
        self._set(step, task, S.COMPLETED, cause, now)
        if task.type == "compensation":
            return
        d = self._definition(task)
        if d.sets:
            ok, values = self._eval(step, task, self.rules.task_sets, now)
            if ok:
                step.run.lines[task.line].values.update(values)
                self._record(step, task.line, None, None, "line attributes set: " + ", ".join(f"{k}" for k in sorted(values)), now)

    def _answer(self, step: Step, task: S.TaskRun, outputs: dict, cause: str, now: int) -> None:
        """A call's answer: it must carry every output the plan declares, of its type."""
        wrong = []
        for p in self._declared_outputs(task):
            value = outputs.get(p.name)
            if value is None:
                wrong.append(f"no `{p.name}`")
            elif not _has_type(value, p.type):
                wrong.append(f"`{p.name}` = {value!r} is not {'an' if p.type == 'int' else 'a'} {p.type}")
        if wrong:
            self._fail(step, task, "the answer does not fit the plan: " + "; ".join(wrong), False, now)
            return
        declared = {p.name for p in self._declared_outputs(task)}
        self._complete(step, task, {k: v for k, v in outputs.items() if k in declared}, cause, now)

    def _fail(self, step: Step, task: S.TaskRun, message: str, retryable: bool, now: int) -> None:
        task.error = message
        if step.run.cancelling and task.type != "compensation":
            task.next_at = None
            self._set(step, task, S.CANCELLED, f"{message} (the order is cancelled: no retry)", now)
            return
        delay = retry_delay(self._retry_policy(task), task.attempts) if retryable else None
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
                self._fail(step, task, f"no callback within {self._timeout(task) // 1000} s", True, now)

    # ---- moving on ---------------------------------------------------------------------------------

    def _advance(self, step: Step, now: int) -> None:
        r = step.run
        progressed = True
        while progressed:
            progressed = False
            for task in list(r.tasks.values()):
                if task.status != S.PENDING or r.frozen or (r.cancelling and task.type != "compensation"):
                    continue
                if all(r.tasks[d].status in S.DONE for d in task.depends_on if d in r.tasks):
                    self._ready(step, task, now)
                    progressed = True
            if not _busy(r):
                if r.frozen and r.pending is not None:
                    self._merge(step, now)
                    progressed = True
                elif r.cancelling and not r.compensation_planned:
                    self._plan_compensation(step, now)
                    progressed = True
        self._roll_up(step, now)
        self._jeopardy(step, now)
        for task in r.tasks.values():
            task.wake_at = _wake_at(task)
        if any(h["to"] is not None for h in step.history):
            r.updated_at = now

    def _ready(self, step: Step, task: S.TaskRun, now: int) -> None:
        if task.type == "compensation":
            task.started_at = now
            self._set(step, task, S.READY, f"undo {task.undoes}", now)
            self._dispatch(step, task, now)
            return
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
        if task.type == "compensation":
            self._dispatch_undo(step, task, now, retry, cause)
            return
        d = self._definition(task)
        ok, args = self._eval(step, task, self.rules.task_args, now)
        if not ok:
            return
        task.args = args
        task.attempts += 1
        cause = f"attempt {task.attempts}" + (" (retry)" if retry else "") + (f", {cause}" if cause else "")
        self._set(step, task, S.RUNNING, cause, now)
        attempt = dict(order=step.run.id, task=task.id, key=task.key, attempt=task.attempts, args=args, timeout_ms=d.timeout_ms)
        if task.type == "callout":
            system, operation = d.call.target.split(".", 1)
            step.commands.append(Cmd.Call(system=system, operation=operation, is_async=d.is_async, outputs=[[p.name, p.type] for p in d.outputs], **attempt))
        else:
            step.commands.append(Cmd.AutoTask(target=d.call.target, **attempt))

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

    def _retry_policy(self, task: S.TaskRun):
        if task.type == "compensation":
            op = self._undo_operation(task)
            return op.retry if op is not None else self._definition(self._undone(task)).retry
        return self._definition(task).retry

    def _timeout(self, task: S.TaskRun):
        if task.type == "compensation":
            op = self._undo_operation(task)
            return op.timeout_ms if op is not None else None
        return self._definition(task).timeout_ms

    def _declared_outputs(self, task: S.TaskRun) -> list:
        if task.type == "compensation":
            op = self._undo_operation(task)
            return list(op.outputs) if op is not None else []
        return list(self._definition(task).outputs)

    def _roll_up(self, step: Step, now: int) -> None:
        r = step.run
        states = [t.status for t in r.tasks.values()]
        if r.cancelling:
            undo = [t for t in r.tasks.values() if t.type == "compensation"]
            if r.compensation_planned and not _busy(r) and all(t.status in S.DONE for t in undo):
                new = S.ORDER_CANCELLED
            else:
                new = S.PENDING_CANCELLATION
        elif all(s in S.DONE for s in states):
            new = S.ORDER_COMPLETED
        elif any(s == S.FATALLY_FAILED for s in states):
            new = S.HELD
        else:
            new = S.IN_PROGRESS
        if new != r.status:
            old = r.status
            r.status = new
            cause = {
                S.ORDER_COMPLETED: "every task is completed or skipped",
                S.HELD: "a task fatally failed: an operator must act",
                S.IN_PROGRESS: "tasks are running",
                S.PENDING_CANCELLATION: "running tasks finish, completed ones are undone",
                S.ORDER_CANCELLED: "every compensation is done",
            }[new]
            self._record(step, "order", old, new, cause, now)
            self._publish(step, "ProductOrderStateChangeEvent", now)
            if new in S.FINAL:
                for task in r.tasks.values():
                    task.next_at = None

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
            Cmd.Notify(r.id, K.event_id(r.id, r.events), {"eventId": K.event_id(r.id, r.events), "eventTime": _at(now), "eventType": event_type, "event": {"productOrder": order}})
        )

    # ---- cancellation ------------------------------------------------------------------------------------

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
            raise Rejection(f"order {r.id} is being cancelled already")
        self._ponr(r, None, event.force, f"cancelling order {r.id}")
        old = r.status
        r.status = S.ASSESSING_CANCELLATION
        self._record(step, "order", old, S.ASSESSING_CANCELLATION, f"cancellation asked by {event.by}" + (f": {event.reason}" if event.reason else ""), now)
        self._publish(step, "ProductOrderStateChangeEvent", now)
        r.cancelling = True
        r.frozen = False
        if r.pending is not None:
            self._record(step, "order", None, None, f"revision {r.pending['revision']} dropped: the order is cancelled", now)
            r.pending = None
        for task in r.tasks.values():
            if task.type == "compensation":
                task.depends_on = [d for d in task.depends_on if r.tasks[d].type == "compensation"]  # an undo under way goes on
                continue
            if task.status in (S.PENDING, S.READY, S.FAILED, S.ON_HOLD, S.FATALLY_FAILED) or (task.status == S.RUNNING and task.type == "wait"):
                task.next_at = None
                self._set(step, task, S.CANCELLED, "the order is cancelled", now)

    def _plan_compensation(self, step: Step, now: int) -> None:
        """Undo the completed tasks that have a compensation, one after the
        other, the last completed first (so a task is undone after every task
        that depended on it)."""
        r = step.run
        r.compensation_planned = True
        has_undo = {t.undoes for t in r.tasks.values() if t.type == "compensation"}
        done = [
            t for t in r.tasks.values()
            if t.status == S.COMPLETED and t.type != "compensation" and t.id not in has_undo and "@" not in t.id and self._definition(t).compensate is not None
        ]
        done.sort(key=lambda t: (-(t.done_seq or 0), t.id))
        previous = None
        for t in done:
            undo = self._undo_task(r, t, [previous] if previous else [])
            previous = undo.id
            self._record(step, undo.id, None, S.PENDING, f"to undo {t.id} ({self._definition(t).compensate.target})", now)
        if not done:
            self._record(step, "order", None, None, "nothing to undo", now)

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

    # ---- amendments ------------------------------------------------------------------------------------

    def _amend(self, step: Step, event: Amend, now: int) -> None:
        r = step.run
        if r.cancelling:
            raise Rejection(f"order {r.id} is being cancelled: it takes no revision")
        if event.revision <= r.revision or (r.pending is not None and event.revision <= r.pending["revision"]):
            raise Rejection(f"revision {event.revision} of order {r.id} is not newer than revision {max(r.revision, (r.pending or {}).get('revision', 0))}")
        touched = _touched_bundles(r, event.plan)
        self._ponr(r, touched, event.force, f"revision {event.revision} touches a bundle that")
        if r.pending is not None:
            self._record(step, "order", None, None, f"revision {event.revision} replaces revision {r.pending['revision']}, which was not applied yet", now)
        r.pending = {"revision": event.revision, "plan": event.plan, "by": event.by, "force": event.force}
        r.frozen = True
        what = ", ".join(f"bundle {b}" if b else "the order scope" for b in sorted(touched, key=lambda b: b or "")) or "no bundle"
        self._record(step, "order", None, None, f"revision {event.revision} received from {event.by} (touches {what}): frozen, running tasks finish, nothing new starts", now)

    def _merge(self, step: Step, now: int) -> None:
        """Apply the pending revision, line by line and task by task.

        - a task the revision adds: pending; one it no longer has: dropped when
          not completed, undone when completed with a compensation;
        - not started: the revision's version;
        - started, not finished (a manual task waiting for a person, a wait, a
          call failed or on hold): kept as it is when the revision changes
          nothing it started from (`_unchanged`), else replaced: it starts over;
        - completed, inputs unchanged: kept, with its outputs and what it set;
        - completed, inputs changed: done again, after being undone when it
          has a compensation. So is a completed task downstream of one done
          again that reads what that one gives (its outputs, or what it sets
          on the line); and a task done again waits for those upstream of it.
        Runs a revision superseded (`TASK@N`) and their undo stay as they are."""
        r = step.run
        pending = r.pending
        n = pending["revision"]
        plan = S.decode_value(pending["plan"])
        old_tasks = r.tasks
        old_lines = r.lines
        items = [S.ItemRecord(**i) for i in plan["items"]]
        # Lines: the revision's values; what fulfillment set (attributes the revision leaves empty) is kept.
        lines = {}
        for line_id, data in plan["lines"].items():
            line = S.LineRun(**data)
            before = old_lines.get(line_id)
            if before is not None:
                for k, v in before.values.items():
                    if line.values.get(k) is None and v is not None:
                        line.values[k] = v
            lines[line_id] = line
        tasks: dict = {}
        redo: dict = {}  # task id -> the completed run it replaces
        started: dict = {}  # task id -> the run that started and did not finish (kept or replaced, below)
        for data in plan["tasks"]:
            new = S.TaskRun(**data)
            old = old_tasks.get(new.id)
            if old is None:
                new.key = K.call_key(r.id, new.id)
                tasks[new.id] = new
                self._record(step, new.id, None, S.PENDING, f"added by revision {n}", now)
                continue
            new.generation, new.key = old.generation, old.key
            if old.status == S.COMPLETED:
                tasks[new.id] = old  # kept, unless its inputs changed (below)
                old.depends_on = new.depends_on
                if self._inputs_changed(r, old, new, lines):
                    redo[new.id] = old
            elif old.status == S.SKIPPED:
                tasks[new.id] = old  # skipped stays skipped (an operator's word, or its condition)
                old.depends_on = new.depends_on
            else:  # not completed: the revision's version, unless it started and is kept (below)
                tasks[new.id] = new
                if old.status != S.PENDING:
                    started[new.id] = old
        # Downstream of a task done again, what reads what it gives is done again too.
        changed = True
        while changed:
            changed = False
            for tid, task in tasks.items():
                if tid in redo or task.status != S.COMPLETED or task.type not in CALLING:
                    continue
                reads = self._reads(task)
                for up in redo:
                    if up in _ancestors(tasks, tid) and tasks[up].line == task.line and (up.split(":")[-1] in reads["outputs"] or reads["attrs"] & self._writes(tasks[up])):
                        redo[tid] = task
                        changed = True
                        break
        undone: list = []
        for tid, old in redo.items():
            d = self._definition(old)
            new = S.TaskRun(old.id, old.name, old.type, old.product, old.action, old.line, list(old.depends_on), queue=old.queue, system=old.system)
            new.generation = old.generation + 1
            new.key = K.call_key(r.id, tid, new.generation)
            tasks[tid] = new
            if d.compensate is not None:
                undone.append(old)
                self._record(step, tid, S.COMPLETED, S.PENDING, f"revision {n} changes its inputs: undone, then done again", now)
            else:
                self._record(step, tid, S.COMPLETED, S.PENDING, f"revision {n} changes its inputs: done again", now)
        for tid in redo:  # a task done again waits for those done again upstream of it
            for up in redo:
                if up != tid and up in _ancestors(tasks, tid) and up not in tasks[tid].depends_on:
                    tasks[tid].depends_on.append(up)
        before = (old_lines, old_tasks, self._order_view(r))
        after = (lines, tasks, self._order_view(r, items))
        for tid, old in started.items():
            if self._unchanged(old, tasks[tid], before, after):
                old.depends_on = tasks[tid].depends_on
                tasks[tid] = old  # its state, due time, attempts and key stay: nothing happens to it
            else:
                self._record(step, tid, old.status, S.PENDING, f"replaced by revision {n}", now)
        for old in old_tasks.values():
            if old.id in tasks:
                continue
            if old.type == "compensation" or "@" in old.id:
                tasks[old.id] = old  # an earlier undo, and the run it undoes
                continue
            if old.status == S.COMPLETED and self._definition(old).compensate is not None:
                undone.append(old)
                self._record(step, old.id, None, None, f"removed by revision {n}: undone", now)
                if old.line not in lines:  # its line is gone: kept, to undo the task (it installs nothing)
                    gone = old_lines[old.line]
                    gone.action = "delete"
                    lines[old.line] = gone
            elif old.status == S.COMPLETED:
                self._record(step, old.id, None, None, f"removed by revision {n}: nothing to undo, kept as done", now)
            else:
                self._record(step, old.id, old.status, S.CANCELLED, f"dropped by revision {n}", now)
        r.lines = lines
        r.items = items
        # Undo, the last completed first; a task done again waits for its undo.
        undone.sort(key=lambda t: (-(t.done_seq or 0), t.id))
        r.tasks = tasks
        previous = None
        for old in undone:
            undo = self._undo_task(r, old, [previous] if previous else [])
            if old.id in tasks and tasks[old.id] is not old:  # done again: the completed run is kept beside it, for its undo
                kept = old.id + f"@{old.generation}"
                tasks[old.id].depends_on.append(undo.id)
                old.id = kept
                r.tasks[kept] = old
                undo.undoes = kept
            else:
                r.tasks[old.id] = old
            previous = undo.id
            self._record(step, undo.id, None, S.PENDING, f"to undo {undo.undoes} ({self._definition(old).compensate.target}), for revision {n}", now)
        r.revision = n
        r.pending = None
        r.frozen = False
        self._record(step, "order", None, None, f"revision {n} applied: the order resumes on the merged plan", now)

    def _reads(self, task: S.TaskRun) -> dict:
        """What a task's call arguments read: line attributes, and task outputs (by task name)."""
        d = self._definition(task)
        args = [e for _, e in d.call.args] if d.call is not None else []
        return {"attrs": set().union(*(E.reads(e, "attr") for e in args)) if args else set(), "outputs": set().union(*(E.reads(e, "output") for e in args)) if args else set()}

    def _writes(self, task: S.TaskRun) -> set:
        return {attr for attr, _ in self._definition(task).sets}

    def _unchanged(self, old: S.TaskRun, new: S.TaskRun, before: tuple, after: tuple) -> bool:
        """Did a revision leave a started task as it started? The same definition
        and dependencies; nothing upstream of it added, replaced or done again
        (every task it waits for, directly or not, is kept as it completed or was
        skipped); and what it read when it started reads the same: its
        condition, its call's arguments, the time it waits until, evaluated
        on the order before the revision (`before`: lines, tasks, order) and
        after it (`after`)."""
        same = ("name", "type", "product", "action", "line", "queue", "system")
        if any(getattr(old, f) != getattr(new, f) for f in same) or set(old.depends_on) != set(new.depends_on):
            return False
        old_tasks, tasks = before[1], after[1]
        if any(tasks[up] is not old_tasks.get(up) or tasks[up].status not in S.DONE for up in _ancestors(tasks, new.id)):
            return False
        return self._start_reads(old, *before) == self._start_reads(new, *after)

    def _start_reads(self, task: S.TaskRun, lines: dict, tasks: dict, order: dict) -> Optional[list]:
        """What starting a task evaluates (a fault is a value too)."""
        line = lines.get(task.line)
        if line is None:
            return None
        d = self._definition(task)
        outputs = _line_outputs(tasks, task.line)
        out = []
        for fn, used in ((self.rules.task_when, d.when is not None), (self.rules.task_args, d.call is not None), (self.rules.wait_until, d.wait_until is not None)):
            try:
                out.append(fn(task.product, task.action, task.name, line.values, outputs, order, line.previous) if used else None)
            except EvaluationError as exc:
                out.append(("cannot evaluate", exc.element, exc.message))
        return out

    def _inputs_changed(self, r: S.OrderRun, old: S.TaskRun, new: S.TaskRun, lines: dict) -> bool:
        """Would the task be called differently now? (Tasks that make no calls: no.)"""
        if old.type not in CALLING or old.args is None:
            return False
        line = lines.get(new.line)
        if line is None:
            return True
        outputs = self._outputs(r, new.line)
        try:
            args = self.rules.task_args(new.product, new.action, new.name, line.values, outputs, self._order_view(r), line.previous)
        except EvaluationError:
            return True
        return args != old.args

    # ---- what an order waits for -----------------------------------------------------------------------

    def waiting_for(self, run: S.OrderRun, task: S.TaskRun) -> Optional[str]:
        """Why a task that is not done has not moved on (operators ask)."""
        if task.status == S.PENDING and run.frozen:
            return f"frozen: revision {run.pending['revision']} waits for the running tasks to finish"
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
