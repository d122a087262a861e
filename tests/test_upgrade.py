"""A database written by an older om still runs: the fixture tests/fixtures/upgrade/om.db
(see make.py there: which commit wrote it, and what it holds) is copied, opened by the
current code, resumed, and its manual tasks completed; every unfinished order must
complete, and its assets be recorded. This guards every change to how the store keeps
things (the store split by concern, typed commands, migrations)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from om_dsl.cli import main

FIXTURE = Path(__file__).parent / "fixtures" / "upgrade"
UNFINISHED = {"ORD-1001", "ORD-1003", "ORD-1004", "ORD-1005"}
WAITING_FOR_A_PERSON = ["ORD-1001", "ORD-1003", "ORD-1004"]


def om(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def statuses(db) -> dict:
    r = om("orders", "list", "--db", db, "--format", "json")
    assert r.exit_code == 0, r.output
    return {o["id"]: o["status"] for o in json.loads(r.stdout)}


def test_an_older_database_finishes_its_orders(tmp_path, in_repo):
    for name in ("om.db", "om.systems.db"):
        shutil.copy(FIXTURE / name, tmp_path / name)
    db = tmp_path / "om.db"
    from om_dsl.embedded.store import Store

    Store(str(db), create=False).close()  # opened by the current code: migrated (read-only commands refuse an older schema)
    before = statuses(db)
    assert {o for o, s in before.items() if s == "inProgress"} == UNFINISHED
    assert before["ORD-1002"] == "completed"
    assets_before = json.loads(om("assets", "list", "--db", db, "--format", "json").stdout)
    assert {a["customer"] for a in assets_before} == {"ACC-57"}

    r = om("resume", "--db", db, "--tasks-path", "examples", "-q")  # runs ORD-1005's commands left in the outbox
    assert r.exit_code == 0, r.output
    assert statuses(db)["ORD-1005"] == "completed"
    listed = om("tasks", "list", "--db", db).stdout
    assert [line.split()[0] for line in listed.splitlines()] == WAITING_FOR_A_PERSON

    for order_id in WAITING_FOR_A_PERSON:
        r = om("tasks", "complete", order_id, "1/D1:install_visit", "--by", "tech", "-q", "--db", db, "--tasks-path", "examples")
        assert (r.exit_code, r.stdout) == (0, f"order {order_id}: completed\n"), r.output

    assert set(statuses(db).values()) == {"completed"}
    assert om("tasks", "list", "--db", db).stdout == "no open manual tasks\n"
    assets = json.loads(om("assets", "list", "--db", db, "--format", "json").stdout)
    assert {a["customer"] for a in assets} == {"ACC-42", "ACC-57", "ACC-61", "ACC-73"}
    assert len(assets) > len(assets_before)


def test_no_sql_of_the_store_outside_it():
    """Every query of the store's tables is a method of om_dsl/embedded/store/: the
    runner and the CLI ask the store (so a change of schema is made in one place)."""
    import re

    from om_dsl.embedded.store.schema import _TABLES

    root = Path(__file__).resolve().parents[1] / "om_dsl"
    store = root / "embedded" / "store"
    pattern = re.compile(r"\b(?:FROM|INTO|UPDATE|JOIN)\s+(" + "|".join(sorted(_TABLES)) + r")\b")
    found = [
        f"{path.relative_to(root)}:{n}: {m.group(0)}"
        for path in sorted(root.rglob("*.py"))
        if store not in path.parents
        for n, line in enumerate(path.read_text().splitlines(), 1)
        for m in [pattern.search(line)]
        if m
    ]
    assert found == []
