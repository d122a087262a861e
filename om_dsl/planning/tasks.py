"""Instantiate one order's orchestration plan from its fulfillment lines.

Each line gets the tasks of its product's plan for its action. Dependencies
resolve by scope: `after T` within the line's own tasks, `P.T in bundle`
among the lines of the same root order item, `in order` anywhere in the
order, `every task in ...` over the other products' lines. A dependency on
a task the order does not contain counts as met. A task whose `when` is
already known to be false (it reads only values fixed at planning time) is
skipped here, and the tasks after it wait for what it waited for.
"""

from __future__ import annotations

import heapq
from collections import deque
from typing import Optional

import attrs

from om_dsl.model import expr as E
from om_dsl.model.catalog import Catalog, PlanItemDef
from om_dsl.model.plans import reads_across, static_when
from om_dsl.planning.order import EvaluationError, FulfillmentLine, Order, Problem, Rejected


@attrs.define
class Dependency:
    on: str  # the planned item waited for
    via: str  # why: the clause that made the edge, as written


@attrs.define
class PlannedItem:
    """A task of the order's plan. What it waits for is kept as ids (`depends_on`,
    sorted, once each) with the clause that made each edge beside them (`vias`:
    one string for all, a sequence with one per id, or a mapping id -> clause);
    `dependencies` pairs them up when something asks why (the plan's JSON, the
    report, the graph)."""

    id: str  # "<line id>:<task>"
    name: str
    type: str  # callout, manual, auto, milestone, wait
    product: str
    action: str
    line: str
    bundle: Optional[str]
    definition: PlanItemDef
    depends_on: list = attrs.field(factory=list)  # [item id]
    vias: object = ""  # str: every edge's clause; a sequence: one per id of depends_on; a dict: by id
    condition: Optional[str] = None  # a `when` evaluated at run time, as written

    @property
    def dependencies(self) -> list[Dependency]:
        return [Dependency(on, via) for on, via in self.waits()]

    def waits(self) -> list[tuple[str, str]]:
        """(id waited for, the clause that made the edge), in the order of depends_on."""
        v = self.vias
        if type(v) is str:
            return [(on, v) for on in self.depends_on]
        if type(v) is dict:
            return [(on, v[on]) for on in self.depends_on]
        return list(zip(self.depends_on, v))

    @dependencies.setter
    def dependencies(self, deps: list) -> None:
        self.depends_on = [d.on for d in deps]
        self.vias = [d.via for d in deps]

    @property
    def point_of_no_return(self) -> Optional[str]:
        return self.definition.point_of_no_return

    @property
    def target(self) -> Optional[str]:
        d = self.definition
        if d.call is not None:
            return d.call.target
        if d.queue is not None:
            return f"queue {d.queue}"
        return None


@attrs.define
class SkippedItem:
    id: str
    line: str
    reason: str


@attrs.define
class OrchestrationPlan:
    items: list  # [PlannedItem], in dependency order
    skipped: list  # [SkippedItem]
    lines_without_tasks: dict  # line id -> why it has no tasks


@attrs.frozen
class _TaskInfo:
    definition: PlanItemDef
    static_when: bool  # its `when` reads only values fixed at planning time
    when_text: Optional[str]
    after: tuple  # ((DependencyDef, "after ..."), ...)
    before: tuple
    reads: tuple = ()  # ((DependencyDef, "reads ..."), ...): tasks of other lines whose values it reads


def _plan_index(catalog: Catalog) -> dict:
    """(product, action) -> (plan, {task: _TaskInfo}), computed once per catalog."""

    def build():
        out = {}
        for plan in catalog.plans:
            tasks = {}
            for d in plan.items:
                tasks[d.name] = _TaskInfo(
                    d,
                    static_when(plan, d),
                    E.render(d.when) if d.when is not None else None,
                    tuple((dep, f"after {dep.describe()}") for dep in d.after),
                    tuple((dep, f"{d.name} before {dep.describe()}") for dep in d.before),
                    reads_across(catalog, d),
                )
            out[(plan.product, plan.action)] = (plan, tasks)
        return out

    return catalog.memo("planner.index", build)


def instantiate(catalog: Catalog, rules, order: Order, lines: list[FulfillmentLine], previous: dict | None = None) -> OrchestrationPlan:
    return _Planner(catalog, rules, order, lines, previous or {}).run()


class _Planner:
    def __init__(self, catalog, rules, order, lines, previous):
        self.catalog = catalog
        self.rules = rules
        self.order = order
        self.lines = lines
        self.previous = previous  # line id -> installed values (modify, delete)
        self.items: dict[str, PlannedItem] = {}
        self.skipped: dict[str, SkippedItem] = {}
        self.without: dict[str, str] = {}
        self.edges: dict[str, list[Dependency]] = {}  # item id (kept or skipped) -> what it waits for
        self.by_line: dict[str, dict[str, str]] = {}  # line id -> task name -> item id
        self.info: dict[str, tuple] = {}  # item id (kept or skipped) -> (line, _TaskInfo)
        self.index = _plan_index(catalog)

    def run(self) -> OrchestrationPlan:
        o = self.order.fields
        for line in self.lines:
            self.instantiate_line(line, o)
        self.resolve()
        ordered = self.topological()
        return OrchestrationPlan(ordered, sorted(self.skipped.values(), key=lambda s: s.id), self.without)

    # ---- items ------------------------------------------------------------------------

    def instantiate_line(self, line: FulfillmentLine, o) -> None:
        if line.action == "noChange":
            self.without[line.id] = "noChange: nothing to fulfill"
            return
        entry = self.index.get((line.product, line.action))
        if entry is None:
            self.without[line.id] = f"{line.product} has no plan for {line.action}"
            return
        plan, infos = entry
        prev = self.previous.get(line.id)
        try:
            applies = self.rules.plan_applies(line.product, line.action, line.values, o, prev)
        except EvaluationError as exc:
            raise Rejected([Problem(exc.element, f"{exc.element} ({exc.source}) cannot be evaluated for line {line.id}: {exc.message}")]) from None
        if not applies:
            self.without[line.id] = f"the plan's condition is false: when {E.render(plan.when)}"
            return
        tasks = self.by_line.setdefault(line.id, {})
        for name, info in infos.items():
            d = info.definition
            item_id = f"{line.id}:{name}"
            tasks[name] = item_id
            self.info[item_id] = (line, info)
            self.edges[item_id] = []
            condition = None
            if info.static_when:
                try:
                    holds = self.rules.task_when(line.product, line.action, name, line.values, {}, o, prev)
                except EvaluationError as exc:
                    raise Rejected([Problem(exc.element, f"{exc.element} ({exc.source}) cannot be evaluated for line {line.id}: {exc.message}")]) from None
                if not holds:
                    self.skipped[item_id] = SkippedItem(item_id, line.id, f"when {info.when_text} is false")
                    continue
            elif d.when is not None:
                condition = info.when_text
            self.items[item_id] = PlannedItem(item_id, name, d.kind, line.product, line.action, line.id, line.bundle, d, condition=condition)

    # ---- dependencies ---------------------------------------------------------------------

    def targets(self, line: FulfillmentLine, dep) -> list[str]:
        """The item ids (kept or skipped) a dependency clause of `line` points at."""
        if dep.scope == "plan":
            found = self.by_line.get(line.id, {}).get(dep.task)
            return [found] if found else []
        if dep.scope == "bundle" and line.bundle is None:
            return []
        if dep.task is not None:  # indexed by product: no scan of every line per clause
            lines = self.lines_by_product.get((line.bundle if dep.scope == "bundle" else None, dep.scope == "bundle", dep.product), ())
            return [self.by_line[o.id][dep.task] for o in lines if dep.task in self.by_line.get(o.id, ())]
        lines = self.lines_in_bundle.get(line.bundle, ()) if dep.scope == "bundle" else self.lines
        out = []
        for other in lines:
            tasks = self.by_line.get(other.id)
            if not tasks:
                continue
            if dep.task is None:  # every task of the other products' lines
                if other.product != line.product:
                    out.extend(tasks.values())
            elif other.product == dep.product and dep.task in tasks:
                out.append(tasks[dep.task])
        return out

    def index_lines(self) -> None:
        self.lines_in_bundle: dict = {}
        self.lines_by_product: dict = {}  # (bundle or None, in bundle?, product) -> lines, in order
        for l in self.lines:
            self.lines_in_bundle.setdefault(l.bundle, []).append(l)
            self.lines_by_product.setdefault((l.bundle, True, l.product), []).append(l)
            self.lines_by_product.setdefault((None, False, l.product), []).append(l)

    def resolve(self) -> None:
        self.index_lines()
        for item_id, (line, info) in self.info.items():
            for dep, via in info.after + info.reads:
                for target in self.targets(line, dep):
                    if target != item_id:
                        self.edges[item_id].append(Dependency(target, via))
            for dep, via in info.before:
                for target in self.targets(line, dep):
                    if target != item_id:
                        self.edges[target].append(Dependency(item_id, via))
        self.relies_on()
        for item in self.items.values():
            item.dependencies = self.waits_through_skipped(item)

    def waits_through_skipped(self, item: PlannedItem) -> list[Dependency]:
        """What an item waits for, once each, by id; through a skipped item: what it waited for."""
        out: list[Dependency] = []
        seen: set[str] = set()
        todo = deque(self.edges[item.id])
        while todo:
            dep = todo.popleft()
            if dep.on in seen:
                continue
            seen.add(dep.on)
            if dep.on in self.skipped:
                skipped = self.skipped[dep.on]
                todo.extend(Dependency(d.on, f"{dep.via}, skipped ({skipped.reason}), which waits for it") for d in self.edges[dep.on])
            else:
                out.append(dep)
        return sorted(out, key=lambda d: d.on)

    def relies_on(self) -> None:
        """`reliesOn` between order items: each task of the relying item's lines
        waits for every task of the lines of the items it relies on (the
        tasks of a skipped one count through what it waited for, as above)."""
        relying = [i for i in self.order.items if i.relies_on]
        if not relying:
            return
        of_item: dict = {}
        for item_id, (line, _) in self.info.items():
            of_item.setdefault(line.source_item, []).append(item_id)
        for item in relying:
            for other in item.relies_on:
                for target in of_item.get(other, ()):
                    for task in of_item.get(item.id, ()):
                        self.edges[task].append(Dependency(target, f"order item {item.id} reliesOn {other}"))

    def topological(self) -> list[PlannedItem]:
        position = {l.id: n for n, l in enumerate(self.lines)}

        def key(item_id: str):
            item = self.items[item_id]
            return (position[item.line], item_id)

        waiting = {i: len(set(self.items[i].depends_on)) for i in self.items}
        users: dict[str, list[str]] = {i: [] for i in self.items}
        for i, item in self.items.items():
            for on in set(item.depends_on):
                users[on].append(i)
        ready = [key(i) for i, n in waiting.items() if n == 0]
        return self.in_order(ready, waiting, users, position)

    def in_order(self, ready: list, waiting: dict, users: dict, position: dict) -> list[PlannedItem]:
        """Ready items first by their line's position, then by id; a cycle rejects the order."""

        def key(item_id: str):
            return (position[self.items[item_id].line], item_id)

        heapq.heapify(ready)
        out = []
        while ready:
            _, i = heapq.heappop(ready)
            out.append(self.items[i])
            for u in users[i]:
                waiting[u] -= 1
                if waiting[u] == 0:
                    heapq.heappush(ready, key(u))
        if len(out) != len(self.items):
            cycle = self.find_cycle({i for i, n in waiting.items() if n > 0})
            raise Rejected([Problem("plan_cycle", "the orchestration plan of this order has a dependency cycle: " + " -> ".join(cycle))])
        return out

    def find_cycle(self, nodes: set[str]) -> list[str]:
        start = min(nodes)
        path, seen = [start], {start: 0}
        while True:
            nxt = min(on for on in self.items[path[-1]].depends_on if on in nodes)
            if nxt in seen:
                cycle = path[seen[nxt]:] + [nxt]
                return list(reversed(cycle))  # in the direction work flows
            seen[nxt] = len(path)
            path.append(nxt)
