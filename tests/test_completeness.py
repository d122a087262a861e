"""Completeness and clarity: warnings for a catalog that checks clean and still
does less than it seems (W010, W011, W012), "did you mean" for misspelt
keywords, and the errors of the files that parse when another file of the
catalog does not."""

from __future__ import annotations

import pytest

from om_dsl.check import check_texts
from om_dsl.diagnostics.render import render_text

BASE = """catalog c version "1"
commercial INTERNET "Internet" root {
  attr address_id: string required
  has EXTENDER [0..3]
}
commercial EXTENDER "Extender" child {
  attr model: string = "M1"
}
technical ACCESS_CFS "Access" cfs {
  attr address_id: string required
}
technical BILLING_RFS "Billing" rfs {
  attr account_id: string optional
}
decompose D1: INTERNET -> ACCESS_CFS { address_id = address_id }
decompose D2: order -> BILLING_RFS { account_id = order.customer_account }
system net "Network" {
  operation activate(address_id: string)
  operation deactivate(address_id: string)
  operation bill(account_id: string)
}
plan BILLING_RFS on add {
  callout start = net.bill(account_id)
}
plan BILLING_RFS on delete { }
"""
ACCESS = """plan ACCESS_CFS on add {
  callout activate = net.activate(address_id) DEPENDENCY
}
"""
DELETE = "plan ACCESS_CFS on delete { callout deactivate = net.deactivate(address_id) }\n"


def check(text: str, **more):
    result = check_texts({"c.om": text, **more})
    return result, [d.code for d in result.diagnostics]


def test_a_whole_catalog_checks_without_warnings():
    result, codes = check(BASE + ACCESS.replace("DEPENDENCY", "after BILLING_RFS.start in order") + DELETE)
    assert codes == [], render_text(result.diagnostics, result.sources)


def test_w010_a_product_that_can_be_added_and_never_changed_or_removed():
    result, codes = check(BASE + ACCESS.replace("DEPENDENCY", ""))
    assert codes == ["W001", "W010"]  # W001: nothing calls net.deactivate
    assert result.diagnostics[1].message == "`ACCESS_CFS` can be added, but has no plan to modify or delete it"
    # a modify plan alone, or an empty delete plan, says what a change needs
    assert check(BASE + ACCESS.replace("DEPENDENCY", "") + "plan ACCESS_CFS on modify { }\n")[1] == ["W001"]
    assert check(BASE + ACCESS.replace("DEPENDENCY", "") + "plan ACCESS_CFS on delete { }\n")[1] == ["W001"]


@pytest.mark.parametrize(
    "plan",
    [
        ACCESS.replace("DEPENDENCY", "after BILLING_RFS.start in bundle"),  # a bundle holds no order-scoped line
        "plan BILLING_RFS on modify {\n  callout again = net.bill(account_id) after every task in bundle\n}\n" + ACCESS.replace("DEPENDENCY", ""),  # an order-scoped line is in no bundle
        "plan BILLING_RFS on modify {\n  callout again = net.bill(account_id) after ACCESS_CFS.activate in bundle\n}\n" + ACCESS.replace("DEPENDENCY", ""),
    ],
)
def test_w011_a_bundle_dependency_that_can_never_match(plan):
    result, codes = check(BASE + plan + DELETE)
    assert codes == ["W011"], render_text(result.diagnostics, result.sources)
    assert "in order" in result.diagnostics[0].help[0]


def test_w011_lines_of_different_root_products_are_never_in_one_bundle():
    tv = (
        'commercial TV "TV" root { attr package: string = "basic" }\n'
        'technical IPTV_CFS "IPTV" cfs { attr package: string required }\n'
        "decompose D4: TV -> IPTV_CFS { package = package }\n"
        "plan IPTV_CFS on add { callout go = net.bill(account_id = package) after ACCESS_CFS.activate in bundle }\n"
        "plan IPTV_CFS on delete { }\n"
    )
    result, codes = check(BASE + ACCESS.replace("DEPENDENCY", "") + DELETE + tv)
    assert codes == ["W011"], render_text(result.diagnostics, result.sources)
    assert "`IPTV_CFS` lines come from `TV`, `ACCESS_CFS` lines from `INTERNET`" in result.diagnostics[0].notes[0]
    # a child product's lines are in its root's bundle
    extender = (
        'technical MESH_RFS "Mesh" rfs { attr model: string required }\n'
        "decompose D5: EXTENDER -> MESH_RFS { model = model }\n"
        "plan MESH_RFS on add { callout go = net.bill(account_id = model) after ACCESS_CFS.activate in bundle }\n"
        "plan MESH_RFS on delete { }\n"
    )
    assert check(BASE + ACCESS.replace("DEPENDENCY", "") + DELETE + extender)[1] == []


def test_w011_follows_lines_decomposed_from_order_scoped_lines():
    tax = (
        'technical TAX_RFS "Tax" rfs { attr account_id: string optional }\n'
        "decompose D3: BILLING_RFS -> TAX_RFS { account_id = account_id }\n"
        "plan TAX_RFS on add { callout tax = net.bill(account_id) }\n"
        "plan TAX_RFS on delete { }\n"
    )
    text = BASE + tax
    result, codes = check(text + ACCESS.replace("DEPENDENCY", "after TAX_RFS.tax in bundle") + DELETE)
    assert codes == ["W011"], render_text(result.diagnostics, result.sources)


def test_w012_a_parent_reads_what_its_children_are_enriched_with_later():
    enrich = "enrich EXTENDER { fee: int = if model == \"M1\" then 3 else 5 }\nenrich INTERNET { fees: int = sum(children(EXTENDER).fee) }\n"
    result, codes = check(BASE + ACCESS.replace("DEPENDENCY", "") + DELETE + enrich)
    assert codes == ["W012"], render_text(result.diagnostics, result.sources)
    # what the child was ordered with is there: no warning
    fine = "enrich INTERNET { m1: int = count(children(EXTENDER)) + count(children(EXTENDER).model) }\n"
    assert check(BASE + ACCESS.replace("DEPENDENCY", "") + DELETE + fine)[1] == []


def test_completeness_waits_until_the_catalog_has_no_error():
    _, codes = check(BASE + ACCESS.replace("DEPENDENCY", "after nowhere"))
    assert codes == ["W001", "E107"]  # no W010


# ---- syntax errors: did you mean, and the other files still checked --------------------------


@pytest.mark.parametrize(
    "line,word,keyword",
    [
        ("  callout again = net.activate(address_id) afterr activate\n", "afterr", "after"),  # the lexer took `after` + `r`
        ("  callout again = net.activate(address_id) compensat net.deactivate(address_id)\n", "compensat", "compensate"),
        ("  callout again = net.activate(address_id) whenn true\n", "whenn", "when"),
    ],
)
def test_a_misspelt_keyword_gets_a_did_you_mean(line, word, keyword):
    text = BASE + "plan ACCESS_CFS on add {\n  callout activate = net.activate(address_id)\n" + line + "}\n"
    result = check_texts({"c.om": text})
    (diagnostic,) = [d for d in result.diagnostics if d.code == "E001"]
    assert diagnostic.message == f"unexpected `{word}`" and diagnostic.help == (f"did you mean `{keyword}`?",)


def test_a_top_level_keyword_typo_and_no_false_hint_for_a_name():
    result = check_texts({"c.om": 'catalog c version "1"\ncomercial P "P" root { }\n'})
    assert result.diagnostics[0].help == ("did you mean `commercial`?",)
    result = check_texts({"c.om": 'catalog c version "1"\ncommercial P "P" root {\n  attr timeouts int\n}\n'})
    assert result.diagnostics[0].message == "unexpected `int`" and result.diagnostics[0].help == ()


def test_the_files_that_parse_are_checked_when_another_does_not():
    broken = 'catalog c\nplan ACCESS_CFS on modify {\n  callout x = net.activate(address_id) afterr y\n}\ntechnical EXTRA_RFS "Extra" rfs { attr a: int required }\n'
    wrong = BASE.replace("address_id = address_id }", 'address_id = 42 }') + ACCESS.replace("DEPENDENCY", "after nowhere") + DELETE
    result = check_texts({"a.om": wrong, "b.om": broken})
    found = sorted((d.code, d.primary.span.file) for d in result.diagnostics)
    # the syntax error, and the type error of the file that parses; not E107 (`nowhere` may be what the
    # broken declaration defined), no warning (EXTRA_RFS is unused only because nothing checked it yet)
    assert found == [("E001", "b.om"), ("E301", "a.om")], render_text(result.diagnostics, result.sources)


def test_a_catalog_of_one_broken_file_reports_the_syntax_error_alone():
    result = check_texts({"c.om": BASE + "plan ACCESS_CFS on add { callout a = net.activate(address_id) afterr b }\n"})
    assert [d.code for d in result.diagnostics] == ["E001"]


def test_a_misspelt_after_that_still_parses_gets_the_hint_on_its_unknown_task():
    """`afterr` at the end of an item is `after r`: valid syntax, so the unknown task `r` carries the hint."""
    text = BASE + "plan ACCESS_CFS on add {\n  callout activate = net.activate(address_id)\n  callout again = net.activate(address_id) afterr\n}\n" + DELETE
    (diagnostic,) = check_texts({"c.om": text}).errors
    assert diagnostic.code == "E107" and diagnostic.help == ("`afterr` reads as `after r`: did you mean `after`?",)
