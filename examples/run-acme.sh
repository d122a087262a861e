#!/bin/sh
# The main job, on the bundled example: compile the Acme catalog, start its
# downstream systems (the HTTP simulator, on 127.0.0.1, with a fault or two),
# start the engine as a service (it receives the asynchronous answers), run
# the example orders against them, complete the manual tasks as a field
# operator would, and show the outcome.
#
#   sh examples/run-acme.sh            (from the repository's root)
#
# One order comes in over the TMF622 API, as a CPQ system sends it: POSTed
# with a bearer token, followed with GET, its events received by a listener
# subscribed through /hub (docs/api.md).
#
# Everything it writes is under demo/ (deleted first): the order database,
# the simulators' state, the deployment configuration (demo/om.toml), the
# events the listener got (demo/events.jsonl). The clock is simulated: the
# waits (billing starts on the requested date) take no time.
set -e
cd "$(dirname "$0")/.."
rm -rf demo && mkdir demo
export OM_DB=demo/om.db OM_CONFIG=demo/om.toml

om compile specs -o generated

free_port() { python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
SIM_PORT=$(free_port)
ENGINE_PORT=$(free_port)
LISTENER_PORT=$(free_port)
# The API's token for this run (one admin token, from the environment: never in a file).
OM_API_TOKEN=$(python -c 'import secrets; print(secrets.token_hex(24))')
export OM_API_TOKEN

# The downstream systems: the inventory fails twice before it reserves a port
# (the standard retry policy gets through), the network answers 500 once.
om simulate serve generated/acme --port "$SIM_PORT" --state demo/systems.db --quiet \
  --fault inventory.reserve_port=fail:2 --fault network.activate_line=status:500:1 > demo/simulator.url &
SIM_PID=$!
ENGINE_PID=
LISTENER_PID=
trap 'kill $SIM_PID $ENGINE_PID $LISTENER_PID 2>/dev/null || true' EXIT HUP INT PIPE TERM

# CPQ's listener: every event POSTed to it, one JSON line each in demo/events.jsonl.
python examples/listener.py listen "$LISTENER_PORT" demo/events.jsonl &
LISTENER_PID=$!

{
  printf '[engine]\ncallback_url = "http://127.0.0.1:%s/callbacks"\n\n' "$ENGINE_PORT"
  for system in inventory network logistics ipam voice iptv billing; do
    printf '[systems.%s]\nbase_url = "http://127.0.0.1:%s"\n\n' "$system" "$SIM_PORT"
  done
} > demo/om.toml

# The engine as a service: it receives the callbacks of asynchronous calls (number porting).
# Each call's callback URL carries its token, made with the secret kept in demo/om.db:
# a callback without it is refused (docs/systems.md, callback tokens).
om serve generated/acme --listen "127.0.0.1:$ENGINE_PORT" --clock simulated --start 2026-11-27 --quiet 2> demo/engine.log &
ENGINE_PID=$!
python - "$SIM_PORT" "$ENGINE_PORT" <<'PY'
import sys, time, urllib.request
for port, path in ((sys.argv[1], "/_health"), (sys.argv[2], "/_health")):
    for _ in range(200):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1).read()
            break
        except OSError:
            time.sleep(0.05)
    else:
        sys.exit(f"nothing answers on port {port}")
PY

echo "== running the example orders against the systems at http://127.0.0.1:$SIM_PORT"
om run generated/acme \
  examples/orders/new-fiber-every-option.json \
  examples/orders/fiber-tv-ported-phone.json \
  examples/orders/tv-alone.json \
  examples/orders/invalid-port-in-without-number.json \
  --quiet > /dev/null || true

echo
echo "== CPQ over the TMF622 API: subscribe to state changes, submit ORD-5001, follow it"
python examples/listener.py submit "$ENGINE_PORT" "$LISTENER_PORT"

echo
echo "== field operations: the technician completes each visit as it comes up"
# The service works on in the background (retries, callbacks): poll like a
# field operations desk would, until every order is final.
python - <<'PY'
import json, subprocess, time

def om(*args):
    return subprocess.run(["om", *args], capture_output=True, text=True, check=True).stdout

for _ in range(600):
    for line in om("tasks", "list", "--ids").splitlines():
        order, task = line.split()
        om("tasks", "complete", order, task, "--by", "field-engineer", "--quiet")
        print(f"  completed {task} of {order}")
    if all(o["status"] in ("completed", "rejected", "held", "failed", "cancelled") for o in json.loads(om("orders", "list", "--format", "json"))):
        break
    time.sleep(0.1)
PY

echo
echo "== orders"
om orders list
echo
echo "== the story of ORD-1001 (the last steps)"
om orders history ORD-1001 | tail -n 8
echo
echo "== the inventory's retries"
om orders history ORD-1001 | grep "1/D1:reserve_port" | head -n 6
echo
echo "== assets of customer ACC-42"
om assets list --customer ACC-42
echo
echo "== ORD-5001 over the API, and the events its listener got"
python examples/listener.py show "$ENGINE_PORT" demo/events.jsonl
