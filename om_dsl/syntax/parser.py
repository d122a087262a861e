"""Parse one .om file into a Module, turning Lark's errors into diagnostics.

A syntax error does not stop the file: the declaration that holds it is
blanked out (replaced by spaces, so every other span stays exact) and the
rest is parsed again, so that one run reports every broken declaration.
"""

from __future__ import annotations

import re

import attrs
from lark import Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError
from lark.lexer import PatternStr

from om_dsl.diagnostics.diagnostic import Diagnostic, error
from om_dsl.span import Span
from om_dsl.suggest import closest
from om_dsl.syntax import ast
from om_dsl.syntax.grammar import get_parser
from om_dsl.syntax.inline import parse_inline
from om_dsl.syntax.transformer import SpanTransformer

MAX_SYNTAX_ERRORS_PER_FILE = 20

# Top-level declarations start at the beginning of a line; recovery resumes there.
_DECLARATION_START = re.compile(
    r"^(catalog|library|use|default|commercial|technical|table|validate|enrich|decompose|retry|system|queue|plan|tasks)\b",
    re.MULTILINE,
)

_TOKEN_NAMES = {
    "NAME": "a name",
    "STRING": "a string",
    "INT": "an integer",
    "DECIMAL": "a decimal number",
    "DATE": "a date",
    "DURATION": "a duration (like 10s or 3d)",
    "$END": "the end of the file",
}


@attrs.frozen
class ParseResult:
    module: ast.Module
    diagnostics: tuple[Diagnostic, ...]

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)


def _describe_terminal(name: str) -> str:
    if name in _TOKEN_NAMES:
        return _TOKEN_NAMES[name]
    for term in get_parser().terminals:
        if term.name == name and isinstance(term.pattern, PatternStr):
            return f"`{term.pattern.value}`"
    return name.lower()


def _expected(names) -> str:
    described = sorted({_describe_terminal(n) for n in names}, key=lambda s: (not s.startswith("`"), s))
    if len(described) > 12:
        described = described[:12] + [f"{len(described) - 12} more"]
    if len(described) == 1:
        return described[0]
    return ", ".join(described[:-1]) + " or " + described[-1]


def _acceptable(exc: UnexpectedToken) -> set[str]:
    """The tokens the parser would really accept here.

    LALR merges the lookaheads of similar states, so `exc.expected` can list
    tokens that would fail one step later; asking the parser is exact.
    """
    try:
        accepted = exc.interactive_parser.accepts()
    except Exception:  # noqa: BLE001 - fall back to the table's (wider) set
        return set(exc.expected)
    return accepted or set(exc.expected)


def _keyword_typo(word: str, acceptable: set[str]) -> str | None:
    """The keyword the parser would accept here that WORD is a slip of (`afterr` -> `after`)."""
    keywords = []
    for term in get_parser().terminals:
        if term.name in acceptable and isinstance(term.pattern, PatternStr) and term.pattern.value.isidentifier():
            keywords.append(term.pattern.value)
    return closest(word, keywords)


_WORD_BEFORE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)[ \t]*\Z")


def _glued_keyword(text: str, exc: UnexpectedInput) -> tuple[int, str, str] | None:
    """A misspelt keyword the lexer read as the keyword and a name (`afterr x`:
    `after` `r`, then `x` is unexpected). Where only keywords may come, the
    lexer matches a keyword's letters without looking at what follows; the
    error then comes a word later. (start, word, keyword) when the word just
    before the error starts with a keyword it is a slip of."""
    if not isinstance(exc, UnexpectedToken) or exc.interactive_parser is None:
        return None
    pos = exc.token.start_pos if exc.token.type != "$END" else len(text)
    line_start = text.rfind("\n", 0, pos) + 1
    m = _WORD_BEFORE.search(text, line_start, pos)
    if m is None:
        return None
    word = m.group(1)
    keywords = [t.pattern.value for t in get_parser().terminals if isinstance(t.pattern, PatternStr) and t.pattern.value.isidentifier()]
    if word in keywords:
        return None
    prefix = next((k for k in sorted(keywords, key=len, reverse=True) if word.startswith(k)), None)
    if prefix is None or closest(word, keywords) != prefix:
        return None
    # Only when the parser did take the word apart: a token of it ends inside it.
    split = m.start(1) + len(prefix)
    if not any(getattr(t, "end_pos", None) == split for t in _tokens(exc.interactive_parser.parser_state.value_stack)):
        return None
    return m.start(1), word, prefix


def _tokens(values):
    for v in values:
        if isinstance(v, Token):
            yield v
        elif isinstance(v, Tree):
            yield from _tokens(v.children)


def _starts_declaration(text: str, pos: int) -> bool:
    return bool(_DECLARATION_START.match(text, pos)) and (pos == 0 or text[pos - 1] == "\n")


def _point(file: str, text: str, pos: int, length: int = 1) -> Span:
    pos = max(0, min(pos, len(text)))
    line = text.count("\n", 0, pos) + 1
    column = pos - (text.rfind("\n", 0, pos) + 1) + 1
    end = min(pos + length, len(text))
    if "\n" in text[pos:end]:
        end = text.index("\n", pos)
    length = max(end - pos, 1) if pos < len(text) else 1
    return Span(file, line, column, line, column + length, pos, pos + length)


def _syntax_diagnostic(file: str, text: str, exc: UnexpectedInput) -> tuple[Diagnostic, int]:
    """The diagnostic for one Lark error, and the offset where it happened."""
    if isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream
        char = text[pos]
        if char == '"':
            return (
                error(
                    "E002",
                    "unterminated string",
                    _point(file, text, pos, len(text[pos:].split("\n", 1)[0])),
                    "this string has no closing `\"` on its line",
                    help='close the string with `"`; a string cannot span lines (write `\\n` for a line break)',
                ),
                pos,
            )
        shown = char if char.isprintable() and not char.isspace() else repr(char)
        return (
            error(
                "E002",
                f"unexpected character `{shown}`",
                _point(file, text, pos),
                "not part of the .om language here",
                help=f"expected {_expected(exc.allowed)}" if exc.allowed else (),
            ),
            pos,
        )
    glued = _glued_keyword(text, exc)
    if glued is not None:
        start, word, keyword = glued
        return (
            error("E001", f"unexpected `{word}`", _point(file, text, start, len(word)), "not a word of the .om language", help=f"did you mean `{keyword}`?"),
            start,
        )
    if isinstance(exc, UnexpectedToken) and exc.token.type != "$END":
        tok = exc.token
        pos = tok.start_pos
        acceptable = _acceptable(exc)
        typo = _keyword_typo(str(tok), acceptable) if tok.type == "NAME" else None
        if tok.type in ("CATALOG", "LIBRARY"):
            hint = f"`{tok} NAME` must be the first line of the file (comments aside)"
        elif typo:
            hint = f"did you mean `{typo}`?"
        elif _starts_declaration(text, pos) and pos > 0:
            hint = "the declaration above is not finished: is a `}` missing?"
        else:
            hint = ()
        return (
            error(
                "E001",
                f"unexpected `{tok}`",
                _point(file, text, pos, len(str(tok))),
                f"expected {_expected(acceptable)}",
                help=hint,
            ),
            pos,
        )
    # The end of the file came too soon.
    expected = _acceptable(exc) if isinstance(exc, UnexpectedToken) else (getattr(exc, "expected", None) or ())
    stripped = text.rstrip()
    pos = max(len(stripped) - 1, 0)
    return (
        error(
            "E003",
            "unexpected end of file",
            _point(file, text, pos),
            f"the file ends here, but {_expected(expected)} was expected" if expected else "the file ends here",
            help="is a `}` or a closing `)` missing?" if ("RBRACE" in expected or "RPAR" in expected) else (),
        ),
        len(text),
    )


def _too_deep(file: str, text: str) -> Diagnostic:
    return error(
        "E006",
        "this file nests expressions too deeply to be read",
        _point(file, text, 0),
        "an expression in this file is nested hundreds of levels deep",
        help="split the expression: derive parts of it as enriched attributes, or use a lookup table",
    )


def _blank(text: str, start: int, end: int) -> str:
    region = "".join(ch if ch == "\n" else " " for ch in text[start:end])
    return text[:start] + region + text[end:]


def _declaration_bounds(text: str, pos: int) -> tuple[int, int]:
    """The top-level declaration to blank out after an error at `pos`."""
    starts = [m.start() for m in _DECLARATION_START.finditer(text)]
    if pos in starts and starts.index(pos) > 0:
        # The error is at the start of a declaration: the one above is unfinished.
        return starts[starts.index(pos) - 1], pos
    before = [s for s in starts if s <= pos]
    after = [s for s in starts if s > pos]
    start = before[-1] if before else 0
    end = after[0] if after else len(text)
    return start, end


def parse_source(text: str, file: str) -> ParseResult:
    """Parse a .om file's text; `file` is the path shown in diagnostics."""
    parser = get_parser()
    transformer = SpanTransformer(file)
    try:
        module = parse_inline(parser, text, transformer)
    except Exception:  # noqa: BLE001 - a syntax error, a deep expression (or a bug): the tree walk below says which
        module = None
    if module is not None:
        return ParseResult(module, tuple(transformer.diagnostics))
    # The parse tree, then the AST; after a syntax error, the declaration blanked out and the rest parsed again.
    diagnostics: list[Diagnostic] = []
    current = text
    while True:
        transformer = SpanTransformer(file)
        try:
            tree = parser.parse(current)
            module = transformer.transform(tree)
            diagnostics.extend(transformer.diagnostics)
            break
        except (UnexpectedCharacters, UnexpectedToken, UnexpectedEOF) as exc:
            diag, pos = _syntax_diagnostic(file, text, exc)
            diagnostics.append(diag)
            start, end = _declaration_bounds(current, min(pos, len(current) - 1) if current else 0)
            blanked = _blank(current, start, end)
            if blanked == current or len(diagnostics) >= MAX_SYNTAX_ERRORS_PER_FILE:
                module = ast.Module(None, (), span=_point(file, text, 0))
                break
            current = blanked
        except RecursionError:
            diagnostics.append(_too_deep(file, text))
            module = ast.Module(None, (), span=_point(file, text, 0))
            break
        except VisitError as exc:  # a bug of ours, never the user's: say so plainly
            if isinstance(exc.orig_exc, RecursionError):
                diagnostics.append(_too_deep(file, text))
                module = ast.Module(None, (), span=_point(file, text, 0))
                break
            raise RuntimeError(f"internal error while building the syntax tree of {file}: {exc.orig_exc!r}") from exc
    return ParseResult(module, tuple(diagnostics))
