"""One executor for both engines: a call command -> the system's answer -> the core's event.

The embedded runner performs a command and applies the event at once; on
Temporal the activity performs it (`perform`) and the workflow turns the
answer that came back into the event (`event_for`): the same two halves.
The I/O is the adapters' (om_dsl.systems), handed in by the driver: this
module imports none, so the engine stays free of it. An answer is read by
its fields (status, outputs, message, retryable: a systems.adapters.CallResult).
"""

from __future__ import annotations

from om_dsl.engine import events as C
from om_dsl.engine.commands import AutoTask, Call
from om_dsl.values import encode_value


def perform(cmd: Call | AutoTask, systems, python_tasks):
    """One attempt, with the command's idempotency key: what the system or the auto task answered, a failure included."""
    if isinstance(cmd, Call):
        return systems.call(cmd.system, cmd.operation, cmd.args, cmd.key, cmd.outputs, cmd.is_async, cmd.timeout_ms)
    return python_tasks.call(cmd.target, cmd.args, cmd.key)


def event_for(task: str, result, now: int):
    """The core's event for an answer: the spec's retry policy decides the rest."""
    if result.status == "ok":
        return C.CallSucceeded(task, result.outputs, now)
    if result.status == "accepted":
        return C.CallAccepted(task, now)
    return C.CallFailed(task, result.message, result.retryable, now, getattr(result, "failure", None))


def result_to_data(result) -> dict:
    """An answer as an activity's result (Temporal payload)."""
    return {"status": result.status, "outputs": encode_value(result.outputs), "message": result.message, "retryable": result.retryable, "failure": getattr(result, "failure", None)}
