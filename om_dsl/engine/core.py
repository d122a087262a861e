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

import datetime  # noqa: F401 (tests replace the clock through it: test_no_clock_is_read)
from typing import Optional

from om_dsl.engine import commands as Cmd
from om_dsl.engine import progress
from om_dsl.engine import state as S
from om_dsl.engine.amend import Amending
from om_dsl.engine.cancel import Cancelling
from om_dsl.engine.events import (  # noqa: F401  (the core's public vocabulary: drivers import it from here)
    Amend,
    CallAccepted,
    CallbackReceived,
    CallFailed,
    CallSucceeded,
    CancelRequested,
    GiveUp,
    InformationRequired,
    ManualCompleted,
    OperatorRetry,
    OperatorSkip,
    OrderRelease,
    OrderResume,
    OtherOrderProgressed,
    Rejection,
    Step,
    SystemOffline,
    SystemOnline,
    TaskClaimed,
    TimePassed,
    _no_task,
)
from om_dsl.engine.facts import CALLING, DAY_MS, _at, _busy, _has_type, _line_outputs, across_outputs, across_reads, epoch_ms  # noqa: F401
from om_dsl.engine.fallout import FALLOUT_DEFINITION, Fallout
from om_dsl.engine.index import OrderIndex
from om_dsl.engine.retry import retry_delay, retry_verdict
from om_dsl.engine.snapshot import plan_snapshot, start_records  # noqa: F401 (drivers call plan_snapshot as core's)
from om_dsl.engine.timers import Timing
from om_dsl.engine.waits import Waiting, blocked, entries
from om_dsl.model.catalog import Catalog
from om_dsl.planning import keys as K
from om_dsl.planning.order import EvaluationError


class Engine(Timing, Cancelling, Amending, Fallout, Waiting):
    """The core. Its parts by concern: `amend.Amending` (revisions),
    `cancel.Cancelling` (cancellation, compensation), `timers.Timing`
    (timers, jeopardy), `fallout.Fallout` (fatal failures routed to a
    queue), `waits.Waiting` (other orders it waits for); each event goes to
    its handler through `_HANDLERS`."""

    def __init__(self, catalog: Catalog, rules):
        self.catalog = catalog
        self.rules = rules
        self._definitions = catalog.memo("engine_definitions", dict)  # (product, action, task name) -> its plan item: `_definition`

    # ---- starting an order -------------------------------------------------------------------

    def start(self, planned, catalog_sha: str, now: int) -> Step:
        """A planned order (om_dsl.planning.pipeline.PlannedOrder) begins."""
        self._max_starts = None
        fields, items, lines, tasks, skipped, waits = start_records(planned, planned.order.id)
        return self._begin(planned.order.id, fields, items, lines, tasks, skipped, catalog_sha, now, entries(waits))

    def start_from_records(self, order_id: str, records: tuple, catalog_sha: str, now: int, max_starts: Optional[int] = None) -> Step:
        """An order planned elsewhere begins from its records (`snapshot.start_records`,
        as a Temporal workflow reads them back: temporal/parts.py). `max_starts`: as `handle`'s."""
        self._max_starts = max_starts
        fields, items, lines, tasks, skipped, waits = records
        return self._begin(order_id, fields, items, lines, tasks, [tuple(s) for s in skipped], catalog_sha, now, entries(tuple(w) for w in waits))

    def start_snapshot(self, snapshot: dict, order_id: str, catalog_sha: str, now: int, max_starts: Optional[int] = None) -> Step:
        """An order planned elsewhere begins: `snapshot` is `plan_snapshot(...)` of it
        (plain data, as a Temporal workflow receives it). `max_starts`: as `handle`'s."""
        self._max_starts = max_starts
        snap = snapshot  # (decoded where it holds values only: items, lines, fields; not every task)
        items = [S.ItemRecord(i["id"], i["product"], i["action"], i["parent"], S.decode_value(i["values"]), i["asset_id"]) for i in snap["items"]]
        lines = {line_id: S.line_from_data(data) for line_id, data in snap["lines"].items()}
        tasks = {
            t["id"]: S.TaskRun(t["id"], t["name"], t["type"], t["product"], t["action"], t["line"], list(t["depends_on"]), queue=t["queue"], key=K.call_key(order_id, t["id"]), system=t["system"])
            for t in snap["tasks"]
        }
        waits = entries(tuple(w) for w in snap.get("waits_for", ()))  # (none in a snapshot from before)
        return self._begin(order_id, S.decode_value(snap["fields"]), items, lines, tasks, [tuple(s) for s in snap["skipped"]], catalog_sha, now, waits)

    def _begin(self, order_id: str, fields: dict, items: list, lines: dict, tasks: dict, skipped: list, catalog_sha: str, now: int, waits: list = ()) -> Step:
        self._shape, self._started = None, 0
        draft = fields.get("initial_state") == S.DRAFT
        status = S.DRAFT if draft else S.ACKNOWLEDGED
        run = S.OrderRun(order_id, catalog_sha, status, fields, items, lines, tasks, now, now, fields.get("external_id"), waits_for=list(waits))
        step = Step(run, [], [])
        self._current_run = run
        self._record(step, "order", None, status, "order accepted as a draft: nothing starts until it is released" if draft else "order accepted", now)
        self._publish(step, "ProductOrderCreateEvent", now)
        for task_id, reason in skipped:
            self._record(step, task_id, None, S.SKIPPED, f"skipped at planning: {reason}", now)
        self._advance(step, now)
        step.started = self._started
        return step

    def _on_order_release(self, step: Step, event: OrderRelease, now: int) -> None:
        r = step.run
        if r.status != S.DRAFT:
            raise Rejection(f"order {r.id} is {r.status}, not a draft: there is nothing to release")
        r.status = S.ACKNOWLEDGED
        self._record(step, "order", S.DRAFT, S.ACKNOWLEDGED, f"released by {event.by}", now)
        self._publish(step, "ProductOrderStateChangeEvent", now)

    def _on_information_required(self, step: Step, event: InformationRequired, now: int) -> None:
        """The originating system hears what its draft lacks (its revision was refused)."""
        r = step.run
        if r.status != S.DRAFT:
            raise Rejection(f"order {r.id} is {r.status}, not a draft")
        missing = [{"path": m.get("path"), "message": m.get("message")} for m in event.missing]
        self._record(step, "order", None, None, f"information required from {event.by}: " + "; ".join(str(m["message"]) for m in missing), now)
        self._publish(step, "ProductOrderInformationRequiredEvent", now, informationRequired=missing)

    # ---- events --------------------------------------------------------------------------------

    def handle(self, run: S.OrderRun, event, in_place: bool = False, max_starts: Optional[int] = None) -> Step:
        """The event applied to a copy of `run`, or (`in_place`) to `run` itself; a Rejection comes before any change.
        `max_starts`: at most that many ready tasks start; `step.more` says some are left (docs/engine.md)."""
        self._max_starts, self._started = max_starts, 0
        if run.status in S.FINAL:
            raise Rejection(f"order {run.id} is {run.status}")
        step = Step(run if in_place else S.clone(run), [], [])
        self._current_run = step.run
        handler = self._HANDLERS.get(type(event))
        if handler is None:  # pragma: no cover - programming error
            raise TypeError(event)
        self._shape = (step.run.tasks, len(step.run.tasks))
        handler(self, step, event, event.now)
        self._advance(step, event.now)
        step.reshaped = self._reshaped(step)
        step.started = self._started
        return step

    _shape, _max_starts, _started = None, None, 0  # per call: the tasks (dict, count) as the event found them; the starts
    def _reshaped(self, step: Step) -> bool:  # tasks added, removed or rewired by this step (or a new order)
        return step.reshaped or self._shape is None or step.run.tasks is not self._shape[0] or len(step.run.tasks) != self._shape[1]

    def _on_call_succeeded(self, step: Step, event: CallSucceeded, now: int) -> None:
        task = self._open(step.run, event.task, (S.RUNNING,), CALLING)
        task.next_at = None
        self._answer(step, task, event.outputs, {"callout": "the system answered", "auto": "the auto task returned"}.get(task.type, f"undone: {task.undoes}"), now)

    def _on_call_accepted(self, step: Step, event: CallAccepted, now: int) -> None:
        task = self._open(step.run, event.task, (S.RUNNING,), CALLING)
        timeout = self._timeout(task)
        task.next_at = now + timeout if timeout else None  # no callback by then: the call failed
        self._record(step, task.id, S.RUNNING, S.RUNNING, "acknowledged: waiting for the callback", now)

    def _on_call_failed(self, step: Step, event: CallFailed, now: int) -> None:
        task = self._open(step.run, event.task, (S.RUNNING,), CALLING)
        self._fail(step, task, event.message, event.retryable, now, event.failure)

    def _on_callback(self, step: Step, event: CallbackReceived, now: int) -> None:
        task = step.run.tasks.get(OrderIndex.of(step.run).by_key.get(event.key))
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

    def _on_manual_completed(self, step: Step, event: ManualCompleted, now: int) -> None:
        task = self._open(step.run, event.task, (S.READY,))
        if task.type != "manual":
            raise Rejection(f"{task.id} is a {task.type}, not a manual task")
        if task.fallout_of is not None:
            self._resolve_fallout(step, task, dict(event.data), event.by, now)
            return
        self._complete(step, task, dict(event.data), f"completed by {event.by}", now)

    def _on_time_passed(self, step: Step, event: TimePassed, now: int) -> None:
        self._timers(step, now)

    def _on_operator_retry(self, step: Step, event: OperatorRetry, now: int) -> None:
        task = self._open(step.run, event.task, (S.FATALLY_FAILED, S.FAILED, S.ON_HOLD))
        self._retry_now(step, task, f"retried by {event.by}" + (f": {event.reason}" if event.reason else ""), now)

    def _on_operator_skip(self, step: Step, event: OperatorSkip, now: int) -> None:
        r = step.run
        task = r.tasks.get(event.task)
        if task is None:
            raise _no_task(r, event.task)
        if task.fallout_of is not None and task.status == S.READY:
            raise Rejection(f"{task.id} is the fallout of {task.fallout_of}: complete it with the resolution `skipped` to skip {task.fallout_of}")
        if task.status in S.DONE or task.status == S.CANCELLED or (task.status == S.RUNNING and task.type != "wait"):
            raise Rejection(f"task {task.id} of order {r.id} is {task.status}: " + ("it is done" if task.status in S.DONE else "its call is in flight; wait for its answer"))
        task.next_at = None
        self._set(step, task, S.SKIPPED, f"skipped by {event.by}: {event.reason}", now)
        self._close_fallout(step, task, f"{task.id} skipped by {event.by}", now)

    def _on_order_resume(self, step: Step, event: OrderResume, now: int) -> None:
        r = step.run
        if r.status != S.HELD:
            raise Rejection(f"order {r.id} is {r.status}, not held")
        self._waive_ended(step, event.by, event.reason, now)
        for task in r.tasks.values():
            if task.status == S.FATALLY_FAILED:
                self._retry_now(step, task, f"order resumed by {event.by}" + (f": {event.reason}" if event.reason else ""), now)

    def _on_system_offline(self, step: Step, event: SystemOffline, now: int) -> None:
        task = self._open(step.run, event.task, (S.RUNNING,), ("callout",))
        task.attempts -= 1  # the call was not made
        self._set(step, task, S.ON_HOLD, f"system {task.system} is offline", now)

    def _on_system_online(self, step: Step, event: SystemOnline, now: int) -> None:
        for task in step.run.tasks.values():
            if task.status == S.ON_HOLD and task.system == event.system:
                self._dispatch(step, task, now, cause=f"system {event.system} is online again")

    _HANDLERS: dict = {}  # event class -> handler(engine, step, event, now); filled below the class

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
        if subject in step.run.tasks:
            step.changed.add(subject)  # (what a task's record tells changed the task: the driver writes it)

    def _set(self, step: Step, task: S.TaskRun, new: str, cause: str, now: int) -> None:
        old = task.status
        task.status = new
        OrderIndex.moved_in(step.run, task, old, new)
        self._record(step, task.id, old, new, cause, now)

    def _definition(self, task: S.TaskRun):
        if task.fallout_of is not None:
            return FALLOUT_DEFINITION
        key = (task.product, task.action, task.name)
        found = self._definitions.get(key)
        if found is None:  # (each plan item looked up once per catalog, not scanned for at every step)
            found = self._definitions[key] = self.catalog.plan(task.product, task.action).item(task.name)
        return found

    def _outputs(self, r: S.OrderRun, line: str) -> dict:
        """What a line's expressions read of tasks: its own tasks' outputs, and
        the values of other lines its plan reads (`P.task.output in bundle`)."""
        out = OrderIndex.of(r).outputs(line)
        run_line = r.lines.get(line)
        reads = across_reads(self.catalog, run_line.product, run_line.action) if run_line is not None else ()
        if reads:
            out.update(across_outputs(r.lines, r.tasks, line, reads))
        return out

    def _order_view(self, r: S.OrderRun, items: Optional[list] = None) -> dict:
        """The order as expressions read it (with `items`: those items instead of the order's; its own built once)."""
        if items is None:
            ix = OrderIndex.of(r)
            if ix.view_of is not r.items:
                ix.view, ix.view_of = self._order_view(r, r.items), r.items
            return ix.view
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
                step.lines_changed.add(task.line)
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

    def _fail(self, step: Step, task: S.TaskRun, message: str, retryable: bool, now: int, failure: Optional[str] = None) -> None:
        task.error = message
        if step.run.cancelling and task.type != "compensation":
            task.next_at = None
            self._set(step, task, S.CANCELLED, f"{message} (the order is {'given up' if step.run.giving_up else 'cancelled'}: no retry)", now)
            return
        policy = self._retry_policy(task)
        retryable, refused = retry_verdict(policy, failure, retryable)
        delay = retry_delay(policy, task.attempts) if retryable else None
        if delay is None:
            why = refused or ("not retryable" if not retryable else f"no retry left after {task.attempts} attempt{'s' if task.attempts != 1 else ''}")
            self._set(step, task, S.FATALLY_FAILED, f"{message} ({why})", now)
            self._open_fallout(step, task, f"{message} ({why})", now)
        else:
            task.next_at = now + delay
            self._set(step, task, S.FAILED, f"{message}; retry {task.attempts} of the policy in {delay // 1000} s", now)

    # ---- moving on ---------------------------------------------------------------------------------

    def _advance(self, step: Step, now: int) -> None:
        """Start what is ready (the index keeps it), pass after pass in plan order,
        as long as something moves: a pass reaches a task readied before it in plan order."""
        r = step.run
        if r.status == S.DRAFT and not r.cancelling:  # a draft waits for its release
            if r.frozen and r.pending is not None:
                self._merge(step, now)  # nothing runs in a draft: a revision applies at once
            return
        progressed = True
        while progressed:
            progressed = False
            ix = OrderIndex.of(r)
            if not r.frozen and not (blocked(r) and not r.cancelling):  # (while it waits for another order, nothing starts)
                spent = self._max_starts is not None and self._started >= self._max_starts
                if spent and ix.candidates:  # no start left: no pass over thousands of ready tasks (the next step starts them)
                    step.more = True
                elif not spent:
                    ix.ready_pass(lambda t: not r.cancelling or t.type == "compensation")
                    try:
                        while (task := ix.next_ready()) is not None:
                            if self._max_starts is not None and self._started >= self._max_starts:
                                ix.candidates.add(task.id)  # (it stays ready, for the next step)
                                step.more = True
                                break
                            self._started += 1
                            self._ready(step, task, now)
                            progressed = True
                    finally:
                        ix.end_pass()
            if step.more:
                break
            if ix.busy == 0:
                if r.frozen and r.pending is not None:
                    self._merge(step, now)
                    progressed = True
                elif r.cancelling and not r.compensation_planned:
                    self._plan_compensation(step, now)
                    progressed = True
        self._roll_up(step, now)
        self._jeopardy(step, now)
        self._set_wake_times(step)
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
            self._publish(step, "ProductOrderMilestoneEvent", now, milestone={"id": task.id, "name": task.name, "item": step.run.lines[task.line].source_item})
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
        self._close_fallout(step, task, f"{task.id} retried: {cause}", now)
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
        ix = OrderIndex.of(r)
        held = None if r.cancelling else self._waits_roll_up(r)  # (status, cause) while another order holds it
        if r.cancelling:
            undo = [t for t in r.tasks.values() if t.type == "compensation"]
            undone = r.compensation_planned and not ix.busy and all(t.status in S.DONE for t in undo)
            if r.giving_up:
                new = (S.PARTIAL if progress.completed_items(r) else S.ORDER_FAILED) if undone else r.status
            else:
                new = S.ORDER_CANCELLED if undone else S.PENDING_CANCELLATION
        elif held is not None:
            new = held[0]
        elif ix.all_done():
            new = S.ORDER_COMPLETED
        elif ix.fatal and any(t.status == S.FATALLY_FAILED and not self._in_fallout(r, t) for t in r.tasks.values()):  # (looked for only when a task fatally failed)
            new = S.HELD
        else:
            new = S.IN_PROGRESS
        if new != r.status:
            old = r.status
            r.status = new
            cause = held[1] if held is not None and new == held[0] else {
                S.ORDER_COMPLETED: "every task is completed or skipped",
                S.HELD: "a task fatally failed: an operator must act",
                S.IN_PROGRESS: "tasks are running",
                S.PENDING_CANCELLATION: "running tasks finish, completed ones are undone",
                S.ORDER_CANCELLED: "every compensation is done",
                S.PARTIAL: "given up: some items completed, the rest is undone",
                S.ORDER_FAILED: "given up: no item completed, what was done is undone",
            }[new]
            self._record(step, "order", old, new, cause, now)
            self._publish(step, "ProductOrderStateChangeEvent", now)
            if new in (S.PENDING_CANCELLATION, S.ORDER_CANCELLED):
                self._publish(step, "CancelProductOrderStateChangeEvent", now, cancellation={"state": "inProgress" if new == S.PENDING_CANCELLATION else "done"})
            if new in S.FINAL:
                for task in r.tasks.values():
                    if task.next_at is not None:
                        task.next_at = None
                        step.changed.add(task.id)

    def _publish(self, step: Step, event_type: str, now: int, **facts) -> None:
        """An order event for the originating system, with an id of its own:
        its facts as of now (`progress.notice`); the driver sends it in
        TMF622's shape (`om_dsl.tmf622.events`)."""
        r = step.run
        r.events += 1
        notice = progress.notice(r, event_type, now, **facts)
        step.commands.append(Cmd.Notify(r.id, notice["eventId"], notice))

    # ---- what an order waits for -----------------------------------------------------------------------

    def waiting_for(self, run: S.OrderRun, task: S.TaskRun) -> Optional[str]:
        """Why a task that is not done has not moved on (operators ask)."""
        if task.status == S.PENDING and run.status == S.DRAFT:
            return "the order is a draft: nothing starts until it is released"
        if task.status == S.PENDING and run.frozen:
            return f"frozen: revision {run.pending['revision']} waits for the running tasks to finish"
        if task.status == S.PENDING and blocked(run) and not run.cancelling:
            return self._waits_reason(run)
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
        if task.status == S.FATALLY_FAILED and self._in_fallout(run, task):
            return f"in fallout: {task.id}.fallout waits for a person in queue {run.tasks[task.id + '.fallout'].queue}"
        if task.status == S.FATALLY_FAILED:
            return f"fatally failed: {task.error}"
        if task.status == S.ON_HOLD:
            return f"on hold: system {task.system} is offline"
        return None


Engine._HANDLERS = {
    CallSucceeded: Engine._on_call_succeeded,
    CallAccepted: Engine._on_call_accepted,
    CallFailed: Engine._on_call_failed,
    CallbackReceived: Engine._on_callback,
    ManualCompleted: Engine._on_manual_completed,
    TimePassed: Engine._on_time_passed,
    CancelRequested: Engine._cancel,
    GiveUp: Engine._give_up,
    Amend: Engine._amend,
    OperatorRetry: Engine._on_operator_retry,
    OperatorSkip: Engine._on_operator_skip,
    TaskClaimed: Engine._on_task_claimed,
    OrderResume: Engine._on_order_resume,
    OrderRelease: Engine._on_order_release,
    InformationRequired: Engine._on_information_required,
    SystemOffline: Engine._on_system_offline,
    SystemOnline: Engine._on_system_online,
    OtherOrderProgressed: Engine._on_other_order,
}
