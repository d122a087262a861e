"""The build: check specs, lower them to the plan model, generate code,
and write (or compare) the output folder.

One folder per catalog under the output folder: `generated/acme/...`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Optional

import attrs

from om_dsl.check import CheckResult, _check, check_paths, without_gc
from om_dsl.check.cache import digest
from om_dsl.check.cache import dumps as cache_dumps
from om_dsl.check.cache import loads as cache_loads
from om_dsl.check.workspace import inside, load
from om_dsl.codegen import generate
from om_dsl.lower import files_root, lower, spec_root
from om_dsl.model import Catalog
from om_dsl.model.canonical import dumps, loads
from om_dsl.model.catalog import TASKS_FOLDER


@attrs.define
class Compiled:
    """One catalog's compiled form: lowered in this run, or its files found in the cache."""

    name: str
    version: str
    root: str  # the specs' root (lower.spec_root), what sources.json's paths are relative to
    catalog: Optional[Catalog] = None
    generated: Optional[dict] = None  # generate()'s files and the task package's copies, made on first use
    copies: dict = attrs.field(factory=dict)  # the catalog's task package, `tasks/PACKAGE/...` -> text, copied as it is
    tasks_folder: Optional[str] = None  # the folder that holds the task package beside the specs

    def files(self) -> dict[str, str]:
        if self.generated is None:
            with without_gc():
                self.generated = {**generate(self.catalog), **self.copies}
        return self.generated

    def model(self) -> Catalog:
        if self.catalog is None:
            files = self.files()
            self.catalog = loads(files["plan.json"], files["sources.json"])
        return self.catalog


@attrs.define
class Build:
    check: CheckResult
    compiled: list  # [Compiled], by name

    @property
    def ok(self) -> bool:
        return self.check.ok

    @property
    def catalogs(self) -> list:
        return [c.model() for c in self.compiled]

    def tasks_folder(self, name: str) -> Optional[str]:
        """The folder holding catalog NAME's task package, beside its specs (None without one)."""
        return next((c.tasks_folder for c in self.compiled if c.name == name), None)

    def files(self, out_dir: Optional[Path] = None) -> dict[str, str]:
        """Every output file, `catalog/file` -> text. Given the folder they are
        written to, each sources.json also records where the specs are
        (`root`, relative to the catalog's folder), so that loading the
        compiled catalog can tell it is stale (om_dsl.rules.generated)."""
        out = {}
        with without_gc():
            for c in self.compiled:
                for name, text in c.files().items():
                    out[f"{c.name}/{name}"] = text
                root = self._root(c, out_dir) if out_dir is not None else None
                if root is not None:
                    data = json.loads(out[f"{c.name}/sources.json"])
                    data["root"] = root
                    out[f"{c.name}/sources.json"] = dumps(data)
        return dict(sorted(out.items()))

    @staticmethod
    def _root(c: Compiled, out_dir: Path) -> Optional[str]:
        """The specs' root (what sources.json's paths are relative to), from out_dir/name."""
        try:
            rel = os.path.relpath(c.root, (Path(out_dir) / c.name).resolve())
        except ValueError:  # another drive: no relative path
            return None
        return Path(rel).as_posix()


def build(paths: list[str], cache=None) -> Build:
    """Check, lower and (on demand) generate. With a cache (om_dsl.check.cache.Cache),
    files and catalogs whose inputs did not change are not parsed, checked,
    lowered or generated again; the output is the same."""
    with without_gc():
        if cache is not None:
            return _cached_build(paths, cache)
        result = check_paths(paths)
        compiled = []
        if result.ok:
            compiled = [_lowered(s) for s in result.scopes if s.kind == "catalog"]
        return Build(result, sorted(compiled, key=lambda c: c.name))


def _lowered(scope) -> Compiled:
    catalog = lower(scope)
    # The catalog's task package, copied as it is: the compiled catalog runs from any folder.
    copies = {f"{TASKS_FOLDER}/{catalog.tasks}/{rel}": text for rel, text in scope.task_files.items()} if catalog.tasks else {}
    folder = str(Path(scope.tasks_dir).parent) if scope.tasks_dir is not None else None
    return Compiled(catalog.name, catalog.version, spec_root(scope), catalog, copies=copies, tasks_folder=folder)


# ---- the cache ---------------------------------------------------------------------------
# A unit (a catalog, or a library on its own) is keyed by its files' paths
# and texts, its task package's files (and, through digest, the compiler's code). Its entry holds its
# own diagnostics and, for a catalog without errors, generate()'s files.
# Keying by text, not by AST, is deliberate: every generated module's header
# and sources.json record each file's sha256, so any edit, a comment too,
# changes the output.


def _unit_key(unit, roots) -> tuple[str, str]:
    """(its slot, its content's key). One slot per catalog and place: a new
    version of a catalog replaces the entry of the one before (a 100k-line
    catalog's entry is tens of MB; one per edit would fill a disk). The task
    package's files are part of the content: its code is checked and copied."""
    parts = [unit.kind, unit.name]
    for group in (unit.files, unit.libraries):
        parts.append("|")
        for f in group:
            parts += [f.path, str(f.real_path), f.fingerprint, "ok" if f.syntax_ok else "syntax"]
    parts += ["|", *_task_package_parts(unit, roots)]
    first = unit.files[0] if unit.files else None
    return digest("slot", unit.kind, unit.name, str(first.real_path) if first else ""), digest("unit", *parts)


_TASKS_LINE = re.compile(r'^tasks[ \t]+"([^"\\\n]*)"', re.MULTILINE)


def _declared_tasks(unit) -> Optional[Path]:
    """The task package folder a catalog's files declare (`tasks "FOLDER"`), read from their text."""
    for f in unit.files:
        m = _TASKS_LINE.search(f.text)
        if m:
            return Path(os.path.normpath(f.real_path.parent / m.group(1)))
    return None


def _task_package_parts(unit, roots) -> list[str]:
    """The declared package's .py files (path and digest), as far as the specs' roots reach."""
    folder = _declared_tasks(unit)
    if folder is None:
        return []
    if not folder.is_dir() or not inside(folder.resolve(), roots):
        return [str(folder), "absent"]
    parts = [str(folder)]
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
        for name in sorted(n for n in names if n.endswith(".py")):
            path = Path(root) / name
            try:
                data = path.read_bytes() if path.is_file() and not path.is_symlink() and path.stat().st_size <= (16 << 20) else b"?"
            except OSError:
                data = b"?"
            parts += [path.relative_to(folder).as_posix(), hashlib.sha256(data).hexdigest()]
    return parts


def _cached_build(paths: list[str], cache) -> Build:
    ws = load(paths, cache=cache)
    keys = {id(u): _unit_key(u, ws.roots) for u in ws.units}
    known: dict = {}
    found: dict = {}
    for unit in ws.units:
        slot, key = keys[id(unit)]
        payload = cache.get("unit", slot)
        if payload is None:
            continue
        try:
            stored, diagnostics, out = cache_loads(payload)
            diagnostics = list(diagnostics)
        except Exception:  # noqa: BLE001 - unreadable: check it again
            continue
        if stored != key:
            continue  # an older version of this catalog
        has_errors = any(d.is_error for d in diagnostics)
        if unit.kind == "catalog" and not has_errors and out is None:
            continue  # stored without its files: check it again
        known[id(unit)] = diagnostics
        found[id(unit)] = out
    result = _check(ws, known)
    compiled = []
    for unit in ws.units:
        if id(unit) in known:
            out = found[id(unit)]
            if result.ok and unit.kind == "catalog":
                name, version, generated = out
                folder = _declared_tasks(unit)
                copied = folder is not None and any(k.startswith(f"{TASKS_FOLDER}/{folder.name}/") for k in generated)
                compiled.append(Compiled(name, version, files_root(unit.all_files), generated=dict(generated), tasks_folder=str(folder.parent) if copied else None))
            continue
        scope, diagnostics = result.checked[id(unit)]
        slot, key = keys[id(unit)]
        if any(d.is_error for d in diagnostics) or unit.kind != "catalog":
            cache.put("unit", slot, cache_dumps((key, tuple(diagnostics), None)))
        elif result.ok:
            c = _lowered(scope)
            compiled.append(c)
            cache.put("unit", slot, cache_dumps((key, tuple(diagnostics), (c.name, c.version, c.files()))))
    return Build(result, sorted(compiled, key=lambda c: c.name) if result.ok else [])


def write(out_dir: Path, files: dict[str, str]) -> tuple[list[str], list[str]]:
    """Write the files that differ, and remove the files of a catalog's folder
    that are no longer generated; return (written, removed)."""
    changed = []
    removed = []
    for rel, text in files.items():
        path = out_dir / rel
        data = text.encode("utf-8")
        if not path.is_file() or path.read_bytes() != data:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            changed.append(rel)
    for rel in _extra(out_dir, files):
        (out_dir / rel).unlink()
        removed.append(rel)
    return changed, removed


def stale(out_dir: Path, files: dict[str, str]) -> list[str]:
    """The output files that differ from what would be written now (or should not exist)."""
    out = []
    for rel, text in files.items():
        path = out_dir / rel
        if not path.is_file() or path.read_bytes() != text.encode("utf-8"):
            out.append(rel)
    return sorted(out + _extra(out_dir, files))


def _extra(out_dir: Path, files: dict[str, str]) -> list[str]:
    catalogs = {rel.split("/", 1)[0] for rel in files}
    extra = []
    for name in sorted(catalogs):
        folder = out_dir / name
        if folder.is_dir():
            for f in sorted(folder.rglob("*")):
                if f.is_file() and "__pycache__" not in f.parts:
                    rel = f.relative_to(out_dir).as_posix()
                    if rel not in files:
                        extra.append(rel)
    return extra
