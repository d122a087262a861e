"""`om plan`: the command, its formats and exit codes, and reviewed snapshots
of every example order (one JSON file per order under __snapshots__)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from om_dsl.cli import main

from support import ROOT

ORDERS = sorted(p.name for p in (ROOT / "examples" / "orders").glob("*.json"))


class JSONText(SingleFileSnapshotExtension):
    """Our own stable JSON text, stored as a .json file a reviewer can read."""

    _write_mode = WriteMode.TEXT
    file_extension = "json"


def plan(*args):
    return CliRunner().invoke(main, ["plan", *args], catch_exceptions=False)


@pytest.mark.parametrize("order", ORDERS)
def test_example_order_snapshot(order, snapshot, in_repo):
    r = plan("generated/acme", f"examples/orders/{order}", "--format", "json")
    assert r.exit_code == (1 if order.startswith("invalid-") else 0), r.output
    assert r.output == snapshot(extension_class=JSONText)


@pytest.mark.parametrize("order", ORDERS)
def test_specs_and_compiled_catalog_give_the_same_answer(order, in_repo):
    """From specs (the interpreter; specs/ holds acme and mobile) or from generated/acme (the generated modules)."""
    a = plan("specs", f"examples/orders/{order}", "--format", "json", "--catalog", "acme")
    b = plan("generated/acme", f"examples/orders/{order}", "--format", "json")
    assert (a.exit_code, a.output) == (b.exit_code, b.output)


def test_plan_json_has_the_documented_keys(in_repo):
    data = json.loads(plan("generated/acme", "examples/orders/new-fiber-every-option.json", "--format", "json").output)
    line = data["fulfillment_requests"][0]["lines"][0]
    assert {"product", "action", "attributes", "source_item", "reason"} <= set(line)
    item = data["plan"]["items"][0]
    assert {"id", "name", "type", "product", "line", "depends_on", "point_of_no_return"} <= set(item)
    ids = {i["id"] for i in data["plan"]["items"]}
    assert all(dep in ids for i in data["plan"]["items"] for dep in i["depends_on"])


def test_text_shows_the_tree_then_the_plan_in_dependency_order(in_repo):
    r = plan("generated/acme", "examples/orders/new-fiber-every-option.json")
    assert r.exit_code == 0
    text = r.output
    assert text.index("fulfillment requests") < text.index("plan: 20 tasks")
    assert "FR-1: bundle of order item 1 (HOME_FIBER)" in text and "└─ order/D9  BILLING_RFS  add" in text
    order = [l.split()[1] for l in text.splitlines() if l.strip()[:1].isdigit() and ". " in l]
    assert order.index("1/D1:reserve_port") < order.index("1/D1:install_visit") < order.index("1/D1:activate_line")
    assert order[-1] == "order/D9:start_billing"
    assert "[point of no return (soft)]" in text  # section 7: "rejected, unless forced"


def test_rejected_order_exits_1_with_the_reason_and_no_traceback(in_repo):
    r = CliRunner().invoke(main, ["plan", "generated/acme", "examples/orders/invalid-port-in-without-number.json"])
    assert r.exit_code == 1
    assert "Traceback" not in r.stderr and r.stdout == ""
    assert "rejected: 1 problem" in r.stderr and "port_in_requires_number" in r.stderr


def test_malformed_order_names_line_and_column(in_repo):
    r = CliRunner().invoke(main, ["plan", "specs/acme", "examples/orders/invalid-malformed-json.json"])
    assert r.exit_code == 1 and "line 32, column 1" in r.stderr


@pytest.mark.parametrize("fmt,start", [("dot", 'digraph "ORD-1001" {'), ("mermaid", "---\ntitle: 'order ORD-1001")])
def test_graph_formats(fmt, start, in_repo):
    r = plan("generated/acme", "examples/orders/new-fiber-every-option.json", "--format", fmt)
    assert r.exit_code == 0 and r.output.startswith(start)
    again = plan("generated/acme", "examples/orders/new-fiber-every-option.json", "--format", fmt)
    assert again.output == r.output


@pytest.mark.parametrize("fmt", ["dot", "mermaid"])
@pytest.mark.parametrize("order", ["new-fiber-every-option.json", "fiber-minimal.json"])
def test_plan_graph_is_om_graphs_drawing(fmt, order, in_repo):
    # `om plan --format dot|mermaid` had its own renderer that drew less than `om graph`; one drawing now
    import om_dsl.cli.graph  # noqa: F401  (registers `om graph`)

    r = plan("generated/acme", f"examples/orders/{order}", "--format", fmt)
    g = CliRunner().invoke(main, ["graph", "generated/acme", f"examples/orders/{order}", "--format", fmt], catch_exceptions=False)
    assert r.exit_code == g.exit_code == 0
    assert r.output == g.stdout


def test_usage_errors(in_repo, tmp_path):
    r = plan("examples", "examples/orders/tv-alone.json", "--engine", "generated")
    assert r.exit_code == 2 and "not a compiled catalog" in r.output
    r = plan("generated/acme", "examples/orders/tv-alone.json", "--format", "yaml")
    assert r.exit_code == 2 and "Invalid value" in r.output
    r = plan("specs", "examples/orders/tv-alone.json", "--catalog", "nope")
    assert r.exit_code == 2 and "no catalog `nope`" in r.output
    r = plan("generated/acme", "no-such-order.json")
    assert r.exit_code == 2


def test_a_stale_compiled_catalog_is_refused(in_repo, tmp_path):
    import shutil

    copy = tmp_path / "acme"
    shutil.copytree(ROOT / "generated" / "acme", copy, ignore=shutil.ignore_patterns("__pycache__"))
    plan_file = copy / "plan.json"
    plan_file.write_text(plan_file.read_text().replace('"2026.11"', '"2026.12"'))
    r = plan(str(copy), "examples/orders/tv-alone.json")
    assert r.exit_code == 2 and "were not generated from its plan.json" in r.output


def test_a_source_of_several_catalogs_plans_with_the_one_that_sells_the_order(in_repo):
    """specs/ and generated/ hold acme and mobile: the order's products choose."""
    for source in ("specs", "generated"):
        assert "against catalog mobile" in plan(source, "examples/orders/mobile/sim-handset-port.json").output
        assert "against catalog acme" in plan(source, "examples/orders/fiber-minimal.json").output
    r = plan("specs", "examples/orders/invalid-unknown-product.json")  # no catalog sells it: say which to use
    assert r.exit_code == 2 and "holds 2 catalogs (acme, mobile); choose one with --catalog" in r.output
