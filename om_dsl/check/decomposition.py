"""Decomposition relationships: commercial items -> technical fulfillment lines."""

from __future__ import annotations

from om_dsl.check import types as T
from om_dsl.check.expressions import ExprChecker, ExprContext, attribute_type, constant_leaves, enriched_types
from om_dsl.check.graphs import find_cycles
from om_dsl.check.products import commercial_context, describe_allowed, value_allowed
from om_dsl.check.scope import CatalogScope
from om_dsl.check.suggest import did_you_mean, unknown_product
from om_dsl.diagnostics.diagnostic import Diagnostic, error
from om_dsl.syntax import ast


def source_context(scope: CatalogScope, rule: ast.Decomposition) -> ExprContext | None:
    if rule.source is None:
        return ExprContext(where="an order-scoped decomposition")
    code = rule.source.value
    if code in scope.commercial:
        return commercial_context(scope, code, "a decomposition rule", enriched_types(scope, code))
    if code in scope.technical:
        product = scope.technical[code]
        return ExprContext(where="a decomposition rule", product=code, attributes={a.name.value: attribute_type(a) for a in product.attributes})
    return None


def check_decompositions(scope: CatalogScope, exprs: ExprChecker, diagnostics: list[Diagnostic]) -> None:
    for rule in scope.decompositions.values():
        _check_rule(scope, rule, exprs, diagnostics)
    _check_cycles(scope, diagnostics)


def _check_rule(scope: CatalogScope, rule: ast.Decomposition, exprs: ExprChecker, diagnostics: list[Diagnostic]) -> None:
    ctx = source_context(scope, rule)
    if ctx is None:
        code = rule.source.value
        diagnostics.append(unknown_product(code, rule.source.span, scope.product_codes))
    target_code = rule.target.value
    target = scope.technical.get(target_code)
    if target is None:
        if target_code in scope.commercial:
            diagnostics.append(
                error("E404", f"`{target_code}` is a commercial product and cannot be a decomposition target", rule.target.span, "not a technical product", help="decomposition produces technical products (CFS or RFS)")
            )
        else:
            diagnostics.append(unknown_product(target_code, rule.target.span, scope.technical))
    if ctx is None:
        return
    if rule.when is not None:
        exprs.expect_bool(rule.when, ctx, "the `when` of a decomposition")
    if rule.per is not None:
        exprs.expect(rule.per, T.INT, ctx, "the quantity of `per`")
    if target is None:
        for mapping in rule.mappings:
            exprs.infer(mapping.expr, ctx)
        return
    attributes = {a.name.value: a for a in target.attributes}
    mapped: dict[str, ast.Mapping] = {}
    for mapping in rule.mappings:
        name = mapping.target.value
        attr = attributes.get(name)
        if attr is None:
            diagnostics.append(
                error(
                    "E402",
                    f"`{target_code}` has no attribute `{name}`",
                    mapping.target.span,
                    "mapped here",
                    secondary=[(rule.target.span, f"the target, `{target_code}`")],
                    help=did_you_mean(name, attributes) or f"declare `attr {name}: ...` in `{target_code}`",
                )
            )
            exprs.infer(mapping.expr, ctx)
            continue
        if name in mapped:
            diagnostics.append(error("E405", f"`{name}` is mapped twice", mapping.target.span, "mapped again here", secondary=[(mapped[name].target.span, "first mapped here")], help="keep one mapping per target attribute"))
            continue
        mapped[name] = mapping
        expected = attribute_type(attr)
        actual = exprs.infer(mapping.expr, ctx)
        if not T.assignable(actual, expected):
            exprs.mismatch(mapping.expr, expected, actual, f"`{target_code}.{name}`")
            continue
        leaves = constant_leaves(mapping.expr)
        for leaf in leaves or ():
            if not value_allowed(leaf, attr.allowed):
                diagnostics.append(
                    error(
                        "E302",
                        f"{leaf.text} is not an allowed value of `{target_code}.{name}`",
                        leaf.span,
                        "not allowed",
                        secondary=[(attr.allowed.span, "the allowed values")],
                        help=f"`{name}` is one of {describe_allowed(attr.allowed)}",
                    )
                )
    missing = [a for a in target.attributes if a.presence == "required" and a.default is None and a.name.value not in mapped]
    if missing:
        names = ", ".join(f"`{a.name.value}`" for a in missing)
        diagnostics.append(
            error(
                "E401",
                f"the required attribute{'s' if len(missing) > 1 else ''} {names} of `{target_code}` {'are' if len(missing) > 1 else 'is'} never mapped",
                rule.name.span,
                f"decomposition `{rule.name.value}` leaves {names} unset",
                secondary=[(a.name.span, "required here") for a in missing],
                help=f"add `{missing[0].name.value} = ...` to the mappings, or make it optional",
            )
        )


def _check_cycles(scope: CatalogScope, diagnostics: list[Diagnostic]) -> None:
    edges: dict[str, list[tuple[str, ast.Decomposition]]] = {}
    for rule in scope.decompositions.values():
        if rule.source is not None and scope.product(rule.source.value) and rule.target.value in scope.technical:
            edges.setdefault(rule.source.value, []).append((rule.target.value, rule))
    for cycle in find_cycles(edges):
        path = " --> ".join([src for src, _, _ in cycle] + [cycle[0][0]])
        first = cycle[-1][2]
        diagnostics.append(
            error(
                "E403",
                f"decomposition cycle: {path}",
                first.span,
                f"`{first.name.value}` closes the cycle",
                secondary=[(rule.span, f"`{rule.name.value}`: {src} -> {dst}") for src, dst, rule in cycle[:-1]],
                help="a product cannot decompose, directly or through others, into itself",
            )
        )
