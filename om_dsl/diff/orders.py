"""Plan example orders against both catalogs and compare what comes out.

Each order (`*.json` in a folder) is planned with the interpreter against
the old and the new catalog, without an installed base. Per order: accepted
or rejected on each side (with the reasons), and, when both accept it, how
its commercial items (values after defaults and enrichment), its
fulfillment lines (product, action, values) and its orchestration plan
(tasks and dependency edges) differ.
"""

from __future__ import annotations

import datetime
import json
from decimal import Decimal
from pathlib import Path
from typing import Optional

import attrs

from om_dsl.diff.catalogs import ADDED, CHANGED, REMOVED, Field
from om_dsl.model.catalog import Catalog

ACCEPTED, REJECTED = "accepted", "rejected"


@attrs.frozen
class Entry:
    """An item, line or task added, removed or changed between the two plans."""

    op: str
    id: str
    summary: Optional[str] = None
    fields: tuple = attrs.field(converter=tuple, default=())


@attrs.frozen
class Outcome:
    status: str  # accepted or rejected
    problems: tuple = ()  # why it is rejected, one line each
    items: dict = attrs.field(factory=dict)  # id -> {field: text}
    lines: dict = attrs.field(factory=dict)
    tasks: dict = attrs.field(factory=dict)
    edges: tuple = ()  # ("on -> task", ...)


@attrs.frozen
class OrderDiff:
    file: str
    order: Optional[str]  # the order's id
    old: Outcome
    new: Outcome
    items: tuple = ()
    lines: tuple = ()
    tasks: tuple = ()
    edges: tuple = ()  # (op, "a -> b")

    @property
    def change(self) -> str:
        """unchanged, changed, now rejected, now accepted, reasons changed."""
        if self.old.status != self.new.status:
            return "now rejected" if self.new.status == REJECTED else "now accepted"
        if self.old.status == REJECTED:
            return "unchanged" if self.old.problems == self.new.problems else "reasons changed"
        return "changed" if (self.items or self.lines or self.tasks or self.edges) else "unchanged"

    @property
    def changed(self) -> bool:
        return self.change != "unchanged"


def order_files(folder: str) -> list[Path]:
    return sorted(p for p in Path(folder).glob("*.json") if p.is_file())


def compare_orders(old: Catalog, new: Catalog, folder: str) -> list[OrderDiff]:
    from om_dsl.rules.interpreter import Interpreter

    rules_old, rules_new = Interpreter(old), Interpreter(new)
    out = []
    for path in order_files(folder):
        order_id, o = _plan(old, rules_old, path)
        _, n = _plan(new, rules_new, path)
        out.append(_compare(path.name, order_id, o, n))
    return out


def _plan(catalog: Catalog, rules, path: Path) -> tuple[Optional[str], Outcome]:
    from om_dsl.limits import InputLimit, read_file
    from om_dsl.planning.intake import document_id, parse_document
    from om_dsl.planning.order import EvaluationError, Rejected
    from om_dsl.planning.pipeline import plan_order

    order_id = None
    try:
        text = read_file(path)  # a regular file within limits.MAX_DOCUMENT
    except OSError as exc:
        return None, Outcome(REJECTED, (f"cannot read the order: {exc.strerror or exc}",))
    except InputLimit as exc:
        return None, Outcome(REJECTED, (f"cannot read the order: {exc}",))
    try:
        doc = parse_document(text)
        order_id = document_id(doc)
        planned = plan_order(catalog, rules, doc, order_id)
    except Rejected as exc:
        return order_id, Outcome(REJECTED, tuple(p.render() for p in exc.problems))
    except EvaluationError as exc:
        return order_id, Outcome(REJECTED, (f"a rule failed: {exc}",))
    items = {}
    for i in planned.order.items:
        items[f"item {i.id} ({i.product})"] = {"product": i.product, "action": i.action, **{f"{k}": _show(v) for k, v in i.values.items()}}
    lines = {}
    for line in planned.lines:
        lines[f"line {line.id} ({line.product})"] = {"product": line.product, "action": line.action, **{k: _show(v) for k, v in line.values.items()}}
    tasks = {}
    edges = []
    for it in planned.plan.items:
        t = {"type": it.type}
        if it.target:
            t["calls"] = it.target
        if it.condition:
            t["when"] = it.condition
        if it.point_of_no_return:
            t["point of no return"] = it.point_of_no_return
        tasks[f"task {it.id}"] = t
        edges += [f"{on} -> {it.id}" for on in it.depends_on]
    return order_id, Outcome(ACCEPTED, (), items, lines, tasks, tuple(sorted(set(edges))))


def _compare(file: str, order_id, o: Outcome, n: Outcome) -> OrderDiff:
    if o.status != ACCEPTED or n.status != ACCEPTED:
        return OrderDiff(file, order_id, o, n)
    edges = [(REMOVED, e) for e in o.edges if e not in n.edges] + [(ADDED, e) for e in n.edges if e not in o.edges]
    return OrderDiff(file, order_id, o, n, _entries(o.items, n.items), _entries(o.lines, n.lines), _entries(o.tasks, n.tasks), sorted(edges, key=lambda x: (x[1], x[0])))


def _entries(old: dict, new: dict) -> list[Entry]:
    out = []
    keys = list(new) + [k for k in old if k not in new]
    for key in keys:
        a, b = old.get(key), new.get(key)
        if a is None:
            out.append(Entry(ADDED, key, _summary(b)))
        elif b is None:
            out.append(Entry(REMOVED, key, _summary(a)))
        elif a != b:
            names = list(b) + [k for k in a if k not in b]
            out.append(Entry(CHANGED, key, None, [Field(k, a.get(k), b.get(k)) for k in names if a.get(k) != b.get(k)]))
    return out


def _summary(d: dict) -> str:
    head = " ".join(d[k] for k in ("product", "action", "type", "calls") if k in d)
    rest = ", ".join(f"{k} = {v}" for k, v in d.items() if k not in ("product", "action", "type", "calls") and v != "null")
    return f"{head}: {rest}" if rest else head


def _show(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, (Decimal, int)):
        return str(v)
    if isinstance(v, datetime.date):
        return v.isoformat()
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_show(x) for x in v) + "]"
    return str(v)
