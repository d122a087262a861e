"""Who may call the API: bearer tokens and their roles.

Every request carries `Authorization: Bearer <token>`. The deployment
configuration's `[api] tokens` name each token, its role and its SHA-256
(`om_dsl.systems.config`); `OM_API_TOKEN` in the environment adds one admin
token for demos. A token is hashed and compared with every known digest in
constant time (`hmac.compare_digest`, all of them, whichever matches), so
neither the answer nor its timing says how much of a token was right.
Tokens are never logged or kept; a caller is known by its token's name.

Roles, each with everything of the one before:
- viewer: read orders, cancellations, the OpenAPI document.
- submitter: create orders, and read, patch and cancel its own (the orders
  its token submitted); subscribe to the events of its own orders.
- operator: every order; force past a soft point of no return.
- admin: everything, every subscription.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Iterable, Optional

import attrs

from om_dsl.systems.config import API_ROLES, ApiToken

TOKEN_ENV = "OM_API_TOKEN"
DEMO_NAME = "admin (OM_API_TOKEN)"
RANK = {role: n for n, role in enumerate(API_ROLES)}  # viewer < submitter < operator < admin


@attrs.frozen
class Caller:
    name: str
    role: str

    def at_least(self, role: str) -> bool:
        return RANK[self.role] >= RANK[role]

    @property
    def sees_every_order(self) -> bool:
        """A submitter sees and changes only the orders its token submitted."""
        return self.role != "submitter"

    def owns(self, submitted_by: Optional[str]) -> bool:
        return self.sees_every_order or submitted_by == self.name


class Unauthenticated(Exception):
    """No token, or one that is not known: 401."""


class Forbidden(Exception):
    """A known caller whose role may not do this: 403."""


class Tokens:
    """The API's callers: its configured tokens, and JWTs when `jwt` (om_dsl.api.oauth2.JwtVerifier) is given."""

    def __init__(self, tokens: Iterable[ApiToken], env: Optional[dict] = None, jwt=None):
        env = os.environ if env is None else env
        self.tokens = list(tokens)
        self.jwt = jwt
        demo = env.get(TOKEN_ENV)
        if demo:
            self.tokens.append(ApiToken(DEMO_NAME, "admin", hashlib.sha256(demo.encode("utf-8")).digest()))

    def __bool__(self) -> bool:
        return bool(self.tokens) or self.jwt is not None

    def caller(self, authorization: Optional[str]) -> Caller:
        """The caller an Authorization header names; Unauthenticated when none does."""
        if not authorization:
            raise Unauthenticated("this API needs Authorization: Bearer <token>")
        scheme, _, given = authorization.partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            raise Unauthenticated("this API takes Authorization: Bearer <token>")
        given = given.strip()
        if self.jwt is not None and given.count(".") == 2:  # a JWT (header.payload.signature); ours are opaque
            return self.jwt.caller(given)
        digest = hashlib.sha256(given.encode("utf-8", "replace")).digest()
        found = None
        for token in self.tokens:  # every one is compared: the time taken does not depend on which matched
            if hmac.compare_digest(token.digest, digest):
                found = token
        if found is None:
            raise Unauthenticated("the bearer token is not known")
        return Caller(found.name, found.role)

    def login(self, token: str) -> Optional[tuple]:
        """(name, role, until) of a token pasted into the console's login page; None when it is not known.
        `until`: a JWT's `exp` (unix seconds), which a session may not outlive; None for om's own tokens."""
        try:
            caller = self.caller(f"Bearer {token}")
        except Unauthenticated:
            return None
        return caller.name, caller.role, _expiry(token)


def _expiry(token: str) -> Optional[int]:
    """The `exp` claim of a token that is a JWT (checked by `caller` already), else None."""
    import base64
    import json

    parts = token.strip().split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    return int(exp) if isinstance(exp, (int, float)) and not isinstance(exp, bool) else None


def require(caller: Caller, role: str, what: str) -> None:
    if not caller.at_least(role):
        raise Forbidden(f"{what} needs the {role} role; token {caller.name!r} has {caller.role}")
