"""In-process simulators of downstream systems, with state of their own.

Each simulated system answers the operations its catalog declares: it hands
out ids for declared outputs (port ids, shipment ids, IP addresses, phone
numbers), and it applies each call once per idempotency key: a repeated key
gets the first answer back and no new effect. Their state lives in a SQLite
file of its own, committed independently of the engine's, as a real system
would be: that is what makes the crash trials honest.

Asynchronous operations are acknowledged; their answer waits as a callback
that the runner collects (`pending_callbacks`) and acknowledges when it has
applied it. The simulators also play the originating system, receiving the
order notifications (`notify`), once per message id.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from typing import Optional

from om_dsl.runtime.adapters import CallResult
from om_dsl.runtime.engine.state import encode_value

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
    delivered INTEGER NOT NULL DEFAULT 0
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


class Simulators:
    def __init__(self, path: str, fail: Optional[dict] = None, latency_ms: int = 0):
        self.fail = fail or {}  # "system.operation" -> how many first attempts of each call fail
        self.latency_ms = latency_ms or int(os.environ.get("OM_SIM_LATENCY_MS", "0"))
        self.db = sqlite3.connect(path, isolation_level=None, timeout=10)
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.execute("PRAGMA synchronous = FULL")
        for statement in SCHEMA:
            self.db.execute(statement)

    def close(self) -> None:
        self.db.close()

    def _pause(self) -> None:
        if self.latency_ms:
            time.sleep(self.latency_ms / 2000)

    def _next(self, name: str) -> int:
        self.db.execute("INSERT INTO counters (name, n) VALUES (?, 1) ON CONFLICT (name) DO UPDATE SET n = n + 1", (name,))
        return self.db.execute("SELECT n FROM counters WHERE name = ?", (name,)).fetchone()[0]

    def call(self, system: str, operation: str, args: dict, key: str, outputs: list, is_async: bool = False) -> CallResult:
        """Apply one call; `outputs` are the operation's declared outputs, [[name, type], ...]."""
        self._pause()
        self.db.execute("BEGIN IMMEDIATE")
        try:
            row = self.db.execute("SELECT outputs FROM effects WHERE key = ?", (key,)).fetchone()
            if row is not None:  # the same call again: the first answer, no new effect
                self.db.execute("UPDATE effects SET calls = calls + 1 WHERE key = ?", (key,))
                # An asynchronous answer is sent again (the caller may have lost it).
                self.db.execute("UPDATE callbacks SET delivered = 0 WHERE key = ?", (key,))
                self.db.execute("COMMIT")
                return CallResult.accepted() if is_async else CallResult.ok(json.loads(row[0]))
            self.db.execute("INSERT INTO attempts (key, n) VALUES (?, 1) ON CONFLICT (key) DO UPDATE SET n = n + 1", (key,))
            attempt = self.db.execute("SELECT n FROM attempts WHERE key = ?", (key,)).fetchone()[0]
            if attempt <= self.fail.get(f"{system}.{operation}", 0):
                self.db.execute("COMMIT")
                return CallResult.error(f"{system}.{operation}: 503 service unavailable (simulated, attempt {attempt})")
            answer = {}
            for name, type_ in outputs:
                n = self._next(f"{system}.{name}")
                answer[name] = FORMATS.get(name, f"{name.upper()}-{{:05d}}").format(n) if type_ == "string" else n
            self.db.execute(
                "INSERT INTO effects (key, system, operation, args, outputs, calls) VALUES (?, ?, ?, ?, ?, 1)",
                (key, system, operation, json.dumps(encode_value(args), sort_keys=True), json.dumps(answer, sort_keys=True)),
            )
            if is_async:
                self.db.execute("INSERT INTO callbacks (key, outputs) VALUES (?, ?)", (key, json.dumps(answer, sort_keys=True)))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self._pause()
        return CallResult.accepted() if is_async else CallResult.ok(answer)

    # ---- callbacks of asynchronous operations ----------------------------------------------------

    def pending_callbacks(self) -> list[tuple[int, str, dict]]:
        return [(i, k, json.loads(o)) for i, k, o in self.db.execute("SELECT id, key, outputs FROM callbacks WHERE delivered = 0 ORDER BY id")]

    def ack_callback(self, callback_id: int) -> None:
        self.db.execute("UPDATE callbacks SET delivered = 1 WHERE id = ?", (callback_id,))

    # ---- the originating system -------------------------------------------------------------------

    def notify(self, message_id: str, payload: dict) -> bool:
        """Receive an order notification; True the first time this message arrives."""
        self.db.execute("BEGIN IMMEDIATE")
        first = self.db.execute("SELECT 1 FROM notifications WHERE message_id = ?", (message_id,)).fetchone() is None
        self.db.execute(
            "INSERT INTO notifications (message_id, payload, deliveries) VALUES (?, ?, 1) ON CONFLICT (message_id) DO UPDATE SET deliveries = deliveries + 1",
            (message_id, json.dumps(payload, sort_keys=True)),
        )
        self.db.execute("COMMIT")
        return first

    # ---- what happened (tests and demos) ----------------------------------------------------------------

    def effects(self) -> list[tuple]:
        return self.db.execute("SELECT key, system, operation, args, outputs, calls FROM effects ORDER BY key").fetchall()

    def notifications(self) -> list[tuple]:
        return self.db.execute("SELECT message_id, payload, deliveries FROM notifications ORDER BY message_id").fetchall()
