"""Duration text (`500ms`, `10s`, `5m`, `1h`, `2d`, `1w`) -> milliseconds.

One reading for the spec language and for om.toml; pure, no lark.
"""

from __future__ import annotations

UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


def parse_duration(text: str, units=tuple(UNITS_MS)) -> int:
    """A count of ASCII digits and one of `units`; ValueError otherwise."""
    for unit in sorted(units, key=len, reverse=True):  # `ms` before `s` and `m`
        count = text[: -len(unit)]
        if text.endswith(unit) and count.isascii() and count.isdigit():
            return int(count) * UNITS_MS[unit]
    raise ValueError(f"not a duration: {text!r}")
