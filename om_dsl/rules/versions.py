"""The rules of each catalog version an order may run on, keyed by the
sha256 of its plan.json and built once: the embedded runner and a Temporal
worker both keep one. A version registered up front (a compiled catalog's
generated modules) serves itself; any other is interpreted from its plan.json."""

from __future__ import annotations

import threading
from typing import Callable, Optional

from om_dsl.model.canonical import loads
from om_dsl.rules.interpreter import Interpreter


class RulesByVersion:
    def __init__(self) -> None:
        self._rules: dict = {}
        self._lock = threading.Lock()

    def register(self, sha: str, rules) -> None:
        with self._lock:
            self._rules[sha] = rules

    def rules(self, sha: str, texts: Callable[[], Optional[tuple]]):
        """The rules of version `sha`; `texts()` gives its (plan.json, sources) when they are
        not built yet, or None when the version is unknown (then None)."""
        with self._lock:
            rules = self._rules.get(sha)
            if rules is None:
                found = texts()
                if found is None:
                    return None
                rules = self._rules[sha] = Interpreter(loads(*found))
            return rules
