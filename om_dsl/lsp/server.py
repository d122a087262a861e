"""The language server: pygls over stdio, on top of `om_dsl.lsp.analysis`."""

from __future__ import annotations

import re
from pathlib import Path

from lsprotocol import types as T
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from om_dsl import __version__
from om_dsl.check.cache import open_cache
from om_dsl.diagnostics.codes import explanation
from om_dsl.lsp import analysis
from om_dsl.span import Span
from om_dsl.syntax import parse_source

SYMBOL_KINDS = {
    "product": T.SymbolKind.Class,
    "attribute": T.SymbolKind.Field,
    "system": T.SymbolKind.Module,
    "operation": T.SymbolKind.Method,
    "plan": T.SymbolKind.Namespace,
    "task": T.SymbolKind.Event,
    "enrich": T.SymbolKind.Namespace,
    "validation": T.SymbolKind.Boolean,
    "decomposition": T.SymbolKind.Function,
    "table": T.SymbolKind.Struct,
    "retry": T.SymbolKind.Constant,
    "queue": T.SymbolKind.EnumMember,
}
COMPLETION_KINDS = {
    "product": T.CompletionItemKind.Class,
    "attribute": T.CompletionItemKind.Field,
    "system": T.CompletionItemKind.Module,
    "operation": T.CompletionItemKind.Method,
    "task": T.CompletionItemKind.Event,
    "queue": T.CompletionItemKind.EnumMember,
    "retry": T.CompletionItemKind.Constant,
    "table": T.CompletionItemKind.Struct,
    "keyword": T.CompletionItemKind.Keyword,
    "type": T.CompletionItemKind.TypeParameter,
}


def to_range(span: Span) -> T.Range:
    return T.Range(T.Position(span.line - 1, span.column - 1), T.Position(span.end_line - 1, span.end_column - 1))


def to_location(span: Span) -> T.Location:
    return T.Location(from_fs_path(span.file), to_range(span))


class OmServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("om-lsp", __version__)
        self.index: analysis.Index | None = None
        self.published: set[str] = set()
        self._cache = None  # `om compile`'s: a file parsed by either is parsed once

    @property
    def cache(self):
        if self._cache is None:
            self._cache = open_cache() or False  # False: none to be had, do not ask again
        return self._cache or None
        self.diagnostics: dict[str, list] = {}

    # The workspace folder: files under it are checked together.
    def root(self, path: str | None = None) -> Path | None:
        folders = [Path(to_fs_path(f.uri)) for f in self.workspace.folders.values()]
        if not folders and self.workspace.root_path:
            folders = [Path(self.workspace.root_path)]
        if path is not None:
            for folder in folders:
                if Path(path).is_relative_to(folder):
                    return folder
            return Path(path).parent
        return folders[0] if folders else None

    def overlays(self) -> dict[str, str]:
        return {to_fs_path(uri): doc.source for uri, doc in self.workspace.text_documents.items() if uri.endswith(".om")}

    def refresh(self, uri: str) -> None:
        path = to_fs_path(uri)
        result = analysis.check_workspace(self.root(path), self.overlays(), self.cache)
        by_file: dict[str, list[T.Diagnostic]] = {f.path: [] for f in result.workspace.files}
        self.diagnostics = {}
        for d in result.diagnostics:
            label = d.primary
            message = d.message + (f" ({label.message})" if label.message else "")
            for h in d.help:
                message += f"\nhelp: {h}"
            for n in d.notes:
                message += f"\nnote: {n}"
            related = [
                T.DiagnosticRelatedInformation(to_location(lb.span), lb.message or "here")
                for lb in d.labels
                if not lb.primary and lb.span.file.startswith("/")
            ]
            diag = T.Diagnostic(
                range=to_range(label.span),
                message=message,
                severity=T.DiagnosticSeverity.Error if d.is_error else T.DiagnosticSeverity.Warning,
                code=d.code,
                source="om",
                related_information=related or None,
            )
            by_file.setdefault(label.span.file, []).append(diag)
            self.diagnostics.setdefault(label.span.file, []).append(diag)
        for stale in self.published - set(by_file):
            by_file[stale] = []
        for file, diags in by_file.items():
            self.text_document_publish_diagnostics(T.PublishDiagnosticsParams(uri=from_fs_path(file), diagnostics=diags))
        self.published = {f for f, ds in by_file.items() if ds}
        # Keep the last index whose catalog parsed, for navigation while a file is broken.
        if self.index is None or all(u.syntax_ok for u in result.workspace.units):
            self.index = analysis.Index(result)

    def ensure_index(self, uri: str) -> analysis.Index:
        if self.index is None:
            self.refresh(uri)
        return self.index


server = OmServer()


@server.feature(T.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: OmServer, params: T.DidOpenTextDocumentParams) -> None:
    ls.refresh(params.text_document.uri)


@server.feature(T.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: OmServer, params: T.DidChangeTextDocumentParams) -> None:
    ls.refresh(params.text_document.uri)


@server.feature(T.TEXT_DOCUMENT_DID_SAVE)
def did_save(ls: OmServer, params: T.DidSaveTextDocumentParams) -> None:
    ls.refresh(params.text_document.uri)


@server.feature(T.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: OmServer, params: T.DidCloseTextDocumentParams) -> None:
    ls.refresh(params.text_document.uri)


def _occurrence(ls: OmServer, uri: str, pos: T.Position):
    index = ls.ensure_index(uri)
    return index, index.at(to_fs_path(uri), pos.line + 1, pos.character + 1)


@server.feature(T.TEXT_DOCUMENT_DEFINITION)
def definition(ls: OmServer, params: T.DefinitionParams):
    index, occ = _occurrence(ls, params.text_document.uri, params.position)
    if occ is None:
        return None
    return [to_location(span) for span, _ in index.definitions(occ.key)] or None


@server.feature(T.TEXT_DOCUMENT_REFERENCES)
def references(ls: OmServer, params: T.ReferenceParams):
    index, occ = _occurrence(ls, params.text_document.uri, params.position)
    if occ is None:
        return None
    return [to_location(span) for span in index.references(occ.key, params.context.include_declaration)]


def _word_at(text: str, pos: T.Position) -> str:
    lines = text.split("\n")
    if pos.line >= len(lines):
        return ""
    line = lines[pos.line]
    for m in re.finditer(r"[A-Za-z0-9_]+", line):
        if m.start() <= pos.character <= m.end():
            return m.group()
    return ""


@server.feature(T.TEXT_DOCUMENT_HOVER)
def hover(ls: OmServer, params: T.HoverParams):
    uri = params.text_document.uri
    index, occ = _occurrence(ls, uri, params.position)
    parts = []
    if occ is not None:
        text = index.hover(occ.key)
        if text:
            parts.append(text)
    word = _word_at(ls.workspace.get_text_document(uri).source, params.position)
    if re.fullmatch(r"[EWew]\d{3}", word) and explanation(word):
        parts.append(explanation(word))
    line, col = params.position.line + 1, params.position.character + 1
    for d in ls.diagnostics.get(to_fs_path(uri), []):
        r = d.range
        if (r.start.line, r.start.character) <= (line - 1, col - 1) <= (r.end.line, r.end.character):
            text = explanation(str(d.code))
            if text and text not in parts:
                parts.append(text)
    if not parts:
        return None
    return T.Hover(contents=T.MarkupContent(kind=T.MarkupKind.Markdown, value="\n\n---\n\n".join(parts)))


@server.feature(T.TEXT_DOCUMENT_COMPLETION, T.CompletionOptions(trigger_characters=["."]))
def completion(ls: OmServer, params: T.CompletionParams):
    uri = params.text_document.uri
    index = ls.ensure_index(uri)
    text = ls.workspace.get_text_document(uri).source
    found = analysis.completions(index, to_fs_path(uri), text, params.position.line + 1, params.position.character + 1)
    return T.CompletionList(
        is_incomplete=False,
        items=[T.CompletionItem(label=label, kind=COMPLETION_KINDS.get(kind), detail=detail) for label, kind, detail in found],
    )


def _symbol(entry) -> T.DocumentSymbol:
    name, kind, span, sel, kids = entry
    return T.DocumentSymbol(
        name=name,
        kind=SYMBOL_KINDS.get(kind, T.SymbolKind.Object),
        range=to_range(span),
        selection_range=to_range(sel),
        detail=kind,
        children=[_symbol(k) for k in kids] or None,
    )


@server.feature(T.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
def document_symbol(ls: OmServer, params: T.DocumentSymbolParams):
    uri = params.text_document.uri
    doc = ls.workspace.get_text_document(uri)
    module = parse_source(doc.source.replace("\r\n", "\n"), to_fs_path(uri)).module
    return [_symbol(e) for e in analysis.document_symbols(module)]


@server.feature(T.TEXT_DOCUMENT_FORMATTING)
def formatting(ls: OmServer, params: T.DocumentFormattingParams):
    from om_dsl.format import FormatError, format_source

    uri = params.text_document.uri
    text = ls.workspace.get_text_document(uri).source
    try:
        formatted = format_source(text, to_fs_path(uri))
    except FormatError:
        return None  # a file that does not parse is left alone; its diagnostics say why
    if formatted == text:
        return []
    lines = text.split("\n")
    end = T.Position(len(lines) - 1, len(lines[-1]))
    return [T.TextEdit(range=T.Range(T.Position(0, 0), end), new_text=formatted)]


def main() -> None:
    server.start_io()
