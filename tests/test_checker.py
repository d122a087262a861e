"""Checker behaviour that single-case UI tests do not show."""

from __future__ import annotations

from om_dsl.check import check_texts
from om_dsl.diagnostics.render import render_json, render_text

BASE = '''catalog c version "1"
commercial HOME "Home" root { attr speed: int in {100, 300} = 100  attr address: string required }
technical ACCESS "Access" cfs { attr down: int required  attr address: string required  attr port: string optional }
decompose d1: HOME -> ACCESS { down = speed  address = address }
system inventory {
  operation reserve(address: string) -> (port: string)
  operation activate(port: string, down: int)
}
'''


def codes(result):
    return [d.code for d in result.diagnostics]


def test_reports_every_error_not_only_the_first():
    plan = '''plan ACCESS on add {
  callout r = inventory.reserve(adress = address)
  callout a = inventory.activate(port = r.port, down = "fast")
  milestone m after nowhere
}
'''
    result = check_texts({"c.om": BASE + plan})
    assert sorted(codes(result)) == ["E107", "E301", "E502", "E503", "E505"]


def test_output_is_deterministic():
    text = BASE + "plan ACCESS on add { callout r = inventory.reserve(address) after x  milestone y after z }\n"
    first = check_texts({"c.om": text})
    second = check_texts({"c.om": text})
    assert render_text(first.diagnostics, first.sources) == render_text(second.diagnostics, second.sources)
    assert render_json(first.diagnostics, 1) == render_json(second.diagnostics, 1)


def test_definitions_from_a_used_library_are_visible_and_never_unused():
    library = 'library shared\nretry standard = staggered 10s, 60s\nretry spare = none\nqueue ops "Ops"\n'
    catalog = BASE.replace('catalog c version "1"\n', 'catalog c version "1"\nuse "../shared/lib.om"\ndefault retry standard\n')
    catalog += "plan ACCESS on add { callout r = inventory.reserve(address)  callout a = inventory.activate(port = r.port, down) after r  manual v queue ops after a }\nplan ACCESS on delete { }\n"
    result = check_texts({"specs/c/c.om": catalog, "specs/shared/lib.om": library})
    assert result.diagnostics == [], render_text(result.diagnostics, result.sources)
    assert result.catalog("c").retry_policies.keys() == {"standard", "spare"}


def test_a_catalog_spans_several_files_in_any_order():
    products, rest = BASE.split("decompose", 1)
    files = {
        "z.om": products,
        "a.om": 'catalog c\ndecompose' + rest + "plan ACCESS on add { callout r = inventory.reserve(address) callout a = inventory.activate(port = r.port, down) after r }\nplan ACCESS on delete { }\n",
    }
    result = check_texts(files)
    assert result.diagnostics == [], render_text(result.diagnostics, result.sources)


def test_syntax_errors_stop_the_catalog_but_not_the_file():
    text = BASE + 'plan ACCESS on add { callout r = }\nplan ACCESS on delete { milestone m after nowhere }\n'
    result = check_texts({"c.om": text})
    # The syntax error is reported; names are not resolved in a catalog that does not parse.
    assert codes(result) == ["E001"]


def test_modify_plans_may_use_changed():
    plan = "plan ACCESS on modify when changed(down) { callout a = inventory.activate(port, down) }\n"
    result = check_texts({"c.om": BASE + plan.replace("{ callout", "{ callout r = inventory.reserve(address) callout")})
    assert [d for d in result.errors] == [], render_text(result.diagnostics, result.sources)


def test_unknown_name_gets_did_you_mean():
    result = check_texts({"c.om": BASE + "plan ACCESS on add { callout r = inventory.reserve(adress) }\n"})
    e = next(d for d in result.diagnostics if d.code == "E102")
    assert e.help == ("did you mean `address`?",)


def test_validation_cannot_read_enriched_attributes():
    text = BASE + 'enrich HOME { fast: bool = speed >= 300 }\nvalidate HOME r { require fast message "too slow" }\n'
    result = check_texts({"c.om": text})
    e = next(d for d in result.diagnostics if d.code == "E102")
    assert "validation runs before enrichment" in e.message


def test_dependency_on_a_commercial_product_says_so():
    text = BASE + "plan ACCESS on add { milestone m after HOME.x in bundle }\n"
    result = check_texts({"c.om": text})
    assert "E506" in codes(result) and "E101" not in codes(result)


def test_a_byte_order_mark_is_not_an_error(write_spec):
    from om_dsl.check import check_paths

    path = write_spec('catalog c version "1"\n')
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert check_paths([str(path.name)]).diagnostics == []


def test_allowed_values_are_shown_as_written_even_with_quotes():
    # the checker had its own show_value that did not escape: `"a"b"`, not a string one could write
    spec = BASE.replace("attr address: string required }", 'attr address: string required  attr tier: string in {"a\\"b", "c"} = "c" }', 1)
    spec = spec.replace("{ down = speed  address = address }", '{ down = speed  address = address  port = map tier { "zz" -> "p1", "c" -> "p2" } }')
    result = check_texts({"c.om": spec})
    e302 = [d for d in result.diagnostics if d.code == "E302"]
    assert len(e302) == 1 and e302[0].help == ('`tier` is one of "a\\"b", "c"',)


# ---- reads across lines, failure classes, fallout ------------------------------------------------

LINES = '''catalog c version "1"
commercial PLAN "Plan" root { has EXTRA [0..2] }
commercial EXTRA "Extra" child {}
technical SIM "SIM" rfs { attr iccid: string optional  attr kind: string = "x" }
technical SUB "Subscription" cfs {}
technical ADDON "Add-on" rfs {}
technical ACCOUNT "Account" rfs {}
decompose d1: PLAN -> SIM {}
decompose d2: PLAN -> SUB {}
decompose d3: EXTRA -> ADDON {}
decompose d4: order -> ACCOUNT {}
system s {
  operation alloc() -> (iccid: string, slot: int)
  operation use(iccid: string, n: int)
}
plan SIM on add { callout alloc = s.alloc() sets iccid = alloc.iccid }
plan ADDON on add { callout alloc = s.alloc() }
'''


def lines_check(plan: str):
    return check_texts({"c.om": LINES + plan})


def test_a_read_across_lines_is_typed_proved_upstream_and_aggregated_when_several():
    ok = lines_check(
        """plan SUB on add {
  callout u = s.use(iccid = SIM.alloc.iccid in bundle, n = (SIM.alloc.slot in bundle) + count(ADDON.alloc.slot in bundle))
    after SIM.alloc in bundle, ADDON.alloc in bundle
  callout v = s.use(iccid = coalesce(SIM.iccid in bundle, "none"), n = count(SIM.kind in order))
    after u
}
plan ACCOUNT on add { callout w = s.use(iccid = first(SIM.alloc.iccid in order), n = sum(SIM.alloc.slot in order)) after SIM.alloc in order }
"""
    )
    assert ok.errors == [], render_text(ok.diagnostics, ok.sources)
    bad = lines_check(
        """plan SUB on add {
  callout u = s.use(iccid = SIM.alloc.slot in bundle, n = ADDON.alloc.slot in bundle)
    after SIM.alloc in bundle, ADDON.alloc in bundle
  callout v = s.use(iccid = SIM.iccid in bundle, n = count(SIM.alloc.slot in order))
    after SIM.alloc in bundle
}
plan ACCOUNT on add { callout w = s.use(iccid = first(SIM.alloc.iccid in bundle), n = 1) after SIM.alloc in order }
"""
    )
    # an int where a string goes; two add-ons may be in the bundle; the set attribute and the order
    # read need their task upstream `in order`; an order-scoped line is in no bundle
    assert sorted(codes(bad)) == ["E301", "E521", "E522", "E523"], render_text(bad.diagnostics, bad.sources)


def test_an_upstream_read_may_go_through_other_tasks_and_plans():
    result = lines_check(
        """plan ADDON on modify { milestone ready after SIM.alloc in bundle }
plan SUB on add {
  milestone gate after ADDON.ready in bundle
  callout u = s.use(iccid = SIM.alloc.iccid in bundle, n = 1) after gate
}
"""
    )
    assert result.errors == [], render_text(result.diagnostics, result.sources)


def test_failure_classes_and_fallout_are_checked():
    plan = """queue desk "Desk"
retry r = staggered 1s, 2s for timeout, unreachable, error, 5xx, 429 fatal 409, 4xx
plan SUB on add {
  callout u = s.use(iccid = "x", n = 1) retry r fallout desk
  callout v = s.use(iccid = "y", n = 2) retry fixed 2 times every 1s for 503 fallout desk
}
"""
    ok = lines_check(plan)
    assert ok.errors == [], render_text(ok.diagnostics, ok.sources)
    bad = lines_check(plan.replace("fatal 409, 4xx", "fatal 5xx, 200, timeot").replace("fallout desk\n  callout v", "fallout dsk\n  callout v") + "plan ACCOUNT on add { milestone m fallout desk }\n")
    assert sorted(codes(bad)) == ["E106", "E509", "E509", "E509", "E510"], render_text(bad.diagnostics, bad.sources)
