"""Who may answer an asynchronous call: callback tokens.

Each asynchronous call over HTTP carries its own callback URL,
`{callback_url}/{token}`, where the token is HMAC-SHA256, under the
deployment's callback secret, of the call's correlation id (its idempotency
key). Only the system the call went to learns it. The receiver recomputes it
from the correlation id the callback names and compares in constant time;
a callback without the right token is refused (401) before anything is kept.

Why a token in the URL and not a signature: a downstream system answers by
POSTing to the URL it was given, which any system does already; a signature
would need a shared key and signing code in every system. Nothing is stored
per call: every process that holds the secret (the embedded store's, or the
deployment's on Temporal) can check every callback.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlsplit, urlunsplit

SECRET_ENV = "OM_CALLBACK_SECRET"
MIN_SECRET = 32  # characters: `secrets.token_hex(32)` gives 64
_DOMAIN = b"om-callback\x00"  # a token is good for nothing but a callback


def new_secret() -> str:
    return secrets.token_hex(32)


def token(secret: str, correlation_id: str) -> str:
    return hmac.new(secret.encode("utf-8"), _DOMAIN + correlation_id.encode("utf-8"), hashlib.sha256).hexdigest()


def valid(secret: str, correlation_id: str, given: str) -> bool:
    return hmac.compare_digest(token(secret, correlation_id).encode("ascii"), given.encode("utf-8", "replace"))


def url_with_token(callback_url: str, correlation_id: str, secret: str) -> str:
    """The call's own callback URL: the configured one with the token as its last path segment."""
    parts = urlsplit(callback_url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/" + token(secret, correlation_id)))
