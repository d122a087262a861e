"""The operator console (om_dsl/console/, docs/console.md) against a real
`om serve` on 127.0.0.1 (the embedded engine's shared service, as
tests/test_api.py starts it), read and driven with httpx as a browser would:
a session from a token, forms with their CSRF token."""

from __future__ import annotations

import itertools
import json
import re
import shutil
from html.parser import HTMLParser

import pytest

from om_dsl.console import views
from om_dsl.console.session import COOKIE

from support.api_server import TOKENS, Server, order_body
from support.console_client import Browser, text_of
from support.engine_helpers import FALLOUT_SPEC

VISIT = "1/D1:install_visit"


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path)
    yield s
    s.close()


SEQ = itertools.count(1)


def submit(server, who="submitter", name="fiber-minimal.json", **changes) -> str:
    """An order over the API (each its own external id: its id), run as far as it goes."""
    import httpx

    changes.setdefault("externalId", f"CPQ-C{next(SEQ)}")
    r = httpx.post(f"{server.url}/tmf-api/productOrderingManagement/v4/productOrder", json=order_body(name, **changes), headers={"Authorization": f"Bearer {TOKENS[who]}"}, timeout=60)
    assert r.status_code == 201, r.text
    order_id = r.json()["id"]
    server.service.settle([order_id])  # (what the work loop does)
    return order_id


def history(server, order_id) -> list:
    return server.service.history(order_id)


# ---- signing in ---------------------------------------------------------------------------------------------


def test_a_page_without_a_session_is_401_with_the_login_form(server):
    b = Browser(server.url)
    r = b.get("/console/orders")
    assert r.status_code == 401
    assert 'id="login-form"' in r.text and '<label for="token">API token</label>' in r.text
    assert b.post("/console/fallout", {"action": "retry"}).status_code == 401


def test_login_gives_a_signed_httponly_strict_cookie_and_logout_ends_it(server):
    b = Browser(server.url)
    bad = b.login("not-a-token")
    assert bad.status_code == 401 and "that token is not known" in bad.text and COOKIE not in bad.headers.get("set-cookie", "")
    r = b.login(TOKENS["operator"])
    assert r.status_code == 303 and r.headers["location"] == "/console/orders"
    cookie = r.headers["set-cookie"]
    assert TOKENS["operator"] not in cookie  # the token is not kept
    assert all(attr in cookie for attr in ("HttpOnly", "SameSite=strict", "Path=/console", "Max-Age=28800"))
    assert "Secure" not in cookie  # plain HTTP here: Secure under TLS only
    page = b.get("/console/orders")
    assert page.status_code == 200 and "operator (operator)" in text_of(page.text)
    csp = page.headers["content-security-policy"]
    assert csp.startswith("default-src 'none'") and "connect-src 'self'" in csp  # (the order page's refresh is a fetch)

    value = b.http.cookies[COOKIE]
    body, mac = value.split(".")
    forged = Browser(server.url)
    forged.http.cookies.set(COOKIE, body + "." + mac[::-1], path="/console")
    assert forged.get("/console/orders").status_code == 401  # a cookie whose signature does not match

    kept = Browser(server.url)
    kept.http.cookies.set(COOKIE, value, path="/console")
    assert b.post("/console/logout", {}, csrf="wrong").status_code == 403  # logout is a form: CSRF too
    out = b.post("/console/logout", {})
    assert out.status_code == 303 and out.headers["location"] == "/console/login"
    assert b.get("/console/orders").status_code == 401
    assert kept.get("/console/orders").status_code == 401  # a copy of the cookie is refused after logout


def test_login_sends_back_only_to_a_console_page(server):
    b = Browser(server.url)
    r = b.http.post("/console/login", data={"token": TOKENS["viewer"], "next": "https://evil.example/x"})
    assert r.headers["location"] == "/console/orders"
    r = b.http.post("/console/login", data={"token": TOKENS["viewer"], "next": "/console/fallout"})
    assert r.headers["location"] == "/console/fallout"


# ---- roles and CSRF -------------------------------------------------------------------------------------------


def test_a_viewer_sees_and_may_not_act(server):
    order_id = submit(server)
    viewer = Browser(server.url, "viewer")
    page = viewer.get(f"/console/orders/{order_id}")
    assert page.status_code == 200 and VISIT in page.text
    assert 'id="cancel-form"' not in page.text and 'class="complete-link"' not in page.text
    r = viewer.post("/console/tasks/claim", {"order": order_id, "task": VISIT, "reason": "mine"})
    assert r.status_code == 403 and "claiming a task needs the operator role; viewer has viewer" in text_of(r.text)
    r = viewer.post(f"/console/orders/{order_id}/cancel", {"reason": "no"})
    assert r.status_code == 403
    assert server.service.order(order_id)["status"] == "inProgress"


def test_a_submitter_sees_and_cancels_its_own_orders_only(server):
    mine = submit(server, "submitter")
    theirs = submit(server, "other")
    me = Browser(server.url, "submitter")
    listed = me.get("/console/orders").text
    assert mine in listed and theirs not in listed
    assert me.get(f"/console/orders/{theirs}").status_code == 404
    assert me.post(f"/console/orders/{theirs}/cancel", {"reason": "not mine"}).status_code == 404
    assert me.post(f"/console/orders/{mine}/cancel", {"reason": "x", "force": "on"}).status_code == 403  # forcing: operators only
    r = me.post(f"/console/orders/{mine}/cancel", {"reason": "customer changed their mind"})
    assert r.status_code == 200, text_of(r.text)
    server.service.settle([mine])
    assert server.service.order(mine)["status"] == "cancelled"
    assert server.service.order(theirs)["status"] == "inProgress"
    assert any("customer changed their mind" in (h["cause"] or "") and "submitter" in (h["cause"] or "") for h in history(server, mine))


def test_a_post_without_the_sessions_csrf_token_is_refused(server):
    order_id = submit(server)
    op = Browser(server.url, "operator")
    other = Browser(server.url, "admin")  # another session's token is no good either
    for token in ("", "forged", other.csrf):
        r = op.post(f"/console/orders/{order_id}/cancel", {"reason": "csrf"}, csrf=token)
        assert r.status_code == 403 and "CSRF" in text_of(r.text)
    assert server.service.order(order_id)["status"] == "inProgress"


# ---- the pages ---------------------------------------------------------------------------------------------------


def test_orders_are_filtered_and_paged(server, monkeypatch):
    first = submit(server)
    second = submit(server, externalId="CPQ-SECOND")
    third = submit(server, name="tv-alone.json")
    op = Browser(server.url, "operator")

    def ids(query: str) -> list:
        r = op.get("/console/orders" + query)
        assert r.status_code == 200, text_of(r.text)
        return re.findall(r'data-order="([^"]+)"', r.text)

    assert ids("") == [first, second, third]
    assert ids("?external_id=cpq-second") == [second]
    customer = server.service.order(third)["customer"]
    assert third in ids(f"?customer={customer}")
    assert ids("?state=completed") == [o for o in (first, second, third) if server.service.order(o)["status"] == "completed"]
    catalog = server.service.order(first)
    assert catalog["catalog_version"].startswith("acme ")
    assert ids(f"?catalog={catalog['catalog_version'].upper()}") == [first, second, third]
    assert ids(f"?catalog={catalog['catalog'][:12]}") == [first, second, third]  # or its plan's hash
    assert ids("?catalog=no-such-version") == []
    assert op.get("/console/orders?state=bogus").status_code == 400

    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    page1 = op.get("/console/orders")
    assert 'id="page-next"' in page1.text and 'id="page-prev"' not in page1.text
    assert ids("?page=2") == [third]


def test_the_order_page_shows_tasks_graph_history_and_points_of_no_return(server):
    order_id = submit(server)
    op = Browser(server.url, "operator")
    r = op.get(f"/console/orders/{order_id}")
    assert r.status_code == 200
    page = r.text
    text = text_of(page)
    assert f"Order {order_id}" in text and 'id="order-status"' in page
    row = re.search(rf'<tr class="task" data-task="{re.escape(VISIT)}" data-state="ready">(.*?)</tr>', page, re.S)
    assert row, "the install visit is ready"
    assert "waiting for a person in queue field_ops" in row.group(1) and "2026-" in row.group(1)  # what it waits for, its due time
    assert "1/D1:activate_line: soft, not passed" in text  # the plan's point of no return
    assert "PORT-" in text  # an output
    assert 'sets <code>port_id = &#34;PORT-00001&#34;</code>' in page  # and the line value it set
    assert "claimed by" not in row.group(1)
    if shutil.which("dot"):
        assert "<svg" in page and "#fff2cc" in page  # the ready task drawn in the ready colour
    else:
        assert 'class="graph-fallback"' in page
    assert "1/D1:reserve_port" in text and "running → completed" in text  # the history, as a timeline
    live = op.get(f"/console/orders/{order_id}/live")
    assert live.status_code == 200 and 'id="order-live-fragment"' in live.text and VISIT in live.text
    assert '<span id="order-status" class="state state-inProgress">inProgress</span>' in live.text  # the state refreshes with the tasks


def test_the_graph_falls_back_to_lists_without_graphviz(server, monkeypatch):
    order_id = submit(server)
    monkeypatch.setattr(shutil, "which", lambda name: None)  # om_dsl.graph.dot_program: no `dot`
    page = Browser(server.url, "viewer").get(f"/console/orders/{order_id}").text
    assert "<svg" not in page and 'class="graph-fallback"' in page and "install_visit" in page


# ---- fallout ----------------------------------------------------------------------------------------------


def test_held_calls_are_grouped_and_a_bulk_retry_is_rechecked(server):
    op = Browser(server.url, "operator")
    r = op.post("/console/systems", {"system": "inventory", "state": "offline"})
    assert r.status_code == 200, text_of(r.text)
    a, b = submit(server), submit(server)
    page = op.get("/console/fallout")
    groups = re.findall(r'<fieldset class="fallout-group".*?</fieldset>', page.text, re.S)
    assert len(groups) == 1 and "inventory" in groups[0] and "check_address" in groups[0] and "onHold" in groups[0]
    assert 'data-order="%s"' % a in groups[0] and 'data-order="%s"' % b in groups[0]
    systems = op.get("/console/systems").text
    assert re.search(r'data-system="inventory">\s*<th scope="row">inventory</th>\s*<td class="system-state">offline</td>', systems)
    assert f"{a} 1/D1:check_address" in text_of(systems) and "Bring online" in systems
    assert re.search(r'data-system="logistics">\s*<th scope="row">logistics</th>\s*<td class="system-state">online</td>', systems)  # one the orders call

    both = [views.select_value(o, "1/D1:check_address") for o in (a, b)]
    r = op.post("/console/fallout", [("select", v) for v in both] + [("action", "retry"), ("reason", "try again")])
    assert r.status_code == 409  # the system is still offline: each call went on hold again, and the page says so
    assert text_of(r.text).count("not done: still onHold") == 2

    assert op.post("/console/systems", {"system": "inventory", "state": "online"}).status_code == 200
    server.service.settle([a, b])
    assert "No fallout" in op.get("/console/fallout").text


def test_a_skip_needs_a_reason_and_is_recorded_with_who_and_why(server):
    op = Browser(server.url, "operator")
    op.post("/console/systems", {"system": "inventory", "state": "offline"})
    order_id = submit(server)
    select = views.select_value(order_id, "1/D1:check_address")
    r = op.post("/console/fallout", {"select": select, "action": "skip"})
    assert r.status_code == 400 and "the reason is required" in text_of(r.text)
    r = op.post("/console/fallout", {"select": select, "action": "skip", "reason": "address checked by phone"})
    assert r.status_code == 200 and "done" in text_of(r.text)
    assert any(h["subject"] == "1/D1:check_address" and h["cause"] == "skipped by operator: address checked by phone" for h in history(server, order_id))


# ---- worklists: claim, complete ----------------------------------------------------------------------------------


def test_a_manual_task_is_claimed_then_completed_through_its_form(server):
    order_id = submit(server)
    op, admin = Browser(server.url, "operator"), Browser(server.url, "admin")
    work = op.get("/console/worklists")
    row = re.search(rf'<tr class="manual-task" data-order="{order_id}" data-task="{re.escape(VISIT)}">(.*?)</tr>', work.text, re.S)
    assert row and "2026-" in row.group(1) and "Queue field_ops" in text_of(work.text)  # its due time

    r = op.post("/console/tasks/claim", {"order": order_id, "task": VISIT, "reason": "I am in the area"})
    assert r.status_code == 200, text_of(r.text)
    assert '<td class="claimed">operator</td>' in op.get("/console/worklists").text
    assert any(h["subject"] == VISIT and h["cause"] == "claimed by operator: I am in the area" for h in history(server, order_id))
    r = admin.post("/console/tasks/claim", {"order": order_id, "task": VISIT, "reason": "me too"})
    assert r.status_code == 409 and "is claimed by operator" in text_of(r.text)

    form = op.get(f"/console/tasks/complete?order={order_id}&task={VISIT}")
    assert form.status_code == 200 and 'id="complete-form"' in form.text and '<label for="extra-data">' in form.text
    bad = op.post("/console/tasks/complete", {"order": order_id, "task": VISIT, "data": "technician"})
    assert bad.status_code == 400 and "expected key=value, got 'technician'" in text_of(bad.text)  # as `om tasks complete --data` says it
    assert any(t["id"] == VISIT and t["status"] == "ready" for t in server.service.order(order_id)["tasks"])  # nothing changed
    r = op.post("/console/tasks/complete", {"order": order_id, "task": VISIT, "data": "technician=T-17\nminutes=45"})
    assert r.status_code == 200, text_of(r.text)
    visit = next(t for t in server.service.order(order_id)["tasks"] if t["id"] == VISIT)
    assert visit["status"] == "completed" and visit["outputs"] == {"technician": "T-17", "minutes": 45}  # typed as --data types it
    assert any(h["subject"] == VISIT and h["cause"] == "completed by operator" for h in history(server, order_id))
    assert op.get(f"/console/tasks/complete?order={order_id}&task={VISIT}").status_code == 404  # no longer open


def test_amend_by_a_revision_and_its_fate_on_the_order_page(server):
    order_id = submit(server)
    op = Browser(server.url, "operator")
    revision = server.service.order_document(order_id)
    revision["note"] = [{"text": "changed in the console"}]
    r = op.post(f"/console/orders/{order_id}/amend", {"revision": "{not json"})
    assert r.status_code == 400 and "not readable JSON" in text_of(r.text)
    r = op.post(f"/console/orders/{order_id}/amend", {"revision": json.dumps(revision)})
    assert r.status_code == 200, text_of(r.text)
    page = text_of(op.get(f"/console/orders/{order_id}").text)
    assert "Revisions" in page and re.search(r"2 (applied|waiting) operator", page), page[page.index("Revisions") :][:300]


# ---- a fallout task's typed form ------------------------------------------------------------------------------

TYPED = FALLOUT_SPEC


@pytest.fixture
def typed(tmp_path):
    """A catalog whose reserve call refuses (409, fatal) once and falls out to queue desk; its outputs are a string and an int."""
    from om_dsl.check import check_texts
    from om_dsl.lower import lower
    from om_dsl.rules.interpreter import Interpreter

    from support.api_server import one_order_served

    rules = Interpreter(lower(check_texts({"f.om": TYPED}).scopes[0]))
    doc = {"id": "F-1", "productOrderItem": [{"id": "1", "action": "add", "productOffering": {"id": "SVC"}, "product": {"productCharacteristic": [{"name": "site", "value": "S-1"}]}}]}
    with one_order_served(tmp_path, rules, "inv", {"inv.reserve": "status:409:1"}, doc) as served:
        yield served


def test_a_fallout_forms_fields_are_the_failed_tasks_outputs_typed_and_checked(typed):
    url, service, order_id = typed
    fallout = "1/d:reserve.fallout"
    op = Browser(url, "operator")
    work = op.get("/console/worklists?queue=desk")
    assert f'data-task="{fallout}"' in work.text
    form = op.get(f"/console/tasks/complete?order={order_id}&task={fallout}").text
    assert re.search(r'<label for="out-resolution">resolution <small>\(one of retried, skipped, fixed\)</small></label>', form)
    assert '<label for="out-slot">slot <small>(int)</small></label>' in form and 'inputmode="numeric"' in form
    assert '<label for="out-port">port <small>(string)</small></label>' in form

    bad = op.post("/console/tasks/complete", {"order": order_id, "task": fallout, "out.resolution": "fixed", "out.port": "P-9", "out.slot": "seven"})
    assert bad.status_code == 400
    assert "1/d:reserve fixed by hand needs its outputs: `slot` = 'seven' is not an int" in text_of(bad.text)  # the engine's own check, as for --data
    assert 'value="seven"' in bad.text  # the form again, as it was filled in
    none = op.post("/console/tasks/complete", {"order": order_id, "task": fallout, "out.resolution": ""})
    assert none.status_code == 400 and "needs a resolution" in text_of(none.text)

    ok = op.post("/console/tasks/complete", {"order": order_id, "task": fallout, "out.resolution": "fixed", "out.port": "P-9", "out.slot": "7"})
    assert ok.status_code == 200, text_of(ok.text)
    service.settle([order_id])
    tasks = {t["id"]: t for t in service.order(order_id)["tasks"]}
    assert tasks["1/d:reserve"]["outputs"] == {"port": "P-9", "slot": 7}
    assert tasks["1/d:activate"]["status"] == "completed"
    assert any(h["cause"] == f"fallout {fallout} resolved by operator: fixed by hand" for h in service.history(order_id))


def test_a_fatally_failed_task_is_grouped_and_retried_from_the_fallout_page(typed):
    url, service, order_id = typed
    op = Browser(url, "operator")
    page = op.get("/console/fallout").text
    group = re.search(r'<fieldset class="fallout-group".*?</fieldset>', page, re.S).group(0)
    assert '<span class="system">inv</span>.<span class="operation">reserve</span>' in group and "fatallyFailed" in group and "409" in group
    r = op.post("/console/fallout", {"select": views.select_value(order_id, "1/d:reserve"), "action": "retry", "reason": "the desk fixed the port"})
    assert r.status_code == 200 and '<tr class="outcome ok">' in r.text, text_of(r.text)  # re-read: it left fallout (the fault was once only)
    assert any(h["subject"] == "1/d:reserve" and "retried by operator: the desk fixed the port" in h["cause"] for h in service.history(order_id))
    service.settle([order_id])
    assert service.order(order_id)["status"] == "completed"
    assert "No fallout" in op.get("/console/fallout").text


class Controls(HTMLParser):
    """Every form control of a page, and the labels that name them."""

    def __init__(self):
        super().__init__()
        self.controls, self.labelled, self.depth, self.buttons = [], set(), 0, []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "label":
            self.depth += 1
            if a.get("for"):
                self.labelled.add(a["for"])
        elif tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit"):
            self.controls.append((a.get("id"), a.get("name"), self.depth > 0 or bool(a.get("aria-label"))))
        elif tag == "button":
            self.buttons.append("")

    def handle_endtag(self, tag):
        if tag == "label":
            self.depth -= 1

    def handle_data(self, data):
        if self.buttons and not self.buttons[-1]:
            self.buttons[-1] = data.strip()


def test_every_control_of_every_page_has_a_label(server):
    op = Browser(server.url, "operator")
    op.post("/console/systems", {"system": "inventory", "state": "offline"})
    held = submit(server)
    op.post("/console/systems", {"system": "inventory", "state": "online"})
    server.service.settle([held])
    order_id = submit(server)
    pages = ["/console/login", "/console/orders", f"/console/orders/{order_id}", "/console/fallout", "/console/worklists", "/console/systems", f"/console/tasks/complete?order={order_id}&task={VISIT}"]
    op.post("/console/systems", {"system": "inventory", "state": "offline"})
    submit(server)  # one held call: the fallout page has its controls
    for path in pages:
        r = op.get(path)
        assert r.status_code == 200, path
        found = Controls()
        found.feed(r.text)
        assert found.controls, path
        unlabelled = [(i, n) for i, n, wrapped in found.controls if not wrapped and i not in found.labelled]
        assert unlabelled == [], path
        assert all(found.buttons), path  # every button says what it does
    systems = text_of(op.get("/console/systems").text)
    assert re.search(r"acme 2026\.\d+ \(plan [0-9a-f]{12}\) ?: 3 unfinished order", systems)


def test_console_home_and_unknown_pages(server):
    b = Browser(server.url, "viewer")
    assert b.http.get("/console").headers["location"] == "/console/orders"
    assert b.http.get("/console/").headers["location"] == "/console/orders"
    r = b.get("/console/nowhere")
    assert r.status_code == 404 and "no page at /console/nowhere" in text_of(r.text)
    assert b.get("/console/orders/ORD-NOPE").status_code == 404
    assert b.http.get("/console/static/console.css").headers["content-type"].startswith("text/css")


def test_an_id_with_a_slash_and_a_hash_has_its_page_and_actions(server):
    order_id = submit(server, id="ORD 1/x#y")
    assert order_id == "ORD 1/x#y"
    op = Browser(server.url, "operator")
    listed = op.get("/console/orders").text
    assert 'href="/console/orders/ORD%201/x%23y"' in listed
    page = op.get("/console/orders/ORD%201/x%23y")
    assert page.status_code == 200 and "Order ORD 1/x#y" in text_of(page.text)
    assert 'action="/console/orders/ORD%201/x%23y/cancel"' in page.text
    assert op.get("/console/orders/ORD%201/x%23y/live").status_code == 200
    r = op.post("/console/orders/ORD%201/x%23y/cancel", {"reason": "a test"})
    assert r.status_code == 200, text_of(r.text)


@pytest.fixture
def held(tmp_path):
    """The Acme catalog with its inventory over HTTP refusing check_address once (400: fatal at once): the order is held."""
    from om_dsl.rules.generated import GeneratedRules

    from support.api_server import one_order_served
    from support.engine_helpers import ACME

    with one_order_served(tmp_path, GeneratedRules(ACME), "inventory", {"inventory.check_address": "status:400:1"}, order_body("fiber-minimal.json")) as served:
        yield served


def test_a_held_order_is_resumed_from_its_page(held):
    url, service, order_id = held
    assert service.order(order_id)["status"] == "held"
    op, viewer = Browser(url, "operator"), Browser(url, "viewer")
    assert 'id="resume-form"' not in viewer.get(f"/console/orders/{order_id}").text
    page = op.get(f"/console/orders/{order_id}").text
    assert 'id="resume-form"' in page and '<label for="resume-reason">' in page
    assert re.search(r'data-task="1/D1:check_address" data-state="fatallyFailed"', page)
    assert viewer.post(f"/console/orders/{order_id}/resume", {"reason": "x"}).status_code == 403
    r = op.post(f"/console/orders/{order_id}/resume", {"reason": "inventory fixed"})
    assert r.status_code == 200 and '<tr class="outcome ok">' in r.text, text_of(r.text)
    assert any("order resumed by operator: inventory fixed" in h["cause"] for h in service.history(order_id))


def test_a_session_ends_at_its_expiry_and_holds_only_what_was_signed():
    from om_dsl.console.session import LIFETIME_S, Sessions

    sessions = Sessions(b"k" * 32)
    s, cookie = sessions.issue("ops-anna", "operator", 1000.0)
    assert sessions.read(cookie, 1000.0 + LIFETIME_S - 1) == s
    assert sessions.read(cookie, 1000.0 + LIFETIME_S) is None  # expired
    assert Sessions(b"x" * 32).read(cookie, 1000.0) is None  # another server's secret (a restart)
    body, mac = cookie.split(".")
    import base64

    promoted = base64.urlsafe_b64encode(json.dumps(["ops-anna", "admin", s.expires, s.nonce]).encode()).decode().rstrip("=")
    assert sessions.read(f"{promoted}.{mac}", 1000.0) is None  # a role written in by hand
    assert sessions.csrf_ok(s, sessions.csrf(s)) and not sessions.csrf_ok(s, sessions.csrf(sessions.issue("ops-anna", "operator", 1000.0)[0]))
    for junk in ("", ".", "a.b", "x" * 5000, "%%%.%%%"):
        assert sessions.read(junk, 1000.0) is None


def test_bad_input_is_a_page_that_says_why_never_a_traceback(server):
    op = Browser(server.url, "operator")
    csrf = op.csrf
    cases = [
        (op.post("/console/fallout", {"select": "not json", "action": "retry"}), 400, "the selection is not readable"),
        (op.post("/console/fallout", {"select": '["only one"]', "action": "retry"}), 400, "the selection is not readable"),
        (op.post("/console/fallout", {"action": "retry"}), 400, "select at least one task"),
        (op.post("/console/fallout", {"select": views.select_value("ORD-NOPE", "x"), "action": "explode"}), 400, "the action is retry or skip"),
        (op.post("/console/tasks/complete", {"order": "ORD-NOPE", "task": "x"}), 404, "no order has this id"),
        (op.post("/console/tasks/claim", {"order": "ORD-NOPE", "task": "x", "reason": "line\nbreak"}), 400, "the reason holds a control character"),
        (op.post("/console/systems", {"system": "inventory", "state": "sideways"}), 400, "the state is offline or online"),
        (op.http.post("/console/fallout", content=b'{"action": "retry"}', headers={"Content-Type": "application/json"}), 415, "the console takes forms"),
        (op.http.post("/console/fallout", content=b"csrf=" + csrf.encode() + b"&action=\xff\xfe", headers={"Content-Type": "application/x-www-form-urlencoded"}), 400, "the form is not readable"),
        (op.http.post("/console/fallout", content=b"&".join([b"a=1"] * 2100), headers={"Content-Type": "application/x-www-form-urlencoded"}), 400, "the form is not readable"),
        (op.get("/console/orders?jeopardy=purple"), 400, "jeopardy is green, yellow or red"),
    ]
    for r, status, says in cases:
        assert (r.status_code, says in text_of(r.text)) == (status, True), text_of(r.text)[-300:]
        assert "Traceback" not in r.text
    big = op.http.post("/console/fallout", content=b"x" * (2 * 1024 * 1024), headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert big.status_code == 413  # refused unread
    submit(server)  # (a store knows its catalogs' systems once an order ran)
    r = op.post("/console/systems", {"system": "nosuch", "state": "offline"})
    assert r.status_code == 409 and "no system 'nosuch'" in text_of(r.text)


def test_a_session_ends_when_the_token_it_came_from_expires(server):
    """A JWT's `exp` caps its console session (om's own tokens do not expire: 8 hours)."""
    import base64
    import time

    from om_dsl.api.auth import _expiry
    from om_dsl.console.session import LIFETIME_S, Sessions

    def jwt(claims: dict) -> str:
        part = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
        return f"eyJhbGciOiJSUzI1NiJ9.{part}.c2ln"

    assert _expiry(jwt({"exp": 2_000_000_000, "sub": "x"})) == 2_000_000_000
    assert _expiry(TOKENS["operator"]) is None and _expiry("a.b.c") is None and _expiry(jwt({"exp": True})) is None
    sessions = Sessions(b"k" * 32)
    s, _ = sessions.issue("ops", "operator", 1000.0, until=1600)
    assert s.expires == 1600
    s, _ = sessions.issue("ops", "operator", 1000.0, until=10**12)
    assert s.expires == 1000 + LIFETIME_S
    r = Browser(server.url).login(TOKENS["operator"])  # an opaque token: the whole working day
    assert f"Max-Age={LIFETIME_S}" in r.headers["set-cookie"]
    assert time.time() < 2_000_000_000


def test_fallout_is_grouped_by_system_operation_state_and_error():
    def task(tid, status, call, error):
        return {"id": tid, "type": "callout", "status": status, "call": call, "error": error, "attempts": 1}

    orders = [
        {"id": "A", "tasks": [task("1/D1:x", "fatallyFailed", "inv.reserve", "409"), task("1/D1:y", "onHold", "net.activate", None) | {"waiting_for": "on hold: system net is offline"}]},
        {"id": "B", "tasks": [task("1/D1:x", "fatallyFailed", "inv.reserve", "409"), task("1/D1:z", "fatallyFailed", "inv.reserve", "500"), task("1/D1:q", "completed", "inv.reserve", None)]},
        {"id": "C", "tasks": [task("1/D1:t", "fatallyFailed", "acme_tasks.numbers:to_e164", "ValueError")]},
    ]
    groups = [(g["system"], g["operation"], g["status"], g["error"], [(t["order"], t["id"]) for t in g["tasks"]]) for g in views.fallout_groups(orders)]
    assert groups == [
        ("inv", "reserve", "fatallyFailed", "409", [("A", "1/D1:x"), ("B", "1/D1:x")]),
        ("inv", "reserve", "fatallyFailed", "500", [("B", "1/D1:z")]),
        ("net", "activate", "onHold", "on hold: system net is offline", [("A", "1/D1:y")]),
        ("python", "acme_tasks.numbers:to_e164", "fatallyFailed", "ValueError", [("C", "1/D1:t")]),
    ]
    assert views.selected([views.select_value("O 1/#", "t")] * 2) == [("O 1/#", "t")]  # a task selected twice is acted on once
    assert views.paged(list(range(5)), 9, 2) == ([4], 3) and views.paged([], 1, 2) == ([], 1)


def test_fallout_says_what_it_left_out_and_shows_the_rest(server, monkeypatch):
    from om_dsl.console import app

    op = Browser(server.url, "operator")
    op.post("/console/systems", {"system": "inventory", "state": "offline"})
    ids = [submit(server) for _ in range(3)]
    monkeypatch.setattr(app, "MAX_READ", 2)
    page = op.get("/console/fallout")
    assert page.status_code == 200
    assert "only the oldest 2 of 3 unfinished orders are read here" in text_of(page.text)
    assert sum(f'data-order="{i}"' in page.text for i in ids) == 2  # the rest is shown


def test_a_running_orders_graph_fills_each_task_with_its_states_colour():
    from om_dsl.graph import run_graph, to_dot
    from om_dsl.graph.dot import STATE_FILL

    order = {"id": "O-1", "status": "inProgress", "tasks": [
        {"id": "1/D1:a", "name": "a", "type": "callout", "line": "1/D1", "status": "completed", "attempts": 1},
        {"id": "1/D1:b", "name": "b", "type": "manual", "line": "1/D1", "status": "ready", "attempts": 0, "depends_on": ["1/D1:a"], "jeopardy": "red"},
        {"id": "1/D2:c", "name": "c", "type": "callout", "line": "1/D2", "status": "fatallyFailed", "attempts": 3, "depends_on": ["1/D1:b"], "point_of_no_return": "soft", "error": "409"},
    ]}
    dot = to_dot(run_graph(order))
    assert f'"task:1/D1:a" [label="a\\ncallout: completed\\nattempts 1", shape=box, style="filled", fillcolor="{STATE_FILL["completed"]}"' in dot
    assert f'style="rounded,filled", fillcolor="{STATE_FILL["ready"]}"' in dot  # a manual task keeps its rounded corners
    assert f'fillcolor="{STATE_FILL["fatallyFailed"]}", color="#c00000", penwidth=2.5' in dot  # and a point of no return its red outline
    assert '"task:1/D1:a" -> "task:1/D1:b";' in dot and '"task:1/D1:b" -> "task:1/D2:c" [style=dashed];' in dot
    assert to_dot(run_graph(order)) == dot  # the same order, the same picture (the console keeps it drawn by this text)
