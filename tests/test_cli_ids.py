"""Ids an operator types (orders, tasks) that are not there: the message says
so and names the closest one, as `om check` does for product codes."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from om_dsl.cli import main

CATALOG = "generated/acme"
FIBER_MINIMAL = "examples/orders/fiber-minimal.json"  # ORD-1004: a manual install_visit
CLOCK = ["--clock", "simulated", "--start", "2026-11-27", "--tasks-path", "examples"]


def om(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def db(tmp_path, in_repo):
    path = str(tmp_path / "om.db")
    assert om("run", CATALOG, FIBER_MINIMAL, "-q", "--db", path, *CLOCK).exit_code == 0
    return path


@pytest.mark.parametrize(
    "command",
    [
        ["tasks", "complete", "ORD-1004", "1/D1:instal_visit"],
        ["tasks", "retry", "ORD-1004", "1/D1:instal_visit"],
        ["tasks", "skip", "ORD-1004", "1/D1:instal_visit", "--reason", "not needed"],
    ],
)
def test_a_mistyped_task_id_gets_a_hint(db, command):
    r = om(*command, "--db", db, *CLOCK)
    assert r.exit_code == 1
    assert r.stderr == "Error: order ORD-1004 has no task 1/D1:instal_visit; did you mean `1/D1:install_visit`?\n"


def test_a_task_id_like_none_gets_no_hint(db):
    r = om("tasks", "complete", "ORD-1004", "zzzzzz", "--db", db, *CLOCK)
    assert (r.exit_code, r.stderr) == (1, "Error: order ORD-1004 has no task zzzzzz\n")


@pytest.mark.parametrize(
    "command",
    [
        ["orders", "show", "ORD-104"],
        ["orders", "history", "ORD-104"],
        ["orders", "cancel", "ORD-104", *CLOCK],
        ["orders", "resume", "ORD-104", *CLOCK],
        ["orders", "amend", "ORD-104", FIBER_MINIMAL, *CLOCK],
        ["tasks", "complete", "ORD-104", "1/D1:install_visit", *CLOCK],
        ["tasks", "retry", "ORD-104", "1/D1:install_visit", *CLOCK],
        ["tasks", "skip", "ORD-104", "1/D1:install_visit", "--reason", "x", *CLOCK],
    ],
)
def test_a_mistyped_order_id_gets_a_hint(db, command):
    r = om(*command, "--db", db)
    assert r.exit_code == 2, r.output
    assert f"Error: no order ORD-104 in {db}; did you mean ORD-1004?" in r.stderr
