"""The TMF622 API over the Temporal engine (`om serve --engine temporal`):
the same create, read, list and patch as on the embedded engine
(tests/test_api.py), through the Temporal order service, a worker in this
process and the development server; answers validated against the official
schemas. What Temporal does not have yet (the hub, CancelProductOrder,
submitter ownership) answers a TMF Error, never a traceback."""

from __future__ import annotations

import uuid

import pytest

pytest.importorskip("temporalio")

from om_dsl.api.server import in_thread  # noqa: E402
from om_dsl.cli.engines import Serialized  # noqa: E402
from om_dsl.rules.generated import GeneratedRules  # noqa: E402

from support.api_server import Client, order_body, tokens  # noqa: E402
from support.engine_helpers import ACME  # noqa: E402
from support.scenario_engines import OnTemporal  # noqa: E402


class TemporalApi:
    def __init__(self, tmp_path, server):
        from om_dsl.temporal.service import TemporalService

        rules = GeneratedRules(ACME)
        self.engine = OnTemporal(tmp_path, rules, {}, server)
        self.service = Serialized(TemporalService(server.address, "default", self.engine.queue, rules))
        self.http = in_thread(self.service, tokens()).start()
        self.url = self.http.url

    def client(self, who="operator", version="v4") -> Client:
        return Client(self, who, version)

    def close(self):
        self.http.stop()
        self.engine._terminate_leftovers()
        self.service.close()
        self.engine.close() if hasattr(self.engine, "close") else None


@pytest.fixture
def api(tmp_path, temporal_server):
    a = TemporalApi(tmp_path, temporal_server)
    yield a
    a.close()


def fresh(version="v4", name="fiber-minimal.json"):
    n = uuid.uuid4().hex[:8]
    body = order_body(name, version, id=f"ORD-T{n}")
    for party in body["relatedParty"]:  # the server keeps each customer's installed base across tests
        party["id"] = f"ACC-T{n}"
        if "partyOrPartyRole" in party:
            party["partyOrPartyRole"]["id"] = party["id"]
    return body


@pytest.mark.parametrize("version", ["v4", "v5"])
def test_create_read_and_list_on_temporal(api, version):
    client = api.client("submitter", version)
    r = client.post("/productOrder", fresh(version))
    assert r.status_code == 201, r.text
    order = r.json()
    assert r.headers["location"] == order["href"] and order["state"] in ("acknowledged", "inProgress")
    reader = api.client("operator", version)  # (Temporal does not keep who submitted: operators read)
    got = reader.get(f"/productOrder/{order['id']}")
    assert got.status_code == 200 and got.json()["id"] == order["id"]
    listed = reader.get("/productOrder")
    assert order["id"] in [o["id"] for o in listed.json()] and int(listed.headers["x-total-count"]) >= 1
    assert reader.get("/productOrder/ORD-NOPE-T").status_code == 404


def test_a_rejected_order_and_a_bad_body_on_temporal(api):
    client = api.client("submitter")
    body = fresh(name="invalid-speed-not-allowed.json")
    r = client.post("/productOrder", body)  # Temporal keeps no rejected order: the answer is the rejection itself
    assert (r.status_code, r.json()["code"]) == (400, "allowed_values"), r.text
    assert r.json()["referenceError"].endswith("#/productOrderItem/0/product/productCharacteristic/0/value")
    del body["productOrderItem"][0]["action"]
    assert client.post("/productOrder", body).status_code == 400


def test_a_patch_is_a_supplemental_order_on_temporal(api):
    client = api.client("operator")
    body = fresh(name="amend/order.json")
    order = client.post("/productOrder", body).json()
    revised = order_body("amend/speed-1000.json")
    r = client.request("PATCH", f"/productOrder/{order['id']}", json={"productOrderItem": revised["productOrderItem"]}, headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200, r.text
    speeds = [c["value"] for c in r.json()["productOrderItem"][0]["product"]["productCharacteristic"] if c["name"] == "speed_mbps"]
    assert speeds == [1000]
    assert api.service.order(order["id"])["revision"] == 2


def test_what_temporal_lacks_is_a_tmf_error(api):
    client = api.client("admin")
    assert client.post("/hub", {"callback": "http://127.0.0.1:9/events"}, kind="hub").status_code == 409
    order = client.post("/productOrder", fresh()).json()
    assert client.post("/cancelProductOrder", {"productOrder": {"id": order["id"]}}, kind="cancel").status_code == 409
