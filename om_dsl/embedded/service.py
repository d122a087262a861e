"""The embedded engine's order service: the SQLite store, its runner and the
downstream systems, in this process (`om_dsl.service.OrderService`).

A service that acts holds the runner lock for its lifetime (`acting`), so
the store has one writer and the simulated clock is read and saved under
the lock; one that only reads opens the store read-only (`reading`) and
never creates, migrates or locks it. `Shared` is `om serve`'s: the API's
requests and the work loop share one service, taking the lock for each call
and each round of work only, so other commands run meanwhile.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path
from typing import Iterable, Optional

import attrs

from om_dsl import service as svc
from om_dsl.embedded.catalogs import Catalogs
from om_dsl.embedded.clock import SimulatedClock, SystemClock, show_instant
from om_dsl.embedded.lock import RunnerBusy, runner_lock
from om_dsl.embedded.runner import Runner
from om_dsl.embedded.store import Store, check_location, store_error
from om_dsl.engine.core import Rejection
from om_dsl.suggest import no_such


@attrs.frozen
class Options:
    """Where the embedded engine keeps its orders, and how it runs them."""

    db_path: str = "om.db"
    systems_db: Optional[str] = None  # default: DB with .systems before its suffix
    clock: Optional[str] = None  # "system" | "simulated"; default: the mode the database last ran with
    start: Optional[int] = None  # with a simulated clock: the instant (ms) it starts at, at the earliest
    tasks_path: tuple = ()
    sync: str = "FULL"
    config_path: Optional[str] = None

    @property
    def systems_path(self) -> str:
        if self.systems_db:
            return self.systems_db
        p = Path(self.db_path)
        return str(p.with_name(p.stem + ".systems" + (p.suffix or ".db")))


class EmbeddedOrders:
    """Orders in one SQLite store. Made by `acting` or `reading`."""

    def __init__(self, store: Store, db_path: str, runner: Optional[Runner] = None, catalogs: Optional[Catalogs] = None, config=None, clock=None, systems=None):
        self.store, self.db_path, self.runner = store, db_path, runner
        self.catalogs = runner.catalogs if runner is not None else catalogs
        self.config, self.clock, self.systems = config, clock, systems
        self.on_event = None
        self.warnings: list[str] = []  # (the Temporal service's listings may leave out orders that do not answer; these never do)
        self.act_step: Optional[int] = None  # `om serve` (Shared): an action runs at most so many commands, the loop the rest

    # ---- opening ------------------------------------------------------------------------------------

    @classmethod
    def open(cls, options: Options, rules=None, must_exist: bool = False, shared: bool = False) -> "EmbeddedOrders":
        """Open the store and what runs its orders (the caller holds the runner lock).
        `shared`: used from several threads, one at a time (`Shared`)."""
        from om_dsl.simulate.simulators import Simulators
        from om_dsl.systems import config as configuration
        from om_dsl.systems.adapters import PythonTasks, Systems

        try:
            known = {x.name: {o.name for o in x.operations} for x in rules.catalog.systems} if rules is not None else None
            config = configuration.load(options.config_path, known_systems=known)
        except configuration.ConfigError as exc:
            raise svc.Misconfigured(str(exc)) from None
        store = Store(options.db_path, synchronous=options.sync, create=not must_exist, shared=shared)
        stored_mode = store.meta("clock")
        mode = options.clock or stored_mode or "system"
        if options.start is not None and mode != "simulated":
            store.close()
            raise svc.Misconfigured("--start needs --clock simulated: the system clock cannot be set")
        if mode == "simulated":
            stored = store.meta("clock_ms")
            candidates = [c for c in (int(stored) if stored else None, options.start) if c is not None]
            clock = SimulatedClock(max(candidates or [SystemClock().now()]))
        else:
            clock = SystemClock()
        if mode != stored_mode:
            with store.transaction() as db:
                store.set_meta(db, "clock", mode)
        check_location(options.systems_path, create=True)
        try:
            systems = Systems(config, Simulators(options.systems_path, synchronous=options.sync), callback_secret=store.callback_secret)  # as durable as the engine (--sync)
        except sqlite3.Error as exc:
            store.close()
            raise store_error(exc, options.systems_path) from None
        runner = Runner(store, Catalogs(store, rules), systems, PythonTasks(tuple(os.path.abspath(p) for p in options.tasks_path)), clock)
        return cls(store, options.db_path, runner, config=config, clock=clock, systems=systems)

    def close(self) -> None:
        if self.runner is not None:
            if self.clock.simulated:
                with self.store.transaction() as db:
                    self.store.set_meta(db, "clock_ms", str(self.clock.now()))
            self.systems.close()
        self.store.close()

    # ---- submitting and running -----------------------------------------------------------------------

    def _progress(self, order_id: str, history: list) -> None:
        if self.on_event is not None:
            self.on_event(order_id, history)

    def _drive(self) -> None:
        self.runner.on_event = self._progress
        self.runner.drive()

    def submit(self, text: str, by: Optional[str] = None) -> tuple[str, str, list]:
        self.runner.on_event = self._progress
        return self.runner.submit(text, by=by)

    def settle(self, order_ids: Iterable[str]) -> list[dict]:
        self._drive()
        return [self.order(order_id) for order_id in order_ids]

    def resume_all(self) -> list[str]:
        self._drive()
        return self.store.unfinished_orders()

    # ---- operator actions ---------------------------------------------------------------------------

    def _act(self, order_id: str, action) -> dict:
        """Apply an operator action to an order, then run the order on; the
        order as it stands then (its progress went to `on_event`)."""
        if not self.store.order_exists(order_id):
            raise self._no_order(order_id)
        self.runner.on_event = self._progress
        try:
            action(self.runner)
        except Rejection as exc:
            raise svc.Refused(str(exc)) from None
        if self.act_step is None:
            self._drive()
        else:  # `om serve`: one short step here, the work loop does the rest (a request does not run every order's backlog)
            self.runner.drive(max_steps=1, max_commands=self.act_step, deliver=False)
        return self.order(order_id)

    def complete_task(self, order_id: str, task_id: str, data: dict, by: str) -> dict:
        return self._act(order_id, lambda r: r.complete_manual(order_id, task_id, data, by))

    def retry_task(self, order_id: str, task_id: str, by: str, reason: str = "") -> dict:
        return self._act(order_id, lambda r: r.retry_task(order_id, task_id, by, reason))

    def skip_task(self, order_id: str, task_id: str, by: str, reason: str) -> dict:
        return self._act(order_id, lambda r: r.skip_task(order_id, task_id, by, reason))

    def claim_task(self, order_id: str, task_id: str, by: str, reason: str = "") -> dict:
        return self._act(order_id, lambda r: r.claim_task(order_id, task_id, by, reason))

    def resume(self, order_id: str, by: str, reason: str = "") -> dict:
        return self._act(order_id, lambda r: r.resume_order(order_id, by, reason))

    def cancel(self, order_id: str, by: str, reason: str = "", force: bool = False) -> dict:
        return self._act(order_id, lambda r: r.cancel(order_id, by, reason, force))

    def release(self, order_id: str, by: str) -> dict:
        return self._act(order_id, lambda r: r.release(order_id, by))

    def amend(self, order_id: str, text: str, by: str, force: bool = False) -> dict:
        from om_dsl.planning.order import Rejected

        try:
            return self._act(order_id, lambda r: r.amend(order_id, text, by, force))
        except Rejected:
            self._drive()  # a refused revision of a draft has an event to send (information required)
            raise

    def give_up(self, order_id: str, by: str, reason: str) -> dict:
        return self._act(order_id, lambda r: r.fail(order_id, by, reason))

    def deliver_callback(self, correlation_id: str, outputs: dict, ok: bool = True, message: str = "", callback_id: Optional[str] = None) -> dict:
        order_id = self.store.order_of_call(correlation_id)
        fresh = self.runner.deliver_callback(correlation_id, outputs, ok, message, callback_id)
        self._drive()
        if not fresh:
            return {"delivered": False, "order": order_id}
        if order_id is None:  # it may come before its call is known: kept in the inbox
            return {"delivered": True, "order": None, "note": f"no call has the correlation id {correlation_id}: recorded and ignored"}
        return {"delivered": True, "order": order_id, "orders": [self.order(order_id)]}

    # ---- systems and the hub ------------------------------------------------------------------------

    def set_system(self, system: str, offline: bool, by: str) -> list[str]:
        known = self.store.known_systems()
        if known and system not in known:
            raise svc.Refused(f"no system {system!r} in the catalogs of this database (its systems: {', '.join(sorted(known))})")
        self.runner.on_event = self._progress
        moved = self.runner.set_system(system, offline, by)
        self._drive()
        return moved

    def system_changes(self) -> list[dict]:
        return [{"system": r["name"], "offline": bool(r["offline"]), "since": show_instant(r["changed_at"]), "by": r["changed_by"]} for r in self.store.system_changes()]

    def register_listener(self, url: str) -> bool:
        with self.store.transaction() as db:
            return self.store.register(db, url, self.clock.now() if self.clock else SystemClock().now())

    def unregister_listener(self, url: str) -> bool:
        with self.store.transaction() as db:
            return self.store.unregister(db, url)

    def listeners(self) -> list[str]:
        return self.store.listeners()

    def _now(self) -> int:
        return self.clock.now() if self.clock else SystemClock().now()

    def subscribe(self, callback: str, query: Optional[str], owner: Optional[str]) -> dict:
        with self.store.transaction() as db:
            sub_id = self.store.subscribe(db, callback, query or None, owner, self._now())
        return {"id": str(sub_id), "callback": callback, "query": query or None}

    def unsubscribe(self, subscription_id: str) -> bool:
        if not subscription_id.isdigit() or len(subscription_id) > 18:
            return False
        with self.store.transaction() as db:
            return self.store.unsubscribe(db, int(subscription_id))

    def subscriptions(self) -> list[dict]:
        return [{"id": str(i), "callback": c, "query": q, "owner": o} for i, c, q, o in self.store.subscriptions()]

    def request_cancellation(self, order_id: str, by: str, reason: str = "", force: bool = False) -> dict:
        if not self.store.order_exists(order_id):
            raise self._no_order(order_id)
        now = self._now()
        with self.store.transaction() as db:  # kept before it acts: a request is never lost
            cancel_id = f"CAN-{self.store.cancellation_count() + 1}"
            self.store.add_cancellation(db, cancel_id, order_id, by, reason, now)
        try:
            after = self.cancel(order_id, by, reason or "cancelled over the API", force)
            state, message = ("done" if after["status"] == "cancelled" else "inProgress"), None
        except svc.Refused as exc:
            state, message = "terminatedWithError", str(exc)
        with self.store.transaction() as db:
            self.store.set_cancellation(db, cancel_id, state, message, self._now())
        return self.cancellations(cancel_id)[0]

    def cancellations(self, cancel_id: Optional[str] = None) -> list[dict]:
        out = []
        for r in self.store.cancellations(cancel_id):
            state = r["state"]
            if state in ("acknowledged", "inProgress"):  # it goes on after the request answered: read where it is
                row = self.store.order_row(r["order_id"])
                state = "done" if row is not None and row["status"] == "cancelled" else "inProgress"
            entry = {"id": r["id"], "order": r["order_id"], "state": state, "reason": r["reason"] or "", "by": r["by"], "requested_at": show_instant(r["requested_at"]), "updated_at": show_instant(r["updated_at"])}
            if r["message"]:
                entry["message"] = r["message"]
            out.append(entry)
        return out

    def notifications(self, order_id: Optional[str] = None, pending: bool = False) -> list[dict]:
        out = []
        for seq, event_id, order, listener, payload, status, attempts, next_try_at, last_error, delivered_at in self.store.deliveries(order_id, "pending" if pending else None):
            event = self.store.decode(payload, f"notification {seq}")
            about = event.get("event", {})
            state = (about.get("productOrder") or about.get("cancelProductOrder") or {}).get("state")  # a cancellation's events: the cancellation's state
            entry = {"event": event_id, "type": event.get("eventType"), "order": order, "state": state, "listener": listener, "status": status, "attempts": attempts}
            if status == "pending":
                entry["next_try_at"] = show_instant(next_try_at)
                if last_error:
                    entry["last_error"] = last_error
            else:
                entry["delivered_at"] = show_instant(delivered_at)
            out.append(entry)
        return out

    # ---- reading ------------------------------------------------------------------------------------

    def _no_order(self, order_id: str) -> svc.NoOrder:
        return svc.NoOrder(no_such("order", order_id, self.store.order_ids(), self.db_path))

    def order(self, order_id: str) -> dict:
        from om_dsl.engine.view import catalog_version, revision_state, task_entries, wait_entries

        row = self.store.order_row(order_id)
        if row is None:
            raise self._no_order(order_id)
        out = {"id": order_id, "status": row["status"], "customer": row["customer"], "external_id": row["external_id"], "created_at": show_instant(row["created_at"]), "updated_at": show_instant(row["updated_at"])}
        if row["submitted_by"] is not None:  # who submitted it over the API (an order from the CLI has none)
            out["submitted_by"] = row["submitted_by"]
        if row["problems"]:
            out["problems"] = self.store.decode(row["problems"], f"the problems of order {order_id!r}")
        run = self.store.load(order_id)
        out["tasks"] = []
        if run is not None:
            engine = self.catalogs.engine(run.catalog)
            out["tasks"] = task_entries(engine, run)
            out["catalog"], out["catalog_version"] = run.catalog, catalog_version(engine)
            out["jeopardy"] = run.jeopardy
            out["revision"] = run.revision
            if run.waits_for:
                out["waits_for"] = wait_entries(run)
            revisions = self.store.revisions(order_id)
            if revisions:
                out["revisions"] = [
                    {"revision": r["revision"], "status": revision_state(run, r["revision"], r["status"]), **({"reason": r["reason"]} if r["reason"] else {}), "by": r["by"], "received_at": show_instant(r["received_at"])}
                    for r in revisions
                ]
        return out

    def product_order(self, order_id: str) -> dict:
        from om_dsl.tmf622 import resource

        row = self.store.order_row(order_id)
        if row is None:
            raise self._no_order(order_id)
        run = self.store.load(order_id)
        if run is None:  # rejected at intake: it never ran
            return resource.rejected_order(order_id, _request(row["document"]), row["created_at"], row["external_id"])
        return resource.product_order(run, _request(self.store.revision_document(order_id, run.revision)), owned=True)  # the revision in force (parsed here)

    def orders(self, status: Optional[str] = None, jeopardy: Optional[str] = None) -> list[dict]:
        return [
            {
                "id": r["id"], "status": r["status"], "customer": r["customer"], "external_id": r["external_id"],
                "created_at": show_instant(r["created_at"]), "updated_at": show_instant(r["updated_at"]), "jeopardy": r["jeopardy"],
                **({"submitted_by": r["submitted_by"]} if r["submitted_by"] is not None else {}),  # (an order from the CLI has none)
            }
            for r in self.store.orders(status, jeopardy)
        ]

    def history(self, order_id: str) -> list[dict]:
        if not self.store.order_exists(order_id):
            raise self._no_order(order_id)
        return [{"seq": r["seq"], "at": show_instant(r["at"]), "subject": r["subject"], "from": r["from_state"], "to": r["to_state"], "cause": r["cause"]} for r in self.store.history(order_id)]

    def order_document(self, order_id: str) -> Optional[dict]:
        if not self.store.order_exists(order_id):
            raise self._no_order(order_id)
        run = self.store.load(order_id)  # the revision in force (a rejected order never ran: its document)
        return _request(self.store.revision_document(order_id, run.revision if run is not None else 1))

    def manual_tasks(self, queue: Optional[str] = None, order_id: Optional[str] = None) -> list[dict]:
        return [{"order": r["order_id"], "task": r["item_id"], "name": r["name"], "product": r["product"], "queue": r["queue"]} for r in self.store.open_manual_tasks(queue, order_id)]

    def installed_base(self, customer: Optional[str] = None, inventory: bool = False) -> list[dict]:
        store = self.store
        if inventory:
            return [
                {
                    "id": r["id"], "customer": r["customer"], "asset": r["asset_id"], "product": r["product"],
                    "attributes": store.decode(r["attributes"], f"inventory line {r['id']!r}"), "outputs": store.decode(r["outputs"], f"inventory line {r['id']!r}"),
                    "order": r["order_id"], "line": r["line"], "status": r["status"],
                }
                for r in store.inventory(customer)
            ]
        return [
            {"id": r["id"], "customer": r["customer"], "product": r["product"], "attributes": store.decode(r["attributes"], f"asset {r['id']!r}"), "parent": r["parent"], "order": r["order_id"], "status": r["status"]}
            for r in store.assets(customer)
        ]

    def stats(self) -> dict:
        return self.store.stats()

    def installed_states(self) -> dict:
        """Every customer's installed base as plain data (to copy into another engine)."""
        return self.store.installed_states()


# ---- opening, for a front end -------------------------------------------------------------------------


@contextlib.contextmanager
def acting(options: Options, rules=None, must_exist: bool = False):
    """The service that runs orders: it holds the runner lock until closed."""
    check_location(options.db_path, create=not must_exist)  # before the lock file is made beside it
    try:
        with runner_lock(options.db_path):
            orders = EmbeddedOrders.open(options, rules, must_exist)
            try:
                yield orders
            finally:
                orders.close()
    except RunnerBusy as exc:
        raise svc.Unavailable(str(exc)) from None


@contextlib.contextmanager
def reading(options: Options, write: bool = False):
    """The service over an existing store, read-only (unless `write`: the hub's
    list of listeners): it never creates, migrates or locks the database."""
    store = Store(options.db_path, create=False, write=write)
    try:
        yield EmbeddedOrders(store, options.db_path, catalogs=Catalogs(store))
    finally:
        store.close()


def installed_base_of(db_path: str):
    """An existing store's installed base, read-only: what `om plan --db` and
    `om graph --db` plan modify and delete orders against."""
    from om_dsl.embedded.store import StoreInstalledBase

    return StoreInstalledBase(Store(db_path, create=False, write=False))


# ---- om serve ---------------------------------------------------------------------------------------


def serving(options: Options, rules):
    """`om serve`'s service (embedded/serving.py)."""
    from om_dsl.embedded.serving import serving as shared_service

    return shared_service(options, rules)


def _request(document: Optional[str]) -> Optional[dict]:
    """An order's request document as it was submitted (a rejected one may not be JSON: None)."""
    from om_dsl.limits import load_json

    try:
        doc = load_json(document) if document else None
    except ValueError:  # malformed, or past om's limits (InputLimit)
        return None
    return doc if isinstance(doc, dict) else None
