"""The order workflow's own behaviour on a real Temporal dev server: what
the shared scenario suite cannot say the same way on both engines (timers
in the workflow history, duplicate workflow ids, signals)."""

from __future__ import annotations

import datetime
import json

import pytest

from om_dsl.runtime.engine import state as S
from om_dsl.runtime.engine.core import Rejection
from om_dsl.runtime.order import Rejected

from conftest import ROOT
from scenario_engines import OnTemporal, order_doc
from test_scenarios import ORDERS, waiting_at


@pytest.fixture
def temporal(tmp_path, temporal_server):
    from om_dsl.runtime.generated import GeneratedRules

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
    oid = temporal.submit(order_doc(ORDERS / "fiber-minimal.json", temporal.new_id("EARLY")))
    with pytest.raises(Rejection, match="pending, not ready|running, not ready|not ready"):
        temporal.complete(oid, "1/D1:install_visit")  # at once: the visit is not open yet
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
