"""Cross-order dependencies (issue 20, item 6; docs/order-dependencies.md): an
order whose TMF622 `orderRelationship` says it `dependsOn` another waits until
that order completes, or reaches the milestone named; it is refused when the
other order is unknown, ended badly, lacks the milestone, or the wait would
form a cycle. The scenarios run on both engines; a restart and the reading of
the relationships are the embedded engine's and planning's."""

from __future__ import annotations

import json

import pytest

from om_dsl.engine import state as S
from om_dsl.planning.order import Rejected
from om_dsl.planning.relationships import OtherOrder, check, read

from support import ROOT
from support.engine_helpers import make_runner
from support.scenario_engines import OnTemporal, order_doc

ORDERS = ROOT / "examples" / "orders"
VISIT = "1/D1:install_visit"




def depending(path, order_id: str, on: str, milestone: str | None = None, kind: str = "dependsOn") -> str:
    """An example order under a fresh id that depends on order `on` (or its milestone)."""
    doc = json.loads(order_doc(path, order_id))
    rel = {"id": on, "relationshipType": kind, "@referredType": "ProductOrder"}
    if milestone:
        rel["milestone"] = milestone
    doc["orderRelationship"] = [rel]
    return json.dumps(doc)


def done(view) -> bool:
    return view["status"] in S.FINAL


def at_visit(view) -> bool:
    return view["tasks"][VISIT]["status"] == S.READY


def causes(engine, order_id) -> list[str]:
    return [h["cause"] for h in engine.history(order_id)]


# ---- on both engines ---------------------------------------------------------------------------------


def test_tv_order_waits_for_the_fiber_order(make_engine):
    engine = make_engine()
    fiber, tv = engine.new_id("FIBER"), engine.new_id("TV")
    engine.submit(order_doc(ORDERS / "fiber-minimal.json", fiber))
    engine.settle(fiber, at_visit)
    engine.submit(depending(ORDERS / "tv-alone.json", tv, fiber))
    view = engine.settle(tv, lambda v: v["status"] == S.ORDER_PENDING)
    assert view["waits_for"] == [{"order": fiber, "state": "waiting"}]
    assert all(t["status"] == S.PENDING and t["waiting_for"] == f"waiting for order {fiber} to complete" for t in view["tasks"].values())
    engine.complete(fiber, VISIT)
    assert engine.settle(fiber, done)["status"] == S.ORDER_COMPLETED
    view = engine.settle(tv, done)
    assert view["status"] == S.ORDER_COMPLETED and view["waits_for"] == [{"order": fiber, "state": "met"}]
    assert f"order {fiber} completed: no longer waited for" in causes(engine, tv)
    # An order that depends on one already completed runs at once.
    later = engine.new_id("TV")
    engine.submit(depending(ORDERS / "tv-alone.json", later, fiber))
    assert engine.settle(later, done)["status"] == S.ORDER_COMPLETED


def test_waiting_for_a_milestone_of_the_other_order(make_engine):
    # The static IP is assigned after the milestone line_active, and fails for good:
    # the fiber order is held past its milestone, and the TV order goes ahead.
    engine = make_engine(fail={"ipam.assign_ip": 99})
    fiber, tv = engine.new_id("FIBER"), engine.new_id("TV")
    engine.submit(order_doc(ORDERS / "new-fiber-every-option.json", fiber))
    engine.settle(fiber, at_visit)
    engine.submit(depending(ORDERS / "tv-alone.json", tv, fiber, milestone="line_active"))
    assert engine.settle(tv, lambda v: v["status"] == S.ORDER_PENDING)["tasks"]
    engine.complete(fiber, VISIT)
    assert engine.settle(fiber, lambda v: v["status"] == S.HELD)["tasks"]["1/D1:line_active"]["status"] == S.COMPLETED
    view = engine.settle(tv, done)
    assert view["status"] == S.ORDER_COMPLETED and view["waits_for"] == [{"order": fiber, "milestone": "line_active", "state": "met"}]
    assert f"order {fiber} reached its milestone line_active: no longer waited for" in causes(engine, tv)


def test_refused_when_the_other_order_is_unknown_ended_or_has_no_such_milestone(make_engine):
    engine = make_engine()
    fiber = engine.new_id("FIBER")
    assert engine.submit_rejected(depending(ORDERS / "tv-alone.json", engine.new_id("TV"), "NO-SUCH-ORDER")) == ["unknown_order"]
    rejected = engine.new_id("BAD")  # kept on both engines, rejected: it has ended
    assert engine.submit_rejected(order_doc(ORDERS / "invalid-speed-not-allowed.json", rejected)) == ["allowed_values"]
    assert engine.submit_rejected(depending(ORDERS / "tv-alone.json", engine.new_id("TV"), rejected)) == ["order_ended"]
    engine.submit(order_doc(ORDERS / "fiber-minimal.json", fiber))
    engine.settle(fiber, at_visit)
    assert engine.submit_rejected(depending(ORDERS / "tv-alone.json", engine.new_id("TV"), fiber, milestone="line_activ")) == ["unknown_milestone"]
    tv = engine.new_id("TV")
    assert engine.submit_rejected(depending(ORDERS / "tv-alone.json", tv, tv)) == ["order_dependency_cycle"]
    engine.cancel(fiber)
    assert engine.settle(fiber, done)["status"] == S.ORDER_CANCELLED
    assert engine.submit_rejected(depending(ORDERS / "tv-alone.json", engine.new_id("TV"), fiber)) == ["order_ended"]


def test_a_revision_that_would_wait_in_a_cycle_is_refused(make_engine):
    engine = make_engine()
    fiber, tv = engine.new_id("FIBER"), engine.new_id("TV")
    engine.submit(order_doc(ORDERS / "fiber-minimal.json", fiber))
    engine.settle(fiber, at_visit)
    engine.submit(depending(ORDERS / "tv-alone.json", tv, fiber))
    engine.settle(tv, lambda v: v["status"] == S.ORDER_PENDING)
    # The fiber order revised to wait for the TV order, which waits for it: refused.
    with pytest.raises(Rejected, match="order_dependency_cycle") as refused:
        engine.amend(fiber, depending(ORDERS / "fiber-minimal.json", fiber, tv))
    assert f"{fiber} -> {tv} -> {fiber}" in str(refused.value)
    engine.complete(fiber, VISIT)
    assert engine.settle(tv, done)["status"] == S.ORDER_COMPLETED  # nothing changed


def test_a_revision_can_make_an_order_in_flight_wait(make_engine):
    # Two fiber orders at their visits; the second is revised to wait for the first.
    engine = make_engine()
    first, second = engine.new_id("FIBER"), engine.new_id("FIBER")
    for oid in (first, second):
        engine.submit(order_doc(ORDERS / "fiber-minimal.json", oid))
        engine.settle(oid, at_visit)
    engine.amend(second, depending(ORDERS / "fiber-minimal.json", second, first))
    view = engine.settle(second, lambda v: v["revision"] == 2 and v["status"] == S.ORDER_PENDING)
    assert view["tasks"][VISIT]["status"] == S.READY  # what had started goes on
    engine.complete(second, VISIT)
    view = engine.settle(second, lambda v: v["tasks"][VISIT]["status"] == S.COMPLETED)
    assert view["status"] == S.ORDER_PENDING and view["tasks"]["1/D1:activate_line"]["waiting_for"] == f"waiting for order {first} to complete"
    engine.complete(first, VISIT)
    assert engine.settle(second, done)["status"] == S.ORDER_COMPLETED


def test_the_other_order_cancelled_holds_the_waiting_one_until_an_operator_resumes_it(make_engine):
    engine = make_engine()
    fiber, tv = engine.new_id("FIBER"), engine.new_id("TV")
    engine.submit(order_doc(ORDERS / "fiber-minimal.json", fiber))
    engine.settle(fiber, at_visit)
    engine.submit(depending(ORDERS / "tv-alone.json", tv, fiber, kind="requires"))
    engine.settle(tv, lambda v: v["status"] == S.ORDER_PENDING)
    engine.cancel(fiber)
    view = engine.settle(tv, lambda v: v["status"] == S.HELD)
    assert view["waits_for"] == [{"order": fiber, "state": "ended", "why": f"order {fiber} ended cancelled"}]
    assert all(t["status"] == S.PENDING for t in view["tasks"].values())
    engine.resume(tv, by="ops", reason="the TV goes over the old line")
    view = engine.settle(tv, done)
    assert view["status"] == S.ORDER_COMPLETED and view["waits_for"][0]["state"] == "waived"
    assert f"order {fiber} to complete waived by ops: the TV goes over the old line" in causes(engine, tv)


# ---- Temporal ------------------------------------------------------------------------------------------


@pytest.mark.temporal
def test_on_temporal_the_waiting_workflow_polls_and_replays_exactly(tmp_path, short_acme, temporal_server):
    """The waiting order asked the fiber order's workflow how it stands (an
    activity each time), and its history replays on the current code: a
    worker that restarts rebuilds the same state."""
    from temporalio.worker import Replayer

    from om_dsl.temporal.activities import PROGRESS
    from om_dsl.temporal.worker import _sandbox
    from om_dsl.temporal.workflow import OrderWorkflow

    engine = OnTemporal(tmp_path, short_acme, {}, temporal_server)
    try:
        fiber, tv = engine.new_id("FIBER"), engine.new_id("TV")
        engine.submit(order_doc(ORDERS / "fiber-minimal.json", fiber))
        engine.settle(fiber, at_visit)
        engine.submit(depending(ORDERS / "tv-alone.json", tv, fiber))
        engine.settle(tv, lambda v: v["status"] == S.ORDER_PENDING)
        engine.complete(fiber, VISIT)
        assert engine.settle(tv, done)["status"] == S.ORDER_COMPLETED

        async def go():
            client = await engine.orders.client()
            history = await client.get_workflow_handle(tv).fetch_history()
            asked = [e for e in history.events if e.HasField("activity_task_scheduled_event_attributes") and e.activity_task_scheduled_event_attributes.activity_type.name == PROGRESS]
            await Replayer(workflows=[OrderWorkflow], workflow_runner=_sandbox()).replay_workflow(history)
            return len(asked)

        assert engine.orders._run(go()) >= 2  # at least: while the fiber order ran, and once it had completed
    finally:
        engine.close()


def restart_worker(engine, server, rules) -> None:
    """Stop the test's Temporal worker and start another on its task queue: the
    new one has none of the workflows in its cache and replays each one."""
    import asyncio
    import threading

    from om_dsl.systems.adapters import PythonTasks, Systems
    from om_dsl.systems.config import Config
    from om_dsl.temporal import worker as temporal_worker

    from support import PATIENCE_S
    from support.engine_helpers import TASKS_PATH

    engine._loop.call_soon_threadsafe(engine._stop.set)
    engine._thread.join(PATIENCE_S)
    assert not engine._thread.is_alive()
    engine._loop, engine._stop, ready, failed = asyncio.new_event_loop(), asyncio.Event(), threading.Event(), []

    def work():
        asyncio.set_event_loop(engine._loop)
        try:
            engine._loop.run_until_complete(temporal_worker.serve(server.address, "default", engine.queue, Systems(Config(None), engine.simulators), PythonTasks((TASKS_PATH,)), rules=[rules], stop=engine._stop, ready=ready.set))
        except BaseException as exc:  # noqa: BLE001 - reported below
            failed.append(exc)
            ready.set()

    engine._thread = threading.Thread(target=work, daemon=True)
    engine._thread.start()
    assert ready.wait(PATIENCE_S) and not failed, failed


@pytest.mark.temporal
def test_on_temporal_a_worker_restart_while_an_order_waits_still_releases_it(tmp_path, short_acme, temporal_server):
    engine = OnTemporal(tmp_path, short_acme, {}, temporal_server)
    try:
        fiber, tv = engine.new_id("FIBER"), engine.new_id("TV")
        engine.submit(order_doc(ORDERS / "fiber-minimal.json", fiber))
        engine.settle(fiber, at_visit)
        engine.submit(depending(ORDERS / "tv-alone.json", tv, fiber))
        engine.settle(tv, lambda v: v["status"] == S.ORDER_PENDING)
        restart_worker(engine, temporal_server, short_acme)
        # rebuilt by replay (the new worker may answer only after the old one's workflow task timed out)
        assert engine.settle(tv, lambda v: "waits_for" in v)["waits_for"] == [{"order": fiber, "state": "waiting"}]
        engine.complete(fiber, VISIT)
        assert engine.settle(tv, done)["status"] == S.ORDER_COMPLETED
    finally:
        engine.close()


# ---- the embedded engine ------------------------------------------------------------------------------


def test_a_restart_in_the_middle_still_releases_the_waiting_order(tmp_path, short_acme):
    first = make_runner(tmp_path, rules=short_acme)
    first.submit(order_doc(ORDERS / "fiber-minimal.json", "FIBER-1"))
    first.submit(depending(ORDERS / "tv-alone.json", "TV-1", "FIBER-1"))
    first.drive()
    assert first.store.load("TV-1").status == S.ORDER_PENDING
    first.complete_manual("FIBER-1", VISIT, {}, "tech")  # applied; the TV order not yet told: the process dies here
    first.systems.close()
    first.store.close()
    second = make_runner(tmp_path, rules=short_acme)
    assert second.store.waiting_on("TV-1") == ["FIBER-1"]
    second.drive()
    assert second.store.load("FIBER-1").status == S.ORDER_COMPLETED
    assert second.store.load("TV-1").status == S.ORDER_COMPLETED
    assert second.store.waiting_on("TV-1") == []
    second.systems.close()
    second.store.close()


def test_a_chain_of_waits_is_released_in_one_go(tmp_path, short_acme):
    runner = make_runner(tmp_path, rules=short_acme)
    runner.submit(order_doc(ORDERS / "fiber-minimal.json", "FIBER-1"))
    runner.submit(depending(ORDERS / "tv-alone.json", "TV-1", "FIBER-1"))
    runner.submit(depending(ORDERS / "tv-alone.json", "TV-2", "TV-1"))  # waits for an order that waits
    runner.drive()
    assert [runner.store.load(o).status for o in ("TV-1", "TV-2")] == [S.ORDER_PENDING, S.ORDER_PENDING]
    runner.complete_manual("FIBER-1", VISIT, {}, "tech")
    runner.drive()
    assert [runner.store.load(o).status for o in ("FIBER-1", "TV-1", "TV-2")] == [S.ORDER_COMPLETED] * 3
    runner.systems.close()
    runner.store.close()


def test_om_plan_says_what_the_order_will_wait_for(in_repo):
    from click.testing import CliRunner

    from om_dsl.cli import main

    r = CliRunner().invoke(main, ["plan", "generated/acme", "examples/orders/dependencies/tv-after-fiber.json"])
    assert r.exit_code == 0 and "waits for order ORD-1004 to complete\n" in r.stdout
    r = CliRunner().invoke(main, ["plan", "generated/acme", "examples/orders/dependencies/tv-after-fiber.json", "--format", "json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["order"]["waits_for"] == [{"order": "ORD-1004"}]


def test_om_orders_show_json_lists_what_the_order_waits_for(tmp_path, in_repo):
    from click.testing import CliRunner

    from om_dsl.cli import main

    def om(*args):
        return CliRunner().invoke(main, [*args, "--db", str(tmp_path / "om.db")], catch_exceptions=False)

    assert om("run", "generated/acme", "examples/orders/fiber-minimal.json", "--clock", "simulated", "--start", "2026-11-27", "-q").exit_code == 0
    assert om("run", "generated/acme", "examples/orders/dependencies/tv-after-fiber.json", "-q").exit_code == 0
    shown = json.loads(om("orders", "show", "ORD-1006", "--format", "json").stdout)
    assert shown["status"] == S.ORDER_PENDING and shown["waits_for"] == [{"order": "ORD-1004", "state": "waiting"}]
    assert [o["status"] for o in json.loads(om("orders", "list", "--status", "pending", "--format", "json").stdout)] == [S.ORDER_PENDING]
    # A second order that would wait for an unknown one is rejected, naming the relationship.
    doc = json.loads((ORDERS / "dependencies" / "tv-after-fiber.json").read_text(encoding="utf-8"))
    doc["id"], doc["orderRelationship"][0]["id"] = "ORD-1007", "ORD-404"
    (tmp_path / "bad.json").write_text(json.dumps(doc), encoding="utf-8")
    r = om("run", "generated/acme", str(tmp_path / "bad.json"), "-q")
    assert r.exit_code == 1 and "(rule: unknown_order) [at /orderRelationship/0/id]" in r.stderr


def test_a_waiting_order_is_told_once_per_change_of_the_other(tmp_path, short_acme):
    runner = make_runner(tmp_path, rules=short_acme)
    runner.submit(order_doc(ORDERS / "fiber-minimal.json", "FIBER-1"))
    runner.submit(depending(ORDERS / "tv-alone.json", "TV-1", "FIBER-1"))
    runner.drive()
    assert runner.wake_waiting() is False  # nothing new: nothing to tell
    runner.cancel("TV-1", "csr", "changed her mind")
    runner.drive()
    assert runner.store.load("TV-1").status == S.ORDER_CANCELLED and runner.store.waiting_on("TV-1") == []
    runner.systems.close()
    runner.store.close()


# ---- planning: reading the relationships ---------------------------------------------------------------


def test_relationships_are_read_with_a_pointer_for_each_problem():
    doc = {"orderRelationship": [
        {"id": "ORD-1", "relationshipType": "dependsOn"},
        {"id": "ORD-2", "relationshipType": "requires", "milestone": "line_active"},
        {"id": "ORD-3", "relationshipType": "bundled"},  # another kind: no wait
        {"id": "ORD-4", "relationshipType": "dependson"},
        {"relationshipType": "dependsOn"},
        {"id": "ORD-5", "relationshipType": "dependsOn", "milestone": 7},
        "ORD-6",
    ]}
    prerequisites, problems = read(doc, "ORD-9")
    assert [(p.order, p.milestone) for p in prerequisites] == [("ORD-1", None), ("ORD-2", "line_active")]
    assert [(p.rule, p.path) for p in problems] == [
        ("order_relationship", "/orderRelationship/3/relationshipType"),
        ("order_relationship", "/orderRelationship/4/id"),
        ("order_relationship", "/orderRelationship/5/milestone"),
        ("order_relationship", "/orderRelationship/6"),
    ]
    assert "did you mean `dependsOn`?" in problems[0].message
    assert read({"orderRelationship": {"id": "ORD-1"}}, "ORD-9")[1][0].path == "/orderRelationship"


def test_an_order_waits_for_at_most_max_waits_orders():
    from om_dsl.limits import MAX_WAITS

    many = {"orderRelationship": [{"id": f"ORD-{n}", "relationshipType": "dependsOn"} for n in range(MAX_WAITS + 1)]}
    prerequisites, problems = read(many, "ORD-X")
    assert prerequisites == [] and [(p.rule, p.path) for p in problems] == [("order_relationship", "/orderRelationship")]
    assert len(read({"orderRelationship": many["orderRelationship"][:MAX_WAITS]}, "ORD-X")[0]) == MAX_WAITS


def test_a_cycle_through_several_orders_is_found():
    known = {"A": OtherOrder("pending", waits=("B",)), "B": OtherOrder("pending", waits=("C",)), "C": OtherOrder("inProgress")}
    prerequisites, _ = read({"orderRelationship": [{"id": "A", "relationshipType": "dependsOn"}]}, "C")
    problems = check("C", prerequisites, known.get)
    assert [(p.rule, p.message) for p in problems] == [("order_dependency_cycle", "waiting would form a cycle: C -> A -> B -> C")]
    assert check("D", prerequisites, known.get) == []


# ---- the core: pure -------------------------------------------------------------------------------------


def test_the_core_holds_every_task_and_hears_the_same_news_once(short_acme):
    from om_dsl.engine import commands as Cmd
    from om_dsl.engine import core as C
    from om_dsl.planning.pipeline import plan_order

    rules = short_acme
    doc = json.loads(depending(ORDERS / "tv-alone.json", "TV-1", "FIBER-1", milestone="line_active"))
    planned = plan_order(rules.catalog, rules, doc, "TV-1")
    engine = C.Engine(rules.catalog, rules)
    step = engine.start(planned, "sha", 0)
    assert step.run.status == S.ORDER_PENDING and all(isinstance(c, Cmd.Notify) for c in step.commands)  # created, pending: no call
    assert step.run.waits_for == [{"order": "FIBER-1", "milestone": "line_active", "state": "waiting"}]
    # Other news of that order, or news of another, change nothing.
    for news in (C.OtherOrderProgressed("FIBER-1", S.IN_PROGRESS, (), 1), C.OtherOrderProgressed("OTHER", S.ORDER_CANCELLED, (), 1)):
        quiet = engine.handle(step.run, news)
        assert quiet.history == [] and quiet.commands == [] and quiet.run.status == S.ORDER_PENDING
    # The time passing changes nothing either: nothing starts while it waits.
    assert engine.handle(step.run, C.TimePassed(10 * 86_400_000)).commands == []
    reached = engine.handle(step.run, C.OtherOrderProgressed("FIBER-1", S.IN_PROGRESS, ("line_active",), 2))
    assert reached.run.status == S.IN_PROGRESS and [c for c in reached.commands if isinstance(c, Cmd.Call)]
    again = engine.handle(reached.run, C.OtherOrderProgressed("FIBER-1", S.IN_PROGRESS, ("line_active",), 3))
    assert again.history == [] and again.commands == []
    # The plan snapshot (Temporal's workflow input) carries the wait.
    snap = engine.start_snapshot(C.plan_snapshot(planned, "TV-1"), "TV-1", "sha", 0)
    assert snap.run.waits_for == step.run.waits_for and snap.run.status == S.ORDER_PENDING
    # A held order (the other ended) is resumed: the wait is waived, the order goes on.
    ended = engine.handle(step.run, C.OtherOrderProgressed("FIBER-1", S.ORDER_FAILED, (), 4))
    assert ended.run.status == S.HELD and ended.run.waits_for[0]["why"] == "order FIBER-1 ended failed before its milestone line_active"
    resumed = engine.handle(ended.run, C.OrderResume("ops", "", 5))
    assert resumed.run.waits_for[0]["state"] == "waived" and resumed.run.status == S.IN_PROGRESS
    # A draft that waits starts nothing when released: it waits on.
    draft_doc = dict(doc, requestedInitialState="draft")
    draft = engine.start(plan_order(rules.catalog, rules, draft_doc, "TV-2"), "sha", 0)
    assert draft.run.status == S.DRAFT
    released = engine.handle(draft.run, C.OrderRelease("csr", 1))
    assert released.run.status == S.ORDER_PENDING and not [c for c in released.commands if isinstance(c, Cmd.Call)]
    # State survives its JSON form (the store, a Temporal query).
    assert S.from_data(json.loads(json.dumps(S.to_data(ended.run)))).waits_for == ended.run.waits_for
