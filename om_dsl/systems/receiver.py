"""The callback receiver: where downstream systems POST the answers of
asynchronous operations (`[engine] callback_url`).

    POST /callbacks/TOKEN   {"correlation_id": KEY, "status": "ok"|"failed", "outputs": {...}, "message": "..."}
                            header Idempotency-Key: the callback's own id (else derived from the correlation id)

TOKEN is the call's callback token (om_dsl.systems.callback_auth): the HTTP
adapter sends each asynchronous call the URL with its token, and the system
POSTs its answer there. A callback without a token, or with one that is not
the correlation id's, is refused (401) and counted (`refused`, the store's
meta `callbacks_refused`, a warning on the log), and nothing of it is kept:
it can neither complete nor fail a call, nor take the id of the genuine
callback that comes later.

The callback is written to the store's inbox, durably, before the answer
(202); the runner applies it to its order. A callback that arrives again
(same id) is counted and answered 200, never queued twice; one for an
unknown correlation id stays in the inbox, marked applied, and changes
nothing. On Temporal (`om worker --listen`) the sink signals the order's
workflow instead: the answer comes once the signal is in its history.

Requests are bounded (om_dsl.systems.http_server): a Content-Length is
required, bodies above `limits.MAX_BODY` are refused unread, a request must
be in within the request timeout.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Callable, Optional
from urllib.parse import unquote, urlsplit

from om_dsl import limits
from om_dsl.embedded.store import Store
from om_dsl.systems import callback_auth
from om_dsl.systems.http_server import REQUEST_TIMEOUT_S, BoundedHandler, BoundedServer, Refused

MAX_BODY = limits.MAX_BODY
PATH = "/callbacks"
log = logging.getLogger("om_dsl.callbacks")


class StoreInbox:
    """Callbacks into the embedded store's inbox; the secret is the store's (or the configuration's, when it names one)."""

    def __init__(self, db_path: str, clock: Optional[Callable[[], int]] = None, on_callback: Optional[Callable] = None, secret: Optional[str] = None):
        import time

        self.store = Store(db_path, shared=True)
        self.lock = threading.Lock()
        self.clock = clock or (lambda: int(time.time() * 1000))
        self.on_callback = on_callback or (lambda: None)
        with self.lock:
            self.secret = secret or self.store.callback_secret()

    def receive(self, callback_id: str, correlation_id: str, payload: dict) -> bool:
        """Keep the callback durably; False when it came before."""
        with self.lock:
            with self.store.transaction() as db:
                fresh = self.store.receive_callback(db, callback_id, correlation_id, payload, self.clock())
        self.on_callback()
        return fresh

    def refused(self, note: dict) -> None:
        """Count a refused callback durably, and keep what the last one looked like (bounded)."""
        with self.lock:
            with self.store.transaction() as db:
                self.store.count_refused_callback(db, json.dumps({"at": self.clock(), **note}, sort_keys=True))

    def close(self) -> None:
        self.store.close()


class CallbackReceiver:
    def __init__(
        self,
        sink,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Optional[Callable[[], int]] = None,
        on_callback: Optional[Callable] = None,
        secret: Optional[str] = None,
        request_timeout_s: float = REQUEST_TIMEOUT_S,
    ):
        """`sink`: a database path (the embedded store's inbox, and its secret unless `secret` is given), or
        anything with `receive(callback id, correlation id, payload) -> fresh` and `close()` (then `secret` is required)."""
        self.sink = StoreInbox(sink, clock, on_callback, secret) if isinstance(sink, str) else sink
        self.secret = secret or getattr(self.sink, "secret", None)
        if not self.secret:
            raise ValueError("a callback receiver needs the deployment's callback secret")
        self.refused = 0  # callbacks refused for want of a valid token, since the start
        self._refused_lock = threading.Lock()
        receiver = self

        class Handler(BoundedHandler):
            def log_message(self, *args):  # quiet: the history says what happened
                pass

            def _answer(self, status: int, body: dict, close: bool = False) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if close:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if urlsplit(self.path).path == "/_health":
                    self._answer(200, {"ok": True, "refused": receiver.refused})
                else:
                    self._answer(404, {"error": "not found"})

            def do_POST(self):
                try:
                    self._callback()
                except Refused as exc:
                    self._answer(exc.status, {"error": exc.message}, close=exc.close)

            def _callback(self):
                path = urlsplit(self.path).path.rstrip("/")
                head, _, token = path.rpartition("/")
                if path != PATH and head != PATH:
                    raise Refused(404, f"no endpoint {path[:80]}: callbacks go to the X-Callback-Url of their call", close=True)
                raw = self.read_body(MAX_BODY)  # read (within the bounds) even when refused: the client then sees the answer
                if path == PATH:
                    try:
                        said = _body(raw)["correlation_id"]
                    except Refused:
                        said = None
                    receiver._refuse(self.client_address[0], said, "no callback token in the URL")
                    raise Refused(401, "a callback goes to the URL its call gave (X-Callback-Url), with its token", close=True)
                body = _body(raw)
                correlation_id = body["correlation_id"]
                if not callback_auth.valid(receiver.secret, correlation_id, unquote(token)):
                    receiver._refuse(self.client_address[0], correlation_id, "the token is not the call's")
                    raise Refused(401, "the callback's token is not its call's", close=True)
                given = self.headers.get("Idempotency-Key")
                default = f"callback:{correlation_id}"
                if given is not None:
                    try:
                        limits.check_id(given, "the Idempotency-Key")
                    except limits.InputLimit as exc:
                        raise Refused(400, str(exc)) from None
                # The id is scoped by the correlation id: one call's system cannot take the id of another call's callback.
                callback_id = default if given in (None, "", default) else f"{default}#{given}"
                payload = {"status": body.get("status", "ok"), "outputs": body.get("outputs") or {}, "message": body.get("message") or ""}
                try:
                    fresh = receiver.sink.receive(callback_id, correlation_id, payload)
                except Exception as exc:  # noqa: BLE001 - not kept: the system must send it again
                    raise Refused(503, f"the callback was not kept, send it again: {type(exc).__name__}") from None
                self._answer(202 if fresh else 200, {"received": callback_id, "duplicate": not fresh})

        self.server = BoundedServer((host, port), Handler, request_timeout_s)
        self.thread: Optional[threading.Thread] = None

    def _refuse(self, peer: str, correlation_id: Optional[str], reason: str) -> None:
        """Count and report a callback without a valid token; what it said is not kept, only its (bounded) correlation id."""
        with self._refused_lock:
            self.refused += 1
        shown = json.dumps(correlation_id[: limits.MAX_ID]) if correlation_id is not None else "none"
        log.warning("callback refused from %s: %s (correlation id %s)", peer, reason, shown)
        note = getattr(self.sink, "refused", None)
        if note is not None:
            try:
                note({"from": peer, "correlation_id": correlation_id[: limits.MAX_ID] if correlation_id else None, "reason": reason})
            except Exception:  # noqa: BLE001 - counting must not turn a 401 into a 500
                log.warning("a refused callback could not be counted in the store", exc_info=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}{PATH}"

    def start(self) -> "CallbackReceiver":
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, name="om-callbacks", daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self.thread is not None:
            self.thread.join()
        self.sink.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def _body(raw: bytes) -> dict:
    """The callback, read within the limits and checked; Refused (400) otherwise."""
    try:
        body = limits.load_json(raw)
    except ValueError as exc:  # InputLimit, JSONDecodeError
        raise Refused(400, f"the body is not a readable JSON callback: {exc}") from None
    problem = _check(body)
    if problem:
        raise Refused(400, problem)
    return body


def _check(body) -> Optional[str]:
    if not isinstance(body, dict):
        return "a callback is a JSON object"
    if not isinstance(body.get("correlation_id"), str) or not body["correlation_id"]:
        return "a callback needs its correlation_id (the call's idempotency key)"
    try:
        limits.check_id(body["correlation_id"], "the correlation_id")
    except limits.InputLimit as exc:
        return str(exc)
    if body.get("status", "ok") not in ("ok", "failed"):
        return "status is ok or failed"
    if "outputs" in body and body["outputs"] is not None and not isinstance(body["outputs"], dict):
        return "outputs is a JSON object"
    if "message" in body and body["message"] is not None and not isinstance(body["message"], str):
        return "message is a string (why the operation failed)"
    return None
