"""Operator commands from the command line: `om tasks retry|skip`, `om orders
resume`, `om systems offline|online|list`, `om callbacks deliver`, `om hub`,
`om notifications list`, `om orders list --jeopardy`, and the usage errors of
`om serve`, `om simulate serve` and `--config`.

Faults are injected from the command line as an operator would: systems are
pointed at the HTTP simulator (started in-process on a free port) by an
om.toml given with `--config`, and the simulator's faults are changed with
`POST /_faults`. Every command gets its own database under tmp_path and runs
from the repository root (the `in_repo` fixture), on a simulated clock."""

from __future__ import annotations

import json
import socket
import urllib.request

import pytest
from click.testing import CliRunner

from om_dsl.cli import main
from om_dsl.rules.generated import GeneratedRules
from om_dsl.simulate.server import SimulatorServer

from support.engine_helpers import ACME
from support.listener import Listener

CATALOG = "generated/acme"
TV_ALONE = "examples/orders/tv-alone.json"  # ORD-1002: activate_iptv, ship_device, start_billing
FIBER_MINIMAL = "examples/orders/fiber-minimal.json"  # ORD-1004: inventory calls, a manual install_visit
PORTED_PHONE = "examples/orders/fiber-tv-ported-phone.json"  # ORD-1003: voice.port_number answers by callback
EVERY_OPTION = "examples/orders/new-fiber-every-option.json"  # ORD-1001: billing waits until 1 December
CLOCK = ["--clock", "simulated", "--start", "2026-11-27", "--tasks-path", "examples"]


def om(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def om_caught(*args):
    """For the tests of known bugs: an exception is a result, not a crash of the test."""
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=True)


def as_json(result):
    return json.loads(result.stdout)


def no_traceback(result) -> bool:
    return "Traceback" not in result.output and (result.exception is None or isinstance(result.exception, SystemExit))


@pytest.fixture
def db(tmp_path, in_repo):
    return str(tmp_path / "om.db")


@pytest.fixture(scope="module")
def acme_catalog():
    return GeneratedRules(ACME).catalog


@pytest.fixture
def simulator(tmp_path, acme_catalog):
    """The Acme systems over HTTP on 127.0.0.1 (a free port); callbacks retried at most every 2 s."""
    with SimulatorServer(acme_catalog, str(tmp_path / "http-systems.db"), callback_delay_ms=2000) as sim:
        yield sim


def set_faults(sim, changes: dict) -> dict:
    request = urllib.request.Request(sim.url + "/_faults", data=json.dumps(changes).encode(), method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read())


def get_json(url: str):
    with urllib.request.urlopen(url) as response:
        return json.loads(response.read())


def write_config(tmp_path, sim, *systems, callback_url=None):
    text = f'[engine]\ncallback_url = "{callback_url}"\n\n' if callback_url else ""
    text += "".join(f'[systems.{name}]\nbase_url = "{sim.url}"\n\n' for name in systems)
    path = tmp_path / "om.toml"
    path.write_text(text, encoding="utf-8")
    return path


def show(db, order_id):
    return as_json(om("orders", "show", order_id, "--db", db, "--format", "json"))


def tasks_of(db, order_id) -> dict:
    return {t["id"]: t for t in show(db, order_id)["tasks"]}


def causes(db, order_id, subject=None) -> list[str]:
    history = as_json(om("orders", "history", order_id, "--db", db, "--format", "json"))
    return [e["cause"] for e in history if subject is None or e["subject"] == subject]


# ---- om tasks retry -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault, why",
    [
        ("status:400", "(not retryable)"),  # a 4xx: fatal at once
        ("fail:9", "(no retry left after 4 attempts)"),  # 503s: the standard policy's 3 retries are used up
    ],
)
def test_retry_a_fatally_failed_task_after_the_fault_is_removed(db, tmp_path, simulator, fault, why):
    assert set_faults(simulator, {"iptv.activate_iptv": fault}) == {"iptv.activate_iptv": fault}
    config = write_config(tmp_path, simulator, "iptv")
    common = ["--db", db, "--config", config, *CLOCK]

    r = om("run", CATALOG, TV_ALONE, *common)
    assert r.exit_code == 0, r.output
    out = r.stdout.splitlines()
    assert out[0] == "order ORD-1002: held"
    assert out[1].split()[:2] == ["1/D7:activate_iptv", "fatallyFailed"]
    assert f"fatally failed: {simulator.url}/iptv/activate_iptv answered" in out[1] and f"(simulated by fault {fault}" in out[1]
    assert out[2].split()[:2] == ["order/D9:start_billing", "pending"] and out[2].endswith("waiting for 1/D7:activate_iptv (fatallyFailed)")
    assert "inProgress -> held           a task fatally failed: an operator must act" in r.stderr
    assert any(l.endswith(why) for l in r.stderr.splitlines() if "running -> fatallyFailed" in l)
    assert as_json(om("orders", "list", "--status", "held", "--db", db, "--format", "json"))[0]["id"] == "ORD-1002"

    # Not a task that makes calls, not a task that failed, not a task of the order, not an order of the database.
    r = om("tasks", "retry", "ORD-1002", "1/D8#1:ship_device", "--reason", "x", *common)
    assert (r.exit_code, r.stderr) == (1, "Error: task 1/D8#1:ship_device of order ORD-1002 is completed, not fatallyFailed or failed or onHold\n")
    r = om("tasks", "retry", "ORD-1002", "1/D7:nope", "--reason", "x", *common)
    assert (r.exit_code, r.stderr) == (1, "Error: order ORD-1002 has no task 1/D7:nope\n")
    r = om("tasks", "retry", "NOPE", "1/D7:activate_iptv", *common)
    assert r.exit_code == 2 and f"Error: no order NOPE in {db}" in r.stderr and no_traceback(r)

    # The operator fixes IPTV, then retries: the policy starts over, the order completes.
    assert set_faults(simulator, {"iptv.activate_iptv": None}) == {}
    r = om("tasks", "retry", "ORD-1002", "1/D7:activate_iptv", "--reason", "IPTV platform fixed", "--by", "ops-anna", *common)
    assert r.exit_code == 0, r.output
    assert r.stdout == "order ORD-1002: completed\n"
    assert "fatallyFailed -> running     attempt 1, retried by ops-anna: IPTV platform fixed" in r.stderr
    assert "held -> inProgress           tasks are running" in r.stderr

    data = show(db, "ORD-1002")
    assert data["status"] == "completed" and {t["status"] for t in data["tasks"]} == {"completed"}
    assert {t["id"]: t["attempts"] for t in data["tasks"]}["1/D7:activate_iptv"] == 1
    assert "attempt 1, retried by ops-anna: IPTV platform fixed" in causes(db, "ORD-1002", "1/D7:activate_iptv")
    history = om("orders", "history", "ORD-1002", "--db", db).stdout
    assert "retried by ops-anna: IPTV platform fixed" in history
    effects = get_json(simulator.url + "/_effects")
    assert [(e["key"], e["calls"]) for e in effects] == [("ORD-1002:1/D7:activate_iptv:1", 1)]  # one effect, under the task's key

    r = om("tasks", "retry", "ORD-1002", "1/D7:activate_iptv", "--reason", "again", *common)
    assert (r.exit_code, r.stdout, r.stderr) == (1, "", "Error: order ORD-1002 is completed\n")


def test_a_retry_while_the_fault_lasts_holds_the_order_again(db, tmp_path, simulator):
    set_faults(simulator, {"iptv.activate_iptv": "status:400"})
    common = ["--db", db, "--config", write_config(tmp_path, simulator, "iptv"), *CLOCK]
    assert om("run", CATALOG, TV_ALONE, "-q", *common).exit_code == 0
    r = om("tasks", "retry", "ORD-1002", "1/D7:activate_iptv", "--reason", "try again", "--by", "ops-anna", "-q", *common)
    assert r.exit_code == 0, r.output
    assert r.stderr == ""  # --quiet
    assert r.stdout.splitlines()[0] == "order ORD-1002: held"
    assert "(simulated by fault status:400, attempt 2)" in r.stdout
    assert causes(db, "ORD-1002", "order")[-2:] == ["tasks are running", "a task fatally failed: an operator must act"]


# ---- om orders resume ------------------------------------------------------------------------------------------


def test_resume_a_held_order_and_not_one_that_is_not_held(db, tmp_path, simulator):
    set_faults(simulator, {"iptv.activate_iptv": "fail:9"})
    common = ["--db", db, "--config", write_config(tmp_path, simulator, "iptv"), *CLOCK]
    r = om("run", CATALOG, TV_ALONE, FIBER_MINIMAL, "-q", *common)
    assert r.exit_code == 0, r.output
    listed = {o["id"]: o["status"] for o in as_json(om("orders", "list", "--db", db, "--format", "json"))}
    assert listed == {"ORD-1002": "held", "ORD-1004": "inProgress"}

    r = om("orders", "resume", "ORD-1004", *common)
    assert (r.exit_code, r.stdout, r.stderr) == (1, "", "Error: order ORD-1004 is inProgress, not held\n")
    r = om("orders", "resume", "NOPE", *common)
    assert r.exit_code == 2 and f"Error: no order NOPE in {db}" in r.stderr and no_traceback(r)
    r = om("orders", "resume", "ORD-1002", "--db", tmp_path / "missing.db", *CLOCK)
    assert r.exit_code == 2 and "no database at" in r.stderr and not (tmp_path / "missing.db").exists()

    set_faults(simulator, {"iptv.activate_iptv": None})
    r = om("orders", "resume", "ORD-1002", "--reason", "IPTV is back", "--by", "ops-bob", *common)
    assert r.exit_code == 0, r.output
    assert r.stdout == "order ORD-1002: completed\n"
    assert "1/D7:activate_iptv           fatallyFailed -> running     attempt 1, order resumed by ops-bob: IPTV is back" in r.stderr
    assert "inProgress -> completed      every task is completed or skipped" in r.stderr
    assert "attempt 1, order resumed by ops-bob: IPTV is back" in causes(db, "ORD-1002", "1/D7:activate_iptv")

    r = om("orders", "resume", "ORD-1002", *common)  # completed now
    assert (r.exit_code, r.stderr) == (1, "Error: order ORD-1002 is completed\n")
    assert show(db, "ORD-1004")["status"] == "inProgress"  # the other order is untouched


# ---- om orders fail, om orders show --format tmf622 ----------------------------------------------------------


def test_give_up_a_held_order_and_show_it_as_tmf622(db, tmp_path, simulator):
    from support.tmf622_schemas import problems

    set_faults(simulator, {"iptv.activate_iptv": "status:400"})
    common = ["--db", db, "--config", write_config(tmp_path, simulator, "iptv"), *CLOCK]
    assert om("run", CATALOG, TV_ALONE, FIBER_MINIMAL, "-q", *common).exit_code == 0
    held = as_json(om("orders", "show", "ORD-1002", "--db", db, "--format", "tmf622"))
    assert held["state"] == "held" and held["productOrderItem"][0]["state"] == "held" and problems(held, "v4", "ProductOrder") == []

    r = om("orders", "fail", "ORD-1002", *common)
    assert r.exit_code == 2 and "--reason must say why the order is given up" in r.stderr
    r = om("orders", "fail", "ORD-1004", "--reason", "x", *common)
    assert (r.exit_code, r.stdout, r.stderr) == (1, "", "Error: order ORD-1004 is inProgress, not held: only a held order can be given up (cancel it instead)\n")
    r = om("orders", "fail", "NOPE", "--reason", "x", *common)
    assert r.exit_code == 2 and f"Error: no order NOPE in {db}" in r.stderr and no_traceback(r)

    r = om("orders", "fail", "ORD-1002", "--reason", "no IPTV at this address", "--by", "ops-anna", *common)
    assert r.exit_code == 0, r.output
    assert r.stdout == "order ORD-1002: failed\n"
    assert "given up by ops-anna: no IPTV at this address" in causes(db, "ORD-1002", "order")
    assert "held -> failed               given up: no item completed, what was done is undone" in r.stderr
    assert [e["key"] for e in get_json(simulator.url + "/_effects") if ":undo:" in e["key"]] == []  # the set-top boxes are simulated in process
    assert "1/D8#1:ship_device:undo" in {t["id"] for t in show(db, "ORD-1002")["tasks"]}
    failed = as_json(om("orders", "show", "ORD-1002", "--db", db, "--format", "tmf622"))
    assert failed["state"] == "failed" and failed["productOrderItem"][0]["state"] == "failed" and problems(failed, "v4", "ProductOrder") == []
    assert failed["externalId"] == "CPQ-88240" and failed["href"] == "/tmf-api/productOrderingManagement/v4/productOrder/ORD-1002"
    r = om("orders", "fail", "ORD-1002", "--reason", "again", *common)
    assert (r.exit_code, r.stderr) == (1, "Error: order ORD-1002 is failed\n")


def test_a_refused_revision_of_a_draft_tells_what_it_lacks(db, tmp_path):
    import sqlite3

    draft = json.loads(open("examples/orders/tmf622/v5-flat-fiber-draft.json", encoding="utf-8").read())
    draft["id"] = "ORD-DRAFT"
    (tmp_path / "draft.json").write_text(json.dumps(draft), encoding="utf-8")
    fiber = draft["productOrderItem"][0]["product"]
    fiber["productCharacteristic"] = [c for c in fiber["productCharacteristic"] if c["name"] != "address_id"]
    (tmp_path / "revision.json").write_text(json.dumps(draft), encoding="utf-8")
    assert om("run", CATALOG, tmp_path / "draft.json", "--db", db, *CLOCK, "-q").stdout.startswith("order ORD-DRAFT: draft")
    r = om("orders", "amend", "ORD-DRAFT", tmp_path / "revision.json", "--db", db, *CLOCK)
    assert r.exit_code == 1 and "the revision is rejected" in r.stderr
    sent = sqlite3.connect(str(tmp_path / "om.systems.db")).execute("SELECT payload FROM notifications WHERE message_id LIKE 'ORD-DRAFT:%'").fetchall()
    (needs,) = [json.loads(p) for (p,) in sent if json.loads(p)["eventType"] == "ProductOrderInformationRequiredEvent"]
    assert needs["event"]["informationRequired"]["path"].startswith("/productOrderItem/0")
    assert show(db, "ORD-DRAFT")["status"] == "draft"


def test_a_rejected_order_as_tmf622(db):
    assert om("run", CATALOG, "examples/orders/invalid-missing-address.json", "--db", db, *CLOCK, "-q").exit_code == 1
    (order,) = as_json(om("orders", "list", "--db", db, "--format", "json"))
    po = as_json(om("orders", "show", order["id"], "--db", db, "--format", "tmf622"))
    assert po["state"] == "rejected" and {i["state"] for i in po["productOrderItem"]} == {"rejected"}


# ---- om tasks skip -------------------------------------------------------------------------------------------


def test_skip_the_manual_visit_lets_the_order_complete(db):
    common = ["--db", db, *CLOCK]
    assert om("run", CATALOG, FIBER_MINIMAL, "-q", *common).exit_code == 0

    r = om("tasks", "skip", "ORD-1004", "1/D1:install_visit", *common)  # the reason is required, and the message says why
    assert r.exit_code == 2 and "Error: --reason must say why the task is skipped" in r.stderr
    r = om("tasks", "skip", "ORD-1004", "1/D1:install_visit", "--reason", "  ", *common)
    assert r.exit_code == 2 and "Error: --reason must say why the task is skipped" in r.stderr
    assert tasks_of(db, "ORD-1004")["1/D1:install_visit"]["status"] == "ready"

    r = om("tasks", "skip", "ORD-1004", "1/D1:check_address", "--reason", "no need", *common)
    assert (r.exit_code, r.stdout, r.stderr) == (1, "", "Error: task 1/D1:check_address of order ORD-1004 is completed: it is done\n")
    r = om("tasks", "skip", "ORD-1004", "1/D1:nope", "--reason", "no need", *common)
    assert (r.exit_code, r.stderr) == (1, "Error: order ORD-1004 has no task 1/D1:nope\n")

    r = om("tasks", "skip", "ORD-1004", "1/D1:install_visit", "--reason", "installed by the previous tenant", "--by", "ops-anna", *common)
    assert r.exit_code == 0, r.output
    assert r.stdout == "order ORD-1004: completed\n"
    assert "1/D1:install_visit           ready -> skipped             skipped by ops-anna: installed by the previous tenant" in r.stderr
    assert "1/D1:activate_line           pending -> ready             its dependencies completed" in r.stderr
    tasks = tasks_of(db, "ORD-1004")
    assert tasks["1/D1:install_visit"]["status"] == "skipped" and tasks["1/D1:activate_line"]["status"] == "completed"
    assert "skipped by ops-anna: installed by the previous tenant" in causes(db, "ORD-1004", "1/D1:install_visit")
    assert om("tasks", "list", "--db", db).stdout == "no open manual tasks\n"
    assert len(as_json(om("assets", "list", "--db", db, "--format", "json"))) == 2  # HOME_FIBER and its router

    r = om("tasks", "skip", "ORD-1004", "1/D1:install_visit", "--reason", "again", *common)
    assert (r.exit_code, r.stderr) == (1, "Error: order ORD-1004 is completed\n")


# ---- om systems ------------------------------------------------------------------------------------------------


def test_an_offline_system_holds_its_calls_until_it_is_online(db):
    common = ["--db", db, *CLOCK]
    r = om("systems", "list", "--db", db)
    assert r.exit_code == 2 and f"Error: no database at {db}" in r.stderr
    assert om("run", CATALOG, TV_ALONE, "-q", *common).exit_code == 0  # no inventory call
    assert om("systems", "list", "--db", db).stdout == "every system is online\n"
    assert as_json(om("systems", "list", "--db", db, "--format", "json")) == []

    r = om("systems", "offline", "inventory", "--by", "ops-anna", *common)
    assert r.exit_code == 0, r.output
    assert r.stdout == "inventory is offline: its calls wait on hold until `om systems online inventory`\n"
    assert om("systems", "list", "--db", db).stdout.split() == ["inventory", "offline", "since", "2026-11-27T00:00:00Z", "(ops-anna)"]
    assert as_json(om("systems", "list", "--db", db, "--format", "json")) == [{"system": "inventory", "offline": True, "since": "2026-11-27T00:00:00Z", "by": "ops-anna"}]

    r = om("run", CATALOG, FIBER_MINIMAL, *common)
    assert r.exit_code == 0, r.output
    out = r.stdout.splitlines()
    assert out[0] == "order ORD-1004: inProgress"  # on hold, not held
    assert out[1].split()[:2] == ["1/D1:check_address", "onHold"] and out[1].endswith("on hold: system inventory is offline")
    assert "1/D1:check_address           running -> onHold            system inventory is offline" in r.stderr
    shown = om("orders", "show", "ORD-1004", "--db", db).stdout.splitlines()
    assert shown[0].startswith("order ORD-1004: inProgress")
    assert any(l.split()[:3] == ["1/D1:check_address", "callout", "onHold"] and l.endswith("on hold: system inventory is offline") for l in shown)
    tasks = tasks_of(db, "ORD-1004")
    assert tasks["1/D1:check_address"]["waiting_for"] == "on hold: system inventory is offline"
    assert tasks["1/D1:check_address"]["attempts"] == 0  # the call was not made
    assert tasks["1/D2:ship_ont"]["status"] == "completed"  # other systems go on
    assert om("tasks", "list", "--db", db).stdout == "no open manual tasks\n"  # the visit waits for the reservation

    r = om("orders", "resume", "ORD-1004", *common)  # on hold is not held
    assert (r.exit_code, r.stderr) == (1, "Error: order ORD-1004 is inProgress, not held\n")

    r = om("systems", "online", "inventory", "--by", "ops-anna", *common)
    assert r.exit_code == 0, r.output
    assert r.stdout == "inventory is online: calls sent again for ORD-1004\n"
    assert [(s["system"], s["offline"]) for s in as_json(om("systems", "list", "--db", db, "--format", "json"))] == [("inventory", False)]
    assert om("systems", "list", "--db", db).stdout.split()[:2] == ["inventory", "online"]
    assert "attempt 1, system inventory is online again" in causes(db, "ORD-1004", "1/D1:check_address")
    assert tasks_of(db, "ORD-1004")["1/D1:install_visit"]["status"] == "ready"
    assert om("systems", "online", "inventory", *common).stdout == "inventory is online\n"  # nothing held any more

    r = om("tasks", "complete", "ORD-1004", "1/D1:install_visit", "--by", "tech", "-q", *common)
    assert r.exit_code == 0, r.output
    assert r.stdout == "order ORD-1004: completed\n"
    assert tasks_of(db, "ORD-1004")["1/D1:check_address"]["attempts"] == 1


# ---- om callbacks deliver ---------------------------------------------------------------------------------------


@pytest.fixture
def nobody_listens():
    """A callback URL on 127.0.0.1 where nothing listens (the port is held, not listened on)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    yield f"http://127.0.0.1:{s.getsockname()[1]}/callbacks"
    s.close()


def test_deliver_a_callback_by_hand(db, tmp_path, simulator, nobody_listens):
    config = write_config(tmp_path, simulator, "voice", callback_url=nobody_listens)
    common = ["--db", db, "--config", config, *CLOCK]
    r = om("run", CATALOG, PORTED_PHONE, *common)
    assert r.exit_code == 0, r.output
    assert "3/D6:port_number             running -> running           acknowledged: waiting for the callback" in r.stderr
    port = tasks_of(db, "ORD-1003")["3/D6:port_number"]
    assert port["status"] == "running" and port["waiting_for"] == "waiting for the callback, until 2026-11-29T00:00:00Z"

    # The simulator holds the answer; it cannot push it to the callback URL.
    [pushed] = get_json(simulator.url + "/_callbacks?all=1")
    key = "ORD-1003:3/D6:port_number:1"
    assert (pushed["correlation_id"], pushed["deliveries"]) == (key, 0)
    # The call's callback URL carries its token: the HMAC of its key under the database's secret.
    from om_dsl.embedded.store import Store
    from om_dsl.systems.callback_auth import token

    assert pushed["url"] == f"{nobody_listens}/{token(Store(db).callback_secret(), key)}"

    r = om("callbacks", "deliver", "ORD-1003:3/D6:nope:1", "--data", "x=1", *common)
    assert r.exit_code == 0, r.output
    assert r.stdout == "no call has the correlation id ORD-1003:3/D6:nope:1: recorded and ignored\n"
    r = om("callbacks", "deliver", key, "--data", "no-equals-sign", *common)
    assert r.exit_code == 2 and "Error: expected key=value, got 'no-equals-sign'" in r.stderr
    assert tasks_of(db, "ORD-1003")["3/D6:port_number"]["status"] == "running"

    r = om("callbacks", "deliver", key, "--data", "ported=true", *common)
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[0] == "order ORD-1003: inProgress"
    assert "3/D6:port_number             running -> completed         callback received" in r.stderr
    assert "3/D6:activate_voice" in r.stdout and "waiting for 1/D1:line_active (pending)" in r.stdout
    tasks = tasks_of(db, "ORD-1003")
    assert tasks["3/D6:port_number"]["status"] == "completed" and "waiting_for" not in tasks["3/D6:port_number"]
    assert "callback received" in causes(db, "ORD-1003", "3/D6:port_number")

    r = om("callbacks", "deliver", key, "--data", "ported=true", *common)
    assert (r.exit_code, r.stdout, r.stderr) == (0, "this callback was delivered before: ignored\n", "")

    # The technician comes; the order completes.
    r = om("tasks", "complete", "ORD-1003", "1/D1:install_visit", "--by", "tech", "-q", *common)
    assert r.exit_code == 0, r.output
    assert r.stdout == "order ORD-1003: completed\n"
    effects = {e["key"]: (e["operation"], e["calls"]) for e in get_json(simulator.url + "/_effects")}
    assert effects == {key: ("port_number", 1), "ORD-1003:3/D6:activate_voice:1": ("activate_voice", 1)}  # voice over HTTP, once each


def test_a_failed_callback_holds_the_order_and_a_retry_waits_for_a_new_answer(db, tmp_path, simulator, nobody_listens):
    common = ["--db", db, "--config", write_config(tmp_path, simulator, "voice", callback_url=nobody_listens), *CLOCK]
    assert om("run", CATALOG, PORTED_PHONE, "-q", *common).exit_code == 0
    key = "ORD-1003:3/D6:port_number:1"
    r = om("tasks", "skip", "ORD-1003", "3/D6:port_number", "--reason", "x", *common)
    assert (r.exit_code, r.stderr) == (1, "Error: task 3/D6:port_number of order ORD-1003 is running: its call is in flight; wait for its answer\n")

    r = om("callbacks", "deliver", key, "--failed", "the number is not portable", *common)
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[0] == "order ORD-1003: held"
    assert "3/D6:port_number             fatallyFailed fatally failed: the number is not portable" in r.stdout

    r = om("tasks", "retry", "ORD-1003", "3/D6:port_number", "--reason", "the customer asked the old operator", "--by", "ops-anna", "-q", *common)
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[0] == "order ORD-1003: inProgress"
    assert tasks_of(db, "ORD-1003")["3/D6:port_number"]["status"] == "running"
    # The answer's default id derives from the correlation id: a second answer needs an id of its own.
    assert om("callbacks", "deliver", key, *common).stdout == "this callback was delivered before: ignored\n"
    r = om("callbacks", "deliver", key, "--id", "port-2", *common)
    assert r.exit_code == 0, r.output
    assert "3/D6:port_number             running -> completed         callback received" in r.stderr
    assert tasks_of(db, "ORD-1003")["3/D6:port_number"]["status"] == "completed"


def test_deliver_a_callback_without_a_database(tmp_path, in_repo):
    missing = tmp_path / "missing.db"
    r = om("callbacks", "deliver", "ORD-1:1/D1:x:1", "--db", missing, *CLOCK)
    assert r.exit_code == 2 and f"Error: no database at {missing}" in r.stderr and no_traceback(r)
    assert not missing.exists()


# ---- om hub and om notifications ---------------------------------------------------------------------------


def test_hub_listener_gets_every_event_at_least_once(db, tmp_path):
    listener = Listener().start()
    try:
        listener.refuse = 1  # the first delivery answers 503
        r = om("hub", "register", "ftp://example.com/events", "--db", db, *CLOCK)
        assert r.exit_code == 2 and "Error: 'ftp://example.com/events' is not an http(s) URL" in r.stderr
        assert not (tmp_path / "om.db").exists()

        r = om("hub", "register", listener.url, "--db", db, *CLOCK)
        assert (r.exit_code, r.stdout) == (0, f"{listener.url} is registered\n")
        r = om("hub", "register", listener.url, "--db", db, *CLOCK)
        assert (r.exit_code, r.stdout) == (0, f"{listener.url} was registered already\n")
        assert om("hub", "list", "--db", db).stdout == f"{listener.url}\n"
        assert as_json(om("hub", "list", "--db", db, "--format", "json")) == [listener.url]
        assert om("notifications", "list", "--db", db).stdout == "no notifications\n"

        r = om("run", CATALOG, TV_ALONE, "-q", "--db", db, *CLOCK)
        assert r.exit_code == 0, r.output
        assert r.stdout == "order ORD-1002: completed\n"  # a listener that refuses does not hold the order up
        assert listener.ids() == []  # the first event failed; the later ones wait behind it: events arrive in order

        pending = as_json(om("notifications", "list", "--pending", "--db", db, "--format", "json"))
        assert [p["event"] for p in pending] == ["ORD-1002:event:1", "ORD-1002:event:2", "ORD-1002:event:3"]
        assert [(p["type"], p["state"]) for p in pending] == [
            ("ProductOrderCreateEvent", "acknowledged"),
            ("ProductOrderStateChangeEvent", "inProgress"),
            ("ProductOrderStateChangeEvent", "completed"),
        ]
        first = pending[0]
        assert (first["status"], first["attempts"], first["listener"], first["order"]) == ("pending", 1, listener.url, "ORD-1002")
        assert first["last_error"] == f"{listener.url} answered 503"
        assert first["next_try_at"] == "2026-11-27T00:00:01Z"  # 1 s after the failure
        assert [p["attempts"] for p in pending[1:]] == [0, 0] and all("last_error" not in p for p in pending[1:])
        text = om("notifications", "list", "--pending", "--db", db).stdout.splitlines()
        assert len(text) == 3 and text[0].split()[:3] == ["ORD-1002:event:1", "ProductOrderCreateEvent", "acknowledged"]
        assert text[0].endswith(f"pending, next try 2026-11-27T00:00:01Z ({listener.url} answered 503)")
        assert om("notifications", "list", "--order", "NOPE", "--db", db).stdout == "no notifications\n"

        # No time has passed: nothing is due yet.
        r = om("resume", "--db", db, "-q")
        assert (r.exit_code, r.stdout) == (0, "")  # no unfinished order
        assert len(as_json(om("notifications", "list", "--pending", "--db", db, "--format", "json"))) == 3

        # A day later the pending events go out, once each, in order.
        r = om("resume", "--db", db, "--clock", "simulated", "--start", "2026-11-28", "-q")
        assert r.exit_code == 0, r.output
        assert om("notifications", "list", "--pending", "--db", db).stdout == "no notifications pending\n"
        delivered = as_json(om("notifications", "list", "--order", "ORD-1002", "--db", db, "--format", "json"))
        assert [(d["event"], d["status"], d["attempts"], d["delivered_at"]) for d in delivered] == [
            ("ORD-1002:event:1", "delivered", 2, "2026-11-28T00:00:00Z"),
            ("ORD-1002:event:2", "delivered", 1, "2026-11-28T00:00:00Z"),
            ("ORD-1002:event:3", "delivered", 1, "2026-11-28T00:00:00Z"),
        ]
        assert all("last_error" not in d and "next_try_at" not in d for d in delivered)
        assert listener.ids() == ["ORD-1002:event:1", "ORD-1002:event:2", "ORD-1002:event:3"]
        assert all(h.get("Idempotency-Key") == b["eventId"] for h, b in listener.received)

        r = om("hub", "unregister", listener.url, "--db", db)
        assert (r.exit_code, r.stdout) == (0, f"{listener.url} is unregistered\n")
        r = om("hub", "unregister", listener.url, "--db", db)
        assert r.exit_code == 2 and f"Error: {listener.url} is not registered" in r.stderr
        assert om("hub", "list", "--db", db).stdout == "no listener: events go to the simulated originating system\n"
        assert as_json(om("hub", "list", "--db", db, "--format", "json")) == []

        # Without a listener the events go to the simulated originating system: no new delivery.
        assert om("run", CATALOG, FIBER_MINIMAL, "-q", "--db", db, *CLOCK).exit_code == 0
        assert as_json(om("notifications", "list", "--order", "ORD-1004", "--db", db, "--format", "json")) == []
        assert len(listener.received) == 3
    finally:
        listener.stop()


def test_hub_register_refuses_a_url_with_a_bad_port(db):
    r = om_caught("hub", "register", "http://127.0.0.1:abc/events", "--db", db, *CLOCK)
    assert r.exit_code == 2 and no_traceback(r)


def test_a_listener_url_that_cannot_be_used_does_not_crash_the_runner(db):
    om("hub", "register", "http://127.0.0.1:abc/events", "--db", db, *CLOCK)
    r = om_caught("run", CATALOG, TV_ALONE, "-q", "--db", db, *CLOCK)
    assert no_traceback(r), repr(r.exception)
    assert r.exit_code == 0 and r.stdout == "order ORD-1002: completed\n"


# ---- jeopardy --------------------------------------------------------------------------------------------------


def test_orders_list_by_jeopardy(db, tmp_path):
    assert om("run", CATALOG, EVERY_OPTION, TV_ALONE, "-q", "--db", db, *CLOCK).exit_code == 0
    # billing waits until 1 December: the simulated clock went past install_visit's 3-day due date
    red = om("orders", "list", "--jeopardy", "red", "--db", db)
    assert red.exit_code == 0
    assert red.stdout.split() == ["ORD-1001", "inProgress", "ACC-42", "2026-12-01T00:00:00Z", "red"]
    assert [(o["id"], o["jeopardy"]) for o in as_json(om("orders", "list", "--jeopardy", "red", "--db", db, "--format", "json"))] == [("ORD-1001", "red")]
    assert om("orders", "list", "--jeopardy", "green", "--db", db).stdout == ""
    assert as_json(om("orders", "list", "--jeopardy", "green", "--db", db, "--format", "json")) == []
    assert as_json(om("orders", "list", "--jeopardy", "yellow", "--db", db, "--format", "json")) == []
    assert as_json(om("orders", "list", "--jeopardy", "red", "--status", "completed", "--db", db, "--format", "json")) == []
    assert om("orders", "show", "ORD-1001", "--db", db).stdout.splitlines()[0].endswith("  jeopardy red")
    r = om("orders", "list", "--jeopardy", "purple", "--db", db)
    assert r.exit_code == 2 and "Invalid value for '--jeopardy'" in r.stderr

    # The visit is done: the order completes and is in no jeopardy.
    assert om("tasks", "complete", "ORD-1001", "1/D1:install_visit", "--by", "tech", "-q", "--db", db, *CLOCK).exit_code == 0
    assert as_json(om("orders", "list", "--jeopardy", "red", "--db", db, "--format", "json")) == []
    assert show(db, "ORD-1001")["jeopardy"] is None

    # On the wall clock a visit just made ready is green.
    other = str(tmp_path / "wall.db")
    assert om("run", CATALOG, FIBER_MINIMAL, "-q", "--db", other, "--clock", "system", "--tasks-path", "examples").exit_code == 0
    assert [(o["id"], o["jeopardy"]) for o in as_json(om("orders", "list", "--jeopardy", "green", "--db", other, "--format", "json"))] == [("ORD-1004", "green")]
    assert om("orders", "list", "--jeopardy", "red", "--db", other).stdout == ""


# ---- a manual task that cannot be evaluated ------------------------------------------------------------------

MINI = """
catalog mini version "1"

default retry none
default timeout 30s

queue ops "Operations"

commercial SVC "Service" root {
  attr address_id: string required
}

technical LINE_CFS "Line" cfs {
  attr address_id: string required
}

decompose D1: SVC -> LINE_CFS {
  address_id = address_id
}

system net "Network" {
  operation lookup(address_id: string) -> (n: int)
}

plan LINE_CFS on add {
  callout lookup = net.lookup(address_id)
  manual check "Check the line" queue ops
    after lookup
    when 100 / (lookup.n - lookup.n) > 1
}
"""

MINI_ORDER = {
    "id": "M-1",
    "relatedParty": [{"id": "ACC-1", "role": "customer"}],
    "productOrderItem": [{"id": "1", "action": "add", "productOffering": {"id": "SVC"}, "product": {"productCharacteristic": [{"name": "address_id", "value": "A-1"}]}}],
}


@pytest.fixture
def held_by_a_manual_task(db, tmp_path):
    """An order held because its manual task's condition divides by zero (on an output, so at run time)."""
    (tmp_path / "mini.om").write_text(MINI, encoding="utf-8")
    (tmp_path / "order.json").write_text(json.dumps(MINI_ORDER), encoding="utf-8")
    r = om("run", tmp_path / "mini.om", tmp_path / "order.json", "--db", db, *CLOCK)
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[0] == "order M-1: held"
    assert "1/D1:check                   pending -> fatallyFailed     cannot evaluate: " in r.stderr and "division by zero" in r.stderr
    return ["--db", db, *CLOCK]


def test_a_manual_task_that_cannot_be_evaluated_is_skipped(db, held_by_a_manual_task):
    common = held_by_a_manual_task
    r = om("tasks", "retry", "M-1", "1/D1:check", *common)  # evaluated again: still a division by zero
    assert r.exit_code == 0 and r.stdout.splitlines()[0] == "order M-1: held"
    assert "retried by" in " ".join(causes(db, "M-1", "1/D1:check"))
    r = om("tasks", "skip", "M-1", "1/D1:check", "--reason", "checked by phone", "--by", "ops-anna", *common)
    assert r.exit_code == 0, r.output
    assert r.stdout == "order M-1: completed\n"
    assert "skipped by ops-anna: checked by phone" in causes(db, "M-1", "1/D1:check")


def test_resume_an_order_held_by_a_manual_task(db, held_by_a_manual_task):
    r = om_caught("orders", "resume", "M-1", *held_by_a_manual_task)
    assert no_traceback(r), repr(r.exception)
    assert r.exit_code == 0 and r.stdout.splitlines()[0] == "order M-1: held"  # evaluated again, and fails again
    assert any(c.startswith("order resumed by") for c in causes(db, "M-1", "1/D1:check"))


# ---- usage errors ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("listen", ["nonsense", "127.0.0.1:http", ":8790", "127.0.0.1:"])
def test_serve_with_a_listen_address_that_is_not_host_port(tmp_path, in_repo, listen):
    db = tmp_path / "om.db"
    r = om("serve", "--listen", listen, "--db", db, "-q")
    assert r.exit_code == 2
    assert f"Error: --listen {listen!r} is not HOST:PORT" in r.stderr
    assert no_traceback(r) and not db.exists()


def test_serve_on_a_port_in_use(tmp_path, in_repo):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = om("serve", "--listen", f"127.0.0.1:{port}", "--db", tmp_path / "om.db", "-q")
    assert r.exit_code == 2
    assert f"Error: cannot listen on 127.0.0.1:{port}: " in r.stderr and no_traceback(r)


def test_serve_on_a_port_out_of_range(tmp_path, in_repo):
    r = om_caught("serve", "--listen", "127.0.0.1:99999", "--db", tmp_path / "om.db", "-q")
    assert r.exit_code == 2 and no_traceback(r), repr(r.exception)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda tmp_path: tmp_path / "nope", "does not exist"),
        (lambda tmp_path: (tmp_path / "empty").mkdir() or tmp_path / "empty", "is not a compiled catalog: it needs plan.json and the generated modules (run `om compile`)"),
    ],
)
def test_simulate_serve_with_a_bad_folder(tmp_path, in_repo, make, message):
    folder = make(tmp_path)
    r = om("simulate", "serve", folder, "--state", tmp_path / "state.db", "-q")
    assert r.exit_code == 2
    assert message in r.stderr and no_traceback(r)
    assert r.stdout == ""  # no URL: nothing is served
    assert not (tmp_path / "state.db").exists()


@pytest.mark.parametrize(
    "fault, message",
    [
        ("nope.op=fail:1", "fault for 'nope.op': the catalog has no such operation"),
        ("iptv.activate_iptv=bogus", "fault 'bogus': cannot read 'bogus'"),
        ("noequals", "--fault 'noequals': expected SYSTEM.OPERATION=SPEC"),
    ],
)
def test_simulate_serve_with_a_bad_fault(tmp_path, in_repo, fault, message):
    r = om("simulate", "serve", CATALOG, "--fault", fault, "--state", tmp_path / "state.db", "-q")
    assert r.exit_code == 2 and message in r.stderr and no_traceback(r)
    assert not (tmp_path / "state.db").exists()


@pytest.mark.parametrize(
    "text, message",
    [
        ('[systems.iptv]\nbase_url = "ftp://iptv.example"\n', "systems.iptv.base_url: 'ftp://iptv.example' is not an http(s) URL"),
        ('[systems.iptv]\nbase_url = "http://127.0.0.1:1"\ntimeout = "10x"\n', "systems.iptv.timeout: '10x' is not a duration (such as 500ms, 10s, 5m, 1h)"),
        ('[engine]\ncallbak_url = "http://127.0.0.1:1/callbacks"\n', "engine.callbak_url: unknown setting (known: callback_secret, callback_secret_file, callback_url)"),
        ('[systems.tv]\nadapter = "simulated"\n', "systems.tv: no system of that name in the catalog (its systems: billing, inventory, ipam, iptv, logistics, network, voice)"),
        ('[systems.iptv]\nadapter = "carrier-pigeon"\n', "systems.iptv.adapter: must be one of simulated, http, python, not 'carrier-pigeon'"),
        ('[systems.iptv]\nbase_url = "$OM_TEST_UNSET_IPTV_URL"\n', "systems.iptv.base_url: the environment variable OM_TEST_UNSET_IPTV_URL is not set"),
        ("[systems.iptv\n", "om.toml: "),  # not TOML
    ],
)
def test_config_with_a_mistake_is_a_usage_error_naming_the_key(tmp_path, in_repo, monkeypatch, text, message):
    monkeypatch.delenv("OM_TEST_UNSET_IPTV_URL", raising=False)
    config = tmp_path / "om.toml"
    config.write_text(text, encoding="utf-8")
    db = tmp_path / "om.db"
    r = om("run", CATALOG, TV_ALONE, "--db", db, "--config", config, *CLOCK)
    assert r.exit_code == 2
    assert f"Error: {config}: " in r.stderr and message in r.stderr
    assert no_traceback(r) and r.stdout == ""
    assert not db.exists()  # nothing ran


def test_config_that_does_not_exist(tmp_path, in_repo):
    r = om("run", CATALOG, TV_ALONE, "--db", tmp_path / "om.db", "--config", tmp_path / "missing.toml", *CLOCK)
    assert r.exit_code == 2 and f"Error: {tmp_path / 'missing.toml'}: no such configuration file" in r.stderr


def test_config_with_a_base_url_whose_port_is_not_a_number(tmp_path, in_repo):
    config = tmp_path / "om.toml"
    config.write_text('[systems.iptv]\nbase_url = "http://127.0.0.1:abc"\n', encoding="utf-8")
    r = om_caught("run", CATALOG, TV_ALONE, "--db", tmp_path / "om.db", "--config", config, *CLOCK)
    assert no_traceback(r), repr(r.exception)
    assert r.exit_code == 2 and "systems.iptv.base_url" in r.stderr
