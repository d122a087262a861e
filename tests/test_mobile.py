"""The mobile catalog (specs/mobile) on both engines: the subscription's plan
reads what the SIM line's plan allocated (`SIM_RFS.allocate_sim.iccid in
bundle`), and the ported number of the porting line, at run time; porting
retries by failure class (`for timeout, unreachable, 5xx, 429 fatal 409`) and
routes a refusal to the porting desk's queue (`fallout porting_desk`), whose
resolution moves the order on."""

from __future__ import annotations

import json
import shutil

import pytest

from om_dsl.build import build, write
from om_dsl.engine import state as S
from om_dsl.engine.core import Rejection
from om_dsl.rules.generated import GeneratedRules

from support import ROOT
from support.scenario_engines import order_doc

ORDER = ROOT / "examples" / "orders" / "mobile" / "sim-handset-port.json"


PORTING = "retry porting = staggered 10s, 1m, 10m for"


@pytest.fixture(scope="module")
def mobile(tmp_path_factory):
    """The mobile catalog, its porting retries a second apart (Temporal waits in real time)."""
    folder = tmp_path_factory.mktemp("mobile")
    specs = folder / "specs"
    shutil.copytree(ROOT / "specs", specs)
    catalog = specs / "mobile" / "catalog.om"
    text = catalog.read_text(encoding="utf-8")
    assert PORTING in text, "specs/mobile/catalog.om no longer says " + PORTING
    catalog.write_text(text.replace(PORTING, "retry porting = staggered 1s, 1s, 1s for"), encoding="utf-8")
    result = build([str(specs)])
    assert result.ok
    write(folder / "generated", result.files())
    return GeneratedRules(folder / "generated" / "mobile")


@pytest.fixture
def engine_catalog(mobile):
    return mobile


@pytest.fixture
def engine(make_engine):
    return make_engine()


def calls(engine, order_id) -> dict:
    """task id -> (operation, arguments, outputs) of the calls the simulated systems applied."""
    out = {}
    for key, _system, op, args, outputs, _n in engine.simulators.effects():
        if key.startswith(order_id + ":"):
            out[key[len(order_id) + 1:].rsplit(":", 1)[0]] = (op, json.loads(args), json.loads(outputs))
    return out


def test_the_subscription_reads_the_sim_lines_iccid_and_the_ported_number(engine):
    oid = engine.submit(order_doc(ORDER, engine.new_id("MOB")))
    view = engine.settle(oid, lambda v: v["status"] in S.FINAL)
    assert view["status"] == S.ORDER_COMPLETED
    done = calls(engine, oid)
    allocated = done["1/M1:allocate_sim"][2]
    assert allocated["iccid"] and allocated["imsi"]
    # The other line's output, as its task returned it; the number the porting line carries.
    assert done["1/M2:provision"][1] == {"iccid": allocated["iccid"], "imsi": allocated["imsi"], "msisdn": "+31612345678", "tariff": "M"}
    # An attribute the SIM line's task set on its line (`sets iccid = ...`).
    assert done["2/M3:ship_handset"][1]["iccid"] == allocated["iccid"]
    # Porting brings the number: no new one is assigned.
    assert view["tasks"]["1/M2:assign_msisdn"]["status"] == S.SKIPPED
    assert "1/M2:assign_msisdn" not in done


def test_without_porting_a_number_is_assigned_and_provisioned(engine):
    doc = json.loads(order_doc(ORDER, engine.new_id("MOBNEW")))
    root = doc["productOrderItem"][0]
    root["productOrderItem"] = [i for i in root["productOrderItem"] if i["productOffering"]["id"] != "NUMBER_PORT"]
    oid = engine.submit(json.dumps(doc))
    view = engine.settle(oid, lambda v: v["status"] in S.FINAL)
    assert view["status"] == S.ORDER_COMPLETED
    done = calls(engine, oid)
    assigned = done["1/M2:assign_msisdn"][2]["msisdn"]
    assert done["1/M2:provision"][1]["msisdn"] == assigned
    assert done["1/M2:provision"][1]["iccid"] == done["1/M1:allocate_sim"][2]["iccid"]



def test_the_order_scoped_billing_line_aggregates_every_sim_of_the_order(engine):
    """Two subscriptions in one order: two SIM lines in the order, one in each bundle."""
    doc = json.loads(order_doc(ORDER, engine.new_id("MOBTWO")))
    second = json.loads(json.dumps(doc["productOrderItem"][0]))
    second["id"] = "10"
    second["productOrderItem"] = []
    doc["productOrderItem"].append(second)
    oid = engine.submit(json.dumps(doc))
    view = engine.settle(oid, lambda v: v["status"] in S.FINAL)
    assert view["status"] == S.ORDER_COMPLETED
    done = calls(engine, oid)
    iccids = [done[f"{item}/M1:allocate_sim"][2]["iccid"] for item in ("1", "10")]
    assert len(set(iccids)) == 2
    assert done["order/M5:open_account"][1]["sims"] == 2 and done["order/M5:open_account"][1]["first_iccid"] == iccids[0]
    # each subscription reads its own bundle's SIM
    assert [done[f"{item}/M2:provision"][1]["iccid"] for item in ("1", "10")] == iccids


def test_a_disconnect_reads_the_iccid_the_sim_line_kept_from_the_earlier_order(engine):
    base, customer = engine.new_id("MOBBASE"), engine.new_id("ACC")
    engine.submit(order_doc(ORDER, base, customer=customer))
    assert engine.settle(base, lambda v: v["status"] in S.FINAL)["status"] == S.ORDER_COMPLETED
    engine.settle(base, lambda v: f"AST-{base}-1" in engine.assets(customer))  # Temporal: the installed base hears of it just after
    iccid = calls(engine, base)["1/M1:allocate_sim"][2]["iccid"]
    gone = engine.new_id("MOBDEL")
    doc = order_doc(ROOT / "examples" / "orders" / "mobile" / "disconnect.json", gone, customer=customer).replace("AST-ORD-2001-", f"AST-{base}-")
    engine.submit(doc)
    view = engine.settle(gone, lambda v: v["status"] in S.FINAL)
    assert view["status"] == S.ORDER_COMPLETED
    done = calls(engine, gone)
    assert done["1/M2:deprovision"][1] == {"iccid": iccid} and done["1/M1:release_sim"][1] == {"iccid": iccid}
    assert _before(engine, gone, "1/M2:deprovision", "1/M1:release_sim")  # `before SIM_RFS.release_sim in bundle`


def _before(engine, order_id, first, then) -> bool:
    """`first` completed before `then` started, by the order's history."""
    story = [(h["subject"], h["to"]) for h in engine.history(order_id)]
    return story.index((first, S.COMPLETED)) < story.index((then, S.RUNNING))

# ---- retries by failure class, and fallout --------------------------------------------------------

PORT_IN = "3/M4:port_in"
FALLOUT = PORT_IN + ".fallout"


def open_in_queue(engine, queue: str) -> list:
    """(order, task) of the open manual tasks of a queue: what `om tasks list --queue` shows."""
    if engine.name == "embedded":
        return [(r[0], r[1]) for r in engine.runner.store.open_manual_tasks(queue=queue)]
    return [(r[0], r[1]) for r in engine.orders.open_manual_tasks(queue=queue)]


def causes(engine, order_id, subject) -> list:
    return [h["cause"] for h in engine.history(order_id) if h["subject"] == subject]


def in_fallout(view) -> bool:
    return view["tasks"].get(FALLOUT, {}).get("status") == S.READY and view["tasks"]["1/M2:provision"]["status"] == S.PENDING and not any(
        t["status"] in (S.RUNNING, S.FAILED) for t in view["tasks"].values()
    )


def test_a_retried_class_of_failure_is_retried_by_the_policy(make_engine):
    engine = make_engine(fail={"numbers.port_in": "503:2"})
    oid = engine.submit(order_doc(ORDER, engine.new_id("MOB503")))
    view = engine.settle(oid, lambda v: v["status"] in S.FINAL)
    assert view["status"] == S.ORDER_COMPLETED and view["tasks"][PORT_IN]["attempts"] == 3
    assert FALLOUT not in view["tasks"]
    assert sum("retry" in c and "of the policy" in c for c in causes(engine, oid, PORT_IN)) == 2


def test_a_fatal_failure_opens_a_fallout_task_instead_of_holding_the_order(make_engine):
    engine = make_engine(fail={"numbers.port_in": "409:1"})
    oid = engine.submit(order_doc(ORDER, engine.new_id("MOBFALL")))
    view = engine.settle(oid, in_fallout)
    # 409 is fatal for `porting` at once: one attempt, no retry; the order is not held.
    assert view["status"] == S.IN_PROGRESS
    assert view["tasks"][PORT_IN]["status"] == S.FATALLY_FAILED and view["tasks"][PORT_IN]["attempts"] == 1
    assert view["tasks"][PORT_IN]["waiting_for"] == f"in fallout: {FALLOUT} waits for a person in queue porting_desk"
    assert view["tasks"][FALLOUT]["queue"] == "porting_desk"
    # The rest of the order went on: the SIM and the handset.
    assert view["tasks"]["1/M1:allocate_sim"]["status"] == S.COMPLETED and view["tasks"]["2/M3:ship_handset"]["status"] == S.COMPLETED
    assert (oid, FALLOUT) in open_in_queue(engine, "porting_desk") and (oid, FALLOUT) not in open_in_queue(engine, "field_ops")
    assert any("`409` is fatal for its retry policy" in c for c in causes(engine, oid, PORT_IN))
    assert any(c.startswith(f"fallout of {PORT_IN}") for c in causes(engine, oid, FALLOUT))
    with pytest.raises(Rejection, match="needs a resolution"):
        engine.complete(oid, FALLOUT, {"note": "called the donor"})
    engine.complete(oid, FALLOUT, {"resolution": "retried"}, by="desk-ines")
    view = engine.settle(oid, lambda v: v["status"] in S.FINAL)
    assert view["status"] == S.ORDER_COMPLETED
    assert view["tasks"][PORT_IN]["status"] == S.COMPLETED and view["tasks"][FALLOUT]["outputs"] == {"resolution": "retried"}
    assert any(c.endswith(f"fallout {FALLOUT} resolved by desk-ines: retried") for c in causes(engine, oid, PORT_IN))  # "attempt 2, ..."
    assert (oid, FALLOUT) not in open_in_queue(engine, "porting_desk")


@pytest.mark.parametrize("resolution", ["skipped", "fixed"])
def test_a_fallout_resolved_by_hand_moves_the_order_on(make_engine, resolution):
    engine = make_engine(fail={"numbers.port_in": "409:9"})  # the donor refuses every time
    oid = engine.submit(order_doc(ORDER, engine.new_id("MOBHAND")))
    engine.settle(oid, in_fallout)
    with pytest.raises(Rejection, match="go with resolution=fixed only"):
        engine.complete(oid, FALLOUT, {"resolution": "skipped", "msisdn": "+31600000000"})
    engine.complete(oid, FALLOUT, {"resolution": resolution}, by="desk-ines")
    view = engine.settle(oid, lambda v: v["status"] in S.FINAL)
    assert view["status"] == S.ORDER_COMPLETED
    assert view["tasks"][PORT_IN]["status"] == (S.SKIPPED if resolution == "skipped" else S.COMPLETED)
    assert view["tasks"][PORT_IN]["attempts"] == 1  # not called again
    done = "skipped" if resolution == "skipped" else "fixed by hand"
    assert f"fallout {FALLOUT} resolved by desk-ines: {done}" in causes(engine, oid, PORT_IN)
    assert calls(engine, oid)["1/M2:provision"][1]["msisdn"] == "+31612345678"


def test_a_failure_the_policy_does_not_name_is_fatal_at_once(make_engine):
    engine = make_engine(fail={"numbers.port_in": "400:1"})  # not in `for timeout, unreachable, 5xx, 429`
    oid = engine.submit(order_doc(ORDER, engine.new_id("MOB400")))
    view = engine.settle(oid, in_fallout)
    assert view["tasks"][PORT_IN]["attempts"] == 1
    assert any("its retry policy retries only timeout, unreachable, 5xx, 429, not `400`" in c for c in causes(engine, oid, PORT_IN))


def test_om_run_of_several_catalogs_runs_the_one_that_sells_the_orders(tmp_path, in_repo):
    from click.testing import CliRunner

    from om_dsl.cli import main

    db = ["--db", str(tmp_path / "om.db"), "--clock", "simulated", "--start", "2026-12-01", "--systems-db", str(tmp_path / "systems.db")]
    for source in ("generated", "specs"):  # each holds acme and mobile
        r = CliRunner().invoke(main, ["run", source, "examples/orders/mobile/sim-handset-port.json", "-q", *db])
        assert r.exit_code == 0, r.output
        assert "order ORD-2001: completed" in r.output
        db[1] = str(tmp_path / "again.db")
    r = CliRunner().invoke(main, ["run", "generated", "examples/orders/mobile/sim-handset-port.json", "examples/orders/fiber-minimal.json", "-q", *db])
    assert r.exit_code == 2 and "holds 2 compiled catalogs (acme, mobile); choose one with --catalog" in r.output




def test_om_tasks_list_shows_the_fallout_of_a_queue_and_completing_it_resolves_it(tmp_path, in_repo):
    """The CLI, with the numbers system over HTTP (the simulator on 127.0.0.1) refusing the first port-in."""
    from click.testing import CliRunner

    from om_dsl.cli import main
    from om_dsl.simulate.server import SimulatorServer

    server = SimulatorServer(GeneratedRules(ROOT / "generated" / "mobile").catalog, str(tmp_path / "sim.db"), port=0, faults={"numbers.port_in": "status:409:1"}).start()
    try:
        config = tmp_path / "om.toml"
        config.write_text(f'[systems.numbers]\nbase_url = "{server.url}"\n', encoding="utf-8")
        db = ["--db", str(tmp_path / "om.db"), "--systems-db", str(tmp_path / "systems.db"), "--config", str(config), "--clock", "simulated", "--start", "2026-12-01"]
        r = CliRunner().invoke(main, ["run", "generated/mobile", "examples/orders/mobile/sim-handset-port.json", "-q", *db])
        assert r.exit_code == 0 and "order ORD-2001: inProgress" in r.output, r.output
        listed = CliRunner().invoke(main, ["tasks", "list", "--queue", "porting_desk", "--db", str(tmp_path / "om.db")])
        assert listed.output == f"ORD-2001 {FALLOUT}         queue porting_desk   (om tasks complete ORD-2001 {FALLOUT} --data resolution=retried|skipped|fixed)\n"
        refused = CliRunner().invoke(main, ["tasks", "complete", "ORD-2001", FALLOUT, *db])
        assert refused.exit_code == 1 and "needs a resolution" in refused.output
        done = CliRunner().invoke(main, ["tasks", "complete", "ORD-2001", FALLOUT, "--data", "resolution=retried", "--by", "ines", "-q", *db])
        assert done.exit_code == 0 and "order ORD-2001: completed" in done.output, done.output
        history = CliRunner().invoke(main, ["orders", "history", "ORD-2001", "--db", str(tmp_path / "om.db")]).output
        assert "resolved by ines: retried" in history and "(`409` is fatal for its retry policy)" in history
    finally:
        server.stop()
