"""What the engine does with a TMF622 request's own fields: a draft
(`requestedInitialState: draft`, v5) starts nothing until released; the
requested completion date is the order's due date (its jeopardy follows
it); `priority` orders ready work among orders. The core (pure) and the
embedded runner (SQLite, the simulated systems)."""

from __future__ import annotations

import copy
import json

import pytest

from om_dsl.check import check_paths
from om_dsl.embedded.clock import parse_instant
from om_dsl.engine import commands as Cmd
from om_dsl.engine import core as C
from om_dsl.engine import state as S
from om_dsl.engine.facts import dispatch_rank
from om_dsl.lower import lower
from om_dsl.planning import keys as K
from om_dsl.planning.fields import due_instant
from om_dsl.planning.intake import parse_document
from om_dsl.planning.pipeline import plan_order
from om_dsl.rules.interpreter import Interpreter

from support import ROOT
from support.engine_helpers import history, make_runner, operate

DRAFT = ROOT / "examples" / "orders" / "tmf622" / "v5-flat-fiber-draft.json"
TV = ROOT / "examples" / "orders" / "tv-alone.json"


@pytest.fixture(scope="module")
def engine():
    result = check_paths([str(ROOT / "specs")])
    catalog = lower(result.catalog("acme"))
    rules = Interpreter(catalog)
    eng = C.Engine(catalog, rules)
    eng.plan = lambda doc: plan_order(catalog, rules, doc)
    return eng


def doc_of(path, **changes) -> dict:
    doc = parse_document(path.read_text(encoding="utf-8"))
    doc.update(changes)
    return doc


def calls(step) -> list:
    return [c for c in step.commands if isinstance(c, (Cmd.Call, Cmd.AutoTask))]


# ---- drafts -------------------------------------------------------------------------------------------------


def test_a_draft_starts_nothing_until_released(engine):
    now = parse_instant("2026-12-01T09:00:00Z")
    step = engine.start(engine.plan(doc_of(DRAFT)), "sha", now)
    assert step.run.status == S.DRAFT and calls(step) == []
    assert [c.event["eventType"] for c in step.commands] == ["ProductOrderCreateEvent"]
    assert all(t.status == S.PENDING for t in step.run.tasks.values())
    assert {engine.waiting_for(step.run, t) for t in step.run.tasks.values()} == {"the order is a draft: nothing starts until it is released"}
    later = engine.handle(step.run, C.TimePassed(now + 86_400_000))  # time alone does not start it
    assert later.run.status == S.DRAFT and calls(later) == []
    released = engine.handle(later.run, C.OrderRelease("cpq", now + 90_000_000))
    assert released.run.status == S.IN_PROGRESS and calls(released)
    assert [(h["from"], h["to"], h["cause"]) for h in released.history if h["subject"] == "order"][0] == (S.DRAFT, S.ACKNOWLEDGED, "released by cpq")
    with pytest.raises(C.Rejection, match="not a draft"):
        engine.handle(released.run, C.OrderRelease("cpq", now + 90_000_001))


def test_without_requested_initial_state_the_order_starts_at_once(engine):
    doc = doc_of(DRAFT)
    del doc["requestedInitialState"]
    step = engine.start(engine.plan(doc), "sha", parse_instant("2026-12-01T09:00:00Z"))
    assert step.run.status == S.IN_PROGRESS and calls(step)


def test_a_draft_can_be_cancelled_without_starting(engine):
    step = engine.start(engine.plan(doc_of(DRAFT)), "sha", 0)
    cancelled = engine.handle(step.run, C.CancelRequested("cpq", "changed my mind", False, 1))
    assert cancelled.run.status == S.ORDER_CANCELLED and calls(cancelled) == []


def test_a_draft_survives_its_json_form(engine):
    run = engine.start(engine.plan(doc_of(DRAFT)), "sha", 0).run
    again = S.from_data(json.loads(json.dumps(S.to_data(run))))
    assert again.status == S.DRAFT and engine.handle(again, C.OrderRelease("x", 1)).run.status == S.IN_PROGRESS


def test_a_draft_on_the_embedded_runner_is_released(tmp_path):
    runner = make_runner(tmp_path)
    order_id, status, problems = runner.submit(DRAFT.read_text(encoding="utf-8"), "ORD-D1")
    assert (status, problems) == (S.DRAFT, [])
    operate(runner)
    assert runner.store.load(order_id).status == S.DRAFT
    assert runner.simulators.effects() == []  # no system was called
    runner.release(order_id, "cpq")
    operate(runner)
    assert runner.store.load(order_id).status == S.ORDER_COMPLETED
    assert any(e["cause"] == "released by cpq" for e in history(runner.store, order_id))
    with pytest.raises(C.Rejection):
        runner.release(order_id, "cpq")


# ---- the due date ---------------------------------------------------------------------------------------------


def test_the_order_jeopardy_follows_its_requested_completion_date(engine):
    due = due_instant("2026-12-20T17:00:00Z")
    start = due - 4 * 86_400_000
    doc = doc_of(DRAFT, requestedInitialState="acknowledged")
    step = engine.start(engine.plan(doc), "sha", start)
    r = step.run
    assert r.fields["due_at"] == due and r.jeopardy in (None, S.GREEN) and r.due_jeopardy == S.GREEN
    yellow_at = start + 3 * 86_400_000
    assert engine.next_timer(r) <= yellow_at  # the order wakes for it
    yellow = engine.handle(r, C.TimePassed(yellow_at))
    assert yellow.run.due_jeopardy == S.YELLOW and yellow.run.jeopardy in (S.YELLOW, S.RED)
    red = engine.handle(yellow.run, C.TimePassed(due))
    assert red.run.due_jeopardy == S.RED and red.run.jeopardy == S.RED
    assert any("due date jeopardy yellow -> red" in h["cause"] for h in red.history)


def test_without_a_requested_completion_date_there_is_no_due_jeopardy(engine):
    doc = doc_of(DRAFT, requestedInitialState="acknowledged")
    del doc["requestedCompletionDate"]
    run = engine.start(engine.plan(doc), "sha", 0).run
    later = engine.handle(run, C.TimePassed(2_000_000_000_000))
    assert later.run.due_jeopardy is None


# ---- priority ------------------------------------------------------------------------------------------------------


def test_dispatch_ranks():
    assert [dispatch_rank(p) for p in ("0", "1", "2", "3", "4", None, "9")] == [0, 1, 2, 3, 4, 2, 2]


def first_called(tmp_path, priorities: dict) -> str:
    """Submit TV orders with these priorities, in this order, then drive: the order of the first system call."""
    tmp_path.mkdir()
    runner = make_runner(tmp_path)
    base = json.loads(TV.read_text(encoding="utf-8"))
    for order_id, priority in priorities.items():
        doc = copy.deepcopy(base)
        doc["id"] = order_id
        doc["priority"] = priority
        runner.submit(json.dumps(doc), order_id)
    runner.drive()
    (key,) = runner.simulators.db.execute("SELECT key FROM effects ORDER BY rowid LIMIT 1").fetchone()
    return K.order_of_key(key)


def test_ready_work_of_a_higher_priority_order_is_dispatched_first(tmp_path):
    assert first_called(tmp_path / "a", {"ORD-LOW": "4", "ORD-HIGH": "0"}) == "ORD-HIGH"
    assert first_called(tmp_path / "b", {"ORD-LOW": "3", "ORD-HIGH": "3"}) == "ORD-LOW"  # equal: first come, first served


def test_the_kept_request_is_in_the_order_state_of_both_engines(engine):
    # The output side returns it: it must survive the embedded store's JSON and a Temporal start.
    doc = json.loads((ROOT / "om_dsl" / "tmf622" / "schemas" / "ProductOrder.example.json").read_text(encoding="utf-8"))
    for item, code in zip(doc["productOrderItem"], ("HOME_FIBER", "VOICE_LINE", "MESH_EXTENDER", "WIFI_ROUTER")):
        item["productOffering"]["id"] = code
        item["product"].pop("productCharacteristic", None)
    doc["productOrderItem"][0]["product"]["productCharacteristic"] = [{"name": "address_id", "value": "A-1"}]
    planned = engine.plan(parse_document(json.dumps(doc)))
    request = planned.order.request
    assert request["version"] == "v4" and request["items"]["120"]["itemPrice"][0]["price"]["dutyFreeAmount"]["value"] == 20
    run = engine.start(planned, "sha", 0).run
    stored = S.from_data(json.loads(json.dumps(S.to_data(run))))
    assert stored.fields["request"] == request
    snap = json.loads(json.dumps(C.plan_snapshot(planned, "ORD-1")))
    assert engine.start_snapshot(snap, "ORD-1", "sha", 0).run.fields["request"] == request


def test_a_rejected_v5_order_is_filed_under_its_external_id(tmp_path):
    runner = make_runner(tmp_path)
    doc = json.loads(DRAFT.read_text(encoding="utf-8"))
    doc["productOrderItem"][2]["quantity"] = 4  # 4 mesh extenders: the catalog takes 0..3
    order_id, status, problems = runner.submit(json.dumps(doc), "ORD-R1")
    assert status == S.REJECTED and [p.rule for p in problems] == ["cardinality"]
    assert runner.store.db.execute("SELECT external_id FROM orders WHERE id = 'ORD-R1'").fetchone()[0] == "Q-7781"


def test_the_order_service_releases_a_draft(tmp_path):
    from om_dsl import service as svc
    from om_dsl.embedded.service import Options, acting
    from om_dsl.rules.generated import GeneratedRules

    doc = json.loads(TV.read_text(encoding="utf-8"))
    doc["requestedInitialState"] = "draft"
    with acting(Options(str(tmp_path / "om.db"), clock="simulated"), GeneratedRules(ROOT / "generated" / "acme")) as s:
        order_id, status, _ = s.submit(json.dumps(doc))
        assert status == S.DRAFT and s.settle([order_id])[0]["status"] == S.DRAFT
        assert s.release(order_id, "cpq")["status"] == S.ORDER_COMPLETED
        with pytest.raises(svc.Refused, match="is completed"):
            s.release(order_id, "cpq")


def test_a_revision_of_a_draft_applies_at_once_and_starts_nothing(engine):
    amend = ROOT / "examples" / "orders" / "amend"
    doc = doc_of(amend / "order.json", requestedInitialState="draft")
    step = engine.start(engine.plan(doc), "sha", 0)
    revision = engine.plan(doc_of(amend / "speed-1000.json", id=doc["id"]))
    amended = engine.handle(step.run, C.Amend(2, C.plan_snapshot(revision, doc["id"]), "cpq", False, 1))
    assert (amended.run.status, amended.run.revision, amended.run.frozen, calls(amended)) == (S.DRAFT, 2, False, [])
    released = engine.handle(amended.run, C.OrderRelease("cpq", 2))
    assert released.run.status == S.IN_PROGRESS and calls(released)
