"""examples/run-acme.sh, the main job the README's first command runs (docs/running.md):
on a copy of the repository, with the installed `om`, it exits 0 and shows what the page says."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support import ROOT


@pytest.mark.slow
def test_the_demo_script_runs_the_example_orders_and_the_api(tmp_path):
    for part in ("examples", "generated", "specs"):
        shutil.copytree(ROOT / part, tmp_path / part)
    scripts = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": scripts + os.pathsep + os.environ.get("PATH", "")}
    for name in ("OM_DB", "OM_CONFIG", "OM_ENGINE", "OM_API_TOKEN"):
        env.pop(name, None)
    done = subprocess.run(["sh", str(tmp_path / "examples" / "run-acme.sh")], capture_output=True, text=True, env=env, timeout=240)
    out = done.stdout
    assert done.returncode == 0, out[-3000:] + done.stderr[-3000:]
    assert "order ORD-1107 rejected" in done.stderr  # the invalid example, with its rule
    assert "validation:VOICE_LINE.port_in_requires_number" in done.stderr
    assert all(re.search(rf"ORD-{n}\s+completed", out) for n in (1001, 1002, 1003, 5001)), out
    assert re.search(r"reserve_port\s+running -> failed\s+.*simulated by fault fail:2", out), out  # the inventory's retries
    assert re.search(r"AST-ORD-1001-1\s+HOME_FIBER\s+active", out), out
    # ORD-5001 over the TMF622 API: POSTed, followed with GET, its events through /hub
    assert "POST /productOrder -> 201 ORD-5001" in out and "GET ORD-5001 -> completed, items ['completed']" in out, out
    assert out.rstrip().endswith("ProductOrderStateChangeEvent: completed"), out
    assert {p.name for p in (tmp_path / "demo").iterdir()} >= {"om.db", "om.toml", "systems.db", "events.jsonl"}  # all under demo/
