"""Warnings for definitions nothing uses (library definitions excepted)."""

from __future__ import annotations

from om_dsl.check.plans import Usage
from om_dsl.check.scope import CatalogScope
from om_dsl.diagnostics.diagnostic import Diagnostic, warning


def _unused(kind: str, name, why: str, help: str = "") -> Diagnostic:
    return warning("W001", f"the {kind} `{name.value}` is never used", name.span, why, help=help or "remove it, or use it")


def check_unused(scope: CatalogScope, used_tables: set[str], usage: Usage, diagnostics: list[Diagnostic]) -> None:
    own = scope.is_own
    for name, table in scope.tables.items():
        if own(table) and name not in used_tables:
            diagnostics.append(_unused("table", table.name, "no rule looks it up"))
    for name, policy in scope.retry_policies.items():
        if own(policy) and name not in usage.policies:
            diagnostics.append(_unused("retry policy", policy.name, "no system, operation or task retries with it"))
    for name, queue in scope.queues.items():
        if own(queue) and name not in usage.queues:
            diagnostics.append(_unused("queue", queue.name, "no manual task lands in it"))
    for name, system in scope.systems.items():
        if not own(system):
            continue
        called = [op for op in system.operations if (name, op.name.value) in usage.operations]
        if not called:
            diagnostics.append(_unused("system", system.name, "no plan calls any of its operations"))
            continue
        for op in system.operations:
            if op not in called:
                diagnostics.append(warning("W001", f"the operation `{name}.{op.name.value}` is never called", op.name.span, "no callout or compensation calls it", help="remove it, or call it from a plan"))
    targets = {rule.target.value for rule in scope.decompositions.values()}
    planned = {code for code, _ in scope.plans}  # one set, not a scan of every plan per product
    for code, product in scope.technical.items():
        if not own(product):
            continue
        if code not in targets:
            diagnostics.append(
                _unused("technical product", product.code, "no decomposition produces it", help=f"add `decompose NAME: SOURCE -> {code} {{ ... }}`, or remove it")
            )
        elif code not in planned:
            diagnostics.append(
                warning("W003", f"`{code}` has no plan", product.code.span, "nothing will be fulfilled for its lines", help=f"add `plan {code} on add {{ ... }}`")
            )
    children = {h.product.value for p in scope.commercial.values() for h in p.children}
    for code, product in scope.commercial.items():
        if own(product) and product.role == "child" and code not in children:
            diagnostics.append(
                _unused("child product", product.code, "no product has it as a child", help=f"add `has {code} [0..1]` to its parent product, or make it `root`")
            )
