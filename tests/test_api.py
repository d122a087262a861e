"""The TMF622 API over HTTP (om_dsl/api/, docs/api.md): a real server on
127.0.0.1 talked to with httpx; every JSON answer is checked against the
official schema of its version (tests/support/api_server.py).

The same tests run on both engines (`server`: the embedded engine's shared
service, as `om serve` runs it; and Temporal's service over the session's
development server, one worker in this process for the whole module). On
Temporal the workers run the orders in real time: a test waits for what it
reads (`server.settle`, `server.until`). Orders get fresh ids and customers
(the Temporal server outlives a test); listings are filtered to the test's
own orders. What only one engine has (its store, a system taken offline,
the server's limits) is tested on `embedded` alone."""

from __future__ import annotations

import json
import socket
import time
import uuid

import httpx
import pytest

from om_dsl import limits
from om_dsl.api.app import PREFIX

from support import PATIENCE_S
from support.api_server import TOKENS, Server, TemporalServer
from support.api_server import order_body as example_body
from support.listener import Listener

BOTH = ["embedded", "temporal"]
MERGE = {"Content-Type": "application/merge-patch+json"}


@pytest.fixture(scope="module")
def api_worker(tmp_path_factory, temporal_server):
    """A Temporal worker for the module's tests (one task queue, the session's dev server)."""
    from om_dsl.rules.generated import GeneratedRules

    from support.engine_helpers import ACME
    from support.scenario_engines import OnTemporal

    engine = OnTemporal(tmp_path_factory.mktemp("api-worker"), GeneratedRules(ACME), {}, temporal_server)
    yield engine
    engine.close()


@pytest.fixture(params=BOTH)
def server(request, tmp_path):
    s = Server(tmp_path) if request.param == "embedded" else TemporalServer(request.getfixturevalue("api_worker"))
    yield s
    s.close()


@pytest.fixture
def temporal(api_worker):
    """Temporal alone: delivery there (the embedded engine's: tests/test_operations.py, tests/test_cli_operations.py)."""
    s = TemporalServer(api_worker)
    yield s
    s.close()


@pytest.fixture
def embedded(tmp_path):
    """The embedded engine alone: what Temporal has not (its store, systems offline, callbacks on this port)."""
    s = Server(tmp_path)
    yield s
    s.close()


def created(client, body) -> dict:
    r = client.post("/productOrder", body)
    assert r.status_code == 201, r.text
    return r.json()


def uid(stem: str = "ORD") -> str:
    return f"{stem}-{uuid.uuid4().hex[:8].upper()}"


def order_body(name: str = "fiber-minimal.json", version: str = "v4", customer: str = "", **changes) -> dict:
    """An example order under a fresh id and customer (unless given)."""
    changes.setdefault("id", uid())
    doc = example_body(name, version, **changes)
    customer = customer or uid("ACC")
    for party in doc.get("relatedParty", []):
        party["id"] = customer
        if "partyOrPartyRole" in party:
            party["partyOrPartyRole"]["id"] = customer
    return doc


# ---- authentication and roles ---------------------------------------------------------------------


def test_no_token_or_a_bad_one_is_401_with_a_tmf_error(server):
    url = f"{server.url}{PREFIX}/v4/productOrder"
    r = httpx.get(url)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert r.json()["code"] == "unauthorized" and r.json()["status"] == "401"
    for header in ("Bearer nope", "Basic " + TOKENS["admin"], "Bearer", TOKENS["admin"]):
        r = httpx.get(url, headers={"Authorization": header})
        assert r.status_code == 401, header
        assert r.headers["www-authenticate"].startswith("Bearer")
    assert httpx.get(url + "?externalId=none", headers={"Authorization": "Bearer " + TOKENS["admin"]}).status_code == 200


def test_each_role_may_do_what_it_may_and_no_more(server):
    assert server.client("viewer").post("/productOrder", order_body()).status_code == 403
    mark = uid("CPQ")
    order = created(server.client("submitter"), order_body(externalId=mark))
    assert server.client("viewer").get(f"/productOrder/{order['id']}").status_code == 200
    # a submitter sees its own orders only; an operator and an admin see every one
    hidden = server.client("other").get(f"/productOrder/{order['id']}")
    assert hidden.status_code == 404 and hidden.json() == server.client("other").get("/productOrder/ORD-NONE").json()  # it cannot tell
    # (listed first where its submitter sees it: Temporal lists orders from its visibility store, a moment behind)
    server.until(lambda: server.client("submitter").get(f"/productOrder?externalId={mark}").headers["x-total-count"] == "1")
    assert server.client("other").get(f"/productOrder?externalId={mark}").headers["x-total-count"] == "0"
    for who in ("submitter", "operator", "admin", "viewer"):
        assert server.client(who).get(f"/productOrder?externalId={mark}").headers["x-total-count"] == "1", who
    # nor change or cancel them
    r = server.client("other").request("PATCH", f"/productOrder/{order['id']}", json={"description": "x"}, headers=MERGE)
    assert r.status_code == 404
    assert server.client("other").post("/cancelProductOrder", {"productOrder": {"id": order["id"]}}, kind="cancel").status_code == 404
    # only an operator (or admin) may force past a soft point of no return
    r = server.client("submitter").request("PATCH", f"/productOrder/{order['id']}?force=true", json={"description": "x"}, headers=MERGE)
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    assert server.client("viewer").post("/hub", {"callback": "http://127.0.0.1:9/x"}, kind="hub").status_code == 403


def test_the_demo_token_from_the_environment_is_an_admin(tmp_path):
    from om_dsl.api import auth

    tokens = auth.Tokens([], env={auth.TOKEN_ENV: "demo-token"})
    assert tokens.caller("Bearer demo-token").role == "admin"
    with pytest.raises(auth.Unauthenticated):
        tokens.caller("Bearer demo-tokeN")
    assert not auth.Tokens([], env={})


# ---- productOrder ---------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["v4", "v5"])
def test_create_then_read_by_its_location(server, version):
    client = server.client("submitter", version)
    r = client.post("/productOrder", order_body(version=version))
    assert r.status_code == 201, r.text
    order = r.json()
    assert r.headers["location"] == order["href"] and order["href"].endswith(f"/{version}/productOrder/{order['id']}")
    if server.engine_name == "embedded":  # (started in the request; on Temporal a worker starts it)
        assert order["state"] == "inProgress" and order["productOrderItem"][0]["state"] == "inProgress"
    else:
        assert order["state"] in ("acknowledged", "inProgress")
    got = client.get(r.headers["location"])
    assert got.status_code == 200 and got.json()["id"] == order["id"]


def test_an_order_is_durable_before_its_201(embedded, tmp_path):
    order = created(embedded.client(), order_body())
    from om_dsl.embedded.service import Options, reading

    with reading(Options(db_path=str(tmp_path / "om.db"))) as other:  # another connection, as another process would
        assert other.order(order["id"])["submitted_by"] == "submitter"


@pytest.mark.parametrize("version", ["v4", "v5"])
def test_a_body_that_breaks_the_schema_is_400_pointing_at_the_field(server, version):
    body = order_body(version=version)
    del body["productOrderItem"][0]["action"]
    r = server.client("submitter", version).post("/productOrder", body)
    assert r.status_code == 400 and r.json()["code"] == "schemaViolation"
    assert r.json()["referenceError"].endswith("/productOrder#/productOrderItem/0/action")
    assert server.client("admin", version).get(f"/productOrder/{body['id']}").status_code == 404  # nothing kept


@pytest.mark.parametrize("body, code", [(b"{not json", "invalidBody"), (b"[" * 200 + b"]" * 200, "invalidBody"), (b'{"productOrderItem": "x"}', "schemaViolation")])
def test_unreadable_bodies_are_400(server, body, code):
    r = server.client().request("POST", "/productOrder", content=body, headers={"Content-Type": "application/json"})
    assert (r.status_code, r.json()["code"]) == (400, code)


@pytest.mark.parametrize("version, field", [("v4", "note"), ("v5", "errorMessage")])
def test_an_order_breaking_a_catalog_rule_is_kept_rejected_with_its_reasons(server, version, field):
    client = server.client("submitter", version)
    order = created(client, order_body("invalid-speed-not-allowed.json", version))
    assert order["state"] == "rejected" and "speed_mbps" in json.dumps(order[field])
    again = client.get(f"/productOrder/{order['id']}").json()
    assert again["state"] == "rejected" and "speed_mbps" in json.dumps(again[field])
    if version == "v5":
        assert again["errorMessage"][0]["code"] == "allowed_values" and again["errorMessage"][0]["productOrderItem"][0]["itemId"] == "1"
    assert server.client("other", version).get(f"/productOrder/{order['id']}").status_code == 404  # its submitter's, like any order
    listed = server.until(lambda: client.get(f"/productOrder?state=rejected&relatedParty.id={order['relatedParty'][0]['id']}").json())  # (Temporal: once its visibility store has it)
    assert [o["id"] for o in listed] == [order["id"]]
    # its id is taken: the corrected order comes under another
    r = client.post("/productOrder", order_body(version=version, id=order["id"]))
    assert (r.status_code, r.json()["code"]) == (409, "duplicate_order")
    r = client.request("PATCH", f"/productOrder/{order['id']}", json={"productOrderItem": order_body(version=version)["productOrderItem"], **({"@type": "ProductOrder"} if version == "v5" else {})}, headers=MERGE)
    assert (r.status_code, r.json()["code"]) == (409, "refused"), r.text  # nothing to amend


def test_an_unknown_order_is_404_with_a_tmf_error(server):
    r = server.client().get("/productOrder/ORD-NOPE")
    assert r.status_code == 404 and r.json()["code"] == "notFound"
    r = server.client().get("/nothing-here")
    assert r.status_code == 404 and r.json()["@type"] == "Error"
    r = httpx.get(f"{server.url}{PREFIX}/v9/productOrder", headers={"Authorization": "Bearer " + TOKENS["admin"]})
    assert r.status_code == 404


def test_an_id_is_escaped_in_its_href_and_a_404_names_no_other_order(server):
    client = server.client("submitter")
    order = created(client, order_body(id=f"ORD {uuid.uuid4().hex[:6]}/x#y"))
    assert order["href"].endswith("/productOrder/" + order["id"].replace(" ", "%20").replace("/", "%2F").replace("#", "%23"))
    assert client.get(order["href"]).json()["id"] == order["id"]
    r = server.client("other").get("/productOrder/" + order["id"].split("/")[0])
    assert r.status_code == 404 and order["id"] not in r.text


def test_the_same_order_twice_is_409(server):
    body = order_body()
    created(server.client(), body)
    r = server.client().post("/productOrder", body)
    assert r.status_code == 409 and r.json()["code"] == "duplicate_order"  # om_dsl/tmf622/errors.py's code


def test_list_filters_fields_and_pages(server):
    client = server.client("submitter")
    customer = uid("ACC")  # the test's own orders: the listings below are filtered to this customer
    a = created(client, order_body(externalId=uid("CPQ"), id=uid("ORD-A"), customer=customer))  # (the same instant on the simulated clock: listed by id)
    b = created(client, order_body("tv-alone.json", externalId=uid("CPQ"), id=uid("ORD-B"), customer=customer))
    rejected = created(client, order_body("invalid-speed-not-allowed.json", externalId=uid("CPQ"), id=uid("ORD-C"), customer=customer))

    def ids(query):
        r = client.get(f"/productOrder?relatedParty.id={customer}&" + query)
        assert r.status_code == 200, r.text
        assert r.headers["x-result-count"] == str(len(r.json()))
        return [o["id"] for o in r.json()], int(r.headers["x-total-count"])

    server.until(lambda: ids("")[1] == 3)  # (Temporal lists orders from its visibility store: it may lag a moment)
    assert ids("") == ([a["id"], b["id"], rejected["id"]], 3)
    assert ids("state=rejected") == ([rejected["id"]], 1)
    assert ids(f"externalId={b['externalId']}") == ([b["id"]], 1)
    assert ids("productOrderItem.state=rejected") == ([rejected["id"]], 1)
    assert ids("orderDate.gt=2000-01-01T00:00:00Z")[1] == 3
    assert ids("orderDate.lt=2000-01-01T00:00:00Z") == ([], 0)
    assert ids("offset=1&limit=1") == ([b["id"]], 3)
    only = client.get(f"/productOrder?relatedParty.id={customer}&fields=state").json()
    assert len(only) == 3 and all(set(o) == {"id", "href", "@type", "state", "productOrderItem"} for o in only)  # v4 requires the items
    only = server.client("submitter", "v5").get(f"/productOrder?relatedParty.id={customer}&fields=state").json()
    assert len(only) == 3 and all(set(o) == {"id", "href", "@type", "state"} for o in only)
    for bad in ("limit=-1", "offset=x", "orderDate.gt=yesterday"):
        r = client.get("/productOrder?" + bad)
        assert (r.status_code, r.json()["code"]) == (400, "invalidQuery"), bad


# ---- PATCH: a supplemental order -------------------------------------------------------------------


def _amend_order(server):
    """ORD-3000 (docs/amend.md) past its soft point of no return: billing offline, the visit done (embedded: systems offline)."""
    client = server.client("submitter")
    order = created(client, order_body("amend/order.json", id=uid("ORD-3000")))
    service = server.service
    service.set_system("billing", True, "test")
    service.settle([order["id"]])
    service.complete_task(order["id"], "1/D1:install_visit", {"technician": "T-17"}, "jane")
    return client, order


def _speed_patch():
    revised = json.loads(open("examples/orders/amend/speed-1000.json").read())
    return {"description": revised["description"], "productOrderItem": revised["productOrderItem"]}


def test_patch_past_a_soft_point_of_no_return_is_409_unless_an_operator_forces_it(embedded, in_repo):
    server = embedded
    client, order = _amend_order(server)
    path = f"/productOrder/{order['id']}"
    r = client.request("PATCH", path, json=_speed_patch(), headers=MERGE)
    assert r.status_code == 409 and r.json()["code"] == "pointOfNoReturn" and "activate_line" in r.json()["message"]
    r = server.client("operator").request("PATCH", path + "?force=true", json=_speed_patch(), headers=MERGE)
    assert r.status_code == 200, r.text
    assert r.json()["description"] == "Revision: the customer wants 1000 Mbps after all."
    speeds = [c["value"] for c in r.json()["productOrderItem"][0]["product"]["productCharacteristic"] if c["name"] == "speed_mbps"]
    assert speeds == [1000]
    assert [h for h in server.service.history(order["id"]) if "revision 3" in h["cause"]]


def test_patch_before_any_point_of_no_return_is_a_supplemental_order(server, in_repo):
    client = server.client("submitter")
    order = created(client, order_body("amend/order.json"))
    r = client.request("PATCH", f"/productOrder/{order['id']}", json=_speed_patch(), headers=MERGE)
    assert r.status_code == 200, r.text
    speeds = [c["value"] for c in r.json()["productOrderItem"][0]["product"]["productCharacteristic"] if c["name"] == "speed_mbps"]
    assert speeds == [1000]
    assert [x["revision"] for x in server.service.order(order["id"])["revisions"]] == [2]


def test_a_revision_breaking_a_catalog_rule_is_400_with_the_rules_code(server):
    client = server.client("submitter")
    order = created(client, order_body())
    items = order_body()["productOrderItem"]
    items[0]["product"]["productCharacteristic"].append({"name": "speed_mbps", "value": 500})
    r = client.request("PATCH", f"/productOrder/{order['id']}", json={"productOrderItem": items}, headers=MERGE)
    assert (r.status_code, r.json()["code"]) == (400, "allowed_values")
    assert r.json()["referenceError"].endswith("#/productOrderItem/0/product/productCharacteristic/1/value")
    assert [x["status"] for x in server.service.order(order["id"])["revisions"]] == ["refused"]


def test_a_draft_is_released_by_patching_its_state(server):
    client = server.client("submitter", "v5")
    order = created(client, order_body(version="v5", requestedInitialState="draft"))
    assert order["state"] == "draft"
    server.settle(order["id"], lambda v: v["status"] == "draft")
    assert server.service.manual_tasks(order_id=order["id"]) == []  # a draft starts nothing
    r = client.request("PATCH", f"/productOrder/{order['id']}", json={"@type": "ProductOrder", "state": "completed"}, headers=MERGE)
    assert r.status_code == 400 and r.json()["referenceError"].endswith("#/state")
    r = client.request("PATCH", f"/productOrder/{order['id']}", json={"@type": "ProductOrder", "state": "acknowledged"}, headers=MERGE)
    assert r.status_code == 200, r.text
    assert r.json()["state"] != "draft"
    server.settle(order["id"], lambda v: any(t["type"] == "manual" and t["status"] == "ready" for t in v["tasks"]))  # released: it runs up to the visit
    assert server.service.manual_tasks(order_id=order["id"])


def test_patch_takes_merge_patch_and_no_read_only_field(server):
    client = server.client("submitter")
    order = created(client, order_body())
    r = client.request("PATCH", f"/productOrder/{order['id']}", json={"description": "x"}, headers={"Content-Type": "text/plain"})
    assert (r.status_code, r.json()["code"]) == (415, "unsupportedMediaType")
    r = client.request("PATCH", f"/productOrder/{order['id']}", json={"state": "completed"}, headers=MERGE)
    assert (r.status_code, r.json()["code"]) == (400, "schemaViolation") and r.json()["referenceError"].endswith("#/state")


# ---- cancelProductOrder ----------------------------------------------------------------------------


def test_cancel_an_order_then_read_the_request(server):
    client = server.client("submitter")
    order = created(client, order_body())
    r = client.post("/cancelProductOrder", {"productOrder": {"id": order["id"]}, "cancellationReason": "the customer moved"}, kind="cancel")
    assert r.status_code == 201, r.text
    cancel = r.json()
    assert cancel["state"] in ("done", "inProgress") and cancel["productOrder"]["id"] == order["id"] and r.headers["location"] == cancel["href"]
    server.settle(order["id"], lambda v: v["status"] == "cancelled")  # (compensation, if any, then cancelled)
    assert client.get(f"/productOrder/{order['id']}").json()["state"] == "cancelled"
    again = client.get(f"/cancelProductOrder/{cancel['id']}", kind="cancel").json()
    assert again["state"] == "done" and again["cancellationReason"] == "the customer moved" and again["effectiveCancellationDate"]

    def mine():
        return [c["id"] for c in client.get("/cancelProductOrder", kind="cancel").json() if c["productOrder"]["id"] == order["id"]]

    assert server.until(mine) == [cancel["id"]]  # (Temporal lists them from its visibility store: it may lag a moment)
    assert server.client("other").get(f"/cancelProductOrder/{cancel['id']}", kind="cancel").status_code == 404
    assert cancel["id"] not in [c["id"] for c in server.client("other").get("/cancelProductOrder", kind="cancel").json()]
    assert server.client("operator").get(f"/cancelProductOrder/{cancel['id']}", kind="cancel").status_code == 200
    r = client.post("/cancelProductOrder", {"productOrder": {"id": "ORD-NOPE"}}, kind="cancel")
    assert r.status_code == 404
    for nope in ("CAN-NOPE", "CAN-" + "F" * 12, "x" * 2000, "../..%2F"):
        assert client.get(f"/cancelProductOrder/{nope}", kind="cancel").status_code == 404, nope


def test_a_refused_cancellation_is_kept_terminated_with_error(server):
    client = server.client("submitter", "v5")
    order = created(client, order_body(version="v5"))
    first = client.post("/cancelProductOrder", {"@type": "CancelProductOrder", "productOrder": {"id": order["id"], "@type": "ProductOrderRef"}}, kind="cancel").json()
    server.settle(order["id"], lambda v: v["status"] == "cancelled")
    r = client.post("/cancelProductOrder", {"@type": "CancelProductOrder", "productOrder": {"id": order["id"], "@type": "ProductOrderRef"}}, kind="cancel")
    assert r.status_code == 201 and r.json()["state"] == "terminatedWithError" and r.json()["id"] != first["id"]
    assert client.get(f"/cancelProductOrder/{r.json()['id']}", kind="cancel").json()["state"] == "terminatedWithError"
    assert client.get(f"/productOrder/{order['id']}").json()["state"] == "cancelled"


def test_a_refusal_past_a_point_of_no_return_is_kept_too(embedded, in_repo):
    client, order = _amend_order(embedded)
    r = client.post("/cancelProductOrder", {"productOrder": {"id": order["id"]}}, kind="cancel")
    assert r.status_code == 201 and r.json()["state"] == "terminatedWithError"
    assert client.get(f"/productOrder/{order['id']}").json()["state"] == "inProgress"


def test_a_cancellation_no_worker_takes_yet_is_kept_and_acts_when_one_does(tmp_path, temporal_server, monkeypatch):
    """On Temporal a CancelProductOrder is a workflow, kept before it acts: with
    no worker polling, it answers acknowledged; a worker that starts later carries it out."""
    from om_dsl.rules.generated import GeneratedRules
    from om_dsl.temporal import client as temporal_client
    from om_dsl.temporal.service import TemporalService

    from support.engine_helpers import ACME
    from support.scenario_engines import OnTemporal

    monkeypatch.setattr(temporal_client, "UPDATE_TIMEOUT", temporal_client.datetime.timedelta(seconds=1))
    queue, rules = f"late-{uuid.uuid4().hex[:8]}", GeneratedRules(ACME)
    service = TemporalService(temporal_server.address, "default", queue, rules)
    try:
        order_id, status, _ = service.submit(json.dumps(order_body()), by="submitter")  # planned here, its workflow waits for a worker
        cancel = service.request_cancellation(order_id, "submitter", "the customer moved")
        assert cancel["state"] == "acknowledged" and service.cancellations(cancel["id"])[0]["state"] == "acknowledged"
        worker = OnTemporal(tmp_path, rules, {}, temporal_server, queue=queue)
        try:
            server = TemporalServer(worker)
            try:
                client = server.client("submitter")
                got = server.until(lambda: client.get(f"/cancelProductOrder/{cancel['id']}", kind="cancel").json()["state"] == "done")
                assert got and client.get(f"/productOrder/{order_id}").json()["state"] == "cancelled"
            finally:
                server.close()
        finally:
            worker.close()
    finally:
        service.close()


# ---- hub ------------------------------------------------------------------------------------------


@pytest.fixture
def listener():
    got = Listener().start()
    yield got
    got.stop()


def _subscribed(server, who: str, body: dict) -> dict:
    r = server.client(who).post("/hub", body, kind="hub")
    assert r.status_code == 201, r.text
    return r.json()


def test_a_hub_subscription_gets_the_events_its_query_asks_for(server, listener):
    client = server.client("submitter")
    r = client.post("/hub", {"callback": listener.url, "query": "eventType=ProductOrderStateChangeEvent"}, kind="hub")
    assert r.status_code == 201, r.text
    sub = r.json()
    try:
        assert r.headers["location"].endswith(f"/hub/{sub['id']}")
        assert listener.url in server.service.listeners()  # `om hub list` shows it
        assert client.get(f"/hub/{sub['id']}", kind="hub").json() == sub
        order = created(client, order_body())
        server.settle(order["id"], lambda v: any(t["status"] == "ready" and t["type"] == "manual" for t in v["tasks"]))
        server.until(lambda: any(b["event"]["productOrder"]["state"] == "inProgress" for _, b in listener.received))
        assert {body["eventType"] for _, body in listener.received} == {"ProductOrderStateChangeEvent"}
        assert all(h.get("Idempotency-Key") == body["eventId"] for h, body in listener.received)
        # re-posting the same callback keeps its id, with the new query
        again = client.post("/hub", {"callback": listener.url, "query": "eventType=ProductOrderCreateEvent"}, kind="hub").json()
        assert again["id"] == sub["id"] and again["query"] == "eventType=ProductOrderCreateEvent"
    finally:
        assert client.request("DELETE", f"/hub/{sub['id']}").status_code == 204
    assert listener.url not in server.service.listeners()
    assert client.request("DELETE", f"/hub/{sub['id']}").status_code == 404


def test_a_submitters_subscription_gets_its_own_orders_events_only(server, listener):
    sub = _subscribed(server, "other", {"callback": listener.url})
    try:
        assert server.client("submitter").get(f"/hub/{sub['id']}", kind="hub").status_code == 404  # another submitter's
        order = created(server.client("submitter"), order_body())
        server.settle(order["id"], lambda v: any(t["status"] == "ready" and t["type"] == "manual" for t in v["tasks"]))
        mine = created(server.client("other"), order_body("tv-alone.json"))
        server.settle(mine["id"], lambda v: v["status"] != "acknowledged")
        server.until(lambda: len(listener.received) >= 2)
        assert {body["event"]["productOrder"]["id"] for _, body in listener.received} == {mine["id"]}
    finally:
        server.client("other").request("DELETE", f"/hub/{sub['id']}")


def test_events_reach_a_listener_in_order_through_its_refusals(temporal, listener):
    """On Temporal (the embedded engine's deliveries: tests/test_operations.py): at
    least once, retried, in order per order, while the listener answers 503 twice first."""
    listener.refuse = 2
    sub = _subscribed(temporal, "operator", {"callback": listener.url})
    try:
        order = created(temporal.client("submitter"), order_body())
        temporal.settle(order["id"], lambda v: any(t["status"] == "ready" and t["type"] == "manual" for t in v["tasks"]))
        assert temporal.client("submitter").post("/cancelProductOrder", {"productOrder": {"id": order["id"]}}, kind="cancel").status_code == 201
        temporal.settle(order["id"], lambda v: v["status"] == "cancelled")

        def numbers():  # the n of each event id (ORDER:event:n) the listener took, as it took them
            keys = [h["Idempotency-Key"].rsplit(":event:", 1) for h, _ in list(listener.received)]
            got = [int(n) for of, n in keys if of == order["id"]]
            last = [b["event"]["productOrder"]["state"] for _, b in listener.received if b["eventType"] == "ProductOrderStateChangeEvent"][-1:]
            return got if last == ["cancelled"] else None

        got = temporal.until(numbers)
        assert got == list(range(1, len(got) + 1))  # every event once, in order, though the first two tries were refused
        assert all(h["X-Event-Id"] == b["eventId"] for h, b in listener.received)
    finally:
        temporal.client("operator").request("DELETE", f"/hub/{sub['id']}")


def test_a_listener_that_refuses_holds_up_no_other_listener(temporal, listener):
    """On Temporal, as on the embedded engine: each listener gets an order's
    events in order, and one that refuses them waits alone (its events are
    sent again, in order, once it takes them)."""
    down = Listener().start()
    down.refuse = 1_000_000
    refused_since = time.monotonic()
    subs = [_subscribed(temporal, "operator", {"callback": url}) for url in (listener.url, down.url)]
    try:
        order = created(temporal.client("submitter"), order_body())
        temporal.settle(order["id"], lambda v: any(t["status"] == "ready" and t["type"] == "manual" for t in v["tasks"]))
        assert temporal.client("submitter").post("/cancelProductOrder", {"productOrder": {"id": order["id"]}}, kind="cancel").status_code == 201

        def numbers(got):  # the n of each event id (ORDER:event:n) of the order the listener took, as it took them
            return [int(n) for of, n in (h["Idempotency-Key"].rsplit(":event:", 1) for h, _ in list(got.received)) if of == order["id"]]

        def finished(got):  # the order's last event: its cancellation is done
            return any(b["eventType"] == "CancelProductOrderStateChangeEvent" and b["event"]["cancelProductOrder"]["state"] == "done" for _, b in list(got.received))

        temporal.until(lambda: finished(listener))
        assert numbers(listener) == list(range(1, len(numbers(listener)) + 1)) and down.received == []
        down.refuse = 0  # it is back: what it missed comes, in order
        # (its next try comes after the retry policy's backoff, 1 s doubling: about as long again as it refused, which a busy machine stretches)
        deadline = time.monotonic() + PATIENCE_S + 2 * (time.monotonic() - refused_since)
        while not finished(down):
            assert time.monotonic() < deadline, numbers(down)
            time.sleep(0.1)
        assert numbers(down) == numbers(listener)
    finally:
        for sub in subs:
            temporal.client("operator").request("DELETE", f"/hub/{sub['id']}")
        down.stop()


def test_the_hub_keeps_its_subscriptions_when_it_continues_as_new(temporal, listener, monkeypatch):
    """The Hub workflow continues as new before its history grows long; its subscriptions, and the memo the notifiers read, go on."""
    from om_dsl.temporal import hub

    monkeypatch.setattr(hub, "LONG_HISTORY", 5)  # (the worker runs in this process: its workflows read om_dsl's modules as they are)
    subs = [_subscribed(temporal, "operator", {"callback": f"{listener.url}?n={n}"}) for n in range(3)]
    orders = temporal.engine.orders

    async def runs():
        client = await orders.client()
        return [wf.run_id async for wf in client.list_workflows(f'WorkflowId = "{hub.workflow_id(temporal.engine.queue)}"')]

    try:
        temporal.until(lambda: len(orders._run(runs())) > 1)
        assert {s["id"] for s in subs} <= {s["id"] for s in temporal.service.subscriptions()}
        order = created(temporal.client("submitter"), order_body())
        temporal.until(lambda: [h["Idempotency-Key"] for h, _ in list(listener.received)].count(f"{order['id']}:event:1") == 3)  # one per subscription
    finally:
        for sub in subs:
            temporal.client("operator").request("DELETE", f"/hub/{sub['id']}")


@pytest.mark.parametrize("body", [{"callback": "ftp://x"}, {"callback": "http://127.0.0.1:9/x", "query": "&&"}, {"query": "eventType=X"}])
def test_a_bad_subscription_is_400(server, body):
    r = server.client().post("/hub", body, kind="hub")
    assert r.status_code == 400


# ---- the document, health and callbacks on the same port --------------------------------------------


@pytest.mark.parametrize("version, key", [("v4", "swagger"), ("v5", "openapi")])
def test_the_openapi_document_is_served(server, version, key):
    r = server.client("viewer", version).http.get("/openapi.json")
    assert r.status_code == 200 and key in r.json()


def test_health_needs_no_token_and_callbacks_stay_authenticated(embedded):
    server = embedded
    assert httpx.get(server.url + "/health").json() == {"ok": True, "refused": 0}
    r = httpx.post(server.url + "/callbacks/not-the-token", json={"correlation_id": "ORD-1:1/D1:x:1"})
    assert r.status_code == 401
    assert httpx.get(server.url + "/health").json()["refused"] == 1


# ---- limits and slow clients ------------------------------------------------------------------------


def test_an_oversized_body_is_413_unread(embedded):
    server = embedded
    path = f"{PREFIX}/v4/productOrder"
    host, port = server.http.server_address
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKENS['admin']}\r\nContent-Type: application/json\r\nContent-Length: {limits.MAX_BODY + 1}\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.split(b" ", 2)[1] == b"413" and b'"bodyTooLarge"' in answer


def test_a_slow_client_does_not_hold_up_another(tmp_path):
    s = Server(tmp_path, request_timeout_s=300)  # the slow client is not cut off during the test
    try:
        host, port = s.http.server_address
        with socket.create_connection((host, port), timeout=30) as slow:
            head = f"POST {PREFIX}/v4/productOrder HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKENS['submitter']}\r\nContent-Length: 5000\r\n\r\n{{"
            slow.sendall(head.encode())  # and then nothing: the server waits for the rest of its body
            order = created(s.client(), order_body())
            assert s.client().get(f"/productOrder/{order['id']}").status_code == 200
            slow.setblocking(False)
            with pytest.raises(BlockingIOError):  # still connected, still waited for: it was not what let the other through
                slow.recv(1)
    finally:
        s.close()


def test_a_head_over_16_kib_is_431_and_closed(embedded):
    server = embedded
    host, port = server.http.server_address
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.sendall(f"GET {PREFIX}/v4/productOrder HTTP/1.1\r\nHost: x\r\nX-Big: {'a' * 20_000}\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.split(b" ", 2)[1] == b"431" and b'"error"' in answer
    assert httpx.get(server.url + "/health").status_code == 200


def test_om_hub_works_on_the_apis_subscriptions(server):
    from click.testing import CliRunner

    from om_dsl.cli import main

    def om_hub(*args):
        result = CliRunner().invoke(main, ["hub", *args, *server.cli_args])
        assert result.exit_code == 0, result.output
        return result.stdout

    callback = f"http://127.0.0.1:9/{uuid.uuid4().hex[:8]}"
    sub = server.client("other").post("/hub", {"callback": callback, "query": "eventType=ProductOrderStateChangeEvent"}, kind="hub").json()
    assert f"{callback}  (subscription {sub['id']}: query eventType=ProductOrderStateChangeEvent, owner other)\n" in om_hub("list")
    assert om_hub("unregister", callback) == f"{callback} is unregistered\n"
    assert server.client("other").request("DELETE", f"/hub/{sub['id']}").status_code == 404  # the same subscription: gone
    assert om_hub("register", callback) == f"{callback} is registered\n"  # every event, no query, no owner: the operator's and admin's
    mine = [s for s in server.service.subscriptions() if s["callback"] == callback]
    assert len(mine) == 1 and mine[0]["owner"] is None and mine[0]["query"] is None
    assert server.client("other").get(f"/hub/{mine[0]['id']}", kind="hub").status_code == 404
    assert server.client("admin").request("DELETE", f"/hub/{mine[0]['id']}").status_code == 204
    assert callback not in om_hub("list")


def test_a_json_patch_is_a_supplemental_order_too(server, in_repo):
    client = server.client("submitter")
    order = created(client, order_body("amend/order.json"))
    speed = next(n for n, c in enumerate(order["productOrderItem"][0]["product"]["productCharacteristic"]) if c["name"] == "speed_mbps")
    ops = [
        {"op": "test", "path": f"/productOrderItem/0/product/productCharacteristic/{speed}/value", "value": 300},
        {"op": "replace", "path": f"/productOrderItem/0/product/productCharacteristic/{speed}/value", "value": 1000},
        {"op": "add", "path": "/description", "value": "1000 Mbps"},
    ]
    headers = {"Content-Type": "application/json-patch+json"}
    r = client.request("PATCH", f"/productOrder/{order['id']}", content=json.dumps(ops), headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["description"] == "1000 Mbps"
    assert [x["revision"] for x in server.service.order(order["id"])["revisions"]] == [2]
    for bad, pointer in (([{"op": "test", "path": "/description", "value": "no"}], "#/0"), ([{"op": "remove", "path": "/nothing"}], "#/0"), ([{"op": "replace", "path": "/state", "value": "x"}], "#/0/path")):
        r = client.request("PATCH", f"/productOrder/{order['id']}", content=json.dumps(bad), headers=headers)
        assert (r.status_code, r.json()["code"]) == (400, "schemaViolation") and r.json()["referenceError"].endswith(pointer), r.text
    assert [x["revision"] for x in server.service.order(order["id"])["revisions"]] == [2]  # none of those was taken


def test_json_patch_operations():
    from om_dsl.api.patch import PatchError, json_patch

    doc = {"a": [1, 2], "b": {"c": 1}}
    assert json_patch(doc, [{"op": "add", "path": "/a/-", "value": 3}, {"op": "move", "from": "/b/c", "path": "/d"}, {"op": "copy", "from": "/d", "path": "/e"}]) == {"a": [1, 2, 3], "b": {}, "d": 1, "e": 1}
    assert doc == {"a": [1, 2], "b": {"c": 1}}  # all or nothing: the original is untouched
    for ops in ([{"op": "add", "path": "/a/9", "value": 0}], [{"op": "move", "from": "/b", "path": "/b/x"}], [{"op": "jump", "path": "/a"}], "not a list", [{"op": "remove", "path": ""}]):
        with pytest.raises(PatchError):
            json_patch(doc, ops)


def test_an_engine_failure_is_a_503_tmf_error_not_a_traceback(embedded, monkeypatch):
    server = embedded
    import sqlite3

    def broken(*args, **kwargs):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(server.service.inner, "order", broken)
    r = server.client("admin").get("/productOrder/ORD-1")
    assert (r.status_code, r.json()["code"]) == (503, "unavailable") and r.headers["retry-after"] == "1"
    assert "OperationalError" in r.json()["message"] and "Traceback" not in r.text
