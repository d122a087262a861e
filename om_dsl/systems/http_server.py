"""What om's HTTP servers (the callback receiver, the simulator server) hold
every client to: a listen backlog sized for load; a deadline for each
request's head and body (a slow or half-sent request is cut off, however
slowly it drips); a Content-Length that says how much body comes (a POST
without one, or with a negative or unreadable one, is refused); and at most
`limits.MAX_BODY` bytes of body, refused without reading it.
"""

from __future__ import annotations

import re
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from om_dsl import limits

REQUEST_TIMEOUT_S = 5.0  # from the connection (or the end of the previous answer) to the end of the request's body
BACKLOG = 1024  # connections waiting to be accepted (the kernel may cap it: net.core.somaxconn)
_LENGTH = re.compile(r"[0-9]{1,18}\Z")


class Refused(Exception):
    """A request answered with an error status (and the connection closed, when `close`)."""

    def __init__(self, status: int, message: str, close: bool = False):
        super().__init__(message)
        self.status = status
        self.message = message
        self.close = close


class BoundedServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = BACKLOG

    def __init__(self, address, handler, request_timeout_s: float = REQUEST_TIMEOUT_S):
        if not request_timeout_s > 0:
            raise ValueError("the request timeout must be positive")
        self.request_timeout_s = float(request_timeout_s)
        self._deadlines: dict = {}  # connection -> time.monotonic() by which its request must be in
        self._deadlines_lock = threading.Lock()
        self._closing = threading.Event()
        self._reaper = None
        super().__init__(address, handler)  # (closes the server itself when it cannot bind)
        self._reaper = threading.Thread(target=self._reap, name="om-http-deadlines", daemon=True)
        self._reaper.start()

    def arm(self, conn) -> None:
        with self._deadlines_lock:
            self._deadlines[conn] = time.monotonic() + self.request_timeout_s

    def disarm(self, conn) -> None:
        with self._deadlines_lock:
            self._deadlines.pop(conn, None)

    def _reap(self) -> None:
        """Cut off connections past their deadline: their blocked reads end, the handler closes them."""
        tick = min(max(self.request_timeout_s / 10, 0.01), 0.25)
        while not self._closing.wait(tick):
            now = time.monotonic()
            with self._deadlines_lock:
                late = [conn for conn, due in self._deadlines.items() if due <= now]
                for conn in late:
                    del self._deadlines[conn]
            for conn in late:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def server_close(self) -> None:
        self._closing.set()
        super().server_close()
        if self._reaper is not None and self._reaper is not threading.current_thread():
            self._reaper.join()

    def handle_error(self, request, client_address) -> None:
        if isinstance(sys.exc_info()[1], OSError):  # the client went away, or was cut off: nothing to say
            return
        super().handle_error(request, client_address)


class BoundedHandler(BaseHTTPRequestHandler):
    """Reads a request within the server's deadline; `read_body()` for POST bodies."""

    server: BoundedServer

    def setup(self) -> None:
        self.timeout = self.server.request_timeout_s  # also bounds each read and write of the socket
        super().setup()

    def handle_one_request(self) -> None:
        self.server.arm(self.connection)
        try:
            super().handle_one_request()
        finally:
            self.server.disarm(self.connection)

    def parse_request(self) -> bool:
        ok = super().parse_request()
        if ok and self.command not in ("POST", "PUT", "PATCH"):  # the head is all of the request
            self.server.disarm(self.connection)
        return ok

    def read_body(self, max_bytes: int = limits.MAX_BODY, required: bool = True) -> bytes:
        """The request's body, by its Content-Length; Refused when it has none
        (`required`), an unreadable or negative one, or more than `max_bytes`."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            raise Refused(411, "send the body with a Content-Length, not chunked", close=True)
        given = self.headers.get_all("Content-Length") or []
        if not given:
            if required:
                raise Refused(411, "a Content-Length is required", close=True)
            self.server.disarm(self.connection)
            return b""
        text = given[0].strip()
        if len(given) > 1 or not _LENGTH.match(text):
            raise Refused(400, f"bad Content-Length {', '.join(given)[:40]!r}", close=True)
        length = int(text)
        if length > max_bytes:
            raise Refused(413, f"the body is {length} bytes; at most {max_bytes} are taken", close=True)
        raw = self.rfile.read(length) if length else b""
        if len(raw) < length:
            raise Refused(400, "the body ended before its Content-Length", close=True)
        self.server.disarm(self.connection)
        return raw
