"""The rules of each catalog version, for the workflows of one worker.

A workflow receives the plan.json it runs on; its rules are built once per
worker and version (by sha256) and shared by every workflow on that
version. A worker may register compiled catalogs up front: their generated
modules then serve their own version. The engine core itself is built per
workflow: it keeps the run it is working on while it handles an event.
"""

from __future__ import annotations

import hashlib
import threading

from om_dsl.engine.core import Engine
from om_dsl.model.canonical import loads
from om_dsl.rules.interpreter import Interpreter

_RULES: dict = {}
_LOCK = threading.Lock()


class CatalogMismatch(Exception):
    pass


def register(rules, sha: str) -> None:
    """Serve version `sha` with these rules (generated modules, say)."""
    with _LOCK:
        _RULES[sha] = rules


def engine_for(sha: str, plan_text: str, sources_text: str | None = None) -> Engine:
    with _LOCK:
        rules = _RULES.get(sha)
        if rules is None:
            if hashlib.sha256(plan_text.encode("utf-8")).hexdigest() != sha:
                raise CatalogMismatch(f"the plan given is not catalog version {sha[:12]}")
            rules = _RULES[sha] = Interpreter(loads(plan_text, sources_text))
    return Engine(rules.catalog, rules)
