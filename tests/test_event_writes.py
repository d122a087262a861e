"""What one event costs the embedded store, part 2 (issue 23, durable NORMAL at
0.5x the minimal loop): the commands this process wrote are read back from the
outbox without decoding, parts are written without the fields at their
defaults, an order's wide row is rewritten only when its status, updated_at or
jeopardy moved, the simulated clock only when it moved, and the orders that
complete in one transaction update the installed base together. As in
tests/test_event_cost.py, work is counted (statements, decodings), never timed."""

from __future__ import annotations

import copy
import json

import pytest

from om_dsl.embedded.store import Store
from om_dsl.embedded.store import outbox as outbox_module
from om_dsl.engine import commands as Cmd
from om_dsl.engine import state as S
from om_dsl.tmf622 import events as tmf_events
from om_dsl.tmf622 import resource as R

from support.engine_helpers import make_runner, operate, order_text


def statements(store, *starts: str, having: str = "") -> list:
    """Every statement the store's connection runs from now on that starts with one of `starts` (and holds `having`)."""
    seen: list = []
    store.db.set_trace_callback(lambda sql: seen.append(sql) if sql.lstrip().startswith(starts) and having in sql else None)
    return seen


def submitted(tmp_path, names=("fiber-minimal.json",)):
    runner = make_runner(tmp_path)
    for n, name in enumerate(names):
        doc = json.loads(order_text(name))
        doc["id"] = f"ORD-{n}"
        runner.submit(json.dumps(doc))
    return runner


def test_the_outbox_gives_back_what_this_store_wrote_without_decoding_it(tmp_path, monkeypatch):
    runner = submitted(tmp_path)
    path = runner.store.path
    decoded: list = []
    real = Cmd.from_data
    monkeypatch.setattr(outbox_module.Cmd, "from_data", lambda data: decoded.append(data) or real(data))
    mine = runner.store.pending_commands()
    assert mine and decoded == []  # (notifications and calls, as the engine made them)
    other = Store(path)  # another process reads the rows: it decodes them, to the same commands
    assert other.pending_commands() == mine and len(decoded) == len(mine)
    other.close()


def test_a_command_the_store_did_not_write_is_decoded(tmp_path):
    runner = submitted(tmp_path)
    seq, cmd = runner.store.pending_commands()[-1]
    changed = Cmd.from_data({**Cmd.to_data(cmd), "key": "another-key"})
    with runner.store.transaction() as db:  # as another process (or an older om) might have written it
        db.execute("UPDATE outbox SET payload = ? WHERE seq = ?", (json.dumps(Cmd.to_data(changed), sort_keys=True), seq))
    assert dict(runner.store.pending_commands())[seq] == changed


def test_parts_leave_out_the_fields_at_their_defaults_and_read_back_the_same(tmp_path):
    runner = submitted(tmp_path)
    runner.drive()
    run = runner._held["ORD-0"]
    parts = {p: json.loads(d) for p, d in runner.store.db.execute("SELECT part, data FROM order_state WHERE order_id = 'ORD-0'")}
    task = parts["t:1/D1:install_visit"]  # ready, never called: no key, no error, no outputs
    assert "error" not in task and "fallout_of" not in task and None not in task.values()
    assert task["status"] == S.READY and task["queue"] == "field_ops"
    head = parts["head"]
    assert "frozen" not in head and "pending" not in head and head["status"] == run.status
    assert S.to_data(runner.store.load("ORD-0")) == S.to_data(run)


def test_a_part_written_whole_still_reads(tmp_path):
    """Rows written before parts left their defaults out (every field, null or not) read as they did."""
    runner = submitted(tmp_path)
    runner.drive()
    run = runner.store.load("ORD-0")
    with runner.store.transaction() as db:
        for k, t in run.tasks.items():
            db.execute("UPDATE order_state SET data = ? WHERE order_id = 'ORD-0' AND part = ?", (json.dumps(S.task_data(t)), "t:" + k))
        db.execute("UPDATE order_state SET data = ? WHERE order_id = 'ORD-0' AND part = 'head'", (json.dumps(S.head_data(run)),))
    assert S.to_data(Store(runner.store.path).load("ORD-0")) == S.to_data(run)


def test_an_event_that_moves_none_of_the_orders_columns_leaves_its_row_alone(tmp_path):
    """The calls' answers of a running order (same status, same simulated
    instant, no jeopardy) write its tasks and parts, not its wide row; the
    order's completion does. (make_runner's checks compare the row with the
    state after every event.)"""
    runner = submitted(tmp_path)
    before = runner.store.order_row("ORD-0")
    assert before["status"] == S.IN_PROGRESS
    seen = statements(runner.store, "UPDATE orders", "INSERT INTO order_state")
    runner.execute_all(runner.store.pending_commands())
    assert seen and not [s for s in seen if s.startswith("UPDATE orders")], seen
    seen.clear()
    operate(runner)
    assert [s for s in seen if s.startswith("UPDATE orders")] and runner.store.order_row("ORD-0")["status"] == S.ORDER_COMPLETED


def test_the_simulated_clock_is_written_when_it_moved(tmp_path):
    runner = submitted(tmp_path)
    seen = statements(runner.store, "INSERT INTO meta", having="'clock_ms'")
    pending = runner.store.pending_commands()
    runner.execute_all(pending[:1])
    runner.execute_all(pending[1:2])  # the same instant: not written again
    assert len(seen) == 1 and runner.store.meta("clock_ms") == str(runner.clock.now())
    runner.clock.advance_to(runner.clock.now() + 1000)
    runner.execute_all(pending[2:3])
    assert len(seen) == 2 and runner.store.meta("clock_ms") == str(runner.clock.now())


def test_a_transaction_that_fails_writes_the_clock_again(tmp_path):
    runner = submitted(tmp_path)
    pending = runner.store.pending_commands()
    runner.execute_all(pending[:1])
    with pytest.raises(RuntimeError):
        with runner._writing():
            raise RuntimeError("rolled back")
    seen = statements(runner.store, "INSERT INTO meta", having="'clock_ms'")
    runner.execute_all(pending[1:2])
    assert len(seen) == 1


INSTALLED = ("SELECT id, customer, product, attributes, parent, order_id, item_id, status FROM assets ORDER BY id",
             "SELECT id, customer, asset_id, product, attributes, outputs, order_id, line, status, line_key, source_asset, rule FROM inventory ORDER BY id")


def test_orders_completed_together_update_the_installed_base_as_one_by_one(tmp_path):
    """Three orders of one customer (their billing line is the customer's: each
    order changes it in turn) completed in one transaction: the installed base
    is read once for the three, and ends as when they complete one by one."""
    names = ["fiber-minimal.json"] * 3
    (tmp_path / "apart").mkdir()
    apart = submitted(tmp_path / "apart", names)
    apart.drive()
    for order_id, item_id, *_ in apart.store.open_manual_tasks():
        apart.complete_manual(order_id, item_id, {}, "tech")
        apart.drive()  # (this order to completed, alone)
    (tmp_path / "together").mkdir()
    runner = submitted(tmp_path / "together", names)
    runner.drive()
    for order_id, item_id, *_ in runner.store.open_manual_tasks():
        runner.complete_manual(order_id, item_id, {}, "tech")
    seen = statements(runner.store, "SELECT id, customer, product, attributes, parent")
    runner.drive()  # the three orders' last calls answered in one transaction
    assert {r["status"] for r in runner.store.orders()} == {S.ORDER_COMPLETED} == {r["status"] for r in apart.store.orders()}
    assert len(seen) == 1
    for query in INSTALLED:
        rows = runner.store.db.execute(query).fetchall()
        assert rows and rows == apart.store.db.execute(query).fetchall()


def test_rendering_a_create_event_leaves_the_request_as_it_was(tmp_path):
    runner = submitted(tmp_path, ["new-fiber-every-option.json"])
    request = runner.request_of("ORD-0")
    kept = copy.deepcopy(request)
    (notice,) = [c.event for _, c in runner.store.pending_commands() if isinstance(c, Cmd.Notify) and c.event["eventType"] == "ProductOrderCreateEvent"]
    for version in ("v4", "v5"):
        event = tmf_events.render(notice, request, version)
        assert event["event"]["productOrder"]["productOrderItem"] and request == kept
    copied = R._copied(request)
    assert copied == request and copied["productOrderItem"] is not request["productOrderItem"]
