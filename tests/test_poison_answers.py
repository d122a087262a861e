"""A downstream system, or a hub listener, that answers poison (numbers of
thousands of digits, nesting deep enough to exhaust the stack, broken HTTP)
fails that one call, with a reason in the history; the engine goes on with
every other order. Each poison comes from a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import socketserver
import threading

import pytest

from om_dsl.engine import state as S
from om_dsl.systems.config import Config, SystemConfig

from support.engine_helpers import make_runner, operate, order_text

HUGE_INT = b'{"ok": ' + b"7" * 5000 + b"}"
DEEP = b"[" * 30_000 + b"]" * 30_000  # 60 KB: within every size limit, far past the stack
HUGE_EXPONENT = b'{"ok": 1e999999999}'
POISON = {
    "a 5,000-digit integer": (b"200 OK", HUGE_INT, "a number has 5000 digits"),
    "30k nested arrays": (b"200 OK", DEEP, "nests deeper than"),
    "a huge exponent": (b"200 OK", HUGE_EXPONENT, "exponent is beyond"),
    "an error answer of a 5,000-digit integer": (b"500 Internal Server Error", HUGE_INT, "answered 500: {\"ok\": 7777"),
    "an error answer nested 30k deep": (b"503 Service Unavailable", DEEP, "answered 503: [[[["),
    "a broken status line": (b"two hundred", b"{}", "answered what is not HTTP"),
}


class PoisonServer:
    """Answers every request with one raw HTTP answer (status line and body as given)."""

    def __init__(self, status: bytes, body: bytes):
        answer = b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\nContent-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body
        self.requests = 0
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                length = 0
                while True:
                    line = self.rfile.readline(65537)
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                    if line in (b"\r\n", b"\n", b""):
                        break
                self.rfile.read(length)
                outer.requests += 1
                self.wfile.write(answer)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def poison_server():
    servers = []

    def start(status, body):
        servers.append(PoisonServer(status, body))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


@pytest.mark.parametrize("kind", list(POISON))
def test_a_system_answering_poison_fails_its_call_and_the_engine_goes_on(tmp_path, poison_server, kind):
    status, body, reason = POISON[kind]
    inventory = poison_server(status, body)
    runner = make_runner(tmp_path, config=Config("test", "simulated", None, {"inventory": SystemConfig("inventory", "http", base_url=inventory.url)}))
    fiber, _, _ = runner.submit(order_text("fiber-minimal.json"))
    tv, _, _ = runner.submit(order_text("tv-alone.json"))
    operate(runner)  # before the fix: ValueError or RecursionError out of the runner, on every restart

    assert runner.store.load(tv).status == S.ORDER_COMPLETED
    assert runner.store.load(fiber).status == S.HELD
    [task] = [t for t in runner.store.load(fiber).tasks.values() if t.system == "inventory" and t.status == S.FATALLY_FAILED]
    assert reason in task.error and len(task.error) < 600, task.error
    assert task.attempts > 1  # a failed call under the task's retry policy, not an exception
    causes = [r[5] for r in runner.store.history(fiber) if r[2] == task.id]
    assert any(reason in c for c in causes)
    assert inventory.requests == task.attempts


@pytest.mark.parametrize("kind", ["a 5,000-digit integer", "30k nested arrays", "a broken status line"])
def test_a_listener_answering_poison_is_a_failed_delivery_and_orders_go_on(tmp_path, poison_server, kind):
    status, body, reason = POISON[kind]
    listener = poison_server(status, body)
    runner = make_runner(tmp_path)
    with runner.store.transaction() as db:
        runner.store.register(db, listener.url + "/events", 0)
    order_id, _, _ = runner.submit(order_text("tv-alone.json"))
    operate(runner)  # before the fix: the answer's ValueError or RecursionError out of deliver_events

    assert runner.store.load(order_id).status == S.ORDER_COMPLETED
    pending = runner.store.deliveries(order_id, "pending")
    assert pending and listener.requests >= 1
    last_error = pending[0][8]
    assert reason in last_error and len(last_error) < 600, last_error
