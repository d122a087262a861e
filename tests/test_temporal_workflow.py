"""The order workflow's own behaviour on a real Temporal dev server: what
the shared scenario suite cannot say the same way on both engines (timers
in the workflow history, duplicate workflow ids, signals)."""

from __future__ import annotations

import asyncio
import datetime
import json
import time

import pytest
from test_scenarios import ORDERS, done, macd_doc, waiting_at

from om_dsl.engine import state as S
from om_dsl.engine.core import Rejection
from om_dsl.planning.order import Rejected

from support import PATIENCE_S, ROOT
from support.scenario_engines import OnTemporal, order_doc


@pytest.fixture
def temporal(tmp_path, temporal_server):
    from om_dsl.rules.generated import GeneratedRules

    engine = OnTemporal(tmp_path, GeneratedRules(ROOT / "generated" / "acme"), {}, temporal_server)
    yield engine
    engine.close()


def timers(engine, order_id) -> list[float]:
    """The durations (s) of the timers the order's workflow started, from its history."""

    async def go():
        client = await engine.orders.client()
        history = await client.get_workflow_handle(order_id).fetch_history()
        return [e.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta().total_seconds() for e in history.events if e.HasField("timer_started_event_attributes")]

    return engine.orders._run(go())


def test_an_update_in_the_first_workflow_task_finds_the_order_begun(temporal):
    oid = temporal.new_id("EARLY")
    with pytest.raises(Rejection, match="pending, not ready"):  # the order has begun: the visit is there, not open yet
        temporal.submit_with_update(order_doc(ORDERS / "fiber-minimal.json", oid), "complete_task", {"task": "1/D1:install_visit", "data": {}, "by": "field-tech"})
    view = temporal.settle(oid, waiting_at("1/D1:install_visit"))
    assert view["status"] == S.IN_PROGRESS


def test_jeopardy_is_a_durable_timer(temporal):
    # The visit is due in 3 days: yellow at 75 % of that. That is the one timer the order needs
    # while it waits for the visit, however many events come in meanwhile.
    oid = temporal.submit(order_doc(ORDERS / "fiber-minimal.json", temporal.new_id("JEOPARDY")))
    view = temporal.settle(oid, waiting_at("1/D1:install_visit"))
    assert view["tasks"]["1/D1:install_visit"]["jeopardy"] == "green"
    started = timers(temporal, oid)
    assert len(started) == 1 and abs(started[0] - 0.75 * 3 * 86_400) < 60


def test_a_wait_until_the_requested_start_date_is_a_durable_timer(temporal):
    oid = temporal.new_id("WAIT")
    doc = json.loads(order_doc(ORDERS / "fiber-minimal.json", oid))
    start = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=2)).date()
    doc["requestedStartDate"] = start.isoformat()
    temporal.submit(json.dumps(doc))
    view = temporal.settle(oid, lambda v: v["tasks"]["order/D9:requested_start"]["status"] == S.RUNNING)
    assert view["tasks"]["order/D9:requested_start"]["waiting_for"] == f"waiting until {start.isoformat()}T00:00:00Z"
    midnight = datetime.datetime.combine(start, datetime.time(), datetime.timezone.utc)
    left = (midnight - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
    assert abs(timers(temporal, oid)[0] - left) < 60  # sooner than the visit's jeopardy: the first timer


def test_an_order_is_submitted_once(temporal):
    text = order_doc(ORDERS / "tv-alone.json", temporal.new_id("ONCE"))
    temporal.submit(text)
    with pytest.raises(Rejected, match="was submitted before"):
        temporal.orders.submit(text)


def test_an_order_id_with_a_colon_is_refused(temporal):
    with pytest.raises(Rejected, match="may not"):
        temporal.orders.submit(order_doc(ORDERS / "tv-alone.json", "ORD:1"))


def test_a_callback_by_hand_and_its_duplicate(temporal):
    oid = temporal.submit(order_doc(ORDERS / "fiber-tv-ported-phone.json", temporal.new_id("CB")))
    temporal.settle(oid, lambda v: v["tasks"]["3/D6:port_number"]["status"] == S.COMPLETED)
    assert temporal.orders.deliver_callback("NO-SUCH-ORDER:1/D1:x:1", {}) is False
    # The simulator's own callback completed port_number; a late duplicate by hand changes nothing.
    before = temporal.view(oid)["tasks"]["3/D6:port_number"]
    for _ in range(2):  # the same callback twice: the second copy is dropped before the core sees it
        assert temporal.orders.deliver_callback(f"{oid}:3/D6:port_number:1", {}, callback_id="dup-1") is True
    # Signals are handled in order: once this one is seen, both copies of dup-1 were.
    assert temporal.orders.deliver_callback(f"{oid}:1/D1:reserve_port:1", {}, callback_id="last") is True

    def ignored(subject):
        return [h["cause"] for h in temporal.history(oid) if h["subject"] == subject and "ignored" in h["cause"]]

    temporal.settle(oid, lambda v: ignored("1/D1:reserve_port"))
    assert ignored("3/D6:port_number") == [f"callback {oid}:3/D6:port_number:1 ignored: for 3/D6:port_number, which is completed"]
    assert temporal.view(oid)["tasks"]["3/D6:port_number"] == before


def test_a_callback_whose_outputs_look_like_our_encoding_does_not_stop_the_order(temporal):
    """A system's JSON is taken as it is: `{"$decimal": "n/a"}` is not ours to decode (it
    used to fail the workflow task, again and again, and freeze the order)."""
    oid = temporal.submit(order_doc(ORDERS / "fiber-tv-ported-phone.json", temporal.new_id("POISON")))
    temporal.settle(oid, waiting_at("1/D1:install_visit"))
    assert temporal.orders.deliver_callback(f"{oid}:3/D6:port_number:1", {"n": {"$decimal": "n/a"}}, callback_id="odd") is True
    temporal.complete(oid, "1/D1:install_visit")  # the workflow still answers
    assert temporal.settle(oid, done)["status"] == S.ORDER_COMPLETED


def test_a_listener_that_is_down_does_not_hold_the_installed_base_up(tmp_path, temporal_server):
    from om_dsl.rules.generated import GeneratedRules

    engine = OnTemporal(tmp_path, GeneratedRules(ROOT / "generated" / "acme"), {}, temporal_server, listeners=["http://127.0.0.1:9/events"])
    try:
        oid = engine.submit(order_doc(ORDERS / "tv-alone.json", engine.new_id("DOWN")))
        # Neither the order nor its installed base waits for the events, which keep being retried:
        # they are activities of their own, still pending when both are done. (As local activities,
        # their retries held the workflow task, and every other event with it: 48 s here.)
        engine.settle(oid, done)
        engine.settle(oid, lambda v: f"AST-{oid}-1" in engine.assets(f"ACC-{oid}"))
        from om_dsl.temporal.activities import INSTALLED

        # Left pending: the events the listener did not take, sent again (om.notify went on). (The activity that told the
        # installed base may still report its completion a moment after the assets are there: waited for, not raced.)
        deadline = time.monotonic() + PATIENCE_S
        while (pending := {a.activity_type.name for a in pending_activities(engine, oid)}) != {"om.deliver"}:
            assert time.monotonic() < deadline and "om.deliver" in pending and pending <= {"om.deliver", INSTALLED}, pending
            time.sleep(0.1)
    finally:
        engine.close()


def test_om_notifications_reads_what_each_listener_got_from_the_histories(tmp_path, temporal_server):
    """`om notifications list` on Temporal (it refused before): each event and
    listener, pending with its attempts and last error while the listener
    refuses (the later events queued behind the first), delivered once it
    takes them, attempts counted as the embedded engine counts them."""
    from om_dsl.rules.generated import GeneratedRules

    from support.listener import Listener

    listener = Listener().start()
    listener.refuse = 10**6
    engine = OnTemporal(tmp_path, GeneratedRules(ROOT / "generated" / "acme"), {}, temporal_server, listeners=[listener.url])
    try:
        refused_since = time.monotonic()
        oid = engine.submit(order_doc(ORDERS / "tv-alone.json", engine.new_id("SENT")))
        engine.settle(oid, done)
        expected = [(f"{oid}:event:1", "ProductOrderCreateEvent", "acknowledged"), (f"{oid}:event:2", "ProductOrderStateChangeEvent", "inProgress"), (f"{oid}:event:3", "ProductOrderStateChangeEvent", "completed")]
        deadline = time.monotonic() + PATIENCE_S
        while len(pending := engine.orders.notifications(oid, pending=True)) < 3:  # (the last goes out after the order completed)
            assert time.monotonic() < deadline, pending
            time.sleep(0.2)
        assert [(p["event"], p["type"], p["state"]) for p in pending] == expected and {p["listener"] for p in pending} == {listener.url}
        assert "answered 503" in pending[0]["last_error"] and pending[0]["attempts"] >= 1 and [p["attempts"] for p in pending[1:]] == [0, 0]
        listener.refuse = 0
        # The first event's next try comes after the retry policy's backoff (1 s, doubling): about as long again as
        # the listener has refused so far, which a busy machine stretches (it was a fixed 60 s).
        deadline = time.monotonic() + PATIENCE_S + 2 * (time.monotonic() - refused_since)
        while len(listener.ids()) < 3:
            assert time.monotonic() < deadline, listener.ids()
            time.sleep(0.2)
        got = engine.orders.notifications(oid)
        assert [(g["event"], g["type"], g["state"]) for g in got] == expected and {g["status"] for g in got} == {"delivered"}
        assert got[0]["attempts"] >= 2 and [g["attempts"] for g in got[1:]] == [1, 1] and "last_error" not in got[0]
        assert engine.orders.notifications(oid, pending=True) == [] and engine.orders.notifications("NO-SUCH-ORDER") == []
    finally:
        engine.close()
        listener.stop()


def pending_activities(engine, order_id: str) -> list:
    """The activities the order's workflow has scheduled and not seen complete (as Temporal describes them)."""

    async def go():
        client = await engine.orders.client()
        return list((await client.get_workflow_handle(order_id).describe()).raw_description.pending_activities)

    return engine.orders._run(go())


def test_two_changes_of_one_asset_submitted_back_to_back(temporal):
    """The second is refused at submission: the first claimed the asset before it started."""
    base, customer = temporal.new_id("BASE"), temporal.new_id("ACC")
    temporal.submit(macd_doc("base-fiber-300", base, base, customer))
    temporal.settle(base, waiting_at("1/D1:install_visit"))
    temporal.complete(base, "1/D1:install_visit")
    temporal.settle(base, lambda v: done(v) and f"AST-{base}-1" in temporal.assets(customer))
    first, second = temporal.new_id("FIRST"), temporal.new_id("SECOND")
    temporal.submit(macd_doc("speed-300-to-1000", first, base, customer))
    assert temporal.submit_rejected(macd_doc("speed-300-to-1000", second, base, customer)) == ["asset_in_flight"]


def test_a_duplicate_submission_leaves_no_claim_behind(temporal):
    """Assets are claimed before the workflow starts; a start refused as a duplicate
    gave its claim back to nobody: the asset stayed in flight for ever. The claim
    is in the order id's name: while that order runs it keeps it; once it has
    ended, a duplicate's claim is released."""
    base, customer = temporal.new_id("BASE"), temporal.new_id("ACC")
    fiber = f"AST-{base}-1"
    temporal.submit(macd_doc("base-fiber-300", base, base, customer))
    temporal.settle(base, waiting_at("1/D1:install_visit"))
    temporal.complete(base, "1/D1:install_visit")
    temporal.settle(base, lambda v: done(v) and fiber in temporal.assets(customer))
    change = temporal.new_id("CHANGE")
    text = macd_doc("speed-300-to-1000", change, base, customer)
    temporal.submit(text)
    temporal.settle(change, waiting_at("1/D2:swap_visit"))
    with pytest.raises(Rejected, match="was submitted before"):
        temporal.orders.submit(text)
    assert temporal.in_flight(customer, fiber) == change  # (running: still its own)
    temporal.complete(change, "1/D2:swap_visit")
    temporal.settle(change, lambda v: done(v) and temporal.in_flight(customer, fiber) is None)
    with pytest.raises(Rejected, match="was submitted before"):
        temporal.orders.submit(text)  # ended: the claim this made goes
    assert temporal.in_flight(customer, fiber) is None


class CallsBackBeforeItAcknowledges:
    """The systems, with an asynchronous operation that answers faster than its
    acknowledgement travels: its callback is signalled to the order before the
    call returns `accepted` (so before the call's activity completes). The
    worker's pump sees no callback: each is sent here, once, early."""

    def __init__(self, systems, address: str):
        import threading

        from om_dsl.temporal.client import TemporalOrders

        self.systems = systems
        self.orders = TemporalOrders(address)
        self.lock = threading.Lock()  # calls run in the worker's thread pool; one event loop for the signals
        self.sent: list = []

    def call(self, system, operation, args, key, outputs, is_async=False, timeout_ms=None):
        result = self.systems.call(system, operation, args, key, outputs, is_async, timeout_ms)
        if result.status == "accepted":
            with self.lock:
                for callback_id, correlation_id, answer in self.systems.pending_callbacks():
                    assert self.orders.deliver_callback(correlation_id, answer, callback_id=f"early:{callback_id}")
                    self.systems.ack_callback(callback_id)
                    self.sent.append(correlation_id)
        return result

    def pending_callbacks(self):
        return []

    def __getattr__(self, name):
        return getattr(self.systems, name)

    def close(self):
        self.orders.close()
        self.systems.close()


def test_a_callback_that_comes_before_its_acknowledgement_waits_for_it(tmp_path, temporal_server):
    """The callback is in the workflow's history before the call's result. It
    waits for the result, as a callback waits in the embedded engine's inbox:
    the call is acknowledged, then answered, and nothing is ignored. (It used
    to complete the task at once; the acknowledgement that followed was then
    ignored, and the history differed from the embedded engine's.)"""
    from om_dsl.rules.generated import GeneratedRules

    made = []
    engine = OnTemporal(tmp_path, GeneratedRules(ROOT / "generated" / "acme"), {}, temporal_server, wrap_systems=lambda s: made.append(CallsBackBeforeItAcknowledges(s, temporal_server.address)) or made[-1])
    try:
        oid = engine.submit(order_doc(ORDERS / "fiber-tv-ported-phone.json", engine.new_id("EARLY-CB")))
        view = engine.settle(oid, lambda v: v["tasks"]["3/D6:port_number"]["status"] == S.COMPLETED)
        key = f"{oid}:3/D6:port_number:1"
        assert made[0].sent == [key]
        assert signalled_before_the_result(engine, oid, key)  # the race, every time
        causes = [h["cause"] for h in engine.history(oid) if h["subject"] == "3/D6:port_number"]
        assert causes[-2:] == ["acknowledged: waiting for the callback", "callback received"], causes
        assert not [h for h in engine.history(oid) if "ignored" in h["cause"]]
        assert view["tasks"]["3/D6:port_number"]["attempts"] == 1
        engine.complete(oid, "1/D1:install_visit")
        assert engine.settle(oid, done)["status"] == S.ORDER_COMPLETED
    finally:
        engine.close()


def signalled_before_the_result(engine, order_id: str, key: str) -> bool:
    """In the workflow's history, the callback of `key` was signalled before the activity that made that call completed."""

    async def go():
        client = await engine.orders.client()
        events = (await client.get_workflow_handle(order_id).fetch_history()).events
        calls = {e.event_id for e in events if e.HasField("activity_task_scheduled_event_attributes") and key.encode() in e.activity_task_scheduled_event_attributes.input.payloads[0].data}
        completed = next(e.event_id for e in events if e.HasField("activity_task_completed_event_attributes") and e.activity_task_completed_event_attributes.scheduled_event_id in calls)
        signal = next(e.event_id for e in events if e.HasField("workflow_execution_signaled_event_attributes") and key.encode() in e.workflow_execution_signaled_event_attributes.input.payloads[0].data)
        return signal < completed

    return engine.orders._run(go())


def test_a_draft_waits_for_its_release(temporal):
    # TMF622 v5 requestedInitialState: draft: the workflow starts nothing until the release update.
    oid = temporal.new_id("DRAFT")
    doc = json.loads(order_doc(ORDERS / "tv-alone.json", oid))
    doc["requestedInitialState"] = "draft"
    temporal.submit(json.dumps(doc))
    view = temporal.settle(oid, lambda v: v["status"] == S.DRAFT)
    assert all(t["status"] == S.PENDING for t in view["tasks"].values())
    temporal.orders.release(oid, "cpq")
    assert temporal.settle(oid, done)["status"] == S.ORDER_COMPLETED
    with pytest.raises(Rejection, match="not a draft|is completed|no longer running"):  # (a finished workflow takes no update; one still sending its events refuses it)
        temporal.orders.release(oid, "cpq")


def test_an_order_started_before_ordered_events_replays_on_the_current_code():
    """A TV order's history recorded with om before its events went out one at
    a time (tests/fixtures/temporal/, a listener that refused once): a worker
    of this version rebuilds it exactly (the patch `om-ordered-events` keeps
    such a workflow on its old path), so upgrading breaks no order in flight."""
    from temporalio.client import WorkflowHistory
    from temporalio.worker import Replayer

    from om_dsl.temporal.codec import data_converter
    from om_dsl.temporal.worker import _sandbox
    from om_dsl.temporal.workflow import OrderWorkflow

    text = (ROOT / "tests" / "fixtures" / "temporal" / "order-before-ordered-events.json").read_text()
    history = WorkflowHistory.from_json("REPLAY-1", text)
    notifies = [e for e in history.events if e.HasField("activity_task_scheduled_event_attributes") and e.activity_task_scheduled_event_attributes.activity_type.name == "om.notify"]
    assert len(notifies) >= 3  # (what it replays: its events, sent side by side)

    async def replay():
        return await Replayer(workflows=[OrderWorkflow], workflow_runner=_sandbox(), data_converter=data_converter()).replay_workflow(history, raise_on_replay_failure=False)

    result = asyncio.run(replay())
    assert result.replay_failure is None, result.replay_failure


def test_polling_an_order_asks_again_after_an_error_that_passes_and_stops_at_one_that_does_not():
    # CI once saw "h2 protocol error" from a query sent while a worker restarted: a poller asks again
    from temporalio.service import RPCError, RPCStatusCode

    from om_dsl.temporal.client import wait_until

    class Orders:
        def __init__(self, errors):
            self.errors, self.asked = list(errors), 0

        def order(self, order_id):
            self.asked += 1
            if self.errors:
                raise self.errors.pop(0)
            return {"id": order_id, "status": S.ORDER_COMPLETED}

    passing = [
        RPCError("h2 protocol error: http2 error", RPCStatusCode.UNKNOWN, b""),
        RPCError("query timed out", RPCStatusCode.DEADLINE_EXCEEDED, b""),
        RPCError("connection refused", RPCStatusCode.UNAVAILABLE, b""),
    ]
    orders = Orders(passing)
    assert wait_until(orders, "ORD-1", done, timeout_s=30, every_s=0)["status"] == S.ORDER_COMPLETED
    assert orders.asked == 4
    lasting = Orders([RPCError("request unauthorized", RPCStatusCode.PERMISSION_DENIED, b"")])
    with pytest.raises(RPCError, match="unauthorized"):
        wait_until(lasting, "ORD-1", done, timeout_s=30, every_s=0)
    assert lasting.asked == 1
