"""`om diff`: semantic comparison of two catalogs, the breaking-change rules,
example orders planned against both, the input forms and the exit codes.

The two Acme variants under examples/variants have reviewed text snapshots
(tests/__snapshots__/test_diff/)."""

from __future__ import annotations

import json
import shutil
import textwrap

import pytest
from click.testing import CliRunner
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

import om_dsl.cli.diff  # noqa: F401  (registers `om diff`)
from om_dsl.build import build, write
from om_dsl.check import check_texts
from om_dsl.cli import main
from om_dsl.diagnostics.render import render_text
from om_dsl.diff import compare
from om_dsl.lower import lower
from om_dsl.model import plan_json, sources_json

from support import ROOT


class Text(SingleFileSnapshotExtension):
    """The text output as a .txt file a reviewer can read."""

    _write_mode = WriteMode.TEXT
    file_extension = "txt"


def om(*args):
    return CliRunner().invoke(main, list(args))


# ---- the Acme variants -------------------------------------------------------------------


def test_speed_tier_shows_the_additions_and_nothing_breaking(snapshot, in_repo):
    r = om("diff", "specs", "examples/variants/speed-tier", "--fail-on", "breaking")
    assert r.exit_code == 0, r.output
    text = r.stdout
    assert "allowed: {100, 300, 1000} -> {100, 300, 1000, 2000}  (widened: 2000 now allowed)" in text
    assert "+ entry upload_for_speed[2000]: 2000" in text
    assert "mapping ont_model\n        old: map technology" in text  # old above new
    assert "[breaking]" not in text and "none breaking" in text
    assert text == snapshot(extension_class=Text)


def test_removed_attribute_is_breaking_and_names_it(snapshot, in_repo):
    r = om("diff", "specs", "examples/variants/removed-attribute", "--orders", "examples/orders", "--fail-on", "breaking")
    assert r.exit_code == 1, r.output
    text = r.stdout
    assert "- attribute HOME_FIBER.contract_months: int in {0, 12, 24} = 12  [breaking]" in text
    assert "! attribute HOME_FIBER.contract_months removed: orders that give contract_months are now rejected" in text
    # The two example orders that give contract_months are now rejected; the one that relied on its default lost it.
    assert "  - new-fiber-every-option.json (ORD-1001): now rejected" in text
    assert "  - fiber-tv-ported-phone.json (ORD-1003): now rejected" in text
    assert "  ~ fiber-minimal.json (ORD-1004): items changed\n      ~ item 1 (HOME_FIBER)\n          - contract_months: 12" in text
    assert "3 of 15 orders changed, 2 now rejected" in text
    assert text == snapshot(extension_class=Text)


def test_speed_tier_order_is_now_accepted(in_repo):
    r = om("diff", "specs", "examples/variants/speed-tier", "--orders", "examples/variants/speed-tier/orders", "--fail-on", "breaking")
    assert r.exit_code == 0, r.output
    assert "  + fiber-2000.json (ORD-2001): now accepted; it was rejected:\n      order item 1 (HOME_FIBER): `speed_mbps` = 2000 is not allowed (allowed: 100, 300, 1000)" in r.stdout


def test_removed_attribute_without_orders_still_fails_on_breaking(in_repo):
    r = om("diff", "specs", "examples/variants/removed-attribute", "--fail-on", "breaking")
    assert r.exit_code == 1 and "HOME_FIBER.contract_months" in r.stdout
    assert om("diff", "specs", "examples/variants/removed-attribute").exit_code == 0  # reporting only


@pytest.mark.parametrize("variant", ["speed-tier", "removed-attribute"])
def test_variants_check_clean(variant, in_repo):
    r = om("check", f"examples/variants/{variant}")
    assert r.exit_code == 0 and "0 errors, 0 warnings" in r.output, r.output


def test_variants_differ_from_specs_only_where_intended(in_repo):
    specs = {p.relative_to(ROOT / "specs").as_posix(): p.read_text() for p in (ROOT / "specs").rglob("*.om") if "mobile" not in p.parts}  # acme's variants
    for variant, changed in (("speed-tier", {"acme/catalog.om", "acme/products.om", "acme/enrichment.om", "acme/decomposition.om"}), ("removed-attribute", {"acme/catalog.om", "acme/products.om"})):
        folder = ROOT / "examples" / "variants" / variant
        files = {p.relative_to(folder).as_posix(): p.read_text() for p in folder.rglob("*.om")}
        assert set(files) == set(specs)
        assert {f for f in files if files[f] != specs[f]} == changed


# ---- JSON ----------------------------------------------------------------------------------


def test_json_structure_and_stable_order(in_repo):
    r = om("diff", "specs", "examples/variants/speed-tier", "--format", "json", "--orders", "examples/orders")
    assert r.exit_code == 0
    data = json.loads(r.stdout)
    assert data["schema"] == "om-diff/1"
    assert data["old"] == {"path": "specs", "kind": "specs", "catalog": "acme", "version": "2026.11"}
    assert data["new"]["version"] == "2026.12"
    assert [c["section"] for c in data["changes"]] == ["catalog", "products", "tables", "rules"]
    speed = data["changes"][1]
    assert speed == {
        "section": "products",
        "element": "attribute",
        "change": "changed",
        "id": "attribute:HOME_FIBER.speed_mbps",
        "name": "HOME_FIBER.speed_mbps",
        "breaking": False,
        "source": "acme/products.om:8",
        "fields": [{"name": "allowed", "old": "{100, 300, 1000}", "new": "{100, 300, 1000, 2000}", "note": "widened: 2000 now allowed"}],
    }
    assert data["changes"][2]["id"] == "entry:upload_for_speed[2000]" and data["changes"][2]["change"] == "added"
    assert data["summary"]["changes"] == 4 and data["summary"]["breaking"] == 0
    assert data["summary"]["orders"] == {"planned": 15, "changed": 1, "now_rejected": 0, "now_accepted": 0}
    orders = data["orders"]["orders"]
    assert {o["file"]: o["change"] for o in orders}["invalid-speed-not-allowed.json"] == "reasons changed"  # the message lists 2000
    assert [o["file"] for o in orders] == sorted(o["file"] for o in orders)
    assert {"file", "order", "change", "old", "new", "items", "lines", "tasks", "edges"} <= set(orders[0])
    # Canonical text: sorted keys, the same bytes every time.
    assert list(data) == sorted(data)
    again = om("diff", "specs", "examples/variants/speed-tier", "--format", "json", "--orders", "examples/orders")
    assert again.stdout == r.stdout


def test_json_breaking_change_has_its_reason(in_repo):
    data = json.loads(om("diff", "specs", "examples/variants/removed-attribute", "--format", "json").stdout)
    (gone,) = [c for c in data["changes"] if c["breaking"]]
    assert gone["change"] == "removed" and gone["id"] == "attribute:HOME_FIBER.contract_months"
    assert "rejected" in gone["reason"] and data["summary"]["breaking"] == 1


# ---- each kind of change, on a small catalog ------------------------------------------------

BASE = textwrap.dedent(
    """\
    catalog shop version "1"

    retry standard = staggered 10s, 60s
    default retry standard
    queue ops "Operations"

    commercial BOX "Box" root {
      attr size: int in {1, 2, 3} = 1
      attr note: string optional
      attr weeks: int in 1..10 = 2
      has ITEM [0..3]
    }

    commercial ITEM "Item" child {
      attr label: string optional
    }

    technical SHIP "Shipment" rfs {
      attr weight: int required
      attr tracking: string optional
    }

    table weight_for_size: int -> int {
      1: 10
      2: 20
      3: 30
    }

    validate BOX note_short {
      when note is not null
      require len(note) < 20
      message "a short note"
    }

    enrich BOX {
      w: int = weight_for_size[size]
    }

    decompose D1: BOX -> SHIP {
      weight = w
    }

    system post "Post" {
      operation send(weight: int) -> (tracking: string)
      operation cancel(tracking: string)
    }

    plan SHIP on add {
      manual pack "Pack it" queue ops
      callout send = post.send(weight)
        after pack
        sets tracking = send.tracking
        compensate post.cancel(tracking = send.tracking)
      milestone sent after send
    }
    """
)


def catalog(text: str):
    result = check_texts({"shop.om": text})
    assert result.ok, render_text(result.diagnostics, result.sources)
    (scope,) = [s for s in result.scopes if s.kind == "catalog"]
    return lower(scope)


def edit(*pairs: tuple[str, str]) -> str:
    text = BASE
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def changes(*pairs):
    """{(element, op, name): Change} from BASE to BASE with these edits."""
    return {(c.element, c.op, c.name): c for c in compare(catalog(BASE), catalog(edit(*pairs)))}


def test_the_same_catalog_has_no_change():
    assert compare(catalog(BASE), catalog(BASE)) == []


def test_moving_definitions_is_no_change():
    moved = BASE.replace('table weight_for_size: int -> int {\n  1: 10\n  2: 20\n  3: 30\n}\n', "")
    moved += "\ntable weight_for_size: int -> int {\n  3: 30\n  1: 10\n  2: 20\n}\n"
    assert moved != BASE and compare(catalog(BASE), catalog(moved)) == []


def test_product_added_and_removed():
    c = changes(('commercial ITEM "Item" child {\n  attr label: string optional\n}\n', 'commercial ITEM "Item" child {\n  attr label: string optional\n}\n\ncommercial BAG "Bag" root {\n  attr big: bool = false\n}\n'))
    added = c[("product", "added", "BAG")]
    assert added.summary == 'commercial root "Bag"' and not added.breaking
    assert [(f.name, f.new) for f in added.fields] == [("attr big", "bool = false")]
    c = changes(("  has ITEM [0..3]\n", ""), ('commercial ITEM "Item" child {\n  attr label: string optional\n}\n', ""))
    removed = c[("product", "removed", "ITEM")]
    assert "installed assets of ITEM still reference it" in removed.breaking
    assert "can no longer have ITEM" in c[("child", "removed", "BOX has ITEM")].breaking


def test_product_role_change_is_breaking():
    c = changes(("  has ITEM [0..3]\n", ""), ('commercial ITEM "Item" child {', 'commercial ITEM "Item" root {'))
    role = c[("product", "changed", "ITEM")]
    assert [(f.name, f.old, f.new) for f in role.fields] == [("role", "child", "root")]
    assert role.breaking.startswith("ITEM was commercial child and is now commercial root")


@pytest.mark.parametrize(
    "old,new,breaking",
    [
        ("  attr note: string optional\n", "  attr note: string optional\n  attr gift: bool = false\n", False),
        ("  attr note: string optional\n", "  attr note: string optional\n  attr gift: string optional\n", False),
        ("  attr note: string optional\n", "  attr note: string optional\n  attr gift: string required\n", True),
    ],
    ids=["with-default", "optional", "required-without-default"],
)
def test_attribute_added(old, new, breaking):
    (c,) = changes((old, new)).values()
    assert (c.element, c.op, c.name) == ("attribute", "added", "BOX.gift")
    assert bool(c.breaking) is breaking
    if breaking:
        assert c.breaking.startswith("new and required without a default: orders that do not give gift are now rejected")


def test_attribute_removed_is_breaking():
    c = changes(("  attr note: string optional\n", ""), ("  when note is not null\n  require len(note) < 20\n", "  require true\n"))[("attribute", "removed", "BOX.note")]
    assert "orders that give note are now rejected" in c.breaking and c.summary == "string optional"


@pytest.mark.parametrize(
    "new,breaking,note",
    [
        ("attr size: int in {1, 2, 3, 4} = 1", False, "widened: 4 now allowed"),
        ("attr size: int in {1, 2} = 1", True, "narrowed: 3 no longer allowed"),
        ("attr size: int in {1, 2, 4} = 1", True, "narrowed: 3 no longer allowed; widened: 4 now allowed"),
        ("attr size: int = 1", False, "widened: any int now allowed"),
        ("attr size: int in 1..3 = 1", False, None),  # the same values, written as a range
        ("attr size: int in 1..5 = 1", False, "widened: 1..5 now allowed"),
        ("attr size: int in 2..3 = 2", True, "narrowed: 1 no longer allowed"),
    ],
)
def test_allowed_set_narrowed_is_breaking_widened_is_not(new, breaking, note):
    c = changes(("attr size: int in {1, 2, 3} = 1", new))[("attribute", "changed", "BOX.size")]
    assert bool(c.breaking) is breaking, c.breaking
    notes = [f.note for f in c.fields if f.note]
    assert notes == ([note] if note else [])
    if breaking:
        assert c.breaking.startswith("allowed values narrowed") and "orders giving such a value are now rejected" in c.breaking


@pytest.mark.parametrize("new,breaking", [("in 1..20 = 2", False), ("in 0..10 = 2", False), ("in 2..10 = 2", True), ("in 1..9 = 2", True), ("in {1, 2, 3} = 2", True)])
def test_range_narrowed_is_breaking_widened_is_not(new, breaking):
    c = changes(("attr weeks: int in 1..10 = 2", f"attr weeks: int {new}"))[("attribute", "changed", "BOX.weeks")]
    assert bool(c.breaking) is breaking


def test_newly_allowed_set_on_a_free_attribute_is_narrowing():
    c = changes(("attr note: string optional", 'attr note: string in {"a", "b"} optional'))[("attribute", "changed", "BOX.note")]
    assert c.fields[0].note == 'narrowed: only {"a", "b"} now allowed' and c.breaking


def test_default_change_is_shown_not_breaking():
    c = changes(("attr size: int in {1, 2, 3} = 1", "attr size: int in {1, 2, 3} = 2"))[("attribute", "changed", "BOX.size")]
    assert [(f.name, f.old, f.new) for f in c.fields] == [("default", "1", "2")] and c.breaking is None


def test_optional_to_required_without_default_is_breaking():
    c = changes(("attr note: string optional", "attr note: string required"))[("attribute", "changed", "BOX.note")]
    assert [(f.name, f.old, f.new) for f in c.fields] == [("required", "false", "true")]
    assert c.breaking == "now required without a default: orders that do not give it are now rejected"
    tech = changes(("attr tracking: string optional", "attr tracking: string required"), ("  weight = w\n", "  weight = w\n  tracking = \"none\"\n"))[("attribute", "changed", "SHIP.tracking")]
    assert "installed SHIP lines may have no value for it" in tech.breaking


def test_type_change_is_breaking():
    c = changes(("attr note: string optional", "attr note: int optional"), ("require len(note) < 20", "require note < 20"))[("attribute", "changed", "BOX.note")]
    assert c.fields[0].name == "type" and "type changed from string to int" in c.breaking


@pytest.mark.parametrize("new,breaking", [("[0..5]", False), ("[0..*]", False), ("[0..2]", True), ("[1..3]", True)])
def test_child_cardinality(new, breaking):
    c = changes(("has ITEM [0..3]", f"has ITEM {new}"))[("child", "changed", "BOX has ITEM")]
    assert bool(c.breaking) is breaking and c.fields[0].old == "[0..3]"


def test_table_entries():
    c = changes(("  2: 20\n  3: 30\n", "  2: 25\n  4: 40\n"), ("attr size: int in {1, 2, 3} = 1", "attr size: int in {1, 2, 4} = 1"))
    assert c[("entry", "added", "weight_for_size[4]")].summary == "40" and not c[("entry", "added", "weight_for_size[4]")].breaking
    changed = c[("entry", "changed", "weight_for_size[2]")]
    assert (changed.fields[0].old, changed.fields[0].new, changed.breaking) == ("20", "25", None)
    removed = c[("entry", "removed", "weight_for_size[3]")]
    assert removed.breaking == "in-flight and new orders with key 3 now read null instead of 30 (the table is read by enrichment:BOX.w)"
    assert removed.source == "shop.om:23"  # the table's line


def test_removed_entry_of_an_unused_table_is_not_breaking():
    unused = ("weight = w\n", "weight = size * 10\n"), ("  w: int = weight_for_size[size]\n", "  w: int = size\n")
    old = catalog(edit(*unused))
    new = catalog(edit(*unused, ("  3: 30\n", "")))
    (c,) = compare(old, new)
    assert (c.element, c.op, c.breaking) == ("entry", "removed", None)


def test_rules_show_old_and_new_expressions(tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir(), new.mkdir()
    (old / "shop.om").write_text(BASE)
    (new / "shop.om").write_text(
        edit(
            ("  require len(note) < 20\n", "  require len(note) < 20 and not starts_with(note, \"!\")\n"),
            ("  w: int = weight_for_size[size]\n", "  w: int = weight_for_size[size] * 2\n"),
            ("decompose D1: BOX -> SHIP {\n", "decompose D1: BOX -> SHIP per count(children(ITEM)) + 1 {\n"),
        )
    )
    r = om("diff", str(old), str(new))
    assert r.exit_code == 0, r.output
    assert (
        "rules\n"
        "  ~ validation BOX.note_short  (shop.om:29)\n"
        "      require\n"
        "        old: len(note) < 20\n"
        '        new: len(note) < 20 and not starts_with(note, "!")\n'
        "  ~ enrichment BOX.w  (shop.om:36)\n"
        "      expr\n"
        "        old: weight_for_size[size]\n"
        "        new: weight_for_size[size] * 2\n"
        "  ~ decomposition D1: BOX -> SHIP  (shop.om:39)\n"
        "      + per: count(children(ITEM)) + 1\n"
    ) in r.stdout


def test_rule_added_and_removed_and_mapping_changed():
    c = changes(
        ("validate BOX note_short {", 'validate BOX weeks_even {\n  require weeks % 2 == 0\n  message "even"\n}\n\nvalidate BOX note_short {'),
        ("  weight = w\n", "  weight = w + 1\n"),
    )
    added = c[("validation", "added", "BOX.weeks_even")]
    assert [(f.name, f.new) for f in added.fields] == [("require", "weeks % 2 == 0"), ("message", '"even"')]
    (mapping,) = c[("decomposition", "changed", "D1: BOX -> SHIP")].fields
    assert (mapping.name, mapping.old, mapping.new, mapping.expr) == ("mapping weight", "w", "w + 1", True)


def test_operations():
    c = changes(
        ("operation send(weight: int) -> (tracking: string)", "operation send(weight: int, fragile: bool) -> (tracking: string) timeout 2m retry none"),
        ("callout send = post.send(weight)", "callout send = post.send(weight, fragile = false)"),
        ("  operation cancel(tracking: string)\n", "  operation cancel(tracking: string)\n  operation track(tracking: string)\n"),
    )
    send = c[("operation", "changed", "post.send")]
    assert [(f.name, f.old, f.new) for f in send.fields] == [("inputs", "(weight: int)", "(weight: int, fragile: bool)"), ("retry", "staggered 10s, 1m", "none"), ("timeout", None, "2m")]
    assert send.breaking.startswith("inputs changed (+fragile)")
    assert not c[("operation", "added", "post.track")].breaking
    task = c[("task", "changed", "SHIP.add.send")]
    assert [f.name for f in task.fields] == ["call", "retry", "timeout"] and not task.breaking
    timeout_only = changes(("operation cancel(tracking: string)", "operation cancel(tracking: string) timeout 1m"))[("operation", "changed", "post.cancel")]
    assert timeout_only.breaking is None


def test_removed_operation_is_breaking():
    c = changes(("    compensate post.cancel(tracking = send.tracking)\n", ""), ("  operation cancel(tracking: string)\n", ""))
    assert c[("operation", "removed", "post.cancel")].breaking == "in-flight tasks and compensations that call post.cancel have nowhere to go"
    assert c[("task", "changed", "SHIP.add.send")].fields[0].name == "compensate"


def test_plan_tasks_and_edges():
    c = changes(
        ("  milestone sent after send\n", "  milestone sent after send, pack\n  manual label \"Print the label\" queue ops before send\n"),
        ("    after pack\n", ""),
        ('  manual pack "Pack it" queue ops\n', '  manual pack "Pack it" queue ops\n    due 2d\n    when weight > 10\n'),
        ("    compensate post.cancel(tracking = send.tracking)\n", "    compensate post.cancel(tracking = send.tracking)\n    point_of_no_return hard\n"),
    )
    assert c[("task", "added", "SHIP.add.label")].summary == 'manual queue ops before send' and not c[("task", "added", "SHIP.add.label")].breaking
    pack = c[("task", "changed", "SHIP.add.pack")]
    assert [(f.name, f.old, f.new) for f in pack.fields] == [("when", None, "weight > 10"), ("due", None, "2d")]
    send = c[("task", "changed", "SHIP.add.send")]
    assert [(f.name, f.old, f.new) for f in send.fields] == [("point of no return", None, "hard")]
    assert c[("edge", "removed", "SHIP.add.send after pack")].id == "edge:SHIP.add:pack -> send"
    assert c[("edge", "added", "SHIP.add.sent after pack")].id == "edge:SHIP.add:pack -> sent"
    assert not any(x.breaking for x in c.values())


def test_removed_task_and_plan_are_breaking():
    c = changes(("  milestone sent after send\n", ""))
    assert "can still have sent" in c[("task", "removed", "SHIP.add.sent")].breaking
    c = changes(("plan SHIP on add {", "plan SHIP on modify {"))
    assert "can still have its tasks (pack, send, sent)" in c[("plan", "removed", "SHIP on add")].breaking
    assert c[("plan", "added", "SHIP on modify")].breaking is None


# ---- --orders -------------------------------------------------------------------------------

ORDER = {
    "id": "ORD-7",
    "productOrderItem": [
        {
            "id": "1",
            "action": "add",
            "productOffering": {"id": "BOX"},
            "product": {"productCharacteristic": [{"name": "size", "value": 2}]},
        }
    ],
}


@pytest.fixture
def shop(tmp_path):
    """old/ and new/ spec folders and an orders/ folder with one order per case."""

    def make(new_text: str, orders: dict[str, dict]):
        for name, text in (("old", BASE), ("new", new_text)):
            (tmp_path / name).mkdir()
            (tmp_path / name / "shop.om").write_text(text)
        (tmp_path / "orders").mkdir()
        for name, doc in orders.items():
            (tmp_path / "orders" / name).write_text(json.dumps(doc))
        return str(tmp_path / "old"), str(tmp_path / "new"), str(tmp_path / "orders")

    return make


def with_size(size, order_id):
    doc = json.loads(json.dumps(ORDER))
    doc["id"] = order_id
    doc["productOrderItem"][0]["product"]["productCharacteristic"][0]["value"] = size
    return doc


def test_orders_show_lines_tasks_and_edges_that_change(shop):
    new = edit(
        ("  2: 20\n", "  2: 22\n  4: 40\n"),
        ("attr size: int in {1, 2, 3} = 1", "attr size: int in {1, 2, 4} = 1"),
        ("    after pack\n", ""),
        ("  milestone sent after send\n", "  milestone sent after send\n  manual weigh \"Weigh it\" queue ops\n"),
    )
    old, new, orders = shop(new, {"a.json": with_size(2, "ORD-A"), "b.json": with_size(3, "ORD-B"), "c.json": with_size(4, "ORD-C"), "d.json": with_size(1, "ORD-D")})
    r = om("diff", old, new, "--orders", orders)
    assert r.exit_code == 0, r.output
    text = r.stdout
    assert "orders in " in text and "4 planned, 4 changed" in text
    assert (
        "  ~ a.json (ORD-A): items, lines, tasks, edges changed\n"
        "      ~ item 1 (BOX)\n"
        "          w: 20 -> 22\n"
        "      ~ line 1/D1 (SHIP)\n"
        "          weight: 20 -> 22\n"
        "      + task 1/D1:weigh: manual queue ops\n"
        "      - edge 1/D1:pack -> 1/D1:send\n"
    ) in text
    assert "  - b.json (ORD-B): now rejected\n      order item 1 (BOX): `size` = 3 is not allowed (allowed: 1, 2, 4) (rule: allowed_values)" in text
    assert "  + c.json (ORD-C): now accepted; it was rejected:\n      order item 1 (BOX): `size` = 4 is not allowed (allowed: 1, 2, 3)" in text
    assert "example orders now rejected: 1\n  ! b.json\n" in text
    # An order the new catalog rejects is breaking for --fail-on breaking.
    assert om("diff", old, new, "--orders", orders, "--fail-on", "breaking").exit_code == 1
    data = json.loads(om("diff", old, new, "--orders", orders, "--format", "json").stdout)
    by_file = {o["file"]: o for o in data["orders"]["orders"]}
    assert by_file["b.json"]["change"] == "now rejected" and by_file["b.json"]["new"]["status"] == "rejected"
    assert by_file["a.json"]["edges"] == [{"change": "removed", "edge": "1/D1:pack -> 1/D1:send"}]
    assert by_file["a.json"]["lines"] == [{"change": "changed", "id": "line 1/D1 (SHIP)", "fields": [{"name": "weight", "old": "20", "new": "22"}]}]


def test_orders_unchanged_and_rejected_by_both(shop):
    old, new, orders = shop(edit(("message \"a short note\"", "message \"a shorter note\"")), {"ok.json": with_size(2, "ORD-A"), "bad.json": with_size(9, "ORD-B")})
    r = om("diff", old, new, "--orders", orders)
    assert "2 planned, 0 changed" in r.stdout and "  2 unchanged:\n      bad.json, ok.json\n" in r.stdout


def test_orders_folder_without_orders_is_a_usage_error(shop):
    old, new, orders = shop(BASE, {})
    r = om("diff", old, new, "--orders", orders)
    assert r.exit_code == 2 and "no order (*.json)" in r.stderr


# ---- inputs: plan.json, compiled folders, several catalogs ------------------------------------


def test_plan_json_and_compiled_folders(tmp_path, in_repo):
    out = tmp_path / "out"
    result = build(["examples/variants/removed-attribute"])
    write(out, result.files())
    # The committed compiled catalog is the specs: no change, in every form.
    for old in ("generated", "generated/acme", "generated/acme/plan.json"):
        r = om("diff", old, "specs/acme", "--fail-on", "any")  # generated/ holds acme and mobile: the other side says which
        assert r.exit_code == 0 and "no change: the two catalogs mean the same" in r.stdout, (old, r.output)
    r = om("diff", "generated/acme/plan.json", str(out / "acme" / "plan.json"), "--fail-on", "breaking")
    assert r.exit_code == 1 and "- attribute HOME_FIBER.contract_months" in r.stdout
    assert "(acme/products.om:11)" in r.stdout  # sources.json next to the old plan.json
    # A plan.json on its own (no sources.json): the same changes, without source lines (a removed element's is the old one's).
    lone = tmp_path / "lone"
    lone.mkdir()
    shutil.copy("generated/acme/plan.json", lone / "plan.json")
    r = om("diff", str(lone / "plan.json"), "examples/variants/removed-attribute", "--format", "json")
    (gone,) = [c for c in json.loads(r.stdout)["changes"] if c["breaking"]]
    assert gone["id"] == "attribute:HOME_FIBER.contract_months" and "source" not in gone


def test_plan_json_of_an_inline_catalog(tmp_path):
    cat = catalog(BASE)
    (tmp_path / "plan.json").write_text(plan_json(cat))
    (tmp_path / "sources.json").write_text(sources_json(cat))
    (tmp_path / "shop.om").write_text(edit(("  3: 30\n", "")))
    r = om("diff", str(tmp_path / "plan.json"), str(tmp_path / "shop.om"), "--fail-on", "breaking")
    assert r.exit_code == 1 and "- entry weight_for_size[3]: 30  [breaking]  (shop.om:23)" in r.stdout


def test_a_broken_sources_json_is_ignored(tmp_path, in_repo):
    shutil.copy("generated/acme/plan.json", tmp_path / "plan.json")
    for junk in ("{not json", '{"catalog": "other", "elements": {}}', '{"catalog": "acme", "elements": {"x": "no line"}}'):
        (tmp_path / "sources.json").write_text(junk)
        r = om("diff", str(tmp_path / "plan.json"), "examples/variants/removed-attribute")
        assert r.exit_code == 0 and "- attribute HOME_FIBER.contract_months: int in {0, 12, 24} = 12  [breaking]\n" in r.stdout, r.output


def test_several_catalogs_need_catalog(tmp_path):
    for name in ("old", "new"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "shop.om").write_text(BASE if name == "old" else edit(("= 1\n", "= 2\n")))
        (tmp_path / name / "other.om").write_text('catalog other version "1"\n\ncommercial X "X" root {\n}\n')
    r = om("diff", str(tmp_path / "old"), str(tmp_path / "new"))
    assert r.exit_code == 2 and "holds 2 catalogs (other, shop); choose one with --catalog" in r.stderr
    r = om("diff", str(tmp_path / "old"), str(tmp_path / "new"), "--catalog", "shop")
    assert r.exit_code == 0 and "default: 1 -> 2" in r.stdout
    r = om("diff", str(tmp_path / "old"), str(tmp_path / "new"), "--catalog", "nope")
    assert r.exit_code == 2 and "no catalog `nope`" in r.stderr


# ---- exit codes, bad input ----------------------------------------------------------------------


def test_fail_on_any(in_repo):
    assert om("diff", "specs", "examples/variants/speed-tier", "--fail-on", "any").exit_code == 1
    assert om("diff", "specs", "examples/variants/speed-tier").exit_code == 0
    assert om("diff", "specs", "specs", "--fail-on", "any", "--catalog", "acme").exit_code == 0


def test_specs_with_errors_exit_2_with_diagnostics(tmp_path, in_repo):
    (tmp_path / "bad.om").write_text(BASE.replace("weight = w", "weight = nothing"))
    r = om("diff", "specs", str(tmp_path))
    assert r.exit_code == 2 and isinstance(r.exception, SystemExit)
    assert "nothing" in r.stderr and "has errors" in r.stderr and "Traceback" not in r.output
    assert r.stdout == ""


@pytest.mark.parametrize(
    "content,message",
    [
        ("{not json", "is not valid JSON"),
        ('{"schema": "om-plan/0"}', "this version of om reads"),
        ("[1, 2]", "is not a plan model (a JSON object)"),
        ('{"schema": "om-plan/1"}', "is not a plan model om can read"),
        ('{"schema": "om-plan/1", "catalog": "x", "products": {"P": {}}}', "is not a plan model om can read"),
    ],
)
def test_bad_plan_json_is_a_usage_error(content, message, tmp_path, in_repo):
    bad = tmp_path / "plan.json"
    bad.write_text(content)
    r = om("diff", str(bad), "specs")
    assert r.exit_code == 2 and message in r.stderr, r.output
    assert isinstance(r.exception, SystemExit)


def test_usage_errors(tmp_path, in_repo):
    assert om("diff", "specs").exit_code == 2
    assert om("diff", "specs", "no/such/dir").exit_code == 2
    assert om("diff", "specs", "specs", "--format", "yaml").exit_code == 2
    (tmp_path / "notes.txt").write_text("hello")
    r = om("diff", "specs", str(tmp_path / "notes.txt"))
    assert r.exit_code == 2 and "neither specs" in r.stderr
    (tmp_path / "empty").mkdir()
    r = om("diff", "specs", str(tmp_path / "empty"))
    assert r.exit_code == 2 and "no .om file" in r.stderr


# ---- docs/diff.md shows real output ------------------------------------------------------------


def doc_runs():
    """(command args, expected output, exit code or None) for each `$ om diff` in docs/diff.md's text blocks."""
    import re
    import shlex

    text = (ROOT / "docs" / "diff.md").read_text(encoding="utf-8")
    runs = []
    for block in re.findall(r"^```text\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
        parts = re.split(r"^\$ ", block, flags=re.MULTILINE)[1:]
        for n, part in enumerate(parts):
            command, _, output = part.partition("\n")
            if command.startswith("om diff "):
                code = None
                if n + 1 < len(parts) and parts[n + 1].startswith("echo $?"):
                    code = int(parts[n + 1].split("\n")[1])
                runs.append((shlex.split(command)[1:], output, code))
    return runs


@pytest.mark.parametrize("args,expected,code", doc_runs(), ids=lambda x: " ".join(x) if isinstance(x, list) else None)
def test_docs_show_real_output(args, expected, code, in_repo):
    r = om(*args)
    if expected.startswith("...\n"):
        assert r.stdout.endswith(expected[4:])
    else:
        assert r.stdout == expected
    if code is not None:
        assert r.exit_code == code


def test_docs_have_the_examples():
    assert len(doc_runs()) >= 5


def test_failure_classes_and_fallout_are_compared(tmp_path, in_repo):
    """specs/ holds acme and mobile: --catalog says which; the classes and the fallout queue are fields of their own."""
    shutil.copytree(ROOT / "specs", tmp_path / "specs")
    for f in (tmp_path / "specs" / "mobile").glob("*.om"):
        f.write_text(f.read_text(encoding="utf-8").replace("    fallout porting_desk\n", "").replace(" fatal 409", ""), encoding="utf-8")
    r = om("diff", "specs", str(tmp_path / "specs"), "--catalog", "mobile")
    assert r.exit_code == 0, r.output
    assert "policy: staggered 10s, 1m, 10m for timeout, unreachable, 5xx, 429 fatal 409 -> staggered 10s, 1m, 10m for timeout, unreachable, 5xx, 429" in r.stdout
    assert "- fallout: porting_desk" in r.stdout
