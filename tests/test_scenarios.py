"""The scenario suite, on both engines: a new order, a manual task, retries,
an asynchronous callback, cancellation with compensation, an amendment, a
modify order against the installed base. Each scenario runs once on the
embedded engine and once on a real Temporal dev server, through one
fixture, and asserts the same outcome on both."""

from __future__ import annotations

import json

import pytest

from om_dsl.engine import state as S
from om_dsl.engine.core import Rejection

from support import ROOT
from support.scenario_engines import order_doc
from support.tmf622_schemas import as_v5, event_problems, problems

ORDERS = ROOT / "examples" / "orders"
AMEND = ORDERS / "amend"




def done(view) -> bool:
    return view["status"] in S.FINAL


def waiting_at(task_id):
    return lambda v: v["tasks"][task_id]["status"] == S.READY


def effects(engine) -> dict:
    """idempotency key -> (operation, args, outputs, calls)"""
    return {key: (op, json.loads(args), json.loads(outputs), calls) for key, _, op, args, outputs, calls in engine.simulators.effects()}


def tries(engine, key: str) -> int:
    """How often the simulated system was called with this idempotency key."""
    row = engine.simulators.db.execute("SELECT n FROM attempts WHERE key = ?", (key,)).fetchone()
    return row[0] if row else 0


def events(engine, order_id, version="v4") -> list:
    """(event type, order state) of each notification the originating system received for the order, in id order;
    each in TMF622's shape of the order's version (the examples are v4 orders)."""
    if hasattr(engine, "quiet"):  # (on Temporal an order's events go out after the state they tell of)
        engine.quiet(order_id)
    got = []
    for mid, payload, deliveries in engine.simulators.notifications():
        if mid.startswith(order_id + ":event:"):
            got.append((int(mid.rsplit(":", 1)[1]), payload, deliveries))
    out = []
    for _, payload, deliveries in sorted(got):
        body = json.loads(payload)
        assert deliveries >= 1
        assert event_problems(body, version) == [], body
        out.append((body["eventType"], (body["event"].get("productOrder") or body["event"].get("cancelProductOrder")).get("state")))  # v5's information required: a reference, no state
    return out


# ---- the scenarios --------------------------------------------------------------------------------


def test_new_order_runs_to_completion(make_engine):
    engine = make_engine()
    oid = engine.submit(order_doc(ORDERS / "tv-alone.json", engine.new_id("NEW")))
    view = engine.settle(oid, done)
    assert view["status"] == S.ORDER_COMPLETED
    assert all(t["status"] in S.DONE for t in view["tasks"].values())
    # Every call applied once, under one key per task.
    calls = effects(engine)
    mine = {k: v for k, v in calls.items() if k.startswith(oid + ":")}
    assert mine and all(c[3] == 1 for c in mine.values())
    assert {k.rsplit(":", 1)[0] for k in mine} == {f"{oid}:{t['id']}" for t in view["tasks"].values() if t["type"] == "callout"}
    # The originating system heard: created, then in progress, then completed.
    told = events(engine, oid)
    assert told[0][0] == "ProductOrderCreateEvent" and told[-1] == ("ProductOrderStateChangeEvent", "completed")


def test_manual_task_waits_for_a_person(make_engine):
    engine = make_engine()
    oid = engine.submit(order_doc(ORDERS / "fiber-minimal.json", engine.new_id("MANUAL")))
    view = engine.settle(oid, waiting_at("1/D1:install_visit"))
    visit = view["tasks"]["1/D1:install_visit"]
    assert view["status"] == S.IN_PROGRESS and visit["waiting_for"] == "waiting for a person in queue field_ops" and visit["queue"] == "field_ops"
    assert view["tasks"]["1/D1:activate_line"]["status"] == S.PENDING  # nothing past the visit started
    with pytest.raises(Rejection, match="is a callout, not a manual task|not ready"):
        engine.complete(oid, "1/D1:activate_line")
    engine.complete(oid, "1/D1:install_visit", {"technician": "T-17"}, by="tech-anna")
    view = engine.settle(oid, done)
    assert view["status"] == S.ORDER_COMPLETED
    assert view["tasks"]["1/D1:install_visit"]["outputs"] == {"technician": "T-17"}  # what the person reported
    with pytest.raises(Rejection):
        engine.complete(oid, "1/D1:install_visit")  # not open any more (Temporal: the order's workflow is over)
    assert any(h["cause"] == "completed by tech-anna" for h in engine.history(oid))


def test_retries_by_policy_then_success(make_engine):
    # reserve_port fails twice: `standard` (staggered 1 s, 1 s, 1 s) retries it, timed by the engine core.
    engine = make_engine(fail={"inventory.reserve_port": 2})
    oid = engine.submit(order_doc(ORDERS / "fiber-minimal.json", engine.new_id("RETRY")))
    view = engine.settle(oid, waiting_at("1/D1:install_visit"))
    assert view["tasks"]["1/D1:reserve_port"]["attempts"] == 3 and view["tasks"]["1/D1:reserve_port"]["status"] == S.COMPLETED
    assert effects(engine)[f"{oid}:1/D1:reserve_port:1"][3] == 1  # one effect, one key, three tries
    causes = [h["cause"] for h in engine.history(oid) if h["subject"] == "1/D1:reserve_port"]
    assert sum("retry 1 of the policy in 1 s" in c or "retry 2 of the policy in 1 s" in c for c in causes) == 2


def test_retries_exhausted_hold_the_order_until_an_operator_retries(make_engine):
    engine = make_engine(fail={"inventory.reserve_port": 4})  # the first try and all three retries fail
    oid = engine.submit(order_doc(ORDERS / "fiber-minimal.json", engine.new_id("HELD")))
    view = engine.settle(oid, lambda v: v["status"] == S.HELD)
    task = view["tasks"]["1/D1:reserve_port"]
    assert task["status"] == S.FATALLY_FAILED and task["attempts"] == 4
    assert any("no retry left after 4 attempts" in h["cause"] for h in engine.history(oid))
    engine.retry(oid, "1/D1:reserve_port")  # the fifth try goes through
    view = engine.settle(oid, waiting_at("1/D1:install_visit"))
    assert view["status"] == S.IN_PROGRESS and view["tasks"]["1/D1:reserve_port"]["status"] == S.COMPLETED


def test_async_callback_completes_the_call(make_engine):
    # port_number is asynchronous: acknowledged, answered later by callback. Its first
    # try fails: `patient` (fixed 2 times every 1 s) retries it.
    engine = make_engine(fail={"voice.port_number": 1})
    oid = engine.submit(order_doc(ORDERS / "fiber-tv-ported-phone.json", engine.new_id("ASYNC")))
    view = engine.settle(oid, waiting_at("1/D1:install_visit"))
    view = engine.settle(oid, lambda v: v["tasks"]["3/D6:port_number"]["status"] == S.COMPLETED)
    port = view["tasks"]["3/D6:port_number"]
    assert port["status"] == S.COMPLETED and port["attempts"] == 2
    causes = [h["cause"] for h in engine.history(oid) if h["subject"] == "3/D6:port_number"]
    assert "acknowledged: waiting for the callback" in causes and causes[-1] == "callback received"
    assert effects(engine)[f"{oid}:3/D6:port_number:1"][3] == 1
    engine.complete(oid, "1/D1:install_visit")
    assert engine.settle(oid, done)["status"] == S.ORDER_COMPLETED


def test_cancellation_compensates_what_was_done(make_engine):
    engine = make_engine()
    oid = engine.submit(order_doc(ORDERS / "fiber-minimal.json", engine.new_id("CANCEL")))
    engine.settle(oid, waiting_at("1/D1:install_visit"))
    engine.cancel(oid, reason="the customer moved")
    view = engine.settle(oid, done)
    assert view["status"] == S.ORDER_CANCELLED
    calls = effects(engine)
    port = calls[f"{oid}:1/D1:reserve_port:1"][2]["port_id"]
    ont = calls[f"{oid}:1/D2:ship_ont:1"][2]["shipment_id"]
    # Undone, each once: the port released, the devices sent back.
    assert calls[f"{oid}:1/D1:reserve_port:undo:1"][:2] == ("release_port", {"port_id": port})
    assert calls[f"{oid}:1/D2:ship_ont:undo:1"][:2] == ("return_device", {"shipment_id": ont})
    assert all(c[3] == 1 for k, c in calls.items() if k.startswith(oid + ":"))
    assert f"{oid}:1/D1:activate_line:1" not in calls  # nothing new started
    states = [h["to"] for h in engine.history(oid) if h["subject"] == "order" and h["to"]]
    assert states[-3:] == [S.ASSESSING_CANCELLATION, S.PENDING_CANCELLATION, S.ORDER_CANCELLED]
    told = events(engine, oid)
    assert told[-2:] == [("ProductOrderStateChangeEvent", "cancelled"), ("CancelProductOrderStateChangeEvent", "done")]
    assert ("CancelProductOrderCreateEvent", "acknowledged") in told and ("CancelProductOrderStateChangeEvent", "inProgress") in told


def test_a_held_order_given_up_keeps_what_completed(make_engine):
    """The line cannot be activated: given up, the fiber's work is undone, the router (completed) stays: partial."""
    engine = make_engine(fail={"network.activate_line": 100})
    oid = engine.submit(order_doc(ORDERS / "fiber-minimal.json", engine.new_id("GIVEUP")))
    engine.settle(oid, waiting_at("1/D1:install_visit"))
    with pytest.raises(Rejection, match="not held: only a held order can be given up"):
        engine.give_up(oid, reason="too early")
    engine.complete(oid, "1/D1:install_visit")
    engine.settle(oid, lambda v: v["status"] == S.HELD)
    engine.give_up(oid, reason="no line at this address")
    view = engine.settle(oid, done)
    assert view["status"] == S.PARTIAL
    calls = effects(engine)
    assert calls[f"{oid}:1/D1:reserve_port:undo:1"][0] == "release_port" and calls[f"{oid}:1/D2:ship_ont:undo:1"][0] == "return_device"
    assert not [k for k in calls if k.startswith(f"{oid}:2/") and ":undo:" in k]  # the router is kept
    assert all(c[3] == 1 for k, c in calls.items() if k.startswith(oid + ":"))
    assert events(engine, oid)[-1] == ("ProductOrderStateChangeEvent", "partial")
    po = engine.product_order(oid)
    assert problems(po, "v4", "ProductOrder") == [] and po["state"] == "partial"
    seen, todo = {}, list(po["productOrderItem"])  # nested as the request had it (embedded), or flat (Temporal keeps no request)
    while todo:
        item = todo.pop()
        seen[item["id"]] = (item["state"], item.get("product", {}).get("id"))
        todo.extend(item.get("productOrderItem", []))
    assert seen == {"1": ("failed", None), "2": ("completed", f"AST-{oid}-2")}
    engine.settle(oid, lambda v: engine.assets(f"ACC-{oid}"))  # on Temporal, the installed base hears of it just after
    assert {a: v[2] for a, v in engine.assets(f"ACC-{oid}").items()} == {f"AST-{oid}-2": "active"}  # what it delivered is installed, no more


def test_a_v5_order_hears_v5_back(make_engine):
    """Events and the resource in the version the order came in, on both engines (Temporal keeps the request in the workflow)."""
    engine = make_engine()
    oid = engine.new_id("V5")
    engine.submit(json.dumps(as_v5(json.loads(order_doc(ORDERS / "tv-alone.json", oid)))))
    assert engine.settle(oid, done)["status"] == S.ORDER_COMPLETED
    told = events(engine, oid, "v5")
    assert told[0] == ("ProductOrderCreateEvent", "acknowledged") and told[-1] == ("ProductOrderStateChangeEvent", "completed")
    po = engine.product_order(oid)
    assert problems(po, "v5", "ProductOrder") == [] and po["state"] == "completed" and "creationDate" in po
    assert po["relatedParty"][0]["partyOrPartyRole"]["id"] == f"ACC-{oid}"  # what the request carried
    assert po["productOrderItem"][0]["product"]["id"] == f"AST-{oid}-1"


def test_a_draft_revised_without_an_address_asks_for_it(make_engine):
    """A refused revision of a draft: the draft stays, its originating system hears what it lacks (v5)."""
    from om_dsl.planning.order import Rejected

    engine = make_engine()
    oid = engine.new_id("DRAFT")
    doc = json.loads((ORDERS / "tmf622" / "v5-flat-fiber-draft.json").read_text(encoding="utf-8"))
    doc["id"] = oid
    doc["relatedParty"][0]["partyOrPartyRole"]["id"] = f"ACC-{oid}"
    engine.submit(json.dumps(doc))
    engine.settle(oid, lambda v: v["status"] == S.DRAFT)
    fiber = doc["productOrderItem"][0]["product"]
    fiber["productCharacteristic"] = [c for c in fiber["productCharacteristic"] if c["name"] != "address_id"]
    with pytest.raises(Rejected):
        engine.amend(oid, json.dumps(doc))
    engine.settle(oid, lambda v: ("ProductOrderInformationRequiredEvent", None) in events(engine, oid, "v5"))
    assert engine.view(oid)["status"] == S.DRAFT


def test_cancellation_stops_a_call_that_waits_for_its_retry(make_engine):
    # reserve_port keeps failing; the order is cancelled while it does: no more calls
    # go out (on the embedded engine, simulated time has run the retries out by then).
    # On Temporal a retry may be on its way when the cancellation comes: it finishes,
    # and is the last. (Counting the system's calls when the cancel returns raced it.)
    engine = make_engine(fail={"inventory.reserve_port": 100})
    oid = engine.submit(order_doc(ORDERS / "fiber-minimal.json", engine.new_id("STOP")))
    engine.settle(oid, lambda v: v["tasks"]["1/D1:reserve_port"]["status"] in (S.FAILED, S.FATALLY_FAILED))
    engine.cancel(oid)
    view = engine.settle(oid, done)
    assert view["status"] == S.ORDER_CANCELLED and view["tasks"]["1/D1:reserve_port"]["status"] == S.CANCELLED
    history = engine.history(oid)
    asked = next(i for i, h in enumerate(history) if h["cause"].startswith("cancellation asked by csr"))
    assert not [h for h in history[asked:] if h["subject"] == "1/D1:reserve_port" and h["cause"].startswith("attempt")]  # not one call since the cancel
    assert tries(engine, f"{oid}:1/D1:reserve_port:1") == view["tasks"]["1/D1:reserve_port"]["attempts"] <= 4  # each attempt, one call


def test_amendment_changes_the_speed_in_flight(make_engine):
    engine = make_engine()
    oid = engine.new_id("AMEND")
    engine.submit(order_doc(AMEND / "order.json", oid))
    engine.settle(oid, waiting_at("1/D1:install_visit"))
    engine.amend(oid, order_doc(AMEND / "speed-1000.json", oid))  # 300 -> 1000 Mbit/s, while the visit is open
    view = engine.settle(oid, waiting_at("1/D1:install_visit"))
    assert view["revision"] == 2
    engine.complete(oid, "1/D1:install_visit")
    view = engine.settle(oid, done)
    assert view["status"] == S.ORDER_COMPLETED
    calls = effects(engine)
    args = calls[f"{oid}:1/D1:activate_line:1"][1]
    assert (args["down_mbps"], args["up_mbps"], args["technology"]) == (1000, 1000, "XGS-PON")
    first, second = calls[f"{oid}:1/D1:reserve_port:1"][2]["port_id"], calls[f"{oid}:1/D1:reserve_port:2"][2]["port_id"]
    assert calls[f"{oid}:1/D1:reserve_port:undo:1"][:2] == ("release_port", {"port_id": first}) and args["port_id"] == second
    assert all(c[3] == 1 for k, c in calls.items() if k.startswith(oid + ":"))
    po = engine.product_order(oid)  # what the revision in force carried
    assert po["description"] == "Revision: the customer wants 1000 Mbps after all." and problems(po, "v4", "ProductOrder") == []
    # A finished order takes no revision.
    with pytest.raises(Rejection):
        engine.amend(oid, order_doc(AMEND / "order.json", oid))


def test_amendment_of_one_item_keeps_the_open_work_of_the_others(make_engine):
    # The visit waits for a person; the customer swaps a mesh extender (item 4 out,
    # item 5 in). Nothing the visit waits for changes: it stays as it was, in its
    # queue, its due time going on (it was reset to pending before).
    engine = make_engine()
    oid = engine.new_id("KEEP")
    engine.submit(order_doc(AMEND / "order.json", oid))
    engine.settle(oid, waiting_at("1/D1:install_visit"))
    engine.amend(oid, order_doc(AMEND / "mesh-swap.json", oid))
    view = engine.settle(oid, lambda v: v["revision"] == 2 and v["tasks"]["5/D5:ship_device"]["status"] == S.COMPLETED and v["tasks"]["4/D5:ship_device:undo"]["status"] == S.COMPLETED)
    assert view["tasks"]["1/D1:install_visit"]["status"] == S.READY
    visit = [h["cause"] for h in engine.history(oid) if h["subject"] == "1/D1:install_visit" and h["to"] is not None]
    assert visit == ["waiting for a person in queue field_ops"]  # readied once, never replaced
    engine.complete(oid, "1/D1:install_visit")
    assert engine.settle(oid, done)["status"] == S.ORDER_COMPLETED
    calls = effects(engine)
    assert calls[f"{oid}:4/D5:ship_device:undo:1"][0] == "return_device" and all(c[3] == 1 for k, c in calls.items() if k.startswith(oid + ":"))


def macd_doc(name: str, order_id: str, base: str, customer: str) -> str:
    """A MACD example under fresh ids: its own, the base order's assets', its customer's."""
    return order_doc(ORDERS / "macd" / f"{name}.json", order_id, customer=customer).replace("AST-ORD-2000-", f"AST-{base}-")


def test_modify_order_changes_the_installed_base(make_engine):
    # A completed order leaves the customer's assets; a modify order plans against them,
    # one change in flight per asset, and updates them when it completes.
    engine = make_engine()
    base, customer = engine.new_id("BASE"), engine.new_id("ACC")
    engine.submit(macd_doc("base-fiber-300", base, base, customer))
    engine.settle(base, waiting_at("1/D1:install_visit"))
    engine.complete(base, "1/D1:install_visit")
    assert engine.settle(base, done)["status"] == S.ORDER_COMPLETED
    fiber = f"AST-{base}-1"

    def installed(v):
        return fiber in engine.assets(customer)

    engine.settle(base, installed)  # on Temporal, the installed base hears of it just after
    product, attributes, status = engine.assets(customer)[fiber]
    assert (product, attributes["speed_mbps"], status) == ("HOME_FIBER", 300, "active")
    speed_up = engine.new_id("MODIFY")
    engine.submit(macd_doc("speed-300-to-1000", speed_up, base, customer))  # XGS-PON: the ONT is swapped by a person
    engine.settle(speed_up, lambda v: waiting_at("1/D2:swap_visit")(v) and engine.in_flight(customer, fiber) == speed_up)
    again = engine.new_id("AGAIN")
    assert engine.submit_rejected(macd_doc("speed-300-to-1000", again, base, customer)) == ["asset_in_flight"]
    engine.complete(speed_up, "1/D2:swap_visit")
    assert engine.settle(speed_up, done)["status"] == S.ORDER_COMPLETED
    engine.settle(speed_up, lambda v: engine.assets(customer)[fiber][1]["speed_mbps"] == 1000 and engine.in_flight(customer, fiber) is None)
    unknown = engine.new_id("UNKNOWN")
    assert "unknown_asset" in engine.submit_rejected(macd_doc("speed-300-to-1000", unknown, "NOBODY", customer))
