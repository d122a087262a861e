"""Durable events (issue 23): what one event costs the embedded engine.

    python bench/events.py [--quick]

1. Per task transition, durably: the engine (N fiber-minimal orders to
   completed through the runner, the SQLite store and the in-process
   simulators, both databases at the same synchronous setting) against the
   minimal loop, in the same run: per task transition one transaction that
   updates the task's row and appends an event row and an outbox row, at the
   same setting. Also the commits per order (the order database and the
   simulators').
2. Per event as the order grows: one Acme order of about 10, 100, 1,000 and
   5,000 tasks (a HOME_FIBER, then TV_PACKAGE roots whose IPTV line waits for
   the fiber's line_active) run through the runner at synchronous NORMAL;
   each transaction that applies events is timed (the core, and writing what
   they changed; the simulators' calls are made before it): the median per
   event of the ordinary ones, and the fan-out's (line_active releasing
   every IPTV call), per task it releases.

Writes bench/results/events.md and events.json; bench/run.py includes it.
Medians of several runs; every ratio compares figures of the same run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from om_dsl.rules.generated import GeneratedRules  # noqa: E402

ACME = ROOT / "generated" / "acme"
ORDERS = ROOT / "examples" / "orders"


def make_runner(folder: Path, sync: str):
    from om_dsl.embedded.clock import SimulatedClock, parse_instant
    from om_dsl.embedded.runner import Catalogs, Runner
    from om_dsl.embedded.store import Store
    from om_dsl.simulate.simulators import Simulators
    from om_dsl.systems.adapters import PythonTasks, Systems
    from om_dsl.systems.config import Config

    store = Store(str(folder / "om.db"), synchronous=sync)
    sims = Simulators(str(folder / "sys.db"), synchronous=sync)
    tasks = PythonTasks(())  # the catalog's own task package (generated/acme/tasks): the runner finds it
    runner = Runner(store, Catalogs(store, GeneratedRules(ACME)), Systems(Config(None), sims), tasks, SimulatedClock(parse_instant("2026-11-27")))
    return runner, store, sims


def complete_fiber_orders(runner, store, n: int, cpu: Optional[list] = None) -> float:
    """n fiber-minimal orders submitted, run, their installation visits
    completed, run to completed: the seconds it took (and, into `cpu`, the
    process's CPU seconds: the machine is shared, CPU time is the steadier figure)."""
    doc = json.loads((ORDERS / "fiber-minimal.json").read_text())
    start, start_cpu = time.perf_counter(), time.process_time()
    for i in range(n):
        doc["id"] = f"B-{i}"
        runner.submit(json.dumps(doc))
    runner.drive()
    for order_id, item_id, *_ in store.open_manual_tasks():
        runner.complete_manual(order_id, item_id, {}, "bench")
    runner.drive()
    elapsed = time.perf_counter() - start
    if cpu is not None:
        cpu.append(time.process_time() - start_cpu)
    assert {r["status"] for r in store.orders()} == {"completed"}
    return elapsed


def _commits(db) -> list:
    seen: list = []
    db.set_trace_callback(lambda sql: seen.append(1) if sql.lstrip().upper().startswith("COMMIT") else None)
    return seen


# ---- 1. per task transition ----------------------------------------------------------------------


def engine_transitions(n: int, sync: str, count_commits: bool = False) -> dict:
    """n fiber-minimal orders to completed; task transitions per second; with
    `count_commits`, commits per order (a trace callback on every statement:
    such a run is not timed against the loop)."""
    folder = Path(tempfile.mkdtemp(prefix="om-bench-events-"))
    runner, store, sims = make_runner(folder, sync)
    om_commits, sim_commits = (_commits(store.db), _commits(sims.db)) if count_commits else ([], [])
    cpu: list = []
    elapsed = complete_fiber_orders(runner, store, n, cpu)
    transitions = store.db.execute("SELECT COUNT(*) FROM events WHERE subject != 'order' AND to_state IS NOT NULL").fetchone()[0]
    store.close()
    out = {"seconds": elapsed, "cpu_seconds": cpu[0], "transitions": transitions}
    if count_commits:
        out.update(commits_per_order=len(om_commits) / n, simulator_commits_per_order=len(sim_commits) / n)
    return out


def minimal_loop(transitions: int, sync: str, cpu: Optional[list] = None) -> float:
    """The durable floor: per task transition, one transaction updating the task row and appending an event and an outbox row
    (its seconds; into `cpu`, its CPU seconds)."""
    from om_dsl.embedded.store import Store

    folder = Path(tempfile.mkdtemp(prefix="om-bench-loop-"))
    store = Store(str(folder / "om.db"), synchronous=sync)
    db = store.db
    tasks = 8
    db.execute("BEGIN IMMEDIATE")
    db.execute("INSERT INTO orders (id, status, document, created_at, updated_at) VALUES ('L', 'inProgress', '{}', 0, 0)")
    db.executemany("INSERT INTO tasks (order_id, item_id, name, type, product, status, attempts) VALUES ('L', ?, ?, 'callout', 'P', 'pending', 0)", [(f"t{i}", f"t{i}") for i in range(tasks)])
    db.execute("COMMIT")
    start, start_cpu = time.perf_counter(), time.process_time()
    for i in range(transitions):
        tid = f"t{i % tasks}"
        db.execute("BEGIN IMMEDIATE")
        db.execute("UPDATE tasks SET status = ?, attempts = attempts + 1 WHERE order_id = 'L' AND item_id = ?", ("running" if i % 2 else "completed", tid))
        db.execute("INSERT INTO events (order_id, at, subject, from_state, to_state, cause) VALUES ('L', ?, ?, 'pending', 'running', 'step')", (i, tid))
        db.execute("INSERT INTO outbox (order_id, kind, payload, created_at) VALUES ('L', 'call', ?, ?)", (json.dumps({"task": tid, "attempt": i}), i))
        db.execute("COMMIT")
    elapsed = time.perf_counter() - start
    if cpu is not None:
        cpu.append(time.process_time() - start_cpu)
    store.close()
    return elapsed


def bench_transitions(n: int, runs: int) -> dict:
    out = {}
    for sync in ("FULL", "NORMAL"):
        counted = engine_transitions(n, sync, count_commits=True)  # warm-up, and the commits counted
        e, loop, e_cpu, loop_cpu, info = [], [], [], [], {}
        for _ in range(runs):  # (alternated: a busy moment slows both)
            info = engine_transitions(n, sync)
            e.append(info["transitions"] / info["seconds"])
            e_cpu.append(info["cpu_seconds"] / info["transitions"])
            loop.append(info["transitions"] / minimal_loop(info["transitions"], sync, loop_cpu))
        er, lr = statistics.median(e), statistics.median(loop)
        ec, lc = statistics.median(e_cpu), statistics.median(loop_cpu) / info["transitions"]
        out[sync] = {"orders": n, "transitions": info["transitions"], "engine_per_s": er, "loop_per_s": lr, "engine_over_loop": er / lr,
                     "engine_cpu_us": ec * 1e6, "loop_cpu_us": lc * 1e6, "engine_over_loop_cpu": lc / ec,
                     "commits_per_order": counted["commits_per_order"], "simulator_commits_per_order": counted["simulator_commits_per_order"]}
    return out


# ---- 2. per event as the order grows ---------------------------------------------------------------


def big_order(tasks: int) -> dict:
    import generate as G

    return G.acme_order(max(3, tasks // 2), order_id="ORD-BIG")


def event_costs(tasks: int) -> dict:
    """One order of about `tasks` tasks through the runner (NORMAL); the time of
    each transaction that applies events (the core, and writing what they
    changed; the simulators' calls are made before it), per event in it; the
    fan-out's transaction apart."""
    import contextlib

    folder = Path(tempfile.mkdtemp(prefix="om-bench-grow-"))
    runner, store, _ = make_runner(folder, "NORMAL")
    txs: list = []  # [seconds, events, calls released]
    applies: list = []  # (seconds, calls released): the core's part of each event, and what it noted to write
    apply_in, writing = runner._apply_in, runner._writing

    def counted(db, order_id, make_event, *rest):
        t = time.perf_counter()
        step = apply_in(db, order_id, make_event, *rest)
        if step is not None:
            applies.append((time.perf_counter() - t, sum(1 for c in step.commands if c.kind == "call")))
        if step is not None and txs:
            txs[-1][1] += 1
            txs[-1][2] = max(txs[-1][2], sum(1 for c in step.commands if c.kind == "call"))
        return step

    @contextlib.contextmanager
    def timed():
        txs.append([0.0, 0, 0])
        t = time.perf_counter()
        with writing() as db:
            yield db
        txs[-1][0] = time.perf_counter() - t

    runner._apply_in, runner._writing = counted, timed
    runner.submit(json.dumps(big_order(tasks)))
    runner.drive()
    for order_id, item_id, *_ in store.open_manual_tasks():
        runner.complete_manual(order_id, item_id, {}, "bench")
    runner.drive()
    run = store.load("ORD-BIG")
    assert run.status == "completed", run.status
    applied = [t for t in txs if t[1]]
    fan = max(applied, key=lambda t: t[2])
    ordinary = [t[0] / t[1] for t in applied if t is not fan and t[2] <= 64]
    store.close()
    core = [t for t, calls in applies if calls <= 2]
    return {"tasks": len(run.tasks), "events": sum(t[1] for t in applied), "event_ms": statistics.median(ordinary) * 1000, "core_ms": statistics.median(core) * 1000, "fan_out_ms": fan[0] * 1000, "fan_out_released": fan[2],
            "fan_out_us_per_task": fan[0] * 1e6 / fan[2]}


def bench_growth(sizes: list, runs: int) -> dict:
    out = {}
    for size in sizes:
        rs = [event_costs(size) for _ in range(runs if size <= 1000 else max(1, runs // 2))]
        out[str(size)] = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
    small, big = out[str(sizes[0])], out[str(sizes[-1])]
    out["ratio"] = {"event": big["event_ms"] / small["event_ms"], "core": big["core_ms"] / small["core_ms"], "fan_out_per_task": big["fan_out_us_per_task"] / small["fan_out_us_per_task"]}
    return out


# ---- 3. a big order on Temporal -------------------------------------------------------------------


class WorkflowTasks:
    """The time of every workflow activation of the worker in this process (wall and
    the thread's CPU): Temporal fails one that runs 2 s (wall) as deadlocked. Reads
    the SDK's private activation call; measures nothing if it is not there."""

    def __init__(self):
        self.times: list = []
        self._target = None
        try:
            from temporalio.worker import _workflow
        except ImportError:
            return
        target = getattr(_workflow, "_RunningWorkflow", None)
        if target is None or not hasattr(target, "activate"):
            return
        original, times = target.activate, self.times

        def activate(running, act):
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                return original(running, act)
            finally:
                jobs = sorted({j.WhichOneof("variant") for j in act.jobs})
                times.append((time.perf_counter() - wall, time.thread_time() - cpu, running.get_info().workflow_type, len(act.jobs), ",".join(jobs)))

        self._target, self._original = target, original
        target.activate = activate

    def close(self) -> dict:
        if self._target is not None:
            self._target.activate = self._original
        if not self.times:
            return {}
        slowest = sorted(self.times, reverse=True)[:5]  # which workflow, how many jobs of which kinds: what to bound next
        return {
            "workflow_tasks": len(self.times), "longest_wall_s": max(t[0] for t in self.times), "longest_cpu_s": max(t[1] for t in self.times), "workflow_cpu_s": sum(t[1] for t in self.times),
            "slowest": [{"wall_s": round(t[0], 3), "cpu_s": round(t[1], 3), "workflow": t[2], "jobs": t[3], "kinds": t[4]} for t in slowest],
        }


def temporal_big_order(items: int) -> dict:
    """One order of `items` items on a Temporal dev server (started here) and one
    worker: its workflow input's size as JSON and compressed, the time from
    submission to completed (its visit completed as soon as it is open), and its
    workflow tasks (how many, the longest, their CPU in all). One run: it takes minutes."""
    import zlib

    sys.path.insert(0, str(ROOT / "tests"))
    try:
        from support.scenario_engines import OnTemporal
        from support.temporal_dev import DevServer
    except ImportError as exc:  # temporalio missing (the test extra has it)
        return {"skipped": str(exc)}
    from om_dsl.planning.pipeline import plan_order

    import generate as G

    folder = Path(tempfile.mkdtemp(prefix="om-bench-big-"))
    rules = GeneratedRules(ACME)
    server = DevServer(folder)
    engine = None
    tasks_timed = WorkflowTasks()
    try:
        engine = OnTemporal(folder, rules, {}, server)
        order_id = engine.new_id("BIG")
        doc = G.acme_order(items, order_id=order_id)
        raw = json.dumps(engine.orders.workflow_input(plan_order(rules.catalog, rules, doc, order_id))).encode()
        from om_dsl.engine.core import Rejection
        from om_dsl.temporal.client import Unanswered

        tasks = len(plan_order(rules.catalog, rules, doc, order_id).plan.items)
        start = time.perf_counter()
        engine.submit(json.dumps(doc))
        while True:  # the visit completed as soon as it is open (an update; not a query of every task, polled)
            try:
                engine.complete(order_id, "1/D1:install_visit")
                break
            except (Rejection, Unanswered):
                time.sleep(1)

        async def result():  # through the runs it continued as
            client = await engine.orders.client()
            return await client.get_workflow_handle(order_id).result()

        status = engine.orders._run(result())["status"]
        elapsed = time.perf_counter() - start
        # ... and until its installed base has recorded it (the workflow ends once it told it: the recording's
        # workflow tasks are measured too)
        while len(engine.orders.installed_state(doc["relatedParty"][0]["id"])["assets"]) < items:
            time.sleep(1)
        recorded = time.perf_counter() - start
        return {
            "items": items, "tasks": tasks, "status": status, "input_mb": len(raw) / 2**20, "compressed_mb": len(zlib.compress(raw, 6)) / 2**20, "seconds": elapsed, "tasks_per_s": tasks / elapsed,
            "ms_per_task": elapsed * 1000 / tasks, "recorded_s": recorded, **tasks_timed.close(),
        }
    except Exception as exc:  # noqa: BLE001 - a figure not measured says why, the others stand
        return {"skipped": f"{type(exc).__name__}: {exc}"}
    finally:
        tasks_timed.close()
        if engine is not None:
            engine.close()
        server.stop()


def measure(quick: bool, temporal: bool = True) -> dict:
    runs = 3 if quick else 5
    r = {"transitions": bench_transitions(10 if quick else 50, runs), "growth": bench_growth([10, 100, 1_000] if quick else [10, 100, 1_000, 5_000], runs)}
    if temporal:  # one run each: together they take a quarter of an hour
        r["temporal"] = [temporal_big_order(n) for n in ([500] if quick else [2_000, 5_000, 10_000])]
    return r


def table(r: dict) -> str:
    out = ["| synchronous | orders | task transitions | engine transitions/s | minimal loop transitions/s | engine / loop | CPU per transition, engine / loop | engine / loop (CPU) | commits per order (om db + simulators') |",
           "|---|---|---|---|---|---|---|---|---|"]
    for sync, d in r["transitions"].items():
        cpu = f"{d['engine_cpu_us']:.0f} us / {d['loop_cpu_us']:.0f} us | {d['engine_over_loop_cpu']:.2f}x" if "engine_cpu_us" in d else "- | -"  # (results written before CPU was measured)
        out.append(f"| {sync} | {d['orders']} | {d['transitions']:,} | {d['engine_per_s']:,.0f} | {d['loop_per_s']:,.0f} | {d['engine_over_loop']:.2f}x | {cpu} | {d['commits_per_order']:.1f} + {d['simulator_commits_per_order']:.1f} |")
    g = r["growth"]
    out += ["", "| tasks in the order | events | event, in its transaction | of which the core's part | fan-out event | tasks it releases | fan-out per released task |", "|---|---|---|---|---|---|---|"]
    for k, d in g.items():
        if k != "ratio":
            out.append(f"| {d['tasks']:,.0f} | {d['events']:,.0f} | {d['event_ms']:.3f} ms | {d['core_ms']:.3f} ms | {d['fan_out_ms']:.1f} ms | {d['fan_out_released']:,.0f} | {d['fan_out_us_per_task']:.0f} us |")
    ratio = g["ratio"]
    big = r.get("temporal") or []
    big = [big] if isinstance(big, dict) else big  # (results written before several sizes)
    ran = [t for t in big if "skipped" not in t]
    if ran:
        head = "| Temporal: items | tasks | workflow input (JSON) | compressed | submission to completed | per task | installed base recorded | workflow activations | longest activation (wall / CPU), of which workflow |"
        out += ["", head, "|---|---|---|---|---|---|---|---|---|"]
        for t in ran:
            longest = f"{t['longest_wall_s']:.2f} s / {t['longest_cpu_s']:.2f} s" if "longest_wall_s" in t else "-"
            slowest = (t.get("slowest") or [{}])[0]
            which = f", {slowest['workflow']} ({slowest['kinds']})" if slowest else ""
            recorded = f"{t['recorded_s']:.0f} s" if "recorded_s" in t else "-"
            sizes = f"{t['items']:,} | {t['tasks']:,} | {t['input_mb']:.2f} MB | {t['compressed_mb']:.2f} MB"
            out.append(f"| {sizes} | {t['seconds']:.0f} s ({t['status']}) | {t['seconds'] * 1000 / t['tasks']:.1f} ms | {recorded} | {t.get('workflow_tasks', '-')} | {longest}{which} |")
        if len(ran) > 1:
            out.append(f"\nLargest / smallest Temporal order, time per task: {ran[-1]['seconds'] / ran[-1]['tasks'] / (ran[0]['seconds'] / ran[0]['tasks']):.2f}x (1.00x: cost linear in the order).")
    for t in big:
        if "skipped" in t:
            out += ["", f"Temporal big order: not measured ({t['skipped']})."]
    out += ["", f"Largest / smallest order: an event {ratio['event']:.2f}x (its core part {ratio['core']:.2f}x), the fan-out per released task {ratio['fan_out_per_task']:.2f}x."]
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-temporal", action="store_true", help="leave out the Temporal big orders; their figures stay as events.json has them")
    ap.add_argument("--temporal-only", action="store_true", help="only the Temporal big orders; the other figures stay as events.json has them")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = ap.parse_args()
    out = Path(args.out)
    if args.temporal_only:
        r = json.loads((out / "events.json").read_text())
        r["temporal"] = [temporal_big_order(n) for n in ([500] if args.quick else [2_000, 5_000, 10_000])]
    else:
        r = measure(args.quick, temporal=not args.no_temporal)
        if args.no_temporal and (out / "events.json").exists():
            r["temporal"] = json.loads((out / "events.json").read_text()).get("temporal") or []
    out.mkdir(parents=True, exist_ok=True)
    (out / "events.json").write_text(json.dumps(r, indent=2) + "\n")
    (out / "events.md").write_text("# Durable events (bench/events.py)\n\n" + table(r))
    print(table(r))


if __name__ == "__main__":
    main()
