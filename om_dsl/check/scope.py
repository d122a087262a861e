"""Collect a catalog's definitions into symbol tables, reporting duplicates.

The result, `CatalogScope`, is what later stages consume: every name
resolved to its definition, definitions from used libraries included.
"""

from __future__ import annotations

from collections import defaultdict

import attrs

from om_dsl.check.workspace import SourceFile, Unit
from om_dsl.diagnostics.diagnostic import Diagnostic, error
from om_dsl.syntax import ast


@attrs.define
class CatalogScope:
    kind: str  # "catalog" or "library"
    name: str
    version: str | None
    files: list[SourceFile]
    commercial: dict[str, ast.CommercialProduct] = attrs.field(factory=dict)
    technical: dict[str, ast.TechnicalProduct] = attrs.field(factory=dict)
    tables: dict[str, ast.Table] = attrs.field(factory=dict)
    validations: dict[tuple[str, str], ast.Validation] = attrs.field(factory=dict)
    enrichments: dict[str, list[ast.Enrichment]] = attrs.field(factory=lambda: defaultdict(list))
    decompositions: dict[str, ast.Decomposition] = attrs.field(factory=dict)
    retry_policies: dict[str, ast.RetryPolicy] = attrs.field(factory=dict)
    systems: dict[str, ast.System] = attrs.field(factory=dict)
    queues: dict[str, ast.Queue] = attrs.field(factory=dict)
    plans: dict[tuple[str, str], ast.Plan] = attrs.field(factory=dict)
    default_retry: ast.DefaultRetry | None = None
    default_timeout: ast.DefaultTimeout | None = None
    # `tasks "FOLDER"` as written, with the file that says it; check.tasks resolves it:
    task_package: tuple[ast.TaskPackage, SourceFile] | None = None
    tasks_name: str | None = None  # the package's import name
    tasks_dir: object = None  # its folder (a Path), when found
    task_files: dict[str, str] = attrs.field(factory=dict)  # its modules, path in the package -> text
    # Definitions that come from a used library: never reported as unused.
    from_library: set[int] = attrs.field(factory=set)
    _parents: dict | None = attrs.field(default=None, init=False, repr=False, eq=False)  # child code -> its parents, built on first use

    def product(self, code: str):
        return self.commercial.get(code) or self.technical.get(code)

    @property
    def product_codes(self) -> list[str]:
        return sorted(set(self.commercial) | set(self.technical))

    def is_own(self, node) -> bool:
        return id(node) not in self.from_library

    def parents_of(self, code: str) -> list[ast.CommercialProduct]:
        """The commercial products that have `code` as a child, in declaration order.
        Indexed once (the checks are done collecting products by then): asked per
        product, a scan of every product was quadratic (4 s at 100k lines)."""
        if self._parents is None:
            index: dict[str, list] = {}
            for p in self.commercial.values():
                for child in dict.fromkeys(h.product.value for h in p.children):
                    index.setdefault(child, []).append(p)
            self._parents = index
        return list(self._parents.get(code, ()))


def _kind_word(node) -> str:
    return {
        ast.CommercialProduct: "product",
        ast.TechnicalProduct: "product",
        ast.Table: "table",
        ast.Validation: "validation rule",
        ast.Decomposition: "decomposition",
        ast.RetryPolicy: "retry policy",
        ast.System: "system",
        ast.Queue: "queue",
        ast.Plan: "plan",
        ast.DefaultRetry: "default retry policy",
        ast.DefaultTimeout: "default timeout",
        ast.TaskPackage: "task package",
    }[type(node)]


def duplicate(kind: str, name: str, new_span, old_span, help: str = "rename one of them, or remove the duplicate") -> Diagnostic:
    return error(
        "E120",
        f"the {kind} `{name}` is defined twice",
        new_span,
        f"`{name}` defined again here",
        secondary=[(old_span, "first defined here")],
        help=help,
    )


def _duplicate_default(what: str, new, old) -> Diagnostic:
    return error(
        "E120",
        f"the catalog's default {what} is given twice",
        new.span,
        "given again here",
        secondary=[(old.span, "first given here")],
        help=f"keep one `default {what}` per catalog",
    )


def _name_span(node):
    if isinstance(node, (ast.CommercialProduct, ast.TechnicalProduct)):
        return node.code.span
    if isinstance(node, (ast.Table, ast.Decomposition, ast.RetryPolicy, ast.System, ast.Queue, ast.Validation)):
        return node.name.span
    return node.span


def build_scope(unit: Unit, diagnostics: list[Diagnostic]) -> CatalogScope:
    version = None
    version_node = None
    for f in unit.files:
        header = f.module.header
        if isinstance(header, ast.CatalogHeader) and header.version is not None:
            if version_node is not None:
                diagnostics.append(
                    error(
                        "E011",
                        f"the version of catalog `{unit.name}` is given twice",
                        header.version.span,
                        "a second version",
                        secondary=[(version_node.span, "first given here")],
                        help="give the version in one file of the catalog only",
                    )
                )
            else:
                version_node = header.version
                version = str(header.version.value)
    if unit.kind == "catalog" and version_node is None:
        first = unit.files[0].module.header
        diagnostics.append(
            error(
                "E011",
                f"catalog `{unit.name}` has no version",
                first.span,
                "no file of this catalog gives a version",
                help=f'write `catalog {unit.name} version "1.0"` in one of its files',
            )
        )

    scope = CatalogScope(unit.kind, unit.name, version, unit.all_files)
    library_files = {id(f) for f in unit.libraries if f not in unit.files}
    seen: dict[tuple[str, str], object] = {}

    def claim(kind: str, name: str, node, table: dict, key) -> None:
        previous = seen.get((kind, name))
        if previous is not None:
            diagnostics.append(duplicate(_kind_word(node), name, _name_span(node), _name_span(previous)))
            return
        seen[(kind, name)] = node
        table[key] = node

    for f in unit.all_files:
        from_lib = id(f) in library_files
        for decl in f.module.declarations:
            if from_lib:
                scope.from_library.add(id(decl))
            if isinstance(decl, ast.CommercialProduct):
                claim("product", decl.code.value, decl, scope.commercial, decl.code.value)
            elif isinstance(decl, ast.TechnicalProduct):
                claim("product", decl.code.value, decl, scope.technical, decl.code.value)
            elif isinstance(decl, ast.Table):
                claim("table", decl.name.value, decl, scope.tables, decl.name.value)
            elif isinstance(decl, ast.Validation):
                key = (decl.product.value, decl.name.value)
                claim("validation", f"{key[0]}.{key[1]}", decl, scope.validations, key)
            elif isinstance(decl, ast.Enrichment):
                scope.enrichments[decl.product.value].append(decl)
            elif isinstance(decl, ast.Decomposition):
                claim("decomposition", decl.name.value, decl, scope.decompositions, decl.name.value)
            elif isinstance(decl, ast.RetryPolicy):
                claim("retry", decl.name.value, decl, scope.retry_policies, decl.name.value)
            elif isinstance(decl, ast.System):
                claim("system", decl.name.value, decl, scope.systems, decl.name.value)
            elif isinstance(decl, ast.Queue):
                claim("queue", decl.name.value, decl, scope.queues, decl.name.value)
            elif isinstance(decl, ast.Plan):
                key = (decl.product.value, decl.action.value)
                previous = seen.get(("plan", f"{key[0]} on {key[1]}"))
                if previous is not None:
                    diagnostics.append(
                        duplicate(
                            "plan",
                            f"{key[0]} on {key[1]}",
                            decl.product.span.to(decl.action.span),
                            previous.product.span.to(previous.action.span),
                            help=f"a product has one plan per action: merge the items of both into one `plan {key[0]} on {key[1]}`",
                        )
                    )
                else:
                    seen[("plan", f"{key[0]} on {key[1]}")] = decl
                    scope.plans[key] = decl
            elif isinstance(decl, ast.DefaultRetry):
                if scope.default_retry is not None:
                    diagnostics.append(_duplicate_default("retry", decl, scope.default_retry))
                else:
                    scope.default_retry = decl
            elif isinstance(decl, ast.DefaultTimeout):
                if scope.default_timeout is not None:
                    diagnostics.append(_duplicate_default("timeout", decl, scope.default_timeout))
                else:
                    scope.default_timeout = decl
            elif isinstance(decl, ast.TaskPackage):
                if scope.task_package is not None:
                    diagnostics.append(
                        error(
                            "E120",
                            "the catalog's task package is given twice",
                            decl.span,
                            "given again here",
                            secondary=[(scope.task_package[0].span, "first given here")],
                            help="a catalog has one Python package of auto tasks: keep one `tasks` line",
                        )
                    )
                else:
                    scope.task_package = (decl, f)
    return scope
