"""Fallout in the pure engine core: a fatal failure of a task with `fallout
QUEUE` opens a manual task there instead of holding the order; its
resolution (retried, skipped, fixed with outputs) moves the order on."""

from __future__ import annotations

import pytest

from om_dsl.check import check_texts
from om_dsl.engine import core as C
from om_dsl.engine import state as S
from om_dsl.lower import lower
from om_dsl.planning.pipeline import plan_order
from om_dsl.rules.interpreter import Interpreter

from support.engine_helpers import FALLOUT_SPEC as SPEC

NOW = 1_000_000
RESERVE, ACTIVATE, FALLOUT = "1/d:reserve", "1/d:activate", "1/d:reserve.fallout"


@pytest.fixture(scope="module")
def engine():
    result = check_texts({"f.om": SPEC})
    assert result.errors == [], [d.message for d in result.diagnostics]
    catalog = lower(result.scopes[0])
    rules = Interpreter(catalog)
    return C.Engine(catalog, rules)


def failed(engine, failure="409", spec=None):
    e = engine if spec is None else spec
    doc = {"id": "F-1", "productOrderItem": [{"id": "1", "action": "add", "productOffering": {"id": "SVC"}, "product": {"productCharacteristic": [{"name": "site", "value": "S-1"}]}}]}
    step = e.start(plan_order(e.catalog, e.rules, doc, "F-1"), "sha", NOW)
    return e.handle(step.run, C.CallFailed(RESERVE, f"inv answered {failure}", False, NOW + 1, failure))


def test_a_fatal_failure_opens_the_fallout_task_and_the_order_is_not_held(engine):
    step = failed(engine)
    r = step.run
    assert r.status == S.IN_PROGRESS and r.tasks[RESERVE].status == S.FATALLY_FAILED
    fallout = r.tasks[FALLOUT]
    assert (fallout.type, fallout.status, fallout.queue, fallout.fallout_of) == ("manual", S.READY, "desk", RESERVE)
    assert r.tasks[ACTIVATE].status == S.PENDING
    assert any(h["subject"] == FALLOUT and h["to"] == S.READY and "409" in h["cause"] for h in step.history)
    # The state survives its JSON form (the store, a Temporal payload).
    assert S.from_data(S.to_data(r)).tasks[FALLOUT].fallout_of == RESERVE


def test_without_fallout_the_same_failure_holds_the_order(engine):
    spec = check_texts({"f.om": SPEC.replace(" fallout desk", "")})
    catalog = lower(spec.scopes[0])
    other = C.Engine(catalog, Interpreter(catalog))
    step = failed(engine, spec=other)
    assert step.run.status == S.HELD and FALLOUT not in step.run.tasks


def test_fixed_by_hand_needs_the_declared_outputs_of_their_types(engine):
    r = failed(engine).run
    for data, why in (
        ({"resolution": "fixed"}, "no `port`"),
        ({"resolution": "fixed", "port": "P-1", "slot": "two"}, "`slot` = 'two' is not an int"),
        ({"resolution": "fixed", "port": "P-1", "slot": 2, "extra": 1}, "`extra` is not an output"),
        ({"resolution": "later"}, "needs a resolution"),
    ):
        with pytest.raises(C.Rejection, match=why):
            engine.handle(r, C.ManualCompleted(FALLOUT, data, "desk-ana", NOW + 2))
    step = engine.handle(r, C.ManualCompleted(FALLOUT, {"resolution": "fixed", "port": "P-9", "slot": 4}, "desk-ana", NOW + 2))
    r = step.run
    assert r.tasks[RESERVE].status == S.COMPLETED and r.tasks[RESERVE].outputs == {"port": "P-9", "slot": 4}
    assert r.lines["1/d"].values["port"] == "P-9"  # its `sets` ran
    call = next(c for c in step.commands if c.kind == "call")
    assert (call.task, call.args) == (ACTIVATE, {"port": "P-9", "slot": 4})  # downstream reads what was fixed


def test_an_operator_retry_of_the_failed_task_closes_its_fallout(engine):
    r = failed(engine).run
    step = engine.handle(r, C.OperatorRetry(RESERVE, "ops", "the donor agreed", NOW + 5))
    assert step.run.tasks[FALLOUT].status == S.SKIPPED and step.run.tasks[RESERVE].status == S.RUNNING
    with pytest.raises(C.Rejection):
        engine.handle(step.run, C.ManualCompleted(FALLOUT, {"resolution": "retried"}, "desk", NOW + 6))


def test_a_fallout_task_is_resolved_not_skipped(engine):
    r = failed(engine).run
    with pytest.raises(C.Rejection, match="complete it with the resolution `skipped`"):
        engine.handle(r, C.OperatorSkip(FALLOUT, "ops", "not ours", NOW + 4))
    step = engine.handle(r, C.OperatorSkip(RESERVE, "ops", "reserved by hand", NOW + 4))  # the failed task itself may be
    assert step.run.tasks[FALLOUT].status == S.SKIPPED and step.run.tasks[ACTIVATE].status == S.RUNNING  # called


def test_a_cancelled_order_cancels_its_open_fallout(engine):
    r = failed(engine).run
    step = engine.handle(r, C.CancelRequested("csr", "moved", False, NOW + 3))
    assert step.run.tasks[FALLOUT].status == S.CANCELLED and step.run.status == S.ORDER_CANCELLED


def revision(engine, site: str) -> dict:
    doc = {"id": "F-1", "productOrderItem": [{"id": "1", "action": "add", "productOffering": {"id": "SVC"}, "product": {"productCharacteristic": [{"name": "site", "value": site}]}}]}
    return C.plan_snapshot(plan_order(engine.catalog, engine.rules, doc, "F-1"), "F-1")


def test_an_amendment_keeps_the_fallout_of_a_task_it_keeps_and_drops_that_of_one_it_replaces(engine):
    r = failed(engine).run
    kept = engine.handle(r, C.Amend(2, revision(engine, "S-1"), "csr", False, NOW + 5)).run  # the same site: reserve is kept as it failed
    assert kept.tasks[RESERVE].status == S.FATALLY_FAILED and kept.tasks[FALLOUT].status == S.READY and kept.status == S.IN_PROGRESS
    moved = engine.handle(r, C.Amend(2, revision(engine, "S-2"), "csr", False, NOW + 5)).run  # another site: reserve starts over
    assert FALLOUT not in moved.tasks and moved.tasks[RESERVE].status == S.RUNNING and moved.tasks[RESERVE].args == {"site": "S-2"}


def test_fixed_by_hand_takes_decimals_and_dates_as_a_person_types_them():
    import datetime
    from decimal import Decimal

    spec = SPEC.replace("-> (port: string, slot: int)", "-> (port: string, slot: int, fee: decimal, ready_on: date)")
    result = check_texts({"f.om": spec})
    catalog = lower(result.scopes[0])
    other = C.Engine(catalog, Interpreter(catalog))
    r = failed(None, spec=other).run
    with pytest.raises(C.Rejection, match="`fee` = 'cheap' is not a decimal; `ready_on` = 'soon' is not a date"):
        other.handle(r, C.ManualCompleted(FALLOUT, {"resolution": "fixed", "port": "P-1", "slot": 1, "fee": "cheap", "ready_on": "soon"}, "desk", NOW + 2))
    step = other.handle(r, C.ManualCompleted(FALLOUT, {"resolution": "fixed", "port": "P-1", "slot": 1, "fee": 12.5, "ready_on": "2026-12-24"}, "desk", NOW + 2))
    assert step.run.tasks[RESERVE].outputs == {"port": "P-1", "slot": 1, "fee": Decimal("12.5"), "ready_on": datetime.date(2026, 12, 24)}
