"""The one cached Lark parser for .om files.

The grammar's home is `grammar/om.lark` at the top of the repository; the
wheel carries a copy at `om_dsl/syntax/om.lark` (see pyproject.toml). A
source checkout or an editable install reads the repository's file.
"""

from __future__ import annotations

import functools
from pathlib import Path

from lark import Lark

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


@functools.lru_cache(maxsize=1)
def get_parser() -> Lark:
    return build_parser()
