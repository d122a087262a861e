"""Both of om's HTTP servers, the callback receiver (`om serve`, `om worker
--listen`) and the simulator server (`om simulate serve`), bound what a
client can make them do: a Content-Length is required and must be a
number, bodies over limits.MAX_BODY are refused unread, a request that does
not arrive in time is cut off, and a burst of connections is queued, not
reset. Probed with raw sockets on 127.0.0.1."""

from __future__ import annotations

import concurrent.futures
import json
import socket
import threading
import time
import urllib.error
import urllib.request

import pytest
from click.testing import CliRunner

from om_dsl import limits
from om_dsl.cli import main
from om_dsl.rules.generated import GeneratedRules
from om_dsl.simulate.server import SimulatorServer
from om_dsl.systems import callback_auth
from om_dsl.systems.receiver import CallbackReceiver

from support.engine_helpers import ACME

TIMEOUT_S = 0.3  # the servers' request timeout in these tests


@pytest.fixture(params=["receiver", "simulator"])
def server(request, tmp_path):
    """(host, port, a path that takes a POST) of each server, with a small request timeout."""
    if request.param == "receiver":
        s = CallbackReceiver(str(tmp_path / "om.db"), request_timeout_s=TIMEOUT_S).start()
        host, port = s.server.server_address[:2]
        yield host, port, "/callbacks/" + callback_auth.token(s.secret, "K"), s
        s.stop()
    else:
        with SimulatorServer(GeneratedRules(ACME).catalog, str(tmp_path / "systems.db"), request_timeout_s=TIMEOUT_S) as s:
            host, port = s._http.server_address[:2]
            yield host, port, "/inventory/check_address", s


def raw(host, port, data: bytes) -> bytes:
    """Send `data`, read until the server closes the connection (at most 30 s: a bound, not a measure)."""
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


@pytest.mark.parametrize(
    "length, status",
    [("-1", 400), ("abc", 400), ("1e3", 400), ("+5", 400), ("²", 400), (None, 411), (str(50 * 1024 * 1024), 413), (str(limits.MAX_BODY + 1), 413)],
)
def test_a_bad_or_missing_or_huge_content_length_is_refused_unread(server, length, status):
    host, port, path, _ = server
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nIdempotency-Key: k\r\nContent-Type: application/json\r\n"
    if length is not None:
        head += f"Content-Length: {length}\r\n"
    answer = raw(host, port, (head + "\r\n").encode("utf-8"))  # no body sent: the server must not wait for one
    assert status_of(answer) == status, answer[:300]
    assert b"error" in answer


def test_content_length_minus_one_does_not_read_to_the_end(tmp_path):
    """Before: `Content-Length: -1` read to EOF, and a 50 MB callback was stored."""
    with CallbackReceiver(str(tmp_path / "om.db")) as receiver:
        host, port = receiver.server.server_address[:2]
        body = json.dumps({"correlation_id": "K", "outputs": {"x": "y" * 1000}}).encode()
        answer = raw(host, port, b"POST /callbacks/" + callback_auth.token(receiver.secret, "K").encode() + b" HTTP/1.0\r\nContent-Length: -1\r\n\r\n" + body)
        assert status_of(answer) == 400
        assert receiver.sink.store.db.execute("SELECT COUNT(*) FROM inbox").fetchone()[0] == 0


def test_a_half_sent_request_is_cut_off(server):
    host, port, path, _ = server
    answer = raw(host, port, f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{{\"correlation_id\":".encode())
    assert answer == b"" or status_of(answer) in (400, 408), answer[:200]  # closed: the rest never came


def test_a_request_that_drips_in_is_cut_off(server):
    """One byte at a time, each well within the socket's own timeout: the request's deadline cuts it off all the same."""
    host, port, path, _ = server
    request = f"POST {path} HTTP/1.1\r\nHost: x\r\n" + "X-Slow: " + "a" * 10_000
    with socket.create_connection((host, port), timeout=30) as sock:
        cut = False
        for ch in request.encode():
            try:
                sock.sendall(bytes([ch]))
            except OSError:
                cut = True
                break
            readable = sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) if _readable(sock) else None
            if readable == b"":
                cut = True
                break
            time.sleep(TIMEOUT_S / 10)
        assert cut, "the server waited for the whole dripping request"


def _readable(sock) -> bool:
    import select

    return bool(select.select([sock], [], [], 0)[0])


def test_many_half_sent_requests_are_all_dropped_and_the_server_still_answers(server):
    host, port, path, _ = server
    socks = []
    for _ in range(100):
        s = socket.create_connection((host, port), timeout=30)
        s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{{".encode())
        socks.append(s)
    try:
        for s in socks:  # each is closed by the server (recv returns what it said, then b"")
            while s.recv(65536):
                pass
    finally:
        for s in socks:
            s.close()
    with urllib.request.urlopen(f"http://{host}:{port}/_health", timeout=10) as r:
        assert r.status == 200


def test_200_parallel_posts_are_all_answered(server):
    """Before: a listen backlog of 5, and resets under a burst."""
    host, port, path, s = server
    start = threading.Barrier(200)

    def one(n: int) -> int:
        if isinstance(s, CallbackReceiver):
            key = f"ORD-{n}:1/D1:x:1"
            url, body, headers = callback_auth.url_with_token(s.url, key, s.secret), {"correlation_id": key}, {}
        else:
            url, body, headers = f"http://{host}:{port}{path}", {"address_id": f"A-{n}"}, {"Idempotency-Key": f"k{n}"}
        request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json", **headers})
        start.wait()
        with urllib.request.urlopen(request, timeout=60) as r:
            return r.status

    with concurrent.futures.ThreadPoolExecutor(200) as pool:
        statuses = list(pool.map(one, range(200)))
    assert sorted(set(statuses)) == ([202] if isinstance(s, CallbackReceiver) else [200])


# ---- the simulator: a test tool, kept on loopback --------------------------------------------------


def test_the_simulator_listens_on_loopback_unless_told(tmp_path):
    catalog = GeneratedRules(ACME).catalog
    with pytest.raises(ValueError, match="not a loopback address"):
        SimulatorServer(catalog, str(tmp_path / "s.db"), host="0.0.0.0")
    with SimulatorServer(catalog, str(tmp_path / "s.db"), host="0.0.0.0", allow_remote_bind=True) as s:
        assert s._http.server_address[0] == "0.0.0.0"
    r = CliRunner().invoke(main, ["simulate", "serve", "generated/acme", "--host", "0.0.0.0", "--state", str(tmp_path / "s2.db")])
    assert r.exit_code == 2 and "--allow-remote-bind" in r.output


def test_the_simulator_calls_back_only_loopback_hosts_unless_told(tmp_path):
    catalog = GeneratedRules(ACME).catalog
    headers = {"Content-Type": "application/json", "Idempotency-Key": "port-1", "X-Callback-Url": "http://169.254.169.254/latest/meta-data"}
    body = json.dumps({"phone_number": "+31201234567"}).encode()
    for allow, status in ((False, 400), (True, 202)):
        with SimulatorServer(catalog, str(tmp_path / f"s{allow}.db"), allow_remote_callbacks=allow, callback_delay_ms=3_600_000) as s:
            request = urllib.request.Request(s.url + "/voice/port_number", data=body, method="POST", headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=10) as r:
                    got, answer = r.status, json.loads(r.read())
            except urllib.error.HTTPError as exc:
                got, answer = exc.code, json.loads(exc.read())
            assert got == status, answer
            if not allow:
                assert "not on a loopback host" in answer["error"] and "--allow-remote-callbacks" in answer["error"]


def test_past_the_connection_limit_a_request_is_503_at_once_and_served_again_after(tmp_path):
    import httpx
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from om_dsl.systems.asgi import ServerThread

    async def ok(request):
        return JSONResponse({"ok": True})

    server = ServerThread(Starlette(routes=[Route("/", ok)]), max_connections=5).start()
    try:
        host, port = server.server_address
        idle = [socket.create_connection((host, port), timeout=30) for _ in range(5)]
        for s in idle:  # each is a connection the server holds (its first request is never finished)
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        deadline = time.monotonic() + 30  # the server takes the five in (a bound, not a measure)
        while httpx.get(server.url + "/", timeout=30).status_code != 503:
            assert time.monotonic() < deadline, "the sixth connection was served"
            time.sleep(0.05)
        for s in idle:
            s.close()
        deadline = time.monotonic() + 30
        while httpx.get(server.url + "/", timeout=30).status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        server.stop()
