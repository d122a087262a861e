"""`om diff` output: text for a reviewer, JSON for machines.

Both are deterministic: the same two catalogs (and orders) give the same
bytes. Markers: `+` added, `-` removed, `~` changed.
"""

from __future__ import annotations

from om_dsl.diff.catalogs import ADDED, REMOVED, SECTIONS, Change, Field
from om_dsl.model.canonical import dumps

SCHEMA = "om-diff/1"
MARK = {"added": "+", "removed": "-", "changed": "~"}


# ---- JSON ---------------------------------------------------------------------------------


def _field_data(f: Field) -> dict:
    d = {"name": f.name, "old": f.old, "new": f.new}
    if f.note:
        d["note"] = f.note
    return d


def _change_data(c: Change) -> dict:
    d = {"section": c.section, "element": c.element, "change": c.op, "id": c.id, "name": c.name, "breaking": c.breaking is not None}
    if c.summary is not None:
        d["summary"] = c.summary
    if c.fields:
        d["fields"] = [_field_data(f) for f in c.fields]
    if c.breaking:
        d["reason"] = c.breaking
    if c.source:
        d["source"] = c.source
    return d


def _side_data(side) -> dict:
    return {"path": side.path, "kind": side.kind, "catalog": side.catalog.name, "version": side.catalog.version}


def _outcome_data(o) -> dict:
    d = {"status": o.status}
    if o.problems:
        d["problems"] = list(o.problems)
    return d


def _entry_data(e) -> dict:
    d = {"change": e.op, "id": e.id}
    if e.summary is not None:
        d["summary"] = e.summary
    if e.fields:
        d["fields"] = [_field_data(f) for f in e.fields]
    return d


def _order_data(o) -> dict:
    return {
        "file": o.file,
        "order": o.order,
        "change": o.change,
        "old": _outcome_data(o.old),
        "new": _outcome_data(o.new),
        "items": [_entry_data(e) for e in o.items],
        "lines": [_entry_data(e) for e in o.lines],
        "tasks": [_entry_data(e) for e in o.tasks],
        "edges": [{"change": op, "edge": edge} for op, edge in o.edges],
    }


def to_data(result) -> dict:
    data = {
        "schema": SCHEMA,
        "old": _side_data(result.old),
        "new": _side_data(result.new),
        "changes": [_change_data(c) for c in result.changes],
        "summary": {
            "changes": len(result.changes),
            "breaking": len(result.breaking),
            "sections": {s: n for s in SECTIONS if (n := sum(1 for c in result.changes if c.section == s))},
        },
    }
    if result.orders is not None:
        data["orders"] = {"folder": result.orders_dir, "orders": [_order_data(o) for o in result.orders]}
        data["summary"]["orders"] = {
            "planned": len(result.orders),
            "changed": sum(1 for o in result.orders if o.changed),
            "now_rejected": sum(1 for o in result.orders if o.change == "now rejected"),
            "now_accepted": sum(1 for o in result.orders if o.change == "now accepted"),
        }
    return data


def to_json(result) -> str:
    return dumps(to_data(result))


# ---- text --------------------------------------------------------------------------------------


def _side_text(side) -> str:
    return f"{side.catalog.name} {side.catalog.version} ({side.path})".replace("  ", " ")


def _field_lines(f: Field, indent: str, whole: str | None = None) -> list[str]:
    """One field. `whole` is the op of an added or removed element: its fields are its content."""
    note = f"  ({f.note})" if f.note else ""
    if whole is not None or f.old is None or f.new is None:
        op = whole or (ADDED if f.old is None else REMOVED)
        value = f.new if op == ADDED else f.old
        return [f"{indent}{MARK[op]} {f.name}: {value}{note}"]
    if f.expr:
        return [f"{indent}{f.name}{note}", f"{indent}  old: {f.old}", f"{indent}  new: {f.new}"]
    return [f"{indent}{f.name}: {f.old} -> {f.new}{note}"]


def _change_lines(c: Change) -> list[str]:
    head = f"  {MARK[c.op]} {c.element} {c.name}"
    if c.summary is not None:
        head += f": {c.summary}"
    if c.breaking:
        head += "  [breaking]"
    if c.source:
        head += f"  ({c.source})"
    out = [head]
    whole = c.op if c.op in (ADDED, REMOVED) else None
    for f in c.fields:
        out += _field_lines(f, "      ", whole)
    return out


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def to_text(result) -> str:
    out = [f"om diff: {_side_text(result.old)} -> {_side_text(result.new)}"]
    if not result.changes:
        out += ["", "no change: the two catalogs mean the same"]
    for section in SECTIONS:
        changes = [c for c in result.changes if c.section == section]
        if changes:
            out += ["", section]
            for c in changes:
                out += _change_lines(c)
    if result.orders is not None:
        out += [""] + _orders_lines(result)
    out.append("")
    breaking = result.breaking
    rejected = result.now_rejected
    if breaking:
        out.append(f"breaking changes: {len(breaking)}")
        for c in breaking:
            out.append(f"  ! {c.element} {c.name} {c.op}: {c.breaking}")
    if rejected:
        out.append(f"example orders now rejected: {len(rejected)}")
        out += _wrap([o.file for o in rejected], "  ! ")
    summary = f"{_count(len(result.changes), 'change')}, " + (f"{len(breaking)} breaking" if breaking else "none breaking")
    if result.orders is not None:
        changed = sum(1 for o in result.orders if o.changed)
        summary += f"; {changed} of {_count(len(result.orders), 'order')} changed" + (f", {len(rejected)} now rejected" if rejected else "")
    out.append(summary)
    return "\n".join(out) + "\n"


def _orders_lines(result) -> list[str]:
    orders = result.orders
    changed = [o for o in orders if o.changed]
    out = [f"orders in {result.orders_dir}: {len(orders)} planned, {len(changed)} changed"]
    for o in changed:
        who = f"{o.file} ({o.order})" if o.order else o.file
        if o.change == "now rejected":
            out.append(f"  - {who}: now rejected")
            out += [f"      {p}" for p in o.new.problems]
        elif o.change == "now accepted":
            out.append(f"  + {who}: now accepted; it was rejected:")
            out += [f"      {p}" for p in o.old.problems]
        elif o.change == "reasons changed":
            out.append(f"  ~ {who}: rejected by both, for other reasons")
            out += [f"      - {p}" for p in o.old.problems if p not in o.new.problems]
            out += [f"      + {p}" for p in o.new.problems if p not in o.old.problems]
        else:
            parts = [name for name, xs in (("items", o.items), ("lines", o.lines), ("tasks", o.tasks), ("edges", o.edges)) if xs]
            out.append(f"  ~ {who}: {', '.join(parts)} changed")
            for _name, entries in (("items", o.items), ("lines", o.lines), ("tasks", o.tasks)):
                for e in entries:
                    head = f"      {MARK[e.op]} {e.id}" + (f": {e.summary}" if e.summary else "")
                    out.append(head)
                    for f in e.fields:
                        out += _field_lines(f, "          ")
            for op, edge in o.edges:
                out.append(f"      {MARK[op]} edge {edge}")
    same = [o.file for o in orders if not o.changed]
    if same:
        out.append(f"  {len(same)} unchanged:")
        out += _wrap(same, "      ")
    return out


def _wrap(names: list[str], indent: str, width: int = 100) -> list[str]:
    """Names, comma-separated, over as many lines as they need."""
    out, line = [], ""
    for n, name in enumerate(names):
        word = name + ("," if n < len(names) - 1 else "")
        if line and len(indent) + len(line) + 1 + len(word) > width:
            out.append(indent + line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    if line:
        out.append(indent + line)
    return out
