"""Products and their attributes, lookup tables, validation and enrichment rules."""

from __future__ import annotations

from om_dsl.check import types as T
from om_dsl.check.expressions import ExprChecker, ExprContext, attribute_type, enriched_types, show_value
from om_dsl.check.scope import CatalogScope
from om_dsl.check.suggest import did_you_mean, unknown_product
from om_dsl.diagnostics.diagnostic import Diagnostic, error
from om_dsl.syntax import ast


def check_type_name(name: ast.Name, diagnostics: list[Diagnostic], what: str = "attribute") -> None:
    if name.value not in T.ATTRIBUTE_TYPES:
        diagnostics.append(
            error(
                "E110",
                f"unknown type `{name.value}`",
                name.span,
                f"not a type {'an' if what[0] in 'aeiou' else 'a'} {what} can have",
                help=did_you_mean(name.value, T.ATTRIBUTE_TYPES) or "the types are " + ", ".join(f"`{t}`" for t in T.ATTRIBUTE_TYPES),
            )
        )


def _fits(literal: ast.Literal, type_) -> bool:
    return T.assignable(T.literal_type(literal.kind), type_) and literal.kind != "null"


# Words that start or continue an expression: an attribute so named could be
# declared but never read, so it is refused where it is declared.
EXPRESSION_KEYWORDS = ("and", "else", "false", "if", "in", "is", "map", "not", "null", "or", "order", "then", "true")


def check_attribute_name(name: ast.Name, diagnostics: list[Diagnostic]) -> None:
    if name.value in EXPRESSION_KEYWORDS:
        diagnostics.append(
            error(
                "E207",
                f"an attribute cannot be called `{name.value}`",
                name.span,
                "a keyword of expressions",
                help=f"`{name.value}` means something else inside an expression, so no rule could read this attribute; rename it",
            )
        )


def check_dates(literals, diagnostics: list[Diagnostic]) -> None:
    """Date constants outside expressions: each must be a calendar day."""
    for literal in literals:
        if literal is not None and literal.kind == "date" and not T.is_calendar_date(str(literal.value)):
            diagnostics.append(error("E301", f"`{literal.value}` is not a calendar date", literal.span, "no such day", help="dates are written YYYY-MM-DD"))


def check_attribute(attr: ast.Attribute, diagnostics: list[Diagnostic]) -> None:
    check_attribute_name(attr.name, diagnostics)
    allowed = attr.allowed
    bounds = allowed.values if isinstance(allowed, ast.AllowedSet) else (allowed.low, allowed.high) if allowed else ()
    check_dates((*bounds, attr.default), diagnostics)
    check_type_name(attr.type, diagnostics)
    t = attribute_type(attr)
    allowed = attr.allowed
    if isinstance(allowed, ast.AllowedSet) and t != T.UNKNOWN:
        seen = {}
        for value in allowed.values:
            if not _fits(value, t):
                diagnostics.append(
                    error("E201", f"the allowed value {value.text} is not {t}", value.span, f"this is {T.literal_type(value.kind)}", secondary=[(attr.type.span, f"`{attr.name.value}` is {t}")])
                )
            elif value.value in seen:
                diagnostics.append(error("E201", f"the allowed value {value.text} is listed twice", value.span, "listed again here", secondary=[(seen[value.value], "first listed here")]))
            seen.setdefault(value.value, value.span)
    elif isinstance(allowed, ast.AllowedRange) and t != T.UNKNOWN:
        if t not in (T.INT, T.DECIMAL, T.DATE):
            diagnostics.append(error("E201", f"a range of allowed values needs a number or a date, not {t}", allowed.span, "a range", help="list the allowed values instead: `in {...}`"))
        elif not (_fits(allowed.low, t) and _fits(allowed.high, t)):
            bad = allowed.low if not _fits(allowed.low, t) else allowed.high
            diagnostics.append(error("E201", f"the bound {bad.text} is not {t}", bad.span, f"this is {T.literal_type(bad.kind)}", secondary=[(attr.type.span, f"`{attr.name.value}` is {t}")]))
        elif allowed.low.value > allowed.high.value:
            diagnostics.append(error("E201", f"the range {allowed.low.text}..{allowed.high.text} is empty", allowed.span, "the low bound is above the high bound", help=f"write `in {allowed.high.text}..{allowed.low.text}`"))
    if attr.default is not None and t != T.UNKNOWN:
        default = attr.default
        if not _fits(default, t):
            diagnostics.append(
                error(
                    "E301",
                    f"mismatched types: the default of `{attr.name.value}` must be {t}, found {T.literal_type(default.kind)}",
                    default.span,
                    f"this is {T.literal_type(default.kind)}",
                    secondary=[(attr.type.span, f"`{attr.name.value}` is {t}")],
                )
            )
        elif not value_allowed(default, allowed) and not _empty_range(allowed):
            diagnostics.append(
                error(
                    "E202",
                    f"the default {default.text} is not an allowed value of `{attr.name.value}`",
                    default.span,
                    "not allowed",
                    secondary=[(allowed.span, "the allowed values")],
                    help=f"pick a default among {describe_allowed(allowed)}",
                )
            )
    if attr.default is not None and attr.presence == "required":
        diagnostics.append(
            error(
                "E203",
                f"`{attr.name.value}` is required and has a default",
                attr.default.span,
                "a default means it may be left out",
                help="remove `required`, or remove the default",
            )
        )


def _empty_range(allowed) -> bool:
    try:
        return isinstance(allowed, ast.AllowedRange) and allowed.low.value > allowed.high.value
    except TypeError:
        return False


def value_allowed(literal: ast.Literal, allowed) -> bool:
    """Is this constant one of the allowed values (or inside the range)?"""
    if allowed is None or literal.kind == "null":
        return True
    if isinstance(allowed, ast.AllowedSet):
        # bool is kept apart from int: `true` is not the allowed value 1.
        return any(v.value == literal.value and (v.kind == "bool") == (literal.kind == "bool") for v in allowed.values)
    try:
        return allowed.low.value <= literal.value <= allowed.high.value
    except TypeError:
        return True


def describe_allowed(allowed) -> str:
    if isinstance(allowed, ast.AllowedSet):
        return "{" + ", ".join(show_value(v.value) for v in allowed.values) + "}"
    return f"{allowed.low.text}..{allowed.high.text}"


def check_products(scope: CatalogScope, diagnostics: list[Diagnostic]) -> None:
    for product in list(scope.commercial.values()) + list(scope.technical.values()):
        names: dict[str, ast.Attribute] = {}
        for attr in product.attributes:
            if attr.name.value in names:
                diagnostics.append(
                    error(
                        "E120",
                        f"the attribute `{attr.name.value}` is defined twice in `{product.code.value}`",
                        attr.name.span,
                        "defined again here",
                        secondary=[(names[attr.name.value].name.span, "first defined here")],
                    )
                )
                continue
            names[attr.name.value] = attr
            check_attribute(attr, diagnostics)
        children: dict[str, ast.HasChild] = {}
        for has in product.children:
            code = has.product.value
            if isinstance(product, ast.TechnicalProduct):
                diagnostics.append(
                    error("E205", "a technical product cannot have child products", has.span, "`has` in a technical product", help="technical products are related by decomposition: `decompose NAME: A -> B`")
                )
                continue
            if code in children:
                diagnostics.append(error("E120", f"`{code}` is declared twice as a child of `{product.code.value}`", has.product.span, "declared again here", secondary=[(children[code].product.span, "first declared here")]))
                continue
            children[code] = has
            if code not in scope.commercial:
                if code in scope.technical:
                    diagnostics.append(error("E205", f"`{code}` is a technical product; only commercial products can be children", has.product.span, "a technical product"))
                else:
                    diagnostics.append(unknown_product(code, has.product.span, scope.commercial))
            elif code == product.code.value:
                diagnostics.append(error("E205", f"`{code}` cannot be a child of itself", has.product.span, "the product itself"))
            if has.max is not None and has.min > has.max:
                diagnostics.append(
                    error("E204", f"the cardinality [{has.min}..{has.max}] allows no count at all", has.span, "the minimum is above the maximum", help=f"write [{has.max}..{has.min}]")
                )
            elif has.max == 0:
                diagnostics.append(error("E204", "the cardinality [0..0] never allows the child", has.span, "a maximum of 0", help="remove the `has` line instead"))


def check_tables(scope: CatalogScope, diagnostics: list[Diagnostic]) -> None:
    for table in scope.tables.values():
        check_type_name(table.key_type, diagnostics, "table key")
        check_type_name(table.value_type, diagnostics, "table value")
        seen = {}
        check_dates([lit for entry in table.entries for lit in (entry.key, entry.value)], diagnostics)
        for entry in table.entries:
            for literal, type_name, side in ((entry.key, table.key_type, "key"), (entry.value, table.value_type, "value")):
                t = T.named(type_name.value)
                if t != T.UNKNOWN and not T.assignable(T.literal_type(literal.kind), t):
                    diagnostics.append(
                        error(
                            "E301",
                            f"mismatched types: a {side} of table `{table.name.value}` must be {t}, found {T.literal_type(literal.kind)}",
                            literal.span,
                            f"this is {T.literal_type(literal.kind)}",
                            secondary=[(type_name.span, f"{side}s are {t}")],
                        )
                    )
            if entry.key.value in seen:
                diagnostics.append(error("E120", f"the key {entry.key.text} is in table `{table.name.value}` twice", entry.key.span, "again here", secondary=[(seen[entry.key.value], "first here")]))
            seen.setdefault(entry.key.value, entry.key.span)


def commercial_context(scope: CatalogScope, code: str, where: str, enriched: dict | None = None) -> ExprContext:
    product = scope.commercial.get(code)
    attributes = {a.name.value: attribute_type(a) for a in product.attributes} if product else {}
    if enriched:
        attributes.update(enriched)
    return ExprContext(where=where, product=code, attributes=attributes, commercial_item=True)


def check_validations(scope: CatalogScope, exprs: ExprChecker, diagnostics: list[Diagnostic]) -> None:
    for rule in scope.validations.values():
        code = rule.product.value
        if code not in scope.commercial:
            _product_not_commercial(scope, rule.product, "validation rules apply to commercial order items", diagnostics)
            continue
        # Validation runs before enrichment: it sees the order item as CPQ sent it.
        ctx = commercial_context(scope, code, "a validation rule")
        ctx.later_attributes = set(enriched_types(scope, code))
        ctx.before_enrichment = True
        if rule.when is not None:
            exprs.expect_bool(rule.when, ctx, "the `when` of a validation rule")
        exprs.expect_bool(rule.require, ctx, "the `require` of a validation rule")
        if not str(rule.message.value).strip():
            diagnostics.append(error("E301", "the message of a validation rule is empty", rule.message.span, "an empty message", help="say what is wrong with the order item, in words its sender understands"))


def check_enrichments(scope: CatalogScope, exprs: ExprChecker, diagnostics: list[Diagnostic]) -> None:
    for code, blocks in scope.enrichments.items():
        if code not in scope.commercial:
            for block in blocks:
                _product_not_commercial(scope, block.product, "enrichment adds attributes to commercial order items", diagnostics)
            continue
        product = scope.commercial[code]
        declared = {a.name.value: a for a in product.attributes}
        rules = [r for block in blocks for r in block.rules]
        derived: dict[str, object] = {}
        defined_at: dict[str, ast.EnrichRule] = {}
        for index, rule in enumerate(rules):
            name = rule.name.value
            if name in declared:
                diagnostics.append(
                    error("E120", f"`{name}` is already an attribute of `{code}`", rule.name.span, "derived here", secondary=[(declared[name].name.span, "declared here")], help="give the derived attribute another name")
                )
                continue
            if name in defined_at:
                diagnostics.append(error("E120", f"the enriched attribute `{name}` is derived twice", rule.name.span, "derived again here", secondary=[(defined_at[name].name.span, "first derived here")]))
                continue
            check_attribute_name(rule.name, diagnostics)
            check_type_name(rule.type, diagnostics, "enriched attribute")
            ctx = commercial_context(scope, code, "an enrichment rule", derived)
            ctx.later_attributes = {r.name.value for r in rules[index:]}
            t = T.named(rule.type.value)
            exprs.expect(rule.expr, t, ctx, f"the value of `{name}`")
            derived[name] = t
            defined_at[name] = rule


def _product_not_commercial(scope: CatalogScope, name: ast.Name, why: str, diagnostics: list[Diagnostic]) -> None:
    code = name.value
    if code in scope.technical:
        diagnostics.append(error("E206", f"`{code}` is a technical product", name.span, "not a commercial product", help=why))
    else:
        diagnostics.append(unknown_product(code, name.span, scope.commercial))
