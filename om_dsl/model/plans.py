"""What the planner and the code generator both derive from a catalog's plans:
which task conditions are decided at planning time, and which tasks of other
lines a task waits for because it reads their values. One definition, so the
shared planner (om_dsl.planning.tasks) and the generated one cannot drift."""

from __future__ import annotations

from om_dsl.model import expr as E
from om_dsl.model.catalog import Catalog, DependencyDef, PlanDef, PlanItemDef


def written(plan: PlanDef) -> set:
    """The line's attributes a task of the plan sets (`sets`): unknown until it runs."""
    return {attr for i in plan.items for attr, _ in i.sets}


def static_when(plan: PlanDef, d: PlanItemDef) -> bool:
    """Does the task's `when` read only values fixed at planning time (no
    outputs, no other lines, no attribute a task sets)? Then planning decides it."""
    return d.when is not None and not E.reads(d.when, "output") and not E.across(d.when) and not (E.reads(d.when, "attr") & written(plan))


def reads_across(catalog: Catalog, d: PlanItemDef) -> tuple:
    """The tasks of other lines an item reads the values of (an attribute: the
    tasks that set it), as ((DependencyDef, via), ...). The checker proved them
    upstream through the plans' dependencies; waiting for them keeps a read
    right even when a line on that path is not in the order."""
    exprs = [d.when, d.wait_until] + [e for _, e in d.sets] + ([e for _, e in d.call.args] if d.call else [])
    out = set()
    for e in exprs:
        for scope, product, task, name in E.across(e):
            if task is not None:
                out.add((DependencyDef(product, task, scope), f"reads {product}.{task}.{name} in {scope}"))
                continue
            for plan in catalog.plans:
                if plan.product == product:
                    out.update((DependencyDef(product, i.name, scope), f"reads {product}.{name} in {scope}, set by {i.name}") for i in plan.items if any(a == name for a, _ in i.sets))
    return tuple(sorted(out, key=lambda x: (x[0].product, x[0].task, x[0].scope, x[1])))
