"""Metrics and traces on Temporal: `om worker --metrics` counts the calls its
activities make (a real worker process, scraped over HTTP); the Temporal
order service's stats; and with traces on, Temporal's own interceptor on the
client and the worker, each call's span a child of its activity's span, the
`traceparent` of a downstream HTTP call naming it."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest

pytest.importorskip("temporalio")

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402
from opentelemetry.trace import StatusCode  # noqa: E402
from test_temporal_cli import Cli, order_file  # noqa: E402

from om_dsl.observe import tracing  # noqa: E402
from om_dsl.rules.generated import GeneratedRules  # noqa: E402

from support import PATIENCE_S, ROOT  # noqa: E402
from support.engine_helpers import ACME  # noqa: E402
from support.observe import Recorder, samples, value  # noqa: E402
from support.scenario_engines import OnTemporal, order_doc  # noqa: E402

TOKEN = "worker-scrape-secret"


@pytest.mark.slow
def test_a_worker_serves_the_calls_it_made(temporal_server, tmp_path):
    cli = Cli(temporal_server, tmp_path)
    cli.env["OM_API_TOKEN"] = TOKEN
    port, sdk_port = _free_port(), _free_port()
    cli.worker_args = ["--metrics", f"127.0.0.1:{port}", "--sdk-metrics", f"127.0.0.1:{sdk_port}"]
    worker = cli.start_worker()
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        assert httpx.get(url, timeout=30).status_code == 401
        oid = f"MET-{uuid.uuid4().hex[:8]}"
        cli.om("run", str(ROOT / "generated" / "acme"), order_file(tmp_path, "fiber-minimal.json", oid), check=0)
        cli.until(lambda out: "install_visit" in out, "tasks", "list", "--ids")
        from om_dsl.temporal.client import TemporalOrders
        from om_dsl.temporal.service import TemporalService

        from support.temporal_dev import until_listed

        # The stats come from a listing of Temporal's visibility store: it shows an order's new status a moment
        # after the order's query does (and an order completed runs on while its installed base and last event are told).
        listing = TemporalOrders(temporal_server.address, task_queue=cli.queue)
        until_listed(listing, oid, lambda row: row["status"] == "inProgress")

        service = TemporalService(temporal_server.address, "default", cli.queue)
        try:
            stats = service.stats()  # the running order answers its query: its tasks are counted
        finally:
            service.close()
        assert {"state": "ready", "type": "manual", "count": 1} in stats["tasks"] and stats["unanswered"] == 0
        assert stats["orders"]["inProgress"] == 1
        cli.om("tasks", "complete", oid, "1/D1:install_visit", check=0)
        cli.until(lambda out: json.loads(out)["status"] == "completed", "orders", "show", oid, "--format", "json")
        until_listed(listing, oid, lambda row: row["status"] == "completed" and not row["running"])
        found = samples(httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30).text)
        assert value(found, "om_calls_total", system="inventory", operation="reserve_port", outcome="ok") == 1
        assert value(found, "om_call_duration_seconds_count", system="network", operation="activate_line") == 1
        assert value(found, "om_call_retries_total", system="inventory", operation="reserve_port") == 0
        assert not any(name == "om_outbox_depth" for name, _ in found)
        # the SDK's own metrics, on their port (temporalio's exporter)
        sdk = samples(httpx.get(f"http://127.0.0.1:{sdk_port}/metrics", timeout=30).text)
        assert any(name.startswith("temporal_") and dict(labels).get("task_queue") == cli.queue for name, labels in sdk)

        # the order service's stats (om serve --engine temporal's /metrics): this task queue's orders
        service = TemporalService(temporal_server.address, "default", cli.queue)
        try:
            stats = service.stats()
        finally:
            service.close()
        assert {k: n for k, n in stats["orders"].items() if n} == {"completed": 1} and stats["orders"]["held"] == 0
        assert stats["tasks"] == [] and stats["unanswered"] == 0
        # ... as om serve --engine temporal serves it: the API's /metrics over HTTP, a viewer token
        from om_dsl.api.server import in_thread
        from om_dsl.cli.engines import Serialized

        from support.api_server import tokens

        # (as om serve makes it: the scrapes on a client of their own, so that a slow one holds up no API request)
        service = Serialized(TemporalService(temporal_server.address, "default", cli.queue), lambda: TemporalService(temporal_server.address, "default", cli.queue))
        server = in_thread(service, tokens()).start()
        try:
            assert httpx.get(server.url + "/metrics", timeout=30).status_code == 401
            scraped = samples(httpx.get(server.url + "/metrics", headers={"Authorization": "Bearer bi-secret"}, timeout=60).text)
        finally:
            server.stop()
            service.close()
        assert value(scraped, "om_orders", state="completed") == 1 and value(scraped, "om_orders_unanswered") == 0
        assert service._reader is not None and service._reader is not service._service
        assert not any(name in ("om_outbox_depth", "om_calls_total") for name, _ in scraped)  # the workers count calls

        # an order running while no worker answers: counted as unanswered, its tasks left out (a query times out)
        waiting = f"MET-{uuid.uuid4().hex[:8]}"
        cli.om("run", str(ROOT / "generated" / "acme"), order_file(tmp_path, "fiber-minimal.json", waiting), check=0)
        cli.until(lambda out: waiting in out, "tasks", "list", "--ids")
        until_listed(listing, waiting, lambda row: row["status"] == "inProgress")
        listing.close()
        worker.terminate()
        worker.wait(30)
        service = TemporalService(temporal_server.address, "default", cli.queue)
        try:
            stats = service.stats()
        finally:
            service.close()
        assert {k: n for k, n in stats["orders"].items() if n} == {"completed": 1, "inProgress": 1} and stats["unanswered"] == 1 and stats["tasks"] == []
    finally:
        worker.terminate()
        worker.wait(30)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def spans():
    exporter = InMemorySpanExporter()
    tracing.configure(exporter=exporter, batch=False)
    try:
        yield exporter
    finally:
        tracing.shutdown()


def test_temporal_traces_an_order_with_its_interceptor(temporal_server, tmp_path, spans):
    from om_dsl.simulate.server import SimulatorServer
    from om_dsl.systems import config as configuration
    from om_dsl.systems.adapters import Systems

    rules = GeneratedRules(ACME)
    with SimulatorServer(rules.catalog, str(tmp_path / "sim.db"), faults={"inventory.reserve_port": "fail:1"}) as sim:
        proxy = Recorder(sim.url)
        path = tmp_path / "om.toml"
        path.write_text(f'[systems.inventory]\nadapter = "http"\nbase_url = "{proxy.url}"\n')
        config = configuration.load(str(path), env={})
        engine = OnTemporal(tmp_path, rules, {}, temporal_server, wrap_systems=lambda s: Systems(config, s.simulators))
        try:
            oid = f"TRC-{uuid.uuid4().hex[:8]}"
            engine.submit(order_doc(ROOT / "examples" / "orders" / "fiber-minimal.json", oid))
            engine.settle(oid, lambda v: v["tasks"]["1/D1:install_visit"]["status"] == "ready")
            engine.complete(oid, "1/D1:install_visit")
            engine.settle(oid, lambda v: v["status"] == "completed")
        finally:
            engine.close()
            proxy.close()
    deadline = time.monotonic() + PATIENCE_S
    while not any(s.name == "call network.activate_line" for s in spans.get_finished_spans()):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    finished = spans.get_finished_spans()
    by_id = {s.context.span_id: s for s in finished}
    reserve = [s for s in finished if s.name == "call inventory.reserve_port" and s.attributes["om.order"] == oid]
    assert [s.attributes["om.attempt"] for s in reserve] == [1, 2]
    assert [s.status.status_code == StatusCode.ERROR for s in reserve] == [True, False]
    for call in reserve:  # each a child of the interceptor's span of its activity, in the trace the client's start began
        parent = by_id[call.parent.span_id]
        assert parent.name == "RunActivity:om.call"
    started = [s for s in finished if s.name.startswith("StartWorkflow") and s.context.trace_id == reserve[0].context.trace_id]
    assert started
    for path, traceparent in proxy.seen:
        _, trace, span, _ = traceparent.split("-")
        assert by_id[int(span, 16)].name == f"call inventory{path.replace('/inventory/', '.')}" and int(trace, 16) == reserve[0].context.trace_id


def test_a_taken_port_is_a_usage_error(tmp_path):
    import socket

    from click.testing import CliRunner

    from om_dsl.cli import main

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = CliRunner().invoke(main, ["worker", str(ROOT / "generated" / "acme"), "--engine", "temporal", "--address", "127.0.0.1:9", "--sdk-metrics", f"127.0.0.1:{port}"])
    assert r.exit_code == 2 and f"--sdk-metrics 127.0.0.1:{port}: Failed starting Prometheus exporter: Address already in use" in r.output, r.output
    r = CliRunner().invoke(main, ["worker", str(ROOT / "generated" / "acme"), "--engine", "temporal", "--metrics", "nohost"])
    assert r.exit_code == 2 and "--metrics 'nohost' is not HOST:PORT" in r.output, r.output
