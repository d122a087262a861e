"""`om init`: a new spec project from the template in template/.

Every file of template/ ends in `.tmpl`; its path and text have `__name__`
(paths) and `{{name}}`, `{{om_version}}` (text) replaced, and a leading
`_` of a path part becomes a `.` (`_github` -> `.github`), so that no
dotfile has to ship inside the package.

After writing the files, `create` compiles the specs into generated/ and
writes the snapshot of each example order (tests/__snapshots__/...), with
this om-dsl: the new project checks, compiles and passes its tests as is.
"""

from __future__ import annotations

import re
import shutil
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

NAME = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
MAX_NAME = 64  # a folder, a catalog and a Python package are named after it
SUFFIX = ".tmpl"
# Where the starter test keeps the plan snapshot of orders/<order>.
SNAPSHOT = "tests/__snapshots__/test_plans/test_plan[{order}].plan"


class InitError(Exception):
    """A name or a folder `om init` cannot use."""


def check_name(name: str) -> None:
    if len(name) > MAX_NAME:
        raise InitError(f"invalid project name: it has {len(name)} characters; at most {MAX_NAME} are accepted")
    if not NAME.fullmatch(name):
        raise InitError(f"invalid project name {name!r}: it names the catalog too, so it must be lower_snake_case (a lowercase letter, then lowercase letters, digits and single underscores), like `acme` or `home_fiber`")


def template_files() -> dict[str, str]:
    """The template: relative path (as written) -> text, placeholders unreplaced."""
    out: dict[str, str] = {}

    def walk(node: Traversable, parts: tuple[str, ...]) -> None:
        for child in sorted(node.iterdir(), key=lambda c: c.name):
            if child.is_dir():
                if child.name != "__pycache__":
                    walk(child, parts + (child.name,))
            elif child.name.endswith(SUFFIX):
                out["/".join(parts + (child.name[: -len(SUFFIX)],))] = child.read_text(encoding="utf-8")

    walk(resources.files(__name__) / "template", ())
    return out


def _path(rel: str, name: str) -> str:
    parts = [("." + p[1:]) if p.startswith("_") and not p.startswith("__") else p for p in rel.split("/")]
    return "/".join(p.replace("__name__", name) for p in parts)


# The project's layout, as the README shows it (its columns fit the name).
LAYOUT = [
    ("specs/{name}/catalog.om", "the catalog: products, decomposition, systems, plans"),
    ("orders/example.json", "an order (TMF622 productOrder) to plan against it"),
    ("generated/{name}/", "what `om compile` makes of the specs (committed)"),
    ("tests/test_plans.py", "one plan snapshot per order, and a rejected order"),
    ("tests/__snapshots__/", "the snapshots: what `om plan` prints for each order"),
    (".github/workflows/specs.yml", "CI: check, compile --check, pytest"),
]


def render(name: str) -> dict[str, str]:
    """The files of a new project called `name`: relative path -> text."""
    from om_dsl import __version__
    from om_dsl.table import table

    check_name(name)
    layout = "\n".join(table([(path.format(name=name), what) for path, what in LAYOUT], gap="    "))
    return {
        _path(rel, name): text.replace("{{name}}", name).replace("{{om_version}}", __version__).replace("{{layout}}", layout)
        for rel, text in template_files().items()
    }


def create(name: str, directory: str | Path = ".") -> tuple[Path, list[str]]:
    """Create the project folder `directory/name`; return it and the files written
    (relative paths, sorted). Raises InitError for a bad name or a folder in the way."""
    check_name(name)
    target = Path(directory) / name
    where = Path(directory)
    if where.exists() and not where.is_dir():
        raise InitError(f"{where} is not a folder")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise InitError(f"{target} already exists and is not an empty folder: om init writes a new project, it does not overwrite one")
    files = render(name)
    made = not target.exists()
    try:
        for rel, text in files.items():
            path = target / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        files.update(_derived(target, name))
    except BaseException as exc:
        if made:
            shutil.rmtree(target, ignore_errors=True)
        if isinstance(exc, OSError):
            raise InitError(f"cannot write {target}: {exc.strerror or exc}") from None
        raise
    return target, sorted(files)


def _derived(target: Path, name: str) -> dict[str, str]:
    """Compile the new specs into generated/ and write the plan snapshot of
    each example order; return the files written."""
    from om_dsl.build import build, write
    from om_dsl.diagnostics.render import render_text
    from om_dsl.planning import report
    from om_dsl.planning.intake import document_id, parse_document
    from om_dsl.planning.pipeline import plan_order
    from om_dsl.rules.interpreter import Interpreter

    result = build([str(target / "specs")])
    if not result.ok or len(result.catalogs) != 1:  # a defect of the template
        raise RuntimeError("the project template does not compile:\n" + render_text(result.check.diagnostics, result.check.sources))
    files = result.files(target / "generated")
    write(target / "generated", files)
    out = {f"generated/{rel}": text for rel, text in files.items()}
    catalog = result.catalogs[0]
    rules = Interpreter(catalog)
    for order in sorted((target / "orders").glob("*.json")):
        doc = parse_document(order.read_text(encoding="utf-8"))
        text = report.to_text(plan_order(catalog, rules, doc, document_id(doc)))
        rel = SNAPSHOT.format(order=order.name)
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        out[rel] = text
    return out
