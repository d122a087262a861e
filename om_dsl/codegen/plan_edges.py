"""What codegen proves about a plan's edges once per catalog, for planner.py
(om_dsl/codegen/planner.py writes the functions): which tasks other lines name or
add edges to, the dependencies the catalog fixes, what skipped tasks can pass on,
and the waits within a plan that the skipped tasks of each case settle. Each answer
is what the shared planner (om_dsl.planning.tasks) would make at planning time;
tests/test_compiled_plans.py holds the generated plans to it."""

from __future__ import annotations

from om_dsl.model import expr as E
from om_dsl.model.plans import reads_across, static_when


class PlanEdges:
    """The analyses of one catalog's plans, each made once."""

    def __init__(self, cat):
        self.cat = cat
        self._reads: dict = {}  # id(task definition) -> reads_across
        self._closed: dict = {}  # (product, action) -> closed()

    def reads(self, d) -> tuple:
        """reads_across(catalog, d), once per task (it scans the plans for attributes read)."""
        found = self._reads.get(id(d))
        if found is None:
            found = self._reads[id(d)] = reads_across(self.cat, d)
        return found

    def crossing(self) -> tuple:
        """What edges between lines reach, over the whole catalog: the (product, task)
        pairs a clause `in bundle` / `in order` names (their ids are indexed as lines are
        planned), those a cross-line `before` adds edges to, the scopes of the clauses that
        say `every task` (each line's tasks are indexed for those), and whether a `before`
        does (then any task may gain edges)."""
        if not hasattr(self, "_crossing"):
            named, gains, every, every_gains = set(), set(), set(), False
            for plan in self.cat.plans:
                for d in plan.items:
                    clauses = [(dep, False) for dep in d.after] + [(dep, False) for dep, _ in self.reads(d)] + [(dep, True) for dep in d.before]
                    for dep, before in clauses:
                        if dep.scope == "plan":
                            continue
                        if dep.task is None:
                            every.add(dep.scope)
                            every_gains = every_gains or before
                        else:
                            named.add((dep.product, dep.task))
                            if before:
                                gains.add((dep.product, dep.task))
            self._crossing = (named, gains, every, every_gains)
        return self._crossing

    def closed(self, plan) -> dict:
        """Task name -> its final dependencies [(task, via)], for the tasks whose edges the
        catalog fixes: nothing in the plan can be skipped, no clause of the task reaches
        another line, and no other line's clause can add an edge to it. The edges are
        made in the shared planner's order (each task's `after`s, then its `before`s, in
        the plan's order), the first clause naming a task kept, sorted by id."""
        key = (plan.product, plan.action)
        if key not in self._closed:
            self._closed[key] = self._fixed(plan)
        return self._closed[key]

    def _fixed(self, plan) -> dict:
        _, gains, _, every_gains = self.crossing()
        if every_gains or any(static_when(plan, d) for d in plan.items):
            return {}
        names = {d.name for d in plan.items}
        edges: dict = {d.name: [] for d in plan.items}
        open_ = set()
        for d in plan.items:
            if self.reads(d) or any(dep.scope != "plan" for dep in d.after) or (plan.product, d.name) in gains:
                open_.add(d.name)
            for dep in d.after:
                if dep.scope == "plan" and dep.task in names and dep.task != d.name:
                    edges[d.name].append((dep.task, f"after {dep.describe()}"))
            for dep in d.before:
                if dep.scope == "plan" and dep.task in names and dep.task != d.name:
                    edges[dep.task].append((d.name, f"{d.name} before {dep.describe()}"))
        out = {}
        for name, found in edges.items():
            if name in open_:
                continue
            first: dict = {}
            for task, via in found:
                first.setdefault(task, via)
            out[name] = [(task, first[task]) for task in sorted(first)]
        return out

    def passes_to(self) -> set:
        """The products a skipped task can pass a wait on to: those of the tasks a task that
        may be skipped (a `when` decided at planning time) waits for, one edge away (None:
        any product, for an `every task` clause). A walk through skipped tasks of other
        products can add a task of product P to what waits for them only when P is here."""
        if not hasattr(self, "_passes_to"):
            skippable = {(p.product, d.name) for p in self.cat.plans for d in p.items if static_when(p, d)}
            out: set = set()
            for plan in self.cat.plans:
                for d in plan.items:
                    if (plan.product, d.name) in skippable:  # what it waits for
                        for dep in list(d.after) + [dep for dep, _ in self.reads(d)]:
                            out.add(plan.product if dep.scope == "plan" else dep.product)  # (every task: None, any)
                    for dep in d.before:  # `d before S`: S waits for d
                        if dep.task is None or (plan.product if dep.scope == "plan" else dep.product, dep.task) in skippable:
                            out.add(plan.product)
            self._passes_to = out
        return self._passes_to

    def skippable(self) -> set:
        """(product, task) of every task a `when` decided at planning time may skip."""
        if not hasattr(self, "_skippable"):
            self._skippable = {(p.product, d.name) for p in self.cat.plans for d in p.items if static_when(p, d)}
        return self._skippable

    def settled(self, plan) -> dict:
        """Task name -> (the skippable tasks of its plan it can wait through, sorted; {their
        skip flags: ((position in the plan, clause), ...)}), for the tasks whose waits within
        their plan are decided by which of those are skipped alone: what the shared planner's
        walk through skipped tasks gives them within the plan, made here once per case. A
        task qualifies when nothing but its own clauses gives it edges (no other line's
        `before`, no `before` within the plan, no `every task` `before`), its clauses into
        other lines name tasks no `when` skips, and each skipped task it can wait through
        waits only within the plan (its `after`s) and is waited for by nothing else's
        `before`. At run time an order with `reliesOn` takes the shared walk (relied-on
        tasks add edges)."""
        _, gains, _, every_gains = self.crossing()
        decided = {d.name for d in plan.items if static_when(plan, d)}
        if every_gains or not decided:
            return {}
        defs = {d.name: d for d in plan.items}
        position = {d.name: n for n, d in enumerate(plan.items)}
        targeted = {dep.task for d in plan.items for dep in d.before if dep.scope == "plan"}
        skippable = self.skippable()

        def inplan(d) -> list:  # its in-plan waits, in order, the first clause naming a task kept
            first: dict = {}
            for dep in d.after:
                if dep.scope == "plan" and dep.task in defs and dep.task != d.name:
                    first.setdefault(dep.task, f"after {dep.describe()}")
            return list(first.items())

        def alone(name) -> bool:  # a skipped task that waits only within the plan, and that nothing else's `before` reaches
            d = defs[name]
            return not self.reads(d) and all(dep.scope == "plan" for dep in d.after) and name not in targeted and (plan.product, name) not in gains

        out = {}
        for d in plan.items:
            if d.name in decided or d.name in targeted or (plan.product, d.name) in gains:
                continue
            mine = inplan(d)
            if not any(t in decided for t, _ in mine):
                continue
            cross = [dep for dep in d.after if dep.scope != "plan"] + [dep for dep, _ in self.reads(d)]
            if any(dep.scope == "plan" or dep.task is None or (dep.product, dep.task) in skippable for dep in cross):
                continue
            reach: set = set()
            todo = [t for t, _ in mine if t in decided]
            while todo:
                t = todo.pop()
                if t not in reach:
                    reach.add(t)
                    todo += [u for u, _ in inplan(defs[t]) if u in decided]
            if len(reach) > 4 or not all(alone(t) for t in reach):
                continue
            names = sorted(reach)
            table = {}
            for n in range(2 ** len(names)):
                flags = tuple(bool(n >> i & 1) for i in range(len(names)))
                walked = self._walk(mine, {t for t, f in zip(names, flags) if f}, defs, inplan)
                table[flags] = tuple((position[t], via) for t, via in walked)
            out[d.name] = (names, table)
        return out

    @staticmethod
    def _walk(mine: list, skipped: set, defs: dict, inplan) -> list:
        """om_dsl.planning.compiled.CompiledPlanner.through_skipped, on the plan's own tasks:
        [(task, clause)] a task waits for when the tasks `skipped` are skipped."""
        first = {t: via for t, via in mine if t not in skipped}
        gone = {t: via for t, via in mine if t in skipped}

        def why(via, t):
            return f"{via}, skipped (when {E.render(defs[t].when)} is false), which waits for it"

        seen = set(gone)
        level = [(why(via, t), inplan(defs[t])) for t, via in mine if t in gone and inplan(defs[t])]
        while level:
            after = []
            for via, targets in level:
                for on, _ in targets:
                    if on in seen or on in first:
                        continue
                    if on not in skipped:
                        first[on] = via
                        continue
                    seen.add(on)
                    if inplan(defs[on]):
                        after.append((why(via, on), inplan(defs[on])))
            level = after
        return list(first.items())
