"""The planner's fast path: a compiled catalog's `planner.py` driven.

`om compile` writes, per catalog, planning specialized to it
(om_dsl/codegen/planner.py says what): intake's coercion per product,
decomposition per product, plan instantiation per product and action. Intake
and decomposition call those functions through the hooks here; the plan of an
order is made by `CompiledPlanner` from the generated functions alone: the
tasks of each line, with the dependencies the catalog fixes, then the edges
that depend on the order, then the dependency order. Whatever a generated
function does not cover it returns None for (or, for a plan, `CompiledPlanner`
hands the whole plan over), and the shared planner (the reference, which the
interpreter always uses) does it. The differential tests hold both paths to
the same plans and rejections.

What the generated module imports from om lives here, so that its interface
is one module (`ABI` numbers it).
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from operator import attrgetter

from om_dsl.limits import MAX_ID, plain_id
from om_dsl.model import expr as E
from om_dsl.model.catalog import AttributeDef
from om_dsl.planning.compiled_intake import units  # intake's fast path: a quantity's units (planner.py's item functions)
from om_dsl.planning.intake import coerce
from om_dsl.planning.order import ACTIONS, FulfillmentLine, OrderItem
from om_dsl.planning.request import DROPPED, MAX_DEPTH, kept
from om_dsl.planning.tasks import OrchestrationPlan, PlannedItem, SkippedItem, _Planner
from om_dsl.rules import ops

__all__ = ["ABI", "BAD", "KEEPS_ALL", "MAX_DEPTH", "MAX_ID", "NO_CHARS", "ORDER", "UNSET", "coerced", "kept", "plain_id", "FulfillmentLine", "OrderItem", "PlannedItem", "SkippedItem", "planner_of", "units", "CompiledPlanner"]

ABI = 4  # om_dsl.codegen.planner.PLANNER_ABI of the generated modules this code drives

BAD = object()  # a characteristic's value that intake does not take as it is: the reference reports it
UNSET = object()  # a characteristic not given
ORDER = object()  # the scope of a clause `every task in order` (a bundle's is its root item's id)
NO_CHARS = ()  # an item that gives no characteristics
KEEPS_ALL = DROPPED["item"].isdisjoint  # an item request whose every field om keeps: kept(raw, "item") is its copy

_TYPES = {t: AttributeDef("value", t) for t in ("int", "decimal", "bool", "string", "date")}


def coerced(type_: str, raw):
    """intake.coerce to the attribute type, or BAD where it refuses the value."""
    try:
        return coerce(_TYPES[type_], raw)
    except ValueError:
        return BAD


def planner_of(rules):
    """The generated planner module of a compiled catalog's rules, or None (the interpreter,
    a catalog compiled before there was one, or one generated for another ABI)."""
    module = getattr(rules, "planner", None)
    return module if module is not None and getattr(module, "ABI", None) == ABI else None


_RELIES_ON = attrgetter("relies_on")
_ID = attrgetter("id")


def _plans(catalog, module) -> dict:
    """action -> product -> (its tasks' function, its edges' function or None, {task:
    definition}, why a line has no tasks when the plan's `when` is false)."""
    out: dict = {action: {} for action in ACTIONS}
    for plan in catalog.plans:
        fns = module.TASKS.get((plan.product, plan.action))
        if fns is not None:
            why = f"the plan's condition is false: when {E.render(plan.when)}" if plan.when is not None else ""
            out[plan.action][plan.product] = (*fns, {d.name: d for d in plan.items}, why)
    return out


class CompiledPlanner:
    """The order's plan through the generated functions: each line's tasks are made
    with the dependencies the catalog fixes (planner.py's `tasks__P__A`), the other
    edges as (id, clause) pairs (`edges__P__A`, then `reliesOn` between items), and
    what waits for a skipped task waits for what it waited for. An order the
    generated code does not cover (a rule that faults, a cycle) is planned by the
    shared planner, the reference, which names the problem."""

    def __init__(self, catalog, rules, order, lines, previous, module):
        self.catalog, self.rules, self.order, self.lines, self.previous = catalog, rules, order, lines, previous
        made = catalog.memo("planner.generated", dict)  # id(module) -> _plans (a catalog has one module, but for tests)
        self.generated = made.get(id(module)) or made.setdefault(id(module), _plans(catalog, module))
        self.items: dict = {}  # item id -> PlannedItem
        self.skipped: dict = {}  # item id -> SkippedItem
        self.edges: dict = defaultdict(dict)  # item id (kept or skipped) -> {id waited for: the first clause naming it}, in the order named
        self.index: dict = defaultdict(list)  # (product, task) and (bundle, product, task) -> ids, in line order
        self.every_order: list = []  # [(product, ids of one line's tasks)], in line order
        self.every_bundle: dict = defaultdict(list)  # bundle -> the same, for its lines
        self.relying: list = []  # the order items that rely on others (`reliesOn`)

    def reference(self) -> OrchestrationPlan:
        return _Planner(self.catalog, self.rules, self.order, self.lines, self.previous).run()

    def run(self) -> OrchestrationPlan:
        self.relying = relying = list(filter(_RELIES_ON, self.order.items))
        o, generated, previous = self.order.fields, self.generated, self.previous
        without: dict = {}
        pending = []
        try:
            for line in self.lines:
                entry = generated[line.action].get(line.product)  # plans are for add, modify and delete
                if entry is None:
                    without[line.id] = "noChange: nothing to fulfill" if line.action == "noChange" else f"{line.product} has no plan for {line.action}"
                    continue
                tasks, edges, defs, why = entry
                lid = line.id
                ids = tasks(self, line.values, o, previous.get(lid) if previous else None, lid, line.bundle, defs)  # its tasks' ids; False: none
                if not ids:
                    without[lid] = why
                elif edges is not None:
                    pending.append((edges, lid, line.bundle, ids))
            for fn, lid, bundle, ids in pending:
                fn(self, lid, bundle, ids)
        except (ops.Fault, ArithmeticError):
            return self.reference()  # it rejects the order, naming the rule and its spec line
        if relying:
            self.relies_on(relying)
        self.resolve()
        ordered = self.topological()
        if ordered is None:
            return self.reference()  # a cycle: the reference names it
        return OrchestrationPlan(ordered, sorted(self.skipped.values(), key=_ID), without)

    # ---- what the generated functions call ------------------------------------------------

    def every_other(self, scope, product: str, kept: bool = False) -> list:
        """`every task in bundle` (scope: the bundle) or `in order` (ORDER): the tasks of the other
        products' lines. `kept`: the skipped ones may be left out (the generated code says so when
        none of them can pass on a wait to a task of `product`), unless items rely on others
        (then skipped tasks wait for the tasks they rely on)."""
        lines = self.every_order if scope is ORDER else self.every_bundle.get(scope, ())
        skipped = self.skipped
        if kept and skipped and not self.relying:
            return [t for p, ids in lines if p != product for t in ids if t not in skipped]
        return [t for p, ids in lines if p != product for t in ids]

    # ---- dependencies -------------------------------------------------------------------------

    def resolve(self) -> None:
        """Each item's edges, once each by id (the first clause naming it), sorted by id."""
        items, skipped, edges = self.items, self.skipped, self.edges
        for item_id, found in edges.items():
            item = items.get(item_id)
            if item is None or not found:
                continue  # a skipped task (its edges pass to what waits for it), or a clause that named no task
            if len(found) == 1:
                for on in found:
                    if on not in skipped:
                        item.depends_on, item.vias = [on], found[on]
                        break
                else:
                    self.without_skipped(item, found)
            elif skipped and not found.keys().isdisjoint(skipped):
                self.without_skipped(item, found)
            else:
                item.depends_on, item.vias = sorted(found), found

    def without_skipped(self, item, found: dict) -> None:
        """An item's edges when some name skipped tasks: those pass on what they waited for.
        (`found` becomes the item's: no walk reads a kept item's edges.)"""
        skipped, edges = self.skipped, self.edges
        gone_ids = found.keys() & skipped.keys()
        # the skipped ones that waited for something (one that waited for nothing passes nothing on), in the order found names them
        passing = [h for h in found if h in gone_ids and h in edges] if not edges.keys().isdisjoint(gone_ids) else None
        gone = {}
        for h in gone_ids:  # (a loop, not a comprehension: these are one to three)
            gone[h] = found.pop(h)
        if passing:
            self.through_skipped(passing, found, gone)
        item.depends_on, item.vias = sorted(found), found

    def relies_on(self, relying: list) -> None:
        """`reliesOn` between order items, as the shared planner's `relies_on`: each task of
        the relying item's lines waits for every task of the lines of the items it relies
        on, after its other edges (a task made with its dependencies gets them back as edges)."""
        of_line = defaultdict(list)  # line id -> its tasks, kept and skipped
        for i in self.items.values():
            of_line[i.line].append(i.id)
        for i in self.skipped.values():
            of_line[i.line].append(i.id)
        of_item: dict = {}  # order item -> its lines' tasks, line after line, each line's by name
        for line in self.lines:
            ids = of_line.get(line.id)
            if ids:
                of_item.setdefault(line.source_item, []).extend(sorted(ids))
        edges, items = self.edges, self.items
        for item in relying:
            mine = of_item.get(item.id, ())
            for other in item.relies_on:
                why = f"order item {item.id} reliesOn {other}"
                for target in of_item.get(other, ()):
                    for task in mine:
                        found = edges.get(task)
                        if found is None:
                            made = items.get(task)
                            found = edges[task] = dict(made.waits()) if made is not None else {}
                        found.setdefault(target, why)

    def through_skipped(self, passing: list, first: dict, gone: dict) -> None:
        """As the shared planner's `waits_through_skipped`, a breadth-first walk: what the
        skipped items an item waits for (`gone`: each with the first clause naming it;
        `passing`: those that wait for something, in the order named) waited for, with the
        clause that reached the skipped one, added to `first` (the item's other edges).
        A level is [(the clause, the edges of a skipped item)], in that order."""
        skipped, edges = self.skipped, self.edges
        seen = set(gone)
        level = [(f"{gone[h]}, skipped ({skipped[h].reason}), which waits for it", edges[h]) for h in passing]
        while level:
            after = []
            for via, targets in level:
                for on in targets:
                    if on in seen or on in first:
                        continue
                    s = skipped.get(on)
                    if s is None:
                        first[on] = via
                        continue
                    seen.add(on)
                    further = edges.get(on)
                    if further:
                        after.append((f"{via}, skipped ({s.reason}), which waits for it", further))
            level = after

    def topological(self):
        """The shared planner's order (ready items by line position, then id); None on a cycle.
        The generated functions add each line's tasks by name, line after line, so the
        items come in that order: each is placed when reached if what it waits for is,
        else held until it is (held ones first, the earliest first)."""
        done: set = set()
        out: list = []
        held: list = []
        for item in self.items.values():
            deps = item.depends_on
            if deps and not done.issuperset(deps):
                held.append(item)
                if len(held) > 16:  # many held: the heap's cost grows slower
                    return self.kahn()
                continue
            out.append(item)
            done.add(item.id)
            while held:
                for h in held:
                    if done.issuperset(h.depends_on):
                        break
                else:
                    break
                held.remove(h)
                out.append(h)
                done.add(h.id)
        return None if held else out

    def kahn(self):
        """Kahn's algorithm, ready items by rank (their order in `items`); None on a cycle."""
        items = self.items
        order = list(items.values())
        rank = {i: n for n, i in enumerate(items)}
        waiting = [0] * len(order)
        users: list = [None] * len(order)
        ready = []
        for k, item in enumerate(order):
            deps = item.depends_on  # once each (resolve)
            if not deps:
                ready.append(k)  # in rank order: a heap already
                continue
            waiting[k] = len(deps)
            for d in deps:
                r = rank[d]
                found = users[r]
                if found is None:
                    users[r] = [k]
                else:
                    found.append(k)
        out = []
        pop, push = heapq.heappop, heapq.heappush
        while ready:
            k = pop(ready)
            out.append(order[k])
            found = users[k]
            if found is not None:
                for u in found:
                    waiting[u] -= 1
                    if not waiting[u]:
                        push(ready, u)
        return out if len(out) == len(order) else None
