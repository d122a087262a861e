"""A small HTTP/JSON client (stdlib urllib): what the HTTP adapter and the
event dispatcher send, and how they classify the answer."""

from __future__ import annotations

import datetime
import http.client
import json
import socket
import time
import urllib.error
import urllib.request
from decimal import Decimal
from typing import Optional

import attrs

from om_dsl import limits
from om_dsl.observe import tracing


@attrs.frozen
class Answer:
    status: Optional[int]  # None: no answer (connection error, timeout)
    body: object = None  # parsed JSON; None when there was no answer, or it was not JSON
    error: str = ""
    retryable: bool = True
    failure: Optional[str] = None  # the kind of failure, as retry policies name it: "503", "timeout", "unreachable"


def plain_json(value):
    """Runtime values as plain JSON: decimals as numbers, dates as ISO strings."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: plain_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_json(v) for v in value]
    return value


def check_url(text: str) -> Optional[str]:
    """Why `text` is not a usable http(s) URL, or None."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        return str(exc)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "not an http(s) URL"
    return None


def post_json(url: str, payload, headers: dict, timeout_s: float, max_bytes: int, retryable_status: tuple = (), method: str = "POST") -> Answer:
    """Send JSON (POST, or PUT/PATCH); 2xx -> its JSON body. Connection errors, timeouts, 5xx, 408
    and 429 (and `retryable_status`) are retryable; other 4xx are not.

    Whatever the other side answers is an Answer, never an exception: a body
    past the limits (om_dsl.limits: huge numbers, deep nesting, long strings),
    a broken status line or headers, an answer that does not end within
    `timeout_s` are errors (retryable: the retry policy decides)."""
    data = json.dumps(plain_json(payload)).encode("utf-8")
    headers = {"Content-Type": "application/json", "Accept": "application/json", **headers}
    tracing.inject(headers)  # the current call's span as `traceparent`, when traces are on (om_dsl.observe.tracing)
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    deadline = time.monotonic() + timeout_s
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            status = response.status
            raw = _read(response, max_bytes, deadline)
    except urllib.error.HTTPError as exc:
        status = exc.code
        try:
            raw = _read(exc, max_bytes, deadline)
        except (OSError, AttributeError, http.client.HTTPException, _Late):
            raw = b""
        detail = _detail(raw)
        retryable = status >= 500 or status in (408, 429) or status in retryable_status
        return Answer(status, None, f"{url} answered {status}" + (f": {detail}" if detail else ""), retryable, str(status))
    except (socket.timeout, TimeoutError):
        return Answer(None, None, f"{url} did not answer within {timeout_s:g} s", True, "timeout")
    except _Late:
        return Answer(None, None, f"{url} did not finish its answer within {timeout_s:g} s", True, "timeout")
    except (urllib.error.URLError, ConnectionError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, (socket.timeout, TimeoutError)):
            return Answer(None, None, f"{url} did not answer within {timeout_s:g} s", True, "timeout")
        return Answer(None, None, f"cannot reach {url}: {reason}", True, "unreachable")
    except http.client.HTTPException as exc:  # a broken status line, too many or too long headers, a short body
        return Answer(None, None, f"{url} answered what is not HTTP: {type(exc).__name__}: {str(exc)[:200]}", True)
    except ValueError as exc:  # http.client.InvalidURL and the like
        return Answer(None, None, f"cannot send to {url}: {exc}", False)
    if len(raw) > max_bytes:
        return Answer(status, None, f"{url} answered more than {max_bytes} bytes", False)
    if not raw.strip():
        return Answer(status, {}, "", True)
    try:
        return Answer(status, limits.load_json(raw), "", True)
    except limits.InputLimit as exc:
        return Answer(status, None, f"{url} answered {status} with a body that cannot be read: {exc}", True)
    except json.JSONDecodeError:
        return Answer(status, None, "", True)  # not JSON: a 2xx all the same; callers that need JSON say so


class _Late(Exception):
    pass


def _read(response, max_bytes: int, deadline: float) -> bytes:
    """At most max_bytes + 1 bytes of the body, all of it by the deadline (a body that drips in slowly is cut off)."""
    chunks, size = [], 0
    while size <= max_bytes:
        if time.monotonic() > deadline:
            raise _Late()
        chunk = response.read1(min(65_536, max_bytes + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _detail(raw: bytes) -> str:
    """What an error answer says, briefly (never more than 200 characters of it)."""
    try:
        body = limits.load_json(raw)
    except ValueError:  # not JSON, or past the limits: its first characters
        return raw[:200].decode("utf-8", "replace").strip()
    if isinstance(body, dict):
        return str(body.get("error") or body.get("message") or body.get("reason") or "")[:200]
    return ""
