"""The CLI on Temporal, as an operator uses it: `om worker` processes, and
`om run`, `om tasks`, `om orders` with --engine temporal against a real
dev server. The order's state lives in Temporal: a worker stopped while
the order waits for a person is replaced by another, and nothing is lost."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from om_dsl.temporal.retry import call_timeout

from support import PATIENCE_S, ROOT
from support.scenario_engines import order_doc

ACME = str(ROOT / "generated" / "acme")


def om_binary() -> str:
    here = Path(sys.executable).parent / "om"
    return str(here) if here.is_file() else shutil.which("om")


class Cli:
    def __init__(self, server, tmp_path: Path):
        self.queue = f"cli-{uuid.uuid4().hex[:8]}"
        self.env = {**os.environ, "OM_ENGINE": "temporal", "OM_TEMPORAL_ADDRESS": server.address, "OM_TASK_QUEUE": self.queue}
        self.tmp = tmp_path
        self.workers: list = []
        self.worker_args: list = []

    def om(self, *args, check=None):
        done = subprocess.run([om_binary(), *args], capture_output=True, text=True, env=self.env, cwd=self.tmp, timeout=PATIENCE_S)
        if check is not None:
            assert done.returncode == check, (args, done.returncode, done.stdout, done.stderr)
        return done

    def start_worker(self):
        log = open(self.tmp / f"worker{len(self.workers)}.log", "w+")
        proc = subprocess.Popen([om_binary(), "worker", ACME, "--tasks-path", str(ROOT / "examples"), "--systems-db", str(self.tmp / "systems.db"), *self.worker_args], stderr=log, stdout=log, env=self.env, cwd=self.tmp)
        deadline = time.monotonic() + PATIENCE_S
        while "ready" not in Path(log.name).read_text():
            assert proc.poll() is None and time.monotonic() < deadline, Path(log.name).read_text()
            time.sleep(0.05)
        self.workers.append(proc)
        return proc

    def until(self, predicate, *args, timeout_s=PATIENCE_S):
        deadline = time.monotonic() + timeout_s
        while True:
            out = self.om(*args)
            if out.returncode == 0 and predicate(out.stdout):
                return out.stdout
            assert time.monotonic() < deadline, (out.stdout, out.stderr)
            time.sleep(0.2)


@pytest.fixture
def cli(temporal_server, tmp_path):
    c = Cli(temporal_server, tmp_path)
    yield c
    for w in c.workers:
        if w.poll() is None:
            w.kill()
            w.wait()


def order_file(tmp_path: Path, name: str, order_id: str) -> str:
    """The example under fresh ids (the order's, and its customer's: ACC-ORDER)."""
    path = tmp_path / f"{order_id}.json"
    path.write_text(order_doc(ROOT / "examples" / "orders" / name, order_id))
    return str(path)


@pytest.mark.slow
def test_an_operator_runs_an_order_on_temporal(cli, tmp_path):
    first = cli.start_worker()
    oid = f"CLI-{uuid.uuid4().hex[:8]}"
    run = cli.om("run", ACME, order_file(tmp_path, "fiber-minimal.json", oid), str(ROOT / "examples" / "orders" / "invalid-unknown-product.json"), check=1)
    assert f"order {oid}: acknowledged" in run.stdout and "unknown_product" in run.stderr  # the rejected one never started,
    rejected = cli.om("orders", "show", "ORD-1101", "--format", "json", check=0)  # and is kept, with why (as on the embedded engine)
    assert json.loads(rejected.stdout)["status"] == "rejected" and "unknown_product" in rejected.stdout
    listed = cli.until(lambda out: oid in out, "tasks", "list", "--ids")
    assert f"{oid} 1/D1:install_visit" in listed
    # The worker dies (kill -9) while the order waits for a person; another takes over.
    first.kill()
    first.wait(PATIENCE_S)
    second = cli.start_worker()
    done = cli.om("tasks", "complete", oid, "1/D1:install_visit", "--by", "tech-anna", "--data", "technician=T-17", check=0)
    assert f"order {oid}: inProgress" in done.stdout and "completed by tech-anna" in done.stderr
    shown = json.loads(cli.until(lambda out: '"status": "completed"' in out.split('"tasks"')[0], "orders", "show", oid, "--format", "json"))
    assert shown["customer"] == f"ACC-{oid}" and all(t["status"] in ("completed", "skipped") for t in shown["tasks"])
    again = cli.om("tasks", "complete", oid, "1/D1:install_visit", check=1)
    assert "Error" in again.stderr
    history = cli.om("orders", "history", oid, check=0).stdout
    assert "completed by tech-anna" in history and "every task is completed or skipped" in history
    # `orders list` reads Temporal's visibility store, which shows the order's new status a moment after its query does
    listed = json.loads(cli.until(lambda out: any(o["id"] == oid and o["status"] == "completed" for o in json.loads(out)), "orders", "list", "--format", "json"))
    assert {"id": oid, "status": "completed"}.items() <= next(o for o in listed if o["id"] == oid).items()
    assets = json.loads(cli.until(lambda out: f"AST-{oid}-1" in out, "assets", "list", "--customer", f"ACC-{oid}", "--format", "json"))
    fiber = next(a for a in assets if a["id"] == f"AST-{oid}-1")
    assert (fiber["product"], fiber["status"], fiber["order"]) == ("HOME_FIBER", "active", oid)
    inventory = json.loads(cli.om("assets", "list", "--customer", f"ACC-{oid}", "--inventory", "--format", "json", check=0).stdout)
    assert any(line["id"] == f"INV-AST-{oid}-1/D1" and "port_id" in line["outputs"]["reserve_port"] for line in inventory)
    second.send_signal(signal.SIGTERM)  # a worker stops cleanly
    assert second.wait(PATIENCE_S) == 0


@pytest.mark.slow
def test_usage_errors_on_temporal(cli, tmp_path):
    assert cli.om("orders", "show", "NO-SUCH-ORDER").returncode == 2
    assert "no order NO-SUCH-ORDER" in cli.om("orders", "show", "NO-SUCH-ORDER").stderr
    unreachable = subprocess.run([om_binary(), "orders", "list", "--engine", "temporal", "--address", "127.0.0.1:1"], capture_output=True, text=True, timeout=PATIENCE_S)
    assert unreachable.returncode == 3 and "cannot reach Temporal at 127.0.0.1:1" in unreachable.stderr and "Traceback" not in unreachable.stderr
    embedded_worker = subprocess.run([om_binary(), "worker", "--engine", "embedded"], capture_output=True, text=True, timeout=PATIENCE_S)
    assert embedded_worker.returncode == 2 and "no workers" in embedded_worker.stderr
    # No worker polls this queue: a query and an update give up, and say why (exit 3).
    cli.env.update(OM_TEMPORAL_QUERY_TIMEOUT_S="2", OM_TEMPORAL_UPDATE_TIMEOUT_S="2")
    oid = f"NOWORKER-{uuid.uuid4().hex[:8]}"
    cli.om("run", ACME, order_file(tmp_path, "fiber-minimal.json", oid), check=0)
    shown = cli.om("orders", "show", oid, check=3)
    assert "is a worker polling task queue" in shown.stderr and "Traceback" not in shown.stderr
    completed = cli.om("tasks", "complete", oid, "1/D1:install_visit", check=3)
    assert "did not answer in 2 s" in completed.stderr and "check with `om orders show`" in completed.stderr


def test_an_attempt_waits_for_the_operation_or_for_an_acknowledgement():
    assert call_timeout(30_000, False).total_seconds() == 31  # the operation's timeout, and the adapter's grace
    assert call_timeout(None, False).total_seconds() == 301
    assert call_timeout(2 * 86_400_000, True).total_seconds() == 61  # a callback's deadline is the core's: the call only waits for the acknowledgement


@pytest.mark.slow
def test_amend_and_cancel_from_the_cli_on_temporal(cli, tmp_path):
    cli.start_worker()
    oid = f"CLI-AMEND-{uuid.uuid4().hex[:8]}"
    amend_dir = ROOT / "examples" / "orders" / "amend"

    def with_id(name):
        path = tmp_path / f"{oid}-{name}"
        path.write_text(order_doc(amend_dir / name, oid))
        return str(path)

    cli.om("run", ACME, with_id("order.json"), check=0)
    cli.until(lambda out: oid in out, "tasks", "list", "--ids")
    amended = cli.om("orders", "amend", oid, with_id("speed-1000.json"), "--by", "csr-lena", check=0)
    assert f"order {oid}: inProgress (revision 2)" in amended.stdout
    shown = json.loads(cli.om("orders", "show", oid, "--format", "json", check=0).stdout)
    assert shown["revision"] == 2 and shown["revisions"][0]["by"] == "csr-lena" and shown["revisions"][0]["status"] in ("applied", "waiting")
    other = cli.om("orders", "amend", oid, str(ROOT / "examples" / "orders" / "fiber-minimal.json"), check=1)
    assert "the revision is rejected" in other.stderr and "revision_of_another_order" in other.stderr
    cancelled = cli.om("orders", "cancel", oid, "--reason", "the customer moved", check=0)
    assert f"order {oid}:" in cancelled.stdout
    shown = json.loads(cli.until(lambda out: '"status": "cancelled"' in out.split('"tasks"')[0], "orders", "show", oid, "--format", "json"))
    undone = [t for t in shown["tasks"] if t["id"].endswith(":undo")]
    assert undone and all(t["status"] == "completed" for t in undone)
    assert cli.om("orders", "cancel", oid, check=1).stderr.startswith("Error:")


@pytest.mark.slow
def test_the_installed_base_moves_from_the_store_to_temporal(cli, tmp_path):
    """Migration: orders completed in the embedded store; `om assets import` copies
    the installed base; a modify order of those assets then runs on Temporal."""
    customer = f"ACC-{uuid.uuid4().hex[:8]}"
    base = json.loads((ROOT / "examples" / "orders" / "macd" / "base-fiber-300.json").read_text())
    base["relatedParty"][0]["id"] = customer
    base_path = tmp_path / "base.json"
    base_path.write_text(json.dumps(base))
    db = ["--engine", "embedded", "--db", str(tmp_path / "om.db")]
    cli.om("run", ACME, str(base_path), *db, "--clock", "simulated", "--start", "2026-12-01", "--tasks-path", str(ROOT / "examples"), check=0)
    for line in cli.om("tasks", "list", "--ids", *db, check=0).stdout.split("\n"):
        if line:
            cli.om("tasks", "complete", *line.split(), *db, check=0)
    assert "completed" in cli.om("orders", "show", "ORD-2000", *db, check=0).stdout.split("\n")[0]
    stored = json.loads(cli.om("assets", "list", "--customer", customer, "--format", "json", *db, check=0).stdout)

    cli.start_worker()
    imported = cli.om("assets", "import", "--db", str(tmp_path / "om.db"), check=0)
    assert f"{customer}: {len(stored)} assets" in imported.stdout
    moved = json.loads(cli.until(lambda out: "AST-ORD-2000-1" in out, "assets", "list", "--customer", customer, "--format", "json"))
    assert moved == stored
    modify = json.loads((ROOT / "examples" / "orders" / "macd" / "speed-300-to-1000.json").read_text())
    modify["relatedParty"][0]["id"] = customer
    modify["id"] = f"MOD-{uuid.uuid4().hex[:8]}"
    modify_path = tmp_path / "modify.json"
    modify_path.write_text(json.dumps(modify))
    assert f"order {modify['id']}: acknowledged" in cli.om("run", ACME, str(modify_path), check=0).stdout
    assert cli.om("assets", "import", "--engine", "embedded").returncode == 2


def test_a_real_system_calls_back_over_http_to_the_worker(cli, tmp_path):
    """voice is served over HTTP by the simulator server; its asynchronous port_number
    answers by POSTing the callback (twice) to the worker's --listen endpoint, which
    signals the order: the call completes once."""
    from om_dsl.rules.generated import GeneratedRules
    from om_dsl.simulate.server import SimulatorServer

    from support.temporal_dev import free_port

    port = free_port()
    with SimulatorServer(GeneratedRules(ACME).catalog, str(tmp_path / "http-systems.db"), faults={"voice.port_number": "twice"}, callback_delay_ms=50) as server:
        (tmp_path / "om.toml").write_text(f'[engine]\ncallback_url = "http://127.0.0.1:{port}/callbacks"\ncallback_secret = "{"t" * 64}"\n\n[systems.voice]\nbase_url = "{server.url}"\n')
        cli.worker_args = ["--config", str(tmp_path / "om.toml"), "--listen", f"127.0.0.1:{port}"]
        cli.start_worker()
        oid = f"HTTP-{uuid.uuid4().hex[:8]}"
        cli.om("run", ACME, order_file(tmp_path, "fiber-tv-ported-phone.json", oid), check=0)
        shown = cli.until(lambda out: "3/D6:port_number" in out and "completed" in out.split("3/D6:port_number")[1].split("\n")[0], "orders", "show", oid)
        history = cli.om("orders", "history", oid, check=0).stdout
        port_lines = [line for line in history.split("\n") if "3/D6:port_number" in line]
        assert any("acknowledged: waiting for the callback" in line for line in port_lines)
        assert sum("callback received" in line for line in port_lines) == 1, port_lines
        with __import__("urllib.request").request.urlopen(server.url + "/_effects") as r:
            effects = [e for e in json.loads(r.read()) if e["key"].startswith(oid + ":")]
        assert [e["operation"] for e in effects] == ["port_number"] and "waiting for a person" in shown


@pytest.mark.slow
@pytest.mark.temporal  # the script starts a dev server of its own
def test_the_temporal_demo_script_runs(tmp_path):
    """examples/run-acme-temporal.sh (docs/scale-out.md): its own dev server, two workers,
    the example orders to completed, the installed base shown."""
    for part in ("examples", "generated"):
        shutil.copytree(ROOT / part, tmp_path / part)
    scripts = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": scripts + os.pathsep + os.environ.get("PATH", "")}
    done = subprocess.run(["sh", str(tmp_path / "examples" / "run-acme-temporal.sh")], capture_output=True, text=True, env=env, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "order ORD-1107 rejected" in done.stdout + done.stderr
    assert "POST /productOrder -> 201 ORD-5001" in out and "GET ORD-5001 -> completed" in out, out  # the API over Temporal
    assert "ProductOrderStateChangeEvent: completed" in out, out  # ... and its events, through /hub
    assert all(re.search(rf"ORD-{n}\s+completed", out) for n in (1001, 1002, 1003)), out
    assert re.search(r"AST-ORD-1001-1\s+HOME_FIBER\s+active", out), out
