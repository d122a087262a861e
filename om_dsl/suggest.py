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


def no_such(what: str, name: str, known: Iterable[str], where: str = "", quote: bool = False) -> str:
    """"no order X in om.db; did you mean Y?": an id that is not there, with the closest known one."""
    match = closest(name, known)
    q = "`" if quote else ""
    hint = f"; did you mean {match}?" if match and not quote else (f"; did you mean `{match}`?" if match else "")
    return f"no {what} {q}{name}{q}" + (f" in {where}" if where else "") + hint
