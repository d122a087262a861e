"""What the engine core asks its driver to do: typed commands.

A command is a plain value: the embedded runner keeps it in the outbox,
the Temporal workflow hands it to an activity; both as `to_data` (JSON,
decimals and dates tagged) and back with `from_data`. The data shape is
the dict the engine wrote before commands were typed (`kind` plus the
fields), so outbox rows written by an earlier version still execute.
"""

from __future__ import annotations

from typing import Optional, Union

import attrs

from om_dsl.values import decode_value, encode_value


@attrs.frozen
class Call:
    """One attempt at a downstream system's operation (a callout or an operation's compensation)."""

    order: str
    task: str
    key: str  # idempotency key, the same on every attempt; an asynchronous call's correlation id
    attempt: int
    args: dict
    system: str
    operation: str
    is_async: bool = False
    outputs: list = attrs.Factory(list)  # [[name, type]]: what the answer must hold
    timeout_ms: Optional[int] = None
    kind = "call"


@attrs.frozen
class AutoTask:
    """One attempt at an auto task (or a Python compensation): a function of the rules package."""

    order: str
    task: str
    key: str
    attempt: int
    args: dict
    target: str
    timeout_ms: Optional[int] = None
    kind = "python"


@attrs.frozen
class Notify:
    """An order event (TMF622-shaped) for the originating system; `key` is the event id."""

    order: str
    key: str
    event: dict
    kind = "notify"


@attrs.frozen
class TellInstalledBase:
    """A customer's installed base hears an order completed (`record`) or ended otherwise (`release`): Temporal only."""

    customer: Optional[str]
    signal: str
    args: list
    kind = "installed_base"


Command = Union[Call, AutoTask, Notify, TellInstalledBase]
KINDS = {c.kind: c for c in (Call, AutoTask, Notify, TellInstalledBase)}
CALLS = (Call, AutoTask)  # the commands that make a call and end in a call's event


# Per class, field by field: only the fields that hold values (arguments, an
# event, a signal's arguments) go through encode_value. The same data as
# encode_value over attrs.asdict, key for key.
_FIELDS = {c: tuple(f.name for f in attrs.fields(c)) for c in (Call, AutoTask, Notify, TellInstalledBase)}
_VALUES = {Call: ("args", "outputs"), AutoTask: ("args",), Notify: ("event",), TellInstalledBase: ("args",)}


def to_data(cmd: Command) -> dict:
    cls = type(cmd)
    d = {"kind": cmd.kind}
    for name in _FIELDS[cls]:
        d[name] = getattr(cmd, name)
    for name in _VALUES[cls]:
        d[name] = encode_value(d[name])
    return d


def from_data(data: dict) -> Command:
    """A command from its data; a ValueError if it is not one (a damaged row, a foreign payload)."""
    if not isinstance(data, dict) or data.get("kind") not in KINDS:
        raise ValueError(f"not a command: kind {data.get('kind') if isinstance(data, dict) else type(data).__name__!r}")
    cls = KINDS[data["kind"]]
    names = {f.name for f in attrs.fields(cls)}
    values = decode_value({k: v for k, v in data.items() if k in names})
    try:
        return cls(**values)
    except TypeError as exc:  # a field missing
        raise ValueError(f"not a {data['kind']} command: {exc}") from None
