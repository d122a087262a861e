"""The HTTP simulator's check of a call's arguments against the operation the
catalog declares: missing, unknown, or of the wrong type."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Optional


def _type_problem(value, type_: str) -> Optional[str]:
    if value is None:
        return None
    if type_ == "string":
        ok = isinstance(value, str)
    elif type_ == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif type_ == "bool":
        ok = isinstance(value, bool)
    elif type_ == "decimal":
        if isinstance(value, dict) and set(value) == {"$decimal"}:
            value = value["$decimal"]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            ok = True
        else:
            try:
                ok = isinstance(value, str) and Decimal(value).is_finite()
            except InvalidOperation:
                ok = False
    elif type_ == "date":
        import datetime

        if isinstance(value, dict) and set(value) == {"$date"}:
            value = value["$date"]
        try:
            ok = isinstance(value, str) and bool(datetime.date.fromisoformat(value))
        except ValueError:
            ok = False
    else:
        ok = True
    return None if ok else f"{json.dumps(value)[:60]} is not {'an' if type_[0] in 'aeiou' else 'a'} {type_}"


def check_arguments(op, args) -> Optional[str]:
    """What is wrong with these arguments for this operation, or None."""
    name = f"{op.system}.{op.name}"
    takes = ", ".join(f"{p.name}: {p.type}" for p in op.inputs) or "no arguments"
    if not isinstance(args, dict):
        return f"{name}: the body must be a JSON object of the arguments ({takes}), not {type(args).__name__ if args is not None else 'null'}"
    declared = {p.name: p.type for p in op.inputs}
    problems = []
    missing = [n for n in declared if n not in args]
    unknown = sorted(n for n in args if n not in declared)
    if missing:
        problems.append(f"missing argument{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    if unknown:
        problems.append(f"unknown argument{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}")
    for n, type_ in declared.items():
        if n in args:
            problem = _type_problem(args[n], type_)
            if problem:
                problems.append(f"argument {n}: {problem}")
    if problems:
        return f"{name}: {'; '.join(problems)} (it takes {takes})"
    return None
