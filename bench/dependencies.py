"""Cross-order dependencies on the embedded engine: what waiting costs.

    PYTHONPATH=. python bench/dependencies.py [N] [RUNS]

N TV orders (tv-alone) are submitted while a fiber order waits at its
installation visit, then the visit is completed and everything driven to
the end; once with the TV orders independent (the baseline), once with each
depending on the fiber order (`orderRelationship` dependsOn). The figure is
CPU time (process_time: the disk's fsyncs, which a busy machine stretches,
are left out), the median of RUNS; the ratio compares two figures taken in
the same run. Not part of bench/run.py (yet): a standalone figure.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.engine_helpers import make_runner  # noqa: E402
from support.scenario_engines import order_doc  # noqa: E402

ORDERS = ROOT / "examples" / "orders"


def tv(i: int, depends: bool) -> str:
    doc = json.loads(order_doc(ORDERS / "tv-alone.json", f"TV-{i}"))
    if depends:
        doc["orderRelationship"] = [{"@type": "OrderRelationship", "id": "FIBER", "relationshipType": "dependsOn"}]
    return json.dumps(doc)


def once(n: int, depends: bool) -> float:
    runner = make_runner(Path(tempfile.mkdtemp()))
    runner.on_event = lambda *_: None  # (the helper's check of the task index after every event is the tests')
    runner.submit(order_doc(ORDERS / "fiber-minimal.json", "FIBER"))
    runner.drive()
    t0 = time.process_time()
    for i in range(n):
        runner.submit(tv(i, depends))
    runner.drive()
    runner.complete_manual("FIBER", "1/D1:install_visit", {}, "tech")
    runner.drive()
    spent = time.process_time() - t0
    assert all(runner.store.load(f"TV-{i}").status == "completed" for i in range(n))
    runner.systems.close()
    runner.store.close()
    return spent


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    base = statistics.median(once(n, False) for _ in range(runs))
    waiting = statistics.median(once(n, True) for _ in range(runs))
    print(f"{n} TV orders: independent {base:.2f} s CPU, each waiting for the fiber order {waiting:.2f} s CPU, ratio {waiting / base:.2f}")


if __name__ == "__main__":
    main()
