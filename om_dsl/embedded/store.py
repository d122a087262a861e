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
import re
import sqlite3
from pathlib import Path
from typing import Iterator, Optional
from urllib.request import pathname2url

from om_dsl.engine import commands as Cmd
from om_dsl.engine import state as S

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
    [
        # Jeopardy and wake-up times; offline systems; the hub of listeners,
        # deliveries of order events to them; callbacks received.
        "ALTER TABLE tasks ADD COLUMN wake_at INTEGER",
        "ALTER TABLE tasks ADD COLUMN jeopardy TEXT",
        "ALTER TABLE tasks ADD COLUMN system TEXT",
        "CREATE INDEX tasks_by_wake ON tasks(wake_at)",
        "ALTER TABLE orders ADD COLUMN jeopardy TEXT",
        """
        CREATE TABLE systems (
            name TEXT PRIMARY KEY,
            offline INTEGER NOT NULL,
            changed_at INTEGER NOT NULL,
            changed_by TEXT
        )
        """,
        """
        CREATE TABLE hub (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            callback TEXT NOT NULL UNIQUE,
            registered_at INTEGER NOT NULL
        )
        """,
        """
        CREATE TABLE deliveries (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            event_id TEXT NOT NULL,
            order_id TEXT NOT NULL REFERENCES orders(id),
            listener TEXT NOT NULL,
            payload TEXT NOT NULL,
            status TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_try_at INTEGER NOT NULL,
            last_error TEXT,
            delivered_at INTEGER,
            UNIQUE (event_id, listener)
        )
        """,
        "CREATE INDEX deliveries_pending ON deliveries(status, next_try_at)",
        """
        CREATE TABLE inbox (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            callback_id TEXT NOT NULL UNIQUE,
            correlation_id TEXT NOT NULL,
            payload TEXT NOT NULL,
            received_at INTEGER NOT NULL,
            times INTEGER NOT NULL DEFAULT 1,
            applied INTEGER NOT NULL DEFAULT 0
        )
        """,
    ],
    [
        # Lines are known across orders by a stable key; assets end.
        "ALTER TABLE inventory ADD COLUMN line_key TEXT",
        "ALTER TABLE inventory ADD COLUMN source_asset TEXT",
        "ALTER TABLE inventory ADD COLUMN rule TEXT",
        "CREATE INDEX inventory_by_asset ON inventory(source_asset, status)",
        "CREATE INDEX inventory_by_key ON inventory(line_key)",
        "CREATE INDEX assets_by_parent ON assets(parent, status)",
    ],
    [
        # Every revision of an order (supplemental orders), applied or refused.
        """
        CREATE TABLE revisions (
            order_id TEXT NOT NULL REFERENCES orders(id),
            revision INTEGER NOT NULL,
            document TEXT NOT NULL,
            status TEXT NOT NULL,
            reason TEXT,
            by TEXT,
            received_at INTEGER NOT NULL,
            PRIMARY KEY (order_id, revision)
        )
        """,
    ],
    [
        # The installed assets an order changes, " A B ": one change in flight per asset.
        "ALTER TABLE orders ADD COLUMN changes TEXT",
    ],
    [
        # The tasks table indexes each order's tasks: before this version a
        # task an amendment dropped kept its row (a manual task stayed open, a
        # timer kept waking its order). Rows of tasks the state no longer has go.
        "DELETE FROM tasks WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = tasks.order_id AND json_type(o.state, '$.tasks.' || json_quote(tasks.item_id)) IS NOT NULL)",
    ],
]

# Every table of the current schema (a missing one means a damaged database).
_TABLES = {"schema_version"} | {m[1] for step in MIGRATIONS for statement in step for m in [re.match(r"\s*CREATE TABLE (\w+)", statement)] if m}


def _filtered(db, query: str, order_by: str, **filters) -> list:
    """`query` (which may end in a WHERE clause of its own), narrowed by the
    filters given (column = value; None: not filtered), ordered."""
    given = [(column, value) for column, value in filters.items() if value is not None]
    joiner = " AND " if " WHERE " in query else " WHERE "
    clauses = joiner + " AND ".join(f"{column} = ?" for column, _ in given) if given else ""
    return db.execute(f"{query}{clauses} ORDER BY {order_by}", [value for _, value in given]).fetchall()


class StoreError(Exception):
    """A database om cannot use: missing, not om's, of a newer om (exit 2).
    The CLI prints the message and exits with `exit_code`."""

    exit_code = 2


class StoreDamaged(StoreError):
    """An om database whose content cannot be read: a bad page, a missing table, a row that does not decode."""

    exit_code = 4


class StoreUnwritable(StoreError):
    """A change that could not be written (disk full, read-only, I/O error): it was rolled back, nothing half-written."""

    exit_code = 5


# The om mark in the SQLite header (PRAGMA application_id), set when om creates
# a database: "omdb". Databases made before it have om's schema_version table.
APPLICATION_ID = 0x6F6D6462
MAX_PAGES_ENV = "OM_DB_MAX_PAGES"  # a cap on the database's size, in pages: past it a write fails as on a full disk


def _sqlite_code(exc: sqlite3.Error) -> int:
    return (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF  # the primary code of an extended one


def store_error(exc: Exception, path: str) -> Exception:
    """The StoreError an error of SQLite (or of a stored row) means; `exc` itself when it is none of them (a bug)."""
    if isinstance(exc, StoreError):
        return exc
    text = str(exc)
    if not isinstance(exc, sqlite3.Error):  # a row that does not decode
        return StoreDamaged(f"the database {path} is damaged: {text}")
    code = _sqlite_code(exc)
    if code == 13 or "disk is full" in text:  # SQLITE_FULL
        return StoreUnwritable(f"cannot write {path}: the disk is full (or the database is at its size limit); the change was rolled back, nothing of it is written")
    if code == 8 or "readonly" in text:  # SQLITE_READONLY
        return StoreUnwritable(f"cannot write {path}: it is read-only ({text}); the change was rolled back")
    if code == 10:  # SQLITE_IOERR
        return StoreUnwritable(f"cannot read or write {path}: {text}")
    if code == 26 or "file is not a database" in text:  # SQLITE_NOTADB
        return StoreError(f"{path}: file is not a database")
    if code == 11 or "malformed" in text or "no such table" in text or "no such column" in text:  # SQLITE_CORRUPT, or om's schema incomplete
        return StoreDamaged(f"the database {path} is damaged: {text}")
    if code == 14:  # SQLITE_CANTOPEN
        return StoreError(f"cannot open {path}: {text}")
    if code in (5, 6):  # SQLITE_BUSY, SQLITE_LOCKED: past the busy timeout
        return StoreUnwritable(f"{path} is locked by another process: {text}")
    return exc


class _Cursor(sqlite3.Cursor):
    """Errors met while reading rows (a bad page is found when it is read) become StoreErrors."""

    def _fail(self, exc):
        raise store_error(exc, self.connection.om_path) from None

    def execute(self, *args):
        try:
            return super().execute(*args)
        except sqlite3.Error as exc:
            self._fail(exc)

    def executemany(self, *args):
        try:
            return super().executemany(*args)
        except sqlite3.Error as exc:
            self._fail(exc)

    def fetchone(self):
        try:
            return super().fetchone()
        except sqlite3.Error as exc:
            self._fail(exc)

    def fetchall(self):
        try:
            return super().fetchall()
        except sqlite3.Error as exc:
            self._fail(exc)

    def __next__(self):
        try:
            return super().__next__()
        except sqlite3.Error as exc:
            self._fail(exc)


class _Connection(sqlite3.Connection):
    om_path = "the database"

    def execute(self, *args):
        return self.cursor(_Cursor).execute(*args)

    def executemany(self, *args):
        return self.cursor(_Cursor).executemany(*args)


def check_location(path: str, create: bool) -> None:
    """Raise StoreError unless `path` can hold a database: an existing non-empty
    file, or (`create`) a file that can be made in an existing folder."""
    p = Path(path)
    if p.is_dir():
        raise StoreError(f"{path} is a folder, not a database (give the database file with --db)")
    if p.exists() and not p.is_file():
        raise StoreError(f"{path} is not a regular file, not a database")
    if not create:
        if not p.is_file():
            raise StoreError(f"no database at {path} (run an order first, or give --db)")
        if p.stat().st_size == 0:
            raise StoreError(f"no database at {path}: the file is empty (run an order first, or give --db)")
        return
    if not p.exists():
        folder = p.parent
        if not folder.is_dir():
            what = "is not a folder" if folder.exists() else "does not exist"
            raise StoreError(f"cannot create the database {path}: {folder} {what}")


def _json(db, text, what: str):
    """A JSON value om stored (`what` names it); StoreDamaged when it does not decode."""
    try:
        return json.loads(text)
    except (TypeError, ValueError) as exc:
        raise StoreDamaged(f"the database {getattr(db, 'om_path', 'the database')} is damaged: {what} is not JSON ({exc})") from None


def default_path() -> str:
    return os.environ.get(DB_ENV) or DEFAULT_DB


class Store:
    def __init__(self, path: str, synchronous: str = "FULL", busy_timeout_ms: int = 10_000, shared: bool = False, create: bool = True, write: bool = True):
        """`shared`: the connection is used from several threads (one at a time, under the caller's lock).
        `create`: a missing database is created (else StoreError). `write`: the
        database is brought up to date and may be written; without it, it is
        opened read-only and never changed (the commands that only read)."""
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError("synchronous must be FULL or NORMAL")
        self.path = path
        self.db = None
        check_location(path, create and write)
        try:
            uri = "file:" + pathname2url(os.path.abspath(path)) + ("" if write else "?mode=ro")
            # isolation_level=None: we issue BEGIN IMMEDIATE ourselves.
            self.db = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=busy_timeout_ms / 1000, check_same_thread=not shared, factory=_Connection)
            self.db.om_path = path
            self.db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            stale = self._check(write)  # before anything is written: a file that is not om's stays as it is
            if write:
                self.db.execute("PRAGMA journal_mode = WAL")
                self.db.execute(f"PRAGMA synchronous = {synchronous}")
                self.db.execute("PRAGMA foreign_keys = ON")
                pages = os.environ.get(MAX_PAGES_ENV)
                if pages:
                    self.db.execute(f"PRAGMA max_page_count = {int(pages)}")
                if stale:
                    self._migrate()
        except BaseException as exc:
            if self.db is not None:
                self.db.close()
            error = store_error(exc, path) if isinstance(exc, sqlite3.Error) else exc
            if error is exc:
                raise
            raise error from None

    def close(self) -> None:
        self.db.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            if self.db.in_transaction:  # (SQLite may have rolled back itself: a full disk)
                self.db.execute("ROLLBACK")
            raise
        else:
            try:
                self.db.execute("COMMIT")
            except StoreError:
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
                raise

    def _check(self, write: bool) -> bool:
        """Check that this is an om database of a schema this om knows (or,
        `write`, an empty file to make one of); True when it must be created
        or brought up to date. Refuse anything else."""
        app = self.db.execute("PRAGMA application_id").fetchone()[0]
        tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")}
        if app not in (0, APPLICATION_ID) or (app == 0 and tables and "schema_version" not in tables):
            shown = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
            raise StoreError(f"{self.path} is not an om database (it holds other tables: {shown or 'none'}); om does not adopt it: give another --db")
        if not tables:
            if app == APPLICATION_ID:
                raise StoreDamaged(f"the database {self.path} is damaged: its tables are gone")
            if not write:
                raise StoreError(f"no database at {self.path}: the file holds no tables (run an order first, or give --db)")
            current = 0
        else:
            if "schema_version" not in tables:
                raise StoreDamaged(f"the database {self.path} is damaged: no such table: schema_version")
            current = self._version()
            missing = sorted(_TABLES - tables) if current == len(MIGRATIONS) else []
            if missing:
                raise StoreDamaged(f"the database {self.path} is damaged: no such table: {', '.join(missing)}")
        if current > len(MIGRATIONS):
            raise StoreError(f"{self.path} has schema version {current}; this om knows up to {len(MIGRATIONS)}: upgrade om")
        if not write:
            if current < len(MIGRATIONS):
                raise StoreError(f"{self.path} has schema version {current}, older than this om's {len(MIGRATIONS)}: a command that runs orders (om resume) brings it up to date")
        return current < len(MIGRATIONS) or app != APPLICATION_ID

    def _version(self) -> int:
        rows = self.db.execute("SELECT version, typeof(version) FROM schema_version").fetchall()
        if len(rows) != 1 or rows[0][1] != "integer" or rows[0][0] < 0:
            found = repr(rows[0][0]) if len(rows) == 1 else f"{len(rows)} rows"
            raise StoreDamaged(f"the database {self.path} is damaged: its schema version is {found}, not one whole number")
        return rows[0][0]

    def _migrate(self) -> None:
        with self.transaction() as db:
            db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = db.execute("SELECT version FROM schema_version").fetchone()
            current = self._version() if row else 0
            if current > len(MIGRATIONS):  # (another process upgraded it meanwhile)
                raise StoreError(f"{self.path} has schema version {current}; this om knows up to {len(MIGRATIONS)}: upgrade om")
            for n in range(current, len(MIGRATIONS)):
                for statement in MIGRATIONS[n]:
                    db.execute(statement)
            if row is None:
                db.execute("INSERT INTO schema_version VALUES (?)", (len(MIGRATIONS),))
            else:
                db.execute("UPDATE schema_version SET version = ?", (len(MIGRATIONS),))
            db.execute(f"PRAGMA application_id = {APPLICATION_ID}")

    def decode(self, text: str, what: str):
        """A JSON value stored by om; StoreDamaged when it does not decode."""
        return _json(self.db, text, what)

    def meta(self, key: str) -> Optional[str]:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, db, key: str, value: str) -> None:
        db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))

    def callback_secret(self) -> str:
        """The secret callback tokens are made with (om_dsl.systems.callback_auth): made once, kept here,
        so that `om run` and `om serve` on this database agree on it."""
        from om_dsl.systems.callback_auth import new_secret

        secret = self.meta("callback_secret")
        if secret is None:
            with self.transaction() as db:
                db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('callback_secret', ?)", (new_secret(),))
            secret = self.meta("callback_secret")
        return secret

    def count_refused_callback(self, db, note: str) -> None:
        """One more callback refused for want of a valid token; `note` (bounded) says what the last one was."""
        db.execute("INSERT INTO meta (key, value) VALUES ('callbacks_refused', '1') ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1")
        self.set_meta(db, "callback_refused_last", note)

    @property
    def schema_version(self) -> int:
        return self.db.execute("SELECT version FROM schema_version").fetchone()[0]

    # ---- catalogs ------------------------------------------------------------------------------

    def remember_catalog(self, db, sha: str, name: str, version: str, plan_json: str, sources_json: Optional[str], now: int) -> None:
        db.execute(
            "INSERT OR IGNORE INTO catalog_versions (sha, name, version, plan_json, sources_json, first_used_at) VALUES (?, ?, ?, ?, ?, ?)",
            (sha, name, version, plan_json, sources_json, now),
        )

    def known_systems(self) -> set[str]:
        """The systems of every catalog version an order ran on."""
        out: set[str] = set()
        for (plan_json,) in self.db.execute("SELECT plan_json FROM catalog_versions"):
            out.update(self.decode(plan_json, "a catalog version's plan").get("systems", {}))
        return out

    def catalog_version(self, sha: str) -> Optional[tuple]:
        return self.db.execute("SELECT name, version, plan_json, sources_json FROM catalog_versions WHERE sha = ?", (sha,)).fetchone()

    # ---- orders ----------------------------------------------------------------------------------

    def order_exists(self, order_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM orders WHERE id = ?", (order_id,)).fetchone() is not None

    def insert_rejected(self, db, order_id: str, document: str, problems: list, now: int, customer: Optional[str] = None, external_id: Optional[str] = None) -> None:
        """A rejected order is kept with what it says of itself: whose it is, its id in the originating system."""
        db.execute(
            "INSERT INTO orders (id, status, customer, external_id, document, problems, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (order_id, S.REJECTED, customer, external_id, document, json.dumps(problems), now, now),
        )
        db.execute("INSERT INTO events (order_id, at, subject, from_state, to_state, cause) VALUES (?, ?, 'order', NULL, ?, ?)", (order_id, now, S.REJECTED, "; ".join(p["message"] for p in problems)))

    def insert_order(self, db, run: S.OrderRun, document: str) -> None:
        db.execute(
            "INSERT INTO orders (id, catalog_sha, status, customer, external_id, document, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (run.id, run.catalog, run.status, run.fields.get("customer_account"), run.external_id, document, run.created_at, run.updated_at),
        )

    def save(self, db, run: S.OrderRun, history: list, commands: list, now: int, before: Optional[S.OrderRun] = None) -> None:
        """The new state of an order, its history and its commands: call inside a transaction.

        The tasks table is an index of the state (open manual tasks, timers,
        call keys, calls on hold): one row per task of the order, no more.
        Given the state `before` the event (what the table holds), only the
        rows that changed are written, and those of tasks the order no longer
        has (dropped or removed by a revision) are deleted."""
        changes = " ".join(sorted({i.asset_id for i in run.items if i.asset_id and i.action != "noChange"}))
        db.execute(
            "UPDATE orders SET status = ?, state = ?, updated_at = ?, jeopardy = ?, changes = ? WHERE id = ?",
            (run.status, json.dumps(S.to_data(run)), run.updated_at, run.jeopardy, f" {changes} " if changes else None, run.id),  # tasks keep their plan order
        )
        db.executemany(
            "INSERT INTO tasks (order_id, item_id, name, type, product, status, queue, attempts, next_at, call_key, wake_at, jeopardy, system) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (order_id, item_id) DO UPDATE SET name = excluded.name, type = excluded.type, product = excluded.product, status = excluded.status, "
            "queue = excluded.queue, attempts = excluded.attempts, next_at = excluded.next_at, call_key = excluded.call_key, wake_at = excluded.wake_at, "
            "jeopardy = excluded.jeopardy, system = excluded.system",
            [(run.id, *_index_row(t)) for t in run.tasks.values() if before is None or _index_row(t) != _index_row(before.tasks.get(t.id))],
        )
        if before is not None:
            db.executemany("DELETE FROM tasks WHERE order_id = ? AND item_id = ?", [(run.id, task_id) for task_id in before.tasks if task_id not in run.tasks])
        db.executemany(
            "INSERT INTO events (order_id, at, subject, from_state, to_state, cause) VALUES (?, ?, ?, ?, ?, ?)",
            [(run.id, h["at"], h["subject"], h["from"], h["to"], h["cause"]) for h in history],
        )
        db.executemany(
            "INSERT INTO outbox (order_id, kind, payload, created_at) VALUES (?, ?, ?, ?)",
            [(run.id, c.kind, json.dumps(Cmd.to_data(c), sort_keys=True), now) for c in commands],
        )

    def load(self, order_id: str) -> Optional[S.OrderRun]:
        row = self.db.execute("SELECT state FROM orders WHERE id = ?", (order_id,)).fetchone()
        if row is None or row[0] is None:
            return None
        try:
            return S.from_data(self.decode(row[0], f"the state of order {order_id!r}"))
        except StoreDamaged:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StoreDamaged(f"the database {self.path} is damaged: the state of order {order_id!r} does not read ({type(exc).__name__}: {exc})") from None

    def order_row(self, order_id: str) -> Optional[sqlite3.Row]:
        self.db.row_factory = sqlite3.Row
        try:
            return self.db.execute("SELECT * FROM orders WHERE id = ?", (order_id,)).fetchone()
        finally:
            self.db.row_factory = None

    def orders(self, status: Optional[str] = None, jeopardy: Optional[str] = None) -> list:
        return _filtered(self.db, "SELECT id, status, customer, external_id, created_at, updated_at, jeopardy FROM orders", "created_at, id", status=status, jeopardy=jeopardy)

    def unfinished_orders(self) -> list[str]:
        finals = ",".join("?" * len(S.FINAL))
        return [r[0] for r in self.db.execute(f"SELECT id FROM orders WHERE status NOT IN ({finals}) ORDER BY created_at, id", S.FINAL)]

    def history(self, order_id: str) -> list:
        return self.db.execute("SELECT seq, at, subject, from_state, to_state, cause FROM events WHERE order_id = ? ORDER BY seq", (order_id,)).fetchall()

    # ---- the outbox --------------------------------------------------------------------------------

    def pending_commands(self, order_id: Optional[str] = None) -> list[tuple[int, Cmd.Command]]:
        """The commands not done yet, oldest first. A row is the command's data
        (`commands.to_data`), the same shape the untyped engine wrote."""
        q = "SELECT seq, payload FROM outbox WHERE done = 0"
        args: tuple = ()
        if order_id is not None:
            q += " AND order_id = ?"
            args = (order_id,)
        return [(seq, self._command(seq, p)) for seq, p in self.db.execute(q + " ORDER BY seq", args)]

    def _command(self, seq: int, payload: str) -> Cmd.Command:
        try:
            return Cmd.from_data(self.decode(payload, f"outbox command {seq}"))
        except StoreDamaged:
            raise
        except (ArithmeticError, ValueError, TypeError) as exc:
            raise StoreDamaged(f"the database {self.path} is damaged: outbox command {seq} does not read ({exc})") from None

    def mark_done(self, db, seq: int, now: int) -> None:
        db.execute("UPDATE outbox SET done = 1, done_at = ? WHERE seq = ?", (now, seq))

    # ---- tasks -------------------------------------------------------------------------------------------

    def open_manual_tasks(self, queue: Optional[str] = None, order_id: Optional[str] = None) -> list:
        query = f"SELECT order_id, item_id, name, product, queue FROM tasks WHERE type = 'manual' AND status = '{S.READY}'"
        return _filtered(self.db, query, "order_id, item_id", queue=queue, order_id=order_id)

    def order_of_call(self, key: str) -> Optional[str]:
        row = self.db.execute("SELECT order_id FROM tasks WHERE call_key = ?", (key,)).fetchone()
        return row[0] if row else None

    def due_orders(self, now: int) -> list[str]:
        """Orders where time alone changes something now: a retry, a wait, a callback deadline, jeopardy."""
        return [r[0] for r in self.db.execute("SELECT DISTINCT order_id FROM tasks WHERE wake_at IS NOT NULL AND wake_at <= ? ORDER BY order_id", (now,))]

    def calls_in_flight(self) -> int:
        """Callouts sent and not answered yet (asynchronous ones wait for their callback)."""
        return self.db.execute("SELECT COUNT(*) FROM tasks WHERE status = ? AND type = 'callout'", (S.RUNNING,)).fetchone()[0]

    def next_timer(self) -> Optional[int]:
        row = self.db.execute("SELECT MIN(wake_at) FROM tasks WHERE wake_at IS NOT NULL").fetchone()
        return row[0] if row else None

    # ---- revisions ---------------------------------------------------------------------------------------

    def next_revision(self, order_id: str) -> int:
        row = self.db.execute("SELECT MAX(revision) FROM revisions WHERE order_id = ?", (order_id,)).fetchone()
        return max(row[0] or 1, 1) + 1

    def add_revision(self, db, order_id: str, revision: int, document: str, status: str, reason: Optional[str], by: str, now: int) -> None:
        db.execute(
            "INSERT INTO revisions (order_id, revision, document, status, reason, by, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (order_id, revision, document, status, reason, by, now),
        )

    def revisions(self, order_id: str) -> list:
        return self.db.execute("SELECT revision, status, reason, by, received_at FROM revisions WHERE order_id = ? ORDER BY revision", (order_id,)).fetchall()

    # ---- systems, offline and online ------------------------------------------------------------------

    def offline_systems(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT name FROM systems WHERE offline = 1")}

    def set_offline(self, db, system: str, offline: bool, now: int, by: str) -> None:
        db.execute(
            "INSERT INTO systems (name, offline, changed_at, changed_by) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET offline = excluded.offline, changed_at = excluded.changed_at, changed_by = excluded.changed_by",
            (system, int(offline), now, by),
        )

    def orders_holding(self, system: str) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT DISTINCT order_id FROM tasks WHERE status = ? AND system = ? ORDER BY order_id", (S.ON_HOLD, system))]

    # ---- the hub: listeners of order events, and deliveries to them ---------------------------------------

    def listeners(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT callback FROM hub ORDER BY id")]

    def register(self, db, callback: str, now: int) -> bool:
        return db.execute("INSERT OR IGNORE INTO hub (callback, registered_at) VALUES (?, ?)", (callback, now)).rowcount == 1

    def unregister(self, db, callback: str) -> bool:
        return db.execute("DELETE FROM hub WHERE callback = ?", (callback,)).rowcount == 1

    def add_delivery(self, db, event_id: str, order_id: str, listener: str, payload: dict, now: int) -> None:
        db.execute(
            "INSERT OR IGNORE INTO deliveries (event_id, order_id, listener, payload, status, next_try_at) VALUES (?, ?, ?, ?, 'pending', ?)",
            (event_id, order_id, listener, json.dumps(payload, sort_keys=True), now),
        )

    def due_deliveries(self, now: int) -> list[tuple]:
        """Each listener gets an order's events in order: only the oldest pending one of each (listener, order) is due."""
        return self.db.execute(
            "SELECT seq, event_id, listener, payload, attempts FROM deliveries d WHERE status = 'pending' AND next_try_at <= ? "
            "AND seq = (SELECT MIN(seq) FROM deliveries e WHERE e.status = 'pending' AND e.listener = d.listener AND e.order_id = d.order_id) ORDER BY seq",
            (now,),
        ).fetchall()

    def next_delivery(self) -> Optional[int]:
        row = self.db.execute("SELECT MIN(next_try_at) FROM deliveries WHERE status = 'pending'").fetchone()
        return row[0] if row else None

    def delivered(self, db, seq: int, now: int) -> None:
        db.execute("UPDATE deliveries SET status = 'delivered', attempts = attempts + 1, delivered_at = ?, last_error = NULL WHERE seq = ?", (now, seq))

    def delivery_failed(self, db, seq: int, error: str, next_try_at: int) -> None:
        db.execute("UPDATE deliveries SET attempts = attempts + 1, last_error = ?, next_try_at = ? WHERE seq = ?", (error, next_try_at, seq))

    def deliveries(self, order_id: Optional[str] = None, status: Optional[str] = None) -> list[tuple]:
        query = "SELECT seq, event_id, order_id, listener, payload, status, attempts, next_try_at, last_error, delivered_at FROM deliveries"
        return _filtered(self.db, query, "seq", order_id=order_id, status=status)

    # ---- the inbox: callbacks of asynchronous operations ----------------------------------------------------

    def receive_callback(self, db, callback_id: str, correlation_id: str, payload: dict, now: int) -> bool:
        """Record a callback; False when this callback id arrived before (it is counted, not queued again)."""
        if db.execute("UPDATE inbox SET times = times + 1 WHERE callback_id = ?", (callback_id,)).rowcount:
            return False
        db.execute("INSERT INTO inbox (callback_id, correlation_id, payload, received_at) VALUES (?, ?, ?, ?)", (callback_id, correlation_id, json.dumps(payload, sort_keys=True), now))
        return True

    def unapplied_callbacks(self) -> list[tuple]:
        return [(seq, cid, self.decode(p, f"callback {seq}")) for seq, cid, p in self.db.execute("SELECT seq, correlation_id, payload FROM inbox WHERE applied = 0 ORDER BY seq")]

    def mark_applied(self, db, seq: int) -> None:
        db.execute("UPDATE inbox SET applied = 1 WHERE seq = ?", (seq,))

    def orders_in_jeopardy(self, level: str) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT id FROM orders WHERE jeopardy = ? ORDER BY id", (level,))]

    # ---- assets -----------------------------------------------------------------------------------------

    def assetize(self, db, run: S.OrderRun, now: int) -> None:
        """A completed order updates the customer's installed base: assets of
        its items are created (add), updated (modify) or ended (delete);
        inventory lines likewise, by their stable key. What changes is
        `installed.record_order`'s, the same rule the Temporal engine keeps
        its installed bases by; the store writes back what it touched."""
        from om_dsl.planning.installed import record_order
        from om_dsl.planning.keys import asset_id, legacy_line_key

        asset_ids = [item.asset_id or asset_id(run.id, item.id) for item in run.items]
        keys = [line.key or legacy_line_key(run.id, line_id) for line_id, line in run.lines.items()]
        state = self._installed_part(db, asset_ids, keys)  # only what the order can touch: not the customer's whole base
        record_order(state, run, now)
        for a in state["assets"].values():
            if a["order"] == run.id and a["updated_at"] == now:
                db.execute(
                    "INSERT INTO assets (id, customer, product, attributes, parent, order_id, item_id, status, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (id) DO UPDATE SET attributes = excluded.attributes, order_id = excluded.order_id, item_id = excluded.item_id, status = excluded.status, updated_at = excluded.updated_at",
                    (a["id"], a["customer"], a["product"], json.dumps(a["attributes"], sort_keys=True), a["parent"], run.id, a["item"], a["status"], now),
                )
        for key, v in state["inventory"].items():
            if v["order"] == run.id and v["updated_at"] == now:
                db.execute(
                    "INSERT INTO inventory (id, customer, asset_id, product, attributes, outputs, order_id, line, status, updated_at, line_key, source_asset, rule) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (id) DO UPDATE SET attributes = excluded.attributes, outputs = excluded.outputs, order_id = excluded.order_id, line = excluded.line, "
                    "status = excluded.status, updated_at = excluded.updated_at",
                    (f"INV-{key}", v["customer"], v["asset"], v["product"], json.dumps(v["attributes"], sort_keys=True), json.dumps(v["outputs"], sort_keys=True), run.id, v["line"], v["status"], now, key, v["source_asset"], v["rule"]),
                )

    def assets(self, customer: Optional[str] = None) -> list:
        return _filtered(self.db, "SELECT id, customer, product, attributes, parent, order_id, status FROM assets", "id", customer=customer)

    def installed_states(self) -> dict:
        """Each customer's installed base as plain data (om_dsl.planning.installed), to move it to Temporal."""
        states: dict = {}
        self._read_installed(self.db, lambda customer: states.setdefault(customer, _empty_state()))
        return states

    def _installed_part(self, db, asset_ids: list, keys: list) -> dict:
        """These assets and inventory lines (those that exist) as plain data."""
        state = _empty_state()
        for n in range(0, max(len(asset_ids), len(keys)), 500):  # (SQLite's bound on parameters)
            a, k = tuple(asset_ids[n : n + 500]), tuple(f"INV-{key}" for key in keys[n : n + 500])
            self._read_installed(db, lambda _: state, (f" WHERE id IN ({','.join('?' * len(a)) or 'NULL'})", a), (f" WHERE id IN ({','.join('?' * len(k)) or 'NULL'})", k))
        return state

    @staticmethod
    def _read_installed(db, state_of, assets: tuple = ("", ()), inventory: tuple = ("", ())) -> None:
        """Rows of assets and inventory (each a WHERE clause and its arguments) into `state_of(customer)`."""
        where, args = assets
        for id_, cust, product, attributes, parent, order_id, item_id, status, at in db.execute(
            f"SELECT id, customer, product, attributes, parent, order_id, item_id, status, updated_at FROM assets{where} ORDER BY id", args
        ):
            state_of(cust)["assets"][id_] = {
                "id": id_, "customer": cust, "product": product, "attributes": _json(db, attributes, f"asset {id_!r}"), "parent": parent, "order": order_id, "item": item_id, "status": status, "updated_at": at,
            }
        where, args = inventory
        for id_, key, cust, asset, product, attributes, outputs, order_id, line, status, at, source_asset, rule in db.execute(
            f"SELECT id, line_key, customer, asset_id, product, attributes, outputs, order_id, line, status, updated_at, source_asset, rule FROM inventory{where} ORDER BY id", args
        ):
            key = key or id_.removeprefix("INV-")  # (rows from before line keys were stored)
            state_of(cust)["inventory"][key] = {
                "key": key, "customer": cust, "asset": asset, "product": product, "attributes": _json(db, attributes, f"inventory line {id_!r}"), "outputs": _json(db, outputs, f"inventory line {id_!r}"),
                "order": order_id, "line": line, "status": status, "updated_at": at, "source_asset": source_asset, "rule": rule,
            }

    def inventory(self, customer: Optional[str] = None) -> list:
        query = "SELECT id, customer, asset_id, product, attributes, outputs, order_id, line, status FROM inventory"
        return _filtered(self.db, query, "id", customer=customer)



def _empty_state() -> dict:
    from om_dsl.planning.installed import empty_state

    return empty_state()


def _index_row(task: Optional[S.TaskRun]) -> Optional[tuple]:
    """A task's row in the tasks table (without the order id)."""
    if task is None:
        return None
    return (task.id, task.name, task.type, task.product, task.status, task.queue, task.attempts, task.next_at, task.key, task.wake_at, task.jeopardy, task.system)


class StoreInstalledBase:
    """The installed base as the store holds it (see om_dsl.planning.installed)."""

    def __init__(self, store: Store):
        self.store = store

    def asset(self, asset_id: str):
        from om_dsl.planning.installed import Asset

        row = self.store.db.execute("SELECT id, customer, product, attributes, parent, status FROM assets WHERE id = ?", (asset_id,)).fetchone()
        return Asset(row[0], row[1], row[2], S.decode_value(self.store.decode(row[3], f"asset {asset_id!r}")), row[4], row[5]) if row else None

    def children(self, asset_id: str) -> list:
        from om_dsl.planning.installed import Asset

        rows = self.store.db.execute("SELECT id, customer, product, attributes, parent, status FROM assets WHERE parent = ? AND status = 'active' ORDER BY id", (asset_id,))
        return [Asset(r[0], r[1], r[2], S.decode_value(self.store.decode(r[3], f"asset {r[0]!r}")), r[4], r[5]) for r in rows]

    def _lines(self, where: str, args: tuple) -> list:
        from om_dsl.planning.installed import InstalledLine

        rows = self.store.db.execute(f"SELECT line_key, product, attributes, source_asset, rule, customer, status FROM inventory WHERE {where} AND status = 'active' ORDER BY line_key", args)
        return [InstalledLine(r[0], r[1], S.decode_value(self.store.decode(r[2], f"inventory line {r[0]!r}")), r[3], r[4], r[5], r[6]) for r in rows]

    def lines_of(self, source_asset: str) -> list:
        return self._lines("source_asset = ?", (source_asset,))

    def in_flight(self, asset_id: str):
        """An unfinished order whose items change this asset."""
        finals = ",".join("?" * len(S.FINAL))
        row = self.store.db.execute(
            f"SELECT id FROM orders WHERE status NOT IN ({finals}) AND instr(changes, ' ' || ? || ' ') > 0 ORDER BY created_at, id", (*S.FINAL, asset_id)
        ).fetchone()
        return row[0] if row else None

    def line(self, key: str):
        found = self._lines("line_key = ?", (key,))
        return found[0] if found else None
