"""The compiled catalog: the plan model.

Every class is frozen and holds only content: names, types, expressions,
resolved policies. Where an element came from in the specs (file and line)
is kept apart, in `Catalog.sources`, keyed by the element's id, so that
moving a rule within a file changes no content.

Ids are derived from names, never from positions: `product:HOME_FIBER`,
`attribute:HOME_FIBER.speed_mbps`, `decomposition:D1`, `mapping:D1.down_mbps`,
`task:FIBER_ACCESS_CFS.add.reserve_port`, ... (see `ids`).

Expressions are the expression IR of `om_dsl.model.expr`: nested tuples.
"""

from __future__ import annotations

from typing import Optional

import attrs

SCHEMA = "om-plan/1"
# om-plan/2: a catalog that declares its task package (`tasks`) or an item's
# amend strategy (`on_amend`). A catalog that uses neither is written as
# om-plan/1, byte for byte as before; both are read.
SCHEMA_2 = "om-plan/2"
SCHEMAS = (SCHEMA, SCHEMA_2)
AMEND_STRATEGIES = ("keep", "redo", "undo_redo")
TASKS_FOLDER = "tasks"  # in a compiled catalog's folder: its task package, copied (tasks/acme_tasks/...)


def _tuple(x):
    return tuple(x)


@attrs.frozen
class AttributeDef:
    name: str
    type: str  # int, decimal, string, bool, date
    allowed: Optional[tuple] = None  # allowed values (IR constants), or None
    range: Optional[tuple] = None  # (low, high), both included, or None
    default: object = None  # an IR constant; None: no default
    required: bool = False

    @property
    def nullable(self) -> bool:
        """May an item or line lack a value (read as null)?"""
        return not self.required and self.default is None

    def describe(self) -> str:
        """As a spec declares it, name aside: `int in {100, 300, 1000} = 300`, `string required`."""
        from om_dsl.model import expr as E

        text = self.type
        if self.allowed is not None:
            text += " in {" + ", ".join(E.render(v) for v in self.allowed) + "}"
        elif self.range is not None:
            text += f" in {E.render(self.range[0])}..{E.render(self.range[1])}"
        if self.default is not None:
            text += f" = {E.render(self.default)}"
        else:
            text += " required" if self.required else " optional"
        return text


@attrs.frozen
class ChildDef:
    product: str
    min: int
    max: Optional[int]  # None: unbounded


@attrs.frozen
class ProductDef:
    code: str
    name: Optional[str]  # display name
    kind: str  # commercial or technical
    role: str  # root or child (commercial); cfs or rfs (technical)
    attributes: tuple[AttributeDef, ...] = attrs.field(converter=_tuple)
    children: tuple[ChildDef, ...] = attrs.field(converter=_tuple, default=())

    def attribute(self, name: str) -> Optional[AttributeDef]:
        return next((a for a in self.attributes if a.name == name), None)


@attrs.frozen
class TableDef:
    name: str
    key_type: str
    value_type: str
    entries: tuple[tuple, ...] = attrs.field(converter=_tuple)  # ((key, value), ...), sorted by key


@attrs.frozen
class ValidationRule:
    product: str
    name: str
    when: object  # expression or None
    require: object
    message: str


@attrs.frozen
class EnrichmentRule:
    product: str
    name: str
    type: str
    expr: object


@attrs.frozen
class MappingDef:
    target: str
    expr: object


@attrs.frozen
class DecompositionDef:
    name: str
    source: Optional[str]  # None: the order scope
    target: str
    when: object
    per: object
    mappings: tuple[MappingDef, ...] = attrs.field(converter=_tuple)


@attrs.frozen
class RetryPolicyDef:
    """A resolved retry policy: the delays before each retry.

    kind none: no retry. fixed: `count` retries (None: forever) `delays[0]`
    apart. staggered: one retry after each delay. exponential: `count`
    retries from `delays[0]`, times `factor`, never above `cap_ms`.
    """

    kind: str
    count: Optional[int] = 0
    delays_ms: tuple[int, ...] = attrs.field(converter=_tuple, default=())
    factor: Optional[str] = None  # a decimal, as text
    cap_ms: Optional[int] = None
    # Failure classes (`timeout`, `unreachable`, `error`, `409`, `5xx`): the
    # only ones retried (None: every failure the system calls retryable), and
    # those that fail at once whatever else the policy says.
    retry_on: Optional[tuple[str, ...]] = attrs.field(default=None, converter=attrs.converters.optional(_tuple))
    fatal_on: tuple[str, ...] = attrs.field(converter=_tuple, default=())


@attrs.frozen
class Param:
    name: str
    type: str


@attrs.frozen
class OperationDef:
    system: str
    name: str
    inputs: tuple[Param, ...] = attrs.field(converter=_tuple)
    outputs: tuple[Param, ...] = attrs.field(converter=_tuple)
    is_async: bool = False
    retry: RetryPolicyDef = RetryPolicyDef("none")
    timeout_ms: Optional[int] = None


@attrs.frozen
class SystemDef:
    name: str
    display_name: Optional[str]
    operations: tuple[OperationDef, ...] = attrs.field(converter=_tuple)


@attrs.frozen
class QueueDef:
    name: str
    display_name: Optional[str]


@attrs.frozen
class CallDef:
    """A call a task makes: a system's operation (`inventory.reserve_port`)
    or a Python function (`acme_tasks.numbers:to_e164`), with its arguments."""

    kind: str  # operation or python
    target: str
    args: tuple[tuple[str, object], ...] = attrs.field(converter=_tuple)  # ((param, expression), ...), sorted


@attrs.frozen
class DependencyDef:
    """`after`/`before` as written: product None is the same plan; task None
    is every task in scope."""

    product: Optional[str]
    task: Optional[str]
    scope: str  # plan, bundle or order

    def describe(self) -> str:
        what = "every task" if self.task is None else (self.task if self.product is None else f"{self.product}.{self.task}")
        return what if self.scope == "plan" else f"{what} in {self.scope}"


@attrs.frozen
class PlanItemDef:
    name: str
    kind: str  # callout, manual, auto, milestone, wait
    call: Optional[CallDef] = None  # callouts and auto tasks
    outputs: tuple[Param, ...] = attrs.field(converter=_tuple, default=())  # what the call returns
    queue: Optional[str] = None
    description: Optional[str] = None
    wait_for_ms: Optional[int] = None
    wait_until: object = None
    after: tuple[DependencyDef, ...] = attrs.field(converter=_tuple, default=())
    before: tuple[DependencyDef, ...] = attrs.field(converter=_tuple, default=())
    when: object = None
    sets: tuple[tuple[str, object], ...] = attrs.field(converter=_tuple, default=())  # ((attribute, expression), ...)
    compensate: Optional[CallDef] = None
    point_of_no_return: Optional[str] = None  # hard or soft
    due_ms: Optional[int] = None
    retry: Optional[RetryPolicyDef] = None  # callouts and auto tasks only
    timeout_ms: Optional[int] = None
    is_async: bool = False
    fallout: Optional[str] = None  # a queue: a fatal failure opens a fallout task there instead of holding the order
    on_amend: Optional[str] = None  # keep, redo or undo_redo; None: undo and redo when it has a compensation, else redo

    def amend_strategy(self) -> str:
        """What a revision that changes this completed task's inputs does to it."""
        return self.on_amend or ("undo_redo" if self.compensate is not None else "redo")


@attrs.frozen
class PlanDef:
    product: str
    action: str  # add, modify, delete
    when: object
    items: tuple[PlanItemDef, ...] = attrs.field(converter=_tuple)  # sorted by name

    def item(self, name: str) -> Optional[PlanItemDef]:
        return next((i for i in self.items if i.name == name), None)


@attrs.frozen
class SourceRef:
    file: str  # relative to the root of the compiled specs, `/`-separated
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@attrs.frozen(slots=False)
class Catalog:
    name: str
    version: str
    products: tuple[ProductDef, ...] = attrs.field(converter=_tuple)
    tables: tuple[TableDef, ...] = attrs.field(converter=_tuple)
    validations: tuple[ValidationRule, ...] = attrs.field(converter=_tuple)
    enrichments: tuple[EnrichmentRule, ...] = attrs.field(converter=_tuple)  # in evaluation order per product
    decompositions: tuple[DecompositionDef, ...] = attrs.field(converter=_tuple)
    retry_policies: tuple[tuple[str, RetryPolicyDef], ...] = attrs.field(converter=_tuple)
    systems: tuple[SystemDef, ...] = attrs.field(converter=_tuple)
    queues: tuple[QueueDef, ...] = attrs.field(converter=_tuple)
    plans: tuple[PlanDef, ...] = attrs.field(converter=_tuple)
    tasks: Optional[str] = None  # the catalog's own Python package of auto tasks (compiled beside it, in tasks/)
    # Kept apart from the content: where each element is defined, and the
    # hash of each source file.
    sources: tuple[tuple[str, SourceRef], ...] = attrs.field(converter=_tuple, default=(), eq=False)
    files: tuple[tuple[str, str], ...] = attrs.field(converter=_tuple, default=(), eq=False)

    # ---- lookups: each an index built on first use (a 100k-line catalog holds thousands of elements) ----

    @property
    def schema(self) -> str:
        """The plan.json schema this catalog needs: om-plan/2 only for what om-plan/1 cannot say."""
        new = self.tasks is not None or any(i.on_amend is not None for p in self.plans for i in p.items)
        return SCHEMA_2 if new else SCHEMA

    def product(self, code: str) -> Optional[ProductDef]:
        return self._index("_products", self.products, lambda p: p.code).get(code)

    def plan(self, product: str, action: str) -> Optional[PlanDef]:
        return self._index("_plans", self.plans, lambda p: (p.product, p.action)).get((product, action))

    def table(self, name: str) -> Optional[TableDef]:
        return self._index("_tables", self.tables, lambda t: t.name).get(name)

    def operation(self, system: str, name: str) -> Optional[OperationDef]:
        ops = self._index("_ops", (o for s in self.systems for o in s.operations), lambda o: (o.system, o.name))  # a generator: walked once, when the index is built
        return ops.get((system, name))

    def source(self, element_id: str) -> Optional[SourceRef]:
        return self._index("_sources", self.sources, lambda s: s[0]).get(element_id, (None, None))[1]

    def validations_of(self, code: str) -> list[ValidationRule]:
        return list(self._groups("_validations_of", self.validations, lambda v: v.product).get(code, ()))

    def enrichments_of(self, code: str) -> list[EnrichmentRule]:
        return list(self._groups("_enrichments_of", self.enrichments, lambda e: e.product).get(code, ()))

    def decompositions_from(self, source: Optional[str]) -> list[DecompositionDef]:
        return list(self._groups("_decompositions_from", self.decompositions, lambda d: d.source).get(source, ()))

    def memo(self, key: str, build):
        """A value derived from this (immutable) catalog, computed once."""
        cache = self.__dict__.get("_cache")
        if cache is None:
            cache = {}
            object.__setattr__(self, "_cache", cache)
        if key not in cache:
            cache[key] = build()
        return cache[key]

    def _groups(self, key: str, items, keyfn) -> dict:
        """Items by a key, in their order: one pass, not one scan per lookup."""

        def build():
            groups: dict = {}
            for x in items:
                groups.setdefault(keyfn(x), []).append(x)
            return groups

        return self.memo(key, build)

    def _index(self, key: str, items, keyfn) -> dict:
        cache = self.__dict__.get("_cache")
        if cache is None:
            cache = {}
            object.__setattr__(self, "_cache", cache)  # a memo, not content
        if key not in cache:
            cache[key] = {keyfn(x): x for x in items}
        return cache[key]


class ids:
    """The stable, name-derived id of every element."""

    product = staticmethod(lambda code: f"product:{code}")
    attribute = staticmethod(lambda code, name: f"attribute:{code}.{name}")
    table = staticmethod(lambda name: f"table:{name}")
    validation = staticmethod(lambda code, name: f"validation:{code}.{name}")
    enrichment = staticmethod(lambda code, name: f"enrichment:{code}.{name}")
    decomposition = staticmethod(lambda name: f"decomposition:{name}")
    mapping = staticmethod(lambda rule, target: f"mapping:{rule}.{target}")
    retry = staticmethod(lambda name: f"retry:{name}")
    system = staticmethod(lambda name: f"system:{name}")
    operation = staticmethod(lambda system, name: f"operation:{system}.{name}")
    queue = staticmethod(lambda name: f"queue:{name}")
    plan = staticmethod(lambda code, action: f"plan:{code}.{action}")
    task = staticmethod(lambda code, action, name: f"task:{code}.{action}.{name}")
