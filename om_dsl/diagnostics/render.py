"""Render diagnostics the way rustc does, or as JSON for tools.

    error[E101]: unknown product `HOME_FIBRE`
     --> specs/acme/decomposition.om:7:15
      |
    7 | decompose D1: HOME_FIBRE -> FIBER_ACCESS_CFS {
      |               ^^^^^^^^^^ no product of that code
       |
       = help: did you mean `HOME_FIBER`?
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from om_dsl.diagnostics.diagnostic import Diagnostic, Label


def _escaped(text: str) -> str:
    """Text as the console shows it: control characters (a newline in a file
    name, an escape sequence in a string) as escapes, never as themselves."""
    return text if text.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _shown(line: str) -> str:
    """A source line: one column per character, so a control character is `�`."""
    return "".join(c if c.isprintable() else "\ufffd" for c in line.replace("\t", " "))


def _source_line(sources: Mapping[str, str], file: str, line: int) -> str | None:
    text = sources.get(file)
    if text is None:
        return None
    lines = text.split("\n")  # lines as the parser counts them (not str.splitlines, which also breaks at \f, \u2028, ...)
    if lines and lines[-1] == "":
        lines.pop()
    if 1 <= line <= len(lines):
        return _shown(lines[line - 1])
    return "" if line == len(lines) + 1 else None


def _underline(label: Label, line_text: str) -> tuple[int, int]:
    """Columns (0-based start, width) to underline on the label's first line."""
    span = label.span
    start = max(span.column - 1, 0)
    if span.end_line == span.line:
        width = span.end_column - span.column
    else:  # a multi-line span: underline to the end of its first line
        width = len(line_text.rstrip()) - start
    return start, max(width, 1)


def _render_one(diag: Diagnostic, sources: Mapping[str, str]) -> str:
    out = [f"{diag.severity.value}[{diag.code}]: {_escaped(diag.message)}"]
    primary = diag.primary
    # Group labels by file, the primary label's file first; lines in order.
    files: list[str] = [primary.span.file]
    for label in diag.labels:
        if label.span.file not in files:
            files.append(label.span.file)
    all_lines = [label.span.line for label in diag.labels]
    gutter = len(str(max(all_lines)))
    pad = " " * gutter
    for index, file in enumerate(files):
        labels = sorted((lb for lb in diag.labels if lb.span.file == file), key=lambda lb: (lb.span.line, lb.span.column, not lb.primary))
        anchor = primary if index == 0 else labels[0]
        arrow = "-->" if index == 0 else ":::"
        out.append(f"{pad}{arrow} {_escaped(file)}:{anchor.span.line}:{anchor.span.column}")
        out.append(f"{pad} |")
        shown_line = None
        for label in labels:
            text = _source_line(sources, file, label.span.line)
            if text is None:  # no text to show (an unreadable file): the label alone
                if label.message:
                    out.append(f"{pad} = {_escaped(label.message)}")
                continue
            if label.span.line != shown_line:
                if shown_line is not None and label.span.line == shown_line + 2:
                    between = _source_line(sources, file, shown_line + 1) or ""
                    out.append(f"{shown_line + 1:>{gutter}} | {between}".rstrip())
                elif shown_line is not None and label.span.line > shown_line + 2:
                    out.append("...")
                out.append(f"{label.span.line:>{gutter}} | {text}".rstrip())
                shown_line = label.span.line
            start, width = _underline(label, text)
            mark = ("^" if label.primary else "-") * width
            out.append(f"{pad} | {' ' * start}{mark} {_escaped(label.message)}".rstrip())
    if diag.help or diag.notes:
        out.append(f"{pad} |")
    for note in diag.notes:
        out.append(f"{pad} = note: {_escaped(note)}")
    for hint in diag.help:
        out.append(f"{pad} = help: {_escaped(hint)}")
    return "\n".join(out)


def render_text(diagnostics: Iterable[Diagnostic], sources: Mapping[str, str]) -> str:
    """All diagnostics, each followed by a blank line."""
    return "".join(_render_one(d, sources) + "\n\n" for d in diagnostics)


def summary_line(diagnostics: Iterable[Diagnostic]) -> str:
    diagnostics = list(diagnostics)
    errors = sum(d.is_error for d in diagnostics)
    warnings = len(diagnostics) - errors

    def plural(n: int, word: str) -> str:
        return f"{n} {word}{'' if n == 1 else 's'}"

    return f"{plural(errors, 'error')}, {plural(warnings, 'warning')}"


def _span_json(span) -> dict:
    return {
        "file": span.file,
        "line": span.line,
        "column": span.column,
        "end_line": span.end_line,
        "end_column": span.end_column,
    }


def to_json_data(diag: Diagnostic) -> dict:
    return {
        "severity": diag.severity.value,
        "code": diag.code,
        "message": diag.message,
        **_span_json(diag.primary.span),
        "labels": [{**_span_json(lb.span), "message": lb.message, "primary": lb.primary} for lb in diag.labels],
        "notes": list(diag.notes),
        "help": list(diag.help),
    }


def render_json(diagnostics: Iterable[Diagnostic], files_checked: int) -> str:
    diagnostics = list(diagnostics)
    errors = sum(d.is_error for d in diagnostics)
    data = {
        "version": 1,
        "diagnostics": [to_json_data(d) for d in diagnostics],
        "summary": {"files": files_checked, "errors": errors, "warnings": len(diagnostics) - errors},
    }
    return json.dumps(data, indent=2, sort_keys=False) + "\n"
