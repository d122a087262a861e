"""The TMF622 API over HTTP (om_dsl/api/, docs/api.md): a real server on
127.0.0.1 (the embedded engine's shared service, as `om serve` runs it),
talked to with httpx; every JSON answer is checked against the official
schema of its version (tests/support/api_server.py)."""

from __future__ import annotations

import json
import socket

import httpx
import pytest

from om_dsl import limits
from om_dsl.api.app import PREFIX

from support.api_server import TOKENS, Server, order_body
from support.listener import Listener


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path)
    yield s
    s.close()


def created(client, body) -> dict:
    r = client.post("/productOrder", body)
    assert r.status_code == 201, r.text
    return r.json()


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
    assert httpx.get(url, headers={"Authorization": "Bearer " + TOKENS["admin"]}).status_code == 200


def test_each_role_may_do_what_it_may_and_no_more(server):
    assert server.client("viewer").post("/productOrder", order_body()).status_code == 403
    order = created(server.client("submitter"), order_body())
    assert server.client("viewer").get(f"/productOrder/{order['id']}").status_code == 200
    # a submitter sees its own orders only; an operator and an admin see every one
    hidden = server.client("other").get(f"/productOrder/{order['id']}")
    assert hidden.status_code == 404 and hidden.json() == server.client("other").get("/productOrder/ORD-NONE").json()  # it cannot tell
    assert server.client("other").get("/productOrder").headers["x-total-count"] == "0"
    for who in ("operator", "admin", "viewer"):
        assert server.client(who).get("/productOrder").headers["x-total-count"] == "1", who
    # only an operator (or admin) may force past a soft point of no return
    r = server.client("submitter").request("PATCH", f"/productOrder/{order['id']}?force=true", json={"description": "x"}, headers={"Content-Type": "application/merge-patch+json"})
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
    assert order["state"] == "inProgress" and order["productOrderItem"][0]["state"] == "inProgress"
    got = client.get(r.headers["location"])
    assert got.status_code == 200 and got.json()["id"] == order["id"]


def test_an_order_is_durable_before_its_201(server, tmp_path):
    order = created(server.client(), order_body())
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
    assert server.client("admin", version).get("/productOrder").headers["x-total-count"] == "0"  # nothing kept


@pytest.mark.parametrize("body, code", [(b"{not json", "invalidBody"), (b"[" * 200 + b"]" * 200, "invalidBody"), (b'{"productOrderItem": "x"}', "schemaViolation")])
def test_unreadable_bodies_are_400(server, body, code):
    r = server.client().request("POST", "/productOrder", content=body, headers={"Content-Type": "application/json"})
    assert (r.status_code, r.json()["code"]) == (400, code)


@pytest.mark.parametrize("version, field", [("v4", "note"), ("v5", "errorMessage")])
def test_an_order_breaking_a_catalog_rule_is_kept_rejected_with_its_reasons(server, version, field):
    client = server.client("submitter", version)
    order = created(client, order_body("invalid-speed-not-allowed.json", version))
    assert order["state"] == "rejected"
    again = client.get(f"/productOrder/{order['id']}").json()
    assert again["state"] == "rejected" and "speed_mbps" in json.dumps(again[field])
    if version == "v5":
        assert again["errorMessage"][0]["code"] == "allowed_values" and again["errorMessage"][0]["productOrderItem"][0]["itemId"] == "1"


def test_an_unknown_order_is_404_with_a_tmf_error(server):
    r = server.client().get("/productOrder/ORD-NOPE")
    assert r.status_code == 404 and r.json()["code"] == "notFound"
    r = server.client().get("/nothing-here")
    assert r.status_code == 404 and r.json()["@type"] == "Error"
    r = httpx.get(f"{server.url}{PREFIX}/v9/productOrder", headers={"Authorization": "Bearer " + TOKENS["admin"]})
    assert r.status_code == 404


def test_an_id_is_escaped_in_its_href_and_a_404_names_no_other_order(server):
    client = server.client("submitter")
    order = created(client, order_body(id="ORD 1/x#y"))
    assert order["href"].endswith("/productOrder/ORD%201%2Fx%23y")
    assert client.get(order["href"]).json()["id"] == "ORD 1/x#y"
    r = server.client("other").get("/productOrder/ORD 1")
    assert r.status_code == 404 and "ORD 1/x#y" not in r.text


def test_the_same_order_twice_is_409(server):
    created(server.client(), order_body())
    r = server.client().post("/productOrder", order_body())
    assert r.status_code == 409 and r.json()["code"] == "duplicate_order"  # om_dsl/tmf622/errors.py's code


def test_list_filters_fields_and_pages(server):
    client = server.client("submitter")
    a = created(client, order_body(externalId="CPQ-A", id="ORD-A"))  # (the same instant on the simulated clock: listed by id)
    b = created(client, order_body("tv-alone.json", externalId="CPQ-B", id="ORD-B"))
    rejected = created(client, order_body("invalid-speed-not-allowed.json", externalId="CPQ-C", id="ORD-C"))

    def ids(query):
        r = client.get("/productOrder?" + query)
        assert r.status_code == 200, r.text
        assert r.headers["x-result-count"] == str(len(r.json()))
        return [o["id"] for o in r.json()], int(r.headers["x-total-count"])

    assert ids("") == ([a["id"], b["id"], rejected["id"]], 3)
    assert ids("state=rejected") == ([rejected["id"]], 1)
    assert ids("externalId=CPQ-B") == ([b["id"]], 1)
    customer = b["relatedParty"][0]["id"]
    assert ids(f"relatedParty.id={customer}")[0] == [o["id"] for o in (a, b, rejected) if o["relatedParty"][0]["id"] == customer]
    assert ids("productOrderItem.state=rejected") == ([rejected["id"]], 1)
    assert ids("orderDate.gt=2000-01-01T00:00:00Z")[1] == 3
    assert ids("orderDate.lt=2000-01-01T00:00:00Z") == ([], 0)
    assert ids("offset=1&limit=1") == ([b["id"]], 3)
    only = client.get("/productOrder?fields=state").json()
    assert all(set(o) == {"id", "href", "@type", "state", "productOrderItem"} for o in only)  # v4 requires the items
    only = server.client("submitter", "v5").get("/productOrder?fields=state").json()
    assert all(set(o) == {"id", "href", "@type", "state"} for o in only)
    for bad in ("limit=-1", "offset=x", "orderDate.gt=yesterday"):
        r = client.get("/productOrder?" + bad)
        assert (r.status_code, r.json()["code"]) == (400, "invalidQuery"), bad


# ---- PATCH: a supplemental order -------------------------------------------------------------------


def _amend_order(server):
    """ORD-3000 (docs/amend.md) past its soft point of no return: billing offline, the visit done."""
    client = server.client("submitter")
    order = created(client, order_body("amend/order.json", id="ORD-3000"))
    service = server.service
    service.set_system("billing", True, "test")
    service.settle([order["id"]])
    service.complete_task(order["id"], "1/D1:install_visit", {"technician": "T-17"}, "jane")
    return client, order


def _speed_patch():
    revised = json.loads(open("examples/orders/amend/speed-1000.json").read())
    return {"description": revised["description"], "productOrderItem": revised["productOrderItem"]}


MERGE = {"Content-Type": "application/merge-patch+json"}


def test_patch_past_a_soft_point_of_no_return_is_409_unless_an_operator_forces_it(server, in_repo):
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
    order = created(client, order_body("amend/order.json", id="ORD-3000"))
    r = client.request("PATCH", f"/productOrder/{order['id']}", json=_speed_patch(), headers=MERGE)
    assert r.status_code == 200, r.text
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
    server.service.settle([order["id"]])
    assert server.service.manual_tasks(order_id=order["id"]) == []  # a draft starts nothing
    r = client.request("PATCH", f"/productOrder/{order['id']}", json={"@type": "ProductOrder", "state": "completed"}, headers=MERGE)
    assert r.status_code == 400 and r.json()["referenceError"].endswith("#/state")
    r = client.request("PATCH", f"/productOrder/{order['id']}", json={"@type": "ProductOrder", "state": "acknowledged"}, headers=MERGE)
    assert r.status_code == 200, r.text
    assert r.json()["state"] != "draft"
    server.service.settle([order["id"]])
    assert server.service.manual_tasks(order_id=order["id"])  # released: it runs up to the visit


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
    server.service.settle([order["id"]])  # (what the work loop does: compensation, if any, then cancelled)
    assert client.get(f"/productOrder/{order['id']}").json()["state"] == "cancelled"
    assert client.get(f"/cancelProductOrder/{cancel['id']}", kind="cancel").json()["state"] == "done"
    assert client.get(f"/cancelProductOrder/{cancel['id']}", kind="cancel").json()["cancellationReason"] == "the customer moved"
    assert [c["id"] for c in client.get("/cancelProductOrder", kind="cancel").json()] == [cancel["id"]]
    assert server.client("other").get(f"/cancelProductOrder/{cancel['id']}", kind="cancel").status_code == 404
    r = client.post("/cancelProductOrder", {"productOrder": {"id": "ORD-NOPE"}}, kind="cancel")
    assert r.status_code == 404


def test_a_refused_cancellation_is_kept_terminated_with_error(server, in_repo):
    client, order = _amend_order(server)
    r = client.post("/cancelProductOrder", {"productOrder": {"id": order["id"]}}, kind="cancel")
    assert r.status_code == 201 and r.json()["state"] == "terminatedWithError"
    assert client.get(f"/productOrder/{order['id']}").json()["state"] == "inProgress"


# ---- hub ------------------------------------------------------------------------------------------


def test_a_hub_subscription_gets_the_events_its_query_asks_for(server):
    listener = Listener().start()
    try:
        client = server.client("submitter")
        r = client.post("/hub", {"callback": listener.url, "query": "eventType=ProductOrderStateChangeEvent"}, kind="hub")
        assert r.status_code == 201, r.text
        sub = r.json()
        assert r.headers["location"].endswith(f"/hub/{sub['id']}")
        assert listener.url in server.service.listeners()  # `om hub list` shows it
        order = created(client, order_body())
        server.service.settle([order["id"]])
        types = {body["eventType"] for _, body in listener.received}
        assert types == {"ProductOrderStateChangeEvent"}
        assert all(h.get("Idempotency-Key") == body["eventId"] for h, body in listener.received)
        assert client.request("DELETE", f"/hub/{sub['id']}").status_code == 204
        assert listener.url not in server.service.listeners()
        assert client.request("DELETE", f"/hub/{sub['id']}").status_code == 404
    finally:
        listener.stop()


def test_a_submitters_subscription_gets_its_own_orders_events_only(server):
    listener = Listener().start()
    try:
        assert server.client("other").post("/hub", {"callback": listener.url}, kind="hub").status_code == 201
        order = created(server.client("submitter"), order_body())
        server.service.settle([order["id"]])
        assert listener.received == []
        mine = created(server.client("other"), order_body("tv-alone.json"))
        server.service.settle([mine["id"]])
        assert listener.received and {body["event"]["productOrder"]["id"] for _, body in listener.received} == {mine["id"]}
    finally:
        listener.stop()


@pytest.mark.parametrize("body", [{"callback": "ftp://x"}, {"callback": "http://127.0.0.1:9/x", "query": "&&"}, {"query": "eventType=X"}])
def test_a_bad_subscription_is_400(server, body):
    r = server.client().post("/hub", body, kind="hub")
    assert r.status_code == 400


# ---- the document, health and callbacks on the same port --------------------------------------------


@pytest.mark.parametrize("version, key", [("v4", "swagger"), ("v5", "openapi")])
def test_the_openapi_document_is_served(server, version, key):
    r = server.client("viewer", version).http.get("/openapi.json")
    assert r.status_code == 200 and key in r.json()


def test_health_needs_no_token_and_callbacks_stay_authenticated(server):
    assert httpx.get(server.url + "/health").json() == {"ok": True, "refused": 0}
    r = httpx.post(server.url + "/callbacks/not-the-token", json={"correlation_id": "ORD-1:1/D1:x:1"})
    assert r.status_code == 401
    assert httpx.get(server.url + "/health").json()["refused"] == 1


# ---- limits and slow clients ------------------------------------------------------------------------


def test_an_oversized_body_is_413_unread(server):
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


def test_a_head_over_16_kib_is_431_and_closed(server):
    host, port = server.http.server_address
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.sendall(f"GET {PREFIX}/v4/productOrder HTTP/1.1\r\nHost: x\r\nX-Big: {'a' * 20_000}\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.split(b" ", 2)[1] == b"431" and b'"error"' in answer
    assert httpx.get(server.url + "/health").status_code == 200


def test_om_hub_list_shows_the_apis_subscriptions(server, tmp_path):
    from click.testing import CliRunner

    from om_dsl.cli import main

    r = server.client("other").post("/hub", {"callback": "http://127.0.0.1:9/events", "query": "eventType=ProductOrderStateChangeEvent"}, kind="hub")
    sub = r.json()
    out = CliRunner().invoke(main, ["hub", "list", "--db", str(tmp_path / "om.db")]).stdout
    assert out == f"http://127.0.0.1:9/events  (subscription {sub['id']}: query eventType=ProductOrderStateChangeEvent, owner other)\n"
    assert CliRunner().invoke(main, ["hub", "unregister", "http://127.0.0.1:9/events", "--db", str(tmp_path / "om.db")]).exit_code == 0
    assert server.client("other").request("DELETE", f"/hub/{sub['id']}").status_code == 404  # the same subscription: gone


def test_a_json_patch_is_a_supplemental_order_too(server, in_repo):
    client = server.client("submitter")
    order = created(client, order_body("amend/order.json", id="ORD-3000"))
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


def test_an_engine_failure_is_a_503_tmf_error_not_a_traceback(server, monkeypatch):
    import sqlite3

    def broken(*args, **kwargs):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(server.service.inner, "order", broken)
    r = server.client("admin").get("/productOrder/ORD-1")
    assert (r.status_code, r.json()["code"]) == (503, "unavailable") and r.headers["retry-after"] == "1"
    assert "OperationalError" in r.json()["message"] and "Traceback" not in r.text
