"""Limits on what enters om from outside: orders, operator data, answers of
downstream systems and listeners, callbacks, spec literals.

Every number is checked as text, before it is converted: Python's `int()`
of 5,000 digits raises, `Decimal("1e999999")` is cheap but `int()` of it is
not, and deep JSON nesting exhausts the stack. Input past a limit is refused
with a reason that names it, never a traceback. docs/security.md lists the
limits and their defaults.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal

MAX_DIGITS = 40  # digits in one number (a 128-bit integer has 39)
MAX_EXPONENT = 100  # |exponent| of a decimal written with e/E
MAX_DEPTH = 64  # nesting of arrays and objects in a JSON document
MAX_STRING = 65_536  # characters in one JSON string
MAX_ID = 256  # characters in an id (order, item, task, customer, asset)
MAX_TEXT = 4096  # characters in a one-line text an operator gives (a reason, who acts, a failure message)
MAX_DOCUMENT = 16 * 1024 * 1024  # bytes of an order or data file
MAX_BODY = 1024 * 1024  # bytes of an HTTP request or answer body
MAX_DURATION_MS = 100 * 365 * 24 * 3600 * 1000  # a century: what any due time, wait or retry may span

_NUMBER = re.compile(r"-?(?P<int>\d+)(?:\.(?P<frac>\d+))?(?:[eE](?P<exp>[+-]?\d+))?\Z")


class InputLimit(ValueError):
    """Input past one of the limits, or not readable: `reason` says which, `path` where (a JSON pointer)."""

    def __init__(self, reason: str, path: str = ""):
        super().__init__(reason + (f" (at {path})" if path else ""))
        self.reason = reason
        self.path = path


def check_number_text(text: str) -> None:
    """Raise InputLimit when a number written as `text` has too many digits or too large an exponent."""
    m = _NUMBER.match(text.strip())
    if not m:
        return
    digits = len(m["int"].lstrip("0")) + len(m["frac"] or "")
    if digits > MAX_DIGITS:
        raise InputLimit(f"a number has {digits} digits; at most {MAX_DIGITS} are accepted")
    exp = m["exp"]
    if exp is not None and (len(exp.lstrip("+-").lstrip("0")) > 4 or abs(int(exp)) > MAX_EXPONENT):
        raise InputLimit(f"a number's exponent is beyond ±{MAX_EXPONENT}")


def _parse_int(text: str) -> int:
    check_number_text(text)
    return int(text)


def _parse_decimal(text: str) -> Decimal:
    check_number_text(text)
    return Decimal(text)


def _parse_float(text: str) -> float:
    check_number_text(text)
    return float(text)


def _refuse_constant(name: str):
    raise InputLimit(f"{name} is not a JSON number")


def load_json(text, *, decimals: bool = False, max_depth: int = MAX_DEPTH, max_string: int = MAX_STRING):
    """Parse JSON text (str or bytes) within the limits; raise InputLimit (or
    json.JSONDecodeError, a ValueError too, for malformed text).

    `decimals`: non-integer numbers as Decimal (orders, operator data), else float.
    """
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputLimit(f"not UTF-8 text (byte {exc.start})") from None
    try:
        value = json.loads(
            text,
            parse_int=_parse_int,
            parse_float=_parse_decimal if decimals else _parse_float,
            parse_constant=_refuse_constant,
        )
    except RecursionError:  # the C parser stops at the interpreter's recursion limit, quickly
        raise InputLimit(f"the JSON nests deeper than {max_depth} levels") from None
    _check_shape(value, max_depth, max_string)
    return value


def _check_shape(value, max_depth: int, max_string: int) -> None:
    """Refuse deep nesting, over-long strings and lone surrogates (which no UTF-8 output can carry)."""
    stack = [(value, "", 0)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, (dict, list)) and depth >= max_depth:
            raise InputLimit(f"the JSON nests deeper than {max_depth} levels", path or "/")
        if isinstance(item, str):
            _check_text(item, max_string, path)
        elif isinstance(item, dict):
            for k, v in item.items():
                _check_text(k, max_string, path)
                stack.append((v, f"{path}/{_pointer(k)}", depth + 1))
        elif isinstance(item, list):
            stack.extend((v, f"{path}/{i}", depth + 1) for i, v in enumerate(item))


def _check_text(text: str, max_string: int, path: str) -> None:
    if len(text) > max_string:
        raise InputLimit(f"a string has {len(text)} characters; at most {max_string} are accepted", path or "/")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InputLimit("a string holds a lone surrogate (\\ud800-\\udfff), which is not text", path or "/") from None


def _pointer(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _control(c: str) -> bool:
    return ord(c) < 32 or 0x7F <= ord(c) < 0xA0 or c in "\u2028\u2029"


def check_text(value: str, what: str = "a text", limit: int = MAX_TEXT) -> None:
    """Raise InputLimit for one-line text that is too long or holds control characters (a newline would forge a line of history)."""
    if len(value) > limit:
        raise InputLimit(f"{what} has {len(value)} characters; at most {limit} are accepted")
    if any(_control(c) for c in value):
        raise InputLimit(f"{what} holds a control character (a newline, a tab, an escape...)")


def shown(text: str) -> str:
    """Text as printed on one line: control characters escaped (\\n, \\x1b...), so stored text cannot forge lines or move the cursor."""
    if not any(_control(c) for c in text):
        return text
    return "".join(c.encode("unicode_escape").decode("ascii") if _control(c) else c for c in text)


def check_id(value: str, what: str = "an id") -> None:
    """Raise InputLimit for an id that is too long or holds control characters (they forge lines in output)."""
    if len(value) > MAX_ID:
        raise InputLimit(f"{what} has {len(value)} characters; at most {MAX_ID} are accepted")
    if any(_control(c) for c in value):
        raise InputLimit(f"{what} holds a control character")
