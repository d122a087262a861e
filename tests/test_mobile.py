"""The mobile catalog (specs/mobile) on both engines: the subscription's plan
reads what the SIM line's plan allocated (`SIM_RFS.allocate_sim.iccid in
bundle`), and the ported number of the porting line, at run time."""

from __future__ import annotations

import json

import pytest

from om_dsl.build import build, write
from om_dsl.engine import state as S
from om_dsl.rules.generated import GeneratedRules

from support import ROOT
from support.scenario_engines import Embedded, OnTemporal, order_doc

ORDER = ROOT / "examples" / "orders" / "mobile" / "sim-handset-port.json"


@pytest.fixture(scope="module")
def mobile(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mobile")
    result = build([str(ROOT / "specs")])
    assert result.ok
    write(folder, result.files())
    return GeneratedRules(folder / "mobile")


@pytest.fixture(params=["embedded", pytest.param("temporal", marks=pytest.mark.temporal)])
def engine(request, tmp_path, mobile):
    if request.param == "embedded":
        made = Embedded(tmp_path, mobile, {})
    else:
        made = OnTemporal(tmp_path, mobile, {}, request.getfixturevalue("temporal_server"))
    yield made
    made.close()


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
