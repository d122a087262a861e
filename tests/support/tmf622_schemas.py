"""Validators for the official TMF622 schemas, one named schema of either document.

    from support.tmf622_schemas import validator, errors_of
    validator("v4", "ProductOrder_Create").validate(doc)       # raises jsonschema.ValidationError
    errors_of("v5", "ProductOrder_FVO", doc)                     # [] when valid, else readable lines

v4 is the swagger 2.0 document (schemas under `#/definitions/`), v5 the
OpenAPI 3.0 document (under `#/components/schemas/`); both are in
om_dsl/tmf622/schemas/. `$ref`s resolve inside the document. OpenAPI's
`nullable: true` is read as "or null" (JSON Schema has no such keyword);
a `oneOf` with a `discriminator` is read as OpenAPI says: the schema its
mapping names for the instance's `@type` (without it, v5's own examples fail:
a PartyRef is also a valid PartyRoleRef, so "exactly one of" never holds);
other discriminators are ignored, the `allOf`s carry the constraints.
`format` is not asserted by `errors_of` (a request's date-times are checked
by what reads them); `problems`, for what om sends back (resources and events,
`event_problems` by their `eventType`), asserts `date-time` too: ISO 8601 with
a zone.
"""

from __future__ import annotations

import copy
import datetime
import functools
import json

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from support import ROOT

SCHEMAS = ROOT / "om_dsl" / "tmf622" / "schemas"
DOCUMENTS = {
    "v4": ("TMF622-ProductOrder-v4.0.0.swagger.json", "#/definitions/"),
    "v5": ("TMF622-ProductOrdering-v5.0.0.oas.json", "#/components/schemas/"),
}


@functools.cache
def document(version: str) -> dict:
    """The official document of a version, as stored (v5: the OpenAPI document as JSON)."""
    name, _ = DOCUMENTS[version]
    return json.loads((SCHEMAS / name).read_text(encoding="utf-8"))


def schema_names(version: str) -> list[str]:
    doc = document(version)
    return sorted(doc["definitions"] if version == "v4" else doc["components"]["schemas"])


def schema(version: str, name: str) -> dict:
    """A named schema of a version, as written (its `$ref`s unresolved)."""
    doc = document(version)
    return (doc["definitions"] if version == "v4" else doc["components"]["schemas"])[name]


def _as_json_schema(node):
    """OpenAPI 3.0's keywords as JSON Schema: `nullable: true` (the type, or
    null), and `oneOf` + `discriminator` (the keyword `x-discriminated`, below)."""
    if isinstance(node, dict):
        out = {k: _as_json_schema(v) for k, v in node.items()}
        if out.pop("nullable", False) is True and "type" in out:
            out["type"] = [out["type"], "null"] if isinstance(out["type"], str) else [*out["type"], "null"]
        if "oneOf" in out and isinstance(out.get("discriminator"), dict) and out["discriminator"].get("mapping"):
            d = out.pop("discriminator")
            out["x-discriminated"] = {"propertyName": d["propertyName"], "mapping": d["mapping"], "oneOf": out.pop("oneOf")}
        return out
    if isinstance(node, list):
        return [_as_json_schema(v) for v in node]
    return node


def _discriminated(validator, spec, instance, schema):
    """The mapped schema for the instance's discriminator value; "exactly one of" without one."""
    if not validator.is_type(instance, "object"):
        return
    target = spec["mapping"].get(instance.get(spec["propertyName"]))
    if target is not None:
        yield from validator.descend(instance, {"$ref": target})
    else:
        yield from jsonschema._keywords.oneOf(validator, spec["oneOf"], instance, schema)


_Validator = jsonschema.validators.extend(jsonschema.Draft4Validator, {"x-discriminated": _discriminated})


@functools.cache
def _registry(version: str) -> Registry:
    contents = _as_json_schema(copy.deepcopy(document(version)))
    return Registry().with_resource(f"urn:tmf622:{version}", Resource(contents, DRAFT4))


@functools.cache
def validator(version: str, name: str):
    """A validator for one named schema ("ProductOrder_Create", "ProductOrder_FVO", "Error", ...)."""
    if name not in schema_names(version):
        raise KeyError(f"{version} has no schema {name!r}")
    _, base = DOCUMENTS[version]
    return _Validator({"$ref": f"urn:tmf622:{version}{base}{name}"}, registry=_registry(version))


def errors_of(version: str, name: str, instance) -> list[str]:
    """Every way `instance` breaks the schema, one line each ("/path: message"); [] when it is valid."""
    out = []
    for e in sorted(validator(version, name).iter_errors(instance), key=lambda e: list(map(str, e.absolute_path))):
        out.append("/" + "/".join(map(str, e.absolute_path)) + ": " + e.message[:300])
    return out


def create_examples_v5() -> dict[str, dict]:
    """Every request example of POST /productOrder in the v5 document, by name, `$ref`s followed."""
    doc = document("v5")
    body = doc["paths"]["/productOrder"]["post"]["requestBody"]
    if "$ref" in body:
        body = doc["components"]["requestBodies"][body["$ref"].rsplit("/", 1)[1]]
    out = {}
    for name, example in body["content"]["application/json"]["examples"].items():
        if "$ref" in example:
            example = doc["components"]["examples"][example["$ref"].rsplit("/", 1)[1]]
        out[name] = copy.deepcopy(example["value"])
    return out


# ---- what om sends back -------------------------------------------------------------------------------

_formats = jsonschema.FormatChecker(formats=())


@_formats.checks("date-time", raises=ValueError)
def _date_time(value) -> bool:
    if isinstance(value, str):
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is None or "T" not in value:
            raise ValueError(f"{value!r} is not a date-time with a zone")
    return True


def problems(instance, version: str, name: str) -> list[str]:
    """As `errors_of`, the `date-time` format asserted too."""
    found = validator(version, name).evolve(format_checker=_formats).iter_errors(copy.deepcopy(instance))
    return ["/" + "/".join(map(str, e.absolute_path)) + ": " + e.message[:300] for e in sorted(found, key=lambda e: list(map(str, e.absolute_path)))]


def event_problems(event: dict, version: str) -> list[str]:
    """An event, checked against the schema its `eventType` names."""
    kind = event.get("eventType")
    if not isinstance(kind, str):
        return ["/eventType: missing"]
    if kind not in schema_names(version):
        return [f"/eventType: {kind} is not a definition of TMF622 {version}"]
    return problems(event, version, kind)


def as_v5(doc: dict) -> dict:
    """A v4 example order as a CPQ system sends it in v5: `@type` on each
    object, the customer as `partyOrPartyRole`, no `externalId`."""
    doc = copy.deepcopy(doc)
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
