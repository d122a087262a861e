"""The layout stays honest: imports flow one way, the pure stages do no I/O,
and docs/architecture.md lists every module (see that page)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "om_dsl"
DOC = ROOT / "docs" / "architecture.md"

# Modules any stage may import: they import no stage themselves.
SHARED = {"om_dsl", "span", "limits", "suggest", "values", "durations", "table"}

# Backward edges that exist today, by module, each with its reason in
# docs/architecture.md. The list only shrinks: an entry that no longer holds fails.
KNOWN_EXCEPTIONS = {
    ("om_dsl.systems.receiver", "om_dsl.embedded.store"),  # callbacks are written into the embedded store
}

# Third-party packages only some stages may import.
THIRD_PARTY = {"lark": {"syntax"}, "temporalio": {"temporal", "cli"}, "pygls": {"lsp"}, "jinja2": {"codegen", "console"}, "prometheus_client": {"observe"}, "opentelemetry": {"observe"}}

# The pure parts, and what they may not touch.
PURE = ("om_dsl.model", "om_dsl.rules.ops", "om_dsl.rules.interpreter", "om_dsl.rules.errors", "om_dsl.planning", "om_dsl.engine", "om_dsl.tmf622")
IO_MODULES = {"os", "pathlib", "shutil", "io", "sqlite3", "socket", "http", "urllib.request", "subprocess", "threading", "asyncio", "time", "random", "temporalio"}
IO_CALLS = {"open", "print", "input"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def stage_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "om_dsl"


def imports_of(path: Path) -> set[str]:
    """Every module `path` imports, at the top or inside functions, relative imports resolved."""

    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                node_module = ".".join(base + ([node.module] if node.module else []))
            else:
                node_module = node.module
            found.add(node_module)
            # `from om_dsl.x import y` may name a module y: count it when it is one.
            for alias in node.names:
                candidate = f"{node_module}.{alias.name}"
                if module_file(candidate):
                    found.add(candidate)
    return found


def module_file(module: str) -> Path | None:
    if not module.startswith("om_dsl"):
        return None
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


MODULES = sorted(PACKAGE.rglob("*.py"))
IMPORTS = {module_name(p): imports_of(p) for p in MODULES}


def allowed_table() -> dict[str, set[str]]:
    """The "may import" table of docs/architecture.md."""

    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Import direction", 1)[1].split("\n## ", 1)[0]
    table = {}
    for line in section.splitlines():
        m = re.match(r"\| `(\w+)` \|(.*)\|$", line)
        if m:
            cell = m.group(2)
            table[m.group(1)] = {"*"} if "every stage" in cell else set(re.findall(r"`(\w+)`", cell))
    return table


def test_the_table_names_every_stage():
    stages = {stage_of(m) for m in IMPORTS} - SHARED
    assert stages == set(allowed_table())


def test_imports_flow_one_way():
    table = allowed_table()
    wrong = []
    for module, imported in IMPORTS.items():
        stage = stage_of(module)
        if stage in SHARED:
            ok = lambda target: stage_of(target) in SHARED  # noqa: E731
        else:
            may = table[stage]
            ok = lambda target: "*" in may or stage_of(target) in may | SHARED | {stage}  # noqa: E731
        for target in sorted(imported):
            if target.startswith("om_dsl.") and not ok(target) and (module, target) not in KNOWN_EXCEPTIONS:
                wrong.append(f"{module} imports {target}")
    assert wrong == []


def test_nothing_but_a_front_end_imports_cli():
    wrong = [f"{m} imports {t}" for m, ts in IMPORTS.items() for t in ts if t.startswith("om_dsl.cli") and stage_of(m) != "cli" and (m, t) not in KNOWN_EXCEPTIONS]
    assert wrong == []


def test_the_known_exceptions_still_hold():
    # When one is fixed, take it off the list (and off docs/architecture.md).
    stale = [e for e in sorted(KNOWN_EXCEPTIONS) if e[1] not in IMPORTS.get(e[0], set())]
    assert stale == []


def test_third_party_packages_stay_in_their_stage():
    wrong = []
    for module, imported in IMPORTS.items():
        for target in imported:
            top = target.split(".")[0]
            if top in THIRD_PARTY and stage_of(module) not in THIRD_PARTY[top]:
                wrong.append(f"{module} imports {target}")
    assert wrong == []


@pytest.mark.parametrize("pure", PURE)
def test_the_pure_stages_do_no_io(pure):
    modules = [m for m in IMPORTS if m == pure or m.startswith(pure + ".")]
    assert modules
    wrong = []
    for module in modules:
        for target in IMPORTS[module]:
            if target in IO_MODULES or target.split(".")[0] in IO_MODULES:
                wrong.append(f"{module} imports {target}")
        for node in ast.walk(ast.parse(module_file(module).read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in IO_CALLS:
                wrong.append(f"{module} calls {node.func.id}() on line {node.lineno}")
    assert wrong == []


@pytest.mark.parametrize("module", ["om_dsl.engine.core", "om_dsl.model", "om_dsl.planning.pipeline", "om_dsl.rules.generated"])
def test_an_engine_loads_no_compiler(module):
    # A fresh interpreter: this test process has loaded everything already.
    probe = f"import sys, {module}; print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] == 'lark' or m.startswith(('om_dsl.check', 'om_dsl.syntax', 'om_dsl.lower', 'om_dsl.codegen')))))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.split() == []


def test_the_probe_sees_a_compiler_when_one_is_loaded():
    # The test above could pass by looking in the wrong place; this one shows it does not.
    probe = "import sys, om_dsl.build; print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] == 'lark')))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "lark" in out.stdout.split()


def test_the_module_list_matches_the_tree():
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Module list", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^- `(om_dsl/[\w/]+\.py)`: \S", section, flags=re.M)
    tree = sorted(p.relative_to(ROOT).as_posix() for p in MODULES)
    assert len(listed) == len(set(listed)), "a module is listed twice"
    assert sorted(set(tree) - set(listed)) == [], "modules without a line in docs/architecture.md"
    assert sorted(set(listed) - set(tree)) == [], "lines in docs/architecture.md for modules that are gone"
