"""The embedded store: one SQLite file per deployment.

WAL, `BEGIN IMMEDIATE` for every write, a busy timeout, `synchronous=FULL`
by default (NORMAL on request), foreign keys on, a versioned schema with
migrations. Every state change of an order commits in one transaction with
the history it records and the commands it produces (the outbox), so a
crash can never separate them.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from pathlib import Path
from typing import Iterator, Optional

from om_dsl.runtime.engine import state as S

DEFAULT_DB = "om.db"
DB_ENV = "OM_DB"

# Each migration takes the schema from version N-1 to N, as a list of
# statements. Never edit one that has shipped: add the next.
MIGRATIONS = [
    [
        """
        CREATE TABLE meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        )
        """,
        """
        CREATE TABLE catalog_versions (
            sha TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            version TEXT NOT NULL,
            plan_json TEXT NOT NULL,
            sources_json TEXT,
            first_used_at INTEGER NOT NULL
        )
        """,
        """
        CREATE TABLE orders (
            id TEXT PRIMARY KEY,
            catalog_sha TEXT REFERENCES catalog_versions(sha),
            status TEXT NOT NULL,
            customer TEXT,
            external_id TEXT,
            document TEXT NOT NULL,
            state TEXT,
            problems TEXT,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        )
        """,
        """
        CREATE TABLE tasks (
            order_id TEXT NOT NULL REFERENCES orders(id),
            item_id TEXT NOT NULL,
            name TEXT NOT NULL,
            type TEXT NOT NULL,
            product TEXT NOT NULL,
            status TEXT NOT NULL,
            queue TEXT,
            attempts INTEGER NOT NULL,
            next_at INTEGER,
            call_key TEXT,
            PRIMARY KEY (order_id, item_id)
        )
        """,
        """
        CREATE INDEX tasks_by_status ON tasks(status, queue)
        """,
        """
        CREATE INDEX tasks_by_key ON tasks(call_key)
        """,
        """
        CREATE TABLE events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            order_id TEXT NOT NULL REFERENCES orders(id),
            at INTEGER NOT NULL,
            subject TEXT NOT NULL,
            from_state TEXT,
            to_state TEXT,
            cause TEXT NOT NULL
        )
        """,
        """
        CREATE INDEX events_by_order ON events(order_id, seq)
        """,
        """
        CREATE TABLE outbox (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            order_id TEXT NOT NULL REFERENCES orders(id),
            kind TEXT NOT NULL,
            payload TEXT NOT NULL,
            done INTEGER NOT NULL DEFAULT 0,
            created_at INTEGER NOT NULL,
            done_at INTEGER
        )
        """,
        """
        CREATE INDEX outbox_pending ON outbox(done, seq)
        """,
        """
        CREATE TABLE assets (
            id TEXT PRIMARY KEY,
            customer TEXT,
            product TEXT NOT NULL,
            attributes TEXT NOT NULL,
            parent TEXT,
            order_id TEXT NOT NULL REFERENCES orders(id),
            item_id TEXT NOT NULL,
            status TEXT NOT NULL,
            updated_at INTEGER NOT NULL
        )
        """,
        """
        CREATE TABLE inventory (
            id TEXT PRIMARY KEY,
            customer TEXT,
            asset_id TEXT,
            product TEXT NOT NULL,
            attributes TEXT NOT NULL,
            outputs TEXT NOT NULL,
            order_id TEXT NOT NULL REFERENCES orders(id),
            line TEXT NOT NULL,
            status TEXT NOT NULL,
            updated_at INTEGER NOT NULL
        )
        """,
    ],
]


class StoreError(Exception):
    """A database om cannot use (newer schema, not a database, locked...)."""


def default_path() -> str:
    return os.environ.get(DB_ENV) or DEFAULT_DB


class Store:
    def __init__(self, path: str, synchronous: str = "FULL", busy_timeout_ms: int = 10_000):
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError("synchronous must be FULL or NORMAL")
        self.path = path
        try:
            # isolation_level=None: we issue BEGIN IMMEDIATE ourselves.
            self.db = sqlite3.connect(path, isolation_level=None, timeout=busy_timeout_ms / 1000)
            self.db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.execute(f"PRAGMA synchronous = {synchronous}")
            self.db.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path}: {exc}") from None

    def close(self) -> None:
        self.db.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        else:
            self.db.execute("COMMIT")

    def _migrate(self) -> None:
        with self.transaction() as db:
            db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = db.execute("SELECT version FROM schema_version").fetchone()
            current = row[0] if row else 0
            if current > len(MIGRATIONS):
                raise StoreError(f"{self.path} has schema version {current}; this om knows up to {len(MIGRATIONS)}: upgrade om")
            for n in range(current, len(MIGRATIONS)):
                for statement in MIGRATIONS[n]:
                    db.execute(statement)
            if row is None:
                db.execute("INSERT INTO schema_version VALUES (?)", (len(MIGRATIONS),))
            else:
                db.execute("UPDATE schema_version SET version = ?", (len(MIGRATIONS),))

    def meta(self, key: str) -> Optional[str]:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, db, key: str, value: str) -> None:
        db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))

    @property
    def schema_version(self) -> int:
        return self.db.execute("SELECT version FROM schema_version").fetchone()[0]

    # ---- catalogs ------------------------------------------------------------------------------

    def remember_catalog(self, db, sha: str, name: str, version: str, plan_json: str, sources_json: Optional[str], now: int) -> None:
        db.execute(
            "INSERT OR IGNORE INTO catalog_versions (sha, name, version, plan_json, sources_json, first_used_at) VALUES (?, ?, ?, ?, ?, ?)",
            (sha, name, version, plan_json, sources_json, now),
        )

    def catalog_version(self, sha: str) -> Optional[tuple]:
        return self.db.execute("SELECT name, version, plan_json, sources_json FROM catalog_versions WHERE sha = ?", (sha,)).fetchone()

    # ---- orders ----------------------------------------------------------------------------------

    def order_exists(self, order_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM orders WHERE id = ?", (order_id,)).fetchone() is not None

    def insert_rejected(self, db, order_id: str, document: str, problems: list, now: int) -> None:
        db.execute(
            "INSERT INTO orders (id, status, document, problems, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            (order_id, S.REJECTED, document, json.dumps(problems), now, now),
        )
        db.execute("INSERT INTO events (order_id, at, subject, from_state, to_state, cause) VALUES (?, ?, 'order', NULL, ?, ?)", (order_id, now, S.REJECTED, "; ".join(p["message"] for p in problems)))

    def insert_order(self, db, run: S.OrderRun, document: str) -> None:
        db.execute(
            "INSERT INTO orders (id, catalog_sha, status, customer, external_id, document, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (run.id, run.catalog, run.status, run.fields.get("customer_account"), run.external_id, document, run.created_at, run.updated_at),
        )

    def save(self, db, run: S.OrderRun, history: list, commands: list, now: int) -> None:
        """The new state of an order, its history and its commands: call inside a transaction."""
        db.execute("UPDATE orders SET status = ?, state = ?, updated_at = ? WHERE id = ?", (run.status, json.dumps(S.to_data(run)), run.updated_at, run.id))  # tasks keep their plan order
        db.executemany(
            "INSERT INTO tasks (order_id, item_id, name, type, product, status, queue, attempts, next_at, call_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (order_id, item_id) DO UPDATE SET status = excluded.status, attempts = excluded.attempts, next_at = excluded.next_at, call_key = excluded.call_key",
            [(run.id, t.id, t.name, t.type, t.product, t.status, t.queue, t.attempts, t.next_at, t.key) for t in run.tasks.values()],
        )
        db.executemany(
            "INSERT INTO events (order_id, at, subject, from_state, to_state, cause) VALUES (?, ?, ?, ?, ?, ?)",
            [(run.id, h["at"], h["subject"], h["from"], h["to"], h["cause"]) for h in history],
        )
        db.executemany(
            "INSERT INTO outbox (order_id, kind, payload, created_at) VALUES (?, ?, ?, ?)",
            [(run.id, c["kind"], json.dumps(S.encode_value(c), sort_keys=True), now) for c in commands],
        )

    def load(self, order_id: str) -> Optional[S.OrderRun]:
        row = self.db.execute("SELECT state FROM orders WHERE id = ?", (order_id,)).fetchone()
        if row is None or row[0] is None:
            return None
        return S.from_data(json.loads(row[0]))

    def order_row(self, order_id: str) -> Optional[sqlite3.Row]:
        self.db.row_factory = sqlite3.Row
        try:
            return self.db.execute("SELECT * FROM orders WHERE id = ?", (order_id,)).fetchone()
        finally:
            self.db.row_factory = None

    def orders(self, status: Optional[str] = None) -> list:
        q = "SELECT id, status, customer, external_id, created_at, updated_at FROM orders"
        args: tuple = ()
        if status:
            q += " WHERE status = ?"
            args = (status,)
        return self.db.execute(q + " ORDER BY created_at, id", args).fetchall()

    def unfinished_orders(self) -> list[str]:
        finals = ",".join("?" * len(S.FINAL))
        return [r[0] for r in self.db.execute(f"SELECT id FROM orders WHERE status NOT IN ({finals}) ORDER BY created_at, id", S.FINAL)]

    def history(self, order_id: str) -> list:
        return self.db.execute("SELECT seq, at, subject, from_state, to_state, cause FROM events WHERE order_id = ? ORDER BY seq", (order_id,)).fetchall()

    # ---- the outbox --------------------------------------------------------------------------------

    def pending_commands(self, order_id: Optional[str] = None) -> list[tuple[int, dict]]:
        q = "SELECT seq, payload FROM outbox WHERE done = 0"
        args: tuple = ()
        if order_id is not None:
            q += " AND order_id = ?"
            args = (order_id,)
        return [(seq, S.decode_value(json.loads(p))) for seq, p in self.db.execute(q + " ORDER BY seq", args)]

    def mark_done(self, db, seq: int, now: int) -> None:
        db.execute("UPDATE outbox SET done = 1, done_at = ? WHERE seq = ?", (now, seq))

    # ---- tasks -------------------------------------------------------------------------------------------

    def open_manual_tasks(self, queue: Optional[str] = None, order_id: Optional[str] = None) -> list:
        q = "SELECT order_id, item_id, name, product, queue FROM tasks WHERE type = 'manual' AND status = ?"
        args: list = [S.READY]
        if queue:
            q += " AND queue = ?"
            args.append(queue)
        if order_id:
            q += " AND order_id = ?"
            args.append(order_id)
        return self.db.execute(q + " ORDER BY order_id, item_id", args).fetchall()

    def order_of_call(self, key: str) -> Optional[str]:
        row = self.db.execute("SELECT order_id FROM tasks WHERE call_key = ?", (key,)).fetchone()
        return row[0] if row else None

    def due_orders(self, now: int) -> list[str]:
        """Orders with a retry or a wait that is due."""
        return [r[0] for r in self.db.execute("SELECT DISTINCT order_id FROM tasks WHERE next_at IS NOT NULL AND next_at <= ? AND status IN (?, ?) ORDER BY order_id", (now, S.FAILED, S.RUNNING))]

    def next_timer(self) -> Optional[int]:
        row = self.db.execute("SELECT MIN(next_at) FROM tasks WHERE next_at IS NOT NULL AND status IN (?, ?)", (S.FAILED, S.RUNNING)).fetchone()
        return row[0] if row else None

    # ---- assets -----------------------------------------------------------------------------------------

    def assetize(self, db, run: S.OrderRun, now: int) -> None:
        """A completed order creates (or updates) the customer's assets and technical inventory."""
        customer = run.fields.get("customer_account")
        asset_of = {}
        for item in run.items:
            asset_id = item.asset_id or f"AST-{run.id}-{item.id}"
            asset_of[item.id] = asset_id
            parent = asset_of.get(item.parent) if item.parent else None
            db.execute(
                "INSERT INTO assets (id, customer, product, attributes, parent, order_id, item_id, status, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'active', ?) "
                "ON CONFLICT (id) DO UPDATE SET attributes = excluded.attributes, order_id = excluded.order_id, item_id = excluded.item_id, updated_at = excluded.updated_at",
                (asset_id, customer, item.product, json.dumps(S.encode_value(item.values), sort_keys=True), parent, run.id, item.id, now),
            )
        for line_id, line in run.lines.items():
            outputs = {t.name: t.outputs for t in run.tasks.values() if t.line == line_id and t.outputs}
            db.execute(
                "INSERT INTO inventory (id, customer, asset_id, product, attributes, outputs, order_id, line, status, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'active', ?) "
                "ON CONFLICT (id) DO UPDATE SET attributes = excluded.attributes, outputs = excluded.outputs, updated_at = excluded.updated_at",
                (f"INV-{run.id}-{line_id}", customer, asset_of.get(line.bundle) if line.bundle else None, line.product, json.dumps(S.encode_value(line.values), sort_keys=True), json.dumps(S.encode_value(outputs), sort_keys=True), run.id, line_id, now),
            )

    def assets(self, customer: Optional[str] = None) -> list:
        q = "SELECT id, customer, product, attributes, parent, order_id, status FROM assets"
        args: tuple = ()
        if customer:
            q += " WHERE customer = ?"
            args = (customer,)
        return self.db.execute(q + " ORDER BY id", args).fetchall()

    def inventory(self, customer: Optional[str] = None) -> list:
        q = "SELECT id, customer, asset_id, product, attributes, outputs, order_id, line, status FROM inventory"
        args: tuple = ()
        if customer:
            q += " WHERE customer = ?"
            args = (customer,)
        return self.db.execute(q + " ORDER BY id", args).fetchall()


def exists(path: str) -> bool:
    return Path(path).is_file()
