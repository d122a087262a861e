"""Runtime values (decimals, dates, and lists and maps of them) as JSON and
back: `{"$decimal": "12.50"}`, `{"$date": "2026-11-27"}`. The engine's state,
the installed base and the simulators store values in this form."""

from __future__ import annotations

import datetime
from decimal import Decimal


def encode_value(v):
    if isinstance(v, Decimal):
        return {"$decimal": str(v)}
    if isinstance(v, datetime.date):
        return {"$date": v.isoformat()}
    if isinstance(v, dict):
        return {k: encode_value(x) for k, x in v.items()}
    if isinstance(v, list):
        return [encode_value(x) for x in v]
    return v


def decode_value(v):
    if isinstance(v, dict):
        if set(v) == {"$decimal"}:
            return Decimal(v["$decimal"])
        if set(v) == {"$date"}:
            return datetime.date.fromisoformat(v["$date"])
        return {k: decode_value(x) for k, x in v.items()}
    if isinstance(v, list):
        return [decode_value(x) for x in v]
    return v
