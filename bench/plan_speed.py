"""Planning speed: generated modules against the interpreter, in one run.

    python bench/plan_speed.py [ORDER.json] [--n N]

Plans the order N times with each engine (after a warm-up), five rounds,
and prints the median orders/s of each and their ratio. The full benchmark
suite comes with issue 9; this is the quick check for the compile stage.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from om_dsl.build import build
from om_dsl.runtime.generated import GeneratedRules
from om_dsl.runtime.interpreter import Interpreter
from om_dsl.runtime.planning import plan_order

ROOT = Path(__file__).resolve().parents[1]


def rate(rules, doc, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        plan_order(rules.catalog, rules, doc, "ORD-B")
    return n / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("order", nargs="?", default=str(ROOT / "examples" / "orders" / "new-fiber-every-option.json"))
    ap.add_argument("--n", type=int, default=300)
    args = ap.parse_args()
    doc = json.loads(Path(args.order).read_text())

    t0 = time.perf_counter()
    result = build([str(ROOT / "specs")])
    files = result.files()
    compile_s = time.perf_counter() - t0

    generated = GeneratedRules(ROOT / "generated" / "acme")
    interpreter = Interpreter(result.catalogs[0])
    for rules in (generated, interpreter):
        rate(rules, doc, 20)  # warm-up
    rounds = {"generated": [], "interpreter": []}
    for _ in range(5):
        rounds["generated"].append(rate(generated, doc, args.n))
        rounds["interpreter"].append(rate(interpreter, doc, args.n))
    g, i = statistics.median(rounds["generated"]), statistics.median(rounds["interpreter"])
    print(f"compile specs/ (check, lower, generate {len(files)} files): {compile_s * 1000:.0f} ms")
    print(f"plan {Path(args.order).name}: generated {g:,.0f} orders/s, interpreter {i:,.0f} orders/s, ratio {g / i:.2f}x")


if __name__ == "__main__":
    main()
