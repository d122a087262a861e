"""Keys and ids built from free text cannot collide (issue 16, items 2 and 3).

Properties of om_dsl.planning.keys: each format reads back to the parts
it was built from (so distinct parts give distinct keys), and ordinary ids
keep the form they always had. Then the two collisions a security probe found,
end to end on the embedded engine with the simulated systems."""

from __future__ import annotations

import json
from urllib.parse import unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from om_dsl.engine import state as S
from om_dsl.planning import keys as K
from om_dsl.temporal.client import order_of

from support.engine_helpers import make_runner, operate, order_text

# Free text, biased to the characters the formats join their parts with.
free = st.text(alphabet=st.sampled_from(list(":/-%#@ AX9é\t")) | st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=8)
ident = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,5}", fullmatch=True)  # rule and task names (the checker's identifiers)
unit = st.none() | st.integers(1, 12)
chain = st.lists(st.tuples(ident, unit), min_size=1, max_size=3)  # a line's rules, outermost first
generation = st.integers(1, 50)


def line_id(item: str, rules) -> str:
    """As decompose builds it: the item part, then each rule (and unit)."""
    return K.line_prefix(item) + "".join(f"/{r}" + (f"#{n}" if n is not None else "") for r, n in rules)


def task_tuple(order, item, rules, task, gen, undo):
    return (order, item, tuple(rules), task, gen, undo)


def build_key(order, item, rules, task, gen, undo) -> str:
    tid = f"{line_id(item, rules)}:{task}"
    return K.undo_key(order, tid, gen) if undo else K.call_key(order, tid, gen)


def read_key(key: str):
    """The parts of a call or undo key, read back by the module docstring's rules alone."""
    order, rest = key.split(":", 1)
    middle, gen = rest.rsplit(":", 1)
    undo = middle.count(":") == 2
    if undo:
        middle = middle.removesuffix(":undo")
    line, task = middle.split(":")
    item, *segments = line.split("/")
    rules = [(s.split("#")[0], int(s.split("#")[1]) if "#" in s else None) for s in segments]
    return (unquote(order), unquote(item), tuple(rules), task, int(gen), undo)


@settings(max_examples=400)
@given(free, free, chain, ident, generation, st.booleans())
def test_a_call_or_undo_key_reads_back_to_its_order_item_line_task_and_generation(order, item, rules, task, gen, undo):
    key = build_key(order, item, rules, task, gen, undo)
    assert read_key(key) == task_tuple(order, item, rules, task, gen, undo)
    assert order_of(key) == order  # what the Temporal client signals a callback to
    assert all("!" <= c <= "~" for c in key)  # it goes as it is in an HTTP header (Idempotency-Key)


@settings(max_examples=400)
@given(st.tuples(free, free, chain, ident, generation, st.booleans()), st.tuples(free, free, chain, ident, generation, st.booleans()))
def test_distinct_tasks_have_distinct_keys(a, b):
    assert (build_key(*a) == build_key(*b)) == (task_tuple(*a) == task_tuple(*b))


@given(free, st.integers(1, 10_000), free, free, chain, ident, generation, st.booleans())
def test_event_ids_are_distinct_and_never_a_call_key(order, n, order2, item, rules, task, gen, undo):
    eid = K.event_id(order, n)
    assert eid.split(":")[1] == "event" and K.order_of_key(eid) == order and eid.endswith(f":event:{n}")
    assert eid != build_key(order2, item, rules, task, gen, undo)


@given(free, st.integers(1, 100), free, st.integers(1, 100))
def test_distinct_events_have_distinct_ids(o1, n1, o2, n2):
    assert (K.event_id(o1, n1) == K.event_id(o2, n2)) == ((o1, n1) == (o2, n2))


@settings(max_examples=400)
@given(free, free, free, free)
def test_distinct_order_items_have_distinct_asset_ids(o1, i1, o2, i2):
    a, b = K.asset_id(o1, i1), K.asset_id(o2, i2)
    assert (a == b) == ((o1, i1) == (o2, i2))
    order, item = a.removeprefix("AST-").rsplit("-", 1)
    assert (unquote(order), unquote(item)) == (o1, i1)
    assert "/" not in a and not any(c.isspace() for c in a)  # a line key's base; the store's " A B " list of changed assets


base = st.one_of(
    st.tuples(st.just("asset"), st.tuples(free, free)),
    st.tuples(st.just("customer"), free),
    st.tuples(st.just("customer"), st.none()),
)


def build_line_key(b, rules) -> str:
    kind, what = b
    (rule, n), *further = rules
    key = K.line_key(K.asset_id(*what) if kind == "asset" else None, what if kind == "customer" else None, rule, n)
    for rule, n in further:
        key = K.line_key(None, None, rule, n, parent_key=key)
    return key


@settings(max_examples=400)
@given(base, chain, base, chain)
def test_distinct_installed_lines_have_distinct_keys(b1, r1, b2, r2):
    # An asset's lines and a customer's (order-scoped) lines come from different rules.
    r2 = [(("o" if b2[0] == "customer" else "p") + r, n) for r, n in r2]
    r1 = [(("o" if b1[0] == "customer" else "p") + r, n) for r, n in r1]
    assert (build_line_key(b1, r1) == build_line_key(b2, r2)) == ((b1, r1) == (b2, r2))


@given(st.none() | free, st.none() | free)
def test_distinct_customers_have_distinct_installed_bases(c1, c2):
    a, b = K.installed_base_id(c1), K.installed_base_id(c2)
    assert (a == b) == (c1 == c2)
    assert K.customer_of_installed_base(a) == c1


@given(st.from_regex(r"[A-Z]{1,4}-[0-9]{1,5}", fullmatch=True), st.from_regex(r"[0-9]{1,3}", fullmatch=True), chain, ident, generation, st.integers(1, 99))
def test_ordinary_ids_keep_the_keys_and_ids_they_always_had(order, item, rules, task, gen, n):
    line = item + "".join(f"/{r}" + (f"#{u}" if u is not None else "") for r, u in rules)
    assert line_id(item, rules) == line
    assert K.call_key(order, f"{line}:{task}", gen) == f"{order}:{line}:{task}:{gen}"
    assert K.undo_key(order, f"{line}:{task}", gen) == f"{order}:{line}:{task}:undo:{gen}"
    assert K.event_id(order, n) == f"{order}:event:{n}"
    assert K.asset_id(order, item) == f"AST-{order}-{item}"
    customer = "ACC-" + item
    assert K.line_key(f"AST-{order}-{item}", customer, "D1", None) == f"AST-{order}-{item}/D1"
    assert K.line_key(f"AST-{order}-{item}", customer, "D8", 2) == f"AST-{order}-{item}/D8#2"
    assert K.line_key(None, customer, "D9", None) == f"{customer}/D9"
    assert K.line_key(None, None, "D9", None) == "order/D9"
    assert K.installed_base_id(customer) == f"installed-base:{customer}" and K.installed_base_id(None) == "installed-base:-"


def test_the_reserved_words_are_escaped_where_they_stand_for_none():
    assert K.line_key(None, "order", "D9", None) == "%6Frder/D9" != K.line_key(None, None, "D9", None)
    assert K.installed_base_id("-") == "installed-base:%2D" != K.installed_base_id(None)


def test_a_lone_surrogate_is_escaped_too():
    assert K.asset_id("O", "\ud800") == "AST-O-%ED%A0%80" != K.asset_id("O", "\ud801")


def test_a_malformed_correlation_id_names_no_order_rather_than_raising():
    assert order_of("%FF%:x:1") == "\ufffd%"
    assert order_of("no-colon") == "no-colon"


# ---- the probe's two collisions, end to end -------------------------------------------------------------


def fiber_order(order_id: str, root: str, child: str, customer: str, address: str) -> str:
    doc = json.loads(order_text("fiber-minimal.json"))
    doc["id"], doc["externalId"] = order_id, "CPQ-" + order_id
    doc["relatedParty"][0]["id"] = customer
    item = doc["productOrderItem"][0]
    item["id"], item["productOrderItem"][0]["id"] = root, child
    item["product"]["productCharacteristic"][0]["value"] = address
    return json.dumps(doc)


def port_of(runner, order_id: str) -> str:
    run = runner.store.load(order_id)
    reserved = [t for t in run.tasks.values() if t.name == "reserve_port"]
    assert len(reserved) == 1 and reserved[0].status == S.COMPLETED
    return reserved[0].outputs["port_id"]


def test_orders_whose_ids_joined_the_same_way_reserve_a_port_each(tmp_path):
    runner = make_runner(tmp_path)
    # X:9 + item 1 and X + item 9:1 were both `X:9:1/D1:reserve_port:1`.
    for order_id, root, child, customer, address in [("X:9", "1", "2", "ACC-A", "ADDR-1111"), ("X", "9:1", "9:2", "ACC-B", "ADDR-2222")]:
        _, status, problems = runner.submit(fiber_order(order_id, root, child, customer, address))
        assert not problems, problems
    operate(runner)
    assert runner.store.load("X:9").status == runner.store.load("X").status == S.ORDER_COMPLETED
    reservations = [(json.loads(args), json.loads(outputs), calls) for _, _, op, args, outputs, calls in runner.simulators.effects() if op == "reserve_port"]
    assert len(reservations) == 2  # two effects, neither a replay of the other
    assert sorted(r[0]["address_id"] for r in reservations) == ["ADDR-1111", "ADDR-2222"]
    assert port_of(runner, "X:9") != port_of(runner, "X")
    ports = {c: [json.loads(row[5])["reserve_port"]["port_id"] for row in runner.store.inventory(c) if row[3] == "FIBER_ACCESS_CFS"] for c in ("ACC-A", "ACC-B")}
    assert ports == {"ACC-A": [port_of(runner, "X:9")], "ACC-B": [port_of(runner, "X")]}


def test_orders_whose_asset_ids_joined_the_same_way_make_an_asset_each(tmp_path):
    runner = make_runner(tmp_path)
    # Y-9 + item 1 and Y + item 9-1 were both AST-Y-9-1: ACC-A's asset got ACC-B's address, ACC-B none.
    for order_id, root, child, customer, address in [("Y-9", "1", "2", "ACC-A", "ADDR-1111"), ("Y", "9-1", "9-2", "ACC-B", "ADDR-2222")]:
        _, _, problems = runner.submit(fiber_order(order_id, root, child, customer, address))
        assert not problems, problems
    operate(runner)
    fibers = {c: [(a[0], json.loads(a[3])["address_id"], a[5]) for a in runner.store.assets(c) if a[2] == "HOME_FIBER"] for c in ("ACC-A", "ACC-B")}
    assert fibers == {"ACC-A": [("AST-Y-9-1", "ADDR-1111", "Y-9")], "ACC-B": [("AST-Y-9%2D1", "ADDR-2222", "Y")]}
    # Each customer's technical inventory is its own, under its own asset.
    lines = {c: sorted((row[2], json.loads(row[4])["address_id"]) for row in runner.store.inventory(c) if row[3] == "FIBER_ACCESS_CFS") for c in ("ACC-A", "ACC-B")}
    assert lines == {"ACC-A": [("AST-Y-9-1", "ADDR-1111")], "ACC-B": [("AST-Y-9%2D1", "ADDR-2222")]}


@given(free, free)
def test_the_shortcuts_planning_takes_make_the_same_ids(order, item):
    """asset_ids (the order's part escaped once) and line_prefix's check for a plain id."""
    assert K.asset_ids(order)(item) == K.asset_id(order, item)
    assert K.line_prefix(item) == K.escape(item, "/:#@", ascii_only=True)


@given(st.text(max_size=12), st.text(max_size=12) | st.sampled_from(["1", "ITEM-1", "a/b", "x:y", "²", "Ⅻ", "ａ", "%", "a b"]))
@settings(max_examples=400)
def test_a_plain_item_is_its_own_line_prefix_and_its_asset_id_follows_the_head(order_id, item_id):
    """Decomposition reads an item's line prefix and asset id with one check (plain_item, written
    out in decompose.Decomposer.run): both as line_prefix and asset_id make them."""
    if K.plain_item(item_id):
        assert (item_id, K.asset_head(order_id) + item_id) == (K.line_prefix(item_id), K.asset_id(order_id, item_id))
    assert K.asset_head(order_id) == K.asset_id(order_id, "")


@given(st.none() | st.text(max_size=10) | st.sampled_from(["", "order", "ACC-42", "a/b", "%", "ordér"]))
@settings(max_examples=300)
def test_order_base_is_the_customer_escaped_or_order(customer):
    """order_base's plain case (no match beyond one) gives what escaping gives."""
    expected = K._reserved(K.escape(customer, "/"), K.NO_CUSTOMER) if customer else K.NO_CUSTOMER
    assert K.order_base(customer) == expected


@pytest.mark.parametrize("item_id, plain", [("1", True), ("A7", True), ("x_1.2", True), ("a-b", False), ("a/b", False), ("a:b", False), ("é", False), ("²", False), ("", True), (7, False)])
def test_plain_item_names_the_ids_both_formats_leave_as_they_are(item_id, plain):
    assert K.plain_item(item_id) is plain
