"""Events that cost what they change (issue 23): the core looks only at the
tasks an event touches (its index), the embedded runner writes only those
(the order's state in parts) and holds the order in memory between events,
the results of commands pending together commit in one transaction, and the
simulators' database follows `--sync`. No timing here: what is counted is
work (tasks looked at, rows written, commits), which does not depend on how
busy the machine is; bench/events.py measures the time."""

from __future__ import annotations

import json
import sqlite3

import attrs
import pytest

from om_dsl.embedded.clock import parse_instant
from om_dsl.embedded.store import Store
from om_dsl.engine import commands as Cmd
from om_dsl.engine import core as C
from om_dsl.engine import state as S
from om_dsl.engine.index import OrderIndex
from om_dsl.planning.pipeline import plan_order
from om_dsl.rules.generated import GeneratedRules, sha_of
from om_dsl.simulate.simulators import Simulators
from om_dsl.values import encode_value

from support.engine_helpers import ACME, make_runner, operate, order_text

NOV27 = parse_instant("2026-11-27")


def big_order(items: int) -> dict:
    """One HOME_FIBER with its router, then TV_PACKAGE roots: every IPTV line waits
    for the fiber's line_active (a fan-out), billing waits for every task (a fan-in)."""
    out = [{"id": "1", "action": "add", "productOffering": {"id": "HOME_FIBER"}, "product": {"productCharacteristic": [{"name": "address_id", "value": "ADDR-1"}]},
            "productOrderItem": [{"id": "2", "action": "add", "productOffering": {"id": "WIFI_ROUTER"}}]}]
    out += [{"id": str(n), "action": "add", "productOffering": {"id": "TV_PACKAGE"}, "product": {"productCharacteristic": [{"name": "set_top_boxes", "value": 1}]}} for n in range(3, items + 1)]
    return {"id": "ORD-BIG", "relatedParty": [{"id": "ACC-1", "role": "customer"}], "productOrderItem": out}


class CountingTasks(dict):
    """An order's tasks that count every walk over all of them."""

    walks = 0

    def values(self):
        CountingTasks.walks += 1
        return super().values()

    def items(self):
        CountingTasks.walks += 1
        return super().items()

    def __iter__(self):
        CountingTasks.walks += 1
        return super().__iter__()


@pytest.fixture(scope="module")
def acme():
    rules = GeneratedRules(ACME)
    return rules.catalog, rules


def started(acme, items: int):
    catalog, rules = acme
    engine = C.Engine(catalog, rules)
    step = engine.start(plan_order(catalog, rules, big_order(items)), sha_of(rules), NOV27)
    return engine, step


def succeeded(cmd, now):
    return C.CallSucceeded(cmd.task, {name: f"{name}-1" for name, _ in cmd.outputs} if isinstance(cmd, Cmd.Call) else {}, now)


def run_through(engine, run, commands, on_step, in_place=True):
    """Answer every call, complete the fiber's visit when it is ready: the order to completed."""
    pending = [c for c in commands if isinstance(c, Cmd.CALLS)]
    now = NOV27
    while pending or run.tasks["1/D1:install_visit"].status == S.READY:
        now += 1
        event = succeeded(pending.pop(0), now) if pending else C.ManualCompleted("1/D1:install_visit", {}, "tech", now)
        step = on_step(event)
        pending += [c for c in step.commands if isinstance(c, Cmd.CALLS)]
    return now


def test_an_event_walks_none_of_the_tasks_of_a_big_order(acme):
    """In an order of 400 items (803 tasks) an event looks at the tasks it
    touches and their dependents: never a walk over every task. The fan-out
    (line_active releasing the 398 IPTV lines) changes what it releases."""
    engine, step = started(acme, 400)
    run = step.run
    run.tasks = CountingTasks(run.tasks)
    run.index = None
    OrderIndex.of(run)  # built once
    fan_out, walks = [], []

    def on_step(event):
        CountingTasks.walks = 0
        s = engine.handle(run, event, in_place=True)
        # (An event that publishes an order event walks the tasks once: its facts
        # carry every item's state, engine/progress.py. None of the others does.)
        published = any(isinstance(c, Cmd.Notify) for c in s.commands)
        assert CountingTasks.walks == 0 or published, f"{event} walked the order's {len(run.tasks)} tasks"
        walks.append(CountingTasks.walks)
        assert event.task in s.changed and not s.reshaped
        released = [t for t in s.changed if t.endswith("activate_iptv")]
        if released:
            fan_out.append((event.task, len(released)))
        return s

    run_through(engine, run, step.commands, on_step)
    assert run.status == S.ORDER_COMPLETED
    assert fan_out[0] == ("1/D1:activate_line", 398)  # its answer completes line_active, a milestone: the fan-out
    assert walks.count(0) > len(walks) - 10  # of about 800 events, the few that publish


def test_in_place_and_copying_give_the_same_steps(acme):
    """`handle(..., in_place=True)` changes the order it is given; without it, a
    copy: both give the same history, commands and state, event after event."""
    engine, step = started(acme, 12)
    held = step.run
    copies = [S.from_data(S.to_data(held))]

    def on_step(event):
        copied = engine.handle(copies[-1], event)
        in_place = engine.handle(held, event, in_place=True)
        assert (copied.history, copied.commands) == (in_place.history, in_place.commands)
        assert S.to_data(copied.run) == S.to_data(held)
        copies.append(copied.run)
        return in_place

    run_through(engine, held, step.commands, on_step)
    assert held.status == copies[-1].status == S.ORDER_COMPLETED


def test_a_rejected_event_leaves_the_order_held_in_place_as_it_was(acme):
    engine, step = started(acme, 12)
    before = S.to_data(step.run)
    with pytest.raises(C.Rejection):
        engine.handle(step.run, C.ManualCompleted("1/D1:check_address", {}, "tech", NOV27 + 1), in_place=True)
    assert S.to_data(step.run) == before


def test_the_encoders_written_per_class_give_what_asdict_gave(acme):
    """The state and commands as data, key for key what encode_value over attrs.asdict gave (stored states and outbox rows stay the same)."""
    engine, step = started(acme, 30)
    run = step.run
    run.lines[next(iter(run.lines))].values["when"] = __import__("datetime").date(2026, 12, 1)
    run.tasks[next(iter(run.tasks))].outputs = {"n": __import__("decimal").Decimal("1.50")}
    old = encode_value({k: v for k, v in attrs.asdict(run, recurse=True).items() if k != "index"})
    assert S.to_data(run) == old
    assert json.dumps(S.to_data(run), sort_keys=True) == json.dumps(old, sort_keys=True)
    for cmd in step.commands:
        assert Cmd.to_data(cmd) == encode_value({"kind": cmd.kind, **attrs.asdict(cmd, recurse=False)})


# ---- the embedded runner ------------------------------------------------------------------------


def commits(store) -> list:
    seen = []
    store.db.set_trace_callback(lambda sql: seen.append(sql) if sql.strip().upper().startswith("COMMIT") else None)
    return seen


def test_an_order_commits_once_per_round_of_work_not_per_command(tmp_path):
    """fiber-minimal (8 tasks) to completed: the results of the commands pending
    together (calls, notifications) commit in one transaction. Before, each
    command committed on its own: 14 commits."""
    runner = make_runner(tmp_path)
    seen = commits(runner.store)
    runner.submit(order_text("fiber-minimal.json"))
    operate(runner)
    (order_id,) = runner.store.order_ids()
    assert runner.store.load(order_id).status == S.ORDER_COMPLETED
    assert len(seen) <= 10, seen


def test_many_orders_share_their_commits(tmp_path):
    runner = make_runner(tmp_path)
    runner.on_event = lambda *a: None  # (the per-event checks read, they do not commit; quicker without)
    doc = json.loads(order_text("fiber-minimal.json"))
    for n in range(20):
        doc["id"] = f"ORD-{n}"
        runner.submit(json.dumps(doc))
    seen = commits(runner.store)
    operate(runner)
    assert {r["status"] for r in runner.store.orders()} == {S.ORDER_COMPLETED}
    # 20 manual completions (an operator's each), then the orders' calls,
    # notifications and timers share commits: about 10 more, where each of them
    # committed on its own before (about 14 per order).
    assert len(seen) <= 20 + 12, len(seen)


def test_an_event_writes_the_tasks_it_changed_not_the_order(tmp_path):
    """Completing a manual task writes its row and those of the tasks it releases, not a row per task of the order."""
    runner = make_runner(tmp_path)
    runner.submit(order_text("new-fiber-every-option.json"))
    runner.drive()
    order_id = "ORD-1001"
    written = []
    runner.store.db.set_trace_callback(lambda sql: written.append(sql) if "order_state" in sql and "INSERT" in sql else None)
    runner.store.db.execute("PRAGMA data_version")
    step = runner.complete_manual(order_id, "1/D1:install_visit", {}, "tech")
    parts = {row[0] for row in runner.store.db.execute("SELECT part FROM order_state WHERE order_id = ?", (order_id,))}
    assert len(parts) > 20 and step is not None and not step.reshaped
    assert 0 < len(step.changed) < 5  # the visit, and activate_line it released


def test_a_change_committed_by_another_process_is_read_again(tmp_path):
    """The runner holds the order in memory; another connection (another `om`
    command) completes its manual task meanwhile: the runner's next event is
    applied to the order as the database has it, not to the copy it held."""
    runner = make_runner(tmp_path)
    runner.submit(order_text("fiber-minimal.json"))
    runner.drive()
    (order_id,) = runner.store.order_ids()
    assert order_id in runner._held
    other = make_runner(tmp_path)
    other.complete_manual(order_id, "1/D1:install_visit", {}, "tech")
    other.store.close()
    runner.drive()  # activate_line's call, released by the other process
    run = runner.store.load(order_id)
    assert run.status == S.ORDER_COMPLETED and run.tasks["1/D1:install_visit"].status == S.COMPLETED


def test_a_transaction_that_fails_drops_what_the_runner_held(tmp_path):
    runner = make_runner(tmp_path)
    runner.submit(order_text("fiber-minimal.json"))
    runner.drive()
    (order_id,) = runner.store.order_ids()

    def broken(*a, **k):
        raise sqlite3.OperationalError("disk I/O error")

    save, runner.store.save = runner.store.save, broken
    with pytest.raises(sqlite3.OperationalError):
        runner.complete_manual(order_id, "1/D1:install_visit", {}, "tech")
    runner.store.save = save
    assert order_id not in runner._held  # (it was changed in memory and not written)
    assert runner.store.load(order_id).tasks["1/D1:install_visit"].status == S.READY
    runner.complete_manual(order_id, "1/D1:install_visit", {}, "tech")
    operate(runner)
    assert runner.store.load(order_id).status == S.ORDER_COMPLETED


def test_an_order_written_whole_is_read_and_then_written_in_parts(tmp_path):
    """An order stored before schema 7 (its whole state in orders.state) runs on; its next event writes it in parts."""
    runner = make_runner(tmp_path)
    runner.submit(order_text("fiber-minimal.json"))
    runner.drive()
    (order_id,) = runner.store.order_ids()
    run = runner.store.load(order_id)
    with runner.store.transaction() as db:  # as schema 6 kept it
        db.execute("UPDATE orders SET state = ? WHERE id = ?", (json.dumps(S.to_data(run)), order_id))
        db.execute("DELETE FROM order_state WHERE order_id = ?", (order_id,))
    runner.store.close()
    runner = make_runner(tmp_path)
    assert S.to_data(runner.store.load(order_id)) == S.to_data(run)
    runner.complete_manual(order_id, "1/D1:install_visit", {}, "tech")
    operate(runner)
    assert runner.store.load(order_id).status == S.ORDER_COMPLETED
    state = json.loads(runner.store.db.execute("SELECT state FROM orders WHERE id = ?", (order_id,)).fetchone()[0])
    assert state["format"] == 2 and set(state["tasks"]) == set(run.tasks)


@pytest.mark.parametrize("sync, level", [("FULL", 2), ("NORMAL", 1)])
def test_the_simulators_database_follows_sync(tmp_path, sync, level):
    sims = Simulators(str(tmp_path / "sys.db"), synchronous=sync)
    assert sims.db.execute("PRAGMA synchronous").fetchone()[0] == level
    with pytest.raises(ValueError):
        Simulators(str(tmp_path / "other.db"), synchronous="OFF")


def test_the_store_reads_what_it_wrote_in_parts(tmp_path):
    """A big order through the store: every part read back is the state written."""
    store = Store(str(tmp_path / "om.db"))
    rules = GeneratedRules(ACME)
    engine = C.Engine(rules.catalog, rules)
    step = engine.start(plan_order(rules.catalog, rules, big_order(200)), sha_of(rules), NOV27)
    with store.transaction() as db:
        store.remember_catalog(db, sha_of(rules), "acme", "1", "{}", None, NOV27)
        store.insert_order(db, step.run, "{}")
        store.save(db, step.run, step.history, step.commands, NOV27)
    assert S.to_data(store.load("ORD-BIG")) == S.to_data(step.run)


def test_the_orders_held_in_memory_are_bounded(tmp_path, monkeypatch):
    runner = make_runner(tmp_path)
    monkeypatch.setattr(runner, "HELD", 3)
    doc = json.loads(order_text("fiber-minimal.json"))
    for n in range(6):
        doc["id"] = f"ORD-{n}"
        runner.submit(json.dumps(doc))
    assert list(runner._held) == ["ORD-3", "ORD-4", "ORD-5"]
    monkeypatch.setattr(runner, "HELD_TASKS", 10)  # an order has 8 tasks: one fits
    operate(runner)
    assert len(runner._held) == 1 and {r["status"] for r in runner.store.orders()} == {S.ORDER_COMPLETED}


@pytest.mark.parametrize("sync, level", [("FULL", 2), ("NORMAL", 1)])
def test_the_embedded_service_opens_the_simulators_at_its_sync(tmp_path, sync, level):
    """`--sync NORMAL` reaches the simulators' database too (it stayed at FULL: a commit in it cost an fsync per call)."""
    from om_dsl.embedded.service import EmbeddedOrders, Options

    orders = EmbeddedOrders.open(Options(db_path=str(tmp_path / "om.db"), sync=sync), GeneratedRules(ACME))
    try:
        assert orders.store.db.execute("PRAGMA synchronous").fetchone()[0] == level
        assert orders.systems.simulators.db.execute("PRAGMA synchronous").fetchone()[0] == level
    finally:
        orders.close()


def test_a_step_starts_at_most_max_starts_and_says_more(acme):
    """A driver that keeps its steps short (a Temporal workflow task) starts the
    ready tasks in batches: the same starts, in the same order, over several steps."""
    catalog, rules = acme
    planned = plan_order(catalog, rules, big_order(60))
    whole = C.Engine(catalog, rules).start(planned, sha_of(rules), NOV27)
    engine = C.Engine(catalog, rules)
    snapshot = C.plan_snapshot(planned, "ORD-BIG")
    step = engine.start_snapshot(snapshot, "ORD-BIG", sha_of(rules), NOV27, max_starts=10)
    run, calls, steps = step.run, [c.task for c in step.commands if isinstance(c, Cmd.CALLS)], 1
    assert step.more and len(calls) == 10
    while step.more:
        step = engine.handle(run, C.TimePassed(NOV27), in_place=True, max_starts=10)
        calls += [c.task for c in step.commands if isinstance(c, Cmd.CALLS)]
        steps += 1
    assert calls == [c.task for c in whole.commands if isinstance(c, Cmd.CALLS)] and steps > 5


def test_a_step_with_no_start_left_starts_none_and_says_more(acme):
    """A Temporal workflow task counts its starts across the events it handles:
    an event past that budget (max_starts=0) starts nothing, looks at none of
    the ready tasks, and says more are ready; the next step starts them."""
    catalog, rules = acme
    planned = plan_order(catalog, rules, big_order(60))
    engine = C.Engine(catalog, rules)
    step = engine.start_snapshot(C.plan_snapshot(planned, "ORD-BIG"), "ORD-BIG", sha_of(rules), NOV27, max_starts=10)
    run = step.run
    assert step.started == 10 and step.more
    call = next(c.task for c in step.commands if isinstance(c, Cmd.CALLS))
    step = engine.handle(run, C.CallSucceeded(call, {}, NOV27 + 1000), in_place=True, max_starts=0)
    assert step.started == 0 and step.more and not [c for c in step.commands if isinstance(c, Cmd.CALLS)]
    assert run.tasks[call].status == S.COMPLETED  # (the event itself applied)
    step = engine.handle(run, C.TimePassed(NOV27 + 2000), in_place=True, max_starts=10)
    assert step.started == 10 and len([c for c in step.commands if isinstance(c, Cmd.CALLS)]) == 10
