"""GET /metrics: a real `om serve` on 127.0.0.1, its downstream systems
behind the HTTP simulator (the inventory fails twice), orders run by `om
run` in this process (another process than the server's: the store keeps
the counts), scraped over HTTP and read with prometheus_client's own parser;
and `om worker --metrics`'s counts, and the store's gauges, checked alone."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time

import httpx
import pytest
from click.testing import CliRunner

from om_dsl.api import metrics as api_metrics
from om_dsl.api.server import in_thread
from om_dsl.cli import main
from om_dsl.observe import calls as observed
from om_dsl.observe import metrics
from om_dsl.rules.generated import GeneratedRules
from om_dsl.simulate.server import SimulatorServer
from om_dsl.systems.asgi import ServerThread

from support import PATIENCE_S, ROOT
from support.api_server import tokens as api_tokens
from support.engine_helpers import ACME, make_runner, order_text
from support.observe import samples, value

VIEWER = "prometheus-scrape-secret"
SYSTEMS = ("inventory", "network", "logistics", "ipam", "voice", "iptv", "billing")


def om(*args):
    return CliRunner().invoke(main, list(map(str, args)), catch_exceptions=False)


def scrape(url: str, token=VIEWER) -> dict:
    """{(name, labels as a sorted tuple): value} of every sample."""
    r = httpx.get(url + "/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return samples(r.text)


@pytest.fixture
def served(tmp_path, in_repo):
    """`om serve` (simulated clock) with the Acme systems over HTTP, a viewer token in om.toml."""
    catalog = GeneratedRules(ACME).catalog
    with SimulatorServer(catalog, str(tmp_path / "systems.db"), callback_delay_ms=20, faults={"inventory.reserve_port": "fail:2"}) as sim:
        port = _free_port()
        config = tmp_path / "om.toml"
        config.write_text(
            f'[engine]\ncallback_url = "http://127.0.0.1:{port}/callbacks"\n\n'
            f'[api]\ntokens = [{{ name = "prometheus", role = "viewer", hash = "sha256:{hashlib.sha256(VIEWER.encode()).hexdigest()}" }}]\n\n'
            + "".join(f'[systems.{name}]\nbase_url = "{sim.url}"\n\n' for name in SYSTEMS)
        )
        common = ["--db", tmp_path / "om.db", "--config", config, "--tasks-path", ROOT / "examples"]
        env = {k: v for k, v in os.environ.items() if k != "OM_API_TOKEN"}
        service = subprocess.Popen(
            [sys.executable, "-c", "from om_dsl.cli import main; main()", "serve", "generated/acme", "--listen", f"127.0.0.1:{port}", "--interval", "0.05", "-q", "--clock", "simulated", "--start", "2026-11-27", *map(str, common)],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + PATIENCE_S
            while True:
                try:
                    httpx.get(url + "/_health", timeout=1)
                    break
                except httpx.HTTPError:
                    assert service.poll() is None, service.stderr.read().decode()
                    assert time.monotonic() < deadline, "om serve did not come up"
                    time.sleep(0.05)
            yield url, common, tmp_path
        finally:
            service.terminate()
            service.wait(30)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_to_the_end(common, db, orders: list[str]) -> list[dict]:
    """Run the orders with `om run`, complete their manual tasks as a technician would, until every one has ended."""
    r = om("run", "generated/acme", *[f"examples/orders/{o}" for o in orders], "-q", *common)
    assert r.exit_code == 0, r.output
    deadline = time.monotonic() + PATIENCE_S
    while True:
        for line in om("tasks", "list", "--ids", "--db", db).stdout.splitlines():
            order_id, task = line.split()
            om("tasks", "complete", order_id, task, "-q", *common)
        listed = json.loads(om("orders", "list", "--format", "json", "--db", db).stdout)
        if all(o["status"] in ("completed", "failed", "partial", "cancelled") for o in listed):
            return listed
        assert time.monotonic() < deadline, listed
        time.sleep(0.1)


def test_a_scrape_counts_the_acme_run(served):
    url, common, tmp_path = served
    db = tmp_path / "om.db"
    before = scrape(url)
    assert not any(name == "om_calls_total" for name, _ in before)  # nothing called yet
    listed = run_to_the_end(common, db, ["fiber-minimal.json", "fiber-tv-ported-phone.json"])
    deadline = time.monotonic() + PATIENCE_S
    while True:  # an order that ended in the server's loop has its last event still to send for a moment
        found = scrape(url)
        if value(found, "om_outbox_depth") == 0:
            break
        assert time.monotonic() < deadline, value(found, "om_outbox_depth")
        time.sleep(0.05)

    # orders by state: what `om orders list` says
    completed = sum(o["status"] == "completed" for o in listed)
    assert completed == 2 and value(found, "om_orders", state="completed") == completed
    assert value(found, "om_orders", state="held") == 0  # every state has its series, 0 included
    # the inventory failed twice for each order, then reserved its port: two retries, three calls each
    attempts = [t["attempts"] for o in listed for t in json.loads(om("orders", "show", o["id"], "--format", "json", "--db", db).stdout)["tasks"] if t["name"] == "reserve_port"]
    assert attempts == [3, 3]
    assert value(found, "om_calls_total", system="inventory", operation="reserve_port", outcome="error") == 4
    assert value(found, "om_calls_total", system="inventory", operation="reserve_port", outcome="ok") == 2
    assert value(found, "om_call_retries_total", system="inventory", operation="reserve_port") == 4
    assert value(found, "om_call_retries_total", system="network", operation="activate_line") == 0
    # number porting answers by callback: accepted
    assert value(found, "om_calls_total", system="voice", operation="port_number", outcome="accepted") == 1
    # the latency histogram: every call in a bucket, the buckets cumulative, +Inf the count
    count = value(found, "om_call_duration_seconds_count", system="inventory", operation="reserve_port")
    assert count == 6
    buckets = sorted(((float(dict(labels)["le"]), v) for (name, labels), v in found.items() if name == "om_call_duration_seconds_bucket" and dict(labels)["operation"] == "reserve_port"))
    assert buckets[-1] == (float("inf"), count) and [v for _, v in buckets] == sorted(v for _, v in buckets)
    assert value(found, "om_call_duration_seconds_sum", system="inventory", operation="reserve_port") > 0
    # each operation's outcomes add up to its histogram's count
    by_operation: dict = {}
    for (name, labels), v in found.items():
        if name == "om_calls_total":
            key = (dict(labels)["system"], dict(labels)["operation"])
            by_operation[key] = by_operation.get(key, 0) + v
    assert by_operation and all(value(found, "om_call_duration_seconds_count", system=s, operation=o) == n for (s, o), n in by_operation.items())
    # nothing is held, no task of an unfinished order is left
    assert not any(name == "om_tasks" for name, _ in found)
    assert value(found, "om_event_deliveries", state="pending") == 0
    # the process's own metrics come along
    assert any(name.startswith("process_") for name, _ in found)


def test_metrics_need_a_token(served):
    url, _, _ = served
    r = httpx.get(url + "/metrics", timeout=30)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    r = httpx.get(url + "/metrics", headers={"Authorization": "Bearer not-a-token"}, timeout=30)
    assert r.status_code == 401 and "invalid_token" in r.headers["www-authenticate"]
    assert "om_orders" not in r.text


def test_the_gauges_say_how_things_stand(tmp_path):
    """Submitted, not run: the outbox holds the first commands, the tasks wait;
    the numbers are the store's, read at the scrape."""
    from om_dsl.embedded.service import EmbeddedOrders

    runner = make_runner(tmp_path)
    order_id, status, _ = runner.submit(order_text("fiber-minimal.json"))
    orders = EmbeddedOrders(runner.store, str(tmp_path / "om.db"), runner)
    found = samples(metrics.render(metrics.registry(orders.stats, process=False)).decode())
    pending = len(runner.store.pending_commands())
    assert pending > 0 and value(found, "om_outbox_depth") == pending
    assert value(found, "om_orders", state=status) == 1
    tasks = runner.store.db.execute("SELECT status, type, COUNT(*) FROM tasks GROUP BY status, type").fetchall()
    assert {(s, t): n for s, t, n in tasks} == {(dict(labels)["state"], dict(labels)["type"]): v for (name, labels), v in found.items() if name == "om_tasks"}
    runner.drive()
    found = samples(metrics.render(metrics.registry(orders.stats, process=False)).decode())
    assert value(found, "om_outbox_depth") == 0
    assert value(found, "om_tasks", state="ready", type="manual") >= 1  # the technician's visit waits
    runner.store.close()


def test_calls_counted_in_a_failed_transaction_are_not_kept(tmp_path):
    """The counts commit with the results they count: a batch that does not commit counts nothing."""
    runner = make_runner(tmp_path)
    runner.submit(order_text("fiber-minimal.json"))
    pending = runner.store.pending_commands()

    class Boom(Exception):
        pass

    def fail(*args):
        raise Boom()

    runner.store.mark_done, keep = fail, runner.store.mark_done
    with pytest.raises(Boom):
        runner.execute_all(pending)
    assert runner.store.call_stats() == []
    runner.store.mark_done = keep
    runner.drive()
    stats = runner.store.call_stats()
    assert stats and sum(s["count"] for s in stats) == sum(sum(s["outcomes"].values()) for s in stats)
    runner.store.close()


def test_a_worker_serves_its_calls(tmp_path):
    """`om worker --metrics`'s endpoint: the counts of CallStats, behind a viewer token."""
    from om_dsl.engine.commands import Call
    from om_dsl.systems.adapters import CallResult

    stats = observed.CallStats()
    call = Call("ORD-1", "1/D1:reserve_port", "ORD-1:k", 1, {}, "inventory", "reserve_port")
    stats.record(call, CallResult.error("503", retryable=True), 0.02)
    stats.record(Call("ORD-1", "1/D1:reserve_port", "ORD-1:k", 2, {}, "inventory", "reserve_port"), CallResult.ok({}), 0.3)
    server = ServerThread(api_metrics.app(lambda: {"calls": stats.snapshot()}, api_tokens()), "127.0.0.1", 0).start()
    try:
        assert httpx.get(server.url + "/metrics", timeout=30).status_code == 401
        found = scrape(server.url, "bi-secret")
    finally:
        server.stop()
    assert value(found, "om_calls_total", system="inventory", operation="reserve_port", outcome="error") == 1
    assert value(found, "om_call_retries_total", system="inventory", operation="reserve_port") == 1
    assert value(found, "om_call_duration_seconds_bucket", system="inventory", operation="reserve_port", le="0.025") == 1
    assert value(found, "om_call_duration_seconds_bucket", system="inventory", operation="reserve_port", le="0.5") == 2
    assert not any(name == "om_outbox_depth" for name, _ in found)  # a worker keeps no outbox: left out, not 0


def test_the_api_in_a_thread_serves_metrics_too(tmp_path):
    """The API app itself routes /metrics (in_thread is what tests and the benchmark use)."""
    from om_dsl.embedded.service import Options, serving

    with serving(Options(str(tmp_path / "om.db")), GeneratedRules(ACME)) as service:
        server = in_thread(service, api_tokens()).start()
        try:
            found = scrape(server.url, "bi-secret")
            assert value(found, "om_outbox_depth") == 0
            r = httpx.get(server.url + "/metrics", headers={"Authorization": "Bearer cpq-secret-1"}, timeout=30)
            assert r.status_code == 200  # a submitter is a viewer and more
        finally:
            server.stop()


def test_jeopardy_held_calls_and_failing_deliveries(tmp_path):
    """An order past a task's due date (red), calls held while their system is
    offline, events for a listener that does not answer: each in its gauge."""
    from om_dsl.embedded.service import EmbeddedOrders

    runner = make_runner(tmp_path)
    runner.on_event = lambda *args: None
    with runner.store.transaction() as db:
        runner.store.register(db, "http://127.0.0.1:9/events", runner.clock.now())  # nothing listens on port 9
    runner.submit(order_text("new-fiber-every-option.json"))
    runner.drive()  # billing waits until 1 December: the simulated clock goes past install_visit's 3-day due date
    runner.set_system("iptv", True, "ops")
    runner.submit(order_text("tv-alone.json"))
    runner.drive()
    orders = EmbeddedOrders(runner.store, str(tmp_path / "om.db"), runner)
    found = samples(metrics.render(metrics.registry(orders.stats, process=False)).decode())

    red = [o["id"] for o in orders.orders(jeopardy="red")]
    assert red == ["ORD-1001"] and value(found, "om_orders_in_jeopardy", level="red") == 1
    held = runner.store.db.execute("SELECT COUNT(*) FROM tasks WHERE status = 'onHold' AND system = 'iptv'").fetchone()[0]
    assert held > 0 and value(found, "om_calls_held", system="iptv") == held
    pending = orders.notifications(pending=True)
    failing = [n for n in pending if n.get("last_error")]
    assert failing and value(found, "om_event_deliveries", state="pending") == len(pending)
    assert value(found, "om_event_deliveries", state="failing") == len(failing)
    runner.store.close()


def test_a_scrape_waits_for_neither_the_loop_nor_another_runner(tmp_path):
    """`om serve`'s stats read on a connection of their own: not under the
    lock the work loop holds through a step (a slow system's call), nor the
    runner lock `om run` holds."""
    import threading

    from om_dsl.embedded.lock import runner_lock
    from om_dsl.embedded.service import Options, serving

    db = str(tmp_path / "om.db")
    with serving(Options(db, clock="simulated", start=1_795_780_800_000, tasks_path=(str(ROOT / "examples"),)), GeneratedRules(ACME)) as service:
        service.submit(order_text("fiber-minimal.json"))
        got: list = []
        with service.lock, runner_lock(db):  # the loop mid-step, and another process's runner
            reader = threading.Thread(target=lambda: got.append(service.stats()))
            reader.start()
            reader.join(PATIENCE_S)
            assert got, "the scrape waited for a lock"
        assert sum(got[0]["orders"].values()) == 1 and got[0]["outbox"] == len(service.inner.store.pending_commands())
