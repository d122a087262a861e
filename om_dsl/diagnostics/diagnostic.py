"""The diagnostic record: a code, a message, labelled spans, help and notes."""

from __future__ import annotations

import enum

import attrs

from om_dsl.span import Span


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@attrs.frozen
class Label:
    """A span with a short message. The primary label marks where the problem is."""

    span: Span
    message: str = ""
    primary: bool = True


@attrs.frozen
class Diagnostic:
    severity: Severity
    code: str
    message: str
    labels: tuple[Label, ...]
    help: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def primary(self) -> Label:
        return next((label for label in self.labels if label.primary), self.labels[0])

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def sort_key(self) -> tuple:
        span = self.primary.span
        return (span.file, span.start, span.end, self.code, self.message)


def _build(severity: Severity, code: str, message: str, span: Span, label: str, *, secondary, help, notes) -> Diagnostic:
    labels = [Label(span, label, True)]
    labels += [Label(s, m, False) for s, m in secondary]
    if isinstance(help, str):
        help = (help,)
    if isinstance(notes, str):
        notes = (notes,)
    return Diagnostic(severity, code, message, tuple(labels), tuple(h for h in help if h), tuple(n for n in notes if n))


def error(code: str, message: str, span: Span, label: str = "", *, secondary=(), help=(), notes=()) -> Diagnostic:
    return _build(Severity.ERROR, code, message, span, label, secondary=secondary, help=help, notes=notes)


def warning(code: str, message: str, span: Span, label: str = "", *, secondary=(), help=(), notes=()) -> Diagnostic:
    return _build(Severity.WARNING, code, message, span, label, secondary=secondary, help=help, notes=notes)
