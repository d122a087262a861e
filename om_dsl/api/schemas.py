"""The official TMF622 documents (om_dsl/tmf622/schemas/) as validators:
what a request body must be, and (in the tests) what every answer is."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Optional

from jsonschema import Draft7Validator

_REQUIRED = re.compile(r"'(.{1,200})' is a required property\Z")

SCHEMAS = Path(__file__).resolve().parent.parent / "tmf622" / "schemas"
DOCUMENTS = {"v4": "TMF622-ProductOrder-v4.0.0.swagger.json", "v5": "TMF622-ProductOrdering-v5.0.0.oas.json"}
# What each request body is, per version.
REQUESTS = {
    ("v4", "create"): "ProductOrder_Create",
    ("v5", "create"): "ProductOrder_FVO",
    ("v4", "patch"): "ProductOrder_Update",
    ("v5", "patch"): "ProductOrder_MVO",
    ("v4", "cancel"): "CancelProductOrder_Create",
    ("v5", "cancel"): "CancelProductOrder_FVO",
    ("v4", "hub"): "EventSubscriptionInput",
    ("v5", "hub"): "Hub_FVO",
}


@functools.lru_cache(maxsize=None)
def document(version: str) -> dict:
    return json.loads((SCHEMAS / DOCUMENTS[version]).read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=None)
def validator(version: str, name: str) -> Draft7Validator:
    """A validator of the named schema of the version's document (v4: definitions, v5: components.schemas)."""
    doc = document(version)
    if version == "v4":
        return Draft7Validator({"$ref": f"#/definitions/{name}", "definitions": doc["definitions"]})
    return Draft7Validator({"$ref": f"#/components/schemas/{name}", "components": {"schemas": _v5_schemas()}})


@functools.lru_cache(maxsize=None)
def _v5_schemas() -> dict:
    """v5's schemas with OpenAPI's discriminator made JSON Schema: JSON Schema's
    oneOf fails a value that two branches accept (a PartyRef is also a valid
    PartyRoleRef), where OpenAPI picks the branch its `@type` names. So a oneOf
    with a discriminator mapping becomes: one of the branches (anyOf), and the
    one that `@type` names, when it names one."""
    return {name: _discriminated(schema) for name, schema in document("v5")["components"]["schemas"].items()}


def _discriminated(node):
    if isinstance(node, list):
        return [_discriminated(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _discriminated(v) for k, v in node.items()}
    mapping = (node.get("discriminator") or {}).get("mapping")
    if "oneOf" in out and mapping:
        prop = node["discriminator"].get("propertyName", "@type")
        branches = out.pop("oneOf")
        named = [{"if": {"properties": {prop: {"const": k}}, "required": [prop]}, "then": {"$ref": ref}} for k, ref in mapping.items()]
        out["allOf"] = out.get("allOf", []) + [{"anyOf": branches}] + named
    return out


@functools.lru_cache(maxsize=None)
def check(version: str, kind: str):
    """The request's schema compiled (om_dsl/api/compiled.py), or None: jsonschema alone."""
    from om_dsl.api.compiled import compile_check

    return compile_check(validator(version, REQUESTS[(version, kind)]))


def warm() -> None:
    """Compile every request's check now (about a second in all), so that the first orders do not wait for it."""
    for version, kind in REQUESTS:
        check(version, kind)


def problem(version: str, kind: str, body) -> Optional[tuple[str, str]]:
    """The first way `body` breaks the schema of its request: (JSON pointer, message), or None.
    A body the compiled check passes is valid; any other, jsonschema judges and names."""
    fast = check(version, kind)
    if fast is not None and fast(body):
        return None
    errors = sorted(validator(version, REQUESTS[(version, kind)]).iter_errors(body), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if not errors:
        return None
    error = errors[0]
    path = list(error.absolute_path)
    missing = _REQUIRED.match(error.message) if error.validator == "required" else None
    if missing:  # point at the field that is missing, not at its parent
        path.append(missing.group(1))
    pointer = "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)
    message = error.message if len(error.message) <= 300 else error.message[:300] + "..."
    return pointer, f"{pointer or '/'}: {message}"
