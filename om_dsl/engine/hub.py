"""Which events a hub subscription gets: its query (TMF630's filtering, as
the TMF622 hub takes it). Pure: both engines' publishers and the API (which
checks a query before keeping it) use it.

    eventType=ProductOrderStateChangeEvent
    eventType=ProductOrderStateChangeEvent,ProductOrderCreateEvent&event.productOrder.state=completed

Each `name=value[,value...]` must hold (any of its values); names are dotted
paths into the event (`eventType`, `event.productOrder.state`); a path the
event does not have does not match. No query: every event. Values are taken
as written (no percent-decoding: event types and states need none).
"""

from __future__ import annotations

import re
from typing import Optional

MAX_QUERY = 1024
_NAME = re.compile(r"[A-Za-z@][A-Za-z0-9_@]*(\.[A-Za-z@][A-Za-z0-9_@]*)*\Z")


def parse_query(query: Optional[str]) -> list[tuple[str, tuple[str, ...]]]:
    """[(path, allowed values)]; ValueError saying what is wrong."""
    if not query or not query.strip():
        return []
    if len(query) > MAX_QUERY:
        raise ValueError(f"the query has {len(query)} characters; at most {MAX_QUERY} are taken")
    terms = []
    for part in query.strip().lstrip("?").split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        if not _NAME.match(name):
            raise ValueError(f"{name[:60]!r} is not an event field (e.g. eventType, event.productOrder.state)")
        if not value:
            raise ValueError(f"{name} has no value (name=value)")
        terms.append((name, tuple(value.split(","))))
    if not terms:
        raise ValueError("the query is not name=value[&name=value...] (e.g. eventType=ProductOrderStateChangeEvent)")
    return terms


def query_matches(query: Optional[str], event: dict) -> bool:
    try:
        terms = parse_query(query)
    except ValueError:  # kept before the API checked queries: matches nothing rather than everything
        return False
    for path, values in terms:
        found = event
        for part in path.split("."):
            found = found.get(part) if isinstance(found, dict) else None
        if found is None or str(found) not in values:
            return False
    return True
