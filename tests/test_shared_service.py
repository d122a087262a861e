"""`om serve`'s shared embedded service (om_dsl/embedded/service.py `Shared`):
request threads and the work loop over one store; concurrent orders share a
commit (the store's `batch`); hub queries (om_dsl/engine/hub.py)."""

from __future__ import annotations

import json
import sqlite3
import threading
import time

import pytest

from om_dsl.embedded.service import Options, serving
from om_dsl.embedded.store import Store
from om_dsl.engine.hub import parse_query, query_matches
from om_dsl.rules.generated import GeneratedRules

from support import PATIENCE_S, ROOT
from support.engine_helpers import ACME


def test_a_batch_commits_once_and_a_failed_transaction_inside_is_undone_alone(tmp_path):
    store = Store(str(tmp_path / "om.db"))
    other = sqlite3.connect(str(tmp_path / "om.db"))
    with store.batch():
        with store.transaction() as db:
            store.set_meta(db, "a", "1")
        with pytest.raises(RuntimeError):
            with store.transaction() as db:
                store.set_meta(db, "b", "2")
                raise RuntimeError("this order is refused")
        with store.transaction() as db:
            store.set_meta(db, "c", "3")
        assert other.execute("SELECT COUNT(*) FROM meta WHERE key IN ('a', 'c')").fetchone()[0] == 0  # not durable before the commit
    assert (store.meta("a"), store.meta("b"), store.meta("c")) == ("1", None, "3")
    assert other.execute("SELECT COUNT(*) FROM meta WHERE key IN ('a', 'c')").fetchone()[0] == 2
    store.close()


@pytest.fixture
def shared(tmp_path):
    with serving(Options(db_path=str(tmp_path / "om.db"), clock="simulated", start=1_795_780_800_000, tasks_path=(str(ROOT / "examples"),)), GeneratedRules(ACME)) as s:
        yield s


def order(n: int) -> str:
    doc = json.loads((ROOT / "examples/orders/fiber-minimal.json").read_text())
    return json.dumps(dict(doc, id=f"ORD-C{n}", externalId=f"CPQ-C{n}"))


def test_concurrent_submits_are_each_answered_and_each_kept(shared):
    answers, errors = {}, []
    start = threading.Barrier(20)

    def submit(n):
        start.wait()
        try:
            text = order(n % 15)  # five duplicates: refused, the others unharmed
            answers.setdefault(n, shared.submit(text, by="cpq"))
        except Exception as exc:  # noqa: BLE001 - counted below
            errors.append(exc)

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == 15 and len(errors) == 5
    assert all("submitted before" in str(e) for e in errors)
    assert sorted(o["id"] for o in shared.orders()) == sorted(f"ORD-C{n}" for n in range(15))
    assert {o["submitted_by"] for o in shared.orders()} == {"cpq"}


def test_the_work_loop_runs_what_the_api_accepted(shared):
    stop = threading.Event()
    loop = threading.Thread(target=shared.work, args=(0.01, stop))
    loop.start()
    try:
        order_id, status, _ = shared.submit(order(1))
        deadline = time.monotonic() + PATIENCE_S
        while not shared.manual_tasks(order_id=order_id):  # the loop got it as far as the visit
            assert time.monotonic() < deadline, shared.order(order_id)
            time.sleep(0.02)
    finally:
        stop.set()
        loop.join()


@pytest.mark.parametrize(
    "query, matches",
    [
        (None, True),
        ("eventType=ProductOrderStateChangeEvent", True),
        ("eventType=ProductOrderCreateEvent,ProductOrderStateChangeEvent", True),
        ("eventType=ProductOrderCreateEvent", False),
        ("eventType=ProductOrderStateChangeEvent&event.productOrder.state=completed", True),
        ("event.productOrder.state=inProgress", False),
        ("event.productOrder.missing=x", False),
    ],
)
def test_a_hub_query_keeps_the_events_it_names(query, matches):
    event = {"eventType": "ProductOrderStateChangeEvent", "event": {"productOrder": {"id": "ORD-1", "state": "completed"}}}
    assert query_matches(query, event) is matches


@pytest.mark.parametrize("query", ["&&", "eventType", "a b=c", "x" * 2000])
def test_a_bad_hub_query_is_refused_with_a_reason(query):
    with pytest.raises(ValueError):
        parse_query(query)


def test_a_listener_that_hangs_holds_up_no_request(shared):
    """Order events are POSTed outside the service's locks: while a listener
    takes its time, orders are still accepted and read."""
    import socket

    hanging = socket.socket()
    hanging.bind(("127.0.0.1", 0))
    hanging.listen(16)  # accepts connections, never answers
    url = f"http://127.0.0.1:{hanging.getsockname()[1]}/events"
    shared.subscribe(url, None, None)
    stop = threading.Event()
    loop = threading.Thread(target=shared.work, args=(0.01, stop))
    loop.start()
    try:
        shared.submit(order(1))
        hanging.settimeout(PATIENCE_S)
        conn, _ = hanging.accept()  # the loop is POSTing the first event: it waits for an answer that never comes
        second, status, _ = shared.submit(order(2))  # with the POST under the lock, this would wait for its timeout
        assert shared.order(second)["status"] == status
        conn.setblocking(False)
        try:
            while conn.recv(65536):  # the request; then still open (no EOF): the POST is still waiting
                pass
            still_waiting = False
        except BlockingIOError:
            still_waiting = True
        conn.close()
        assert still_waiting, "the request waited for the listener's timeout"
    finally:
        stop.set()
        hanging.close()
        loop.join()


def test_an_action_in_a_request_takes_one_short_step_and_leaves_the_backlog_to_the_loop(shared):
    for n in range(5):
        shared.submit(order(n))
    backlog = len(shared.inner.store.pending_commands())
    assert backlog > 8
    shared.cancel("ORD-C0", "noc", "the customer moved")
    assert len(shared.inner.store.pending_commands()) > backlog - 8 - 5  # the others' work is still there, for the loop
    shared.settle([])
    assert shared.inner.store.pending_commands() == [] and shared.order("ORD-C0")["status"] == "cancelled"


def test_serving_keeps_where_simulated_time_starts_for_the_other_commands(shared, tmp_path):
    from om_dsl.embedded.service import reading

    with reading(Options(db_path=str(tmp_path / "om.db"))) as other:
        assert other.store.meta("clock_ms") == "1795780800000"  # what `om run` in another process starts from
