"""A small HTTP/JSON client (stdlib urllib): what the HTTP adapter and the
event dispatcher send, and how they classify the answer."""

from __future__ import annotations

import datetime
import json
import socket
import urllib.error
import urllib.request
from decimal import Decimal
from typing import Optional

import attrs


@attrs.frozen
class Answer:
    status: Optional[int]  # None: no answer (connection error, timeout)
    body: object = None  # parsed JSON; None when there was no answer, or it was not JSON
    error: str = ""
    retryable: bool = True


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
    and 429 (and `retryable_status`) are retryable; other 4xx are not."""
    data = json.dumps(plain_json(payload)).encode("utf-8")
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json", "Accept": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            status = response.status
            raw = response.read(max_bytes + 1)
    except urllib.error.HTTPError as exc:
        status = exc.code
        try:
            raw = exc.read(max_bytes + 1)
        except OSError:
            raw = b""
        detail = _detail(raw)
        retryable = status >= 500 or status in (408, 429) or status in retryable_status
        return Answer(status, None, f"{url} answered {status}" + (f": {detail}" if detail else ""), retryable)
    except (socket.timeout, TimeoutError):
        return Answer(None, None, f"{url} did not answer within {timeout_s:g} s", True)
    except (urllib.error.URLError, ConnectionError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return Answer(None, None, f"cannot reach {url}: {reason}", True)
    except ValueError as exc:  # http.client.InvalidURL and the like
        return Answer(None, None, f"cannot send to {url}: {exc}", False)
    if len(raw) > max_bytes:
        return Answer(status, None, f"{url} answered more than {max_bytes} bytes", False)
    if not raw.strip():
        return Answer(status, {}, "", True)
    try:
        return Answer(status, json.loads(raw), "", True)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return Answer(status, None, "", True)  # a 2xx all the same; callers that need JSON say so


def _detail(raw: bytes) -> str:
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return raw[:200].decode("utf-8", "replace").strip()
    if isinstance(body, dict):
        return str(body.get("error") or body.get("message") or body.get("reason") or "")[:200]
    return ""
