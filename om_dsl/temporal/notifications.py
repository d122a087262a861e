"""`om notifications list` on Temporal: an order's events and where they went,
read from its workflow's history (every run, oldest first), as the embedded
engine reads its deliveries table.

An event goes out in an `om.notify` activity, whose result names the
listeners that took it (`sent`), those that refused it (`failed`, with why)
and those it was not sent to because older events of the order wait for them
(`later`); a listener that did not take it gets it from an `om.deliver`
activity, tried until it does. So each (event, listener) is delivered once
either completed, or pending: with the attempts made, the next try and the
last error of a delivery Temporal is still retrying. (Events of a workflow
started before `sent` was in the result name no listener: they are left
out, as are events no listener was to get.)
"""

from __future__ import annotations

from temporalio.api.enums.v1 import PendingActivityState

from om_dsl.engine import state as S
from om_dsl.engine.instants import show_instant
from om_dsl.temporal.activities import DELIVER, NOTIFY
from om_dsl.tmf622 import events as tmf_events


async def of_order(client, order_id: str) -> list[dict]:
    """Every (event, listener) of the order, in the order the events were made."""
    runs, run_id = [], None
    while True:  # (the latest run first, back through the runs it continued)
        history = await client.get_workflow_handle(order_id, run_id=run_id).fetch_history()
        runs.append(history)
        run_id = history.events[0].workflow_execution_started_event_attributes.continued_execution_run_id
        if not run_id:
            break
    entries: dict = {}  # (event id, listener) -> entry
    events: dict = {}  # event id -> (type, state)
    for history in reversed(runs):
        scheduled: dict = {}  # scheduled event id -> (activity type, its input, activity id)
        attempt: dict = {}  # scheduled event id -> the attempt that started
        for e in history.events:
            if e.HasField("activity_task_scheduled_event_attributes"):
                a = e.activity_task_scheduled_event_attributes
                if a.activity_type.name in (NOTIFY, DELIVER):
                    scheduled[e.event_id] = (a.activity_type.name, (await client.data_converter.decode(a.input.payloads))[0], a.activity_id)
            elif e.HasField("activity_task_started_event_attributes"):
                attempt[e.activity_task_started_event_attributes.scheduled_event_id] = e.activity_task_started_event_attributes.attempt
            elif e.HasField("activity_task_completed_event_attributes"):
                a = e.activity_task_completed_event_attributes
                if a.scheduled_event_id in scheduled:
                    kind, data, _ = scheduled.pop(a.scheduled_event_id)
                    result = (await client.data_converter.decode(a.result.payloads))[0] if a.result.payloads else None
                    _completed(entries, events, order_id, kind, data, result, attempt.get(a.scheduled_event_id, 1), e.event_time.ToMilliseconds())
        if history is runs[0]:  # the latest run: deliveries Temporal is still retrying
            await _pending(client, order_id, entries, scheduled)
    return list(entries.values())


def _completed(entries: dict, events: dict, order_id: str, kind: str, data: dict, result, tries: int, at: int) -> None:
    key = data["key"]
    if key not in events:
        event = data["event"] if "@type" in data["event"] else tmf_events.render(S.decode_value(data["event"]), data.get("request"))
        about = event.get("event", {})
        events[key] = (event.get("eventType"), (about.get("productOrder") or about.get("cancelProductOrder") or {}).get("state"))
    kind_of, state = events[key]

    def entry(listener: str) -> dict:
        return entries.setdefault((key, listener), {"event": key, "type": kind_of, "order": order_id, "state": state, "listener": listener, "status": "pending", "attempts": 0})

    if kind == DELIVER:
        done = entry(data["listener"])
        done.update(status="delivered", attempts=done["attempts"] + tries, delivered_at=show_instant(at))
        done.pop("last_error", None)
        return
    if not isinstance(result, dict) or "sent" not in result:
        return  # (a workflow of before: the listeners are not named)
    for listener in result["sent"]:
        entry(listener).update(status="delivered", attempts=tries, delivered_at=show_instant(at))
    for listener, why in result.get("failed", {}).items():
        entry(listener).update(attempts=tries, last_error=why)
    for listener in result["later"]:
        entry(listener)  # (behind an older event: not tried yet)


async def _pending(client, order_id: str, entries: dict, scheduled: dict) -> None:
    """The deliveries of the latest run not completed: their attempts and next try, as Temporal describes them."""
    retrying = {s[2]: s[1] for s in scheduled.values() if s[0] == DELIVER}
    if not retrying:
        return
    described = await client.get_workflow_handle(order_id).describe()
    for pa in described.raw_description.pending_activities:
        data = retrying.get(pa.activity_id)
        if data is None:
            continue
        entry = entries.get((data["key"], data["listener"]))
        if entry is None:
            continue
        made = pa.attempt - (0 if pa.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED else 1)
        entry["attempts"] += max(0, made)
        if pa.HasField("next_attempt_schedule_time"):
            entry["next_try_at"] = show_instant(pa.next_attempt_schedule_time.ToMilliseconds())
        if pa.HasField("last_failure") and pa.last_failure.message:
            entry["last_error"] = pa.last_failure.message
