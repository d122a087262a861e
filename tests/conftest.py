from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# How long a test waits for a condition (a server up, an order settled, a worker
# ready) before it fails. Generous: the machine may be busy, and a test that
# passes waits only as long as its condition takes. OM_TEST_PATIENCE_S sets it.
PATIENCE_S = float(os.environ.get("OM_TEST_PATIENCE_S", "120"))


@pytest.fixture
def in_repo(monkeypatch):
    """Run with the repository as working directory, so diagnostics show relative paths."""
    monkeypatch.chdir(ROOT)
    return ROOT


@pytest.fixture
def write_spec(tmp_path, monkeypatch):
    """Write .om files into a temp folder (working directory), return its path."""
    monkeypatch.chdir(tmp_path)

    def write(text: str, name: str = "spec.om") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture(scope="session")
def temporal_server(tmp_path_factory):
    """A Temporal development server for the whole session (tests/temporal_dev.py)."""
    from temporal_dev import DevServer

    server = DevServer(tmp_path_factory.mktemp("temporal"), PATIENCE_S)
    yield server
    server.stop()
