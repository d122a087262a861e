"""Fixtures, and the markers each test gets by what it needs; the helpers the tests share are in tests/support/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from support import PATIENCE_S, ROOT


@pytest.fixture(autouse=True, scope="session")
def _compile_cache(tmp_path_factory):
    """`om compile`'s cache (om_dsl/check/cache.py) in a folder of this run, never the user's ~/.cache."""
    os.environ["OM_CACHE_DIR"] = str(tmp_path_factory.mktemp("om-cache"))


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


# Markers by what a test needs, decided here so that no test can forget its own:
# `temporal` for every test that reaches the Temporal development server (through
# the fixture, or as the `temporal` engine of a scenario), `slow` for those listed.
SLOW = {
    "tests/test_fuzz.py::test_mutated_specs",
    "tests/test_init.py::test_the_readme_setup_commands_work_in_a_fresh_venv",
    "tests/test_bench.py::test_every_benchmark_runs_at_its_smallest_size",
    "tests/test_differential.py::test_any_document_is_planned_or_rejected_never_a_crash",
    "tests/test_hostile_specs.py::test_a_fifo_named_om_is_refused_not_waited_on",
    "tests/test_console_browser.py::test_an_operator_takes_the_demo_to_completed_with_only_a_browser",
    "tests/test_console_browser.py::test_the_main_actions_work_by_keyboard_alone",
    "tests/test_console_browser.py::test_the_screenshot_script_writes_every_page",
    "tests/test_console_browser.py::test_an_operator_brings_an_offline_system_online_and_the_call_it_held_goes_out",
}


# Tests that start a Temporal server of their own.
TEMPORAL_OF_THEIR_OWN = {"tests/test_bench.py::test_every_benchmark_runs_at_its_smallest_size"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if "temporal_server" in item.fixturenames or "temporal" in params.values() or item.path.name.startswith("test_temporal_") or item.nodeid in TEMPORAL_OF_THEIR_OWN:
            item.add_marker(pytest.mark.temporal)
        if item.nodeid.split("[")[0] in SLOW or item.path.name == "test_crash.py":
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def every_event_is_tmf622(monkeypatch):
    """Every order event the suite sends (`om_dsl.tmf622.events.render`, which
    both engines call) and every ProductOrder resource of an order that ran
    (`resource.product_order`) is checked against TMF622's official schema of
    its version (v5's events carry `@baseType`, its resources `creationDate`).
    A problem is collected, not raised (an exception inside a Temporal
    workflow would retry, not fail), and fails the test at its end."""
    from om_dsl.tmf622 import events, resource

    from support.tmf622_schemas import event_problems, problems

    render, product_order, bad = events.render, resource.product_order, []

    def checked_event(*args, **kwargs):
        out = render(*args, **kwargs)
        found = event_problems(out, "v5" if out.get("@baseType") else "v4")
        if found:
            bad.append((out.get("eventId"), found[:3]))
        return out

    def checked_resource(*args, **kwargs):
        out = product_order(*args, **kwargs)
        found = problems(out, "v5" if "creationDate" in out else "v4", "ProductOrder")
        if found:
            bad.append((out.get("id"), found[:3]))
        return out

    monkeypatch.setattr(events, "render", checked_event)
    monkeypatch.setattr(resource, "product_order", checked_resource)
    yield
    assert bad == [], f"events or resources that break TMF622's schema: {bad[:5]}"


@pytest.fixture(scope="session")
def short_acme(tmp_path_factory):
    """The Acme catalog with short timers, compiled once (tests/support/scenario_engines.py)."""
    from support.scenario_engines import compile_short_acme

    return compile_short_acme(tmp_path_factory.mktemp("short-acme"))


@pytest.fixture
def engine_catalog(short_acme):
    """The compiled catalog `make_engine` runs; a module overrides it to run another (tests/test_mobile.py)."""
    return short_acme


@pytest.fixture(params=["embedded", pytest.param("temporal", marks=pytest.mark.temporal)])
def make_engine(request, tmp_path, engine_catalog):
    """make_engine(fail={"system.operation": n}) -> a driver on each engine; closed after the test."""
    from support.scenario_engines import Embedded, OnTemporal

    made = []

    def make(fail=None):
        if request.param == "embedded":
            engine = Embedded(tmp_path, engine_catalog, dict(fail or {}))
        else:
            engine = OnTemporal(tmp_path, engine_catalog, dict(fail or {}), request.getfixturevalue("temporal_server"))
        made.append(engine)
        return engine

    yield make
    for engine in made:
        engine.close()
