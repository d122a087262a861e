"""Planning Acme orders (action add) against the reference catalog.

The done-when of per-order planning: the Acme example orders produce exactly
the fulfillment lines, attributes and task dependencies of the reference
(../shared/reference/acme-fiber-catalog.md, section 4 "Decomposition" and
section 6 "Orchestration plans", action add).

Every expected value below is written by hand from the reference tables, not
copied from program output. Where the specs add something the reference does
not have, the expectation says so and names the spec file:
- VOICE_CFS `normalize_number` (an auto task, when number_source != "assign"),
  specs/acme/plans_add.om;
- BILLING_RFS `requested_start` (a wait, when the order has a
  requestedStartDate), specs/acme/plans_add.om;
- the technical products' "set by" attributes (port_id, shipment_id,
  ip_address), unset at planning, specs/acme/products.om.
"""

from __future__ import annotations

import copy
import datetime
import json
from pathlib import Path

import pytest

from om_dsl.check import check_paths
from om_dsl.lower import lower
from om_dsl.planning.intake import parse_document
from om_dsl.planning.pipeline import plan_order
from om_dsl.planning.report import planned_data, to_json
from om_dsl.rules.interpreter import Interpreter

ROOT = Path(__file__).resolve().parents[1]
ORDERS = ROOT / "examples" / "orders"
DAY_MS = 24 * 60 * 60 * 1000


# ---- fixtures and helpers ---------------------------------------------------------------


@pytest.fixture(scope="module")
def catalog():
    result = check_paths([str(ROOT / "specs")])
    assert result.ok, [d for d in result.errors]
    return lower(result.catalog("acme"))


@pytest.fixture(scope="module")
def rules(catalog):
    return Interpreter(catalog)


def load(name: str) -> dict:
    return parse_document((ORDERS / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def plan(catalog, rules):
    def run(doc_or_name):
        doc = load(doc_or_name) if isinstance(doc_or_name, str) else doc_or_name
        return plan_order(catalog, rules, doc)

    return run


def item(item_id, code, children=(), action="add", **chars) -> dict:
    out = {"id": item_id, "action": action, "productOffering": {"id": code}}
    if chars:
        out["product"] = {"productCharacteristic": [{"name": k, "value": v} for k, v in chars.items()]}
    if children:
        out["productOrderItem"] = list(children)
    return out


def order(*items, order_id="ORD-2001", account="ACC-7", **fields) -> dict:
    doc = {"id": order_id, "relatedParty": [{"id": account, "role": "customer"}], "productOrderItem": list(items)}
    doc.update(fields)
    return doc


def fiber(item_id="1", router_id=None, children=(), **chars) -> dict:
    chars.setdefault("address_id", f"ADDR-{item_id}")
    router = item(router_id or f"{item_id}.r", "WIFI_ROUTER")
    return item(item_id, "HOME_FIBER", [router, *children], **chars)


def mapped(values: dict) -> dict:
    """The attributes a line was given (the "set by" attributes stay unset at planning)."""
    return {k: v for k, v in values.items() if v is not None}


def lines_of(p) -> dict:
    return {l.id: l for l in p.lines}


def items_of(p) -> dict:
    return {i.id: i for i in p.plan.items}


def deps(p) -> dict:
    return {i.id: set(i.depends_on) for i in p.plan.items}


# Section 6, action add, product by product: task -> (type, calls, compensation).
TASKS = {
    "FIBER_ACCESS_CFS": {
        "check_address": ("callout", "inventory.check_address", None),
        "reserve_port": ("callout", "inventory.reserve_port", "inventory.release_port"),
        "install_visit": ("manual", "queue field_ops", None),
        "activate_line": ("callout", "network.activate_line", None),
        "line_active": ("milestone", None, None),
    },
    "ONT_RFS": {"ship_ont": ("callout", "logistics.ship_device", "logistics.return_device")},
    "CPE_RFS": {"ship_device": ("callout", "logistics.ship_device", "logistics.return_device")},
    "STATIC_IP_RFS": {"assign_ip": ("callout", "ipam.assign_ip", "ipam.release_ip")},
    "VOICE_CFS": {
        "port_number": ("callout", "voice.port_number", None),
        "assign_number": ("callout", "voice.assign_number", None),
        "activate_voice": ("callout", "voice.activate_voice", None),
        "normalize_number": ("auto", "acme_tasks.numbers:to_e164", None),  # ours, not the reference's
    },
    "IPTV_CFS": {"activate_iptv": ("callout", "iptv.activate_iptv", "iptv.deactivate_iptv")},
    "BILLING_RFS": {
        "start_billing": ("callout", "billing.start_billing", "billing.stop_billing"),
        "requested_start": ("wait", None, None),  # ours, not the reference's
    },
}


# ---- the every-option order (examples/orders/new-fiber-every-option.json) -----------------

# Section 4 applied to ORD-1001: item 1 HOME_FIBER 1000 Mbps, static IP, ADDR-7731;
# item 2 WIFI_ROUTER AX6000 by courier; items 3, 4 MESH_EXTENDER; item 5 VOICE_LINE
# porting +31 20 555 0101; item 6 VOICE_LINE with nothing (assign); item 7
# TV_PACKAGE premium with 2 set-top boxes; customer ACC-42.
# line id -> (product, source item, bundle, rule, attributes)
EVERY_OPTION_LINES = {
    "1/D1": ("FIBER_ACCESS_CFS", "1", "1", "D1", {"down_mbps": 1000, "up_mbps": 1000, "technology": "XGS-PON", "address_id": "ADDR-7731"}),
    "1/D2": ("ONT_RFS", "1", "1", "D2", {"ont_model": "XS-2426G"}),
    "1/D3": ("STATIC_IP_RFS", "1", "1", "D3", {"ip_version": "v4"}),
    "2/D4": ("CPE_RFS", "2", "1", "D4", {"device_model": "AX6000", "shipping": "courier"}),
    "3/D5": ("CPE_RFS", "3", "1", "D5", {"device_model": "MESH-1", "shipping": "courier"}),
    "4/D5": ("CPE_RFS", "4", "1", "D5", {"device_model": "MESH-1", "shipping": "courier"}),
    "5/D6": ("VOICE_CFS", "5", "1", "D6", {"phone_number": "+31 20 555 0101", "number_source": "port"}),
    "6/D6": ("VOICE_CFS", "6", "1", "D6", {"number_source": "assign"}),
    "7/D7": ("IPTV_CFS", "7", "7", "D7", {"channel_package": "premium", "stb_count": 2}),
    "7/D8#1": ("CPE_RFS", "7", "7", "D8", {"device_model": "STB-4K", "shipping": "courier"}),
    "7/D8#2": ("CPE_RFS", "7", "7", "D8", {"device_model": "STB-4K", "shipping": "courier"}),
    "order/D9": ("BILLING_RFS", None, None, "D9", {"account_id": "ACC-42"}),
}

# Section 6 applied to ORD-1001: planned item -> the items it waits for.
_EVERY_OPTION_TASKS = {
    "1/D1:check_address": set(),
    "1/D1:reserve_port": {"1/D1:check_address"},
    "1/D2:ship_ont": set(),
    # waits for reserve_port, and ONT_RFS ship_ont in bundle
    "1/D1:install_visit": {"1/D1:reserve_port", "1/D2:ship_ont"},
    "1/D1:activate_line": {"1/D1:install_visit"},
    "1/D1:line_active": {"1/D1:activate_line"},
    # after FIBER_ACCESS_CFS line_active, in bundle
    "1/D3:assign_ip": {"1/D1:line_active"},
    "2/D4:ship_device": set(),
    "3/D5:ship_device": set(),
    "4/D5:ship_device": set(),
    # number_source "port": normalize (ours), port_number, then activate_voice after line_active in bundle
    "5/D6:normalize_number": set(),
    "5/D6:port_number": {"5/D6:normalize_number"},
    "5/D6:activate_voice": {"5/D6:normalize_number", "5/D6:port_number", "1/D1:line_active"},
    # number_source "assign": assign_number, then activate_voice after line_active in bundle
    "6/D6:assign_number": set(),
    "6/D6:activate_voice": {"6/D6:assign_number", "1/D1:line_active"},
    # after FIBER_ACCESS_CFS line_active, in order (item 7 is another bundle)
    "7/D7:activate_iptv": {"1/D1:line_active"},
    "7/D8#1:ship_device": set(),
    "7/D8#2:ship_device": set(),
    # the order asks for 2026-12-01: billing waits for that date (ours)
    "order/D9:requested_start": set(),
}
EVERY_OPTION_DEPS = {
    **_EVERY_OPTION_TASKS,
    # after every other task of the order
    "order/D9:start_billing": set(_EVERY_OPTION_TASKS),
}


def test_every_option_order_has_exactly_the_reference_lines(plan):
    p = plan("new-fiber-every-option.json")
    got = {l.id: (l.product, l.source_item, l.bundle, l.rule, mapped(l.values)) for l in p.lines}
    assert got == EVERY_OPTION_LINES
    assert {l.action for l in p.lines} == {"add"}


def test_every_option_unset_attributes_are_null_not_missing(plan):
    lines = lines_of(plan("new-fiber-every-option.json"))
    # The assigned phone line carries no number; the platform gives one.
    assert "phone_number" in lines["6/D6"].values and lines["6/D6"].values["phone_number"] is None
    # What fulfillment sets later is not known at planning.
    assert lines["1/D1"].values["port_id"] is None
    assert lines["1/D3"].values["ip_address"] is None
    assert lines["2/D4"].values["shipment_id"] is None


def test_every_option_set_top_box_lines_are_units(plan):
    lines = lines_of(plan("new-fiber-every-option.json"))
    assert lines["7/D8#1"].unit == (1, 2)
    assert lines["7/D8#2"].unit == (2, 2)
    assert lines["7/D7"].unit is None
    assert lines["1/D3"].condition == "static_ip"


def test_every_option_fulfillment_requests_follow_bundles(plan):
    p = plan("new-fiber-every-option.json")
    frs = {fr.id: (fr.bundle, [l.id for l in fr.lines]) for fr in p.fulfillment_requests}
    assert set(frs) == {"FR-1", "FR-7", "FR-order"}
    assert frs["FR-1"][0] == "1" and set(frs["FR-1"][1]) == {k for k, v in EVERY_OPTION_LINES.items() if v[2] == "1"}
    assert frs["FR-7"][0] == "7" and set(frs["FR-7"][1]) == {"7/D7", "7/D8#1", "7/D8#2"}
    assert frs["FR-order"] == (None, ["order/D9"])


def test_every_option_dependencies_are_the_reference_ones(plan):
    p = plan("new-fiber-every-option.json")
    assert deps(p) == EVERY_OPTION_DEPS


def test_every_option_tasks_not_for_the_number_source_are_skipped(plan):
    p = plan("new-fiber-every-option.json")
    assert {s.id for s in p.plan.skipped} == {
        "5/D6:assign_number",  # porting: no number to assign
        "6/D6:port_number",  # assigning: nothing to port
        "6/D6:normalize_number",  # assigning: no customer number to normalize
    }
    assert not set(items_of(p)) & {s.id for s in p.plan.skipped}


def test_every_option_task_kinds_calls_and_compensations(plan):
    p = plan("new-fiber-every-option.json")
    for it in p.plan.items:
        kind, calls, undo = TASKS[it.product][it.name]
        assert (it.type, it.target) == (kind, calls), it.id
        got_undo = it.definition.compensate.target if it.definition.compensate else None
        assert got_undo == undo, it.id


def test_install_visit_is_due_in_three_days(plan):
    it = items_of(plan("new-fiber-every-option.json"))["1/D1:install_visit"]
    assert it.definition.queue == "field_ops"
    assert it.definition.due_ms == 3 * DAY_MS


def test_activate_line_is_the_only_point_of_no_return(plan):
    p = plan("new-fiber-every-option.json")
    ponr = {i.id: i.point_of_no_return for i in p.plan.items if i.point_of_no_return}
    assert ponr == {"1/D1:activate_line": "soft"}  # section 7: an amendment is rejected, unless forced
    data = planned_data(p)
    flagged = [e["id"] for e in data["plan"]["items"] if e["point_of_no_return"]]
    assert flagged == ["1/D1:activate_line"]


def test_plan_items_come_in_dependency_order(plan):
    for name in ("new-fiber-every-option.json", "fiber-tv-ported-phone.json", "tv-alone.json", "fiber-minimal.json"):
        p = plan(name)
        seen: set[str] = set()
        for it in p.plan.items:
            assert set(it.depends_on) <= seen, (name, it.id, set(it.depends_on) - seen)
            seen.add(it.id)


# ---- the other example orders --------------------------------------------------------------


def test_tv_alone_lines(plan):
    p = plan("tv-alone.json")
    got = {l.id: (l.product, l.source_item, l.bundle, l.rule, mapped(l.values)) for l in p.lines}
    assert got == {
        "1/D7": ("IPTV_CFS", "1", "1", "D7", {"channel_package": "basic", "stb_count": 1}),
        # set_top_boxes defaults to 1: one set-top box
        "1/D8#1": ("CPE_RFS", "1", "1", "D8", {"device_model": "STB-4K", "shipping": "courier"}),
        "order/D9": ("BILLING_RFS", None, None, "D9", {"account_id": "ACC-57"}),
    }


def test_tv_alone_dependency_on_a_missing_task_counts_as_met(plan):
    # No HOME_FIBER in the order: "activate_iptv after FIBER_ACCESS_CFS
    # line_active, in order" points at nothing, so it waits for nothing.
    p = plan("tv-alone.json")
    assert deps(p) == {
        "1/D7:activate_iptv": set(),
        "1/D8#1:ship_device": set(),
        "order/D9:start_billing": {"1/D7:activate_iptv", "1/D8#1:ship_device"},
    }
    # No requestedStartDate: billing's wait (ours) is skipped, not planned.
    assert [s.id for s in p.plan.skipped] == ["order/D9:requested_start"]


def test_fiber_tv_ported_phone_lines(plan):
    p = plan("fiber-tv-ported-phone.json")
    got = {l.id: (l.product, l.source_item, l.bundle, l.rule, mapped(l.values)) for l in p.lines}
    assert got == {
        # 300 Mbps: upload 100, GPON
        "1/D1": ("FIBER_ACCESS_CFS", "1", "1", "D1", {"down_mbps": 300, "up_mbps": 100, "technology": "GPON", "address_id": "ADDR-1204"}),
        "1/D2": ("ONT_RFS", "1", "1", "D2", {"ont_model": "G-2425G"}),
        # static_ip defaults to false: no D3 line
        "2/D4": ("CPE_RFS", "2", "1", "D4", {"device_model": "AX3000", "shipping": "technician"}),
        "3/D6": ("VOICE_CFS", "3", "1", "D6", {"phone_number": "+31 20 555 0188", "number_source": "port"}),
        "4/D7": ("IPTV_CFS", "4", "4", "D7", {"channel_package": "premium", "stb_count": 3}),
        "4/D8#1": ("CPE_RFS", "4", "4", "D8", {"device_model": "STB-4K", "shipping": "courier"}),
        "4/D8#2": ("CPE_RFS", "4", "4", "D8", {"device_model": "STB-4K", "shipping": "courier"}),
        "4/D8#3": ("CPE_RFS", "4", "4", "D8", {"device_model": "STB-4K", "shipping": "courier"}),
        "order/D9": ("BILLING_RFS", None, None, "D9", {"account_id": "ACC-61"}),
    }


def test_fiber_tv_ported_phone_dependencies(plan):
    p = plan("fiber-tv-ported-phone.json")
    others = {
        "1/D1:check_address": set(),
        "1/D1:reserve_port": {"1/D1:check_address"},
        "1/D2:ship_ont": set(),
        "1/D1:install_visit": {"1/D1:reserve_port", "1/D2:ship_ont"},
        "1/D1:activate_line": {"1/D1:install_visit"},
        "1/D1:line_active": {"1/D1:activate_line"},
        "2/D4:ship_device": set(),
        "3/D6:normalize_number": set(),
        "3/D6:port_number": {"3/D6:normalize_number"},
        "3/D6:activate_voice": {"3/D6:normalize_number", "3/D6:port_number", "1/D1:line_active"},
        # in order: the TV bundle waits for the fiber bundle's line
        "4/D7:activate_iptv": {"1/D1:line_active"},
        "4/D8#1:ship_device": set(),
        "4/D8#2:ship_device": set(),
        "4/D8#3:ship_device": set(),
        "order/D9:requested_start": set(),
    }
    assert deps(p) == {**others, "order/D9:start_billing": set(others)}
    assert [s.id for s in p.plan.skipped] == ["3/D6:assign_number"]
    assert "1/D3:assign_ip" not in items_of(p)


def test_fiber_minimal_uses_defaults(plan):
    p = plan("fiber-minimal.json")
    got = {l.id: (l.product, l.source_item, l.rule, mapped(l.values)) for l in p.lines}
    assert got == {
        # speed_mbps 300 by default
        "1/D1": ("FIBER_ACCESS_CFS", "1", "D1", {"down_mbps": 300, "up_mbps": 100, "technology": "GPON", "address_id": "ADDR-5570"}),
        "1/D2": ("ONT_RFS", "1", "D2", {"ont_model": "G-2425G"}),
        # model AX3000 and delivery technician by default
        "2/D4": ("CPE_RFS", "2", "D4", {"device_model": "AX3000", "shipping": "technician"}),
        "order/D9": ("BILLING_RFS", None, "D9", {"account_id": "ACC-73"}),
    }
    assert set(items_of(p)) == {
        "1/D1:check_address",
        "1/D1:reserve_port",
        "1/D1:install_visit",
        "1/D1:activate_line",
        "1/D1:line_active",
        "1/D2:ship_ont",
        "2/D4:ship_device",
        "order/D9:start_billing",
    }


# ---- enrichment (section 2) and list mapping (D2) --------------------------------------------


@pytest.mark.parametrize(
    "speed, upload, technology, ont_model",
    [
        (100, 20, "GPON", "G-2425G"),
        (300, 100, "GPON", "G-2425G"),
        (1000, 1000, "XGS-PON", "XS-2426G"),
    ],
)
def test_speed_gives_upload_technology_and_ont_model(plan, speed, upload, technology, ont_model):
    p = plan(order(fiber(speed_mbps=speed)))
    home = p.order.items[0]
    assert (home.values["upload_mbps"], home.values["technology"]) == (upload, technology)
    assert home.enriched == ["technology", "upload_mbps"]
    lines = lines_of(p)
    access = lines["1/D1"].values
    assert (access["down_mbps"], access["up_mbps"], access["technology"]) == (speed, upload, technology)
    assert lines["1/D2"].values["ont_model"] == ont_model


@pytest.mark.parametrize(
    "chars, source, planned, skipped",
    [
        # "port" when port_in: port the number, then activate it
        ({"port_in": True, "phone_number": "+31 20 555 0111"}, "port", {"normalize_number", "port_number", "activate_voice"}, {"assign_number"}),
        # "customer" when a number is given without porting: no port, no assign
        ({"phone_number": "+31 20 555 0122"}, "customer", {"normalize_number", "activate_voice"}, {"port_number", "assign_number"}),
        # "assign" otherwise
        ({}, "assign", {"assign_number", "activate_voice"}, {"normalize_number", "port_number"}),
        ({"port_in": False}, "assign", {"assign_number", "activate_voice"}, {"normalize_number", "port_number"}),
    ],
)
def test_voice_tasks_follow_number_source(plan, chars, source, planned, skipped):
    p = plan(order(fiber(children=[item("3", "VOICE_LINE", **chars)])))
    assert p.order.items[2].values["number_source"] == source
    voice = lines_of(p)["3/D6"]
    assert voice.values["number_source"] == source
    assert voice.values["phone_number"] == chars.get("phone_number")
    assert {i.name for i in p.plan.items if i.line == "3/D6"} == planned
    assert {s.id.split(":")[1] for s in p.plan.skipped if s.line == "3/D6"} == skipped
    activate = items_of(p)["3/D6:activate_voice"]
    assert set(activate.depends_on) == {f"3/D6:{t}" for t in planned - {"activate_voice"}} | {"1/D1:line_active"}


def test_customer_number_is_normalized_before_activation(plan):
    p = plan(order(fiber(children=[item("3", "VOICE_LINE", phone_number="020 555 0122")])))
    # port_number is skipped; activate_voice still waits for normalize_number
    # (directly, and not through the skipped port_number twice).
    activate = items_of(p)["3/D6:activate_voice"]
    assert activate.depends_on == sorted(["1/D1:line_active", "3/D6:normalize_number"])


def test_static_ip_false_gives_no_static_ip_line_and_no_assign_ip(plan):
    p = plan(order(fiber(static_ip=False)))
    assert "1/D3" not in lines_of(p)
    assert not [i for i in p.plan.items if i.name == "assign_ip"]


@pytest.mark.parametrize("boxes", [1, 2, 3, 4])
def test_one_cpe_line_per_set_top_box(plan, boxes):
    p = plan(order(item("1", "TV_PACKAGE", set_top_boxes=boxes)))
    stb = [l for l in p.lines if l.rule == "D8"]
    assert [l.id for l in stb] == [f"1/D8#{n}" for n in range(1, boxes + 1)]
    assert [l.unit for l in stb] == [(n, boxes) for n in range(1, boxes + 1)]
    assert all(mapped(l.values) == {"device_model": "STB-4K", "shipping": "courier"} for l in stb)
    assert lines_of(p)["1/D7"].values["stb_count"] == boxes
    assert {i.id for i in p.plan.items if i.name == "ship_device"} == {f"1/D8#{n}:ship_device" for n in range(1, boxes + 1)}


# ---- scopes: "in bundle" vs "in order" ---------------------------------------------------------


@pytest.fixture(scope="module")
def two_homes(plan):
    # Two addresses in one order: bundle 1 with a static IP and a phone line,
    # bundle 2 with an assigned phone line, and TV.
    doc = order(
        fiber("1", "2", [item("3", "VOICE_LINE", port_in=True, phone_number="+31 20 555 0133")], static_ip=True, address_id="ADDR-A"),
        fiber("4", "5", [item("6", "VOICE_LINE")], speed_mbps=1000, address_id="ADDR-B"),
        item("7", "TV_PACKAGE"),
    )
    return plan(doc)


def test_in_bundle_dependencies_stay_in_their_bundle(two_homes):
    d = deps(two_homes)
    assert d["1/D1:install_visit"] == {"1/D1:reserve_port", "1/D2:ship_ont"}
    assert d["4/D1:install_visit"] == {"4/D1:reserve_port", "4/D2:ship_ont"}
    assert d["1/D3:assign_ip"] == {"1/D1:line_active"}
    assert d["3/D6:activate_voice"] == {"3/D6:normalize_number", "3/D6:port_number", "1/D1:line_active"}
    assert d["6/D6:activate_voice"] == {"6/D6:assign_number", "4/D1:line_active"}


def test_in_order_dependency_waits_for_every_bundle(two_homes):
    assert deps(two_homes)["7/D7:activate_iptv"] == {"1/D1:line_active", "4/D1:line_active"}


def test_two_bundles_keep_their_own_lines(two_homes):
    lines = lines_of(two_homes)
    assert lines["1/D1"].values["address_id"] == "ADDR-A" and lines["1/D1"].bundle == "1"
    assert lines["4/D1"].values["address_id"] == "ADDR-B" and lines["4/D1"].bundle == "4"
    assert (lines["4/D1"].values["technology"], lines["4/D2"].values["ont_model"]) == ("XGS-PON", "XS-2426G")
    assert lines["6/D6"].bundle == "4"
    assert "4/D3" not in lines


def test_one_billing_line_per_order_after_every_other_task(two_homes):
    billing = [l for l in two_homes.lines if l.product == "BILLING_RFS"]
    assert [(l.id, l.bundle, l.source_item, l.values["account_id"]) for l in billing] == [("order/D9", None, None, "ACC-7")]
    everything_else = {i.id for i in two_homes.plan.items} - {"order/D9:start_billing"}
    assert deps(two_homes)["order/D9:start_billing"] == everything_else


def test_billing_account_is_the_customer_party(plan):
    doc = order(item("1", "TV_PACKAGE"))
    doc["relatedParty"] = [
        {"id": "USR-3", "role": "seller", "name": "Shop Utrecht"},
        {"id": "ACC-99", "role": "customer", "name": "Ann Example"},
    ]
    assert lines_of(plan(doc))["order/D9"].values["account_id"] == "ACC-99"


def test_requested_start_date_makes_billing_wait(plan):
    p = plan(order(item("1", "TV_PACKAGE"), requestedStartDate="2027-01-04T10:00:00Z"))
    assert p.order.fields["requested_start_date"] == datetime.date(2027, 1, 4)
    wait = items_of(p)["order/D9:requested_start"]
    assert wait.type == "wait"
    assert "order/D9:requested_start" in items_of(p)["order/D9:start_billing"].depends_on
    assert not p.plan.skipped


# ---- determinism -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["new-fiber-every-option.json", "fiber-tv-ported-phone.json", "tv-alone.json", "fiber-minimal.json"])
def test_planning_twice_gives_identical_output(catalog, name):
    first = plan_order(catalog, Interpreter(catalog), load(name))
    second = plan_order(catalog, Interpreter(catalog), load(name))
    assert planned_data(first) == planned_data(second)
    assert to_json(planned_data(first)) == to_json(planned_data(second))


def test_planning_does_not_change_the_document(plan):
    doc = load("new-fiber-every-option.json")
    before = copy.deepcopy(doc)
    plan(doc)
    assert doc == before


def test_characteristic_order_does_not_change_the_plan(plan):
    doc = load("new-fiber-every-option.json")
    shuffled = copy.deepcopy(doc)
    for it in [shuffled["productOrderItem"][0], *shuffled["productOrderItem"][0]["productOrderItem"], shuffled["productOrderItem"][1]]:
        chars = it.get("product", {}).get("productCharacteristic")
        if chars:
            chars.reverse()
    assert shuffled != doc
    assert planned_data(plan(shuffled)) == planned_data(plan(doc))


def test_planned_data_of_every_option_order(plan):
    data = planned_data(plan("new-fiber-every-option.json"))
    assert data["status"] == "accepted"
    assert data["order"] == {
        "id": "ORD-1001",
        "external_id": "CPQ-88213",
        "category": "residential",
        "priority": "2",
        "customer_account": "ACC-42",
        "requested_start_date": "2026-12-01",
    }
    assert data["catalog"] == {"name": "acme", "version": "2026.11"}
    home = data["order_items"][0]
    assert home["attributes"] == {"speed_mbps": 1000, "static_ip": True, "address_id": "ADDR-7731", "contract_months": 24}
    assert home["enriched"] == {"technology": "XGS-PON", "upload_mbps": 1000}
    assert [i["parent"] for i in data["order_items"]] == [None, "1", "1", "1", "1", "1", None]
    json.dumps(data)  # plain JSON: no Decimal or date objects left


def test_a_remembered_day_is_read_as_the_first_time():
    """Order fields remember the days they parsed (fields._day): a date read again, a bad one refused again."""
    from om_dsl.planning.fields import order_fields

    for _ in range(2):
        problems = []
        fields = order_fields({"requestedStartDate": "2026-12-01T09:00:00Z", "requestedCompletionDate": "2026-02-30"}, lambda *a, **k: problems.append((a, k)))
        assert str(fields["requested_start_date"]) == "2026-12-01" and fields["requested_completion_date"] is None
        assert [k["path"] for _, k in problems] == ["/requestedCompletionDate"]
