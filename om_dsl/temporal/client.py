"""Orders on Temporal, for the CLI and for programs: submit, read, act.

Submitting plans the order here, on the compiled catalog (a rejected order
never starts a workflow: the caller hears why at once), then starts its
workflow with the plan as input; the workflow id is the order id, so an
order is submitted once. Everything else is an update (it answers, or says
why the order refused it), a signal (callbacks) or a query.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import os
from typing import Optional

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowQueryFailedError, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from om_dsl.engine import core as C
from om_dsl.engine import state as S
from om_dsl.limits import load_json
from om_dsl.planning.fields import external_id_of
from om_dsl.planning.intake import customer_of, document_id, parse_document
from om_dsl.planning.order import Problem, Rejected
from om_dsl.planning.pipeline import plan_order
from om_dsl.planning.relationships import OtherOrder
from om_dsl.planning.relationships import check as check_prerequisites
from om_dsl.temporal import DEFAULT_ADDRESS, DEFAULT_NAMESPACE, DEFAULT_TASK_QUEUE, WORKFLOW, parts, tracing
from om_dsl.temporal.codec import binary, data_converter

# A query or an update waits for a worker to answer it: not for ever (none may be polling).
QUERY_TIMEOUT = datetime.timedelta(seconds=float(os.environ.get("OM_TEMPORAL_QUERY_TIMEOUT_S", "10")))
UPDATE_TIMEOUT = datetime.timedelta(seconds=float(os.environ.get("OM_TEMPORAL_UPDATE_TIMEOUT_S", "30")))
# A workflow task of a big order carries megabytes (its parts, compressed by the worker before the task
# completes): Temporal's default of 10 s to complete one is short on a busy worker (its deadlock detection,
# 2 s of the workflow's own code, is another limit, kept).
TASK_TIMEOUT = datetime.timedelta(seconds=30)
# Connecting gives up too: an address that drops packets would otherwise hold a command for minutes.
CONNECT_TIMEOUT_S = float(os.environ.get("OM_TEMPORAL_CONNECT_TIMEOUT_S", "10"))


class Unreachable(Exception):
    """No Temporal server answers at the address."""


class NoOrder(Exception):
    pass


class Unanswered(Exception):
    """The order did not answer in time: no worker polls its task queue, or it is stuck."""


class TemporalOrders:
    """A connection to a Temporal namespace; each method is one call (blocking)."""

    def __init__(self, address: str = DEFAULT_ADDRESS, namespace: str = DEFAULT_NAMESPACE, task_queue: str = DEFAULT_TASK_QUEUE, rules=None, installed=None):
        self.address, self.namespace, self.task_queue = address, namespace, task_queue
        self.rules = rules  # the compiled catalog new orders start on
        self.installed = installed  # the installed base new orders are planned against (None: empty)
        self._loop = asyncio.new_event_loop()
        self._client: Optional[Client] = None
        self._catalog_version: Optional[dict] = None

    def close(self) -> None:
        self._loop.close()

    def _run(self, coro):
        return self._loop.run_until_complete(coro)

    async def client(self) -> Client:
        if self._client is None:
            try:
                self._client = await asyncio.wait_for(Client.connect(self.address, namespace=self.namespace, data_converter=data_converter(), interceptors=tracing.interceptors()), CONNECT_TIMEOUT_S)
            except RuntimeError as exc:
                raise Unreachable(f"cannot reach Temporal at {self.address}: {exc}") from None
            except asyncio.TimeoutError:
                raise Unreachable(f"cannot reach Temporal at {self.address}: no answer in {CONNECT_TIMEOUT_S:g} s (OM_TEMPORAL_CONNECT_TIMEOUT_S)") from None
        return self._client

    # ---- submitting ------------------------------------------------------------------------------------

    def workflow_input(self, planned, request: Optional[dict] = None) -> dict:
        """An order workflow's input: the order as planned (the core's records
        before it begins, in text parts: temporal/parts.py), the catalog version
        it runs on, and its request document (its events and TMF622 resource return it)."""
        fields, items, lines, tasks, skipped, waits = C.start_records(planned, planned.order.id)
        out = {"order": planned.order.id, **self._version(), "parts": parts.encode(fields, items, lines, tasks), "skipped": [list(s) for s in skipped], "waits_for": [list(w) for w in waits]}
        if request is not None:
            out["request"] = request
        return out

    @staticmethod
    def workflow_args(start: dict) -> list:
        """What starts the workflow: its input, and the order's parts as a binary payload of their own (temporal/parts.py)."""
        return [{k: v for k, v in start.items() if k != "parts"}, binary(parts.to_bytes(start["parts"]))]

    def _version(self) -> dict:
        """The compiled catalog new orders start on, as their workflows' input carries it (made once)."""
        if self._catalog_version is None:
            from om_dsl.model.canonical import plan_json, sources_json

            plan_text = getattr(self.rules, "plan_text", None) or plan_json(self.rules.catalog)
            self._catalog_version = {"catalog": hashlib.sha256(plan_text.encode("utf-8")).hexdigest(), "plan": plan_text, "sources": sources_json(self.rules.catalog)}
        return self._catalog_version

    def submit(self, text: str, order_id: Optional[str] = None, by: Optional[str] = None):
        """Plan and start an order; returns (order id, status, problems) like the
        embedded runner. A rejected order is kept too, as a workflow that ends at
        once (status rejected, its problems: its submitter reads why). `by`: who
        submitted it, in the workflow's input and memo (the API's ownership)."""
        rules = self.rules
        doc = parse_document(text)
        order_id = order_id or document_id(doc)
        if ":" in order_id:  # a call's correlation id is ORDER:TASK:N; the order must be readable from it
            raise Rejected([Problem("order_id", f"order id {order_id!r} has a ':'; on the Temporal engine an order id may not")])
        installed = self.installed if self.installed is not None else self.installed_base(customer_of(doc))
        try:
            planned = plan_order(rules.catalog, rules, doc, order_id, installed)
            problems = check_prerequisites(order_id, planned.waits_for, self.other_order)
            refused = None if problems else self._claim(planned)
            problems = problems or ([refused] if refused else [])
        except Rejected as exc:
            problems = exc.problems
        owner = {"submitted_by": by} if by else {}
        if problems:
            kept = {"customer": customer_of(doc), "external_id": external_id_of(doc), "problems": [problem_data(p) for p in problems]}
            self._start(order_id, {"order": order_id, "rejected": kept, "request": load_json(text), **owner}, {"status": S.REJECTED, "customer": kept["customer"], "external_id": kept["external_id"], **owner})
            return order_id, S.REJECTED, problems
        start = {**self.workflow_input(planned, load_json(text)), **owner}  # numbers as JSON has them (the plan's decimals are in the snapshot)
        try:
            self._start(order_id, start, {"status": S.ACKNOWLEDGED, **owner})
        except Rejected:  # a duplicate: what it claimed above is not left behind
            self._unclaim_duplicate(planned)
            raise
        return order_id, S.ACKNOWLEDGED, []

    def _unclaim_duplicate(self, planned) -> None:
        """A duplicate's claims are in the name of its id, the order that has it already: a running one
        keeps them (its own, or released when it ends); one that has ended held none, so they go."""
        from om_dsl.planning.installed import changed_assets
        from om_dsl.temporal.installed_base import workflow_id

        if not changed_assets(planned.order):
            return

        async def go():
            client = await self.client()
            described = await client.get_workflow_handle(planned.order.id).describe()
            if described.status != WorkflowExecutionStatus.RUNNING:
                await client.get_workflow_handle(workflow_id(planned.order.fields.get("customer_account"))).signal("release", planned.order.id)

        self._run(go())

    def _start(self, order_id: str, start: dict, memo: dict) -> None:
        async def go():
            client = await self.client()
            try:
                await client.start_workflow(
                    WORKFLOW, args=self.workflow_args(start) if "parts" in start else [start], id=order_id, task_queue=self.task_queue, task_timeout=TASK_TIMEOUT,  # (a rejected order has no parts)
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE, memo=memo,
                )
            except WorkflowAlreadyStartedError:
                raise Rejected([Problem("duplicate_order", f"order {order_id} was submitted before; amend it, or give the new order another id")]) from None

        self._run(go())

    # ---- reading ---------------------------------------------------------------------------------------

    def _query(self, order_id: str, name: str):
        async def go():
            handle = (await self.client()).get_workflow_handle(order_id)
            try:
                return await handle.query(name, rpc_timeout=QUERY_TIMEOUT)
            except RPCError as exc:
                if exc.status == RPCStatusCode.NOT_FOUND:
                    raise NoOrder(f"no order {order_id} on {self.address} ({self.namespace})") from None
                raise

        return self._run(go())

    def order(self, order_id: str) -> dict:
        return self._query(order_id, "order")

    def views(self, order_ids: list, at_once: int = 32) -> dict:
        """The `order` query of each order, `at_once` in flight at most (a scrape
        waits for the slowest, not for their sum): {id: view, or None when it did not answer}."""

        async def go():
            client, gate = await self.client(), asyncio.Semaphore(at_once)

            async def one(order_id: str):
                async with gate:
                    try:
                        return await client.get_workflow_handle(order_id).query("order", rpc_timeout=QUERY_TIMEOUT)
                    except (RPCError, WorkflowQueryFailedError):
                        return None

            return dict(zip(order_ids, await asyncio.gather(*(one(o) for o in order_ids))))

        return self._run(go())

    def other_order(self, order_id: str) -> Optional[OtherOrder]:
        """What an order's workflow says of it to one that wants to wait for it (None: no such order)."""
        try:
            got = self._query(order_id, "progress")
        except NoOrder:
            return None
        return OtherOrder(got["status"], tuple(got["all_milestones"]), tuple(got["milestones"]), tuple(got["waits"]))

    def state(self, order_id: str) -> S.OrderRun:
        return S.from_data(self._query(order_id, "state"))

    def resource(self, order_id: str) -> dict:
        """The order's TMF622 ProductOrder, in the version it came in (one query; a rejected order's too)."""
        from om_dsl.tmf622 import resource

        got = self._query(order_id, "resource")
        if "rejected" in got:
            return resource.rejected_order(order_id, got["request"], got["rejected"]["at"], got["rejected"]["external_id"])
        return resource.product_order(S.from_data(got["state"]), got["request"])

    def request(self, order_id: str) -> Optional[dict]:
        """The request document of the order's revision in force (None for a
        workflow started before workflows kept it: it has no such query)."""
        try:
            return self._query(order_id, "request")
        except WorkflowQueryFailedError:
            return None

    def history(self, order_id: str) -> list:
        return self._query(order_id, "history")

    def orders(self, status: Optional[str] = None, running_only: bool = False) -> list[dict]:
        """Every order workflow, oldest first, with the status its memo carries."""

        async def go():
            client = await self.client()
            # The orders of this deployment: its task queue (a namespace may hold several).
            query = f'WorkflowType = "{WORKFLOW}" AND TaskQueue = "{self.task_queue}"' + (' AND ExecutionStatus = "Running"' if running_only else "")
            out = []
            async for wf in client.list_workflows(query):
                if wf.status == WorkflowExecutionStatus.CONTINUED_AS_NEW:
                    continue  # a big order's earlier run: its latest run is listed
                memo = await wf.memo()
                running = wf.status == WorkflowExecutionStatus.RUNNING
                row = {"id": wf.id, "status": memo.get("status"), "customer": memo.get("customer"), "external_id": memo.get("external_id"), "jeopardy": memo.get("jeopardy"), "started": wf.start_time, "running": running}
                out.append({**row, "submitted_by": memo["submitted_by"]} if memo.get("submitted_by") else row)
            out.sort(key=lambda d: (d["started"], d["id"]))
            return out

        rows = self._run(go())
        return [r for r in rows if status is None or r["status"] == status]

    def open_manual_tasks(self, queue: Optional[str] = None, order_id: Optional[str] = None, unanswered: Optional[list] = None) -> list[tuple]:
        """Ready manual tasks of the running orders (one query per order). An
        order whose query is not answered (no worker polls its queue) goes
        into `unanswered` instead of failing the whole list."""
        ids = [order_id] if order_id else [o["id"] for o in self.orders(running_only=True)]
        out = []
        for oid in ids:
            try:
                view = self.order(oid)
            except RPCError as exc:
                if order_id is not None or unanswered is None:
                    raise
                unanswered.append((oid, exc.message))
                continue
            for t in view["tasks"]:
                if t["type"] == "manual" and t["status"] == S.READY and (queue is None or t.get("queue") == queue):
                    out.append((oid, t["id"], t["name"], t["product"], t.get("queue")))
        return out

    def _claim(self, planned) -> Optional[Problem]:
        """Claim the installed assets the order changes, before it starts: None,
        or the problem when another unfinished order changes one of them."""
        from temporalio.client import WithStartWorkflowOperation
        from temporalio.common import WorkflowIDConflictPolicy

        from om_dsl.planning.installed import changed_assets, empty_state
        from om_dsl.temporal.installed_base import QUEUE, WORKFLOW, workflow_id

        assets = changed_assets(planned.order)
        if not assets:
            return None
        customer = planned.order.fields.get("customer_account")

        async def go():
            client = await self.client()
            start = WithStartWorkflowOperation(WORKFLOW, empty_state(), id=workflow_id(customer), task_queue=QUEUE, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING)
            try:
                await client.execute_update_with_start_workflow("claim", {"order": planned.order.id, "assets": assets}, start_workflow_operation=start, rpc_timeout=UPDATE_TIMEOUT)
            except WorkflowUpdateFailedError as exc:
                cause = exc.cause
                if isinstance(cause, ApplicationError) and cause.type == "AssetInFlight":
                    return Problem("asset_in_flight", cause.message)
                raise
            return None

        return self._run(go())

    def installed_state(self, customer: Optional[str]) -> dict:
        """The customer's installed base as plain data (empty when it has none yet)."""
        from om_dsl.planning.installed import empty_state
        from om_dsl.temporal.installed_base import workflow_id

        try:
            return self._query(workflow_id(customer), "view")
        except NoOrder:
            return empty_state()

    def installed_base(self, customer: Optional[str]):
        from om_dsl.planning.installed import EMPTY, from_state

        return from_state(self.installed_state(customer)) if customer else EMPTY

    def merge_installed(self, customer: Optional[str], state: dict) -> None:
        """Add assets and lines to the customer's installed base (starting it if it has none)."""
        from om_dsl.planning.installed import empty_state
        from om_dsl.temporal.installed_base import QUEUE, WORKFLOW, workflow_id

        async def go():
            client = await self.client()
            await client.start_workflow(WORKFLOW, empty_state(), id=workflow_id(customer), task_queue=QUEUE, start_signal="merge", start_signal_args=[state])

        self._run(go())

    def customers(self) -> list[Optional[str]]:
        """The customers with an installed base on this deployment (None: orders without a customer)."""
        from om_dsl.planning.keys import customer_of_installed_base
        from om_dsl.temporal.installed_base import QUEUE, WORKFLOW

        async def go():
            client = await self.client()
            found = [customer_of_installed_base(wf.id) async for wf in client.list_workflows(f'WorkflowType = "{WORKFLOW}" AND TaskQueue = "{QUEUE}" AND ExecutionStatus = "Running"')]
            return sorted(found, key=lambda c: (c is not None, c or ""))  # None: orders without a customer

        return self._run(go())

    # ---- acting ----------------------------------------------------------------------------------------

    def _update(self, order_id: str, name: str, request: dict) -> dict:
        async def go():
            handle = (await self.client()).get_workflow_handle(order_id)
            try:
                # The SDK polls until a worker accepts the update, without an end of its own.
                return await asyncio.wait_for(handle.execute_update(name, request, rpc_timeout=UPDATE_TIMEOUT), UPDATE_TIMEOUT.total_seconds())
            except (WorkflowUpdateRPCTimeoutOrCancelledError, asyncio.TimeoutError):
                raise Unanswered(
                    f"order {order_id} did not answer in {UPDATE_TIMEOUT.total_seconds():g} s (is a worker polling task queue {self.task_queue}?); "
                    "the request may still be applied when a worker picks the order up: check with `om orders show`"
                ) from None
            except WorkflowUpdateFailedError as exc:
                cause = exc.cause
                raise C.Rejection(cause.message if isinstance(cause, ApplicationError) else str(cause)) from None
            except RPCError as exc:
                if exc.status == RPCStatusCode.NOT_FOUND:
                    raise C.Rejection(f"no order {order_id}, or it is no longer running") from None
                raise

        return self._run(go())

    def complete_manual(self, order_id: str, task_id: str, data: dict, by: str) -> dict:
        return self._update(order_id, "complete_task", {"task": task_id, "data": S.encode_value(data), "by": by})

    def retry_task(self, order_id: str, task_id: str, by: str, reason: str = "") -> dict:
        return self._update(order_id, "retry_task", {"task": task_id, "by": by, "reason": reason})

    def skip_task(self, order_id: str, task_id: str, by: str, reason: str) -> dict:
        return self._update(order_id, "skip_task", {"task": task_id, "by": by, "reason": reason})

    def claim_task(self, order_id: str, task_id: str, by: str, reason: str = "") -> dict:
        return self._update(order_id, "claim_task", {"task": task_id, "by": by, "reason": reason})

    def resume_order(self, order_id: str, by: str, reason: str = "") -> dict:
        return self._update(order_id, "resume", {"by": by, "reason": reason})

    def release(self, order_id: str, by: str) -> dict:
        """A draft order starts (the workflow's `release` update)."""
        return self._update(order_id, "release", {"by": by})

    def cancel(self, order_id: str, by: str, reason: str = "", force: bool = False) -> dict:
        return self._update(order_id, "cancel", {"by": by, "reason": reason, "force": force})

    def give_up(self, order_id: str, by: str, reason: str) -> dict:
        return self._update(order_id, "fail", {"by": by, "reason": reason})

    def amend(self, order_id: str, text: str, by: str, force: bool = False) -> dict:
        """A revision of an in-flight order, planned on the catalog version the order runs on."""
        from om_dsl.model.canonical import loads
        from om_dsl.rules.interpreter import Interpreter

        doc = parse_document(text)
        given = doc.get("id")
        if given is not None and str(given) != order_id:
            raise Rejected([Problem("revision_of_another_order", f"the revision is of order {given}, not {order_id}")])
        try:
            version = self._query(order_id, "plan")
        except NoOrder as exc:
            raise C.Rejection(str(exc)) from None
        if version.get("rejected"):
            raise C.Rejection(f"order {order_id} was rejected: it has nothing to amend; submit a new order")
        rules = self.rules if self.rules is not None and self._version()["catalog"] == version["catalog"] else Interpreter(loads(version["plan"], version["sources"]))
        installed = self.installed if self.installed is not None else self.installed_base(customer_of(doc))
        try:
            planned = plan_order(rules.catalog, rules, doc, order_id, installed)
            waits = check_prerequisites(order_id, planned.waits_for, self.other_order)
            if waits:
                raise Rejected(waits)
        except Rejected as exc:
            try:
                refused = {"by": by, "refused": "; ".join(p.render() for p in exc.problems), "missing": [{"path": p.path, "message": p.render()} for p in exc.problems]}
                self._update(order_id, "amend", refused)
            except C.Rejection:
                pass
            raise
        refused = self._claim(planned)  # a revision may change assets the order did not
        if refused:
            raise Rejected([refused])
        return self._update(order_id, "amend", {"plan": C.plan_snapshot(planned, order_id), "by": by, "force": force, "request": load_json(text)})

    def notifications(self, order_id: Optional[str] = None, pending: bool = False) -> list[dict]:
        """Order events and where they went, read from the orders' workflow histories (temporal/notifications.py):
        one order's, or every order's (each history read: give the order when there are many)."""
        from om_dsl.temporal.notifications import of_order

        ids = [order_id] if order_id else [o["id"] for o in self.orders()]

        async def go():
            client = await self.client()
            out = []
            for oid in ids:
                try:
                    out.extend(await of_order(client, oid))
                except RPCError as exc:
                    if exc.status != RPCStatusCode.NOT_FOUND:  # (no such order: it sent nothing)
                        raise
            return out

        return [e for e in self._run(go()) if not pending or e["status"] == "pending"]

    # ---- the hub and cancellation requests (om_dsl/temporal/hub.py, cancellations.py) -------------------

    def hub_update(self, name: str, arg):
        """An update of the deployment's hub workflow, starting it the first time."""
        from temporalio.client import WithStartWorkflowOperation
        from temporalio.common import WorkflowIDConflictPolicy

        from om_dsl.temporal import hub

        async def go():
            client = await self.client()
            start = WithStartWorkflowOperation(hub.WORKFLOW, hub.empty(), id=hub.workflow_id(self.task_queue), task_queue=self.task_queue, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING, memo={"subscriptions": []})
            try:
                return await asyncio.wait_for(client.execute_update_with_start_workflow(name, arg, start_workflow_operation=start, rpc_timeout=UPDATE_TIMEOUT), UPDATE_TIMEOUT.total_seconds())
            except (WorkflowUpdateRPCTimeoutOrCancelledError, asyncio.TimeoutError):
                raise Unanswered(f"the hub did not answer in {UPDATE_TIMEOUT.total_seconds():g} s (is a worker polling task queue {self.task_queue}?)") from None

        return self._run(go())

    def subscriptions(self) -> list[dict]:
        """The hub's subscriptions, from its memo (none before the first)."""
        from om_dsl.temporal import hub

        memo = self._memo(hub.workflow_id(self.task_queue))
        return (memo or {}).get("subscriptions") or []

    def _memo(self, workflow_id: str) -> Optional[dict]:
        """A workflow's memo (a describe: no worker answers it); None when there is no such workflow."""

        async def go():
            try:
                described = await (await self.client()).get_workflow_handle(workflow_id).describe()
            except RPCError as exc:
                if exc.status == RPCStatusCode.NOT_FOUND:
                    return None
                raise
            return {**await described.memo(), "_task_queue": described.task_queue, "_started": described.start_time}

        return self._run(go())

    def request_cancellation(self, order_id: str, by: str, reason: str, force: bool) -> dict:
        """A CancelProductOrder request, started as its own workflow (kept
        before it acts); its answer once it has acted, or acknowledged when it
        has not in UPDATE_TIMEOUT (it goes on)."""
        import uuid

        from om_dsl.temporal import cancellations

        if self._memo(order_id) is None:
            raise NoOrder(f"no order {order_id} on {self.address} ({self.namespace})")
        cancel_id = cancellations.new_id(uuid.uuid4().hex)
        request = {"id": cancel_id, "order": order_id, "by": by, "reason": reason, "force": force}

        async def go():
            client = await self.client()
            handle = await client.start_workflow(cancellations.WORKFLOW, request, id=cancellations.workflow_id(cancel_id), task_queue=self.task_queue, memo={**request, "state": "acknowledged"})
            try:
                return await asyncio.wait_for(handle.result(), UPDATE_TIMEOUT.total_seconds())
            except asyncio.TimeoutError:
                return None

        entry = self._run(go())
        return entry if entry is not None else self.cancellations(cancel_id)[0]

    def cancellations(self, cancel_id: Optional[str] = None) -> list[dict]:
        """Cancellation requests of this deployment, oldest first (their memos; a
        visibility listing), or the one with this id. One acknowledged or
        inProgress is done once its order is cancelled (as on the embedded engine)."""
        from om_dsl.engine.instants import show_instant
        from om_dsl.temporal import cancellations

        async def listed():
            query = f'WorkflowType = "{cancellations.WORKFLOW}" AND TaskQueue = "{self.task_queue}"'
            return [{**await wf.memo(), "_started": wf.start_time} async for wf in (await self.client()).list_workflows(query)]

        if cancel_id is not None:
            if not cancellations.is_id(cancel_id):  # (not one of ours: no request to read, whatever its length or characters)
                return []
            memo = self._memo(cancellations.workflow_id(cancel_id))
            memos = [memo] if memo is not None and memo["_task_queue"] == self.task_queue else []
        else:
            memos = self._run(listed())
        out = []
        for memo in memos:
            entry = {k: memo[k] for k in ("id", "order", "state", "reason", "by", "requested_at", "updated_at", "message") if memo.get(k) is not None}
            if "requested_at" not in entry:  # not acted on yet: the memo it was started with
                entry["requested_at"] = entry["updated_at"] = show_instant(int(memo["_started"].timestamp() * 1000))
            if entry["state"] in ("acknowledged", "inProgress") and (self._memo(entry["order"]) or {}).get("status") == "cancelled":
                entry["state"] = "done"
            out.append(entry)
        return sorted(out, key=lambda e: (e["requested_at"], e["id"]))

    def deliver_callback(self, correlation_id: str, outputs: dict, ok: bool = True, message: str = "", callback_id: Optional[str] = None) -> bool:
        async def go():
            return await signal_callback(await self.client(), callback_id or f"callback:{correlation_id}", correlation_id, outputs, ok, message)

        return self._run(go())


def problem_data(p: Problem) -> dict:
    """A rejection's problem as plain data, as the embedded store keeps it."""
    return {k: v for k, v in (("item", p.item), ("product", p.product), ("rule", p.rule), ("message", p.message), ("path", p.path)) if v is not None}


def order_of(correlation_id: str) -> str:
    """The order a call's correlation id (its idempotency key, engine/keys.py's call_key) belongs to."""
    from om_dsl.planning.keys import order_of_key

    return order_of_key(correlation_id)


async def signal_callback(client: Client, callback_id: str, correlation_id: str, outputs: dict, ok: bool, message: str) -> bool:
    """An asynchronous operation's answer, to its order's workflow (which drops
    a callback id it has seen); False when no such order runs."""
    try:
        await client.get_workflow_handle(order_of(correlation_id)).signal("callback", {"id": callback_id, "key": correlation_id, "outputs": outputs, "ok": ok, "message": message})
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


# Gone by the next call: a connection the server reset mid-query (an HTTP/2 stream error, seen while
# a worker restarts), a server that is briefly unavailable, a query no worker answered in time.
_PASSING_STATUS = (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.UNAVAILABLE)
_PASSING_TEXT = ("timeout", "timed out", "protocol error", "transport error", "connection reset", "broken pipe")


def passing(exc: RPCError) -> bool:
    """Whether a query that failed so may be asked again: a query changes nothing (a command that
    failed so may or may not have been carried out, and its caller is told)."""
    text = (exc.message or "").lower()
    return exc.status in _PASSING_STATUS or any(t in text for t in _PASSING_TEXT)


def wait_until(orders: TemporalOrders, order_id: str, predicate, timeout_s: float = 60.0, every_s: float = 0.1) -> dict:
    """Poll the order (a query) until `predicate(order view)` holds; the view."""
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            view = orders.order(order_id)
        except NoOrder:
            view = None
        except RPCError as exc:
            if not passing(exc):
                raise
            view = None
        if view is not None and predicate(view):
            return view
        if time.monotonic() > deadline:
            raise TimeoutError(f"order {order_id} did not get there in {timeout_s} s: {view and view['status']}")
        time.sleep(every_s)
