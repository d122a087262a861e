"""Compare two catalogs (plan models) element by element.

Elements are matched by their name-derived ids, never by position: a rule
that moved within a file, or to another file, is unchanged. Each difference
is a `Change`; the changes that can break what already exists (in-flight
orders, the installed base, the systems' callers) carry the reason in one
line (`breaking`). The rules are in docs/diff.md.
"""

from __future__ import annotations

from typing import Optional

import attrs

from om_dsl.diff import show
from om_dsl.model import expr as E
from om_dsl.model.catalog import AttributeDef, Catalog, ProductDef, ids

SECTIONS = ("catalog", "products", "tables", "rules", "systems", "retry policies", "queues", "plans")

ADDED, REMOVED, CHANGED = "added", "removed", "changed"


@attrs.frozen
class Field:
    """One property of an element, old and new, rendered (None: absent)."""

    name: str
    old: Optional[str]
    new: Optional[str]
    expr: bool = False  # an expression: shown old above new
    note: Optional[str] = None


@attrs.frozen
class Change:
    section: str  # one of SECTIONS
    element: str  # catalog, product, child, attribute, table, entry, validation, ...
    op: str  # added, removed, changed
    id: str  # the model id (`attribute:HOME_FIBER.speed_mbps`) or one in the same style
    name: str  # as a reviewer reads it: `HOME_FIBER.speed_mbps`
    summary: Optional[str] = None  # the declaration, for added and removed elements
    fields: tuple = attrs.field(converter=tuple, default=())
    breaking: Optional[str] = None  # why it can break what exists, in one line
    source: Optional[str] = None  # file:line in the new specs (the old ones for removed elements)


def compare(old: Catalog, new: Catalog) -> list[Change]:
    """Every semantic difference from `old` to `new`, in a stable order."""
    return _Compare(old, new).run()


def _by(items, key) -> dict:
    return {key(x): x for x in items}


def _fields(pairs) -> list[Field]:
    """(name, old, new[, expr]) -> the Fields whose values differ."""
    out = []
    for p in pairs:
        name, o, n = p[0], p[1], p[2]
        if o != n:
            out.append(Field(name, o, n, expr=len(p) > 3 and p[3]))
    return out


def _sorted_union(a, b) -> list:
    return sorted(set(a) | set(b))


class _Compare:
    def __init__(self, old: Catalog, new: Catalog):
        self.old, self.new = old, new
        self.changes: list[Change] = []

    def add(self, section, element, op, element_id, name, summary=None, fields=(), breaking=None, where=None):
        """`where`: the id whose source line to show, when the element has none of its own (a table entry)."""
        cat = self.old if op == REMOVED else self.new
        src = cat.source(where or element_id)
        self.changes.append(Change(section, element, op, element_id, name, summary, fields, breaking, str(src) if src else None))

    def run(self) -> list[Change]:
        self.catalog()
        self.products()
        self.tables()
        self.validations()
        self.enrichments()
        self.decompositions()
        self.systems()
        self.retry_policies()
        self.queues()
        self.plans()
        order = {s: n for n, s in enumerate(SECTIONS)}
        return sorted(self.changes, key=lambda c: order[c.section])  # stable: the order of each section stays

    # ---- catalog ---------------------------------------------------------------------

    def catalog(self) -> None:
        fields = _fields([("name", self.old.name, self.new.name), ("version", self.old.version or None, self.new.version or None), ("tasks", self.old.tasks, self.new.tasks)])
        if fields:
            gone = self.old.tasks is not None and self.old.tasks != self.new.tasks
            self.add("catalog", "catalog", CHANGED, "catalog", self.new.name, fields=fields, breaking=f"in-flight auto tasks call {self.old.tasks}, which the new catalog no longer ships" if gone else None)

    # ---- products and attributes -------------------------------------------------------

    def products(self) -> None:
        old, new = _by(self.old.products, lambda p: p.code), _by(self.new.products, lambda p: p.code)
        for code in _sorted_union(old, new):
            o, n = old.get(code), new.get(code)
            pid = ids.product(code)
            if o is None:
                fields = [Field(f"attr {a.name}", None, show.attribute(a)) for a in n.attributes]
                fields += [Field(f"has {c.product}", None, show.child(c)) for c in n.children]
                self.add("products", "product", ADDED, pid, code, _product_summary(n), fields)
                continue
            if n is None:
                fields = [Field(f"attr {a.name}", show.attribute(a), None) for a in o.attributes]
                fields += [Field(f"has {c.product}", show.child(c), None) for c in o.children]
                if o.kind == "commercial":
                    why = f"in-flight orders and installed assets of {code} still reference it; orders for it are now rejected"
                else:
                    why = f"in-flight orders and installed lines of {code} still reference it"
                self.add("products", "product", REMOVED, pid, code, _product_summary(o), fields, why)
                continue
            fields = _fields([("name", _opt_str(o.name), _opt_str(n.name)), ("kind", o.kind, n.kind), ("role", o.role, n.role)])
            if fields:
                why = None
                if (o.kind, o.role) != (n.kind, n.role):
                    why = f"{code} was {o.kind} {o.role} and is now {n.kind} {n.role}: in-flight orders and installed ones that use it as before no longer fit"
                self.add("products", "product", CHANGED, pid, code, fields=fields, breaking=why)
            self.children(o, n)
            self.attributes(o, n)

    def children(self, o: ProductDef, n: ProductDef) -> None:
        old, new = _by(o.children, lambda c: c.product), _by(n.children, lambda c: c.product)
        for child in _sorted_union(old, new):
            co, cn = old.get(child), new.get(child)
            cid = f"child:{n.code}.{child}"
            name = f"{n.code} has {child}"
            if co is None:
                why = f"{n.code} now needs at least {cn.min} {child}: orders without it are rejected, installed ones lack it" if cn.min > 0 else None
                self.add("products", "child", ADDED, cid, name, show.child(cn), breaking=why, where=ids.product(n.code))
            elif cn is None:
                why = f"{n.code} can no longer have {child}: orders with one are rejected, installed ones still have them"
                self.add("products", "child", REMOVED, cid, name, show.child(co), breaking=why, where=ids.product(n.code))
            elif (co.min, co.max) != (cn.min, cn.max):
                narrowed = cn.min > co.min or (cn.max is not None and (co.max is None or cn.max < co.max))
                why = f"cardinality narrowed from {show.child(co)} to {show.child(cn)}: orders and installed {n.code} outside it no longer fit" if narrowed else None
                note = "narrowed" if narrowed else "widened"
                self.add("products", "child", CHANGED, cid, name, fields=[Field("count", show.child(co), show.child(cn), note=note)], breaking=why, where=ids.product(n.code))

    def attributes(self, o: ProductDef, n: ProductDef) -> None:
        old, new = _by(o.attributes, lambda a: a.name), _by(n.attributes, lambda a: a.name)
        commercial = n.kind == "commercial"
        holders = f"installed {n.code} assets" if commercial else f"installed {n.code} lines"
        for name in _sorted_union(old, new):
            ao, an = old.get(name), new.get(name)
            aid = ids.attribute(n.code, name)
            qualified = f"{n.code}.{name}"
            if ao is None:
                why = None
                if _must_give(an):
                    why = (
                        f"new and required without a default: orders that do not give {name} are now rejected"
                        if commercial
                        else f"new and required without a default: {holders} have no value for it"
                    )
                self.add("products", "attribute", ADDED, aid, qualified, show.attribute(an), breaking=why)
                continue
            if an is None:
                why = f"orders that give {name} are now rejected, and {holders} still hold a value for it" if commercial else f"{holders} and in-flight lines still hold a value for it"
                self.add("products", "attribute", REMOVED, aid, qualified, show.attribute(ao), breaking=why)
                continue
            self.attribute(aid, qualified, ao, an, commercial, holders)

    def attribute(self, aid, qualified, ao: AttributeDef, an: AttributeDef, commercial: bool, holders: str) -> None:
        reasons = []
        narrowed, widened = ([], []) if ao.type != an.type else _constraint_change(ao, an)
        note = "; ".join(x for x in ("narrowed: " + ", ".join(narrowed) if narrowed else "", "widened: " + ", ".join(widened) if widened else "") if x) or None
        fields = []
        for f in _fields(
            [
                ("type", ao.type, an.type),
                ("allowed", show.allowed(ao), show.allowed(an)),
                ("range", show.range_(ao), show.range_(an)),
                ("default", _opt(ao.default), _opt(an.default)),
                ("required", _bool(ao.required), _bool(an.required)),
            ]
        ):
            if f.name in ("allowed", "range") and note:
                f = attrs.evolve(f, note=note)
                note = None  # once
            fields.append(f)
        if not fields:
            return
        if ao.type != an.type:
            reasons.append(f"its type changed from {ao.type} to {an.type}: values given or installed as {ao.type} may not read as {an.type}")
        if narrowed:
            who = f"orders giving such a value are now rejected, and {holders} may still hold one" if commercial else f"{holders} may still hold such a value"
            reasons.append(f"allowed values narrowed ({', '.join(narrowed)}): {who}")
        if _must_give(an) and not _must_give(ao):
            reasons.append("now required without a default: orders that do not give it are now rejected" if commercial else f"now required without a default: {holders} may have no value for it")
        self.add("products", "attribute", CHANGED, aid, qualified, fields=fields, breaking="; ".join(reasons) or None)

    # ---- tables ----------------------------------------------------------------------------

    def tables(self) -> None:
        old, new = _by(self.old.tables, lambda t: t.name), _by(self.new.tables, lambda t: t.name)
        users = _table_users(self.new)
        for name in _sorted_union(old, new):
            to, tn = old.get(name), new.get(name)
            tid = ids.table(name)
            if to is None:
                self.add("tables", "table", ADDED, tid, name, f"{tn.key_type} -> {tn.value_type}", [Field(f"{show.const(k)}", None, show.const(v)) for k, v in tn.entries])
                continue
            if tn is None:
                self.add("tables", "table", REMOVED, tid, name, f"{to.key_type} -> {to.value_type}", [Field(f"{show.const(k)}", show.const(v), None) for k, v in to.entries])
                continue
            used = users.get(name, [])
            used_by = ", ".join(used[:3]) + (f" and {len(used) - 3} more" if len(used) > 3 else "")
            fields = _fields([("key type", to.key_type, tn.key_type), ("value type", to.value_type, tn.value_type)])
            if fields:
                why = f"its keys or values no longer have the type they had (the table is read by {used_by})" if used else None
                self.add("tables", "table", CHANGED, tid, name, fields=fields, breaking=why)
            eo = {E.constant_value(k): (k, v) for k, v in to.entries}
            en = {E.constant_value(k): (k, v) for k, v in tn.entries}
            for key in sorted(set(eo) | set(en), key=lambda k: (type(k).__name__, k)):
                ko = eo.get(key)
                kn = en.get(key)
                k = show.const((kn or ko)[0])
                eid = f"entry:{name}[{k}]"
                ename = f"{name}[{k}]"
                if ko is None:
                    self.add("tables", "entry", ADDED, eid, ename, show.const(kn[1]), where=tid)
                elif kn is None:
                    why = f"in-flight and new orders with key {k} now read null instead of {show.const(ko[1])} (the table is read by {used_by})" if used else None
                    self.add("tables", "entry", REMOVED, eid, ename, show.const(ko[1]), breaking=why, where=tid)
                elif ko[1] != kn[1]:
                    self.add("tables", "entry", CHANGED, eid, ename, fields=[Field("value", show.const(ko[1]), show.const(kn[1]))], where=tid)

    # ---- rules ------------------------------------------------------------------------------

    def validations(self) -> None:
        def fields(v):
            return [("when", show.expr(v.when), True), ("require", show.expr(v.require), True), ("message", show.const(v.message), False)]

        old, new = _by(self.old.validations, lambda v: (v.product, v.name)), _by(self.new.validations, lambda v: (v.product, v.name))
        for key in _sorted_union(old, new):
            self._rule("validation", ids.validation(*key), f"{key[0]}.{key[1]}", old.get(key), new.get(key), fields)

    def enrichments(self) -> None:
        def fields(e):
            return [("type", e.type, False), ("expr", show.expr(e.expr), True)]

        old, new = _by(self.old.enrichments, lambda e: (e.product, e.name)), _by(self.new.enrichments, lambda e: (e.product, e.name))
        for key in _sorted_union(old, new):
            self._rule("enrichment", ids.enrichment(*key), f"{key[0]}.{key[1]}", old.get(key), new.get(key), fields)
        for code in sorted({e.product for e in self.new.enrichments} & {e.product for e in self.old.enrichments}):
            before = [e.name for e in self.old.enrichments_of(code)]
            after = [e.name for e in self.new.enrichments_of(code)]
            common_before = [n for n in before if n in after]
            common_after = [n for n in after if n in before]
            if common_before != common_after:
                self.add("rules", "enrichment order", CHANGED, f"enrichments:{code}", code, fields=[Field("order", ", ".join(before), ", ".join(after))], where=ids.enrichment(code, after[0]))

    def decompositions(self) -> None:
        def fields(d):
            out = [
                ("source", d.source or "order", False),
                ("target", d.target, False),
                ("when", show.expr(d.when), True),
                ("per", show.expr(d.per), True),
            ]
            return out + [(f"mapping {m.target}", show.expr(m.expr), True) for m in d.mappings]

        old, new = _by(self.old.decompositions, lambda d: d.name), _by(self.new.decompositions, lambda d: d.name)
        for name in _sorted_union(old, new):
            o, n = old.get(name), new.get(name)
            d = n or o
            self._rule("decomposition", ids.decomposition(name), f"{name}: {d.source or 'order'} -> {d.target}", o, n, fields)

    def _rule(self, element, element_id, name, o, n, fields_of) -> None:
        """A rule added, removed or changed: its fields, old above new."""
        if o is not None and n is not None and o == n:
            return
        fo = {f[0]: f for f in fields_of(o)} if o is not None else {}
        fn = {f[0]: f for f in fields_of(n)} if n is not None else {}
        names = list(fn) + [k for k in fo if k not in fn]
        fields = []
        for key in names:
            vo = fo.get(key, (key, None, False))
            vn = fn.get(key, (key, None, False))
            if vo[1] != vn[1]:
                fields.append(Field(key, vo[1], vn[1], expr=vo[2] or vn[2]))
        op = ADDED if o is None else REMOVED if n is None else CHANGED
        if op != CHANGED:
            fields = [f for f in fields if (f.new if op == ADDED else f.old) is not None]
        self.add("rules", element, op, element_id, name, fields=fields)

    # ---- systems ------------------------------------------------------------------------------

    def systems(self) -> None:
        old, new = _by(self.old.systems, lambda s: s.name), _by(self.new.systems, lambda s: s.name)
        for name in _sorted_union(old, new):
            so, sn = old.get(name), new.get(name)
            sid = ids.system(name)
            if so is None:
                self.add("systems", "system", ADDED, sid, name, _opt_str(sn.display_name), [Field(f"operation {o.name}", None, show.operation(o)) for o in sn.operations])
                continue
            if sn is None:
                ops = ", ".join(o.name for o in so.operations)
                why = f"in-flight tasks and compensations that call its operations ({ops}) have nowhere to go" if ops else None
                self.add("systems", "system", REMOVED, sid, name, _opt_str(so.display_name), [Field(f"operation {o.name}", show.operation(o), None) for o in so.operations], why)
                continue
            fields = _fields([("name", _opt_str(so.display_name), _opt_str(sn.display_name))])
            if fields:
                self.add("systems", "system", CHANGED, sid, name, fields=fields)
            self.operations(so, sn)

    def operations(self, so, sn) -> None:
        old, new = _by(so.operations, lambda o: o.name), _by(sn.operations, lambda o: o.name)
        for name in _sorted_union(old, new):
            oo, on = old.get(name), new.get(name)
            oid = ids.operation(sn.name, name)
            qualified = f"{sn.name}.{name}"
            if oo is None:
                self.add("systems", "operation", ADDED, oid, qualified, show.operation(on))
                continue
            if on is None:
                self.add("systems", "operation", REMOVED, oid, qualified, show.operation(oo), breaking=f"in-flight tasks and compensations that call {qualified} have nowhere to go")
                continue
            fields = _fields(
                [
                    ("inputs", show.params(oo.inputs), show.params(on.inputs)),
                    ("outputs", show.params(oo.outputs), show.params(on.outputs)),
                    ("async", _bool(oo.is_async), _bool(on.is_async)),
                    ("retry", show.retry(oo.retry), show.retry(on.retry)),
                    ("timeout", show.duration(oo.timeout_ms), show.duration(on.timeout_ms)),
                ]
            )
            if not fields:
                continue
            why = None
            io, inn = {p.name: p.type for p in oo.inputs}, {p.name: p.type for p in on.inputs}
            if io != inn:
                parts = [f"+{k}" for k in inn if k not in io] + [f"-{k}" for k in io if k not in inn] + [f"{k}: {io[k]} -> {inn[k]}" for k in inn if k in io and io[k] != inn[k]]
                why = f"inputs changed ({', '.join(parts)}): calls planned against the old catalog no longer match what {qualified} takes"
                fields = [attrs.evolve(f, note=", ".join(parts)) if f.name == "inputs" else f for f in fields]
            self.add("systems", "operation", CHANGED, oid, qualified, fields=fields, breaking=why)

    def retry_policies(self) -> None:
        old, new = dict(self.old.retry_policies), dict(self.new.retry_policies)
        for name in _sorted_union(old, new):
            o, n = old.get(name), new.get(name)
            if o == n:
                continue
            op = ADDED if o is None else REMOVED if n is None else CHANGED
            fields = [Field("policy", show.retry(o), show.retry(n))] if op == CHANGED else []
            self.add("retry policies", "retry policy", op, ids.retry(name), name, show.retry(n if o is None else o) if op != CHANGED else None, fields)

    def queues(self) -> None:
        old, new = _by(self.old.queues, lambda q: q.name), _by(self.new.queues, lambda q: q.name)
        for name in _sorted_union(old, new):
            o, n = old.get(name), new.get(name)
            if o == n:
                continue
            op = ADDED if o is None else REMOVED if n is None else CHANGED
            fields = [Field("name", _opt_str(o.display_name), _opt_str(n.display_name))] if op == CHANGED else []
            self.add("queues", "queue", op, ids.queue(name), name, _opt_str((n or o).display_name) if op != CHANGED else None, fields)

    # ---- plans ------------------------------------------------------------------------------------

    def plans(self) -> None:
        old, new = _by(self.old.plans, lambda p: (p.product, p.action)), _by(self.new.plans, lambda p: (p.product, p.action))
        for key in sorted(set(old) | set(new), key=lambda k: (k[0], ("add", "modify", "delete").index(k[1]) if k[1] in ("add", "modify", "delete") else 9, k[1])):
            po, pn = old.get(key), new.get(key)
            pid = ids.plan(*key)
            name = f"{key[0]} on {key[1]}"
            if po is None:
                summary = f"when {show.expr(pn.when)}" if pn.when is not None else None
                self.add("plans", "plan", ADDED, pid, name, summary, [Field(f"task {i.name}", None, show.task(i)) for i in pn.items])
                continue
            if pn is None:
                summary = f"when {show.expr(po.when)}" if po.when is not None else None
                tasks = ", ".join(i.name for i in po.items)
                why = f"in-flight orders planned against the old catalog can still have its tasks ({tasks})"
                self.add("plans", "plan", REMOVED, pid, name, summary, [Field(f"task {i.name}", show.task(i), None) for i in po.items], why)
                continue
            fields = _fields([("when", show.expr(po.when), show.expr(pn.when), True)])
            if fields:
                self.add("plans", "plan", CHANGED, pid, name, fields=fields)
            self.tasks(po, pn)
            self.edges(po, pn)

    def tasks(self, po, pn) -> None:
        plan = f"{pn.product}.{pn.action}"
        old, new = _by(po.items, lambda i: i.name), _by(pn.items, lambda i: i.name)
        for name in _sorted_union(old, new):
            io, inew = old.get(name), new.get(name)
            tid = ids.task(pn.product, pn.action, name)
            qualified = f"{plan}.{name}"
            if io is None:
                self.add("plans", "task", ADDED, tid, qualified, show.task(inew))
                continue
            if inew is None:
                why = f"in-flight orders planned against the old catalog can still have {name} (running, done, or to compensate)"
                self.add("plans", "task", REMOVED, tid, qualified, show.task(io), breaking=why)
                continue
            if io == inew:
                continue
            pairs = [
                ("kind", io.kind, inew.kind),
                ("call", show.call(io.call), show.call(inew.call), True),
                ("outputs", show.params(io.outputs) if io.outputs else None, show.params(inew.outputs) if inew.outputs else None),
                ("async", _bool(io.is_async), _bool(inew.is_async)),
                ("queue", io.queue, inew.queue),
                ("description", _opt_str(io.description), _opt_str(inew.description)),
                ("wait for", show.duration(io.wait_for_ms), show.duration(inew.wait_for_ms)),
                ("wait until", show.expr(io.wait_until), show.expr(inew.wait_until), True),
                ("when", show.expr(io.when), show.expr(inew.when), True),
            ]
            so, sn = dict(io.sets), dict(inew.sets)
            pairs += [(f"sets {attr}", show.expr(so.get(attr)), show.expr(sn.get(attr)), True) for attr in _sorted_union(so, sn)]
            pairs += [
                ("compensate", show.call(io.compensate), show.call(inew.compensate), True),
                ("point of no return", io.point_of_no_return, inew.point_of_no_return),
                ("on amend", _amend(io), _amend(inew)),
                ("due", show.duration(io.due_ms), show.duration(inew.due_ms)),
                ("retry", show.retry(io.retry), show.retry(inew.retry)),
                ("timeout", show.duration(io.timeout_ms), show.duration(inew.timeout_ms)),
                ("fallout", io.fallout, inew.fallout),
            ]
            fields = _fields(pairs)
            if fields:  # after/before changes are edges, below
                self.add("plans", "task", CHANGED, tid, qualified, fields=fields)

    def edges(self, po, pn) -> None:
        """Dependency edges between tasks both plans have (an added or removed
        task shows its own `after`/`before`)."""
        plan = f"{pn.product}.{pn.action}"
        both = {i.name for i in po.items} & {i.name for i in pn.items}
        eo = {k: v for k, v in show.edges(po.items).items() if v[0] in both}
        en = {k: v for k, v in show.edges(pn.items).items() if v[0] in both}
        for edge in sorted(set(eo) | set(en)):
            if edge in eo and edge in en:
                continue
            op = ADDED if edge not in eo else REMOVED
            task, clause = (en if op == ADDED else eo)[edge]
            self.add("plans", "edge", op, f"edge:{plan}:{edge}", f"{plan}.{task} {clause}", where=ids.task(pn.product, pn.action, task))


# ---- helpers -------------------------------------------------------------------------------


def _product_summary(p: ProductDef) -> str:
    return f"{p.kind} {p.role}" + (f" {show.const(p.name)}" if p.name else "")


def _opt(v) -> Optional[str]:
    return None if v is None else show.const(v)


def _amend(i) -> Optional[str]:
    """What a revision does to the task once completed (`on amend`, the default made explicit): calls only."""
    return i.amend_strategy() if i.kind in ("callout", "auto") else None


def _opt_str(s) -> Optional[str]:
    return None if s is None else show.const(s)


def _bool(b) -> str:
    return "true" if b else "false"


def _must_give(a: AttributeDef) -> bool:
    """Must an order give it (or an installed element hold it)?"""
    return a.required and a.default is None


def _table_users(cat: Catalog) -> dict[str, list[str]]:
    """Table name -> the ids of the rules that read it."""
    out: dict[str, set] = {}
    for element, e in _expressions(cat):
        for node in E.walk(e):
            if isinstance(node, tuple) and node and node[0] == "lookup":
                out.setdefault(node[1], set()).add(element)
    return {k: sorted(v) for k, v in out.items()}


def _expressions(cat: Catalog):
    """(element id, expression) for every expression of a catalog."""
    for v in cat.validations:
        for e in (v.when, v.require):
            if e is not None:
                yield ids.validation(v.product, v.name), e
    for r in cat.enrichments:
        yield ids.enrichment(r.product, r.name), r.expr
    for d in cat.decompositions:
        for e in (d.when, d.per):
            if e is not None:
                yield ids.decomposition(d.name), e
        for m in d.mappings:
            yield ids.mapping(d.name, m.target), m.expr
    for p in cat.plans:
        if p.when is not None:
            yield ids.plan(p.product, p.action), p.when
        for i in p.items:
            tid = ids.task(p.product, p.action, i.name)
            for e in (i.when, i.wait_until):
                if e is not None:
                    yield tid, e
            for _, e in i.sets:
                yield tid, e
            for c in (i.call, i.compensate):
                if c is not None:
                    for _, e in c.args:
                        yield tid, e


def _constraint_change(ao: AttributeDef, an: AttributeDef) -> tuple[list[str], list[str]]:
    """How the set of accepted values changed (same type): (narrowed, widened) descriptions."""
    co, cn = _constraint(ao), _constraint(an)
    if co == cn:
        return [], []
    narrowed: list[str] = []
    widened: list[str] = []
    kind_o, kind_n = co[0], cn[0]
    integer = an.type == "int"
    if kind_n == "any":
        widened.append(f"any {an.type} now allowed")
    elif kind_o == "any":
        narrowed.append(f"only {show.values(an.allowed) if kind_n == 'set' else show.range_(an)} now allowed")
    elif kind_o == "set" and kind_n == "set":
        gone = [ir for ir in ao.allowed if E.constant_value(ir) not in cn[1]]
        new = [ir for ir in an.allowed if E.constant_value(ir) not in co[1]]
        if gone:
            narrowed.append(", ".join(show.const(v) for v in gone) + " no longer allowed")
        if new:
            widened.append(", ".join(show.const(v) for v in new) + " now allowed")
    elif kind_o == "set" and kind_n == "range":
        lo, hi = cn[1], cn[2]
        gone = [ir for ir in ao.allowed if not lo <= E.constant_value(ir) <= hi]
        if gone:
            narrowed.append(", ".join(show.const(v) for v in gone) + " no longer allowed")
        inside = len([v for v in co[1] if lo <= v <= hi])
        if (hi - lo + 1 > inside) if integer else lo != hi:
            widened.append(f"{show.range_(an)} now allowed")
    elif kind_o == "range" and kind_n == "set":
        lo, hi = co[1], co[2]
        covered = integer and hi - lo < 10_000 and all(v in cn[1] for v in range(lo, hi + 1))
        if not covered and not (not integer and lo == hi and lo in cn[1]):
            narrowed.append(f"only {show.values(an.allowed)} of {show.range_(ao)} now allowed")
        out = [ir for ir in an.allowed if not lo <= E.constant_value(ir) <= hi]
        if out:
            widened.append(", ".join(show.const(v) for v in out) + " now allowed")
    else:  # range -> range
        (_, lo_o, hi_o), (_, lo_n, hi_n) = co, cn
        if lo_n > lo_o or hi_n < hi_o:
            narrowed.append(f"{show.range_(ao)} -> {show.range_(an)}")
        if lo_n < lo_o or hi_n > hi_o:
            widened.append(f"{show.range_(ao)} -> {show.range_(an)}")
    return narrowed, widened


def _constraint(a: AttributeDef):
    if a.allowed is not None:
        return ("set", frozenset(E.constant_value(v) for v in a.allowed))
    if a.range is not None:
        return ("range", E.constant_value(a.range[0]), E.constant_value(a.range[1]))
    return ("any",)
