"""The benchmark suite runs (smallest sizes, once; no timing asserts), and the
hand-written Acme planner gives the real planner's lines and plan items."""

from __future__ import annotations

import sys

import pytest

from support import ROOT

sys.path.insert(0, str(ROOT / "bench"))

import generate as G  # noqa: E402
import run as B  # noqa: E402


def test_handwritten_planner_equals_the_real_one():
    assert B.check_handwritten() == B.VALID


def test_generated_catalog_checks_clean(tmp_path):
    G.write_catalog(tmp_path, 500)
    from om_dsl.check import check_paths

    assert check_paths([str(tmp_path)]).ok
    assert G.catalog_files(500, seed=3) == G.catalog_files(500, seed=3)


@pytest.mark.slow
@pytest.mark.temporal  # bench_engines starts a dev server of its own
def test_every_benchmark_runs_at_its_smallest_size():
    c = B.bench_compile(300, 1)
    assert c["lines"] > 0 and c["total_s"] > 0
    p = B.bench_planning(2, 1)
    assert set(p["orders_per_s"]) == {"generated", "interpreter", "handwritten"}
    s = B.bench_scale([10], 1)
    assert s["10"]["lines"] == 20
    d = B.bench_durable(2, 1)
    assert set(d) == {"FULL", "NORMAL"}
    m = B.bench_memory([5])
    assert m["5"]["peak_rss_mb"] > 0
    e = B.bench_engines(2, 1)  # a Temporal dev server of its own
    assert e["embedded_orders_per_s"] > 0 and e["temporal_orders_per_s"] > 0
    md = B.markdown({"quick": True, "runs": 1, "seconds": 0, "machine": B.machine(), "compile": [c], "planning": p, "scale": s, "durable": d, "memory": m, "engines": e})
    assert "Compile" in md and "Temporal / embedded" in md


def test_the_api_benchmark_runs_at_its_smallest_size():
    import api as A  # bench/api.py

    api = A.api_run(20, 5, "S", 0.2, workers=2)  # `om serve --workers 2` as processes of their own, 5 clients
    assert api["orders_per_s"] > 0 and 0 < api["p50_ms"] <= api["p99_ms"]
    assert api["stored"] == 20  # (api_run counts them in the store)
    assert A.om_run_path(20, "S") > 0


@pytest.mark.slow
@pytest.mark.temporal  # the big order on Temporal starts a dev server of its own
def test_the_durable_events_benchmark_runs_at_its_smallest_size():
    import events

    r = {"transitions": events.bench_transitions(2, 1), "growth": events.bench_growth([10, 100], 1), "temporal": events.temporal_big_order(10)}
    assert r["transitions"]["FULL"]["loop_per_s"] > 0 and r["growth"]["100"]["fan_out_released"] == 48
    assert r["temporal"]["status"] == "completed"
    md = events.table(r)
    assert "engine / loop" in md and "fan-out per released task" in md and "Temporal: items" in md


def test_the_planning_benchmark_runs_at_its_smallest_size():
    """bench/planning.py's sections: the split times the generated path, big orders run on both engines."""
    p = B.bench_planning(2, 1)
    assert set(p["generated_share"]) == {"intake", "validate+enrich", "decompose", "plan"}
    s = B.bench_scale([10], 1)
    assert s["10"]["lines"] == 20 and s["10"]["interpreter_seconds"] > 0 and s["10"]["generated_over_interpreter"] > 0
    rows = "\n".join(B.planning_rows({"planning": p, "scale": s}))
    assert "generated / interpreter" in rows and "| 10 | 20 | 24 |" in rows


def test_the_intake_benchmark_runs_at_its_smallest_size():
    """bench/planning.py's section 2b: intake alone, generated, shared and hand-written."""
    import planning as P

    i = P.bench_intake(2, 1)
    assert set(i["us_per_order"]) == {"generated", "shared", "handwritten"} and all(v > 0 for v in i["us_per_order"].values())
    assert "generated / hand-written" in "\n".join(P.intake_rows(i))
