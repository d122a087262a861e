"""The canonical JSON form of the plan model (`plan.json`) and its sources
(`sources.json`).

Canonical means: keys sorted, elements keyed by name, two-space indent, one
line per expression (expressions are nested lists), absent fields left out,
`\\n` line ends, UTF-8. The same model always gives the same bytes, and a
change in the specs shows up in the JSON as a change in meaning only: where
an element is defined lives in `sources.json`.
"""

from __future__ import annotations

import json

from om_dsl.model.catalog import (
    SCHEMAS,
    AttributeDef,
    CallDef,
    Catalog,
    ChildDef,
    DecompositionDef,
    DependencyDef,
    EnrichmentRule,
    MappingDef,
    OperationDef,
    Param,
    PlanDef,
    PlanItemDef,
    ProductDef,
    QueueDef,
    RetryPolicyDef,
    SourceRef,
    SystemDef,
    TableDef,
    ValidationRule,
    ids,
)


class SchemaError(ValueError):
    """A plan.json this version of om cannot read."""


# ---- model -> plain data -------------------------------------------------------------


def _ir(x):
    """Expression IR (tuples) -> JSON lists."""
    if isinstance(x, tuple):
        return [_ir(e) for e in x]
    return x


def _clean(d: dict, keep=()) -> dict:
    """Leave out absent fields (flags are passed as None when false); those in `keep` stay even when empty."""
    return {k: v for k, v in d.items() if k in keep or (v is not None and v != [] and v != {})}


def _retry(r: RetryPolicyDef | None):
    if r is None:
        return None
    return _clean(
        {
            "kind": r.kind,
            "count": r.count if r.kind in ("fixed", "exponential") else None,
            "forever": (r.kind == "fixed" and r.count is None) or None,
            "delays_ms": list(r.delays_ms),
            "factor": r.factor,
            "cap_ms": r.cap_ms,
            "retry_on": list(r.retry_on) if r.retry_on is not None else None,
            "fatal_on": list(r.fatal_on),
        }
    )


def _params(ps) -> list:
    """Parameters keep their declared order: [[name, type], ...]."""
    return [[p.name, p.type] for p in ps]


def _call(c: CallDef | None):
    if c is None:
        return None
    return {"kind": c.kind, "target": c.target, "args": {name: _ir(e) for name, e in c.args}}


def _dep(d: DependencyDef) -> str:
    """As written in a spec: `reserve_port`, `ONT_RFS.ship_ont in bundle`, `every task in order`."""
    return d.describe()


def product_data(p) -> dict:
    """One product as plan.json holds it, under `products` and its code."""
    return _clean(
        {
            "id": ids.product(p.code),
            "name": p.name,
            "kind": p.kind,
            "role": p.role,
            "attributes": {
                a.name: _clean(
                    {
                        "id": ids.attribute(p.code, a.name),
                        "type": a.type,
                        "allowed": _ir(a.allowed) if a.allowed is not None else None,
                        "range": _ir(a.range) if a.range is not None else None,
                        "default": _ir(a.default),
                        "required": a.required or None,
                    }
                )
                for a in p.attributes
            },
            "children": {c.product: {"min": c.min, "max": c.max} for c in p.children},
        }
    )


def plan_data(pl) -> dict:
    """One plan as plan.json holds it, under `plans` and its key `PRODUCT.ACTION`."""
    items = {}
    for i in pl.items:
        items[i.name] = _clean(
            {
                "id": ids.task(pl.product, pl.action, i.name),
                "kind": i.kind,
                "call": _call(i.call),
                "outputs": _params(i.outputs),
                "async": i.is_async or None,
                "queue": i.queue,
                "description": i.description,
                "wait_for_ms": i.wait_for_ms,
                "wait_until": _ir(i.wait_until),
                "after": [_dep(d) for d in i.after],
                "before": [_dep(d) for d in i.before],
                "when": _ir(i.when),
                "sets": {attr: _ir(e) for attr, e in i.sets},
                "compensate": _call(i.compensate),
                "point_of_no_return": i.point_of_no_return,
                "due_ms": i.due_ms,
                "retry": _retry(i.retry),
                "timeout_ms": i.timeout_ms,
                "fallout": i.fallout,
                "on_amend": i.on_amend,
            }
        )
    return _clean({"id": ids.plan(pl.product, pl.action), "product": pl.product, "action": pl.action, "when": _ir(pl.when), "items": items})


def to_data(cat: Catalog) -> dict:
    products = {p.code: product_data(p) for p in cat.products}
    enrichments: dict[str, list] = {}
    for e in cat.enrichments:
        enrichments.setdefault(e.product, []).append(enrichment_data(e))
    plans = {f"{pl.product}.{pl.action}": plan_data(pl) for pl in cat.plans}
    return _clean({
        "schema": cat.schema,
        "catalog": cat.name,
        "tasks": cat.tasks,
        "version": cat.version,
        "products": products,
        "tables": {t.name: {"id": ids.table(t.name), "key_type": t.key_type, "value_type": t.value_type, "entries": _ir(t.entries)} for t in cat.tables},
        "validations": {f"{v.product}.{v.name}": validation_data(v) for v in cat.validations},
        "enrichments": enrichments,
        "decompositions": {d.name: decomposition_data(d) for d in cat.decompositions},
        "retry_policies": {name: dict(_retry(r), id=ids.retry(name)) for name, r in cat.retry_policies},
        "systems": {
            s.name: _clean(
                {
                    "id": ids.system(s.name),
                    "name": s.display_name,
                    "operations": {
                        o.name: _clean(
                            {
                                "id": ids.operation(s.name, o.name),
                                "inputs": _params(o.inputs),
                                "outputs": _params(o.outputs),
                                "async": o.is_async or None,
                                "retry": _retry(o.retry),
                                "timeout_ms": o.timeout_ms,
                            }
                        )
                        for o in s.operations
                    },
                }
            )
            for s in cat.systems
        },
        "queues": {q.name: _clean({"id": ids.queue(q.name), "name": q.display_name}) for q in cat.queues},
        "plans": plans,
    }, keep=("tables", "validations", "enrichments", "decompositions", "retry_policies", "systems", "queues", "plans", "products"))


def enrichment_data(e) -> dict:
    """One enrichment rule as plan.json lists it, under `enrichments` and its product."""
    return {"id": ids.enrichment(e.product, e.name), "name": e.name, "type": e.type, "expr": _ir(e.expr)}


def decomposition_data(d) -> dict:
    """One decomposition as plan.json holds it, under `decompositions` and its name."""
    return _clean(
        {
            "id": ids.decomposition(d.name),
            "source": d.source if d.source is not None else "order",
            "target": d.target,
            "when": _ir(d.when),
            "per": _ir(d.per),
            "mappings": {m.target: {"id": ids.mapping(d.name, m.target), "expr": _ir(m.expr)} for m in d.mappings},
        }
    )


def validation_data(v) -> dict:
    """One validation rule as plan.json holds it, under `validations` and its key `PRODUCT.NAME`."""
    return _clean({"id": ids.validation(v.product, v.name), "product": v.product, "name": v.name, "when": _ir(v.when), "require": _ir(v.require), "message": v.message})


def sources_data(cat: Catalog) -> dict:
    return sources_of(cat.schema, cat.name, cat.files, {k: str(v) for k, v in cat.sources})


def sources_of(schema: str, name: str, files, elements: dict[str, str]) -> dict:
    """sources.json's data: each file's sha256, each element's `file:line`."""
    return {"schema": schema, "catalog": name, "files": dict(files), "elements": elements}


# ---- plain data -> text ------------------------------------------------------------------


def dumps(data) -> str:
    """Canonical JSON text: sorted keys, lists without dicts on one line."""
    out: list[str] = []
    _dump(data, 0, out)
    return "".join(out) + "\n"


_inline = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode


def _c_inline_list():
    """The encoder JSONEncoder.encode makes on every call, made once: a list on one line is
    most of a plan's lists, and the set-up was half of encoding one (no cycle check: the
    data is to_data's, a tree). JSONEncoder.encode itself where _json is missing or differs."""
    try:
        encode = json.encoder.c_make_encoder(None, json.JSONEncoder().default, json.encoder.encode_basestring, None, ": ", ", ", False, False, True)

        def inline_list(x: list) -> str:
            return "".join(encode(x, 0))

        sample = [1, "é\n", None, True, 1.5, [2, []]]
        if inline_list(sample) == _inline(sample):
            return inline_list
    except (TypeError, AttributeError):  # pragma: no cover - another Python's _json
        pass
    return _inline  # pragma: no cover


_inline_list = _c_inline_list()
_string = json.encoder.encode_basestring  # the C encoder json.dumps itself uses (ensure_ascii=False)


def _scalar(x) -> str:
    """One value on one line. Strings and ints, most of a plan, skip json.dumps's set-up."""
    t = type(x)
    if t is str:
        return _string(x)
    if t is int:
        return int.__repr__(x)
    if x is None:
        return "null"
    return _inline(x)


def _has_dict(x) -> bool:
    return isinstance(x, dict) or (isinstance(x, list) and any(_has_dict(e) for e in x))


def _dump(x, indent: int, out: list[str]) -> None:
    """x as canonical JSON at `indent`. One append per entry, scalars written
    in place; a list is encoded whole by the C encoder first, and laid out
    line by line only when it holds a dict (a list of dicts is known by its
    first element, anything else with a `{` is asked _has_dict)."""
    if isinstance(x, dict):
        if not x:
            out.append("{}")
            return
        pad = "  " * (indent + 1)
        sep = "{\n"
        for k in sorted(x):
            v = x[k]
            key = _string(k) if type(k) is str else _scalar(k)
            t = type(v)
            if t is str:
                out.append(f"{sep}{pad}{key}: {_string(v)}")
            elif t is int:
                out.append(f"{sep}{pad}{key}: {int.__repr__(v)}")
            elif v is None:
                out.append(f"{sep}{pad}{key}: null")
            elif isinstance(v, (dict, list)):
                out.append(f"{sep}{pad}{key}: ")
                _dump(v, indent + 1, out)
            else:
                out.append(f"{sep}{pad}{key}: {_inline(v)}")
            sep = ",\n"
        out.append("\n" + "  " * indent + "}")
    elif isinstance(x, list):
        if not (x and type(x[0]) is dict):
            line = _inline_list(x)
            if "{" not in line or not _has_dict(x):
                out.append(line)
                return
        pad = "  " * (indent + 1)
        sep = "[\n"
        for e in x:
            out.append(sep + pad)
            _dump(e, indent + 1, out)
            sep = ",\n"
        out.append("\n" + "  " * indent + "]")
    else:
        out.append(_scalar(x))


def member_text(key: str, value, depth: int) -> str:
    """`"key": value` as dumps writes it as a member of a dict `depth` levels down
    (the compile cache splices one rule's entry into plan.json: om_dsl.recompile)."""
    out = ["  " * depth, _scalar(key), ": "]
    _dump(value, depth, out)
    return "".join(out)


def plan_json(cat: Catalog) -> str:
    return dumps(to_data(cat))


def sources_json(cat: Catalog) -> str:
    return dumps(sources_data(cat))


# ---- text -> model --------------------------------------------------------------------------


def _tup(x):
    """JSON lists -> expression IR tuples."""
    if isinstance(x, list):
        return tuple(_tup(e) for e in x)
    return x


def _load_retry(d) -> RetryPolicyDef | None:
    if d is None:
        return None
    kind = d["kind"]
    count = None if d.get("forever") else d.get("count", 0 if kind == "none" else None)
    if kind == "staggered":
        count = len(d.get("delays_ms", []))
    return RetryPolicyDef(kind, count, tuple(d.get("delays_ms", [])), d.get("factor"), d.get("cap_ms"), d.get("retry_on"), tuple(d.get("fatal_on", ())))


def _load_call(d) -> CallDef | None:
    if d is None:
        return None
    return CallDef(d["kind"], d["target"], sorted((k, _tup(v)) for k, v in d.get("args", {}).items()))


def _load_deps(ds) -> list[DependencyDef]:
    out = []
    for text in ds:
        what, _, scope = text.partition(" in ")
        if what == "every task":
            out.append(DependencyDef(None, None, scope or "plan"))
        else:
            product, _, task = what.rpartition(".")
            out.append(DependencyDef(product or None, task, scope or "plan"))
    return out


def from_data(data: dict, sources: dict | None = None) -> Catalog:
    if data.get("schema") not in SCHEMAS:
        raise SchemaError(f"this plan is {data.get('schema')!r}; this version of om reads {' and '.join(repr(s) for s in SCHEMAS)}: compile the specs again")
    products = []
    for code, p in data.get("products", {}).items():
        attributes = [
            AttributeDef(name, a["type"], _tup(a.get("allowed")), _tup(a.get("range")), _tup(a.get("default")), a.get("required", False)) for name, a in p.get("attributes", {}).items()
        ]
        children = [ChildDef(c, v["min"], v["max"]) for c, v in p.get("children", {}).items()]
        products.append(ProductDef(code, p.get("name"), p["kind"], p["role"], sorted(attributes, key=lambda a: a.name), sorted(children, key=lambda c: c.product)))
    plans = []
    for pl in data.get("plans", {}).values():
        items = []
        for name, i in pl.get("items", {}).items():
            items.append(
                PlanItemDef(
                    name=name,
                    kind=i["kind"],
                    call=_load_call(i.get("call")),
                    outputs=[Param(k, v) for k, v in i.get("outputs", [])],
                    queue=i.get("queue"),
                    description=i.get("description"),
                    wait_for_ms=i.get("wait_for_ms"),
                    wait_until=_tup(i.get("wait_until")),
                    after=_load_deps(i.get("after", [])),
                    before=_load_deps(i.get("before", [])),
                    when=_tup(i.get("when")),
                    sets=sorted((k, _tup(v)) for k, v in i.get("sets", {}).items()),
                    compensate=_load_call(i.get("compensate")),
                    point_of_no_return=i.get("point_of_no_return"),
                    due_ms=i.get("due_ms"),
                    retry=_load_retry(i.get("retry")),
                    timeout_ms=i.get("timeout_ms"),
                    is_async=i.get("async", False),
                    fallout=i.get("fallout"),
                    on_amend=i.get("on_amend"),
                )
            )
        plans.append(PlanDef(pl["product"], pl["action"], _tup(pl.get("when")), sorted(items, key=lambda i: i.name)))
    systems = []
    for sname, s in data.get("systems", {}).items():
        ops = [
            OperationDef(
                sname,
                oname,
                [Param(k, v) for k, v in o.get("inputs", [])],
                [Param(k, v) for k, v in o.get("outputs", [])],
                o.get("async", False),
                _load_retry(o.get("retry")) or RetryPolicyDef("none"),
                o.get("timeout_ms"),
            )
            for oname, o in s.get("operations", {}).items()
        ]
        systems.append(SystemDef(sname, s.get("name"), sorted(ops, key=lambda o: o.name)))
    enrichments = [EnrichmentRule(code, r["name"], r["type"], _tup(r["expr"])) for code in sorted(data.get("enrichments", {})) for r in data["enrichments"][code]]
    src = sources or {}
    return Catalog(
        name=data["catalog"],
        version=data.get("version", ""),
        products=sorted(products, key=lambda p: p.code),
        tables=sorted((TableDef(n, t["key_type"], t["value_type"], [tuple(_tup(e)) for e in t["entries"]]) for n, t in data.get("tables", {}).items()), key=lambda t: t.name),
        validations=sorted((ValidationRule(v["product"], v["name"], _tup(v.get("when")), _tup(v["require"]), v["message"]) for v in data.get("validations", {}).values()), key=lambda v: (v.product, v.name)),
        enrichments=enrichments,
        decompositions=sorted(
            (
                DecompositionDef(
                    n,
                    None if d["source"] == "order" else d["source"],
                    d["target"],
                    _tup(d.get("when")),
                    _tup(d.get("per")),
                    sorted((MappingDef(t, _tup(m["expr"])) for t, m in d.get("mappings", {}).items()), key=lambda m: m.target),
                )
                for n, d in data.get("decompositions", {}).items()
            ),
            key=lambda d: d.name,
        ),
        retry_policies=sorted((n, _load_retry(r)) for n, r in data.get("retry_policies", {}).items()),
        systems=sorted(systems, key=lambda s: s.name),
        queues=sorted((QueueDef(n, q.get("name")) for n, q in data.get("queues", {}).items()), key=lambda q: q.name),
        plans=sorted(plans, key=lambda p: (p.product, p.action)),
        tasks=data.get("tasks"),
        sources=sorted((k, _source_ref(v)) for k, v in src.get("elements", {}).items()),
        files=sorted(src.get("files", {}).items()),
    )


def _source_ref(text: str) -> SourceRef:
    file, _, line = text.rpartition(":")
    return SourceRef(file, int(line))


def loads(plan_text: str, sources_text: str | None = None) -> Catalog:
    return from_data(json.loads(plan_text), json.loads(sources_text) if sources_text else None)
