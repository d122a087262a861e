"""The embedded runner: drives orders through the engine core, with the
SQLite store, the system adapters and a clock.

Driving means: execute the commands in the outbox (call a system, run an
auto task, notify the originating system), collect callbacks of
asynchronous operations, and fire retries and waits that are due, each
result going back to the core as an event. Every event is applied in a
transaction that also marks its command done, so a crash anywhere leaves
either the old state with the command still to do (it is done again, with
the same idempotency key) or the new state with the command done. The
results of the commands found pending together are applied in one
transaction (`drive`): a crash before it commits redoes all of them, each
with its key, which is the same guarantee for fewer fsyncs.

One runner at a time works on a database: a lock file next to it keeps a
second one waiting (a killed runner's lock goes with its process). While it
works, the runner keeps the orders it drives in memory (`Runner._held`) and
writes only what each event changed; a change committed by another
connection (SQLite's data_version) makes it read them again.
"""

from __future__ import annotations

import collections
import contextlib
import json
from typing import Callable, Optional

from om_dsl.embedded.catalogs import Catalogs
from om_dsl.embedded.store import Store
from om_dsl.engine import commands as Cmd
from om_dsl.engine import core as C
from om_dsl.engine import executor, progress
from om_dsl.engine import state as S
from om_dsl.engine import waits as W
from om_dsl.engine.facts import dispatch_rank
from om_dsl.observe import calls as observed
from om_dsl.observe import tracing
from om_dsl.planning.intake import parse_document
from om_dsl.planning.order import Rejected
from om_dsl.planning.pipeline import plan_order
from om_dsl.planning.relationships import OtherOrder
from om_dsl.planning.relationships import check as check_prerequisites
from om_dsl.tmf622 import events as tmf_events

TASK_PACKAGES = "task_packages"  # meta: {package: the folder holding it}, of the catalogs orders were submitted with


class Runner:
    def __init__(self, store: Store, catalogs: Catalogs, systems, python_tasks, clock, on_event: Optional[Callable] = None):
        self.store = store
        self.catalogs = catalogs
        self.systems = systems
        self.python_tasks = python_tasks
        self.clock = clock
        self.on_event = on_event or (lambda order_id, history: None)
        self.ranks: dict = {}  # order id -> dispatch rank (its priority does not change)
        self._requests: dict = {}  # (order id, revision) -> its request document (request_of)
        self._held: collections.OrderedDict = collections.OrderedDict()  # order id -> its state, the most recently used last
        self._seen = None  # the store's data_version when `_held` was last known to be current
        self._held_tasks = 0  # (about: counted when each order was taken in)
        self._task_packages()

    HELD = 512  # orders kept in memory at most (the least recently used go first) ...
    HELD_TASKS = 200_000  # ... and tasks of those orders at most (a few big orders need not crowd out memory)

    def _run(self, order_id: str) -> Optional[S.OrderRun]:
        """The order's state as stored: from memory when no other connection
        committed since (`_writing` checks, and holds the write lock)."""
        run = self._held.get(order_id)
        if run is None:
            run = self.store.load(order_id)
            if run is None:
                return None
        self._hold(run)
        return run

    def _current(self) -> None:
        """Inside a write transaction: forget the orders held when another connection committed since (they may be stale)."""
        version = self.store.data_version()
        if version != self._seen:
            self._forget()
            self._seen = version

    _clock_kept = None  # the simulated time this runner last wrote (in a transaction that committed, unless forgotten since)

    def _forget(self) -> None:
        self._held.clear()
        self._held_tasks = 0
        self._clock_kept = None

    def _hold(self, run: S.OrderRun) -> None:
        held = self._held
        if run.id in held:
            held.move_to_end(run.id)
            return
        held[run.id] = run
        self._held_tasks += len(run.tasks)
        while len(held) > 1 and (len(held) > self.HELD or self._held_tasks > self.HELD_TASKS):
            _, gone = held.popitem(last=False)
            self._held_tasks -= len(gone.tasks)

    def _task_packages(self) -> None:
        """Where the auto tasks' packages are: the current catalog's (beside its
        compiled folder or its specs), then those the store remembers from the
        catalogs orders were submitted with, so that `om resume` or `om tasks
        complete` without a catalog runs them too."""
        add = getattr(self.python_tasks, "add_package", None)
        if add is None:
            return
        current = self._current_package()
        if current is not None:
            add(*current)
        try:
            remembered = json.loads(self.store.meta(TASK_PACKAGES) or "{}")
        except ValueError:
            remembered = {}
        for name, folder in sorted(remembered.items() if isinstance(remembered, dict) else ()):
            if isinstance(name, str) and isinstance(folder, str):
                add(name, folder)

    def _current_package(self) -> Optional[tuple]:
        rules = self.catalogs.current
        folder = getattr(rules, "tasks_folder", None) if rules is not None else None
        return (rules.catalog.tasks, folder) if folder and rules.catalog.tasks else None

    def _remember_package(self, db) -> None:
        current = self._current_package()
        if current is None:
            return
        try:
            remembered = json.loads(self.store.meta(TASK_PACKAGES) or "{}")
        except ValueError:
            remembered = {}
        if not isinstance(remembered, dict) or remembered.get(current[0]) != current[1]:
            remembered = dict(remembered) if isinstance(remembered, dict) else {}
            remembered[current[0]] = current[1]
            self.store.set_meta(db, TASK_PACKAGES, json.dumps(remembered, sort_keys=True))

    # ---- submitting an order ---------------------------------------------------------------------

    def submit(self, text: str, order_id: Optional[str] = None, by: Optional[str] = None):
        """Accept (plan and start) or reject an order document; returns (order id, status, problems).
        `by`: who submitted it (an API token's name), kept with the order. (embedded/intake.py:
        `om serve` plans orders outside the lock and keeps them under it.)"""
        from om_dsl.embedded import intake
        from om_dsl.embedded.store import StoreInstalledBase

        return intake.accept(self, intake.prepare(self, text, order_id, by, StoreInstalledBase(self.store)))

    # ---- applying events ------------------------------------------------------------------------------

    def apply(self, order_id: str, make_event: Callable[[int], object], command_seq: Optional[int] = None, tolerate: bool = False, also: Optional[Callable] = None):
        """Apply one event to an order in one transaction (with its command marked done).

        With a command, or `tolerate`, an event the order no longer accepts
        (its task moved on; the order finished) is recorded and dropped.
        `also(db)` runs in the same transaction (an inbox entry marked applied)."""
        done: list = []
        with self._writing() as db:
            step = self._apply_in(db, order_id, make_event, command_seq, tolerate, also, done)
        self.told(done)
        return step

    def told(self, done: list) -> None:
        """After a commit: what the steps changed, to whoever follows (`on_event`) and as the spans of what ended."""
        for order_id, history in done:
            self.on_event(order_id, history)
            tracing.ended(self._held.get(order_id), history)

    @contextlib.contextmanager
    def _writing(self):
        """A transaction; if it does not commit, the orders held in memory may be
        ahead of the database: they are read again."""
        try:
            with self.store.transaction() as db:
                self._current()
                now = self.clock.now()
                if self.clock.simulated and now != self._clock_kept:  # a killed process must not take simulated time back
                    self.store.set_meta(db, "clock_ms", str(now))
                    self._clock_kept = now
                with self.store.batched(db):
                    yield db
        except BaseException:
            self._forget()
            raise

    def _apply_in(self, db, order_id: str, make_event, command_seq, tolerate: bool, also, done: list):
        now = self.clock.now()
        run = self._run(order_id)
        if run is None:
            row = self.store.order_row(order_id)
            raise C.Rejection(f"order {order_id} is {row['status']}" if row else f"no order {order_id}")
        engine = self.catalogs.engine(run.catalog)
        event = make_event(now)
        was_completed, was_partial = run.status == S.ORDER_COMPLETED, run.status == S.PARTIAL
        row = (run.status, run.updated_at, run.jeopardy)  # its row in the orders table, as stored (written again only if they move)
        waits_before = W.waited_milestones(run)  # (the event changes `run` in place)
        try:
            step = engine.handle(run, event, in_place=True)  # (a Rejection leaves `run` as it was)
        except C.Rejection as exc:
            if command_seq is None and not tolerate:
                raise
            # A command whose task moved on meanwhile: record it, do not apply it.
            self.store.note(db, order_id, now, f"ignored: {exc}")
            if command_seq is not None:
                self.store.mark_done(db, command_seq, now)
            if also is not None:
                also(db)
            return None
        self.store.save(db, step.run, step.history, step.commands, now, changed=step, was=row)
        if waits_before or step.run.waits_for:
            waits_after = W.waited_milestones(step.run)
            if waits_after != waits_before:
                self.store.set_waits(db, order_id, waits_after)
        if command_seq is not None:
            self.store.mark_done(db, command_seq, now)
        if also is not None:
            also(db)
        if step.run.status == S.ORDER_COMPLETED and not was_completed:
            self.store.assetize(db, step.run, now)
        elif step.run.status == S.PARTIAL and not was_partial:  # what it delivered is installed
            self.store.assetize(db, progress.kept_part(step.run), now)
        done.append((order_id, step.history))
        return step

    def release(self, order_id: str, by: str):
        """A draft order (TMF622 v5 requestedInitialState: draft) starts."""
        return self.apply(order_id, lambda now: C.OrderRelease(by, now))

    def complete_manual(self, order_id: str, item_id: str, data: dict, by: str):
        return self.apply(order_id, lambda now: C.ManualCompleted(item_id, data, by, now))

    # ---- driving -------------------------------------------------------------------------------------------

    # ---- operator actions -----------------------------------------------------------------------------

    def retry_task(self, order_id: str, item_id: str, by: str, reason: str = ""):
        return self.apply(order_id, lambda now: C.OperatorRetry(item_id, by, reason, now))

    def skip_task(self, order_id: str, item_id: str, by: str, reason: str):
        return self.apply(order_id, lambda now: C.OperatorSkip(item_id, by, reason, now))

    def claim_task(self, order_id: str, item_id: str, by: str, reason: str = ""):
        return self.apply(order_id, lambda now: C.TaskClaimed(item_id, by, reason, now))

    def resume_order(self, order_id: str, by: str, reason: str = ""):
        return self.apply(order_id, lambda now: C.OrderResume(by, reason, now))

    def cancel(self, order_id: str, by: str, reason: str = "", force: bool = False):
        return self.apply(order_id, lambda now: C.CancelRequested(by, reason, force, now))

    def fail(self, order_id: str, by: str, reason: str):
        """Give a held order up: it ends partial or failed (see engine.cancel)."""
        return self.apply(order_id, lambda now: C.GiveUp(by, reason, now))

    def amend(self, order_id: str, text: str, by: str, force: bool = False):
        """A revision of an in-flight order: planned on the catalog version the
        order runs on, then merged by the engine (or refused). Every revision
        is kept, applied or refused."""
        from om_dsl.embedded.store import StoreInstalledBase

        doc = parse_document(text)
        given = doc.get("id")
        if given is not None and str(given) != order_id:
            raise Rejected([_problem("revision_of_another_order", f"the revision is of order {given}, not {order_id}")])
        run = self.store.load(order_id)
        if run is None:
            row = self.store.order_row(order_id)
            raise C.Rejection(f"order {order_id} is {row['status']}" if row else f"no order {order_id}")
        catalog, rules = self.catalogs.rules(run.catalog)
        revision = self.store.next_revision(order_id)
        now = self.clock.now()
        try:
            planned = plan_order(catalog, rules, doc, order_id, StoreInstalledBase(self.store))
            self._check_prerequisites(order_id, planned)
        except Rejected as exc:  # kept too, with why
            with self.store.transaction() as db:
                self.store.add_revision(db, order_id, revision, text, "refused", "; ".join(p.render() for p in exc.problems), by, now)
                self.store.note(db, order_id, now, f"revision {revision} refused: it is not a valid order")
            if run.status == S.DRAFT:  # the draft stays; its originating system hears what it lacks
                missing = [{"path": p.path, "message": p.render()} for p in exc.problems]
                self.apply(order_id, lambda now: C.InformationRequired(missing, by, now), tolerate=True)
            raise
        snapshot = C.plan_snapshot(planned, order_id)

        def keep(status: str, why: Optional[str]):
            return lambda db: self.store.add_revision(db, order_id, revision, text, status, why, by, now)

        try:
            return self.apply(order_id, lambda now: C.Amend(revision, snapshot, by, force, now), also=keep("received", None))
        except C.Rejection as exc:
            with self.store.transaction() as db:
                keep("refused", str(exc))(db)
                self.store.note(db, order_id, now, f"revision {revision} refused: {exc}")
            raise

    # ---- orders that wait for other orders ------------------------------------------------------------

    def other_order(self, order_id: str) -> Optional[OtherOrder]:
        """What the store knows of an order another one wants to wait for, from
        its row and indexes (many orders may ask of one: no state is decoded)."""
        row = self.store.order_row(order_id)
        if row is None:
            return None
        tasks = self.store.milestone_tasks(order_id)
        return OtherOrder(row["status"], tuple(sorted({name for name, _ in tasks})), tuple(W.reached(tasks)), tuple(self.store.waiting_on(order_id)))

    def _progress(self, order_id: str) -> dict:
        """How an order stands for those that wait for it: engine/waits.py's `progress`."""
        other = self.other_order(order_id)
        return {"status": W.UNKNOWN, "milestones": []} if other is None else {"status": other.status, "milestones": list(other.reached)}

    def _check_prerequisites(self, order_id: str, planned) -> None:
        known: dict = {}

        def lookup(other: str):  # each order read once per check (the cycle walk asks again)
            if other not in known:
                known[other] = self.other_order(other)
            return known[other]

        problems = check_prerequisites(order_id, planned.waits_for, lookup)
        if problems:
            raise Rejected(problems)

    def wake_waiting(self) -> bool:
        """Tell each waiting order how the orders it waits for stand, when they
        moved since it was last told (the store knows: a crash in between tells
        it again, and the event is idempotent)."""
        news = self.store.waits_with_news()
        stands: dict = {}  # each other order read once (many may wait for one)
        moot = []  # news that can change no wait (the other runs on, short of the milestones waited for): noted in one transaction
        for waiting, other, milestones, seq in news:
            if other not in stands:
                stands[other] = self._progress(other)
            got = stands[other]
            if got["status"] not in S.FINAL and got["status"] != W.UNKNOWN and not set(milestones) & set(got["milestones"]):
                moot.append((waiting, other, seq))
                continue
            event = lambda now, other=other, got=got: C.OtherOrderProgressed(other, got["status"], tuple(got["milestones"]), now)  # noqa: E731
            self.apply(waiting, event, tolerate=True, also=lambda db, waiting=waiting, other=other, seq=seq: self.store.told(db, waiting, other, seq))
        if moot:
            with self.store.transaction() as db:
                for waiting, other, seq in moot:
                    self.store.told(db, waiting, other, seq)
        return bool(news)

    def set_system(self, system: str, offline: bool, by: str) -> list[str]:
        """Take a system offline (its calls wait on hold) or bring it back
        (the held calls go out again); returns the orders that moved."""
        with self.store.transaction() as db:
            self.store.set_offline(db, system, offline, self.clock.now(), by)
        if offline:
            return []
        moved = self.store.orders_holding(system)
        for order_id in moved:
            self.apply(order_id, lambda now: C.SystemOnline(system, now))
        return moved

    def deliver_callback(self, correlation_id: str, outputs: dict, ok: bool = True, message: str = "", callback_id: Optional[str] = None) -> bool:
        """A callback that came by hand (`om callbacks deliver`) or over HTTP: into the inbox; False for a duplicate."""
        with self.store.transaction() as db:
            fresh = self.store.receive_callback(db, callback_id or f"callback:{correlation_id}", correlation_id, {"status": "ok" if ok else "failed", "outputs": outputs, "message": message}, self.clock.now())
        return fresh

    # ---- driving -------------------------------------------------------------------------------------------

    BATCH = 64  # commands whose results one transaction applies, at most

    def execute(self, seq: int, cmd: Cmd.Command) -> None:
        self.execute_all([(seq, cmd)])

    def execute_all(self, pending: list) -> None:
        """Execute commands (the I/O first, each with its idempotency key), then
        apply their results and mark them done in one transaction per batch:
        a crash before it commits leaves them all to do again."""
        for i in range(0, len(pending), self.BATCH):
            calls: dict = {}  # (system, operation) -> what the batch's calls count (om_dsl.observe.calls)
            self._read_once = {}  # the offline systems and the hub's listeners, read once per batch (not per command)
            try:
                with self._systems_batch():  # the in-process simulators commit the batch's calls once, before its results are applied
                    writes = [self._perform(seq, cmd, calls) for seq, cmd in pending[i : i + self.BATCH]]
            finally:
                self._read_once = None
            done: list = []
            with self._writing() as db:
                for write in writes:
                    write(db, done)
                if calls:
                    self.store.add_call_stats(db, calls)
            self.told(done)

    def _perform(self, seq: int, cmd: Cmd.Command, calls: dict) -> Callable:
        """One command's I/O; returns what writes its outcome, `write(db, done)`; a call counted into `calls`."""
        if isinstance(cmd, Cmd.Notify):
            return self._publish(seq, cmd)
        if isinstance(cmd, Cmd.Call) and cmd.system in self._once("offline", self.store.offline_systems):
            event = lambda now: C.SystemOffline(cmd.task, now)  # noqa: E731
        else:
            with tracing.call_span(cmd) as span, observed.Timer() as timer:
                result = executor.perform(cmd, self.systems, self.python_tasks)
                span.done(result)
            observed.add(calls.setdefault(observed.labels(cmd), observed.empty()), observed.outcome(result), timer.seconds, cmd.attempt > 1)
            event = lambda now: executor.event_for(cmd.task, result, now)  # noqa: E731
        return lambda db, done: self._apply_in(db, cmd.order, event, seq, False, None, done)

    _read_once: Optional[dict] = None

    def _systems_batch(self):
        batch = getattr(self.systems, "batch", None)
        return batch() if batch is not None else contextlib.nullcontext()

    def _once(self, what: str, read: Callable):
        if self._read_once is None:
            return read()
        if what not in self._read_once:
            self._read_once[what] = read()
        return self._read_once[what]

    def publish(self, seq: int, cmd: Cmd.Notify) -> None:
        self.execute_all([(seq, cmd)])

    def _publish(self, seq: int, cmd: Cmd.Notify) -> Callable:
        """An order event: one delivery per registered listener whose query it
        matches (sent by `deliver_events`), all in the transaction that marks it
        done. With no listener registered, the simulated originating system gets it."""
        from om_dsl.engine.hub import query_matches

        event = tmf_events.render(cmd.event, self.request_of(cmd.order, tmf_events.revision_of(cmd.event)))  # the official shape: what queries read
        subscriptions = self._once("subscriptions", self.store.subscriptions)
        owner = None
        if any(s[3] is not None for s in subscriptions):  # a subscription of a submitter gets its own orders' events only
            row = self.store.order_row(cmd.order)
            owner = row["submitted_by"] if row is not None else None
        listeners = [callback for _, callback, query, sub_owner in subscriptions if (sub_owner is None or sub_owner == owner) and query_matches(query, event)]
        now = self.clock.now()
        if not subscriptions:
            self.systems.notify(cmd.key, event)

        def write(db, done):
            for listener in listeners:
                self.store.add_delivery(db, cmd.key, cmd.order, listener, event, now)
            self.store.mark_done(db, seq, now)

        return write

    def request_of(self, order_id: str, revision: int = 1) -> Optional[dict]:
        """The request document of the order's revision, as it was accepted (its
        events and resource return what it carried). Read once: it never changes."""
        key = (order_id, revision)
        if key not in self._requests:
            text = self.store.revision_document(order_id, revision)
            doc = self.store.decode(text, f"the document of order {order_id!r}, revision {revision}") if text is not None else None
            if len(self._requests) >= 256:
                self._requests.clear()
            self._requests[key] = doc if isinstance(doc, dict) else None
        return self._requests[key]

    def deliver_events(self, timeout_s: float = 10.0) -> bool:
        """POST the due deliveries to their listeners: at least once, with the
        event id as idempotency key; a failure is tried again later (1 s, 2 s,
        4 s ... at most 5 min apart)."""
        worked = False
        while True:  # a delivery makes the listener's next event of that order due
            delivered = False
            for due in self.due_deliveries():
                delivered |= self.record_delivery(due, post_delivery(due, timeout_s))
                worked = True
            if not delivered:
                return worked

    def due_deliveries(self) -> list[tuple]:
        """(seq, event id, listener, event, attempts) of each delivery due now."""
        return [(seq, event_id, listener, self.store.decode(payload, f"the delivery of event {event_id}"), attempts) for seq, event_id, listener, payload, attempts in self.store.due_deliveries(self.clock.now())]

    def record_delivery(self, due: tuple, error: Optional[str]) -> bool:
        """What a listener answered a delivery (`post_delivery`): delivered (True), or tried again later."""
        seq, attempts = due[0], due[4]
        now = self.clock.now()
        with self.store.transaction() as db:
            if error:
                self.store.delivery_failed(db, seq, error, now + min(1000 * 2**attempts, 300_000))
                return False
            self.store.delivered(db, seq, now)
            return True

    def deliver_callbacks(self) -> bool:
        delivered = False
        for cb_id, key, outputs in self.systems.pending_callbacks():
            order_id = self.store.order_of_call(key)
            if order_id is not None:
                self.apply(order_id, lambda now: C.CallbackReceived(key, outputs, True, "", now), tolerate=True)
            self.systems.ack_callback(cb_id)  # after it is applied: a crash in between redelivers it
            delivered = True
        for seq, correlation_id, payload in self.store.unapplied_callbacks():
            order_id = self.store.order_of_call(correlation_id)
            ok = payload.get("status", "ok") == "ok"
            event = lambda now: C.CallbackReceived(correlation_id, payload.get("outputs") or {}, ok, payload.get("message", ""), now)  # noqa: E731
            if order_id is None:
                with self.store.transaction() as db:
                    self.store.mark_applied(db, seq)
            else:
                self.apply(order_id, event, tolerate=True, also=lambda db, seq=seq: self.store.mark_applied(db, seq))
            delivered = True
        return delivered

    def fire_timers(self) -> bool:
        """Time passed for every order it changes: one transaction for up to BATCH of them."""
        due = self.store.due_orders(self.clock.now())
        for i in range(0, len(due), self.BATCH):
            done: list = []
            with self._writing() as db:
                for order_id in due[i : i + self.BATCH]:
                    self._apply_in(db, order_id, lambda now: C.TimePassed(now), None, True, None, done)
            self.told(done)
        return bool(due)

    def by_priority(self, pending: list) -> list:
        """The outbox's commands, those of higher-priority orders first (TMF622
        `priority`), each order's in the order its state made them."""
        ranks = self.ranks
        for order_id in {getattr(cmd, "order", None) for _, cmd in pending} - ranks.keys():
            ranks[order_id] = dispatch_rank(self.store.order_priority(order_id) if order_id is not None else None)
        return sorted(pending, key=lambda sc: (ranks[getattr(sc[1], "order", None)], sc[0]))

    def drive(self, max_steps: int = 1_000_000, max_commands: Optional[int] = None, deliver: bool = True) -> None:
        """Work until nothing is left but people, callbacks and timers in the
        future. With a simulated clock, jump to the next timer and go on, but
        never while a call waits for its callback: simulated time stands
        still while something is happening elsewhere. `max_commands`: at most
        so many of the outbox's commands per step (by priority, then the oldest), so that
        one step is short (`om serve` takes API requests between steps)."""
        for _ in range(max_steps):
            pending = self.by_priority(self.store.pending_commands())
            if max_commands is not None:
                pending = pending[:max_commands]
            self.execute_all(pending)
            progressed = bool(pending)
            progressed |= self.deliver_callbacks()
            progressed |= self.fire_timers()
            progressed |= self.wake_waiting()
            if deliver:  # (`om serve` delivers outside its lock: a slow listener holds up no request)
                self.deliver_events()  # a listener that is down does not hold the orders up
            if progressed:
                continue
            nxt = self.store.next_timer()
            if nxt is not None and self.clock.simulated and not self.store.calls_in_flight():
                self.clock.advance_to(nxt)
                continue
            return


def post_delivery(due: tuple, timeout_s: float = 10.0) -> Optional[str]:
    """POST one due delivery (`Runner.due_deliveries`); the error, or None when the listener took it. No store, no lock."""
    from om_dsl.systems import egress, http

    _, event_id, listener, event, _ = due
    refusal = egress.ANY.refusal(listener)  # checked again at each delivery: a host name can be re-pointed
    if refusal:
        return f"not sent: {refusal}"
    return http.post_json(listener, event, {"Idempotency-Key": event_id, "X-Event-Id": event_id}, timeout_s, 65_536).error


def _problem(rule: str, message: str):
    from om_dsl.planning.order import Problem

    return Problem(rule, message)
