"""Modify and disconnect orders against the installed base (MACD).

Each case starts from the same installed base, made by running
examples/orders/macd/base-fiber-300.json to completion; each case then runs
end to end, and its plan is a reviewed snapshot (om plan --db)."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from om_dsl.cli import main
from om_dsl.engine import state as S

from support import ROOT
from support.engine_helpers import check_starts_follow_the_graph, history, make_runner, operate

MACD = ROOT / "examples" / "orders" / "macd"
FIBER, ROUTER, MESH_1, MESH_2 = "AST-ORD-2000-1", "AST-ORD-2000-2", "AST-ORD-2000-3", "AST-ORD-2000-4"
CASES = ["speed-300-to-1000", "add-static-ip", "remove-mesh-extender", "add-phone-line", "change-nothing-technical", "disconnect"]


class JSONText(SingleFileSnapshotExtension):
    _write_mode = WriteMode.TEXT
    file_extension = "json"


def text(name: str) -> str:
    return (MACD / f"{name}.json").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A database whose installed base holds the completed base order."""
    folder = tmp_path_factory.mktemp("base")
    runner = make_runner(folder)
    order_id, _, _ = runner.submit(text("base-fiber-300"))
    operate(runner)
    assert runner.store.load(order_id).status == S.ORDER_COMPLETED
    runner.store.close()
    runner.simulators.close()
    return folder


@pytest.fixture
def runner(base, tmp_path):
    for name in ("om.db", "om.systems.db"):
        shutil.copy(base / name, tmp_path / name)
    return make_runner(tmp_path, start="2026-12-10")


def run_case(runner, name: str):
    order_id, status, problems = runner.submit(text(name))
    assert status != S.REJECTED, problems
    operate(runner)
    run = runner.store.load(order_id)
    assert run.status == S.ORDER_COMPLETED
    check_starts_follow_the_graph(runner.store, order_id)
    return run


def effects(runner, order_id: str) -> dict:
    return {key.split(":")[1] + ":" + key.split(":")[2]: (json.loads(args), json.loads(outputs)) for key, system, op, args, outputs, calls in runner.simulators.effects() if key.startswith(order_id + ":")}


def inventory(runner) -> dict:
    return {r[0]: {"product": r[3], "attributes": json.loads(r[4]), "status": r[8]} for r in runner.store.inventory("ACC-200")}


def assets(runner) -> dict:
    return {r[0]: {"product": r[2], "attributes": json.loads(r[3]), "parent": r[4], "status": r[6]} for r in runner.store.assets("ACC-200")}


def started_order(runner, order_id: str) -> list[str]:
    return [e["subject"] for e in history(runner.store, order_id) if e["from"] == S.PENDING]


# ---- the Acme cases, end to end ------------------------------------------------------------------


def test_speed_300_to_1000(runner):
    run = run_case(runner, "speed-300-to-1000")
    assert sorted(run.tasks) == ["1/D1:modify_profile", "1/D2:ship_ont", "1/D2:swap_visit", "order/D9:update_billing"]
    calls = effects(runner, "ORD-2001")
    assert calls["1/D1:modify_profile"][0] == {"port_id": "PORT-00001", "down_mbps": 1000, "up_mbps": 1000}  # the port fulfillment set, kept
    assert calls["1/D2:ship_ont"][0] == {"device_model": "XS-2426G", "shipping": "courier"}
    assert started_order(runner, "ORD-2001").index("1/D2:swap_visit") > started_order(runner, "ORD-2001").index("1/D2:ship_ont")
    assert started_order(runner, "ORD-2001")[-1] == "order/D9:update_billing"  # billing last
    inv = inventory(runner)
    fiber = inv[f"INV-{FIBER}/D1"]["attributes"]
    assert (fiber["down_mbps"], fiber["up_mbps"], fiber["technology"], fiber["port_id"]) == (1000, 1000, "XGS-PON", "PORT-00001")
    ont = inv[f"INV-{FIBER}/D2"]["attributes"]
    assert ont["ont_model"] == "XS-2426G" and ont["shipment_id"] == calls["1/D2:ship_ont"][1]["shipment_id"]  # the new ONT
    assert assets(runner)[FIBER]["attributes"]["speed_mbps"] == 1000


def test_static_ip_added(runner):
    run = run_case(runner, "add-static-ip")
    assert sorted(run.tasks) == ["1/D3:assign_ip", "order/D9:update_billing"]
    assert run.tasks["1/D3:assign_ip"].depends_on == []  # after line_active, which is not in this order: met
    ip = inventory(runner)[f"INV-{FIBER}/D3"]
    assert ip["product"] == "STATIC_IP_RFS" and ip["status"] == "active" and ip["attributes"]["ip_address"].startswith("203.0.113.")


def test_mesh_extender_removed(runner):
    order_id, _, _ = runner.submit(text("remove-mesh-extender"))
    runner.drive()
    assert [t[1] for t in runner.store.open_manual_tasks(order_id=order_id)] == ["2/D5:return_device"]
    operate(runner)
    assert runner.store.load(order_id).status == S.ORDER_COMPLETED
    a, inv = assets(runner), inventory(runner)
    assert a[MESH_2]["status"] == "ended" and a[MESH_1]["status"] == "active"
    assert inv[f"INV-{MESH_2}/D5"]["status"] == "ended" and inv[f"INV-{MESH_1}/D5"]["status"] == "active"


def test_phone_line_added(runner):
    run = run_case(runner, "add-phone-line")
    assert sorted(run.tasks) == ["2/D6:activate_voice", "2/D6:assign_number", "order/D9:update_billing"]
    assert run.tasks["2/D6:activate_voice"].depends_on == ["2/D6:assign_number"]  # line_active is installed already: no wait
    skipped = [e["subject"] for e in history(runner.store, "ORD-2004") if e["cause"].startswith("skipped at planning")]
    assert skipped == ["2/D6:normalize_number", "2/D6:port_number"]  # a new number is assigned
    voice = assets(runner)["AST-ORD-2004-2"]
    assert voice["product"] == "VOICE_LINE" and voice["parent"] == FIBER and voice["status"] == "active"


def test_a_change_that_touches_nothing_technical(runner):
    run = run_case(runner, "change-nothing-technical")
    assert run.tasks == {}
    assert {line.action for line in run.lines.values()} == {"noChange"}
    assert effects(runner, "ORD-2005") == {}
    assert assets(runner)[FIBER]["attributes"]["contract_months"] == 24


def test_full_disconnect(runner):
    run = run_case(runner, "disconnect")
    assert {t.name for t in run.tasks.values()} == {"deactivate_line", "release_port", "return_device", "stop_billing"}
    calls = effects(runner, "ORD-2006")
    assert calls["1/D1:deactivate_line"][0] == {"port_id": "PORT-00001"} and calls["1/D1:release_port"][0] == {"port_id": "PORT-00001"}
    order = started_order(runner, "ORD-2006")
    assert order.index("1/D1:release_port") > order.index("1/D1:deactivate_line") and order[-1] == "order/D9:stop_billing"
    assert all(a["status"] == "ended" for a in assets(runner).values())
    assert all(i["status"] == "ended" for i in inventory(runner).values())


def test_a_second_change_applies_to_the_result_of_the_first(runner):
    run_case(runner, "speed-300-to-1000")
    run = run_case(runner, "add-static-ip")
    fiber = run.lines["1/D1"]
    assert fiber.action == "noChange" and fiber.values["down_mbps"] == 1000 and fiber.values["technology"] == "XGS-PON"
    assert run.lines["1/D2"].values["ont_model"] == "XS-2426G"


def test_after_a_disconnect_the_assets_cannot_be_changed(runner):
    run_case(runner, "disconnect")
    order_id, status, problems = runner.submit(text("add-static-ip").replace("ORD-2002", "ORD-2099"))
    assert status == S.REJECTED and [(p.rule, p.item) for p in problems] == [("asset_ended", "1")]
    assert "was ended by an earlier order" in problems[0].message


# ---- rejections ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change,rule,message",
    [
        (lambda d: d["productOrderItem"][0]["product"].update(id="AST-NOPE"), "unknown_asset", "`AST-NOPE` is not in the installed base"),
        (lambda d: d["relatedParty"][0].update(id="ACC-999"), "asset_of_another_customer", f"`{FIBER}` belongs to another customer than ACC-999's"),
        (lambda d: (d["productOrderItem"][0]["productOffering"].update(id="TV_PACKAGE"), d["productOrderItem"][0]["product"].pop("productCharacteristic")), "asset_product", f"`{FIBER}` is a HOME_FIBER, not a TV_PACKAGE"),
        (lambda d: d["productOrderItem"][0]["product"].pop("id"), "asset_required", "the action modify needs `product.id`"),
    ],
)
def test_a_change_to_an_asset_that_does_not_fit_is_rejected(runner, change, rule, message):
    doc = json.loads(text("add-static-ip"))
    change(doc)
    order_id, status, problems = runner.submit(json.dumps(doc))
    assert status == S.REJECTED
    assert [(p.rule, p.item) for p in problems] == [(rule, "1")] and message in problems[0].message


def test_an_asset_named_as_another_product_is_rejected(runner):
    doc = json.loads(text("remove-mesh-extender"))
    doc["productOrderItem"][0]["productOrderItem"][0]["product"]["id"] = ROUTER  # a router, named as a mesh extender
    order_id, status, problems = runner.submit(json.dumps(doc))
    assert status == S.REJECTED and [(p.rule, p.item) for p in problems] == [("asset_product", "2")]


def test_a_child_asset_under_another_parent_is_rejected(runner):
    doc = json.loads(text("remove-mesh-extender"))
    other = json.loads(text("base-fiber-300").replace("ORD-2000", "ORD-2010"))
    order_id, _, _ = runner.submit(json.dumps(other))
    operate(runner)
    doc["productOrderItem"][0]["productOrderItem"][0]["product"]["id"] = "AST-ORD-2010-4"  # a mesh extender of the other fiber
    order_id, status, problems = runner.submit(json.dumps(doc))
    assert status == S.REJECTED and [(p.rule, p.item) for p in problems] == [("asset_parent", "2")]
    assert f"`AST-ORD-2010-4` is not installed under `{FIBER}`" in problems[0].message


def test_cardinality_counts_the_installed_children(runner):
    doc = json.loads(text("remove-mesh-extender"))
    doc["productOrderItem"][0]["productOrderItem"][0]["product"]["id"] = ROUTER
    doc["productOrderItem"][0]["productOrderItem"][0]["productOffering"]["id"] = "WIFI_ROUTER"
    order_id, status, problems = runner.submit(json.dumps(doc))
    assert status == S.REJECTED and [p.rule for p in problems] == ["cardinality"]
    assert "has 0 WIFI_ROUTER items; HOME_FIBER takes exactly 1" in problems[0].message


# ---- reviewed plans ------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_macd_plan_snapshot(case, base, snapshot, in_repo):
    r = CliRunner().invoke(main, ["plan", "generated/acme", f"examples/orders/macd/{case}.json", "--db", str(base / "om.db"), "--format", "json"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert r.output == snapshot(extension_class=JSONText)


def test_planning_a_change_without_an_installed_base_rejects_it(in_repo):
    r = CliRunner().invoke(main, ["plan", "generated/acme", "examples/orders/macd/add-static-ip.json"])
    assert r.exit_code == 1 and f"`{FIBER}` is not in the installed base" in r.stderr


# ---- the installed base stays true -----------------------------------------------------------------------


def test_a_value_fulfillment_set_is_not_taken_back_by_a_later_change(runner):
    """The voice platform assigned the number; a later order that does not touch the line leaves it."""
    run_case(runner, "add-phone-line")
    run = run_case(runner, "change-nothing-technical")
    voice = run.lines["AST-ORD-2004-2/D6"]
    assert voice.action == "noChange" and voice.values["phone_number"].startswith("+3120555")
    assert run.tasks == {}
    assert inventory(runner)["INV-AST-ORD-2004-2/D6"]["attributes"]["phone_number"] == voice.values["phone_number"]


def test_an_added_item_cannot_take_over_an_installed_product(runner):
    doc = json.loads(text("base-fiber-300").replace("ORD-2000", "ORD-2040"))
    doc["productOrderItem"][0]["product"]["id"] = FIBER
    _, status, problems = runner.submit(json.dumps(doc))
    assert status == S.REJECTED and [(p.rule, p.item) for p in problems] == [("asset_on_add", "1")]


def test_one_change_at_a_time_per_asset(runner):
    order_id, _, _ = runner.submit(text("speed-300-to-1000"))
    runner.drive()  # it waits at the swap visit
    _, status, problems = runner.submit(text("add-static-ip"))
    assert status == S.REJECTED and [p.rule for p in problems] == ["asset_in_flight"]
    assert "being changed by order ORD-2001, still in progress: amend that order, or wait for it" in problems[0].message
    operate(runner)
    order_id, status, problems = runner.submit(text("add-static-ip").replace("ORD-2002", "ORD-2012"))  # sent again, afterwards
    assert status != S.REJECTED, problems
    operate(runner)
    assert runner.store.load(order_id).status == S.ORDER_COMPLETED
    a = assets(runner)[FIBER]["attributes"]
    assert (a["speed_mbps"], a["static_ip"]) == (1000, True)  # both changes, in order


def test_a_child_of_a_deleted_item_can_only_be_deleted(runner):
    doc = json.loads(text("disconnect"))
    doc["productOrderItem"][0]["productOrderItem"] = [{"id": "2", "action": "modify", "productOffering": {"id": "WIFI_ROUTER"}, "product": {"id": ROUTER, "productCharacteristic": [{"name": "model", "value": "AX6000"}]}}]
    _, status, problems = runner.submit(json.dumps(doc))
    assert status == S.REJECTED and [(p.rule, p.item) for p in problems] == [("asset_parent", "2")]


def test_a_bad_value_in_a_change_is_the_only_problem_reported(runner):
    doc = json.loads(text("change-nothing-technical"))
    doc["productOrderItem"][0]["product"]["productCharacteristic"] = [{"name": "speed_mbps", "value": 500}]
    _, status, problems = runner.submit(json.dumps(doc))
    assert status == S.REJECTED and [p.rule for p in problems] == ["allowed_values"]


def test_the_installed_base_as_plain_data_matches_the_store(tmp_path):
    """The Temporal engine keeps each customer's installed base as plain data
    (`record_order`): after the base order and every MACD case, one after the
    other, it holds what the store's assets and inventory hold."""
    from om_dsl.planning.installed import empty_state, from_state, record_order

    runner = make_runner(tmp_path, start="2026-12-10")
    state = empty_state()
    for name in ["base-fiber-300", "speed-300-to-1000", "add-static-ip", "add-phone-line", "remove-mesh-extender", "change-nothing-technical", "disconnect"]:
        order_id, status, problems = runner.submit(text(name))
        assert status != S.REJECTED, (name, problems)
        operate(runner)
        run = runner.store.load(order_id)
        assert run.status == S.ORDER_COMPLETED, name
        record_order(state, run, run.updated_at)
        stored = {r[0]: (r[1], r[2], S.decode_value(json.loads(r[3])), r[4], r[5], r[6]) for r in runner.store.assets()}
        kept = {a["id"]: (a["customer"], a["product"], S.decode_value(a["attributes"]), a["parent"], a["order"], a["status"]) for a in state["assets"].values()}
        assert kept == stored, name
        stored = {r[0]: (r[1], r[2], r[3], S.decode_value(json.loads(r[4])), S.decode_value(json.loads(r[5])), r[6], r[7], r[8]) for r in runner.store.inventory()}
        kept = {f"INV-{k}": (v["customer"], v["asset"], v["product"], S.decode_value(v["attributes"]), S.decode_value(v["outputs"]), v["order"], v["line"], v["status"]) for k, v in state["inventory"].items()}
        assert kept == stored, name
    installed = from_state(state)
    assert installed.asset(FIBER).status == "ended" and installed.lines_of(FIBER) == []


def test_an_orders_entries_applied_in_slices_and_again_leave_what_recording_it_leaves(tmp_path):
    """The Temporal installed base applies a big order's entries (`order_entries`,
    made outside it) a few at a time, as JSON, and an activity tried again sends
    them again: after the base order and every MACD case, in slices of 3, each
    slice applied twice, it holds exactly what `record_order` makes."""
    from om_dsl.planning.installed import apply_entries, empty_state, order_entries, record_order, release_claims

    runner = make_runner(tmp_path, start="2026-12-10")
    whole, sliced = empty_state(), empty_state()
    for name in ["base-fiber-300", "speed-300-to-1000", "add-static-ip", "add-phone-line", "remove-mesh-extender", "change-nothing-technical", "disconnect"]:
        order_id, status, problems = runner.submit(text(name))
        assert status != S.REJECTED, (name, problems)
        operate(runner)
        run = runner.store.load(order_id)
        whole["claims"][FIBER] = sliced["claims"][FIBER] = order_id
        record_order(whole, run, run.updated_at)
        entries = json.loads(json.dumps(order_entries(run, run.updated_at)))  # (as a signal carries them)
        assert entries, name
        for n in range(0, len(entries), 3):
            apply_entries(sliced, entries[n:n + 3])
            apply_entries(sliced, entries[n:n + 3])
        release_claims(sliced, order_id)
        assert sliced == whole and not whole["claims"], name
    assert whole["assets"][FIBER]["status"] == "ended"


def test_the_store_reads_only_the_part_of_the_installed_base_an_order_touches(base, tmp_path):
    """assetize reads the assets and lines an order names, in chunks (SQLite bounds parameters), not the customer's whole base."""
    shutil.copy(base / "om.db", tmp_path / "part.db")
    from om_dsl.embedded.store import Store

    store = Store(str(tmp_path / "part.db"))
    ids = [f"AST-NONE-{n}" for n in range(1200)] + [FIBER]
    keys = [f"AST-NONE-{n}/D1" for n in range(1200)] + [f"{FIBER}/D1"]
    part = store._installed_part(store.db, ids, keys)
    assert list(part["assets"]) == [FIBER] and list(part["inventory"]) == [f"{FIBER}/D1"]
    assert set(store.installed_states()["ACC-200"]["assets"]) == {FIBER, ROUTER, MESH_1, MESH_2}
    store.close()
