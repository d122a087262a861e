"""Crash safety, for real: `om run` is killed (SIGKILL) at random moments,
then resumed; nothing accepted is lost and no effect is applied twice.

Each trial runs two Acme orders in a subprocess that the test kills after a
random delay (the simulated systems answer slowly, so the kill lands in the
middle of calls and commits), sometimes kills the `om resume` that follows
too, then finishes the orders as an operator would. Afterwards every order
is completed, every task completed exactly once, every callout reached its
system under one idempotency key with one effect, and the originating
system heard of each order once.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from om_dsl.engine import state as S

from support import ROOT
from support.engine_helpers import check_events, check_starts_follow_the_graph, effects_by_task, history, make_runner, operate, order_text

TRIALS = int(os.environ.get("OM_CRASH_TRIALS", "20"))
LATENCY_MS = 40  # each simulated call: half before its commit, half after
ORDERS = ["new-fiber-every-option.json", "fiber-tv-ported-phone.json"]


def om(*args) -> list[str]:
    return [sys.executable, "-c", "from om_dsl.cli import main; main()", *args]


def start_killable(args, tmp_path, latency_ms: int) -> subprocess.Popen:
    env = dict(os.environ, OM_SIM_LATENCY_MS=str(latency_ms))
    common = ["--db", str(tmp_path / "om.db"), "--systems-db", str(tmp_path / "om.systems.db"), "--tasks-path", str(ROOT / "examples"), "-q"]
    return subprocess.Popen(om(*args, *common), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def kill_after(proc: subprocess.Popen, delay: float, started=None) -> bool:
    """SIGKILL `delay` seconds after `started()` holds (the process is at work);
    False when the process had already finished."""
    deadline = time.monotonic() + 30
    while started is not None and not started() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    try:
        proc.wait(timeout=delay)
        return False
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return True


@pytest.mark.parametrize("trial", range(TRIALS))
def test_kill_9_loses_nothing_and_repeats_no_effect(tmp_path, trial):
    rnd = random.Random(trial)
    orders = [str(ROOT / "examples" / "orders" / name) for name in ORDERS]
    run = start_killable(["run", "generated/acme", *orders, "--clock", "simulated", "--start", "2026-11-27"], tmp_path, latency_ms=LATENCY_MS)
    # The run takes about 30 calls of LATENCY_MS each once the database exists: kill within that.
    killed = kill_after(run, rnd.uniform(0, 30 * LATENCY_MS / 1000), started=lambda: (tmp_path / "om.db").exists())
    if not killed:
        assert run.returncode == 0, run.stderr.read().decode()
    if rnd.random() < 0.5:
        resume = start_killable(["resume"], tmp_path, latency_ms=LATENCY_MS)
        kill_after(resume, rnd.uniform(0.3, 0.3 + 10 * LATENCY_MS / 1000))

    # Finish as an operator would: resubmit what was never accepted, resume, complete the manual tasks.
    runner = make_runner(tmp_path)
    for name in ORDERS:
        text = order_text(name)
        import json

        if not runner.store.order_exists(json.loads(text)["id"]):
            runner.submit(text)
    operate(runner)

    ids = [json_id(name) for name in ORDERS]
    for order_id in ids:
        run_ = runner.store.load(order_id)
        assert run_.status == S.ORDER_COMPLETED, (trial, order_id, run_.status)
        completions: dict = {}
        for e in history(runner.store, order_id):
            if e["to"] == S.COMPLETED and e["subject"] in run_.tasks:
                completions[e["subject"]] = completions.get(e["subject"], 0) + 1
        assert all(n == 1 for n in completions.values()), completions
        assert set(completions) == {t.id for t in run_.tasks.values() if t.status == S.COMPLETED}
        check_starts_follow_the_graph(runner.store, order_id)
    callouts = {f"{oid}:{t.id}" for oid in ids for t in runner.store.load(oid).tasks.values() if t.type == "callout" and t.status == S.COMPLETED}
    assert effects_by_task(runner.simulators) == {k: 1 for k in callouts}  # one key, one effect, per callout
    for order_id in ids:  # every event arrived, under its own id; one says completed
        check_events(runner.simulators, runner.store, order_id)


def json_id(name: str) -> str:
    import json

    return json.loads(order_text(name))["id"]


# ---- kill -9 in the middle of a cancellation or an amendment ----------------------------------------------

CHANGE_TRIALS = int(os.environ.get("OM_CRASH_CHANGE_TRIALS", "10"))
AMEND = ROOT / "examples" / "orders" / "amend"


def in_flight(tmp_path):
    """ORD-3000 started, up to its installation visit; the runner closed again."""
    runner = make_runner(tmp_path)
    runner.submit((AMEND / "order.json").read_text())
    runner.drive()
    runner.store.close()
    runner.simulators.close()


def check_once(runner, order_id):
    run = runner.store.load(order_id)
    completions: dict = {}
    for e in history(runner.store, order_id):
        if e["to"] == S.COMPLETED:
            completions[e["subject"]] = completions.get(e["subject"], 0) + 1
    # Once per generation: a task a revision redid completes again, under a new key.
    expected = {t: (run.tasks[t].generation if t in run.tasks else 1) for t in completions}
    assert completions == expected, completions
    keys = {t.key for t in run.tasks.values() if t.type in ("callout", "compensation") and t.status == S.COMPLETED}
    effects = {key: calls for key, *_rest, calls in runner.simulators.effects() if key.startswith(order_id + ":")}
    assert set(effects) == keys  # every completed call left its effect, under its own key; nothing else did
    return run


@pytest.mark.parametrize("trial", range(CHANGE_TRIALS))
def test_kill_9_during_a_cancellation(tmp_path, trial):
    rnd = random.Random(1000 + trial)
    in_flight(tmp_path)
    proc = start_killable(["orders", "cancel", "ORD-3000", "--reason", "moved", "--clock", "simulated"], tmp_path, latency_ms=LATENCY_MS)
    kill_after(proc, rnd.uniform(0.3, 0.3 + 6 * LATENCY_MS / 1000))
    runner = make_runner(tmp_path)
    if not runner.store.load("ORD-3000").cancelling:  # killed before the cancellation was taken: ask again
        runner.cancel("ORD-3000", "csr", "moved")
    operate(runner)
    run = check_once(runner, "ORD-3000")
    assert run.status == S.ORDER_CANCELLED
    undone = sorted(t.undoes for t in run.tasks.values() if t.type == "compensation")
    assert undone == ["1/D1:reserve_port", "1/D2:ship_ont", "2/D4:ship_device", "3/D5:ship_device", "4/D5:ship_device"]


@pytest.mark.parametrize("trial", range(CHANGE_TRIALS))
def test_kill_9_during_an_amendment(tmp_path, trial):
    rnd = random.Random(2000 + trial)
    in_flight(tmp_path)
    proc = start_killable(["orders", "amend", "ORD-3000", str(AMEND / "speed-1000.json"), "--clock", "simulated"], tmp_path, latency_ms=LATENCY_MS)
    kill_after(proc, rnd.uniform(0.3, 0.3 + 6 * LATENCY_MS / 1000))
    runner = make_runner(tmp_path)
    if not [r for r in runner.store.revisions("ORD-3000") if r[1] == "received"]:  # killed before the revision was taken: send it again
        runner.amend("ORD-3000", (AMEND / "speed-1000.json").read_text(), "csr")
    operate(runner)
    run = check_once(runner, "ORD-3000")
    assert run.status == S.ORDER_COMPLETED and run.revision == 2
    activate = [(json.loads(args), calls) for key, system, op, args, outputs, calls in runner.simulators.effects() if op == "activate_line"]
    assert [a["down_mbps"] for a, _ in activate] == [1000]
