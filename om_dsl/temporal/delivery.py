"""An order's events to its listeners, one at a time, in order: a mixin of
`OrderWorkflow` (om_dsl/temporal/workflow.py), which owns the fields it uses
(`notices`, `later`, `notifying`, `in_flight`, `requests`). `om.notify` sends
an event to every listener; one a listener did not take waits in that
listener's queue, with the events after it, and `om.deliver` sends them
again, oldest first, while the other listeners go on."""

from __future__ import annotations

import asyncio
import collections
import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from om_dsl.engine import commands as Cmd
    from om_dsl.temporal.activities import DELIVER, NOTIFY
    from om_dsl.temporal.retry import DELIVERY_RETRY
    from om_dsl.tmf622 import events as tmf_events


class EventDelivery:
    def _event_data(self, cmd: Cmd.Notify) -> dict:
        """The event as `om.notify` takes it: the engine's notice and the request it is shaped by (the activity
        renders it: the rendering of a big order, every item and a copy of the request, costs what a workflow
        task cannot); and the submitter (a submitter's hub subscription takes its own orders' events only)."""
        owner = {"owner": self.start["submitted_by"]} if self.start.get("submitted_by") else {}
        return {**Cmd.to_data(cmd), "request": self.requests.get(tmf_events.revision_of(cmd.event)), **owner}

    async def _notify(self, data: dict) -> None:
        try:
            await self._send_event(data)
        finally:
            self.notifying -= 1
            self.in_flight -= 1
            self.dirty = True

    async def _send_event(self, data: dict) -> None:
        """One event to the listeners, once the order's earlier events went out; a listener that did not take it
        (or has earlier ones waiting) gets it from its queue."""
        async with self.notices:
            got = await workflow.execute_activity(NOTIFY, {**data, "later": sorted(self.later)}, start_to_close_timeout=datetime.timedelta(seconds=30), retry_policy=DELIVERY_RETRY)
            for listener in got["later"]:  # (before the next event goes out: it queues behind this one)
                self._hold(listener, {"key": data["key"], "event": data["event"], "request": data["request"]})

    def _hold(self, listener: str, event: dict) -> None:
        """An event the listener did not take (or that queues behind one it did not): sent again, in order."""
        queue = self.later.setdefault(listener, collections.deque())
        queue.append(event)
        self.in_flight += 1
        if len(queue) == 1:
            asyncio.ensure_future(self._redeliver(listener))

    async def _redeliver(self, listener: str) -> None:
        """The listener's queue, oldest first, each tried until it takes it (an event leaves the queue once taken)."""
        queue = self.later[listener]
        while queue:
            await workflow.execute_activity(DELIVER, {"listener": listener, **queue[0]}, start_to_close_timeout=datetime.timedelta(seconds=30), retry_policy=DELIVERY_RETRY)
            queue.popleft()
            self.in_flight -= 1
            self.dirty = True
        del self.later[listener]
