"""What an operator sees of an order's tasks: the same on both engines."""

from __future__ import annotations

from om_dsl.engine import state as S
from om_dsl.engine.instants import show_instant
from om_dsl.values import encode_value


def task_entries(engine, run: S.OrderRun) -> list[dict]:
    out = []
    for t in run.tasks.values():
        entry = {"id": t.id, "name": t.name, "type": t.type, "product": t.product, "line": t.line, "status": t.status, "attempts": t.attempts}
        if t.depends_on:
            entry["depends_on"] = list(t.depends_on)
        if t.jeopardy:
            entry["jeopardy"] = t.jeopardy
        if t.due_at is not None and t.status not in S.DONE:
            entry["due"] = show_instant(t.due_at)
        if t.error and t.status not in S.DONE:
            entry["error"] = t.error
        if t.claimed_by:
            entry["claimed_by"] = t.claimed_by
        d = engine.definition_of(t)
        if d is not None and d.point_of_no_return:
            entry["point_of_no_return"] = d.point_of_no_return
        if d is not None and d.call is not None:
            entry["call"] = d.call.target  # system.operation, or a Python function
        if d is not None and d.sets and t.status == S.COMPLETED and t.line in run.lines:  # the line's values it set
            values = run.lines[t.line].values
            entry["sets"] = encode_value({name: values.get(name) for name, _ in d.sets})  # (decimals and dates tagged: JSON on both engines)
        fields = engine.completion_fields(run, t) if t.type == "manual" and t.status == S.READY else None
        if fields:  # what completing it takes: [[name, type]] (the console's form)
            entry["fields"] = fields
        why = engine.waiting_for(run, t)
        if why:
            entry["waiting_for"] = why
        if t.outputs:
            entry["outputs"] = t.outputs
        if t.queue:
            entry["queue"] = t.queue
        out.append(entry)
    return out


def catalog_version(engine) -> str:
    """The catalog an order runs on as people name it (`acme 1.0`): its `catalog` is the plan's hash."""
    return f"{engine.catalog.name} {engine.catalog.version}"


def revision_state(run: S.OrderRun, n: int, stored: str) -> str:
    """A revision as the order stands: refused, waiting, applied, replaced or dropped."""
    if stored != "received":
        return stored  # refused
    if run.pending is not None and n == run.pending["revision"]:
        return "waiting"  # for running tasks to finish
    if n == run.revision:
        return "applied"
    return "replaced" if n < run.revision else "dropped"


def wait_entries(run: S.OrderRun) -> list[dict]:
    """The other orders it waits for (engine/waits.py), as `om orders show` lists them."""
    out = []
    for w in run.waits_for:
        entry = {"order": w["order"], "state": w["state"]}
        if w["milestone"]:
            entry["milestone"] = w["milestone"]
        if w.get("why"):
            entry["why"] = w["why"]
        out.append(entry)
    return out
