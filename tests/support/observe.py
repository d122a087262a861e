"""Helpers of the metrics and traces tests: a scrape's samples, and a
recording proxy in front of a downstream system."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client.parser import text_string_to_metric_families


def samples(text: str) -> dict:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for family in text_string_to_metric_families(text) for s in family.samples}


def value(found: dict, name: str, **labels) -> float:
    return found[(name, tuple(sorted(labels.items())))]


class Recorder:
    """A proxy to the simulator that records each request's path and `traceparent`."""

    def __init__(self, target: str):
        self.target, self.seen = target, []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                recorder.seen.append((self.path, self.headers.get("traceparent")))
                forward = {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "idempotency-key", "x-correlation-id", "x-callback-url")}
                try:
                    with urllib.request.urlopen(urllib.request.Request(recorder.target + self.path, body, forward, method="POST"), timeout=30) as r:
                        status, answer = r.status, r.read()
                except urllib.error.HTTPError as exc:
                    status, answer = exc.code, exc.read()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
