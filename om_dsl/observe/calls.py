"""Calls to downstream systems and auto tasks, counted: per system and
operation, how many ended how, how many were retries, and how long they took
(a histogram with fixed buckets).

Plain data (JSON-ready), no Prometheus here: the embedded runner keeps it in
its store, in the transaction that applies the calls' results (so `om run`'s
calls count as much as `om serve`'s); a Temporal worker keeps it in memory.
`om_dsl.observe.metrics` renders either as Prometheus metrics.
"""

from __future__ import annotations

import threading
import time

# Upper bounds in seconds (Prometheus' defaults, with the long tail of slow back ends).
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
OUTCOMES = ("ok", "accepted", "error", "fatal")  # error: retryable; fatal: not retried by its policy
AUTO_TASK = "auto"  # the `system` label of auto tasks (their operation: the function's target)


def labels(cmd) -> tuple[str, str]:
    """(system, operation) of a call command or an auto task."""
    system = getattr(cmd, "system", None)
    return (system, cmd.operation) if system is not None else (AUTO_TASK, cmd.target)


def outcome(result) -> str:
    if result.status in ("ok", "accepted"):
        return result.status
    return "error" if result.retryable else "fatal"


def empty() -> dict:
    return {"outcomes": {}, "retries": 0, "buckets": [0] * (len(BUCKETS) + 1), "sum": 0.0, "count": 0}


def add(entry: dict, what: str, seconds: float, retry: bool) -> dict:
    """One call into an entry (`empty()`'s shape), in place."""
    entry["outcomes"][what] = entry["outcomes"].get(what, 0) + 1
    entry["retries"] += int(retry)
    entry["buckets"][_bucket(seconds)] += 1
    entry["sum"] += seconds
    entry["count"] += 1
    return entry


def merge(into: dict, other: dict) -> dict:
    """Another entry's counts added to `into`, in place (a stored entry and a batch's)."""
    for what, n in other["outcomes"].items():
        into["outcomes"][what] = into["outcomes"].get(what, 0) + n
    into["retries"] += other["retries"]
    into["buckets"] = [a + b for a, b in zip(into["buckets"], other["buckets"])]
    into["sum"] += other["sum"]
    into["count"] += other["count"]
    return into


def _bucket(seconds: float) -> int:
    for i, bound in enumerate(BUCKETS):
        if seconds <= bound:
            return i
    return len(BUCKETS)


class Timer:
    """One call timed: `seconds` once it returned (a monotonic clock: the engine's clock may be simulated)."""

    def __enter__(self) -> "Timer":
        self.start = time.monotonic()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.monotonic() - self.start


class CallStats:
    """A process's calls (a Temporal worker's), from many activity threads:
    {(system, operation): entry}."""

    def __init__(self):
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], dict] = {}

    def record(self, cmd, result, seconds: float) -> None:
        key = labels(cmd)
        with self._lock:
            add(self._entries.setdefault(key, empty()), outcome(result), seconds, getattr(cmd, "attempt", 1) > 1)

    def snapshot(self) -> list[dict]:
        """[{"system", "operation", **entry}] (the order service's `stats()["calls"]`)."""
        with self._lock:
            return [{"system": k[0], "operation": k[1], **merge(empty(), v)} for k, v in sorted(self._entries.items())]
