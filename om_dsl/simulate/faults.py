"""Faults the HTTP simulator injects per operation (`om simulate --fault`,
`POST /faults`): refuse with a status for the first N attempts, answer
slowly, hang, or answer twice."""

from __future__ import annotations

import re
from typing import Optional

import attrs


@attrs.frozen
class Fault:
    """What to do to every call of one operation (see the module docstring)."""

    status: Optional[int] = None  # answer this instead of the call (fail:N is status 503)
    times: Optional[int] = None  # ... for the first `times` attempts of each key; None: always
    slow_ms: int = 0
    hang: bool = False
    twice: bool = False
    spec: str = ""  # as given, normalized

    def refuses(self, attempt: int) -> bool:
        return self.status is not None and (self.times is None or attempt <= self.times)


def _count(text: str, what: str, spec: str) -> int:
    if not re.fullmatch(r"[0-9]+", text):
        raise ValueError(f"fault {spec!r}: {what} must be a whole number, not {text!r}")
    return int(text)


def parse_fault(spec: str) -> Fault:
    """`fail:N`, `status:CODE`, `status:CODE:N`, `slow:MS`, `hang`, `twice`, joined by `,`."""
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"fault {spec!r}: expected fail:N, status:CODE[:N], slow:MS, hang or twice (joined by ',')")
    fields: dict = {}
    parts = []
    for raw in spec.split(","):
        part = raw.strip()
        name, *values = part.split(":")
        if name in fields:
            raise ValueError(f"fault {spec!r}: {name} is given twice")
        if name in ("fail", "status") and {"fail", "status"} & set(fields):
            raise ValueError(f"fault {spec!r}: give fail or status, not both (fail:N is status:503:N)")
        if name == "fail" and len(values) == 1:
            n = _count(values[0], "fail's count", spec)
            fields["fail"] = (503, n)
        elif name == "status" and len(values) in (1, 2):
            code = _count(values[0], "the status code", spec)
            if not 400 <= code <= 599:
                raise ValueError(f"fault {spec!r}: status {code} is not an error status (400-599)")
            fields["status"] = (code, _count(values[1], "the status's count", spec) if len(values) == 2 else None)
        elif name == "slow" and len(values) == 1:
            fields["slow"] = _count(values[0], "slow's milliseconds", spec)
        elif name in ("hang", "twice") and not values:
            fields[name] = True
        else:
            known = "fail:N, status:CODE, status:CODE:N, slow:MS, hang, twice"
            raise ValueError(f"fault {spec!r}: cannot read {part!r} (expected one of {known}, joined by ',')")
        parts.append(part)
    status, times = fields.get("fail") or fields.get("status") or (None, None)
    return Fault(status, times, fields.get("slow", 0), fields.get("hang", False), fields.get("twice", False), ",".join(parts))


def parse_fault_option(text: str) -> tuple[str, str]:
    """`SYSTEM.OPERATION=SPEC` (the --fault option) -> (target, spec)."""
    target, sep, spec = text.partition("=")
    if not sep or not target.strip() or not spec.strip():
        raise ValueError(f"--fault {text!r}: expected SYSTEM.OPERATION=SPEC, e.g. inventory.reserve_port=fail:2")
    return target.strip(), spec.strip()
