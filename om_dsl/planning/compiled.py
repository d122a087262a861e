"""The planner's fast path: a compiled catalog's `planner.py` driven.

`om compile` writes, per catalog, planning specialized to it
(om_dsl/codegen/planner.py says what): intake's coercion per product,
decomposition per product, plan instantiation per product and action. Intake
and decomposition call those functions through the hooks here; the plan of an
order is instantiated by `CompiledPlanner`, the shared planner with its
per-line walk of the plan definitions replaced by the generated functions.
Whatever a generated function does not cover it returns None for, and the
shared planner (the reference, which the interpreter always uses) does it.
The differential tests hold both paths to the same plans and rejections.

What the generated module imports from om lives here, so that its interface
is one module (`ABI` numbers it).
"""

from __future__ import annotations

import heapq

from om_dsl.model import expr as E
from om_dsl.model.catalog import AttributeDef
from om_dsl.planning.compiled_intake import added, code_of, plain  # intake's fast path (planner.py's item functions)
from om_dsl.planning.intake import coerce
from om_dsl.planning.order import FulfillmentLine
from om_dsl.planning.request import MAX_DEPTH
from om_dsl.planning.tasks import Dependency, PlannedItem, SkippedItem, _Planner
from om_dsl.rules import ops

__all__ = ["ABI", "BAD", "UNSET", "MAX_DEPTH", "added", "code_of", "coerced", "plain", "Dependency", "FulfillmentLine", "PlannedItem", "SkippedItem", "planner_of", "CompiledPlanner"]

ABI = 2  # om_dsl.codegen.planner.PLANNER_ABI of the generated modules this code drives

BAD = object()  # a characteristic's value that intake does not take as it is: the reference reports it
UNSET = object()  # a characteristic not given

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


class CompiledPlanner(_Planner):
    """The shared planner over generated plan instantiation (see the module's docstring)."""

    def __init__(self, catalog, rules, order, lines, previous, module):
        super().__init__(catalog, rules, order, lines, previous)
        # (product, action) -> (its tasks' function, its dependencies' function, {task: definition})
        self.generated = catalog.memo(
            f"planner.generated.{id(module)}", lambda: {key: (*fns, {d.name: d for d in self.index[key][0].items}) for key, fns in module.TASKS.items()}
        )

    def instantiate_line(self, line, o) -> None:
        fns = self.generated.get((line.product, line.action)) if line.action != "noChange" else None
        if fns is None:
            return super().instantiate_line(line, o)
        try:
            made = fns[0](line.values, o, self.previous.get(line.id), line.id, line.bundle, fns[2])
        except (ops.Fault, ArithmeticError):
            return super().instantiate_line(line, o)  # the reference rejects the order, naming the rule
        if made is None:
            self.without[line.id] = f"the plan's condition is false: when {E.render(self.index[(line.product, line.action)][0].when)}"
            return
        tasks = self.by_line.setdefault(line.id, {})
        info, edges, items, skipped = self.info, self.edges, self.items, self.skipped
        for name, x in made:
            item_id = x.id
            tasks[name] = item_id
            info[item_id] = (line, None)
            edges[item_id] = []
            if type(x) is SkippedItem:
                skipped[item_id] = x
            else:
                items[item_id] = x

    def resolve(self) -> None:
        self.index_lines()
        generated = self.generated
        for line in self.lines:
            if line.id in self.by_line:
                generated[(line.product, line.action)][1](self, line, line.id)
        self.relies_on()
        skipped, edges = self.skipped, self.edges
        for item_id, item in self.items.items():
            mine = edges[item_id]
            if not mine:
                continue  # dependencies: [] already
            first: dict = {}  # once each, the first clause that made the edge naming it, by id
            for d in mine:
                if d.on in skipped:
                    item.dependencies = self.waits_through_skipped(item)
                    break
                if d.on not in first:
                    first[d.on] = d
            else:
                item.dependencies = mine if len(mine) == 1 else [first[on] for on in sorted(first)]

    def topological(self) -> list:
        """The shared planner's order (ready items by line position, then id), with less bookkeeping."""
        position = {l.id: n for n, l in enumerate(self.lines)}
        items = self.items
        waiting: dict = {}
        users: dict = {}
        ready = []
        for i, item in items.items():
            deps = item.dependencies  # one per item waited for (resolve)
            waiting[i] = len(deps)
            if not deps:
                ready.append((position[item.line], i))
            for d in deps:
                found = users.get(d.on)
                if found is None:
                    users[d.on] = [i]
                else:
                    found.append(i)
        heapq.heapify(ready)
        out = []
        while ready:
            item = items[heapq.heappop(ready)[1]]
            out.append(item)
            for u in users.get(item.id, ()):
                waiting[u] -= 1
                if not waiting[u]:
                    heapq.heappush(ready, (position[items[u].line], u))
        if len(out) != len(items):
            return self.in_order([], waiting, users, position)  # the shared planner names the cycle
        return out

