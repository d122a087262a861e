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
`om.notify` sends an order event to the listeners, or to the simulated
originating system when there is none: at least once, the event id as its
idempotency key.
"""

from __future__ import annotations

from typing import Sequence

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

    @activity.defn(name=NOTIFY)
    def notify(self, command: dict) -> None:
        from om_dsl.systems import egress, http

        # the command's data (`commands.to_data`): the engine's notice, with the request it is shaped by
        # (or, from a workflow of before, an event shaped already: sent as it is)
        from om_dsl.tmf622 import events as tmf_events

        event = command["event"]
        if "@type" not in event:  # a notice: shaped here, in the version of the order's request (the workflow gives it)
            event = tmf_events.render(S.decode_value(event), command.get("request"))
        if not self.listeners:
            self.systems.notify(command["key"], event)
            return
        for listener in self.listeners:
            refusal = egress.ANY.refusal(listener)  # checked at each delivery: a host name can be re-pointed
            if refusal:
                raise ApplicationError(f"{listener}: not sent: {refusal}", type="DeliveryFailed")
            answer = http.post_json(listener, event, {"Idempotency-Key": command["key"], "X-Event-Id": command["key"]}, self.timeout_s, 65_536)
            if answer.error:  # Temporal tries again, backing off; the listener dedupes by event id
                raise ApplicationError(f"{listener}: {answer.error}", type="DeliveryFailed")

    @activity.defn(name=INSTALLED)
    async def installed_base(self, request: dict, raw: RawValue = None) -> None:
        """Tell the customer's installed base an order completed (`record`,
        starting it the first time) or ended otherwise (`release`)."""
        from temporalio.service import RPCError, RPCStatusCode

        from om_dsl.planning.installed import empty_state
        from om_dsl.temporal.installed_base import QUEUE, WORKFLOW, workflow_id

        wid = workflow_id(request["customer"])
        if request["signal"] == "record":
            args = request["args"]
            if raw is not None and raw.payload is not None:  # an order in parts: what the installed base reads of it, made here
                args = [args[0], recorded(P.from_bytes(raw.payload.data)[0], args[1]["partial"])]
            await self.client.start_workflow(WORKFLOW, empty_state(), id=wid, task_queue=QUEUE, start_signal="record", start_signal_args=args)
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


def recorded(parts: dict, partial: bool) -> dict:
    """A finished order, from its parts, as the installed base records it
    (`planning.installed.record_order`): a partial order's delivered part; of
    its tasks, those whose outputs the inventory keeps."""
    from om_dsl.engine.progress import kept_part

    loader = P.Loader(parts)
    loader.read(loader.records)
    run = loader.run()
    if partial:
        run = kept_part(run)
    run.tasks = {k: t for k, t in run.tasks.items() if t.outputs}
    return S.to_data(run)
