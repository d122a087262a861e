"""Orders accepted per second over the TMF622 API (issue 21), against the
`om run` path, in the same run on the same machine.

    python bench/api.py [--orders N] [--clients C]

- api: `om serve` started as its own process (embedded engine, SQLite
  synchronous FULL, its work loop running beside the API as deployed), C
  concurrent clients (httpx, asyncio) POSTing N fiber-minimal orders to
  /tmf-api/productOrderingManagement/v4/productOrder. Accepted = answered
  201: checked against the schema, planned and committed. p50/p99 are the
  latencies of those POSTs.
  Run twice: with the loop running the orders meanwhile (--interval 0.2, as
  deployed), and with it idle (--interval 3600: the intake alone).
- om run path: the same N bodies through the embedded order service's
  `submit` in one process (what `om run` does before it drives the orders):
  planned and committed, no HTTP.

Writes bench/results/api.md and api.json. Each figure is the median of 3
runs after a warm-up; the ratio compares two figures of the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


async def post_all(url: str, docs: list[dict], clients: int) -> tuple[float, list[float]]:
    import httpx

    queue: asyncio.Queue = asyncio.Queue()
    for doc in docs:
        queue.put_nowait(doc)
    latencies: list[float] = []
    headers = {"Authorization": f"Bearer {TOKEN}"}

    async def client():
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120) as http:
            while not queue.empty():
                doc = queue.get_nowait()
                t = time.perf_counter()
                r = await http.post(PATH, json=doc)
                latencies.append(time.perf_counter() - t)
                if r.status_code != 201:
                    raise SystemExit(f"{r.status_code}: {r.text[:300]}")

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return time.perf_counter() - start, latencies


def api_run(n: int, clients: int, tag: str, interval: float) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="om-bench-api-"))
    proc, url = start_server(folder, interval)
    try:
        asyncio.run(post_all(url, bodies(20, tag + "w"), clients))  # warm-up: imports, caches, the first plan
        elapsed, latencies = asyncio.run(post_all(url, bodies(n, tag), clients))
    finally:
        proc.terminate()
        proc.wait(30)
    latencies.sort()
    return {"orders_per_s": n / elapsed, "p50_ms": 1000 * latencies[len(latencies) // 2], "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]}


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    api = [api_run(args.orders, args.clients, f"A{r}", 0.2) for r in range(args.runs)]  # the loop runs the orders meanwhile
    intake = [api_run(args.orders, args.clients, f"I{r}", 3600) for r in range(args.runs)]  # the loop idle: intake alone
    run = [om_run_path(args.orders, f"R{r}") for r in range(args.runs)]
    result = {"machine": machine(), "orders": args.orders, "clients": args.clients, "om_run_orders_per_s": statistics.median(run)}
    for name, runs in (("api", api), ("intake", intake)):
        result[f"{name}_orders_per_s"] = statistics.median(a["orders_per_s"] for a in runs)
        result[f"{name}_p50_ms"] = statistics.median(a["p50_ms"] for a in runs)
        result[f"{name}_p99_ms"] = statistics.median(a["p99_ms"] for a in runs)
        result[f"{name}_over_om_run"] = result[f"{name}_orders_per_s"] / result["om_run_orders_per_s"]
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "api.json").write_text(json.dumps(result, indent=2) + "\n")
    m = result["machine"]
    (out / "api.md").write_text(
        f"# The TMF622 API: orders accepted\n\nMachine: {m['cpus']} CPUs, Python {m['python']}, {m['platform']}. Medians of {args.runs} runs after a warm-up.\n\n"
        "| path | orders accepted/s | p50 | p99 |\n|---|---|---|---|\n"
        f"| POST /productOrder, {args.clients} concurrent clients, `om serve` running the orders meanwhile (--interval 0.2) | {result['api_orders_per_s']:.0f} | {result['api_p50_ms']:.0f} ms | {result['api_p99_ms']:.0f} ms |\n"
        f"| POST /productOrder, {args.clients} concurrent clients, the work loop idle (--interval 3600): intake alone | {result['intake_orders_per_s']:.0f} | {result['intake_p50_ms']:.0f} ms | {result['intake_p99_ms']:.0f} ms |\n"
        f"| `om run`'s intake (the service's submit, one process, no HTTP, one commit per order) | {result['om_run_orders_per_s']:.0f} | | |\n\n"
        f"API / om run: {result['api_over_om_run']:.2f}x running, {result['intake_over_om_run']:.2f}x intake alone ({args.orders} fiber-minimal orders, SQLite synchronous FULL).\n"
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
