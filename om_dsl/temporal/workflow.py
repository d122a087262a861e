"""The order workflow: one order, driven by the pure engine core.

Its input is the compiled, versioned plan (plan.json and its sha256) and
the order as planned (`plan_snapshot`). Everything the core asks for is an
activity; everything that happens to the order is an event for the core:
an activity's result, an update (a manual task completed, an operator's
retry or skip, a resume, a cancellation, an amendment), a callback signal,
or a timer firing (a retry, a wait, a callback deadline, jeopardy). An
order that waits for other orders (engine/waits.py) polls them: an activity
queries each one's workflow, at first every second, then less often while
nothing changes (at most every 30 s), and its answer is the core's
`OtherOrderProgressed`. The
workflow's state is the core's state: replaying the history rebuilds it
exactly, because the core is deterministic and reads time only from the
events (`workflow.now()`).
"""

from __future__ import annotations

import asyncio
import collections
import datetime
from typing import Optional

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from om_dsl.engine import commands as Cmd
    from om_dsl.engine import core as C
    from om_dsl.engine import executor, progress
    from om_dsl.engine import state as S
    from om_dsl.engine import waits as W
    from om_dsl.engine.instants import show_instant
    from om_dsl.engine.view import catalog_version, revision_state, task_entries, wait_entries
    from om_dsl.systems.adapters import CallResult
    from om_dsl.temporal.activities import CALL, INSTALLED, NOTIFY, PROGRESS
    from om_dsl.temporal.catalogs import engine_for
    from om_dsl.temporal.retry import CALL_RETRY, DELIVERY_RETRY, call_timeout
    from om_dsl.tmf622 import events as tmf_events


POLL_FIRST_MS, POLL_MAX_MS = 1_000, 30_000  # polling the orders one waits for


# Activities one order runs at once, at most: Temporal refuses a workflow more
# than 2,000 pending ones (a fan-out of a big order releases thousands of calls
# at once); the rest wait in the workflow, in order, for one to finish.
MAX_ACTIVITIES = 500
BOUNDED = "om-bounded-activities"  # the patch marker: workflows started before it launched them all at once

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


@workflow.defn(name="Order")
class OrderWorkflow:
    @workflow.init
    def __init__(self, start: dict) -> None:
        self.start = start
        self.engine = engine_for(start["catalog"], start["plan"], start.get("sources"))
        self.history: list = []
        self.revisions: list = []  # [{revision, status, why, by, at}]
        self.callbacks: set = set()  # callback ids seen: a duplicate is dropped
        self.early: dict = {}  # idempotency key of a call being made -> the callbacks that came before its result
        self.in_flight = 0  # commands running or waiting to: calls, notifications, installed-base signals
        self.running = 0  # of which activities started (at most MAX_ACTIVITIES)
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
        self.more = False  # ready tasks left to start (the core's step said so)
        carried = start.get("carried")
        if carried is not None:  # an earlier run of this order continued as this one
            self.run_state = S.from_data(carried["state"])
            self.history, self.revisions, self.memo = carried["history"], carried["revisions"], carried["memo"]
            self.callbacks = set(carried["callbacks"])
            self.requests.update({int(k): v for k, v in carried.get("requests", {}).items()})
            self.to_launch = []
            for data in carried["waiting"]:  # (read one by one as they start: a workflow task must stay short)
                self.in_flight += 1
                self.calls += data.get("kind") in ("call", "python")
                self.waiting.append(data)
            self.more = carried.get("more", False)
            return
        # The order begins here, not in run(): an update or a signal may come in
        # the same first workflow task, before run() starts, and finds it begun.
        first = self.engine.start_snapshot(start["snapshot"], start["order"], start["catalog"], self._now(), max_starts=self.max_starts)
        self.more = first.more
        self.run_state = first.run
        self.history.extend(first.history)
        self.to_launch = list(first.commands)

    # ---- the run ----------------------------------------------------------------------------------

    @workflow.run
    async def run(self, start: dict) -> dict:
        for cmd in self.to_launch:
            self._launch(cmd)
        self.to_launch = []
        self._pump()
        self._update_memo()
        while True:
            r = self.run_state
            if r.status in S.FINAL and self.calls == 0:
                break
            if not self.draining and workflow.info().get_current_history_length() > CONTINUE_AFTER:
                self.draining = True
            if self.draining and self.running == 0 and not self.polling:  # (a poll of the orders it waits for is an activity too)
                await self._continue_as_new()
            if self.more:  # the next ready tasks start in a workflow task of their own
                self.more = False
                await asyncio.sleep(0.001)
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
        if r.status == S.ORDER_COMPLETED:
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
        carried = {
            "state": S.to_data(self.run_state), "history": self.history, "revisions": self.revisions, "memo": self.memo,
            "callbacks": sorted(self.callbacks), "waiting": [c if isinstance(c, dict) else Cmd.to_data(c) for c in self.waiting], "more": self.more, "requests": {str(k): v for k, v in self.requests.items()},
        }
        workflow.continue_as_new({**{k: v for k, v in self.start.items() if k not in ("snapshot", "carried")}, "carried": carried}, memo=self.memo)

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
        if memo != self.memo:
            self.memo = memo
            workflow.upsert_memo(memo)

    def _apply(self, make_event, tolerate: bool = False) -> Optional[C.Step]:
        """One event through the core. An event the order no longer accepts
        is refused (an update's caller hears why) or, from an activity or a
        timer, recorded and dropped."""
        now = self._now()
        try:
            step = self.engine.handle(self.run_state, make_event(now), in_place=True, max_starts=self.max_starts)  # (the core's index makes an event cost what it changes)
        except C.Rejection as exc:
            if not tolerate:
                raise ApplicationError(str(exc), type="Rejection", non_retryable=True) from None
            self._note(f"ignored: {exc}")
            return None
        self._take(step)
        return step

    # ---- commands as activities -------------------------------------------------------------------

    def _tell_installed_base(self, signal: str, args: list) -> None:
        self._launch(Cmd.TellInstalledBase(self.run_state.fields.get("customer_account"), signal, args))

    def _launch(self, cmd: Cmd.Command) -> None:
        """Run a command as an activity, counted until it is done (calls apart: the order ends when none is left);
        past MAX_ACTIVITIES running, it waits for one to finish."""
        if isinstance(cmd, Cmd.Notify):  # in TMF622's shape, in the version of the order's request (pure: replays the same)
            cmd = Cmd.Notify(cmd.order, cmd.key, tmf_events.render(cmd.event, self.requests.get(tmf_events.revision_of(cmd.event))))
        self.in_flight += 1
        self.calls += isinstance(cmd, Cmd.CALLS)
        if self.draining or (self.running >= MAX_ACTIVITIES and workflow.patched(BOUNDED)):
            self.waiting.append(cmd)
            return
        self.running += 1
        asyncio.ensure_future(self._execute(cmd))

    async def _execute(self, cmd: Cmd.Command) -> None:
        try:
            if isinstance(cmd, Cmd.Notify):
                # A regular activity, not a local one: a listener that is down must not hold the workflow's tasks
                # (a local activity's retries keep the workflow task open, and every other event waits).
                await workflow.execute_activity(NOTIFY, Cmd.to_data(cmd), start_to_close_timeout=datetime.timedelta(seconds=30), retry_policy=DELIVERY_RETRY)
            elif isinstance(cmd, Cmd.TellInstalledBase):
                await workflow.execute_local_activity(INSTALLED, {"customer": cmd.customer, "signal": cmd.signal, "args": cmd.args}, start_to_close_timeout=datetime.timedelta(seconds=30), retry_policy=DELIVERY_RETRY)
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
        """Start commands waiting for an activity, up to MAX_ACTIVITIES (none while draining)."""
        while self.waiting and not self.draining and self.running < MAX_ACTIVITIES:
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
    def callback(self, cb: dict) -> None:
        """An asynchronous operation's answer, by the call's correlation id (its idempotency key)."""
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
    def complete_task(self, req: dict) -> dict:
        return self._answer(self._apply(lambda now: C.ManualCompleted(req["task"], S.decode_value(req.get("data") or {}), req["by"], now)))

    @workflow.update(name="retry_task")
    def retry_task(self, req: dict) -> dict:
        return self._answer(self._apply(lambda now: C.OperatorRetry(req["task"], req["by"], req.get("reason", ""), now)))

    @workflow.update(name="skip_task")
    def skip_task(self, req: dict) -> dict:
        return self._answer(self._apply(lambda now: C.OperatorSkip(req["task"], req["by"], req["reason"], now)))

    @workflow.update(name="claim_task")
    def claim_task(self, req: dict) -> dict:
        return self._answer(self._apply(lambda now: C.TaskClaimed(req["task"], req["by"], req.get("reason", ""), now)))

    @workflow.update(name="resume")
    def resume(self, req: dict) -> dict:
        return self._answer(self._apply(lambda now: C.OrderResume(req["by"], req.get("reason", ""), now)))

    @workflow.update(name="release")
    def release(self, req: dict) -> dict:
        """A draft order (TMF622 v5 requestedInitialState: draft) starts."""
        return self._answer(self._apply(lambda now: C.OrderRelease(req["by"], now)))

    @workflow.update(name="cancel")
    def cancel(self, req: dict) -> dict:
        return self._answer(self._apply(lambda now: C.CancelRequested(req["by"], req.get("reason", ""), bool(req.get("force")), now)))

    @workflow.update(name="fail")
    def fail(self, req: dict) -> dict:
        """An operator gives the held order up: it ends partial or failed."""
        return self._answer(self._apply(lambda now: C.GiveUp(req["by"], req["reason"], now)))

    @workflow.update(name="amend")
    def amend(self, req: dict) -> dict:
        """A revision planned by the client on this order's catalog version.
        Every revision is kept, applied or refused (with why)."""
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

    # ---- what operators read ----------------------------------------------------------------------

    @workflow.query(name="order")
    def order(self) -> dict:
        r = self.run_state
        out = {
            "id": r.id, "status": r.status, "customer": r.fields.get("customer_account"), "external_id": r.external_id,
            "created_at": show_instant(r.created_at), "updated_at": show_instant(r.updated_at), "catalog": r.catalog, "jeopardy": r.jeopardy, "revision": r.revision,
            "catalog_version": catalog_version(self.engine), "tasks": S.encode_value(task_entries(self.engine, r)),
        }
        if r.waits_for:
            out["waits_for"] = wait_entries(r)
        if self.revisions:
            out["revisions"] = [
                {"revision": v["revision"], "status": revision_state(r, v["revision"], v["status"]), **({"reason": v["why"]} if v["why"] else {}), "by": v["by"], "received_at": show_instant(v["at"])}
                for v in self.revisions
            ]
        return out

    @workflow.query(name="progress")
    def progress(self) -> dict:
        """How the order stands for those that wait for it (engine/waits.py):
        its status, the milestones it reached, all its milestones, and the orders it waits for."""
        r = self.run_state
        return {**W.progress(r), "all_milestones": W.milestones(r), "waits": W.open_waits(r)}

    @workflow.query(name="state")
    def state(self) -> dict:
        """The core's state of the order, as the embedded store keeps it."""
        return S.to_data(self.run_state)

    @workflow.query(name="request")
    def request(self) -> Optional[dict]:
        """The request document of the revision in force, as the client submitted it."""
        return self.requests.get(self.run_state.revision)

    @workflow.query(name="history")
    def events(self) -> list:
        return self.history

    @workflow.query(name="plan")
    def plan(self) -> dict:
        """The catalog version the order runs on: an amendment is planned on it."""
        return {"catalog": self.start["catalog"], "plan": self.start["plan"], "sources": self.start.get("sources")}
