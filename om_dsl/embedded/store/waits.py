"""Orders waiting for other orders: who waits for whom, and which of them have news."""

from __future__ import annotations

import json


class Waits:
    """(A part of Store: see __init__.py.)"""

    def set_waits(self, db, order_id: str, others: dict) -> None:
        """The orders `order_id` still waits for, each with the milestones it
        waits for (engine/waits.py's `open_waits`); those it heard of keep their place."""
        have = {r[0] for r in db.execute("SELECT other FROM waits WHERE order_id = ?", (order_id,))}
        db.executemany("DELETE FROM waits WHERE order_id = ? AND other = ?", [(order_id, o) for o in sorted(have - set(others))])
        db.executemany("UPDATE waits SET milestones = ? WHERE order_id = ? AND other = ?", [(json.dumps(others[o]), order_id, o) for o in sorted(have & set(others))])
        db.executemany("INSERT INTO waits (order_id, other, milestones, seen_seq) VALUES (?, ?, ?, 0)", [(order_id, o, json.dumps(others[o])) for o in sorted(set(others) - have)])

    def waits_with_news(self) -> list[tuple[str, str, list, int]]:
        """(waiting order, other order, the milestones it waits for, the other's last event seq)
        for each wait whose other order moved since it was last told."""
        return [
            (r[0], r[1], self.decode(r[2], f"the waits of order {r[0]!r}"), r[3])
            for r in self.db.execute(
                "SELECT w.order_id, w.other, w.milestones, (SELECT MAX(e.seq) FROM events e WHERE e.order_id = w.other) AS last "
                "FROM waits w WHERE last > w.seen_seq ORDER BY w.order_id, w.other"
            )
        ]

    def told(self, db, order_id: str, other: str, seq: int) -> None:
        db.execute("UPDATE waits SET seen_seq = ? WHERE order_id = ? AND other = ?", (seq, order_id, other))

    def milestone_tasks(self, order_id: str) -> list[tuple[str, str]]:
        """(name, status) of the order's milestone tasks, from the tasks index (no state to decode)."""
        return [(r[0], r[1]) for r in self.db.execute("SELECT name, status FROM tasks WHERE order_id = ? AND type = 'milestone'", (order_id,))]

    def waiting_on(self, order_id: str) -> list[str]:
        """The orders `order_id` still waits for, as the store indexes them."""
        return [r[0] for r in self.db.execute("SELECT other FROM waits WHERE order_id = ? ORDER BY other", (order_id,))]
