"""An order's state in text parts (om_dsl/temporal/parts.py): how a big
order crosses Temporal's workflow tasks, a few records per workflow task.
Pure: no server. The big order on a server is test_temporal_big_order.py."""

from __future__ import annotations

import json
import sys

import pytest

from om_dsl.engine import core as C
from om_dsl.engine import state as S
from om_dsl.temporal import parts as P

from support import ROOT

sys.path.insert(0, str(ROOT / "bench"))
import generate as G  # noqa: E402


@pytest.fixture(scope="module")
def rules():
    from om_dsl.rules.generated import GeneratedRules

    return GeneratedRules(ROOT / "generated" / "acme")


def planned_order(rules, items: int, order_id: str = "BIG"):
    from om_dsl.planning.pipeline import plan_order

    return plan_order(rules.catalog, rules, G.acme_order(items, order_id=order_id), order_id)


def read_all(parts: dict, budget: int) -> tuple[P.Loader, int]:
    loader, rounds = P.Loader(P.from_bytes(P.to_bytes(parts))[0]), 1  # (as their payload brings them)
    while not loader.read(budget):
        rounds += 1
    return loader, rounds


def test_an_order_read_in_parts_begins_as_the_order_planned_here(rules, monkeypatch):
    """The records a client sends, read back a part at a time, begin the same
    order (state, history, commands) as the planned order begun at once."""
    monkeypatch.setattr(P, "PART", 50)
    planned = planned_order(rules, 120)
    fields, items, lines, tasks, skipped, waits = C.start_records(planned, "BIG")
    parts = P.encode(fields, items, lines, tasks)
    assert len(parts["tasks"]) == -(-len(tasks) // 50) > 1 and len(parts["lines"]) > 1 and len(parts["items"]) > 1 and len(parts["asked"]) > 1  # (the request's items apart from the fields)
    loader, rounds = read_all(parts, 50)
    assert loader.total == 1 + len(parts["asked"]) + len(parts["items"]) + len(parts["lines"]) + len(parts["tasks"]) and 1 < rounds <= loader.total  # a part or two per round
    engine = C.Engine(rules.catalog, rules)
    got = engine.start_from_records("BIG", (loader.fields, loader.items, loader.lines, loader.tasks, json.loads(json.dumps(skipped)), json.loads(json.dumps(waits))), "sha", 1000)
    want = C.Engine(rules.catalog, rules).start(planned, "sha", 1000)
    assert S.to_data(got.run) == S.to_data(want.run)
    assert got.history == want.history and got.commands == want.commands


def test_a_read_takes_about_its_budget_of_records(rules, monkeypatch):
    monkeypatch.setattr(P, "PART", 40)
    planned = planned_order(rules, 100)
    fields, items, lines, tasks, _, _ = C.start_records(planned, "BIG")
    loader = P.Loader(P.encode(fields, items, lines, tasks))
    loader.read(1)  # one part at least: the fields
    assert not loader.items and loader.progress() == f"1 of {loader.total} parts read"
    loader.read(80)  # two parts of 40 of the request's items
    assert len(loader.fields["request"]["items"]) == 80 and not loader.items
    loader.read(40)
    assert len(loader.fields["request"]["items"]) == 100 and len(loader.items) == 40 and not loader.lines  # (a part of 20, one of 40)


def test_only_the_parts_a_step_changed_are_encoded_again_and_they_read_back_as_the_order(rules, monkeypatch):
    """Continuing as new re-encodes the parts whose tasks or lines changed
    since they were read; what it hands over reads back as the order is."""
    monkeypatch.setattr(P, "PART", 50)
    planned = planned_order(rules, 120)
    fields, items, lines, tasks, skipped, waits = C.start_records(planned, "BIG")
    loader, _ = read_all(P.encode(fields, items, lines, tasks), 50)
    engine = C.Engine(rules.catalog, rules)
    step = engine.start_from_records("BIG", (loader.fields, loader.items, loader.lines, loader.tasks, skipped, waits), "sha", 1000)
    packed = loader.packed
    packed.changed(step)
    assert packed.dirty == {("tasks", packed.part_of["tasks"][t]) for t in step.changed} | {("lines", packed.part_of["lines"][k]) for k in step.lines_changed}
    run = step.run
    while not packed.pack(run, 50):
        pass
    parts = packed.parts(run)
    again, _ = read_all(parts, 10_000)
    assert S.to_data(again.run()) == S.to_data(run)
    # a call answered: its task (and its line's part, when the step writes the line) is what changed
    task = next(t for t in run.tasks.values() if t.status == S.RUNNING)
    step = engine.handle(run, C.CallSucceeded(task.id, {}, 2000), in_place=True)
    packed.changed(step)
    assert ("tasks", packed.part_of["tasks"][task.id]) in packed.dirty and len(packed.dirty) <= 3  # of 12 parts: its own (and its dependents', its line's)
    while not packed.pack(run, 50):
        pass
    again, _ = read_all(packed.parts(run), 10_000)
    assert S.to_data(again.run()) == S.to_data(run)


def test_a_reshaped_order_is_split_anew(rules, monkeypatch):
    """Tasks added or rewired (an amendment merged, compensation planned):
    every part is encoded again, split anew in plan order."""
    monkeypatch.setattr(P, "PART", 50)
    planned = planned_order(rules, 60)
    fields, items, lines, tasks, skipped, waits = C.start_records(planned, "BIG")
    loader, _ = read_all(P.encode(fields, items, lines, tasks), 50)
    run = C.Engine(rules.catalog, rules).start_from_records("BIG", (loader.fields, loader.items, loader.lines, loader.tasks, skipped, waits), "sha", 1000).run
    packed = loader.packed
    packed.changed(C.Step(run, [], [], reshaped=True))
    new = S.TaskRun("extra:undo", "undo", "compensation", "X", "add", next(iter(run.lines)), [])
    run.tasks = {**run.tasks, new.id: new}
    rounds = 0
    while not packed.pack(run, 50):
        rounds += 1
    assert rounds > 1  # (split, then encoded a part or so per round)
    again, _ = read_all(packed.parts(run), 10_000)
    assert list(again.tasks) == list(run.tasks) and S.to_data(again.run()) == S.to_data(run)


def test_history_lines_are_packed_as_they_come_and_read_back_in_order(monkeypatch):
    monkeypatch.setattr(P, "HISTORY_PART", 3)
    history = P.History()
    lines = [{"at": n, "subject": "order", "from": None, "to": None, "cause": f"line {n}"} for n in range(8)]
    history.extend(lines[:2])
    history.append(lines[2])
    history.extend(lines[3:])
    assert len(history.parts) == 2 and history.tail == []  # (packed when the tail reached 3)
    assert history.all() == lines
    state = {"records": 0, "fields": "{}", "asked": [], "items": [], "lines": [], "tasks": []}
    carried = P.History(P.from_bytes(P.to_bytes(state, history.packed()))[1])  # (as a continued run's payload brings them)
    carried.append({"at": 9, "subject": "order", "from": None, "to": None, "cause": "after"})
    assert carried.all() == lines + [{"at": 9, "subject": "order", "from": None, "to": None, "cause": "after"}]


def test_a_big_order_reads_and_begins_with_bounded_work_per_part(rules):
    """A 2,000-item order (4,004 tasks): each read handles at most PART
    records (a workflow task's work), however big the order."""
    planned = planned_order(rules, 2000)
    fields, items, lines, tasks, _, _ = C.start_records(planned, "BIG")
    parts = P.encode(fields, items, lines, tasks)
    assert all(len(json.loads(t)) <= P.PART for kind in ("items", "lines", "tasks") for t in parts[kind])
    loader = P.Loader(parts)
    sizes = []
    while True:
        before = len(loader.items) + len(loader.lines) + len(loader.tasks)
        done = loader.read(P.PART)
        sizes.append(len(loader.items) + len(loader.lines) + len(loader.tasks) - before)
        if done:
            break
    assert max(sizes) <= P.PART and len(loader.tasks) == len(tasks) == 4004
