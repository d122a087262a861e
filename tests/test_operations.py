"""Operators at work: retry, skip and resume; offline systems; jeopardy;
order events delivered at least once to a listener that goes down and up."""

from __future__ import annotations

import json

import pytest

from om_dsl.engine import state as S
from om_dsl.engine.core import Rejection

from support.engine_helpers import check_starts_follow_the_graph, effects_by_task, history, make_runner, operate, order_text
from support.listener import Listener

HOUR = 3_600_000
DAY = 24 * HOUR


def test_retry_a_fatally_failed_task(tmp_path):
    runner = make_runner(tmp_path, fail={"inventory.reserve_port": 4})  # the first call and its 3 retries fail
    order_id, _, _ = runner.submit(order_text("fiber-minimal.json"))
    operate(runner)
    assert runner.store.load(order_id).status == S.HELD
    runner.retry_task(order_id, "1/D1:reserve_port", "ops-anna", "inventory fixed the port pool")
    operate(runner)
    run = runner.store.load(order_id)
    assert run.status == S.ORDER_COMPLETED and run.tasks["1/D1:reserve_port"].attempts == 1
    causes = [e["cause"] for e in history(runner.store, order_id) if e["subject"] == "1/D1:reserve_port"]
    assert "attempt 1, retried by ops-anna: inventory fixed the port pool" in causes
    assert effects_by_task(runner.simulators)[f"{order_id}:1/D1:reserve_port"] == 1  # one effect, under one key
    check_starts_follow_the_graph(runner.store, order_id)


def test_resume_a_held_order_retries_every_fatally_failed_task(tmp_path):
    runner = make_runner(tmp_path, fail={"logistics.ship_device": 4})
    order_id, _, _ = runner.submit(order_text("tv-alone.json"))
    operate(runner)
    run = runner.store.load(order_id)
    assert run.status == S.HELD and run.tasks["1/D8#1:ship_device"].status == S.FATALLY_FAILED
    with pytest.raises(Rejection, match="is completed, not fatallyFailed"):
        runner.retry_task(order_id, "1/D7:activate_iptv", "ops", "")  # completed: nothing to retry
    runner.resume_order(order_id, "ops-anna", "logistics is back")
    operate(runner)
    assert runner.store.load(order_id).status == S.ORDER_COMPLETED
    with pytest.raises(Rejection, match="is completed"):
        runner.resume_order(order_id, "ops", "")


def test_skip_a_task_lets_its_dependants_go_ahead(tmp_path):
    runner = make_runner(tmp_path)
    order_id, _, _ = runner.submit(order_text("fiber-minimal.json"))
    runner.drive()
    with pytest.raises(Rejection, match="its call is in flight|is completed"):
        runner.skip_task(order_id, "1/D1:check_address", "ops", "no")
    runner.skip_task(order_id, "1/D1:install_visit", "ops-anna", "installed by the previous tenant")
    operate(runner)
    run = runner.store.load(order_id)
    assert run.status == S.ORDER_COMPLETED and run.tasks["1/D1:install_visit"].status == S.SKIPPED
    assert any(e["cause"] == "skipped by ops-anna: installed by the previous tenant" for e in history(runner.store, order_id))


def test_an_offline_system_holds_its_calls_until_it_is_back(tmp_path):
    runner = make_runner(tmp_path)
    runner.set_system("inventory", True, "ops-anna")
    order_id, _, _ = runner.submit(order_text("fiber-minimal.json"))
    operate(runner)
    run = runner.store.load(order_id)
    assert run.tasks["1/D1:check_address"].status == S.ON_HOLD and run.status == S.IN_PROGRESS  # on hold, not failed
    assert runner.catalogs.engine(run.catalog).waiting_for(run, run.tasks["1/D1:check_address"]) == "on hold: system inventory is offline"
    assert run.tasks["1/D2:ship_ont"].status == S.COMPLETED  # other systems go on
    assert f"{order_id}:1/D1:check_address" not in effects_by_task(runner.simulators)
    assert runner.set_system("inventory", False, "ops-anna") == [order_id]
    operate(runner)
    run = runner.store.load(order_id)
    assert run.status == S.ORDER_COMPLETED and run.tasks["1/D1:check_address"].attempts == 1
    assert effects_by_task(runner.simulators)[f"{order_id}:1/D1:check_address"] == 1
    causes = [e["cause"] for e in history(runner.store, order_id) if e["subject"] == "1/D1:check_address"]
    assert "system inventory is offline" in causes and "attempt 1, system inventory is online again" in causes


def test_jeopardy_turns_yellow_then_red_and_raises_an_event(tmp_path):
    """install_visit is due in 3 days: yellow after 75% of that, red when overdue."""
    runner = make_runner(tmp_path)
    order_id, _, _ = runner.submit(order_text("fiber-minimal.json"))
    runner.drive()  # the simulated clock jumps to the jeopardy times: nothing else is left
    run = runner.store.load(order_id)
    visit = run.tasks["1/D1:install_visit"]
    assert visit.status == S.READY and visit.due_at == visit.started_at + 3 * DAY
    assert visit.jeopardy == S.RED and run.jeopardy == S.RED
    changes = [(e["at"] - visit.started_at, e["subject"], e["cause"]) for e in history(runner.store, order_id) if e["cause"].startswith("jeopardy")]
    assert changes == [
        (int(2.25 * DAY), "1/D1:install_visit", "jeopardy green -> yellow"),
        (int(2.25 * DAY), "order", "jeopardy green -> yellow"),
        (3 * DAY, "1/D1:install_visit", "jeopardy yellow -> red"),
        (3 * DAY, "order", "jeopardy yellow -> red"),
    ]
    assert runner.store.orders_in_jeopardy(S.RED) == [order_id]
    # v4 has no jeopardy event: the alert rides on an attribute value change (docs/tmf622.md)
    alerts = [e["event"]["productOrder"]["productOrderJeopardyAlert"] for e in (json.loads(p) for _, p, _ in runner.simulators.notifications()) if "productOrderJeopardyAlert" in e["event"]["productOrder"]]
    assert len(alerts) == 1 and [a["id"] for a in alerts[0]] == ["1/D1:install_visit:jeopardy"]
    runner.complete_manual(order_id, "1/D1:install_visit", {}, "tech")
    operate(runner)
    run = runner.store.load(order_id)
    assert run.status == S.ORDER_COMPLETED and run.jeopardy is None and run.tasks["1/D1:install_visit"].jeopardy is None


def test_events_reach_a_listener_that_was_down_once_each(tmp_path):
    listener = Listener().start()
    runner = make_runner(tmp_path)
    with runner.store.transaction() as db:
        runner.store.register(db, listener.url, runner.clock.now())
    listener.refuse = 3  # the first three deliveries fail with 503
    order_id, _, _ = runner.submit(order_text("tv-alone.json"))
    operate(runner)
    assert runner.store.load(order_id).status == S.ORDER_COMPLETED
    pending = runner.store.deliveries(order_id, "pending")
    assert pending and all(p[8].endswith("answered 503") for p in pending if p[6])  # last_error kept
    port = listener.port
    listener.stop()
    runner.clock.advance_to(runner.clock.now() + 10 * 60_000)
    runner.deliver_events()  # the listener is down: nothing lost, tried again later
    assert runner.store.deliveries(order_id, "pending")
    listener = Listener(port).start()
    for _ in range(20):
        runner.clock.advance_to(runner.clock.now() + 10 * 60_000)
        runner.deliver_events()
        if not runner.store.deliveries(order_id, "pending"):
            break
    events = runner.store.load(order_id).events
    assert sorted(set(listener.ids())) == sorted(f"{order_id}:event:{n}" for n in range(1, events + 1))
    states = [b["event"]["productOrder"]["state"] for _, b in listener.received]
    assert states[-1] == "completed" or "completed" in states
    assert all(h.get("Idempotency-Key") == b["eventId"] for h, b in listener.received)
    assert runner.simulators.notifications() == []  # with a listener, the simulated originating system hears nothing
    listener.stop()


def test_a_late_callback_completes_the_call_that_timed_out(tmp_path):
    """The answer comes after the deadline, while the retry waits: it is the answer all the same."""
    runner = make_runner(tmp_path)
    order_id, _, _ = runner.submit(order_text("fiber-tv-ported-phone.json"))
    held_back = []
    for _ in range(50):  # run the calls, keeping the callbacks back
        for seq, cmd in runner.store.pending_commands():
            runner.execute(seq, cmd)
        for cb_id, key, outputs in runner.simulators.pending_callbacks():
            held_back.append((key, outputs))
            runner.simulators.ack_callback(cb_id)
    run = runner.store.load(order_id)
    port = next(t for t in run.tasks.values() if t.name == "port_number")
    runner.clock.advance_to(port.next_at)
    runner.fire_timers()
    assert runner.store.load(order_id).tasks[port.id].status == S.FAILED  # the deadline passed: a retry is planned
    ((key, outputs),) = held_back
    assert runner.deliver_callback(key, outputs)
    runner.deliver_callbacks()
    task = runner.store.load(order_id).tasks[port.id]
    assert task.status == S.COMPLETED and task.attempts == 1
