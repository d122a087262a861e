"""The generated modules and the interpreter agree on every order.

Hypothesis writes random orders (valid and not) for the Acme catalog and
for a catalog that uses every expression form (tests/fixtures/exprs); each
goes through both engines, and the results (the planned order, or the
rejection) must be identical, as must every task's arguments, values set,
compensation arguments and wait date for random task outputs.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from om_dsl.build import build, write
from om_dsl.planning.order import EvaluationError, Rejected
from om_dsl.planning.pipeline import plan_order
from om_dsl.planning.report import planned_data, rejected_data, to_json
from om_dsl.rules.generated import GeneratedRules
from om_dsl.rules.interpreter import Interpreter

from support import ROOT

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def engines(tmp_path_factory, specs):
    result = build([str(specs)])
    assert result.ok
    out = tmp_path_factory.mktemp("generated")
    write(out, result.files())
    cat = result.catalogs[0]
    return GeneratedRules(out / cat.name), Interpreter(cat)


@pytest.fixture(scope="module")
def acme(tmp_path_factory):
    return engines(tmp_path_factory, ROOT / "specs")


@pytest.fixture(scope="module")
def exprs(tmp_path_factory):
    return engines(tmp_path_factory, ROOT / "tests" / "fixtures" / "exprs")


def outcome(rules, doc):
    try:
        planned = plan_order(rules.catalog, rules, doc, "ORD-T")
    except Rejected as exc:
        return to_json(rejected_data(exc, "ORD-T")), None
    return to_json(planned_data(planned)), planned


def task_values(rules, planned, outputs):
    """Every plan expression of every planned task, for these outputs."""
    out = []
    o = planned.order.fields
    lines = {l.id: l for l in planned.lines}
    for item in planned.plan.items:
        line = lines[item.line]
        args = (item.product, item.action, item.name, line.values, outputs, o)
        for fn in (rules.task_when, rules.task_args, rules.task_sets, rules.compensation_args, rules.wait_until):
            try:
                out.append((item.id, fn.__name__, fn(*args)))
            except EvaluationError as exc:
                out.append((item.id, fn.__name__, "error", exc.element, exc.source, exc.message))
    return out


def agree(generated, interpreter, doc, outputs=None):
    g_text, g_planned = outcome(generated, doc)
    i_text, i_planned = outcome(interpreter, doc)
    assert g_text == i_text
    if g_planned is not None and outputs is not None:
        assert task_values(generated, g_planned, outputs) == task_values(interpreter, i_planned, outputs)
    return g_text


# ---- random orders ------------------------------------------------------------------------


def char(name, value):
    return {"name": name, "value": value}


def item(n, code, chars=(), children=()):
    it = {"id": str(n), "action": "add", "productOffering": {"id": code}}
    if chars:
        it["product"] = {"productCharacteristic": list(chars)}
    if children:
        it["productOrderItem"] = list(children)
    return it


def maybe(strategy):
    return st.one_of(st.none(), strategy)


dates = st.dates(min_value=datetime.date(2000, 1, 1), max_value=datetime.date(2100, 12, 31)).map(lambda d: d.isoformat())


@st.composite
def order_fields(draw):
    doc = {"id": "ORD-T"}
    if not draw(rarely):
        doc["relatedParty"] = [{"id": draw(st.sampled_from(["ACC-1", "ACC-2"])), "role": "customer"}]
    for key in ("requestedStartDate", "requestedCompletionDate"):
        d = draw(maybe(dates))
        if d is not None:
            doc[key] = d
    prio = draw(maybe(st.sampled_from(["0", "2", "4"])))
    if prio is not None:
        doc["priority"] = prio
    return doc


rarely = st.sampled_from([False] * 19 + [True])


def chars_of(draw, options, wrong=None):
    """Each attribute absent, or one of its values; now and then a wrong one."""
    out = []
    for name, values in options.items():
        value = draw(st.one_of(st.just(Ellipsis), st.sampled_from(values)))
        if wrong and name in wrong and draw(rarely):
            value = wrong[name]
        if value is not Ellipsis:
            out.append(char(name, value))
    return out


@st.composite
def acme_orders(draw):
    doc = draw(order_fields())
    roots = []
    n = 1
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["HOME_FIBER", "TV_PACKAGE"]))
        if kind == "TV_PACKAGE":
            roots.append(item(n, kind, chars_of(draw, {"package": ["basic", "premium"], "set_top_boxes": [1, 2, 3, 4]}, {"package": "gold", "set_top_boxes": 5})))
            n += 1
            continue
        root_n = n
        n += 1
        children = []
        for _ in range(draw(st.integers(0, 2) if draw(rarely) else st.just(1))):
            children.append(item(n, "WIFI_ROUTER", chars_of(draw, {"model": ["AX3000", "AX6000"], "delivery": ["courier", "technician"]})))
            n += 1
        for _ in range(draw(st.just(4) if draw(rarely) else st.integers(0, 3))):
            children.append(item(n, "MESH_EXTENDER"))
            n += 1
        for _ in range(draw(st.integers(0, 2))):
            children.append(item(n, "VOICE_LINE", chars_of(draw, {"phone_number": ["+31205550101", "020 555 0102"], "port_in": [False, "false"]}, {"port_in": True})))
            n += 1
        chars = chars_of(draw, {"speed_mbps": [100, 300, 1000, "300"], "static_ip": [True, False], "contract_months": [0, 12, 24]}, {"speed_mbps": 500})
        if not draw(rarely):
            chars.append(char("address_id", "ADDR-1"))
        roots.append(item(root_n, "HOME_FIBER", chars, children))
    doc["productOrderItem"] = roots
    return doc


@st.composite
def exprs_orders(draw):
    doc = draw(order_fields())
    roots = []
    n = 1
    for _ in range(draw(st.integers(1, 2))):
        root_n = n
        n += 1
        sites = []
        for _ in range(draw(st.integers(0, 5))):
            sites.append(
                item(
                    n,
                    "SITE",
                    chars_of(
                        draw,
                        {"rooms": [0, 1, 3, 9], "outdoor": [True, False], "name": ["hall", "roof"], "weight": [0.25, 0.5, 2, "1.75"]},
                    ),
                )
            )
            n += 1
        chars = chars_of(
            draw,
            {
                "speed": [100, 500, 1000, 2000],
                "months": [0, 6, 12, 18, 60],
                "code": ["a", "B", "zz", " c ", "XXXX"],
                "label": ["VIP one", "plain", "B"],
                "ratio": [0, 1.5, 3, "2.25", 9.99],
                "start": ["2026-01-31", "2026-02-28"],
                "managed": [True, False],
                "divisor": [-3, -1, 0, 1, 2, 3],
            },
        )
        roots.append(item(root_n, "LINK", chars, sites))
    doc["productOrderItem"] = roots
    return doc


_own_outputs = st.dictionaries(
    st.sampled_from(["provision", "again", "reserve_port", "ship_ont", "ship_device", "assign_ip", "assign_number", "normalize_number"]),
    st.fixed_dictionaries(
        {},
        optional={
            "ref": st.sampled_from(["R1", "R-2"]),
            "slot": st.integers(0, 6),
            "port_id": st.just("P-1"),
            "shipment_id": st.just("S-1"),
            "ip_address": st.just("10.0.0.1"),
            "phone_number": st.just("+31205550199"),
            "e164": st.just("+31205550101"),
        },
    ),
)


# What a task reads of other lines (`P.task.output in bundle`, `P.attr in order`):
# one entry per line in scope, None where its task did not complete.
_provided = st.fixed_dictionaries({}, optional={"ref": st.sampled_from(["R1", "R-2"]), "slot": st.integers(0, 6)})
_lines = st.fixed_dictionaries(
    {},
    optional={
        "fee": st.sampled_from([Decimal("0"), Decimal("35.91"), 7]),
        "kind": st.sampled_from(["k", None]),
        "tier": st.sampled_from(["gold", "bronze", None]),
        "share": st.sampled_from([Decimal("1.5"), Decimal("0.25"), None, 3]),
        "n": st.integers(0, 3),
    },
)
_across = st.fixed_dictionaries(
    {},
    optional={
        "ACCESS_CFS.provision in bundle": st.lists(st.none() | _provided, max_size=1),
        "ACCESS_CFS in bundle": st.lists(_lines, max_size=1),
        "ACCESS_CFS.provision in order": st.lists(st.none() | _provided, max_size=3),
        "ACCESS_CFS in order": st.lists(_lines, max_size=3),
        "SITE_RFS in order": st.lists(_lines, max_size=3),
        "SITE_RFS.site_provision in order": st.lists(st.none() | _provided, max_size=3),
    },
)
outputs_strategy = st.builds(lambda own, across: {**own, **across}, _own_outputs, _across)


@SETTINGS
@given(doc=acme_orders(), outputs=outputs_strategy)
def test_acme_orders_agree(acme, doc, outputs):
    agree(*acme, doc, outputs)


@SETTINGS
@given(doc=exprs_orders(), outputs=outputs_strategy)
def test_every_expression_form_agrees(exprs, doc, outputs):
    agree(*exprs, doc, outputs)


def test_the_random_orders_reach_both_outcomes_and_faults(exprs):
    """The generator is not trivial: it yields accepted and rejected orders,
    and faults (division by zero) inside rules."""
    seen = set()

    @settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(doc=exprs_orders())
    def collect(doc):
        text = agree(*exprs, doc)
        seen.add("accepted" if '"status": "accepted"' in text else "rejected")
        if "division by zero" in text:
            seen.add("fault")

    collect()
    assert seen == {"accepted", "rejected", "fault"}


def test_a_fault_names_the_spec_line_in_both_engines(exprs):
    doc = {"id": "ORD-T", "productOrderItem": [item(1, "LINK", [char("divisor", 0)])]}
    generated, interpreter = exprs
    texts = []
    for rules in (generated, interpreter):
        with pytest.raises(Rejected) as info:
            plan_order(rules.catalog, rules, doc, "ORD-T")
        (problem,) = info.value.problems
        assert problem.rule == "enrichment:LINK.per_month"
        assert "catalog.om:53" in problem.message and "division by zero" in problem.message
        texts.append(problem.message)
    assert texts[0] == texts[1]


def test_decimal_results_are_exact(exprs):
    generated, _ = exprs
    doc = {"id": "ORD-T", "productOrderItem": [item(1, "LINK", [char("speed", 500), char("months", 12), char("divisor", 3)])]}
    planned = plan_order(generated.catalog, generated, doc, "ORD-T")
    link = planned.order.items[0].values
    assert link["fee"] == Decimal("35.91")  # 39.90 * 0.9, rounded half up to 2 places
    assert link["per_month"] == Decimal("35.91") / Decimal(3)
    assert link["tier"] == "bronze" and link["kind"] == "b" and link["plain"] is None


# ---- anything at all -------------------------------------------------------------------------

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-5, 5000), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)),
    max_leaves=20,
)


@st.composite
def odd_orders(draw):
    """Order-shaped documents with anything in any place."""
    keys = st.sampled_from(["id", "action", "productOffering", "product", "productOrderItem", "relatedParty", "requestedStartDate", "priority"])
    value = st.one_of(json_values, acme_orders().map(lambda d: d["productOrderItem"]))
    doc = draw(acme_orders())
    for _ in range(draw(st.integers(1, 4))):
        target = doc
        items = doc.get("productOrderItem")
        if isinstance(items, list) and items and draw(st.booleans()):
            target = draw(st.sampled_from(items))
            if not isinstance(target, dict):
                continue
        chars = target.get("product", {}).get("productCharacteristic") if isinstance(target.get("product"), dict) else None
        if isinstance(chars, list) and chars and draw(st.booleans()):
            chosen = draw(st.sampled_from(chars))
            if isinstance(chosen, dict):
                chosen["value"] = draw(json_values)
        else:
            target[draw(keys)] = draw(value)
    return doc


@pytest.mark.slow
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(doc=st.one_of(odd_orders(), st.dictionaries(st.text(max_size=6), json_values, max_size=5)))
def test_any_document_is_planned_or_rejected_never_a_crash(acme, doc):
    """Bad input gives a rejection naming what is wrong, never a traceback (and both engines agree)."""
    agree(*acme, doc)
