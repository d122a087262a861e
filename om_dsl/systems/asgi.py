"""om's ASGI server stack: Starlette apps on uvicorn (the callback receiver,
the TMF622 API of `om serve`), held to what every client is held to.

- One event loop serves every connection: a slow or silent client costs a
  socket and a timer, never a thread, so it cannot hold up the others.
- A request deadline (`BoundedH11`): from the request's first byte to the
  end of its body. A request whose head or body drips in is cut off when it
  passes it, however slowly it drips; a connection that sends nothing is
  closed after `IDLE_S` (or the request timeout, if longer).
- `read_body`: a POST needs a Content-Length (or a chunked body), and more
  than `limits.MAX_BODY` bytes are refused (413) without being read.
- A request that is not readable HTTP gets 400 with a JSON body, and the
  connection is closed.
- At most MAX_CONNECTIONS open connections: past it a request is answered
  503 at once, so a flood of idle connections costs sockets up to a bound,
  never the file descriptors the store needs.
- TLS through uvicorn's own options (a certificate and key file).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import threading
from typing import Optional

import h11
import uvicorn
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from uvicorn.protocols.http.h11_impl import H11Protocol

from om_dsl import limits
from om_dsl.systems.http_server import REQUEST_TIMEOUT_S, Refused

BACKLOG = 1024  # connections waiting to be accepted (the kernel may cap it: net.core.somaxconn)
MAX_HEAD = 16 * 1024  # bytes of a request line and headers
MAX_CONNECTIONS = 4096  # open connections; past it a request is answered 503 at once (nothing is queued behind the slow)
IDLE_S = 5.0  # a connection that sends nothing (yet) is closed after this, or the request timeout if longer
_LENGTH = re.compile(r"[0-9]{1,18}\Z")
_IN = (h11.DONE, h11.MUST_CLOSE)  # the client has sent its whole request
log = logging.getLogger("om_dsl.http")


class BoundedH11(H11Protocol):
    """uvicorn's HTTP/1.1 protocol with a deadline per request (uvicorn itself
    only times out idle keep-alive connections)."""

    request_timeout_s = REQUEST_TIMEOUT_S  # set per server by `bounded_protocol`
    _deadline: Optional[asyncio.TimerHandle] = None
    _idle = True  # no byte of the next request has come yet

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm(idle=True)

    def _arm(self, idle: bool) -> None:
        self._disarm()
        self._idle = idle
        self._deadline = self.loop.call_later(max(self.request_timeout_s, IDLE_S) if idle else self.request_timeout_s, self._late)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _late(self) -> None:
        self._deadline = None
        if self.conn.their_state not in _IN and not self.transport.is_closing():
            self.transport.close()  # the app, if it is waiting for the body, sees a disconnect

    def data_received(self, data: bytes) -> None:
        if self._idle and self._deadline is not None:  # the request's first bytes: its deadline starts
            self._arm(idle=False)
        super().data_received(data)
        if self.conn.their_state in _IN:  # the whole request is in
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm(idle=True)  # the next request on this connection has its own deadline

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        body = json.dumps({"error": "the request is not readable HTTP/1.1 (its request line, a header or its Content-Length)"}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), (b"connection", b"close")]
        for event in (h11.Response(status_code=400, headers=headers, reason=b"Bad Request"), h11.Data(data=body), h11.EndOfMessage()):
            try:
                self.transport.write(self.conn.send(event))
            except h11.LocalProtocolError:  # an answer had begun: only closing is left
                break
        self.transport.close()


class BoundedHead:
    """ASGI middleware: a request whose line and headers are over MAX_HEAD is
    431 (h11 bounds only a head that arrives in pieces; this one came whole)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            size = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"") + sum(len(k) + len(v) + 4 for k, v in scope.get("headers", []))
            if size > MAX_HEAD:
                await JSONResponse({"error": f"the request's head is over {MAX_HEAD} bytes"}, 431, headers={"Connection": "close"})(scope, receive, send)
                return
        await self.app(scope, receive, send)


def bounded_protocol(request_timeout_s: float) -> type:
    if not request_timeout_s > 0:
        raise ValueError("the request timeout must be positive")
    return type("BoundedH11", (BoundedH11,), {"request_timeout_s": float(request_timeout_s)})


async def read_body(request: Request, max_bytes: int = limits.MAX_BODY, required: bool = True) -> bytes:
    """The request's body, at most `max_bytes`: Refused (411, 400, 413) otherwise,
    with the connection closed when the rest of the body is not read."""
    given = request.headers.getlist("content-length")
    chunked = "chunked" in (request.headers.get("transfer-encoding") or "").lower()
    if not given and not chunked:
        if required:
            raise Refused(411, "a Content-Length is required", close=True)
        return b""
    if given:
        text = given[0].strip()
        if len(given) > 1 or not _LENGTH.match(text):
            raise Refused(400, f"bad Content-Length {', '.join(given)[:40]!r}", close=True)
        if int(text) > max_bytes:
            raise Refused(413, f"the body is {int(text)} bytes; at most {max_bytes} are taken", close=True)
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_bytes:
                raise Refused(413, f"the body is over {max_bytes} bytes; at most {max_bytes} are taken", close=True)
            chunks.append(chunk)
    except ClientDisconnect:
        raise Refused(400, "the body ended before its Content-Length", close=True) from None
    return b"".join(chunks)


def refusal(exc: Refused) -> JSONResponse:
    """A refusal in om's plain shape ({"error"}): the callback receiver's and the health endpoint's."""
    return JSONResponse({"error": exc.message}, exc.status, headers={"Connection": "close"} if exc.close else None)


# ---- running a server ---------------------------------------------------------------------------------


def listening_socket(host: str, port: int, reuse_port: bool = False) -> socket.socket:
    """Bound and listening before the server starts: port 0 gets a free port, known at once.
    `reuse_port`: other sockets of this user may listen on the port too, and the
    kernel spreads new connections over them (`om serve --workers`)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except BaseException:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def server_config(app, request_timeout_s: float = REQUEST_TIMEOUT_S, tls_cert: Optional[str] = None, tls_key: Optional[str] = None, max_connections: int = MAX_CONNECTIONS) -> uvicorn.Config:
    return uvicorn.Config(
        BoundedHead(app),
        http=bounded_protocol(request_timeout_s),
        ws="none",
        lifespan="off",
        interface="asgi3",
        access_log=False,  # nothing of a request is logged (its Authorization least of all)
        log_config=None,
        log_level="warning",
        backlog=BACKLOG,
        limit_concurrency=max_connections,
        timeout_keep_alive=max(1, int(request_timeout_s)),
        timeout_graceful_shutdown=5,
        h11_max_incomplete_event_size=MAX_HEAD,
        ssl_certfile=tls_cert,
        ssl_keyfile=tls_key,
        server_header=False,
        date_header=True,
    )


class ServerThread:
    """A uvicorn server on its own thread and event loop (tests, the Temporal
    worker's receiver); `om serve` runs its server on the main thread."""

    def __init__(
        self, app, host: str = "127.0.0.1", port: int = 0, request_timeout_s: float = REQUEST_TIMEOUT_S, tls_cert: Optional[str] = None, tls_key: Optional[str] = None,
        name: str = "om-http", max_connections: int = MAX_CONNECTIONS,
    ):
        self.config = server_config(app, request_timeout_s, tls_cert, tls_key, max_connections)
        self.config.load()  # a bad certificate fails here, in the caller
        self.socket = listening_socket(host, port)
        self.server = uvicorn.Server(self.config)
        self.name = name
        self.thread: Optional[threading.Thread] = None
        self.scheme = "https" if tls_cert else "http"

    @property
    def server_address(self) -> tuple:
        return self.socket.getsockname()[:2]

    @property
    def url(self) -> str:
        host, port = self.server_address
        return f"{self.scheme}://{host}:{port}"

    def start(self) -> "ServerThread":
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, name=self.name, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(30)
        self.socket.close()
