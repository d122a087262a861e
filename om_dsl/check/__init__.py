"""Check: resolve every name, type-check every expression, walk every graph.

`check_paths` loads .om files (syntax stage), groups them into catalogs, and
runs the checks on each. It reports every problem it finds, not only the
first. In a catalog one of whose files does not parse, the files that parse
are still checked, and their errors reported, save those a broken declaration
could cause (an unknown name, a missing task): no cascade of errors.
"""

from __future__ import annotations

import contextlib
import gc

import attrs

from om_dsl.check.scope import CatalogScope, build_scope
from om_dsl.check.text import check_plain_text
from om_dsl.check.workspace import Workspace, load
from om_dsl.diagnostics.diagnostic import Diagnostic, error


@attrs.define
class CheckResult:
    workspace: Workspace
    scopes: list[CatalogScope]
    diagnostics: list[Diagnostic]
    checked: dict = attrs.field(factory=dict, repr=False)  # id(unit) -> (its scope, its own diagnostics), for the units checked now

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if not d.is_error]

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def sources(self) -> dict[str, str]:
        return self.workspace.sources

    def catalog(self, name: str) -> CatalogScope | None:
        return next((s for s in self.scopes if s.kind == "catalog" and s.name == name), None)


def check_scope(scope: CatalogScope, diagnostics: list[Diagnostic], workspace: Workspace | None = None) -> None:
    # The checkers, imported when a catalog is checked: an `om compile` that finds
    # its catalogs in the compile cache never loads them (a tenth of its start-up).
    from om_dsl.check.completeness import check_completeness
    from om_dsl.check.decomposition import check_decompositions
    from om_dsl.check.expressions import ExprChecker
    from om_dsl.check.plans import Usage, check_plans
    from om_dsl.check.products import check_enrichments, check_products, check_tables, check_validations
    from om_dsl.check.systems import check_systems
    from om_dsl.check.tasks import check_task_package
    from om_dsl.check.unused import check_unused

    exprs = ExprChecker(scope, diagnostics)
    usage = Usage()
    check_products(scope, diagnostics)
    check_tables(scope, diagnostics)
    check_validations(scope, exprs, diagnostics)
    check_enrichments(scope, exprs, diagnostics)
    check_decompositions(scope, exprs, diagnostics)
    check_systems(scope, diagnostics, usage.policies)
    check_plans(scope, exprs, diagnostics, usage)
    check_task_package(scope, workspace or Workspace([], [], []), diagnostics)
    if scope.kind == "catalog":
        # A library on its own has no users: its definitions are never "unused".
        check_unused(scope, exprs.used_tables, usage, diagnostics)
        if not any(d.is_error for d in diagnostics):  # what a catalog leaves undone, once it is whole
            check_completeness(scope, diagnostics)


# Diagnostics a declaration lost to a syntax error can cause elsewhere: a name it
# defined is unknown, a task it depended on is missing, what it used is unused.
_CASCADING = {"E101", "E102", "E103", "E104", "E105", "E106", "E107", "E108", "E109", "E110", "E111", "E305", "E401", "E501", "E521", "E522", "E523", "E530", "E531"}


def _despite_syntax_errors(scope: CatalogScope, unit, workspace: Workspace) -> list[Diagnostic]:
    """The errors of a catalog with a file that does not parse, in its files that
    parse, that the broken declarations (blanked by the parser's recovery) cannot
    have caused. Warnings wait until every file parses."""
    found: list[Diagnostic] = []
    try:
        check_scope(scope, found, workspace)
    except RecursionError:
        return []
    clean = {f.path for f in unit.all_files if f.syntax_ok}
    return [d for d in found if d.is_error and d.code not in _CASCADING and d.primary.span.file in clean]


@contextlib.contextmanager
def without_gc():
    """The cyclic collector paused: a compile builds millions of objects and frees
    almost none until it is done, so each collection would scan the growing AST
    and model again (bench/run.py: a third of a 100k-line compile)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def check_paths(paths: list[str], cache=None) -> CheckResult:
    """Check the .om files under these files and folders (parses from `cache`, an om_dsl.check.cache.Cache, when given)."""
    with without_gc():
        return _check(load(paths, cache=cache))


def check_texts(texts: dict[str, str], cache=None) -> CheckResult:
    """Check in-memory files, `{path: text}`; `use` paths resolve among them."""
    with without_gc():
        return _check(load([], texts, cache=cache))


def _check(workspace: Workspace, known: dict | None = None) -> CheckResult:
    """`known`: id(unit) -> its diagnostics, for units whose check the cache
    holds; they are not checked again and have no scope in the result."""
    diagnostics = list(workspace.diagnostics)
    check_plain_text(workspace.files, diagnostics)
    scopes = []
    checked = {}
    for unit in workspace.units:
        if known is not None and id(unit) in known:
            diagnostics.extend(known[id(unit)])
            continue
        unit_diagnostics: list[Diagnostic] = []
        scope = build_scope(unit, unit_diagnostics)
        scopes.append(scope)
        if not unit.syntax_ok:
            # The files that parsed are checked too, on what the broken ones still declare;
            # only what a broken declaration cannot have caused is reported (see _despite_syntax_errors).
            unit_diagnostics.extend(_despite_syntax_errors(scope, unit, workspace))
        else:
            try:
                check_scope(scope, unit_diagnostics, workspace)
            except RecursionError:
                first = unit.files[0]
                unit_diagnostics.append(
                    error(
                        "E006",
                        f"catalog `{unit.name}` nests expressions too deeply to be checked",
                        first.module.header.span if first.module.header else first.module.span,
                        "an expression of this catalog is nested hundreds of levels deep",
                        help="split the expression: derive parts of it as enriched attributes, or use a lookup table",
                    )
                )
        diagnostics.extend(unit_diagnostics)
        checked[id(unit)] = (scope, unit_diagnostics)
    # A library used by several catalogs is checked with each: report once.
    unique = {(d.code, d.message, d.primary.span): d for d in diagnostics}
    ordered = sorted(unique.values(), key=Diagnostic.sort_key)
    return CheckResult(workspace, scopes, ordered, checked)


__all__ = ["CheckResult", "check_paths", "check_texts", "check_scope", "without_gc"]
