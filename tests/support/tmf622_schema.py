"""Validate a document against the official TMF622 schema of its version.

v4: the swagger's `definitions` (JSON Schema draft 4). v5: the OpenAPI
document's `components/schemas`, checked as draft 7, with one OpenAPI rule
JSON Schema lacks: a `oneOf` with a `discriminator` picks the branch its
`@type` names (otherwise `{"id": ..., "@type": "ProductRef"}` is both a
Product and a ProductRef, and `oneOf` refuses it). `date-time` is checked
(the standard's format: ISO 8601 with a zone).

    from support.tmf622_schema import problems
    assert problems(event, "v5", "ProductOrderStateChangeEvent") == []
"""

from __future__ import annotations

import copy
import datetime
import functools
import json

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4, DRAFT7

from support import ROOT

SCHEMAS = ROOT / "om_dsl" / "tmf622" / "schemas"
FILES = {"v4": "TMF622-ProductOrder-v4.0.0.swagger.json", "v5": "TMF622-ProductOrdering-v5.0.0.oas.json"}
_URI = "urn:tmf622:{}"

_formats = jsonschema.FormatChecker(formats=())


@_formats.checks("date-time", raises=ValueError)
def _date_time(value) -> bool:
    if not isinstance(value, str):
        return True
    parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None or "T" not in value:
        raise ValueError(f"{value!r} is not a date-time with a zone")
    return True


def _discriminated(node):
    """A copy where each discriminated `oneOf` validates the branch `@type` names."""
    if isinstance(node, list):
        return [_discriminated(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _discriminated(v) for k, v in node.items()}
    disc = node.get("discriminator")
    if isinstance(disc, dict) and disc.get("mapping") and "oneOf" in node:
        prop = disc.get("propertyName", "@type")
        mapping = disc["mapping"]
        named = {"required": [prop], "properties": {prop: {"enum": sorted(mapping)}}}
        out.pop("oneOf")
        out["if"] = named
        out["then"] = {"allOf": [{"if": {"properties": {prop: {"const": k}}}, "then": {"$ref": v}} for k, v in sorted(mapping.items())]}
        out["else"] = {"oneOf": _discriminated(node["oneOf"])}
    return out


@functools.lru_cache(maxsize=None)
def _document(version: str) -> dict:
    doc = json.loads((SCHEMAS / FILES[version]).read_text(encoding="utf-8"))
    return _discriminated(doc) if version == "v5" else doc


@functools.lru_cache(maxsize=None)
def validator(version: str, name: str):
    """A validator of the definition `name` (`ProductOrder`, `ProductOrderStateChangeEvent`...) of `version`."""
    doc = _document(version)
    uri = _URI.format(version)
    spec = DRAFT4 if version == "v4" else DRAFT7
    registry = Registry().with_resource(uri, Resource(contents=doc, specification=spec))
    where = "definitions" if version == "v4" else "components/schemas"
    if name not in (doc["definitions"] if version == "v4" else doc["components"]["schemas"]):
        raise KeyError(f"{name} is not a definition of TMF622 {version}")
    cls = jsonschema.Draft4Validator if version == "v4" else jsonschema.Draft7Validator
    return cls({"$ref": f"{uri}#/{where}/{name}"}, registry=registry, format_checker=_formats)


def problems(document, version: str, name: str) -> list[str]:
    """Each way `document` breaks the schema, as `pointer: message` (empty: it is valid)."""
    found = sorted(validator(version, name).iter_errors(copy.deepcopy(document)), key=lambda e: list(map(str, e.absolute_path)))
    return ["/" + "/".join(map(str, e.absolute_path)) + ": " + e.message[:300] for e in found]


def event_problems(event: dict, version: str) -> list[str]:
    """An event, checked against the schema its `eventType` names."""
    kind = event.get("eventType")
    if not isinstance(kind, str):
        return ["/eventType: missing"]
    try:
        return problems(event, version, kind)
    except KeyError as exc:
        return [f"/eventType: {exc.args[0]}"]


def examples(version: str = "v5") -> dict:
    """The v5 document's own examples, by name (`ProductOrderStateChangeEvent_request`...)."""
    doc = json.loads((SCHEMAS / FILES[version]).read_text(encoding="utf-8"))
    return {k: v["value"] for k, v in doc["components"]["examples"].items()}


def as_v5(doc: dict) -> dict:
    """A v4 example order as a CPQ system sends it in v5: `@type` on each
    object, the customer as `partyOrPartyRole`, no `externalId` (v5's list
    form is the intake's, issue 19 items 1-2)."""
    doc = json.loads(json.dumps(doc))
    doc["@type"] = "ProductOrder"
    doc.pop("externalId", None)
    doc["relatedParty"] = [
        {"@type": "RelatedPartyRefOrPartyRoleRef", "role": p["role"], "partyOrPartyRole": {"@type": "PartyRoleRef", "@referredType": "Customer", "id": p["id"], "name": p.get("name", p["id"])}}
        for p in doc.get("relatedParty", [])
    ]

    def typed(item: dict) -> None:
        item["@type"] = "ProductOrderItem"
        if isinstance(item.get("productOffering"), dict):
            item["productOffering"]["@type"] = "ProductOfferingRef"
        if "product" in item:
            item["product"]["@type"] = "Product"
            for c in item["product"].get("productCharacteristic", []):
                c["@type"] = "Characteristic"
        for child in item.get("productOrderItem", []):
            typed(child)

    for item in doc.get("productOrderItem", []):
        typed(item)
    return doc
