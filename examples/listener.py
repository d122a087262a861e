"""CPQ's event listener for the demos: every event POSTed to it, one JSON line
each in FILE. Usage: python examples/listener.py PORT FILE"""

import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

PORT, FILE = int(sys.argv[1]), sys.argv[2]


class Listener(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with open(FILE, "ab") as f:
            f.write(body.replace(b"\n", b" ") + b"\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


HTTPServer(("127.0.0.1", PORT), Listener).serve_forever()
