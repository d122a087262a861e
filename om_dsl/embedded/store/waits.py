"""Orders waiting for other orders: who waits for whom, and which of them have news."""

from __future__ import annotations


class Waits:
    """(A part of Store: see __init__.py.)"""

    def set_waits(self, db, order_id: str, others: list[str]) -> None:
        """The orders `order_id` still waits for (engine/waits.py's `open_waits`); those it heard of keep their place."""
        have = {r[0] for r in db.execute("SELECT other FROM waits WHERE order_id = ?", (order_id,))}
        gone = have - set(others)
        db.executemany("DELETE FROM waits WHERE order_id = ? AND other = ?", [(order_id, o) for o in sorted(gone)])
        db.executemany("INSERT INTO waits (order_id, other, seen_seq) VALUES (?, ?, 0)", [(order_id, o) for o in others if o not in have])

    def waits_with_news(self) -> list[tuple[str, str, int]]:
        """(waiting order, other order, the other's last event seq) for each wait whose other order moved since it was last told."""
        return [
            (r[0], r[1], r[2])
            for r in self.db.execute(
                "SELECT w.order_id, w.other, (SELECT MAX(e.seq) FROM events e WHERE e.order_id = w.other) AS last "
                "FROM waits w WHERE last > w.seen_seq ORDER BY w.order_id, w.other"
            )
        ]

    def told(self, db, order_id: str, other: str, seq: int) -> None:
        db.execute("UPDATE waits SET seen_seq = ? WHERE order_id = ? AND other = ?", (seq, order_id, other))

    def waiting_on(self, order_id: str) -> list[str]:
        """The orders `order_id` still waits for, as the store indexes them."""
        return [r[0] for r in self.db.execute("SELECT other FROM waits WHERE order_id = ? ORDER BY other", (order_id,))]
