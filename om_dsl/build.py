"""The build: check specs, lower them to the plan model, generate code,
and write (or compare) the output folder.

One folder per catalog under the output folder: `generated/acme/...`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional

import attrs

from om_dsl.check import CheckResult, check_paths
from om_dsl.codegen import generate
from om_dsl.lower import lower, spec_root
from om_dsl.model import Catalog
from om_dsl.model.canonical import dumps
from om_dsl.model.catalog import TASKS_FOLDER


@attrs.define
class Build:
    check: CheckResult
    catalogs: list  # [Catalog]

    @property
    def ok(self) -> bool:
        return self.check.ok

    def files(self, out_dir: Optional[Path] = None) -> dict[str, str]:
        """Every output file, `catalog/file` -> text. Given the folder they are
        written to, each sources.json also records where the specs are
        (`root`, relative to the catalog's folder), so that loading the
        compiled catalog can tell it is stale (om_dsl.rules.generated)."""
        out = {}
        for cat in self.catalogs:
            for name, text in generate(cat).items():
                out[f"{cat.name}/{name}"] = text
            # The catalog's task package, copied as it is: the compiled catalog runs from any folder.
            for rel, text in self._scope(cat.name).task_files.items() if cat.tasks else ():
                out[f"{cat.name}/{TASKS_FOLDER}/{cat.tasks}/{rel}"] = text
            root = self._root(cat.name, out_dir) if out_dir is not None else None
            if root is not None:
                data = json.loads(out[f"{cat.name}/sources.json"])
                data["root"] = root
                out[f"{cat.name}/sources.json"] = dumps(data)
        return dict(sorted(out.items()))

    def tasks_folder(self, name: str) -> Optional[str]:
        """The folder holding catalog NAME's task package, beside its specs (None without one)."""
        scope = self._scope(name)
        return str(Path(scope.tasks_dir).parent) if scope is not None and scope.tasks_dir is not None else None

    def _scope(self, name: str):
        return next((s for s in self.check.scopes if s.kind == "catalog" and s.name == name), None)

    def _root(self, name: str, out_dir: Path) -> Optional[str]:
        """The specs' root (what sources.json's paths are relative to), from out_dir/name."""
        scope = self._scope(name)
        if scope is None or not scope.files:
            return None
        try:
            rel = os.path.relpath(spec_root(scope), (Path(out_dir) / name).resolve())
        except ValueError:  # another drive: no relative path
            return None
        return Path(rel).as_posix()


def build(paths: list[str]) -> Build:
    result = check_paths(paths)
    catalogs: list[Catalog] = []
    if result.ok:
        catalogs = [lower(s) for s in result.scopes if s.kind == "catalog"]
    return Build(result, sorted(catalogs, key=lambda c: c.name))


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
