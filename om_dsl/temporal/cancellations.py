"""CancelProductOrder on Temporal: each cancellation request a workflow of its own.

A TMF622 CancelProductOrder is a task resource with a life of its own
(acknowledged, then inProgress, done or terminatedWithError), so on
Temporal it is a workflow: `CancelProductOrder`, id
`cancelProductOrder:CAN-...`, on the orders' task queue. Started by the
client, it is kept before it acts (acknowledged: a request is never lost,
whoever dies), then its activity `om.cancel_order` sends the order's
workflow the `cancel` update, and it records the answer: done (the order is
cancelled), inProgress (compensation runs: the order is cancelled when it
ends) or terminatedWithError (the order refused, or had ended: the message
says why). The request's fields are its memo, so listing the requests is a
visibility query (no worker answers one); a request read while inProgress
is done once its order is cancelled, as on the embedded engine.
"""

from __future__ import annotations

import datetime

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from om_dsl.engine.instants import show_instant
    from om_dsl.temporal.activities import CANCEL
    from om_dsl.temporal.retry import DELIVERY_RETRY

WORKFLOW = "CancelProductOrder"
PREFIX = "cancelProductOrder:"


def workflow_id(cancel_id: str) -> str:
    return PREFIX + cancel_id


def new_id(random_hex: str) -> str:
    """A request's id, CAN- and 12 hex digits (random: requests come from any number of API servers)."""
    return "CAN-" + random_hex[:12].upper()


def is_id(text: str) -> bool:
    return len(text) == 16 and text.startswith("CAN-") and all(c in "0123456789ABCDEF" for c in text[4:])


@workflow.defn(name=WORKFLOW)
class CancellationWorkflow:
    @workflow.init
    def __init__(self, request: dict) -> None:
        at = show_instant(int(workflow.now().timestamp() * 1000))
        self.entry = {"id": request["id"], "order": request["order"], "state": "acknowledged", "reason": request.get("reason") or "", "by": request["by"], "requested_at": at, "updated_at": at}

    @workflow.run
    async def run(self, request: dict) -> dict:
        try:
            answer = await workflow.execute_activity(
                CANCEL, {"order": request["order"], "by": request["by"], "reason": request.get("reason") or "cancelled over the API", "force": bool(request.get("force"))},
                start_to_close_timeout=datetime.timedelta(seconds=60), retry_policy=DELIVERY_RETRY,
            )
        except ActivityError as err:  # (retried until the cluster answers: only a non-retryable failure lands here)
            cause = err.cause
            answer = {"refused": cause.message if isinstance(cause, ApplicationError) else str(cause or err)}
        if "refused" in answer:
            self.entry.update(state="terminatedWithError", message=answer["refused"])
        else:
            self.entry["state"] = "done" if answer["status"] == "cancelled" else "inProgress"
        self.entry["updated_at"] = show_instant(int(workflow.now().timestamp() * 1000))
        workflow.upsert_memo(self.entry)
        return self.entry

    @workflow.query(name="view")
    def view(self) -> dict:
        return self.entry
