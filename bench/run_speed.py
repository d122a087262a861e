"""Durable orchestration speed: completed orders/s on the embedded runner.

    python bench/run_speed.py [--orders N]

Runs N copies of examples/orders/fiber-minimal.json (8 tasks, one of them manual)
to completed against the simulated systems, with SQLite synchronous FULL and
NORMAL, in one run, and prints orders/s and tasks/s for each. The full
benchmark suite (with a hand-written baseline) comes with issue 9.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from om_dsl.runtime.adapters import PythonTasks, Systems  # noqa: E402
from om_dsl.runtime.config import Config  # noqa: E402
from om_dsl.runtime.clock import SimulatedClock, parse_instant  # noqa: E402
from om_dsl.runtime.generated import GeneratedRules  # noqa: E402
from om_dsl.runtime.runner import Catalogs, Runner  # noqa: E402
from om_dsl.runtime.simulators import Simulators  # noqa: E402
from om_dsl.runtime.store import Store  # noqa: E402


def run(n: int, sync: str) -> tuple[float, int]:
    folder = Path(tempfile.mkdtemp())
    store = Store(str(folder / "om.db"), synchronous=sync)
    rules = GeneratedRules(ROOT / "generated" / "acme")
    runner = Runner(store, Catalogs(store, rules), Systems(Config(None), Simulators(str(folder / "sys.db"))), PythonTasks((str(ROOT / "examples"),)), SimulatedClock(parse_instant("2026-11-27")))
    doc = json.loads((ROOT / "examples" / "orders" / "fiber-minimal.json").read_text())
    start = time.perf_counter()
    for i in range(n):
        doc["id"] = f"B-{i}"
        runner.submit(json.dumps(doc))
    runner.drive()
    for order_id, item_id, *_ in store.open_manual_tasks():
        runner.complete_manual(order_id, item_id, {}, "bench")
    runner.drive()
    elapsed = time.perf_counter() - start
    tasks = sum(len(store.load(f"B-{i}").tasks) for i in range(n))
    assert all(store.load(f"B-{i}").status == "completed" for i in range(n))
    return elapsed, tasks


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=50)
    args = ap.parse_args()
    for sync in ("FULL", "NORMAL"):
        elapsed, tasks = run(args.orders, sync)
        print(f"synchronous={sync}: {args.orders / elapsed:,.1f} orders/s, {tasks / elapsed:,.0f} tasks/s ({args.orders} orders, {tasks} tasks, {elapsed:.2f} s)")


if __name__ == "__main__":
    main()
