"""Load a compiled catalog (plan.json + generated modules) and run its rules.

`GeneratedRules` has the rule interface of the interpreter and calls the
generated functions. When one of them fails (a division by zero for these
inputs), the module's line map turns the failing Python line into the model
element, and so into the spec file and line, that the code came from.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import os
import sys
from pathlib import Path

from om_dsl.model.canonical import SchemaError, loads
from om_dsl.model.catalog import TASKS_FOLDER
from om_dsl.rules import ops
from om_dsl.rules.errors import EvaluationError

MODULES = ("validation", "enrichment", "decomposition", "plans")


class CompiledCatalogError(Exception):
    """A folder that is not a usable compiled catalog (missing, stale, another schema)."""


class StaleCatalogError(CompiledCatalogError):
    """A compiled catalog whose specs changed since it was compiled."""


# ---- finding compiled catalogs -------------------------------------------------------------


def is_compiled(folder: Path) -> bool:
    return folder.is_dir() and (folder / "plan.json").is_file()


def compiled_catalogs(path: str | Path) -> dict[str, Path] | None:
    """The compiled catalogs at PATH, {name: folder}, or None when PATH is not
    compiled output (specs, say). PATH is a compiled catalog folder
    (generated/acme), its plan.json, or a folder of compiled catalogs holding no
    .om file (generated/, `om compile`'s output: one subfolder per catalog,
    named after it). Every command that takes a compiled catalog finds it here."""
    p = Path(path)
    if p.is_file() and p.name == "plan.json":
        p = p.parent
    if is_compiled(p):
        return {p.resolve().name: p}
    if not p.is_dir() or any(p.rglob("*.om")):
        return None
    found = {sub.name: sub for sub in sorted(p.iterdir()) if is_compiled(sub)}
    return found or None


# ---- stale: the specs changed since the catalog was compiled -------------------------------


def source_digest(data: bytes) -> str:
    """A spec file's digest as the compiler records it: of its text, read as
    the checker reads it (no byte-order mark, LF line ends)."""
    text = data.decode("utf-8-sig").replace("\r\n", "\n")
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def changed_sources(folder: str | Path) -> list[str] | None:
    """The spec files that changed since FOLDER was compiled, as paths from the
    working directory (or absolute); [] when none did; None when it cannot be
    told.

    sources.json records each source file (relative to the specs' root) with
    its digest, and the specs' root relative to the compiled catalog folder
    (`root`, written by `om compile`). When that root holds none of the
    recorded files (a compiled folder deployed without its specs), there is
    nothing to compare and the catalog is not stale. Otherwise a recorded file
    that is missing or whose digest differs is a change.
    """
    folder = Path(folder)
    try:
        data = json.loads((folder / "sources.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("root"), str) or not isinstance(data.get("files"), dict):
        return None
    root = folder / data["root"]
    present, changed = 0, []
    for rel, digest in sorted(data["files"].items()):
        path = root / rel
        try:
            content = path.read_bytes()
        except OSError:
            changed.append(_shown(path))
            continue
        present += 1
        try:
            same = source_digest(content) == digest
        except UnicodeDecodeError:
            same = False
        if not same:
            changed.append(_shown(path))
    return changed if present else None


def _shown(path: Path) -> str:
    """A path as diagnostics show it: from the working directory when inside it."""
    path = Path(os.path.normpath(path.absolute()))
    try:
        return path.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return path.as_posix()


def check_fresh(folder: str | Path) -> None:
    """Raise StaleCatalogError when the specs of this compiled catalog changed since it was compiled."""
    changed = changed_sources(folder)
    if changed:
        folder = Path(folder)
        root = _shown(folder / json.loads((folder / "sources.json").read_text(encoding="utf-8"))["root"])
        shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
        raise StaleCatalogError(
            f"{_shown(folder)} is stale: {shown} changed since it was compiled; "
            f"run `om compile {root} -o {_shown(folder.parent)}` (or give the specs instead of the compiled catalog)"
        )


def _import_package(folder: Path, plan_sha: str):
    name = f"_om_generated_{plan_sha[:16]}"
    if name in sys.modules:
        return name
    # An absolute path: the import system caches a finder per path string, so a relative
    # "generated/acme" would find the submodules of whichever folder it named first
    # (another working directory's, in a process that changed it).
    folder = folder.resolve()
    spec = importlib.util.spec_from_file_location(name, folder / "__init__.py", submodule_search_locations=[str(folder)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception:
        del sys.modules[name]
        raise
    return name


class GeneratedRules:
    kind = "generated"

    def __init__(self, folder: str | Path, check_sources: bool = True):
        """Load the compiled catalog in FOLDER; refuse it when it is stale (see
        changed_sources), unless check_sources is False."""
        folder = Path(folder)
        plan_file = folder / "plan.json"
        if not plan_file.is_file() or not (folder / "__init__.py").is_file():
            raise CompiledCatalogError(f"{folder} is not a compiled catalog: it needs plan.json and the generated modules (run `om compile`)")
        if check_sources:
            check_fresh(folder)
        plan_text = plan_file.read_text(encoding="utf-8")
        sources = folder / "sources.json"
        try:
            self.catalog = loads(plan_text, sources.read_text(encoding="utf-8") if sources.is_file() else None)
        except SchemaError as exc:
            raise CompiledCatalogError(f"{plan_file}: {exc}") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise CompiledCatalogError(f"{plan_file} is not a plan model om can read ({type(exc).__name__}: {exc}): compile the specs again") from None
        sha = hashlib.sha256(plan_text.encode("utf-8")).hexdigest()
        self.plan_text = plan_text
        # The catalog's task package, copied beside it by `om compile` (tasks/PACKAGE/).
        tasks = folder / TASKS_FOLDER
        self.tasks_folder = str(tasks.resolve()) if self.catalog.tasks and (tasks / self.catalog.tasks).is_dir() else None
        name = _import_package(folder, sha)
        package = sys.modules[name]
        if getattr(package, "PLAN_SHA256", None) != sha:
            raise CompiledCatalogError(f"the generated modules in {folder} were not generated from its plan.json: run `om compile` again")
        mods = {m: importlib.import_module(f"{name}.{m}") for m in MODULES}
        self._validate = mods["validation"].VALIDATE
        self._enrich = mods["enrichment"].ENRICH
        self._decompose = mods["decomposition"].DECOMPOSE
        self._plans = mods["plans"].PLANS
        self._line_maps = {Path(m.__file__).resolve(): m.LINE_MAP for m in mods.values()}
        # Planning specialized to the catalog (om_dsl.planning.compiled drives it); a catalog
        # compiled before om wrote one is planned by the shared planner alone.
        self.planner = importlib.import_module(f"{name}.planner") if (folder / "planner.py").is_file() else None
        if self.planner is not None and getattr(self.planner, "PLAN_SHA256", None) != sha:
            raise CompiledCatalogError(f"{folder / 'planner.py'} was not generated from its plan.json: run `om compile` again")

    # ---- errors ----------------------------------------------------------------------

    def _error(self, exc: BaseException) -> EvaluationError:
        element = None
        tb = exc.__traceback__
        while tb is not None:
            path = Path(tb.tb_frame.f_code.co_filename).resolve()
            line_map = self._line_maps.get(path)
            if line_map is not None:
                for first, last, el in line_map:
                    if first <= tb.tb_lineno <= last:
                        element = el
            tb = tb.tb_next
        element = element or "unknown element"
        src = self.catalog.source(element)
        return EvaluationError(element, str(src) if src else None, str(exc))

    # ---- the rules ---------------------------------------------------------------------

    def validate(self, item, o) -> list:
        fn = self._validate.get(item.product)
        if fn is None:
            return []
        try:
            return fn(item.values, item, o)
        except (ops.Fault, ArithmeticError) as exc:
            raise self._error(exc) from None

    def enrich(self, item, o) -> None:
        fn = self._enrich.get(item.product)
        if fn is not None:
            try:
                fn(item.values, item, o)
            except (ops.Fault, ArithmeticError) as exc:
                raise self._error(exc) from None

    def decompose(self, source, o) -> list:
        fn = self._decompose.get(source.product)
        if fn is None:
            return []
        try:
            return fn(source.values, source, o)
        except (ops.Fault, ArithmeticError) as exc:
            raise self._error(exc) from None

    def decompose_order(self, o) -> list:
        fn = self._decompose.get(None)
        if fn is None:
            return []
        try:
            return fn({}, None, o)
        except (ops.Fault, ArithmeticError) as exc:
            raise self._error(exc) from None

    def _task_fn(self, product, action, task, kind):
        return self._plans[(product, action)]["tasks"][task].get(kind)

    def _call(self, fn, default, a, out, o, prev):
        if fn is None:
            return default
        try:
            return fn(a, out, o, prev)
        except (ops.Fault, ArithmeticError) as exc:
            raise self._error(exc) from None

    def plan_applies(self, product, action, a, o, prev=None) -> bool:
        plan = self._plans.get((product, action))
        if plan is None:
            return False
        return self._call(plan["when"], True, a, {}, o, prev)

    def task_when(self, product, action, task, a, out, o, prev=None) -> bool:
        return self._call(self._task_fn(product, action, task, "when"), True, a, out, o, prev)

    def task_args(self, product, action, task, a, out, o, prev=None) -> dict:
        return self._call(self._task_fn(product, action, task, "args"), {}, a, out, o, prev)

    def task_sets(self, product, action, task, a, out, o, prev=None) -> dict:
        return self._call(self._task_fn(product, action, task, "sets"), {}, a, out, o, prev)

    def compensation_args(self, product, action, task, a, out, o, prev=None) -> dict:
        return self._call(self._task_fn(product, action, task, "compensate"), {}, a, out, o, prev)

    def wait_until(self, product, action, task, a, out, o, prev=None):
        return self._call(self._task_fn(product, action, task, "wait_until"), None, a, out, o, prev)


def sha_of(rules) -> str:
    """A catalog's identity: the sha256 of its plan.json (the rules of a compiled
    catalog or of the interpreter alike); both drivers key catalog versions by it."""

    from om_dsl.model.canonical import plan_json

    text = getattr(rules, "plan_text", None) or plan_json(rules.catalog)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
