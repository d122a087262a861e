"""The two PATCH formats TMF622 names: JSON merge patch (RFC 7386) and JSON
Patch (RFC 6902). Each turns the order as it stands into the revised order
that `amend` takes; a patch that cannot apply raises PatchError with the
JSON pointer of the operation at fault."""

from __future__ import annotations

import copy

MAX_OPERATIONS = 1000


class PatchError(ValueError):
    def __init__(self, message: str, pointer: str):
        super().__init__(message)
        self.pointer = pointer


def merge_patch(target, patch):
    """RFC 7386: objects merge, null removes, anything else (arrays too) replaces."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def json_patch(target: dict, operations) -> dict:
    """RFC 6902: add, remove, replace, move, copy, test, in order; all or nothing."""
    if not isinstance(operations, list):
        raise PatchError("a JSON Patch is an array of operations", "")
    if len(operations) > MAX_OPERATIONS:
        raise PatchError(f"a JSON Patch of {len(operations)} operations; at most {MAX_OPERATIONS}", "")
    doc = copy.deepcopy(target)
    for n, op in enumerate(operations):
        at = f"/{n}"
        if not isinstance(op, dict) or not isinstance(op.get("op"), str) or not isinstance(op.get("path"), str):
            raise PatchError("each operation is an object with op and path", at)
        kind, path = op["op"], _pointer(op["path"], at + "/path")
        if kind in ("add", "replace", "test") and "value" not in op:
            raise PatchError(f"{kind} needs a value", at)
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op["value"]), at)
        elif kind == "remove":
            doc, _ = _remove(doc, path, at)
        elif kind == "replace":
            doc, _ = _remove(doc, path, at)
            doc = _add(doc, path, copy.deepcopy(op["value"]), at)
        elif kind in ("move", "copy"):
            source = _pointer(op.get("from") if isinstance(op.get("from"), str) else "", at + "/from")
            if kind == "move" and path[: len(source)] == source and len(path) > len(source):
                raise PatchError("move cannot put a value inside itself", at)
            value = _get(doc, source, at)
            if kind == "move":
                doc, value = _remove(doc, source, at)
            doc = _add(doc, path, copy.deepcopy(value), at)
        elif kind == "test":
            if _get(doc, path, at) != op["value"]:
                raise PatchError(f"test failed at {op['path']}", at)
        else:
            raise PatchError(f"op {kind[:20]!r} is not add, remove, replace, move, copy or test", at + "/op")
    if not isinstance(doc, dict):
        raise PatchError("the patched order is not an object", "")
    return doc


def _pointer(text: str, at: str) -> list:
    if text and not text.startswith("/"):
        raise PatchError(f"{text[:60]!r} is not a JSON pointer", at)
    return [p.replace("~1", "/").replace("~0", "~") for p in text.split("/")[1:]] if text else []


def _parent(doc, path: list, at: str):
    node = doc
    for part in path[:-1]:
        node = _step(node, part, at)
    return node


def _step(node, part: str, at: str):
    if isinstance(node, dict) and part in node:
        return node[part]
    if isinstance(node, list) and part.isdigit() and int(part) < len(node):
        return node[int(part)]
    raise PatchError(f"no {part[:60]!r} in the order", at)


def _get(doc, path: list, at: str):
    node = doc
    for part in path:
        node = _step(node, part, at)
    return node


def _add(doc, path: list, value, at: str):
    if not path:
        return value
    parent, last = _parent(doc, path, at), path[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-":
            parent.append(value)
        elif last.isdigit() and int(last) <= len(parent):
            parent.insert(int(last), value)
        else:
            raise PatchError(f"index {last[:20]!r} is out of the array", at)
    else:
        raise PatchError("the path's parent is not an object or array", at)
    return doc


def _remove(doc, path: list, at: str):
    if not path:
        raise PatchError("the whole order cannot be removed", at)
    parent, last = _parent(doc, path, at), path[-1]
    value = _step(parent, last, at)
    if isinstance(parent, dict):
        del parent[last]
    else:
        del parent[int(last)]
    return doc, value
