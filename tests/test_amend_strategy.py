"""`on amend keep | redo | undo_redo`: what a revision does to a completed task,
per task. The Acme amendment cases, run end to end on the embedded engine
(the merge is the pure core's: the Temporal workflow runs the same one), on
Acme's specs with one clause added."""

from __future__ import annotations

import json

import pytest

from om_dsl.build import build
from om_dsl.check import check_texts
from om_dsl.engine import state as S
from om_dsl.model import loads, plan_json
from om_dsl.rules.interpreter import Interpreter

from support import ROOT
from support.engine_helpers import history, make_runner, operate

AMEND = ROOT / "examples" / "orders" / "amend"
ORDER = "ORD-3000"
RESERVE = "    compensate inventory.release_port(port_id = reserve_port.port_id)\n"
SHIP_ONT = "    compensate logistics.return_device(shipment_id = ship_ont.shipment_id)\n"
SHIP_DEVICE = "    compensate logistics.return_device(shipment_id = ship_device.shipment_id)\n"


def acme_with(tmp_path, **clauses):
    """Acme's specs, with `on amend ...` after the compensation of the named tasks."""
    specs = tmp_path / "specs"
    for path in (ROOT / "specs").rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            target = specs / path.relative_to(ROOT / "specs")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    add = specs / "acme" / "plans_add.om"
    text = add.read_text(encoding="utf-8")
    for anchor, strategy in clauses.items():
        line = {"reserve_port": RESERVE, "ship_ont": SHIP_ONT, "ship_device": SHIP_DEVICE}[anchor]
        assert line in text
        text = text.replace(line, line + f"    on amend {strategy}\n")
    add.write_text(text, encoding="utf-8")
    result = build([str(specs)])
    assert result.ok, [d.message for d in result.check.diagnostics]
    return Interpreter(result.catalogs[0], result.tasks_folder("acme"))


def effects(runner) -> dict:
    return {key: (op, json.loads(args), json.loads(outputs), calls) for key, system, op, args, outputs, calls in runner.simulators.effects()}


def revised(tmp_path, revision: str, **clauses):
    runner = make_runner(tmp_path, rules=acme_with(tmp_path, **clauses))
    runner.submit((AMEND / "order.json").read_text(encoding="utf-8"))
    runner.drive()  # everything shipped and reserved; the installation visit waits for a person
    runner.amend(ORDER, (AMEND / f"{revision}.json").read_text(encoding="utf-8"), "csr")
    operate(runner)
    assert runner.store.load(ORDER).status == S.ORDER_COMPLETED
    return runner, effects(runner)


def causes(runner, task: str) -> list:
    return [e["cause"] for e in history(runner.store, ORDER) if e["subject"] == task and "revision" in e["cause"]]


def test_without_a_clause_a_task_with_a_compensation_is_undone_then_done_again(tmp_path):
    runner, calls = revised(tmp_path, "speed-1000")
    assert f"{ORDER}:1/D1:reserve_port:undo:1" in calls and f"{ORDER}:1/D1:reserve_port:2" in calls
    assert f"{ORDER}:1/D2:ship_ont:undo:1" in calls and f"{ORDER}:1/D2:ship_ont:2" in calls


def test_redo_calls_again_without_undoing(tmp_path):
    runner, calls = revised(tmp_path, "speed-1000", reserve_port="redo")
    assert f"{ORDER}:1/D1:reserve_port:2" in calls and calls[f"{ORDER}:1/D1:reserve_port:2"][1]["down_mbps"] == 1000
    assert not any("reserve_port:undo" in key for key in calls)
    assert causes(runner, "1/D1:reserve_port") == ["revision 2 changes its inputs: done again, not undone first (on amend redo)"]
    assert f"{ORDER}:1/D2:ship_ont:undo:1" in calls  # the other tasks keep the default


def test_keep_leaves_a_completed_task_as_it_completed(tmp_path):
    runner, calls = revised(tmp_path, "speed-1000", ship_ont="keep")
    assert calls[f"{ORDER}:1/D2:ship_ont:1"][3] == 1
    assert not any("ship_ont:2" in key or "ship_ont:undo" in key for key in calls)
    assert causes(runner, "1/D2:ship_ont") == ["revision 2 changes its inputs: kept as it completed (on amend keep)"]
    assert f"{ORDER}:1/D1:reserve_port:2" in calls


def test_keep_is_not_undone_when_the_revision_removes_it(tmp_path):
    runner, calls = revised(tmp_path, "mesh-swap", ship_device="keep")
    assert not any(key.startswith(f"{ORDER}:4/D5:ship_device:undo") for key in calls)
    assert causes(runner, "4/D5:ship_device") == ["removed by revision 2: kept as done (on amend keep)"]


def test_undo_redo_needs_a_compensation():
    spec = """catalog c version "1"
technical T "T" rfs { attr a: string optional }
decompose d: order -> T { a = order.customer_account }
system s "S" { operation go(a: string) operation stop(a: string) }
plan T on add {
  callout go = s.go(a) on amend STRATEGY
  manual look "Look" queue q on amend redo
}
plan T on delete { }
queue q "Q"
"""
    for strategy, expected in (("undo_redo", ["E510", "E534"]), ("redo", ["E510"]), ("keep", ["E510"])):
        result = check_texts({"c.om": spec.replace("STRATEGY", strategy)})
        assert sorted(d.code for d in result.errors) == expected
    fixed = spec.replace("s.go(a) on amend STRATEGY", "s.go(a) compensate s.stop(a) on amend undo_redo").replace(" on amend redo\n", "\n")
    assert check_texts({"c.om": fixed}).errors == []


def test_the_strategy_is_in_plan_json_and_old_catalogs_load(tmp_path):
    rules = acme_with(tmp_path, reserve_port="redo")
    text = plan_json(rules.catalog)
    data = json.loads(text)
    assert data["schema"] == "om-plan/2"
    assert data["plans"]["FIBER_ACCESS_CFS.add"]["items"]["reserve_port"]["on_amend"] == "redo"
    assert "on_amend" not in data["plans"]["ONT_RFS.add"]["items"]["ship_ont"]
    assert loads(text) == rules.catalog
    # a catalog that uses neither a task package nor a strategy is om-plan/1, as before, and loads
    plain = json.loads(text)
    del plain["tasks"]
    del plain["plans"]["FIBER_ACCESS_CFS.add"]["items"]["reserve_port"]["on_amend"]
    plain["schema"] = "om-plan/1"
    old = loads(json.dumps(plain))
    assert old.tasks is None and json.loads(plan_json(old)) == plain
    assert old.plan("FIBER_ACCESS_CFS", "add").item("reserve_port").amend_strategy() == "undo_redo"


@pytest.mark.parametrize("strategy", ["keep", "redo", "undo_redo"])
def test_om_plan_graph_and_diff_show_it(tmp_path, strategy):
    from om_dsl import graph as G
    from om_dsl.diff.catalogs import compare
    from om_dsl.planning import report
    from om_dsl.planning.intake import document_id, parse_document
    from om_dsl.planning.pipeline import plan_order

    rules = acme_with(tmp_path, reserve_port=strategy)
    doc = parse_document((AMEND / "order.json").read_text(encoding="utf-8"))
    planned = plan_order(rules.catalog, rules, doc, document_id(doc), None)
    entry = next(i for i in report.planned_data(planned)["plan"]["items"] if i["id"] == "1/D1:reserve_port")
    assert entry["on_amend"] == strategy
    assert f"on amend {strategy}" in report.to_text(planned)
    assert f"on amend {strategy}" in G.to_dot(G.catalog_graph(rules.catalog))
    before = Interpreter(build([str(ROOT / "specs")]).catalogs[0]).catalog
    changes = [c for c in compare(before, rules.catalog) if c.id == "task:FIBER_ACCESS_CFS.add.reserve_port"]
    if strategy == "undo_redo":  # the default for a task with a compensation: no change in meaning
        assert changes == []
    else:
        assert [(f.name, f.old, f.new) for c in changes for f in c.fields] == [("on amend", "undo_redo", strategy)]


# ---- both engines: the merge is the core's, the Temporal workflow runs it too ----------------------


@pytest.fixture(scope="module")
def strategic_acme(tmp_path_factory):
    """Short-retry Acme, compiled, with `on amend redo` on reserve_port and `on amend keep` on ship_ont."""
    from om_dsl.build import write
    from om_dsl.rules.generated import GeneratedRules

    from support.scenario_engines import SHORT_POLICIES

    folder = tmp_path_factory.mktemp("strategic-acme")
    rules = acme_with(folder, reserve_port="redo", ship_ont="keep")
    specs = folder / "specs"
    telco = specs / "shared" / "telco.om"
    text = telco.read_text(encoding="utf-8")
    for old, new in SHORT_POLICIES.items():
        text = text.replace(old, new)
    telco.write_text(text, encoding="utf-8")
    result = build([str(specs)])
    assert result.ok and rules.catalog.plan("ONT_RFS", "add").item("ship_ont").on_amend == "keep"
    write(folder / "generated", result.files(folder / "generated"))
    return GeneratedRules(folder / "generated" / "acme")


@pytest.fixture(params=["embedded", pytest.param("temporal", marks=pytest.mark.temporal)])
def engine(request, tmp_path, strategic_acme):
    from support.scenario_engines import Embedded, OnTemporal

    made = Embedded(tmp_path, strategic_acme, {}) if request.param == "embedded" else OnTemporal(tmp_path, strategic_acme, {}, request.getfixturevalue("temporal_server"))
    yield made
    made.close()


def test_both_engines_follow_the_strategies(engine):
    from support.scenario_engines import order_doc

    oid = engine.new_id("STRAT")
    engine.submit(order_doc(AMEND / "order.json", oid))
    engine.settle(oid, lambda v: v["tasks"]["1/D1:install_visit"]["status"] == S.READY)
    engine.amend(oid, order_doc(AMEND / "speed-1000.json", oid))
    engine.settle(oid, lambda v: v["revision"] == 2 and v["tasks"]["1/D1:install_visit"]["status"] == S.READY)
    engine.complete(oid, "1/D1:install_visit")
    assert engine.settle(oid, lambda v: v["status"] in S.FINAL)["status"] == S.ORDER_COMPLETED
    calls = {key: (op, json.loads(args)) for key, _, op, args, _, _ in engine.simulators.effects() if key.startswith(oid + ":")}
    assert calls[f"{oid}:1/D1:reserve_port:2"][1]["down_mbps"] == 1000 and f"{oid}:1/D1:reserve_port:undo:1" not in calls  # redo
    assert f"{oid}:1/D2:ship_ont:1" in calls and not any(":1/D2:ship_ont:2" in k or "ship_ont:undo" in k for k in calls)  # keep


def test_om_fmt_lays_out_tasks_and_on_amend():
    from om_dsl.format import format_source
    from om_dsl.syntax.parser import parse_source

    src = 'catalog c version "1"\ntasks   "c_tasks"  # the code\nplan T on add {\n  callout a = s.o() on amend   redo compensate s.u()\n}\n'
    out = format_source(src)
    assert 'tasks "c_tasks"  # the code\n' in out and "    compensate s.u()\n    on amend redo\n" in out
    assert parse_source(out, "x.om").module == parse_source(src, "x.om").module and format_source(out) == out
