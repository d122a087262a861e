"""The Temporal engine's order service (`om_dsl.service.OrderService`): a
client of the namespace; workers run the orders, so nothing runs here.

Built on `TemporalOrders` (the client programs and tests use directly); this
layer gives its answers the service's shapes and its failures the service's
exceptions: no order, refused, unavailable (the cluster or a worker did not
answer).
"""

from __future__ import annotations

import contextlib
from typing import Iterable, Optional

from temporalio.service import RPCError

from om_dsl import service as svc
from om_dsl.engine import state as S
from om_dsl.engine.core import Rejection
from om_dsl.engine.instants import show_instant
from om_dsl.temporal.client import NoOrder, TemporalOrders, Unanswered, Unreachable

ON_TEMPORAL = "on Temporal, workers take downstream systems from their own configuration (docs/scale-out.md)"


class TemporalService:
    def __init__(self, address: str, namespace: str, task_queue: str, rules=None):
        self.client = TemporalOrders(address, namespace, task_queue, rules)
        self.task_queue = task_queue
        self.on_event = None
        self.warnings: list[str] = []  # orders that did not answer a listing: the listing goes on without them
        self._started: dict[str, str] = {}

    def close(self) -> None:
        self.client.close()

    @contextlib.contextmanager
    def _calls(self):
        """The client's failures as the service's."""
        try:
            yield
        except (Unreachable, Unanswered) as exc:
            raise svc.Unavailable(str(exc)) from None
        except NoOrder as exc:
            raise svc.NoOrder(str(exc)) from None
        except Rejection as exc:
            raise svc.Refused(str(exc)) from None
        except RPCError as exc:  # the cluster refused or timed out (a query no worker answers, say)
            timeout = "timeout" in (exc.message or "").lower() or exc.status.name == "DEADLINE_EXCEEDED"
            hint = f" (is a worker polling task queue {self.task_queue}?)" if timeout else ""
            raise svc.Unavailable(f"Temporal at {self.client.address}: {exc.message or exc.status.name}{hint}") from None

    # ---- submitting and running ---------------------------------------------------------------------

    def submit(self, text: str, by: Optional[str] = None) -> tuple[str, str, list]:
        """A rejected order is kept as a workflow that ended at once; `by` in its input and memo."""
        with self._calls():
            order_id, status, problems = self.client.submit(text, by=by)
        self._started[order_id] = status
        return order_id, status, problems

    def settle(self, order_ids: Iterable[str]) -> list[dict]:
        """Workers run the orders: what was started, and where to follow it (a rejected order never starts)."""
        note = "started on Temporal, task queue {q}; `om orders show {id} --engine temporal`"
        return [
            {"id": i, "status": self._started[i], "note": note.format(q=self.task_queue, id=i)}
            for i in order_ids
            if self._started.get(i) not in (None, "rejected")
        ]

    def resume_all(self) -> list[str]:
        raise svc.Refused("workers continue every order on Temporal: there is nothing to resume by hand (`om orders resume ID` resumes a held order)")

    # ---- operator actions: updates, each answers at once ---------------------------------------------

    def complete_task(self, order_id: str, task_id: str, data: dict, by: str) -> dict:
        with self._calls():
            return self.client.complete_manual(order_id, task_id, data, by)

    def retry_task(self, order_id: str, task_id: str, by: str, reason: str = "") -> dict:
        with self._calls():
            return self.client.retry_task(order_id, task_id, by, reason)

    def skip_task(self, order_id: str, task_id: str, by: str, reason: str) -> dict:
        with self._calls():
            return self.client.skip_task(order_id, task_id, by, reason)

    def claim_task(self, order_id: str, task_id: str, by: str, reason: str = "") -> dict:
        with self._calls():
            return self.client.claim_task(order_id, task_id, by, reason)

    def resume(self, order_id: str, by: str, reason: str = "") -> dict:
        with self._calls():
            return self.client.resume_order(order_id, by, reason)

    def cancel(self, order_id: str, by: str, reason: str = "", force: bool = False) -> dict:
        with self._calls():
            return self.client.cancel(order_id, by, reason, force)

    def release(self, order_id: str, by: str) -> dict:
        with self._calls():
            return self.client.release(order_id, by)

    def give_up(self, order_id: str, by: str, reason: str) -> dict:
        with self._calls():
            return self.client.give_up(order_id, by, reason)

    def amend(self, order_id: str, text: str, by: str, force: bool = False) -> dict:
        with self._calls():
            return self.client.amend(order_id, text, by, force)

    def deliver_callback(self, correlation_id: str, outputs: dict, ok: bool = True, message: str = "", callback_id: Optional[str] = None) -> dict:
        with self._calls():
            found = self.client.deliver_callback(correlation_id, outputs, ok, message, callback_id)
        if not found:
            return {"delivered": True, "order": None, "note": f"no running order has the correlation id {correlation_id}: ignored"}
        return {"delivered": True, "order": correlation_id.split(":", 1)[0], "note": f"delivered to order {correlation_id.split(':', 1)[0]}"}

    # ---- systems and the hub (the deployment's Hub workflow, om_dsl/temporal/hub.py) ----------------

    def set_system(self, system: str, offline: bool, by: str) -> list[str]:
        raise svc.Refused(f"systems are taken offline in the embedded engine's store: {ON_TEMPORAL}")

    def system_changes(self) -> list[dict]:
        raise svc.Refused(f"systems are taken offline in the embedded engine's store: {ON_TEMPORAL}")

    def register_listener(self, url: str) -> bool:
        with self._calls():
            return self.client.hub_update("register", url)

    def unregister_listener(self, url: str) -> bool:
        with self._calls():
            return self.client.hub_update("unregister", url)

    def listeners(self) -> list[str]:
        return [s["callback"] for s in self.subscriptions()]

    def notifications(self, order_id: Optional[str] = None, pending: bool = False) -> list[dict]:
        """Read from each order workflow's history of om.notify and om.deliver activities (temporal/notifications.py)."""
        with self._calls():
            return self.client.notifications(order_id, pending)

    def subscribe(self, callback: str, query: Optional[str], owner: Optional[str]) -> dict:
        with self._calls():
            sub = self.client.hub_update("subscribe", {"callback": callback, "query": query or None, "owner": owner})
        return {"id": sub["id"], "callback": sub["callback"], "query": sub["query"]}

    def unsubscribe(self, subscription_id: str) -> bool:
        with self._calls():
            return self.client.hub_update("unsubscribe", subscription_id)

    def subscriptions(self) -> list[dict]:
        with self._calls():
            return [{"id": s["id"], "callback": s["callback"], "query": s.get("query"), "owner": s.get("owner")} for s in self.client.subscriptions()]

    def request_cancellation(self, order_id: str, by: str, reason: str = "", force: bool = False) -> dict:
        """A CancelProductOrder workflow of its own (om_dsl/temporal/cancellations.py), answered once it has acted."""
        with self._calls():
            return self.client.request_cancellation(order_id, by, reason, force)

    def cancellations(self, cancel_id: Optional[str] = None) -> list[dict]:
        with self._calls():
            return self.client.cancellations(cancel_id)

    # ---- reading: queries ---------------------------------------------------------------------------

    def order(self, order_id: str) -> dict:
        with self._calls():
            return self.client.order(order_id)

    def product_order(self, order_id: str) -> dict:
        with self._calls():
            return self.client.resource(order_id)

    def orders(self, status: Optional[str] = None, jeopardy: Optional[str] = None) -> list[dict]:
        with self._calls():
            rows = [r for r in self.client.orders(status) if jeopardy is None or r["jeopardy"] == jeopardy]
        return [
            {
                "id": r["id"], "status": r["status"], "customer": r["customer"], "external_id": r["external_id"], "jeopardy": r["jeopardy"], "created_at": r["started"].strftime("%Y-%m-%dT%H:%M:%SZ"),
                **({"submitted_by": r["submitted_by"]} if "submitted_by" in r else {}),  # (an order from the CLI has none)
            }
            for r in rows
        ]

    def history(self, order_id: str) -> list[dict]:
        with self._calls():
            rows = self.client.history(order_id)
        return [{"seq": n, "at": show_instant(h["at"]), "subject": h["subject"], "from": h["from"], "to": h["to"], "cause": h["cause"]} for n, h in enumerate(rows, 1)]

    def order_document(self, order_id: str) -> Optional[dict]:
        """The request document of the revision in force, as the workflow keeps it."""
        with self._calls():
            return self.client.request(order_id)

    def manual_tasks(self, queue: Optional[str] = None, order_id: Optional[str] = None) -> list[dict]:
        unanswered: list = []
        with self._calls():
            rows = self.client.open_manual_tasks(queue, order_id, unanswered)
        for oid, why in unanswered:
            self.warnings.append(f"order {oid} did not answer (is a worker polling task queue {self.task_queue}?): {why}")
        return [{"order": r[0], "task": r[1], "name": r[2], "product": r[3], "queue": r[4]} for r in rows]

    def installed_base(self, customer: Optional[str] = None, inventory: bool = False) -> list[dict]:
        """Assets (or inventory) of one customer's installed base, or of every customer's, as the embedded store lists them."""
        with self._calls():
            states = [self.client.installed_state(c) for c in ([customer] if customer else self.client.customers())]
        data = []
        for state in states:
            if inventory:
                data += [
                    {"id": f"INV-{k}", "customer": v["customer"], "asset": v["asset"], "product": v["product"], "attributes": v["attributes"], "outputs": v["outputs"], "order": v["order"], "line": v["line"], "status": v["status"]}
                    for k, v in state["inventory"].items()
                ]
            else:
                data += [{"id": a["id"], "customer": a["customer"], "product": a["product"], "attributes": a["attributes"], "parent": a["parent"], "order": a["order"], "status": a["status"]} for a in state["assets"].values()]
        return sorted(data, key=lambda d: d["id"])

    def stats(self) -> dict:
        """Orders by state and jeopardy from the workflows' memos (one listing);
        the tasks of running orders by a query of each (one that does not answer
        is left out, and counted: "unanswered"). No outbox, no deliveries, no held
        calls: Temporal keeps its own queues; the workers count calls (`om worker --metrics`)."""
        from collections import Counter

        with self._calls():
            rows = self.client.orders()
            views = self.client.views([r["id"] for r in rows if r["running"]])  # (not warnings: a long-running server would pile them up)
        unanswered = sum(v is None for v in views.values())
        tasks = Counter((t["status"], t["type"]) for v in views.values() if v is not None for t in v["tasks"])
        return {
            "orders": {**dict.fromkeys(S.ORDER_STATES, 0), **Counter(r["status"] for r in rows if r["status"])},
            "jeopardy": {**dict.fromkeys((S.GREEN, S.YELLOW, S.RED), 0), **Counter(r["jeopardy"] for r in rows if r["running"] and r["jeopardy"])},
            "tasks": [{"state": s, "type": t, "count": n} for (s, t), n in sorted(tasks.items())],
            "unanswered": unanswered,
        }

    def merge_installed(self, customer: Optional[str], state: dict) -> None:
        """Add a customer's assets and lines (from another engine's store) to Temporal's installed base."""
        with self._calls():
            self.client.merge_installed(customer, state)
