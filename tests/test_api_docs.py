"""docs/api.md's curl examples do what the page says: each `$` line of its
console block runs against a fresh server (the embedded engine, as `om
serve` runs it) and prints what the page shows."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from om_dsl.api.app import PREFIX

from support import ROOT
from support.api_server import TOKENS, Server

CONSOLE = re.compile(r"^```console\n(.*?)^```", re.MULTILINE | re.DOTALL)


def examples() -> list[tuple[str, str]]:
    """(command, what it prints) for each `$` line of docs/api.md."""
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    out = []
    for block in CONSOLE.findall(text):
        for chunk in re.split(r"^\$ ", block, flags=re.MULTILINE)[1:]:
            command, _, printed = chunk.partition("\n")
            out.append((command, printed))
    return out


def test_the_page_has_its_examples():
    assert len(examples()) >= 8


@pytest.mark.skipif(shutil.which("curl") is None, reason="the examples use curl")
def test_the_curl_examples_print_what_the_page_shows(tmp_path, in_repo):
    server = Server(tmp_path)
    try:
        env = {**os.environ, "OM": f"{server.url}{PREFIX}/v4", "TOKEN": TOKENS["admin"], "PYTHONPATH": str(ROOT)}
        for command, printed in examples():
            done = subprocess.run(["bash", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
            assert (done.returncode, done.stdout) == (0, printed), f"$ {command}\n{done.stderr}"
    finally:
        server.close()
