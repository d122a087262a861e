"""Orders accepted per second over the TMF622 API (issue 21), against the
`om run` path, in the same run on the same machine.

    python bench/api.py [--orders N] [--clients C]

- api: `om serve` started as its own process (embedded engine, SQLite
  synchronous FULL), with 1 or 2 processes (`--workers`), C concurrent
  keep-alive connections (a bare asyncio HTTP/1.1 client: the load generator
  shares the 2 cores, so it must cost little) POSTing N fiber-minimal orders
  to /tmf-api/productOrderingManagement/v4/productOrder. Accepted = answered
  201 (checked against the schema, planned and committed) and found in the
  store afterwards (counted there once the server stopped). p50/p99 are the
  latencies of those POSTs; CPU per order is the server's processes' (from
  /proc) and the load generator's.
  Each with the loop idle (--interval 3600: the intake alone) and running the
  orders meanwhile (--interval 0.2, as deployed).
- om run path: the same N bodies through the embedded order service's
  `submit` in one process (what `om run` does before it drives the orders):
  planned and committed, no HTTP.

Writes bench/results/api.md and api.json. Each figure is the median of 3
rounds (every case once per round) after a warm-up; the ratio compares two
figures of the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from run import ACME, ORDERS, machine  # noqa: E402

TOKEN = "bench-token-0123456789"
PATH = "/tmf-api/productOrderingManagement/v4/productOrder"


def bodies(n: int, tag: str) -> list[dict]:
    doc = json.loads((ORDERS / "fiber-minimal.json").read_text())
    doc["relatedParty"][0]["@referredType"] = "Customer"
    out = []
    for i in range(n):
        doc = dict(doc, id=f"{tag}-{i}", externalId=f"CPQ-{tag}-{i}")
        out.append(doc)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(folder: Path, interval: float, workers: int = 1) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "OM_API_TOKEN": TOKEN, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from om_dsl.cli import main; main()", "serve", str(ACME), "--listen", f"127.0.0.1:{port}", "-q", "--interval", str(interval),
         "--clock", "simulated", "--db", str(folder / "om.db"), "--tasks-path", str(ROOT / "examples"), "--workers", str(workers)],
        cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    import httpx

    url = f"http://127.0.0.1:{port}"
    for _ in range(1200):
        try:
            httpx.get(url + "/health", timeout=1)
            return proc, url
        except httpx.HTTPError:
            if proc.poll() is not None:
                raise SystemExit(proc.stderr.read().decode()) from None
            time.sleep(0.05)
    raise SystemExit("om serve did not come up")


def request_bytes(netloc: str, doc: dict) -> bytes:
    body = json.dumps(doc).encode()
    head = f"POST {PATH} HTTP/1.1\r\nHost: {netloc}\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


async def post_all(url: str, docs: list[dict], clients: int) -> tuple[float, list[float], dict]:
    """POST every document, `clients` connections at a time (HTTP/1.1 keep-alive), each
    request written whole and its answer read by Content-Length: a load generator that
    costs about 0.1 ms of CPU a request (httpx's cost 3 ms, on the same 2 cores as the
    server). (elapsed s, latencies, {status: count})."""
    where = urlsplit(url)
    requests = [request_bytes(where.netloc, d) for d in docs]
    todo = iter(requests)
    latencies: list[float] = []
    statuses: dict = {}

    async def client():
        reader, writer = await asyncio.open_connection(where.hostname, where.port)
        try:
            for request in todo:
                t = time.perf_counter()
                writer.write(request)
                head = (await reader.readuntil(b"\r\n\r\n")).split(b"\r\n")
                status, length, close = int(head[0].split(b" ", 2)[1]), 0, False
                for line in head[1:]:
                    name, _, value = line.partition(b":")
                    name = name.strip().lower()
                    if name == b"content-length":
                        length = int(value)
                    elif name == b"connection" and value.strip().lower() == b"close":
                        close = True
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - t)
                statuses[status] = statuses.get(status, 0) + 1
                if close:
                    writer.close()
                    reader, writer = await asyncio.open_connection(where.hostname, where.port)
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return time.perf_counter() - start, latencies, statuses


def stored(db: Path, tag: str) -> int:
    """Orders of this run the store holds, accepted (read after the server stopped)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        return con.execute("SELECT COUNT(*) FROM orders WHERE id LIKE ? AND status != 'rejected'", (tag + "-%",)).fetchone()[0]


def cpu_s(pid: int) -> float:
    """CPU seconds of a process and its children (Linux /proc; 0 elsewhere)."""
    try:
        pids = [pid] + [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        ticks = 0
        for p in pids:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


def api_run(n: int, clients: int, tag: str, interval: float, workers: int = 1) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="om-bench-api-"))
    proc, url = start_server(folder, interval, workers)
    try:
        asyncio.run(post_all(url, bodies(20, tag + "w"), clients))  # warm-up: imports, caches, the first plan
        server_cpu, client_cpu = cpu_s(proc.pid), time.process_time()
        elapsed, latencies, statuses = asyncio.run(post_all(url, bodies(n, tag), clients))
        server_cpu, client_cpu = cpu_s(proc.pid) - server_cpu, time.process_time() - client_cpu
    finally:
        proc.terminate()
        proc.wait(60)
    if statuses != {201: n}:
        raise SystemExit(f"not every order was accepted: {statuses}")
    kept = stored(folder / "om.db", tag)
    if kept != n:
        raise SystemExit(f"{n} orders answered 201, {kept} in the store")
    latencies.sort()
    return {
        "orders_per_s": n / elapsed, "p50_ms": 1000 * latencies[len(latencies) // 2], "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "server_cpu_ms_per_order": 1000 * server_cpu / n, "client_cpu_ms_per_order": 1000 * client_cpu / n, "stored": kept,
    }


def om_run_path(n: int, tag: str) -> float:
    from om_dsl.embedded.service import Options, acting
    from om_dsl.rules.generated import GeneratedRules

    folder = Path(tempfile.mkdtemp(prefix="om-bench-run-"))
    texts = [json.dumps(d) for d in bodies(n, tag)]
    with acting(Options(db_path=str(folder / "om.db"), clock="simulated"), GeneratedRules(ACME)) as service:
        for text in [json.dumps(d) for d in bodies(20, tag + "w")]:
            service.submit(text)
        start = time.perf_counter()
        for text in texts:
            service.submit(text)
        return n / (time.perf_counter() - start)


CASES = [  # (name, --workers, --interval): the loop idle (intake alone), or running the orders meanwhile as deployed
    ("intake_w1", 1, 3600), ("intake_w2", 2, 3600), ("running_w1", 1, 0.2), ("running_w2", 2, 0.2),
]
SHOWN = {
    "intake_w1": "1 process, the work loop idle (--interval 3600): intake alone",
    "intake_w2": "`--workers 2`, the work loop idle: intake alone",
    "running_w1": "1 process, `om serve` running the orders meanwhile (--interval 0.2)",
    "running_w2": "`--workers 2`, running the orders meanwhile",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs: dict = {name: [] for name, _, _ in CASES}
    om_run = []
    for r in range(args.runs):  # the cases interleaved: each round sees the machine as it is then
        for name, workers, interval in CASES:
            runs[name].append(api_run(args.orders, args.clients, f"{name}-{r}", interval, workers))
        om_run.append(om_run_path(args.orders, f"R{r}"))
    result = {"machine": machine(), "orders": args.orders, "clients": args.clients, "runs": args.runs, "om_run_orders_per_s": statistics.median(om_run)}
    for name, _, _ in CASES:
        figures = {key: statistics.median(a[key] for a in runs[name]) for key in runs[name][0]}
        figures["over_om_run"] = figures["orders_per_s"] / result["om_run_orders_per_s"]
        result[name] = figures
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "api.json").write_text(json.dumps(result, indent=2) + "\n")
    m = result["machine"]
    rows = ""
    for name, _, _ in CASES:
        f = result[name]
        rows += f"| POST /productOrder, {args.clients} clients, {SHOWN[name]} | {f['orders_per_s']:.0f} | {f['over_om_run']:.2f}x | {f['p50_ms']:.0f} ms | {f['p99_ms']:.0f} ms "
        rows += f"| {f['server_cpu_ms_per_order']:.2f} ms | {f['client_cpu_ms_per_order']:.2f} ms |\n"
    (out / "api.md").write_text(
        f"# The TMF622 API: orders accepted\n\nMachine: {m['cpus']} CPUs, Python {m['python']}, {m['platform']}. Medians of {args.runs} rounds after a warm-up; "
        f"{args.orders} fiber-minimal orders per run, SQLite synchronous FULL. Accepted: answered 201 (schema-checked, planned, committed), and counted in the store after the run.\n\n"
        "| path | orders accepted/s | / om run | p50 | p99 | server CPU per order | load generator CPU per order |\n|---|---|---|---|---|---|---|\n"
        + rows
        + f"| `om run`'s intake (the service's submit, one process, no HTTP, one commit per order) | {result['om_run_orders_per_s']:.0f} | 1.00x | | | | |\n"
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
