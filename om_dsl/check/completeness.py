"""Warnings for a catalog that checks clean and still does less than it seems to.

- W010: a technical product with a plan on add and none on modify or on
  delete: a modify or a disconnect of it "completes" with nothing done.
- W011: a dependency `... in bundle` that can never match: the lines
  involved are order-scoped (decomposed from `order`), and such a line
  belongs to no bundle; or the two products' lines come from different root
  products, and so are never in one bundle.
- W012: an enrichment rule that reads a child's enriched attribute. Items are
  enriched parents first (so that `parent.x` sees enriched values): when a
  parent's rule runs, its children's enriched attributes are still null.
"""

from __future__ import annotations

import attrs

from om_dsl.check.scope import CatalogScope
from om_dsl.diagnostics.diagnostic import Diagnostic, warning
from om_dsl.syntax import ast


def check_completeness(scope: CatalogScope, diagnostics: list[Diagnostic]) -> None:
    _missing_plans(scope, diagnostics)
    _bundle_dependencies(scope, diagnostics)
    _children_enriched(scope, diagnostics)


def _missing_plans(scope: CatalogScope, diagnostics) -> None:
    for (code, action), plan in sorted(scope.plans.items()):
        if action != "add" or code not in scope.technical or not scope.is_own(plan):
            continue
        if (code, "modify") in scope.plans or (code, "delete") in scope.plans:
            continue
        diagnostics.append(
            warning(
                "W010",
                f"`{code}` can be added, but has no plan to modify or delete it",
                plan.product.span.to(plan.action.span),
                "the only plan of this product",
                help=f"add `plan {code} on delete {{ ... }}` (and `on modify` when a change needs work); an empty plan says that nothing is to be done",
                notes=("a modify or disconnect order for it would complete with nothing done",),
            )
        )


def order_scoped(scope: CatalogScope) -> set[str]:
    """Technical products whose every line is order-scoped: each decomposition
    that produces them starts from the order, or from an order-scoped line."""
    sources: dict[str, set] = {}
    for d in scope.decompositions.values():
        sources.setdefault(d.target.value, set()).add(None if d.source is None else d.source.value)
    scoped: set[str] = set()
    changed = True
    while changed:
        changed = False
        for code, froms in sources.items():
            if code not in scoped and code in scope.technical and all(f is None or f in scoped for f in froms):
                scoped.add(code)
                changed = True
    return scoped


def bundle_roots(scope: CatalogScope) -> dict[str, set[str]]:
    """For each product, the root commercial products whose bundles can hold its lines or items."""
    sources: dict[str, set] = {}
    for d in scope.decompositions.values():
        sources.setdefault(d.target.value, set()).add(None if d.source is None else d.source.value)
    memo: dict[str, set[str]] = {}

    def roots(code: str, seen: frozenset) -> set[str]:
        if code in memo:
            return memo[code]
        if code in seen:
            return set()  # a decomposition cycle: E403 says so
        product = scope.commercial.get(code)
        if product is not None and product.role == "root":
            found = {code}
        elif product is not None:
            found = set().union(*(roots(p.code.value, seen | {code}) for p in scope.parents_of(code))) if scope.parents_of(code) else set()
        else:
            found = set().union(*(roots(src, seen | {code}) for src in sources.get(code, ()) if src is not None)) if sources.get(code) else set()
        memo[code] = found
        return found

    return {code: roots(code, frozenset()) for code in list(scope.commercial) + list(scope.technical)}


def _bundle_dependencies(scope: CatalogScope, diagnostics) -> None:
    scoped = order_scoped(scope)
    roots = bundle_roots(scope)
    for (code, _action), plan in sorted(scope.plans.items()):
        if not scope.is_own(plan):
            continue
        for item in plan.items:
            for dep in item.after + item.before:
                if dep.scope != "bundle":
                    continue
                if code in scoped:
                    why = f"`{code}` lines are decomposed from the order: they belong to no bundle"
                elif dep.product is not None and dep.product.value in scoped:
                    why = f"`{dep.product.value}` lines are decomposed from the order: no bundle holds one"
                elif dep.product is not None and roots.get(code) and roots.get(dep.product.value) and not roots[code] & roots[dep.product.value]:
                    mine, theirs = (", ".join(f"`{r}`" for r in sorted(roots[c])) for c in (code, dep.product.value))
                    why = f"`{code}` lines come from {mine}, `{dep.product.value}` lines from {theirs}: never one bundle"
                else:
                    continue
                diagnostics.append(
                    warning(
                        "W011",
                        f"`{_dependency_text(dep)}` can never match",
                        dep.span,
                        "waits for nothing",
                        help="write `in order` to wait for those tasks anywhere in the order",
                        notes=(why,),
                    )
                )


def _dependency_text(dep: ast.Dependency) -> str:
    what = "every task" if dep.task is None else (dep.task.value if dep.product is None else f"{dep.product.value}.{dep.task.value}")
    return f"{what} in {dep.scope}"


def _children_enriched(scope: CatalogScope, diagnostics) -> None:
    enriched = {code: {r.name.value for block in blocks for r in block.rules} for code, blocks in scope.enrichments.items()}
    for code, blocks in sorted(scope.enrichments.items()):
        for block in blocks:
            if not scope.is_own(block):
                continue
            for rule in block.rules:
                for member, child in _children_reads(rule.expr):
                    if member.name.value in enriched.get(child, ()):
                        diagnostics.append(
                            warning(
                                "W012",
                                f"`{member.name.value}` of `{child}` is enriched after `{code}`, whose rule reads it",
                                member.name.span,
                                "still null when this rule runs",
                                help=f"derive the value from `{child}`'s own attributes here, or derive it in `{child}` from `parent`",
                                notes=("order items are enriched parents first, so that `parent.x` reads enriched values",),
                            )
                        )


def _children_reads(expr):
    """(member, child code) for every `children(CODE).attr` in EXPR."""
    for node in _walk(expr):
        if isinstance(node, ast.Member):
            inner = node.obj
            if isinstance(inner, ast.Call) and inner.func.value == "children" and len(inner.args) == 1 and isinstance(inner.args[0], ast.Ref):
                yield node, inner.args[0].name


_FIELDS: dict[type, tuple[str, ...] | None] = {}


def _fields_of(t: type) -> tuple[str, ...] | None:
    """The field names of an attrs class (None for any other type), asked of attrs once per type."""
    try:
        return _FIELDS[t]
    except KeyError:
        names = _FIELDS[t] = tuple(f.name for f in attrs.fields(t)) if attrs.has(t) else None
        return names


def _walk(node):
    yield node
    names = _fields_of(type(node))
    if names is not None:
        for name in names:
            value = getattr(node, name)
            for child in value if isinstance(value, tuple) else (value,):
                if _fields_of(type(child)) is not None and not isinstance(child, ast.Name):
                    yield from _walk(child)
