"""Traces (om_dsl.observe.tracing): the SDK's in-memory exporter records an
Acme order run by the embedded runner, its inventory and network behind the
HTTP simulator with a recording proxy on 127.0.0.1 in front: a span per
order, task and call, linked parent to child in one trace per order, and the
`traceparent` each downstream HTTP call carried naming its call's span.
Without traces switched on, or without the SDK, nothing is sent and nothing fails."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from om_dsl.observe import tracing
from om_dsl.rules.generated import GeneratedRules
from om_dsl.simulate.server import SimulatorServer
from om_dsl.systems import config as configuration

from support import ROOT
from support.engine_helpers import ACME, make_runner, order_text
from support.observe import Recorder

PROXIED = ("inventory", "network")


@pytest.fixture
def downstream(tmp_path):
    with SimulatorServer(GeneratedRules(ACME).catalog, str(tmp_path / "sim.db"), faults={"inventory.reserve_port": "fail:2"}) as sim:
        proxy = Recorder(sim.url)
        path = tmp_path / "om.toml"
        path.write_text("".join(f'[systems.{name}]\nadapter = "http"\nbase_url = "{proxy.url}"\n\n' for name in PROXIED))
        try:
            yield proxy, configuration.load(str(path), env={})
        finally:
            proxy.close()


@pytest.fixture
def spans():
    exporter = InMemorySpanExporter()
    tracing.configure(exporter=exporter, batch=False)
    try:
        yield exporter
    finally:
        tracing.shutdown()


def run_order(tmp_path, config, name="fiber-minimal.json"):
    runner = make_runner(tmp_path, config=config)
    order_id, _, _ = runner.submit(order_text(name))
    runner.drive()
    for order, task, *_ in runner.store.open_manual_tasks():
        runner.complete_manual(order, task, {}, "technician")
    runner.drive()
    assert runner.store.order_row(order_id)["status"] == "completed"
    return runner, order_id


def test_an_order_is_one_trace_of_its_tasks_and_calls(tmp_path, downstream, spans):
    proxy, config = downstream
    runner, order_id = run_order(tmp_path, config)
    finished = spans.get_finished_spans()
    trace_id = tracing.trace_id(order_id)
    assert {s.context.trace_id for s in finished} == {trace_id}

    (order,) = [s for s in finished if s.name == "order"]
    assert order.parent is None and order.attributes["om.order"] == order_id and order.status.status_code != StatusCode.ERROR
    row = runner.store.order_row(order_id)
    assert (order.start_time, order.end_time) == (row["created_at"] * 1_000_000, row["updated_at"] * 1_000_000)  # the engine's clock (simulated here)
    tasks = {s.context.span_id: s for s in finished if s.name.startswith("task ")}
    assert all(t.parent.span_id == order.context.span_id for t in tasks.values())
    done = runner.store.db.execute("SELECT COUNT(*) FROM tasks WHERE order_id = ? AND status IN ('completed', 'skipped')", (order_id,)).fetchone()[0]
    assert len(tasks) == done > 0
    calls = [s for s in finished if s.name.startswith(("call ", "auto "))]
    assert calls
    for call in calls:  # each under its task's span
        task = tasks[call.parent.span_id]
        assert task.attributes["om.task"] == call.attributes["om.task"]
        assert task.start_time <= order.end_time and order.start_time <= task.end_time
    # the inventory failed twice: three calls under one task span, two of them errors
    reserve = [c for c in calls if c.name == "call inventory.reserve_port"]
    assert len(reserve) == 3 and len({c.parent.span_id for c in reserve}) == 1
    assert [c.attributes["om.attempt"] for c in reserve] == [1, 2, 3]
    assert [c.status.status_code == StatusCode.ERROR for c in reserve] == [True, True, False]
    assert tasks[reserve[0].parent.span_id].attributes["om.task.attempts"] == 3

    # each downstream HTTP call carried its call's span as traceparent
    by_span = {c.context.span_id: c for c in calls}
    assert len(proxy.seen) >= 3
    for path, traceparent in proxy.seen:
        version, trace, span, flags = traceparent.split("-")
        assert (version, int(trace, 16), flags) == ("00", trace_id, "01")
        call = by_span[int(span, 16)]
        assert path == f"/{call.attributes['om.system']}/{call.attributes['om.operation']}"
    assert sorted(p for p, _ in proxy.seen) == sorted(f"/{c.attributes['om.system']}/{c.attributes['om.operation']}" for c in calls if c.attributes.get("om.system") in PROXIED)
    runner.store.close()


def test_the_ids_are_the_same_in_every_process(tmp_path, downstream, spans):
    """A task completed later (another process: here, a runner on the same
    store opened again) ends its span under the same order span."""
    _, config = downstream
    runner = make_runner(tmp_path, config=config)
    order_id, _, _ = runner.submit(order_text("fiber-minimal.json"))
    runner.drive()
    runner.store.close()
    again = make_runner(tmp_path, config=config)
    for order, task, *_ in again.store.open_manual_tasks():
        again.complete_manual(order, task, {}, "technician")
    again.drive()
    finished = spans.get_finished_spans()
    (order,) = [s for s in finished if s.name == "order"]
    assert {s.parent.span_id for s in finished if s.name.startswith("task ")} == {order.context.span_id}
    assert {s.context.trace_id for s in finished} == {tracing.trace_id(order_id)}
    again.store.close()


def test_without_traces_nothing_is_sent(tmp_path, downstream):
    proxy, config = downstream
    assert not tracing.active()
    runner, _ = run_order(tmp_path, config)
    assert proxy.seen and all(traceparent is None for _, traceparent in proxy.seen)
    runner.store.close()


def om_process(tmp_path, env: dict, hide_otel: bool = False):
    prelude = "import sys; sys.modules['opentelemetry'] = None; " if hide_otel else ""
    return subprocess.run(
        [sys.executable, "-c", prelude + "from om_dsl.cli import entry; entry()", "run", "generated/acme", "examples/orders/fiber-minimal.json", "--db", str(tmp_path / "om.db"), "-q"],
        cwd=ROOT, capture_output=True, text=True, env={**{k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}, **env}, timeout=300,
    )


def test_the_standard_variables_switch_traces_on(tmp_path):
    """OTEL_TRACES_EXPORTER=console: the SDK's console exporter prints the spans, flushed before om exits."""
    r = om_process(tmp_path, {"OTEL_TRACES_EXPORTER": "console", "OTEL_SERVICE_NAME": "om-test"})
    assert r.returncode == 0, r.stderr
    assert '"name": "call inventory.reserve_port"' in r.stdout and '"service.name": "om-test"' in r.stdout


def test_without_the_sdk_nothing_fails(tmp_path):
    r = om_process(tmp_path, {"OTEL_TRACES_EXPORTER": "console"}, hide_otel=True)
    assert r.returncode == 0, r.stderr
    assert "the OpenTelemetry SDK is not installed (pip install 'om-dsl[otel]'): no traces" in r.stderr
    (tmp_path / "again").mkdir()
    r = om_process(tmp_path / "again", {}, hide_otel=True)  # traces not asked for: not a word about them
    assert r.returncode == 0 and r.stderr == "", r.stderr


def test_an_unknown_exporter_is_said_once(tmp_path):
    r = om_process(tmp_path, {"OTEL_TRACES_EXPORTER": "nosuch"})
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("OTEL_TRACES_EXPORTER=nosuch: no such exporter is installed") == 1


def test_the_service_is_named_by_the_standard_variables(monkeypatch):
    exporter = InMemorySpanExporter()
    for env, name in (({}, "om"), ({"OTEL_SERVICE_NAME": "om-eu"}, "om-eu"), ({"OTEL_RESOURCE_ATTRIBUTES": "service.name=om-us,deployment.environment=prod"}, "om-us")):
        for key in ("OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES"):
            monkeypatch.delenv(key, raising=False)
        for key, v in env.items():
            monkeypatch.setenv(key, v)
        tracing.configure(exporter=exporter, batch=False)
        try:
            assert tracing.tracer().resource.attributes["service.name"] == name
        finally:
            tracing.shutdown()


def test_a_cancelled_order_traces_its_compensation(tmp_path, spans):
    """Undo calls are children of their compensation tasks' spans; the order's span ends in error, cancelled."""
    runner = make_runner(tmp_path)
    order_id, _, _ = runner.submit(order_text("fiber-minimal.json"))
    runner.drive()
    runner.cancel(order_id, "csr", "the customer moved")
    runner.drive()
    assert runner.store.order_row(order_id)["status"] == "cancelled"
    finished = spans.get_finished_spans()
    (order,) = [s for s in finished if s.name == "order"]
    assert order.status.status_code == StatusCode.ERROR and order.attributes["om.order.status"] == "cancelled"
    tasks = {s.context.span_id: s for s in finished if s.name.startswith("task ")}
    calls = [s for s in finished if s.name.startswith(("call ", "auto "))]
    undo = [c for c in calls if ":undo" in c.attributes["om.task"]]
    assert undo, [c.attributes["om.task"] for c in calls]
    assert all(tasks[c.parent.span_id].attributes["om.task"] == c.attributes["om.task"] for c in calls)
    runner.store.close()


def test_an_order_over_the_api_joins_the_callers_trace(tmp_path, in_repo, spans):
    """CPQ sends its traceparent with the order: om's span of the request is a
    child of CPQ's span, linked to the order's own trace."""
    from support.api_server import Server, order_body

    server = Server(tmp_path)
    try:
        cpq_trace, cpq_span = 0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331
        headers = {"traceparent": f"00-{cpq_trace:032x}-{cpq_span:016x}-01"}
        r = server.client("submitter").post("/productOrder", order_body(), headers=headers)
        assert r.status_code == 201, r.text
        untraced = server.client("submitter").post("/productOrder", order_body(id="ORD-UNTRACED"))
        assert untraced.status_code == 201, untraced.text
    finally:
        server.close()
    submits = {s.attributes["om.order"]: s for s in spans.get_finished_spans() if s.name == "submit order"}
    order_id = r.json()["id"]
    span = submits[order_id]
    assert (span.context.trace_id, span.parent.span_id) == (cpq_trace, cpq_span)
    assert [(link.context.trace_id, link.context.span_id) for link in span.links] == [(tracing.trace_id(order_id), tracing.order_span_id(order_id))]
    alone = submits["ORD-UNTRACED"]  # no traceparent: a trace of its own, linked all the same
    assert alone.parent is None and alone.context.trace_id != cpq_trace and alone.links[0].context.trace_id == tracing.trace_id("ORD-UNTRACED")
