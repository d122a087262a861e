"""Accepting an order in two halves: `prepare` plans it (CPU only, no store,
no lock: `om serve`'s request threads and processes do it side by side), then
`accept` checks and writes it in the caller's transaction, under the runner
lock. `Runner.submit` is both halves in one call.

A plan made outside the lock holds when what it read of the store has not
changed meanwhile: planning outside reads the installed base through
`Recorded` (its own read-only connection), and `accept` asks the same
questions again under the lock, planning the order again if any answer
differs (optimistic concurrency; a new order asks one or two: its
order-scoped lines). An order that waits for other orders, or one prepared
at another simulated instant, is planned again under the lock too; the
duplicate check is `accept`'s alone.
"""

from __future__ import annotations

import sqlite3
from typing import Optional

import attrs

from om_dsl.engine import core as C
from om_dsl.engine import state as S
from om_dsl.engine import waits as W
from om_dsl.planning.fields import external_id_of
from om_dsl.planning.intake import customer_of, document_id, parse_document
from om_dsl.planning.order import Problem, Rejected
from om_dsl.planning.pipeline import plan_order


@attrs.define
class Prepared:
    """An order planned, not yet kept. `step`: its start (None: plan it under the lock);
    `problems`: the rules it breaks (kept as a rejected order)."""

    text: str
    doc: dict
    order_id: str
    by: Optional[str]
    now: int
    step: Optional[object] = None
    problems: Optional[list] = None
    kept: bool = False  # accept kept this step as planned (not planned again under the lock)
    reads: Optional[list] = None  # what planning read of the installed base outside the lock: (method, args, answer)
    rows: Optional[dict] = None  # its rows, made outside the lock (store.orders.new_rows), for `accept_all`


class NeedsStore(Exception):
    """Planning asked the installed base and none can be read: it is planned again under the lock."""


class _NoStore:
    """An installed base that cannot be read."""

    def __getattr__(self, name):
        raise NeedsStore(name)


class Recorded:
    """An installed base read outside the runner lock (`base`: a StoreInstalledBase
    over a connection of its own, used under `lock`), every answer recorded for
    `accept` to check."""

    def __init__(self, base, lock):
        self.base, self.lock, self.reads = base, lock, []

    def __getattr__(self, name):
        method = getattr(self.base, name)

        def read(*args):
            with self.lock:
                answer = method(*args)
            self.reads.append((name, args, answer))
            return answer

        return read


def prepare(runner, text: str, order_id: Optional[str] = None, by: Optional[str] = None, installed=None, rows: bool = False) -> Prepared:
    """Parse and plan an order. Rejected (nothing kept) for a document without a
    readable id. `installed`: the store's installed base (the caller holds the
    lock); a `Recorded` one (outside the lock); or None: planned without it, or
    left to `accept` when it is needed. `rows`: its rows made too (`accept_all`)."""
    rules = runner.catalogs.current
    now = runner.clock.now()
    doc = parse_document(text)  # malformed JSON: Rejected, and nothing is stored (the order has no id)
    p = Prepared(text, doc, order_id or document_id(doc), by, now)
    outside = installed is None or isinstance(installed, Recorded)
    if isinstance(installed, Recorded):
        p.reads = installed.reads
    try:
        planned = plan_order(rules.catalog, rules, doc, p.order_id, installed if installed is not None else _NoStore())
        if planned.waits_for:
            if outside:
                return _unplanned(p)  # the orders it waits for are read under the lock
            runner._check_prerequisites(p.order_id, planned)
    except NeedsStore:
        return _unplanned(p)
    except Rejected as exc:
        p.problems = exc.problems
        return p
    p.step = step = C.Engine(rules.catalog, rules).start(planned, runner.catalogs.current_sha, now)
    if rows and not step.run.waits_for and step.run.status != S.ORDER_COMPLETED:  # (those are kept one by one)
        from om_dsl.embedded.store.orders import new_rows

        p.rows = new_rows(step.run, text, by, step.history, step.commands, now)
    return p


def _unplanned(p: Prepared) -> Prepared:
    p.step = p.problems = p.reads = p.rows = None
    return p


def _stale(p: Prepared, installed, clock) -> bool:
    """The plan must be made again under the lock: it was not made, or what it read has changed."""
    if p.step is None and p.problems is None:
        return True
    if clock.simulated and p.now != clock.now():
        return True
    return p.reads is not None and any(installed(name, args) != answer for name, args, answer in p.reads)


def _asking(installed):
    """`installed(name, args)`: the installed base's answer, each question asked once (a batch's orders often ask the same)."""
    answers: dict = {}

    def ask(name: str, args: tuple):
        try:
            key = (name, args)
            if key not in answers:
                answers[key] = getattr(installed, name)(*args)
            return answers[key]
        except TypeError:  # (an argument that is not hashable)
            return getattr(installed, name)(*args)

    return ask


def accept(runner, p: Prepared) -> tuple[str, str, list]:
    """Keep a prepared order (the caller holds the runner lock): (order id, status,
    problems). Rejected, nothing kept, for an id already taken."""
    from om_dsl.embedded.store import StoreInstalledBase

    store, given = runner.store, p
    if store.order_exists(p.order_id):
        raise _duplicate(p.order_id)
    if _stale(p, _asking(StoreInstalledBase(store)), runner.clock):
        p = prepare(runner, p.text, p.order_id, p.by, StoreInstalledBase(store))
    if p.problems is not None:
        problems = [{k: v for k, v in (("item", x.item), ("rule", x.rule), ("message", x.message), ("path", x.path)) if v is not None} for x in p.problems]
        with store.transaction() as db:
            store.insert_rejected(db, p.order_id, p.text, problems, runner.clock.now(), customer_of(p.doc), external_id_of(p.doc), p.by)
        return p.order_id, S.REJECTED, p.problems
    from om_dsl.embedded.store.orders import new_rows

    step = p.step
    rows = p.rows or new_rows(step.run, p.text, p.by, step.history, step.commands, p.now)  # (made before the transaction)
    with store.transaction() as db:
        runner._current()  # (so the order it holds next is not read again at the next event)
        _remember(runner, db, p.now)
        store.insert_new(db, [rows])
        if step.run.waits_for:
            store.set_waits(db, p.order_id, W.waited_milestones(step.run))
        if step.run.status == S.ORDER_COMPLETED:
            store.assetize(db, step.run, p.now)
    given.kept = p is given
    runner._hold(step.run)
    runner.told([(p.order_id, step.history)])  # (on_event, and the spans of what ended: om_dsl.observe.tracing)
    return p.order_id, step.run.status, []


def accept_all(runner, batch: list) -> list:
    """Keep prepared orders in the caller's transaction (`om serve`'s group commit);
    each one's answer: (order id, status, problems), or the exception it was refused with.

    Those whose plans stand and whose rows were made are written together, a
    statement per table for all of them: the write lock is held for a few
    statements, not a few per order. The others go one by one (`accept`)."""
    from om_dsl.embedded.store import StoreInstalledBase

    store = runner.store
    taken = store.taken([p.order_id for p in batch])
    ask = _asking(StoreInstalledBase(store))
    answers: list = [None] * len(batch)
    together = []
    for n, p in enumerate(batch):
        if p.order_id in taken:
            answers[n] = _duplicate(p.order_id)
            continue
        taken.add(p.order_id)
        if p.rows is not None and not _stale(p, ask, runner.clock):
            together.append(n)
            continue
        try:
            answers[n] = accept(runner, p)  # (its writes: one transaction, a savepoint of the caller's)
        except Exception as exc:  # noqa: BLE001 - this order's answer (a rejection); the others go on
            answers[n] = exc
    if together:
        try:
            with store.transaction() as db:
                runner._current()
                _remember(runner, db, batch[together[0]].now)
                store.insert_new(db, [batch[n].rows for n in together])
        except sqlite3.Error:  # (one of them could not be written: each alone, so the others are kept)
            runner.catalogs.remembered = False
            for n in together:
                try:
                    answers[n] = accept(runner, batch[n])
                except Exception as exc:  # noqa: BLE001
                    answers[n] = exc
            return answers
        for n in together:
            p = batch[n]
            p.kept = True
            runner._hold(p.step.run)
            runner.told([(p.order_id, p.step.history)])
            answers[n] = (p.order_id, p.step.run.status, [])
    return answers


def _duplicate(order_id: str) -> Rejected:
    return Rejected([Problem("duplicate_order", f"order {order_id} was submitted before; amend it, or give the new order another id")])


def _remember(runner, db, now: int) -> None:
    """The catalog version orders are kept with, once per runner: the store keeps every version an order ran on."""
    from om_dsl.model.canonical import plan_json, sources_json

    if not runner.catalogs.remembered:
        rules = runner.catalogs.current
        runner.store.remember_catalog(db, runner.catalogs.current_sha, rules.catalog.name, rules.catalog.version, plan_json(rules.catalog), sources_json(rules.catalog), now)
        runner._remember_package(db)
        runner.catalogs.remembered = True
