"""The downstream systems of a compiled catalog, served over HTTP/JSON.

`SimulatorServer` answers every operation the catalog declares, as a real
system would: with its own state (the `Simulators` SQLite file, committed
apart from the engine's), deterministic answers (ids from counters in that
file, no randomness), idempotency keys, callbacks for asynchronous
operations, and faults injected on demand. Standard library only
(`http.server.ThreadingHTTPServer`, `urllib`).

Starting it
-----------

Python::

    with SimulatorServer(catalog, "om.simulators.db", port=0, faults={"inventory.reserve_port": "fail:2"}) as server:
        server.url  # "http://127.0.0.1:43127"

`SimulatorServer(catalog, state_path, host="127.0.0.1", port=0, faults=None,
callback_delay_ms=50, allow_remote_callbacks=False, allow_remote_bind=False,
request_timeout_s=5)`: `.start()` serves in background threads (port 0
picks a free port), `.url`, `.stop()`; a context manager starts and stops it.

It is a test tool: `/_faults` has no authentication. It listens only on a
loopback address (else ValueError) unless `allow_remote_bind`, and POSTs
callbacks only to loopback hosts (127.0.0.0/8, ::1, localhost; names are not
resolved) unless `allow_remote_callbacks`. Requests are bounded as the
engine's receiver's are (om_dsl.systems.http_server).

Command line: `om simulate serve CATALOG_DIR [--port N] [--host H] [--state
PATH] [--fault SYSTEM.OPERATION=SPEC ...] [--callback-delay-ms N]
[--request-timeout S] [--allow-remote-callbacks] [--allow-remote-bind]`; it
prints its URL as the first line on stdout and serves until Ctrl-C (or
SIGTERM).

Operations
----------

`POST /{system}/{operation}`, the body a JSON object of the operation's
arguments, exactly its declared inputs (a value may be null; a string must
be a string, an int an int, a bool a bool, a decimal a number or a numeric
string, a date an ISO date string). The header `Idempotency-Key` is
required. Every answer is JSON; errors are `{"error": MESSAGE}`.

- 404: no such system or operation (405: not POST).
- 400: no `Idempotency-Key`; a body that is not a JSON object; arguments
  that are not exactly the inputs (the message names them); an
  `X-Callback-Url` that is not an http(s) URL, or not on a loopback host;
  a Content-Length that is not a number. 411: a chunked body, or none.
- 413: a body above 1 MiB (not read; the connection is closed).
- 409: a key already used for another operation or other arguments.
- A synchronous operation: 200 with an object of its declared outputs
  (PORT-00001, SHP-000001, 203.0.113.N, +3120555NNNN, NAME-NNNNN; ints for
  int outputs). The same key again: the same answer (header
  `Idempotent-Replayed: true`), no new effect; the effect's `calls` counts up.
- An asynchronous operation: 202 `{"correlation_id": KEY}`. After
  `callback_delay_ms` the server POSTs `{"correlation_id": KEY, "status":
  "ok", "outputs": {...}}` with the header `Idempotency-Key: callback:KEY`
  to the URL of the request's `X-Callback-Url`. A failed POST (no
  connection, an answer that is not 2xx, no answer within 5 s) is tried
  again every `callback_delay_ms` (at least 10 ms, at most 2 s) until it
  succeeds or the server stops; undelivered callbacks are kept in the state
  file and pushed again after a restart. Without `X-Callback-Url` the
  callback waits in the state to be collected (`Simulators.pending_callbacks`,
  `GET /_callbacks`, acknowledged by `POST /_callbacks/{id}/ack`). The same
  key again: 202 again, and the callback is sent again (to the URL of the
  latest request).

Faults
------

Per `system.operation`, from `faults={...}` / `--fault SYSTEM.OPERATION=SPEC`,
or at run time by `POST /_faults` with `{"inventory.reserve_port": "fail:2",
...}` (replacing that operation's fault; null removes it; every entry is
checked before any is applied; the answer is the faults now in force, as
`GET /_faults` gives them). A spec is one or more of, joined by `,`:

- `fail:N`: the first N attempts of each idempotency key answer 503, no effect;
- `status:CODE`: every attempt answers CODE (400-599), no effect;
- `status:CODE:N`: the first N attempts of each key answer CODE, no effect;
- `slow:MS`: wait MS before answering (the effect is applied after the wait);
- `hang`: never answer: hold the request until the client gives up (closes
  its connection), 60 s pass, or the server stops; then close the
  connection without an answer. No effect;
- `twice`: asynchronous operations deliver their callback twice (with the
  same body and key; a callback waiting to be collected is pending again
  after its first ack); synchronous ones apply once and answer as usual.

`fail` and `status` exclude each other; each kind appears at most once.
Attempts are counted per key in the state file (every request with the key
counts, including those a fault answered), so `fail:N` survives a restart.
Faults themselves live in memory only. A bad spec raises ValueError
(`--fault`: a usage error).

Looking in
----------

- `GET /_health`: 200 `{"ok": true}`.
- `GET /_effects`: `[{key, system, operation, args, outputs, calls}, ...]` by key.
- `GET /_callbacks`: the callbacks waiting to be collected, `[{id,
  correlation_id, status, outputs, system, operation}, ...]`; with `?all=1`
  also those being pushed (with `url`, `copies`, `deliveries`).
- `POST /_callbacks/{id}/ack`: one copy of a collected callback received.
- `GET /_faults`: `{"system.operation": SPEC, ...}`.
"""

from __future__ import annotations

import ipaddress
import json
import re
import select
import socket
import threading
import time
import urllib.error
import urllib.request
from typing import Callable, Optional
from urllib.parse import parse_qs, urlsplit

from om_dsl import limits
from om_dsl.simulate.arguments import check_arguments
from om_dsl.simulate.faults import Fault, parse_fault
from om_dsl.simulate.simulators import KeyReused, Simulators
from om_dsl.systems import http as http_client
from om_dsl.systems.http_server import REQUEST_TIMEOUT_S, BoundedHandler, BoundedServer
from om_dsl.systems.http_server import Refused as _Refused

MAX_BODY_BYTES = limits.MAX_BODY
HANG_LIMIT_S = 60.0
RETRY_CAP_MS = 2000
RETRY_FLOOR_MS = 10
CALLBACK_TIMEOUT_S = 5.0


def is_loopback(host: Optional[str]) -> bool:
    """A loopback address (127.0.0.0/8, ::1) or `localhost`; names are not resolved (a name can point anywhere later)."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# ---- faults ----------------------------------------------------------------------------------------------


# ---- the server -----------------------------------------------------------------------------------------


class _HttpServer(BoundedServer):
    allow_reuse_address = True

    def __init__(self, address, handler, owner: "SimulatorServer"):
        self.owner = owner
        super().__init__(address, handler, owner.request_timeout_s)


class SimulatorServer:
    """The systems of `catalog` over HTTP, their state in `state_path` (see the module docstring)."""

    def __init__(
        self,
        catalog,
        state_path: str,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: Optional[dict] = None,
        callback_delay_ms: int = 50,
        log: Optional[Callable[[str], None]] = None,
        allow_remote_callbacks: bool = False,
        allow_remote_bind: bool = False,
        request_timeout_s: float = REQUEST_TIMEOUT_S,
    ):
        """`allow_remote_callbacks`: POST callbacks to any host, not only loopback ones.
        `allow_remote_bind`: listen on an address that is not loopback (then anyone who
        reaches it can change the faults: /_faults has no authentication)."""
        if not allow_remote_bind and not is_loopback(host):
            raise ValueError(f"{host} is not a loopback address: the simulator is a test tool, and /_faults has no authentication (--allow-remote-bind, or allow_remote_bind=True, to listen there all the same)")
        self.catalog = catalog
        self.allow_remote_callbacks = allow_remote_callbacks
        self.request_timeout_s = request_timeout_s
        self.state_path = str(state_path)
        self.host = host
        self.port = port
        self.callback_delay_ms = max(0, int(callback_delay_ms))
        self.log = log
        self.operations = {(op.system, op.name): op for system in catalog.systems for op in system.operations}
        self._faults: dict[str, Fault] = {}
        self._faults_lock = threading.Lock()
        self.set_faults(faults or {})
        self.simulators: Optional[Simulators] = None
        self._http: Optional[_HttpServer] = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._due: dict[int, float] = {}  # callback id -> when to push it (time.monotonic)
        self._due_changed = threading.Condition()
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._connections_lock = threading.Lock()

    # ---- lifecycle --------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._http is None:
            raise RuntimeError("the simulator server is not started")
        host, port = self._http.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "SimulatorServer":
        if self._http is not None:
            raise RuntimeError("the simulator server is already started")
        self._stop.clear()
        self.simulators = Simulators(self.state_path)
        try:
            self._http = _HttpServer((self.host, self.port), _Handler, self)
        except BaseException:
            self.simulators.close()
            self.simulators = None
            raise
        now = time.monotonic()
        with self._due_changed:  # callbacks not pushed before a stop: pushed again
            self._due = {cb_id: now + self.callback_delay_ms / 1000 for cb_id in self.simulators.pushed_callbacks()}
        self._threads = [
            threading.Thread(target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, name="om-simulate-http", daemon=True),
            threading.Thread(target=self._push_callbacks, name="om-simulate-callbacks", daemon=True),
        ]
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        if self._http is None:
            return
        self._stop.set()
        with self._due_changed:
            self._due_changed.notify_all()
        self._http.shutdown()
        self._http.server_close()
        with self._connections_lock:  # wake requests waiting on idle keep-alive connections
            connections = dict(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in [*self._threads, *connections.values()]:
            if t is not threading.current_thread():
                t.join(timeout=CALLBACK_TIMEOUT_S + 1)
        self._threads = []
        self._http = None
        self.simulators.close()
        self.simulators = None

    def __enter__(self) -> "SimulatorServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _log(self, message: str) -> None:
        if self.log is not None:
            self.log(message)

    # ---- faults -------------------------------------------------------------------------------------

    def faults(self) -> dict[str, str]:
        with self._faults_lock:
            return {target: fault.spec for target, fault in sorted(self._faults.items())}

    def set_faults(self, changes: dict) -> dict[str, str]:
        """Replace the faults of the operations named (None removes one); all or nothing."""
        if not isinstance(changes, dict):
            raise ValueError("faults: expected an object of SYSTEM.OPERATION -> SPEC (or null)")
        parsed = {}
        for target, spec in changes.items():
            system, _, operation = str(target).partition(".")
            if (system, operation) not in self.operations:
                known = ", ".join(f"{s}.{o}" for s, o in sorted(self.operations))
                raise ValueError(f"fault for {target!r}: the catalog has no such operation (it has {known})")
            parsed[target] = None if spec is None else parse_fault(spec)
        with self._faults_lock:
            for target, fault in parsed.items():
                if fault is None:
                    self._faults.pop(target, None)
                else:
                    self._faults[target] = fault
        return self.faults()

    def fault(self, system: str, operation: str) -> Optional[Fault]:
        with self._faults_lock:
            return self._faults.get(f"{system}.{operation}")

    # ---- callbacks ----------------------------------------------------------------------------------

    def _retry_s(self) -> float:
        return min(max(self.callback_delay_ms, RETRY_FLOOR_MS), RETRY_CAP_MS) / 1000

    def _schedule(self, callback_id: int, after_s: float) -> None:
        with self._due_changed:
            self._due[callback_id] = time.monotonic() + after_s
            self._due_changed.notify_all()

    def _push_callbacks(self) -> None:
        while not self._stop.is_set():
            with self._due_changed:
                now = time.monotonic()
                due = sorted(i for i, at in self._due.items() if at <= now)
                if not due:
                    wait = min(self._due.values()) - now if self._due else 1.0
                    self._due_changed.wait(min(max(wait, 0.001), 1.0))
                    continue
            for cb_id in due:
                if self._stop.is_set():
                    return
                self._push(cb_id)

    def _push(self, cb_id: int) -> None:
        try:
            cb = self.simulators.callback(cb_id)
        except Exception:  # the state closed under us: stopping
            return
        if cb is None or cb["delivered"] or cb["url"] is None:
            with self._due_changed:
                self._due.pop(cb_id, None)
            return
        if not self.allow_remote_callbacks and not is_loopback(urlsplit(cb["url"]).hostname):  # (a state file of another run)
            self._log(f"callback {cb['key']} -> {cb['url']}: not a loopback host; not sent")
            with self._due_changed:
                self._due.pop(cb_id, None)
            return
        body = json.dumps({"correlation_id": cb["key"], "status": "ok", "outputs": cb["outputs"]}).encode("utf-8")
        request = urllib.request.Request(
            cb["url"], data=body, method="POST", headers={"Content-Type": "application/json", "Idempotency-Key": f"callback:{cb['key']}"}
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(request, timeout=CALLBACK_TIMEOUT_S) as response:
                response.read()
                ok = 200 <= response.status < 300
                problem = f"answered {response.status}"
        except urllib.error.HTTPError as exc:
            ok, problem = False, f"answered {exc.code}"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            ok, problem = False, str(getattr(exc, "reason", exc))
        if self._stop.is_set() and not ok:
            return
        if ok:
            try:
                done = self.simulators.ack_callback(cb_id)
            except Exception:
                return
            self._log(f"callback {cb['key']} -> {cb['url']}: delivered ({cb['deliveries'] + 1} of {cb['copies']})")
            if done:
                with self._due_changed:
                    self._due.pop(cb_id, None)
            else:
                self._schedule(cb_id, self.callback_delay_ms / 1000)
        else:
            self._log(f"callback {cb['key']} -> {cb['url']}: {problem}; again in {self._retry_s():g} s")
            self._schedule(cb_id, self._retry_s())


# ---- requests -------------------------------------------------------------------------------------------


class _Handler(BoundedHandler):
    protocol_version = "HTTP/1.1"
    server_version = "om-simulate"
    sys_version = ""
    server: _HttpServer

    # ---- plumbing ----

    @property
    def owner(self) -> SimulatorServer:
        return self.server.owner

    def setup(self) -> None:
        super().setup()
        with self.owner._connections_lock:
            self.owner._connections[self.connection] = threading.current_thread()

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.owner._connections_lock:
                self.owner._connections.pop(self.connection, None)

    def log_message(self, format: str, *args) -> None:
        self.owner._log(f"{self.address_string()} {format % args}")

    def _send(self, status: int, payload, headers: Optional[dict] = None, close: bool = False) -> None:
        body = json.dumps(payload, sort_keys=True).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, message: str, close: bool = False, headers: Optional[dict] = None) -> None:
        self._send(status, {"error": message}, headers=headers, close=close)

    def _body(self):
        """The request's JSON body (anything JSON, within the limits), or _Refused."""
        raw = self.read_body(MAX_BODY_BYTES)
        if not raw.strip():
            raise _Refused(400, "the body is empty: send a JSON object of the operation's arguments")
        try:
            return limits.load_json(raw)
        except ValueError as exc:
            raise _Refused(400, f"the body is not JSON: {exc}") from None

    def _discard_body(self) -> None:
        """Read whatever body came (it means nothing here), so that the connection stays usable."""
        self.read_body(MAX_BODY_BYTES, required=False)

    def _stopping(self) -> bool:
        return self.owner._stop.is_set()

    # ---- methods ----

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/") or "/"
        sims = self.owner.simulators
        try:
            if path == "/_health":
                self._send(200, {"ok": True})
            elif path == "/_effects":
                effects = [
                    {"key": k, "system": s, "operation": o, "args": json.loads(a), "outputs": json.loads(out), "calls": c}
                    for k, s, o, a, out, c in sims.effects()
                ]
                self._send(200, effects)
            elif path == "/_callbacks":
                everything = parse_qs(parts.query).get("all", ["0"])[-1] not in ("0", "", "false", "no")
                self._send(200, [_callback_view(cb, everything) for cb in sims.callbacks(pushed=None if everything else False)])
            elif path == "/_faults":
                self._send(200, self.owner.faults())
            elif self._operation(path) is not None:
                self._error(405, f"{path}: use POST", headers={"Allow": "POST"})
            else:
                self._error(404, f"nothing at {path}")
        except Exception as exc:  # the state closed while stopping, ...: an error answer, not a dead thread
            self._error(500 if not self._stopping() else 503, f"{type(exc).__name__}: {exc}", close=True)

    def do_POST(self) -> None:
        path = urlsplit(self.path).path.rstrip("/") or "/"
        try:
            if path == "/_faults":
                self._post_faults()
                return
            ack = re.fullmatch(r"/_callbacks/([0-9]+)/ack", path)
            if ack:
                self._post_ack(int(ack.group(1)))
                return
            op = self._operation(path)
            if op is None:
                self._error(404, f"no operation at {path}: the catalog's are /SYSTEM/OPERATION ({_operation_list(self.owner)})", close=True)
                return
            self._call(op)
        except _Refused as refused:
            self._error(refused.status, refused.message, close=refused.close)
        except OSError:  # the client went away, or was cut off at the request timeout
            self.close_connection = True
        except Exception as exc:  # the same: never leave a request unanswered
            self._error(500 if not self._stopping() else 503, f"{type(exc).__name__}: {exc}", close=True)

    def _operation(self, path: str):
        segments = path.strip("/").split("/")
        if len(segments) != 2 or segments[0].startswith("_"):
            return None
        return self.owner.operations.get((segments[0], segments[1]))

    def _post_faults(self) -> None:
        changes = self._body()
        try:
            self._send(200, self.owner.set_faults(changes))
        except ValueError as exc:
            self._error(400, str(exc))

    def _post_ack(self, cb_id: int) -> None:
        self._discard_body()
        sims = self.owner.simulators
        if sims.callback(cb_id) is None:
            self._error(404, f"no callback {cb_id}")
            return
        done = sims.ack_callback(cb_id)
        self._send(200, {"ok": True, "pending": not done})

    def _call(self, op) -> None:
        name = f"{op.system}.{op.name}"
        key = (self.headers.get("Idempotency-Key") or "").strip()
        body = self._body()  # read it first, so that the connection stays usable whatever the answer
        if not key:
            raise _Refused(400, f"{name}: the Idempotency-Key header is required (the same on every retry of one call)")
        problem = check_arguments(op, body)
        if problem:
            raise _Refused(400, problem)
        callback_url = None
        if op.is_async:
            callback_url = (self.headers.get("X-Callback-Url") or "").strip() or None
            if callback_url is not None and http_client.check_url(callback_url) is not None:
                raise _Refused(400, f"{name}: X-Callback-Url {callback_url[:200]!r} is not an http(s) URL")
            if callback_url is not None and not self.owner.allow_remote_callbacks and not is_loopback(urlsplit(callback_url).hostname):
                raise _Refused(400, f"{name}: X-Callback-Url {callback_url[:200]!r} is not on a loopback host; the simulator POSTs callbacks only to 127.0.0.1/::1/localhost unless started with --allow-remote-callbacks")
        sims = self.owner.simulators
        fault = self.owner.fault(op.system, op.name)
        attempt = sims.attempt(key)
        if fault is not None:
            if fault.hang:
                self._hang()
                return
            if fault.slow_ms and self.owner._stop.wait(fault.slow_ms / 1000):
                self.close_connection = True  # stopping: no answer, no effect
                return
            if fault.refuses(attempt):
                reason = "service unavailable" if fault.status == 503 else "error"
                raise _Refused(fault.status, f"{name}: {fault.status} {reason} (simulated by fault {fault.spec}, attempt {attempt})")
        copies = 2 if fault is not None and fault.twice and op.is_async else 1
        outputs = [[p.name, p.type] for p in op.outputs]
        try:
            applied = sims.apply(op.system, op.name, body, key, outputs, op.is_async, callback_url, copies)
        except KeyReused as exc:
            raise _Refused(409, f"{name}: {exc}") from None
        headers = {"Idempotent-Replayed": "true"} if applied.replayed else {}
        if op.is_async:
            if callback_url is not None and applied.callback_id is not None:
                self.owner._schedule(applied.callback_id, self.owner.callback_delay_ms / 1000)
            self._send(202, {"correlation_id": key}, headers)
        else:
            self._send(200, applied.outputs, headers)

    def _hang(self) -> None:
        """Hold the request, answering nothing, until the client leaves, 60 s pass or the server stops."""
        deadline = time.monotonic() + HANG_LIMIT_S
        conn = self.connection
        while not self._stopping() and time.monotonic() < deadline:
            try:
                readable, _, _ = select.select([conn], [], [], 0.05)
                if readable and not conn.recv(1, socket.MSG_PEEK):
                    break  # the client closed its connection: it gave up
            except (OSError, ValueError):
                break
            if readable:  # data, not a close: do not spin on it
                self.owner._stop.wait(0.05)
        self.close_connection = True


def _callback_view(cb: dict, everything: bool) -> dict:
    view = {
        "id": cb["id"],
        "correlation_id": cb["key"],
        "status": "ok",
        "outputs": cb["outputs"],
        "system": cb["system"],
        "operation": cb["operation"],
    }
    if everything:
        view.update(url=cb["url"], copies=cb["copies"], deliveries=cb["deliveries"])
    return view


def _operation_list(owner: SimulatorServer) -> str:
    names = [f"{s}/{o}" for s, o in sorted(owner.operations)]
    return ", ".join(names[:12]) + (f", ... ({len(names)} in all)" if len(names) > 12 else "")
