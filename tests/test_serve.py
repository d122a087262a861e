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


def test_serve_answers_the_api_over_tls_with_the_demo_token(tmp_path, in_repo):
    """`om serve --tls-cert --tls-key`: HTTPS on the same port as callbacks and health; OM_API_TOKEN is one admin token."""
    import os
    import shutil

    import httpx
    import pytest

    if shutil.which("openssl") is None:
        pytest.skip("openssl makes the test's certificate")
    import ssl

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    port = free_port()
    env = {**os.environ, "OM_API_TOKEN": "demo-token-123"}
    service = subprocess.Popen(
        [sys.executable, "-c", "from om_dsl.cli import main; main()", "serve", "generated/acme", "--listen", f"127.0.0.1:{port}", "--interval", "0.05", "-q",
         "--tls-cert", str(cert), "--tls-key", str(key), "--db", str(tmp_path / "om.db"), "--tasks-path", str(ROOT / "examples")],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        trust = ssl.create_default_context(cafile=str(cert))
        base = f"https://127.0.0.1:{port}"
        deadline = time.monotonic() + PATIENCE_S
        while True:
            try:
                httpx.get(base + "/health", verify=trust, timeout=1)
                break
            except httpx.HTTPError:
                assert service.poll() is None, service.stderr.read().decode()
                assert time.monotonic() < deadline, "om serve did not come up"
                time.sleep(0.05)
        api = base + "/tmf-api/productOrderingManagement/v4/productOrder"
        order = json.loads((ROOT / "examples/orders/fiber-minimal.json").read_text())
        order["relatedParty"][0]["@referredType"] = "Customer"
        assert httpx.post(api, json=order, verify=trust).status_code == 401
        r = httpx.post(api, json=order, verify=trust, headers={"Authorization": "Bearer demo-token-123"})
        assert r.status_code == 201, r.text
        login = httpx.post(base + "/console/login", data={"token": "demo-token-123"}, verify=trust)  # the console, on the same port
        assert login.status_code == 303 and "Secure" in login.headers["set-cookie"] and "HttpOnly" in login.headers["set-cookie"]  # Secure under TLS
        page = httpx.get(base + "/console/orders", cookies=login.cookies, verify=trust)
        assert page.status_code == 200 and r.json()["id"] in page.text
        with pytest.raises(httpx.HTTPError):  # plain HTTP is not served on a TLS port
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).raise_for_status()
        deadline = time.monotonic() + PATIENCE_S  # the work loop beside the API runs the order on
        while not any(t["status"] == "completed" for t in json.loads(om("orders", "show", r.json()["id"], "--format", "json", "--db", tmp_path / "om.db").stdout)["tasks"]):
            assert time.monotonic() < deadline, "the order did not run"
            time.sleep(0.05)
    finally:
        service.send_signal(signal.SIGINT)
        try:
            assert service.wait(timeout=30) == 0, service.stderr.read().decode()
        except subprocess.TimeoutExpired:
            service.kill()
            raise


def test_serve_with_unreadable_tls_files_or_half_of_them_is_a_usage_error(tmp_path, in_repo):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("not a certificate")
    key.write_text("not a key")
    r = CliRunner().invoke(main, ["serve", "--listen", f"127.0.0.1:{free_port()}", "--db", str(tmp_path / "om.db"), "-q", "--tls-cert", str(cert), "--tls-key", str(key)])
    assert r.exit_code == 2 and "cannot use the TLS certificate" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(main, ["serve", "--db", str(tmp_path / "om.db"), "-q", "--tls-cert", str(cert)])
    assert r.exit_code == 2 and "--tls-cert and --tls-key go together" in r.output
