"""The database file of the embedded store: opening it, the om mark, errors
of SQLite as StoreErrors, the schema brought up to date, transactions.

WAL, `BEGIN IMMEDIATE` for every write, a busy timeout, `synchronous=FULL`
by default (NORMAL on request), foreign keys on, a versioned schema with
migrations (schema.py)."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from pathlib import Path
from typing import Iterator
from urllib.request import pathname2url

from om_dsl.embedded.store.schema import _TABLES, MIGRATIONS, READABLE_FROM

DEFAULT_DB = "om.db"
DB_ENV = "OM_DB"


def _named(db, query: str, args=()) -> list[sqlite3.Row]:
    """The rows of a query, read by column name (r["status"]) or, as before, by position."""
    cursor = db.cursor(_Cursor)
    cursor.row_factory = sqlite3.Row
    return cursor.execute(query, args).fetchall()


def _filtered(db, query: str, order_by: str, **filters) -> list[sqlite3.Row]:
    """`query` (which may end in a WHERE clause of its own), narrowed by the
    filters given (column = value; None: not filtered), ordered; named rows."""
    given = [(column, value) for column, value in filters.items() if value is not None]
    joiner = " AND " if " WHERE " in query else " WHERE "
    clauses = joiner + " AND ".join(f"{column} = ?" for column, _ in given) if given else ""
    return _named(db, f"{query}{clauses} ORDER BY {order_by}", [value for _, value in given])


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


class Database:
    """The connection to one om database, checked and up to date."""

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

    _in_batch = False  # inside `batch()`: a transaction is a savepoint of the batch's

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Many transactions, one commit (one fsync): each `transaction()`
        inside is a savepoint, undone alone when it fails; nothing is durable
        until the batch commits. `om serve` submits concurrent API orders so."""
        self._in_batch = True
        try:
            with self._immediate():
                yield
        finally:
            self._in_batch = False

    @contextlib.contextmanager
    def _immediate(self) -> Iterator[None]:
        """One write transaction: committed whole, or rolled back whole."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
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

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        if self._in_batch:
            self.db.execute("SAVEPOINT om_step")
            try:
                yield self.db
            except BaseException:
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK TO om_step")
                    self.db.execute("RELEASE om_step")
                raise
            self.db.execute("RELEASE om_step")
            return
        with self._immediate():
            yield self.db

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
            if current < len(MIGRATIONS) and not (current >= READABLE_FROM and app == APPLICATION_ID):
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

    def data_version(self) -> int:
        """Changes when another connection commits (SQLite's PRAGMA data_version): what is held in memory may be stale."""
        return self.db.execute("PRAGMA data_version").fetchone()[0]

    def decode(self, text: str, what: str):
        """A JSON value stored by om; StoreDamaged when it does not decode."""
        return _json(self.db, text, what)

    @property
    def schema_version(self) -> int:
        return self.db.execute("SELECT version FROM schema_version").fetchone()[0]
