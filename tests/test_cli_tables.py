"""Text tables in the CLI are as wide as their content: a long product code
once pushed the columns of `om assets list --inventory` out of line."""

from __future__ import annotations

import re
import shutil

from click.testing import CliRunner

from om_dsl.cli import main
from om_dsl.table import table

from support import ROOT

LONG = "FIBER_ACCESS_CUSTOMER_FACING_SERVICE"


def om(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def _column_starts(lines: list[str]) -> set[tuple]:
    """Where each column after the first starts, per line (columns are split by two or more spaces)."""
    return {tuple(m.end() for m in re.finditer(r"\S  +", line))[:3] for line in lines}


def test_the_helper_pads_to_the_widest_cell():
    assert table([("a", "bb", "c"), ("aaaa", None, "")]) == ["a     bb  c", "aaaa  -"]
    assert table([]) == []


def test_inventory_columns_stay_in_line_with_long_product_codes(tmp_path, monkeypatch):
    specs = tmp_path / "specs"
    shutil.copytree(ROOT / "specs", specs, ignore=shutil.ignore_patterns("mobile"))  # acme alone: `om run specs` takes one catalog
    for f in specs.rglob("*.om"):
        f.write_text(f.read_text(encoding="utf-8").replace("FIBER_ACCESS_CFS", LONG), encoding="utf-8")
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    db = ["--db", "om.db", "--clock", "simulated", "--start", "2026-11-27", "--tasks-path", "examples"]
    assert om("run", "specs", "examples/orders/fiber-minimal.json", "-q", *db).exit_code == 0
    assert om("tasks", "complete", "ORD-1004", "1/D1:install_visit", "-q", *db).exit_code == 0
    lines = om("assets", "list", "--inventory", "--db", "om.db").stdout.splitlines()
    assert any(LONG in line for line in lines) and len(lines) == 4
    assert len(_column_starts(lines)) == 1, lines
    lines = om("assets", "list", "--db", "om.db").stdout.splitlines()
    assert len(_column_starts(lines)) == 1, lines
