""""Did you mean" hints for unknown names."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from om_dsl.diagnostics.diagnostic import Diagnostic, error


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


def unknown_product(code: str, span, candidates: Iterable[str], label: str = "no product of that code") -> Diagnostic:
    """E101, with the closest known code as a hint."""
    return error("E101", f"unknown product `{code}`", span, label, help=did_you_mean(code, candidates))
