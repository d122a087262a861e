"""The one cached Lark parser for .om files.

The grammar's home is `grammar/om.lark` at the top of the repository; the
wheel carries a copy at `om_dsl/syntax/om.lark` (see pyproject.toml). A
source checkout or an editable install reads the repository's file.
"""

from __future__ import annotations

import io
from pathlib import Path

import lark
from lark import Lark

LARK_VERSION = lark.__version__  # part of the key of the saved tables: another Lark may read them otherwise

_PACKAGED = Path(__file__).with_name("om.lark")
_REPOSITORY = Path(__file__).resolve().parents[2] / "grammar" / "om.lark"


def grammar_path() -> Path:
    for candidate in (_PACKAGED, _REPOSITORY):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("om.lark is neither in the package nor in the repository's grammar/ folder")


def grammar_text() -> str:
    return grammar_path().read_text(encoding="utf-8")


def build_parser(*, strict: bool = False) -> Lark:
    """A fresh LALR parser. `strict` also rejects conflicts and terminal collisions."""
    return Lark(
        grammar_text(),
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        maybe_placeholders=False,
        strict=strict,
    )


_parser: Lark | None = None


def get_parser() -> Lark:
    """The parser every parse uses: built on first use, or made from tables (use_tables)."""
    global _parser
    if _parser is None:
        _parser = build_parser()
    return _parser


def parser_made() -> bool:
    return _parser is not None


def tables(parser: Lark) -> bytes:
    """A parser's tables, as Lark saves them: a pickle of plain dicts, lists and strings."""
    out = io.BytesIO()
    parser.save(out)
    return out.getvalue()


def use_tables(data: dict) -> None:
    """Make the parser from the tables of one built from this grammar (tables(),
    unpickled): Lark skips reading the grammar, the LALR analysis and the
    terminal collision checks (the compile cache keeps them: a fresh `om
    compile` would spend 0.3 s to 1 s on them)."""
    global _parser
    parser = Lark.load(data)
    if parser.options.parser != "lalr" or not parser.options.propagate_positions:
        raise ValueError("not tables of om's parser")
    _parser = parser
