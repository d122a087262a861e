"""How the engine reaches downstream systems and auto tasks.

One interface: `call(...) -> CallResult`. A result is `ok` (with the
operation's outputs), `accepted` (an asynchronous operation acknowledged
the call; its answer comes later by callback, matched by the call's
idempotency key), or `error` (retryable or not).
"""

from __future__ import annotations

import importlib
import inspect
import sys
from typing import Optional

import attrs


@attrs.frozen
class CallResult:
    status: str  # ok, accepted, error
    outputs: dict = attrs.field(factory=dict)
    message: str = ""
    retryable: bool = True

    @classmethod
    def ok(cls, outputs: Optional[dict] = None) -> "CallResult":
        return cls("ok", outputs or {})

    @classmethod
    def accepted(cls) -> "CallResult":
        return cls("accepted")

    @classmethod
    def error(cls, message: str, retryable: bool = True) -> "CallResult":
        return cls("error", {}, message, retryable)


class PythonTasks:
    """Auto tasks: `"package.module:function"`, called with the task's
    arguments as keywords; it returns a dict of outputs (or None). A function
    that takes an `idempotency_key` parameter gets the call's key too, the
    same on every retry and after a crash, so that it can apply its effect once."""

    def __init__(self, paths: tuple[str, ...] = ()):
        for p in reversed(paths):  # the first path given is searched first
            if p not in sys.path:
                sys.path.insert(0, p)

    def call(self, target: str, args: dict, key: str) -> CallResult:
        module_name, _, function = target.partition(":")
        try:
            fn = getattr(importlib.import_module(module_name), function)
        except (ImportError, AttributeError) as exc:
            return CallResult.error(f"cannot load {target}: {exc}", retryable=False)
        try:
            kwargs = dict(args)
            if "idempotency_key" in _parameters(fn):
                kwargs["idempotency_key"] = key
            result = fn(**kwargs)
        except Exception as exc:  # the task's own failure: retried by its policy
            return CallResult.error(f"{target} raised {type(exc).__name__}: {exc}")
        if result is not None and not isinstance(result, dict):
            return CallResult.error(f"{target} returned {type(result).__name__}, not a dict of outputs", retryable=False)
        return CallResult.ok(result or {})


def _parameters(fn) -> set:
    try:
        return set(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return set()
