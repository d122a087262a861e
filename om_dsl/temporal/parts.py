"""An order's state in parts: how a big order fits Temporal's workflow tasks.

Temporal fails a workflow task that runs 2 s (its deadlock detection, wall
time, on a worker that may be busy). Reading or writing the whole state of
a 10,000-item order (20,004 tasks, 20,000 lines: 19 MB of JSON) in one
workflow task took longer than that in the sandbox. So an order's state
travels as JSON text in parts of at most PART records (items, lines or
tasks); the order's fields are one more part, and the items of its request
(most of a big order's fields) parts of their own:

- the client encodes the order's starting state so (`encode`);
- a workflow reads the parts, a few records per activation (`Loader`),
  and keeps the text of each part it read (`Packed`) until a task or a line
  in it changes (the core's step says which: `Step.changed`, as the embedded
  store writes only those rows);
- to continue as new, or to tell the installed base, it encodes again only
  the parts that changed, one per activation, and hands over the texts;
- the order's history lines are packed as they come, HISTORY_PART at a time
  (they never change).

The texts cost a second copy of the state in the worker's memory; in return
no activation of an order does more than about PART records of work,
whatever the order's size, save the order's begin (its index: one pass).
"""

from __future__ import annotations

import json
from collections import deque
from typing import Optional

from om_dsl.engine import state as S
from om_dsl.values import decode_value, encode_value

PART = 2_000  # records (items, lines or tasks) per part: the work of one activation
HISTORY_PART = 2_000  # history lines per packed part


def dumps(data) -> str:
    return json.dumps(data, separators=(",", ":"))


def _chunks(seq: list, size: int) -> list:
    return [seq[n:n + size] for n in range(0, len(seq), size)] or [[]]


def split_fields(fields: dict) -> tuple[dict, list]:
    """The order's fields without its request's items, and those items in chunks of PART."""
    request = fields.get("request")
    if not isinstance(request, dict) or not isinstance(request.get("items"), dict) or not request["items"]:
        return fields, []
    return {**fields, "request": {**request, "items": {}}}, _chunks(list(request["items"].items()), PART)


def encode(fields: dict, items: list, lines: dict, tasks: dict) -> dict:
    """An order's state (read objects) as text parts: {"fields", "asked" (the request's items), "items", "lines", "tasks"}."""
    size = PART
    own, asked = split_fields(fields)
    return {
        "records": sum(map(len, asked)) + len(items) + len(lines) + len(tasks),
        "fields": dumps(encode_value(own)),
        "asked": [dumps(encode_value(dict(chunk))) for chunk in asked],
        "items": [dumps([S.item_data(i) for i in chunk]) for chunk in _chunks(items, size)],
        "lines": [dumps([[k, S.line_data(lines[k])] for k in chunk]) for chunk in _chunks(list(lines), size)],
        "tasks": [dumps([S.task_data(tasks[k]) for k in chunk]) for chunk in _chunks(list(tasks), size)],
    }


def records(parts: dict) -> int:
    """How many records the parts hold (the request's items, items, lines, tasks)."""
    return parts["records"]


KINDS = ("asked", "items", "lines", "tasks")


def to_bytes(parts: dict, history: list = ()) -> bytes:
    """The parts (and history parts) as the data of one binary payload: a line
    of counts and the order's head, then one part a line (JSON text has no raw
    newline). Not JSON in JSON: no part is escaped, or unescaped, as a whole."""
    header = {"counts": {k: len(parts[k]) for k in KINDS}, "records": parts["records"], "head": parts.get("head"), "history": len(history)}
    texts = [dumps(header), parts["fields"], *(t for k in KINDS for t in parts[k]), *history]
    return b"\n".join(t if isinstance(t, bytes) else t.encode() for t in texts)


def from_bytes(data: bytes) -> tuple[dict, list]:
    """`to_bytes` read back: (parts, history parts), each part as bytes (json reads them as they are)."""
    texts = data.split(b"\n")
    header = json.loads(texts[0])
    parts, n = {"head": header["head"], "records": header["records"], "fields": texts[1]}, 2
    for k in KINDS:
        parts[k] = texts[n:n + header["counts"][k]]
        n += header["counts"][k]
    return parts, texts[n:n + header["history"]]


class Packed:
    """The text of each part of an order's state, as read or last encoded, and
    the parts changed since: what continuing as new must encode again."""

    asked: list = []  # the request's items in chunks, as last split anew

    def __init__(self, parts: dict):
        self.texts = {"fields": [parts["fields"]], "asked": list(parts.get("asked", ())), "items": list(parts["items"]), "lines": list(parts["lines"]), "tasks": list(parts["tasks"])}
        self.ids: dict = {"lines": [], "tasks": []}  # part -> the ids of its records, in plan order
        self.part_of: dict = {"lines": {}, "tasks": {}}  # id -> its part
        self.dirty: set = set()  # (kind, part)
        self.stale = False  # tasks added, removed or rewired: every part is encoded again, split anew

    def read(self, kind: str, part: int, ids: list) -> None:
        while len(self.ids[kind]) <= part:
            self.ids[kind].append([])
        self.ids[kind][part] = ids
        where = self.part_of[kind]
        for i in ids:
            where[i] = part

    def changed(self, step) -> None:
        """What a step of the core changed (a reshaped order: everything)."""
        if step.reshaped or self.stale:
            self.stale = True
            return
        for kind, ids in (("tasks", step.changed), ("lines", step.lines_changed)):
            where = self.part_of[kind]
            for i in ids:
                part = where.get(i)
                if part is None:  # (not one it knows: split anew)
                    self.stale = True
                    return
                self.dirty.add((kind, part))

    def pack(self, run: S.OrderRun, budget: int = PART) -> bool:
        """Encode again the changed parts, about `budget` records of them (one part at least); True when every part is current."""
        if self.stale:  # split anew, in plan order: which parts hold which ids
            self.stale = False
            self.ids = {"lines": [], "tasks": []}
            self.part_of = {"lines": {}, "tasks": {}}
            self.asked = split_fields(run.fields)[1]
            self.texts = {"fields": [""], "asked": [""] * len(self.asked), "items": [""] * len(_chunks(run.items, PART)), "lines": [], "tasks": []}
            for kind, ids in (("lines", list(run.lines)), ("tasks", list(run.tasks))):
                for n, chunk in enumerate(_chunks(ids, PART)):
                    self.read(kind, n, chunk)
                    self.texts[kind].append("")
            self.dirty = {("fields", 0)} | {(kind, n) for kind in ("asked", "items") for n in range(len(self.texts[kind]))}
            self.dirty |= {(kind, n) for kind in ("lines", "tasks") for n in range(len(self.ids[kind]))}
            return False
        used = 0
        while self.dirty and used < budget:
            kind, n = min(self.dirty)
            self.dirty.discard((kind, n))
            self.texts[kind][n] = self._encode(run, kind, n)
            used += 1 if kind == "fields" else max(1, len(self.ids[kind][n]) if kind in self.ids else PART)
        return not self.dirty

    def _encode(self, run: S.OrderRun, kind: str, n: int) -> str:
        if kind == "fields":
            return dumps(encode_value(split_fields(run.fields)[0]))
        if kind == "asked":
            return dumps(encode_value(dict(self.asked[n])))
        if kind == "items":
            return dumps([S.item_data(i) for i in run.items[n * PART:(n + 1) * PART]])
        if kind == "lines":
            return dumps([[k, S.line_data(run.lines[k])] for k in self.ids["lines"][n]])
        return dumps([S.task_data(run.tasks[k]) for k in self.ids["tasks"][n]])

    def parts(self, run: S.OrderRun) -> dict:
        """The state as parts (call when `pack` said every part is current): the order's own scalars, and the texts."""
        request = run.fields.get("request")
        asked = request["items"] if isinstance(request, dict) and isinstance(request.get("items"), dict) else ()
        records = len(asked) + len(run.items) + len(run.lines) + len(run.tasks)
        return {"head": S.head_data(run), "records": records, "fields": self.texts["fields"][0], "asked": list(self.texts["asked"]), "items": list(self.texts["items"]), "lines": list(self.texts["lines"]), "tasks": list(self.texts["tasks"])}


class Loader:
    """Reads an order's parts, some records at a time."""

    def __init__(self, parts: dict):
        self.head = parts.get("head")  # (a continued run's; none for an order that begins)
        self.packed = Packed(parts)
        self.todo = deque([("fields", 0)] + [(kind, n) for kind in KINDS for n in range(len(self.packed.texts[kind]))])
        self.total = len(self.todo)
        self.records = records(parts)
        self.fields: dict = {}
        self.items: list = []
        self.lines: dict = {}
        self.tasks: dict = {}

    def read(self, budget: int = PART) -> bool:
        """Read parts until about `budget` records are read (one part at least); True once all are."""
        used = 0
        while self.todo and used < budget:
            kind, n = self.todo.popleft()
            data = json.loads(self.packed.texts[kind][n])
            if kind == "fields":
                self.fields = decode_value(data)
            elif kind == "asked":  # (the fields come first: their request's items are filled in)
                self.fields["request"]["items"].update(decode_value(data))
            elif kind == "items":
                self.items.extend(S.item_from_data(d) for d in data)
            elif kind == "lines":
                for k, d in data:
                    self.lines[k] = S.line_from_data(d)
                self.packed.read("lines", n, [k for k, _ in data])
            else:
                for d in data:
                    t = S.task_from_data(d)
                    self.tasks[t.id] = t
                self.packed.read("tasks", n, [d["id"] for d in data])
            used += 1 if kind == "fields" else max(1, len(data))
        return not self.todo

    def progress(self) -> str:
        return f"{self.total - len(self.todo)} of {self.total} parts read"

    def run(self) -> S.OrderRun:
        """A continued run's order, once every part is read."""
        return S.from_loaded(self.head, self.fields, self.items, self.lines, self.tasks)


class History:
    """An order's history lines: packed in parts as they come (they never
    change), the latest ones as they are."""

    def __init__(self, parts: Optional[list] = None, lines: Optional[list] = None):
        self.parts: list = list(parts or [])
        self.tail: list = list(lines or [])

    def extend(self, lines: list) -> None:
        self.tail.extend(lines)
        if len(self.tail) >= HISTORY_PART:
            self.parts.append(dumps(self.tail))
            self.tail = []

    def append(self, line: dict) -> None:
        self.extend([line])

    def all(self) -> list:
        return [line for part in self.parts for line in json.loads(part)] + self.tail

    def packed(self) -> list:
        """Every line, as text parts (what a continued run carries)."""
        return self.parts + ([dumps(self.tail)] if self.tail else [])
