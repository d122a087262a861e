"""TMF622's versions and states as om speaks them.

Which version an order speaks is read off its request document (`version_of`);
what om sends back about it (the resource, its events) is in that version.
The engine's order states are TMF622's names already; items are rolled up
from their tasks by `om_dsl.engine.progress`. Here: the names each version
has, and the one state a version lacks (`draft`, v5 only) mapped to the
nearest it has.
"""

from __future__ import annotations

from om_dsl.planning import request

V4, V5 = "v4", "v5"
VERSIONS = (V4, V5)

ORDER_STATES = {
    V4: ("acknowledged", "rejected", "pending", "held", "inProgress", "cancelled", "completed", "failed", "partial", "assessingCancellation", "pendingCancellation"),
    V5: ("acknowledged", "rejected", "pending", "held", "inProgress", "cancelled", "completed", "failed", "partial", "assessingCancellation", "pendingCancellation", "draft"),
}
ITEM_STATES = {
    V4: ("acknowledged", "rejected", "pending", "held", "inProgress", "cancelled", "completed", "failed", "assessingCancellation", "pendingCancellation"),
    V5: ("acknowledged", "rejected", "pending", "held", "inProgress", "cancelled", "completed", "failed", "partial", "assessingCancellation", "pendingCancellation"),
}
# A cancellation request's states (TaskStateType).
CANCEL_STATES = {V4: ("acknowledged", "terminatedWithError", "inProgress", "done"), V5: ("acknowledged", "rejected", "inProgress", "cancelled", "done", "terminatedWithError")}

# A state a version does not have -> the nearest one it has: v4 has no
# drafts; a draft waits for the customer, which is v4's `pending`.
_NEAREST = {(V4, "draft"): "pending"}


def order_state(state: str, version: str) -> str:
    return _NEAREST.get((version, state), state)


def item_state(state: str, version: str) -> str:
    if state == "draft":
        return "pending" if version == V4 else "acknowledged"
    if state == "partial" and version == V4:  # units of one item, some completed, some failed
        return "failed"
    return state


def version_of(document) -> str:
    """The TMF622 version an order document speaks: intake's rule
    (`planning.request.version_of`, docs/tmf622.md#how-the-version-is-known);
    v4 for anything that is not an order document."""
    if not isinstance(document, dict):
        return V4
    return request.version_of(document)
