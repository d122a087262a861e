"""Metrics (issue 22): what counting calls costs the embedded runner, and what a scrape costs.

    python bench/observe.py [--quick]

1. Counting: N fiber-minimal orders to completed through the runner, the
   store and the in-process simulators (bench/events.py's run), the time
   spent writing the calls' counts (`Store.add_call_stats`, in the
   transactions that apply the results) against the whole run's. (Two
   whole runs, with and without counting, differ by less than the noise of
   a shared machine: their ratio moved between 0.73 and 1.23 run to run.)
2. A scrape: GET /metrics's work (the order service's `stats()` rendered
   in the Prometheus text format) on a store of N completed orders, against
   one `orders()` listing of the same store (what `om orders list` reads).

Prints a Markdown table; not part of bench/run.py. Medians of several runs;
each ratio compares figures of the same run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import events  # noqa: E402

from om_dsl.embedded.service import EmbeddedOrders  # noqa: E402
from om_dsl.observe import metrics  # noqa: E402


def counting_share(n: int) -> tuple[float, float]:
    """(seconds spent counting calls, seconds of the whole run) of one run of n orders."""
    runner, store, _ = events.make_runner(Path(tempfile.mkdtemp(prefix="om-bench-")), "NORMAL")
    write, spent = store.add_call_stats, [0.0]

    def timed(db, entries):
        start = time.perf_counter()
        write(db, entries)
        spent[0] += time.perf_counter() - start

    store.add_call_stats = timed
    try:
        whole = events.complete_fiber_orders(runner, store, n)
        return spent[0], whole
    finally:
        store.close()


def median(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small sizes, 3 runs")
    args = ap.parse_args()
    n, runs = (20, 3) if args.quick else (100, 7)

    shares = [counting_share(n) for _ in range(runs)]
    rows = [("counting calls / the whole run", f"{n} orders", statistics.median(c for c, _ in shares), statistics.median(w for _, w in shares))]

    runner, store, _ = events.make_runner(Path(tempfile.mkdtemp(prefix="om-bench-")), "NORMAL")
    events.complete_fiber_orders(runner, store, n * 10)
    orders = EmbeddedOrders(store, "om.db", runner)
    registry = metrics.registry(orders.stats)
    scrape = median(lambda: metrics.render(registry), runs * 3)
    listing = median(orders.orders, runs * 3)
    rows.append(("a scrape / one orders() listing", f"{n * 10} orders", scrape, listing))
    store.close()

    print("| what | size | time (median s) | baseline (median s) | ratio |")
    print("|---|---|---|---|---|")
    for what, size, t, base in rows:
        print(f"| {what} | {size} | {t:.5f} | {base:.5f} | {t / base:.4f} |")


if __name__ == "__main__":
    main()
