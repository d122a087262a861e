"""The outbox: commands an order state produced, executed once each, in order."""

from __future__ import annotations

from typing import Optional

from om_dsl.embedded.store.database import StoreDamaged
from om_dsl.engine import commands as Cmd


class Outbox:
    """(A part of Store: see __init__.py.)"""

    def pending_commands(self, order_id: Optional[str] = None) -> list[tuple[int, Cmd.Command]]:
        """The commands not done yet, oldest first. A row is the command's data
        (`commands.to_data`), the same shape the untyped engine wrote."""
        q = "SELECT seq, payload FROM outbox WHERE done = 0"
        args: tuple = ()
        if order_id is not None:
            q += " AND order_id = ?"
            args = (order_id,)
        return [(seq, self._command(seq, p)) for seq, p in self.db.execute(q + " ORDER BY seq", args)]

    def _command(self, seq: int, payload: str) -> Cmd.Command:
        known = self._written.get(payload) if self._written else None  # (Orders._command_text: written by this process)
        if known is not None:
            return known
        try:
            return Cmd.from_data(self.decode(payload, f"outbox command {seq}"))
        except StoreDamaged:
            raise
        except (ArithmeticError, ValueError, TypeError) as exc:
            raise StoreDamaged(f"the database {self.path} is damaged: outbox command {seq} does not read ({exc})") from None

    def mark_done(self, db, seq: int, now: int) -> None:
        if self._batch is not None:  # (Orders.batched: written with the batch)
            self._batch.done.append((now, seq))
            return
        db.execute("UPDATE outbox SET done = 1, done_at = ? WHERE seq = ?", (now, seq))
