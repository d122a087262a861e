""""Did you mean" hints for unknown names."""

from __future__ import annotations

from collections.abc import Iterable

from om_dsl.diagnostics.diagnostic import Diagnostic, error
from om_dsl.suggest import closest, did_you_mean  # noqa: F401  (shared with the engine's commands)


def unknown_product(code: str, span, candidates: Iterable[str], label: str = "no product of that code") -> Diagnostic:
    """E101, with the closest known code as a hint."""
    return error("E101", f"unknown product `{code}`", span, label, help=did_you_mean(code, candidates))
