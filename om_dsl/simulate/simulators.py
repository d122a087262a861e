"""In-process simulators of downstream systems, with state of their own.

Each simulated system answers the operations its catalog declares: it hands
out ids for declared outputs (port ids, shipment ids, IP addresses, phone
numbers), and it applies each call once per idempotency key: a repeated key
gets the first answer back and no new effect. Their state lives in a SQLite
file of its own, committed independently of the engine's, as a real system
would be: that is what makes the crash trials honest. (The embedded runner
makes a batch of calls inside `batch()`: one commit for all of them, before
it applies their results in its own database.)

Asynchronous operations are acknowledged; their answer waits as a callback
that the runner collects (`pending_callbacks`) and acknowledges when it has
applied it. The simulators also play the originating system, receiving the
order notifications (`notify`), once per message id.

The same state serves the HTTP simulators (`om_dsl.simulate.server`):
`attempt` counts each try of a key, `apply` applies a call (checking that a
repeated key names the same call), and a callback may carry a URL to push it
to (`pushed_callbacks`, `callback`) and a number of copies to deliver (a
duplicated callback). `pending_callbacks` lists only callbacks without a URL:
those wait for someone to collect them. Every method is safe to call from
several threads of one process.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from http import HTTPStatus
from typing import Iterator, NamedTuple, Optional

from om_dsl.systems.adapters import CallResult
from om_dsl.values import encode_value

SCHEMA = ["""
CREATE TABLE IF NOT EXISTS effects (
    key TEXT PRIMARY KEY,
    system TEXT NOT NULL,
    operation TEXT NOT NULL,
    args TEXT NOT NULL,
    outputs TEXT NOT NULL,
    calls INTEGER NOT NULL
)""", "CREATE TABLE IF NOT EXISTS attempts (key TEXT PRIMARY KEY, n INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, n INTEGER NOT NULL)", """
CREATE TABLE IF NOT EXISTS callbacks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    outputs TEXT NOT NULL,
    delivered INTEGER NOT NULL DEFAULT 0,
    url TEXT,
    copies INTEGER NOT NULL DEFAULT 1,
    deliveries INTEGER NOT NULL DEFAULT 0
)""", """
CREATE TABLE IF NOT EXISTS notifications (
    message_id TEXT PRIMARY KEY,
    payload TEXT NOT NULL,
    deliveries INTEGER NOT NULL
)"""]

# How a simulator names what it hands out, by output name.
FORMATS = {
    "port_id": "PORT-{:05d}",
    "shipment_id": "SHP-{:06d}",
    "ip_address": "203.0.113.{}",
    "phone_number": "+3120555{:04d}",
}

# Columns added to `callbacks` since its first version: (name, declaration).
CALLBACK_COLUMNS = (("url", "TEXT"), ("copies", "INTEGER NOT NULL DEFAULT 1"), ("deliveries", "INTEGER NOT NULL DEFAULT 0"))


def _failure(spec) -> tuple[str, int]:
    """An injected failure: 3 (503, three times), "409:2", "timeout:1"."""
    if isinstance(spec, int):
        return "503", spec
    kind, _, n = str(spec).partition(":")
    return kind, int(n or 1)


def _simulated_failure(target: str, failure: str, attempt: int) -> CallResult:
    if failure == "timeout":
        return CallResult.error(f"{target}: no answer in time (simulated, attempt {attempt})", True, "timeout")
    status = int(failure)
    retryable = status >= 500 or status in (408, 429)  # as the HTTP adapter says
    try:
        phrase = " " + HTTPStatus(status).phrase.lower()
    except ValueError:
        phrase = ""
    return CallResult.error(f"{target}: {status}{phrase} (simulated, attempt {attempt})", retryable, failure)


class KeyReused(Exception):
    """An idempotency key sent again for another call (another operation or other arguments)."""


_sorted_json = json.JSONEncoder(sort_keys=True, check_circular=False).encode  # json.dumps(..., sort_keys=True), its encoder made once

class Applied(NamedTuple):
    outputs: dict
    replayed: bool  # the key was seen before: its first answer, no new effect
    callback_id: Optional[int]  # asynchronous operations: the callback that carries the answer


class Simulators:
    def __init__(self, path: str, fail: Optional[dict] = None, latency_ms: int = 0, synchronous: str = "FULL"):
        """`synchronous`: FULL or NORMAL, as the engine's database (`--sync`): a
        simulated system keeps its state as durably as the engine that calls it."""
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError("synchronous must be FULL or NORMAL")
        # "system.operation" -> how many first attempts of each call fail: N (a
        # 503), or "CODE:N" / "timeout:N" (that failure, for retry policies that choose).
        self.fail = fail or {}
        self.latency_ms = latency_ms or int(os.environ.get("OM_SIM_LATENCY_MS", "0"))
        self.lock = threading.RLock()  # one connection, shared by the threads of a server
        self.db = sqlite3.connect(path, isolation_level=None, timeout=10, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.execute(f"PRAGMA synchronous = {synchronous}")
        for statement in SCHEMA:
            self.db.execute(statement)
        self._upgrade()

    def _upgrade(self) -> None:
        """Add the columns a state file written by an older version lacks."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            have = {row[1] for row in self.db.execute("PRAGMA table_info(callbacks)")}
            for name, declaration in CALLBACK_COLUMNS:
                if name not in have:
                    self.db.execute(f"ALTER TABLE callbacks ADD COLUMN {name} {declaration}")
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        with self.lock:
            self.db.close()

    # ---- transactions: each call its own, or a savepoint of a batch's ----------------------------------

    _batched = False

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """The calls made inside (by this thread) share one transaction, each call a
        savepoint of it: one commit for many (the embedded runner's batch of
        commands, whose results it then applies in one transaction of its own). A
        crash before the commit loses the batch's calls, and the runner, which
        has not applied their results either, makes them again with their keys."""
        with self.lock:
            if self._batched:
                yield
                return
            self.db.execute("BEGIN IMMEDIATE")
            self._batched = True
            try:
                yield
            except BaseException:
                self._batched = False
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
                raise
            self._batched = False
            self.db.execute("COMMIT")

    def _begin(self) -> None:
        self.db.execute("SAVEPOINT sim_call" if self._batched else "BEGIN IMMEDIATE")

    def _commit(self) -> None:
        self.db.execute("RELEASE sim_call" if self._batched else "COMMIT")

    def _rollback(self) -> None:
        if self._batched:
            self.db.execute("ROLLBACK TO sim_call")
            self.db.execute("RELEASE sim_call")
        else:
            self.db.execute("ROLLBACK")

    def _pause(self) -> None:
        if self.latency_ms:
            time.sleep(self.latency_ms / 2000)

    def _next(self, name: str) -> int:
        return self.db.execute("INSERT INTO counters (name, n) VALUES (?, 1) ON CONFLICT (name) DO UPDATE SET n = n + 1 RETURNING n", (name,)).fetchone()[0]

    def call(
        self, system: str, operation: str, args: dict, key: str, outputs: list, is_async: bool = False, timeout_ms: Optional[int] = None
    ) -> CallResult:
        """Apply one call; `outputs` are the operation's declared outputs, [[name, type], ...].
        (`timeout_ms`, the call's timeout, is taken as `Systems.call` takes it: in-process, nothing waits.)"""
        self._pause()
        with self.lock:
            self._begin()
            try:
                row = self.db.execute("SELECT outputs FROM effects WHERE key = ?", (key,)).fetchone()
                if row is not None:  # the same call again: the first answer, no new effect
                    self._replay(key, is_async)
                    self._commit()
                    return CallResult.accepted() if is_async else CallResult.ok(json.loads(row[0]))
                attempt = self._count_attempt(key)
                failure, failing = _failure(self.fail.get(f"{system}.{operation}", 0))
                if attempt <= failing:
                    self._commit()
                    return _simulated_failure(f"{system}.{operation}", failure, attempt)
                answer, _ = self._new_effect(system, operation, args, key, outputs, is_async)
                self._commit()
            except BaseException:
                self._rollback()
                raise
        self._pause()
        return CallResult.accepted() if is_async else CallResult.ok(answer)

    def attempt(self, key: str) -> int:
        """Count one more try of the call with this key; its number (1 the first time)."""
        with self.lock:
            self._begin()
            try:
                n = self._count_attempt(key)
                self._commit()
            except BaseException:
                self._rollback()
                raise
            return n

    def apply(
        self,
        system: str,
        operation: str,
        args: dict,
        key: str,
        outputs: list,
        is_async: bool = False,
        callback_url: Optional[str] = None,
        copies: int = 1,
    ) -> Applied:
        """Apply one call, once per key, whatever the attempt (faults are the caller's business).

        A repeated key gets the first answer and no new effect; for an
        asynchronous operation its callback is sent again, to `callback_url`
        (None: it waits to be collected), `copies` times. A key already used
        for another operation or other arguments raises KeyReused."""
        args_text = _sorted_json(encode_value(args))
        with self.lock:
            self._begin()
            try:
                row = self.db.execute("SELECT system, operation, args, outputs FROM effects WHERE key = ?", (key,)).fetchone()
                if row is not None:
                    if (row[0], row[1]) != (system, operation):
                        raise KeyReused(f"idempotency key {key!r} was used for {row[0]}.{row[1]}, not {system}.{operation}")
                    if row[2] != args_text:
                        raise KeyReused(f"idempotency key {key!r} was used for {system}.{operation} with other arguments: {row[2]}")
                    self._replay(key, is_async, callback_url, copies)
                    answer, replayed = json.loads(row[3]), True
                else:
                    answer, replayed = self._new_effect(system, operation, args, key, outputs, is_async, callback_url, copies)[0], False
                callback_id = None
                if is_async:
                    found = self.db.execute("SELECT id FROM callbacks WHERE key = ?", (key,)).fetchone()
                    callback_id = found[0] if found else None
                self._commit()
            except BaseException:
                self._rollback()
                raise
        return Applied(answer, replayed, callback_id)

    def _count_attempt(self, key: str) -> int:
        return self.db.execute("INSERT INTO attempts (key, n) VALUES (?, 1) ON CONFLICT (key) DO UPDATE SET n = n + 1 RETURNING n", (key,)).fetchone()[0]

    def _replay(self, key: str, is_async: bool, callback_url: Optional[str] = None, copies: int = 1) -> None:
        self.db.execute("UPDATE effects SET calls = calls + 1 WHERE key = ?", (key,))
        if is_async:  # an asynchronous answer is sent again (the caller may have lost it)
            self.db.execute(
                "UPDATE callbacks SET delivered = 0, deliveries = 0, url = ?, copies = ? WHERE key = ?",
                (callback_url, copies, key),
            )

    def _new_effect(self, system, operation, args, key, outputs, is_async, callback_url=None, copies=1) -> tuple[dict, Optional[int]]:
        answer = {}
        for name, type_ in outputs:
            n = self._next(f"{system}.{name}")
            answer[name] = FORMATS.get(name, f"{name.upper()}-{{:05d}}").format(n) if type_ == "string" else n
        self.db.execute(
            "INSERT INTO effects (key, system, operation, args, outputs, calls) VALUES (?, ?, ?, ?, ?, 1)",
            (key, system, operation, _sorted_json(encode_value(args)), _sorted_json(answer)),
        )
        callback_id = None
        if is_async:
            cur = self.db.execute(
                "INSERT INTO callbacks (key, outputs, url, copies) VALUES (?, ?, ?, ?)",
                (key, _sorted_json(answer), callback_url, copies),
            )
            callback_id = cur.lastrowid
        return answer, callback_id

    # ---- callbacks of asynchronous operations ----------------------------------------------------

    def pending_callbacks(self) -> list[tuple[int, str, dict]]:
        """Callbacks waiting to be collected (those without a URL to push them to)."""
        with self.lock:
            rows = self.db.execute("SELECT id, key, outputs FROM callbacks WHERE delivered = 0 AND url IS NULL ORDER BY id").fetchall()
        return [(i, k, json.loads(o)) for i, k, o in rows]

    def ack_callback(self, callback_id: int) -> bool:
        """One copy of a callback delivered; True when every copy is (then it is no longer pending)."""
        with self.lock:
            self.db.execute(
                "UPDATE callbacks SET deliveries = deliveries + 1, delivered = (deliveries + 1 >= copies) WHERE id = ?",
                (callback_id,),
            )
            row = self.db.execute("SELECT delivered FROM callbacks WHERE id = ?", (callback_id,)).fetchone()
        return bool(row and row[0])

    def pushed_callbacks(self) -> list[int]:
        """The ids of undelivered callbacks that have a URL to be pushed to."""
        with self.lock:
            return [i for (i,) in self.db.execute("SELECT id FROM callbacks WHERE delivered = 0 AND url IS NOT NULL ORDER BY id")]

    def callback(self, callback_id: int) -> Optional[dict]:
        """One callback: id, key, system, operation, outputs, url, copies, deliveries, delivered."""
        rows = self.callbacks(pushed=None, undelivered=False, callback_id=callback_id)
        return rows[0] if rows else None

    def callbacks(self, pushed: Optional[bool] = False, undelivered: bool = True, callback_id: Optional[int] = None) -> list[dict]:
        """Callbacks as dicts; pushed: False those to be collected, True those with a URL, None both."""
        where, params = [], []
        if undelivered:
            where.append("c.delivered = 0")
        if pushed is not None:
            where.append("c.url IS NOT NULL" if pushed else "c.url IS NULL")
        if callback_id is not None:
            where.append("c.id = ?")
            params.append(callback_id)
        sql = (
            "SELECT c.id, c.key, e.system, e.operation, c.outputs, c.url, c.copies, c.deliveries, c.delivered"
            " FROM callbacks c LEFT JOIN effects e ON e.key = c.key"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY c.id"
        )
        with self.lock:
            rows = self.db.execute(sql, params).fetchall()
        names = ("id", "key", "system", "operation", "outputs", "url", "copies", "deliveries", "delivered")
        return [dict(zip(names, r[:4] + (json.loads(r[4]),) + r[5:8] + (bool(r[8]),), strict=True)) for r in rows]

    # ---- the originating system -------------------------------------------------------------------

    def notify(self, message_id: str, payload: dict) -> bool:
        """Receive an order notification; True the first time this message arrives."""
        text = _sorted_json(payload)
        with self.lock:  # one statement: atomic alone (in a batch's transaction, or its own)
            row = self.db.execute(
                "INSERT INTO notifications (message_id, payload, deliveries) VALUES (?, ?, 1) ON CONFLICT (message_id) DO UPDATE SET deliveries = deliveries + 1 RETURNING deliveries",
                (message_id, text),
            ).fetchone()
            return row[0] == 1

    # ---- what happened (tests and demos) ----------------------------------------------------------------

    def effects(self) -> list[tuple]:
        with self.lock:
            return self.db.execute("SELECT key, system, operation, args, outputs, calls FROM effects ORDER BY key").fetchall()

    def notifications(self) -> list[tuple]:
        with self.lock:
            return self.db.execute("SELECT message_id, payload, deliveries FROM notifications ORDER BY message_id").fetchall()
