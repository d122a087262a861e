"""Console sessions: a signed cookie instead of a bearer token in a browser.

An operator pastes an API token once (the login page); the console checks it
as the API does and answers with a cookie holding who (the token's name),
the role, when the session ends and a random nonce, signed with HMAC-SHA256
under a secret made when the server starts. The token itself is never kept
or sent back. A restart (a new secret) or the expiry ends every session.

CSRF: every form carries `csrf`, an HMAC of the session's nonce; a post
whose field does not match (compared in constant time) is refused. The
cookie is HttpOnly, SameSite=Strict, and Secure under TLS.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Optional

import attrs

COOKIE = "om_console"
LIFETIME_S = 8 * 3600  # a working day


@attrs.frozen
class Session:
    name: str  # the token's name: who acts, in every history line
    role: str
    expires: int  # unix seconds
    nonce: str

    @property
    def sees_every_order(self) -> bool:
        return self.role != "submitter"

    def owns(self, submitted_by: Optional[str]) -> bool:
        """A submitter sees and acts on the orders its token submitted only (as in the API)."""
        return self.sees_every_order or submitted_by == self.name


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Sessions:
    def __init__(self, secret: Optional[bytes] = None, lifetime_s: int = LIFETIME_S):
        self.secret = secret or secrets.token_bytes(32)
        self.lifetime_s = lifetime_s
        self.ended: dict = {}  # nonce -> expiry: sessions signed out before they expire (in memory: a restart ends all anyway)

    def _sign(self, what: bytes) -> bytes:
        return hmac.new(self.secret, what, hashlib.sha256).digest()

    def issue(self, name: str, role: str, now: float, until: Optional[int] = None) -> tuple[Session, str]:
        """A new session and its cookie value; `until`: when the token it came from expires (a JWT's `exp`), the latest it may end."""
        ends = int(now) + self.lifetime_s
        s = Session(name, role, ends if until is None else min(ends, int(until)), secrets.token_urlsafe(16))
        body = json.dumps([s.name, s.role, s.expires, s.nonce], separators=(",", ":")).encode("utf-8")
        return s, f"{_b64(body)}.{_b64(self._sign(body))}"

    def read(self, cookie: Optional[str], now: float) -> Optional[Session]:
        """The session a cookie holds; None when there is none, it is forged or it expired."""
        if not cookie or len(cookie) > 4096 or "." not in cookie:
            return None
        body_text, _, mac_text = cookie.partition(".")
        try:
            body, mac = _unb64(body_text), _unb64(mac_text)
        except (ValueError, TypeError):
            return None
        if not hmac.compare_digest(self._sign(body), mac):
            return None
        try:
            name, role, expires, nonce = json.loads(body)
        except (ValueError, TypeError):
            return None
        if not isinstance(expires, int) or expires <= now or nonce in self.ended:
            return None
        return Session(str(name), str(role), expires, str(nonce))

    def end(self, session: Session, now: float) -> None:
        """Sign out: the cookie is refused from now on, even if a copy of it was kept."""
        self.ended = {n: e for n, e in self.ended.items() if e > now}
        self.ended[session.nonce] = session.expires

    def csrf(self, session: Session) -> str:
        """The CSRF token of a session's forms."""
        return _b64(self._sign(b"csrf|" + session.nonce.encode("utf-8")))

    def csrf_ok(self, session: Session, given: Optional[str]) -> bool:
        return isinstance(given, str) and hmac.compare_digest(self.csrf(session).encode("ascii"), given.encode("utf-8", "replace"))
