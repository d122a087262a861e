"""Big orders on Temporal (issue 23): payloads of a big order are compressed
(om_dsl/temporal/codec.py) on every client and worker, so an order whose
workflow input passes Temporal's 2 MB payload limit runs; before, past
about 1,500 items, it was refused."""

from __future__ import annotations

import asyncio
import json
import sys
import time
import zlib

import pytest
from temporalio.api.common.v1 import Payload

from om_dsl.engine import state as S
from om_dsl.engine.core import Rejection
from om_dsl.temporal import codec

from support import PATIENCE_S, ROOT
from support.scenario_engines import OnTemporal

sys.path.insert(0, str(ROOT / "bench"))
import generate as G  # noqa: E402

LIMIT = 2 * 1024 * 1024  # Temporal's payload size limit (the dev server's default)


def run(coro):
    return asyncio.run(coro)


def order_of(items: int, order_id: str) -> dict:
    """An Acme order of its own customer: the installed base a big order records
    into (one entity workflow per customer) is no other test's to read."""
    doc = G.acme_order(items, order_id=order_id)
    doc["relatedParty"][0]["id"] = f"ACC-{order_id}"
    return doc


def payload(size: int) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps({"items": ["x" * 40] * (size // 44)}).encode())


def test_a_big_payload_is_compressed_and_comes_back_whole():
    big = payload(3 * LIMIT)
    (encoded,) = run(codec.ZlibCodec().encode([big]))
    assert encoded.metadata["encoding"] == codec.ENCODING and len(encoded.data) < LIMIT // 10
    (decoded,) = run(codec.ZlibCodec().decode([encoded]))
    assert decoded == big


def test_a_small_payload_and_one_written_before_the_codec_stay_as_they_are():
    small = payload(1000)
    assert run(codec.ZlibCodec().encode([small])) == [small]
    assert run(codec.ZlibCodec().decode([small])) == [small]


def test_a_payload_that_inflates_past_the_limit_is_refused(monkeypatch):
    monkeypatch.setattr(codec, "MAX_PAYLOAD", 1024 * 1024)
    bomb = Payload(metadata={"encoding": codec.ENCODING}, data=zlib.compress(b"\0" * (8 * 1024 * 1024)))
    with pytest.raises(codec.PayloadTooBig):
        run(codec.ZlibCodec().decode([bomb]))


@pytest.mark.slow
def test_an_order_past_the_old_payload_limit_runs_to_completed(tmp_path, temporal_server):
    """2,000 items (4,004 tasks): the workflow input is over 2 MB as JSON; it
    starts, its visit is completed, the fan-out releases 1,998 IPTV calls, and
    it completes."""
    from om_dsl.planning.pipeline import plan_order
    from om_dsl.rules.generated import GeneratedRules
    from om_dsl.temporal.client import Unanswered

    rules = GeneratedRules(ROOT / "generated" / "acme")
    engine = OnTemporal(tmp_path, rules, {}, temporal_server)
    try:
        order_id = engine.new_id("BIG")
        doc = order_of(2000, order_id)
        planned = plan_order(rules.catalog, rules, doc, order_id)
        assert len(json.dumps(engine.orders.workflow_input(planned))) > LIMIT
        engine.submit(json.dumps(doc))
        # The visit is completed as soon as it is open. (Not by polling the
        # order's view: a query of 4,004 tasks every 0.1 s is most of what a
        # busy worker would do.)
        deadline = time.monotonic() + 600
        while True:
            try:
                engine.complete(order_id, "1/D1:install_visit")
                break
            except (Rejection, Unanswered):  # not open yet; or the worker is busy
                assert time.monotonic() < deadline, "the visit did not open"
                time.sleep(2)

        async def result():  # the workflow's result, through the runs it continued as
            client = await engine.orders.client()
            return await asyncio.wait_for(client.get_workflow_handle(order_id).result(), 900)

        # completed: every task of the 4,004 completed or skipped (a query of the
        # finished workflow would replay its whole history: slow on a busy machine)
        assert engine.orders._run(result())["status"] == S.ORDER_COMPLETED
    finally:
        engine.close()


@pytest.mark.slow
def test_a_long_history_goes_on_in_a_new_run(tmp_path, temporal_server, monkeypatch):
    """Temporal ends a workflow at 51,200 history events; an order of 10,000
    items makes more. Past CONTINUE_AFTER events the order continues as new:
    here after 300, so an order of 100 items (204 tasks) runs in more than one,
    completes, keeps its whole history, and is listed once."""
    from om_dsl.rules.generated import GeneratedRules
    from om_dsl.temporal import workflow as W

    monkeypatch.setattr(W, "CONTINUE_AFTER", 300)
    engine = OnTemporal(tmp_path, GeneratedRules(ROOT / "generated" / "acme"), {}, temporal_server)
    try:
        order_id = engine.new_id("LONG")
        engine.submit(json.dumps(order_of(100, order_id)))
        engine.settle(order_id, lambda v: v["tasks"]["1/D1:install_visit"]["status"] == S.READY, timeout_s=120)
        engine.complete(order_id, "1/D1:install_visit")
        view = engine.settle(order_id, lambda v: v["status"] in S.FINAL, timeout_s=300)
        assert view["status"] == S.ORDER_COMPLETED and len(view["tasks"]) == 204

        async def continued_from():  # the run that completed began as the continuation of another
            client = await engine.orders.client()
            first = (await client.get_workflow_handle(order_id).fetch_history()).events[0]
            return first.workflow_execution_started_event_attributes.continued_execution_run_id

        assert engine.orders._run(continued_from())
        history = engine.history(order_id)  # the whole story, carried from run to run
        assert history[0]["cause"] == "order accepted" and sum(1 for h in history if h["to"] == S.COMPLETED and h["subject"] != "order") == 204
        deadline = time.monotonic() + PATIENCE_S  # (the list of workflows lags behind)
        while [o["id"] for o in engine.orders.orders()].count(order_id) != 1:
            assert time.monotonic() < deadline, [o for o in engine.orders.orders() if o["id"] == order_id]
            time.sleep(0.5)
    finally:
        engine.close()


@pytest.mark.slow
def test_an_order_in_parts_is_read_and_handed_on_over_workflow_tasks_and_replays(tmp_path, temporal_server, monkeypatch):
    """The state of an order comes in text parts (temporal/parts.py) and is read
    a part per workflow task; continuing as new, the parts that changed are
    encoded again, a part per workflow task, and the next run reads them so.
    Here with parts of 40 records, an order of 60 items (124 tasks) in more
    than one run: it completes with its whole history, and the history of each
    run replays on the current code (a worker that restarts rebuilds it)."""
    from temporalio.worker import Replayer

    from om_dsl.planning.installed import empty_state, order_entries, record_order
    from om_dsl.rules.generated import GeneratedRules
    from om_dsl.temporal import installed_base as IB
    from om_dsl.temporal import parts as P
    from om_dsl.temporal import workflow as W
    from om_dsl.temporal.worker import _sandbox

    monkeypatch.setattr(P, "PART", 40)
    monkeypatch.setattr(W, "LOAD_AT_ONCE", 40)
    monkeypatch.setattr(W, "CONTINUE_AFTER", 250)
    monkeypatch.setattr(IB, "ENTRIES_PER_PART", 50)
    engine = OnTemporal(tmp_path, GeneratedRules(ROOT / "generated" / "acme"), {}, temporal_server)
    try:
        order_id = engine.new_id("PARTS")
        engine.submit(json.dumps(order_of(60, order_id)))
        engine.settle(order_id, lambda v: v["tasks"].get("1/D1:install_visit", {}).get("status") == S.READY, timeout_s=120)
        engine.complete(order_id, "1/D1:install_visit")
        view = engine.settle(order_id, lambda v: v["status"] in S.FINAL, timeout_s=300)
        assert view["status"] == S.ORDER_COMPLETED and len(view["tasks"]) == 124
        history = engine.history(order_id)
        assert history[0]["cause"] == "order accepted" and sum(1 for h in history if h["to"] == S.COMPLETED and h["subject"] != "order") == 124

        async def runs():  # every run of the order, last first, and the timers that split its reads
            client = await engine.orders.client()
            out, run_id = [], None
            while True:
                got = await client.get_workflow_handle(order_id, run_id=run_id).fetch_history()
                out.append(got)
                run_id = got.events[0].workflow_execution_started_event_attributes.continued_execution_run_id
                if not run_id:
                    return out

        histories = engine.orders._run(runs())
        assert len(histories) > 1
        # every run has 30 s to complete a workflow task (a big order's carry megabytes), not Temporal's default 10 s
        assert {h.events[0].workflow_execution_started_event_attributes.workflow_task_timeout.ToSeconds() for h in histories} == {30}
        first = histories[-1]
        passes = [e for e in first.events if e.HasField("marker_recorded_event_attributes") and e.marker_recorded_event_attributes.marker_name == "core_local_activity"]
        assert len(passes) >= 4  # its parts read over several activations (about 14 parts of 40 records), a no-op local activity apart
        assert not [e for e in first.events if e.HasField("timer_started_event_attributes") and e.timer_started_event_attributes.start_to_fire_timeout.ToMilliseconds() <= 1]  # (no 1 ms timer: a second each)

        async def replay():
            replayer = Replayer(workflows=[W.OrderWorkflow], workflow_runner=_sandbox(), data_converter=codec.data_converter())
            for h in histories:
                await replayer.replay_workflow(h)

        engine.orders._run(replay())
        # At most WITHIN_BUFFER calls pending at once (the fan-out releases 59): the server
        # force-closes a workflow task while which more than 100 events come ("task not found").
        assert max(most_pending(h) for h in histories) <= W.WITHIN_BUFFER <= 45  # (two events a call: under 100 with room for the rest)

        # Its installed base records it from its entries (an asset per item, a line per fulfillment line),
        # 50 to a signal, exactly as `record_order` records the order's final state; that history replays too.
        customer = f"ACC-{order_id}"
        deadline = time.monotonic() + PATIENCE_S
        while len(engine.orders.installed_state(customer)["assets"]) < 60:
            assert time.monotonic() < deadline, "the installed base did not record the order"
            time.sleep(0.5)
        final = engine.orders.state(order_id)
        expected = empty_state()
        record_order(expected, final, final.updated_at)
        assert engine.orders.installed_state(customer) == expected

        async def installed_base():
            client = await engine.orders.client()
            return await client.get_workflow_handle(IB.workflow_id(customer)).fetch_history()

        base = engine.orders._run(installed_base())
        signals = [e.workflow_execution_signaled_event_attributes.signal_name for e in base.events if e.HasField("workflow_execution_signaled_event_attributes")]
        parts = -(-len(order_entries(final, final.updated_at)) // 50)
        assert parts > 1 and signals == ["record_entries"] * parts

        async def replay_base():
            await Replayer(workflows=[IB.InstalledBaseWorkflow], workflow_runner=_sandbox(), data_converter=codec.data_converter()).replay_workflow(base)

        engine.orders._run(replay_base())
    finally:
        engine.close()


DONE = ("activity_task_completed_event_attributes", "activity_task_failed_event_attributes", "activity_task_timed_out_event_attributes", "activity_task_canceled_event_attributes")


def most_pending(history) -> int:
    """The most calls (om.call activities) a run had scheduled and not yet finished, at any point of its
    history (its events go out beside them, one at a time)."""
    calls, top = set(), 0
    for e in history.events:
        if e.HasField("activity_task_scheduled_event_attributes") and e.activity_task_scheduled_event_attributes.activity_type.name == "om.call":
            calls.add(e.event_id)
            top = max(top, len(calls))
        for f in DONE:
            if e.HasField(f):
                calls.discard(getattr(e, f).scheduled_event_id)
    return top


def test_an_order_started_before_the_bound_within_the_buffer_and_the_local_passes_replays(monkeypatch):
    """A 50-item order's history recorded before at most WITHIN_BUFFER calls ran
    at once and before its parts were read a local activity apart, with
    MAX_ACTIVITIES at 45 and parts of 40 records (an order past 500 pending and
    read part by part, in small; tests/fixtures/temporal/): a worker of this
    version rebuilds it exactly (the patches `om-activities-within-buffer` and
    `om-parts-by-local-activity` keep it on its old ways), so upgrading breaks no
    order in flight; without either patch it would not."""
    import gzip

    from temporalio.client import WorkflowHistory
    from temporalio.worker import Replayer

    from om_dsl.temporal import parts as P
    from om_dsl.temporal import workflow as W
    from om_dsl.temporal.worker import _sandbox

    with gzip.open(ROOT / "tests" / "fixtures" / "temporal" / "order-before-within-buffer.json.gz", "rt") as f:
        history = WorkflowHistory.from_json("REPLAY-BUFFER-1", f.read())
    monkeypatch.setattr(W, "MAX_ACTIVITIES", 45)
    monkeypatch.setattr(P, "PART", 40)
    monkeypatch.setattr(W, "LOAD_AT_ONCE", 40)
    assert most_pending(history) == 45 > W.WITHIN_BUFFER
    assert sum(1 for e in history.events if e.HasField("timer_started_event_attributes")) > 5  # (its parts read a 1 ms timer apart)

    def replay():
        replayer = Replayer(workflows=[W.OrderWorkflow], workflow_runner=_sandbox(), data_converter=codec.data_converter())
        return run(replayer.replay_workflow(history, raise_on_replay_failure=False)).replay_failure

    assert replay() is None
    for marker in ("WITHIN_BUFFER_MARKER", "PARTS_BY_LOCAL_ACTIVITY"):
        with monkeypatch.context() as m:
            m.setattr(W, marker, "om-bounded-starts")  # (a marker the history has: as if there were no patch)
            assert "Nondeterminism" in str(replay()), marker


def test_an_installed_base_applies_parts_that_came_together_one_workflow_task_at_a_time(temporal_server, monkeypatch):
    """A big order's entries come in parts; parts that arrive together (here six,
    signalled before any worker polls) are applied PARTS_PER_TASK (here 1) per
    workflow task, a 1 ms timer apart, not all in one (recording a 10,000-item
    order in one workflow task took about 1 s; Temporal fails one of 2 s). The
    order's claims are released with its last part; the result is the entries
    applied in order; the history replays."""
    import uuid

    from temporalio.client import Client
    from temporalio.worker import Replayer, Worker

    from om_dsl.planning.installed import apply_entries
    from om_dsl.temporal import installed_base as IB
    from om_dsl.temporal.worker import _sandbox

    monkeypatch.setattr(IB, "PARTS_PER_TASK", 1)
    queue, wid = f"base-{uuid.uuid4().hex[:8]}", f"installed-base:TEST-{uuid.uuid4().hex[:8]}"
    entries = [
        {"kind": "asset", "key": f"AST-ORD-9-{n}", "action": "add", "order": "ORD-9", "item": str(n), "customer": "TEST", "product": "TV_PACKAGE", "attributes": {"set_top_boxes": n}, "parent": None, "at": 1000}
        for n in range(12)
    ]

    async def go():
        client = await Client.connect(temporal_server.address, data_converter=codec.data_converter())
        handle = await client.start_workflow(IB.WORKFLOW, {"assets": {}, "inventory": {}, "claims": {"AST-ORD-9-0": "ORD-9"}}, id=wid, task_queue=queue)
        for n in range(0, 12, 2):
            await handle.signal("record_entries", {"order": "ORD-9", "entries": entries[n:n + 2], "last": n == 10})
        async with Worker(client, task_queue=queue, workflows=[IB.InstalledBaseWorkflow], workflow_runner=_sandbox()):
            deadline = time.monotonic() + PATIENCE_S
            while (state := await handle.query("view"))["claims"]:
                assert time.monotonic() < deadline, state
                await asyncio.sleep(0.2)
            history = await handle.fetch_history()
        await handle.terminate("the test is over")
        await Replayer(workflows=[IB.InstalledBaseWorkflow], workflow_runner=_sandbox(), data_converter=codec.data_converter()).replay_workflow(history)
        return state, history

    state, history = run(go())
    expected = {"assets": {}, "inventory": {}, "claims": {}}
    apply_entries(expected, entries)
    assert state == expected
    assert sum(1 for e in history.events if e.HasField("timer_started_event_attributes")) == 5  # six parts, one per workflow task


@pytest.mark.slow
def test_an_update_while_the_parts_are_read_waits_for_them(tmp_path, temporal_server, monkeypatch):
    """An update that comes while a big order's parts are still being read (its
    first activations) waits for the order to begin, then applies: here a
    cancellation started with the order (update-with-start: it is in the first
    workflow task, whatever the machine's load), accepted before any call was
    scheduled; the order ends cancelled."""
    from om_dsl.rules.generated import GeneratedRules
    from om_dsl.temporal import parts as P
    from om_dsl.temporal import workflow as W

    monkeypatch.setattr(P, "PART", 20)
    monkeypatch.setattr(W, "LOAD_AT_ONCE", 20)
    engine = OnTemporal(tmp_path, GeneratedRules(ROOT / "generated" / "acme"), {}, temporal_server)
    try:
        order_id = engine.new_id("EARLY")
        engine.submit_with_update(json.dumps(order_of(60, order_id)), "cancel", {"by": "csr", "reason": "the customer moved", "force": False})
        view = engine.settle(order_id, lambda v: v["status"] in S.FINAL, timeout_s=300)
        assert view["status"] == S.ORDER_CANCELLED

        async def events():
            client = await engine.orders.client()
            return (await client.get_workflow_handle(order_id).fetch_history()).events

        kinds = [e.WhichOneof("attributes") for e in engine.orders._run(events())]
        accepted = kinds.index("workflow_execution_update_accepted_event_attributes")
        first_call = kinds.index("activity_task_scheduled_event_attributes")
        assert accepted < first_call  # it came before the order began: while its parts were read,
        assert kinds[accepted:first_call].count("marker_recorded_event_attributes") >= 3  # a part or two per activation after it (a no-op local activity apart)
    finally:
        engine.close()
