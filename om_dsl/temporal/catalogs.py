"""The rules of each catalog version, for the workflows of one worker.

A workflow receives the plan.json it runs on; its rules are built once per
worker and version (by sha256) and shared by every workflow on that
version. A worker may register compiled catalogs up front: their generated
modules then serve their own version. The engine core itself is built per
workflow: it keeps the run it is working on while it handles an event.
"""

from __future__ import annotations

import hashlib

from om_dsl.engine.core import Engine
from om_dsl.rules.versions import RulesByVersion

_VERSIONS = RulesByVersion()


class CatalogMismatch(Exception):
    pass


def register(rules, sha: str) -> None:
    """Serve version `sha` with these rules (generated modules, say)."""
    _VERSIONS.register(sha, rules)


def engine_for(sha: str, plan_text: str, sources_text: str | None = None) -> Engine:

    def given():
        if hashlib.sha256(plan_text.encode("utf-8")).hexdigest() != sha:
            raise CatalogMismatch(f"the plan given is not catalog version {sha[:12]}")
        return plan_text, sources_text

    rules = _VERSIONS.rules(sha, given)
    return Engine(rules.catalog, rules)
