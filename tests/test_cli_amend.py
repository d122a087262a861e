"""`om orders amend` and `om orders cancel` at the command line."""

from __future__ import annotations

import json

from click.testing import CliRunner

from om_dsl.cli import main

AMEND = "examples/orders/amend"


def om(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def started(tmp_path):
    db = tmp_path / "om.db"
    common = ["--db", db, "--clock", "simulated", "--start", "2026-11-27", "--tasks-path", "examples"]
    r = om("run", "generated/acme", f"{AMEND}/order.json", "-q", *common)
    assert r.exit_code == 0, r.output
    return db, ["--db", db, "--tasks-path", "examples"]


def test_amend_then_complete(tmp_path, in_repo):
    db, common = started(tmp_path)
    r = om("orders", "amend", "ORD-3000", f"{AMEND}/speed-1000.json", "--by", "csr-lena", "-q", *common)
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[0] == "order ORD-3000: inProgress (revision 2)"  # both engines say which revision is now in flight
    history = om("orders", "history", "ORD-3000", "--db", db).stdout
    assert "revision 2 received from csr-lena (touches bundle 1): frozen, running tasks finish, nothing new starts" in history
    assert "revision 2 applied: the order resumes on the merged plan" in history
    assert "1/D1:reserve_port:undo" in history
    r = om("tasks", "complete", "ORD-3000", "1/D1:install_visit", "-q", *common)
    assert r.stdout.splitlines()[0] == "order ORD-3000: completed"
    shown = json.loads(om("orders", "show", "ORD-3000", "--db", db, "--format", "json").stdout)
    assert {t["id"] for t in shown["tasks"]} >= {"1/D1:reserve_port@1", "1/D1:reserve_port:undo", "1/D1:reserve_port"}


def test_a_soft_point_of_no_return_needs_force(tmp_path, in_repo):
    db, common = started(tmp_path)
    om("systems", "offline", "billing", *common)
    om("tasks", "complete", "ORD-3000", "1/D1:install_visit", "-q", *common)
    r = om("orders", "amend", "ORD-3000", f"{AMEND}/speed-1000.json", "-q", *common)
    assert r.exit_code == 1
    assert "Error: revision 2 touches a bundle that is past the point of no return: 1/D1:activate_line completed (a soft point of no return: force it to go ahead)" in r.stderr
    r = om("orders", "amend", "ORD-3000", f"{AMEND}/speed-1000.json", "--force", "-q", *common)
    assert r.exit_code == 0, r.output
    assert "revision 3 applied" in om("orders", "history", "ORD-3000", "--db", db).stdout
    shown = json.loads(om("orders", "show", "ORD-3000", "--db", db, "--format", "json").stdout)
    assert shown["revision"] == 3
    assert [(r["revision"], r["status"]) for r in shown["revisions"]] == [(2, "refused"), (3, "applied")]
    assert "past the point of no return" in shown["revisions"][0]["reason"]
    text = om("orders", "show", "ORD-3000", "--db", db).stdout
    assert "  revision 2 from " in text and ": refused (revision 2 touches a bundle" in text


def test_cancel(tmp_path, in_repo):
    db, common = started(tmp_path)
    r = om("orders", "cancel", "ORD-3000", "--reason", "the customer moved", "--by", "csr-lena", "-q", *common)
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[0] == "order ORD-3000: cancelled"
    history = om("orders", "history", "ORD-3000", "--db", db).stdout
    assert "inProgress -> assessingCancellation" in history and "cancellation asked by csr-lena: the customer moved" in history
    assert "assessingCancellation -> pendingCancellation" in history and "pendingCancellation -> cancelled" in history
    r = om("orders", "cancel", "ORD-3000", "-q", *common)
    assert r.exit_code == 1 and "Error: order ORD-3000 is cancelled" in r.stderr
    r = om("orders", "amend", "ORD-3000", f"{AMEND}/speed-1000.json", "-q", *common)
    assert r.exit_code == 1 and "is cancelled" in r.stderr


def test_amend_mistakes(tmp_path, in_repo):
    db, common = started(tmp_path)
    other = json.loads((in_repo / AMEND / "speed-1000.json").read_text())
    other["id"] = "ORD-9"
    (tmp_path / "other.json").write_text(json.dumps(other))
    r = om("orders", "amend", "ORD-3000", tmp_path / "other.json", *common)
    assert r.exit_code == 1 and "the revision is of order ORD-9, not ORD-3000" in r.stderr and "Traceback" not in r.output
    r = om("orders", "amend", "ORD-NOPE", f"{AMEND}/speed-1000.json", *common)
    assert r.exit_code == 2 and "no order ORD-NOPE" in r.stderr
    (tmp_path / "broken.json").write_text("{")
    r = om("orders", "amend", "ORD-3000", tmp_path / "broken.json", *common)
    assert r.exit_code == 1 and "not valid JSON" in r.stderr


def test_a_task_a_revision_drops_leaves_the_task_list(tmp_path, in_repo):
    """ORD-3000 with a second fiber (item 6, at another address): both visits
    wait. The revision without item 6 drops its visit; the other stays open,
    as it was; once it is done the order completes with no task left open."""
    db = tmp_path / "om.db"
    common = ["--db", db, "--tasks-path", "examples"]
    doc = json.loads((in_repo / AMEND / "order.json").read_text())
    first = json.loads(json.dumps(doc["productOrderItem"][0]))
    doc["productOrderItem"].append({**first, "id": "6", "productOrderItem": [{**first["productOrderItem"][0], "id": "7"}]})
    doc["productOrderItem"][1]["product"]["productCharacteristic"][1]["value"] = "ADDR-8803"
    (tmp_path / "two.json").write_text(json.dumps(doc))
    r = om("run", "generated/acme", tmp_path / "two.json", "-q", "--clock", "simulated", "--start", "2026-11-27", *common)
    assert r.exit_code == 0, r.output
    listed = lambda: [line.split()[:2] for line in om("tasks", "list", "--db", db).stdout.splitlines()]  # noqa: E731
    assert listed() == [["ORD-3000", "1/D1:install_visit"], ["ORD-3000", "6/D1:install_visit"]]
    r = om("orders", "amend", "ORD-3000", f"{AMEND}/order.json", "--by", "csr-lena", *common)
    assert r.exit_code == 0, r.output
    assert "6/D1:install_visit           ready -> cancelled           dropped by revision 2" in r.stderr
    assert "1/D1:install_visit" not in r.stderr  # kept as it was: its due time goes on
    assert listed() == [["ORD-3000", "1/D1:install_visit"]]
    r = om("tasks", "complete", "ORD-3000", "6/D1:install_visit", *common)
    assert r.exit_code != 0 and "order ORD-3000 has no task 6/D1:install_visit" in r.output
    r = om("tasks", "complete", "ORD-3000", "1/D1:install_visit", "-q", *common)
    assert r.stdout.splitlines()[0] == "order ORD-3000: completed"
    assert om("tasks", "list", "--db", db).stdout == "no open manual tasks\n"


def test_a_draft_starts_when_released(tmp_path, in_repo):
    db = tmp_path / "om.db"
    common = ["--db", db, "--clock", "simulated", "--start", "2026-11-27", "--tasks-path", "examples"]
    r = om("run", "generated/acme", "examples/orders/tmf622/v5-flat-fiber-draft.json", "-q", *common)
    assert r.exit_code == 0, r.output
    order_id = r.stdout.split()[1].rstrip(":")
    assert r.stdout.startswith(f"order {order_id}: draft")
    r = om("orders", "release", order_id, "--by", "csr-lena", "-q", *common)
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[0] == f"order {order_id}: inProgress"
    assert "released by csr-lena" in om("orders", "history", order_id, "--db", db).stdout
    again = om("orders", "release", order_id, "-q", *common)
    assert again.exit_code == 1 and "not a draft" in again.stderr
