"""The Acme orders end to end over HTTP: every system behind the simulator
server on 127.0.0.1, asynchronous answers through the callback receiver,
faults injected on the way; every effect exactly once."""

from __future__ import annotations

import json
import time
import urllib.request

from om_dsl.engine import state as S
from om_dsl.rules.generated import GeneratedRules
from om_dsl.simulate.server import SimulatorServer
from om_dsl.systems.config import Config, OperationConfig, SystemConfig
from om_dsl.systems.receiver import CallbackReceiver

from support import PATIENCE_S
from support.engine_helpers import ACME, VALID_ORDERS, check_events, check_starts_follow_the_graph, history, make_runner, order_text

FAULTS = {
    "inventory.reserve_port": "fail:2",  # two 503s, then the standard policy's retries get through
    "network.activate_line": "status:500:1",  # one 500
    "logistics.ship_device": "slow:20",
    "voice.port_number": "twice",  # the callback comes twice
    "iptv.activate_iptv": "status:400",  # a 4xx: fatal, the order is held
}


def http_config(simulator_url: str, callback_url: str, **overrides) -> Config:
    systems = {name: SystemConfig(name, "http", base_url=simulator_url, **overrides.get(name, {})) for name in ("inventory", "network", "logistics", "ipam", "voice", "iptv", "billing")}
    return Config("test", "simulated", callback_url, systems)


def run_until_settled(runner, orders, timeout_s=PATIENCE_S) -> None:
    """Drive; complete manual tasks as a technician; wait for callbacks that are on their way."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        runner.drive()
        for order_id, item_id, *_ in runner.store.open_manual_tasks():
            runner.complete_manual(order_id, item_id, {}, "technician")
        states = {runner.store.load(o).status for o in orders}
        if runner.store.calls_in_flight() == 0 and not runner.store.open_manual_tasks() and not runner.store.pending_commands():
            if states <= set(S.FINAL) | {S.HELD}:
                return
        time.sleep(0.02)
    raise AssertionError(f"orders did not settle: {[(o, runner.store.load(o).status) for o in orders]}")


def effects(server) -> list[dict]:
    with urllib.request.urlopen(server.url + "/_effects") as r:
        return json.loads(r.read())


def test_acme_orders_over_http_through_faults(tmp_path):
    catalog = GeneratedRules(ACME).catalog
    with SimulatorServer(catalog, str(tmp_path / "systems.db"), faults=FAULTS, callback_delay_ms=20) as server:
        runner = make_runner(tmp_path, config=None)
        with CallbackReceiver(str(tmp_path / "om.db"), clock=runner.clock.now) as receiver:
            runner.systems.config = http_config(server.url, receiver.url)
            orders = [runner.submit(order_text(name))[0] for name in VALID_ORDERS]
            run_until_settled(runner, orders)

            # The 4xx held the orders with IPTV; an operator fixes it and resumes them.
            held = [o for o in orders if runner.store.load(o).status == S.HELD]
            assert sorted(held) == ["ORD-1001", "ORD-1002", "ORD-1003"]
            for o in held:
                task = runner.store.load(o).tasks[next(t for t in runner.store.load(o).tasks if t.endswith("activate_iptv"))]
                assert task.status == S.FATALLY_FAILED and task.attempts == 1 and "answered 400" in task.error
            urllib.request.urlopen(urllib.request.Request(server.url + "/_faults", data=json.dumps({"iptv.activate_iptv": None}).encode(), method="POST", headers={"Content-Type": "application/json"})).read()
            for o in held:
                runner.resume_order(o, "ops-anna", "IPTV platform fixed")
            run_until_settled(runner, orders)
            # The port's callback comes twice (`twice`): the second copy follows the first by callback_delay_ms,
            # whenever the simulator's thread gets to it. Nothing above waits for it: wait while the receiver listens.
            port_key = runner.store.load("ORD-1001").tasks["5/D6:port_number"].key
            deadline = time.monotonic() + PATIENCE_S
            while runner.store.db.execute("SELECT times FROM inbox WHERE correlation_id = ?", (port_key,)).fetchone()[0] < 2:
                assert time.monotonic() < deadline, "the second copy of the port's callback never came"
                time.sleep(0.02)

        for o in orders:
            run = runner.store.load(o)
            assert run.status == S.ORDER_COMPLETED, (o, run.status)
            check_starts_follow_the_graph(runner.store, o)
            check_events(runner.simulators, runner.store, o)
        # Every callout reached its system under one key, with one effect.
        keys = sorted(e["key"] for e in effects(server))
        expected = sorted(t.key for o in orders for t in runner.store.load(o).tasks.values() if t.type == "callout" and t.status == S.COMPLETED)
        assert keys == expected
        # The faults were met and survived.
        every = {(o, t.id): t for o in orders for t in runner.store.load(o).tasks.values()}
        assert every[("ORD-1001", "1/D1:reserve_port")].attempts == 3
        assert every[("ORD-1001", "1/D1:activate_line")].attempts == 2
        port = every[("ORD-1001", "5/D6:port_number")]
        assert port.status == S.COMPLETED
        causes = [e["cause"] for e in history(runner.store, "ORD-1001") if e["subject"] == "5/D6:port_number"]
        assert "callback received" in causes
        # The second copy of the callback was recorded, not applied.
        times = runner.store.db.execute("SELECT times FROM inbox WHERE correlation_id = ?", (port.key,)).fetchone()[0]
        assert times == 2


def test_a_timeout_is_retried_and_a_connection_error_too(tmp_path):
    catalog = GeneratedRules(ACME).catalog
    with SimulatorServer(catalog, str(tmp_path / "systems.db"), faults={"iptv.activate_iptv": "slow:400"}) as server:
        runner = make_runner(tmp_path)
        runner.systems.config = http_config(server.url, "http://127.0.0.1:9/callbacks", iptv={"timeout_ms": 100})
        order_id, _, _ = runner.submit(order_text("tv-alone.json"))
        runner.drive()
        task = runner.store.load(order_id).tasks["1/D7:activate_iptv"]
        assert task.status == S.FATALLY_FAILED and task.attempts == 4
        assert "did not answer within 0.1 s" in task.error
    # The simulator is gone: a connection error is retried the same way.
    runner.retry_task(order_id, "1/D7:activate_iptv", "ops", "")
    runner.drive()
    task = runner.store.load(order_id).tasks["1/D7:activate_iptv"]
    assert task.status == S.FATALLY_FAILED and task.attempts == 4 and "cannot reach" in task.error


def test_a_system_with_its_own_api_is_mapped_by_the_configuration():
    """A real inventory names its path and its fields otherwise: the configuration maps them;
    every call carries the idempotency key and the configured headers; a 409 can be declared retryable."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from om_dsl.systems.adapters import HttpSystem

    seen = []
    answers = [(409, {"error": "reservation in progress"}), (201, {"portId": "P-9", "olt": "x"})]

    class Inventory(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_PUT(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append((self.path, dict(self.headers), body))
            status, answer = answers.pop(0)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Inventory)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/api/v2"
        cfg = SystemConfig("inventory", "http", base_url=url, headers={"X-Api-Key": "k-123"}, retryable_status=(409,), operations={"reserve_port": OperationConfig("PUT", "/ports/reservations", {"port_id": "portId"})})
        system = HttpSystem(cfg, None)
        first = system.call("reserve_port", {"address_id": "A-1", "down_mbps": 1000}, "ORD-1:1/D1:reserve_port:1", [["port_id", "string"]], False, 5000)
        assert first.status == "error" and first.retryable and "answered 409: reservation in progress" in first.message
        second = system.call("reserve_port", {"address_id": "A-1", "down_mbps": 1000}, "ORD-1:1/D1:reserve_port:1", [["port_id", "string"]], False, 5000)
        assert second.status == "ok" and second.outputs == {"port_id": "P-9"}
        assert [p for p, _, _ in seen] == ["/api/v2/ports/reservations"] * 2
        assert all(h["Idempotency-Key"] == "ORD-1:1/D1:reserve_port:1" and h["X-Api-Key"] == "k-123" for _, h, _ in seen)
        assert seen[0][2] == {"address_id": "A-1", "down_mbps": 1000}
    finally:
        server.shutdown()
        server.server_close()
