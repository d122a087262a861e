"""The activities of the order workflow: what its commands do.

`om.call` calls a downstream system's operation (through the adapters of
the deployment configuration) or runs an auto task, with the command's
idempotency key, the same on every attempt, so a system applies it once.
Its failure is an ApplicationError, non-retryable when the adapter says so
(a 4xx, a task that cannot load); its details carry the attempt number.
`om.installed_base` tells a customer's installed base (an entity workflow)
that an order claims assets, completed, or ended otherwise.
`om.notify` sends an order event to the listeners, or to the simulated
originating system when there is none: at least once, the event id as its
idempotency key.
"""

from __future__ import annotations

from typing import Sequence

from temporalio import activity
from temporalio.exceptions import ApplicationError

from om_dsl.runtime.engine.state import decode_value, encode_value

CALL = "om.call"
NOTIFY = "om.notify"
INSTALLED = "om.installed_base"


class Activities:
    def __init__(self, systems, python_tasks, listeners: Sequence[str] = (), timeout_s: float = 10.0, client=None):
        self.client = client  # to signal the customers' installed bases
        self.systems = systems
        self.python_tasks = python_tasks
        self.listeners = tuple(listeners)
        self.timeout_s = timeout_s

    @activity.defn(name=CALL)
    def call(self, command: dict) -> dict:
        cmd = decode_value(command)
        attempt = activity.info().attempt
        if cmd["kind"] == "call":
            result = self.systems.call(cmd["system"], cmd["operation"], cmd["args"], cmd["key"], cmd.get("outputs", []), cmd.get("is_async", False), cmd.get("timeout_ms"))
        else:
            result = self.python_tasks.call(cmd["target"], cmd["args"], cmd["key"])
        if result.status == "ok":
            return {"status": "ok", "outputs": encode_value(result.outputs), "attempt": attempt}
        if result.status == "accepted":
            return {"status": "accepted", "attempt": attempt}
        raise ApplicationError(result.message, {"attempt": attempt}, type="CallFailed", non_retryable=not result.retryable)

    @activity.defn(name=NOTIFY)
    def notify(self, command: dict) -> None:
        from om_dsl.runtime import http

        if not self.listeners:
            self.systems.notify(command["key"], command["event"])
            return
        for listener in self.listeners:
            answer = http.post_json(listener, command["event"], {"Idempotency-Key": command["key"], "X-Event-Id": command["key"]}, self.timeout_s, 65_536)
            if answer.error:  # Temporal tries again, backing off; the listener dedupes by event id
                raise ApplicationError(f"{listener}: {answer.error}", type="DeliveryFailed")

    @activity.defn(name=INSTALLED)
    async def installed_base(self, request: dict) -> None:
        """Signal the customer's installed base, starting it the first time (signal-with-start)."""
        from om_dsl.runtime.installed import empty_state
        from om_dsl.runtime.temporal.installed_base import QUEUE, WORKFLOW, workflow_id

        await self.client.start_workflow(WORKFLOW, empty_state(), id=workflow_id(request["customer"]), task_queue=QUEUE, start_signal=request["signal"], start_signal_args=request["args"])
