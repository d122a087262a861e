"""The grammar itself: LALR, conflict-free, no terminal collisions, one cached parser."""

from lark import Lark

from om_dsl.syntax.grammar import build_parser, get_parser, grammar_path


def test_grammar_builds_under_strict_mode():
    # strict=True raises on any shift/reduce or reduce/reduce conflict and on
    # regex collisions between terminals (detected with interegular).
    parser = build_parser(strict=True)
    assert isinstance(parser, Lark)
    assert parser.options.parser == "lalr"


def test_parser_factory_is_cached():
    assert get_parser() is get_parser()


def test_grammar_is_the_repository_file():
    # In a checkout and in an editable install the grammar is grammar/om.lark;
    # a wheel carries a copy inside the package (pyproject force-include).
    path = grammar_path()
    assert path.name == "om.lark"
    assert "start:" in path.read_text()
