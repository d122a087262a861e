"""Sections 2 and 3 of bench/run.py on their own: planning a 12-item Acme order
(generated modules, interpreter, hand-written planner, interleaved) and big
orders (generated against interpreter), written to bench/results/planning.md.

    python bench/planning.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run as B  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small sizes, 3 runs")
    ap.add_argument("--out", default=str(B.BENCH / "results"))
    args = ap.parse_args()
    runs = 3 if args.quick else 5
    start = time.perf_counter()
    p = B.bench_planning(50 if args.quick else 300, runs)
    s = B.bench_scale([10, 100, 1_000] if args.quick else [10, 100, 1_000, 10_000], runs)
    m = B.machine()
    head = [f"# om-dsl planning benchmarks ({'quick' if args.quick else 'full'})", "", f"Machine: {m['cpus']} CPUs, Python {m['python']}, {m['platform']} ({m['processor']}). "
            f"Medians of {runs} runs after a warm-up; ratios within one run. Total {time.perf_counter() - start:.0f} s."]
    md = "\n".join(head + B.planning_rows({"planning": p, "scale": s})) + "\n"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "planning.md").write_text(md)
    (out / "planning.json").write_text(json.dumps({"planning": p, "scale": s}, indent=2) + "\n")
    print(md)


if __name__ == "__main__":
    main()
