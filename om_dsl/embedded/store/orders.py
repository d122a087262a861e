"""Orders: accepted or rejected, their state (with its task index, history and commands, in one transaction), their revisions."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from typing import Iterator, Optional

from om_dsl.embedded.store.database import StoreDamaged, _filtered, _named
from om_dsl.engine import commands as Cmd
from om_dsl.engine import state as S
from om_dsl.engine.events import Step


class Orders:
    """(A part of Store: see __init__.py.)"""

    _whole: frozenset = frozenset()  # orders read as written before schema 7: their next save writes every part

    def order_exists(self, order_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM orders WHERE id = ?", (order_id,)).fetchone() is not None

    def taken(self, order_ids: list) -> set:
        """Which of these ids an order already has."""
        out: set = set()
        for n in range(0, len(order_ids), 500):
            chunk = order_ids[n : n + 500]
            out.update(r[0] for r in self.db.execute(f"SELECT id FROM orders WHERE id IN ({','.join('?' * len(chunk))})", chunk))
        return out

    def insert_rejected(self, db, order_id: str, document: str, problems: list, now: int, customer: Optional[str] = None, external_id: Optional[str] = None, submitted_by: Optional[str] = None) -> None:
        """A rejected order is kept with what it says of itself: whose it is, its id in the originating system."""
        db.execute(
            "INSERT INTO orders (id, status, customer, external_id, document, problems, created_at, updated_at, submitted_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (order_id, S.REJECTED, customer, external_id, document, json.dumps(problems), now, now, submitted_by),
        )
        db.execute("INSERT INTO events (order_id, at, subject, from_state, to_state, cause) VALUES (?, ?, 'order', NULL, ?, ?)", (order_id, now, S.REJECTED, "; ".join(p["message"] for p in problems)))

    def insert_order(self, db, run: S.OrderRun, document: str, submitted_by: Optional[str] = None) -> None:
        db.execute(
            "INSERT INTO orders (id, catalog_sha, status, customer, external_id, document, created_at, updated_at, submitted_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (run.id, run.catalog, run.status, run.fields.get("customer_account"), run.external_id, document, run.created_at, run.updated_at, submitted_by),
        )

    def order_priority(self, order_id: str) -> Optional[str]:
        """The order's TMF622 priority, read off its state without decoding all of it."""
        row = self.db.execute("SELECT json_extract(state, '$.fields.priority') FROM orders WHERE id = ?", (order_id,)).fetchone()
        return row[0] if row and isinstance(row[0], str) else None

    def save(self, db, run: S.OrderRun, history: list, commands: list, now: int, changed: Optional[Step] = None, was: Optional[tuple] = None) -> None:
        """The new state of an order, its history and its commands: call inside a transaction.

        The state is kept in parts (schema 7): `orders.state` holds the fields,
        the items and the plan order of tasks and lines; the table order_state
        a row per part: the order's scalars ("head"), each task, each line.
        The tasks table indexes the tasks (open manual tasks, timers, call
        keys, calls on hold): one row per task of the order, no more. Given
        the `changed` step that made this state from the one stored, only what
        it changed is written: the head, the tasks and lines it touched (and
        the order's row when its status, updated_at or jeopardy moved from
        `was`, those three as stored before the step; None: not known).
        Without it (a new order), when the step added, removed or rewired
        tasks, or for an order stored before schema 7, every part is.
        Inside `batched`, the writes wait for the end of the batch."""
        writes = self._batch or _Writes()
        if changed is None or changed.reshaped or run.id in self._whole:
            self._save_whole(db, run, new=changed is None)
        else:
            writes.changed(run, changed, was)
        writes.events += [(run.id, h["at"], h["subject"], h["from"], h["to"], h["cause"]) for h in history]
        writes.outbox += [(run.id, c.kind, self._command_text(c), now) for c in commands]
        if writes is not self._batch:
            writes.flush(db)

    _batch: "Optional[_Writes]" = None
    _written: Optional[dict] = None  # the outbox's payload text -> the command it encodes (Outbox.pending_commands reads it back)

    def _command_text(self, c: Cmd.Command) -> str:
        """A command as its outbox row holds it; remembered, so that reading the
        outbox back needs no decoding of what this process wrote (the same text
        decodes to an equal command: commands are values)."""
        text = command_text(c)
        self._remember_written({text: c})
        return text

    def _remember_written(self, written: dict) -> None:
        if self._written is None or len(self._written) >= 4096:  # (bounded: a command not read back soon is decoded as before)
            self._written = {}
        self._written.update(written)

    @contextlib.contextmanager
    def batched(self, db) -> Iterator[None]:
        """Orders saved inside are written once, at the end (each order's head,
        each task and line changed, the events and commands of all in one
        statement each): the events of one transaction cost fewer statements."""
        self._batch = writes = _Writes()
        try:
            yield
            writes.flush(db)
            if writes.completed:
                self.assetize_all(db, writes.completed)
        finally:
            self._batch = None

    def _save_whole(self, db, run: S.OrderRun, new: bool = False) -> None:
        """Every part of the order (`new`: just inserted, it has none to replace)."""
        rows = whole_rows(run)
        db.execute("UPDATE orders SET status = ?, state = ?, updated_at = ?, jeopardy = ?, changes = ? WHERE id = ?", (*rows["head"], run.id))
        if not new:
            db.execute("DELETE FROM tasks WHERE order_id = ?", (run.id,))
            db.execute("DELETE FROM order_state WHERE order_id = ?", (run.id,))
        db.executemany(INSERT_TASK, rows["tasks"])
        db.executemany(INSERT_PART, rows["parts"])
        self._whole = self._whole - {run.id}

    def insert_new(self, db, orders: list) -> None:
        """New orders, each `new_rows(...)`'s (made before the transaction): a
        statement per table for all of them. The same rows as `insert_order`
        then `save` of each."""
        db.executemany(INSERT_NEW, [o["order"] for o in orders])
        db.executemany(INSERT_TASK, [t for o in orders for t in o["tasks"]])
        db.executemany(INSERT_PART, [x for o in orders for x in o["parts"]])
        db.executemany(INSERT_EVENT, [e for o in orders for e in o["events"]])
        db.executemany(INSERT_OUTBOX, [c for o in orders for c in o["outbox"]])
        for o in orders:
            self._remember_written(o["written"])

    def load(self, order_id: str) -> Optional[S.OrderRun]:
        row = self.db.execute("SELECT state FROM orders WHERE id = ?", (order_id,)).fetchone()
        if row is None or row[0] is None:
            return None
        what = f"the state of order {order_id!r}"
        try:
            body = self.decode(row[0], what)
            if body.get("format") != 2:  # written before schema 7: the whole state in one document
                self._whole = self._whole | {order_id}
                return S.from_data(body)
            parts = {part: data for part, data in self.db.execute("SELECT part, data FROM order_state WHERE order_id = ?", (order_id,))}
            lines = {k: S.line_from_data(self.decode(parts["l:" + k], what)) for k in body["lines"]}
            tasks = {k: S.task_from_data(self.decode(parts["t:" + k], what)) for k in body["tasks"]}
            return S.from_parts(self.decode(parts["head"], what), body, lines, tasks)
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

    def order_document(self, order_id: str) -> Optional[str]:
        """The order's document as it was submitted."""
        row = self.db.execute("SELECT document FROM orders WHERE id = ?", (order_id,)).fetchone()
        return row[0] if row else None

    def revision_document(self, order_id: str, revision: int) -> Optional[str]:
        """A revision's document as it was submitted (revision 1: the order's)."""
        if revision <= 1:
            return self.order_document(order_id)
        row = self.db.execute("SELECT document FROM revisions WHERE order_id = ? AND revision = ?", (order_id, revision)).fetchone()
        return row[0] if row else None

    def orders(self, status: Optional[str] = None, jeopardy: Optional[str] = None) -> list:
        return _filtered(self.db, "SELECT id, status, customer, external_id, created_at, updated_at, jeopardy, submitted_by FROM orders", "created_at, id", status=status, jeopardy=jeopardy)

    def order_ids(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT id FROM orders ORDER BY rowid")]

    def unfinished_orders(self) -> list[str]:
        finals = ",".join("?" * len(S.FINAL))
        return [r[0] for r in self.db.execute(f"SELECT id FROM orders WHERE status NOT IN ({finals}) ORDER BY created_at, id", S.FINAL)]

    def orders_in_jeopardy(self, level: str) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT id FROM orders WHERE jeopardy = ? ORDER BY id", (level,))]

    def history(self, order_id: str) -> list:
        return _named(self.db, "SELECT seq, at, subject, from_state, to_state, cause FROM events WHERE order_id = ? ORDER BY seq", (order_id,))

    def note(self, db, order_id: str, now: int, cause: str) -> None:
        """A line in the order's history that changes no state (an event ignored, a revision refused)."""
        writes = self._batch or _Writes()
        writes.events.append((order_id, now, "order", None, None, cause))
        if writes is not self._batch:
            writes.flush(db)

    def next_revision(self, order_id: str) -> int:
        row = self.db.execute("SELECT MAX(revision) FROM revisions WHERE order_id = ?", (order_id,)).fetchone()
        return max(row[0] or 1, 1) + 1

    def add_revision(self, db, order_id: str, revision: int, document: str, status: str, reason: Optional[str], by: str, now: int) -> None:
        db.execute(
            "INSERT INTO revisions (order_id, revision, document, status, reason, by, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (order_id, revision, document, status, reason, by, now),
        )

    def revisions(self, order_id: str) -> list:
        return _named(self.db, "SELECT revision, status, reason, by, received_at FROM revisions WHERE order_id = ? ORDER BY revision", (order_id,))


INSERT_TASK = "INSERT INTO tasks (order_id, item_id, name, type, product, status, queue, attempts, next_at, call_key, wake_at, jeopardy, system) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
INSERT_PART = "INSERT INTO order_state (order_id, part, data) VALUES (?, ?, ?)"
INSERT_EVENT = "INSERT INTO events (order_id, at, subject, from_state, to_state, cause) VALUES (?, ?, ?, ?, ?, ?)"
INSERT_OUTBOX = "INSERT INTO outbox (order_id, kind, payload, created_at) VALUES (?, ?, ?, ?)"
INSERT_NEW = (
    "INSERT INTO orders (id, catalog_sha, status, customer, external_id, document, created_at, updated_at, submitted_by, state, jeopardy, changes)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


# The encoders, made once (json.dumps makes one per call when given options); the
# text is json.dumps's with the same options (no check for cycles: the state has none).
_json = json.JSONEncoder(check_circular=False).encode
_sorted_json = json.JSONEncoder(sort_keys=True, check_circular=False).encode


def command_text(c: Cmd.Command) -> str:
    """A command as the outbox holds it: its data (`commands.to_data`), keys sorted."""
    return _sorted_json(Cmd.to_data(c))


def whole_rows(run: S.OrderRun) -> dict:
    """Every part of an order as rows: its head (status, state, updated_at, jeopardy, changes), tasks, parts."""
    changes = " ".join(sorted({i.asset_id for i in run.items if i.asset_id and i.action != "noChange"}))
    body = {
        "format": 2, "fields": S.encode_value(run.fields), "items": [S.item_data(i) for i in run.items],
        "tasks": {k: n for n, k in enumerate(run.tasks)}, "lines": {k: n for n, k in enumerate(run.lines)},
    }
    parts = [(run.id, "head", _json(S.head_part(run)))]
    parts += [(run.id, "t:" + k, _json(S.task_part(t))) for k, t in run.tasks.items()]
    parts += [(run.id, "l:" + k, _json(S.line_data(line))) for k, line in run.lines.items()]
    return {
        "head": (run.status, _json(body), run.updated_at, run.jeopardy, f" {changes} " if changes else None),
        "tasks": [(run.id, *_index_row(t)) for t in run.tasks.values()],
        "parts": parts,
    }


def new_rows(run: S.OrderRun, document: str, submitted_by: Optional[str], history: list, commands: list, now: int) -> dict:
    """A new order's rows (`Orders.insert_new`): pure, so made outside the transaction."""
    rows = whole_rows(run)
    status, state, updated_at, jeopardy, changes = rows["head"]
    rows["order"] = (run.id, run.catalog, status, run.fields.get("customer_account"), run.external_id, document, run.created_at, updated_at, submitted_by, state, jeopardy, changes)
    rows["events"] = [(run.id, h["at"], h["subject"], h["from"], h["to"], h["cause"]) for h in history]
    texts = [command_text(c) for c in commands]
    rows["outbox"] = [(run.id, c.kind, text, now) for c, text in zip(commands, texts)]
    rows["written"] = dict(zip(texts, commands))  # (what the outbox's rows decode to: Outbox.pending_commands)
    return rows


class _Writes:
    """What saving orders writes, gathered: a statement per kind of row."""

    def __init__(self):
        self.runs: dict = {}  # order id -> the order (its head and parts are read when flushed: the latest)
        self.tasks: dict = {}  # order id -> ids of tasks changed
        self.lines: dict = {}  # order id -> ids of lines changed
        self.rows: dict = {}  # order id -> its row's (status, updated_at, jeopardy) as stored before the batch (None: not known)
        self.events: list = []
        self.outbox: list = []
        self.done: list = []
        self.completed: list = []  # (order, now) of each order completed (Assets.assetize)

    def changed(self, run: S.OrderRun, step: Step, was: Optional[tuple] = None) -> None:
        self.runs[run.id] = run
        self.rows.setdefault(run.id, was)
        self.tasks.setdefault(run.id, set()).update(step.changed)
        self.lines.setdefault(run.id, set()).update(step.lines_changed)

    def flush(self, db) -> None:
        runs = self.runs.values()
        tasks = [(r.id, t) for r in runs for t in map(r.tasks.get, self.tasks[r.id]) if t is not None]
        if runs:
            moved = [(r.status, r.updated_at, r.jeopardy, r.id) for r in runs if self.rows.get(r.id) != (r.status, r.updated_at, r.jeopardy)]
            if moved:  # (an order's row is wide: most events leave these three as they were)
                db.executemany("UPDATE orders SET status = ?, updated_at = ?, jeopardy = ? WHERE id = ?", moved)
            parts = [(r.id, "head", _json(S.head_part(r))) for r in runs]
            parts += [(order_id, "t:" + t.id, _json(S.task_part(t))) for order_id, t in tasks]
            parts += [(r.id, "l:" + k, _json(S.line_data(r.lines[k]))) for r in runs for k in self.lines[r.id] if k in r.lines]
            db.executemany("INSERT INTO order_state (order_id, part, data) VALUES (?, ?, ?) ON CONFLICT (order_id, part) DO UPDATE SET data = excluded.data", parts)
        if tasks:
            db.executemany(
                "UPDATE tasks SET status = ?, queue = ?, attempts = ?, next_at = ?, call_key = ?, wake_at = ?, jeopardy = ?, system = ? WHERE order_id = ? AND item_id = ?",
                [(t.status, t.queue, t.attempts, t.next_at, t.key, t.wake_at, t.jeopardy, t.system, order_id, t.id) for order_id, t in tasks],
            )
        if self.events:
            db.executemany("INSERT INTO events (order_id, at, subject, from_state, to_state, cause) VALUES (?, ?, ?, ?, ?, ?)", self.events)
        if self.outbox:
            db.executemany("INSERT INTO outbox (order_id, kind, payload, created_at) VALUES (?, ?, ?, ?)", self.outbox)
        if self.done:
            db.executemany("UPDATE outbox SET done = 1, done_at = ? WHERE seq = ?", self.done)


def _index_row(task: Optional[S.TaskRun]) -> Optional[tuple]:
    """A task's row in the tasks table (without the order id)."""
    if task is None:
        return None
    return (task.id, task.name, task.type, task.product, task.status, task.queue, task.attempts, task.next_at, task.key, task.wake_at, task.jeopardy, task.system)
