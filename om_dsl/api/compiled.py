"""The official request schemas compiled, once, to plain Python checks: is
this body valid? The API asks this first, for every order it takes; only a
body it finds invalid goes to jsonschema (om_dsl/api/schemas.py), the
reference, which names the error and its pointer and has the last word.

jsonschema walks the schema for every body (each `$ref` resolved again, a
validator object per level): about a fifth of the API's CPU per order. A
compiled check is a tree of closures made once per schema.

It compiles exactly the Draft 7 keywords the TMF622 documents use, with
jsonschema's meaning (`$ref` overriding its siblings, `type` by Draft 7's
type checker, `format` unchecked as the API's validator leaves it); a schema
with any other keyword jsonschema checks is not compiled (`compile_check`
gives None) and jsonschema alone decides. tests/test_api_compiled.py checks
that both agree on valid, invalid and randomly broken bodies.
"""

from __future__ import annotations

from typing import Callable, Optional
from urllib.parse import unquote

from jsonschema import Draft7Validator

Check = Callable[[object], bool]
CHECKED = frozenset(Draft7Validator.VALIDATORS)  # what jsonschema checks; any other key is an annotation
COMPILED = frozenset({"$ref", "type", "properties", "required", "items", "minItems", "enum", "const", "allOf", "anyOf", "oneOf", "if", "format"})


class Uncompilable(Exception):
    pass


def compile_check(validator: Draft7Validator) -> Optional[Check]:
    """A check that answers as `validator.is_valid` does; None when the schema uses what this module does not compile."""
    if validator.format_checker is not None:  # (formats checked: not compiled)
        return None
    try:
        return _Compiler(validator.schema).node(validator.schema)
    except (Uncompilable, AttributeError, TypeError, ValueError, KeyError, IndexError):  # (a schema shaped otherwise: jsonschema judges it)
        return None


_TYPES: dict = {
    "object": lambda x: isinstance(x, dict),
    "array": lambda x: isinstance(x, list),
    "string": lambda x: isinstance(x, str),
    "boolean": lambda x: isinstance(x, bool),
    "null": lambda x: x is None,
}


def _type_check(name: str) -> Check:
    if name in _TYPES:
        return _TYPES[name]
    if name in ("number", "integer"):  # Draft 7's own checker: bools are not numbers, 1.0 is an integer
        checker = Draft7Validator.TYPE_CHECKER
        return lambda x: checker.is_type(x, name)
    raise Uncompilable(f"type {name!r}")


class _Compiler:
    def __init__(self, root: dict):
        self.root = root
        self.refs: dict = {}  # pointer -> its check (filled once compiled; recursive schemas call through it)

    def node(self, schema) -> Check:
        if schema is True or schema == {}:
            return _always
        if schema is False:
            return _never
        if not isinstance(schema, dict):
            raise Uncompilable("a schema that is not an object")
        if "$ref" in schema:  # Draft 7: $ref overrides every keyword beside it
            return self.ref(schema["$ref"])
        unknown = (set(schema) & CHECKED) - COMPILED
        if unknown:
            raise Uncompilable(", ".join(sorted(unknown)))
        checks = [c for c in (getattr(self, "k_" + k.replace("$", ""))(schema[k], schema) for k in schema if k in CHECKED) if c is not None]
        if not checks:
            return _always
        if len(checks) == 1:
            return checks[0]
        return lambda x: all(c(x) for c in checks)

    def ref(self, pointer: str) -> Check:
        if not isinstance(pointer, str) or not pointer.startswith("#"):
            raise Uncompilable(f"$ref {pointer!r}")
        if pointer not in self.refs:
            self.refs[pointer] = None  # (while it compiles: a recursive reference calls through the table)
            self.refs[pointer] = self.node(self._resolve(pointer))
        refs = self.refs
        return lambda x: refs[pointer](x)

    def _resolve(self, pointer: str):
        node = self.root
        for part in pointer[1:].split("/")[1:] if pointer != "#" else []:
            part = unquote(part).replace("~1", "/").replace("~0", "~")
            if isinstance(node, list):
                node = node[int(part)]
            elif isinstance(node, dict) and part in node:
                node = node[part]
            else:
                raise Uncompilable(f"$ref {pointer!r} does not resolve")
        return node

    # ---- keywords (None: nothing to check) ---------------------------------------------------------------

    def k_format(self, value, schema) -> None:
        return None

    def k_type(self, value, schema) -> Check:
        if isinstance(value, str):
            return _type_check(value)
        checks = [_type_check(t) for t in value]
        return lambda x: any(c(x) for c in checks)

    def k_properties(self, value, schema) -> Check:
        props = [(k, self.node(v)) for k, v in value.items()]

        def check(x):
            if isinstance(x, dict):
                for k, c in props:
                    if k in x and not c(x[k]):
                        return False
            return True

        return check

    def k_required(self, value, schema) -> Check:
        names = tuple(value)
        return lambda x: not isinstance(x, dict) or all(k in x for k in names)

    def k_items(self, value, schema) -> Check:
        if not isinstance(value, (dict, bool)):
            raise Uncompilable("items as a list (tuple validation)")
        each = self.node(value)
        return lambda x: not isinstance(x, list) or all(each(e) for e in x)

    def k_minItems(self, value, schema) -> Check:
        return lambda x: not isinstance(x, list) or len(x) >= value

    def k_enum(self, value, schema) -> Check:
        if not all(isinstance(v, str) for v in value):  # (jsonschema's equality of numbers and bools: not compiled)
            raise Uncompilable("enum of values that are not strings")
        allowed = frozenset(value)
        return lambda x: isinstance(x, str) and x in allowed

    def k_const(self, value, schema) -> Check:
        if not isinstance(value, str):
            raise Uncompilable("const that is not a string")
        return lambda x: isinstance(x, str) and x == value

    def k_allOf(self, value, schema) -> Check:
        checks = [self.node(s) for s in value]
        return lambda x: all(c(x) for c in checks)

    def k_anyOf(self, value, schema) -> Check:
        checks = [self.node(s) for s in value]
        return lambda x: any(c(x) for c in checks)

    def k_oneOf(self, value, schema) -> Check:
        checks = [self.node(s) for s in value]
        return lambda x: sum(1 for c in checks if c(x)) == 1

    def k_if(self, value, schema) -> Check:
        condition = self.node(value)
        then = self.node(schema.get("then", True))
        otherwise = self.node(schema.get("else", True))
        return lambda x: then(x) if condition(x) else otherwise(x)


def _always(x) -> bool:
    return True


def _never(x) -> bool:
    return False
