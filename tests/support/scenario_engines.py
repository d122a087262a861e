"""One scenario suite, two engines: drivers with the same face over the
embedded runner (SQLite, simulated clock) and over Temporal (a real dev
server, a worker in this process, the real wall clock).

Both run the Acme catalog with its retry policies shortened to seconds
(`standard` staggered 1 s, 1 s, 1 s; `patient` fixed 2 times every 1 s;
timed by the engine core on both engines, with durable timers on
Temporal), against the in-process simulators, whose state each test
inspects.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
import uuid
from pathlib import Path

from om_dsl.build import build, write
from om_dsl.engine import state as S
from om_dsl.engine.core import Rejection
from om_dsl.engine.view import task_entries, wait_entries
from om_dsl.rules.generated import GeneratedRules
from om_dsl.simulate.simulators import Simulators
from om_dsl.systems.adapters import PythonTasks, Systems
from om_dsl.systems.config import Config

from support import PATIENCE_S, ROOT
from support.engine_helpers import TASKS_PATH, make_runner

SHORT_POLICIES = {
    "retry standard = staggered 10s, 1m, 10m": "retry standard = staggered 1s, 1s, 1s",
    "retry patient = fixed 2 times every 1h": "retry patient = fixed 2 times every 1s",
}


def compile_short_acme(folder: Path) -> GeneratedRules:
    """Acme with retry delays of a second, compiled into `folder`."""
    specs = folder / "specs"
    shutil.copytree(ROOT / "specs", specs)
    telco = specs / "shared" / "telco.om"
    text = telco.read_text(encoding="utf-8")
    for old, new in SHORT_POLICIES.items():
        assert old in text, f"specs/shared/telco.om no longer says {old!r}"
        text = text.replace(old, new)
    telco.write_text(text, encoding="utf-8")
    result = build([str(specs)])  # specs/acme uses specs/shared: give om the folder of both
    assert result.ok
    write(folder / "generated", result.files())
    return GeneratedRules(folder / "generated" / "acme")


def order_doc(path: Path, order_id: str, drop_start_date: bool = True, customer: str | None = None) -> str:
    """An example order under fresh ids, its own and its customer's (the Temporal
    server outlives a test, and keeps each customer's installed base); without
    its requested start date, which would be a wait of weeks in real time."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["id"] = order_id
    for party in doc.get("relatedParty", []):
        if party.get("role") == "customer":
            party["id"] = customer or f"ACC-{order_id}"
    if drop_start_date:
        doc.pop("requestedStartDate", None)
    return json.dumps(doc)


def by_id(view: dict) -> dict:
    return {**view, "tasks": {t["id"]: t for t in view["tasks"]}}


class Embedded:
    name = "embedded"

    def __init__(self, tmp_path: Path, rules, fail: dict):
        self.runner = make_runner(tmp_path, rules=rules, fail=fail)
        self.simulators = self.runner.simulators

    def new_id(self, stem: str) -> str:
        return f"{stem}-{uuid.uuid4().hex[:8]}"

    def submit(self, text: str) -> str:
        order_id, status, problems = self.runner.submit(text)
        assert status != S.REJECTED, problems
        self.runner.drive()
        return order_id

    def view(self, order_id: str) -> dict:
        run = self.runner.store.load(order_id)
        view = {"id": order_id, "status": run.status, "revision": run.revision, "tasks": task_entries(self.runner.catalogs.engine(run.catalog), run)}
        if run.waits_for:
            view["waits_for"] = wait_entries(run)
        return by_id(view)

    def settle(self, order_id: str, predicate, timeout_s: float = PATIENCE_S) -> dict:
        """Run until nothing moves without a person; the order must then be as `predicate` says."""
        self.runner.drive()
        view = self.view(order_id)
        assert predicate(view), json.dumps(view, indent=1, default=str)
        return view

    def history(self, order_id: str) -> list:
        return [{"subject": r[2], "from": r[3], "to": r[4], "cause": r[5]} for r in self.runner.store.history(order_id)]

    def assets(self, customer: str) -> dict:
        """asset id -> (product, attributes, status)"""
        return {r[0]: (r[2], S.decode_value(json.loads(r[3])), r[6]) for r in self.runner.store.assets(customer)}

    def in_flight(self, customer: str, asset: str):
        from om_dsl.embedded.store import StoreInstalledBase

        return StoreInstalledBase(self.runner.store).in_flight(asset)

    def submit_rejected(self, text: str) -> list:
        """An order that must be rejected: its problems' rules."""
        _, status, problems = self.runner.submit(text)
        assert status == S.REJECTED
        return [p.rule for p in problems]

    def complete(self, order_id, task, data=None, by="field-tech"):
        self.runner.complete_manual(order_id, task, data or {}, by)

    def retry(self, order_id, task, by="ops"):
        self.runner.retry_task(order_id, task, by, "the system is fixed")

    def cancel(self, order_id, by="csr", reason="the customer moved", force=False):
        self.runner.cancel(order_id, by, reason, force)

    def resume(self, order_id, by="ops", reason=""):
        self.runner.resume_order(order_id, by, reason)

    def amend(self, order_id, text, by="csr", force=False):
        self.runner.amend(order_id, text, by, force)

    def give_up(self, order_id, by="ops", reason="it cannot be done"):
        self.runner.fail(order_id, by, reason)

    def product_order(self, order_id) -> dict:
        """The order service's TMF622 resource."""
        from om_dsl.embedded.service import EmbeddedOrders

        return EmbeddedOrders(self.runner.store, self.runner.store.path, self.runner).product_order(order_id)

    def close(self):
        self.runner.systems.close()
        self.runner.store.close()


class OnTemporal:
    name = "temporal"

    def __init__(self, tmp_path: Path, rules, fail: dict, server, listeners=(), wrap_systems=None, queue=None):
        from om_dsl.temporal import worker as temporal_worker
        from om_dsl.temporal.client import TemporalOrders

        self.simulators = Simulators(str(tmp_path / "systems.db"), fail=fail)
        systems = Systems(Config(None), self.simulators)
        if wrap_systems is not None:  # a test's own behaviour of the systems around the simulators
            systems = wrap_systems(systems)
        queue = queue or f"scenarios-{uuid.uuid4().hex[:8]}"  # a worker of its own per test
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._failure: list = []

        def work():
            asyncio.set_event_loop(self._loop)
            try:
                self._loop.run_until_complete(temporal_worker.serve(server.address, "default", queue, systems, PythonTasks((TASKS_PATH,)), listeners, rules=[rules], stop=self._stop, ready=ready.set))
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                self._failure.append(exc)
                ready.set()

        self._thread = threading.Thread(target=work, daemon=True)
        self._thread.start()
        assert ready.wait(PATIENCE_S) and not self._failure, self._failure
        self.orders = TemporalOrders(server.address, task_queue=queue, rules=rules)
        self.queue = queue

    def _terminate_leftovers(self):
        """The server outlives the test: end the orders this test left running."""

        from temporalio.service import RPCError, RPCStatusCode

        async def go():
            client = await self.orders.client()
            async for wf in client.list_workflows(f'TaskQueue = "{self.queue}" AND ExecutionStatus = "Running"'):
                try:
                    await client.get_workflow_handle(wf.id).terminate("the test is over")
                except RPCError as exc:  # the list lags behind: an order that has just ended may be in it
                    if exc.status != RPCStatusCode.NOT_FOUND:
                        raise

        self.orders._run(go())

    def new_id(self, stem: str) -> str:
        return f"{stem}-{uuid.uuid4().hex[:8]}"

    def submit(self, text: str) -> str:
        order_id, status, problems = self.orders.submit(text)
        assert status != S.REJECTED, problems
        return order_id

    def submit_with_update(self, text: str, update: str, request: dict):
        """Start the order with an update in its first workflow task (update-with-start), as
        `submit` then the update would on an idle machine, but without the race: the update's
        answer, or the Rejection it failed with (the workflow has started either way)."""
        from temporalio.client import WithStartWorkflowOperation, WorkflowUpdateFailedError
        from temporalio.common import WorkflowIDConflictPolicy

        from om_dsl.limits import load_json
        from om_dsl.planning.intake import customer_of
        from om_dsl.planning.pipeline import plan_order
        from om_dsl.temporal import WORKFLOW

        orders, doc = self.orders, load_json(text)
        installed = orders.installed if orders.installed is not None else orders.installed_base(customer_of(doc))
        start = orders.workflow_input(plan_order(orders.rules.catalog, orders.rules, doc, doc["id"], installed), doc)

        async def go():
            client = await orders.client()
            begin = WithStartWorkflowOperation(WORKFLOW, args=orders.workflow_args(start), id=doc["id"], task_queue=orders.task_queue, id_conflict_policy=WorkflowIDConflictPolicy.FAIL, memo={"status": S.ACKNOWLEDGED})
            try:
                return await client.execute_update_with_start_workflow(update, request, start_workflow_operation=begin)
            except WorkflowUpdateFailedError as exc:
                raise Rejection(exc.cause.message) from None

        return orders._run(go())

    def view(self, order_id: str) -> dict:
        return by_id(self.orders.order(order_id))

    def quiet(self, order_id: str, timeout_s: float = PATIENCE_S) -> None:
        """Wait until the originating system (the simulators: no listener here)
        has every event the order made so far: on Temporal they go out one at a
        time, after the state they tell of."""
        import time

        made = self.orders.state(order_id).events
        deadline = time.monotonic() + timeout_s
        while made and f"{order_id}:event:{made}" not in {mid for mid, _, _ in self.simulators.notifications()}:
            assert time.monotonic() < deadline, f"the events of order {order_id} did not go out in {timeout_s} s"
            time.sleep(0.05)

    def settle(self, order_id: str, predicate, timeout_s: float = PATIENCE_S) -> dict:
        """Wait (real time) until the order is as `predicate` says."""
        from om_dsl.temporal.client import wait_until

        wait_until(self.orders, order_id, lambda v: predicate(by_id(v)), timeout_s)
        return self.view(order_id)

    def history(self, order_id: str) -> list:
        return self.orders.history(order_id)

    def assets(self, customer: str) -> dict:
        state = self.orders.installed_state(customer)
        return {a["id"]: (a["product"], S.decode_value(a["attributes"]), a["status"]) for a in state["assets"].values()}

    def in_flight(self, customer: str, asset: str):
        return self.orders.installed_state(customer)["claims"].get(asset)

    def submit_rejected(self, text: str) -> list:
        _, status, problems = self.orders.submit(text)
        assert status == S.REJECTED
        return [p.rule for p in problems]

    def complete(self, order_id, task, data=None, by="field-tech"):
        self.orders.complete_manual(order_id, task, data or {}, by)

    def retry(self, order_id, task, by="ops"):
        self.orders.retry_task(order_id, task, by, "the system is fixed")

    def cancel(self, order_id, by="csr", reason="the customer moved", force=False):
        self.orders.cancel(order_id, by, reason, force)

    def resume(self, order_id, by="ops", reason=""):
        self.orders.resume_order(order_id, by, reason)

    def amend(self, order_id, text, by="csr", force=False):
        self.orders.amend(order_id, text, by, force)

    def give_up(self, order_id, by="ops", reason="it cannot be done"):
        self.orders.give_up(order_id, by, reason)

    def product_order(self, order_id) -> dict:
        """The order service's TMF622 resource (TemporalService over a client of its own)."""
        from om_dsl.temporal.service import TemporalService

        service = TemporalService(self.orders.address, "default", self.queue)
        try:
            return service.product_order(order_id)
        finally:
            service.close()

    def close(self):
        self._terminate_leftovers()
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        self.orders.close()
        self.simulators.close()
