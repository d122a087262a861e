"""What `om diff` compares: one catalog from specs, a plan.json, or a
compiled folder.

    specs            a folder of .om files, or .om files: built (checked and
                     lowered) with `om_dsl.build.build`
    plan.json        a plan model file; `sources.json` next to it, when
                     present and of the same catalog, gives source lines
    compiled folder  a folder holding plan.json (`generated/acme`), or an
                     output folder with one subfolder per catalog (`generated`)

A side that holds several catalogs needs `catalog` to pick one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import attrs

from om_dsl.limits import MAX_DOCUMENT, InputLimit, load_json, read_file
from om_dsl.model.canonical import SchemaError, loads
from om_dsl.model.catalog import Catalog
from om_dsl.rules.generated import compiled_catalogs

_PLAN_DEPTH = 10_000  # past the interpreter's recursion limit, which load_json reports as too deep


class LoadError(Exception):
    """A side that cannot be compared: missing, unreadable, ambiguous (a usage error)."""


class SpecErrors(Exception):
    """Specs with errors: `check` is the CheckResult to print."""

    def __init__(self, path: str, check):
        super().__init__(f"{path}: the specs have errors")
        self.path = path
        self.check = check


@attrs.frozen
class Side:
    path: str  # as given
    kind: str  # specs, plan.json, compiled
    catalog: Catalog


class SeveralCatalogs(LoadError):
    """A side that holds several catalogs, and nothing says which."""


def load_side(path: str, catalog: Optional[str] = None, prefer: Optional[str] = None) -> Side:
    """One side of a comparison; `prefer`: the catalog to take when the side
    holds several and `catalog` names none (the other side's)."""
    p = Path(path)
    if not p.exists():
        raise LoadError(f"{path} does not exist")
    if not p.is_file() and not p.is_dir():  # a FIFO would block the read, a device never end it
        raise LoadError(f"{path} is neither a regular file nor a folder")
    if p.is_file() and p.suffix == ".json":
        return Side(path, "plan.json", _pick([_load_plan(p)], path, catalog, prefer))
    compiled = compiled_catalogs(p)  # a compiled catalog is compared as it is, stale or not
    if compiled is not None:
        return Side(path, "compiled", _pick([_load_plan(f / "plan.json") for f in compiled.values()], path, catalog, prefer))
    if p.is_dir() and not any(p.rglob("*.om")):
        raise LoadError(f"{path} holds no .om file, no plan.json and no compiled catalog")
    if p.is_file() and p.suffix != ".om":
        raise LoadError(f"{path} is neither specs (.om), a plan.json nor a compiled catalog folder")
    return Side(path, "specs", _pick(_build(path), path, catalog, prefer))


def _build(path: str) -> list[Catalog]:
    from om_dsl.build import build

    result = build([path])
    if not result.ok:
        raise SpecErrors(path, result.check)
    return result.catalogs


def _load_plan(plan_file: Path) -> Catalog:
    try:
        text = read_file(plan_file)
    except OSError as exc:
        raise LoadError(f"cannot read {plan_file}: {exc.strerror or exc}") from None
    except InputLimit as exc:
        raise LoadError(f"cannot read {plan_file}: {exc}") from None
    try:
        # Expressions nest as deep as the specs wrote them: only numbers and strings are held to the limits here.
        data = load_json(text, max_depth=_PLAN_DEPTH, max_string=MAX_DOCUMENT)
    except json.JSONDecodeError as exc:
        raise LoadError(f"{plan_file} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except InputLimit as exc:
        raise LoadError(f"{plan_file} is not a plan model om can read: {exc}") from None
    if not isinstance(data, dict):
        raise LoadError(f"{plan_file} is not a plan model (a JSON object)")
    sources_text = _sources_text(plan_file.parent / "sources.json", data.get("catalog"))
    try:
        return loads(text, sources_text)
    except SchemaError as exc:
        raise LoadError(f"{plan_file}: {exc}") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise LoadError(f"{plan_file} is not a plan model om can read ({type(exc).__name__}: {exc})") from None
    except RecursionError:
        raise LoadError(f"{plan_file} is not a plan model om can read: it nests too deeply") from None


def _sources_text(path: Path, catalog) -> Optional[str]:
    """The sources.json next to a plan.json, when it is one and of the same catalog."""
    if not path.is_file():
        return None
    try:
        text = read_file(path)
        data = load_json(text, max_string=MAX_DOCUMENT)
    except (OSError, ValueError):  # InputLimit and malformed JSON are ValueErrors: no source lines then
        return None
    if not isinstance(data, dict) or data.get("catalog") != catalog or not isinstance(data.get("elements", {}), dict) or not isinstance(data.get("files", {}), dict):
        return None
    elements = data.get("elements", {})
    if not all(isinstance(v, str) and v.rpartition(":")[2].isdigit() for v in elements.values()):
        return None
    return text


def _pick(catalogs: list[Catalog], path: str, name: Optional[str], prefer: Optional[str] = None) -> Catalog:
    found = ", ".join(c.name for c in catalogs) or "none"
    if name is None and len(catalogs) > 1 and prefer is not None:
        name = prefer if any(c.name == prefer for c in catalogs) else None
    if name is not None:
        chosen = [c for c in catalogs if c.name == name]
        if not chosen:
            raise LoadError(f"no catalog `{name}` in {path} (found: {found})")
        return chosen[0]
    if len(catalogs) != 1:
        if not catalogs:
            raise LoadError(f"{path} holds no catalog (only libraries?)")
        raise SeveralCatalogs(f"{path} holds {len(catalogs)} catalogs ({found}); choose one with --catalog")
    return catalogs[0]
