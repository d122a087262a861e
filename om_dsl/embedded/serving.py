"""`om serve`'s embedded service: one store for the API's requests and the
work loop (`Shared`), in each of its processes (`om serve --workers`: every
process accepts orders; the first also runs the loop)."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Optional

from om_dsl import service as svc
from om_dsl.embedded.lock import RunnerBusy, others_waiting, runner_lock
from om_dsl.embedded.service import EmbeddedOrders, Options, _request
from om_dsl.embedded.store import check_location

STEP_COMMANDS = 8  # commands `om serve`'s loop executes per turn of the lock (each its own commit)


class Shared:
    """The service `om serve` gives its API: one `EmbeddedOrders`, each call
    under a thread lock and the runner lock, so the API's request threads and
    the work loop take turns, and other om processes (`om run`, `om tasks
    complete`) run between calls. A call returns once its transaction has
    committed: a submitted order is durable before the API answers 201.
    Every OrderService method is here (by delegation)."""

    def __init__(self, orders: EmbeddedOrders, db_path: str, wait_s: float = 30.0):
        self.inner, self.db_path, self.wait_s = orders, db_path, wait_s
        orders.act_step = STEP_COMMANDS
        self.lock = threading.Lock()
        self.wake = threading.Event()  # work came in (an order, a callback): the loop goes now
        self.callbacks = None
        self._queue: list = []  # orders waiting for the next batch (`submit`)
        self._queue_lock = threading.Lock()
        self._leader = threading.Lock()  # held by the request that submits the queue
        self._reader, self._reader_lock = None, threading.Lock()  # planning's connection (`_installed`)
        self._just = threading.local()  # .accepted: (order id, its ProductOrder) of this thread's last submit, until its next call

    @property
    def on_event(self):
        return self.inner.on_event

    @on_event.setter
    def on_event(self, value) -> None:
        self.inner.on_event = value

    @contextlib.contextmanager
    def using(self):
        clock, store = self.inner.clock, self.inner.store
        with self.lock:
            try:
                with runner_lock(self.db_path, wait_s=self.wait_s):
                    before = None
                    if clock.simulated:  # another command may have moved simulated time on
                        stored = store.meta("clock_ms")
                        if stored:
                            clock.advance_to(int(stored))
                        before = clock.now()
                    yield self.inner
                    if clock.simulated and clock.now() != before:  # (a commit only when time moved)
                        with store.transaction() as db:
                            store.set_meta(db, "clock_ms", str(clock.now()))
            except RunnerBusy as exc:
                raise svc.Unavailable(str(exc)) from None

    def submit(self, text: str, by: Optional[str] = None) -> tuple[str, str, list]:
        """The order is planned here, outside every lock (embedded/intake.py:
        requests, and `om serve --workers` processes, plan side by side), and
        its ProductOrder rendered; then kept. Orders submitted at the same time
        share one commit (group commit: one fsync for many): each request
        queues its order, and whichever takes the lock first keeps every queued
        one in one batch. Each answers once the batch has committed."""
        from om_dsl.embedded import intake

        self._just.accepted = None
        prepared = intake.prepare(self.inner.runner, text, by=by, installed=self._installed(), rows=True)  # Rejected (nothing kept): no readable id
        rendered = self._render(prepared)
        mine = _Queued(prepared)
        with self._queue_lock:
            self._queue.append(mine)
        while not mine.done.is_set():
            with self._leader:  # one request at a time submits the queue; the others wait for it
                if mine.done.is_set():  # the one before took ours
                    break
                with self.using() as orders:
                    with self._queue_lock:
                        batch, self._queue = self._queue, []
                    self._submit_batch(orders, batch)
        # (the loop starts it on its next round: within --interval)
        if mine.error is not None:
            raise mine.error
        if rendered is not None and prepared.kept:  # what product_order answers next, on this thread, for it: without the lock
            self._just.accepted = (prepared.order_id, rendered)
        return mine.result

    def _installed(self):
        """The installed base as planning outside the lock reads it: a read-only connection of its own, one reader at a time."""
        from om_dsl.embedded import intake
        from om_dsl.embedded.store import Store, StoreInstalledBase

        with self._reader_lock:
            if self._reader is None:
                self._reader = Store(self.db_path, create=False, write=False, shared=True)
        return intake.Recorded(StoreInstalledBase(self._reader), self._reader_lock)

    @staticmethod
    def _render(prepared) -> Optional[dict]:
        """The ProductOrder of an order as it is accepted (rendered before the lock, from the state it starts with)."""
        if prepared.step is None:
            return None
        from om_dsl.tmf622 import resource

        return resource.product_order(prepared.step.run, _request(prepared.text), owned=True)  # (parsed here: nobody else holds it)

    def product_order(self, order_id: str) -> dict:
        """The ProductOrder; of the order this thread's last call submitted, as rendered then
        (`submit`; the API answers a POST so), else as the store has it now."""
        just, self._just.accepted = getattr(self._just, "accepted", None), None
        if just is not None and just[0] == order_id:
            return just[1]
        with self.using() as orders:
            return orders.product_order(order_id)

    @staticmethod
    def _submit_batch(orders: EmbeddedOrders, batch: list) -> None:
        from om_dsl.embedded import intake

        try:
            with orders.store.batch():
                answers = intake.accept_all(orders.runner, [q.prepared for q in batch])
            for q, answer in zip(batch, answers):
                if isinstance(answer, Exception):
                    q.error = answer
                else:
                    q.result = answer
        except BaseException as exc:  # the batch did not commit: no order of it was accepted
            orders.catalogs.remembered = False  # (it may have been remembered in the batch)
            orders.runner._forget()  # (nor are the orders it held)
            for q in batch:
                q.error = exc if isinstance(exc, Exception) else svc.Unavailable("the server is stopping: the order was not kept, send it again")
                q.prepared.kept = False
            if not isinstance(exc, Exception):
                raise
        finally:
            for q in batch:
                q.done.set()

    def __getattr__(self, name: str):
        attr = getattr(self.inner, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            self._just.accepted = None  # (product_order right after submit only)
            with self.using() as orders:
                answer = getattr(orders, name)(*args, **kwargs)
            if name in ("amend", "request_cancellation", "subscribe", "complete_task", "retry_task", "skip_task", "resume", "cancel", "release"):
                self.wake.set()
            return answer

        return call

    def stats(self) -> dict:
        """On a read-only connection of its own: a scrape waits neither for `om run` nor for the loop's step (a slow system's call)."""
        from om_dsl.embedded.store import Store

        with contextlib.closing(Store(self.db_path, create=False, write=False)) as reader:
            return reader.stats()

    def work(self, interval_s: float, stop: threading.Event) -> None:
        """Drive every order (callbacks, retries, waits, event deliveries)
        until `stop`, a short step of the runner per turn (at most
        STEP_COMMANDS commands): the API's requests get the lock between
        steps, so a busy loop delays a request by one short step, not by all
        the work there is. Order events are POSTed to listeners outside the
        locks. (Calls to downstream systems are made inside a step: a slow
        system delays requests by up to its timeout.)"""
        from om_dsl.embedded.runner import post_delivery

        while not stop.is_set():
            more, due = False, []
            try:
                with self.using() as orders:
                    orders.runner.on_event = orders._progress
                    orders.runner.drive(max_steps=1, max_commands=STEP_COMMANDS, deliver=False)
                    more = bool(orders.store.pending_commands())
                    due = orders.runner.due_deliveries()
                for delivery in due:  # POSTed outside the locks: a slow listener holds up no request
                    error = post_delivery(delivery)
                    with self.using() as orders:
                        more |= orders.runner.record_delivery(delivery, error)  # (its order's next event may be due now)
            except svc.Unavailable:
                pass  # another process holds the runner lock: the next round
            if more:
                time.sleep(0.001)  # a request waiting for the lock takes it now
                for _ in range(100):  # ... and one in another process (`om serve --workers`), for up to 0.2 s
                    if not others_waiting(self.db_path):
                        break
                    time.sleep(0.002)
                continue
            waited = 0.0
            while not stop.is_set() and waited < interval_s and not self.wake.wait(min(0.5, interval_s - waited)):
                waited += 0.5  # (in slices: a stop is seen within half a second)
            self.wake.clear()

    def close(self) -> None:
        with self.lock:
            if self._reader is not None:
                self._reader.close()
            self.inner.close()


class _Queued:
    def __init__(self, prepared):
        self.prepared = prepared
        self.result, self.error = None, None
        self.done = threading.Event()


@contextlib.contextmanager
def serving(options: Options, rules):
    """`om serve`'s service: the store opened (and migrated) under the runner
    lock, then shared; `.callbacks` is its callback endpoint (into the store's
    inbox, waking the work loop), `.work(interval, stop)` its loop."""
    from om_dsl.systems.receiver import Callbacks

    check_location(options.db_path, create=True)  # before the lock file is made beside it
    try:
        with runner_lock(options.db_path):
            orders = EmbeddedOrders.open(options, rules, shared=True)
    except RunnerBusy as exc:
        raise svc.Unavailable(str(exc)) from None
    if orders.clock.simulated:  # kept at once: other commands read where simulated time stands (Shared saves it only when it moves)
        with orders.store.transaction() as db:
            orders.store.set_meta(db, "clock_ms", str(orders.clock.now()))
    shared = Shared(orders, options.db_path)
    try:
        shared.callbacks = Callbacks(options.db_path, clock=orders.clock.now, on_callback=shared.wake.set, secret=orders.config.callback_secret)
    except BaseException:
        shared.close()
        raise
    try:
        yield shared
    finally:
        shared.callbacks.close()
        shared.close()


