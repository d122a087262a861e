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

Requests are bounded (om_dsl.systems.asgi, Starlette on uvicorn): a
Content-Length is required, bodies above `limits.MAX_BODY` are refused
unread, a request must be in within the request timeout. `om serve` mounts
the same endpoint (`Callbacks.routes()`) on its API app, one port for both.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Callable, Optional
from urllib.parse import unquote

from om_dsl import limits
from om_dsl.embedded.store import Store
from om_dsl.systems import callback_auth
from om_dsl.systems.http_server import REQUEST_TIMEOUT_S, Refused

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


class Callbacks:
    """The callback endpoint's logic, on any ASGI app: `routes()` to mount it
    (the standalone receiver below, `om serve`'s API app)."""

    def __init__(self, sink, clock: Optional[Callable[[], int]] = None, on_callback: Optional[Callable] = None, secret: Optional[str] = None):
        """`sink`: a database path (the embedded store's inbox, and its secret unless `secret` is given), or
        anything with `receive(callback id, correlation id, payload) -> fresh` and `close()` (then `secret` is required)."""
        self.sink = StoreInbox(sink, clock, on_callback, secret) if isinstance(sink, str) else sink
        self.secret = secret or getattr(self.sink, "secret", None)
        if not self.secret:
            raise ValueError("a callback receiver needs the deployment's callback secret")
        self.refused = 0  # callbacks refused for want of a valid token, since the start
        self._refused_lock = threading.Lock()

    def routes(self) -> list:
        from starlette.routing import Route

        return [Route(PATH, self.post, methods=["POST"]), Route(PATH + "/{token:path}", self.post, methods=["POST"])]

    async def post(self, request):
        from starlette.concurrency import run_in_threadpool

        from om_dsl.systems.asgi import read_body, refusal

        try:
            raw = await read_body(request, MAX_BODY)  # read (within the bounds) even when refused: the client then sees the answer
            status, body = await run_in_threadpool(self._callback, request, raw)
        except Refused as exc:
            return refusal(exc)
        from starlette.responses import JSONResponse

        return JSONResponse(body, status)

    def _callback(self, request, raw: bytes) -> tuple[int, dict]:
        peer = request.client.host if request.client else "?"
        token = request.path_params.get("token")
        if not token or "/" in token:
            try:
                said = _body(raw)["correlation_id"]
            except Refused:
                said = None
            self._refuse(peer, said, "no callback token in the URL")
            raise Refused(401, "a callback goes to the URL its call gave (X-Callback-Url), with its token", close=True)
        body = _body(raw)
        correlation_id = body["correlation_id"]
        if not callback_auth.valid(self.secret, correlation_id, unquote(token)):
            self._refuse(peer, correlation_id, "the token is not the call's")
            raise Refused(401, "the callback's token is not its call's", close=True)
        given = request.headers.get("Idempotency-Key")
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
            fresh = self.sink.receive(callback_id, correlation_id, payload)
        except Exception as exc:  # noqa: BLE001 - not kept: the system must send it again
            raise Refused(503, f"the callback was not kept, send it again: {type(exc).__name__}") from None
        return (202 if fresh else 200), {"received": callback_id, "duplicate": not fresh}

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

    def health(self) -> dict:
        return {"ok": True, "refused": self.refused}

    def close(self) -> None:
        self.sink.close()


class CallbackReceiver(Callbacks):
    """The callbacks and `GET /_health` on a server of their own (`om worker
    --listen`, tests): a Starlette app on uvicorn, on its own thread."""

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
        from starlette.applications import Starlette
        from starlette.responses import JSONResponse
        from starlette.routing import Route

        from om_dsl.systems.asgi import ServerThread

        super().__init__(sink, clock, on_callback, secret)

        async def health(request):
            return JSONResponse(self.health())

        async def not_found(request, exc):
            return JSONResponse({"error": f"no endpoint {request.url.path[:80]}: callbacks go to the X-Callback-Url of their call"}, 404, headers={"Connection": "close"})

        app = Starlette(routes=[Route("/_health", health), Route("/health", health), *self.routes()], exception_handlers={404: not_found, 405: not_found})
        try:
            self.server = ServerThread(app, host, port, request_timeout_s, name="om-callbacks")
        except BaseException:
            self.sink.close()
            raise

    @property
    def url(self) -> str:
        return self.server.url + PATH

    def start(self) -> "CallbackReceiver":
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()
        self.close()

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
