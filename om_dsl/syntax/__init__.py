"""Syntax: the grammar, the parser, and the AST it builds (every node with its span)."""

from om_dsl.syntax.parser import ParseResult, parse_source

__all__ = ["ParseResult", "parse_source"]
