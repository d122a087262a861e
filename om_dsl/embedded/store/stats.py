"""What the operations team counts (`om serve`'s /metrics): orders, tasks,
the outbox and deliveries by state, read at scrape time; and the calls the
runner made, counted in the transaction that applied their results."""

from __future__ import annotations

import json

from om_dsl.embedded.store.database import _named
from om_dsl.engine import state as S

CALLS = "calls "  # meta keys: CALLS + json [system, operation] -> an entry of om_dsl.observe.calls


class Stats:
    """(A part of Store: see __init__.py.)"""

    def add_call_stats(self, db, entries: dict) -> None:
        """{(system, operation): entry} added to what is kept (read and written in the caller's transaction)."""
        from om_dsl.observe import calls

        for (system, operation), entry in sorted(entries.items()):
            key = CALLS + json.dumps([system, operation])
            row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            kept = self.decode(row[0], f"the call statistics of {system}.{operation}") if row else calls.empty()
            self.set_meta(db, key, json.dumps(calls.merge(kept, entry), sort_keys=True))

    def stats(self) -> dict:
        """The order service's `stats()`: `state_counts`, and the calls (`call_stats`)."""
        return {**self.state_counts(), "calls": self.call_stats()}

    def call_stats(self) -> list[dict]:
        """[{"system", "operation", **entry}] of every call the runners of this database made."""
        out = []
        for key, value in self.db.execute("SELECT key, value FROM meta WHERE key >= ? AND key < ? ORDER BY key", (CALLS, CALLS[:-1] + "!")):
            system, operation = self.decode(key[len(CALLS):], "a call statistics key")
            out.append({"system": system, "operation": operation, **self.decode(value, f"the call statistics of {system}.{operation}")})
        return out

    def state_counts(self) -> dict:
        """Orders by status and (the unfinished ones) by jeopardy; the unfinished
        orders' tasks by status and type, and their calls held for offline
        systems; commands in the outbox not done yet; deliveries of order events
        pending, and of those the ones whose last attempt failed."""
        finals = ",".join("?" * len(S.FINAL))
        unfinished = f"SELECT id FROM orders WHERE status NOT IN ({finals})"
        one = lambda q, args=(): self.db.execute(q, args).fetchone()[0]  # noqa: E731
        return {
            "orders": {**dict.fromkeys(S.ORDER_STATES, 0), **dict(self.db.execute("SELECT status, COUNT(*) FROM orders GROUP BY status ORDER BY status"))},
            "jeopardy": {**dict.fromkeys((S.GREEN, S.YELLOW, S.RED), 0), **dict(self.db.execute(f"SELECT jeopardy, COUNT(*) FROM orders WHERE jeopardy IS NOT NULL AND status NOT IN ({finals}) GROUP BY jeopardy", S.FINAL))},
            "tasks": [{"state": r[0], "type": r[1], "count": r[2]} for r in _named(self.db, f"SELECT status, type, COUNT(*) FROM tasks WHERE order_id IN ({unfinished}) GROUP BY status, type ORDER BY status, type", S.FINAL)],
            "held": dict(self.db.execute(f"SELECT system, COUNT(*) FROM tasks WHERE status = ? AND order_id IN ({unfinished}) GROUP BY system ORDER BY system", (S.ON_HOLD, *S.FINAL))),
            "outbox": one("SELECT COUNT(*) FROM outbox WHERE done = 0"),
            "deliveries": {
                "pending": one("SELECT COUNT(*) FROM deliveries WHERE status = 'pending'"),
                "failing": one("SELECT COUNT(*) FROM deliveries WHERE status = 'pending' AND last_error IS NOT NULL"),
            },
        }
