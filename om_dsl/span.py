"""Where a node came from in its source file."""

from __future__ import annotations

import attrs


@attrs.frozen(order=True)
class Span:
    """A region of a source file: 1-based lines and columns, end exclusive.

    `start` and `end` are character offsets into the file, for slicing.
    """

    file: str
    line: int
    column: int
    end_line: int
    end_column: int
    start: int
    end: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    def to(self, other: Span) -> Span:
        """The span covering this one and `other` (in the same file)."""
        return Span(self.file, self.line, self.column, other.end_line, other.end_column, self.start, other.end)


UNKNOWN_SPAN = Span("<unknown>", 1, 1, 1, 1, 0, 0)
