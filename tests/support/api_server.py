"""A real `om serve` API for tests: the embedded engine's shared service, the
API on 127.0.0.1 (a free port) with three tokens, and httpx clients that
check every answer against the official TMF622 schema of its version."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json

import httpx

from om_dsl.api import auth
from om_dsl.api.app import PREFIX
from om_dsl.api.server import in_thread
from om_dsl.embedded.service import Options, serving
from om_dsl.rules.generated import GeneratedRules
from om_dsl.systems.config import ApiToken

from support import PATIENCE_S, ROOT, tmf622_schemas
from support.engine_helpers import ACME

TOKENS = {"submitter": "cpq-secret-1", "other": "cpq-secret-2", "operator": "noc-secret", "viewer": "bi-secret", "admin": "root-secret"}
ROLES = {"submitter": "submitter", "other": "submitter", "operator": "operator", "viewer": "viewer", "admin": "admin"}
# What each answer is, per version (lists: each element).
RESOURCES = {
    ("v4", "order"): "ProductOrder", ("v5", "order"): "ProductOrder",
    ("v4", "cancel"): "CancelProductOrder", ("v5", "cancel"): "CancelProductOrder",
    ("v4", "hub"): "EventSubscription", ("v5", "hub"): "Hub",
    ("v4", "error"): "Error", ("v5", "error"): "Error",
}


def tokens() -> auth.Tokens:
    return auth.Tokens([ApiToken(name, ROLES[name], hashlib.sha256(t.encode()).digest()) for name, t in TOKENS.items()], env={})


@contextlib.contextmanager
def one_order_served(tmp_path, rules, system: str, faults: dict, doc: dict):
    """The API on the embedded engine with `system` over HTTP (a simulator of `rules`' catalog with
    `faults`), and `doc` submitted and run as far as it goes: (the API's url, the service, the order id)."""
    from om_dsl.simulate.server import SimulatorServer

    sim = SimulatorServer(rules.catalog, str(tmp_path / "sim.db"), port=0, faults=faults).start()
    config = tmp_path / "om.toml"
    config.write_text(f'[systems.{system}]\nbase_url = "{sim.url}"\n', encoding="utf-8")
    try:
        with serving(Options(db_path=str(tmp_path / "om.db"), clock="simulated", start=1_795_780_800_000, config_path=str(config)), rules) as service:
            http = in_thread(service, tokens(), callbacks=service.callbacks).start()
            try:
                order_id, _, _ = service.submit(json.dumps(doc))
                service.settle([order_id])
                yield http.url, service, order_id
            finally:
                http.stop()
    finally:
        sim.stop()


class Server:
    engine_name = "embedded"

    def __init__(self, tmp_path, request_timeout_s: float = 5.0, callers: auth.Tokens = None, settings=None):
        self.rules = GeneratedRules(ACME)
        self._serving = serving(Options(db_path=str(tmp_path / "om.db"), clock="simulated", start=1_795_780_800_000, tasks_path=(str(ROOT / "examples"),)), self.rules)
        self.service = self._serving.__enter__()
        extra = {"settings": settings} if settings is not None else {}
        self.http = in_thread(self.service, callers or tokens(), callbacks=self.service.callbacks, request_timeout_s=request_timeout_s, **extra).start()
        self.cli_args = ["--db", str(tmp_path / "om.db")]  # `om ...` on the same orders

    @property
    def url(self) -> str:
        return self.http.url

    def client(self, who: str = "submitter", version: str = "v4") -> "Client":
        return Client(self, who, version)

    def settle(self, order_id: str, predicate=lambda view: True) -> dict:
        """Run the order as far as it goes (what `om serve`'s work loop does); its view, which must satisfy `predicate`."""
        self.service.settle([order_id])
        view = self.service.order(order_id)
        assert predicate(view), view
        return view

    def until(self, check):
        """`check()`'s answer, which must be true: here at once (the orders were settled)."""
        got = check()
        assert got, got
        return got

    def close(self) -> None:
        self.http.stop()
        self._serving.__exit__(None, None, None)


class Client:
    """httpx against the server as one token's holder; every JSON answer is validated."""

    def __init__(self, server: Server, who: str, version: str):
        self.server, self.version = server, version
        headers = {"Authorization": f"Bearer {TOKENS[who]}"} if who else {}
        self.http = httpx.Client(base_url=f"{server.url}{PREFIX}/{version}", headers=headers, timeout=60)

    def request(self, method: str, path: str, kind: str = "order", **kw) -> httpx.Response:
        r = self.http.request(method, path, **kw)
        if r.content and r.headers.get("content-type", "").startswith("application/json"):
            check(self.version, "error" if r.status_code >= 400 else kind, r.json())
        return r

    def post(self, path, body, kind="order", **kw):
        return self.request("POST", path, kind, json=body, **kw)

    def get(self, path, kind="order", **kw):
        return self.request("GET", path, kind, **kw)


def check(version: str, kind: str, body) -> None:
    """Raise when `body` (or each element of a list) breaks the official schema
    (the suite's own validator, tests/support/tmf622_schemas.py, not the API's)."""
    for one in body if isinstance(body, list) else [body]:
        errors = tmf622_schemas.errors_of(version, RESOURCES[(version, kind)], one)
        assert not errors, f"{version} {kind} breaks the official schema: {errors[:3]}\n{json.dumps(one)[:500]}"


def order_body(name: str = "fiber-minimal.json", version: str = "v4", **changes) -> dict:
    """An example order, adapted to the official schema of `version` (what CPQ sends)."""
    doc = json.loads((ROOT / "examples" / "orders" / name).read_text())
    doc = copy.deepcopy(doc)
    doc.pop("id", None)
    doc.update(changes)
    for party in doc.get("relatedParty", []):
        party["@referredType"] = "Customer"
        if version == "v5":
            party["@type"] = "RelatedPartyOrPartyRole"
            party["partyOrPartyRole"] = {"@type": "PartyRef", "id": party["id"], "@referredType": "Customer"}
    if version == "v5":
        doc["@type"] = "ProductOrder"
        doc.pop("externalId", None)  # v5's is a list of ExternalIdentifier: om's intake takes it with issue 19

        def typed(items):
            for item in items:
                item["@type"] = "ProductOrderItem"
                if "productOffering" in item:
                    item["productOffering"]["@type"] = "ProductOfferingRef"
                if "product" in item:
                    item["product"]["@type"] = "Product"
                    for c in item["product"].get("productCharacteristic", []):
                        c["@type"] = {bool: "BooleanCharacteristic", int: "IntegerCharacteristic", float: "FloatCharacteristic"}.get(type(c.get("value")), "StringCharacteristic")
                typed(item.get("productOrderItem", []))

        typed(doc["productOrderItem"])
    return doc


class TemporalServer:
    """The same API over the Temporal engine (`om serve --engine temporal`):
    TemporalService on `engine`'s task queue (an OnTemporal worker, shared by
    a module's tests), served on 127.0.0.1. Quacks like `Server`."""

    engine_name = "temporal"

    def __init__(self, engine):
        from om_dsl.cli.engines import Serialized
        from om_dsl.temporal.service import TemporalService

        self.engine, self.rules = engine, engine.orders.rules
        self.service = Serialized(TemporalService(engine.orders.address, "default", engine.queue, self.rules))
        self.http = in_thread(self.service, tokens()).start()
        self.cli_args = ["--engine", "temporal", "--address", engine.orders.address, "--task-queue", engine.queue]  # `om ...` on the same orders

    @property
    def url(self) -> str:
        return self.http.url

    def client(self, who: str = "submitter", version: str = "v4") -> Client:
        return Client(self, who, version)

    def settle(self, order_id: str, predicate=lambda view: True) -> dict:
        """Wait (real time, up to PATIENCE_S) until the workers have brought the order where `predicate` says."""
        from om_dsl.temporal.client import wait_until

        return wait_until(self.engine.orders, order_id, predicate, PATIENCE_S)

    def until(self, check):
        """Wait (up to PATIENCE_S) until `check()` is true (an event delivered, a listing caught up); its answer."""
        import time

        deadline = time.monotonic() + PATIENCE_S
        while not (got := check()):
            assert time.monotonic() < deadline, f"not there in {PATIENCE_S} s: {got}"
            time.sleep(0.1)
        return got

    def close(self) -> None:
        self.http.stop()
        self.service.close()
