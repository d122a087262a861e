"""How the engine reaches downstream systems and auto tasks.

One interface: `call(...) -> CallResult`. A result is `ok` (with the
operation's outputs), `accepted` (an asynchronous operation acknowledged
the call; its answer comes later by callback, matched by the call's
idempotency key), or `error` (retryable or not).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import inspect
import os
import sys
from typing import Optional

import attrs

from om_dsl.systems import callback_auth, http
from om_dsl.systems.config import Config, SystemConfig


@attrs.frozen
class CallResult:
    status: str  # ok, accepted, error
    outputs: dict = attrs.field(factory=dict)
    message: str = ""
    retryable: bool = True
    # What kind of failure, for retry policies that choose (`for 5xx, timeout`,
    # `fatal 409`): an HTTP status ("409"), "timeout", "unreachable", "error"
    # (an auto task or adapter raised); None when it is none of those.
    failure: Optional[str] = None

    @classmethod
    def ok(cls, outputs: Optional[dict] = None) -> "CallResult":
        return cls("ok", outputs or {})

    @classmethod
    def accepted(cls) -> "CallResult":
        return cls("accepted")

    @classmethod
    def error(cls, message: str, retryable: bool = True, failure: Optional[str] = None) -> "CallResult":
        return cls("error", {}, message, retryable, failure)


class PythonTasks:
    """Auto tasks: `"package.module:function"`, called with the task's
    arguments as keywords; it returns a dict of outputs (or None). A function
    that takes an `idempotency_key` parameter gets the call's key too, the
    same on every retry and after a crash, so that it can apply its effect once.

    Only a task package's functions are called: a catalog's own
    (`add_package`: the copy beside its compiled folder, or the folder beside
    its specs), or a package in a `--tasks-path` folder (searched first: an
    override). Anything else (`os:system`) is refused without a retry: the
    checker refuses it too (E531); this is for catalogs compiled before."""

    def __init__(self, paths: tuple[str, ...] = ()):
        self.paths = tuple(paths)
        self.packages: dict[str, str] = {}  # a catalog's package name -> the folder holding it
        for p in reversed(self.paths):  # the first path given is searched first
            if p not in sys.path:
                sys.path.insert(0, p)

    def add_package(self, name: str, folder: str) -> None:
        """A catalog's task package NAME, in FOLDER. The first folder given for a
        name serves it: one package of a name per process (Python imports it once)."""
        if name in self.packages or not name.isidentifier() or name in _RESERVED:
            return
        folder = os.path.abspath(folder)
        self.packages[name] = folder
        if folder not in sys.path:
            given = [sys.path.index(p) for p in self.paths if p in sys.path]
            sys.path.insert(max(given) + 1 if given else 0, folder)

    def refusal(self, module: str) -> Optional[str]:
        """Why MODULE may not be called, or None."""
        top = module.split(".")[0]
        if top in _RESERVED:
            return f"`{top}` is not a task package"
        if top in self.packages or any(os.path.isdir(os.path.join(p, top)) or os.path.isfile(os.path.join(p, top + ".py")) for p in self.paths):
            return None
        known = ", ".join(sorted(self.packages)) or "none"
        return f"`{top}` is neither the catalog's task package (known: {known}) nor in a --tasks-path folder"

    def call(self, target: str, args: dict, key: str) -> CallResult:
        module_name, _, function = target.partition(":")
        refused = self.refusal(module_name)
        if refused:
            return CallResult.error(f"refused to call {target}: {refused}", retryable=False)
        try:
            fn = getattr(importlib.import_module(module_name), function)
        except (ImportError, AttributeError) as exc:
            return CallResult.error(f"cannot load {target}: {exc}", retryable=False)
        try:
            kwargs = dict(args)
            if "idempotency_key" in _parameters(fn):
                kwargs["idempotency_key"] = key
            result = fn(**kwargs)
        except Exception as exc:  # the task's own failure: retried by its policy
            return CallResult.error(f"{target} raised {type(exc).__name__}: {exc}", failure="error")
        if result is not None and not isinstance(result, dict):
            return CallResult.error(f"{target} returned {type(result).__name__}, not a dict of outputs", retryable=False)
        return CallResult.ok(result or {})


# Names a task package cannot have: importing it would find the standard module (or om's own).
_RESERVED = frozenset(sys.stdlib_module_names) | {"om_dsl", "lark", "attrs", "jinja2", "click", "builtins", "__main__"}


def _parameters(fn) -> set:
    try:
        return set(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return set()


# ---- downstream systems ------------------------------------------------------------------------------


class HttpSystem:
    """A system over HTTP/JSON: each operation is a request to BASE_URL/PATH
    with the arguments as a JSON body, an `Idempotency-Key` header (the same
    on every retry of the call), and for asynchronous operations an
    `X-Callback-Url` where the answer is to be POSTed later: the configured
    callback URL with the call's token (om_dsl.systems.callback_auth), made
    with the secret `secret()` gives."""

    def __init__(self, cfg: SystemConfig, callback_url: Optional[str], secret=lambda: None):
        self.cfg = cfg
        self.callback_url = callback_url
        self.secret = secret

    def call(self, operation: str, args: dict, key: str, outputs: list, is_async: bool, timeout_ms: Optional[int]) -> CallResult:
        op = self.cfg.operations.get(operation)
        path = op.path if op and op.path else f"/{self.cfg.name}/{operation}"
        headers = dict(self.cfg.headers)
        headers["Idempotency-Key"] = key
        headers["X-Correlation-Id"] = key
        if is_async:
            if not self.callback_url:
                return CallResult.error(f"{self.cfg.name}.{operation} answers by callback, and no [engine] callback_url is configured", retryable=False)
            secret = self.secret()
            if not secret:
                return CallResult.error(f"{self.cfg.name}.{operation} answers by callback, and no callback secret is configured ([engine] callback_secret, or {callback_auth.SECRET_ENV})", retryable=False)
            headers["X-Callback-Url"] = callback_auth.url_with_token(self.callback_url, key, secret)
        # An asynchronous operation's timeout is its callback's deadline: the request itself only waits for the acknowledgement.
        timeout = (self.cfg.timeout_ms or (None if is_async else timeout_ms) or 30_000) / 1000
        method = op.method if op else "POST"
        answer = http.post_json(self.cfg.base_url + path, args, headers, timeout, self.cfg.max_response_bytes, self.cfg.retryable_status, method)
        if answer.error:
            return CallResult.error(answer.error, retryable=answer.retryable, failure=answer.failure)
        if is_async:
            if answer.status != 202 and answer.status != 200:
                return CallResult.error(f"{self.cfg.base_url + path} answered {answer.status} to an asynchronous call", retryable=False, failure=str(answer.status))
            return CallResult.accepted()
        if not isinstance(answer.body, dict):
            return CallResult.error(f"{self.cfg.base_url + path} answered {answer.status} without a JSON object of outputs", retryable=False)
        fields = op.outputs if op else {}
        return CallResult.ok({name: answer.body.get(fields.get(name, name)) for name, _type in outputs})


class PythonSystem:
    """A system served in-process by a function of ours: `function(operation, args, idempotency_key)` -> outputs."""

    def __init__(self, cfg: SystemConfig):
        self.cfg = cfg
        self._fn = None

    def _load(self):
        if self._fn is None:
            if self.cfg.target:
                module, _, name = self.cfg.target.partition(":")
                self._fn = getattr(importlib.import_module(module), name)
            else:
                found = [e for e in importlib.metadata.entry_points(group="om_dsl.adapters") if e.name == self.cfg.entry_point]
                if not found:
                    raise LookupError(f"no entry point {self.cfg.entry_point!r} in the group om_dsl.adapters")
                self._fn = found[0].load()
        return self._fn

    def call(self, operation: str, args: dict, key: str, outputs: list, is_async: bool, timeout_ms: Optional[int]) -> CallResult:
        try:
            fn = self._load()
        except (ImportError, AttributeError, LookupError) as exc:
            return CallResult.error(f"cannot load the adapter of {self.cfg.name}: {exc}", retryable=False)
        try:
            result = fn(operation, dict(args), key)
        except Exception as exc:  # the adapter's own failure: retried by the policy
            return CallResult.error(f"{self.cfg.name}.{operation}: {type(exc).__name__}: {exc}", failure="error")
        if is_async:
            return CallResult.accepted()
        if result is not None and not isinstance(result, dict):
            return CallResult.error(f"{self.cfg.name}.{operation} returned {type(result).__name__}, not a dict of outputs", retryable=False)
        return CallResult.ok(result or {})


class _Unconfigured:
    def __init__(self, message: str):
        self.message = message

    def call(self, operation, args, key, outputs, is_async, timeout_ms) -> CallResult:
        return CallResult.error(self.message, retryable=False)


class Systems:
    """Which adapter serves which system, by the deployment configuration.
    Systems the configuration does not name go to the default adapter (the
    in-process simulators, unless the configuration says otherwise).

    `callback_secret()`: the secret of callback tokens when the configuration
    names none (the embedded engine: the store's)."""

    def __init__(self, config: Config, simulators, callback_secret=None):
        self.config = config
        self.simulators = simulators
        self.callback_secret = callback_secret
        self._adapters: dict = {}

    def batch(self):
        """Calls made inside share one commit of the in-process simulators' database (`Simulators.batch`); other adapters are unaffected."""
        batch = getattr(self.simulators, "batch", None)
        return batch() if batch is not None else contextlib.nullcontext()

    def secret(self) -> Optional[str]:
        if self.config.callback_secret:
            return self.config.callback_secret
        return self.callback_secret() if self.callback_secret is not None else None

    def adapter(self, system: str):
        if system not in self._adapters:
            cfg = self.config.system(system)
            if cfg.adapter == "http":
                self._adapters[system] = HttpSystem(cfg, self.config.callback_url, self.secret) if cfg.base_url else _Unconfigured(f"{self.config.path}: system {system} is served over http, and has no base_url")
            elif cfg.adapter == "python":
                self._adapters[system] = PythonSystem(cfg)
            else:
                self._adapters[system] = None
        return self._adapters[system]

    # The in-process simulators also answer asynchronous calls in-process, and
    # play the originating system when no listener is registered.
    def pending_callbacks(self):
        return self.simulators.pending_callbacks()

    def ack_callback(self, callback_id: int) -> None:
        self.simulators.ack_callback(callback_id)

    def notify(self, message_id: str, payload: dict) -> bool:
        return self.simulators.notify(message_id, payload)

    def close(self) -> None:
        self.simulators.close()

    def call(self, system: str, operation: str, args: dict, key: str, outputs: list, is_async: bool = False, timeout_ms: Optional[int] = None) -> CallResult:
        adapter = self.adapter(system)
        if adapter is None:
            return self.simulators.call(system, operation, args, key, outputs, is_async)
        return adapter.call(operation, args, key, outputs, is_async, timeout_ms)
