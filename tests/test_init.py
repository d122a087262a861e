"""`om init`: a new spec project that checks, compiles and passes its own
tests as created."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import om_dsl.build  # loaded out here, so that the pytester runs below reuse it
import om_dsl.cli.init  # registers `om init` on om_dsl.cli.main
import om_dsl.testing.snapshot  # noqa: F401
from om_dsl.cli import main
from om_dsl.cli.install import requirement
from om_dsl.scaffold import render

pytest_plugins = ["pytester"]

# The plugin by module name (the entry point may not be installed); without
# hypothesis's plugin, which would import hypothesis again in every run.
PLUGIN = ("-p", "om_dsl.testing", "-p", "no:hypothesispytest")

FILES = [
    ".github/workflows/specs.yml",
    ".gitignore",
    "README.md",
    "generated/home_net/__init__.py",
    "generated/home_net/decomposition.py",
    "generated/home_net/enrichment.py",
    "generated/home_net/plan.json",
    "generated/home_net/planner.py",
    "generated/home_net/plans.py",
    "generated/home_net/sources.json",
    "generated/home_net/validation.py",
    "orders/example.json",
    "pyproject.toml",
    "requirements.txt",
    "specs/home_net/catalog.om",
    "tests/__snapshots__/test_plans/test_plan[example.json].plan",
    "tests/test_plans.py",
]


def om(*args):
    return CliRunner().invoke(main, list(args))


def tree(folder) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8") for p in sorted(folder.rglob("*")) if p.is_file() and "__pycache__" not in p.parts and ".pytest_cache" not in p.parts}


@pytest.fixture
def project(pytester, monkeypatch):
    """`om init home_net` in an empty folder; the working directory is the new project."""
    result = om("init", "home_net", "--directory", str(pytester.path))
    assert result.exit_code == 0, result.output
    folder = pytester.path / "home_net"
    assert result.output.startswith(f"created {folder.as_posix()}/ ({len(FILES)} files):\n")
    monkeypatch.chdir(folder)
    return folder


def test_init_creates_the_project(project):
    files = tree(project)
    assert sorted(files) == FILES
    assert files["specs/home_net/catalog.om"].count('catalog home_net version "0.1.0"') == 1
    for kind in ("commercial", "attr", "technical", "decompose", "system", "operation", "plan", "callout"):
        assert re.search(rf"^ *{kind} ", files["specs/home_net/catalog.om"], re.MULTILINE), kind
    assert json.loads(files["orders/example.json"])["productOrderItem"][0]["productOffering"] == {"id": "INTERNET"}
    assert "from om_dsl.testing import OmPlanExtension" in files["tests/test_plans.py"]
    assert "om-dsl>=" in files["requirements.txt"] and "[test]" not in files["requirements.txt"]
    assert 'om_specs = "specs"' in files["pyproject.toml"]
    workflow = files[".github/workflows/specs.yml"]
    for command in ("om check --deny-warnings specs", "om compile specs -o generated --check", "python -m pytest"):
        assert f"- run: {command}\n" in workflow
        assert command in files["README.md"]
    assert not re.search(r"(?<!\$)\{\{", "".join(files.values())) and "__name__" not in "".join(files)  # ${{ }} is GitHub's


def test_the_project_checks_and_compiles(project):
    result = om("check", "--deny-warnings", "specs")
    assert result.exit_code == 0, result.output
    assert result.output == "check ok: 1 file, `home_net`; 0 errors, 0 warnings\n"
    # generated/ was compiled by om init, from the project folder's point of view.
    result = om("compile", "specs", "-o", "generated", "--check")
    assert result.exit_code == 0, result.output
    assert result.output == "generated is up to date (home_net 0.1.0)\n"
    result = om("compile", "specs", "-o", "generated")
    assert result.exit_code == 0, result.output
    assert result.output == "compiled home_net 0.1.0 -> generated: 8 files, 0 written\n"


def test_the_snapshot_is_what_om_plan_prints(project):
    snapshot = (project / "tests/__snapshots__/test_plans/test_plan[example.json].plan").read_text(encoding="utf-8")
    for source in ("specs", "generated/home_net"):
        result = om("plan", source, "orders/example.json")
        assert result.exit_code == 0, result.output
        assert result.output == snapshot
    assert "1/internet_access  ACCESS_CFS  add" in snapshot and "network.activate_line" in snapshot


def test_the_project_passes_its_own_tests(project, pytester):
    before = tree(project)
    result = pytester.runpytest(*PLUGIN)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*1 snapshot passed*"])
    assert result.ret == 0
    # The shipped snapshot is exactly what the test makes of the order: updating changes nothing.
    result = pytester.runpytest(*PLUGIN, "--snapshot-update")
    result.assert_outcomes(passed=2)
    result.stdout.re_match_lines([r"^1 snapshot passed\.$"])  # and nothing generated, updated or deleted
    assert tree(project) == before

    # A new order: its snapshot is missing until --snapshot-update writes it.
    doc = json.loads((project / "orders/example.json").read_text(encoding="utf-8"))
    doc["id"] = "ORD-0002"
    doc["productOrderItem"][0]["product"]["productCharacteristic"][0]["value"] = 1000
    (project / "orders/fast.json").write_text(json.dumps(doc, indent=2), encoding="utf-8")
    pytester.runpytest(*PLUGIN).assert_outcomes(passed=2, failed=1)
    pytester.runpytest(*PLUGIN, "--snapshot-update").assert_outcomes(passed=3)
    assert "down_mbps = 1000" in (project / "tests/__snapshots__/test_plans/test_plan[fast.json].plan").read_text(encoding="utf-8")

    # A rule changes: the plans it changes fail.
    spec = project / "specs/home_net/catalog.om"
    spec.write_text(spec.read_text(encoding="utf-8").replace("    after reserve_port\n", ""), encoding="utf-8")
    result = pytester.runpytest(*PLUGIN)
    result.assert_outcomes(passed=1, failed=2)


def test_the_project_passes_its_tests_in_a_fresh_python(project, pytester):
    result = pytester.runpytest_subprocess(*PLUGIN)
    result.assert_outcomes(passed=2)


def test_an_existing_folder(pytester):
    (pytester.path / "empty").mkdir()
    assert om("init", "empty", "--directory", str(pytester.path)).exit_code == 0
    result = om("init", "empty", "--directory", str(pytester.path))
    assert result.exit_code == 2
    assert "already exists and is not an empty folder" in result.output
    (pytester.path / "taken").write_text("a file", encoding="utf-8")
    assert om("init", "taken", "--directory", str(pytester.path)).exit_code == 2
    assert (pytester.path / "taken").read_text(encoding="utf-8") == "a file"


@pytest.mark.parametrize("name", ["Acme", "home-net", "1st", "_acme", "acme_", "home__net", "home net", ""])
def test_the_name_must_be_lower_snake_case(pytester, name):
    result = om("init", name, "--directory", str(pytester.path))
    assert result.exit_code == 2, result.output
    assert "lower_snake_case" in result.output
    assert list(pytester.path.iterdir()) == []


def test_the_template_renders_for_any_name():
    files = render("a1_b2")
    assert "specs/a1_b2/catalog.om" in files
    assert files["specs/a1_b2/catalog.om"].count("catalog a1_b2 ") == 1


# ---- docs/init.md shows what om init does -----------------------------------------------

DOC = Path(__file__).resolve().parents[1] / "docs" / "init.md"
DOC_BLOCK = re.compile(r"^```(?P<lang>[a-z]*)\n(?P<text>.*?)^```", re.MULTILINE | re.DOTALL)


def doc_block(lang: str, starting: str) -> str:
    (text,) = [m.group("text") for m in DOC_BLOCK.finditer(DOC.read_text(encoding="utf-8")) if m.group("lang") == lang and m.group("text").startswith(starting)]
    return text


def test_the_docs_show_what_om_init_makes(pytester, monkeypatch):
    monkeypatch.chdir(pytester.path)
    result = om("init", "home_net")
    assert result.exit_code == 0
    shown = result.output.replace(f"OM_DSL={shlex.quote(requirement(here=False))} ", "OM_DSL=/path/to/om-dsl ")
    assert "$ om init home_net\n" + shown == doc_block("text", "$ om init home_net\n")
    project = pytester.path / "home_net"
    assert doc_block("om", "# The home_net catalog") == (project / "specs/home_net/catalog.om").read_text(encoding="utf-8")
    assert doc_block("text", "order ORD-0001") == (project / "tests/__snapshots__/test_plans/test_plan[example.json].plan").read_text(encoding="utf-8")
    table = DOC.read_text(encoding="utf-8")
    for rel in FILES:
        shown = "generated/NAME/" if rel.startswith("generated/") else rel.replace("home_net", "NAME")
        assert f"| `{shown}` |" in table, shown


# ---- setting the project up as its README says ---------------------------------------------


def _readme_block(readme: str, heading: str) -> str:
    section = readme.split(heading, 1)[1]
    return section.split("```sh\n", 1)[1].split("```", 1)[0]


def test_the_readme_table_fits_the_name(pytester):
    for name in ("x", "a_rather_long_catalog_name"):
        readme = render(name)["README.md"]
        rows = readme.split("```text\n", 1)[1].split("```", 1)[0].splitlines()
        starts = {len(r) - len(r.split("  ", 1)[1].lstrip()) for r in rows}
        assert len(rows) == 6 and len(starts) == 1, rows  # the second column starts at one place


def test_every_requirement_resolves_against_what_is_installed(project):
    from importlib import metadata

    from packaging.requirements import Requirement

    for line in (project / "requirements.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            req = Requirement(line)
            assert not req.url and not req.extras, line  # nothing an index must have beyond pytest and syrupy
            assert req.specifier.contains(metadata.version(req.name), prereleases=True), line


@pytest.mark.slow
def test_the_readme_setup_commands_work_in_a_fresh_venv(project, tmp_path):
    """The README's "Setting up" commands, run as written (in a new virtual
    environment, with OM_DSL as `om init` prints it), then its check and tests."""
    readme = (project / "README.md").read_text(encoding="utf-8")
    setup = _readme_block(readme, "## Setting up")
    assert 'python -m pip install "$OM_DSL"' in setup and "python -m pip install -r requirements.txt" in setup
    script = "set -e\n" + setup + "om check --deny-warnings specs\nom compile specs -o generated --check\npython -m pytest -q -p no:cacheprovider\n"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["OM_DSL"] = requirement(here=False)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(sys.prefix))
    # `python -m venv` in the script uses the first python on PATH: make it this one's base interpreter.
    base = tmp_path / "base"
    base.mkdir()
    (base / "python").symlink_to(Path(sys._base_executable))
    env["PATH"] = str(base) + os.pathsep + env["PATH"]
    r = subprocess.run(["sh", "-c", script], cwd=project, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "check ok" in r.stdout and "2 passed" in r.stdout
