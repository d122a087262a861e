"""Lowering: a checked catalog scope -> the plan model.

Runs only on catalogs the checker accepted, so every name resolves and
every expression is well typed; lowering resolves what the checker
verified (which name is an attribute, a task or the parent; which retry
policy and timeout apply) and writes it down explicitly.
"""

from __future__ import annotations

import hashlib
import heapq
import os
from pathlib import PurePosixPath

import attrs

from om_dsl.check.lines import AGGREGATES
from om_dsl.check.scope import CatalogScope
from om_dsl.model import expr as E
from om_dsl.model.catalog import (
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
from om_dsl.syntax import ast


def lower(scope: CatalogScope, starts: dict | None = None) -> Catalog:
    """The catalog's plan model. Given `starts`, also fills it with each element's
    place in its file, as a character offset (the compile cache moves elements'
    lines by it after an edit that changes no meaning: om_dsl.build)."""
    lowering = _Lowering(scope)
    catalog = lowering.catalog()
    if starts is not None:
        starts.update(lowering.starts)
    return catalog


def lower_part(scope: CatalogScope, products=(), tables=(), validations=(), plans=(), enrichments=(), decompositions=()) -> Catalog:
    """A part of a catalog's model: these products, tables, validation rules,
    plans, products' enrichments and decompositions (their codes, names and
    keys in `scope`), lowered as `lower` lowers them. The compile cache
    regenerates what an edit changed from such a part (om_dsl.recompile)."""
    low = _Lowering(scope)
    s = scope
    return Catalog(
        name=s.name,
        version=s.version or "",
        products=sorted((low.product(s.commercial[c], "commercial") if c in s.commercial else low.product(s.technical[c], "technical") for c in products), key=lambda p: p.code),
        tables=sorted((low.table(s.tables[t]) for t in tables), key=lambda t: t.name),
        validations=sorted((low.validation(s.validations[k]) for k in validations), key=lambda v: (v.product, v.name)),
        enrichments=low.enrichments(enrichments),
        decompositions=sorted((low.decomposition(s.decompositions[d]) for d in decompositions), key=lambda d: d.name),
        retry_policies=(),
        systems=(),
        queues=(),
        plans=sorted((low.plan(s.plans[k]) for k in plans), key=lambda p: (p.product, p.action)),
    )


def spec_root(scope: CatalogScope) -> str:
    """The folder a catalog's source paths are recorded relative to: the common parent of its files."""
    return files_root(scope.files)


def files_root(files) -> str:
    real = [f.real_path for f in files]
    return os.path.commonpath([str(p.parent) for p in real]) if real else "."


def relative_path(real_path, root: str) -> str:
    """A spec file's path as the compiled catalog records it: relative to the specs' root, `/`-separated."""
    return PurePosixPath(os.path.relpath(real_path, root).replace(os.sep, "/")).as_posix()


def file_hashes(files) -> tuple[tuple[str, str], ...]:
    """(path relative to the specs' root, sha256 of the text) of each file, as sources.json records them."""
    root = files_root(files)
    return tuple(sorted((relative_path(f.real_path, root), "sha256:" + hashlib.sha256(f.text.encode("utf-8")).hexdigest()) for f in files))


def literal(lit: ast.Literal):
    """An AST literal as an IR constant."""
    if lit.kind == "decimal":
        return ("decimal", str(lit.value))
    if lit.kind == "date":
        return ("date", str(lit.value))
    if lit.kind == "duration":
        return ("duration", lit.value)
    return lit.value


def _sort_key(value):
    """Orders IR constants of one type (None first)."""
    v = E.constant_value(value)
    return (v is not None, v if v is not None else 0)


class _Lowering:
    def __init__(self, scope: CatalogScope):
        self.scope = scope
        root = spec_root(scope)
        self.rel = {f.path: relative_path(f.real_path, root) for f in scope.files}
        self.files = file_hashes(scope.files)
        if scope.tasks_dir is not None:  # the task package's code too: a change to it makes the compiled catalog stale
            where = PurePosixPath(relative_path(scope.tasks_dir, root))
            digests = {(where / rel).as_posix(): "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest() for rel, text in scope.task_files.items()}
            self.files = tuple(sorted(dict(self.files, **digests).items()))
        self.sources: dict[str, SourceRef] = {}
        self.starts: dict[str, int] = {}

    def at(self, element_id: str, node) -> str:
        span = node.span
        self.sources[element_id] = SourceRef(self.rel.get(span.file, span.file), span.line)
        self.starts[element_id] = span.start
        return element_id

    # ---- the catalog ---------------------------------------------------------------

    def catalog(self) -> Catalog:
        s = self.scope
        products = [self.product(p, "commercial") for p in s.commercial.values()] + [self.product(p, "technical") for p in s.technical.values()]
        return Catalog(
            name=s.name,
            version=s.version or "",
            products=sorted(products, key=lambda p: p.code),
            tables=sorted((self.table(t) for t in s.tables.values()), key=lambda t: t.name),
            validations=sorted((self.validation(v) for v in s.validations.values()), key=lambda v: (v.product, v.name)),
            enrichments=self.enrichments(),
            decompositions=sorted((self.decomposition(d) for d in s.decompositions.values()), key=lambda d: d.name),
            retry_policies=sorted((name, self.retry_policy(name, p)) for name, p in s.retry_policies.items()),
            systems=sorted((self.system(x) for x in s.systems.values()), key=lambda x: x.name),
            queues=sorted((self.queue(q) for q in s.queues.values()), key=lambda q: q.name),
            plans=sorted((self.plan(p) for p in s.plans.values()), key=lambda p: (p.product, p.action)),
            tasks=s.tasks_name,
            sources=sorted(self.sources.items()),
            files=self.files,
        )

    # ---- products and rules -----------------------------------------------------------

    def product(self, p, kind: str) -> ProductDef:
        code = p.code.value
        self.at(ids.product(code), p)
        attributes = []
        for a in p.attributes:
            self.at(ids.attribute(code, a.name.value), a)
            allowed = rng = None
            if isinstance(a.allowed, ast.AllowedSet):
                allowed = tuple(sorted((literal(v) for v in a.allowed.values), key=_sort_key))
            elif isinstance(a.allowed, ast.AllowedRange):
                rng = (literal(a.allowed.low), literal(a.allowed.high))
            attributes.append(
                AttributeDef(
                    name=a.name.value,
                    type=a.type.value,
                    allowed=allowed,
                    range=rng,
                    default=literal(a.default) if a.default is not None else None,
                    required=a.presence == "required",
                )
            )
        children = [ChildDef(h.product.value, h.min, h.max) for h in p.children]
        role = p.role if kind == "commercial" else p.kind
        name = p.display_name.value if p.display_name is not None else None
        return ProductDef(code, name, kind, role, sorted(attributes, key=lambda a: a.name), sorted(children, key=lambda c: c.product))

    def table(self, t: ast.Table) -> TableDef:
        self.at(ids.table(t.name.value), t)
        entries = sorted(((literal(e.key), literal(e.value)) for e in t.entries), key=lambda kv: _sort_key(kv[0]))
        return TableDef(t.name.value, t.key_type.value, t.value_type.value, entries)

    def validation(self, v: ast.Validation) -> ValidationRule:
        self.at(ids.validation(v.product.value, v.name.value), v)
        ctx = _Names(self.scope, v.product.value)
        return ValidationRule(v.product.value, v.name.value, ctx.lower_opt(v.when), ctx.lower(v.require), str(v.message.value))

    def enrichments(self, codes=None) -> list[EnrichmentRule]:
        """The enrichment rules of every product (of CODES only, when given)."""
        out: list[EnrichmentRule] = []
        for code in sorted(self.scope.enrichments if codes is None else set(codes) & set(self.scope.enrichments)):
            ctx = _Names(self.scope, code)
            rules = {}
            for block in self.scope.enrichments[code]:
                for r in block.rules:
                    self.at(ids.enrichment(code, r.name.value), r)
                    rules[r.name.value] = EnrichmentRule(code, r.name.value, r.type.value, ctx.lower(r.expr))
            # Evaluation order: dependencies first, then by name, so that
            # moving a rule (or a block) changes nothing.
            deps = {n: E.reads(r.expr, "attr") & set(rules) - {n} for n, r in rules.items()}
            ready = [n for n, d in deps.items() if not d]
            heapq.heapify(ready)
            done: list[str] = []
            while ready:
                n = heapq.heappop(ready)
                done.append(n)
                for m, d in deps.items():
                    if n in d:
                        d.discard(n)
                        if not d and m not in done:
                            heapq.heappush(ready, m)
            out.extend(rules[n] for n in done)
        return out

    def decomposition(self, d: ast.Decomposition) -> DecompositionDef:
        name = d.name.value
        self.at(ids.decomposition(name), d)
        source = d.source.value if d.source is not None else None
        ctx = _Names(self.scope, source)
        mappings = []
        for m in d.mappings:
            self.at(ids.mapping(name, m.target.value), m)
            mappings.append(MappingDef(m.target.value, ctx.lower(m.expr)))
        return DecompositionDef(name, source, d.target.value, ctx.lower_opt(d.when), ctx.lower_opt(d.per), sorted(mappings, key=lambda m: m.target))

    # ---- systems --------------------------------------------------------------------------

    def retry(self, spec) -> RetryPolicyDef:
        """A policy resolved: its delays, and the failure classes it retries and
        refuses (the nearest `for` and `fatal` along the references)."""
        retried, fatal = None, None
        seen = set()
        while isinstance(spec, (ast.RetryRef, ast.RetryFiltered)):
            if isinstance(spec, ast.RetryFiltered):
                if retried is None and spec.retried is not None:
                    retried = tuple(c.text for c in spec.retried)
                if fatal is None and spec.fatal:
                    fatal = tuple(c.text for c in spec.fatal)
                spec = spec.spec
                continue
            name = spec.name.value
            if name in seen:  # the checker reports circles; be safe anyway
                return RetryPolicyDef("none")
            seen.add(name)
            spec = self.scope.retry_policies[name].spec
        base = self._retry_kind(spec)
        if retried is None and fatal is None:
            return base
        return attrs.evolve(base, retry_on=retried, fatal_on=fatal or ())

    def _retry_kind(self, spec) -> RetryPolicyDef:
        if spec is None or isinstance(spec, ast.RetryNone):
            return RetryPolicyDef("none")
        if isinstance(spec, ast.RetryFixed):
            return RetryPolicyDef("fixed", spec.count, (spec.interval.value,))
        if isinstance(spec, ast.RetryStaggered):
            return RetryPolicyDef("staggered", len(spec.delays), tuple(d.value for d in spec.delays))
        factor = str(spec.factor.value) if spec.factor is not None else "2"
        return RetryPolicyDef("exponential", spec.count, (spec.initial.value,), factor, spec.cap.value)

    def retry_policy(self, name: str, p: ast.RetryPolicy) -> RetryPolicyDef:
        self.at(ids.retry(name), p)
        return self.retry(p.spec)

    def queue(self, q: ast.Queue) -> QueueDef:
        self.at(ids.queue(q.name.value), q)
        return QueueDef(q.name.value, q.display_name.value if q.display_name else None)

    def default_retry(self) -> RetryPolicyDef:
        d = self.scope.default_retry
        return self.retry(d.policy) if d is not None else RetryPolicyDef("none")

    def default_timeout(self):
        d = self.scope.default_timeout
        return d.duration.value if d is not None else None

    def lower_operation(self, system: ast.System, op: ast.Operation) -> OperationDef:
        """An operation with its retry policy and timeout resolved: the
        operation's own, else its system's, else the catalog's default."""
        retry = op.retry if op.retry is not None else system.retry
        timeout = op.timeout if op.timeout is not None else system.timeout
        return OperationDef(
            system=system.name.value,
            name=op.name.value,
            inputs=[Param(p.name.value, p.type.value) for p in op.inputs],
            outputs=[Param(p.name.value, p.type.value) for p in op.outputs],
            is_async=op.is_async,
            retry=self.retry(retry) if retry is not None else self.default_retry(),
            timeout_ms=timeout.value if timeout is not None else self.default_timeout(),
        )

    def system(self, x: ast.System) -> SystemDef:
        name = x.name.value
        self.at(ids.system(name), x)
        ops = []
        for op in x.operations:
            self.at(ids.operation(name, op.name.value), op)
            ops.append(self.lower_operation(x, op))
        return SystemDef(name, x.display_name.value if x.display_name else None, sorted(ops, key=lambda o: o.name))

    def operation(self, call: ast.OperationCall) -> OperationDef:
        system = self.scope.systems[call.system.value]
        op = next(o for o in system.operations if o.name.value == call.operation.value)
        return self.lower_operation(system, op)

    # ---- plans -----------------------------------------------------------------------------

    def plan(self, p: ast.Plan) -> PlanDef:
        code, action = p.product.value, p.action.value
        self.at(ids.plan(code, action), p)
        tasks = {i.name.value for i in p.items}
        line = _Names(self.scope, code)
        items = [self.item(code, action, i, _Names(self.scope, code, tasks)) for i in p.items]
        return PlanDef(code, action, line.lower_opt(p.when), sorted(items, key=lambda i: i.name))

    def call(self, call, ctx: "_Names") -> CallDef:
        args = sorted((a.name.value, ctx.lower(a.expr)) for a in call.args)
        if isinstance(call, ast.PythonCall):
            return CallDef("python", str(call.target.value), args)
        return CallDef("operation", f"{call.system.value}.{call.operation.value}", args)

    def item(self, code: str, action: str, i: ast.PlanItem, ctx: "_Names") -> PlanItemDef:
        self.at(ids.task(code, action, i.name.value), i)
        call = outputs = None
        retry = timeout = None
        is_async = False
        if i.kind == "callout":
            op = self.operation(i.call)
            call = self.call(i.call, ctx)
            outputs = op.outputs
            is_async = op.is_async
            retry = self.retry(i.retry) if i.retry is not None else op.retry
            timeout = i.timeout.value if i.timeout is not None else op.timeout_ms
        elif i.kind == "auto":
            call = self.call(i.python, ctx)
            outputs = [Param(o.name.value, o.type.value) for o in i.outputs]
            retry = self.retry(i.retry) if i.retry is not None else self.default_retry()
            timeout = i.timeout.value if i.timeout is not None else self.default_timeout()

        def deps(ds):
            out = [DependencyDef(d.product.value if d.product else None, d.task.value if d.task else None, d.scope) for d in ds]
            return sorted(set(out), key=lambda d: (d.scope, d.product or "", d.task or ""))

        return PlanItemDef(
            name=i.name.value,
            kind=i.kind,
            call=call,
            outputs=outputs or (),
            queue=i.queue.value if i.queue else None,
            description=str(i.description.value) if i.description else None,
            wait_for_ms=i.wait_for.value if i.wait_for is not None else None,
            wait_until=ctx.lower_opt(i.wait_until),
            after=deps(i.after),
            before=deps(i.before),
            when=ctx.lower_opt(i.when),
            sets=sorted((s.attribute.value, ctx.lower(s.expr)) for s in i.sets),
            compensate=self.call(i.compensate, ctx) if i.compensate is not None else None,
            point_of_no_return=i.point_of_no_return.kind if i.point_of_no_return else None,
            due_ms=i.due.value if i.due is not None else None,
            retry=retry,
            timeout_ms=timeout,
            is_async=is_async,
            fallout=i.fallout.value if i.fallout is not None else None,
            on_amend=i.on_amend.kind if i.on_amend is not None else None,
        )


class _Names:
    """Lowers expressions in one context: which bare names are attributes,
    which are tasks (inside a plan), and whether `parent` is the parent item."""

    def __init__(self, scope: CatalogScope, product: str | None, tasks: set[str] = frozenset()):
        self.scope = scope
        self.tasks = tasks
        p = scope.product(product) if product else None
        self.attributes = {a.name.value for a in p.attributes} if p else set()
        if product:
            for block in scope.enrichments.get(product, ()):
                self.attributes.update(r.name.value for r in block.rules)

    def lower_opt(self, e):
        return None if e is None else self.lower(e)

    def lower(self, e):
        m = getattr(self, "_" + type(e).__name__)
        return m(e)

    def _Literal(self, e: ast.Literal):
        return literal(e)

    def _Ref(self, e: ast.Ref):
        return ("attr", e.name)

    def _OrderField(self, e: ast.OrderField):
        return ("order", e.field.value)

    def _Member(self, e: ast.Member):
        name = e.name.value
        obj = e.obj
        if isinstance(obj, ast.Ref) and obj.name not in self.attributes:
            if obj.name in self.tasks:
                return ("output", obj.name, name)
            if obj.name == "parent":
                return ("parent", name)
        return ("pluck", self.lower(obj), name)

    def _Lookup(self, e: ast.Lookup):
        return ("lookup", e.table.name, self.lower(e.key))

    def _Call(self, e: ast.Call):
        name = e.func.value
        if name == "children":
            return ("children", e.args[0].name)
        if name == "changed":
            return ("changed",) + tuple(a.name for a in e.args)
        aggregate = name in AGGREGATES  # a read of several lines is theirs to aggregate
        return ("call", name) + tuple(self._LineRead(a, many=True) if aggregate and isinstance(a, ast.LineRead) else self.lower(a) for a in e.args)

    def _Unary(self, e: ast.Unary):
        return ("not" if e.op == "not" else "neg", self.lower(e.operand))

    def _Binary(self, e: ast.Binary):
        return (e.op, self.lower(e.left), self.lower(e.right))

    def _InSet(self, e: ast.InSet):
        return ("not in" if e.negated else "in", self.lower(e.item), self.lower(e.container))

    def _LineRead(self, e: ast.LineRead, many: bool = False):
        names = []
        node = e.target
        while isinstance(node, ast.Member):
            names.insert(0, node.name.value)
            node = node.obj
        task = names[0] if len(names) == 2 else None
        return ("lines" if many else "line", e.scope, node.name, task, names[-1])

    def _IsNull(self, e: ast.IsNull):
        return ("is not null" if e.negated else "is null", self.lower(e.operand))

    def _IfElse(self, e: ast.IfElse):
        return ("if", self.lower(e.cond), self.lower(e.then), self.lower(e.otherwise))

    def _SetLiteral(self, e: ast.SetLiteral):
        items = [self.lower(i) for i in e.items]
        if all(E.is_constant(i) for i in items):  # a set of constants: its order means nothing
            items = sorted(items, key=_sort_key)
        return ("set",) + tuple(items)

    def _MapExpr(self, e: ast.MapExpr):
        entries = sorted(((literal(x.key), self.lower(x.value)) for x in e.entries), key=lambda kv: _sort_key(kv[0]))
        return ("map", self.lower(e.subject), tuple(entries))
