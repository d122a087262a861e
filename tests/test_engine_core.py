"""The engine core (om_dsl.engine.core): (order state, event) ->
(new state, commands, history), pure and deterministic.

Two catalogs drive it: Acme (specs/acme, the reference catalog, its standard
retry policy 10 s, 60 s, 600 s) and a small catalog written here that has
every retry policy kind, both kinds of wait, a runtime `when` that reads a
task's output, `sets`, an asynchronous operation and a decimal attribute.
"""

from __future__ import annotations

import copy
import datetime
import json
import time
from decimal import Decimal
from pathlib import Path

import pytest

from om_dsl.build import build
from om_dsl.check import check_texts
from om_dsl.embedded.clock import parse_instant
from om_dsl.engine import commands as Cmd
from om_dsl.engine import core as C
from om_dsl.engine import state as S
from om_dsl.engine.retry import retry_delay
from om_dsl.lower import lower
from om_dsl.model.catalog import RetryPolicyDef
from om_dsl.planning.pipeline import plan_order
from om_dsl.rules.interpreter import Interpreter

ROOT = Path(__file__).resolve().parents[1]
ORDERS = ROOT / "examples" / "orders"

NOV27 = parse_instant("2026-11-27")
DEC01 = parse_instant("2026-12-01")
HOUR = 3_600_000

# Task ids of the every-option order (ORD-1001).
CHECK_ADDRESS = "1/D1:check_address"
RESERVE_PORT = "1/D1:reserve_port"
SHIP_ONT = "1/D2:ship_ont"
INSTALL_VISIT = "1/D1:install_visit"
ACTIVATE_LINE = "1/D1:activate_line"
LINE_ACTIVE = "1/D1:line_active"
NORMALIZE = "5/D6:normalize_number"
PORT_NUMBER = "5/D6:port_number"
REQUESTED_START = "order/D9:requested_start"
START_BILLING = "order/D9:start_billing"


# ---- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def acme():
    cat = build([str(ROOT / "specs")]).catalogs[0]
    return cat, Interpreter(cat)


@pytest.fixture(scope="module")
def engine(acme):
    return C.Engine(*acme)


def load(name: str) -> dict:
    return json.loads((ORDERS / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def every_option(acme):
    cat, rules = acme
    return plan_order(cat, rules, load("new-fiber-every-option.json"))


@pytest.fixture(scope="module")
def tv_alone(acme):
    cat, rules = acme
    return plan_order(cat, rules, load("tv-alone.json"))


MINI = """
catalog mini version "1"

retry quick = fixed 2 times every 5s
retry backoff = exponential 4 times from 1s factor 3 cap 5s
retry never = none
retry stairs = staggered 1s, 2s

default retry quick
default timeout 30s

queue ops "Operations"

commercial SVC "Service" root {
  attr address_id: string required
  attr speed: int in {100, 1000} = 100
  attr price: decimal = 9.99
}

technical LINE_CFS "Line" cfs {
  attr address_id: string required
  attr speed: int required
  attr price: decimal required
  attr port_id: string optional
}

decompose D1: SVC -> LINE_CFS {
  address_id = address_id
  speed = speed
  price = price
}

system net "Network" {
  operation lookup(address_id: string) -> (carrier: string)
  operation reserve(address_id: string, speed: int) -> (port_id: string) retry backoff
  operation activate(port_id: string) async timeout 1h retry never
  operation extra(address_id: string)
  operation stair(address_id: string) retry stairs
}

plan LINE_CFS on add {
  callout lookup = net.lookup(address_id)
  callout extra = net.extra(address_id)
    after lookup
    when lookup.carrier != "acme"
  callout reserve = net.reserve(address_id, speed)
    after extra
    sets port_id = reserve.port_id
  wait cool for 1h
    after reserve
  wait start until order.requested_start_date
    when order.requested_start_date is not null
  manual check "Check the line" queue ops
    after cool, start
  callout activate = net.activate(port_id)
    after check
  callout stair = net.stair(address_id)
    after activate
  milestone done after stair
}
"""

LOOKUP, EXTRA, RESERVE, COOL, START, CHECK, ACTIVATE, STAIR, DONE = (
    f"1/D1:{n}" for n in ("lookup", "extra", "reserve", "cool", "start", "check", "activate", "stair", "done")
)


@pytest.fixture(scope="module")
def mini():
    result = check_texts({"mini.om": MINI})
    assert not [d for d in result.diagnostics if d.code.startswith("E")], [d.message for d in result.diagnostics]
    cat = lower(result.scopes[0])
    rules = Interpreter(cat)
    return cat, rules, C.Engine(cat, rules)


def mini_doc(start_date=None, order_id="M-1") -> dict:
    doc = {
        "id": order_id,
        "relatedParty": [{"id": "ACC-1", "role": "customer"}],
        "productOrderItem": [
            {
                "id": "1",
                "action": "add",
                "productOffering": {"id": "SVC"},
                "product": {"productCharacteristic": [{"name": "address_id", "value": "A-1"}, {"name": "price", "value": "19.95"}]},
            }
        ],
    }
    if start_date:
        doc["requestedStartDate"] = start_date
    return doc


def mini_start(mini, now=NOV27, start_date=None):
    cat, rules, eng = mini
    return eng.start(plan_order(cat, rules, mini_doc(start_date)), "sha-mini", now)


# ---- helpers ---------------------------------------------------------------------------------------


def calls(step) -> dict:
    """task id -> the call/python command of this step."""
    return {c.task: c for c in step.commands if c.kind in ("call", "python")}


def statuses(run) -> dict:
    return {t.id: t.status for t in run.tasks.values()}


def fake_outputs(cmd: dict) -> dict:
    if cmd.kind == "python":
        return {"e164": "+31205550101"}
    return {name: f"{name.upper()}-7" for name, _ in cmd.outputs}


class Trace:
    """Applies events one after the other, keeping every command and history entry."""

    def __init__(self, engine, step):
        self.engine = engine
        self.run = step.run
        self.commands = list(step.commands)
        self.history = list(step.history)
        self.todo = [c for c in step.commands if c.kind != "notify"]

    def apply(self, event):
        if isinstance(event, (C.CallSucceeded, C.CallFailed, C.CallAccepted)):
            self.todo = [c for c in self.todo if c.task != event.task]  # answered
        step = self.engine.handle(self.run, event)
        self.run = step.run
        self.commands += step.commands
        self.history += step.history
        self.todo += [c for c in step.commands if c.kind != "notify"]
        return step

    def answer_all(self, now, skip=()):
        """Every call and auto task answers at once (async ones by callback)."""
        while True:
            pending = [c for c in self.todo if c.task not in skip]
            if not pending:
                return
            cmd = pending[0]
            self.todo.remove(cmd)
            if getattr(cmd, "is_async", False):
                self.apply(C.CallAccepted(cmd.task, now))
                self.apply(C.CallbackReceived(cmd.key, fake_outputs(cmd), True, "", now))
            else:
                self.apply(C.CallSucceeded(cmd.task, fake_outputs(cmd), now))


def snapshot(run) -> str:
    return json.dumps(S.to_data(run), sort_keys=True)


# ---- purity and determinism -----------------------------------------------------------------------------


def scripted_events(step):
    """A fixed sequence of events for the every-option order: answers, a failure, timers, a person, a callback."""
    port_key = step.run.tasks[PORT_NUMBER].key
    return [
        C.CallSucceeded(CHECK_ADDRESS, {}, NOV27 + 1000),
        C.CallFailed(RESERVE_PORT, "503", True, NOV27 + 2000),
        C.TimePassed(NOV27 + 5000),
        C.TimePassed(NOV27 + 12_000),
        C.CallSucceeded(RESERVE_PORT, {"port_id": "PORT-00042"}, NOV27 + 13_000),
        C.CallSucceeded(SHIP_ONT, {"shipment_id": "SHP-1"}, NOV27 + 14_000),
        C.CallSucceeded(NORMALIZE, {"e164": "+31205550101"}, NOV27 + 15_000),
        C.CallAccepted(PORT_NUMBER, NOV27 + 16_000),
        C.CallbackReceived(port_key, {}, True, "", NOV27 + 17_000),
        C.CallbackReceived(port_key, {}, True, "", NOV27 + 18_000),
        C.ManualCompleted(INSTALL_VISIT, {"technician": "bob"}, "alice", NOV27 + 19_000),
        C.TimePassed(DEC01),
    ]


def test_handle_does_not_mutate_its_input(engine, every_option):
    step = engine.start(every_option, "sha-x", NOV27)
    run = step.run
    for event in scripted_events(step):
        before_json, before = snapshot(run), copy.deepcopy(run)
        after = engine.handle(run, event)
        assert run == before and snapshot(run) == before_json, event
        assert after.run is not run
        run = after.run
    # and the new state shares nothing mutable with the old one
    before = copy.deepcopy(run)
    nxt = engine.handle(run, C.TimePassed(DEC01 + 1))
    nxt.run.lines["1/D1"].values["port_id"] = "CHANGED"
    nxt.run.tasks[ACTIVATE_LINE].status = "CHANGED"
    assert run == before


def test_start_does_not_mutate_the_planned_order(engine, every_option):
    lines_before = copy.deepcopy([l.values for l in every_option.lines])
    step = engine.start(every_option, "sha-x", NOV27)
    trace = Trace(engine, step)
    trace.answer_all(NOV27 + 1)
    assert trace.run.lines["1/D1"].values["port_id"] == "PORT_ID-7"
    assert [l.values for l in every_option.lines] == lines_before
    # starting again from the same planned order gives the same step
    again = engine.start(every_option, "sha-x", NOV27)
    assert again.run == engine.start(every_option, "sha-x", NOV27).run
    assert again.commands == step.commands and again.history == step.history


def test_same_events_same_state_commands_and_history(acme, every_option):
    cat, _ = acme
    outcomes = []
    for _ in range(2):
        eng = C.Engine(cat, Interpreter(cat))  # a fresh engine and fresh rules each time
        step = eng.start(every_option, "sha-x", NOV27)
        trace = Trace(eng, step)
        for event in scripted_events(step):
            trace.apply(event)
        outcomes.append((snapshot(trace.run), json.dumps([Cmd.to_data(c) for c in trace.commands], sort_keys=True), trace.history))
    assert outcomes[0] == outcomes[1]
    assert len(outcomes[0][2]) > 40


def test_no_clock_is_read(engine, every_option, monkeypatch):
    def no_clock(*a, **kw):
        raise AssertionError("the engine core read the clock")

    class NoNowDateTime(datetime.datetime):
        now = classmethod(no_clock)
        utcnow = classmethod(no_clock)
        today = classmethod(no_clock)

    class NoNowDate(datetime.date):
        today = classmethod(no_clock)

    fake_datetime = type("fake_datetime", (), {"datetime": NoNowDateTime, "date": NoNowDate, "timezone": datetime.timezone, "timedelta": datetime.timedelta})
    for name in ("time", "time_ns", "monotonic", "monotonic_ns", "localtime", "gmtime"):
        monkeypatch.setattr(time, name, no_clock)
    monkeypatch.setattr(C, "datetime", fake_datetime)

    given = {NOV27}
    step = engine.start(every_option, "sha-x", NOV27)
    trace = Trace(engine, step)
    for event in scripted_events(step):
        given.add(event.now)
        trace.apply(event)
    monkeypatch.undo()
    assert {h["at"] for h in trace.history} <= given
    assert trace.run.created_at == NOV27 and trace.run.updated_at == DEC01
    # the wait was planned from the order's date, not from any clock
    assert trace.run.tasks[REQUESTED_START].status == S.COMPLETED
    assert trace.run.tasks[REQUESTED_START].finished_at == DEC01


# ---- dispatch order ---------------------------------------------------------------------------------------------


def test_start_runs_only_tasks_without_open_dependencies(engine, every_option):
    step = engine.start(every_option, "sha-x", NOV27)
    run = step.run
    assert run.status == S.IN_PROGRESS
    assert run.created_at == run.updated_at == NOV27
    for t in run.tasks.values():
        open_deps = [d for d in t.depends_on if run.tasks[d].status not in S.DONE]
        if open_deps:
            assert t.status == S.PENDING, t.id
        else:
            assert t.status in (S.RUNNING, S.READY, S.COMPLETED), t.id
    assert set(calls(step)) == {
        CHECK_ADDRESS,
        SHIP_ONT,
        "2/D4:ship_device",
        "3/D5:ship_device",
        "4/D5:ship_device",
        NORMALIZE,
        "6/D6:assign_number",
        "7/D8#1:ship_device",
        "7/D8#2:ship_device",
    }
    assert run.tasks[RESERVE_PORT].status == S.PENDING
    assert run.tasks[INSTALL_VISIT].status == S.PENDING
    # tasks whose `when` was false at planning are not in the run, only in the history
    assert "6/D6:port_number" not in run.tasks
    skipped = [h for h in step.history if h["to"] == S.SKIPPED]
    assert {h["subject"] for h in skipped} == {"5/D6:assign_number", "6/D6:normalize_number", "6/D6:port_number"}
    assert step.history[0] == {"at": NOV27, "subject": "order", "from": None, "to": S.ACKNOWLEDGED, "cause": "order accepted"}
    assert step.history[-1]["to"] == S.IN_PROGRESS
    # every call carries the operation, its arguments, timeout and declared outputs
    ship = calls(step)[SHIP_ONT]
    assert ship.kind == "call" and ship.system == "logistics" and ship.operation == "ship_device"
    assert ship.args == {"device_model": "XS-2426G", "shipping": "courier"}
    assert ship.timeout_ms == 30_000 and ship.attempt == 1 and ship.is_async is False
    assert ship.outputs == [["shipment_id", "string"]]
    norm = calls(step)[NORMALIZE]
    assert norm.kind == "python" and norm.target == "acme_tasks.numbers:to_e164"
    assert norm.args == {"phone_number": "+31 20 555 0101"}


def test_callouts_get_arguments_from_the_line_and_sets(engine, every_option):
    step = engine.start(every_option, "sha-x", NOV27)
    trace = Trace(engine, step)
    s = trace.apply(C.CallSucceeded(CHECK_ADDRESS, {}, NOV27 + 1))
    reserve = calls(s)[RESERVE_PORT]
    assert reserve.args == {"address_id": "ADDR-7731", "down_mbps": 1000}
    assert reserve.system == "inventory" and reserve.operation == "reserve_port"

    s = trace.apply(C.CallSucceeded(RESERVE_PORT, {"port_id": "PORT-00042"}, NOV27 + 2))
    assert trace.run.lines["1/D1"].values["port_id"] == "PORT-00042"
    assert {"at": NOV27 + 2, "subject": "1/D1", "from": None, "to": None, "cause": "line attributes set: port_id"} in s.history
    assert trace.run.tasks[RESERVE_PORT].outputs == {"port_id": "PORT-00042"}
    # install_visit also waits for the ONT in the same bundle
    assert trace.run.tasks[INSTALL_VISIT].status == S.PENDING
    assert s.commands == []

    s = trace.apply(C.CallSucceeded(SHIP_ONT, {"shipment_id": "SHP-9"}, NOV27 + 3))
    assert trace.run.tasks[INSTALL_VISIT].status == S.READY  # a manual task waits for a person
    assert s.commands == []

    s = trace.apply(C.ManualCompleted(INSTALL_VISIT, {}, "alice", NOV27 + 4))
    activate = calls(s)[ACTIVATE_LINE]
    assert activate.args == {"port_id": "PORT-00042", "down_mbps": 1000, "up_mbps": 1000, "technology": "XGS-PON"}

    s = trace.apply(C.CallSucceeded(ACTIVATE_LINE, {}, NOV27 + 5))
    # the milestone completes at once, and what waited for it starts
    assert trace.run.tasks[LINE_ACTIVE].status == S.COMPLETED
    moves = [(h["subject"], h["from"], h["to"]) for h in s.history]
    assert (LINE_ACTIVE, S.PENDING, S.READY) in moves and (LINE_ACTIVE, S.READY, S.COMPLETED) in moves
    assert {"1/D3:assign_ip", "7/D7:activate_iptv"} <= set(calls(s))
    assert calls(s)["7/D7:activate_iptv"].args == {"channel_package": "premium", "stb_count": 2}


def test_idempotency_keys_are_stable(engine, every_option):
    step = engine.start(every_option, "sha-x", NOV27)
    first = calls(step)[CHECK_ADDRESS]
    assert first.key == f"ORD-1001:{CHECK_ADDRESS}:1" == step.run.tasks[CHECK_ADDRESS].key
    keys = [t.key for t in step.run.tasks.values()]
    assert len(set(keys)) == len(keys)
    failed = engine.handle(step.run, C.CallFailed(CHECK_ADDRESS, "503", True, NOV27 + 1))
    retried = engine.handle(failed.run, C.TimePassed(NOV27 + 1 + 10_000))
    again = calls(retried)[CHECK_ADDRESS]
    assert again.key == first.key
    assert again.attempt == 2 and again.args == first.args
    # another start of the same order gives the same keys
    assert calls(engine.start(every_option, "sha-x", NOV27 + 99))[CHECK_ADDRESS].key == first.key


# ---- retries ----------------------------------------------------------------------------------------------------


def test_acme_standard_retry_then_fatally_failed_and_held(engine, every_option):
    step = engine.start(every_option, "sha-x", NOV27)
    trace = Trace(engine, step)
    now = NOV27
    for attempt, delay in ((1, 10_000), (2, 60_000), (3, 600_000)):
        now += 1000
        s = trace.apply(C.CallFailed(CHECK_ADDRESS, "503 service unavailable", True, now))
        task = trace.run.tasks[CHECK_ADDRESS]
        assert task.status == S.FAILED and task.attempts == attempt and task.error == "503 service unavailable"
        assert task.next_at == now + delay
        assert engine.next_timer(trace.run) == min(now + delay, DEC01)
        assert s.history[-1]["cause"] == f"503 service unavailable; retry {attempt} of the policy in {delay // 1000} s"
        assert trace.run.status == S.IN_PROGRESS
        # not yet due: nothing happens
        early = trace.apply(C.TimePassed(now + delay - 1))
        assert early.commands == [] and trace.run.tasks[CHECK_ADDRESS].status == S.FAILED
        now += delay
        due = trace.apply(C.TimePassed(now))
        assert [c.task for c in due.commands] == [CHECK_ADDRESS]
        assert due.commands[0].attempt == attempt + 1
        assert trace.run.tasks[CHECK_ADDRESS].status == S.RUNNING and trace.run.tasks[CHECK_ADDRESS].next_at is None
        assert (CHECK_ADDRESS, S.FAILED, S.RUNNING, f"attempt {attempt + 1} (retry)") in [(h["subject"], h["from"], h["to"], h["cause"]) for h in due.history]
    s = trace.apply(C.CallFailed(CHECK_ADDRESS, "503 service unavailable", True, now + 1))
    task = trace.run.tasks[CHECK_ADDRESS]
    assert task.status == S.FATALLY_FAILED and task.attempts == 4
    assert "no retry left after 4 attempts" in s.history[0]["cause"]
    assert trace.run.status == S.HELD
    assert s.history[-1] == {"at": now + 1, "subject": "order", "from": S.IN_PROGRESS, "to": S.HELD, "cause": "a task fatally failed: an operator must act"}
    (event,) = [c.event for c in s.commands if c.kind == "notify"]  # held is not final, but a state change
    assert event["eventType"] == "ProductOrderStateChangeEvent" and event["order"]["state"] == S.HELD
    assert engine.waiting_for(trace.run, task) == "fatally failed: 503 service unavailable"
    # the rest of the order goes on while it is held
    s = trace.apply(C.CallSucceeded(SHIP_ONT, {"shipment_id": "S"}, now + 2))
    assert trace.run.status == S.HELD and trace.run.tasks[SHIP_ONT].status == S.COMPLETED
    # and a later timer does not bring the dead task back
    trace.apply(C.TimePassed(now + 10 * HOUR))
    assert trace.run.tasks[CHECK_ADDRESS].status == S.FATALLY_FAILED


def test_non_retryable_failure_is_fatal_at_once(engine, every_option):
    step = engine.start(every_option, "sha-x", NOV27)
    s = engine.handle(step.run, C.CallFailed(CHECK_ADDRESS, "400 no such address", False, NOV27 + 5))
    task = s.run.tasks[CHECK_ADDRESS]
    assert task.status == S.FATALLY_FAILED and task.attempts == 1 and task.next_at is None
    assert s.history[0] == {"at": NOV27 + 5, "subject": CHECK_ADDRESS, "from": S.RUNNING, "to": S.FATALLY_FAILED, "cause": "400 no such address (not retryable)"}
    assert s.run.status == S.HELD
    # its dependants never start
    assert s.run.tasks[RESERVE_PORT].status == S.PENDING
    assert engine.waiting_for(s.run, s.run.tasks[RESERVE_PORT]) == f"waiting for {CHECK_ADDRESS} (fatallyFailed)"


def test_policy_kinds_drive_the_engine(mini):
    _, _, eng = mini
    step = mini_start(mini)
    trace = Trace(eng, step)
    trace.apply(C.CallSucceeded(LOOKUP, {"carrier": "acme"}, NOV27 + 1))
    # exponential 4 times from 1s factor 3 cap 5s: 1 s, 3 s, 5 s, 5 s, then fatal
    now = NOV27 + 1
    for delay in (1000, 3000, 5000, 5000):
        trace.apply(C.CallFailed(RESERVE, "busy", True, now))
        assert trace.run.tasks[RESERVE].next_at == now + delay
        now += delay
        assert calls(trace.apply(C.TimePassed(now)))[RESERVE].attempt == trace.run.tasks[RESERVE].attempts
    s = trace.apply(C.CallFailed(RESERVE, "busy", True, now))
    assert trace.run.tasks[RESERVE].status == S.FATALLY_FAILED and trace.run.tasks[RESERVE].attempts == 5
    assert "no retry left after 5 attempts" in s.history[0]["cause"]


def test_retry_none_fails_at_the_first_failure(mini):
    _, _, eng = mini
    trace = Trace(eng, mini_start(mini))
    trace.apply(C.CallSucceeded(LOOKUP, {"carrier": "acme"}, NOV27 + 1))
    trace.apply(C.CallSucceeded(RESERVE, {"port_id": "P-1"}, NOV27 + 2))
    trace.apply(C.TimePassed(NOV27 + 2 + HOUR))
    trace.apply(C.ManualCompleted(CHECK, {}, "bob", NOV27 + 3 + HOUR))
    assert trace.run.tasks[ACTIVATE].status == S.RUNNING
    s = trace.apply(C.CallFailed(ACTIVATE, "timeout", True, NOV27 + 4 + HOUR))
    assert trace.run.tasks[ACTIVATE].status == S.FATALLY_FAILED
    assert s.history[0]["cause"] == "timeout (no retry left after 1 attempt)"
    assert trace.run.status == S.HELD


def test_staggered_policy_in_the_engine(mini):
    _, _, eng = mini
    trace = Trace(eng, mini_start(mini))
    trace.apply(C.CallSucceeded(LOOKUP, {"carrier": "acme"}, NOV27 + 1))
    trace.apply(C.CallSucceeded(RESERVE, {"port_id": "P-1"}, NOV27 + 2))
    trace.apply(C.TimePassed(NOV27 + 2 + HOUR))
    trace.apply(C.ManualCompleted(CHECK, {}, "bob", NOV27 + 3 + HOUR))
    trace.answer_all(NOV27 + 4 + HOUR, skip={STAIR})
    now = NOV27 + 5 + HOUR
    for delay in (1000, 2000):
        trace.apply(C.CallFailed(STAIR, "x", True, now))
        assert trace.run.tasks[STAIR].next_at == now + delay
        now += delay
        trace.apply(C.TimePassed(now))
    trace.apply(C.CallFailed(STAIR, "x", True, now))
    assert trace.run.tasks[STAIR].status == S.FATALLY_FAILED and trace.run.tasks[STAIR].attempts == 3


def test_lowered_policies(mini):
    cat, _, _ = mini
    policies = {p.name: p.retry for p in cat.plans[0].items if p.retry is not None}
    assert policies["lookup"] == RetryPolicyDef("fixed", 2, (5000,))
    assert policies["reserve"] == RetryPolicyDef("exponential", 4, (1000,), "3", 5000)
    assert policies["activate"].kind == "none"
    assert policies["stair"] == RetryPolicyDef("staggered", 2, (1000, 2000))


@pytest.mark.parametrize(
    "policy, expected",
    [
        (None, [None, None]),
        (RetryPolicyDef("none"), [None, None]),
        (RetryPolicyDef("fixed", 3, (30_000,)), [30_000, 30_000, 30_000, None]),
        (RetryPolicyDef("fixed", None, (300_000,)), [300_000] * 50),  # forever
        (RetryPolicyDef("staggered", 3, (10_000, 60_000, 600_000)), [10_000, 60_000, 600_000, None]),
        (RetryPolicyDef("exponential", 5, (1000,), "2", 600_000), [1000, 2000, 4000, 8000, 16_000, None]),
        (RetryPolicyDef("exponential", 5, (1000,), "2", 5000), [1000, 2000, 4000, 5000, 5000, None]),
        (RetryPolicyDef("exponential", 4, (1000,), "1.5", None), [1000, 1500, 2250, 3375, None]),
        (RetryPolicyDef("exponential", 3, (1000,), None, None), [1000, 2000, 4000, None]),  # factor 2 by default
    ],
)
def test_retry_delay(policy, expected):
    assert [retry_delay(policy, n) for n in range(1, len(expected) + 1)] == expected
    assert retry_delay(policy, 0) is None


# ---- asynchronous operations and callbacks ----------------------------------------------------------------------


def _at_port_number(engine, every_option):
    step = engine.start(every_option, "sha-x", NOV27)
    s = engine.handle(step.run, C.CallSucceeded(NORMALIZE, {"e164": "+31205550101"}, NOV27 + 1))
    cmd = calls(s)[PORT_NUMBER]
    assert cmd.is_async is True and cmd.args == {"phone_number": "+31205550101"}  # what normalize_number set
    assert cmd.timeout_ms == 2 * 86_400_000
    return s.run, cmd


def test_callback_completes_an_accepted_call(engine, every_option):
    run, cmd = _at_port_number(engine, every_option)
    s = engine.handle(run, C.CallAccepted(PORT_NUMBER, NOV27 + 2))
    assert s.run.tasks[PORT_NUMBER].status == S.RUNNING
    assert s.commands == []
    assert s.history == [{"at": NOV27 + 2, "subject": PORT_NUMBER, "from": S.RUNNING, "to": S.RUNNING, "cause": "acknowledged: waiting for the callback"}]
    assert engine.waiting_for(s.run, s.run.tasks[PORT_NUMBER]) == "waiting for the callback, until 2026-11-29T00:00:00Z"  # the 2d timeout
    done = engine.handle(s.run, C.CallbackReceived(cmd.key, {"ref": "PORT-REQ-1"}, True, "", NOV27 + 3))
    task = done.run.tasks[PORT_NUMBER]
    # port_number declares no outputs: what the answer carries beyond the declared outputs is dropped.
    assert task.status == S.COMPLETED and task.outputs == {} and task.finished_at == NOV27 + 3
    assert done.history[0]["cause"] == "callback received"


@pytest.mark.parametrize("kind", ["duplicate", "unknown"])
def test_duplicate_or_unknown_callback_changes_nothing(engine, every_option, kind):
    run, cmd = _at_port_number(engine, every_option)
    run = engine.handle(run, C.CallAccepted(PORT_NUMBER, NOV27 + 2)).run
    run = engine.handle(run, C.CallbackReceived(cmd.key, {}, True, "", NOV27 + 3)).run
    key = cmd.key if kind == "duplicate" else "ORD-1001:no-such-call:1"
    s = engine.handle(run, C.CallbackReceived(key, {"other": 1}, True, "", NOV27 + 4))
    assert s.commands == []
    assert s.run.tasks == run.tasks and s.run.lines == run.lines and s.run.status == run.status
    assert len(s.history) == 1
    h = s.history[0]
    assert h["from"] is None and h["to"] is None and h["at"] == NOV27 + 4
    if kind == "duplicate":
        assert h["subject"] == PORT_NUMBER
        assert h["cause"] == f"callback {key} ignored: for {PORT_NUMBER}, which is completed"
    else:
        assert h["subject"] == "order"
        assert h["cause"] == f"callback {key} ignored: unknown"


def test_failed_callback_is_fatal(engine, every_option):
    run, cmd = _at_port_number(engine, every_option)
    run = engine.handle(run, C.CallAccepted(PORT_NUMBER, NOV27 + 2)).run
    s = engine.handle(run, C.CallbackReceived(cmd.key, {}, False, "number not portable", NOV27 + 3))
    assert s.run.tasks[PORT_NUMBER].status == S.FATALLY_FAILED
    assert s.run.tasks[PORT_NUMBER].error == "number not portable"
    assert s.run.status == S.HELD


def test_accepted_call_has_a_deadline(engine, every_option):
    run, cmd = _at_port_number(engine, every_option)
    s = engine.handle(run, C.CallAccepted(PORT_NUMBER, NOV27 + 2))
    assert engine.next_timer(s.run) == NOV27 + 2 + cmd.timeout_ms


# ---- manual tasks -----------------------------------------------------------------------------------------------------


def test_manual_completion(engine, every_option):
    step = engine.start(every_option, "sha-x", NOV27)
    # not ready yet: it waits for reserve_port and ship_ont
    with pytest.raises(C.Rejection, match=r"task 1/D1:install_visit of order ORD-1001 is pending, not ready"):
        engine.handle(step.run, C.ManualCompleted(INSTALL_VISIT, {}, "alice", NOV27 + 1))
    trace = Trace(engine, step)
    trace.apply(C.CallSucceeded(CHECK_ADDRESS, {}, NOV27 + 1))
    trace.apply(C.CallSucceeded(RESERVE_PORT, {"port_id": "P"}, NOV27 + 2))
    trace.apply(C.CallSucceeded(SHIP_ONT, {"shipment_id": "S"}, NOV27 + 3))
    task = trace.run.tasks[INSTALL_VISIT]
    assert task.status == S.READY and task.queue == "field_ops" and task.started_at == NOV27 + 3
    assert engine.waiting_for(trace.run, task) == "waiting for a person in queue field_ops"
    data = {"technician": "bob", "minutes": 45}
    s = trace.apply(C.ManualCompleted(INSTALL_VISIT, data, "alice", NOV27 + 4))
    data["technician"] = "mallory"  # the state keeps its own copy
    task = trace.run.tasks[INSTALL_VISIT]
    assert task.status == S.COMPLETED and task.outputs == {"technician": "bob", "minutes": 45}
    assert s.history[0] == {"at": NOV27 + 4, "subject": INSTALL_VISIT, "from": S.READY, "to": S.COMPLETED, "cause": "completed by alice"}
    # twice: it is no longer open
    with pytest.raises(C.Rejection, match="is completed, not ready"):
        engine.handle(trace.run, C.ManualCompleted(INSTALL_VISIT, {}, "alice", NOV27 + 5))


def test_manual_completion_rejects_other_tasks(engine, every_option):
    step = engine.start(every_option, "sha-x", NOV27)
    with pytest.raises(C.Rejection, match="is running, not ready"):
        engine.handle(step.run, C.ManualCompleted(CHECK_ADDRESS, {}, "alice", NOV27 + 1))
    with pytest.raises(C.Rejection, match="order ORD-1001 has no task 1/D1:nope"):
        engine.handle(step.run, C.ManualCompleted("1/D1:nope", {}, "alice", NOV27 + 1))
    # a callout that is ready (as a stored state may say) is still not a manual task
    run = copy.deepcopy(step.run)
    run.tasks[CHECK_ADDRESS].status = S.READY
    before = copy.deepcopy(run)
    with pytest.raises(C.Rejection, match="1/D1:check_address is a callout, not a manual task"):
        engine.handle(run, C.ManualCompleted(CHECK_ADDRESS, {}, "alice", NOV27 + 1))
    assert run == before
    # other events for tasks that are not running are rejected too
    with pytest.raises(C.Rejection, match="is pending, not running"):
        engine.handle(step.run, C.CallSucceeded(RESERVE_PORT, {}, NOV27 + 1))
    with pytest.raises(C.Rejection):
        engine.handle(step.run, C.CallFailed(INSTALL_VISIT, "x", True, NOV27 + 1))


# ---- waits -------------------------------------------------------------------------------------------------------------------


def test_wait_until_a_future_date(engine, every_option):
    step = engine.start(every_option, "sha-x", NOV27)
    task = step.run.tasks[REQUESTED_START]
    # requestedStartDate 2026-12-01T09:00:00Z: the wait ends at 00:00 UTC of that day
    assert task.status == S.RUNNING and task.next_at == DEC01 == C.epoch_ms(datetime.date(2026, 12, 1))
    assert engine.waiting_for(step.run, task) == "waiting until 2026-12-01T00:00:00Z"
    early = engine.handle(step.run, C.TimePassed(DEC01 - 1))
    assert early.run.tasks[REQUESTED_START].status == S.RUNNING and early.commands == []
    due = engine.handle(early.run, C.TimePassed(DEC01))
    t = due.run.tasks[REQUESTED_START]
    assert t.status == S.COMPLETED and t.next_at is None and t.finished_at == DEC01
    assert due.history[0]["cause"] == "the wait is over"


def test_wait_until_a_past_date_completes_at_once(mini):
    step = mini_start(mini, now=NOV27, start_date="2026-11-01")
    task = step.run.tasks[START]
    assert task.status == S.COMPLETED and task.next_at is None
    moves = [(h["from"], h["to"], h["cause"]) for h in step.history if h["subject"] == START]
    assert moves == [(S.PENDING, S.RUNNING, "waiting"), (S.RUNNING, S.COMPLETED, "the date has come")]
    # today (already past 00:00 UTC) counts as come too
    assert mini_start(mini, now=NOV27 + 5 * HOUR, start_date="2026-11-27").run.tasks[START].status == S.COMPLETED
    future = mini_start(mini, now=NOV27, start_date="2026-11-28")
    assert future.run.tasks[START].next_at == parse_instant("2026-11-28")
    # without a date, its `when` skips it at planning
    assert START not in mini_start(mini).run.tasks


def test_wait_for_a_duration(mini):
    _, _, eng = mini
    trace = Trace(eng, mini_start(mini))
    trace.apply(C.CallSucceeded(LOOKUP, {"carrier": "acme"}, NOV27 + 1))
    trace.apply(C.CallSucceeded(RESERVE, {"port_id": "P-1"}, NOV27 + 7))
    cool = trace.run.tasks[COOL]
    assert cool.status == S.RUNNING and cool.next_at == NOV27 + 7 + HOUR
    assert eng.next_timer(trace.run) == NOV27 + 7 + HOUR
    trace.apply(C.TimePassed(NOV27 + 6 + HOUR))
    assert trace.run.tasks[COOL].status == S.RUNNING
    assert trace.run.tasks[CHECK].status == S.PENDING
    trace.apply(C.TimePassed(NOV27 + 7 + HOUR))
    assert trace.run.tasks[COOL].status == S.COMPLETED
    assert trace.run.tasks[CHECK].status == S.READY
    assert eng.next_timer(trace.run) is None


# ---- runtime `when` ---------------------------------------------------------------------------------------------------------


def test_runtime_when_false_skips_and_dependants_proceed(mini):
    _, _, eng = mini
    step = mini_start(mini)
    assert step.run.tasks[EXTRA].status == S.PENDING  # its `when` reads an output: decided at run time
    s = eng.handle(step.run, C.CallSucceeded(LOOKUP, {"carrier": "acme"}, NOV27 + 1))
    assert s.run.tasks[EXTRA].status == S.SKIPPED
    assert (EXTRA, S.PENDING, S.SKIPPED, "its condition is false") in [(h["subject"], h["from"], h["to"], h["cause"]) for h in s.history]
    assert set(calls(s)) == {RESERVE}
    assert calls(s)[RESERVE].args == {"address_id": "A-1", "speed": 100}


def test_runtime_when_true_runs_the_task(mini):
    _, _, eng = mini
    s = eng.handle(mini_start(mini).run, C.CallSucceeded(LOOKUP, {"carrier": "other"}, NOV27 + 1))
    assert s.run.tasks[EXTRA].status == S.RUNNING
    assert set(calls(s)) == {EXTRA}
    assert s.run.tasks[RESERVE].status == S.PENDING


# ---- roll-up -------------------------------------------------------------------------------------------------------------------


def test_all_done_completes_the_order_with_one_notification(engine, tv_alone):
    step = engine.start(tv_alone, "sha-x", NOV27)
    trace = Trace(engine, step)
    trace.answer_all(NOV27 + 1)
    assert trace.run.status == S.ORDER_COMPLETED
    assert all(t.status in S.DONE for t in trace.run.tasks.values())
    notify = [c for c in trace.commands if c.kind == "notify"]
    assert [(c.key, c.event["eventType"], c.event["order"]["state"]) for c in notify] == [
        ("ORD-1002:event:1", "ProductOrderCreateEvent", "acknowledged"),
        ("ORD-1002:event:2", "ProductOrderStateChangeEvent", "inProgress"),
        ("ORD-1002:event:3", "ProductOrderStateChangeEvent", "completed"),
    ]
    assert notify[-1].event == {  # the facts of the event, as of then: the driver sends them in TMF622's shape
        "eventId": "ORD-1002:event:3",
        "eventTime": "2026-11-27T00:00:00Z",
        "eventType": "ProductOrderStateChangeEvent",
        "order": {
            "id": "ORD-1002", "externalId": "CPQ-88240", "state": "completed", "orderDate": "2026-11-27T00:00:00Z", "completionDate": "2026-11-27T00:00:00Z", "version": "v4",
            "items": [{"id": "1", "action": "add", "state": "completed", "asset": "AST-ORD-1002-1"}],
        },
    }
    assert trace.history[-1] == {"at": NOV27 + 1, "subject": "order", "from": S.IN_PROGRESS, "to": S.ORDER_COMPLETED, "cause": "every task is completed or skipped"}
    # a final order takes no further events
    for event in (C.TimePassed(NOV27 + 2), C.CallbackReceived("x", {}, True, "", NOV27 + 2), C.ManualCompleted("1/D7:activate_iptv", {}, "a", NOV27 + 2)):
        with pytest.raises(C.Rejection, match="order ORD-1002 is completed"):
            engine.handle(trace.run, event)


def test_every_option_order_runs_to_completion(engine, every_option):
    step = engine.start(every_option, "sha-x", NOV27)
    trace = Trace(engine, step)
    trace.answer_all(NOV27 + 1)
    assert trace.run.status == S.IN_PROGRESS
    open_tasks = {t.id: t.status for t in trace.run.tasks.values() if t.status not in S.DONE}
    assert open_tasks[INSTALL_VISIT] == S.READY and open_tasks[REQUESTED_START] == S.RUNNING
    assert all(s == S.PENDING for k, s in open_tasks.items() if k not in (INSTALL_VISIT, REQUESTED_START))
    trace.apply(C.ManualCompleted(INSTALL_VISIT, {}, "alice", NOV27 + 2))
    trace.answer_all(NOV27 + 3)
    # billing waits for the requested start date
    assert trace.run.tasks[START_BILLING].status == S.PENDING
    assert set(statuses(trace.run).values()) == {S.COMPLETED, S.PENDING, S.RUNNING}
    trace.apply(C.TimePassed(DEC01))
    trace.answer_all(DEC01)
    assert trace.run.status == S.ORDER_COMPLETED
    assert len([c for c in trace.commands if c.kind == "notify" and c.event["order"]["state"] == S.ORDER_COMPLETED]) == 1
    assert trace.run.lines["5/D6"].values["phone_number"] == "+31205550101"
    assert trace.run.lines["6/D6"].values["phone_number"] == "PHONE_NUMBER-7"
    # every task transition that happened is in the history, in order
    last = {t: S.PENDING for t in trace.run.tasks}
    for h in trace.history:
        if h["subject"] in trace.run.tasks and h["to"] is not None:
            assert last[h["subject"]] == h["from"], h
            last[h["subject"]] = h["to"]
    assert last == statuses(trace.run)


def test_held_order_still_completes_tasks_but_never_notifies(engine, tv_alone):
    step = engine.start(tv_alone, "sha-x", NOV27)
    trace = Trace(engine, step)
    trace.apply(C.CallFailed("1/D7:activate_iptv", "bad", False, NOV27 + 1))
    trace.answer_all(NOV27 + 2)
    assert trace.run.status == S.HELD
    assert trace.run.tasks["order/D9:start_billing"].status == S.PENDING
    assert not [c for c in trace.commands if c.kind == "notify" and c.event["order"]["state"] == S.ORDER_COMPLETED]
    trace.apply(C.TimePassed(NOV27 + 10 * HOUR))  # a held order still takes events
    assert trace.run.status == S.HELD


# ---- state JSON ---------------------------------------------------------------------------------------------------------------


def test_state_json_round_trip_keeps_decimals_and_dates(mini):
    _, _, eng = mini
    step = mini_start(mini, start_date="2026-12-01")
    trace = Trace(eng, step)
    trace.apply(C.CallSucceeded(LOOKUP, {"carrier": "acme", "fee": Decimal("1.50"), "on": datetime.date(2026, 11, 30)}, NOV27 + 1))
    run = trace.run
    assert run.lines["1/D1"].values["price"] == Decimal("19.95")
    assert run.fields["requested_start_date"] == datetime.date(2026, 12, 1)
    text = json.dumps(S.to_data(run))  # plain JSON, no default= needed
    data = json.loads(text)
    assert data["lines"]["1/D1"]["values"]["price"] == {"$decimal": "19.95"}
    assert data["fields"]["requested_start_date"] == {"$date": "2026-12-01"}
    back = S.from_data(data)
    assert back == run
    assert isinstance(back.lines["1/D1"].values["price"], Decimal)
    assert isinstance(back.fields["requested_start_date"], datetime.date)
    assert back.tasks[LOOKUP].outputs == {"carrier": "acme"}  # undeclared outputs are dropped
    assert list(back.tasks) == list(run.tasks)
    assert all(isinstance(t, S.TaskRun) for t in back.tasks.values())
    assert all(isinstance(l, S.LineRun) for l in back.lines.values())
    # the restored state runs on exactly like the original
    a = eng.handle(run, C.CallSucceeded(RESERVE, {"port_id": "P-1"}, NOV27 + 2))
    b = eng.handle(back, C.CallSucceeded(RESERVE, {"port_id": "P-1"}, NOV27 + 2))
    assert a.run == b.run and a.commands == b.commands and a.history == b.history


def test_state_json_round_trip_of_a_full_acme_order(engine, every_option):
    step = engine.start(every_option, "sha-x", NOV27)
    trace = Trace(engine, step)
    trace.apply(C.CallFailed(SHIP_ONT, "503", True, NOV27 + 1))
    trace.answer_all(NOV27 + 2, skip={SHIP_ONT})
    assert trace.run.tasks[SHIP_ONT].next_at == NOV27 + 1 + 10_000
    back = S.from_data(json.loads(json.dumps(S.to_data(trace.run))))
    assert back == trace.run
    assert back.tasks[SHIP_ONT].error == "503" and back.tasks[SHIP_ONT].next_at == NOV27 + 1 + 10_000
    assert engine.next_timer(back) == engine.next_timer(trace.run)
    assert back.items[0] == S.ItemRecord("1", "HOME_FIBER", "add", None, trace.run.items[0].values, None)
    assert back.external_id == "CPQ-88213" and back.catalog == "sha-x"


# ---- waiting_for ----------------------------------------------------------------------------------------------------------------


def test_waiting_for_explains_each_open_task(engine, every_option):
    step = engine.start(every_option, "sha-x", NOV27)
    run = step.run
    why = {t.id: engine.waiting_for(run, t) for t in run.tasks.values()}
    assert why[RESERVE_PORT] == f"waiting for {CHECK_ADDRESS} (running)"
    assert why[INSTALL_VISIT] == f"waiting for {RESERVE_PORT} (pending), {SHIP_ONT} (running)"
    assert why[CHECK_ADDRESS] == "waiting for the system to answer"
    assert why[REQUESTED_START] == "waiting until 2026-12-01T00:00:00Z"
    failed = engine.handle(run, C.CallFailed(CHECK_ADDRESS, "503", True, NOV27 + 1000))
    assert engine.waiting_for(failed.run, failed.run.tasks[CHECK_ADDRESS]) == "retry due at 2026-11-27T00:00:11Z"
    done = engine.handle(run, C.CallSucceeded(CHECK_ADDRESS, {}, NOV27 + 1))
    assert engine.waiting_for(done.run, done.run.tasks[CHECK_ADDRESS]) is None
    assert engine.waiting_for(done.run, done.run.tasks[INSTALL_VISIT]) == f"waiting for {RESERVE_PORT} (running), {SHIP_ONT} (running)"


def test_next_timer(engine, every_option):
    step = engine.start(every_option, "sha-x", NOV27)
    assert engine.next_timer(step.run) == DEC01
    failed = engine.handle(step.run, C.CallFailed(SHIP_ONT, "503", True, NOV27 + 5))
    assert engine.next_timer(failed.run) == NOV27 + 5 + 10_000


def test_an_answer_must_carry_the_declared_outputs(engine, every_option):
    """reserve_port declares `port_id: string`: an answer without it, or of another type, fails the task."""
    step = engine.start(every_option, "sha-x", NOV27)
    run = engine.handle(step.run, C.CallSucceeded("1/D1:check_address", {}, NOV27 + 1)).run
    bad = engine.handle(run, C.CallSucceeded("1/D1:reserve_port", {"port": "P-1"}, NOV27 + 2)).run
    task = bad.tasks["1/D1:reserve_port"]
    assert task.status == S.FATALLY_FAILED and "the answer does not fit the plan: no `port_id`" in task.error
    assert bad.lines["1/D1"].values["port_id"] is None  # nothing was written onto the line
    typed = engine.handle(run, C.CallSucceeded("1/D1:reserve_port", {"port_id": 7}, NOV27 + 2)).run
    assert "`port_id` = 7 is not a string" in typed.tasks["1/D1:reserve_port"].error
    good = engine.handle(run, C.CallSucceeded("1/D1:reserve_port", {"port_id": "P-1", "extra": 1}, NOV27 + 2)).run
    assert good.tasks["1/D1:reserve_port"].outputs == {"port_id": "P-1"} and good.lines["1/D1"].values["port_id"] == "P-1"


@pytest.mark.parametrize("name", ["new-fiber-every-option.json", "fiber-tv-ported-phone.json", "fiber-minimal.json", "tv-alone.json"])
def test_an_order_started_from_its_plan_snapshot_is_the_same_order(name):
    """A Temporal workflow starts from the plan as plain JSON: the run, its first commands and history must be exactly those of the planned order."""
    import json as _json

    from om_dsl.engine import core as C
    from om_dsl.engine import state as S
    from om_dsl.planning.intake import parse_document
    from om_dsl.planning.pipeline import plan_order
    from om_dsl.rules.generated import GeneratedRules

    from support import ROOT

    rules = GeneratedRules(ROOT / "generated" / "acme")
    planned = plan_order(rules.catalog, rules, parse_document((ROOT / "examples" / "orders" / name).read_text()), "O-1")
    direct = C.Engine(rules.catalog, rules).start(planned, "sha", 1_000)
    snapshot = _json.loads(_json.dumps(C.plan_snapshot(planned, "O-1")))
    again = C.Engine(rules.catalog, rules).start_snapshot(snapshot, "O-1", "sha", 1_000)
    assert S.to_data(again.run) == S.to_data(direct.run)
    assert again.commands == direct.commands and again.history == direct.history


def test_every_event_has_its_handler():
    """Events go to their handlers through a table: an event class without an entry would be a TypeError at run time."""
    import attrs as _attrs

    from om_dsl.engine import events

    classes = [v for v in vars(events).values() if isinstance(v, type) and _attrs.has(v) and "now" in _attrs.fields_dict(v)]
    assert len(classes) >= 13
    assert set(classes) == set(C.Engine._HANDLERS)
    assert all(callable(h) and getattr(C.Engine, h.__name__) is h for h in C.Engine._HANDLERS.values())


def test_the_engine_core_modules_do_no_io_and_read_no_clock():
    """The core is pure: its modules import nothing that does I/O or reads the clock, and nothing of the stages before planning or after the engine."""
    import ast

    import om_dsl.engine

    forbidden = {"os", "io", "sys", "time", "random", "socket", "sqlite3", "subprocess", "threading", "asyncio", "urllib", "http", "pathlib", "shutil", "lark", "temporalio"}
    forbidden_om = ("om_dsl.syntax", "om_dsl.check", "om_dsl.codegen", "om_dsl.embedded", "om_dsl.systems", "om_dsl.simulate", "om_dsl.temporal", "om_dsl.cli", "om_dsl.runtime")
    clock = {"now", "utcnow", "today", "time", "monotonic"}
    folder = Path(om_dsl.engine.__file__).parent
    modules = sorted(folder.glob("*.py"))
    assert {"core.py", "events.py", "amend.py", "cancel.py", "timers.py"} <= {p.name for p in modules}
    for path in modules:
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for name in names:
                assert name.split(".")[0] not in forbidden and not name.startswith(forbidden_om), f"{path.name} imports {name}"
            if isinstance(node, ast.Attribute) and node.attr in clock:  # datetime.datetime.now(), date.today()... (not event.now)
                owner = getattr(node.value, "id", None) or getattr(node.value, "attr", None)
                assert owner not in ("datetime", "date", "time"), f"{path.name}:{node.lineno} reads the clock ({owner}.{node.attr})"
