"""The simulated downstream systems over HTTP: a real server on 127.0.0.1,
called with urllib, its callbacks received by a small listener of ours."""

from __future__ import annotations

import http.client
import json
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner

import om_dsl.cli.simulate  # noqa: F401  (registers `om simulate` until cli/__init__ imports it)
from om_dsl.cli import main
from om_dsl.rules.generated import GeneratedRules
from om_dsl.simulate.faults import parse_fault, parse_fault_option
from om_dsl.simulate.server import SimulatorServer
from om_dsl.simulate.simulators import Simulators

from support import PATIENCE_S, ROOT

ACME = ROOT / "generated" / "acme"
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
PORT_ARGS = {"address_id": "ADDR-1", "down_mbps": 500}


@pytest.fixture(scope="module")
def catalog():
    return GeneratedRules(ACME).catalog


@pytest.fixture
def start(catalog, tmp_path):
    """Start servers on the test's state file (or another); all stopped at the end."""
    servers = []

    def start(faults=None, state=None, callback_delay_ms=20):
        server = SimulatorServer(catalog, str(state or tmp_path / "systems.db"), port=0, faults=faults, callback_delay_ms=callback_delay_ms)
        servers.append(server.start())
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def server(start):
    return start()


def post(url, body, key=None, headers=None, timeout=5.0):
    """POST JSON (or raw bytes); (status, parsed body, headers)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
    all_headers = {"Content-Type": "application/json", **({"Idempotency-Key": key} if key else {}), **(headers or {})}
    request = urllib.request.Request(url, data=data, headers=all_headers, method="POST")
    try:
        with NO_PROXY.open(request, timeout=timeout) as response:
            return response.status, json.loads(response.read()), response.headers
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), exc.headers


def get(url):
    with NO_PROXY.open(url, timeout=5) as response:
        return json.loads(response.read())


def effects(server):
    return {e["key"]: e for e in get(server.url + "/_effects")}


def wait_until(predicate, timeout=PATIENCE_S):
    """True once `predicate()` is (a bound for a busy machine, not a measure: every caller waits for what must come)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Listener:
    """Where callbacks go: records each POST it accepts; answers 503 to the first `refuse`."""

    def __init__(self, refuse=0, port=0):
        self.refuse = refuse
        self.attempts = 0
        self.received = []  # (path, idempotency key, body)
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                with lock:
                    outer.attempts += 1
                    refused = outer.attempts <= outer.refuse
                    if not refused:
                        outer.received.append((self.path, self.headers.get("Idempotency-Key"), body))
                self.send_response(503 if refused else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.http.server_address[1]}/callbacks"

    def close(self):
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def listen():
    listeners = []

    def listen(**kw):
        listeners.append(Listener(**kw))
        return listeners[-1]

    yield listen
    for listener in listeners:
        listener.close()


# ---- synchronous operations ---------------------------------------------------------------------------


def test_a_sync_operation_answers_its_declared_outputs_once_per_key(server):
    status, body, headers = post(server.url + "/inventory/reserve_port", PORT_ARGS, key="k1")
    assert (status, body) == (200, {"port_id": "PORT-00001"}) and headers.get("Idempotent-Replayed") is None
    status, body, headers = post(server.url + "/inventory/reserve_port", PORT_ARGS, key="k1")
    assert (status, body) == (200, {"port_id": "PORT-00001"}) and headers["Idempotent-Replayed"] == "true"
    assert post(server.url + "/inventory/reserve_port", PORT_ARGS, key="k2")[:2] == (200, {"port_id": "PORT-00002"})
    assert post(server.url + "/logistics/ship_device", {"device_model": "ONT-1", "shipping": "courier"}, key="k3")[:2] == (200, {"shipment_id": "SHP-000001"})
    assert post(server.url + "/voice/assign_number", {}, key="k4")[:2] == (200, {"phone_number": "+31205550001"})
    assert post(server.url + "/billing/start_billing", {"account_id": "ACC-1"}, key="k5")[:2] == (200, {})
    found = effects(server)
    assert sorted(found) == ["k1", "k2", "k3", "k4", "k5"]
    assert found["k1"] == {"key": "k1", "system": "inventory", "operation": "reserve_port", "args": PORT_ARGS, "outputs": {"port_id": "PORT-00001"}, "calls": 2}
    assert found["k2"]["calls"] == 1
    assert get(server.url + "/_health") == {"ok": True}


def test_a_key_reused_for_another_call_is_a_conflict(server):
    post(server.url + "/inventory/reserve_port", PORT_ARGS, key="k1")
    status, body, _ = post(server.url + "/ipam/assign_ip", {"ip_version": "v4"}, key="k1")
    assert status == 409 and "inventory.reserve_port" in body["error"]
    status, body, _ = post(server.url + "/inventory/reserve_port", {**PORT_ARGS, "down_mbps": 1000}, key="k1")
    assert status == 409 and "other arguments" in body["error"]
    assert effects(server)["k1"]["calls"] == 1


@pytest.mark.parametrize(
    "path, body, key, status, words",
    [
        ("/inventory/nope", {}, "k", 404, ["/inventory/nope"]),
        ("/crm/reserve_port", PORT_ARGS, "k", 404, ["/crm/reserve_port"]),
        ("/inventory/reserve_port", PORT_ARGS, None, 400, ["Idempotency-Key"]),
        ("/inventory/reserve_port", [1, 2], "k", 400, ["JSON object", "list"]),
        ("/inventory/reserve_port", b"{not json", "k", 400, ["not JSON"]),
        ("/inventory/reserve_port", b"", "k", 400, ["empty"]),
        ("/inventory/reserve_port", {"address_id": "A"}, "k", 400, ["missing argument down_mbps"]),
        ("/inventory/reserve_port", {**PORT_ARGS, "colour": "red"}, "k", 400, ["unknown argument colour"]),
        ("/inventory/reserve_port", {**PORT_ARGS, "down_mbps": "fast"}, "k", 400, ["down_mbps", "not an int"]),
    ],
)
def test_bad_requests_are_refused_with_a_message_naming_the_problem(server, path, body, key, status, words):
    got, answer, _ = post(server.url + path, body, key=key)
    assert got == status
    assert all(w in answer["error"] for w in words), answer
    assert effects(server) == {}


def test_a_body_above_1_mib_is_refused_unread(server):
    host, port = server.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    conn.putrequest("POST", "/inventory/reserve_port")
    conn.putheader("Idempotency-Key", "big")
    conn.putheader("Content-Length", str((1 << 20) + 1))
    conn.endheaders()
    response = conn.getresponse()
    assert response.status == 413 and "1048576" in json.loads(response.read())["error"]
    conn.close()
    # Exactly 1 MiB is still read (and here refused for what it holds, not its size).
    status, _, _ = post(server.url + "/inventory/reserve_port", b" " * (1 << 20), key="k")
    assert status == 400


def test_one_keep_alive_connection_carries_many_calls(server):
    """HTTP/1.1: answers of every kind leave the connection usable for the next request."""
    host, port = server.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    requests = [
        ("/inventory/reserve_port", PORT_ARGS, {"Idempotency-Key": "k1"}, 200),
        ("/inventory/reserve_port", PORT_ARGS, {}, 400),
        ("/inventory/reserve_port", {"address_id": 1}, {"Idempotency-Key": "k2"}, 400),
        ("/voice/port_number", {"phone_number": "+31201234567"}, {"Idempotency-Key": "p1"}, 202),
        ("/_callbacks/1/ack", {"by": "test"}, {}, 200),
        ("/inventory/reserve_port", PORT_ARGS, {"Idempotency-Key": "k1"}, 200),
    ]
    for path, body, headers, status in requests:
        conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json", **headers})
        response = conn.getresponse()
        answer = json.loads(response.read())
        assert response.status == status, (path, answer)
    conn.request("GET", "/_health")
    assert json.loads(conn.getresponse().read()) == {"ok": True}
    conn.close()


def test_stop_does_not_wait_for_a_hanging_request(start):
    """The stop ends the hang: the caller sees its connection closed, not its own
    timeout (30 s, short of the hang's 60 s limit: a hang the stop left running
    would outlast it)."""
    server = start(faults={"inventory.reserve_port": "hang"})
    outcome = []

    def call():
        try:
            outcome.append(post(server.url + "/inventory/reserve_port", PORT_ARGS, key="k1", timeout=30))
        except (OSError, http.client.HTTPException) as exc:
            outcome.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    # The request is in its hang once its attempt is counted (committed just before): stopping sooner
    # would refuse the connection instead (a sleep of 0.1 s was not always enough on a busy machine).
    state = sqlite3.connect(f"file:{server.state_path}?mode=ro", uri=True)
    try:
        assert wait_until(lambda: state.execute("SELECT n FROM attempts WHERE key = 'k1'").fetchone() is not None)
    finally:
        state.close()
    server.stop()
    caller.join(timeout=60)
    assert not caller.is_alive() and len(outcome) == 1
    assert isinstance(outcome[0], (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine, urllib.error.URLError)), outcome
    assert not isinstance(outcome[0], TimeoutError) and not isinstance(getattr(outcome[0], "reason", None), TimeoutError), outcome


# ---- asynchronous operations and callbacks ------------------------------------------------------------


def test_an_async_operation_is_accepted_then_answers_by_callback(server, listen):
    listener = listen()
    status, body, _ = post(server.url + "/voice/port_number", {"phone_number": "+31201234567"}, key="port-1", headers={"X-Callback-Url": listener.url})
    assert (status, body) == (202, {"correlation_id": "port-1"})
    assert wait_until(lambda: listener.received)
    assert listener.received == [("/callbacks", "callback:port-1", {"correlation_id": "port-1", "status": "ok", "outputs": {}})]
    time.sleep(0.1)
    assert len(listener.received) == 1  # delivered: not sent again
    assert get(server.url + "/_callbacks?all=1") == []


def test_a_refused_callback_is_retried_until_the_listener_takes_it(server, listen):
    listener = listen(refuse=3)
    post(server.url + "/voice/port_number", {"phone_number": "+31201234567"}, key="port-1", headers={"X-Callback-Url": listener.url})
    assert wait_until(lambda: listener.received)
    time.sleep(0.1)
    assert listener.attempts == 4 and len(listener.received) == 1


def test_a_callback_waits_while_the_listener_is_down(server, listen):
    port = free_port()  # nobody listens there yet: connection refused
    post(server.url + "/voice/port_number", {"phone_number": "+31201234567"}, key="port-1", headers={"X-Callback-Url": f"http://127.0.0.1:{port}/callbacks"})
    time.sleep(0.15)
    (pushed,) = get(server.url + "/_callbacks?all=1")
    assert pushed["correlation_id"] == "port-1" and pushed["deliveries"] == 0
    listener = listen(port=port)
    assert wait_until(lambda: listener.received)
    assert listener.received[0][1:] == ("callback:port-1", {"correlation_id": "port-1", "status": "ok", "outputs": {}})


def test_twice_delivers_the_callback_twice(start, listen):
    server = start(faults={"voice.port_number": "twice"})
    listener = listen()
    post(server.url + "/voice/port_number", {"phone_number": "+31201234567"}, key="port-1", headers={"X-Callback-Url": listener.url})
    assert wait_until(lambda: len(listener.received) == 2)
    assert listener.received[0] == listener.received[1]
    time.sleep(0.1)
    assert len(listener.received) == 2
    # A synchronous operation under `twice` applies once and answers as usual.
    server.set_faults({"inventory.reserve_port": "twice"})
    assert post(server.url + "/inventory/reserve_port", PORT_ARGS, key="k1")[:2] == (200, {"port_id": "PORT-00001"})
    assert effects(server)["k1"]["calls"] == 1


def test_without_a_callback_url_the_callback_waits_to_be_collected(server):
    assert post(server.url + "/voice/port_number", {"phone_number": "+31201234567"}, key="port-1")[0] == 202
    (waiting,) = get(server.url + "/_callbacks")
    assert waiting == {"id": waiting["id"], "correlation_id": "port-1", "status": "ok", "outputs": {}, "system": "voice", "operation": "port_number"}
    assert [k for _, k, _ in server.simulators.pending_callbacks()] == ["port-1"]
    assert post(server.url + f"/_callbacks/{waiting['id']}/ack", {})[:2] == (200, {"ok": True, "pending": False})
    assert get(server.url + "/_callbacks") == [] and server.simulators.pending_callbacks() == []
    assert post(server.url + "/_callbacks/999/ack", {})[0] == 404


# ---- faults -------------------------------------------------------------------------------------------------


def test_fail_n_refuses_the_first_attempts_of_each_key(start):
    server = start(faults={"inventory.reserve_port": "fail:2"})
    answers = [post(server.url + "/inventory/reserve_port", PORT_ARGS, key="k1")[:2] for _ in range(3)]
    assert [a[0] for a in answers] == [503, 503, 200] and "attempt 2" in answers[1][1]["error"]
    assert answers[2][1] == {"port_id": "PORT-00001"}
    assert post(server.url + "/inventory/reserve_port", PORT_ARGS, key="k2")[0] == 503  # each key its own count
    assert {k: e["calls"] for k, e in effects(server).items()} == {"k1": 1}


def test_status_faults_answer_their_code_with_no_effect(start):
    server = start(faults={"inventory.reserve_port": "status:409", "ipam.assign_ip": "status:500:1"})
    for _ in range(3):
        status, body, _ = post(server.url + "/inventory/reserve_port", PORT_ARGS, key="k1")
        assert status == 409 and "status:409" in body["error"]
    assert [post(server.url + "/ipam/assign_ip", {"ip_version": "v4"}, key="k2")[0] for _ in range(2)] == [500, 200]
    assert sorted(effects(server)) == ["k2"]


def test_slow_answers_after_the_wait(start):
    server = start(faults={"inventory.reserve_port": "slow:200"})
    began = time.monotonic()
    assert post(server.url + "/inventory/reserve_port", PORT_ARGS, key="k1")[:2] == (200, {"port_id": "PORT-00001"})
    assert time.monotonic() - began >= 0.2


def test_slow_and_fail_combine(start):
    server = start(faults={"inventory.reserve_port": "slow:50,fail:1"})
    began = time.monotonic()
    assert [post(server.url + "/inventory/reserve_port", PORT_ARGS, key="k1")[0] for _ in range(2)] == [503, 200]
    assert time.monotonic() - began >= 0.1


def test_hang_never_answers_and_applies_nothing(start):
    server = start(faults={"inventory.reserve_port": "hang"})
    with pytest.raises((TimeoutError, socket.timeout, urllib.error.URLError)):
        post(server.url + "/inventory/reserve_port", PORT_ARGS, key="k1", timeout=0.3)
    assert effects(server) == {}
    # Lifted at run time: the client's retry under the same key goes through.
    assert post(server.url + "/_faults", {"inventory.reserve_port": None})[:2] == (200, {})
    assert post(server.url + "/inventory/reserve_port", PORT_ARGS, key="k1")[:2] == (200, {"port_id": "PORT-00001"})
    assert effects(server)["k1"]["calls"] == 1


def test_faults_change_at_run_time(server):
    assert get(server.url + "/_faults") == {}
    status, body, _ = post(server.url + "/_faults", {"inventory.reserve_port": "fail:1", "ipam.assign_ip": "slow:1,twice"})
    assert (status, body) == (200, {"inventory.reserve_port": "fail:1", "ipam.assign_ip": "slow:1,twice"})
    assert [post(server.url + "/inventory/reserve_port", PORT_ARGS, key="k1")[0] for _ in range(2)] == [503, 200]
    # All or nothing: one bad entry changes nothing.
    status, body, _ = post(server.url + "/_faults", {"inventory.reserve_port": None, "ipam.assign_ip": "fail:x"})
    assert status == 400 and "fail:x" in body["error"]
    status, body, _ = post(server.url + "/_faults", {"crm.create": "fail:1"})
    assert status == 400 and "crm.create" in body["error"]
    assert get(server.url + "/_faults") == {"inventory.reserve_port": "fail:1", "ipam.assign_ip": "slow:1,twice"}
    assert post(server.url + "/_faults", {"inventory.reserve_port": "status:400"})[1]["inventory.reserve_port"] == "status:400"
    assert post(server.url + "/inventory/reserve_port", PORT_ARGS, key="k2")[0] == 400


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("fail:3", dict(status=503, times=3)),
        ("status:409", dict(status=409, times=None)),
        ("status:500:2", dict(status=500, times=2)),
        ("slow:250", dict(slow_ms=250)),
        ("hang", dict(hang=True)),
        ("twice", dict(twice=True)),
        ("slow:200, fail:1", dict(status=503, times=1, slow_ms=200, spec="slow:200,fail:1")),
    ],
)
def test_fault_specs(spec, expected):
    fault = parse_fault(spec)
    for name, value in expected.items():
        assert getattr(fault, name) == value


@pytest.mark.parametrize(
    "spec, words",
    [
        ("", "expected"),
        ("fail", "cannot read 'fail'"),
        ("fail:two", "whole number"),
        ("status:200", "not an error status"),
        ("status:abc", "whole number"),
        ("slow:1,slow:2", "slow is given twice"),
        ("fail:1,status:500", "not both"),
        ("explode", "cannot read 'explode'"),
        ("hang:5", "cannot read 'hang:5'"),
    ],
)
def test_bad_fault_specs_are_refused_clearly(spec, words):
    with pytest.raises(ValueError, match=words):
        parse_fault(spec)


def test_a_fault_for_an_operation_the_catalog_lacks_is_refused(catalog, tmp_path):
    with pytest.raises(ValueError, match="inventory.teleport"):
        SimulatorServer(catalog, str(tmp_path / "s.db"), faults={"inventory.teleport": "fail:1"})
    with pytest.raises(ValueError, match="SYSTEM.OPERATION=SPEC"):
        parse_fault_option("inventory.reserve_port")


# ---- state across restarts -----------------------------------------------------------------------------


def test_state_survives_a_restart(start, listen, tmp_path):
    state = tmp_path / "kept.db"
    first = start(state=state)
    assert post(first.url + "/inventory/reserve_port", PORT_ARGS, key="k1")[1] == {"port_id": "PORT-00001"}
    port = free_port()  # a callback nobody takes before the stop
    post(first.url + "/voice/port_number", {"phone_number": "+31201234567"}, key="port-1", headers={"X-Callback-Url": f"http://127.0.0.1:{port}/cb"})
    first.stop()
    listener = listen(port=port)
    second = start(state=state)
    assert post(second.url + "/inventory/reserve_port", PORT_ARGS, key="k1")[1] == {"port_id": "PORT-00001"}
    assert post(second.url + "/inventory/reserve_port", PORT_ARGS, key="k2")[1] == {"port_id": "PORT-00002"}
    assert effects(second)["k1"]["calls"] == 2
    assert wait_until(lambda: listener.received)
    assert listener.received[0][1] == "callback:port-1"


def test_the_in_process_simulators_read_the_same_state(server):
    post(server.url + "/inventory/reserve_port", PORT_ARGS, key="k1")
    sims = Simulators(server.state_path)
    try:
        assert [(k, s, o, c) for k, s, o, _a, _out, c in sims.effects()] == [("k1", "inventory", "reserve_port", 1)]
    finally:
        sims.close()


# ---- the command line ---------------------------------------------------------------------------------


def test_om_simulate_serve_prints_its_url_and_serves(tmp_path):
    code = "import om_dsl.cli.simulate; from om_dsl.cli import main; main()"
    command = [sys.executable, "-c", code, "simulate", "serve", str(ACME), "--port", "0", "--state", str(tmp_path / "s.db"), "--fault", "ipam.assign_ip=fail:1", "-q"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), process.stderr.read() if process.poll() is not None else url
        assert get(url + "/_health") == {"ok": True}
        assert get(url + "/_faults") == {"ipam.assign_ip": "fail:1"}
    finally:
        process.terminate()
        process.wait(timeout=5)
    assert process.returncode == 0


def test_om_simulate_serve_refuses_a_folder_that_is_not_a_compiled_catalog(tmp_path):
    result = CliRunner().invoke(main, ["simulate", "serve", str(tmp_path)])
    assert result.exit_code == 2 and "not a compiled catalog" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(main, ["simulate", "serve", str(tmp_path / "missing")])
    assert result.exit_code == 2
    result = CliRunner().invoke(main, ["simulate", "serve", str(ACME), "--fault", "inventory.reserve_port=sometimes"])
    assert result.exit_code == 2 and "cannot read 'sometimes'" in result.output
