"""Screenshots of the operator console (docs/console.md), taken in a real browser.

    python docs/console_screenshots.py            # writes docs/console/*.png
    python docs/console_screenshots.py -o DIR     # ... somewhere else

It starts the Acme demo (`Demo`: the downstream systems' HTTP simulator,
`om serve` with the console, the example orders submitted over the TMF622
API), opens the console in headless Chromium (Debian's `chromium`, driven by
Playwright: `launch_chromium`) with an operator's token, and saves each main
page as a PNG. The PNGs in docs/console/ are this script's output: after a
change to the console's pages, run it again and commit what it wrote.

The browser tests (tests/test_console_browser.py) drive the same `Demo`.
Everything runs on 127.0.0.1; nothing is fetched from the network.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("OM_CHROMIUM", "/usr/bin/chromium")
# Headless, no sandbox (CI runs as root), no GPU, and nothing that calls home:
# the machine's network is closed, and a browser test must not wait on it.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SYSTEMS = ("inventory", "network", "logistics", "ipam", "voice", "iptv", "billing")
# The example orders the demo submits, as CPQ would. ORD-1001 is held at once:
# its new phone number's assignment is refused once with 422 (a fatal failure,
# which the retry policy does not retry), so an operator has to retry it.
ORDERS = ("new-fiber-every-option.json", "fiber-minimal.json", "tv-alone.json", "fiber-tv-ported-phone.json")
HELD_ORDER, HELD_TASK = "ORD-1001", "6/D6:assign_number"
FAULTS = {"voice.assign_number": "status:422:1"}
START = "2026-11-27"  # the simulated clock's start (waits take no time)
API = "/tmf-api/productOrderingManagement/v4"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def om_command(*args: str) -> list[str]:
    """`om ARGS` with this interpreter (the `om` script may not be on PATH)."""
    return [sys.executable, "-c", "from om_dsl.cli import main; main()", *args]


def launch_chromium(playwright):
    """Debian's Chromium, headless, under Playwright (no browser of
    Playwright's own is downloaded or used). Playwright gives each launch a
    fresh profile (a new temporary user data dir, removed at close): no
    state from an earlier run, no first-run dialogs."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


class Demo:
    """The Acme demo behind the console, in `folder`: the systems' HTTP
    simulator (with `FAULTS`), `om serve generated/acme` on a free port of
    127.0.0.1, two API tokens (an operator, a viewer; made here, passed
    through the environment, never written down), and the example orders
    submitted over the API. A context manager.

    On the embedded engine the clock is simulated (waits take no time). With
    `temporal` (a dev server's HOST:PORT) the orders run on Temporal instead:
    an `om worker` (which also receives the callbacks) on a task queue of
    the demo's own, `om serve --engine temporal` for the API and the
    console, the real clock (so the orders leave out their requested start
    date), and each order's and customer's id suffixed with `tag` (the
    server keeps every workflow id and installed base it has seen)."""

    def __init__(self, folder: Path, patience_s: float = 120.0, faults: dict | None = None, offline: tuple[str, ...] = (), temporal: str | None = None, port: int = 0, systems_port: int = 0):
        self.folder = Path(folder)
        self.patience_s = patience_s
        self.faults = FAULTS if faults is None else faults
        self.offline = offline
        self.temporal = temporal
        self.tag = f"-{secrets.token_hex(3)}" if temporal else ""
        self.operator_token = secrets.token_hex(16)
        self.viewer_token = secrets.token_hex(16)
        self.port = port or free_port()
        self.systems_port = systems_port  # 0: any free port
        self.url = f"http://127.0.0.1:{self.port}"
        self.db = self.folder / "om.db"
        self.config = self.folder / "om.toml"
        self.env = {k: v for k, v in os.environ.items() if k not in ("OM_API_TOKEN", "OM_ENGINE", "OM_DB", "OM_CONFIG")}  # only the demo's tokens
        self.env.update(OM_DEMO_OPERATOR_TOKEN=self.operator_token, OM_DEMO_VIEWER_TOKEN=self.viewer_token, OM_DB=str(self.db), OM_CONFIG=str(self.config))
        if temporal:
            self.env.update(OM_ENGINE="temporal", OM_TEMPORAL_ADDRESS=temporal, OM_TASK_QUEUE=f"console-demo{self.tag}", OM_CALLBACK_SECRET=secrets.token_hex(16))
        self._sim = None
        self._processes: list[tuple[subprocess.Popen, object]] = []

    def id(self, order_id: str) -> str:
        """The demo's id of an example order (ORD-1001, or ORD-1001-TAG on Temporal)."""
        return order_id + self.tag

    @property
    def held_order(self) -> str:
        return self.id(HELD_ORDER)

    def __enter__(self) -> "Demo":
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> None:
        from om_dsl.rules.generated import GeneratedRules
        from om_dsl.simulate.server import SimulatorServer

        self.folder.mkdir(parents=True, exist_ok=True)
        catalog = GeneratedRules(ROOT / "generated" / "acme").catalog
        self._sim = SimulatorServer(catalog, str(self.folder / "systems.db"), port=self.systems_port, faults=self.faults, callback_delay_ms=20).start()
        callbacks = free_port() if self.temporal else self.port  # on Temporal the worker receives them
        self.config.write_text(
            f'[engine]\ncallback_url = "http://127.0.0.1:{callbacks}/callbacks"\n\n'
            '[api]\ntokens = [\n'
            '  { name = "noc-operator", role = "operator", token = "$OM_DEMO_OPERATOR_TOKEN" },\n'
            '  { name = "bi-viewer", role = "viewer", token = "$OM_DEMO_VIEWER_TOKEN" },\n]\n\n'
            + "".join(f'[systems.{name}]\nbase_url = "{self._sim.url}"\n\n' for name in SYSTEMS),
            encoding="utf-8",
        )
        for system in self.offline:  # before the first order (on the demo's clock): its calls wait on hold
            self.om("systems", "offline", system, "--by", "noc-operator", "--clock", "simulated", "--start", START)
        systems_db = ("--systems-db", str(self.folder / "om.systems.db"))
        if self.temporal:
            worker = self._spawn("worker", "generated/acme", "--listen", f"127.0.0.1:{callbacks}", *systems_db)
            self._wait_for(": ready", worker)
            self._spawn("serve", "generated/acme", "--listen", f"127.0.0.1:{self.port}", "--quiet")
        else:
            self._spawn("serve", "generated/acme", "--listen", f"127.0.0.1:{self.port}", "--interval", "0.05", "--quiet", "--clock", "simulated", "--start", START, *systems_db)
        self.wait_healthy()
        for name in ORDERS:
            self.submit(name)

    def _spawn(self, *args: str) -> Path:
        """`om ARGS` in the background, its output in the demo's folder (answers the log's path)."""
        log_path = self.folder / f"{args[0]}{len(self._processes)}.log"
        log = open(log_path, "wb")
        process = subprocess.Popen(om_command(*args), cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        self._processes.append((process, log))
        return log_path

    def _wait_for(self, text: str, log_path: Path) -> None:
        process = self._processes[-1][0]
        deadline = time.monotonic() + self.patience_s
        while text not in log_path.read_text(encoding="utf-8", errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{' '.join(process.args[3:5])} did not get ready ({process.poll()}): {self.logs()}")
            time.sleep(0.05)

    def om(self, *args: str) -> str:
        """An `om` command on the demo's store, beside the running service (run in
        the demo's folder, so whatever a command writes by default lands there)."""
        for _ in range(3):
            done = subprocess.run(om_command(*args), cwd=self.folder, env=self.env, capture_output=True, text=True, timeout=self.patience_s)
            # On Temporal, an `om` process now and then aborts at exit (SIGABRT from the Temporal
            # client's native thread while Python finalizes); the demo's commands are reads, or
            # idempotent, so it asks again.
            if done.returncode >= 0:
                break
        if done.returncode:
            raise RuntimeError(f"om {' '.join(args)} failed ({done.returncode}): {done.stderr or done.stdout}")
        return done.stdout

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + self.patience_s
        while True:
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as r:
                    r.read()
                return
            except OSError:
                if any(p.poll() is not None for p, _ in self._processes) or time.monotonic() > deadline:
                    raise RuntimeError(f"om serve did not answer on {self.url}: {self.logs()}") from None
                time.sleep(0.05)

    def logs(self) -> str:
        """The last lines of each background process's output (for a failure's message)."""
        return "\n".join(f"== {p.args[3]} ({p.poll()}):\n{Path(log.name).read_text(encoding='utf-8', errors='replace')[-1500:]}" for p, log in self._processes)

    def api(self, method: str, path: str, body=None, token: str | None = None) -> tuple[int, dict]:
        headers = {"Authorization": f"Bearer {token or self.operator_token}", "Content-Type": "application/json"}
        request = urllib.request.Request(self.url + API + path, data=None if body is None else json.dumps(body).encode(), method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.patience_s) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def submit(self, name: str) -> str:
        """An example order, POSTed as CPQ sends it (each party says what it refers to)."""
        doc = json.loads((ROOT / "examples" / "orders" / name).read_text(encoding="utf-8"))
        doc["id"] = self.id(doc["id"])
        for party in doc.get("relatedParty", []):
            party.setdefault("@referredType", "Customer")
            party["id"] += self.tag
        if self.temporal:
            doc.pop("requestedStartDate", None)  # on the real clock, that wait would last weeks
        status, order = self.api("POST", "/productOrder", doc)
        if status != 201 or order.get("state") == "rejected":
            raise RuntimeError(f"POST {name}: {status} {order}")
        return order["id"]

    def order(self, order_id: str) -> dict:
        status, order = self.api("GET", f"/productOrder/{order_id}")
        if status != 200:
            raise RuntimeError(f"GET {order_id}: {status} {order}")
        return order

    def close(self) -> None:
        for process, log in reversed(self._processes):
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()
        self._processes = []
        if self._sim is not None:
            self._sim.stop()
            self._sim = None

    def wait_until(self, what: str, condition) -> None:
        """Poll `condition()` until it holds (the service works in the background)."""
        deadline = time.monotonic() + self.patience_s
        while not condition():
            if time.monotonic() > deadline:
                raise RuntimeError(f"the demo did not reach {what} within {self.patience_s:.0f} s: {self.om('orders', 'list')}")
            time.sleep(0.1)

    def statuses(self) -> dict[str, str]:
        """Each of the demo's orders' status (om's, not TMF622's: `held` is om's)."""
        mine = {self.id(o) for o in ("ORD-1001", "ORD-1002", "ORD-1003", "ORD-1004")}
        return {o["id"]: o["status"] for o in json.loads(self.om("orders", "list", "--format", "json")) if o["id"] in mine}

    def visits(self) -> list[tuple[str, str]]:
        """The open manual tasks of the demo's orders: (order, task)."""
        found = [tuple(line.split()) for line in self.om("tasks", "list", "--ids").splitlines() if line.strip()]
        return [(o, t) for o, t in found if o.endswith(self.tag)]

    def settled(self) -> None:
        """Wait for the demo's first stop: ORD-1001 held, the TV order completed (or its
        billing call on hold, when billing is offline), and each fiber order's field
        visit waiting for a technician."""
        def done() -> bool:
            statuses, tv = self.statuses(), self.id("ORD-1002")
            if statuses.get(self.held_order) != "held" or len(self.visits()) != 3:
                return False
            return statuses.get(tv) == "completed" or any(t["status"] == "onHold" for t in json.loads(self.om("orders", "show", tv, "--format", "json"))["tasks"])
        self.wait_until("its first stop", done)


# ---- the screenshots -------------------------------------------------------------------------------

# The main pages, each as docs/console/NAME.png. Paths as the console serves them (docs/console.md).
PAGES = (
    ("orders", "/console/orders"),
    ("order", f"/console/orders/{HELD_ORDER}"),
    ("fallout", "/console/fallout"),
    ("worklists", "/console/worklists"),
    ("systems", "/console/systems"),
)

MAX_HEIGHT = 2400  # CSS pixels of a page at most: an order's whole history would make a poster


def sign_in(page, token: str) -> None:
    """The console's sign-in form: the API token, then the orders page."""
    page.goto("/console/login")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/console/**")


def whole(low: int, high: int):
    """An argument type: a whole number from `low` to `high`."""
    def parse(text: str) -> int:
        if not text.isdigit() or not low <= int(text) <= high:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number from {low} to {high}")
        return int(text)
    return parse


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Screenshots of the console's main pages (docs/console.md), from the Acme demo in headless Chromium.")
    parser.add_argument("-o", "--out", type=Path, default=ROOT / "docs" / "console", help="where the PNGs go (default: docs/console/)")
    parser.add_argument("--width", type=whole(320, 4096), default=1280, metavar="PX", help="the window's width in CSS pixels (default: 1280)")
    # Fixed ports, so that a page showing a system's URL (an error) is the same at every run.
    parser.add_argument("--port", type=whole(1, 65535), default=8790, metavar="PORT", help="om serve's port on 127.0.0.1 (default: 8790)")
    parser.add_argument("--systems-port", type=whole(1, 65535), default=8791, metavar="PORT", help="the simulated systems' port on 127.0.0.1 (default: 8791)")
    args = parser.parse_args(argv)
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        parser.exit(2, "console_screenshots: Playwright is not installed: python -m pip install '.[test]'\n")
    if not os.access(CHROMIUM, os.X_OK):
        parser.exit(2, f"console_screenshots: no Chromium at {CHROMIUM}: apt-get install chromium (or OM_CHROMIUM=PATH)\n")
    try:
        args.out.mkdir(parents=True, exist_ok=True)
        # Billing offline: the TV order's last call waits on hold, so the fallout and systems pages show a held call too.
        with tempfile.TemporaryDirectory(prefix="om-console-demo-") as folder, Demo(Path(folder), offline=("billing",), port=args.port, systems_port=args.systems_port) as demo, sync_playwright() as p:
            demo.settled()
            browser = launch_chromium(p)
            try:
                page = browser.new_page(base_url=demo.url, viewport={"width": args.width, "height": 800})
                sign_in(page, demo.operator_token)
                for name, path in PAGES:
                    page.goto(path)
                    page.wait_for_load_state("networkidle")
                    page.evaluate("() => document.fonts.ready.then(() => true)")  # the page as drawn with its fonts, not a fallback
                    height = min(page.evaluate("document.documentElement.scrollHeight"), MAX_HEIGHT)
                    page.screenshot(path=str(args.out / f"{name}.png"), full_page=True, clip={"x": 0, "y": 0, "width": args.width, "height": height}, animations="disabled")
                    print(f"wrote {args.out / f'{name}.png'}")
            finally:
                browser.close()
    except OSError as exc:  # a port taken, a folder not writable
        parser.exit(1, f"console_screenshots: {exc} (a port in use? --port and --systems-port choose others)\n")
    except (RuntimeError, PlaywrightError) as exc:  # the demo did not come up, or a page lacks what it should have
        parser.exit(1, f"console_screenshots: {exc}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
