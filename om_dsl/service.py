"""The order service: what a front end (the CLI, the TMF622 API, the
operator console) can ask of the engine that runs the orders.

Two implementations: `om_dsl.embedded.service.EmbeddedOrders` drives the
SQLite store in this process; `om_dsl.temporal.client.TemporalOrders` talks
to a Temporal cluster whose workers run the orders. A front end picks one
(`om_dsl.cli.engines.order_service`) and never asks which it got.

Results are plain JSON-ready data, the shapes `om ... --format json` prints
(documented per method). Failures are the exceptions below, which a front end
maps to its own exit codes or HTTP statuses; a planning rejection
(`om_dsl.planning.order.Rejected`) passes through as it is.
"""

from __future__ import annotations

from typing import Callable, Iterable, Optional, Protocol

# ---- what goes wrong ------------------------------------------------------------------------------


class ServiceError(Exception):
    """A request the service did not carry out."""


class NoOrder(ServiceError):
    """No order has this id (the message names the closest one, if any)."""


class Refused(ServiceError):
    """The order refused the action (past a point of no return, no such open
    task, not held...): the message says why; nothing changed."""


class Unavailable(ServiceError):
    """The engine cannot act now (the database is busy with another runner, the
    cluster does not answer): nothing was done, try again."""


class Misconfigured(ServiceError):
    """The deployment configuration or an option cannot be used."""


# ---- the protocol ---------------------------------------------------------------------------------

OnEvent = Callable[[str, list], None]  # (order id, history lines) while orders run here


class OrderService(Protocol):
    """One engine's orders. Actions record who acted and why in the order's
    history; each answers {"status", ...} as the order stands after it."""

    on_event: Optional[OnEvent]
    warnings: list  # what a front end should show beside an answer (an order that did not answer a listing)

    # ---- submitting and running
    def submit(self, text: str, by: Optional[str] = None) -> tuple[str, str, list]:
        """A TMF622 order: (order id, status, problems). A rejected order with an
        id is kept (status "rejected"); one without raises `Rejected`. An order
        that depends on others (`orderRelationship`) is refused here when one is
        unknown, ended badly or the wait would form a cycle. `by`: who
        submitted it (the API's token name), kept with the order where the
        engine can (`order()["submitted_by"]`, and in `orders()`; absent when
        none was given)."""

    def settle(self, order_ids: Iterable[str]) -> list[dict]:
        """Let the orders go as far as they can now, then report each:
        {"id", "status", "tasks"?, "note"?} (embedded: run them here, until they
        wait; Temporal: workers run them, the note says where)."""

    def resume_all(self) -> list[str]:
        """Continue every unfinished order's due work; their ids."""

    # ---- operator actions
    def complete_task(self, order_id: str, task_id: str, data: dict, by: str) -> dict: ...
    def retry_task(self, order_id: str, task_id: str, by: str, reason: str = "") -> dict: ...
    def skip_task(self, order_id: str, task_id: str, by: str, reason: str) -> dict: ...
    def claim_task(self, order_id: str, task_id: str, by: str, reason: str = "") -> dict:
        """Take an open manual task from its queue (`claimed_by` in its task
        entry, a history line with who and why); Refused when another has it."""
    def resume(self, order_id: str, by: str, reason: str = "") -> dict: ...
    def cancel(self, order_id: str, by: str, reason: str = "", force: bool = False) -> dict: ...
    def release(self, order_id: str, by: str) -> dict:
        """A draft order (TMF622 v5 requestedInitialState: draft) starts; Refused when it is not a draft."""
    def amend(self, order_id: str, text: str, by: str, force: bool = False) -> dict: ...

    def give_up(self, order_id: str, by: str, reason: str) -> dict:
        """Give a held order up: what did not complete is undone, and it ends
        partial (some items completed) or failed (none did)."""

    def deliver_callback(self, correlation_id: str, outputs: dict, ok: bool = True, message: str = "", callback_id: Optional[str] = None) -> dict:
        """An asynchronous call's answer: {"delivered": bool (False: seen before),
        "order": the order id, or None when no call has this correlation id}."""

    # ---- downstream systems (taken offline: the embedded engine's; on Temporal,
    # workers take systems from their configuration) and the hub (both engines)
    def set_system(self, system: str, offline: bool, by: str) -> list[str]:
        """Take a system offline (its calls wait on hold) or bring it back; the
        tasks whose held calls went out again."""

    def system_changes(self) -> list[dict]:
        """Systems an operator took offline or brought back: {"system", "offline", "since", "by"}."""

    def register_listener(self, url: str) -> bool: ...
    def unregister_listener(self, url: str) -> bool: ...
    def listeners(self) -> list[str]: ...

    def subscribe(self, callback: str, query: Optional[str], owner: Optional[str]) -> dict:
        """A hub subscription (TMF622 POST /hub): {"id", "callback", "query"}.
        Events go to the callback when they match the query
        (`om_dsl.engine.hub`); with an owner, only events of the orders it
        submitted. The same callback again keeps its id, takes the new query."""

    def unsubscribe(self, subscription_id: str) -> bool:
        """False when no subscription has this id."""

    def subscriptions(self) -> list[dict]:
        """{"id", "callback", "query", "owner"} of every listener, `om hub register`'s too."""

    def request_cancellation(self, order_id: str, by: str, reason: str = "", force: bool = False) -> dict:
        """A cancellation request (TMF622 CancelProductOrder), kept: it cancels
        the order as `cancel` does, and answers {"id", "order", "state",
        "reason", "by", "message"?, "requested_at", "updated_at"} with state
        done, inProgress (compensation running) or terminatedWithError (refused:
        the message says why). NoOrder when the order is not known."""

    def cancellations(self, cancel_id: Optional[str] = None) -> list[dict]:
        """Cancellation requests, oldest first (one, or none, with an id)."""

    def notifications(self, order_id: Optional[str] = None, pending: bool = False) -> list[dict]:
        """Order events and where they went: {"event", "type", "order", "state", "listener", "status", "attempts", ...}."""

    # ---- reading
    def order(self, order_id: str) -> dict:
        """{"id", "status", "customer", "external_id", "tasks": [...], "catalog",
        "catalog_version", "jeopardy", "revision", "revisions"?, "waits_for"?, "problems"?}
        (`om orders show`; each task's fields: docs/running.md;
        "waits_for": the other orders it waits for, docs/order-dependencies.md)."""

    def orders(self, status: Optional[str] = None, jeopardy: Optional[str] = None) -> list[dict]:
        """{"id", "status", "customer", "external_id", "created_at", "jeopardy", ...}, oldest first."""

    def product_order(self, order_id: str) -> dict:
        """The order as a TMF622 ProductOrder, in the version it came in
        (`om orders show --format tmf622`; om_dsl.tmf622.resource)."""

    def history(self, order_id: str) -> list[dict]:
        """{"seq", "at", "subject", "from", "to", "cause"}, in order."""

    def order_document(self, order_id: str) -> Optional[dict]:
        """The TMF622 order as it stands (its last revision not refused), as
        submitted; None when the engine does not keep it."""

    def manual_tasks(self, queue: Optional[str] = None, order_id: Optional[str] = None) -> list[dict]:
        """Open manual tasks: {"order", "task", "name", "product", "queue"}."""

    def installed_base(self, customer: Optional[str] = None, inventory: bool = False) -> list[dict]:
        """Commercial assets, or the technical inventory, of completed orders."""

    def stats(self) -> dict:
        """What /metrics reports (om_dsl.observe.metrics), read now: {"orders":
        {state: n} (every state, 0 included), "jeopardy": {level: n} (unfinished orders; each level), "tasks": [{"state",
        "type", "count"}] (of unfinished orders), "held": {system: n}, and where the
        engine keeps them "outbox": n, "deliveries": {"pending", "failing"},
        "calls": [{"system", "operation", "outcomes", "retries", "buckets", "sum",
        "count"}] (om_dsl.observe.calls; on Temporal the workers count calls),
        "unanswered": n (Temporal: running orders whose tasks were not read)}."""

    def close(self) -> None: ...
