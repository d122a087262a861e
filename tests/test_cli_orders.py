"""`om run`, `om resume`, `om orders`, `om tasks`, `om assets`: orders on the
embedded engine (SQLite), against the simulated systems, with a simulated
clock so that waits and retries take no time.

Every command gets its own database under tmp_path, and runs from the
repository root (the `in_repo` fixture)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from om_dsl.cli import main

CATALOG = "generated/acme"
TV_ALONE = "examples/orders/tv-alone.json"
EVERY_OPTION = "examples/orders/new-fiber-every-option.json"
SPEED_NOT_ALLOWED = "examples/orders/invalid-speed-not-allowed.json"
MALFORMED = "examples/orders/invalid-malformed-json.json"
CLOCK = ["--clock", "simulated", "--start", "2026-11-27", "--tasks-path", "examples"]


@pytest.fixture
def db(tmp_path, in_repo):
    return str(tmp_path / "om.db")


def om(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def run_orders(db, *orders, extra=()):
    return om("run", CATALOG, *orders, "--db", db, *CLOCK, *extra)


def as_json(result):
    return json.loads(result.stdout)


# ---- a simple order runs to completion -----------------------------------------------------------------


def test_run_completes_an_order_and_every_view_shows_it(db, tmp_path, in_repo):
    r = run_orders(db, TV_ALONE)
    assert r.exit_code == 0, r.output
    assert r.stdout == "order ORD-1002: completed\n"
    # progress goes to stderr, one line per transition
    assert "ORD-1002  order                        acknowledged -> inProgress" in r.stderr
    assert "inProgress -> completed      every task is completed or skipped" in r.stderr
    assert (tmp_path / "om.db").is_file() and (tmp_path / "om.systems.db").is_file()

    show = om("orders", "show", "ORD-1002", "--db", db)
    assert show.exit_code == 0, show.output
    lines = show.stdout.splitlines()
    assert lines[0] == "order ORD-1002: completed  (customer ACC-57, external id CPQ-88240)"
    assert sorted(l.split()[0] for l in lines[1:]) == ["1/D7:activate_iptv", "1/D8#1:ship_device", "order/D9:start_billing"]
    assert all(l.split()[1:] == ["callout", "completed"] for l in lines[1:])

    data = as_json(om("orders", "show", "ORD-1002", "--db", db, "--format", "json"))
    assert data["id"] == "ORD-1002" and data["status"] == "completed"
    assert data["customer"] == "ACC-57" and data["external_id"] == "CPQ-88240"
    assert data["created_at"] == "2026-11-27T00:00:00Z"
    assert len(data["catalog"]) == 64
    tasks = {t["id"]: t for t in data["tasks"]}
    assert set(tasks) == {"1/D7:activate_iptv", "1/D8#1:ship_device", "order/D9:start_billing"}
    assert all(t["status"] == "completed" and t["attempts"] == 1 and "waiting_for" not in t for t in tasks.values())
    assert tasks["1/D8#1:ship_device"]["outputs"] == {"shipment_id": "SHP-000001"}

    history = om("orders", "history", "ORD-1002", "--db", db)
    assert history.exit_code == 0
    assert history.stdout.splitlines()[0].split() == ["2026-11-27T00:00:00Z", "order", "-", "->", "acknowledged", "order", "accepted"]
    assert "skipped at planning: when order.requested_start_date is not null is false" in history.stdout
    assert "line attributes set: shipment_id" in history.stdout
    events = as_json(om("orders", "history", "ORD-1002", "--db", db, "--format", "json"))
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    assert events[0] == {"seq": events[0]["seq"], "at": "2026-11-27T00:00:00Z", "subject": "order", "from": None, "to": "acknowledged", "cause": "order accepted"}
    assert events[-1]["subject"] == "order" and (events[-1]["from"], events[-1]["to"]) == ("inProgress", "completed")

    listing = om("orders", "list", "--db", db)
    assert listing.stdout.split() == ["ORD-1002", "completed", "ACC-57", "2026-11-27T00:00:00Z"]
    assert as_json(om("orders", "list", "--db", db, "--format", "json")) == [
        {"id": "ORD-1002", "status": "completed", "customer": "ACC-57", "external_id": "CPQ-88240", "created_at": "2026-11-27T00:00:00Z", "updated_at": "2026-11-27T00:00:00Z", "jeopardy": None}
    ]
    assert as_json(om("orders", "list", "--db", db, "--status", "inProgress", "--format", "json")) == []

    assets = om("assets", "list", "--db", db)
    assert assets.exit_code == 0
    assert assets.stdout.split() == ["AST-ORD-1002-1", "TV_PACKAGE", "active", "package=basic,", "set_top_boxes=1"]
    assert as_json(om("assets", "list", "--db", db, "--format", "json")) == [
        {"id": "AST-ORD-1002-1", "customer": "ACC-57", "product": "TV_PACKAGE", "attributes": {"package": "basic", "set_top_boxes": 1}, "parent": None, "order": "ORD-1002", "status": "active"}
    ]
    inventory = {i["id"]: i for i in as_json(om("assets", "list", "--inventory", "--db", db, "--format", "json"))}
    # Inventory is known by the line's stable key: the source asset and the rule (the customer, for the order scope).
    assert set(inventory) == {"INV-AST-ORD-1002-1/D7", "INV-AST-ORD-1002-1/D8#1", "INV-ACC-57/D9"}
    assert inventory["INV-AST-ORD-1002-1/D8#1"]["attributes"]["shipment_id"] == "SHP-000001"
    assert inventory["INV-AST-ORD-1002-1/D8#1"]["outputs"] == {"ship_device": {"shipment_id": "SHP-000001"}}
    assert inventory["INV-AST-ORD-1002-1/D7"]["asset"] == "AST-ORD-1002-1"
    assert as_json(om("assets", "list", "--customer", "ACC-nobody", "--db", db, "--format", "json")) == []


def test_run_json_format(db):
    r = run_orders(db, TV_ALONE, extra=["--format", "json"])
    assert r.exit_code == 0
    assert r.stderr == ""  # no progress lines with --format json
    [order] = as_json(r)
    assert order["id"] == "ORD-1002" and order["status"] == "completed"


# ---- a manual task ---------------------------------------------------------------------------------------------


def test_every_option_order_waits_for_a_person_then_completes(db):
    r = run_orders(db, EVERY_OPTION, extra=["-q"])
    assert r.exit_code == 0, r.output
    assert r.stderr == ""  # --quiet
    out = r.stdout.splitlines()
    assert out[0] == "order ORD-1001: inProgress"
    assert "  1/D1:install_visit           ready         waiting for a person in queue field_ops" in out
    assert any(l.split()[:2] == ["1/D1:activate_line", "pending"] and l.endswith("waiting for 1/D1:install_visit (ready)") for l in out)

    # the simulated clock went on to the requested start date: the wait is over
    data = as_json(om("orders", "show", "ORD-1001", "--db", db, "--format", "json"))
    tasks = {t["id"]: t for t in data["tasks"]}
    assert data["status"] == "inProgress"
    assert tasks["order/D9:requested_start"]["status"] == "completed"
    assert tasks["1/D1:install_visit"] == {
        "id": "1/D1:install_visit", "name": "install_visit", "type": "manual", "product": "FIBER_ACCESS_CFS", "line": "1/D1",
        "status": "ready", "attempts": 0, "queue": "field_ops", "waiting_for": "waiting for a person in queue field_ops",
        "jeopardy": "red",  # due in 3 days; the simulated clock went on to the billing date, 1 December
        "due": "2026-11-30T00:00:00Z", "depends_on": ["1/D1:reserve_port", "1/D2:ship_ont"],
    }
    assert tasks["1/D1:reserve_port"]["outputs"] == {"port_id": "PORT-00001"}
    assert tasks["5/D6:normalize_number"]["outputs"] == {"e164": "+31205550101"}  # the auto task ran from --tasks-path
    assert tasks["5/D6:port_number"]["status"] == "completed"  # async: by callback

    listed = om("tasks", "list", "--db", db)
    assert listed.exit_code == 0
    assert listed.stdout.split() == ["ORD-1001", "1/D1:install_visit", "queue", "field_ops", "(om", "tasks", "complete", "ORD-1001", "1/D1:install_visit)"]
    expected = [{"order": "ORD-1001", "task": "1/D1:install_visit", "name": "install_visit", "product": "FIBER_ACCESS_CFS", "queue": "field_ops"}]
    assert as_json(om("tasks", "list", "--db", db, "--format", "json")) == expected
    assert as_json(om("tasks", "list", "--db", db, "--queue", "field_ops", "--order", "ORD-1001", "--format", "json")) == expected
    assert as_json(om("tasks", "list", "--db", db, "--queue", "back_office", "--format", "json")) == []
    assert as_json(om("assets", "list", "--db", db, "--format", "json")) == []  # not completed yet

    done = om("tasks", "complete", "ORD-1001", "1/D1:install_visit", "--data", "technician=bob", "--data", "minutes=45", "--by", "alice", "--db", db, *CLOCK)
    assert done.exit_code == 0, done.output
    assert done.stdout == "order ORD-1001: completed\n"
    assert "1/D1:install_visit           ready -> completed           completed by alice" in done.stderr

    data = as_json(om("orders", "show", "ORD-1001", "--db", db, "--format", "json"))
    assert data["status"] == "completed"
    assert {t["status"] for t in data["tasks"]} == {"completed"}
    tasks = {t["id"]: t for t in data["tasks"]}
    assert tasks["1/D1:install_visit"]["outputs"] == {"technician": "bob", "minutes": 45}
    assert om("tasks", "list", "--db", db).stdout == "no open manual tasks\n"
    assets = {a["id"]: a for a in as_json(om("assets", "list", "--db", db, "--format", "json"))}
    assert len(assets) == 7
    assert assets["AST-ORD-1001-2"]["parent"] == "AST-ORD-1001-1"
    inventory = {i["id"]: i for i in as_json(om("assets", "list", "--inventory", "--db", db, "--format", "json"))}
    assert inventory["INV-AST-ORD-1001-1/D1"]["attributes"]["port_id"] == "PORT-00001"
    history = as_json(om("orders", "history", "ORD-1001", "--db", db, "--format", "json"))
    assert [e["cause"] for e in history if e["subject"] == "order" and e["to"]] == ["order accepted", "tasks are running", "every task is completed or skipped"]

    # and again: the order is over
    again = om("tasks", "complete", "ORD-1001", "1/D1:install_visit", "--by", "alice", "--db", db, *CLOCK)
    assert again.exit_code == 1
    assert again.stderr == "Error: order ORD-1001 is completed\n"


def test_resume_continues_unfinished_orders(db):
    assert run_orders(db, EVERY_OPTION, TV_ALONE, extra=["-q"]).exit_code == 0
    r = om("resume", "--db", db, "--tasks-path", "examples", "-q", "--format", "json")
    assert r.exit_code == 0, r.output
    assert [o["id"] for o in as_json(r)] == ["ORD-1001"]  # only the unfinished one
    r = om("resume", CATALOG, "--db", db, "--tasks-path", "examples", "-q")
    assert r.stdout.splitlines()[0] == "order ORD-1001: inProgress"


@pytest.mark.parametrize(
    "task, message",
    [
        ("1/D1:activate_line", "Error: task 1/D1:activate_line of order ORD-1001 is pending, not ready\n"),
        ("1/D1:check_address", "Error: task 1/D1:check_address of order ORD-1001 is completed, not ready\n"),
        ("1/D1:nope", "Error: order ORD-1001 has no task 1/D1:nope\n"),
    ],
)
def test_completing_a_task_that_is_not_open(db, task, message):
    assert run_orders(db, EVERY_OPTION, extra=["-q"]).exit_code == 0
    r = om("tasks", "complete", "ORD-1001", task, "--by", "alice", "--db", db, *CLOCK)
    assert r.exit_code == 1
    assert r.stderr == message
    assert r.stdout == ""
    assert as_json(om("orders", "show", "ORD-1001", "--db", db, "--format", "json"))["status"] == "inProgress"


# ---- rejected and duplicate orders ------------------------------------------------------------------------------


def test_rejected_order_exits_1_with_the_reason(db):
    r = run_orders(db, SPEED_NOT_ALLOWED)
    assert r.exit_code == 1
    assert "order ORD-1102 rejected: 1 problem" in r.stderr
    assert "`speed_mbps` = 500 is not allowed (allowed: 100, 300, 1000) (rule: allowed_values)" in r.stderr
    assert r.stdout == "order ORD-1102: rejected\n"

    rejected = as_json(om("orders", "list", "--status", "rejected", "--db", db, "--format", "json"))
    assert [o["id"] for o in rejected] == ["ORD-1102"] and rejected[0]["status"] == "rejected"
    assert om("orders", "list", "--status", "rejected", "--db", db).stdout.split()[:2] == ["ORD-1102", "rejected"]
    assert as_json(om("orders", "list", "--status", "completed", "--db", db, "--format", "json")) == []

    show = om("orders", "show", "ORD-1102", "--db", db)
    assert show.exit_code == 0
    assert show.stdout.splitlines() == [
        "order ORD-1102: rejected  (customer ACC-81, external id CPQ-88302)",
        "  rejected: item 1: `speed_mbps` = 500 is not allowed (allowed: 100, 300, 1000) (allowed_values)",
    ]
    data = as_json(om("orders", "show", "ORD-1102", "--db", db, "--format", "json"))
    assert data["status"] == "rejected" and data["tasks"] == []
    assert data["problems"][0]["rule"] == "allowed_values" and data["problems"][0]["item"] == "1"
    history = as_json(om("orders", "history", "ORD-1102", "--db", db, "--format", "json"))
    assert [(e["subject"], e["to"]) for e in history] == [("order", "rejected")]
    assert as_json(om("assets", "list", "--db", db, "--format", "json")) == []


def test_one_rejected_order_among_good_ones(db):
    r = run_orders(db, TV_ALONE, SPEED_NOT_ALLOWED, extra=["-q"])
    assert r.exit_code == 1
    assert r.stdout.splitlines() == ["order ORD-1002: completed", "order ORD-1102: rejected"]


def test_malformed_order_is_rejected_and_not_stored(db):
    r = run_orders(db, MALFORMED)
    assert r.exit_code == 1
    assert "the order is not valid JSON" in r.stderr and "(rule: malformed_json)" in r.stderr
    assert as_json(om("orders", "list", "--db", db, "--format", "json")) == []


def test_the_same_order_id_twice_is_refused(db):
    assert run_orders(db, TV_ALONE, extra=["-q"]).exit_code == 0
    events = as_json(om("orders", "history", "ORD-1002", "--db", db, "--format", "json"))
    r = run_orders(db, TV_ALONE, extra=["-q"])
    assert r.exit_code == 1
    assert "order ORD-1002 was submitted before; amend it, or give the new order another id (rule: duplicate_order)" in r.stderr
    assert [o["id"] for o in as_json(om("orders", "list", "--db", db, "--format", "json"))] == ["ORD-1002"]
    assert as_json(om("orders", "history", "ORD-1002", "--db", db, "--format", "json")) == events
    assert len(as_json(om("assets", "list", "--db", db, "--format", "json"))) == 1
    # also within one run, and also for an id that was rejected before
    r = run_orders(db, SPEED_NOT_ALLOWED, SPEED_NOT_ALLOWED, extra=["-q"])
    assert r.exit_code == 1 and r.stderr.count("order ORD-1102 was submitted before") == 1
    assert [o["id"] for o in as_json(om("orders", "list", "--db", db, "--format", "json"))] == ["ORD-1002", "ORD-1102"]


# ---- usage errors ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["orders", "list"],
        ["orders", "show", "ORD-1002"],
        ["orders", "history", "ORD-1002"],
        ["tasks", "list"],
        ["assets", "list"],
    ],
)
def test_missing_database(tmp_path, in_repo, args):
    missing = tmp_path / "missing.db"
    r = om(*args, "--db", missing)
    assert r.exit_code == 2
    assert f"Error: no database at {missing} (run an order first, or give --db)" in r.stderr
    assert "Traceback" not in r.output
    assert not missing.exists()


@pytest.mark.parametrize(
    "args",
    [
        ["orders", "show", "NOPE"],
        ["orders", "history", "NOPE"],
        ["tasks", "complete", "NOPE", "1/D1:install_visit", *CLOCK],
    ],
)
def test_unknown_order(db, args):
    assert run_orders(db, TV_ALONE, extra=["-q"]).exit_code == 0
    r = om(*args, "--db", db)
    assert r.exit_code == 2
    assert f"Error: no order NOPE in {db}" in r.stderr
    assert "Traceback" not in r.output


def test_bad_data(db):
    assert run_orders(db, EVERY_OPTION, extra=["-q"]).exit_code == 0
    r = om("tasks", "complete", "ORD-1001", "1/D1:install_visit", "--data", "no-equals-sign", "--db", db, *CLOCK)
    assert r.exit_code == 2
    assert "Error: expected key=value, got 'no-equals-sign'" in r.stderr
    assert as_json(om("tasks", "list", "--db", db, "--format", "json"))[0]["task"] == "1/D1:install_visit"  # still open


def test_bad_start_and_not_a_database(db, tmp_path):
    r = om("run", CATALOG, TV_ALONE, "--db", db, "--clock", "simulated", "--start", "next tuesday")
    assert r.exit_code == 2
    assert "Error: --start 'next tuesday' is not an ISO date or date-time" in r.stderr
    junk = tmp_path / "junk.db"
    junk.write_text("not sqlite at all " * 100)
    r = om("orders", "list", "--db", junk)
    assert r.exit_code == 2
    assert f"Error: {junk}: file is not a database" in r.stderr


def test_completing_a_task_of_a_rejected_order(db):
    assert run_orders(db, SPEED_NOT_ALLOWED).exit_code == 1
    r = om("tasks", "complete", "ORD-1102", "1/D1:install_visit", "--by", "alice", "--db", db, *CLOCK)
    assert r.exit_code == 1
    assert "ORD-1102" in r.stderr and "rejected" in r.stderr


def test_completing_a_task_without_a_database(tmp_path, in_repo):
    missing = tmp_path / "missing.db"
    r = om("tasks", "complete", "ORD-1", "1/D1:install_visit", "--db", missing, *CLOCK)
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert f"no database at {missing}" in r.stderr
    assert not missing.exists()
