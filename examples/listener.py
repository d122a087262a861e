"""CPQ's side of the demos, over the TMF622 API (docs/api.md).

    python examples/listener.py listen PORT FILE
        the event listener: every event POSTed to it, one JSON line each in FILE
    python examples/listener.py submit API_PORT LISTENER_PORT
        subscribe the listener through /hub, POST examples/api/order-v4.json
        (ORD-5001), GET it back
    python examples/listener.py show API_PORT FILE
        GET ORD-5001, and print the events the listener wrote to FILE for it

The API's bearer token is read from OM_API_TOKEN (never from a file).
"""

import json
import os
import sys
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer

ORDER = "examples/api/order-v4.json"
ORDER_ID = "ORD-5001"


def listen(port: str, file: str) -> None:
    class Listener(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with open(file, "ab") as f:
                f.write(body.replace(b"\n", b" ") + b"\n")
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    HTTPServer(("127.0.0.1", int(port)), Listener).serve_forever()


def api(port: str) -> str:
    return f"http://127.0.0.1:{port}/tmf-api/productOrderingManagement/v4"


def call(method: str, url: str, body=None):
    headers = {"Authorization": "Bearer " + os.environ["OM_API_TOKEN"], "Content-Type": "application/json"}
    request = urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else None, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=60) as r:
        return r.status, dict(r.headers), json.loads(r.read())


def submit(api_port: str, listener_port: str) -> None:
    for _ in range(300):  # until om serve listens
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{api_port}/health", timeout=5).close()
            break
        except OSError:
            time.sleep(0.1)
    status, _, hub = call("POST", api(api_port) + "/hub", {"callback": f"http://127.0.0.1:{listener_port}/events", "query": "eventType=ProductOrderStateChangeEvent"})
    print(f"  POST /hub -> {status}, subscription {hub['id']}")
    with open(ORDER) as f:
        status, headers, order = call("POST", api(api_port) + "/productOrder", json.load(f))
    print(f"  POST /productOrder -> {status} {order['id']} {order['state']}, Location {headers['location']}")
    status, _, order = call("GET", headers["location"])
    print(f"  GET {order['id']} -> {status} {order['state']}")


def show(api_port: str, file: str) -> None:
    _, _, order = call("GET", f"{api(api_port)}/productOrder/{ORDER_ID}")
    print(f"  GET {ORDER_ID} -> {order['state']}, items {[i['state'] for i in order['productOrderItem']]}")
    mine = []
    for _ in range(600):  # the last delivery may still be on its way
        events = [json.loads(line) for line in open(file)] if os.path.exists(file) else []
        mine = [e for e in events if e["event"]["productOrder"]["id"] == ORDER_ID]
        if mine and mine[-1]["event"]["productOrder"]["state"] == order["state"]:
            break
        time.sleep(0.1)
    for e in mine:
        print(f"  {e['eventType']}: {e['event']['productOrder']['state']}")


COMMANDS = {"listen": listen, "submit": submit, "show": show}

if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in COMMANDS:
        sys.exit(__doc__)
    COMMANDS[sys.argv[1]](*sys.argv[2:])
