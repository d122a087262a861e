"""Engine time. The core never reads a clock: the runner passes `now` in.

`SystemClock` is the wall clock. `SimulatedClock` starts at a given time and
moves only when told (tests, demos): when nothing is left to do but wait,
the runner may jump it to the next timer, so a three-day wait takes no time.
"""

from __future__ import annotations

import datetime
import time

from om_dsl.engine.instants import show_instant  # noqa: F401  (the clock's readers show instants with it)


def parse_instant(text: str) -> int:
    """`2026-12-01` or `2026-12-01T09:00:00Z` -> ms since the epoch (UTC)."""
    value = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return int(value.timestamp() * 1000)


class SystemClock:
    simulated = False

    def now(self) -> int:
        return int(time.time() * 1000)


class SimulatedClock:
    simulated = True

    def __init__(self, start_ms: int):
        self._now = start_ms

    def now(self) -> int:
        return self._now

    def advance_to(self, ms: int) -> None:
        self._now = max(self._now, ms)
