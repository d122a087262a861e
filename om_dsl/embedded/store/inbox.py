"""The inbox: callbacks of asynchronous operations, each recorded once, applied once."""

from __future__ import annotations

import json


class Inbox:
    """(A part of Store: see __init__.py.)"""

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
