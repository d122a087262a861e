"""specs/: the Acme reference catalog checks clean and encodes the reference exactly."""

from __future__ import annotations

import pytest

from om_dsl.check import check_paths
from om_dsl.diagnostics.render import render_text


@pytest.fixture(scope="module")
def acme():
    import os

    from support import ROOT

    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        result = check_paths(["specs"])
    finally:
        os.chdir(cwd)
    return result


def test_specs_check_clean(acme):
    assert acme.diagnostics == [], render_text(acme.diagnostics, acme.sources)


def test_one_catalog_with_its_version(acme):
    scope = acme.catalog("acme")
    assert scope.version == "2026.11"
    assert len(scope.files) == 9  # eight files of the catalog and the shared library


def test_commercial_products(acme):
    scope = acme.catalog("acme")
    assert sorted(scope.commercial) == ["HOME_FIBER", "MESH_EXTENDER", "TV_PACKAGE", "VOICE_LINE", "WIFI_ROUTER"]
    roots = {code for code, p in scope.commercial.items() if p.role == "root"}
    assert roots == {"HOME_FIBER", "TV_PACKAGE"}
    home = scope.commercial["HOME_FIBER"]
    attrs = {a.name.value: a for a in home.attributes}
    assert [v.value for v in attrs["speed_mbps"].allowed.values] == [100, 300, 1000]
    assert attrs["speed_mbps"].default.value == 300
    assert attrs["address_id"].presence == "required"
    assert [v.value for v in attrs["contract_months"].allowed.values] == [0, 12, 24]
    assert {(h.product.value, h.min, h.max) for h in home.children} == {
        ("WIFI_ROUTER", 1, 1),
        ("MESH_EXTENDER", 0, 3),
        ("VOICE_LINE", 0, 2),
    }
    tv = {a.name.value: a for a in scope.commercial["TV_PACKAGE"].attributes}
    assert (tv["set_top_boxes"].allowed.low.value, tv["set_top_boxes"].allowed.high.value) == (1, 4)


def test_technical_products(acme):
    scope = acme.catalog("acme")
    kinds = {code: p.kind for code, p in scope.technical.items()}
    assert kinds == {
        "FIBER_ACCESS_CFS": "cfs",
        "ONT_RFS": "rfs",
        "STATIC_IP_RFS": "rfs",
        "CPE_RFS": "rfs",
        "VOICE_CFS": "cfs",
        "IPTV_CFS": "cfs",
        "BILLING_RFS": "rfs",
    }


def test_decompositions(acme):
    scope = acme.catalog("acme")
    pairs = {name: (r.source.value if r.source else "order", r.target.value) for name, r in scope.decompositions.items()}
    assert pairs == {
        "D1": ("HOME_FIBER", "FIBER_ACCESS_CFS"),
        "D2": ("HOME_FIBER", "ONT_RFS"),
        "D3": ("HOME_FIBER", "STATIC_IP_RFS"),
        "D4": ("WIFI_ROUTER", "CPE_RFS"),
        "D5": ("MESH_EXTENDER", "CPE_RFS"),
        "D6": ("VOICE_LINE", "VOICE_CFS"),
        "D7": ("TV_PACKAGE", "IPTV_CFS"),
        "D8": ("TV_PACKAGE", "CPE_RFS"),
        "D9": ("order", "BILLING_RFS"),
    }
    assert scope.decompositions["D8"].per is not None


def test_systems_and_operations(acme):
    scope = acme.catalog("acme")
    ops = {name: sorted(o.name.value for o in s.operations) for name, s in scope.systems.items()}
    assert ops == {
        "inventory": ["check_address", "release_port", "reserve_port"],
        "network": ["activate_line", "deactivate_line", "modify_profile"],
        "logistics": ["return_device", "ship_device"],
        "ipam": ["assign_ip", "release_ip"],
        "voice": ["activate_voice", "assign_number", "deactivate_voice", "port_number"],
        "iptv": ["activate_iptv", "deactivate_iptv"],
        "billing": ["start_billing", "stop_billing", "update_billing"],
    }
    port = next(o for o in scope.systems["voice"].operations if o.name.value == "port_number")
    assert port.is_async
    assert "field_ops" in scope.queues


def test_plans_and_their_tasks(acme):
    scope = acme.catalog("acme")
    tasks = {f"{code} on {action}": [i.name.value for i in p.items] for (code, action), p in scope.plans.items()}
    assert tasks["FIBER_ACCESS_CFS on add"] == ["check_address", "reserve_port", "install_visit", "activate_line", "line_active"]
    assert tasks["FIBER_ACCESS_CFS on delete"] == ["deactivate_line", "release_port"]
    assert tasks["FIBER_ACCESS_CFS on modify"] == ["modify_profile"]
    assert tasks["ONT_RFS on modify"] == ["ship_ont", "swap_visit"]
    assert tasks["BILLING_RFS on delete"] == ["stop_billing"]
    fiber = {i.name.value: i for i in scope.plans[("FIBER_ACCESS_CFS", "add")].items}
    assert fiber["activate_line"].point_of_no_return.kind == "soft"  # section 7: "rejected, unless forced"
    assert fiber["install_visit"].kind == "manual" and fiber["install_visit"].due.value == 3 * 86_400_000
    deps = {(d.product.value if d.product else None, d.task.value, d.scope) for d in fiber["install_visit"].after}
    assert deps == {(None, "reserve_port", "plan"), ("ONT_RFS", "ship_ont", "bundle")}
    assert fiber["reserve_port"].compensate.operation.value == "release_port"


def test_the_specs_are_in_the_canonical_layout():
    """`om fmt --check` passes on the repository's specs (and their variants)."""
    from click.testing import CliRunner

    import om_dsl.cli.fmt  # noqa: F401 - registers the command
    from om_dsl.cli import main

    from support import ROOT

    r = CliRunner().invoke(main, ["fmt", "--check", str(ROOT / "specs"), str(ROOT / "examples" / "variants")])
    assert r.exit_code == 0, r.output
