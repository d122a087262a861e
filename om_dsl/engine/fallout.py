"""Fallout: a task that fails fatally opens a manual task in a queue (the
spec's `fallout QUEUE`) instead of holding the order. A person resolves it by
completing it with a resolution: `retried` (call again, its policy starts
over), `skipped` (what depends on it goes ahead), or `fixed` (done by hand:
the task's outputs given with the resolution). The rest of the order runs on
meanwhile; only what depends on the failed task waits.

A fallout task is a manual task (so it is listed, indexed and completed as
one, on both engines) whose `fallout_of` names the failed task; its id is
the failed task's with `.fallout` after it.
"""

from __future__ import annotations

from om_dsl.engine import state as S
from om_dsl.engine.events import Rejection
from om_dsl.model.catalog import PlanItemDef

RESOLUTIONS = ("retried", "skipped", "fixed")
SUFFIX = ".fallout"  # a fallout task's id: the failed task's, then this


def completing_hint(task_id: str) -> str:
    """What completing a manual task takes beyond its id: a fallout task, its resolution."""
    return " --data resolution=" + "|".join(RESOLUTIONS) if task_id.endswith(SUFFIX) else ""
FALLOUT_DEFINITION = PlanItemDef(name="fallout", kind="manual")  # no compensation, no point of no return, nothing set


def _typed(value, type_):
    """A value a person typed (JSON: numbers, strings) as the output's type: a
    decimal from a number or its text, a date from its ISO text; else as given."""
    import datetime
    from decimal import Decimal, InvalidOperation

    try:
        if type_ == "decimal" and isinstance(value, (int, float, str)) and not isinstance(value, bool):
            return Decimal(str(value))
        if type_ == "date" and isinstance(value, str):
            return datetime.date.fromisoformat(value)
    except (InvalidOperation, ValueError):
        pass
    return value


class Fallout:
    """The part of the engine that routes fatal failures to people (mixed into `Engine`)."""

    def _fallout_queue(self, task: S.TaskRun):
        if task.type not in ("callout", "auto") or task.fallout_of is not None:
            return None
        return self._definition(task).fallout

    def _open_fallout(self, step, task: S.TaskRun, message: str, now: int) -> bool:
        """Open (or open again) the fallout task of a fatally failed task; False when it has no fallout queue."""
        queue = self._fallout_queue(task)
        if queue is None or step.run.cancelling:
            return False
        r = step.run
        fid = f"{task.id}.fallout"
        fallout = r.tasks.get(fid)
        cause = f"fallout of {task.id}: {message}; waiting for a person in queue {queue}"
        if fallout is None:  # new: it comes from nowhere, as a planned task comes from planning
            fallout = S.TaskRun(fid, f"{task.name}.fallout", "manual", task.product, task.action, task.line, [], status=S.READY, queue=queue, fallout_of=task.id)
            r.tasks[fid] = fallout
            self._record(step, fid, None, S.READY, cause, now)
        else:  # the task failed again after a resolution: the same fallout task opens again
            self._set(step, fallout, S.READY, cause, now)
        fallout.outputs = None
        fallout.error = message
        fallout.started_at = now
        fallout.finished_at = None
        return True

    def _in_fallout(self, r: S.OrderRun, task: S.TaskRun) -> bool:
        """A fatally failed task whose fallout task waits for a person: the order is not held for it."""
        fallout = r.tasks.get(f"{task.id}.fallout")
        return fallout is not None and fallout.status == S.READY

    def _close_fallout(self, step, task: S.TaskRun, cause: str, now: int) -> None:
        """An operator acted on the failed task itself (retry, skip): its open fallout task is moot."""
        fallout = step.run.tasks.get(f"{task.id}.fallout")
        if fallout is not None and fallout.status == S.READY:
            fallout.finished_at = now
            self._set(step, fallout, S.SKIPPED, cause, now)

    def _resolve_fallout(self, step, fallout: S.TaskRun, data: dict, by: str, now: int) -> None:
        r = step.run
        failed = r.tasks[fallout.fallout_of]
        resolution = data.get("resolution")
        outputs = {k: v for k, v in data.items() if k != "resolution"}
        declared = self._declared_outputs(failed)
        if resolution not in RESOLUTIONS:
            names = ", ".join(f"{p.name}=..." for p in declared)
            raise Rejection(
                f"{fallout.id} needs a resolution: resolution=retried, resolution=skipped, or resolution=fixed"
                + (f" with the outputs of {failed.id} ({names})" if names else "")
            )
        if failed.status != S.FATALLY_FAILED:  # pragma: no cover - a fallout task is open only while its task is
            raise Rejection(f"{failed.id} is {failed.status}: nothing to resolve")
        if resolution != "fixed" and outputs:
            raise Rejection(f"outputs ({', '.join(sorted(outputs))}) go with resolution=fixed only")
        if resolution == "fixed":
            from om_dsl.engine.core import _has_type

            outputs = {k: _typed(v, next((p.type for p in declared if p.name == k), None)) for k, v in outputs.items()}
            wrong = [f"no `{p.name}`" for p in declared if outputs.get(p.name) is None]
            wrong += [f"`{p.name}` = {outputs[p.name]!r} is not {'an' if p.type == 'int' else 'a'} {p.type}" for p in declared if outputs.get(p.name) is not None and not _has_type(outputs[p.name], p.type)]
            wrong += [f"`{k}` is not an output of {failed.id}" for k in sorted(outputs) if k not in {p.name for p in declared}]
            if wrong:
                raise Rejection(f"{failed.id} fixed by hand needs its outputs: " + "; ".join(wrong))
        fallout.outputs = {"resolution": resolution}
        fallout.finished_at = now
        self._set(step, fallout, S.COMPLETED, f"resolved by {by}: {resolution}", now)
        cause = f"fallout {fallout.id} resolved by {by}"
        if resolution == "retried":
            self._retry_now(step, failed, f"{cause}: retried", now)
        elif resolution == "skipped":
            failed.next_at = None
            self._set(step, failed, S.SKIPPED, f"{cause}: skipped", now)
        else:
            failed.error = None
            self._complete(step, failed, dict(outputs), f"{cause}: fixed by hand", now)

    # ---- what an operator sees of manual work (engine/view.py), and claims

    def definition_of(self, task: S.TaskRun):
        """The plan item a task runs (None for a compensation: it runs the undo of another)."""
        return None if task.type == "compensation" else self._definition(task)

    def completion_fields(self, run: S.OrderRun, task: S.TaskRun) -> list:
        """What completing an open manual task takes, [[name, type]]: a fallout
        task's resolution, then its failed task's outputs (with `fixed`); a
        plain manual task's declared outputs."""
        if task.fallout_of is not None:
            return [["resolution", "|".join(RESOLUTIONS)]] + [[p.name, p.type] for p in self._declared_outputs(run.tasks[task.fallout_of])]
        return [[p.name, p.type] for p in self._declared_outputs(task)]

    def _on_task_claimed(self, step, event, now: int) -> None:
        task = self._open(step.run, event.task, (S.READY,))
        if task.type != "manual":
            raise Rejection(f"{task.id} is a {task.type}, not a manual task: only manual work is claimed")
        if task.claimed_by is not None and task.claimed_by != event.by:
            raise Rejection(f"{task.id} is claimed by {task.claimed_by}")
        task.claimed_by = event.by
        self._record(step, task.id, task.status, task.status, f"claimed by {event.by}" + (f": {event.reason}" if event.reason else ""), now)
