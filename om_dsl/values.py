"""Runtime values, as JSON and as messages show them.

As JSON: decimals and dates tagged so they come back as themselves. As a
message shows them (`show_value`): a spec's constant in a diagnostic, an
order's value in a rejection, spelled as the .om language writes it (strings
quoted, with `\\"`, `\\\\`, `\\n`, `\\t`).

Neutral ground: the planning stage (installed base), the engine state, the
simulators and the stores all write values this way, and none of them should
import another stage just for this.
"""

from __future__ import annotations

import datetime
import json
from decimal import Decimal

_PLAIN = frozenset((str, int, float, bool, type(None)))


def encode_value(v):
    t = type(v)
    if t in _PLAIN:  # (most values: told by their type before any isinstance)
        return v
    if t is dict:
        return {k: x if type(x) in _PLAIN else encode_value(x) for k, x in v.items()}
    if t is list:
        return [x if type(x) in _PLAIN else encode_value(x) for x in v]
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
    t = type(v)
    if t in _PLAIN:  # (most values: told by their type, not isinstance, which Temporal's sandbox makes slow)
        return v
    if t is dict or isinstance(v, dict):
        if len(v) == 1:  # (a tagged value has one key; no set built for every dict)
            if "$decimal" in v:
                return Decimal(v["$decimal"])
            if "$date" in v:
                return datetime.date.fromisoformat(v["$date"])
        return {k: x if type(x) in _PLAIN else decode_value(x) for k, x in v.items()}
    if t is list or isinstance(v, list):
        return [x if type(x) in _PLAIN else decode_value(x) for x in v]
    return v


def show_value(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)
