"""The tasks index: open manual tasks, timers, calls by key (rows the order state writes, see orders.py)."""

from __future__ import annotations

from typing import Optional

from om_dsl.embedded.store.database import _filtered
from om_dsl.engine import state as S


class Tasks:
    """(A part of Store: see __init__.py.)"""

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
