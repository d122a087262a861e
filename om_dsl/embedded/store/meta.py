"""Settings kept with the database (meta): the clock, the callback secret, refused callbacks; and the catalog versions orders ran on."""

from __future__ import annotations

from typing import Optional

from om_dsl.embedded.store.database import _named


class Meta:
    """(A part of Store: see __init__.py.)"""

    def meta(self, key: str) -> Optional[str]:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, db, key: str, value: str) -> None:
        db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))

    def callback_secret(self) -> str:
        """The secret callback tokens are made with (om_dsl.systems.callback_auth): made once, kept here,
        so that `om run` and `om serve` on this database agree on it."""
        from om_dsl.systems.callback_auth import new_secret

        secret = self.meta("callback_secret")
        if secret is None:
            with self.transaction() as db:
                db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('callback_secret', ?)", (new_secret(),))
            secret = self.meta("callback_secret")
        return secret

    def count_refused_callback(self, db, note: str) -> None:
        """One more callback refused for want of a valid token; `note` (bounded) says what the last one was."""
        db.execute("INSERT INTO meta (key, value) VALUES ('callbacks_refused', '1') ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1")
        self.set_meta(db, "callback_refused_last", note)

    def remember_catalog(self, db, sha: str, name: str, version: str, plan_json: str, sources_json: Optional[str], now: int) -> None:
        db.execute(
            "INSERT OR IGNORE INTO catalog_versions (sha, name, version, plan_json, sources_json, first_used_at) VALUES (?, ?, ?, ?, ?, ?)",
            (sha, name, version, plan_json, sources_json, now),
        )

    def known_systems(self) -> set[str]:
        """The systems of every catalog version an order ran on."""
        out: set[str] = set()
        for (plan_json,) in self.db.execute("SELECT plan_json FROM catalog_versions"):
            out.update(self.decode(plan_json, "a catalog version's plan").get("systems", {}))
        return out

    def catalog_version(self, sha: str) -> Optional[tuple]:
        found = _named(self.db, "SELECT name, version, plan_json, sources_json FROM catalog_versions WHERE sha = ?", (sha,))
        return found[0] if found else None
