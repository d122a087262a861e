"""Order intake: TMF622 productOrder documents against the Acme catalog.

An order that breaks the catalog (section 1 of
../shared/reference/acme-fiber-catalog.md) is rejected before anything runs,
with problems that name the order item and the rule. The invalid example
orders (examples/orders/invalid-*.json) each break one rule.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from om_dsl.check import check_paths
from om_dsl.lower import lower
from om_dsl.planning.intake import parse_document
from om_dsl.planning.order import Rejected
from om_dsl.planning.pipeline import plan_order
from om_dsl.planning.report import planned_data, rejected_data, rejection_text
from om_dsl.rules.interpreter import Interpreter

ROOT = Path(__file__).resolve().parents[1]
ORDERS = ROOT / "examples" / "orders"


@pytest.fixture(scope="module")
def catalog():
    result = check_paths([str(ROOT / "specs")])
    assert result.ok, result.errors
    return lower(result.catalog("acme"))


@pytest.fixture(scope="module")
def plan(catalog):
    rules = Interpreter(catalog)

    def run(doc):
        return plan_order(catalog, rules, doc)

    return run


@pytest.fixture(scope="module")
def problems(plan):
    """The problems that reject a document (fails the test if it is accepted)."""

    def run(doc):
        with pytest.raises(Rejected) as caught:
            plan(doc)
        return caught.value.problems

    return run


def read(name: str) -> str:
    return (ORDERS / name).read_text(encoding="utf-8")


def item(item_id, code, children=(), action="add", **chars) -> dict:
    out = {"id": item_id, "action": action, "productOffering": {"id": code}}
    if chars:
        out["product"] = {"productCharacteristic": [{"name": k, "value": v} for k, v in chars.items()]}
    if children:
        out["productOrderItem"] = list(children)
    return out


def order(*items, **fields) -> dict:
    doc = {"id": "ORD-3001", "relatedParty": [{"id": "ACC-5", "role": "customer"}], "productOrderItem": list(items)}
    doc.update(fields)
    return doc


def fiber(item_id="1", children=(), router=True, **chars) -> dict:
    chars.setdefault("address_id", "ADDR-1")
    kids = ([item(f"{item_id}.r", "WIFI_ROUTER")] if router else []) + list(children)
    return item(item_id, "HOME_FIBER", kids, **chars)


# ---- the invalid example orders --------------------------------------------------------------

# file -> (rule, item, product, JSON pointer, words the message must contain)
INVALID = {
    "invalid-unknown-product.json": (
        "unknown_product", "2", "SPORTS_PACKAGE", "/productOrderItem/1/productOffering/id",
        ["SPORTS_PACKAGE", "not a product"],
    ),
    "invalid-speed-not-allowed.json": (
        "allowed_values", "1", "HOME_FIBER", "/productOrderItem/0/product/productCharacteristic/0/value",
        ["speed_mbps", "500", "100, 300, 1000"],
    ),
    "invalid-missing-address.json": (
        "required", "1", "HOME_FIBER", "/productOrderItem/0/product/productCharacteristic",
        ["address_id", "missing"],
    ),
    "invalid-router-at-root.json": (
        "placement", "3", "WIFI_ROUTER", "/productOrderItem/1",
        ["WIFI_ROUTER", "HOME_FIBER"],
    ),
    "invalid-fiber-without-router.json": (
        "cardinality", "1", "HOME_FIBER", "/productOrderItem/0",
        ["0 WIFI_ROUTER", "exactly 1"],
    ),
    "invalid-too-many-extenders.json": (
        "cardinality", "1", "HOME_FIBER", "/productOrderItem/0",
        ["4 MESH_EXTENDER", "0 to 3"],
    ),
    "invalid-port-in-without-number.json": (
        "validation:VOICE_LINE.port_in_requires_number", "3", "VOICE_LINE", "/productOrderItem/0/productOrderItem/1",
        ["port_in", "phone_number"],
    ),
    "invalid-speed-wrong-type.json": (
        "attribute_type", "1", "HOME_FIBER", "/productOrderItem/0/product/productCharacteristic/0/value",
        ["speed_mbps", '"fast"', "int"],
    ),
    "invalid-unknown-characteristic.json": (
        "unknown_attribute", "2", "WIFI_ROUTER", "/productOrderItem/0/productOrderItem/0/product/productCharacteristic/1/name",
        ["colour", "WIFI_ROUTER", "model", "delivery"],
    ),
    "invalid-unknown-asset.json": (
        "unknown_asset", "1", "TV_PACKAGE", "/productOrderItem/0/product/id",
        ["PRD-TV-20931", "not in the installed base"],
    ),
}


def test_every_invalid_example_has_an_expectation():
    files = {p.name for p in ORDERS.glob("invalid-*.json")}
    assert files == set(INVALID) | {"invalid-malformed-json.json"}


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_example_is_rejected_for_its_one_problem(problems, name):
    rule, item_id, product, path, words = INVALID[name]
    found = problems(parse_document(read(name)))
    assert [(p.rule, p.item, p.product, p.path) for p in found] == [(rule, item_id, product, path)]
    message = found[0].message
    for word in words:
        assert word in message, (word, message)
    # People read the rendered problem: it names the order item and the rule.
    rendered = found[0].render()
    assert rendered.startswith(f"order item {item_id} ({product}): ")
    assert f"(rule: {rule})" in rendered


@pytest.mark.parametrize("name", sorted(INVALID))
def test_rejected_data_names_item_and_rule(plan, name):
    rule, item_id, product, path, _ = INVALID[name]
    with pytest.raises(Rejected) as caught:
        plan(parse_document(read(name)))
    data = rejected_data(caught.value, "ORD-X")
    assert data["status"] == "rejected" and data["order"] == "ORD-X"
    assert data["problems"] == [{"item": item_id, "product": product, "rule": rule, "path": path, "message": caught.value.problems[0].message}]


def test_valid_examples_are_accepted(plan):
    for name in ("new-fiber-every-option.json", "tv-alone.json", "fiber-tv-ported-phone.json", "fiber-minimal.json"):
        assert planned_data(plan(parse_document(read(name))))["status"] == "accepted", name


# ---- malformed JSON ---------------------------------------------------------------------------


def test_malformed_example_gives_line_and_column():
    text = read("invalid-malformed-json.json")
    with pytest.raises(Rejected) as caught:
        parse_document(text)
    [problem] = caught.value.problems
    assert problem.rule == "malformed_json"
    assert problem.item is None
    # The file stops after the characteristics of item 1 and a comma, on its
    # 31st line: JSON expects one more property, at the start of line 32.
    assert text.count("\n") == 31 and text.rstrip().endswith("},")
    assert problem.path == "line 32, column 1"
    assert "not valid JSON" in problem.message


@pytest.mark.parametrize(
    "text, where",
    [
        ('{"id": "ORD-1",}', "line 1, column 16"),  # trailing comma: a property name expected at the brace
        ('{\n  "id": "ORD-1"\n  "productOrderItem": []\n}', "line 3, column 3"),  # missing comma
        ('{\n  "id": \'ORD-1\'\n}', "line 2, column 9"),  # single quotes
        ("", "line 1, column 1"),
    ],
)
def test_malformed_json_gives_line_and_column(text, where):
    with pytest.raises(Rejected) as caught:
        parse_document(text)
    assert [(p.rule, p.path) for p in caught.value.problems] == [("malformed_json", where)]
    assert where in str(caught.value)


@pytest.mark.parametrize("text", ["[]", '"ORD-1"', "42", "null"])
def test_json_that_is_not_an_object_is_not_an_order(text):
    with pytest.raises(Rejected) as caught:
        parse_document(text)
    assert [p.rule for p in caught.value.problems] == ["not_an_order"]


def test_numbers_are_read_exactly():
    doc = parse_document('{"a": 300.0, "b": 0.1}')
    assert doc == {"a": Decimal("300.0"), "b": Decimal("0.1")}


# ---- several problems -------------------------------------------------------------------------


def test_every_item_problem_is_reported(problems):
    doc = order(
        item(
            "1",
            "HOME_FIBER",
            [item("2", "WIFI_ROUTER", model="AX9000"), item("3", "MESH_EXTENDR")],
            speed_mbps=500,
            ipv6=True,
        ),
        item("4", "TV_PACKAGE", set_top_boxes="many"),
        item("5", "TV_PACKAGE", set_top_boxes=5, package="sports"),
    )
    found = problems(doc)
    assert sorted((p.item, p.rule) for p in found) == sorted(
        [
            ("1", "allowed_values"),  # speed_mbps 500
            ("1", "unknown_attribute"),  # ipv6
            ("1", "required"),  # address_id
            ("2", "allowed_values"),  # model AX9000
            ("3", "unknown_product"),  # MESH_EXTENDR
            ("4", "attribute_type"),  # set_top_boxes "many"
            ("5", "allowed_values"),  # set_top_boxes 5 (outside 1..4)
            ("5", "allowed_values"),  # package sports
        ]
    )
    by = {(p.item, p.message.split("`")[1]) for p in found if p.rule == "allowed_values"}
    assert by == {("1", "speed_mbps"), ("2", "model"), ("5", "set_top_boxes"), ("5", "package")}
    text = rejection_text(Rejected(found), "ORD-3001")
    assert text.startswith("order ORD-3001 rejected: 8 problems\n")


def test_every_structure_problem_is_reported(problems):
    doc = order(
        fiber("1", router=False),  # no router
        fiber("2", [item(f"2.m{n}", "MESH_EXTENDER") for n in range(4)] + [item("2.v1", "VOICE_LINE"), item("2.v2", "VOICE_LINE"), item("2.v3", "VOICE_LINE")]),
        item("3", "MESH_EXTENDER"),  # at the root
        item("4", "TV_PACKAGE", [item("5", "WIFI_ROUTER")]),  # under the wrong parent
    )
    found = problems(doc)
    assert sorted((p.item, p.rule, p.message) for p in found) == sorted(
        [
            ("1", "cardinality", "has 0 WIFI_ROUTER items; HOME_FIBER takes exactly 1"),
            ("2", "cardinality", "has 4 MESH_EXTENDER items; HOME_FIBER takes 0 to 3"),
            ("2", "cardinality", "has 3 VOICE_LINE items; HOME_FIBER takes 0 to 2"),
            ("3", "placement", "MESH_EXTENDER cannot be ordered on its own: it belongs under HOME_FIBER"),
            ("5", "placement", "WIFI_ROUTER cannot be under TV_PACKAGE (item 4); it belongs under HOME_FIBER"),
        ]
    )


def test_every_validation_problem_is_reported(problems):
    doc = order(
        fiber("1", [item("2", "VOICE_LINE", port_in=True), item("3", "VOICE_LINE", port_in="true")]),
        fiber("4", [item("5", "VOICE_LINE", port_in=True, phone_number="+31 20 555 0144")]),
    )
    found = problems(doc)
    assert [(p.rule, p.item, p.product) for p in found] == [
        ("validation:VOICE_LINE.port_in_requires_number", "2", "VOICE_LINE"),
        ("validation:VOICE_LINE.port_in_requires_number", "3", "VOICE_LINE"),
    ]
    assert all(p.message == "a phone line with port_in = true needs the phone_number to port in" for p in found)


def test_every_non_add_item_needs_its_installed_product(problems):
    doc = order(
        item("1", "TV_PACKAGE", action="delete"),
        item("2", "TV_PACKAGE", action="noChange"),
        item("3", "TV_PACKAGE"),
    )
    found = problems(doc)
    assert [(p.rule, p.item) for p in found] == [("asset_required", "1"), ("asset_required", "2")]
    assert "the action delete needs `product.id`" in found[0].message
    assert "noChange" in found[1].message


# ---- other intake rules -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "doc, rule, item_id",
    [
        ({"id": "ORD-3002", "relatedParty": []}, "no_items", None),
        (order(), "no_items", None),
        (order(item("1", "TV_PACKAGE", action="upgrade")), "unknown_action", "1"),
        (order(item("1", "ONT_RFS")), "unknown_product", "1"),  # technical products are not sold
        (order({"action": "add", "productOffering": {"id": "TV_PACKAGE"}}), "malformed_item", None),
        (order({"id": "1", "action": "add"}), "malformed_item", "1"),
        (order(item("1", "TV_PACKAGE"), item("1", "TV_PACKAGE")), "duplicate_item_id", "1"),
        (order(fiber("1", [item("1", "VOICE_LINE")])), "duplicate_item_id", "1"),
        (order(item("1", "TV_PACKAGE", package=None), item("2", "TV_PACKAGE", [item("3", "VOICE_LINE")])), "placement", "3"),
    ],
)
def test_intake_rules(problems, doc, rule, item_id):
    found = problems(doc)
    assert [(p.rule, p.item) for p in found] == [(rule, item_id)]


def test_duplicate_characteristic(problems):
    doc = order(item("1", "TV_PACKAGE", package="basic"))
    doc["productOrderItem"][0]["product"]["productCharacteristic"].append({"name": "package", "value": "premium"})
    [p] = problems(doc)
    assert (p.rule, p.item, p.path) == ("duplicate_attribute", "1", "/productOrderItem/0/product/productCharacteristic/1")
    assert "package" in p.message


def test_explicit_null_for_a_required_attribute_is_missing(problems):
    [p] = problems(order(fiber("1", address_id=None)))
    assert (p.rule, p.item) == ("required", "1")


def test_unknown_product_message_lists_what_is_sold(problems):
    [p] = problems(parse_document(read("invalid-unknown-product.json")))
    for code in ("HOME_FIBER", "MESH_EXTENDER", "TV_PACKAGE", "VOICE_LINE", "WIFI_ROUTER"):
        assert code in p.message


# ---- values: strings for ints and bools, defaults -----------------------------------------------


def test_string_values_are_accepted_for_int_and_bool(plan):
    doc = order(
        fiber("1", [item("2", "VOICE_LINE", port_in="true", phone_number="+31 20 555 0155")], speed_mbps="300", static_ip="true", contract_months=" 24 "),
        item("3", "TV_PACKAGE", set_top_boxes="2"),
    )
    p = plan(doc)
    home, _router, voice, tv = p.order.items
    assert home.values["speed_mbps"] == 300 and type(home.values["speed_mbps"]) is int
    assert home.values["static_ip"] is True
    assert home.values["contract_months"] == 24
    assert voice.values["port_in"] is True
    assert tv.values["set_top_boxes"] == 2
    # The values are the typed ones downstream too.
    assert home.values["upload_mbps"] == 100
    assert any(l.rule == "D3" for l in p.lines)  # static_ip "true" is true
    assert voice.values["number_source"] == "port"
    assert [l.id for l in p.lines if l.rule == "D8"] == ["3/D8#1", "3/D8#2"]


@pytest.mark.parametrize("raw, expected", [("false", False), ("FALSE", False), ("True", True), (False, False)])
def test_bool_spellings(plan, raw, expected):
    p = plan(order(fiber("1", static_ip=raw)))
    assert p.order.items[0].values["static_ip"] is expected
    assert any(l.rule == "D3" for l in p.lines) is expected


def test_a_whole_decimal_is_an_int(plan):
    # 1000.0 in the JSON text: parse_document reads it exactly, intake takes it as 1000.
    doc = parse_document(
        '{"id": "ORD-3003", "relatedParty": [{"id": "ACC-5", "role": "customer"}], "productOrderItem": [{"id": "1", "productOffering": {"id": "HOME_FIBER"}, '
        '"product": {"productCharacteristic": [{"name": "speed_mbps", "value": 1000.0}, {"name": "address_id", "value": "ADDR-1"}]}, '
        '"productOrderItem": [{"id": "2", "productOffering": {"id": "WIFI_ROUTER"}}]}]}'
    )
    p = plan(doc)
    assert p.order.items[0].values["speed_mbps"] == 1000
    assert p.lines[0].values["technology"] == "XGS-PON"


@pytest.mark.parametrize(
    "name, raw, rule",
    [
        ("speed_mbps", "fast", "attribute_type"),
        ("speed_mbps", "300 Mbps", "attribute_type"),
        ("speed_mbps", Decimal("300.5"), "attribute_type"),
        ("speed_mbps", True, "attribute_type"),
        ("speed_mbps", "500", "allowed_values"),  # the right type, but not sold
        ("static_ip", "yes", "attribute_type"),
        ("static_ip", 1, "attribute_type"),
        ("address_id", 7731, "attribute_type"),
    ],
)
def test_values_of_the_wrong_type_are_rejected(problems, name, raw, rule):
    found = problems(order(fiber("1", **{name: raw})))
    p = found[0]
    assert (p.rule, p.item, p.product) == (rule, "1", "HOME_FIBER")
    assert p.path.endswith("/value")
    assert f"`{name}`" in p.message
    # A required attribute whose value is rejected is then also reported as
    # `required` (missing); only the first problem is pinned for it here.
    if name != "address_id":
        assert len(found) == 1


def test_defaults_are_applied(plan):
    doc = order(fiber("1", [item("2", "VOICE_LINE"), item("3", "MESH_EXTENDER")]), item("4", "TV_PACKAGE"))
    p = plan(doc)
    values = {i.id: {k: v for k, v in i.values.items() if k not in i.enriched} for i in p.order.items}
    assert values == {
        "1": {"speed_mbps": 300, "static_ip": False, "address_id": "ADDR-1", "contract_months": 12},
        "1.r": {"model": "AX3000", "delivery": "technician"},
        "2": {"phone_number": None, "port_in": False},
        "3": {},
        "4": {"package": "basic", "set_top_boxes": 1},
    }
    # A given value wins over the default.
    p = plan(order(fiber("1", speed_mbps=100, contract_months=0)))
    assert (p.order.items[0].values["speed_mbps"], p.order.items[0].values["contract_months"]) == (100, 0)


def test_defaults_of_the_minimal_example(plan):
    data = planned_data(plan(parse_document(read("fiber-minimal.json"))))
    attributes = {i["id"]: i["attributes"] for i in data["order_items"]}
    assert attributes == {
        "1": {"speed_mbps": 300, "static_ip": False, "address_id": "ADDR-5570", "contract_months": 12},
        "2": {"model": "AX3000", "delivery": "technician"},
    }


def test_missing_action_means_add(plan):
    doc = order(item("1", "TV_PACKAGE"))
    del doc["productOrderItem"][0]["action"]
    p = plan(doc)
    assert p.order.items[0].action == "add"
    assert {l.action for l in p.lines} == {"add"}


# ---- order fields -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, day",
    [
        ("2026-12-01T09:00:00Z", datetime.date(2026, 12, 1)),
        ("2026-12-01T23:30:00.000+01:00", datetime.date(2026, 12, 1)),
        ("2026-12-01", datetime.date(2026, 12, 1)),
    ],
)
def test_requested_start_date_time_is_read_as_its_date(plan, raw, day):
    p = plan(order(item("1", "TV_PACKAGE"), requestedStartDate=raw))
    assert p.order.fields["requested_start_date"] == day
    assert planned_data(p)["order"]["requested_start_date"] == day.isoformat()


def test_every_option_example_start_date(plan):
    p = plan(parse_document(read("new-fiber-every-option.json")))
    assert p.order.fields["requested_start_date"] == datetime.date(2026, 12, 1)


@pytest.mark.parametrize("raw", ["soon", "2026-02-30T09:00:00Z", "01/12/2026", 20261201])
def test_a_requested_start_date_that_is_not_a_date_is_rejected(problems, raw):
    [p] = problems(order(item("1", "TV_PACKAGE"), requestedStartDate=raw))
    assert (p.rule, p.path) == ("order_field", "/requestedStartDate")


def test_order_fields(plan):
    p = plan(parse_document(read("fiber-tv-ported-phone.json")))
    f = p.order.fields
    assert (f["id"], f["external_id"], f["category"], f["priority"], f["customer_account"]) == ("ORD-1003", "CPQ-88251", "residential", "4", "ACC-61")
    assert f["requested_start_date"] == datetime.date(2026, 12, 15)
    assert [i.id for i in f["root_items"]] == ["1", "4"]


def test_the_order_id_can_be_given_or_derived(catalog, plan):
    doc = order(item("1", "TV_PACKAGE"))
    del doc["id"]
    first, second = plan(doc).order.id, plan(dict(doc)).order.id
    assert first == second and first.startswith("ORD-")
    other = order(item("1", "TV_PACKAGE", package="premium"))
    del other["id"]
    assert plan(other).order.id != first
    assert plan_order(catalog, Interpreter(catalog), doc, order_id="ORD-9").order.id == "ORD-9"


# ---- the customer ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "parties,customer",
    [
        ([{"id": "ACC-1", "role": "customer"}], "ACC-1"),
        ([{"id": "ACC-1", "role": "Customer"}], "ACC-1"),
        ([{"id": "ACC-1", "@referredType": "Customer"}], "ACC-1"),  # TMF622 v4: a reference to a Customer, no role
        ([{"partyOrPartyRole": {"id": "ACC-1", "@referredType": "Customer"}}], "ACC-1"),  # TMF622 v5
        ([{"role": "customer", "partyOrPartyRole": {"id": "ACC-1", "@referredType": "Individual"}}], "ACC-1"),
        ([{"id": "IND-7", "@referredType": "Individual"}, {"id": "ACC-1", "@referredType": "Customer"}], "ACC-1"),
        ([{"id": "ACC-2", "@referredType": "Customer"}, {"id": "ACC-1", "role": "customer"}], "ACC-1"),  # the role says it first
        ([{"id": "ORG-1", "role": "seller", "@referredType": "Customer"}], None),  # another role is another party
        ([{"id": "IND-7", "@referredType": "Individual"}], None),
        ([{"role": "customer"}], None),
        ("ACC-1", None),
    ],
)
def test_the_customer_of_an_order(plan, parties, customer):
    from om_dsl.planning.intake import customer_of

    doc = {"id": "ORD-3004", "relatedParty": parties, "productOrderItem": [{"id": "1", "action": "add", "productOffering": {"id": "TV_PACKAGE"}}]}
    assert customer_of(doc) == customer
    if customer is not None:  # intake reads the same party: the order's account
        assert plan(doc).order.fields["customer_account"] == customer


def test_a_customer_party_without_an_id_is_a_problem(problems):
    [p] = problems({"id": "ORD-3005", "relatedParty": [{"@referredType": "Customer", "name": "Noor"}], "productOrderItem": [{"id": "1", "action": "add", "productOffering": {"id": "TV_PACKAGE"}}]})
    assert (p.rule, p.path) == ("order_field", "/relatedParty/0")
