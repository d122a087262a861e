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
from om_dsl.check.workspace import inside, load, stored_spans
from om_dsl.codegen import generate
from om_dsl.codegen.slots import filled
from om_dsl.lower import files_root, lower, spec_root
from om_dsl.model import Catalog, sources_json
from om_dsl.model.canonical import dumps, loads, sources_of
from om_dsl.model.catalog import TASKS_FOLDER
from om_dsl.recompile import index_of, moved_diagnostic, moved_outcome, recompiled, span_pairs


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
                    out[f"{c.name}/sources.json"] = _with_root(out[f"{c.name}/sources.json"], root)
        return dict(sorted(out.items()))

    @staticmethod
    def _root(c: Compiled, out_dir: Path) -> Optional[str]:
        """The specs' root (what sources.json's paths are relative to), from out_dir/name."""
        try:
            rel = os.path.relpath(c.root, (Path(out_dir) / c.name).resolve())
        except ValueError:  # another drive: no relative path
            return None
        return Path(rel).as_posix()


_SCHEMA_LINE = '\n  "schema": '


def _with_root(sources: str, root: str) -> str:
    """sources.json's text with `root` added, as canonical dumps would write it:
    the keys are sorted, so `root` comes just before `schema`, the last one (a
    100k-line catalog's sources.json is not parsed and printed again for it)."""
    if sources.count(_SCHEMA_LINE) != 1 or '\n  "root": ' in sources:
        data = json.loads(sources)
        data["root"] = root
        return dumps(data)
    return sources.replace(_SCHEMA_LINE, f'\n  "root": {dumps(root).strip()},{_SCHEMA_LINE}')


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
    return _compiled(scope, lower(scope))


def _compiled(scope, catalog: Catalog) -> Compiled:
    # The catalog's task package, copied as it is: the compiled catalog runs from any folder.
    copies = {f"{TASKS_FOLDER}/{catalog.tasks}/{rel}": text for rel, text in scope.task_files.items()} if catalog.tasks else {}
    folder = str(Path(scope.tasks_dir).parent) if scope.tasks_dir is not None else None
    return Compiled(catalog.name, catalog.version, spec_root(scope), catalog, copies=copies, tasks_folder=folder)


# ---- the cache ---------------------------------------------------------------------------
# A unit (a catalog, or a library on its own) has two keys, both with its
# files' paths, its task package's files (and, through digest, the
# compiler's code): its *text* key holds its files' texts, its *shape* key
# their shapes (cache.shape_of: what a file says, not where; comments and
# layout are not in it). Three entries per unit, each in a slot of its own (one
# per catalog and place: a new version replaces the one before, so edits do
# not fill a disk):
#
# - "unit": its text key, its shape key, its files' text keys, its own
#   diagnostics and, for a catalog without errors, where each element is
#   ((element, file, line, offset), ...) and each file's sha256, and the
#   token of its index (below): small;
# - "shape": its shape key and codegen's skeleton (every generated file with
#   slots for those `file:line`s and sha256s, codegen.emit.fill) and the task
#   package's copies: large, written when the catalog was checked or an edit spliced in;
# - "index": the token, the task package's key and which file declares what
#   (recompile.index_of), written with a full check (and by a splice that
#   adds or takes out a rule).
#
# The text key found: nothing is checked, the skeleton is filled. Only the
# shape key found (an edit of comments or layout): the edited files' spans
# are paired with those of the text before (both parses list their spans in
# one order, cache.dump_tree), the elements and diagnostics in them take their
# new places, and the skeleton is filled; should anything not pair up (or the
# text before be gone from the cache), the catalog is checked again. Neither
# found: an edit of the kinds om_dsl.recompile splices (rules, enrichments,
# decompositions' values, tasks' arguments and settings, a commercial
# product's attributes, with what reads them) is spliced into the skeleton
# (with the "index" entry the last full check wrote, whose token the unit
# entry carries, and which a splice rewrites when it adds or takes out a
# rule); anything else is checked, lowered and generated, and the entries written.


def _unit_keys(unit, roots) -> tuple[str, str, Optional[str], str]:
    """(its slot, its text key, its shape key: None when a file's shape is unknown, its task package's key).
    The task package's files are part of both: its code is checked and copied."""
    text = [unit.kind, unit.name]
    shape = [unit.kind, unit.name]
    for group in (unit.files, unit.libraries):
        text.append("|")
        shape.append("|")
        for f in group:
            where = [f.path, str(f.real_path)]
            text += [*where, f.fingerprint, "ok" if f.syntax_ok else "syntax"]
            shape += [*where, f.parsed.shape, "ok" if f.syntax_ok else "syntax"]
    package = ["|", *_task_package_parts(unit, roots)]
    first = unit.files[0] if unit.files else None
    known_shapes = all(f.parsed.shape for f in unit.all_files)
    return (
        digest("slot", unit.kind, unit.name, str(first.real_path) if first else ""),
        digest("unit", *text, *package),
        digest("shape", *shape, *package) if known_shapes else None,
        digest("package", *package),
    )


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


def _read(cache, kind: str, slot: str, size: int) -> Optional[tuple]:
    payload = cache.get(kind, slot)
    if payload is None:
        return None
    try:
        entry = cache_loads(payload)
    except Exception:  # noqa: BLE001 - unreadable: as good as absent
        return None
    return entry if isinstance(entry, tuple) and len(entry) == size else None


def _moved(unit, entry, cache) -> Optional[tuple]:
    """After an edit of comments or layout only: (diagnostics, sources, digests)
    with the edited files' elements and diagnostics at their new places; None
    when they cannot all be placed (the catalog is then checked again)."""
    _text, _shape, texts, diagnostics, outcome, _token = entry
    before = dict(texts)
    moves = {}  # shown path of an edited file -> span_pairs of its old and new spans
    for f in unit.all_files:
        if before.get(f.path) != f.fingerprint:
            old, new = stored_spans(cache, before.get(f.path, "")), f.parsed.spans
            if old is None or new is None or len(old) != len(new):
                return None
            moves[f.path] = span_pairs(old, new)
    diagnostics = [moved_diagnostic(d, moves) for d in diagnostics]
    if None in diagnostics:
        return None
    if outcome is None:
        return tuple(diagnostics), None, None
    placed = moved_outcome(unit, [f for f in unit.all_files if f.path in moves], moves, outcome)
    return None if placed is None else (tuple(diagnostics), *placed)


def _from_skeleton(unit, shape_entry, sources, digests) -> Optional[Compiled]:
    """A catalog's files from its skeleton, its elements' places and its files' sha256s."""
    _key, name, version, schema, skeleton_files, copies, paths = shape_entry
    if tuple(path for path, _digest in digests) != paths:
        return None  # not the files the skeleton was made with
    elements = {element: f"{file}:{line}" for element, file, line, _start in sources}
    files = filled(skeleton_files, elements, [d for _path, d in digests])
    text = {"plan.json": files.pop("plan.json"), "sources.json": dumps(sources_of(schema, name, digests, elements))}
    folder = _declared_tasks(unit)
    copied = folder is not None and any(k.startswith(f"{TASKS_FOLDER}/{folder.name}/") for k in copies)
    return Compiled(name, version, files_root(unit.all_files), generated={**text, **files, **copies}, tasks_folder=str(folder.parent) if copied else None)


def _found(unit, keys: tuple, cache) -> Optional[tuple]:
    """(its diagnostics, its Compiled or None) from the cache, or None: check it."""
    slot, text_key, shape_key, package = keys
    entry = _read(cache, "unit", slot, 6)
    if entry is None or shape_key is None:
        return None
    shape_entry = None
    if entry[1] != shape_key:
        found = _recompiled(unit, entry, slot, package, cache)
        if found is None:
            return None
        diagnostics, sources, digests, skeleton, shape_entry = found
        # The edit spliced in: the skeleton stored under the new shape.
        shape_entry = (shape_key, *shape_entry[1:4], skeleton, *shape_entry[5:])
        cache.put("shape", slot, cache_dumps(shape_entry))
    elif entry[0] == text_key:
        diagnostics, outcome = entry[3], entry[4]
        sources, digests = outcome if outcome is not None else (None, None)
    elif unit.syntax_ok:
        moved = _moved(unit, entry, cache)
        if moved is None:
            return None
        diagnostics, sources, digests = moved
    else:
        return None
    diagnostics = list(diagnostics)
    compiled = None
    if unit.kind == "catalog" and not any(d.is_error for d in diagnostics):
        shape_entry = shape_entry or _read(cache, "shape", slot, 7)
        if sources is None or shape_entry is None or shape_entry[0] != shape_key:
            return None
        compiled = _from_skeleton(unit, shape_entry, sources, digests)
        if compiled is None:
            return None
    if entry[0] != text_key:
        cache.put("unit", slot, cache_dumps((text_key, shape_key, _texts(unit), tuple(diagnostics), (sources, digests) if sources is not None else None, entry[5])))
    return diagnostics, compiled


def _recompiled(unit, entry: tuple, slot: str, package: str, cache) -> Optional[tuple]:
    """After an edit of what a file says: om_dsl.recompile's splice, when the edit is
    one it can do and the entries it needs are there (the index of the same check)."""
    index = _read(cache, "index", slot, 3)
    shape_entry = _read(cache, "shape", slot, 7)
    if index is None or shape_entry is None or index[0] != entry[5] or index[1] != package or shape_entry[0] != entry[1]:
        return None
    found = recompiled(unit, entry, shape_entry, index[2], cache)
    if found is None:
        return None
    if found[4] is not index[2]:  # rules added or taken out: the index says where they are now
        cache.put("index", slot, cache_dumps((index[0], index[1], found[4])))
    return (*found[:4], shape_entry)


def _cached_build(paths: list[str], cache) -> Build:
    ws = load(paths, cache=cache)
    known: dict = {}  # id(unit) -> its diagnostics, found
    found: dict = {}  # id(unit) -> its Compiled, found
    keys = {}
    for unit in ws.units:
        keys[id(unit)] = _unit_keys(unit, ws.roots)
        try:
            hit = _found(unit, keys[id(unit)], cache)
        except Exception:  # noqa: BLE001 - an entry this om cannot use (it is ours, so it should not happen): check it
            hit = None
        if hit is not None:
            known[id(unit)], compiled = hit
            if compiled is not None:
                found[id(unit)] = compiled
    result = _check(ws, known)
    compiled = []
    for unit in ws.units:
        if id(unit) in known:
            if result.ok and id(unit) in found:
                compiled.append(found[id(unit)])
            continue
        scope, diagnostics = result.checked[id(unit)]
        slot, text_key, shape_key, package = keys[id(unit)]
        outcome = None
        if unit.kind == "catalog" and not any(d.is_error for d in diagnostics) and result.ok:
            c, outcome = _lowered_for_cache(scope, slot, shape_key, cache)
            compiled.append(c)
        if shape_key is not None and (outcome is not None or unit.kind != "catalog" or any(d.is_error for d in diagnostics)):
            token = None
            if outcome is not None and unit.syntax_ok:
                # What a later edit of a rule needs to find the part of the catalog it reads (om_dsl.recompile).
                token = text_key
                from om_dsl.codegen.emit import crossing_of, line_reads_of  # loaded already: the catalog was just generated

                index = dict(index_of(unit, scope), crossing=crossing_of(c.catalog), line_reads=line_reads_of(c.catalog))
                cache.put("index", slot, cache_dumps((token, package, index)))
            cache.put("unit", slot, cache_dumps((text_key, shape_key, _texts(unit), tuple(diagnostics), outcome, token)))
    return Build(result, sorted(compiled, key=lambda c: c.name) if result.ok else [])


def _texts(unit) -> tuple:
    """Each file's text key, by the path it is shown by."""
    return tuple((f.path, f.fingerprint) for f in unit.all_files)


def _lowered_for_cache(scope, slot: str, shape_key: Optional[str], cache) -> tuple[Compiled, Optional[tuple]]:
    """A catalog lowered and generated, its skeleton stored; (it, its unit entry's outcome)."""
    from om_dsl.codegen.emit import skeleton  # the code generator: loaded only when a catalog is generated

    starts: dict = {}
    catalog = lower(scope, starts)
    c = _compiled(scope, catalog)
    skeleton_files = skeleton(catalog)
    sources = tuple((element, ref.file, ref.line, starts.get(element, -1)) for element, ref in catalog.sources)
    elements = {element: str(ref) for element, ref in catalog.sources}
    files = filled(skeleton_files, elements, [d for _path, d in catalog.files])
    c.generated = {"plan.json": files.pop("plan.json"), "sources.json": sources_json(catalog), **files, **c.copies}
    if shape_key is None:
        return c, None
    cache.put("shape", slot, cache_dumps((shape_key, c.name, c.version, catalog.schema, skeleton_files, c.copies, tuple(path for path, _digest in catalog.files))))
    return c, (sources, catalog.files)


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
