"""How commands find a compiled catalog (a catalog's folder, or a folder of
them such as generated/), and how they refuse a stale one."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from om_dsl.cli import main

from support import ROOT

ORDER = "examples/orders/tv-alone.json"


def om(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_a_folder_of_compiled_catalogs_is_a_source(in_repo):
    whole = om("plan", "generated", ORDER)
    assert whole.exit_code == 0, whole.output
    assert whole.output == om("plan", "generated/acme", ORDER).output
    assert om("plan", "generated", ORDER, "--catalog", "acme").output == whole.output
    assert om("graph", "generated", "--catalog", "acme").exit_code == 0


def test_an_unknown_catalog_of_compiled_output_is_named_with_what_is_there(in_repo):
    r = om("plan", "generated", ORDER, "--catalog", "mobile_sim")
    assert r.exit_code == 2 and "no catalog `mobile_sim` in generated (found: acme, mobile)" in r.output
    r = om("plan", "generated", ORDER, "--catalog", "acmee")
    assert r.exit_code == 2 and "did you mean `acme`?" in r.output
    # a catalog's own folder does not silently ignore --catalog
    r = om("plan", "generated/acme", ORDER, "--catalog", "mobile_sim")
    assert r.exit_code == 2 and "no catalog `mobile_sim` in generated/acme" in r.output


def test_several_compiled_catalogs_need_catalog(in_repo, tmp_path):
    out = tmp_path / "out"
    for name in ("acme", "other"):
        shutil.copytree(ROOT / "generated" / "acme", out / name, ignore=shutil.ignore_patterns("__pycache__"))
    r = om("plan", out, ORDER)
    assert r.exit_code == 2 and "holds 2 compiled catalogs (acme, other); choose one with --catalog" in r.output
    assert om("plan", out, ORDER, "--catalog", "acme").exit_code == 0


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A copy of the specs compiled by `om compile` into generated/, as a project holds them."""
    shutil.copytree(ROOT / "specs", tmp_path / "specs")
    shutil.copytree(ROOT / "examples" / "orders", tmp_path / "orders")
    monkeypatch.chdir(tmp_path)
    r = om("compile", "specs", "-o", "generated")
    assert r.exit_code == 0, r.output
    return tmp_path


def _stale_commands():
    return [
        ("plan", "generated/acme", "orders/tv-alone.json"),
        ("plan", "generated", "orders/tv-alone.json"),
        ("plan", "generated/acme/plan.json", "orders/tv-alone.json"),
        ("plan", "generated/acme", "orders/tv-alone.json", "--engine", "interpreter"),
        ("graph", "generated/acme"),
        ("run", "generated/acme", "orders/tv-alone.json", "--db", "stale.db", "--clock", "simulated"),
        ("resume", "generated/acme", "--db", "om.db"),
        ("simulate", "serve", "generated/acme", "--port", "0"),
    ]


def test_a_compiled_catalog_whose_specs_changed_is_refused(project):
    assert om("run", "generated/acme", "orders/tv-alone.json", "--db", "om.db", "--clock", "simulated", "-q").exit_code == 0
    spec = project / "specs" / "acme" / "products.om"
    spec.write_text(spec.read_text(encoding="utf-8").replace("Home Fiber", "Home Fibre"), encoding="utf-8")
    for args in _stale_commands():
        r = om(*args)
        assert r.exit_code == 2, (args, r.output)
        assert "generated/acme is stale: specs/acme/products.om changed since it was compiled; run `om compile specs -o generated`" in r.output, args
    assert not (project / "stale.db").exists()  # nothing was run on the old plan
    assert om("compile", "specs", "-o", "generated").exit_code == 0
    assert om("plan", "generated/acme", "orders/tv-alone.json").exit_code == 0


def test_a_removed_spec_file_makes_it_stale_too(project):
    (project / "specs" / "acme" / "plans_delete.om").unlink()
    r = om("plan", "generated/acme", "orders/tv-alone.json")
    assert r.exit_code == 2 and "specs/acme/plans_delete.om changed since it was compiled" in r.output


def test_line_ends_and_a_byte_order_mark_are_not_a_change(project):
    spec = project / "specs" / "acme" / "products.om"
    spec.write_bytes(b"\xef\xbb\xbf" + spec.read_bytes().replace(b"\n", b"\r\n"))
    assert om("plan", "generated/acme", "orders/tv-alone.json").exit_code == 0


def test_a_compiled_catalog_without_its_specs_is_not_checkable_and_runs(project, tmp_path):
    deployed = tmp_path / "deploy" / "catalogs"
    shutil.copytree(project / "generated", deployed)
    shutil.rmtree(project / "specs")
    r = om("plan", deployed / "acme", "orders/tv-alone.json")
    assert r.exit_code == 0, r.output
    assert om("plan", "generated", "orders/tv-alone.json").exit_code == 0


def test_the_committed_generated_folder_records_where_its_specs_are():
    import json

    sources = json.loads((ROOT / "generated" / "acme" / "sources.json").read_text(encoding="utf-8"))
    assert sources["root"] == "../../specs"
    from om_dsl.rules.generated import changed_sources

    assert changed_sources(ROOT / "generated" / "acme") == []


def test_one_process_loads_each_projects_own_compiled_catalog(tmp_path, monkeypatch):
    """The same relative path in two working directories names two catalogs: each
    load takes its own folder's modules (the import system caches a finder per path
    string, so a relative package path found the first folder's planner.py)."""
    for project, name in (("a", "Home Fiber A"), ("b", "Home Fiber B")):
        folder = tmp_path / project
        shutil.copytree(ROOT / "specs", folder / "specs")
        spec = folder / "specs" / "acme" / "products.om"
        spec.write_text(spec.read_text(encoding="utf-8").replace("Home Fiber", name), encoding="utf-8")
        monkeypatch.chdir(folder)
        assert om("compile", "specs", "-o", "generated", "--no-cache").exit_code == 0
        r = om("plan", "generated/acme", ROOT / ORDER)
        assert r.exit_code == 0, r.output  # b's, before the fix: "generated/acme/planner.py was not generated from its plan.json"
