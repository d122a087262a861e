"""`om serve` with the systems behind the HTTP simulator: an order submitted
with `om run` waits for its asynchronous answer, which comes to the
service's callback endpoint; the technician completes the visit with
`om tasks complete`; the order completes, every effect once."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from click.testing import CliRunner

from om_dsl.cli import main
from om_dsl.rules.generated import GeneratedRules
from om_dsl.simulate.server import SimulatorServer

from support import PATIENCE_S, ROOT
from support.engine_helpers import ACME


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def om(*args):
    return CliRunner().invoke(main, list(map(str, args)), catch_exceptions=False)


def test_serve_receives_callbacks_while_operators_work(tmp_path, in_repo):
    catalog = GeneratedRules(ACME).catalog
    port = free_port()
    with SimulatorServer(catalog, str(tmp_path / "systems.db"), callback_delay_ms=20) as sim:
        config = tmp_path / "om.toml"
        config.write_text(
            f'[engine]\ncallback_url = "http://127.0.0.1:{port}/callbacks"\n\n[defaults]\nadapter = "http"\n\n'
            + "".join(f'[systems.{name}]\nbase_url = "{sim.url}"\n\n' for name in ("inventory", "network", "logistics", "ipam", "voice", "iptv", "billing"))
        )
        common = ["--db", tmp_path / "om.db", "--config", config, "--tasks-path", ROOT / "examples"]
        service = subprocess.Popen(
            [sys.executable, "-c", "from om_dsl.cli import main; main()", "serve", "generated/acme", "--listen", f"127.0.0.1:{port}", "--interval", "0.05", "-q", "--clock", "simulated", "--start", "2026-11-27", *map(str, common)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + PATIENCE_S
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/_health", timeout=1).read()
                    break
                except OSError:
                    assert service.poll() is None, service.stderr.read().decode()
                    assert time.monotonic() < deadline, "om serve did not come up"
                    time.sleep(0.05)
            r = om("run", "generated/acme", "examples/orders/fiber-tv-ported-phone.json", "-q", *common)
            assert r.exit_code == 0, r.output
            status = None
            deadline = time.monotonic() + PATIENCE_S
            while time.monotonic() < deadline:
                for line in om("tasks", "list", "--ids", "--db", tmp_path / "om.db").stdout.splitlines():
                    order_id, task = line.split()
                    om("tasks", "complete", order_id, task, "-q", *common)
                status = json.loads(om("orders", "show", "ORD-1003", "--format", "json", "--db", tmp_path / "om.db").stdout)["status"]
                if status == "completed":
                    break
                time.sleep(0.1)
            assert status == "completed", om("orders", "show", "ORD-1003", "--db", tmp_path / "om.db").stdout
            history = om("orders", "history", "ORD-1003", "--db", tmp_path / "om.db").stdout
            assert "callback received" in history and "completed by" in history
            with urllib.request.urlopen(sim.url + "/_effects") as resp:
                effects = json.loads(resp.read())
            assert len({e["key"] for e in effects}) == len(effects) and all(e["key"].startswith("ORD-1003:") for e in effects)
            assert any(e["operation"] == "port_number" for e in effects)
        finally:
            service.send_signal(signal.SIGINT)
            try:
                service.wait(timeout=10)
            except subprocess.TimeoutExpired:
                service.kill()
