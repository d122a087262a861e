"""The catalog's own Python package of auto tasks (`tasks "acme_tasks"`).

The package is a folder beside the specs, named relative to the file that
declares it; its name is the folder's. Every `python "pkg.module:function"`
of the catalog (auto tasks and compensations) must name a function of it:
anything else (`os:system`) is refused (E531). The modules are read and
parsed with Python's `ast`, never imported: a function that does not exist
(E532) or cannot take the arguments the spec gives (E533) is found by
`om check`, not as a failed task at run time. `om compile` copies the
package beside the compiled catalog (om_dsl.build).
"""

from __future__ import annotations

import ast as py
import keyword
import os
import sys
from pathlib import Path, PurePosixPath

from om_dsl.check.scope import CatalogScope
from om_dsl.check.suggest import did_you_mean
from om_dsl.check.workspace import Workspace, inside
from om_dsl.diagnostics.diagnostic import Diagnostic, error
from om_dsl.limits import MAX_SPEC, InputLimit, read_bytes
from om_dsl.syntax import ast

MAX_MODULES = 1000  # .py files of one task package: a folder of a library is not a task package
RESERVED = frozenset(sys.stdlib_module_names) | {"om_dsl", "lark", "attrs", "jinja2", "click"}


class PythonSources:
    """Python files as the checker may read them: in-memory texts first
    (tests, the editor), else regular files inside the workspace's roots."""

    def __init__(self, workspace: Workspace):
        self.texts = workspace.texts
        self.roots = workspace.roots

    def _key(self, path: Path) -> str:
        return PurePosixPath(os.path.normpath(path)).as_posix()

    def allowed(self, path: Path) -> bool:
        """Inside the roots as written, and, on disk, where its links lead too."""
        if not inside(Path(os.path.normpath(path)), self.roots):
            return False
        return not os.path.lexists(path) or inside(Path(path).resolve(), [r.resolve() for r in self.roots])

    def text(self, path: Path) -> str | None:
        if self.texts is not None and self._key(path) in self.texts:
            return self.texts[self._key(path)]
        if not self.allowed(path):
            return None
        try:
            return read_bytes(path.resolve(), MAX_SPEC).decode("utf-8-sig").replace("\r\n", "\n")
        except (OSError, InputLimit, UnicodeDecodeError):
            return None

    def modules(self, folder: Path, unreadable: list | None = None) -> dict[str, str]:
        """Every .py file under FOLDER (hidden folders and caches left out), path in it -> text, sorted;
        the paths of those that cannot be read as text (not UTF-8, too large, not a regular file) go to UNREADABLE."""
        found: dict[str, str] = {}
        if self.texts is not None:
            prefix = self._key(folder) + "/"
            for name in sorted(self.texts):
                rel = name[len(prefix):] if name.startswith(prefix) else None
                if rel and rel.endswith(".py") and not any(p.startswith((".", "__pycache__")) for p in rel.split("/")[:-1]):
                    found[rel] = self.texts[name]
        if folder.is_dir() and self.allowed(folder):
            for root, dirs, names in os.walk(folder):
                dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
                for name in sorted(names):
                    if name.endswith(".py") and len(found) < MAX_MODULES:
                        path = Path(root) / name
                        rel = path.relative_to(folder).as_posix()
                        if rel in found:
                            continue
                        text = None if path.is_symlink() else self.text(path)
                        if text is not None:
                            found[rel] = text
                        elif unreadable is not None:
                            unreadable.append(rel)
        return dict(sorted(found.items()))


def check_task_package(scope: CatalogScope, workspace: Workspace, diagnostics: list[Diagnostic]) -> None:
    sources = PythonSources(workspace)
    resolved = _resolve(scope, sources, diagnostics)
    if scope.kind == "library" and scope.task_package is None:
        return  # a library's auto tasks call the package of the catalog that uses it: checked with that catalog
    parsed: dict = {}  # module path -> its tree (or the error that it does not parse), parsed once
    for plan in scope.plans.values():
        for item in plan.items:
            for call in (item.python, item.compensate):
                if isinstance(call, ast.PythonCall):
                    _check_call(scope, call, resolved, diagnostics, parsed)


def _resolve(scope: CatalogScope, sources: PythonSources, diagnostics) -> bool:
    """Find the declared package; False when there is none to check calls against."""
    if scope.task_package is None:
        return False
    decl, file = scope.task_package
    given = str(decl.path.value)
    if file.is_library:
        diagnostics.append(
            error("E530", "a library has no task package of its own", decl.span, "`tasks` in a library", help="declare the task package in a file of the catalog that uses this library")
        )
        return False
    folder = Path(os.path.normpath(file.real_path.parent / given))
    name = folder.name
    if not name.isidentifier() or keyword.iskeyword(name) or name in RESERVED:
        why = "the name of a standard or om module" if name in RESERVED else "not a Python package name"
        diagnostics.append(
            error("E530", f"`{name or given}` cannot be the catalog's task package", decl.path.span, why, help="name the folder after your catalog, for example `acme_tasks`")
        )
        return False
    if not sources.allowed(folder):
        diagnostics.append(
            error(
                "E530",
                f"`{given}` is outside the folders om reads specs from",
                decl.path.span,
                "not read: the task package ships with its catalog",
                help="move the package into the catalog's project, beside its specs",
            )
        )
        return False
    unreadable: list[str] = []
    modules = sources.modules(folder, unreadable)
    if unreadable:
        diagnostics.append(
            error(
                "E530",
                f"the task package `{name}` has a module om cannot copy: {', '.join(f'`{u}`' for u in unreadable[:5])}",
                decl.path.span,
                "not a regular UTF-8 file inside the project (a link, another encoding, or too large)",
                help="save it as UTF-8 inside the package folder: `om compile` copies the package beside the compiled catalog",
            )
        )
        return False
    if not modules:
        diagnostics.append(
            error(
                "E530",
                f"no Python package at `{given}`",
                decl.path.span,
                f"no folder `{given}` of Python modules beside this file",
                help="the path is relative to the folder of this file; a package is a folder of .py files (with an `__init__.py`)",
            )
        )
        return False
    scope.tasks_name = name
    scope.tasks_dir = folder
    scope.task_files = modules
    return True


def _parse(scope: CatalogScope, rel: str, parsed: dict):
    if rel not in parsed:
        try:
            parsed[rel] = py.parse(scope.task_files[rel], filename=rel)
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            parsed[rel] = exc
    return parsed[rel]


def _check_call(scope: CatalogScope, call: ast.PythonCall, resolved: bool, diagnostics, parsed: dict) -> None:
    target = str(call.target.value)
    module, colon, function = target.partition(":")
    if not colon or not module:
        return  # not an import path: E508 says so
    top = module.split(".")[0]
    if scope.task_package is None:
        diagnostics.append(
            error(
                "E531",
                f"`{module}` is not the catalog's task package: the catalog declares none",
                call.target.span,
                "an auto task may call only its catalog's own task package",
                help=f'put the function in a package beside the specs and declare it in the catalog: `tasks "{top}"`',
            )
        )
        return
    if not resolved:
        return  # E530 said why
    if top != scope.tasks_name:
        diagnostics.append(
            error(
                "E531",
                f"`{module}` is not in the catalog's task package `{scope.tasks_name}`",
                call.target.span,
                "an auto task may call only its catalog's own task package",
                secondary=[(scope.task_package[0].span, "the task package")],
                help=f"write the step as a function of `{scope.tasks_name}` (it may use any library it imports)",
            )
        )
        return
    rest = module.split(".")[1:]
    candidates = ["/".join(rest + ["__init__.py"]) if rest else "__init__.py"]
    if rest:
        candidates.insert(0, "/".join(rest) + ".py")
    rel = next((c for c in candidates if c in scope.task_files), None)
    if rel is None:
        known = sorted(".".join([scope.tasks_name, *PurePosixPath(r).with_suffix("").parts]).removesuffix(".__init__") for r in scope.task_files)
        diagnostics.append(
            error(
                "E532",
                f"no module `{module}` in the task package",
                call.target.span,
                "no such module",
                help=did_you_mean(module, known) or f"its modules are {', '.join(f'`{k}`' for k in known)}",
            )
        )
        return
    tree = _parse(scope, rel, parsed)
    if isinstance(tree, Exception):
        exc = tree
        where = f" (line {exc.lineno})" if isinstance(exc, SyntaxError) and exc.lineno else ""
        diagnostics.append(error("E532", f"`{module}` is not valid Python{where}", call.target.span, "its function cannot be found", help=f"fix {scope.tasks_name}/{rel}"))
        return
    defined = _top_level(tree)
    node = defined.get(function)
    if node is None:
        functions = [n for n, d in defined.items() if isinstance(d, (py.FunctionDef, py.AsyncFunctionDef))]
        diagnostics.append(
            error(
                "E532",
                f"`{module}` has no function `{function}`",
                call.target.span,
                "no such function",
                help=did_you_mean(function, functions) or (f"its functions are {', '.join(f'`{f}`' for f in sorted(functions))}" if functions else "it defines no function"),
            )
        )
        return
    if isinstance(node, py.AsyncFunctionDef):
        diagnostics.append(error("E533", f"`{target}` is `async def`", call.target.span, "om calls auto tasks as plain functions", help="make it a plain `def`"))
    elif isinstance(node, py.FunctionDef) and not node.decorator_list:
        _check_arguments(target, node, call, diagnostics)
    # anything else bound at the module's top (an import, an assignment): it exists; its arguments cannot be read


def _top_level(tree: py.Module) -> dict[str, py.AST]:
    """The names a module binds at its top level, the last binding winning."""
    out: dict[str, py.AST] = {}
    for stmt in tree.body:
        if isinstance(stmt, (py.FunctionDef, py.AsyncFunctionDef, py.ClassDef)):
            out[stmt.name] = stmt
        elif isinstance(stmt, (py.Import, py.ImportFrom)):
            for alias in stmt.names:
                out[(alias.asname or alias.name).split(".")[0]] = stmt
        elif isinstance(stmt, (py.Assign, py.AnnAssign)):
            for target in stmt.targets if isinstance(stmt, py.Assign) else [stmt.target]:
                if isinstance(target, py.Name):
                    out[target.id] = stmt
    return out


def _check_arguments(target: str, fn: py.FunctionDef, call: ast.PythonCall, diagnostics) -> None:
    a = fn.args
    positional = a.posonlyargs + a.args
    required_positional = positional[: len(positional) - len(a.defaults)]
    by_name = {p.arg for p in a.args + a.kwonlyargs}
    given = {arg.name.value: arg for arg in call.args}
    for name, arg in given.items():
        if name in by_name or (a.kwarg is not None and name not in {p.arg for p in a.posonlyargs}):
            continue
        diagnostics.append(
            error(
                "E533",
                f"`{target}` takes no argument `{name}`",
                arg.name.span,
                "not a parameter of the function",
                help=did_you_mean(name, by_name) or (f"its parameters are {', '.join(f'`{p}`' for p in sorted(by_name))}" if by_name else "it takes no arguments"),
            )
        )
    required = [p.arg for p in required_positional] + [p.arg for p, d in zip(a.kwonlyargs, a.kw_defaults) if d is None]
    missing = [p for p in required if p not in given and p != "idempotency_key"]
    if missing:
        names = ", ".join(f"`{m}`" for m in missing)
        diagnostics.append(
            error(
                "E533",
                f"`{target}` needs the argument{'s' if len(missing) > 1 else ''} {names}",
                call.span,
                f"{names} not given",
                help=f"add `{missing[0]} = ...` (or just `{missing[0]}` to pass the line attribute of that name), or give the parameter a default",
            )
        )
