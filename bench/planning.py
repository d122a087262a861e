"""Sections 2 and 3 of bench/run.py on their own: planning a 12-item Acme order
(generated modules, interpreter, hand-written planner, interleaved) and big
orders (generated against interpreter), and intake alone (2b), written to
bench/results/planning.md.

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


def bench_intake(n: int, runs: int) -> dict:
    """Intake alone (issue 23), interleaved, each with its json.loads: the generated item
    functions (compiled_intake), the shared intake (the reference, as the interpreter
    reads), and the hand-written planner's intake."""
    import gc
    import statistics

    from om_dsl.planning.installed import EMPTY
    from om_dsl.planning.intake import intake
    from om_dsl.rules.generated import GeneratedRules

    text = (B.ORDERS / "new-fiber-every-option.json").read_text()
    rules = GeneratedRules(B.ACME)
    module = rules.planner
    fns = {
        "generated": lambda: intake(rules.catalog, json.loads(text), "ORD-B", EMPTY, module),
        "shared": lambda: intake(rules.catalog, json.loads(text), "ORD-B", EMPTY, None),
        "handwritten": lambda: B.H._intake(json.loads(text)),
    }
    samples: dict = {k: [] for k in fns}
    for _ in range(runs + 1):  # the first round warms up
        for k, fn in fns.items():
            gc.collect()
            gc.disable()  # as plan_order plans: the work, not the collector's passes over what it made
            t = B.cpu()
            for _ in range(n):
                fn()
            samples[k].append(B.cpu() - t)
            gc.enable()
    us = {k: statistics.median(v[1:]) / n * 1e6 for k, v in samples.items()}
    return {"us_per_order": us, "generated_over_handwritten": us["handwritten"] / us["generated"], "generated_over_shared": us["shared"] / us["generated"]}


def intake_rows(r: dict) -> list[str]:
    out = ["", "## 2b. Intake alone (new-fiber-every-option.json, with its json.loads)", "", "| intake | us per order |", "|---|---|"]
    out += [f"| {k} | {v:,.1f} |" for k, v in r["us_per_order"].items()]
    out += ["", f"generated / hand-written = {r['generated_over_handwritten']:.2f}x; generated / shared = {r['generated_over_shared']:.2f}x (speed)."]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small sizes, 3 runs")
    ap.add_argument("--out", default=str(B.BENCH / "results"))
    args = ap.parse_args()
    runs = 3 if args.quick else 5
    start = time.perf_counter()
    p = B.bench_planning(50 if args.quick else 300, runs)
    i = bench_intake(50 if args.quick else 300, runs)
    s = B.bench_scale([10, 100, 1_000] if args.quick else [10, 100, 1_000, 10_000], runs)
    m = B.machine()
    head = [f"# om-dsl planning benchmarks ({'quick' if args.quick else 'full'})", "", f"Machine: {m['cpus']} CPUs, Python {m['python']}, {m['platform']} ({m['processor']}). "
            f"Medians of {runs} runs after a warm-up; ratios within one run. Total {time.perf_counter() - start:.0f} s."]
    md = "\n".join(head + B.planning_rows({"planning": p, "scale": s}) + intake_rows(i)) + "\n"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "planning.md").write_text(md)
    (out / "planning.json").write_text(json.dumps({"planning": p, "scale": s, "intake": i}, indent=2) + "\n")
    print(md)


if __name__ == "__main__":
    main()
