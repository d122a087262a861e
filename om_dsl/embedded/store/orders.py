"""Orders: accepted or rejected, their state (with its task index, history and commands, in one transaction), their revisions."""

from __future__ import annotations

import json
import sqlite3
from typing import Optional

from om_dsl.embedded.store.database import StoreDamaged, _filtered, _named
from om_dsl.engine import commands as Cmd
from om_dsl.engine import state as S


class Orders:
    """(A part of Store: see __init__.py.)"""

    def order_exists(self, order_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM orders WHERE id = ?", (order_id,)).fetchone() is not None

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
        db.execute("INSERT INTO events (order_id, at, subject, from_state, to_state, cause) VALUES (?, ?, 'order', NULL, NULL, ?)", (order_id, now, cause))

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


def _index_row(task: Optional[S.TaskRun]) -> Optional[tuple]:
    """A task's row in the tasks table (without the order id)."""
    if task is None:
        return None
    return (task.id, task.name, task.type, task.product, task.status, task.queue, task.attempts, task.next_at, task.key, task.wake_at, task.jeopardy, task.system)
