"""The callback receiver: where downstream systems POST the answers of
asynchronous operations (`[engine] callback_url`).

    POST /callbacks   {"correlation_id": KEY, "status": "ok"|"failed", "outputs": {...}, "message": "..."}
                      header Idempotency-Key: the callback's own id (else derived from the correlation id)

The callback is written to the store's inbox, durably, before the answer
(202); the runner applies it to its order. A callback that arrives again
(same id) is counted and answered 200, never queued twice; one for an
unknown correlation id stays in the inbox, marked applied, and changes
nothing. On Temporal (`om worker --listen`) the sink signals the order's
workflow instead: the answer comes once the signal is in its history.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Optional

from om_dsl.runtime.store import Store

MAX_BODY = 1_048_576


class StoreInbox:
    """Callbacks into the embedded store's inbox."""

    def __init__(self, db_path: str, clock: Optional[Callable[[], int]] = None, on_callback: Optional[Callable] = None):
        import time

        self.store = Store(db_path, shared=True)
        self.lock = threading.Lock()
        self.clock = clock or (lambda: int(time.time() * 1000))
        self.on_callback = on_callback or (lambda: None)

    def receive(self, callback_id: str, correlation_id: str, payload: dict) -> bool:
        """Keep the callback durably; False when it came before."""
        with self.lock:
            with self.store.transaction() as db:
                fresh = self.store.receive_callback(db, callback_id, correlation_id, payload, self.clock())
        self.on_callback()
        return fresh

    def close(self) -> None:
        self.store.close()


class CallbackReceiver:
    def __init__(self, sink, host: str = "127.0.0.1", port: int = 0, clock: Optional[Callable[[], int]] = None, on_callback: Optional[Callable] = None):
        """`sink`: a database path (the embedded store's inbox), or anything with `receive(callback id, correlation id, payload) -> fresh` and `close()`."""
        self.sink = StoreInbox(sink, clock, on_callback) if isinstance(sink, str) else sink
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet: the history says what happened
                pass

            def _answer(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if self.path == "/_health":
                    self._answer(200, {"ok": True})
                else:
                    self._answer(404, {"error": "not found"})

            def do_POST(self):
                if self.path.rstrip("/") != "/callbacks":
                    self._answer(404, {"error": f"no endpoint {self.path}: callbacks go to /callbacks"})
                    return
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY:
                    self._answer(413, {"error": f"a callback has at most {MAX_BODY} bytes"})
                    return
                try:
                    body = json.loads(self.rfile.read(length) or b"null")
                except (json.JSONDecodeError, UnicodeDecodeError):
                    self._answer(400, {"error": "the body is not JSON"})
                    return
                problem = _check(body)
                if problem:
                    self._answer(400, {"error": problem})
                    return
                callback_id = self.headers.get("Idempotency-Key") or f"callback:{body['correlation_id']}"
                payload = {"status": body.get("status", "ok"), "outputs": body.get("outputs") or {}, "message": body.get("message", "")}
                try:
                    fresh = receiver.sink.receive(callback_id, body["correlation_id"], payload)
                except Exception as exc:  # noqa: BLE001 - not kept: the system must send it again
                    self._answer(503, {"error": f"the callback was not kept, send it again: {exc}"})
                    return
                self._answer(202 if fresh else 200, {"received": callback_id, "duplicate": not fresh})

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.thread: Optional[threading.Thread] = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/callbacks"

    def start(self) -> "CallbackReceiver":
        self.thread = threading.Thread(target=self.server.serve_forever, name="om-callbacks", daemon=True)
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


def _check(body) -> Optional[str]:
    if not isinstance(body, dict):
        return "a callback is a JSON object"
    if not isinstance(body.get("correlation_id"), str) or not body["correlation_id"]:
        return "a callback needs its correlation_id (the call's idempotency key)"
    if body.get("status", "ok") not in ("ok", "failed"):
        return "status is ok or failed"
    if "outputs" in body and not isinstance(body["outputs"], dict):
        return "outputs is a JSON object"
    return None
