"""What an amendment does to work that has started and not finished (a
manual task waiting for a person, a wait, a call on hold or waiting for
its retry): kept as it is when the revision changes nothing it started
from, replaced when it does, cancelled, and gone from the task list, when
the revision no longer has it.

Acme, with one more manual task: a courier delivery is confirmed by the
field operations (`confirm_delivery`, only `when shipping == "courier"`)."""

from __future__ import annotations

import json
import shutil

import pytest

from om_dsl.build import build, write
from om_dsl.engine import state as S
from om_dsl.engine.core import Rejection
from om_dsl.rules.generated import GeneratedRules

from support import ROOT
from support.engine_helpers import history, make_runner, operate

AMEND = ROOT / "examples" / "orders" / "amend"
ORDER = "ORD-3000"
SHIP_DEVICE = """plan CPE_RFS on add {
  callout ship_device = logistics.ship_device(device_model, shipping)
    sets shipment_id = ship_device.shipment_id
    compensate logistics.return_device(shipment_id = ship_device.shipment_id)
"""
CONFIRM = """
  manual confirm_delivery "Confirm the customer received the device" queue field_ops
    after ship_device
    when shipping == "courier"
    due 2d
"""


@pytest.fixture(scope="module")
def acme_with_confirmations(tmp_path_factory):
    folder = tmp_path_factory.mktemp("confirm")
    specs = folder / "specs"
    shutil.copytree(ROOT / "specs", specs)
    plans = specs / "acme" / "plans_add.om"
    text = plans.read_text(encoding="utf-8")
    assert SHIP_DEVICE in text
    plans.write_text(text.replace(SHIP_DEVICE, SHIP_DEVICE + CONFIRM), encoding="utf-8")
    result = build([str(specs)])  # the whole folder: specs/acme uses specs/shared, inside the root
    assert result.ok
    write(folder / "generated", result.files())
    return GeneratedRules(folder / "generated" / "acme")


@pytest.fixture
def runner(tmp_path, acme_with_confirmations):
    return make_runner(tmp_path, rules=acme_with_confirmations)


def doc(router_delivery="courier", speed=300, mesh=("3", "4")) -> str:
    """ORD-3000: the router comes by `router_delivery`, one mesh extender per id in `mesh`."""
    d = json.loads((AMEND / "order.json").read_text(encoding="utf-8"))
    fiber = d["productOrderItem"][0]
    fiber["product"]["productCharacteristic"][0]["value"] = speed
    router = {"id": "2", "action": "add", "productOffering": {"id": "WIFI_ROUTER"}, "product": {"productCharacteristic": [{"name": "delivery", "value": router_delivery}]}}
    fiber["productOrderItem"] = [router] + [{"id": m, "action": "add", "productOffering": {"id": "MESH_EXTENDER"}} for m in mesh]
    return json.dumps(d)


def started(runner):
    """Up to the people: the installation visit and the three confirmations wait."""
    runner.submit(doc())
    runner.drive()
    run = runner.store.load(ORDER)
    waiting = sorted(t.id for t in run.tasks.values() if t.status == S.READY)
    assert waiting == ["1/D1:install_visit", "2/D4:confirm_delivery", "3/D5:confirm_delivery", "4/D5:confirm_delivery"]
    return run


def open_tasks(runner) -> list[str]:
    return [r[1] for r in runner.store.open_manual_tasks()]


def causes(runner, subject: str) -> list[str]:
    return [e["cause"] for e in history(runner.store, ORDER) if e["subject"] == subject]


def test_a_manual_task_whose_condition_a_revision_makes_false_leaves_the_task_list(runner):
    started(runner)
    runner.amend(ORDER, doc(router_delivery="technician"), "csr")  # the router's `when shipping == "courier"` is false now
    run = runner.store.load(ORDER)
    assert "2/D4:confirm_delivery" not in run.tasks
    assert [(e["from"], e["to"], e["cause"]) for e in history(runner.store, ORDER) if e["subject"] == "2/D4:confirm_delivery"][-1] == ("ready", "cancelled", "dropped by revision 2")
    assert "2/D4:confirm_delivery" not in open_tasks(runner)
    with pytest.raises(Rejection, match="has no task 2/D4:confirm_delivery"):
        runner.complete_manual(ORDER, "2/D4:confirm_delivery", {}, "desk")
    operate(runner)
    assert runner.store.load(ORDER).status == S.ORDER_COMPLETED
    assert open_tasks(runner) == []  # nothing left open on a completed order
    assert runner.store.next_timer() is None  # and nothing left to wake up for


def test_a_manual_task_of_an_item_a_revision_removes_leaves_the_task_list(runner):
    started(runner)
    runner.amend(ORDER, doc(mesh=("3",)), "csr")  # item 4 is gone
    assert "4/D5:confirm_delivery" not in open_tasks(runner)
    assert causes(runner, "4/D5:confirm_delivery")[-1] == "dropped by revision 2"
    operate(runner)
    assert runner.store.load(ORDER).status == S.ORDER_COMPLETED and open_tasks(runner) == []


def test_a_revision_of_one_item_keeps_the_open_work_of_the_others(runner):
    before = started(runner)
    runner.clock.advance_to(runner.clock.now() + 86_400_000)  # a day later: the confirmations are half-way to their due time
    runner.amend(ORDER, doc(mesh=("3", "5")), "csr")  # item 4 swapped for item 5
    after = runner.store.load(ORDER)
    for kept in ("1/D1:install_visit", "2/D4:confirm_delivery", "3/D5:confirm_delivery"):
        old, new = before.tasks[kept], after.tasks[kept]
        assert (new.status, new.started_at, new.due_at, new.key) == (S.READY, old.started_at, old.due_at, old.key), kept
        assert not any("revision 2" in c for c in causes(runner, kept)), causes(runner, kept)
    runner.drive()
    assert runner.store.load(ORDER).tasks["5/D5:confirm_delivery"].status == S.READY  # the new extender shipped: its own confirmation
    assert sorted(open_tasks(runner)) == ["1/D1:install_visit", "2/D4:confirm_delivery", "3/D5:confirm_delivery", "5/D5:confirm_delivery"]


def test_a_revision_replaces_open_work_that_waited_for_what_it_changes(runner):
    before = started(runner)
    runner.clock.advance_to(runner.clock.now() + 86_400_000)
    runner.amend(ORDER, doc(speed=1000), "csr")  # reserve_port and ship_ont are done again: the visit waits for them
    assert causes(runner, "1/D1:install_visit")[-1] == "replaced by revision 2"
    runner.drive()
    after = runner.store.load(ORDER)
    assert after.tasks["1/D1:install_visit"].started_at > before.tasks["1/D1:install_visit"].started_at
    for kept in ("2/D4:confirm_delivery", "3/D5:confirm_delivery", "4/D5:confirm_delivery"):  # the devices: nothing changed
        assert (after.tasks[kept].status, after.tasks[kept].due_at) == (S.READY, before.tasks[kept].due_at)
    # The router now comes by its technician, and the speed goes back: the router's shipment is
    # done again (its confirmation dropped); the extenders' confirmations are still kept.
    runner.amend(ORDER, doc(router_delivery="technician"), "csr")
    after = runner.store.load(ORDER)
    assert "2/D4:confirm_delivery" not in after.tasks
    assert all(after.tasks[k].due_at == before.tasks[k].due_at for k in ("3/D5:confirm_delivery", "4/D5:confirm_delivery"))
    operate(runner)
    assert runner.store.load(ORDER).status == S.ORDER_COMPLETED and open_tasks(runner) == []


def test_a_call_on_hold_that_a_revision_does_not_change_stays_on_hold(runner):
    runner.set_system("logistics", True, "ops")  # nothing ships: the shipments wait on hold
    runner.submit(doc())
    runner.drive()
    runner.amend(ORDER, doc(mesh=("3", "5")), "csr")
    runner.drive()
    run = runner.store.load(ORDER)
    assert run.tasks["3/D5:ship_device"].status == S.ON_HOLD and not any("revision 2" in c for c in causes(runner, "3/D5:ship_device"))
    assert run.tasks["5/D5:ship_device"].status == S.ON_HOLD  # added, dispatched, held
    runner.amend(ORDER, doc(router_delivery="technician", mesh=("3", "5")), "csr")  # the router's arguments change: replaced
    assert "replaced by revision 3" in causes(runner, "2/D4:ship_device")
    runner.set_system("logistics", False, "ops")
    operate(runner)
    run = runner.store.load(ORDER)
    assert run.status == S.ORDER_COMPLETED
    shipped = {key: json.loads(args) for key, _, op, args, _, _ in runner.simulators.effects() if op == "ship_device"}
    assert shipped[f"{ORDER}:2/D4:ship_device:1"]["shipping"] == "technician"  # the call went out once, with the revision's arguments
    assert f"{ORDER}:4/D5:ship_device:1" not in shipped
