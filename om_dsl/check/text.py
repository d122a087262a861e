"""Versions, display names and `use` paths are one line of plain text.

They end up in generated code, in the store, on the console and in HTTP
answers: a newline or an escape sequence in them could forge a line of any
of these. Messages and string values may hold `\\n` and `\\t` on purpose;
these may not.
"""

from __future__ import annotations

from om_dsl.diagnostics.diagnostic import Diagnostic, error
from om_dsl.limits import InputLimit, check_id
from om_dsl.syntax import ast


def _plain_texts(module: ast.Module):
    """(what, literal) for every string of the file that must be plain text."""
    header = module.header
    if isinstance(header, ast.CatalogHeader) and header.version is not None:
        yield "the catalog's version", header.version
    for decl in module.declarations:
        if isinstance(decl, ast.Use):
            yield "a `use` path", decl.path
        elif isinstance(decl, (ast.CommercialProduct, ast.TechnicalProduct)):
            yield f"the display name of `{decl.code.value}`", decl.display_name
        elif isinstance(decl, (ast.System, ast.Queue)):
            yield f"the display name of `{decl.name.value}`", decl.display_name
        elif isinstance(decl, ast.Plan):
            for item in decl.items:
                yield f"the description of `{item.name.value}`", item.description


def check_plain_text(files, diagnostics: list[Diagnostic]) -> None:
    for source in files:
        diagnostics.extend(source.parsed.plain_text)  # found when the file was parsed (and cached with it)


def check_plain_text_of(module: ast.Module, diagnostics: list[Diagnostic]) -> None:
    for what, literal in _plain_texts(module):
        if literal is None:
            continue
        try:
            check_id(str(literal.value), what)
        except InputLimit as exc:
            diagnostics.append(
                error(
                    "E013",
                    f"{exc.reason}",
                    literal.span,
                    "must be one line of plain text",
                    help="remove the `\\n`, `\\t` and other control characters (or shorten it)",
                )
            )
