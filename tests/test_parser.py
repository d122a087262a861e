"""Parsing: AST shape, spans, equality without spans, error recovery."""

from om_dsl.syntax import ast, parse_source

SPEC = """catalog demo version "1"

commercial HOME "Home" root {
  attr speed: int in {100, 300} = 100
  attr since: date optional
  has ROUTER [0..2]
}
"""


def test_nodes_carry_their_span():
    result = parse_source(SPEC, "demo.om")
    assert result.ok
    product = result.module.declarations[0]
    assert isinstance(product, ast.CommercialProduct)
    assert (product.code.span.line, product.code.span.column) == (3, 12)
    assert product.code.span.end_column == 16
    speed = product.attributes[0]
    assert speed.default.value == 100
    assert (speed.default.span.line, speed.default.span.column) == (4, 35)
    assert product.children[0].min == 0 and product.children[0].max == 2


def test_spans_take_no_part_in_equality():
    moved = "\n\n# a comment\n" + SPEC.replace("  attr", "      attr")
    a = parse_source(SPEC, "a.om").module
    b = parse_source(moved, "b.om").module
    assert a == b
    assert hash(a) == hash(b)
    assert a.declarations[0].span != b.declarations[0].span


def test_keywords_are_names_where_no_keyword_is_expected():
    text = 'catalog c version "1"\ncommercial P "P" root { attr queue: int = 1 attr date: date optional attr version: string optional }\n'
    result = parse_source(text, "k.om")
    assert result.ok, result.diagnostics
    names = [a.name.value for a in result.module.declarations[0].attributes]
    assert names == ["queue", "date", "version"]


def test_literals():
    text = 'catalog c version "1"\ntable t: string -> decimal { "a\\"b": -1.5, "c": 2.25 }\n'
    table = parse_source(text, "t.om").module.declarations[0]
    assert table.entries[0].key.value == 'a"b'
    assert str(table.entries[0].value.value) == "-1.5"


def test_durations_are_milliseconds():
    text = 'catalog c version "1"\nretry r = staggered 10s, 5m, 1h, 2d\n'
    policy = parse_source(text, "r.om").module.declarations[0]
    assert [d.value for d in policy.spec.delays] == [10_000, 300_000, 3_600_000, 172_800_000]


def test_recovery_reports_every_broken_declaration():
    text = (
        'catalog c version "1"\n'
        'commercial A "A" root { attr x: int = }\n'
        'commercial B "B" root { attr y: int }\n'
        'table t: int -> int { 1: "x }\n'
        'commercial C "C" root { }\n'
    )
    result = parse_source(text, "r.om")
    codes = [d.code for d in result.diagnostics]
    assert codes == ["E001", "E002"]
    # The good declarations between and after the broken ones are kept.
    codes_parsed = [d.code.value for d in result.module.declarations]
    assert codes_parsed == ["B", "C"]
    assert result.diagnostics[0].primary.span.line == 2
    assert result.diagnostics[1].primary.span.line == 4


def test_unexpected_end_of_file():
    result = parse_source('catalog c version "1"\nsystem s {\n', "e.om")
    assert [d.code for d in result.diagnostics] == ["E003"]
    assert "missing" in result.diagnostics[0].help[0]


def test_a_missing_brace_is_one_error_at_the_next_declaration():
    text = 'catalog c version "1"\ncommercial A "A" root {\n  attr a: int = 1\n\ncommercial B "B" root { }\ntable t: int -> int { 1: 2 }\n'
    result = parse_source(text, "b.om")
    assert [d.code for d in result.diagnostics] == ["E001"]
    diag = result.diagnostics[0]
    assert diag.primary.span.line == 5
    # Only the tokens the parser would really accept, not LALR's merged lookaheads.
    assert diag.primary.message == "expected `attr`, `has`, `optional`, `required` or `}`"
    assert "is a `}` missing?" in diag.help[0]
    # The declarations after the broken one are kept.
    assert [type(d).__name__ for d in result.module.declarations] == ["CommercialProduct", "Table"]


def test_cardinality_forms():
    """`[1..*]` has no upper limit (regression: the `*` token was dropped, making it `[1]`)."""
    from om_dsl.syntax.parser import parse_source

    text = 'catalog x version "1"\ncommercial A "A" root {\n  has B [1..*]\n  has C [2]\n  has D [0..3]\n}\n'
    product = parse_source(text, "x.om").module.declarations[0]
    assert [(h.product.value, h.min, h.max) for h in product.children] == [("B", 1, None), ("C", 2, 2), ("D", 0, 3)]


def test_an_escaped_backslash_in_a_string():
    """`\\\\` is the backslash escape the language reference promises (regression: the grammar refused it)."""
    from om_dsl.syntax.parser import parse_source

    ok = parse_source('catalog x version "1"\ncommercial A "a\\\\b" root {\n}\n', "x.om")
    assert ok.ok and ok.module.declarations[0].display_name.value == "a\\b"
    assert not parse_source('catalog x version "1"\ncommercial A "a\\" root {\n}\n', "x.om").ok
