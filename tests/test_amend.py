"""In-flight change: amendments (supplemental orders), points of no return,
cancellation with compensation. The Acme cases run end to end against the
simulators; the merged plans are reviewed snapshots."""

from __future__ import annotations

import json

import pytest
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from om_dsl.engine import state as S
from om_dsl.engine.core import Rejection

from support import ROOT
from support.engine_helpers import check_events, history, make_runner, operate

AMEND = ROOT / "examples" / "orders" / "amend"
ORDER = "ORD-3000"


class JSONText(SingleFileSnapshotExtension):
    _write_mode = WriteMode.TEXT
    file_extension = "json"


def text(name: str) -> str:
    return (AMEND / f"{name}.json").read_text(encoding="utf-8")


def effects(runner) -> dict:
    """idempotency key -> (operation, args, outputs, calls)"""
    return {key: (op, json.loads(args), json.loads(outputs), calls) for key, system, op, args, outputs, calls in runner.simulators.effects()}


def merged_plan(runner) -> str:
    """What a reviewer reads: every task of the merged plan, and what the revisions did."""
    run = runner.store.load(ORDER)
    tasks = {t.id: {"status": t.status, "generation": t.generation, "depends_on": t.depends_on, **({"undoes": t.undoes} if t.undoes else {})} for t in run.tasks.values()}
    story = [f"{e['subject']}: {e['cause']}" for e in history(runner.store, ORDER) if "revision" in e["cause"] or "undo" in e["cause"]]
    return json.dumps({"revision": run.revision, "status": run.status, "tasks": tasks, "story": story}, indent=2, sort_keys=True) + "\n"


@pytest.fixture
def runner(tmp_path):
    return make_runner(tmp_path)


def started(runner):
    order_id, _, _ = runner.submit(text("order"))
    runner.drive()  # up to the installation visit: a person has not come yet
    run = runner.store.load(order_id)
    assert run.tasks["1/D1:install_visit"].status == S.READY
    return run


def test_speed_changed_while_the_visit_is_open(runner, snapshot):
    started(runner)
    runner.amend(ORDER, text("speed-1000"), "csr-lena")
    operate(runner)
    run = runner.store.load(ORDER)
    assert run.status == S.ORDER_COMPLETED and run.revision == 2
    calls = effects(runner)
    # activate_line gets the new speed, on the port reserved for it.
    (_, args, _, _) = calls[f"{ORDER}:1/D1:activate_line:1"]
    assert (args["down_mbps"], args["up_mbps"], args["technology"]) == (1000, 1000, "XGS-PON")
    # reserve_port's inputs changed (down_mbps): the first port is released, a new one reserved.
    first_port = calls[f"{ORDER}:1/D1:reserve_port:1"][2]["port_id"]
    second_port = calls[f"{ORDER}:1/D1:reserve_port:2"][2]["port_id"]
    assert calls[f"{ORDER}:1/D1:reserve_port:undo:1"][:2] == ("release_port", {"port_id": first_port})
    assert args["port_id"] == second_port != first_port
    # The ONT model changed: the GPON one goes back, an XGS-PON one is shipped.
    assert calls[f"{ORDER}:1/D2:ship_ont:2"][1] == {"device_model": "XS-2426G", "shipping": "courier"}
    assert calls[f"{ORDER}:1/D2:ship_ont:undo:1"][0] == "return_device"
    # What did not change is not redone: the router and the extenders shipped once.
    assert all(calls[f"{ORDER}:{t}:1"][3] == 1 for t in ("2/D4:ship_device", "3/D5:ship_device", "4/D5:ship_device"))
    assert not any(k.endswith(":2") for k in calls if "ship_device" in k)
    assert all(c[3] == 1 for c in calls.values())  # every effect once
    check_events(runner.simulators, runner.store, ORDER)
    assert merged_plan(runner) == snapshot(extension_class=JSONText)


def test_speed_changed_after_activate_line_needs_force(runner, snapshot):
    started(runner)
    runner.set_system("billing", True, "ops")  # the order stays in flight: billing waits
    runner.complete_manual(ORDER, "1/D1:install_visit", {}, "technician")
    runner.drive()
    assert runner.store.load(ORDER).tasks["1/D1:activate_line"].status == S.COMPLETED
    with pytest.raises(Rejection, match=r"revision 2 touches a bundle that is past the point of no return: 1/D1:activate_line completed \(a soft point of no return: force it"):
        runner.amend(ORDER, text("speed-1000"), "csr-lena")
    assert [r[1] for r in runner.store.revisions(ORDER)] == ["refused"]
    assert any("revision 2 refused" in e["cause"] for e in history(runner.store, ORDER))
    runner.amend(ORDER, text("speed-1000"), "csr-lena", force=True)
    runner.set_system("billing", False, "ops")
    operate(runner)
    run = runner.store.load(ORDER)
    assert run.status == S.ORDER_COMPLETED and run.revision == 3
    calls = effects(runner)
    assert calls[f"{ORDER}:1/D1:activate_line:2"][1]["down_mbps"] == 1000  # activated again, at the new speed
    assert [r[1] for r in runner.store.revisions(ORDER)] == ["refused", "received"]
    assert merged_plan(runner) == snapshot(extension_class=JSONText)


def test_mesh_extenders_swapped_before_shipping(runner, snapshot):
    runner.set_system("logistics", True, "ops")  # nothing ships yet
    order_id, _, _ = runner.submit(text("order"))
    runner.drive()
    assert runner.store.load(ORDER).tasks["4/D5:ship_device"].status == S.ON_HOLD
    runner.amend(ORDER, text("mesh-swap"), "csr-lena")
    run = runner.store.load(ORDER)
    assert "4/D5:ship_device" not in run.tasks and run.tasks["5/D5:ship_device"].status in (S.PENDING, S.RUNNING, S.ON_HOLD)
    runner.set_system("logistics", False, "ops")
    operate(runner)
    run = runner.store.load(ORDER)
    assert run.status == S.ORDER_COMPLETED
    shipped = sorted(k for k in effects(runner) if "ship_device" in k)
    assert shipped == [f"{ORDER}:2/D4:ship_device:1", f"{ORDER}:3/D5:ship_device:1", f"{ORDER}:5/D5:ship_device:1"]  # never item 4
    assert any(e["cause"] == "dropped by revision 2" for e in history(runner.store, ORDER) if e["subject"] == "4/D5:ship_device")
    assert {a[0] for a in runner.store.assets("ACC-300")} >= {f"AST-{ORDER}-5"} and f"AST-{ORDER}-4" not in {a[0] for a in runner.store.assets("ACC-300")}
    assert merged_plan(runner) == snapshot(extension_class=JSONText)


def test_cancel_after_reserve_port_and_ship_ont(runner, snapshot):
    started(runner)
    runner.cancel(ORDER, "csr-lena", "the customer moved")
    operate(runner)
    run = runner.store.load(ORDER)
    assert run.status == S.ORDER_CANCELLED
    states = [e["to"] for e in history(runner.store, ORDER) if e["subject"] == "order" and e["to"]]
    assert states[-3:] == ["assessingCancellation", "pendingCancellation", "cancelled"]
    calls = effects(runner)
    port = calls[f"{ORDER}:1/D1:reserve_port:1"][2]["port_id"]
    assert calls[f"{ORDER}:1/D1:reserve_port:undo:1"][:2] == ("release_port", {"port_id": port})
    assert calls[f"{ORDER}:1/D2:ship_ont:undo:1"][0] == "return_device"
    # Undone in reverse order: the last completed first, one after the other.
    undo = [e["subject"] for e in history(runner.store, ORDER) if e["from"] == "ready" and e["to"] == "running" and e["subject"].endswith(":undo")]
    completed = [e["subject"] for e in history(runner.store, ORDER) if e["to"] == "completed" and not e["subject"].endswith(":undo")]
    done_with_undo = [t.removesuffix(":undo") for t in undo]
    assert done_with_undo == [t for t in reversed(completed) if t in done_with_undo]
    assert run.tasks["1/D1:install_visit"].status == S.CANCELLED and run.tasks["1/D1:check_address"].status == S.COMPLETED  # nothing to undo
    assert runner.store.open_manual_tasks(order_id=ORDER) == []
    assert runner.store.assets("ACC-300") == []  # a cancelled order installs nothing
    assert merged_plan(runner) == snapshot(extension_class=JSONText)


def test_cancel_past_the_point_of_no_return_needs_force(runner):
    started(runner)
    runner.set_system("billing", True, "ops")
    runner.complete_manual(ORDER, "1/D1:install_visit", {}, "technician")
    runner.drive()
    with pytest.raises(Rejection, match="cancelling order ORD-3000 is past the point of no return: 1/D1:activate_line completed"):
        runner.cancel(ORDER, "csr-lena", "")
    runner.cancel(ORDER, "csr-lena", "", force=True)
    operate(runner)
    assert runner.store.load(ORDER).status == S.ORDER_CANCELLED


def test_amend_on_amend_while_a_callout_is_running(runner):
    """A callout is in flight (its callback has not come): revision 2 waits; revision 3 replaces it; the callout finishes; revision 3 applies."""
    runner.set_system("logistics", True, "ops")
    order_id, _, _ = runner.submit(text("order"))
    # Run the calls by hand, keeping check_address's answer back: it stays running.
    pending = runner.store.pending_commands()
    held = next((seq, cmd) for seq, cmd in pending if getattr(cmd, "task", None) == "1/D1:check_address")
    for seq, cmd in pending:
        if getattr(cmd, "task", None) != "1/D1:check_address":
            runner.execute(seq, cmd)  # the shipments go on hold: logistics is offline
    runner.amend(ORDER, text("mesh-swap"), "csr-lena")
    run = runner.store.load(ORDER)
    assert run.frozen and run.pending["revision"] == 2 and run.revision == 1
    speed = json.loads(text("speed-1000"))
    speed["productOrderItem"][0]["productOrderItem"][2]["id"] = "5"  # revision 3: the swap, and the new speed
    runner.amend(ORDER, json.dumps(speed), "csr-lena")
    run = runner.store.load(ORDER)
    assert run.frozen and run.pending["revision"] == 3
    assert any("revision 3 replaces revision 2" in e["cause"] for e in history(runner.store, ORDER))
    assert runner.catalogs.engine(run.catalog).waiting_for(run, run.tasks["1/D1:reserve_port"]) == "frozen: revision 3 waits for the running tasks to finish"
    runner.execute(*held)  # the callout answers: now the revision applies
    run = runner.store.load(ORDER)
    assert not run.frozen and run.revision == 3
    runner.set_system("logistics", False, "ops")
    operate(runner)
    run = runner.store.load(ORDER)
    assert run.status == S.ORDER_COMPLETED
    assert effects(runner)[f"{ORDER}:1/D1:activate_line:1"][1]["down_mbps"] == 1000
    assert f"{ORDER}:4/D5:ship_device:1" not in effects(runner)


def test_refused_revisions(runner):
    started(runner)
    other = json.loads(text("speed-1000"))
    other["id"] = "ORD-9"
    with pytest.raises(Exception, match="the revision is of order ORD-9, not ORD-3000"):
        runner.amend(ORDER, json.dumps(other), "csr")
    runner.cancel(ORDER, "csr", "")
    with pytest.raises(Rejection, match="is being cancelled: it takes no revision"):
        runner.amend(ORDER, text("speed-1000"), "csr")


# ---- what the in-flight change must get right ------------------------------------------------------------


def test_a_forced_change_reactivates_on_the_new_port(runner):
    started(runner)
    runner.set_system("billing", True, "ops")
    runner.complete_manual(ORDER, "1/D1:install_visit", {}, "technician")
    runner.drive()
    runner.amend(ORDER, text("speed-1000"), "csr-lena", force=True)
    runner.set_system("billing", False, "ops")
    operate(runner)
    calls = effects(runner)
    new_port = calls[f"{ORDER}:1/D1:reserve_port:2"][2]["port_id"]
    assert calls[f"{ORDER}:1/D1:activate_line:2"][1]["port_id"] == new_port  # after the new reservation, on its port
    run = runner.store.load(ORDER)
    assert run.lines["1/D1"].values["port_id"] == new_port
    order = [e["subject"] for e in history(runner.store, ORDER) if e["from"] == "ready" and e["to"] == "running"]
    last = lambda name: len(order) - 1 - order[::-1].index(name)  # noqa: E731
    assert last("1/D1:activate_line") > last("1/D1:reserve_port") > last("1/D1:reserve_port:undo")


def test_amend_twice_undoes_each_run_once(runner):
    started(runner)
    runner.amend(ORDER, text("speed-1000"), "csr")
    runner.drive()
    runner.amend(ORDER, text("order"), "csr")  # and back to 300
    runner.drive()
    runner.cancel(ORDER, "csr", "after all")
    operate(runner)
    assert runner.store.load(ORDER).status == S.ORDER_CANCELLED
    calls = effects(runner)
    released = sorted(c[1]["port_id"] for k, c in calls.items() if c[0] == "release_port")
    reserved = sorted(c[2]["port_id"] for k, c in calls.items() if c[0] == "reserve_port")
    assert released == reserved  # every port reserved is released, each once
    returned = sorted(c[1]["shipment_id"] for k, c in calls.items() if c[0] == "return_device")
    shipped = sorted(c[2]["shipment_id"] for k, c in calls.items() if c[0] == "ship_device")
    assert returned == shipped


def test_removing_an_item_after_it_shipped_returns_it(runner):
    started(runner)  # everything shipped
    runner.amend(ORDER, text("mesh-swap"), "csr")
    operate(runner)
    run = runner.store.load(ORDER)
    assert run.status == S.ORDER_COMPLETED
    calls = effects(runner)
    shipped = calls[f"{ORDER}:4/D5:ship_device:1"][2]["shipment_id"]
    assert calls[f"{ORDER}:4/D5:ship_device:undo:1"][:2] == ("return_device", {"shipment_id": shipped})
    assert f"AST-{ORDER}-4" not in {a[0] for a in runner.store.assets("ACC-300")}
    assert f"INV-AST-{ORDER}-4/D5" not in {i[0] for i in runner.store.inventory("ACC-300")}


def test_a_call_failing_during_a_cancellation_is_cancelled_not_retried(runner):
    runner.submit(text("order"))
    pending = runner.store.pending_commands()
    held = next((seq, cmd) for seq, cmd in pending if getattr(cmd, "task", None) == "1/D1:check_address")
    runner.cancel(ORDER, "csr", "")
    from om_dsl.engine import core as C

    runner.apply(ORDER, lambda now: C.CallFailed("1/D1:check_address", "503", True, now), held[0])
    operate(runner)
    run = runner.store.load(ORDER)
    assert run.status == S.ORDER_CANCELLED and run.tasks["1/D1:check_address"].status == S.CANCELLED
    runner.clock.advance_to(runner.clock.now() + 86_400_000)
    runner.drive()  # nothing wakes a final order
    assert runner.store.load(ORDER).status == S.ORDER_CANCELLED


def test_a_skipped_task_stays_skipped_after_a_revision(runner):
    started(runner)
    runner.set_system("network", True, "ops")  # activate_line waits: the bundle stays before its point of no return
    runner.skip_task(ORDER, "1/D1:install_visit", "ops", "done by the previous tenant")
    runner.drive()
    runner.amend(ORDER, text("mesh-swap"), "csr")
    run = runner.store.load(ORDER)
    assert run.tasks["1/D1:install_visit"].status == S.SKIPPED


def test_a_revision_that_is_not_a_valid_order_is_kept_as_refused(runner):
    from om_dsl.planning.order import Rejected

    started(runner)
    bad = json.loads(text("speed-1000"))
    bad["productOrderItem"][0]["product"]["productCharacteristic"][0]["value"] = 500
    with pytest.raises(Rejected):
        runner.amend(ORDER, json.dumps(bad), "csr")
    ((revision, status, reason, by, _),) = runner.store.revisions(ORDER)
    assert (revision, status, by) == (2, "refused", "csr") and "speed_mbps" in reason
