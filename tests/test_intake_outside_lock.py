"""Orders planned outside the runner lock (om_dsl/embedded/intake.py), as `om
serve` plans them: kept row for row as `om run` keeps them, in one batch or
one by one; answered with the ProductOrder the store gives back; and planned
again under the lock when what planning read of the installed base changed
before the commit."""

from __future__ import annotations

import json
import sqlite3

import pytest

from om_dsl.embedded import intake
from om_dsl.embedded.service import Options, acting, serving
from om_dsl.rules.generated import GeneratedRules

from support import ROOT
from support.engine_helpers import ACME

START = 1_795_780_800_000
VALID = ["new-fiber-every-option.json", "fiber-tv-ported-phone.json", "fiber-minimal.json", "tv-alone.json"]
TABLES = {  # every row an accepted order writes, in a stable order
    "orders": "SELECT * FROM orders ORDER BY id",
    "tasks": "SELECT * FROM tasks ORDER BY order_id, item_id",
    "order_state": "SELECT * FROM order_state ORDER BY order_id, part",
    "events": "SELECT * FROM events ORDER BY seq",
    "outbox": "SELECT * FROM outbox ORDER BY seq",
    "catalog_versions": "SELECT * FROM catalog_versions",
}


def texts() -> list[str]:
    out = []
    for n, name in enumerate(VALID * 2):  # each example twice, under two ids
        doc = json.loads((ROOT / "examples" / "orders" / name).read_text())
        out.append(json.dumps(dict(doc, id=f"ORD-T{n}", externalId=f"CPQ-T{n}")))
    return out


def rows(db_path) -> dict:
    with sqlite3.connect(str(db_path)) as con:
        return {table: con.execute(query).fetchall() for table, query in TABLES.items()}


def options(path) -> Options:
    return Options(db_path=str(path), clock="simulated", start=START, tasks_path=(str(ROOT / "examples"),))


@pytest.fixture
def under_the_lock(tmp_path):
    """The store as `om run` writes it: each order planned and kept under the lock, one commit each."""
    with acting(options(tmp_path / "run.db"), GeneratedRules(ACME)) as service:
        answers = [service.submit(t) for t in texts()]
    return answers, rows(tmp_path / "run.db")


def test_one_batch_of_orders_planned_outside_is_kept_as_om_run_keeps_them(tmp_path, under_the_lock):
    answers, expected = under_the_lock
    with serving(options(tmp_path / "serve.db"), GeneratedRules(ACME)) as shared:
        runner = shared.inner.runner
        prepared = [intake.prepare(runner, t, installed=shared._installed(), rows=True) for t in texts()]
        assert all(p.rows is not None for p in prepared)
        with shared.using() as orders, orders.store.batch():
            got = intake.accept_all(runner, prepared)
        assert all(p.kept for p in prepared)  # none planned again: nothing they read changed
    assert [(i, s, list(p)) for i, s, p in got] == [(i, s, list(p)) for i, s, p in answers]
    assert rows(tmp_path / "serve.db") == expected


def test_orders_submitted_to_om_serve_one_by_one_are_kept_alike_and_answered_as_stored(tmp_path, under_the_lock):
    _, expected = under_the_lock
    with serving(options(tmp_path / "serve.db"), GeneratedRules(ACME)) as shared:
        for text in texts():
            order_id, _, _ = shared.submit(text)
            answered = shared.product_order(order_id)  # rendered at acceptance, outside the lock
            with shared.using() as orders:
                assert answered == orders.product_order(order_id)  # ... as the store gives it back
    assert rows(tmp_path / "serve.db") == expected


def test_an_order_is_planned_again_when_what_it_read_changed_before_the_commit(tmp_path):
    with serving(options(tmp_path / "serve.db"), GeneratedRules(ACME)) as shared:
        runner = shared.inner.runner
        first, second = (intake.prepare(runner, t, installed=shared._installed(), rows=True) for t in texts()[2:4])
        assert second.reads  # the order-scoped lines: the customer's billing line, looked up
        name, args, answer = second.reads[0]
        assert (name, answer) == ("line", None)
        with shared.using() as orders:
            with orders.store.transaction() as db:  # meanwhile the line is installed (another order completed)
                db.execute("INSERT INTO orders (id, status, document, created_at, updated_at) VALUES ('ORD-OLD', 'completed', '{}', 0, 0)")
                db.execute(
                    "INSERT INTO inventory (id, customer, product, attributes, outputs, order_id, line, status, updated_at, line_key, rule, source_asset)"
                    " VALUES ('INV-1', 'ACC-1', 'billing_account', ?, '{}', 'ORD-OLD', 'l1', 'active', 0, ?, 'r', NULL)",
                    (json.dumps({"note": "installed"}), *args),
                )
            with orders.store.batch():
                answers = intake.accept_all(runner, [first, second])
        assert all(not isinstance(a, Exception) for a in answers), answers
        assert not second.kept  # planned again, under the lock, against the line as it is now
        with shared.using() as orders:
            state = orders.store.load(second.order_id)
        line = next(ln for ln in state.lines.values() if ln.key == args[0])
        assert line.previous == {"note": "installed"}  # (its installed attributes: planning saw the line)


def test_a_duplicate_in_one_batch_or_in_the_store_is_refused_alone(tmp_path):
    text = texts()[2]
    with serving(options(tmp_path / "serve.db"), GeneratedRules(ACME)) as shared:
        runner = shared.inner.runner
        batch = [intake.prepare(runner, t, installed=shared._installed(), rows=True) for t in (text, text, texts()[3])]
        with shared.using() as orders, orders.store.batch():
            answers = intake.accept_all(runner, batch)
        assert answers[0][0] == "ORD-T2" and answers[2][0] == "ORD-T3"
        assert "duplicate_order" in str(answers[1].problems[0].rule)
        again = intake.prepare(runner, text, installed=shared._installed(), rows=True)
        with shared.using() as orders, orders.store.batch():
            (answer,) = intake.accept_all(runner, [again])
        assert answer.problems[0].rule == "duplicate_order"


def test_the_product_order_rendered_at_acceptance_answers_only_the_call_right_after_the_submit(tmp_path):
    with serving(options(tmp_path / "serve.db"), GeneratedRules(ACME)) as shared:
        first, second = texts()[2:4]
        order_id, _, _ = shared.submit(first)
        assert shared.product_order(order_id)["state"] == "inProgress"  # (as accepted)
        shared.cancel(order_id, "cpq", "the customer moved")
        assert shared.product_order(order_id)["state"] != "inProgress"  # read from the store: cancelled, or on its way
        other, _, _ = shared.submit(second)
        shared.cancel(other, "cpq", "the customer moved")  # another call first: the one rendered at acceptance is dropped
        answered = shared.product_order(other)
        with shared.using() as orders:
            assert answered == orders.product_order(other) and answered["state"] != "inProgress"
