"""`om serve --workers 2`: two processes accept API orders over one port and
one store. Every order answered 201 is in the store exactly once, none twice
under two ids or one id twice, whichever process took it; the second
process accepts on its own (while the first is stopped); the same order id
sent to both at once is kept once; the workers stop with the server, and
without it when it is killed."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time

import httpx
import pytest

from support import PATIENCE_S, ROOT
from support.api_server import order_body

TOKEN = "workers-test-token-0123"
PATH = "/tmf-api/productOrderingManagement/v4/productOrder"


def start(tmp_path, workers: int = 2) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "OM_API_TOKEN": TOKEN}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from om_dsl.cli import main; main()", "serve", "generated/acme", "--listen", f"127.0.0.1:{free_port()}", "--workers", str(workers),
         "--interval", "3600", "-q", "--clock", "simulated", "--start", "2026-11-27", "--db", str(tmp_path / "om.db"), "--tasks-path", str(ROOT / "examples")],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    url, ready = None, 0
    while url is None or ready < workers - 1:  # "om serve: API at http://127.0.0.1:PORT/tmf-api/...", and each worker's "ready"
        line = proc.stderr.readline()
        assert line, f"om serve stopped ({proc.wait()})"
        if "API at " in line:
            url = line.split("API at ", 1)[1].split("/tmf-api", 1)[0]
        ready += "worker process" in line and "ready" in line
    return proc, url


def idle(pid: int, db) -> None:
    """Until the process is idle: each of its threads asleep, three looks in a row, and
    the store's write lock free. Its loop's first round starts as it serves: stopped
    inside that round's transaction, it would hold the lock every process writes under
    (SQLite has one writer), and no process could accept an order."""
    quiet, deadline = 0, time.monotonic() + PATIENCE_S
    while quiet < 3:
        assert time.monotonic() < deadline, "om serve did not go idle"
        states = [open(f"/proc/{pid}/task/{t}/stat").read().rsplit(")", 1)[1].split()[0] for t in os.listdir(f"/proc/{pid}/task")]
        free = True
        if all(state == "S" for state in states):
            db_ = sqlite3.connect(db, timeout=0.05, isolation_level=None)
            try:
                db_.execute("BEGIN IMMEDIATE")
                db_.execute("ROLLBACK")
            except sqlite3.OperationalError:
                free = False
            finally:
                db_.close()
        quiet = quiet + 1 if free and all(state == "S" for state in states) else 0
        time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children(pid: int) -> list[int]:
    return [int(c) for c in open(f"/proc/{pid}/task/{pid}/children").read().split()]


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
    proc.wait(PATIENCE_S)


def stored(tmp_path) -> dict:
    with sqlite3.connect(f"file:{tmp_path / 'om.db'}?mode=ro", uri=True) as con:
        rows = con.execute("SELECT id, external_id, status FROM orders").fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def body(n: int, tag: str = "W") -> dict:
    return order_body(id=f"{tag}-{n}", externalId=f"CPQ-{tag}-{n}")


async def post_many(url: str, docs: list[dict], connections: int) -> list[httpx.Response]:
    """Each document POSTed once, `connections` at a time, each connection its own (so the kernel spreads them over both processes)."""
    queue = list(docs)
    answers: list = []

    async def one_connection():
        async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=PATIENCE_S) as http:
            while queue:
                doc = queue.pop()
                answers.append((doc, await http.post(PATH, json=doc)))

    await asyncio.gather(*(one_connection() for _ in range(connections)))
    return answers


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc, forks")
def test_two_processes_accept_concurrently_and_lose_or_double_no_order(tmp_path):
    proc, url = start(tmp_path)
    try:
        docs = [body(n) for n in range(120)]
        answers = asyncio.run(post_many(url, docs, 24))
        assert sorted(r.status_code for _, r in answers) == [201] * 120, [r.text for _, r in answers if r.status_code != 201][:3]
        assert {r.json()["id"] for _, r in answers} == {d["id"] for d in docs}
        for doc, r in answers:  # each answer is its own order's
            assert r.json()["externalId"] == doc["externalId"]
            assert r.headers["location"].endswith("/productOrder/" + doc["id"])
        # Read back over the API, whichever process answers: the one store, and the
        # order as its 201 showed it (rendered at acceptance; the loop is idle).
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
            for doc, r in answers[:20]:
                assert http.get(f"{PATH}/{doc['id']}").json() == r.json()
    finally:
        stop(proc)
    kept = stored(tmp_path)
    assert kept == {d["id"]: (d["externalId"], "inProgress") for d in docs}  # every one, once, as sent


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc, forks")
def test_the_second_process_accepts_while_the_first_is_stopped(tmp_path):
    proc, url = start(tmp_path)
    first = proc.pid
    try:
        idle(first, tmp_path / "om.db")
        os.kill(first, signal.SIGSTOP)  # (idle: its loop waits --interval 3600, it holds no lock)
        try:
            # New connections land on either process's socket; those the stopped one
            # would take time out, and the worker's are answered: some must be.
            accepted = []
            for n in range(24):  # (each lands on either socket: 24 all on the stopped one is a chance of 1 in 16 million)
                try:
                    r = httpx.post(url + PATH, json=body(n, "S"), headers={"Authorization": f"Bearer {TOKEN}"}, timeout=8)  # (8 s: a busy machine's worker still answers)
                except httpx.TimeoutException:
                    continue
                assert r.status_code == 201, r.text
                accepted.append(r.json()["id"])
                break
            assert accepted, "no order was accepted while the first process was stopped"
        finally:
            os.kill(first, signal.SIGCONT)
    finally:
        stop(proc)
    kept = stored(tmp_path)
    assert set(accepted) <= set(kept)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc, forks")
def test_one_order_id_sent_to_both_at_once_is_kept_once(tmp_path):
    proc, url = start(tmp_path)
    try:
        docs = [body(n % 20, "D") for n in range(80)]  # each id four times, at once, over separate connections
        answers = asyncio.run(post_many(url, docs, 40))
    finally:
        stop(proc)
    by_id: dict = {}
    for doc, r in answers:
        by_id.setdefault(doc["id"], []).append(r.status_code)
    assert all(sorted(codes) == [201, 409, 409, 409] for codes in by_id.values()), by_id
    assert set(stored(tmp_path)) == set(by_id)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc, forks")
def test_the_workers_stop_with_the_server_and_when_it_is_killed(tmp_path):
    proc, _ = start(tmp_path, workers=3)
    workers = children(proc.pid)
    assert len(workers) == 2
    stop(proc)  # SIGTERM: the server stops its workers on the way out
    assert proc.returncode == 0, proc.stderr.read()
    assert not [w for w in workers if os.path.exists(f"/proc/{w}")]

    proc, _ = start(tmp_path)
    (worker,) = children(proc.pid)
    proc.kill()  # kill -9: nothing of the server's way out runs; the worker sees its parent gone
    proc.wait()
    deadline = time.monotonic() + PATIENCE_S
    while _alive(worker):
        assert time.monotonic() < deadline, "the worker outlived its killed server"
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_workers_must_be_a_positive_count(tmp_path):
    r = subprocess.run(
        [sys.executable, "-c", "from om_dsl.cli import main; main()", "serve", "generated/acme", "--workers", "0", "--db", str(tmp_path / "om.db")],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert r.returncode == 2 and "--workers" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forks")
def test_a_console_session_signed_by_one_process_is_read_by_the_others(tmp_path):
    proc, url = start(tmp_path)
    try:
        signed_in = httpx.post(f"{url}/console/login", data={"token": TOKEN, "next": "/console/orders"}, timeout=PATIENCE_S)
        assert signed_in.status_code == 303 and "om_console" in signed_in.cookies
        cookie = signed_in.cookies["om_console"]
        for _ in range(16):  # each a new connection: the kernel spreads them over both processes (all 16 on one: 1 in 32,768)
            r = httpx.get(f"{url}/console/orders", cookies={"om_console": cookie}, timeout=PATIENCE_S)
            assert r.status_code == 200 and "Sign out" in r.text, r.status_code
    finally:
        stop(proc)
