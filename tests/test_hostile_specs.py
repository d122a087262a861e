"""Hostile specs (issue 16): a spec is data, never code, and reads nothing but specs.

- Versions, names and file paths reach the generated modules only quoted:
  compiled and imported, they define their names and do nothing else.
- The checker refuses control characters in versions and display names (E013).
- `use` paths and links that leave the folders om reads specs from are
  refused without reading them (E014); FIFOs are refused, never waited on (E005).
- Numbers and durations are bounded as text (E007), never an internal error.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner

from om_dsl.build import build, write
from om_dsl.check import check_paths
from om_dsl.cli import main
from om_dsl.codegen import generate
from om_dsl.limits import MAX_DURATION_MS

from support import ROOT

ORDER = ROOT / "examples" / "orders" / "fiber-minimal.json"


def om_string(text: str) -> str:
    """`text` as an .om string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


def payload(marker: Path) -> str:
    return f"open({str(marker)!r}, 'w').close()"


def acme_copy(tmp_path: Path, version: str | None = None) -> Path:
    specs = tmp_path / "specs"
    shutil.copytree(ROOT / "specs", specs)
    if version is not None:
        catalog = specs / "acme" / "catalog.om"
        catalog.write_text(catalog.read_text(encoding="utf-8").replace('version "2026.11"', f"version {om_string(version)}"), encoding="utf-8")
    return specs


def only_definitions(folder: Path) -> None:
    """Every generated module's top level is docstrings, imports, assignments and functions: no call runs on import."""
    for module in sorted(folder.glob("*.py")):
        tree = ast.parse(module.read_text(encoding="utf-8"), filename=str(module))
        for stmt in tree.body:
            is_docstring = isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)
            assert is_docstring or isinstance(stmt, (ast.Import, ast.ImportFrom, ast.Assign, ast.FunctionDef)), f"{module.name}:{stmt.lineno}: {ast.unparse(stmt)[:80]}"


def import_and_plan(folder: Path, cwd: Path) -> subprocess.CompletedProcess:
    """Load the compiled catalog in a fresh interpreter and plan an order with it (`om plan`)."""
    code = "import sys; from om_dsl.cli import entry; sys.argv[0] = 'om'; entry()"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-c", code, "plan", str(folder), str(ORDER), "--engine", "generated"], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def imported_version(out: Path) -> str:
    """The package's VERSION, imported in a fresh interpreter, as its repr."""
    code = "import importlib, sys; sys.path.insert(0, sys.argv[1]); print(repr(importlib.import_module('acme').VERSION))"
    done = subprocess.run([sys.executable, "-c", code, str(out)], cwd=out, capture_output=True, text=True, check=True, timeout=300)
    return done.stdout.strip()


# ---- code injection into the generated modules ----------------------------------------------


@pytest.mark.parametrize(
    "version",
    [
        '1"""; {payload}; """',  # ends the package docstring
        "1'''; {payload}; '''",
        "1'; {payload}; '",  # ends a quoted string
        "1\\",  # a backslash escapes the closing quote
    ],
)
def test_a_hostile_version_compiles_to_a_quoted_string(tmp_path, version):
    marker = tmp_path / "pwned"
    version = version.format(payload=payload(marker))
    result = build([str(acme_copy(tmp_path, version))])
    assert result.ok, [d.message for d in result.check.errors]
    out = tmp_path / "generated"
    write(out, result.files())
    only_definitions(out / "acme")
    ran = import_and_plan(out / "acme", tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert not marker.exists()
    assert imported_version(out) == repr(version)


def test_a_spec_file_whose_name_holds_a_newline_and_quotes_compiles_to_comments(tmp_path):
    marker = tmp_path / "pwned"
    specs = acme_copy(tmp_path)
    code = "open('pwned', 'w').close()"  # a file name holds no `/`: the marker is relative to the working directory
    hostile = f"products\n{code}\n#'\"\u2028x.om"
    (specs / "acme" / "products.om").rename(specs / "acme" / hostile)
    result = build([str(specs)])
    assert result.ok, [d.message for d in result.check.errors]
    out = tmp_path / "generated"
    write(out, result.files())
    only_definitions(out / "acme")
    for module in (out / "acme").glob("*.py"):
        assert code not in module.read_text(encoding="utf-8").splitlines(), module.name
    ran = import_and_plan(out / "acme", tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert not marker.exists()


def test_codegen_quotes_even_what_the_checker_would_refuse(tmp_path):
    """Defence in depth: a catalog that never met the checker (a version with line breaks, NUL, a line separator)."""
    marker = tmp_path / "pwned"
    catalog = build([str(ROOT / "specs")]).catalogs[0]
    version = f"1\n{payload(marker)}\r{payload(marker)}\u2028\x00#"
    files = generate(attrs.evolve(catalog, version=version))
    out = tmp_path / "generated"
    write(out, {f"acme/{name}": text for name, text in files.items()})
    only_definitions(out / "acme")
    assert imported_version(out) == repr(version)
    assert not marker.exists()


@pytest.mark.parametrize(
    "header",
    [
        'catalog evil version "1\\nimport os\\n#"',
        'catalog evil version "1\\t2"',
        'catalog evil version "' + "9" * 300 + '"',
    ],
)
def test_the_checker_refuses_a_version_that_is_not_one_line_of_plain_text(write_spec, tmp_path, header):
    write_spec(header + '\ncommercial C "C" root { attr n: int = 1 }\n')
    r = CliRunner().invoke(main, ["compile", ".", "-o", str(tmp_path / "out")])
    assert r.exit_code == 1 and "error[E013]" in r.output, r.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "declaration,what",
    [
        ('commercial C "Home\\nFiber" root { attr n: int = 1 }', "the display name of `C`"),
        ('queue q "Field\\tops"', "the display name of `q`"),
        ('system s "In\\nventory" { operation go() }', "the display name of `s`"),
        ('use "lib\\n.om"', "a `use` path"),
    ],
)
def test_the_checker_refuses_control_characters_in_display_names_and_paths(write_spec, declaration, what):
    write_spec('catalog c version "1"\n' + declaration + "\n")
    result = check_paths(["."])
    assert any(d.code == "E013" and d.message == f"{what} holds a control character" for d in result.errors), [d.message for d in result.diagnostics]


def test_a_validation_message_may_hold_a_line_break(write_spec):
    write_spec('catalog c version "1"\ncommercial C "C" root { attr n: int = 1 }\nvalidate C small { require n < 5 message "too big:\\nat most 4" }\n')
    assert [d.code for d in check_paths(["."]).errors] == []


# ---- specs read only specs, inside their root -----------------------------------------------


SECRET = "SECRET_TOKEN=hunter2"


def spec_folder(tmp_path: Path, use: str) -> Path:
    (tmp_path / "secret.txt").write_text(SECRET + "\n", encoding="utf-8")
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "c.om").write_text(f'catalog c version "1"\nuse {om_string(use)}\n', encoding="utf-8")
    return specs


@pytest.mark.parametrize("use", ["../secret.txt", "{tmp}/secret.txt", "/proc/self/environ", "../../../../../../../../../../etc/passwd"])
def test_a_use_that_leaves_the_root_is_refused_and_never_read(tmp_path, monkeypatch, use):
    monkeypatch.chdir(tmp_path)
    spec_folder(tmp_path, use.format(tmp=tmp_path))
    r = CliRunner().invoke(main, ["check", "specs"])
    assert r.exit_code == 1
    assert "error[E014]" in r.output and "is outside the folders om reads specs from" in r.output
    assert use.format(tmp=tmp_path) in r.output  # names the path
    assert "hunter2" not in r.output and "PATH=" not in r.output and "root:" not in r.output and "Traceback" not in r.output


def test_a_link_to_a_file_outside_the_root_is_refused_and_never_read(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    specs = spec_folder(tmp_path, "lib.om")
    (specs / "lib.om").symlink_to(tmp_path / "secret.txt")
    (specs / "env.om").symlink_to("/proc/self/environ")
    r = CliRunner().invoke(main, ["check", "specs"])
    assert r.exit_code == 1
    # the two links, and the `use` of one of them
    assert r.output.count("error[E014]") == 3 and r.output.count("this file is a link to a file outside") == 2
    assert "hunter2" not in r.output and "PATH=" not in r.output


def test_a_link_inside_the_root_is_read(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    specs = spec_folder(tmp_path, "lib.om")
    (tmp_path / "specs" / "real").mkdir()
    (specs / "real" / "telco.lib").write_text("library telco\n", encoding="utf-8")
    (specs / "lib.om").symlink_to(specs / "real" / "telco.lib")
    assert check_paths(["specs"]).errors == []


def test_the_root_is_the_given_folder_widened_to_its_project(tmp_path, monkeypatch):
    """`om check specs/acme` reads specs/shared inside a project (pyproject.toml or om.toml), not elsewhere."""
    monkeypatch.chdir(tmp_path)
    acme_copy(tmp_path)
    outside = check_paths(["specs/acme"])
    assert [d.code for d in outside.errors][:1] == ["E014"] and "../shared/telco.om" in outside.errors[0].message
    assert check_paths(["specs"]).errors == []
    assert check_paths(["specs/acme", "specs/shared"]).errors == []
    (tmp_path / "om.toml").write_text("", encoding="utf-8")
    assert check_paths(["specs/acme"]).errors == []


def run_om(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """`om` in a child process: a hang would stop the child, not the test session (the timeout is a guard, not an assert)."""
    code = "import sys; from om_dsl.cli import entry; sys.argv[0] = 'om'; entry()"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_fifo_named_om_is_refused_not_waited_on(tmp_path):
    specs = acme_copy(tmp_path)
    os.mkfifo(specs / "acme" / "pipe.om")
    for args in (["check", "specs"], ["compile", "specs", "-o", "out"], ["graph", "specs"], ["plan", "specs", str(ORDER)]):
        done = run_om(args, tmp_path)
        assert done.returncode in (1, 2), (args, done.stdout, done.stderr)
        shown = done.stdout + done.stderr
        assert "error[E005]" in shown and "not a regular file" in shown and "specs/acme/pipe.om" in shown, (args, shown)
        assert "Traceback" not in shown
    assert not (tmp_path / "out").exists()


# ---- numbers and durations ------------------------------------------------------------------

PLAN = """catalog c version "1"
commercial C "C" root {{ attr n: int = {n} }}
technical T "T" cfs {{ attr n: int required }}
decompose d: C -> T {{ n = n }}
system s {{ operation go(n: int) }}
plan T on add {{ callout g = s.go(n) due {due} }}
"""


@pytest.mark.parametrize(
    "n,due,message",
    [
        ("9" * 10_000, "1d", "this number has 10000 digits"),
        ("1." + "5" * 60, "1d", "this number has 61 digits"),
        ("1", "9" * 50 + "d", "this number has 50 digits"),
        ("1", "9" * 30 + "d", f"the duration {'9' * 30}d is longer than a century"),  # was an SQLite OverflowError at `om run`
        ("1", "36501d", "the duration 36501d is longer than a century"),
        ("1", f"{MAX_DURATION_MS + 1}ms", f"the duration {MAX_DURATION_MS + 1}ms is longer than a century"),
    ],
)
def test_numbers_and_durations_past_their_limits_are_diagnostics(write_spec, n, due, message):
    path = write_spec(PLAN.format(n=n, due=due))
    r = CliRunner().invoke(main, ["check", path.name])
    assert r.exit_code == 1, r.output
    assert f"error[E007]: {message}" in r.output and "internal error" not in r.output and "Traceback" not in r.output
    assert "^^^" in r.output  # with a caret under the literal


def test_numbers_and_durations_at_their_limits_are_accepted(write_spec):
    write_spec(PLAN.format(n="9" * 40, due="36500d"))
    assert [d.code for d in check_paths(["."]).errors] == []


def test_the_language_server_reads_no_file_outside_its_workspace(tmp_path):
    from om_dsl.lsp.analysis import check_workspace

    specs = spec_folder(tmp_path, "../secret.txt")
    (specs / "env.om").symlink_to("/proc/self/environ")
    result = check_workspace(specs, {})
    assert [d.code for d in result.errors] == ["E014"], [d.message for d in result.diagnostics]
    assert all("hunter2" not in text and "PATH=" not in text for text in result.sources.values())
    assert not any("hunter2" in d.message or "PATH" in d.message for d in result.diagnostics)


def test_diagnostics_show_control_characters_escaped_never_raw(write_spec, tmp_path):
    """A terminal escape in a spec, a line break in a file name: `om check` shows them escaped, one column each."""
    write_spec('catalog c version "1"\ncommercial C "C" root { attr n: int = "\x1b[2J\x1b]0;owned\x07" }\n', name="a\nerror[E000]: forged.om")
    r = CliRunner().invoke(main, ["check", "."])
    assert r.exit_code == 1 and "error[E301]" in r.output, r.output
    assert "\x1b" not in r.output and "\x07" not in r.output
    assert "\nerror[E000]" not in r.output and "--> a\\nerror[E000]: forged.om:2:" in r.output
    line = next(x for x in r.output.splitlines() if x.startswith("2 | "))
    caret = next(x for x in r.output.splitlines() if "^" in x)
    assert line.index('"\ufffd[2J') == caret.index("^")  # the caret still under the string
