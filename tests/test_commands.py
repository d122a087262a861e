"""Typed engine commands: their data (the outbox rows, the Temporal payloads),
outbox rows written before commands were typed, and the one executor."""

from __future__ import annotations

import datetime
import json
from decimal import Decimal

import pytest

from om_dsl.embedded.store import StoreDamaged
from om_dsl.engine import commands as Cmd
from om_dsl.engine import core as C
from om_dsl.engine import executor
from om_dsl.engine import state as S
from om_dsl.systems.adapters import CallResult

from support.engine_helpers import make_runner, operate, order_text
from support.tmf622_schemas import event_problems

# The outbox of fiber-tv-ported-phone.json just submitted, as the untyped engine (commit 478db23) wrote it.
OLD_OUTBOX = [
    (
        "notify",
        '{"event": {"event": {"productOrder": {"externalId": "CPQ-88251", "id": "ORD-1003", "state": "acknowledged"}}, "eventId": "ORD-1003:event:1", '
        '"eventTime": "2026-11-27T00:00:00Z", "eventType": "ProductOrderCreateEvent"}, "key": "ORD-1003:event:1", "kind": "notify", "order": "ORD-1003"}'
    ),
    (
        "call",
        '{"args": {"address_id": "ADDR-1204"}, "attempt": 1, "is_async": false, "key": "ORD-1003:1/D1:check_address:1", "kind": "call", '
        '"operation": "check_address", "order": "ORD-1003", "outputs": [], "system": "inventory", "task": "1/D1:check_address", "timeout_ms": 30000}'
    ),
    (
        "call",
        '{"args": {"device_model": "G-2425G", "shipping": "courier"}, "attempt": 1, "is_async": false, "key": "ORD-1003:1/D2:ship_ont:1", "kind": "call", '
        '"operation": "ship_device", "order": "ORD-1003", "outputs": [["shipment_id", "string"]], "system": "logistics", "task": "1/D2:ship_ont", '
        '"timeout_ms": 30000}'
    ),
    (
        "call",
        '{"args": {"device_model": "AX3000", "shipping": "technician"}, "attempt": 1, "is_async": false, "key": "ORD-1003:2/D4:ship_device:1", "kind": "call", '
        '"operation": "ship_device", "order": "ORD-1003", "outputs": [["shipment_id", "string"]], "system": "logistics", "task": "2/D4:ship_device", '
        '"timeout_ms": 30000}'
    ),
    (
        "python",
        '{"args": {"phone_number": "+31 20 555 0188"}, "attempt": 1, "key": "ORD-1003:3/D6:normalize_number:1", "kind": "python", "order": "ORD-1003", '
        '"target": "acme_tasks.numbers:to_e164", "task": "3/D6:normalize_number", "timeout_ms": 30000}'
    ),
    (
        "call",
        '{"args": {"device_model": "STB-4K", "shipping": "courier"}, "attempt": 1, "is_async": false, "key": "ORD-1003:4/D8#1:ship_device:1", "kind": "call", '
        '"operation": "ship_device", "order": "ORD-1003", "outputs": [["shipment_id", "string"]], "system": "logistics", "task": "4/D8#1:ship_device", '
        '"timeout_ms": 30000}'
    ),
    (
        "call",
        '{"args": {"device_model": "STB-4K", "shipping": "courier"}, "attempt": 1, "is_async": false, "key": "ORD-1003:4/D8#2:ship_device:1", "kind": "call", '
        '"operation": "ship_device", "order": "ORD-1003", "outputs": [["shipment_id", "string"]], "system": "logistics", "task": "4/D8#2:ship_device", '
        '"timeout_ms": 30000}'
    ),
    (
        "call",
        '{"args": {"device_model": "STB-4K", "shipping": "courier"}, "attempt": 1, "is_async": false, "key": "ORD-1003:4/D8#3:ship_device:1", "kind": "call", '
        '"operation": "ship_device", "order": "ORD-1003", "outputs": [["shipment_id", "string"]], "system": "logistics", "task": "4/D8#3:ship_device", '
        '"timeout_ms": 30000}'
    ),
    (
        "notify",
        '{"event": {"event": {"productOrder": {"externalId": "CPQ-88251", "id": "ORD-1003", "state": "inProgress"}}, "eventId": "ORD-1003:event:2", '
        '"eventTime": "2026-11-27T00:00:00Z", "eventType": "ProductOrderStateChangeEvent"}, "key": "ORD-1003:event:2", "kind": "notify", "order": "ORD-1003"}'
    ),
]


def test_the_outbox_keeps_the_untyped_shape(tmp_path):
    """A new order's call rows are, byte for byte, what the untyped engine wrote: older and newer runners read each other's rows.
    Notify rows carry the event's facts since TMF622's shapes came (`engine.progress.notice`); the old ones still send (below)."""
    runner = make_runner(tmp_path)
    order_id, _, _ = runner.submit(order_text("fiber-tv-ported-phone.json"))
    assert order_id == "ORD-1003"
    rows = runner.store.db.execute("SELECT kind, payload FROM outbox ORDER BY seq").fetchall()
    assert [r for r in rows if r[0] != "notify"] == [r for r in OLD_OUTBOX if r[0] != "notify"]
    notices = [json.loads(p)["event"] for k, p in rows if k == "notify"]
    assert [(n["eventId"], n["eventType"], n["order"]["state"]) for n in notices] == [
        ("ORD-1003:event:1", "ProductOrderCreateEvent", "acknowledged"),
        ("ORD-1003:event:2", "ProductOrderStateChangeEvent", "inProgress"),
    ]


def test_outbox_rows_written_before_commands_were_typed_still_execute(tmp_path):
    runner = make_runner(tmp_path)
    order_id, _, _ = runner.submit(order_text("fiber-tv-ported-phone.json"))
    with runner.store.transaction() as db:  # the outbox as the previous version left it, nothing executed yet
        db.execute("DELETE FROM outbox")
        db.executemany("INSERT INTO outbox (order_id, kind, payload, created_at) VALUES (?, ?, ?, 0)", [(order_id, k, p) for k, p in OLD_OUTBOX])
    pending = runner.store.pending_commands()
    assert [type(c) for _, c in pending] == [Cmd.Notify, Cmd.Call, Cmd.Call, Cmd.Call, Cmd.AutoTask, Cmd.Call, Cmd.Call, Cmd.Call, Cmd.Notify]
    operate(runner)
    run = runner.store.load(order_id)
    assert run.status == S.ORDER_COMPLETED
    assert run.tasks["1/D1:check_address"].status == S.COMPLETED and run.tasks["3/D6:normalize_number"].outputs
    assert {"ORD-1003:1/D1:check_address:1", "ORD-1003:4/D8#3:ship_device:1"} <= {row[0] for row in runner.simulators.effects()}
    sent = {row[0]: json.loads(row[1]) for row in runner.simulators.notifications()}
    assert {"ORD-1003:event:1", "ORD-1003:event:2"} <= set(sent)
    for event_id in ("ORD-1003:event:1", "ORD-1003:event:2"):  # an old row goes out in TMF622's shape too
        assert sent[event_id]["@type"] == sent[event_id]["eventType"] and sent[event_id]["event"]["productOrder"]["productOrderItem"]
        assert event_problems(sent[event_id], "v4") == []


@pytest.mark.parametrize(
    "cmd",
    [
        Cmd.Call("O-1", "1/D1:t", "O-1:1/D1:t:1", 2, {"speed": Decimal("1.50"), "on": datetime.date(2026, 11, 27)}, "inv", "reserve", True, [["port", "string"]], 60_000),
        Cmd.AutoTask("O-1", "1/D1:n", "O-1:1/D1:n:1", 1, {"n": "+31"}, "pkg.mod:fn"),
        Cmd.Notify("O-1", "O-1:event:1", {"eventId": "O-1:event:1", "event": {"productOrder": {"id": "O-1"}}}),
        Cmd.TellInstalledBase("C-1", "record", ["O-1", [["A-1", "x"]]]),
    ],
)
def test_a_command_survives_its_data_as_json(cmd):
    data = json.loads(json.dumps(Cmd.to_data(cmd)))
    assert data["kind"] == cmd.kind
    assert Cmd.from_data(data) == cmd


@pytest.mark.parametrize("data", [{"kind": "launch"}, {"kind": "call", "order": "O-1"}, ["call"], {"task": "x"}])
def test_what_is_not_a_command_is_a_value_error(data):
    with pytest.raises(ValueError):
        Cmd.from_data(data)


def test_a_damaged_outbox_row_is_reported_not_a_traceback(tmp_path):
    runner = make_runner(tmp_path)
    runner.submit(order_text("fiber-tv-ported-phone.json"))
    with runner.store.transaction() as db:
        db.execute("UPDATE outbox SET payload = ? WHERE seq = 2", ('{"kind": "call", "order": "ORD-1003"}',))
    with pytest.raises(StoreDamaged, match="outbox command 2"):
        runner.store.pending_commands()


@pytest.mark.parametrize(
    "result, event",
    [
        (CallResult.ok({"port": "P-1"}), C.CallSucceeded("t", {"port": "P-1"}, 5)),
        (CallResult.accepted(), C.CallAccepted("t", 5)),
        (CallResult.error("503", True), C.CallFailed("t", "503", True, 5)),
        (CallResult.error("no such port", False), C.CallFailed("t", "no such port", False, 5)),
    ],
)
def test_the_executor_maps_an_answer_to_the_cores_event(result, event):
    assert executor.event_for("t", result, 5) == event


def test_the_executor_performs_a_call_and_an_auto_task_with_the_commands_key():
    seen = []

    class Systems:
        def call(self, *args):
            seen.append(("system", args))
            return CallResult.ok({"port": "P-1"})

    class Tasks:
        def call(self, *args):
            seen.append(("task", args))
            return CallResult.error("bad", False)

    call = Cmd.Call("O-1", "t", "K-1", 1, {"a": 1}, "inv", "reserve", True, [["port", "string"]], 9)
    assert executor.perform(call, Systems(), Tasks()) == CallResult.ok({"port": "P-1"})
    assert executor.perform(Cmd.AutoTask("O-1", "u", "K-2", 1, {"b": 2}, "m:f"), Systems(), Tasks()).message == "bad"
    assert seen == [("system", ("inv", "reserve", {"a": 1}, "K-1", [["port", "string"]], True, 9)), ("task", ("m:f", {"b": 2}, "K-2"))]
