"""Orders that depend on other orders: TMF622 `orderRelationship` read into
the prerequisites of a planned order, and the checks a driver makes when the
order is submitted (the other order is known, has not ended badly, has the
milestone named, and waiting for it forms no cycle).

Accepted: `orderRelationship: [{"id": "ORD-1", "relationshipType":
"dependsOn"}]` (v4 and v5 alike; `requires` is taken as `dependsOn`), with
om's extension `"milestone": "line_active"` to wait for a milestone of the
other order rather than its completion. Relationships of other types
(`bundled`, `follows`, ...) are kept in the document and do not make the
order wait; a type that is a near miss of an accepted one is refused.
"""

from __future__ import annotations

from typing import Callable, Optional

import attrs

from om_dsl.limits import MAX_WAITS
from om_dsl.planning.fields import id_problem
from om_dsl.planning.order import Problem
from om_dsl.suggest import closest

WAIT_TYPES = ("dependsOn", "requires")
# TMF622 order states (the engine's, engine/state.py; planning comes before the engine).
COMPLETED, REJECTED = "completed", "rejected"
_BAD_ENDS = ("failed", "partial", "cancelled", REJECTED)


@attrs.frozen
class Prerequisite:
    """An order (or one of its milestones) this order waits for."""

    order: str
    milestone: Optional[str]
    path: str  # JSON pointer of its relationship, for messages


@attrs.frozen
class OtherOrder:
    """What a driver knows of an order another one wants to wait for."""

    status: str
    milestones: tuple = ()  # the names of its milestone tasks
    reached: tuple = ()  # those it has passed
    waits: tuple = ()  # the orders it still waits for


def read(doc: dict, order_id: str) -> tuple[list[Prerequisite], list[Problem]]:
    """The order's prerequisites, and the problems of relationships that cannot be read."""
    raw = doc.get("orderRelationship")
    if raw is None:
        return [], []
    if not isinstance(raw, list):
        return [], [Problem("order_relationship", "`orderRelationship` must be a list", path="/orderRelationship")]
    out, problems = [], []
    for n, rel in enumerate(raw):
        path = f"/orderRelationship/{n}"
        if not isinstance(rel, dict):
            problems.append(Problem("order_relationship", "a relationship must be an object", path=path))
            continue
        kind = rel.get("relationshipType")
        if not isinstance(kind, str):
            problems.append(Problem("order_relationship", "a relationship needs a `relationshipType` (`dependsOn` makes the order wait)", path=path + "/relationshipType"))
            continue
        if kind not in WAIT_TYPES:
            near = closest(kind, WAIT_TYPES)
            if near is not None:
                problems.append(Problem("order_relationship", f"`{kind[:40]}` is not a relationship type; did you mean `{near}`?", path=path + "/relationshipType"))
            continue  # another kind of relationship: kept, no wait
        other = rel.get("id")
        if isinstance(other, int) and not isinstance(other, bool):
            other = str(other)
        if not isinstance(other, str) or not other:
            problems.append(Problem("order_relationship", "the order depended on needs an `id`", path=path + "/id"))
            continue
        milestone = rel.get("milestone")
        why = id_problem(other, "the id of the order depended on")
        if why:
            problems.append(Problem("order_relationship", why, path=path + "/id"))
            continue
        if milestone is not None:
            why = "`milestone` must be the name of a milestone of the other order" if not isinstance(milestone, str) or not milestone else id_problem(milestone, "a milestone's name")
            if why:
                problems.append(Problem("order_relationship", why, path=path + "/milestone"))
                continue
        if other == order_id:
            problems.append(Problem("order_dependency_cycle", f"order {order_id} cannot wait for itself", path=path + "/id"))
            continue
        out.append(Prerequisite(other, milestone, path))
    if len({p.order for p in out}) > MAX_WAITS:
        problems.append(Problem("order_relationship", f"the order depends on {len({p.order for p in out})} orders; om's limit is {MAX_WAITS} (limits.MAX_WAITS)", path="/orderRelationship"))
        return [], problems
    return out, problems


def check(order_id: str, prerequisites: list[Prerequisite], lookup: Callable[[str], Optional[OtherOrder]]) -> list[Problem]:
    """Problems that refuse the order: an unknown order, one that ended badly
    (before the milestone waited for), an unknown milestone, a cycle.
    `lookup(id)` is the driver's knowledge of an order (None: no such order)."""
    problems = []
    for p in prerequisites:
        other = lookup(p.order)
        if other is None:
            problems.append(Problem("unknown_order", f"order {p.order}, which this order depends on, is not known", path=p.path + "/id"))
            continue
        if p.milestone is not None and p.milestone not in other.milestones and other.status != REJECTED:
            names = ", ".join(other.milestones) or "none"
            problems.append(Problem("unknown_milestone", f"order {p.order} has no milestone {p.milestone} (its milestones: {names})", path=p.path + "/milestone"))
            continue
        reached = other.status == COMPLETED or (p.milestone is not None and p.milestone in other.reached)
        if other.status in _BAD_ENDS and not reached:
            problems.append(Problem("order_ended", f"order {p.order}, which this order depends on, is {other.status}: it will never complete", path=p.path + "/id"))
            continue
        cycle = _cycle(order_id, p.order, lookup)
        if cycle:
            problems.append(Problem("order_dependency_cycle", "waiting would form a cycle: " + " -> ".join([order_id, *cycle]), path=p.path + "/id"))
    return problems


def _cycle(order_id: str, start: str, lookup) -> Optional[list[str]]:
    """A path of waits from `start` back to `order_id`, if there is one."""
    stack, seen = [(start, [start])], {start}
    while stack:
        current, path = stack.pop()
        other = lookup(current)
        for nxt in other.waits if other is not None else ():
            if nxt == order_id:
                return [*path, order_id]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None
