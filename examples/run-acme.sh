#!/bin/sh
# The main job, on the bundled example: compile the Acme catalog, run the
# example orders on the embedded engine against the simulated systems,
# complete the manual tasks as a field operator would, and show the outcome.
#
#   sh examples/run-acme.sh            (from the repository's root)
#
# The orders live in demo.db (and the simulated systems in demo.systems.db);
# each run starts afresh. The clock is simulated: the waits (billing starts on
# the requested date) take no time.
set -e
cd "$(dirname "$0")/.."
export OM_DB=demo.db
rm -f demo.db demo.db-wal demo.db-shm demo.systems.db demo.systems.db-wal demo.systems.db-shm demo.db.lock

om compile specs -o generated
om run generated/acme \
  examples/orders/new-fiber-every-option.json \
  examples/orders/fiber-tv-ported-phone.json \
  examples/orders/tv-alone.json \
  examples/orders/invalid-port-in-without-number.json \
  --clock simulated --start 2026-11-27 --tasks-path examples --quiet || true

echo
echo "== field operations: open manual tasks"
om tasks list
om tasks list --ids | while read -r order task; do
  om tasks complete "$order" "$task" --by field-engineer --tasks-path examples --quiet
done

echo
echo "== orders"
om orders list
echo
echo "== the story of ORD-1001"
om orders history ORD-1001 | tail -n 12
echo
echo "== assets of customer ACC-42"
om assets list --customer ACC-42
