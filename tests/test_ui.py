"""UI tests: each invalid spec in tests/ui/ next to its rendered diagnostics.

The expected output is a syrupy snapshot (tests/__snapshots__/test_ui.ambr).
After a deliberate change: `python -m pytest tests/test_ui.py --snapshot-update`,
then read the diff before committing it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from om_dsl.check import check_paths
from om_dsl.diagnostics.codes import CODES
from om_dsl.diagnostics.render import render_text

UI = Path(__file__).parent / "ui"
CASES = sorted(p.name for p in UI.glob("*.om"))


@pytest.mark.parametrize("name", CASES)
def test_ui(name, in_repo, snapshot):
    result = check_paths([f"tests/ui/{name}"])
    expected_code = name.split("_", 1)[0]
    codes = {d.code for d in result.diagnostics}
    assert expected_code in codes, f"{name} should report {expected_code}, got {sorted(codes)}"
    assert render_text(result.diagnostics, result.sources) == snapshot


def test_every_code_has_a_ui_case():
    covered = {name.split("_", 1)[0] for name in CASES}
    assert set(CODES) - covered == set()
