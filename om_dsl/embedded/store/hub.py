"""The hub: listeners of order events, and deliveries to them."""

from __future__ import annotations

import json
from typing import Optional

from om_dsl.embedded.store.database import _filtered


class Hub:
    """(A part of Store: see __init__.py.)"""

    def listeners(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT callback FROM hub ORDER BY id")]

    def register(self, db, callback: str, now: int) -> bool:
        return db.execute("INSERT OR IGNORE INTO hub (callback, registered_at) VALUES (?, ?)", (callback, now)).rowcount == 1

    def subscribe(self, db, callback: str, query: Optional[str], owner: Optional[str], now: int) -> int:
        """A hub subscription (the API's POST /hub): the same callback again takes the new query and owner, and keeps its id."""
        db.execute(
            "INSERT INTO hub (callback, registered_at, query, owner) VALUES (?, ?, ?, ?) ON CONFLICT (callback) DO UPDATE SET query = excluded.query, owner = excluded.owner",
            (callback, now, query, owner),
        )
        return db.execute("SELECT id FROM hub WHERE callback = ?", (callback,)).fetchone()[0]

    def unsubscribe(self, db, subscription_id: int) -> bool:
        return db.execute("DELETE FROM hub WHERE id = ?", (subscription_id,)).rowcount == 1

    def subscriptions(self) -> list[tuple]:
        """(id, callback, query, owner) of every listener, `om hub register`'s (no query, no owner) too."""
        return self.db.execute("SELECT id, callback, query, owner FROM hub ORDER BY id").fetchall()

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

    # ---- cancellation requests (the API's CancelProductOrder)

    def add_cancellation(self, db, cancel_id: str, order_id: str, by: str, reason: str, now: int) -> None:
        db.execute("INSERT INTO cancellations (id, order_id, state, reason, by, requested_at, updated_at) VALUES (?, ?, 'acknowledged', ?, ?, ?, ?)", (cancel_id, order_id, reason, by, now, now))

    def set_cancellation(self, db, cancel_id: str, state: str, message: Optional[str], now: int) -> None:
        db.execute("UPDATE cancellations SET state = ?, message = ?, updated_at = ? WHERE id = ?", (state, message, now, cancel_id))

    def cancellations(self, cancel_id: Optional[str] = None) -> list:
        from om_dsl.embedded.store.database import _named

        if cancel_id is not None:
            return _named(self.db, "SELECT * FROM cancellations WHERE id = ?", (cancel_id,))
        return _named(self.db, "SELECT * FROM cancellations ORDER BY requested_at, id", ())

    def cancellation_count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM cancellations").fetchone()[0]

    def deliveries(self, order_id: Optional[str] = None, status: Optional[str] = None) -> list[tuple]:
        query = "SELECT seq, event_id, order_id, listener, payload, status, attempts, next_try_at, last_error, delivered_at FROM deliveries"
        return _filtered(self.db, query, "seq", order_id=order_id, status=status)
