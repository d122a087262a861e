"""The order workflow: one order, driven by the pure engine core.

Its input is the compiled, versioned plan (plan.json and its sha256) and
the order as planned (`plan_snapshot`). Everything the core asks for is an
activity; everything that happens to the order is an event for the core:
an activity's result, an update (a manual task claimed or completed, an
operator's retry or skip, a resume, a cancellation, an amendment), a
callback signal, or a timer firing (a retry, a wait, a callback deadline,
jeopardy). An order that waits for other orders (engine/waits.py) polls
them: an activity queries each one's workflow, at first every second, then
less often while nothing changes (at most every 30 s), and its answer is
the core's `OtherOrderProgressed`. The workflow's state is the core's
state: replaying the history rebuilds it exactly, because the core is
deterministic and reads time only from the events (`workflow.now()`).
"""

from __future__ import annotations

import asyncio
import collections
import datetime
from typing import Optional

from temporalio import workflow
from temporalio.common import RawValue
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from om_dsl.engine import commands as Cmd
    from om_dsl.engine import core as C
    from om_dsl.engine import executor, progress
    from om_dsl.engine import state as S
    from om_dsl.engine import waits as W
    from om_dsl.systems.adapters import CallResult
    from om_dsl.temporal import parts as P
    from om_dsl.temporal.activities import CALL, INSTALLED, NOTIFY, PASS, PROGRESS
    from om_dsl.temporal.catalogs import engine_for
    from om_dsl.temporal.codec import binary
    from om_dsl.temporal.delivery import EventDelivery
    from om_dsl.temporal.queries import OrderQueries
    from om_dsl.temporal.retry import CALL_RETRY, DELIVERY_RETRY, call_timeout


POLL_FIRST_MS, POLL_MAX_MS = 1_000, 30_000  # polling the orders one waits for


# Activities one order runs at once, at most: Temporal refuses a workflow more
# than 2,000 pending ones (a fan-out of a big order releases thousands of calls
# at once); the rest wait in the workflow, in order, for one to finish.
MAX_ACTIVITIES = 500
BOUNDED = "om-bounded-activities"  # the patch marker: workflows started before it launched them all at once
# ... and fewer: the server force-closes a workflow task while which more than 100 events came
# (history.maximumBufferedEventsBatch; the worker's completion is then "task not found", the work
# done again, from the whole history when the worker dropped the order from its cache, while more
# come: at 2,000 items five in a row). A finished activity is two events (started, completed), so 40
# leave room for the order's event delivery, its poll, timers and signals.
WITHIN_BUFFER = 40
WITHIN_BUFFER_MARKER = "om-activities-within-buffer"  # the patch marker: workflows started before it ran MAX_ACTIVITIES

# Past this many events in its history (Temporal ends a workflow at 51,200),
# the order goes on in a new run of the same workflow (continue-as-new): it
# stops starting activities, lets the running ones finish, and hands its
# state, history and the commands still to run to the next run.
CONTINUE_AFTER = 20_000

# Tasks one event starts, at most (the core's max_starts): a workflow task must
# finish within seconds (Temporal's deadlock detection: 2 s), and a big order
# readies thousands at once (at its start, at a fan-out). The rest start after
# a 1 ms timer, in the next workflow task, in the same order.
MAX_STARTS = 300
BOUNDED_STARTS = "om-bounded-starts"  # the patch marker: workflows started before it started all at once
# ... per workflow task, not per event: 300 calls answered in one workflow task
# would otherwise each start 300 more (a 10,000-item order's fan-out in one go).
STARTS_PER_TASK = "om-starts-per-workflow-task"  # the patch marker: workflows started before it counted per event

# Between two parts the workflow goes on in a new activation (Temporal's deadlock detection counts
# per activation): a no-op local activity, answered at once in the same workflow task. A timer, however
# short, fires about a second later (the server's grain): reading a 10,000-item order's 31 parts took
# 31 s, and each continue-as-new encodes and reads them again.
PARTS_BY_LOCAL_ACTIVITY = "om-parts-by-local-activity"  # the patch marker: workflows started before it slept 1 ms

# An order's state comes in text parts (temporal/parts.py): an order of at most
# this many records (items, lines, tasks) is read in its first workflow task, a
# bigger one P.PART records per activation (PARTS_BY_LOCAL_ACTIVITY), and encoded
# again so when it continues as new or tells its installed base.
LOAD_AT_ONCE = 4_000

# An order's events go to the listeners one at a time, in order (a listener
# hears an order's story in order, as on the embedded engine); one a listener
# did not take waits in that listener's queue (`later`), with the events after
# it, while the others go on. Workflows started before this marker sent them
# side by side, each retried until every listener took it.
ORDERED_EVENTS = "om-ordered-events"


@workflow.defn(name="Order")
class OrderWorkflow(OrderQueries, EventDelivery):
    @workflow.init
    def __init__(self, start: dict, raw: RawValue = None) -> None:  # (raw: the order's parts; none for an order started before them)
        self.start = start
        self.rejected: Optional[dict] = start.get("rejected")  # an order rejected at submit: kept, never run
        if self.rejected is not None:
            self.created_at = self._now()
            return
        self.engine = engine_for(start["catalog"], start["plan"], start.get("sources"))
        self.notices = asyncio.Lock()  # its events go out one at a time, in order (ORDERED_EVENTS)
        self.later: dict = {}  # listener -> the events it has yet to take, oldest first (it refused the first)
        self.notifying = 0  # events waiting for their turn to go out (they take no activity slot: one goes at a time)
        self.revisions: list = []  # [{revision, status, why, by, at}]
        self.callbacks: set = set()  # callback ids seen: a duplicate is dropped
        self.early: dict = {}  # idempotency key of a call being made -> the callbacks that came before its result
        self.in_flight = 0  # commands running or waiting to: calls, notifications, installed-base signals
        self.running = 0  # of which activities started (at most self.most)
        self.waiting: collections.deque = collections.deque()  # commands waiting for a free activity (carried ones as data, read when they start)
        self.calls = 0  # of which calls and auto tasks (the order ends when none is left)
        self.dirty = False
        self.alarm: Optional[asyncio.Future] = None
        self.alarm_at: Optional[int] = None
        self.memo: dict = {}
        self.requests: dict = {1: start.get("request")}  # revision -> its request document
        self.poll_at: Optional[int] = None  # when to ask again how the orders it waits for stand
        self.poll_every = POLL_FIRST_MS
        self.polling = False  # a poll runs beside the loop: timers and events go on meanwhile
        self.draining = False  # its history is long: no activity starts, the next run starts them
        self.max_starts = MAX_STARTS if workflow.patched(BOUNDED_STARTS) else None
        self.most = WITHIN_BUFFER if workflow.patched(WITHIN_BUFFER_MARKER) else MAX_ACTIVITIES
        self.by_local = workflow.patched(PARTS_BY_LOCAL_ACTIVITY)
        self.per_task = self.max_starts is not None and workflow.patched(STARTS_PER_TASK)
        self.started_in: tuple = (-1, 0)  # (the workflow task, by its history length; the tasks started in it)
        self.launched_in: tuple = (-1, 0)  # (likewise; the waiting commands started in it)
        self.more = False  # ready tasks left to start (the core's step said so)
        self.history = P.History()
        self.run_state: Optional[S.OrderRun] = None  # None while its parts are read
        self.loader: Optional[P.Loader] = None  # reading the parts of an order that came in parts
        self.packed: Optional[P.Packed] = None  # their texts, kept current (None: an order started before parts)
        self.to_launch: list = []
        self.recorded: Optional[bytes] = None  # the parts the installed base records the order from
        given = P.from_bytes(raw.payload.data) if raw is not None and raw.payload is not None else None
        carried = start.get("carried")
        if carried is not None:  # an earlier run of this order continued as this one
            self.history = P.History(given[1] if given else None, carried.get("history"))
            self.revisions, self.memo = carried["revisions"], carried["memo"]
            self.callbacks = set(carried["callbacks"])
            self.requests.update({int(k): v for k, v in carried.get("requests", {}).items()})
            for data in carried["waiting"]:  # (read one by one as they start: a workflow task must stay short)
                self.in_flight += 1
                self.calls += data.get("kind") in ("call", "python")
                self.waiting.append(data)
            self.more = carried.get("more", False)
            for listener, events in carried.get("later", {}).items():  # (sent again from the first: at least once)
                self.later[listener] = collections.deque(events)
                self.in_flight += len(events)
            if given is not None:
                self._read(P.Loader(given[0]))
            else:
                self.run_state = S.from_data(carried["state"])
            return
        if given is not None:
            self._read(P.Loader(given[0]))
            return
        # (an order started before parts: its snapshot, read at once)
        self._begun(self.engine.start_snapshot(start["snapshot"], start["order"], start["catalog"], self._now(), max_starts=self.max_starts))

    def _read(self, loader: P.Loader) -> None:
        """A small order is read at once: the order begins here, not in run(), so an
        update or a signal in the same first workflow task finds it begun. A big one
        is read in run(), part by part; until then updates and signals wait."""
        self.loader = loader
        if loader.records <= LOAD_AT_ONCE:
            loader.read(LOAD_AT_ONCE + P.PART)
            self._loaded()

    def _loaded(self) -> None:
        loader, self.loader = self.loader, None
        self.packed = loader.packed
        if loader.head is not None:  # a continued run: the order as it was
            self.run_state = loader.run()
            return
        start = self.start
        records = (loader.fields, loader.items, loader.lines, loader.tasks, start["skipped"], start["waits_for"])
        first = self.engine.start_from_records(start["order"], records, start["catalog"], self._now(), max_starts=self.max_starts)
        self.packed.changed(first)
        if self.per_task:
            self.started_in = (workflow.info().get_current_history_length(), first.started)
        self._begun(first)

    def _begun(self, first: C.Step) -> None:
        self.more = first.more
        self.run_state = first.run
        self.history.extend(first.history)
        self.to_launch = list(first.commands)

    async def _until_read(self) -> None:
        """Updates and signals wait while the order's parts are read (a second or so for a big order)."""
        if self.run_state is None:
            await workflow.wait_condition(lambda: self.run_state is not None)

    # ---- the run ----------------------------------------------------------------------------------

    @workflow.run
    async def run(self, start: dict, raw: RawValue = None) -> dict:
        if self.rejected is not None:  # kept so that its submitter can read why (its memo says rejected)
            return {"order": start["order"], "status": S.REJECTED}
        while self.loader is not None:  # a big order: P.PART records per activation (decoding the input was this one's work)
            await self._next_part()
            if self.loader.read(P.PART):
                self._loaded()
        for cmd in self.to_launch:
            self._launch(cmd)
        self.to_launch = []
        for listener in self.later:
            asyncio.ensure_future(self._redeliver(listener))
        self._pump()
        self._update_memo()
        while True:
            r = self.run_state
            if r.status in S.FINAL and self.calls == 0:
                break
            if not self.draining and workflow.info().get_current_history_length() > CONTINUE_AFTER:
                self.draining = True
            if self.draining and self.running == 0 and self.notifying == 0 and not self.polling:  # (a poll of the orders it waits for is an activity too)
                await self._continue_as_new()
            if self.more:  # the next ready tasks start in a workflow task of their own
                self.more = False
                await asyncio.sleep(0.001)
                if self.per_task:
                    self._pump()  # (and the next waiting commands)
                self._apply(lambda now: C.TimePassed(now), tolerate=True)
                continue
            waits = [] if self.polling or self.draining else W.open_waits(r)
            if waits and (self.poll_at is None or self.poll_at <= self._now()):
                self.polling = True
                asyncio.ensure_future(self._poll(waits))
                continue
            nxt = None if r.status in S.FINAL else self.engine.next_timer(r)
            if nxt is not None and nxt <= self._now():
                self._apply(lambda now: C.TimePassed(now), tolerate=True)
                continue
            if waits:
                nxt = self.poll_at if nxt is None else min(nxt, self.poll_at)
            self._set_alarm(nxt)
            self.dirty = False
            await workflow.wait_condition(lambda: self.dirty)
        self._set_alarm(None)
        self.draining = False  # (the notifications left go out in this run)
        self._pump()
        # The installed base hears of the outcome now, not after the notifications
        # (a listener that is down must not hold the customer's assets up).
        r = self.run_state
        if r.status in (S.ORDER_COMPLETED, S.PARTIAL) and self.packed is not None:  # (the activity reads the parts, and keeps a partial order's delivered part)
            await self._pack()
            self._tell_installed_base("record", [r.id, {"partial": r.status == S.PARTIAL}], P.to_bytes(self.packed.parts(r)))
        elif r.status == S.ORDER_COMPLETED:
            self._tell_installed_base("record", [r.id, S.to_data(r)])
        elif r.status == S.PARTIAL:  # what it delivered is installed; the rest is released
            self._tell_installed_base("record", [r.id, S.to_data(progress.kept_part(r))])
        else:
            self._tell_installed_base("release", [r.id])
        await workflow.wait_condition(lambda: self.in_flight == 0 and not self.polling)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return {"order": self.run_state.id, "status": self.run_state.status}

    async def _poll(self, others: list) -> None:
        """Ask how each order it waits for stands; tell the core. Sooner again
        after a change, later and later while nothing changes."""
        moved = evicted = False
        try:
            for other in others:
                got = await workflow.execute_activity(PROGRESS, other, start_to_close_timeout=datetime.timedelta(seconds=30), retry_policy=DELIVERY_RETRY)
                if self.run_state.status in S.FINAL:
                    break  # (cancelled meanwhile)
                step = self._apply(lambda now: C.OtherOrderProgressed(other, got["status"], tuple(got["milestones"]), now), tolerate=True)
                moved |= bool(step is not None and step.history)
        except GeneratorExit:  # the worker evicted the workflow from its cache: no workflow context is left to book into
            evicted = True
            raise
        finally:
            if not evicted:
                self._polled(moved)

    def _polled(self, moved: bool) -> None:
        """When to ask again: sooner after a change, later and later while nothing changes."""
        self.poll_every = POLL_FIRST_MS if moved else min(self.poll_every * 2, POLL_MAX_MS)
        self.poll_at = self._now() + self.poll_every
        self.polling = False
        self.dirty = True

    async def _continue_as_new(self) -> None:
        """The order goes on in a new run: its state, history, revisions, the
        callbacks seen and the commands not started yet (no activity runs now)."""
        self._set_alarm(None)
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._pack()
        carried = {
            "revisions": self.revisions, "memo": self.memo, "callbacks": sorted(self.callbacks), "more": self.more,
            "waiting": [c if isinstance(c, dict) else Cmd.to_data(c) for c in self.waiting], "requests": {str(k): v for k, v in self.requests.items()},
            "later": {k: list(v) for k, v in self.later.items()},
        }
        if self.packed is None:  # an order started before parts
            carried.update(state=S.to_data(self.run_state), history=self.history.all())
            given = {k: v for k, v in self.start.items() if k not in ("snapshot", "carried")}
            workflow.continue_as_new({**given, "carried": carried}, memo=self.memo)
        else:  # the parts as they are now, and the history's, as a binary payload (its request is in `requests`)
            given = {k: v for k, v in self.start.items() if k not in ("carried", "request")}
            data = P.to_bytes(self.packed.parts(self.run_state), self.history.packed())
            workflow.continue_as_new(args=[{**given, "carried": carried}, binary(data)], memo=self.memo, task_timeout=workflow.info().task_timeout)

    async def _pack(self) -> None:
        """Encode again the parts of the state that changed since they were read,
        P.PART records per activation, until every one is current (an event
        meanwhile changes some again). An order started before parts: nothing."""
        while self.packed is not None and not self.packed.pack(self.run_state, P.PART):
            await self._next_part()
            await workflow.wait_condition(workflow.all_handlers_finished)

    async def _next_part(self) -> None:
        """Go on in a new activation (PARTS_BY_LOCAL_ACTIVITY)."""
        if self.by_local:
            await workflow.execute_local_activity(PASS, start_to_close_timeout=datetime.timedelta(seconds=30))
        else:
            await asyncio.sleep(0.001)

    def _set_alarm(self, at: Optional[int]) -> None:
        """One durable timer, for the next moment time alone changes the order
        (a retry, a wait, a callback deadline, jeopardy); it is replaced only
        when that moment changes, not at every event."""
        if at == self.alarm_at:
            return
        if self.alarm is not None:
            self.alarm.cancel()
        self.alarm_at, self.alarm = at, None
        if at is not None:
            self.alarm = asyncio.ensure_future(self._ring(at))

    async def _ring(self, at: int) -> None:
        await asyncio.sleep((at - self._now()) / 1000)
        self.alarm_at, self.alarm = None, None
        self.dirty = True  # the loop sees the time has come

    def _now(self) -> int:
        return int(workflow.now().timestamp() * 1000)

    def _take(self, step: C.Step) -> None:
        self.run_state = step.run
        self.more = self.more or step.more
        self.history.extend(step.history)
        if self.packed is not None:
            self.packed.changed(step)
        self.dirty = True
        for cmd in step.commands:
            self._launch(cmd)
        self._update_memo()

    def _note(self, cause: str) -> None:
        """A line of the order's history that changes no state (an event ignored, a revision refused)."""
        self.history.append({"at": self._now(), "subject": "order", "from": None, "to": None, "cause": cause})

    def _update_memo(self) -> None:
        r = self.run_state
        memo = {"status": r.status, "jeopardy": r.jeopardy, "customer": r.fields.get("customer_account"), "external_id": r.external_id}
        if self.start.get("submitted_by"):  # (listings show a submitter its own orders)
            memo["submitted_by"] = self.start["submitted_by"]
        if memo != self.memo:
            self.memo = memo
            workflow.upsert_memo(memo)

    def _apply(self, make_event, tolerate: bool = False) -> Optional[C.Step]:
        """One event through the core. An event the order no longer accepts
        is refused (an update's caller hears why) or, from an activity or a
        timer, recorded and dropped."""
        now = self._now()
        try:
            step = self.engine.handle(self.run_state, make_event(now), in_place=True, max_starts=self._starts_left())  # (the core's index makes an event cost what it changes)
        except C.Rejection as exc:
            if not tolerate:
                raise ApplicationError(str(exc), type="Rejection", non_retryable=True) from None
            self._note(f"ignored: {exc}")
            return None
        self._take(step)
        if self.per_task:
            self.started_in = (self.started_in[0], self.started_in[1] + step.started)
        return step

    def _starts_left(self) -> Optional[int]:
        """Tasks this workflow task may still start (MAX_STARTS in all)."""
        if not self.per_task:
            return self.max_starts
        at = workflow.info().get_current_history_length()
        if at != self.started_in[0]:
            self.started_in = (at, 0)
        return max(0, self.max_starts - self.started_in[1])

    # ---- commands as activities -------------------------------------------------------------------

    def _tell_installed_base(self, signal: str, args: list, parts: Optional[bytes] = None) -> None:
        """`parts`: the order's, for the activity to read what the installed base records (a binary payload)."""
        self.recorded = parts
        self._launch(Cmd.TellInstalledBase(self.run_state.fields.get("customer_account"), signal, args))

    def _launch(self, cmd: Cmd.Command) -> None:
        """Run a command as an activity, counted until it is done (calls apart: the order ends when none is left);
        past self.most running, it waits for one to finish."""
        if isinstance(cmd, Cmd.Notify) and workflow.patched(ORDERED_EVENTS):  # in turn, outside the activity slots (calls do not wait behind events)
            self.in_flight += 1
            self.notifying += 1
            asyncio.ensure_future(self._notify(self._event_data(cmd)))
            return
        self.in_flight += 1
        self.calls += isinstance(cmd, Cmd.CALLS)
        if self.draining or (self.running >= self.most and workflow.patched(BOUNDED)):
            self.waiting.append(cmd)
            return
        self.running += 1
        asyncio.ensure_future(self._execute(cmd))

    async def _execute(self, cmd: Cmd.Command) -> None:
        try:
            if isinstance(cmd, Cmd.Notify):
                # A regular activity, not a local one: a listener that is down must not hold the workflow's tasks
                # (a local activity's retries keep the workflow task open, and every other event waits).
                # (Here: a workflow started before ORDERED_EVENTS, or an event carried from such a run.)
                if workflow.patched(ORDERED_EVENTS):
                    await self._send_event(self._event_data(cmd))
                else:
                    await workflow.execute_activity(NOTIFY, self._event_data(cmd), start_to_close_timeout=datetime.timedelta(seconds=30), retry_policy=DELIVERY_RETRY)
            elif isinstance(cmd, Cmd.TellInstalledBase):
                given = [{"customer": cmd.customer, "signal": cmd.signal, "args": cmd.args}] + ([binary(self.recorded)] if self.recorded is not None else [])
                await workflow.execute_local_activity(INSTALLED, args=given, start_to_close_timeout=datetime.timedelta(seconds=30), retry_policy=DELIVERY_RETRY)
            else:
                try:
                    await self._call(cmd)
                finally:
                    self.calls -= 1
        finally:
            self.in_flight -= 1
            self.dirty = True
            self.running -= 1
            self._pump()

    def _pump(self) -> None:
        """Start commands waiting for an activity, up to self.most (none while draining);
        at most MAX_STARTS in a workflow task (a continued run's first would start 500), the rest in the next."""
        while self.waiting and not self.draining and self.running < self.most:
            if self.per_task:
                at = workflow.info().get_current_history_length()
                launched = self.launched_in[1] if self.launched_in[0] == at else 0
                if launched >= self.max_starts:
                    self.more = True  # (the loop goes on in the next workflow task)
                    return
                self.launched_in = (at, launched + 1)
            self.running += 1
            cmd = self.waiting.popleft()
            asyncio.ensure_future(self._execute(Cmd.from_data(cmd) if isinstance(cmd, dict) else cmd))

    async def _call(self, cmd: Cmd.Call | Cmd.AutoTask) -> None:
        """A call or an auto task: one attempt (the core times the retries by
        the spec's policy); its result back to the core, whatever it is; then
        the callbacks that came while the call was being made."""
        self.early[cmd.key] = []
        try:
            await self._attempt(cmd)
        finally:
            for cb in self.early.pop(cmd.key):
                self._receive(cb)

    async def _attempt(self, cmd: Cmd.Call | Cmd.AutoTask) -> None:
        task = cmd.task
        timeout = call_timeout(cmd.timeout_ms, isinstance(cmd, Cmd.Call) and cmd.is_async)
        try:
            result = await workflow.execute_activity(CALL, Cmd.to_data(cmd), start_to_close_timeout=timeout, retry_policy=CALL_RETRY)
        except ActivityError as err:  # the worker could not make the call (it died, it hung, the adapter broke)
            cause = err.cause
            message = cause.message if isinstance(cause, ApplicationError) else str(cause or err)
            self._apply(lambda now: C.CallFailed(task, f"the call could not be made: {message}", True, now), tolerate=True)
            return
        outputs = {}
        if result["status"] == "ok":
            try:
                outputs = S.decode_value(result["outputs"])
            except (ArithmeticError, ValueError, TypeError) as exc:  # an answer that cannot be read fails the call, not the workflow
                why = f"the answer cannot be read: {exc!r}"
                self._apply(lambda now: C.CallFailed(task, why, False, now), tolerate=True)
                return
        answer = CallResult(result["status"], outputs, result["message"], result["retryable"], result.get("failure"))
        self._apply(lambda now: executor.event_for(task, answer, now), tolerate=True)

    # ---- what happens to the order ----------------------------------------------------------------

    @workflow.signal(name="callback")
    async def callback(self, cb: dict) -> None:
        """An asynchronous operation's answer, by the call's correlation id (its idempotency key)."""
        await self._until_read()
        if cb.get("id") in self.callbacks:
            return
        if cb.get("id"):
            self.callbacks.add(cb["id"])
        key = str(cb.get("key"))
        if key in self.early:
            # A fast system answered before its acknowledgement is in: the answer
            # waits for it, as on the embedded engine (whose inbox is read after
            # the call's result is applied), so the core hears the call's story
            # in order: acknowledged, then answered.
            self.early[key].append(cb)
            return
        self._receive(cb)

    def _receive(self, cb: dict) -> None:
        outputs = cb.get("outputs") or {}  # a system's JSON, as it sent it (as on the embedded engine)
        if not isinstance(outputs, dict):
            self._note(f"callback {cb.get('key')} ignored: its outputs are not a JSON object")
            return
        self._apply(lambda now: C.CallbackReceived(str(cb.get("key")), outputs, bool(cb.get("ok", True)), str(cb.get("message", "")), now), tolerate=True)

    @workflow.update(name="complete_task")
    async def complete_task(self, req: dict) -> dict:
        await self._until_read()
        return self._answer(self._apply(lambda now: C.ManualCompleted(req["task"], S.decode_value(req.get("data") or {}), req["by"], now)))

    @workflow.update(name="retry_task")
    async def retry_task(self, req: dict) -> dict:
        await self._until_read()
        return self._answer(self._apply(lambda now: C.OperatorRetry(req["task"], req["by"], req.get("reason", ""), now)))

    @workflow.update(name="skip_task")
    async def skip_task(self, req: dict) -> dict:
        await self._until_read()
        return self._answer(self._apply(lambda now: C.OperatorSkip(req["task"], req["by"], req["reason"], now)))

    @workflow.update(name="claim_task")
    async def claim_task(self, req: dict) -> dict:
        await self._until_read()
        return self._answer(self._apply(lambda now: C.TaskClaimed(req["task"], req["by"], req.get("reason", ""), now)))

    @workflow.update(name="resume")
    async def resume(self, req: dict) -> dict:
        await self._until_read()
        return self._answer(self._apply(lambda now: C.OrderResume(req["by"], req.get("reason", ""), now)))

    @workflow.update(name="release")
    async def release(self, req: dict) -> dict:
        """A draft order (TMF622 v5 requestedInitialState: draft) starts."""
        await self._until_read()
        return self._answer(self._apply(lambda now: C.OrderRelease(req["by"], now)))

    @workflow.update(name="cancel")
    async def cancel(self, req: dict) -> dict:
        await self._until_read()
        return self._answer(self._apply(lambda now: C.CancelRequested(req["by"], req.get("reason", ""), bool(req.get("force")), now)))

    @workflow.update(name="fail")
    async def fail(self, req: dict) -> dict:
        """An operator gives the held order up: it ends partial or failed."""
        await self._until_read()
        return self._answer(self._apply(lambda now: C.GiveUp(req["by"], req["reason"], now)))

    @workflow.update(name="amend")
    async def amend(self, req: dict) -> dict:
        """A revision planned by the client on this order's catalog version.
        Every revision is kept, applied or refused (with why)."""
        await self._until_read()
        revision = len(self.revisions) + 2
        entry = {"revision": revision, "status": "received", "why": None, "by": req["by"], "at": self._now()}
        self.revisions.append(entry)
        if req.get("refused"):  # not a valid order: planning refused it
            entry.update(status="refused", why=req["refused"])
            self._note(f"revision {revision} refused: it is not a valid order")
            if self.run_state.status == S.DRAFT and req.get("missing"):  # the draft stays; its originating system hears what it lacks
                self._apply(lambda now: C.InformationRequired(req["missing"], req["by"], now), tolerate=True)
            raise ApplicationError(req["refused"], type="Rejection", non_retryable=True)
        if req.get("request") is not None:  # its events and resource return what it carried, once it is in force
            self.requests[revision] = req["request"]
        try:
            step = self._apply(lambda now: C.Amend(revision, req["plan"], req["by"], bool(req.get("force")), now))
        except ApplicationError as exc:
            entry.update(status="refused", why=exc.message)
            self._note(f"revision {revision} refused: {exc.message}")
            raise
        return {**self._answer(step), "revision": revision}

    def _answer(self, step: Optional[C.Step]) -> dict:
        return {"status": self.run_state.status, "history": step.history if step else []}
