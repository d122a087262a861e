"""Orders that wait for other orders (TMF622 `orderRelationship` of type
`dependsOn` or `requires`): the fiber order must be installed, or reach its
milestone `line_active`, before the TV order that depends on it starts.

An order's `waits_for` holds one entry per prerequisite:
{"order", "milestone" (None: the whole order), "state", "why"?}, where the
state is `waiting`, `met`, `ended` (the other order ended without getting
there: the waiting order is held until an operator resumes it, which waives
the prerequisite, or cancels it) or `waived`. While an entry is waiting or
ended no task of the order starts (compensation apart). Drivers tell the core
how the other order stands with `OtherOrderProgressed`, as often as they like:
the event is idempotent.
"""

from __future__ import annotations

from typing import Optional

from om_dsl.engine import state as S

WAITING, MET, ENDED, WAIVED = "waiting", "met", "ended", "waived"
UNKNOWN = "unknown"  # a driver's status for an order it can no longer find


def entries(prerequisites) -> list[dict]:
    """The waits of a planned order: `prerequisites` are (order id, milestone or None) pairs."""
    out, seen = [], set()
    for order, milestone in prerequisites:
        if (order, milestone) not in seen:
            seen.add((order, milestone))
            out.append({"order": order, "milestone": milestone, "state": WAITING})
    return out


def merged(current: list, planned: list) -> list:
    """A revision's waits: those the order had keep their state; new ones wait."""
    had = {(w["order"], w["milestone"]): w for w in current}
    return [dict(had.get((w["order"], w["milestone"]), w)) for w in planned]


def blocked(run: S.OrderRun) -> bool:
    """No task may start: a prerequisite is not met (or ended without being met)."""
    return any(w["state"] in (WAITING, ENDED) for w in run.waits_for)


def open_waits(run: S.OrderRun) -> list[str]:
    """The orders whose progress this one still needs to hear of."""
    return sorted(waited_milestones(run))


def waited_milestones(run: S.OrderRun) -> dict:
    """Each order this one still needs to hear of -> the milestones of it waited for (none: its completion)."""
    if run.status in S.FINAL:
        return {}
    out: dict = {}
    for w in run.waits_for:
        if w["state"] == WAITING:
            out.setdefault(w["order"], [])
            if w["milestone"] and w["milestone"] not in out[w["order"]]:
                out[w["order"]].append(w["milestone"])
    return {k: sorted(v) for k, v in out.items()}


def milestones(run: S.OrderRun) -> list[str]:
    """The names of the order's milestone tasks."""
    return sorted({t.name for t in run.tasks.values() if t.type == "milestone"})


def milestones_reached(run: S.OrderRun) -> list[str]:
    """Milestones every task of that name has passed (completed, or skipped: its condition was false)."""
    return reached((t.name, t.status) for t in run.tasks.values() if t.type == "milestone")


def reached(milestone_tasks) -> list[str]:
    """The same, from (name, status) of each milestone task (a store's index of them)."""
    by_name: dict = {}
    for name, status in milestone_tasks:
        by_name.setdefault(name, []).append(status in S.DONE)
    return sorted(name for name, done in by_name.items() if all(done))


def progress(run: Optional[S.OrderRun], status: Optional[str] = None) -> dict:
    """How an order stands, for those that wait for it: {"status", "milestones"} (reached)."""
    if run is None:
        return {"status": status or UNKNOWN, "milestones": []}
    return {"status": run.status, "milestones": milestones_reached(run)}


def describe(w: dict) -> str:
    what = f"order {w['order']}" + (f" to reach its milestone {w['milestone']}" if w["milestone"] else " to complete")
    return what


class Waiting:
    """The core's part: hearing of other orders, and what waiting looks like."""

    def _on_other_order(self, step, event, now: int) -> None:
        for w in step.run.waits_for:
            if w["order"] != event.order or w["state"] != WAITING:
                continue
            milestone = w["milestone"]
            if event.status == S.ORDER_COMPLETED or (milestone is not None and milestone in event.milestones):
                w["state"] = MET
                got = f"reached its milestone {milestone}" if milestone and event.status != S.ORDER_COMPLETED else "completed"
                self._record(step, "order", None, None, f"order {event.order} {got}: no longer waited for", now)
            elif event.status in S.FINAL or event.status == UNKNOWN:
                w["state"] = ENDED
                how = "is no longer known" if event.status == UNKNOWN else f"ended {event.status}"
                w["why"] = f"order {event.order} {how}" + (f" before its milestone {milestone}" if milestone else "")
                self._record(step, "order", None, None, w["why"], now)

    def _waive_ended(self, step, by: str, reason: str, now: int) -> None:
        """An operator resumes an order held for a prerequisite that ended: it goes ahead without it."""
        for w in step.run.waits_for:
            if w["state"] == ENDED:
                w["state"] = WAIVED
                self._record(step, "order", None, None, f"{describe(w)} waived by {by}" + (f": {reason}" if reason else ""), now)

    def _waits_roll_up(self, run: S.OrderRun):
        """(order status, cause) while a prerequisite holds the order, else None."""
        ended = [w for w in run.waits_for if w["state"] == ENDED]
        if ended:
            return S.HELD, f"{ended[0]['why']}: an operator must resume (without it) or cancel the order"
        waiting = [w for w in run.waits_for if w["state"] == WAITING]
        if waiting:
            return S.ORDER_PENDING, "waiting for " + ", ".join(describe(w) for w in waiting)
        return None

    def _waits_reason(self, run: S.OrderRun) -> Optional[str]:
        """Why a pending task does not start, when another order is the reason."""
        held = self._waits_roll_up(run)
        return None if held is None else held[1]
