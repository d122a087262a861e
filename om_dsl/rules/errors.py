"""What a catalog's rule raises when it has no value for an order.

Both the interpreter and generated code raise it; planning and the engine
catch it and report the rule by its plan model id.
"""

from __future__ import annotations

from typing import Optional


class EvaluationError(Exception):
    """A rule's expression had no value for this order (division by zero...).

    `element` is the plan model id of the rule, `source` its file:line."""

    def __init__(self, element: str, source: Optional[str], message: str):
        super().__init__(f"{element} ({source or 'unknown source'}): {message}")
        self.element = element
        self.source = source
        self.message = message
