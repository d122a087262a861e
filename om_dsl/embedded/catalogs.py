"""The rules of each catalog version the orders of a store run on."""

from __future__ import annotations

from om_dsl.embedded.store import Store
from om_dsl.engine import core as C
from om_dsl.rules.generated import sha_of
from om_dsl.rules.versions import RulesByVersion


class Catalogs:
    """The rules for each catalog version an order may run on.

    The current compiled catalog serves its own version with its generated
    modules; an older version an order started on is served by the
    interpreter, from the plan.json the store kept when the order began."""

    def __init__(self, store: Store, current=None):
        self.store = store
        self.current = current
        self.remembered = False
        self._versions = RulesByVersion()
        if current is not None:
            self.current_sha = sha_of(current)
            self._versions.register(self.current_sha, current)

    def rules(self, sha: str):
        """(catalog, rules) of version `sha`."""

        def stored():
            row = self.store.catalog_version(sha)
            return None if row is None else (row["plan_json"], row["sources_json"])

        rules = self._versions.rules(sha, stored)
        if rules is None:
            raise KeyError(f"catalog version {sha[:12]} is not in the store")
        return rules.catalog, rules

    def engine(self, sha: str) -> C.Engine:
        catalog, rules = self.rules(sha)
        return C.Engine(catalog, rules)
