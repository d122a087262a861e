"""A listener on 127.0.0.1 for tests: records the JSON POSTs it gets; can be
told to refuse (answer 503) or be stopped and started again on its port."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Listener:
    def __init__(self, port: int = 0):
        self.received: list[tuple[dict, dict]] = []  # (headers, body)
        self.refuse = 0  # answer 503 to this many requests
        self.lock = threading.Lock()
        self.port = port
        self.server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/events"

    def start(self) -> "Listener":
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"null")
                with listener.lock:
                    if listener.refuse > 0:
                        listener.refuse -= 1
                        status = 503
                    else:
                        listener.received.append((dict(self.headers), body))
                        status = 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def ids(self) -> list[str]:
        return [h.get("Idempotency-Key") for h, _ in self.received]
