"""Attribute values as JSON: decimals and dates tagged so they come back as themselves.

Neutral ground: the planning stage (installed base), the engine state, the
simulators and the stores all write values this way, and none of them should
import another stage just for this.
"""

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
