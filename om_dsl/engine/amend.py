"""Amendments: a revision of a running order (a supplemental order).

An `Amend` event freezes the order (nothing new starts); once no call is in
flight, `_merge` applies the revision in named phases: the lines, then each
task (added, kept, done again, replaced, dropped, undone), then the undo
tasks. docs/amend.md tells the rules; `_merge`'s docstring sums them up."""

from __future__ import annotations

from typing import Optional

from om_dsl.engine import state as S
from om_dsl.engine.events import Amend, Rejection, Step
from om_dsl.engine.facts import CALLING, _ancestors, _line_outputs, across_outputs, across_reads
from om_dsl.model import expr as E
from om_dsl.planning import keys as K
from om_dsl.planning.order import EvaluationError


def _touched_bundles(r: S.OrderRun, plan: dict) -> set:
    """The bundles in which the revision adds, removes or changes a line."""
    plan = S.decode_value(plan)
    touched = set()
    for line_id, data in plan["lines"].items():
        old = r.lines.get(line_id)
        if old is None or old.action != data["action"] or any(old.values.get(k) != v for k, v in data["values"].items() if v is not None):
            touched.add(data["bundle"])
    for line_id, old in r.lines.items():
        if line_id not in plan["lines"]:
            touched.add(old.bundle)
    return touched


class _Merge:
    """A merge under way: the order before the revision, and the merged plan as it is built."""

    def __init__(self, r: S.OrderRun):
        self.n = r.pending["revision"]
        self.plan = S.decode_value(r.pending["plan"])
        self.old_tasks = r.tasks
        self.old_lines = r.lines
        self.items = [S.ItemRecord(**i) for i in self.plan["items"]]
        self.lines: dict = {}
        self.tasks: dict = {}
        self.redo: dict = {}  # task id -> the completed run it replaces
        self.started: dict = {}  # task id -> the run that started and did not finish (kept or replaced)
        self.undone: list = []  # completed runs to undo


class Amending:
    """The part of the engine that takes revisions (mixed into `Engine`)."""

    def _amend(self, step: Step, event: Amend, now: int) -> None:
        r = step.run
        if r.cancelling:
            raise Rejection(f"order {r.id} is being cancelled: it takes no revision")
        if event.revision <= r.revision or (r.pending is not None and event.revision <= r.pending["revision"]):
            raise Rejection(f"revision {event.revision} of order {r.id} is not newer than revision {max(r.revision, (r.pending or {}).get('revision', 0))}")
        touched = _touched_bundles(r, event.plan)
        self._ponr(r, touched, event.force, f"revision {event.revision} touches a bundle that")
        if r.pending is not None:
            self._record(step, "order", None, None, f"revision {event.revision} replaces revision {r.pending['revision']}, which was not applied yet", now)
        r.pending = {"revision": event.revision, "plan": event.plan, "by": event.by, "force": event.force}
        r.frozen = True
        what = ", ".join(f"bundle {b}" if b else "the order scope" for b in sorted(touched, key=lambda b: b or "")) or "no bundle"
        self._record(step, "order", None, None, f"revision {event.revision} received from {event.by} (touches {what}): frozen, running tasks finish, nothing new starts", now)

    def _merge(self, step: Step, now: int) -> None:
        """Apply the pending revision, line by line and task by task.

        - a task the revision adds: pending; one it no longer has: dropped when
          not completed, undone when completed with a compensation;
        - not started: the revision's version;
        - started, not finished (a manual task waiting for a person, a wait, a
          call failed or on hold): kept as it is when the revision changes
          nothing it started from (`_unchanged`), else replaced: it starts over;
        - completed, inputs unchanged: kept, with its outputs and what it set;
        - completed, inputs changed: done again, after being undone when it
          has a compensation. So is a completed task downstream of one done
          again that reads what that one gives (its outputs, or what it sets
          on the line); and a task done again waits for those upstream of it.
          A task's `on amend` overrides this: `keep` (kept as it completed,
          and not undone when the revision removes it), `redo` (done again,
          never undone first), `undo_redo` (undone, then done again).
        Runs a revision superseded (`TASK@N`) and their undo stay as they are.

        The phases run in this order (the history records come in it): the
        order itself (`r`) is left as it was until `_merge_apply`, since the
        earlier phases evaluate on the order before the revision."""
        r = step.run
        m = _Merge(r)
        self._merge_lines(m)
        self._merge_tasks(step, r, m, now)
        self._merge_downstream(m)
        self._merge_redo(step, r, m, now)
        self._merge_started(step, r, m, now)
        self._merge_removed(step, m, now)
        self._merge_apply(step, r, m, now)

    def _merge_lines(self, m: _Merge) -> None:
        """The revision's values; what fulfillment set (attributes the revision leaves empty) is kept."""
        for line_id, data in m.plan["lines"].items():
            line = S.LineRun(**data)
            before = m.old_lines.get(line_id)
            if before is not None:
                for k, v in before.values.items():
                    if line.values.get(k) is None and v is not None:
                        line.values[k] = v
            m.lines[line_id] = line

    def _merge_tasks(self, step: Step, r: S.OrderRun, m: _Merge, now: int) -> None:
        """Each task of the revision: added, kept (completed or skipped), or the revision's version."""
        for data in m.plan["tasks"]:
            new = S.TaskRun(**data)
            old = m.old_tasks.get(new.id)
            if old is None:
                new.key = K.call_key(r.id, new.id)
                m.tasks[new.id] = new
                self._record(step, new.id, None, S.PENDING, f"added by revision {m.n}", now)
                continue
            new.generation, new.key = old.generation, old.key
            if old.status == S.COMPLETED:
                m.tasks[new.id] = old  # kept, unless its inputs changed (below)
                old.depends_on = new.depends_on
                if self._inputs_changed(r, old, new, m.lines):
                    if self._strategy(old) == "keep":
                        self._record(step, new.id, None, None, f"revision {m.n} changes its inputs: kept as it completed (on amend keep)", now)
                    else:
                        m.redo[new.id] = old
            elif old.status == S.SKIPPED:
                m.tasks[new.id] = old  # skipped stays skipped (an operator's word, or its condition)
                old.depends_on = new.depends_on
            else:  # not completed: the revision's version, unless it started and is kept (below)
                m.tasks[new.id] = new
                if old.status != S.PENDING:
                    m.started[new.id] = old

    def _merge_downstream(self, m: _Merge) -> None:
        """Downstream of a task done again, what reads what it gives is done again too."""
        tasks, redo = m.tasks, m.redo
        changed = True
        while changed:
            changed = False
            for tid, task in tasks.items():
                if tid in redo or task.status != S.COMPLETED or task.type not in CALLING or self._strategy(task) == "keep":
                    continue
                reads = self._reads(task)
                for up in redo:
                    if up in _ancestors(tasks, tid) and tasks[up].line == task.line and (up.split(":")[-1] in reads["outputs"] or reads["attrs"] & self._writes(tasks[up])):
                        redo[tid] = task
                        changed = True
                        break

    def _merge_redo(self, step: Step, r: S.OrderRun, m: _Merge, now: int) -> None:
        """A task done again: a new run (its next generation, a key of its own),
        undone first when it has a compensation; it waits for those done again upstream of it."""
        tasks = m.tasks
        for tid, old in m.redo.items():
            d = self._definition(old)
            new = S.TaskRun(old.id, old.name, old.type, old.product, old.action, old.line, list(old.depends_on), queue=old.queue, system=old.system)
            new.generation = old.generation + 1
            new.key = K.call_key(r.id, tid, new.generation)
            tasks[tid] = new
            if d.amend_strategy() == "undo_redo":
                m.undone.append(old)
                self._record(step, tid, S.COMPLETED, S.PENDING, f"revision {m.n} changes its inputs: undone, then done again", now)
            elif d.compensate is not None:  # on amend redo: the call again is enough
                self._record(step, tid, S.COMPLETED, S.PENDING, f"revision {m.n} changes its inputs: done again, not undone first (on amend redo)", now)
            else:
                self._record(step, tid, S.COMPLETED, S.PENDING, f"revision {m.n} changes its inputs: done again", now)
        for tid in m.redo:
            for up in m.redo:
                if up != tid and up in _ancestors(tasks, tid) and up not in tasks[tid].depends_on:
                    tasks[tid].depends_on.append(up)

    def _merge_started(self, step: Step, r: S.OrderRun, m: _Merge, now: int) -> None:
        """A started task is kept as it is when the revision leaves it as it started, else replaced."""
        before = (m.old_lines, m.old_tasks, self._order_view(r))
        after = (m.lines, m.tasks, self._order_view(r, m.items))
        for tid, old in m.started.items():
            if self._unchanged(old, m.tasks[tid], before, after):
                old.depends_on = m.tasks[tid].depends_on
                m.tasks[tid] = old  # its state, due time, attempts and key stay: nothing happens to it
            else:
                self._record(step, tid, old.status, S.PENDING, f"replaced by revision {m.n}", now)

    def _merge_removed(self, step: Step, m: _Merge, now: int) -> None:
        """A task the revision no longer has: undone (completed, with a compensation), kept as done, or dropped."""
        tasks, lines = m.tasks, m.lines
        for old in m.old_tasks.values():
            if old.id in tasks:
                continue
            if old.type == "compensation" or "@" in old.id:
                tasks[old.id] = old  # an earlier undo, and the run it undoes
                continue
            failed = tasks.get(old.fallout_of) if old.fallout_of is not None else None
            if old.fallout_of is not None and (old.status != S.READY or (failed is not None and failed.status == S.FATALLY_FAILED)):
                tasks[old.id] = old  # the fallout of a failed task the revision kept as it was (or a resolved one: its record)
                continue
            if old.status == S.COMPLETED and self._strategy(old) == "keep":
                self._record(step, old.id, None, None, f"removed by revision {m.n}: kept as done (on amend keep)", now)
            elif old.status == S.COMPLETED and self._definition(old).compensate is not None:
                m.undone.append(old)
                self._record(step, old.id, None, None, f"removed by revision {m.n}: undone", now)
                if old.line not in lines:  # its line is gone: kept, to undo the task (it installs nothing)
                    gone = m.old_lines[old.line]
                    gone.action = "delete"
                    lines[old.line] = gone
            elif old.status == S.COMPLETED:
                self._record(step, old.id, None, None, f"removed by revision {m.n}: nothing to undo, kept as done", now)
            else:
                self._record(step, old.id, old.status, S.CANCELLED, f"dropped by revision {m.n}", now)

    def _merge_apply(self, step: Step, r: S.OrderRun, m: _Merge, now: int) -> None:
        """The order takes the merged plan; the undo tasks are chained, the last
        completed first; a task done again waits for its undo."""
        n, tasks = m.n, m.tasks
        r.lines = m.lines
        r.items = m.items
        m.undone.sort(key=lambda t: (-(t.done_seq or 0), t.id))
        r.tasks = tasks
        previous = None
        for old in m.undone:
            undo = self._undo_task(r, old, [previous] if previous else [])
            if old.id in tasks and tasks[old.id] is not old:  # done again: the completed run is kept beside it, for its undo
                kept = old.id + f"@{old.generation}"
                tasks[old.id].depends_on.append(undo.id)
                old.id = kept
                r.tasks[kept] = old
                undo.undoes = kept
            else:
                r.tasks[old.id] = old
            previous = undo.id
            self._record(step, undo.id, None, S.PENDING, f"to undo {undo.undoes} ({self._definition(old).compensate.target}), for revision {n}", now)
        r.revision = n
        r.pending = None
        r.frozen = False
        self._record(step, "order", None, None, f"revision {n} applied: the order resumes on the merged plan", now)
        self._publish(step, "ProductOrderAttributeValueChangeEvent", now, revision=n)

    def _reads(self, task: S.TaskRun) -> dict:
        """What a task's call arguments read: line attributes, and task outputs (by task name)."""
        d = self._definition(task)
        args = [e for _, e in d.call.args] if d.call is not None else []
        return {"attrs": set().union(*(E.reads(e, "attr") for e in args)) if args else set(), "outputs": set().union(*(E.reads(e, "output") for e in args)) if args else set()}

    def _strategy(self, task: S.TaskRun) -> str:
        """The task's `on amend` (keep, redo, undo_redo), its default made explicit (redo for what no plan defines)."""
        d = self._definition(task)
        return d.amend_strategy() if d is not None else "redo"

    def _writes(self, task: S.TaskRun) -> set:
        return {attr for attr, _ in self._definition(task).sets}

    def _unchanged(self, old: S.TaskRun, new: S.TaskRun, before: tuple, after: tuple) -> bool:
        """Did a revision leave a started task as it started? The same definition
        and dependencies; nothing upstream of it added, replaced or done again
        (every task it waits for, directly or not, is kept as it completed or was
        skipped); and what it read when it started reads the same: its
        condition, its call's arguments, the time it waits until, evaluated
        on the order before the revision (`before`: lines, tasks, order) and
        after it (`after`)."""
        same = ("name", "type", "product", "action", "line", "queue", "system")
        if any(getattr(old, f) != getattr(new, f) for f in same) or set(old.depends_on) != set(new.depends_on):
            return False
        old_tasks, tasks = before[1], after[1]
        if any(tasks[up] is not old_tasks.get(up) or tasks[up].status not in S.DONE for up in _ancestors(tasks, new.id)):
            return False
        return self._start_reads(old, *before) == self._start_reads(new, *after)

    def _start_reads(self, task: S.TaskRun, lines: dict, tasks: dict, order: dict) -> Optional[list]:
        """What starting a task evaluates (a fault is a value too)."""
        line = lines.get(task.line)
        if line is None:
            return None
        d = self._definition(task)
        outputs = _line_outputs(tasks, task.line)
        reads = across_reads(self.catalog, line.product, line.action)
        if reads:  # what it reads of other lines counts too
            outputs.update(across_outputs(lines, tasks, task.line, reads))
        out = []
        for fn, used in ((self.rules.task_when, d.when is not None), (self.rules.task_args, d.call is not None), (self.rules.wait_until, d.wait_until is not None)):
            try:
                out.append(fn(task.product, task.action, task.name, line.values, outputs, order, line.previous) if used else None)
            except EvaluationError as exc:
                out.append(("cannot evaluate", exc.element, exc.message))
        return out

    def _inputs_changed(self, r: S.OrderRun, old: S.TaskRun, new: S.TaskRun, lines: dict) -> bool:
        """Would the task be called differently now? (Tasks that make no calls: no.)"""
        if old.type not in CALLING or old.args is None:
            return False
        line = lines.get(new.line)
        if line is None:
            return True
        outputs = self._outputs(r, new.line)
        try:
            args = self.rules.task_args(new.product, new.action, new.name, line.values, outputs, self._order_view(r), line.previous)
        except EvaluationError:
            return True
        return args != old.args
