"""Systems taken offline and back online by an operator, and the orders whose calls they hold."""

from __future__ import annotations

from om_dsl.embedded.store.database import _named
from om_dsl.engine import state as S


class Systems:
    """(A part of Store: see __init__.py.)"""

    def offline_systems(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT name FROM systems WHERE offline = 1")}

    def set_offline(self, db, system: str, offline: bool, now: int, by: str) -> None:
        db.execute(
            "INSERT INTO systems (name, offline, changed_at, changed_by) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET offline = excluded.offline, changed_at = excluded.changed_at, changed_by = excluded.changed_by",
            (system, int(offline), now, by),
        )

    def system_changes(self) -> list:
        """Systems an operator took offline or brought back: name, offline, changed_at, changed_by."""
        return _named(self.db, "SELECT name, offline, changed_at, changed_by FROM systems ORDER BY name")

    def orders_holding(self, system: str) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT DISTINCT order_id FROM tasks WHERE status = ? AND system = ? ORDER BY order_id", (S.ON_HOLD, system))]
