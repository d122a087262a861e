"""The deployment configuration: which adapter serves which downstream
system, where it is, how long to wait. One TOML file per deployment
(`om.toml`, or `--config`, or `OM_CONFIG`); never in the specs.

    [engine]
    callback_url = "http://127.0.0.1:8790/callbacks"   # where asynchronous answers go
    callback_secret = "$OM_CALLBACK_SECRET"   # what callback tokens are made with (or callback_secret_file);
                                   # else OM_CALLBACK_SECRET; else (embedded engine) the store's own

    [defaults]
    adapter = "simulated"          # systems not listed: the in-process simulators
                                   # (or "http", with base_url = "..." for them)

    [systems.inventory]
    adapter = "http"
    base_url = "$INVENTORY_URL"    # `$NAME`: read from the environment
    timeout = "10s"                # else the spec's timeout
    max_response_bytes = 1048576
    retryable_status = [409]       # besides 5xx, 408 and 429
    headers = { Authorization = "$INVENTORY_TOKEN" }

    [systems.inventory.operations.reserve_port]
    method = "POST"
    path = "/ports/reservations"   # else /{system}/{operation}
    outputs = { port_id = "portId" }   # answer fields named otherwise

    [systems.voice]
    adapter = "python"
    target = "acme_adapters.voice:call"   # or entry_point = "voice" (group om_dsl.adapters)

    [api]                          # who may call `om serve`'s TMF622 API (docs/api.md)
    tokens = [
      { name = "cpq", role = "submitter", hash = "sha256:<64 hex digits>" },   # sha256 of the token
      { name = "noc", role = "operator", token = "$NOC_API_TOKEN" },            # or the token itself, from the environment
    ]
    public_url = "https://om.example.com"       # the hrefs the API answers with (else from the request's Host)
    hub_callbacks = ["cpq.example.com", "10.20.0.0/16"]   # the only hosts /hub may send events to (docs/security.md)

    [api.oauth2]                   # OAuth2 bearer JWTs too (the oauth2 extra: PyJWT)
    issuer = "https://login.example.com/"
    audience = "om"
    jwks_url = "https://login.example.com/.well-known/jwks.json"
    roles_claim = "roles"          # the claim with the caller's roles (a list, or a space-separated string)
    role_prefix = "om:"            # its roles are om:viewer, om:submitter, om:operator, om:admin

Every problem is reported with the key it is at: `om.toml: systems.inventory.timeout: "10x" is not a duration`.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Optional

import attrs

from om_dsl.durations import parse_duration

ADAPTERS = ("simulated", "http", "python")
DEFAULT_PATH = "om.toml"
CONFIG_ENV = "OM_CONFIG"
_DURATION_UNITS = ("ms", "s", "m", "h", "d")  # no weeks in om.toml: timeouts and backoffs are short


API_ROLES = ("viewer", "submitter", "operator", "admin")
_HASH = re.compile(r"sha256:[0-9a-f]{64}\Z")


class ConfigError(Exception):
    """A configuration that cannot be used; the message names the file and the key."""


@attrs.frozen
class OperationConfig:
    method: str = "POST"
    path: Optional[str] = None
    outputs: dict = attrs.field(factory=dict)  # output name -> answer field


@attrs.frozen
class SystemConfig:
    name: str
    adapter: str
    base_url: Optional[str] = None
    timeout_ms: Optional[int] = None
    max_response_bytes: int = 1_048_576
    retryable_status: tuple = ()
    headers: dict = attrs.field(factory=dict)
    operations: dict = attrs.field(factory=dict)  # name -> OperationConfig
    target: Optional[str] = None
    entry_point: Optional[str] = None


@attrs.frozen
class ApiToken:
    """A bearer token of the API, known by its SHA-256 only (a file never holds the token)."""

    name: str
    role: str
    digest: bytes = attrs.field(repr=False)


@attrs.frozen
class OAuth2Config:
    """[api.oauth2]: bearer JWTs signed by the issuer's keys (its JWKS)."""

    issuer: str
    audience: str
    jwks_url: str
    roles_claim: str = "roles"
    role_prefix: str = ""
    name_claim: str = "sub"
    algorithms: tuple = ("RS256", "ES256")


@attrs.frozen
class Config:
    path: Optional[str]
    default_adapter: str = "simulated"
    callback_url: Optional[str] = None
    systems: dict = attrs.field(factory=dict)  # name -> SystemConfig
    default_base_url: Optional[str] = None  # with `[defaults] adapter = "http"`: where unlisted systems are
    callback_secret: Optional[str] = attrs.field(default=None, repr=False)  # never in a log or a traceback
    api_tokens: tuple = ()  # ApiToken, from [api]
    api_public_url: Optional[str] = None  # [api] public_url: the base of the API's hrefs
    api_hub_callbacks: tuple = ()  # [api] hub_callbacks: host names and networks (om_dsl.systems.egress)
    api_oauth2: Optional["OAuth2Config"] = None  # [api.oauth2]

    def system(self, name: str) -> SystemConfig:
        return self.systems.get(name) or SystemConfig(name, self.default_adapter, base_url=self.default_base_url)


def load(path: Optional[str] = None, env: Optional[dict] = None, known_systems: Optional[set] = None) -> Config:
    """Read the configuration; without a file (and none asked for), everything is simulated."""
    env = os.environ if env is None else env
    asked = path or env.get(CONFIG_ENV)
    file = Path(asked or DEFAULT_PATH)
    if not file.is_file():
        if asked:
            raise ConfigError(f"{file}: no such configuration file")
        return Config(None, callback_secret=_Reader("environment", env, known_systems).secret({}))
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: {exc}") from None
    return _Reader(str(file), env, known_systems).config(data)


class _Reader:
    def __init__(self, file: str, env, known_systems):
        self.file = file
        self.env = env
        self.known = known_systems

    def fail(self, key: str, message: str):
        raise ConfigError(f"{self.file}: {key}: {message}")

    def table(self, value, key: str, allowed: set) -> dict:
        if not isinstance(value, dict):
            self.fail(key, "must be a table")
        for k in value:
            if k not in allowed:
                self.fail(f"{key}.{k}" if key else k, f"unknown setting (known: {', '.join(sorted(allowed))})")
        return value

    def string(self, value, key: str) -> str:
        if not isinstance(value, str) or not value:
            self.fail(key, "must be a non-empty string")
        if value.startswith("$"):
            name = value[1:]
            if name not in self.env:
                self.fail(key, f"the environment variable {name} is not set")
            return self.env[name]
        return value

    def duration(self, value, key: str) -> int:
        try:
            ms = parse_duration(value, _DURATION_UNITS) if isinstance(value, str) else 0
        except ValueError:
            ms = 0
        if ms == 0:
            self.fail(key, f"{value!r} is not a duration (such as 500ms, 10s, 5m, 1h)")
        return ms

    def url(self, value, key: str) -> str:
        from om_dsl.systems.http import check_url

        text = self.string(value, key)
        problem = check_url(text)
        if problem:
            self.fail(key, f"{text!r} is not an http(s) URL ({problem})")
        return text.rstrip("/")

    def config(self, data: dict) -> Config:
        self.table(data, "", {"engine", "defaults", "systems", "api"})
        engine = self.table(data.get("engine", {}), "engine", {"callback_url", "callback_secret", "callback_secret_file"})
        defaults = self.table(data.get("defaults", {}), "defaults", {"adapter", "base_url"})
        default_adapter = defaults.get("adapter", "simulated")
        if default_adapter not in ("simulated", "http"):
            self.fail("defaults.adapter", f"must be simulated or http, not {default_adapter!r}")
        default_base = self.url(defaults["base_url"], "defaults.base_url") if "base_url" in defaults else None
        callback = self.url(engine["callback_url"], "engine.callback_url") if "callback_url" in engine else None
        systems = {}
        for name, raw in self.table(data.get("systems", {}), "systems", set(data.get("systems", {}))).items():
            if self.known is not None and name not in self.known:
                self.fail(f"systems.{name}", f"no system of that name in the catalog (its systems: {', '.join(sorted(self.known))})")
            systems[name] = self.system(name, raw)
            known_ops = self.known.get(name) if isinstance(self.known, dict) else None
            for op in systems[name].operations:
                if known_ops is not None and op not in known_ops:
                    self.fail(f"systems.{name}.operations.{op}", f"{name} has no operation {op} (its operations: {', '.join(sorted(known_ops))})")
        if default_adapter == "http" and default_base is None and self.known is not None:
            unlisted = sorted(set(self.known) - set(systems))
            if unlisted:
                self.fail("defaults", f"adapter = \"http\" needs a base_url for {', '.join(unlisted)}")
        api = self.table(data.get("api", {}), "api", {"tokens", "public_url", "hub_callbacks", "oauth2"})
        return Config(
            self.file, default_adapter, callback, systems, default_base, self.secret(engine), self.api(api),
            self.url(api["public_url"], "api.public_url") if "public_url" in api else None,
            self.hub_callbacks(api.get("hub_callbacks", [])),
            self.oauth2(api["oauth2"]) if "oauth2" in api else None,
        )

    def hub_callbacks(self, raw) -> tuple:
        from om_dsl.systems.egress import CallbackPolicy

        if not isinstance(raw, list):
            self.fail("api.hub_callbacks", "must be an array of host names and networks (\"cpq.example.com\", \"10.0.0.0/8\")")
        entries = tuple(self.string(v, f"api.hub_callbacks[{n}]") for n, v in enumerate(raw))
        try:
            CallbackPolicy.of(entries)
        except ValueError as exc:
            self.fail("api.hub_callbacks", str(exc))
        return entries

    def oauth2(self, raw) -> OAuth2Config:
        key = "api.oauth2"
        table = self.table(raw, key, {"issuer", "audience", "jwks_url", "roles_claim", "role_prefix", "name_claim", "algorithms"})
        for needed in ("issuer", "audience", "jwks_url"):
            if needed not in table:
                self.fail(key, f"needs {needed}")
        algorithms = table.get("algorithms", ["RS256", "ES256"])
        allowed = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
        if not isinstance(algorithms, list) or not algorithms or any(a not in allowed for a in algorithms):
            self.fail(f"{key}.algorithms", f"must be a list of asymmetric algorithms ({', '.join(allowed)}): a shared secret is not a key we take")
        return OAuth2Config(
            self.string(table["issuer"], f"{key}.issuer"),
            self.string(table["audience"], f"{key}.audience"),
            self.url(table["jwks_url"], f"{key}.jwks_url"),
            self.string(table.get("roles_claim", "roles"), f"{key}.roles_claim"),
            table.get("role_prefix", "") and self.string(table["role_prefix"], f"{key}.role_prefix"),
            self.string(table.get("name_claim", "sub"), f"{key}.name_claim"),
            tuple(algorithms),
        )

    def api(self, raw) -> tuple:
        """[api] tokens: each a name, a role, and the token's sha256 (`hash`), or the token from the environment (`token = "$NAME"`)."""
        import hashlib

        given = raw.get("tokens", [])
        if not isinstance(given, list):
            self.fail("api.tokens", "must be an array of tables: { name, role, hash | token }")
        tokens, names = [], set()
        for n, entry in enumerate(given):
            key = f"api.tokens[{n}]"
            self.table(entry, key, {"name", "role", "hash", "token"})
            name = self.string(entry.get("name"), f"{key}.name")
            role = self.string(entry.get("role"), f"{key}.role")
            if role not in API_ROLES:
                self.fail(f"{key}.role", f"{role!r} is not a role (roles: {', '.join(API_ROLES)})")
            if name in names:
                self.fail(f"{key}.name", f"a second token named {name!r}")
            names.add(name)
            if ("hash" in entry) == ("token" in entry):
                self.fail(key, "give the token's hash (sha256:HEX) or token = \"$NAME\" (from the environment), one of them")
            if "token" in entry:
                if not isinstance(entry["token"], str) or not entry["token"].startswith("$"):
                    self.fail(f"{key}.token", "a token is never written in a file: give its hash (sha256:HEX, e.g. printf %s TOKEN | sha256sum) or \"$NAME\" to read it from the environment")
                digest = hashlib.sha256(self.string(entry["token"], f"{key}.token").encode("utf-8")).digest()
            else:
                text = self.string(entry["hash"], f"{key}.hash").lower()
                if not _HASH.match(text):
                    self.fail(f"{key}.hash", "must be sha256: and 64 hex digits (printf %s TOKEN | sha256sum)")
                digest = bytes.fromhex(text.split(":", 1)[1])
            tokens.append(ApiToken(name, role, digest))
        return tuple(tokens)

    def secret(self, engine: dict) -> Optional[str]:
        from om_dsl.systems.callback_auth import MIN_SECRET, SECRET_ENV

        if "callback_secret" in engine and "callback_secret_file" in engine:
            self.fail("engine", "give callback_secret or callback_secret_file, not both")
        if "callback_secret" in engine:
            key, secret = "engine.callback_secret", self.string(engine["callback_secret"], "engine.callback_secret")
        elif "callback_secret_file" in engine:
            key = "engine.callback_secret_file"
            path = self.string(engine["callback_secret_file"], key)
            try:
                secret = Path(path).read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                self.fail(key, f"cannot read {path}: {exc.strerror if isinstance(exc, OSError) else exc}")
        else:
            key, secret = SECRET_ENV, _env_secret(self.env)
            if secret is None:
                return None
        if len(secret) < MIN_SECRET:  # (the secret itself is never shown)
            self.fail(key, f"the callback secret has {len(secret)} characters; at least {MIN_SECRET} are needed (e.g. python -c 'import secrets; print(secrets.token_hex(32))')")
        return secret


    def system(self, name: str, raw) -> SystemConfig:
        key = f"systems.{name}"
        raw = self.table(raw, key, {"adapter", "base_url", "timeout", "max_response_bytes", "retryable_status", "headers", "operations", "target", "entry_point"})
        adapter = raw.get("adapter", "http" if "base_url" in raw else "simulated")
        if adapter not in ADAPTERS:
            self.fail(f"{key}.adapter", f"must be one of {', '.join(ADAPTERS)}, not {adapter!r}")
        out = {"adapter": adapter}
        if adapter == "http":
            if "base_url" not in raw:
                self.fail(key, "an http system needs a base_url")
            out["base_url"] = self.url(raw["base_url"], f"{key}.base_url")
        if adapter == "python":
            if ("target" in raw) == ("entry_point" in raw):
                self.fail(key, "a python system needs a target (\"package.module:function\") or an entry_point, not both")
            if "target" in raw:
                target = self.string(raw["target"], f"{key}.target")
                if not re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", target):
                    self.fail(f"{key}.target", f"{target!r} is not \"package.module:function\"")
                out["target"] = target
            else:
                out["entry_point"] = self.string(raw["entry_point"], f"{key}.entry_point")
        if "timeout" in raw:
            out["timeout_ms"] = self.duration(raw["timeout"], f"{key}.timeout")
        if "max_response_bytes" in raw:
            v = raw["max_response_bytes"]
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                self.fail(f"{key}.max_response_bytes", "must be a positive integer")
            out["max_response_bytes"] = v
        if "retryable_status" in raw:
            v = raw["retryable_status"]
            if not isinstance(v, list) or not all(isinstance(x, int) and 400 <= x <= 499 for x in v):
                self.fail(f"{key}.retryable_status", "must be a list of 4xx status codes (5xx are always retryable)")
            out["retryable_status"] = tuple(v)
        if "headers" in raw:
            headers = self.table(raw["headers"], f"{key}.headers", set(raw["headers"]) if isinstance(raw["headers"], dict) else set())
            out["headers"] = {h: self.string(v, f"{key}.headers.{h}") for h, v in headers.items()}
        ops = {}
        for op, rawop in self.table(raw.get("operations", {}), f"{key}.operations", set(raw.get("operations", {})) if isinstance(raw.get("operations", {}), dict) else set()).items():
            okey = f"{key}.operations.{op}"
            rawop = self.table(rawop, okey, {"method", "path", "outputs"})
            method = rawop.get("method", "POST")
            if method not in ("POST", "PUT", "PATCH"):
                self.fail(f"{okey}.method", f"must be POST, PUT or PATCH (the arguments go in the body), not {method!r}")
            path = rawop.get("path")
            if path is not None and (not isinstance(path, str) or not path.startswith("/")):
                self.fail(f"{okey}.path", "must start with /")
            outputs = rawop.get("outputs", {})
            if not isinstance(outputs, dict) or not all(isinstance(v, str) for v in outputs.values()):
                self.fail(f"{okey}.outputs", "must map output names to answer fields")
            ops[op] = OperationConfig(method, path, dict(outputs))
        out["operations"] = ops
        return SystemConfig(name, **out)


def _env_secret(env) -> Optional[str]:
    from om_dsl.systems.callback_auth import SECRET_ENV

    return env.get(SECRET_ENV) or None
