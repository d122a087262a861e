"""TMF622 out: the ProductOrder resource and the order events, in the version
the order came in, checked against the official schema of that version;
real Acme orders run by the embedded runner to completion, held, given up
(partial, failed), cancelled, amended and in jeopardy."""

from __future__ import annotations

import json

import pytest

from om_dsl.engine import core as C
from om_dsl.engine import progress
from om_dsl.engine import state as S
from om_dsl.engine.instants import show_instant
from om_dsl.planning.order import Rejected
from om_dsl.tmf622 import events as E
from om_dsl.tmf622 import resource as R
from om_dsl.tmf622.states import V4, V5, version_of

from support import ROOT
from support.engine_helpers import make_runner, operate
from support.tmf622_schemas import as_v5, event_problems, problems

ORDERS = ROOT / "examples" / "orders"
VERSIONS = (V4, V5)


def document(name: str, version: str) -> dict:
    """An example order as a CPQ system sends it in `version`."""
    doc = json.loads((ORDERS / name).read_text(encoding="utf-8"))
    if version == V4:
        return doc
    doc = as_v5(doc)
    assert version_of(doc) == V5 and problems(doc, V5, "ProductOrder_FVO") == []
    return doc


def submitted(tmp_path, name: str, version: str, fail=None):
    runner = make_runner(tmp_path, fail=fail)
    order_id, status, found = runner.submit(json.dumps(document(name, version)))
    assert status != S.REJECTED, found
    return runner, order_id


def sent(runner, order_id: str, version: str) -> list[dict]:
    """The events the originating system received for the order, in order; each valid in `version`."""
    got = sorted((int(mid.rsplit(":", 1)[1]), json.loads(payload)) for mid, payload, _ in runner.simulators.notifications() if mid.startswith(order_id + ":event:"))
    out = [e for _, e in got]
    for event in out:
        assert event_problems(event, version) == [], event
        assert event["@type"] == event["eventType"] and event["correlationId"] == order_id
    assert len({e["eventId"] for e in out}) == len(out)
    return out


def resource(runner, order_id: str, version: str) -> dict:
    run = runner.store.load(order_id)
    out = R.product_order(run, runner.request_of(order_id, run.revision))  # the request of the revision in force
    assert problems(out, version, "ProductOrder") == [], out
    return out


def items(po: dict) -> dict:
    """item id -> the item, nested ones too."""
    out, todo = {}, list(po["productOrderItem"])
    while todo:
        item = todo.pop(0)
        out[item["id"]] = item
        todo.extend(item.get("productOrderItem", []))
    return out


def kinds(events: list) -> list:
    return [(e["eventType"], (e["event"].get("productOrder") or e["event"].get("cancelProductOrder"))["state"]) for e in events]


# ---- completed -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_a_completed_order_in_its_version(tmp_path, version):
    runner, oid = submitted(tmp_path, "fiber-tv-ported-phone.json", version)
    started = resource(runner, oid, version)  # accepted, its calls not made yet
    assert started["state"] == S.IN_PROGRESS and {i["state"] for i in items(started).values()} == {"inProgress"}
    operate(runner)
    events = sent(runner, oid, version)
    assert kinds(events)[:2] == [("ProductOrderCreateEvent", "acknowledged"), ("ProductOrderStateChangeEvent", "inProgress")]
    assert kinds(events)[-1] == ("ProductOrderStateChangeEvent", "completed")
    # The create event carries the request as it came, item states added.
    created = events[0]["event"]["productOrder"]
    assert created["category"] == "residential" and created["requestedStartDate"] == "2026-12-15T08:00:00+01:00"
    assert set(items(created)) == {"1", "2", "3", "4"} and {i["state"] for i in items(created).values()} == {"acknowledged"}
    # The spec's milestone (line_active): v5's milestone event; v4 has none, an attribute value change carries it.
    milestones = [e for e in events if "productOrderMilestone" in e["event"]["productOrder"]]
    assert [e["eventType"] for e in milestones] == ["ProductOrderMilestoneEvent" if version == V5 else "ProductOrderAttributeValueChangeEvent"]
    (m,) = milestones[0]["event"]["productOrder"]["productOrderMilestone"]
    assert (m["name"], m["status"], m["productOrderItem"][0]["productOrderItemId"]) == ("line_active", "Completed", "1")
    # Every item completed, each product's id the asset it created.
    done = resource(runner, oid, version)
    assert done["state"] == "completed" and done["completionDate"] == done["expectedCompletionDate"]
    assert done["href"].endswith(f"/{version}/productOrder/{oid}") and done["@type"] == "ProductOrder"
    assert done["orderDate" if version == V4 else "creationDate"] == "2026-11-27T00:00:00Z"
    assert {k: (i["state"], i["product"]["id"]) for k, i in items(done).items()} == {k: ("completed", f"AST-{oid}-{k}") for k in "1234"}
    assert {a["id"] for a in runner.store.assets()} == {f"AST-{oid}-{k}" for k in "1234"}
    final = events[-1]["event"]["productOrder"]
    assert {i["id"]: i["state"] for i in final["productOrderItem"]} == {k: "completed" for k in "1234"}
    if version == V4:
        assert done["externalId"] == "CPQ-88251" and done["relatedParty"][0]["@referredType"] == "Customer"


# ---- held, given up --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_a_held_order_given_up_ends_partial(tmp_path, version):
    """The line cannot be activated: fiber, voice and TV never complete, the router did. Given up: partial."""
    runner, oid = submitted(tmp_path, "fiber-tv-ported-phone.json", version, fail={"network.activate_line": 99})
    operate(runner)
    held = resource(runner, oid, version)
    assert held["state"] == "held"
    assert {k: i["state"] for k, i in items(held).items()} == {"1": "held", "2": "completed", "3": "inProgress", "4": "inProgress"}
    runner.fail(oid, "ops-anna", "the line cannot be activated")
    operate(runner)
    run = runner.store.load(oid)
    assert run.status == S.PARTIAL
    # What did not complete is undone (the catalog's compensations), the last done first; the router stays.
    undone = sorted(t.undoes for t in run.tasks.values() if t.type == "compensation")
    assert undone == ["1/D1:reserve_port", "1/D2:ship_ont", "4/D8#1:ship_device", "4/D8#2:ship_device", "4/D8#3:ship_device"]
    assert all(run.tasks[u + ":undo"].status == S.COMPLETED for u in undone)
    assert run.tasks["2/D4:ship_device"].status == S.COMPLETED and "2/D4:ship_device:undo" not in run.tasks
    done = resource(runner, oid, version)
    assert done["state"] == "partial" and "completionDate" in done
    assert {k: i["state"] for k, i in items(done).items()} == {"1": "failed", "2": "completed", "3": "failed", "4": "failed"}
    assert items(done)["2"]["product"]["id"] == f"AST-{oid}-2" and "id" not in items(done)["1"].get("product", {})
    assert [a["id"] for a in runner.store.assets()] == [f"AST-{oid}-2"]  # what it delivered is installed, no more
    events = sent(runner, oid, version)
    assert ("ProductOrderStateChangeEvent", "held") in kinds(events) and kinds(events)[-1] == ("ProductOrderStateChangeEvent", "partial")
    assert any(h["cause"] == "given up by ops-anna: the line cannot be activated" for h in runner.store.history(oid))


def test_a_held_order_given_up_with_nothing_completed_fails(tmp_path):
    runner, oid = submitted(tmp_path, "tv-alone.json", V4, fail={"iptv.activate_iptv": 99})
    operate(runner)
    assert runner.store.load(oid).status == S.HELD
    runner.fail(oid, "ops-anna", "no IPTV for this address")
    operate(runner)
    run = runner.store.load(oid)
    assert run.status == S.ORDER_FAILED
    assert sorted(t.undoes for t in run.tasks.values() if t.type == "compensation") == ["1/D8#1:ship_device"]  # the set-top box goes back
    done = resource(runner, oid, V4)
    assert done["state"] == "failed" and {i["state"] for i in items(done).values()} == {"failed"}
    assert runner.store.assets() == []
    assert kinds(sent(runner, oid, V4))[-1] == ("ProductOrderStateChangeEvent", "failed")


def test_only_a_held_order_can_be_given_up(tmp_path):
    runner, oid = submitted(tmp_path, "tv-alone.json", V4)
    with pytest.raises(C.Rejection, match=r"is inProgress, not held: only a held order can be given up \(cancel it instead\)"):
        runner.fail(oid, "ops", "why not")
    operate(runner)
    with pytest.raises(C.Rejection, match="is completed"):
        runner.fail(oid, "ops", "too late")


def test_a_held_order_being_given_up_takes_no_cancellation(tmp_path):
    runner, oid = submitted(tmp_path, "fiber-minimal.json", V4, fail={"network.activate_line": 99})
    operate(runner)
    engine = runner.catalogs.engine(runner.store.load(oid).catalog)
    step = engine.handle(runner.store.load(oid), C.GiveUp("ops", "gone", runner.clock.now()))
    assert step.run.giving_up and step.run.status == S.HELD  # its undo calls are under way
    with pytest.raises(C.Rejection, match="is being given up"):
        engine.handle(step.run, C.CancelRequested("csr", "", False, runner.clock.now()))
    with pytest.raises(C.Rejection, match="is being given up already"):
        engine.handle(step.run, C.GiveUp("ops", "again", runner.clock.now()))
    assert {step.run.tasks[t].status for t in ("1/D1:activate_line", "1/D1:line_active")} == {S.CANCELLED}


# ---- cancelled ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_a_cancelled_order_tells_its_cancellation(tmp_path, version):
    runner, oid = submitted(tmp_path, "fiber-minimal.json", version)
    runner.drive()  # up to the installation visit
    runner.cancel(oid, "csr-lena", "the customer moved")
    operate(runner)
    events = sent(runner, oid, version)
    told = kinds(events)
    i = told.index(("CancelProductOrderCreateEvent", "acknowledged"))
    assert told[i:] == [
        ("CancelProductOrderCreateEvent", "acknowledged"),
        ("ProductOrderStateChangeEvent", "assessingCancellation"),
        ("ProductOrderStateChangeEvent", "pendingCancellation"),
        ("CancelProductOrderStateChangeEvent", "inProgress"),
        ("ProductOrderStateChangeEvent", "cancelled"),
        ("CancelProductOrderStateChangeEvent", "done"),
    ]
    request = events[i]["event"]["cancelProductOrder"]
    assert request["cancellationReason"] == "the customer moved" and request["productOrder"]["id"] == oid
    assert "effectiveCancellationDate" in events[-1]["event"]["cancelProductOrder"]
    done = resource(runner, oid, version)
    assert done["state"] == "cancelled" and "cancellationDate" in done and "completionDate" not in done
    assert {i["state"] for i in items(done).values()} == {"cancelled"}


# ---- amended, jeopardy ------------------------------------------------------------------------------------------------


def test_an_applied_revision_is_an_attribute_value_change(tmp_path):
    runner = make_runner(tmp_path)
    oid, _, _ = runner.submit((ORDERS / "amend" / "order.json").read_text(encoding="utf-8"))
    runner.drive()
    runner.amend(oid, (ORDERS / "amend" / "speed-1000.json").read_text(encoding="utf-8"), "csr-lena")
    mid = resource(runner, oid, V4)
    assert mid["state"] == "inProgress"
    operate(runner)
    events = sent(runner, oid, V4)
    changes = [e for e in events if e["eventType"] == "ProductOrderAttributeValueChangeEvent" and not {"productOrderMilestone", "productOrderJeopardyAlert"} & set(e["event"]["productOrder"])]
    assert len(changes) == 1 and {i["state"] for i in changes[0]["event"]["productOrder"]["productOrderItem"]} <= {"inProgress", "completed", "acknowledged"}
    done = resource(runner, oid, V4)
    assert done["state"] == "completed"
    # What the revision in force carried: its description, its speed; the create event kept the first's.
    assert done["description"] == "Revision: the customer wants 1000 Mbps after all."
    assert items(done)["1"]["product"]["productCharacteristic"][0] == {"name": "speed_mbps", "value": 1000}
    assert events[0]["event"]["productOrder"]["description"].startswith("A new 300 Mbps fiber")


@pytest.mark.parametrize("version", VERSIONS)
def test_an_order_in_jeopardy_raises_an_alert(tmp_path, version):
    runner, oid = submitted(tmp_path, "fiber-minimal.json", version)
    runner.drive()  # nobody comes: the visit (due 3d) turns red
    run = runner.store.load(oid)
    assert run.jeopardy == S.RED
    events = sent(runner, oid, version)
    (alert,) = [e for e in events if "productOrderJeopardyAlert" in e["event"]["productOrder"]]
    assert alert["eventType"] == ("ProductOrderJeopardyAlertEvent" if version == V5 else "ProductOrderAttributeValueChangeEvent")
    (a,) = alert["event"]["productOrder"]["productOrderJeopardyAlert"]
    assert a["id"] == "1/D1:install_visit:jeopardy" and a["productOrderItem"][0]["productOrderItemId"] == "1"
    assert a["message"].startswith("task 1/D1:install_visit was due at ")
    po = resource(runner, oid, version)
    visit = run.tasks["1/D1:install_visit"]
    assert po["expectedCompletionDate"] == show_instant(visit.due_at)  # the latest due time of its open tasks


# ---- what failed the schemas before, and what has no order run ----------------------------------------------------------


OLD = [  # notify rows as the engine wrote them before (still in outboxes)
    {"eventId": "O-1:event:1", "eventTime": "2026-11-27T00:00:00Z", "eventType": "ProductOrderCreateEvent", "event": {"productOrder": {"id": "O-1", "externalId": None, "state": "acknowledged"}}},
    {
        "eventId": "O-1:event:3", "eventTime": "2026-11-30T00:00:00Z", "eventType": "ProductOrderJeopardyEvent",
        "event": {"productOrder": {"id": "O-1", "externalId": "X", "state": "inProgress", "jeopardy": "red", "tasksInJeopardy": ["1/D1:install_visit"]}},
    },
]
REQUEST = {
    V4: {"id": "O-1", "productOrderItem": [{"id": "1", "action": "add", "productOffering": {"id": "TV_PACKAGE"}}]},
    V5: {"@type": "ProductOrder", "id": "O-1", "productOrderItem": [{"@type": "ProductOrderItem", "id": "1", "action": "add", "productOffering": {"@type": "ProductOfferingRef", "id": "TV_PACKAGE"}}]},
}


@pytest.mark.parametrize("version", VERSIONS)
def test_the_old_events_failed_the_schemas_and_are_sent_in_shape(version):
    for old in OLD:
        assert event_problems(old, version) != []  # no @type (v5), externalId null, no items, a jeopardy event in neither version
        new = E.render(old, REQUEST[version], version)
        assert event_problems(new, version) == [], new
    assert E.render(OLD[1], REQUEST[version], version)["eventType"] == ("ProductOrderJeopardyAlertEvent" if version == V5 else "ProductOrderAttributeValueChangeEvent")
    assert "externalId" not in E.render(OLD[0], REQUEST[version], version)["event"]["productOrder"]


def test_a_rejected_order_as_a_resource(tmp_path):
    runner = make_runner(tmp_path)
    text = (ORDERS / "invalid-missing-address.json").read_text(encoding="utf-8")
    oid, status, _ = runner.submit(text)
    assert status == S.REJECTED
    row = runner.store.order_row(oid)
    po = R.rejected_order(oid, json.loads(text), row["created_at"], row["external_id"])
    assert problems(po, V4, "ProductOrder") == [] and po["state"] == "rejected"
    assert {i["state"] for i in items(po).values()} == {"rejected"}


def test_the_version_an_order_speaks():
    assert version_of({"productOrderItem": []}) == V4
    assert version_of({"externalId": [{"id": "x"}]}) == V5
    assert version_of({"requestedInitialState": "draft"}) == V5
    assert version_of({"relatedParty": [{"role": "customer", "partyOrPartyRole": {"id": "C"}}]}) == V5
    assert version_of({"@schemaLocation": "https://x/tmf622/v4/ProductOrder.schema.json", "externalId": [{"id": "x"}]}) == V4
    assert version_of("not an order") == V4


@pytest.mark.parametrize("version", VERSIONS)
def test_external_ids_in_each_version(version):
    facts = {"id": "O-1", "state": "inProgress", "orderDate": "2026-11-27T00:00:00Z", "externalId": "CPQ-1", "items": [{"id": "1", "action": "add", "state": "inProgress"}]}
    po = R.shape(facts, None, version, full=False)
    assert po["externalId"] == ("CPQ-1" if version == V4 else [{"@type": "ExternalIdentifier", "id": "CPQ-1"}])
    assert problems(po, version, "ProductOrder") == []


# ---- item states, one rule at a time ------------------------------------------------------------------------------------


def test_item_states_roll_up_from_their_lines_tasks(tmp_path):
    runner, oid = submitted(tmp_path, "fiber-tv-ported-phone.json", V4)
    run = runner.store.load(oid)
    assert progress.item_states(run) == {"1": "inProgress", "2": "inProgress", "3": "inProgress", "4": "inProgress"}

    def set_all(item: str, status: str) -> None:
        for t in run.tasks.values():
            if run.lines[t.line].source_item == item:
                t.status = status

    set_all("2", S.COMPLETED)
    set_all("3", S.PENDING)
    run.tasks["4/D8#1:ship_device"].status = S.ON_HOLD  # a system is offline
    states = progress.item_states(run)
    assert (states["2"], states["3"], states["4"]) == ("completed", "acknowledged", "held")
    run.tasks["4/D8#1:ship_device"].status = S.SKIPPED
    set_all("4", S.COMPLETED)
    assert progress.item_states(run)["4"] == "completed" and progress.completed_items(run) == {"2", "4"}
    # An item with no lines of its own is its children's; compensations and superseded runs do not count.
    run.lines = {k: line for k, line in run.lines.items() if line.source_item != "1"}
    run.tasks = {k: t for k, t in run.tasks.items() if t.line in run.lines}
    set_all("3", S.COMPLETED)
    assert progress.item_states(run)["1"] == "completed"
    undo = S.TaskRun("2/D4:ship_device:undo", "undo ship_device", "compensation", "CPE_RFS", "add", "2/D4", [], status=S.FATALLY_FAILED)
    old = S.TaskRun("2/D4:ship_device@1", "ship_device", "callout", "CPE_RFS", "add", "2/D4", [], status=S.FATALLY_FAILED)
    run.tasks[undo.id], run.tasks[old.id] = undo, old
    assert progress.item_states(run)["2"] == "held"  # an undo that failed holds its item...
    assert "2" in progress.completed_items(run)  # ...but its work is done
    del run.tasks[undo.id]
    assert progress.item_states(run)["2"] == "completed"
    # The order's own states pass down to every item.
    for state in (S.ASSESSING_CANCELLATION, S.PENDING_CANCELLATION, S.ORDER_CANCELLED):
        run.status = state
        assert set(progress.item_states(run).values()) == {state}


def test_a_draft_is_pending_in_v4():
    from om_dsl.tmf622.states import item_state, order_state

    assert (order_state("draft", V4), order_state("draft", V5)) == ("pending", "draft")
    assert (item_state("draft", V4), item_state("draft", V5)) == ("pending", "acknowledged")
    facts = {"id": "O-1", "state": "draft", "orderDate": "2026-11-27T00:00:00Z", "items": [{"id": "1", "action": "add", "state": "draft"}]}
    for version in VERSIONS:
        assert problems(R.shape(facts, None, version, full=False), version, "ProductOrder") == []


# ---- drafts and quantities (the intake's), as they come back ---------------------------------------------------------


def test_a_v5_draft_with_quantities_comes_back_item_by_request_item(tmp_path):
    """The official-shape v5 example: a draft, 2 mesh extenders as `quantity: 2` (units 3~1, 3~2 in om)."""
    runner = make_runner(tmp_path)
    oid, status, _ = runner.submit((ORDERS / "tmf622" / "v5-flat-fiber-draft.json").read_text(encoding="utf-8"))
    assert status == "draft"
    draft = resource(runner, oid, V5)
    assert draft["state"] == "draft" and {i["id"]: i["state"] for i in draft["productOrderItem"]} == {k: "acknowledged" for k in "1234"}
    in_v4 = R.shape(progress.order_facts(runner.store.load(oid), 0), None, V4, full=False)  # as a v4 reader would see it
    assert in_v4["state"] == "pending" and {i["state"] for i in in_v4["productOrderItem"]} == {"pending"}
    runner.release(oid, "csr-lena")
    operate(runner)
    events = sent(runner, oid, V5)
    assert kinds(events)[0] == ("ProductOrderCreateEvent", "draft") and kinds(events)[-1] == ("ProductOrderStateChangeEvent", "completed")
    for e in events:  # the units are one item, under the request's id
        assert {i["id"] for i in e["event"]["productOrder"]["productOrderItem"]} == {"1", "2", "3", "4"}
    done = resource(runner, oid, V5)
    assert {i["id"]: i["state"] for i in done["productOrderItem"]} == {k: "completed" for k in "1234"}
    assert "id" not in next(i for i in done["productOrderItem"] if i["id"] == "3").get("product", {})  # two assets: no one product id


@pytest.mark.parametrize("version", VERSIONS)
def test_units_in_different_states_are_one_item(version):
    def po(*states):
        facts = {"id": "O-1", "state": "partial", "orderDate": "2026-11-27T00:00:00Z", "units": {"3": ["3~1", "3~2"]},
                 "items": [{"id": f"3~{n}", "action": "add", "state": s} for n, s in enumerate(states, 1)]}
        out = R.shape(facts, None, version, full=False)
        assert problems(out, version, "ProductOrder") == []
        (item,) = out["productOrderItem"]
        return item["id"], item["state"]

    assert po("completed", "failed") == ("3", "partial" if version == V5 else "failed")
    assert po("completed", "completed") == ("3", "completed")
    assert po("held", "completed") == ("3", "held")
    assert po("acknowledged", "completed") == ("3", "inProgress")


def test_a_draft_revised_without_what_it_needs_says_what(tmp_path):
    """A revision of a draft that cannot be planned is refused; the draft stays,
    and its originating system gets a ProductOrderInformationRequiredEvent naming the field."""
    runner = make_runner(tmp_path)
    text = (ORDERS / "tmf622" / "v5-flat-fiber-draft.json").read_text(encoding="utf-8")
    oid, status, _ = runner.submit(text)
    assert status == "draft"
    revision = json.loads(text)
    fiber = revision["productOrderItem"][0]["product"]
    fiber["productCharacteristic"] = [c for c in fiber["productCharacteristic"] if c["name"] != "address_id"]
    with pytest.raises(Rejected) as exc:
        runner.amend(oid, json.dumps(revision), "csr-lena")
    runner.drive()
    assert runner.store.load(oid).status == "draft"
    (event,) = [e for e in sent(runner, oid, V5) if e["eventType"] == "ProductOrderInformationRequiredEvent"]
    pointer = exc.value.problems[0].path
    assert pointer.startswith("/productOrderItem/0") and event["event"]["informationRequired"] == {"op": "add", "path": pointer}
    assert "address_id" in event["description"] and event["event"]["productOrder"]["id"] == oid
    assert any(h["cause"].startswith("information required from csr-lena: ") for h in runner.store.history(oid))
    # The same notice, as a v4 reader gets it: fieldPath, the order in v4 (pending).
    (cmd,) = [json.loads(p) for k, p in runner.store.db.execute("SELECT kind, payload FROM outbox ORDER BY seq") if k == "notify" and "InformationRequired" in p]
    in_v4 = E.render(cmd["event"], None, V4)
    assert event_problems(in_v4, V4) == [] and in_v4["fieldPath"] == pointer and in_v4["event"]["productOrder"]["state"] == "pending"
    # Not a draft: nothing to require.
    runner.release(oid, "csr-lena")
    with pytest.raises(Rejected):
        runner.amend(oid, json.dumps(revision), "csr-lena")
    assert len([e for e in sent(runner, oid, V5) if e["eventType"] == "ProductOrderInformationRequiredEvent"]) == 1


# ---- every example order, every MACD case ------------------------------------------------------------------------------

EXAMPLES = sorted(
    p.relative_to(ORDERS).as_posix() for p in [*ORDERS.glob("*.json"), *(ORDERS / "tmf622").glob("*.json"), ORDERS / "amend" / "order.json"] if not p.name.startswith("invalid-")
)
MACD_CASES = sorted(p.stem for p in (ORDERS / "macd").glob("*.json") if p.stem != "base-fiber-300")


def run_to_the_end(runner, text: str) -> str:
    oid, status, found = runner.submit(text)
    assert status != S.REJECTED, found
    if status == "draft":
        runner.release(oid, "csr")
    operate(runner)
    assert runner.store.load(oid).status == S.ORDER_COMPLETED
    return oid


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_example_order_speaks_its_version_back(tmp_path, name):
    text = (ORDERS / name).read_text(encoding="utf-8")
    version = version_of(json.loads(text))
    runner = make_runner(tmp_path)
    oid = run_to_the_end(runner, text)
    events = sent(runner, oid, version)  # each valid in the order's version
    assert events[0]["eventType"] == "ProductOrderCreateEvent" and kinds(events)[-1] == ("ProductOrderStateChangeEvent", "completed")
    done = resource(runner, oid, version)
    assert {i["state"] for i in items(done).values()} == {"completed"}


@pytest.mark.parametrize("case", MACD_CASES)
def test_every_macd_case_names_the_products_it_changed(tmp_path, case):
    runner = make_runner(tmp_path)
    run_to_the_end(runner, (ORDERS / "macd" / "base-fiber-300.json").read_text(encoding="utf-8"))
    text = (ORDERS / "macd" / f"{case}.json").read_text(encoding="utf-8")
    oid = run_to_the_end(runner, text)
    sent(runner, oid, V4)
    done = resource(runner, oid, V4)
    run = runner.store.load(oid)
    for item_id, item in items(done).items():
        record = next(i for i in run.items if i.id == item_id)
        assert item["state"] == "completed" and item["product"]["id"] == (record.asset_id or f"AST-{oid}-{item_id}")


@pytest.mark.parametrize("version", VERSIONS)
def test_an_order_past_its_requested_completion_raises_an_alert_of_its_own(tmp_path, version):
    doc = document("tv-alone.json", version)
    doc["requestedCompletionDate"] = "2026-11-28T12:00:00Z"
    runner = make_runner(tmp_path, fail={"iptv.activate_iptv": 99})
    oid, _, _ = runner.submit(json.dumps(doc))
    assert resource(runner, oid, version)["expectedCompletionDate"] == "2026-11-28T12:00:00Z"  # no task has a due time: the requested date
    runner.drive()  # held; time runs on to the due date
    assert runner.store.load(oid).jeopardy == S.RED
    (alert,) = [e for e in sent(runner, oid, version) if "productOrderJeopardyAlert" in e["event"]["productOrder"]]
    (a,) = alert["event"]["productOrder"]["productOrderJeopardyAlert"]
    assert (a["id"], a["name"], a["message"]) == (f"{oid}:jeopardy", "requestedCompletionDate", f"order {oid} was due at 2026-11-28T12:00:00Z (its requestedCompletionDate)")


def test_what_om_takes_loosely_comes_back_as_the_schemas_have_it(tmp_path):
    """om takes a v5 request without `@type`s, and plain dates; the resource returns them typed, as date-times."""
    doc = document("tv-alone.json", V5)
    for part in (doc["productOrderItem"][0]["productOffering"], doc["relatedParty"][0], *doc["productOrderItem"][0]["product"]["productCharacteristic"]):
        del part["@type"]
    doc["requestedStartDate"], doc["requestedCompletionDate"] = "2026-12-06", "2026-12-20T17:00:00"
    runner = make_runner(tmp_path)
    oid, status, found = runner.submit(json.dumps(doc))
    assert status != S.REJECTED, found
    po = resource(runner, oid, V5)  # valid v5
    assert po["productOrderItem"][0]["productOffering"]["@type"] == "ProductOfferingRef" and po["relatedParty"][0]["@type"] == "RelatedPartyRefOrPartyRoleRef"
    assert (po["requestedStartDate"], po["requestedCompletionDate"]) == ("2026-12-06T00:00:00Z", "2026-12-20T17:00:00Z")
    operate(runner)
    sent(runner, oid, V5)  # the create event too
