"""Text tables for the terminal: columns as wide as their widest cell."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def table(rows: Iterable[Sequence], gap: str = "  ") -> list[str]:
    """Each row as a line, every column but the last padded to its widest
    cell (None shows as `-`); trailing spaces are dropped."""
    cells = [["-" if c is None else str(c) for c in row] for row in rows]
    if not cells:
        return []
    widths = [max((len(r[i]) for r in cells if i < len(r)), default=0) for i in range(max(len(r) for r in cells))]
    return [gap.join(c.ljust(widths[i]) if i < len(r) - 1 else c for i, c in enumerate(r)).rstrip() for r in cells]
