"""`om fmt`: the canonical layout of .om files, comments included.

    from om_dsl.format import format_source
    text = format_source(source)          # raises FormatError on syntax errors

Formatting is idempotent (`format_source(format_source(x)) == format_source(x)`),
keeps the meaning (the formatted file parses to an equal syntax tree; trees
ignore spans) and keeps every comment next to the construct it was next to.
See docs/fmt.md.
"""

from __future__ import annotations

from om_dsl.diagnostics.diagnostic import Diagnostic
from om_dsl.format.layout import Printer, attach_comments, render
from om_dsl.format.scanner import scan
from om_dsl.syntax import ast, parse_source

__all__ = ["FormatError", "format_module", "format_source"]


class FormatError(Exception):
    """The source does not parse: it is not formatted. `diagnostics` says why."""

    def __init__(self, diagnostics: tuple[Diagnostic, ...]):
        super().__init__(f"{len(diagnostics)} syntax error{'s' if len(diagnostics) != 1 else ''}")
        self.diagnostics = diagnostics


def format_module(module: ast.Module, text: str) -> str:
    """The canonical text of `module`, parsed from `text` (whose comments it keeps)."""
    scanned = scan(text)
    lines = Printer(module, scanned).module_lines()
    attach_comments(lines, scanned)
    return render(lines, scanned)


def format_source(text: str, file: str = "<string>") -> str:
    """The canonical text of one .om file. Raises FormatError when it does not parse."""
    text = text.replace("\r\n", "\n")
    result = parse_source(text, file)
    if not result.ok:
        raise FormatError(tuple(d for d in result.diagnostics if d.is_error))
    return format_module(result.module, text)
