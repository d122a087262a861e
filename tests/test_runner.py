"""The embedded runner end to end: the Acme examples run to completed on
SQLite against the simulated systems, in an order the plan allows."""

from __future__ import annotations

import json
import shutil

import pytest

from om_dsl.build import build, write
from om_dsl.embedded.store import MIGRATIONS, Store, StoreError
from om_dsl.engine import state as S
from om_dsl.rules.generated import GeneratedRules

from support import ROOT
from support.engine_helpers import VALID_ORDERS, check_events, check_starts_follow_the_graph, effects_by_task, events_by_order, history, make_runner, operate, order_text


@pytest.mark.parametrize("name", VALID_ORDERS)
def test_acme_example_runs_to_completed(tmp_path, name):
    runner = make_runner(tmp_path)
    order_id, status, problems = runner.submit(order_text(name))
    assert status == S.ACKNOWLEDGED or status == S.IN_PROGRESS, problems
    operate(runner)
    run = runner.store.load(order_id)
    assert run.status == S.ORDER_COMPLETED
    assert all(t.status in S.DONE for t in run.tasks.values())
    assert check_starts_follow_the_graph(runner.store, order_id) == len(run.tasks)
    # Each callout reached its system once: one effect per task, no second key.
    callouts = {f"{order_id}:{t.id}" for t in run.tasks.values() if t.type == "callout" and t.status == S.COMPLETED}
    assert effects_by_task(runner.simulators) == {k: 1 for k in callouts}
    # The originating system heard of every event once, of the completion once.
    check_events(runner.simulators, runner.store, order_id)
    events = list(events_by_order(runner.simulators)[order_id].values())
    assert events[0] == ("ProductOrderCreateEvent", "acknowledged") and events[-1] == ("ProductOrderStateChangeEvent", "completed")


def test_outputs_flow_into_later_tasks_and_onto_the_line(tmp_path):
    runner = make_runner(tmp_path)
    order_id, _, _ = runner.submit(order_text("new-fiber-every-option.json"))
    operate(runner)
    run = runner.store.load(order_id)
    port = run.tasks["1/D1:reserve_port"].outputs["port_id"]
    assert port.startswith("PORT-")
    assert run.lines["1/D1"].values["port_id"] == port
    effects = {key: json.loads(args) for key, system, op, args, outputs, calls in runner.simulators.effects()}
    assert effects[f"{order_id}:1/D1:activate_line:1"]["port_id"] == port
    # The ported number was normalized by the auto task before it was ported and activated.
    assert effects[f"{order_id}:5/D6:port_number:1"] == {"phone_number": "+31205550101"}
    assert effects[f"{order_id}:5/D6:activate_voice:1"] == {"phone_number": "+31205550101"}
    # The assigned number came from the voice platform.
    assigned = run.tasks["6/D6:assign_number"].outputs["phone_number"]
    assert effects[f"{order_id}:6/D6:activate_voice:1"] == {"phone_number": assigned}


def test_manual_task_blocks_until_completed(tmp_path):
    runner = make_runner(tmp_path)
    order_id, _, _ = runner.submit(order_text("fiber-minimal.json"))
    runner.drive()
    run = runner.store.load(order_id)
    assert run.status == S.IN_PROGRESS
    assert run.tasks["1/D1:install_visit"].status == S.READY
    assert run.tasks["1/D1:activate_line"].status == S.PENDING
    runner.drive()  # nothing moves without the person
    assert runner.store.load(order_id).tasks["1/D1:activate_line"].status == S.PENDING
    runner.complete_manual(order_id, "1/D1:install_visit", {"technician": "T-17"}, "jane")
    runner.drive()
    run = runner.store.load(order_id)
    assert run.status == S.ORDER_COMPLETED
    assert run.tasks["1/D1:install_visit"].outputs == {"technician": "T-17"}
    assert any(e["cause"] == "completed by jane" for e in history(runner.store, order_id))


def test_assets_and_inventory_after_completion(tmp_path):
    runner = make_runner(tmp_path)
    order_id, _, _ = runner.submit(order_text("new-fiber-every-option.json"))
    runner.drive()
    assert runner.store.assets() == []  # not before the order completes
    operate(runner)
    assets = {r[0]: r for r in runner.store.assets("ACC-42")}
    assert set(assets) == {f"AST-{order_id}-{n}" for n in range(1, 8)}
    assert assets[f"AST-{order_id}-2"][4] == f"AST-{order_id}-1"  # the router sits under the fiber
    inventory = {r[7]: r for r in runner.store.inventory("ACC-42")}
    assert json.loads(inventory["1/D1"][4])["port_id"].startswith("PORT-")
    assert json.loads(inventory["1/D3"][4])["ip_address"].startswith("203.0.113.")
    assert inventory["1/D1"][2] == f"AST-{order_id}-1"


def test_retries_follow_the_policy_then_succeed(tmp_path):
    runner = make_runner(tmp_path, fail={"inventory.reserve_port": 2})
    start = runner.clock.now()
    order_id, _, _ = runner.submit(order_text("fiber-minimal.json"))
    operate(runner)
    run = runner.store.load(order_id)
    assert run.status == S.ORDER_COMPLETED
    assert run.tasks["1/D1:reserve_port"].attempts == 3
    failures = [e for e in history(runner.store, order_id) if e["subject"] == "1/D1:reserve_port" and e["to"] == S.FAILED]
    assert [e["at"] - failures[0]["at"] for e in failures] == [0, 10_000]  # the second failure came on the first retry, 10 s later
    retries = [e["at"] for e in history(runner.store, order_id) if e["subject"] == "1/D1:reserve_port" and "(retry)" in e["cause"]]
    assert [t - failures[0]["at"] for t in retries] == [10_000, 70_000]  # staggered 10 s, then 60 s
    assert runner.clock.now() - start >= 70_000


def test_exhausted_retries_hold_the_order(tmp_path):
    runner = make_runner(tmp_path, fail={"inventory.reserve_port": 9})
    order_id, _, _ = runner.submit(order_text("fiber-minimal.json"))
    operate(runner)
    run = runner.store.load(order_id)
    assert run.tasks["1/D1:reserve_port"].status == S.FATALLY_FAILED
    assert run.tasks["1/D1:reserve_port"].attempts == 4  # the first call and 3 retries
    assert run.status == S.HELD
    assert runner.catalogs.engine(run.catalog).waiting_for(run, run.tasks["1/D1:reserve_port"]).startswith("fatally failed: inventory.reserve_port: 503")
    states = [state for kind, state in events_by_order(runner.simulators)[order_id].values() if kind == "ProductOrderStateChangeEvent"]
    assert states == ["inProgress", "held"]  # held is not final: no completion


def test_a_rejected_order_is_recorded_with_its_reasons(tmp_path):
    runner = make_runner(tmp_path)
    order_id, status, problems = runner.submit(order_text("invalid-port-in-without-number.json"))
    assert status == S.REJECTED and problems[0].rule == "validation:VOICE_LINE.port_in_requires_number"
    row = runner.store.order_row(order_id)
    assert row["status"] == "rejected" and "port_in" in row["problems"]
    assert (row["customer"], row["external_id"]) == ("ACC-86", "CPQ-88307")  # whose it is: a CSR finds it by customer
    assert [e["to"] for e in history(runner.store, order_id)] == ["rejected"]


@pytest.mark.parametrize("party", [{"id": "ACC-7", "@referredType": "Customer"}, {"partyOrPartyRole": {"id": "ACC-7", "@referredType": "Customer"}}])
def test_a_rejected_order_keeps_its_customer_however_tmf622_names_it(tmp_path, party):
    runner = make_runner(tmp_path)
    doc = json.loads(order_text("invalid-port-in-without-number.json"))
    doc["relatedParty"] = [party]
    order_id, status, _ = runner.submit(json.dumps(doc))
    assert status == S.REJECTED and runner.store.orders(status=S.REJECTED)[0][2] == "ACC-7"


def test_resubmitting_an_order_id_is_refused(tmp_path):
    from om_dsl.planning.order import Rejected

    runner = make_runner(tmp_path)
    runner.submit(order_text("tv-alone.json"))
    with pytest.raises(Rejected, match="submitted before"):
        runner.submit(order_text("tv-alone.json"))


def test_an_order_keeps_its_plan_version_after_a_recompile(tmp_path):
    """In flight on version A; the specs change (B adds a task); the old order
    finishes on A (from the store, through the interpreter), a new one runs on B."""
    specs = tmp_path / "specs"
    shutil.copytree(ROOT / "specs", specs)
    out = tmp_path / "generated"
    write(out, build([str(specs)]).files())
    a = GeneratedRules(out / "acme")
    runner = make_runner(tmp_path, rules=a)
    old_id, _, _ = runner.submit(order_text("fiber-minimal.json"))
    runner.drive()
    plans = specs / "acme" / "plans_add.om"
    text = plans.read_text()
    assert "  milestone line_active\n    after activate_line\n" in text
    plans.write_text(text.replace("  milestone line_active\n    after activate_line\n", "  milestone line_active\n    after activate_line\n\n  milestone handover\n    after line_active\n"))
    write(out, build([str(specs)]).files())
    b = GeneratedRules(out / "acme")
    assert b.plan_text != a.plan_text
    runner2 = make_runner(tmp_path, rules=b)
    new_doc = json.loads(order_text("fiber-minimal.json"))
    new_doc["id"] = "ORD-NEW"
    new_id, _, _ = runner2.submit(json.dumps(new_doc))
    operate(runner2)
    old, new = runner2.store.load(old_id), runner2.store.load(new_id)
    assert old.status == new.status == S.ORDER_COMPLETED
    assert "1/D1:handover" not in old.tasks and "1/D1:handover" in new.tasks
    assert old.catalog != new.catalog


# What the migrations after 6 add, taken out again (newest first).
UNDO_AFTER_6 = [
    "DROP INDEX cancellations_by_order", "DROP TABLE cancellations",  # 9: the TMF622 API's (7's and 8's tables are made IF NOT EXISTS)
    "ALTER TABLE hub DROP COLUMN owner", "ALTER TABLE hub DROP COLUMN query", "ALTER TABLE orders DROP COLUMN submitted_by",
]


def test_the_migration_to_6_drops_rows_of_tasks_the_orders_no_longer_have(tmp_path):
    """Before version 6 a task an amendment dropped kept its row: an open manual
    task on a completed order, a timer that woke it for ever. Opening the
    database takes such rows out, and only those."""
    runner = make_runner(tmp_path)
    runner.submit(order_text("fiber-minimal.json"))
    runner.drive()
    (order_id,) = runner.store.unfinished_orders()
    kept = runner.store.db.execute("SELECT item_id FROM tasks ORDER BY item_id").fetchall()
    with runner.store.transaction() as db:  # what an amendment left behind, before version 6
        db.execute(
            "INSERT INTO tasks (order_id, item_id, name, type, product, status, queue, attempts, wake_at) VALUES (?, '4/D5:confirm_delivery', 'confirm_delivery', 'manual', 'CPE_RFS', 'ready', 'field_ops', 0, 1)",
            (order_id,),
        )
        db.execute("UPDATE schema_version SET version = 5")
        for statement in UNDO_AFTER_6:  # the later migrations' changes, so that they apply again
            db.execute(statement)
    runner.store.close()
    store = Store(str(tmp_path / "om.db"))
    assert store.schema_version == len(MIGRATIONS)
    assert store.db.execute("SELECT item_id FROM tasks ORDER BY item_id").fetchall() == kept
    assert [r[1] for r in store.open_manual_tasks()] == ["1/D1:install_visit"] and store.next_timer() != 1


def test_schema_is_versioned(tmp_path):
    store = Store(str(tmp_path / "om.db"))
    assert store.schema_version == len(MIGRATIONS)
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    with store.transaction() as db:
        db.execute("UPDATE schema_version SET version = 99")
    store.close()
    with pytest.raises(StoreError, match="schema version 99"):
        Store(str(tmp_path / "om.db"))
    (tmp_path / "junk.db").write_text("not a database" * 100)
    with pytest.raises(StoreError):
        Store(str(tmp_path / "junk.db"))


def test_a_lost_callback_times_out_and_the_call_is_retried_with_the_same_key(tmp_path):
    """voice.port_number is asynchronous, with a 2 d timeout and the `patient` policy (every 1 h).
    Its callback is lost: after 2 d the task fails, is retried under the same idempotency key, the
    platform sends its answer again, and the order completes, with one porting effect."""
    runner = make_runner(tmp_path)
    order_id, _, _ = runner.submit(order_text("fiber-tv-ported-phone.json"))
    # Run the calls, but lose every callback on the way.
    for _ in range(50):
        for seq, cmd in runner.store.pending_commands():
            runner.execute(seq, cmd)
        for cb_id, _key, _outputs in runner.simulators.pending_callbacks():
            runner.simulators.ack_callback(cb_id)
    run = runner.store.load(order_id)
    port = next(t for t in run.tasks.values() if t.name == "port_number")
    accepted = next(e["at"] for e in history(runner.store, order_id) if e["subject"] == port.id and e["cause"].startswith("acknowledged"))
    assert port.status == S.RUNNING and port.next_at == accepted + 2 * 86_400_000
    runner.drive()  # simulated time stands still while the call is in flight...
    assert runner.store.load(order_id).tasks[port.id].status == S.RUNNING and runner.clock.now() < port.next_at
    runner.clock.advance_to(port.next_at)  # ...until time passes for real
    operate(runner)
    run = runner.store.load(order_id)
    port = run.tasks[port.id]
    assert run.status == S.ORDER_COMPLETED and port.status == S.COMPLETED and port.attempts == 2
    causes = [e["cause"] for e in history(runner.store, order_id) if e["subject"] == port.id]
    assert any(c.startswith("no callback within 172800 s; retry 1 of the policy in 3600 s") for c in causes), causes
    ((key, calls),) = [(k, c) for k, system, op, *_rest, c in runner.simulators.effects() if op == "port_number"]
    assert key == f"{order_id}:{port.id}:1" and calls == 2


def test_a_callback_redelivered_after_the_order_completed_is_recorded_and_dropped(tmp_path):
    """A crash between applying a callback and acknowledging it delivers it again, maybe after the order finished."""
    runner = make_runner(tmp_path)
    order_id, _, _ = runner.submit(order_text("fiber-tv-ported-phone.json"))
    operate(runner)
    assert runner.store.load(order_id).status == S.ORDER_COMPLETED
    runner.simulators.db.execute("UPDATE callbacks SET delivered = 0")
    runner.drive()  # no exception: the late callback is recorded, not applied
    assert runner.simulators.pending_callbacks() == []
    assert any(e["cause"].startswith("ignored: order") and "is completed" in e["cause"] for e in history(runner.store, order_id))
    assert runner.store.load(order_id).status == S.ORDER_COMPLETED
