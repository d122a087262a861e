"""The hub on Temporal: a deployment's event subscriptions as an entity workflow.

Workflow `Hub`, id `hub:TASK_QUEUE` (one per deployment: a namespace may
hold several, told apart by their orders' task queue), on that task queue,
holds the subscriptions: the API's (POST /hub: a callback, a query, the
submitter that owns it) and `om hub register`'s (a callback alone). Each
change is an update (`subscribe`, `unsubscribe`, `register`, `unregister`;
the client starts the workflow with the first), and the subscriptions are
also its memo, so that the order workflows' `om.notify` activity reads them
with a describe, which no worker has to answer. It never ends: it continues
as new, with its state, before its history grows long.

Events are not sent from here: each order workflow sends its own, one at a
time and in order, through `om.notify` (at least once, retried, the event
id as idempotency key), to the subscriptions whose query and owner match.
"""

from __future__ import annotations

from typing import Optional

from temporalio import workflow

WORKFLOW = "Hub"
LONG_HISTORY = 2_000  # events; then continue as new


def workflow_id(task_queue: str) -> str:
    return f"hub:{task_queue}"


def empty() -> dict:
    return {"next": 1, "subscriptions": []}


@workflow.defn(name=WORKFLOW)
class HubWorkflow:
    @workflow.init
    def __init__(self, state: Optional[dict]) -> None:
        self.state = state or empty()

    @workflow.run
    async def run(self, state: Optional[dict]) -> None:
        await workflow.wait_condition(lambda: workflow.info().get_current_history_length() > LONG_HISTORY and workflow.all_handlers_finished())
        workflow.continue_as_new(self.state, memo={"subscriptions": self.state["subscriptions"]})  # (the SDK would carry the memo too: said here, it is what notifiers read)

    def _changed(self) -> None:
        workflow.upsert_memo({"subscriptions": self.state["subscriptions"]})

    def _find(self, callback: str) -> Optional[dict]:
        return next((s for s in self.state["subscriptions"] if s["callback"] == callback), None)

    def _add(self, callback: str, query: Optional[str], owner: Optional[str]) -> dict:
        sub = {"id": str(self.state["next"]), "callback": callback, "query": query, "owner": owner}
        self.state["next"] += 1
        self.state["subscriptions"].append(sub)
        return sub

    @workflow.update(name="subscribe")
    def subscribe(self, request: dict) -> dict:
        """The same callback again keeps its id and takes the new query and owner (as the embedded store does)."""
        sub = self._find(request["callback"])
        if sub is None:
            sub = self._add(request["callback"], request.get("query"), request.get("owner"))
        else:
            sub.update(query=request.get("query"), owner=request.get("owner"))
        self._changed()
        return sub

    @workflow.update(name="unsubscribe")
    def unsubscribe(self, subscription_id: str) -> bool:
        kept = [s for s in self.state["subscriptions"] if s["id"] != subscription_id]
        gone = len(kept) != len(self.state["subscriptions"])
        self.state["subscriptions"] = kept
        self._changed()
        return gone

    @workflow.update(name="register")
    def register(self, callback: str) -> bool:
        """`om hub register`: every event, no query, no owner; False when the callback is there already."""
        if self._find(callback) is not None:
            return False
        self._add(callback, None, None)
        self._changed()
        return True

    @workflow.update(name="unregister")
    def unregister(self, callback: str) -> bool:
        sub = self._find(callback)
        return sub is not None and self.unsubscribe(sub["id"])

    @workflow.query(name="subscriptions")
    def subscriptions(self) -> list:
        return self.state["subscriptions"]
