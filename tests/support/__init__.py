"""Helpers shared by the tests (conftest.py keeps only fixtures).

tests/ is on sys.path (pytest's rootdir-relative conftest import), so tests
import these as `from support import ROOT` or `from support.engine_helpers import ...`.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# How long a test waits for a condition (a server up, an order settled, a worker
# ready) before it fails. Generous: the machine may be busy, and a test that
# passes waits only as long as its condition takes. OM_TEST_PATIENCE_S sets it.
PATIENCE_S = float(os.environ.get("OM_TEST_PATIENCE_S", "120"))
