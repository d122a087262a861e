"""The AST built during the parse (om_dsl/syntax/inline.py) is the tree walk's,
spans and number diagnostics included; what it cannot take (a syntax error,
a deep expression) goes the usual way."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lark import Lark
from lark.exceptions import UnexpectedInput
from test_fuzz import TOKENS

from om_dsl.syntax import ast, inline, parse_source
from om_dsl.syntax.grammar import get_parser, tables
from om_dsl.syntax.inline import parse_inline
from om_dsl.syntax.transformer import SpanTransformer

from support.mutations import BASIC, LAYOUT, mutate

ROOT = Path(__file__).resolve().parents[1]
FILES = {p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8", errors="replace") for d in ("specs", "examples", "tests/ui", "docs") for p in sorted((ROOT / d).rglob("*.om"))}
SPECS = {name: text for name, text in FILES.items() if name.startswith("specs/")}


def walked(text: str, file: str):
    """The usual way: Lark's parse tree, then SpanTransformer over it."""
    transformer = SpanTransformer(file)
    return transformer.transform(get_parser().parse(text)), transformer.diagnostics


def built(text: str, file: str):
    transformer = SpanTransformer(file)
    return parse_inline(get_parser(), text, transformer), transformer.diagnostics


def assert_same(text: str, file: str) -> bool:
    """Both ways give the same module, spans included (a pickle holds every field); False on a syntax error."""
    try:
        module, diagnostics = built(text, file)
    except UnexpectedInput:
        with pytest.raises(UnexpectedInput):
            get_parser().parse(text)
        return False
    expected, expected_diagnostics = walked(text, file)
    assert pickle.dumps(module) == pickle.dumps(expected)
    assert diagnostics == expected_diagnostics
    return True


def test_every_file_of_the_repository_builds_as_the_tree_walk_does():
    parsed = [name for name, text in FILES.items() if "E006" not in name and assert_same(text, name)]
    assert len(parsed) > 20 and any(n.startswith("specs/") for n in parsed)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(SPECS)), st.lists(st.tuples(st.sampled_from(BASIC + LAYOUT), st.integers(0, 10**6), st.integers(0, 40), st.sampled_from(TOKENS)), min_size=1, max_size=3))
def test_mutated_specs_build_as_the_tree_walk_does(name, mutations):
    assert_same(mutate(SPECS[name], mutations), name)


def test_a_parenthesised_expression_widens_its_parent_not_itself():
    text = "catalog c\nenrich P {\n  a: int = (x + 1) * 2\n  b: int = -((y))\n}\n"
    module, _ = built(text, "p.om")
    assert pickle.dumps(module) == pickle.dumps(walked(text, "p.om")[0])
    product = module.declarations[0].rules[0].expr
    assert isinstance(product, ast.Binary) and product.op == "*"
    assert text[product.span.start : product.span.end] == "(x + 1) * 2"
    assert text[product.left.span.start : product.left.span.end] == "x + 1"
    negated = module.declarations[0].rules[1].expr
    assert text[negated.span.start : negated.span.end] == "-((y))"


def test_numbers_too_long_are_reported_as_they_are_built():
    text = 'catalog c\ncommercial P "P" root {\n  attr n: int = ' + "9" * 60 + "\n  attr w: duration = 99999999d\n}\n"
    module, diagnostics = built(text, "n.om")
    assert [d.code for d in diagnostics] == ["E007", "E007"]
    assert_same(text, "n.om")
    assert module.declarations[0].attributes[0].default.value == 0


def test_an_empty_file_is_a_module_with_the_empty_span():
    module, _ = built("", "e.om")
    assert module == ast.Module(None, ())
    assert (module.span.line, module.span.column, module.span.start, module.span.end) == (1, 1, 0, 0)
    assert_same("# only a comment\n", "c.om")


def test_parse_source_does_not_walk_a_tree(monkeypatch):
    def walk(self, tree):
        raise AssertionError("the parse tree was walked")

    monkeypatch.setattr(SpanTransformer, "transform", walk)
    for name, text in SPECS.items():
        assert parse_source(text, name).ok, name


def test_a_deep_expression_is_read_the_usual_way():
    terms = inline.MAX_DEPTH + 50  # deeper than the inline build goes; well within the tree walk's reach
    text = "catalog c\nenrich P {\n  a: int = " + " + ".join(["1"] * terms) + "\n}\n"
    with pytest.raises(inline.TooDeep):
        built(text, "d.om")
    result = parse_source(text, "d.om")
    assert result.ok
    assert pickle.dumps(result.module) == pickle.dumps(walked(text, "d.om")[0])


def test_a_syntax_error_is_recovered_from_as_before():
    text = 'catalog c\ncommercial P "P" root {\n  attr a int\n}\ncommercial Q "Q" root {\n  attr b: int\n}\n'
    with pytest.raises(UnexpectedInput):
        built(text, "s.om")
    result = parse_source(text, "s.om")
    assert [d.code for d in result.diagnostics] == ["E001"]
    assert [d.code.value for d in result.module.declarations] == ["Q"]


def test_the_parser_made_from_saved_tables_builds_inline_too():
    import io

    loaded = Lark.load(io.BytesIO(tables(get_parser())))
    text = SPECS[sorted(SPECS)[0]]
    transformer = SpanTransformer("t.om")
    module = parse_inline(loaded, text, transformer)
    assert module is not None
    assert pickle.dumps(module) == pickle.dumps(walked(text, "t.om")[0])
