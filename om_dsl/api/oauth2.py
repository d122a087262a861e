"""OAuth2 bearer JWTs: callers an identity provider vouches for (`[api.oauth2]`).

A JWT is taken when its signature checks out under one of the issuer's keys
(its JWKS), with the configured algorithms only (never `none`, never a shared
secret), and its `iss`, `aud` and `exp` are right (30 s of leeway for clocks).
The caller is its subject (`name_claim`) and the highest of its roles
(`roles_claim`, a list or a space-separated string such as an OAuth2 `scope`;
`role_prefix` picks ours out of the others).

The keys are fetched when `om serve` starts and again every ten minutes, or
when a token names a key id not seen yet (at most every 30 s), on a thread of
their own: a slow identity provider never holds up a request, which answers
401 until the keys are there.

PyJWT is the `oauth2` extra: without it, configuring `[api.oauth2]` is an
error that says to install it.
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.request
from typing import Callable, Optional

from om_dsl.api.auth import RANK, Caller, Forbidden, Unauthenticated
from om_dsl.limits import load_json
from om_dsl.systems.config import OAuth2Config

LOG = logging.getLogger("om_dsl.api")
REFRESH_S = 600.0
UNKNOWN_KID_REFRESH_S = 30.0
LEEWAY_S = 30
MAX_JWKS_BYTES = 1 << 20


def fetch_jwks(url: str, timeout_s: float = 5.0) -> dict:
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": "application/json"}), timeout=timeout_s) as answer:
        raw = answer.read(MAX_JWKS_BYTES + 1)
    if len(raw) > MAX_JWKS_BYTES:
        raise ValueError("the JWKS is over 1 MiB")
    doc = load_json(raw)
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
        raise ValueError("the JWKS has no keys list")
    return doc


class JwtVerifier:
    def __init__(self, cfg: OAuth2Config, fetch: Callable[[str], dict] = fetch_jwks, clock: Callable[[], float] = time.monotonic):
        try:
            import jwt  # noqa: F401
        except ImportError:
            raise RuntimeError("[api.oauth2] needs PyJWT: pip install 'om-dsl[oauth2]'") from None
        self.cfg, self.fetch, self.clock = cfg, fetch, clock
        self.keys: dict = {}  # kid -> PyJWK
        self.fetched_at: Optional[float] = None
        self.asked_at = -UNKNOWN_KID_REFRESH_S
        self.problem: Optional[str] = None
        self.lock = threading.Lock()
        self.refreshing = False
        self.refresh()

    def refresh(self) -> None:
        """Fetch the issuer's keys now (blocking); a failure keeps the keys we had."""
        from jwt import PyJWKSet
        from jwt.exceptions import PyJWKSetError

        try:
            keys = PyJWKSet.from_dict(self.fetch(self.cfg.jwks_url)).keys
        except (OSError, ValueError, PyJWKSetError) as exc:
            self.problem = f"the JWKS at {self.cfg.jwks_url} could not be read: {exc}"
            LOG.warning("om serve: %s", self.problem)
            return
        with self.lock:
            self.keys = {key.key_id: key for key in keys}
            self.fetched_at = self.clock()
            self.problem = None

    def refresh_soon(self, unknown_kid: bool) -> None:
        now = self.clock()
        with self.lock:
            if self.refreshing or (unknown_kid and now - self.asked_at < UNKNOWN_KID_REFRESH_S):
                return
            self.refreshing, self.asked_at = True, now

        def run():
            try:
                self.refresh()
            finally:
                self.refreshing = False

        threading.Thread(target=run, name="om-jwks", daemon=True).start()

    def caller(self, token: str) -> Caller:
        import jwt

        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated("the bearer token is not known") from None
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in self.cfg.algorithms:
            raise Unauthenticated(f"the token is signed with {alg!r}; this API takes {', '.join(self.cfg.algorithms)}")
        if self.fetched_at is None or self.clock() - self.fetched_at > REFRESH_S:
            self.refresh_soon(unknown_kid=False)
        with self.lock:
            keys = self.keys
        key = keys.get(kid) if kid is not None else (next(iter(keys.values())) if len(keys) == 1 else None)
        if key is None:
            self.refresh_soon(unknown_kid=True)
            raise Unauthenticated("the token's signing key is not one of the issuer's keys (yet)")
        try:
            claims = jwt.decode(
                token, key.key, algorithms=[alg], audience=self.cfg.audience, issuer=self.cfg.issuer, leeway=LEEWAY_S,
                options={"require": ["exp", "iss", "aud", self.cfg.name_claim]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the token has expired") from None
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"the token is not valid here ({exc.__class__.__name__})") from None
        name = claims.get(self.cfg.name_claim)
        if not isinstance(name, str) or not name:
            raise Unauthenticated(f"the token's {self.cfg.name_claim} is not a name")
        return Caller(name, self.role_of(name, claims.get(self.cfg.roles_claim)))

    def role_of(self, name: str, given) -> str:
        names = given.split() if isinstance(given, str) else [r for r in given if isinstance(r, str)] if isinstance(given, list) else []
        prefix = self.cfg.role_prefix
        ours = [r[len(prefix):] for r in names if r.startswith(prefix) and r[len(prefix):] in RANK]
        if not ours:
            raise Forbidden(f"{name!r} has no role here (claim {self.cfg.roles_claim!r}: {prefix}viewer, {prefix}submitter, {prefix}operator or {prefix}admin)")
        return max(ours, key=RANK.__getitem__)
