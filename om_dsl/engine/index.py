"""What the core knows of an order's tasks without looking at each of them:
who waits for whom, which tasks are ready to start, how many are done or
busy, which ones time can change, a line's tasks, a call's key.

Derived from the order's state and never stored: built when first needed
(`OrderIndex.of`), kept up to date by every status change the core makes
(`moved`), and built again when the tasks change shape (an amendment merged,
undo tasks planned). With it an event costs what it changes: a task that
completes in an order of 5,000 tasks looks at its dependents, not at the
5,000 (docs/engine.md, "Cost of an event").
"""

from __future__ import annotations

import heapq
from typing import Optional

from om_dsl.engine import state as S

UNKNOWN = object()


class OrderIndex:
    def __init__(self, run: S.OrderRun):
        tasks = run.tasks
        self.tasks = tasks  # the dict indexed: another one (a merge) means the index is stale
        self.size = len(tasks)
        self.order = list(tasks)
        self.pos = {tid: n for n, tid in enumerate(self.order)}
        self.dependents: dict = {}
        self.by_line: dict = {}
        self.by_key: dict = {}
        self.open_deps: dict = {}  # task id -> how many of its dependencies are not done
        self.done = 0
        self.cancelled = 0
        self.fatal = 0
        self.busy = 0  # calls in flight (running tasks that are not waits)
        self.candidates: set = set()  # pending tasks whose dependencies are done
        self.timed: set = set()  # tasks time may change: a retry, a wait, a deadline, a due time
        self.due: set = set()  # of which those with a due time (jeopardy)
        self.view = None  # the order as expressions read it, built once per items list
        self.view_of = None
        self.due_wake: object = UNKNOWN  # the order's due-date wake-up the tasks' wake times hold
        self._pass: Optional[list] = None  # the heap of the pass `_advance` is making
        self._cursor = -1
        for tid, t in tasks.items():
            self.by_line.setdefault(t.line, []).append(tid)
            if t.key is not None:
                self.by_key.setdefault(t.key, tid)
            n = 0
            for d in t.depends_on:
                if d in tasks:
                    self.dependents.setdefault(d, []).append(tid)
                    n += tasks[d].status not in S.DONE
            self.open_deps[tid] = n
            self._count(t.status, t.type, 1)
            if t.status == S.PENDING and n == 0:
                self.candidates.add(tid)
            self.track(t)

    @staticmethod
    def of(run: S.OrderRun) -> "OrderIndex":
        ix = run.index
        if ix is None or ix.tasks is not run.tasks or ix.size != len(run.tasks):
            ix = run.index = OrderIndex(run)
        return ix

    def _count(self, status: str, type_: str, n: int) -> None:
        if status in S.DONE:
            self.done += n
        elif status == S.CANCELLED:
            self.cancelled += n
        elif status == S.FATALLY_FAILED:
            self.fatal += n
        elif status == S.RUNNING and type_ != "wait":
            self.busy += n

    @staticmethod
    def moved_in(run: S.OrderRun, task: S.TaskRun, old: str, new: str) -> None:
        """A status change, told to the order's index if it has one that is current."""
        ix = run.index
        if ix is not None and ix.tasks is run.tasks and task.id in ix.pos:
            ix.moved(task, old, new)

    def moved(self, task: S.TaskRun, old: str, new: str) -> None:
        """A task's status changed from `old` to `new`."""
        self._count(old, task.type, -1)
        self._count(new, task.type, 1)
        if old == S.PENDING:
            self.candidates.discard(task.id)
        if new == S.PENDING and self.open_deps.get(task.id, 0) == 0:
            self._candidate(task.id)
        done_now = (new in S.DONE) - (old in S.DONE)
        if done_now:
            for tid in self.dependents.get(task.id, ()):
                self.open_deps[tid] -= done_now
                if done_now > 0 and self.open_deps[tid] == 0 and self.tasks[tid].status == S.PENDING:
                    self._candidate(tid)

    def _candidate(self, tid: str) -> None:
        self.candidates.add(tid)
        if self._pass is not None and self.pos[tid] > self._cursor:
            heapq.heappush(self._pass, self.pos[tid])  # later in plan order: this pass reaches it

    def ready_pass(self, eligible) -> list:
        """Start a pass over the ready tasks in plan order (`eligible(task)` filters them)."""
        self._pass = [self.pos[tid] for tid in self.candidates if eligible(self.tasks[tid])]
        heapq.heapify(self._pass)
        self._cursor = -1
        return self._pass

    def next_ready(self) -> Optional[S.TaskRun]:
        """The next task of the pass, in plan order; None when the pass is over."""
        while self._pass:
            p = heapq.heappop(self._pass)
            if p <= self._cursor:
                continue
            tid = self.order[p]
            if tid not in self.candidates:
                continue
            self._cursor = p
            self.candidates.discard(tid)
            return self.tasks[tid]
        self._pass = None
        return None

    def end_pass(self) -> None:
        self._pass = None

    def all_done(self) -> bool:
        return self.done == self.size

    def open(self) -> int:
        """Tasks neither done nor cancelled."""
        return self.size - self.done - self.cancelled

    def outputs(self, line: str) -> dict:
        """The outputs of the line's completed tasks (their current runs: not a run a revision superseded)."""
        out = {}
        for tid in self.by_line.get(line, ()):
            t = self.tasks[tid]
            if t.status == S.COMPLETED and t.outputs is not None and t.id == f"{line}:{t.name}":
                out[t.name] = t.outputs
        return out

    def in_order(self, ids) -> list:
        pos = self.pos
        return sorted((i for i in ids if i in pos), key=pos.__getitem__)

    def track(self, t: S.TaskRun) -> None:
        """Whether time may change the task (a retry, a wait, a deadline) or its jeopardy, after a change."""
        due = t.jeopardy is not None or (t.due_at is not None and t.status not in S.DONE and t.status != S.CANCELLED)
        if due:
            self.due.add(t.id)
        else:
            self.due.discard(t.id)
        if due or t.next_at is not None:  # (a wake time from the order's due date alone: see timers.py)
            self.timed.add(t.id)
        else:
            self.timed.discard(t.id)
