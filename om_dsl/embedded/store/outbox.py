"""The outbox: commands an order state produced, executed once each, in order."""

from __future__ import annotations

from typing import Optional

from om_dsl.engine import state as S


class Outbox:
    """(A part of Store: see __init__.py.)"""

    def pending_commands(self, order_id: Optional[str] = None) -> list[tuple[int, dict]]:
        q = "SELECT seq, payload FROM outbox WHERE done = 0"
        args: tuple = ()
        if order_id is not None:
            q += " AND order_id = ?"
            args = (order_id,)
        return [(seq, S.decode_value(self.decode(p, f"outbox command {seq}"))) for seq, p in self.db.execute(q + " ORDER BY seq", args)]

    def mark_done(self, db, seq: int, now: int) -> None:
        db.execute("UPDATE outbox SET done = 1, done_at = ? WHERE seq = ?", (now, seq))
