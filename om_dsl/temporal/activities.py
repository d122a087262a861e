"""The activities of the order workflow: what its commands do.

`om.call` calls a downstream system's operation (through the adapters of
the deployment configuration) or runs an auto task, with the command's
idempotency key, the same on every attempt, so a system applies it once.
Its result is what the adapter answered, a failure included (retryable or
not): the engine core applies the spec's retry policy.
`om.installed_base` tells a customer's installed base (an entity workflow)
that an order claims assets, completed, or ended otherwise.
`om.order_progress` reads how another order stands (its status and the
milestones it reached), for an order that waits for it.
`om.notify` sends an order event to the listeners (the worker's
`--listener`s, and the hub's subscriptions whose query and owner match:
om_dsl/temporal/hub.py), or to the simulated originating system when there
is none: at least once, the event id as its idempotency key; `om.deliver`
sends one again to a listener that did not take it.
`om.cancel_order` sends an order's workflow the `cancel` update for a
CancelProductOrder request (om_dsl/temporal/cancellations.py).
`om.pass` does nothing: the workflow awaits it, as a local activity, to go on
in a new activation between two parts of a big order.
"""

from __future__ import annotations

import asyncio
from typing import Optional, Sequence

from temporalio import activity
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError

from om_dsl.engine import commands as Cmd
from om_dsl.engine import executor
from om_dsl.engine import state as S
from om_dsl.observe import tracing
from om_dsl.observe.calls import CallStats, Timer
from om_dsl.temporal import parts as P

CALL = "om.call"
NOTIFY = "om.notify"
INSTALLED = "om.installed_base"
PROGRESS = "om.order_progress"
CANCEL = "om.cancel_order"
DELIVER = "om.deliver"
PASS = "om.pass"


class Activities:
    def __init__(self, systems, python_tasks, listeners: Sequence[str] = (), timeout_s: float = 10.0, client=None, stats=None):
        self.client = client  # to signal the customers' installed bases
        self.stats = stats if stats is not None else CallStats()  # the calls of this worker (`om worker --metrics`)
        self.systems = systems
        self.python_tasks = python_tasks
        self.listeners = tuple(listeners)
        self.timeout_s = timeout_s

    @activity.defn(name=CALL)
    def call(self, command: dict) -> dict:
        """One attempt. What the system answered, a failure included, is the
        result: the engine core decides, by the spec's policy, what comes next."""
        cmd = Cmd.from_data(command)
        with tracing.call_span(cmd, parent="current") as span, Timer() as timer:  # (a child of the interceptor's activity span)
            result = executor.perform(cmd, self.systems, self.python_tasks)
            span.done(result)
        self.stats.record(cmd, result, timer.seconds)
        return executor.result_to_data(result)

    @activity.defn(name=PASS)
    async def pass_(self) -> None:
        """Nothing: a local activity the order workflow awaits to go on in a new activation of the same
        workflow task, between two parts of a big order (a timer would fire a second later)."""

    @activity.defn(name=NOTIFY)
    async def notify(self, command: dict) -> Optional[dict]:
        """The event to every listener that takes it: the worker's `--listener`s,
        and the hub's subscriptions whose query it matches and whose owner (if
        any) submitted the order. {"later": the listeners that did not take it,
        or that have older events of the order waiting (`command["later"]`),
        not sent: the workflow sends them again, in order; "sent": those that
        took it; "failed": {listener: why} of those that did not (`om
        notifications list` reads them in the history)}. (A workflow started
        before it kept those gives no "later": the activity fails, and is tried
        again, until every listener took the event.)"""
        from om_dsl.engine.hub import query_matches

        # the command's data (`commands.to_data`): the engine's notice, with the request it is shaped by
        # (or, from a workflow of before, an event shaped already: sent as it is)
        from om_dsl.tmf622 import events as tmf_events

        event = command["event"]
        if "@type" not in event:  # a notice: shaped here, in the version of the order's request (the workflow gives it)
            event = tmf_events.render(S.decode_value(event), command.get("request"))
        subscriptions = await self.subscriptions(activity.info().task_queue)
        if not self.listeners and not subscriptions:
            await asyncio.to_thread(self.systems.notify, command["key"], event)
            return {"later": []}
        owner = command.get("owner")  # a submitter's subscription takes its own orders' events only
        matching = [s["callback"] for s in subscriptions if (s.get("owner") is None or s["owner"] == owner) and query_matches(s.get("query"), event)]
        queued = set(command.get("later") or ())
        later, sent, failed = [], [], {}
        for listener in dict.fromkeys([*self.listeners, *matching]):  # (each once)
            if listener in queued:
                later.append(listener)
                continue
            error = await asyncio.to_thread(self._post, listener, command["key"], event)
            if error:
                later.append(listener)
                failed[listener] = error
            else:
                sent.append(listener)
        if "later" in command:
            return {"later": later, "sent": sent, "failed": failed}
        if failed:  # Temporal tries again, backing off (every listener: at least once); a listener dedupes by event id
            raise ApplicationError("; ".join(f"{k}: {v}" for k, v in failed.items()), type="DeliveryFailed")
        return None

    @activity.defn(name=DELIVER)
    async def deliver(self, request: dict) -> None:
        """An event again, to the one listener that did not take it: fails (and is tried again) until it does."""
        from om_dsl.tmf622 import events as tmf_events

        event = request["event"]
        if "@type" not in event:  # a notice, shaped as om.notify shapes it
            event = tmf_events.render(S.decode_value(event), request.get("request"))
        error = await asyncio.to_thread(self._post, request["listener"], request["key"], event)
        if error:
            raise ApplicationError(f"{request['listener']}: {error}", type="DeliveryFailed")

    def _post(self, listener: str, key: str, event: dict) -> Optional[str]:
        """POST the event; the error, or None when the listener took it."""
        from om_dsl.systems import egress, http

        refusal = egress.ANY.refusal(listener)  # checked at each delivery: a host name can be re-pointed
        if refusal:
            return f"not sent: {refusal}"
        return http.post_json(listener, event, {"Idempotency-Key": key, "X-Event-Id": key}, self.timeout_s, 65_536).error

    async def subscriptions(self, task_queue: str) -> list:
        """The hub's subscriptions (its memo: a describe, no worker answers it); none when it has never started."""
        from temporalio.service import RPCError, RPCStatusCode

        from om_dsl.temporal.hub import workflow_id

        if self.client is None:  # (activities made without a client, as a program may: no hub)
            return []
        try:
            described = await self.client.get_workflow_handle(workflow_id(task_queue)).describe()
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise  # tried again
            return []
        return (await described.memo()).get("subscriptions") or []

    @activity.defn(name=CANCEL)
    async def cancel_order(self, request: dict) -> dict:
        """The `cancel` update of the order's workflow: {"status"} as the order
        stands after it, or {"refused": why} (it refused, or it has ended)."""
        from temporalio.client import WorkflowExecutionStatus, WorkflowUpdateFailedError
        from temporalio.service import RPCError, RPCStatusCode

        handle = self.client.get_workflow_handle(request["order"])
        try:
            answer = await handle.execute_update("cancel", {k: request[k] for k in ("by", "reason", "force")})
        except WorkflowUpdateFailedError as exc:
            return {"refused": exc.cause.message if isinstance(exc.cause, ApplicationError) else str(exc.cause or exc)}
        except RPCError:  # the order's workflow has ended (it takes no update), or the cluster failed
            try:
                described = await handle.describe()
            except RPCError as exc:
                if exc.status != RPCStatusCode.NOT_FOUND:
                    raise  # tried again
                return {"refused": f"no order {request['order']}"}
            if described.status == WorkflowExecutionStatus.RUNNING:
                raise  # tried again
            status = (await described.memo()).get("status")
            return {"refused": f"order {request['order']} is {status}: it has ended, there is nothing left to cancel"}
        return {"status": answer["status"]}

    @activity.defn(name=INSTALLED)
    async def installed_base(self, request: dict, raw: RawValue = None) -> None:
        """Tell the customer's installed base an order completed (what it
        writes, in parts of `record_entries`, starting it the first time) or
        ended otherwise (`release`)."""
        from temporalio.service import RPCError, RPCStatusCode

        from om_dsl.planning.installed import empty_state
        from om_dsl.temporal.installed_base import ENTRIES_PER_PART, QUEUE, WORKFLOW, workflow_id

        wid = workflow_id(request["customer"])
        if request["signal"] == "record":
            order, given = request["args"]
            parts = P.from_bytes(raw.payload.data)[0] if raw is not None and raw.payload is not None else None  # an order in parts
            entries = await asyncio.to_thread(recorded, parts, given)  # (seconds of a big order's decoding: not on the worker's event loop)
            chunks = [entries[n:n + ENTRIES_PER_PART] for n in range(0, len(entries), ENTRIES_PER_PART)] or [[]]
            for n, chunk in enumerate(chunks):  # one at a time, in order: the last releases the order's claims
                part = {"order": order, "entries": chunk, "last": n == len(chunks) - 1}
                await self.client.start_workflow(WORKFLOW, empty_state(), id=wid, task_queue=QUEUE, start_signal="record_entries", start_signal_args=[part])
            return
        try:
            await self.client.get_workflow_handle(wid).signal(request["signal"], *request["args"])
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:  # no installed base: nothing was claimed
                raise

    @activity.defn(name=PROGRESS)
    async def order_progress(self, order_id: str) -> dict:
        """How another order stands, by a query of its workflow (running or
        closed): {"status", "milestones"}; status `unknown` when there is none."""
        from temporalio.service import RPCError, RPCStatusCode

        from om_dsl.engine.waits import UNKNOWN

        try:
            got = await self.client.get_workflow_handle(order_id).query("progress")
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise  # tried again (the worker of that order may be down)
            return {"status": UNKNOWN, "milestones": []}
        return {"status": got["status"], "milestones": got["milestones"]}


def recorded(parts: Optional[dict], given: dict) -> list:
    """What a finished order writes into its installed base (`planning.installed.order_entries`),
    at the time it ended (so an attempt again sends the same): a partial order's delivered part.
    The order from its parts, or (a workflow started before parts) as `given`, the state it sent."""
    from om_dsl.engine.progress import kept_part
    from om_dsl.planning.installed import order_entries

    if parts is None:
        run = S.from_data(given)
        return order_entries(run, run.updated_at)
    loader = P.Loader(parts)
    loader.read(loader.records)
    run = loader.run()
    return order_entries(kept_part(run) if given["partial"] else run, run.updated_at)
