"""Shared by the runner and crash tests: an embedded runner over temp files."""

from __future__ import annotations

import json

from om_dsl.embedded.clock import SimulatedClock, parse_instant
from om_dsl.embedded.runner import Catalogs, Runner
from om_dsl.embedded.store import Store
from om_dsl.engine import state as S
from om_dsl.rules.generated import GeneratedRules
from om_dsl.simulate.simulators import Simulators
from om_dsl.systems.adapters import PythonTasks, Systems
from om_dsl.systems.config import Config

from support import ROOT

ACME = ROOT / "generated" / "acme"
TASKS_PATH = str(ROOT / "examples")
VALID_ORDERS = ["new-fiber-every-option.json", "fiber-tv-ported-phone.json", "fiber-minimal.json", "tv-alone.json"]


def order_text(name: str) -> str:
    return (ROOT / "examples" / "orders" / name).read_text(encoding="utf-8")


def make_runner(tmp_path, rules=None, fail=None, start="2026-11-27", config=None):
    """A runner whose store is checked after every event it commits: its task
    index must say what the order's state says (`check_task_index`)."""
    store = Store(str(tmp_path / "om.db"))
    simulators = Simulators(str(tmp_path / "om.systems.db"), fail=fail)
    rules = rules or GeneratedRules(ACME)
    systems = Systems(config or Config(None), simulators, callback_secret=store.callback_secret)
    runner = Runner(store, Catalogs(store, rules), systems, PythonTasks((TASKS_PATH,)), SimulatedClock(parse_instant(start)))
    runner.simulators = simulators
    runner.on_event = lambda order_id, _: (check_task_index(store, order_id), check_held(runner, order_id))
    return runner


def check_held(runner, order_id: str) -> None:
    """The state the runner holds in memory is the one it wrote, part by part:
    read back from the database, it is the same (nothing changed went unwritten)."""
    held = runner._held.get(order_id)
    if held is not None:
        assert S.to_data(runner.store.load(order_id)) == S.to_data(held), f"order {order_id}: the stored state differs from the one held"


INDEX_COLUMNS = ("item_id", "name", "type", "product", "status", "queue", "attempts", "next_at", "call_key", "wake_at", "jeopardy", "system")


def check_task_index(store, order_id: str) -> None:
    """The store's tasks table (what `om tasks list`, timers, callbacks and
    offline systems read) holds one row per task of the order's state, with
    the same values: no row of a task the order no longer has."""
    run = store.load(order_id)
    rows = {r[0]: r for r in store.db.execute(f"SELECT {', '.join(INDEX_COLUMNS)} FROM tasks WHERE order_id = ?", (order_id,))}
    tasks = {} if run is None else {t.id: (t.id, t.name, t.type, t.product, t.status, t.queue, t.attempts, t.next_at, t.key, t.wake_at, t.jeopardy, t.system) for t in run.tasks.values()}
    assert rows == tasks, f"the tasks table of {order_id} disagrees with its state: rows only {sorted(set(rows) - set(tasks))}, tasks only {sorted(set(tasks) - set(rows))}, different {sorted(k for k in set(rows) & set(tasks) if rows[k] != tasks[k])}"
    if run is not None:  # the order's row too (listings read it): an event writes it only when these move
        assert tuple(store.db.execute("SELECT status, updated_at, jeopardy FROM orders WHERE id = ?", (order_id,)).fetchone()) == (run.status, run.updated_at, run.jeopardy), f"the orders row of {order_id} disagrees with its state"
    open_manual = sorted(t.id for t in (run.tasks.values() if run else ()) if t.type == "manual" and t.status == S.READY)
    assert [r[1] for r in store.open_manual_tasks(order_id=order_id)] == open_manual


def operate(runner, by="test operator") -> None:
    """Drive, completing every open manual task as an operator would, until nothing moves."""
    runner.drive()
    while True:
        open_tasks = runner.store.open_manual_tasks()
        if not open_tasks:
            return
        for order_id, item_id, *_ in open_tasks:
            runner.complete_manual(order_id, item_id, {}, by)
        runner.drive()


def history(store, order_id):
    return [dict(zip(("seq", "at", "subject", "from", "to", "cause"), r)) for r in store.history(order_id)]


def check_starts_follow_the_graph(store, order_id) -> int:
    """Every task started (left pending) only after each task it depends on completed or was skipped."""
    run = store.load(order_id)
    events = history(store, order_id)
    done_at = {}
    checked = 0
    for e in events:
        if e["to"] in S.DONE and e["subject"] not in done_at:
            done_at[e["subject"]] = e["seq"]
    for e in events:
        if e["from"] == S.PENDING and e["subject"] in run.tasks:
            task = run.tasks[e["subject"]]
            for dep in task.depends_on:
                assert dep in done_at and done_at[dep] < e["seq"], f"{task.id} started before {dep} was done"
            checked += 1
    return checked


def effects_by_task(systems) -> dict:
    out: dict = {}
    for key, *_ in systems.effects():
        order_task = key.rsplit(":", 1)[0]  # ORDER:ITEM:GENERATION -> ORDER:ITEM
        out[order_task] = out.get(order_task, 0) + 1
    return out


def notifications(systems) -> dict:
    return {mid: (json.loads(payload), deliveries) for mid, payload, deliveries in systems.notifications()}


def events_by_order(simulators) -> dict:
    """order id -> {event id: (event type, order state)} as the originating system received them."""
    out: dict = {}
    for mid, (payload, _deliveries) in notifications(simulators).items():
        order = payload["event"]["productOrder"]
        out.setdefault(order["id"], {})[mid] = (payload["eventType"], order["state"])
    return out


def check_events(simulators, store, order_id) -> None:
    """Every event the order published arrived once (ids 1..N, none missing), and one says completed."""
    run = store.load(order_id)
    received = events_by_order(simulators).get(order_id, {})
    assert sorted(received) == sorted(f"{order_id}:event:{n}" for n in range(1, run.events + 1))
    assert received[f"{order_id}:event:1"][0] == "ProductOrderCreateEvent"
    completed = [mid for mid, (kind, state) in received.items() if kind == "ProductOrderStateChangeEvent" and state == "completed"]
    assert len(completed) == (1 if run.status == "completed" else 0)


# A catalog whose reserve call retries 5xx, fails fatally on 409 and falls out to the desk queue
# (tests/test_fallout.py, and the console's typed fallout form in tests/test_console.py).
FALLOUT_SPEC = """catalog f version "1"
queue desk "Desk"
retry quick = staggered 1s for 5xx fatal 409
commercial SVC "Service" root { attr site: string required }
technical LINE "Line" cfs { attr site: string required  attr port: string optional }
decompose d: SVC -> LINE { site = site }
system inv {
  operation reserve(site: string) -> (port: string, slot: int)
  operation activate(port: string, slot: int)
}
plan LINE on add {
  callout reserve = inv.reserve(site) retry quick fallout desk sets port = reserve.port
  callout activate = inv.activate(port, slot = reserve.slot) after reserve
}
"""
