"""docs/tutorial.md does what it says: a new project from `om init`, the
catalog, task code and orders the page shows, and every `$ om ...` line
printing exactly the output shown under it."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

from click.testing import CliRunner

from om_dsl.cli import main

ROOT = Path(__file__).resolve().parents[1]
PAGE = (ROOT / "docs" / "tutorial.md").read_text(encoding="utf-8")
CATALOG = re.findall(r"^```om\n(.*?)^```", PAGE, re.MULTILINE | re.DOTALL)
TASK_FILES = re.findall(r"^```python\n# (home_net_tasks/\S+\.py)\n(.*?)^```", PAGE, re.MULTILINE | re.DOTALL)
ORDERS = re.findall(r"[Ww]rite `(orders/[\w-]+\.json)`:\n\n```json\n(.*?)^```", PAGE, re.MULTILINE | re.DOTALL)
SESSIONS = re.findall(r"^```text\n(.*?)^```", PAGE, re.MULTILINE | re.DOTALL)


def om(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def runs() -> list[tuple[str, str]]:
    out = []
    for block in SESSIONS:
        for part in re.split(r"^\$ ", block, flags=re.MULTILINE)[1:]:
            command, _, shown = part.partition("\n")
            out.append((command, shown))
    return out


def test_the_page_shows_a_whole_project():
    assert len(CATALOG) == 1 and len(TASK_FILES) == 2 and len(ORDERS) == 2
    assert len(runs()) >= 10
    assert "--tasks-path" not in PAGE  # the task code ships with the catalog


def test_the_tutorial_runs_as_written(tmp_path):
    assert om("init", "home_net", "--directory", str(tmp_path)).exit_code == 0
    project = tmp_path / "home_net"
    (project / "specs" / "home_net" / "catalog.om").write_text(CATALOG[0], encoding="utf-8")
    for name, text in TASK_FILES:
        path = project / "specs" / "home_net" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for name, text in ORDERS:
        (project / name).write_text(text, encoding="utf-8")
    old = os.getcwd()
    os.chdir(project)
    try:
        for command, shown in runs():
            argv = shlex.split(command)
            assert argv[0] == "om"
            r = om(*argv[1:])
            assert (r.exit_code, r.stdout) == (0, shown), command
    finally:
        os.chdir(old)
