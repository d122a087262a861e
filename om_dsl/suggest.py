""""Did you mean" hints for unknown names: product codes in specs, and the
ids an operator types (orders, tasks, catalogs). Only the standard library,
so the engine's commands can use it without loading the checker."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(name: str, candidates: Iterable[str]) -> str | None:
    candidates = sorted(set(candidates))
    for candidate in candidates:  # a difference of case only is the likeliest slip
        if candidate.lower() == name.lower() and candidate != name:
            return candidate
    matches = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return matches[0] if matches else None


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    match = closest(name, candidates)
    return f"did you mean `{match}`?" if match else ""
