"""Instants as the engine keeps them (ms since the epoch, UTC) and as people
and TMF events read them (ISO 8601, whole seconds, `Z`). Pure: no clock."""

from __future__ import annotations

import datetime
import functools


@functools.lru_cache(maxsize=1024)  # an order's events show the same few instants again and again (strftime is not cheap)
def show_instant(ms: int) -> str:
    """1764579600000 -> `2025-12-01T09:00:00Z`."""
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
