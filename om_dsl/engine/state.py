"""The state of one order as the engine runs it, and its JSON form.

Item states follow the established systems (Salesforce Industries OM):
pending, ready, running, completed, failed (will retry), fatallyFailed,
onHold, skipped, cancelled. Order states are TMF622's: acknowledged,
inProgress, held, completed, failed, partial, cancelled (and rejected, for
an order that never started).
"""

from __future__ import annotations

import operator
from typing import Optional

import attrs

from om_dsl.values import decode_value, encode_value  # noqa: F401 (S.encode_value is used across the engine)

# Item states.
PENDING, READY, RUNNING, COMPLETED, FAILED, FATALLY_FAILED, ON_HOLD, SKIPPED, CANCELLED = (
    "pending",
    "ready",
    "running",
    "completed",
    "failed",
    "fatallyFailed",
    "onHold",
    "skipped",
    "cancelled",
)
DONE = (COMPLETED, SKIPPED)  # what a dependency waits for

# Jeopardy: how a task with a due time is doing. Yellow once this share of
# its time has passed, red once it is overdue.
GREEN, YELLOW, RED = "green", "yellow", "red"
YELLOW_SHARE = 0.75

# Order states. A draft (TMF622 v5 requestedInitialState) starts nothing until released.
DRAFT = "draft"
ASSESSING_CANCELLATION, PENDING_CANCELLATION = "assessingCancellation", "pendingCancellation"
ACKNOWLEDGED, IN_PROGRESS, HELD, ORDER_COMPLETED, ORDER_FAILED, PARTIAL, ORDER_CANCELLED, REJECTED = (
    "acknowledged",
    "inProgress",
    "held",
    "completed",
    "failed",
    "partial",
    "cancelled",
    "rejected",
)
FINAL = (ORDER_COMPLETED, ORDER_FAILED, PARTIAL, ORDER_CANCELLED, REJECTED)
ORDER_PENDING = "pending"  # TMF622's state of an order that waits for another order (engine/waits.py)
ORDER_STATES = (DRAFT, ACKNOWLEDGED, ORDER_PENDING, IN_PROGRESS, HELD, ASSESSING_CANCELLATION, PENDING_CANCELLATION, *FINAL)  # every one (metrics report each, 0 included)


@attrs.define
class TaskRun:
    """One orchestration item of one order, as it runs."""

    id: str  # "1/D1:reserve_port"
    name: str
    type: str  # callout, manual, auto, milestone, wait
    product: str
    action: str
    line: str
    depends_on: list
    status: str = PENDING
    attempts: int = 0
    next_at: Optional[int] = None  # ms: when a retry or a wait is due
    outputs: Optional[dict] = None
    error: Optional[str] = None
    key: Optional[str] = None  # idempotency key of its calls
    queue: Optional[str] = None  # manual tasks
    started_at: Optional[int] = None
    finished_at: Optional[int] = None
    system: Optional[str] = None  # callouts: the system called (offline systems hold them)
    due_at: Optional[int] = None  # started_at + the spec's `due`
    jeopardy: Optional[str] = None  # green, yellow, red (tasks with a due time that are not done)
    wake_at: Optional[int] = None  # when time alone changes this task: a retry, a wait, a deadline, jeopardy
    args: Optional[dict] = None  # what its last call was given (an amendment compares)
    generation: int = 1  # how many times it was (re)done: part of its idempotency key
    undoes: Optional[str] = None  # a compensation task: the task it undoes
    done_seq: Optional[int] = None  # the order in which the order's tasks completed (undo goes backwards)
    fallout_of: Optional[str] = None  # a fallout task: the fatally failed task it resolves
    claimed_by: Optional[str] = None  # an open manual task a person took from its queue


@attrs.define
class LineRun:
    product: str
    action: str
    values: dict
    bundle: Optional[str]
    source_item: Optional[str]
    rule: str
    key: Optional[str] = None  # the line's key in the installed base
    source_asset: Optional[str] = None
    previous: Optional[dict] = None  # the installed line's values (modify, delete, noChange)


@attrs.define
class ItemRecord:
    """A commercial order item, kept for the assets the order creates."""

    id: str
    product: str
    action: str
    parent: Optional[str]
    values: dict
    asset_id: Optional[str] = None


@attrs.define
class OrderRun:
    id: str
    catalog: str  # the sha256 of the plan.json the order runs on
    status: str
    fields: dict  # order fields (scalars; the item lists are rebuilt from `items`)
    items: list  # [ItemRecord]
    lines: dict  # line id -> LineRun
    tasks: dict  # item id -> TaskRun, in plan order
    created_at: int
    updated_at: int
    external_id: Optional[str] = None
    jeopardy: Optional[str] = None  # the worst jeopardy of its open tasks
    events: int = 0  # events published so far (their ids count up)
    revision: int = 1  # the order's revision in force
    frozen: bool = False  # an amendment waits for running tasks: nothing new starts
    pending: Optional[dict] = None  # that amendment: {"revision", "plan", "by", "force"}
    cancelling: bool = False
    giving_up: bool = False  # an operator gave the held order up: it ends failed or partial
    compensation_planned: bool = False
    completions: int = 0
    due_jeopardy: Optional[str] = None  # how the order is doing against its requested completion (fields["due_at"])
    waits_for: list = attrs.field(factory=list)  # other orders it waits for: engine/waits.py's entries
    # What the core derives from the tasks (engine/index.py): not part of the state, never stored or compared.
    index: object = attrs.field(default=None, eq=False, repr=False)


# ---- JSON -----------------------------------------------------------------------------------


# Written per class, field by field (not attrs.asdict and a walk over every
# value): only the values that may hold decimals or dates go through
# encode_value. The output is the one asdict + encode_value gave, key for key.

_TASK_FIELDS = tuple(f.name for f in attrs.fields(TaskRun))
_TASK_VALUES = ("outputs", "args")  # the fields that hold attribute values
_HEAD = ("id", "catalog", "status")
_PARTS = ("fields", "items", "lines", "tasks")
# Every other field of OrderRun, in its order (a field added later is stored with them).
_SCALARS = tuple(f.name for f in attrs.fields(OrderRun) if f.name not in _HEAD + _PARTS + ("index",))


def task_data(t: TaskRun) -> dict:
    d = {name: getattr(t, name) for name in _TASK_FIELDS}
    d["depends_on"] = list(t.depends_on)
    for name in _TASK_VALUES:
        if d[name] is not None:
            d[name] = encode_value(d[name])
    return d


# A task's fields whose default is None: a part written without them reads back the same (`task_part`).
_TASK_OPTIONAL = frozenset(f.name for f in attrs.fields(TaskRun) if f.default is None)
_task_values = operator.attrgetter(*_TASK_FIELDS)  # (every field in one call)


def task_part(t: TaskRun) -> dict:
    """`task_data` less the fields at their None default (`task_from_data` reads
    either): what a store keeps per task, a third fewer keys to encode and write."""
    d = {name: v for name, v in zip(_TASK_FIELDS, _task_values(t)) if v is not None or name not in _TASK_OPTIONAL}
    d["depends_on"] = list(t.depends_on)
    for name in _TASK_VALUES:
        if name in d:
            d[name] = encode_value(d[name])
    return d


def line_data(line: LineRun) -> dict:
    return {
        "product": line.product, "action": line.action, "values": encode_value(line.values), "bundle": line.bundle, "source_item": line.source_item,
        "rule": line.rule, "key": line.key, "source_asset": line.source_asset, "previous": encode_value(line.previous),
    }


def item_data(i: ItemRecord) -> dict:
    return {"id": i.id, "product": i.product, "action": i.action, "parent": i.parent, "values": encode_value(i.values), "asset_id": i.asset_id}


def head_data(run: OrderRun) -> dict:
    """The order's own scalars (what every event may change, apart from tasks and lines)."""
    d = {name: getattr(run, name) for name in _HEAD + _SCALARS}
    if run.pending is not None:  # (the only one that holds values)
        d["pending"] = encode_value(run.pending)
    return d


_SCALAR_DEFAULTS = {
    f.name: f.default.factory() if isinstance(f.default, attrs.Factory) else f.default  # type: ignore[union-attr]
    for f in attrs.fields(OrderRun) if f.name in _SCALARS and f.default is not attrs.NOTHING
}


_scalar_values = operator.attrgetter(*_SCALARS)
_SCALAR_DEFAULT = tuple(_SCALAR_DEFAULTS.get(name, attrs.NOTHING) for name in _SCALARS)  # (NOTHING: always written)


def head_part(run: OrderRun) -> dict:
    """`head_data` less the scalars at their default (`from_loaded` reads either): what a store keeps as the head."""
    d = {"id": run.id, "catalog": run.catalog, "status": run.status}
    for name, v, default in zip(_SCALARS, _scalar_values(run), _SCALAR_DEFAULT):
        if default is attrs.NOTHING or type(v) is not type(default) or v != default:
            d[name] = v
    if "pending" in d:
        d["pending"] = encode_value(d["pending"])
    return d


def to_data(run: OrderRun) -> dict:
    d = {name: getattr(run, name) for name in _HEAD}
    d["fields"] = encode_value(run.fields)
    d["items"] = [item_data(i) for i in run.items]
    d["lines"] = {k: line_data(v) for k, v in run.lines.items()}
    d["tasks"] = {k: task_data(v) for k, v in run.tasks.items()}
    for name in _SCALARS:
        d[name] = getattr(run, name)
    if run.pending is not None:
        d["pending"] = encode_value(run.pending)
    return d


def task_from_data(d: dict) -> TaskRun:
    d = dict(d)
    for name in _TASK_VALUES:
        if d.get(name) is not None:
            d[name] = decode_value(d[name])
    return TaskRun(**d)


def line_from_data(d: dict) -> LineRun:
    return LineRun(**{**d, "values": decode_value(d["values"]), "previous": decode_value(d.get("previous"))})



def item_from_data(d: dict) -> ItemRecord:
    return ItemRecord(**{**d, "values": decode_value(d["values"])})


def from_data(d: dict) -> OrderRun:
    """Per class, as `to_data`: only the fields that hold values are decoded
    (a walk over every value of a big order is what a Temporal workflow task
    cannot afford)."""
    return OrderRun(
        id=d["id"],
        catalog=d["catalog"],
        status=d["status"],
        fields=decode_value(d["fields"]),
        items=[item_from_data(i) for i in d["items"]],
        lines={k: line_from_data(v) for k, v in d["lines"].items()},
        tasks={k: task_from_data(v) for k, v in d["tasks"].items()},
        created_at=d["created_at"],
        updated_at=d["updated_at"],
        external_id=d.get("external_id"),
        jeopardy=d.get("jeopardy"),
        events=d.get("events", 0),
        revision=d.get("revision", 1),
        frozen=d.get("frozen", False),
        pending=decode_value(d.get("pending")),
        cancelling=d.get("cancelling", False),
        giving_up=d.get("giving_up", False),
        compensation_planned=d.get("compensation_planned", False),
        completions=d.get("completions", 0),
        due_jeopardy=d.get("due_jeopardy"),
        waits_for=d.get("waits_for", []),
    )


def from_parts(head: dict, body: dict, lines: dict, tasks: dict) -> OrderRun:
    """An order from its parts as a store keeps them: `head_data`, fields and items (encoded), lines and tasks (read)."""
    return from_loaded(head, decode_value(body["fields"]), [item_from_data(i) for i in body["items"]], lines, tasks)


def from_loaded(head: dict, fields: dict, items: list, lines: dict, tasks: dict) -> OrderRun:
    """An order from `head_data` and its parts, read."""
    head = decode_value(head)
    return OrderRun(fields=fields, items=items, lines=lines, tasks=tasks, **{name: head[name] for name in _HEAD + _SCALARS if name in head})  # (a scalar added later: its default)


def clone(run: OrderRun) -> OrderRun:
    """A copy the core may change without touching `run` (much cheaper than
    deepcopy: only what an event can change is copied)."""
    import copy

    new = copy.copy(run)
    new.index = None
    new.tasks = {}
    for k, t in run.tasks.items():
        c = copy.copy(t)
        c.depends_on = list(t.depends_on)
        new.tasks[k] = c
    new.lines = {}
    for k, line in run.lines.items():
        c = copy.copy(line)
        c.values = dict(line.values)
        new.lines[k] = c
    new.items = list(run.items)
    new.waits_for = [dict(w) for w in run.waits_for]
    return new
