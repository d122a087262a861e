"""A real `om serve` API for tests: the embedded engine's shared service, the
API on 127.0.0.1 (a free port) with three tokens, and httpx clients that
check every answer against the official TMF622 schema of its version."""

from __future__ import annotations

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

from support import ROOT, tmf622_schemas
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


class Server:
    def __init__(self, tmp_path, request_timeout_s: float = 5.0, callers: auth.Tokens = None, settings=None):
        self.rules = GeneratedRules(ACME)
        self._serving = serving(Options(db_path=str(tmp_path / "om.db"), clock="simulated", start=1_795_780_800_000, tasks_path=(str(ROOT / "examples"),)), self.rules)
        self.service = self._serving.__enter__()
        extra = {"settings": settings} if settings is not None else {}
        self.http = in_thread(self.service, callers or tokens(), callbacks=self.service.callbacks, request_timeout_s=request_timeout_s, **extra).start()

    @property
    def url(self) -> str:
        return self.http.url

    def client(self, who: str = "submitter", version: str = "v4") -> "Client":
        return Client(self, who, version)

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
