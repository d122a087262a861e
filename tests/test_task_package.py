"""Task code ships with its catalog: `tasks "FOLDER"` declares the catalog's
Python package of auto tasks; `om check` reads it (never imports it), `om
compile` copies it beside the compiled catalog, and the engine runs it from
there, from any folder, with no --tasks-path; a function outside it is refused
by the checker and at run time."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from om_dsl.build import build, stale
from om_dsl.check import check_paths, check_texts
from om_dsl.embedded.runner import Catalogs, Runner
from om_dsl.embedded.store import Store
from om_dsl.rules.generated import GeneratedRules, changed_sources
from om_dsl.systems.adapters import PythonTasks

from support import ROOT
from support.engine_helpers import make_runner, order_text

VOICE = ROOT / "examples" / "orders" / "fiber-tv-ported-phone.json"

SPEC = """catalog shop version "1"
tasks "shop_tasks"
technical LINE_CFS "Line" cfs {
  attr number: string optional
}
decompose D1: order -> LINE_CFS { number = order.customer_account }
plan LINE_CFS on add {
  auto tidy = python "PATH"(ARGS) -> (number: string)
}
plan LINE_CFS on delete {
}
"""

MODULE = '''
def tidy(number, country="31", *, idempotency_key=None):
    return {"number": number}


async def later(number):
    return {}
'''


def spec(path="shop_tasks.numbers:tidy", args="number"):
    return SPEC.replace("PATH", path).replace("ARGS", args)


def codes(texts: dict) -> list:
    return sorted(d.code for d in check_texts(texts).diagnostics)


def with_package(text: str, module: str = MODULE) -> dict:
    return {"shop.om": text, "shop_tasks/__init__.py": "", "shop_tasks/numbers.py": module}


def om_process(*args, cwd, env=None):
    """`om` in a fresh interpreter: nothing imported by earlier tests helps it find a package."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    env.pop("OM_TASKS_PATH", None)
    return subprocess.run([sys.executable, "-c", "from om_dsl.cli import entry; entry()", *map(str, args)], capture_output=True, text=True, env=env, cwd=cwd, timeout=120)


# ---- om check ----------------------------------------------------------------------------------


def test_a_function_of_the_package_with_the_arguments_it_takes_checks_clean():
    assert codes(with_package(spec())) == []
    assert codes(with_package(spec(args='number, country = "32"'))) == []


@pytest.mark.parametrize(
    "path,args,code",
    [
        ("os:system", "command = number", "E531"),  # any importable function: refused
        ("subprocess:run", "args = number", "E531"),
        ("shop_tasks.nums:tidy", "number", "E532"),  # no such module
        ("shop_tasks.numbers:tidy2", "number", "E532"),  # no such function
        ("shop_tasks.numbers:tidy", "", "E533"),  # a parameter without a default not given
        ("shop_tasks.numbers:tidy", "number, region = number", "E533"),  # no such parameter
        ("shop_tasks.numbers:later", "number", "E533"),  # async def
    ],
)
def test_a_call_the_package_cannot_answer_is_an_error(path, args, code):
    assert code in codes(with_package(spec(path, args)))


def test_a_python_task_without_a_declared_package_is_refused():
    text = spec().replace('tasks "shop_tasks"\n', "")
    result = check_texts(with_package(text))
    assert [d.code for d in result.errors] == ["E531"]
    assert 'tasks "shop_tasks"' in result.errors[0].help[0]


@pytest.mark.parametrize(
    "declared,files",
    [
        ('"shop_tasks"', {}),  # no folder
        ('"os"', {"os/__init__.py": ""}),  # a standard module's name: importing it finds the standard one
        ('"om_dsl"', {"om_dsl/__init__.py": ""}),
        ('"my-tasks"', {"my-tasks/__init__.py": ""}),  # not a package name
    ],
)
def test_a_package_that_cannot_serve_is_an_error(declared, files):
    text = spec().replace('"shop_tasks"', declared, 1)
    assert "E530" in codes({"shop.om": text, **files})


def test_a_package_outside_the_project_is_not_read(tmp_path, monkeypatch):
    outside = tmp_path / "elsewhere" / "shop_tasks"
    outside.mkdir(parents=True)
    (outside / "__init__.py").write_text("")
    (outside / "numbers.py").write_text(MODULE)
    project = tmp_path / "project"
    project.mkdir()
    (project / "om.toml").write_text("")
    (project / "shop.om").write_text(spec().replace('"shop_tasks"', '"../elsewhere/shop_tasks"', 1))
    monkeypatch.chdir(project)
    result = check_paths(["."])
    assert [d.code for d in result.errors] == ["E530"] and "outside" in result.errors[0].message


def test_the_package_is_read_never_imported(tmp_path, monkeypatch):
    """A module that would do something when imported: om check only parses it."""
    (tmp_path / "om.toml").write_text("")
    (tmp_path / "shop.om").write_text(spec())
    package = tmp_path / "shop_tasks"
    package.mkdir()
    (package / "__init__.py").write_text("")
    witness = tmp_path / "imported"
    (package / "numbers.py").write_text(f"open({str(witness)!r}, 'w').close()\n" + MODULE)
    monkeypatch.chdir(tmp_path)
    result = check_paths(["."])
    assert result.errors == [] and not witness.exists() and "shop_tasks" not in sys.modules


# ---- om compile ----------------------------------------------------------------------------


def test_compile_copies_the_package_beside_the_catalog_byte_for_byte(tmp_path):
    first = build([str(ROOT / "specs")]).files(tmp_path / "a")
    second = build([str(ROOT / "specs")]).files(tmp_path / "a")
    assert first == second
    copied = {rel: text for rel, text in first.items() if rel.startswith("acme/tasks/")}
    assert copied == {f"acme/tasks/acme_tasks/{p.name}": p.read_text(encoding="utf-8") for p in sorted((ROOT / "specs" / "acme" / "acme_tasks").glob("*.py"))}
    assert json.loads(first["acme/plan.json"])["tasks"] == "acme_tasks"


def test_a_change_to_the_task_code_makes_the_compiled_catalog_stale(tmp_path):
    specs = tmp_path / "specs"
    shutil.copytree(ROOT / "specs", specs, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path / "generated"
    result = build([str(specs)])
    files = result.files(out)
    for rel, text in files.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_text(text, encoding="utf-8")
    assert stale(out, files) == [] and changed_sources(out / "acme") == []
    numbers = specs / "acme" / "acme_tasks" / "numbers.py"
    numbers.write_text(numbers.read_text(encoding="utf-8").replace('COUNTRY = "31"', 'COUNTRY = "32"'), encoding="utf-8")
    assert [Path(p).name for p in changed_sources(out / "acme")] == ["numbers.py"]
    assert "acme/tasks/acme_tasks/numbers.py" in stale(out, build([str(specs)]).files(out))


# ---- running: the package is found beside the compiled catalog ------------------------------


def test_om_run_finds_the_auto_tasks_from_any_folder(tmp_path):
    """The README's command shape, run from a folder that is not the repository, with no --tasks-path."""
    out = tmp_path / "deployed"
    assert om_process("compile", ROOT / "specs", "-o", out, cwd=ROOT).returncode == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    r = om_process("run", out / "acme", VOICE, "--db", "om.db", "--clock", "simulated", "--start", "2026-11-27", "-q", cwd=elsewhere)
    assert r.returncode == 0, r.stderr
    shown = om_process("orders", "show", "ORD-1003", "--db", "om.db", "--format", "json", cwd=elsewhere)
    tasks = {t["id"]: t for t in json.loads(shown.stdout)["tasks"]}
    assert tasks["3/D6:normalize_number"]["status"] == "completed"
    assert tasks["3/D6:normalize_number"]["outputs"] == {"e164": "+31205550188"}


def test_a_compiled_catalog_without_its_tasks_folder_refuses_the_call(tmp_path):
    out = tmp_path / "deployed"
    assert om_process("compile", ROOT / "specs", "-o", out, cwd=ROOT).returncode == 0
    shutil.rmtree(out / "acme" / "tasks")
    r = om_process("run", out / "acme", VOICE, "--db", "om.db", "--clock", "simulated", "--start", "2026-11-27", "-q", cwd=tmp_path)
    shown = json.loads(om_process("orders", "show", "ORD-1003", "--db", "om.db", "--format", "json", cwd=tmp_path).stdout)
    task = {t["id"]: t for t in shown["tasks"]}["3/D6:normalize_number"]
    assert r.returncode != 0 or shown["status"] == "held"
    assert task["status"] == "fatallyFailed"


def test_the_store_remembers_where_the_package_is_for_commands_without_a_catalog(tmp_path):
    runner = make_runner(tmp_path)
    runner.submit(order_text("fiber-minimal.json"))
    again = Runner(runner.store, Catalogs(runner.store, None), runner.systems, PythonTasks(), runner.clock)
    assert again.python_tasks.packages == {"acme_tasks": str((ROOT / "generated" / "acme" / "tasks").resolve())}


def test_specs_as_the_source_run_the_package_beside_them(tmp_path):
    from om_dsl.rules.interpreter import Interpreter

    result = build([str(ROOT / "specs")])
    rules = Interpreter(result.catalogs[0], result.tasks_folder("acme"))
    tasks = PythonTasks()
    Runner(Store(str(tmp_path / "om.db")), Catalogs(Store(str(tmp_path / "om.db")), rules), None, tasks, None)
    assert tasks.packages == {"acme_tasks": str(ROOT / "specs" / "acme")}


# ---- run time: defence in depth -----------------------------------------------------------


@pytest.mark.parametrize("target", ["os:system", "subprocess:run", "builtins:eval", "om_dsl.limits:load_json", "nowhere_pkg.mod:fn"])
def test_a_target_outside_every_task_package_is_refused_without_a_retry(target):
    result = PythonTasks().call(target, {"command": "true"}, "ORD-1:1/D1:t:1")
    assert result.status == "error" and not result.retryable and result.message.startswith(f"refused to call {target}")


def test_a_catalog_package_is_called_and_tasks_path_overrides_it(tmp_path):
    for where, answer in (("catalog", "from the catalog"), ("override", "from --tasks-path")):
        package = tmp_path / where / "h20_override_tasks"
        package.mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "steps.py").write_text(f"def go():\n    return {{'said': {answer!r}}}\n")
    tasks = PythonTasks((str(tmp_path / "override"),))
    tasks.add_package("h20_override_tasks", str(tmp_path / "catalog"))
    assert tasks.call("h20_override_tasks.steps:go", {}, "k").outputs == {"said": "from --tasks-path"}


def test_a_generated_catalog_knows_its_tasks_folder():
    rules = GeneratedRules(ROOT / "generated" / "acme")
    assert rules.catalog.tasks == "acme_tasks" and Path(rules.tasks_folder) == (ROOT / "generated" / "acme" / "tasks").resolve()


def test_a_module_that_cannot_be_copied_is_an_error(tmp_path, monkeypatch):
    (tmp_path / "om.toml").write_text("")
    (tmp_path / "shop.om").write_text(spec())
    package = tmp_path / "shop_tasks"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "numbers.py").write_text(MODULE)
    (package / "latin.py").write_bytes("# caf\xe9\n".encode("latin-1"))
    monkeypatch.chdir(tmp_path)
    result = check_paths(["."])
    assert [d.code for d in result.errors] == ["E530"] and "`latin.py`" in result.errors[0].message


def test_a_temporal_worker_runs_the_package_beside_its_compiled_catalog():
    """`om worker generated/acme`: the worker registers the catalog's package before it connects."""
    import asyncio

    pytest.importorskip("temporalio")
    from om_dsl.temporal import worker

    tasks = PythonTasks()
    with pytest.raises(worker.Unreachable):
        asyncio.run(worker.serve("127.0.0.1:1", "default", "q", None, tasks, rules=[GeneratedRules(ROOT / "generated" / "acme")]))
    assert tasks.packages == {"acme_tasks": str((ROOT / "generated" / "acme" / "tasks").resolve())}


def test_om_diff_shows_a_task_package_that_changed():
    import attrs

    from om_dsl.diff.catalogs import compare

    catalog = GeneratedRules(ROOT / "generated" / "acme").catalog
    (change,) = [c for c in compare(catalog, attrs.evolve(catalog, tasks=None)) if c.element == "catalog"]
    assert [(f.name, f.old, f.new) for f in change.fields] == [("tasks", "acme_tasks", None)] and "acme_tasks" in change.breaking
    (change,) = [c for c in compare(attrs.evolve(catalog, tasks=None), catalog) if c.element == "catalog"]
    assert change.breaking is None  # a package added: nothing in flight called it


def test_a_package_linked_from_outside_the_project_is_not_read(tmp_path, monkeypatch):
    outside = tmp_path / "elsewhere" / "shop_tasks"
    outside.mkdir(parents=True)
    (outside / "__init__.py").write_text("")
    (outside / "numbers.py").write_text(MODULE)
    project = tmp_path / "project"
    project.mkdir()
    (project / "om.toml").write_text("")
    (project / "shop.om").write_text(spec())
    (project / "shop_tasks").symlink_to(outside, target_is_directory=True)
    monkeypatch.chdir(project)
    result = check_paths(["."])
    assert [d.code for d in result.errors] == ["E530"] and "outside" in result.errors[0].message


def test_a_library_checked_alone_leaves_its_auto_tasks_to_the_catalog():
    library = 'library shared\nsystem s "S" { operation go(a: string) }\n'
    assert [d.code for d in check_texts({"lib.om": library + 'technical T "T" rfs { attr a: string optional }\nplan T on add { auto x = python "shop_tasks.numbers:tidy"(number = a) }\n'}).errors] == []


def test_a_module_that_is_not_python_is_an_error_once_per_call():
    texts = with_package(spec(), "def tidy(number:\n")
    result = check_texts(texts)
    assert [(d.code, d.message) for d in result.errors] == [("E532", "`shop_tasks.numbers` is not valid Python (line 1)")]


def test_the_compile_cache_knows_the_task_package(tmp_path):
    """A catalog found in the compile cache carries its package's copies; an edit
    to the task code (not to any .om file) is a new entry: copied, and checked again."""
    from om_dsl.check.cache import Cache

    specs = tmp_path / "specs"
    shutil.copytree(ROOT / "specs", specs, ignore=shutil.ignore_patterns("__pycache__"))
    cache = Cache(tmp_path / "cache")
    cold = build([str(specs)], cache=cache)
    warm = build([str(specs)], cache=cache)
    assert warm.files(tmp_path / "out") == cold.files(tmp_path / "out") == build([str(specs)]).files(tmp_path / "out")
    assert warm.tasks_folder("acme") == cold.tasks_folder("acme") == str(specs / "acme")
    numbers = specs / "acme" / "acme_tasks" / "numbers.py"
    numbers.write_text(numbers.read_text(encoding="utf-8").replace("def to_e164(phone_number: str | None)", "def to_e164(number: str | None)"), encoding="utf-8")
    edited = build([str(specs)], cache=cache)
    assert [d.code for d in edited.check.errors] == ["E533", "E533"]  # checked again: phone_number is no parameter now, number is not given


def test_the_compile_cache_copies_the_edited_task_code(tmp_path):
    from om_dsl.check.cache import Cache

    specs = tmp_path / "specs"
    shutil.copytree(ROOT / "specs", specs, ignore=shutil.ignore_patterns("__pycache__"))
    cache = Cache(tmp_path / "cache")
    build([str(specs)], cache=cache).files()
    numbers = specs / "acme" / "acme_tasks" / "numbers.py"
    numbers.write_text(numbers.read_text(encoding="utf-8").replace('COUNTRY = "31"', 'COUNTRY = "32"'), encoding="utf-8")
    files = build([str(specs)], cache=cache).files()
    assert 'COUNTRY = "32"' in files["acme/tasks/acme_tasks/numbers.py"]
    assert files == build([str(specs)]).files()
