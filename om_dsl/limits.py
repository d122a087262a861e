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
import os
import re
import stat
from decimal import Decimal

MAX_DIGITS = 40  # digits in one number (a 128-bit integer has 39)
MAX_EXPONENT = 100  # |exponent| of a decimal written with e/E
MAX_DEPTH = 64  # nesting of arrays and objects in a JSON document
MAX_STRING = 65_536  # characters in one JSON string
MAX_ID = 256  # characters in an id (order, item, task, customer, asset)
MAX_TEXT = 4096  # characters in a one-line text an operator gives (a reason, who acts, a failure message)
MAX_DOCUMENT = 16 * 1024 * 1024  # bytes of an order or data file
MAX_BODY = 1024 * 1024  # bytes of an HTTP request or answer body
MAX_SPEC = 16 * 1024 * 1024  # bytes of one .om spec file
# Items TMF622 `quantity` may add to one order, all items together (each unit
# beyond the first, and the copies of its children): each is an item with lines and tasks.
MAX_UNITS = 10_000
# Orders one order may wait for (TMF622 `orderRelationship` dependsOn): each is
# looked up at submit, walked for cycles, and polled on Temporal.
MAX_WAITS = 100
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


# The JSON parser's hooks: a number short enough and without an exponent cannot be past the limits,
# so only the rare others pay for the regular expression.
def _parse_int(text: str) -> int:
    if len(text) > MAX_DIGITS:
        check_number_text(text)
    return int(text)


def _parse_decimal(text: str) -> Decimal:
    if len(text) > MAX_DIGITS or "e" in text or "E" in text:
        check_number_text(text)
    return Decimal(text)


def _parse_float(text: str) -> float:
    if len(text) > MAX_DIGITS or "e" in text or "E" in text:
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
    # What the whole text shows (scanned in C) spares the walk the per-string checks that cannot fail:
    # no string is longer than the text, and a surrogate comes from a \u escape or from the text itself.
    check_length = len(text) > max_string
    check_surrogates = "\\u" in text or (not text.isascii() and not _encodes(text))
    _check_shape(value, max_depth, max_string, check_length, check_surrogates)
    return value


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_shape(value, max_depth: int, max_string: int, check_length: bool = True, check_surrogates: bool = True) -> None:
    """Refuse deep nesting, over-long strings and lone surrogates (which no UTF-8 output can carry).

    Iterative; a frame is (container, depth, (parent frame, key)): the path is
    only spelled out for the refusal."""
    check_strings = check_length or check_surrogates
    if isinstance(value, str):
        _check_text(value, max_string, None, check_surrogates)
        return
    if not isinstance(value, (dict, list)):
        return
    stack = [(value, 0, None)]
    while stack:
        frame = stack.pop()
        item, depth, _ = frame
        if depth >= max_depth:
            raise InputLimit(f"the JSON nests deeper than {max_depth} levels", _path(frame))
        is_dict = type(item) is dict
        for k, v in item.items() if is_dict else enumerate(item):
            if check_strings and is_dict:
                _check_text(k, max_string, frame, check_surrogates)
            t = type(v)
            if t is str:
                if check_strings:
                    _check_text(v, max_string, (None, 0, (frame, k)), check_surrogates)
            elif t is dict or t is list:
                stack.append((v, depth + 1, (frame, k)))


def _path(frame) -> str:
    keys = []
    while frame is not None and frame[2] is not None:
        frame, key = frame[2]
        keys.append(f"/{_pointer(key)}" if isinstance(key, str) else f"/{key}")
    return "".join(reversed(keys)) or "/"


def _check_text(text: str, max_string: int, frame, check_surrogates: bool = True) -> None:
    if len(text) > max_string:
        raise InputLimit(f"a string has {len(text)} characters; at most {max_string} are accepted", _path(frame))
    if check_surrogates and not text.isascii() and not _encodes(text):
        raise InputLimit("a string holds a lone surrogate (\\ud800-\\udfff), which is not text", _path(frame)) from None


def _pointer(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # C0, DEL, C1, and the line and paragraph separators


def check_text(value: str, what: str = "a text", limit: int = MAX_TEXT) -> None:
    """Raise InputLimit for one-line text that is too long or holds control characters (a newline would forge a line of history)."""
    if len(value) > limit:
        raise InputLimit(f"{what} has {len(value)} characters; at most {limit} are accepted")
    if _CONTROL.search(value):
        raise InputLimit(f"{what} holds a control character (a newline, a tab, an escape...)")


def shown(text: str) -> str:
    """Text as printed on one line: control characters escaped (\\n, \\x1b...), so stored text cannot forge lines or move the cursor."""
    if not _CONTROL.search(text):
        return text
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def check_id(value: str, what: str = "an id") -> None:
    """Raise InputLimit for an id that is too long or holds control characters (they forge lines in output)."""
    if len(value) > MAX_ID:
        raise InputLimit(f"{what} has {len(value)} characters; at most {MAX_ID} are accepted")
    if _CONTROL.search(value):
        raise InputLimit(f"{what} holds a control character")


_PLAIN_ID = re.compile("[^" + _CONTROL.pattern[1:] + f"{{1,{MAX_ID}}}").fullmatch  # _CONTROL's class, negated


def plain_id(value: str) -> bool:
    """A non-empty id that check_id takes (planning's fast path asks per item). Printable text
    (str.isprintable: no control character, no line or paragraph separator) is, without the match."""
    return 0 < len(value) <= MAX_ID and (value.isprintable() or _PLAIN_ID(value) is not None)


def read_bytes(path, limit: int) -> bytes:
    """A regular file's bytes, at most `limit`; InputLimit for anything else, OSError when it cannot be opened.

    A FIFO or a device is refused from its stat, before it is opened: opening
    a FIFO blocks until a writer comes, and /dev/zero never ends.
    """
    kind = _file_kind(os.stat(path).st_mode)
    if kind:
        raise InputLimit(f"it is {kind}, not a regular file")
    # O_NONBLOCK: should a FIFO have replaced the file since the stat, the open does not wait for a writer.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as f:
        kind = _file_kind(os.fstat(f.fileno()).st_mode)
        if kind:
            raise InputLimit(f"it is {kind}, not a regular file")
        data = f.read(limit + 1)
    if len(data) > limit:
        raise InputLimit(f"it is larger than {limit} bytes, the most accepted")
    return data


def read_file(path, limit: int | None = None) -> str:
    """A regular file's UTF-8 text (newlines as `open()` reads them), at most
    `limit` bytes (default MAX_DOCUMENT); InputLimit for anything else, OSError when it cannot be opened."""
    data = read_bytes(path, MAX_DOCUMENT if limit is None else limit)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputLimit(f"it is not UTF-8 text (byte {exc.start})") from None
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def _file_kind(mode: int) -> str:
    """'' for a regular file, else what it is."""
    if stat.S_ISREG(mode):
        return ""
    for test, kind in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "not a regular file"


def parse_data(pairs: tuple[str, ...]) -> dict:
    """`key=value` pairs (`om tasks complete --data`, the console's completion form) -> outputs of a manual task (values stay strings; JSON is parsed when it is JSON).

    ValueError (a usage error) for a pair that is not key=value, or whose key
    or JSON value is beyond om's limits (om_dsl.limits)."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"expected key=value, got {pair[:80]!r}")
        try:
            check_id(key, "an output's name")
            try:
                out[key] = load_json(value)
            except json.JSONDecodeError:  # a plain string, held to the same limits (length, lone surrogates)
                out[key] = load_json(json.dumps(value))
            load_json(json.dumps(key))
        except InputLimit as exc:
            raise ValueError(f"--data {key[:80]!r}: {exc}") from None
    return out
