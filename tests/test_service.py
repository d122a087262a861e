"""The order service: one protocol, two engines, and a CLI that never asks which."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from om_dsl import service as svc
from om_dsl.embedded.service import EmbeddedOrders

ROOT = Path(__file__).resolve().parents[1]
PROTOCOL = sorted(n for n, v in vars(svc.OrderService).items() if callable(v) and not n.startswith("_"))


def _params(fn) -> list[str]:
    return list(inspect.signature(fn).parameters)


def implementations():
    out = [EmbeddedOrders]
    try:
        from om_dsl.temporal.service import TemporalService
    except ImportError:  # the temporal extra is not installed
        return out
    return out + [TemporalService]


@pytest.mark.parametrize("impl", implementations(), ids=lambda c: c.__name__)
def test_each_engine_implements_every_method_with_the_same_parameters(impl):
    for name in PROTOCOL:
        assert hasattr(impl, name), f"{impl.__name__} has no {name}"
        assert _params(getattr(impl, name)) == _params(getattr(svc.OrderService, name)), f"{impl.__name__}.{name}"


def test_the_protocol_covers_what_a_front_end_needs():
    wanted = {"submit", "settle", "amend", "cancel", "complete_task", "retry_task", "skip_task", "resume", "set_system", "deliver_callback",
              "register_listener", "unregister_listener", "listeners", "orders", "order", "history", "manual_tasks", "installed_base", "notifications", "give_up", "product_order"}
    assert wanted <= set(PROTOCOL)


def test_the_cli_picks_the_engine_in_one_place():
    """`target.temporal` is read only by engines.pick_engine and pick_worker: no command branches on the engine."""
    found = []
    for path in sorted((ROOT / "om_dsl" / "cli").glob("*.py")):
        tree = ast.parse(path.read_text())
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) and fn.name not in ("pick_engine", "pick_worker", "temporal"):
                for node in ast.walk(fn):
                    if isinstance(node, ast.Attribute) and node.attr in ("temporal", "engine") and isinstance(node.value, ast.Name) and node.value.id == "target":
                        found.append(f"{path.name}:{node.lineno} in {fn.name}")
    assert found == []


def test_the_cli_reads_no_store_and_drives_no_runner():
    """Commands go through the service: no Store, Runner or session of their own."""
    for path in sorted((ROOT / "om_dsl" / "cli").glob("*.py")):
        text = path.read_text()
        for name in ("Store(", "Runner(", ".runner.", "store.transaction", "runner_lock"):
            assert name not in text, f"{path.name} uses {name}"


def test_an_unknown_order_is_a_service_error_with_a_hint(tmp_path):
    from om_dsl.embedded.service import Options, acting, reading
    from om_dsl.rules.generated import GeneratedRules

    opts = Options(str(tmp_path / "om.db"), clock="simulated")
    rules = GeneratedRules(ROOT / "generated" / "acme")
    with acting(opts, rules) as s:
        order_id, status, _ = s.submit((ROOT / "examples" / "orders" / "fiber-minimal.json").read_text())
        (settled,) = s.settle([order_id])
        assert settled["id"] == order_id and settled["status"] == status == "inProgress"
    with reading(opts) as s:
        with pytest.raises(svc.NoOrder, match=f"did you mean {order_id}"):
            s.order(order_id + "x")
        assert [o["id"] for o in s.orders()] == [order_id]


def test_a_second_acting_service_is_unavailable_not_blocked(tmp_path, monkeypatch):
    from om_dsl.embedded import lock
    from om_dsl.embedded.service import Options, acting

    opts = Options(str(tmp_path / "om.db"))
    real = lock.runner_lock
    monkeypatch.setattr("om_dsl.embedded.service.runner_lock", lambda path, wait_s=0.0: real(path, wait_s=0.0))
    with acting(opts):
        with pytest.raises(svc.Unavailable):
            with acting(opts):
                pass
