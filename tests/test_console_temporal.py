"""The operator console on the Temporal engine (`om serve --engine temporal`):
the same pages and actions as on the embedded engine (tests/test_console.py),
through the Temporal order service, a worker in this process and the
development server: an order's page, a manual task claimed and completed
through its form, who and why in the history; what Temporal does not keep
(systems taken offline) is said on the page, not a traceback."""

from __future__ import annotations

import re
import time
import uuid

import pytest

pytest.importorskip("temporalio")

from om_dsl.api.server import in_thread  # noqa: E402
from om_dsl.cli.engines import Serialized  # noqa: E402
from om_dsl.rules.generated import GeneratedRules  # noqa: E402
from om_dsl.temporal.service import ON_TEMPORAL  # noqa: E402

from support.api_server import tokens  # noqa: E402
from support.console_client import Browser, text_of  # noqa: E402
from support.engine_helpers import ACME  # noqa: E402
from support.scenario_engines import OnTemporal  # noqa: E402

VISIT = "1/D1:install_visit"
PATIENCE_S = 120


@pytest.fixture
def console(tmp_path, temporal_server):
    from om_dsl.temporal.service import TemporalService

    rules = GeneratedRules(ACME)
    engine = OnTemporal(tmp_path, rules, {}, temporal_server)
    service = Serialized(TemporalService(temporal_server.address, "default", engine.queue, rules))
    http = in_thread(service, tokens()).start()
    yield http.url, service
    http.stop()
    engine._terminate_leftovers()
    service.close()
    engine.close() if hasattr(engine, "close") else None


def until(check, what: str):
    deadline = time.monotonic() + PATIENCE_S
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"not within {PATIENCE_S} s: {what}")


def test_claim_and_complete_a_manual_task_on_temporal(console):
    import json

    from support.api_server import order_body

    url, service = console
    n = uuid.uuid4().hex[:8]
    body = order_body("fiber-minimal.json", id=f"ORD-C{n}")
    for party in body["relatedParty"]:  # each test its own customer: the installed base outlives the test
        party["id"] = f"ACC-C{n}"
    order_id, status, _ = service.submit(json.dumps(body))
    assert status != "rejected"
    until(lambda: any(t["id"] == VISIT and t["status"] == "ready" for t in service.order(order_id)["tasks"]), "the install visit is ready")

    op = Browser(url, "operator")
    page = op.get(f"/console/orders/{order_id}")
    assert page.status_code == 200 and re.search(rf'data-task="{re.escape(VISIT)}" data-state="ready"', page.text)
    assert "1/D1:activate_line: soft, not passed" in text_of(page.text)
    until(lambda: order_id in op.get("/console/orders").text, "the orders page lists it (from Temporal's visibility store, a moment behind)")
    work = op.get("/console/worklists")
    assert f'data-order="{order_id}" data-task="{VISIT}"' in work.text

    r = op.post("/console/tasks/claim", {"order": order_id, "task": VISIT, "reason": "on my route"})
    assert r.status_code == 200, text_of(r.text)
    r = Browser(url, "admin").post("/console/tasks/claim", {"order": order_id, "task": VISIT, "reason": "mine"})
    assert r.status_code == 409 and "is claimed by operator" in text_of(r.text)
    bad = op.post("/console/tasks/complete", {"order": order_id, "task": VISIT, "data": "=nothing"})
    assert bad.status_code == 400 and "expected key=value" in text_of(bad.text)
    r = op.post("/console/tasks/complete", {"order": order_id, "task": VISIT, "data": "technician=T-3"})
    assert r.status_code == 200, text_of(r.text)

    causes = [h["cause"] for h in service.history(order_id) if h["subject"] == VISIT]
    assert "claimed by operator: on my route" in causes and "completed by operator" in causes
    until(lambda: service.order(order_id)["status"] == "completed", "the order completes")
    assert "completed" in text_of(op.get(f"/console/orders/{order_id}").text)


def test_systems_and_fallout_pages_on_temporal(console):
    url, _ = console
    op = Browser(url, "operator")
    systems = op.get("/console/systems")
    assert systems.status_code == 200 and ON_TEMPORAL in text_of(systems.text)  # the service's own words
    assert 'class="system-form"' not in systems.text and 'id="system-offline-form"' not in systems.text  # nothing to press that cannot work
    assert op.get("/console/fallout").status_code == 200
