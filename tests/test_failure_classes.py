"""Failures by class: what the adapters report (a real HTTP simulator on
127.0.0.1, an auto task that raises), and how a retry policy's `for` and
`fatal` classes decide over the system's own word."""

from __future__ import annotations

import socket

import pytest

from om_dsl.engine.retry import failure_matches, retry_verdict
from om_dsl.model.catalog import RetryPolicyDef
from om_dsl.rules.generated import GeneratedRules
from om_dsl.simulate.server import SimulatorServer
from om_dsl.simulate.simulators import Simulators
from om_dsl.systems.adapters import HttpSystem, PythonTasks
from om_dsl.systems.config import SystemConfig

from support import ROOT

PORT_ARGS = {"address_id": "ADDR-1", "down_mbps": 500}
OUTPUTS = [["port_id", "string"]]


@pytest.fixture
def simulator(tmp_path):
    catalog = GeneratedRules(ROOT / "generated" / "acme").catalog
    server = SimulatorServer(catalog, str(tmp_path / "systems.db"), port=0, faults={"inventory.reserve_port": "status:409:1", "inventory.check_address": "hang"}).start()
    yield server
    server.stop()


def http_system(url: str, timeout_ms: int = 5000) -> HttpSystem:
    return HttpSystem(SystemConfig("inventory", "http", base_url=url, timeout_ms=timeout_ms), None)


def test_the_http_adapter_reports_the_status_the_timeout_and_the_unreachable(simulator):
    refused = http_system(simulator.url).call("reserve_port", PORT_ARGS, "k-1", OUTPUTS, False, None)
    assert (refused.status, refused.failure, refused.retryable) == ("error", "409", False)
    again = http_system(simulator.url).call("reserve_port", PORT_ARGS, "k-1", OUTPUTS, False, None)
    assert again.status == "ok"  # the fault answered the first attempt only
    slow = http_system(simulator.url, timeout_ms=300).call("check_address", {"address_id": "ADDR-1"}, "k-2", [], False, None)
    assert (slow.status, slow.failure, slow.retryable) == ("error", "timeout", True)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gone = http_system(f"http://127.0.0.1:{port}").call("reserve_port", PORT_ARGS, "k-3", OUTPUTS, False, None)
    assert (gone.status, gone.failure, gone.retryable) == ("error", "unreachable", True)


def test_an_auto_task_that_raises_is_an_error_and_the_simulators_inject_a_class(tmp_path):
    package = tmp_path / "fc_tasks"  # a task package: only those are called (json:loads would be refused)
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "steps.py").write_text("def boom():\n    raise ValueError('no')\n")
    raised = PythonTasks((str(tmp_path),)).call("fc_tasks.steps:boom", {}, "k-1")
    assert (raised.status, raised.failure) == ("error", "error")
    sims = Simulators(str(tmp_path / "sims.db"), fail={"inventory.reserve_port": "429:1", "ipam.assign_ip": "timeout:1", "network.activate_line": 1})
    try:
        assert sims.call("inventory", "reserve_port", PORT_ARGS, "a", OUTPUTS).failure == "429"
        assert sims.call("ipam", "assign_ip", {}, "b", []).failure == "timeout"
        plain = sims.call("network", "activate_line", {}, "c", [])
        assert (plain.failure, plain.retryable) == ("503", True) and "503 service unavailable" in plain.message
        assert sims.call("inventory", "reserve_port", PORT_ARGS, "a", OUTPUTS).status == "ok"
    finally:
        sims.close()


@pytest.mark.parametrize(
    "kind,failure,matches",
    [("5xx", "503", True), ("5xx", "429", False), ("4xx", "409", True), ("409", "409", True), ("409", "408", False), ("timeout", "timeout", True), ("timeout", None, False), ("5xx", "timeout", False)],
)
def test_a_class_matches_its_failures(kind, failure, matches):
    assert failure_matches(kind, failure) is matches


STAGGERED = RetryPolicyDef("staggered", 2, (1000, 2000))


@pytest.mark.parametrize(
    "policy,failure,retryable,expected",
    [
        (STAGGERED, "409", False, False),  # no classes: the system's word
        (STAGGERED, "503", True, True),
        (RetryPolicyDef("staggered", 2, (1000, 2000), fatal_on=("409",)), "409", True, False),  # fatal wins over a retryable 409
        (RetryPolicyDef("staggered", 2, (1000, 2000), retry_on=("409",)), "409", False, True),  # `for 409`: the spec retries what the system would not
        (RetryPolicyDef("staggered", 2, (1000, 2000), retry_on=("5xx", "timeout")), "400", False, False),
        (RetryPolicyDef("staggered", 2, (1000, 2000), retry_on=("5xx", "timeout")), None, True, False),  # a failure of no class is not named
        (RetryPolicyDef("staggered", 2, (1000, 2000), retry_on=("5xx",), fatal_on=("503",)), "503", True, False),
    ],
)
def test_the_policy_decides_by_class(policy, failure, retryable, expected):
    retried, why = retry_verdict(policy, failure, retryable)
    assert retried is expected
    assert (why is None) == (expected or (not policy.retry_on and not policy.fatal_on))


def test_a_reference_replaces_the_named_policys_classes_one_kind_at_a_time():
    from om_dsl.check import check_texts
    from om_dsl.lower import lower

    spec = """catalog c version "1"
retry base = staggered 1s, 2s for timeout, 5xx fatal 409
commercial C "C" root {}
technical T cfs {}
decompose d: C -> T {}
system s { operation o() operation p() operation q() }
plan T on add {
  callout o = s.o() retry base
  callout p = s.p() retry base fatal 404
  callout q = s.q() retry base for error
}
"""
    result = check_texts({"c.om": spec})
    assert result.errors == []
    plan = lower(result.scopes[0]).plan("T", "add")
    got = {name: (plan.item(name).retry.retry_on, plan.item(name).retry.fatal_on, plan.item(name).retry.delays_ms) for name in ("o", "p", "q")}
    assert got == {
        "o": (("timeout", "5xx"), ("409",), (1000, 2000)),
        "p": (("timeout", "5xx"), ("404",), (1000, 2000)),
        "q": (("error",), ("409",), (1000, 2000)),
    }
