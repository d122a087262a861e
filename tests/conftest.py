"""Fixtures only; the helpers the tests share are in tests/support/."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import PATIENCE_S, ROOT


def pytest_collection_modifyitems(items):
    """Every test that uses the Temporal dev server is marked `temporal`, so
    `pytest -m "not temporal"` runs without one (and no test can forget the mark)."""
    for item in items:
        if "temporal_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.temporal)


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
    """A Temporal development server for the whole session (tests/support/temporal_dev.py)."""
    from support.temporal_dev import DevServer

    server = DevServer(tmp_path_factory.mktemp("temporal"), PATIENCE_S)
    yield server
    server.stop()
