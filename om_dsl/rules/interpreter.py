"""The interpreter: evaluates the plan model's expressions directly.

It is the reference for what every rule means, and the fallback when no
generated code is present. The generated modules (om_dsl.codegen) must
give exactly the same results; a differential test holds them to it.
"""

from __future__ import annotations

from om_dsl.model import expr as E
from om_dsl.model.catalog import Catalog, ids
from om_dsl.rules import ops
from om_dsl.rules.errors import EvaluationError


class Env:
    """What an expression reads: the item's or line's values `a`, the item
    (for parent and children), the order's fields `o`, task outputs `out`,
    and the installed line's values `prev` (modify plans)."""

    __slots__ = ("a", "item", "o", "out", "prev")

    def __init__(self, a, item=None, o=None, out=None, prev=None):
        self.a, self.item, self.o, self.out, self.prev = a, item, o, out, prev


class Interpreter:
    """The rules of one catalog, evaluated from the model."""

    kind = "interpreter"

    def __init__(self, catalog: Catalog, tasks_folder=None):
        self.catalog = catalog
        self.tasks_folder = tasks_folder  # the folder holding the catalog's task package (beside its specs), when known
        self.tables = {t.name: {E.constant_value(k): E.constant_value(v) for k, v in t.entries} for t in catalog.tables}
        self._validations: dict = {}
        self._enrichments: dict = {}
        self._decompositions: dict = {}
        for v in catalog.validations:
            self._validations.setdefault(v.product, []).append(v)
        for e in catalog.enrichments:
            self._enrichments.setdefault(e.product, []).append(e)
        for d in catalog.decompositions:
            self._decompositions.setdefault(d.source, []).append(d)

    # ---- the rules -------------------------------------------------------------------

    def validate(self, item, o) -> list[tuple[str, str]]:
        broken = []
        env = Env(item.values, item, o)
        for rule in self._validations.get(item.product, ()):
            element = ids.validation(rule.product, rule.name)
            if rule.when is not None and not self._truth(rule.when, env, element):
                continue
            if not self._truth(rule.require, env, element):
                broken.append((rule.name, rule.message))
        return broken

    def enrich(self, item, o) -> None:
        env = Env(item.values, item, o)
        for rule in self._enrichments.get(item.product, ()):
            item.values[rule.name] = self._eval(rule.expr, env, ids.enrichment(rule.product, rule.name))
            item.enriched.append(rule.name)

    def decompose(self, source, o) -> list[tuple[str, int, dict]]:
        """The lines the rules from `source`'s product make: (rule, count, values)."""
        env = Env(source.values, source, o)
        return self._decompose(self._decompositions.get(source.product, ()), env)

    def decompose_order(self, o) -> list[tuple[str, int, dict]]:
        return self._decompose(self._decompositions.get(None, ()), Env({}, None, o))

    def _decompose(self, rules, env) -> list:
        out = []
        for rule in rules:
            element = ids.decomposition(rule.name)
            if rule.when is not None and not self._truth(rule.when, env, element):
                continue
            n = 1
            if rule.per is not None:
                n = self._eval(rule.per, env, element)
                n = 0 if n is None or n < 0 else n
            if n == 0:
                continue
            values = {m.target: self._eval(m.expr, env, ids.mapping(rule.name, m.target)) for m in rule.mappings}
            out.append((rule.name, n, values))
        return out

    # ---- plans ---------------------------------------------------------------------------

    def plan_applies(self, product, action, a, o, prev=None) -> bool:
        plan = self.catalog.plan(product, action)
        if plan is None:
            return False
        return plan.when is None or self._truth(plan.when, Env(a, None, o, {}, prev), ids.plan(product, action))

    def task_when(self, product, action, task, a, out, o, prev=None) -> bool:
        item = self.catalog.plan(product, action).item(task)
        return item.when is None or self._truth(item.when, Env(a, None, o, out, prev), ids.task(product, action, task))

    def task_args(self, product, action, task, a, out, o, prev=None) -> dict:
        item = self.catalog.plan(product, action).item(task)
        env = Env(a, None, o, out, prev)
        element = ids.task(product, action, task)
        return {name: self._eval(e, env, element) for name, e in item.call.args} if item.call else {}

    def task_sets(self, product, action, task, a, out, o, prev=None) -> dict:
        item = self.catalog.plan(product, action).item(task)
        env = Env(a, None, o, out, prev)
        element = ids.task(product, action, task)
        return {name: self._eval(e, env, element) for name, e in item.sets}

    def compensation_args(self, product, action, task, a, out, o, prev=None) -> dict:
        item = self.catalog.plan(product, action).item(task)
        env = Env(a, None, o, out, prev)
        element = ids.task(product, action, task)
        return {name: self._eval(e, env, element) for name, e in item.compensate.args} if item.compensate else {}

    def wait_until(self, product, action, task, a, out, o, prev=None):
        item = self.catalog.plan(product, action).item(task)
        if item.wait_until is None:
            return None
        return self._eval(item.wait_until, Env(a, None, o, out, prev), ids.task(product, action, task))

    # ---- evaluation ------------------------------------------------------------------------

    def _truth(self, expr, env, element) -> bool:
        return self._eval(expr, env, element) is True

    def _eval(self, expr, env, element):
        try:
            return self.eval(expr, env)
        except (ops.Fault, ArithmeticError) as exc:
            src = self.catalog.source(element)
            raise EvaluationError(element, str(src) if src else None, str(exc)) from None

    def eval(self, x, env: Env):
        if not isinstance(x, tuple):
            return x
        head = x[0]
        if head == "attr":
            return env.a.get(x[1])
        if head == "order":
            return env.o.get(x[1])
        if head == "output":
            done = (env.out or {}).get(x[1])
            return None if done is None else done.get(x[2])
        if head in ("line", "lines"):
            values = ops.across(env.out or {}, E.across_key(x[1], x[2], x[3]), x[4])
            return values if head == "lines" else ops.first(values)
        if head == "parent":
            parent = env.item.parent if env.item is not None else None
            return None if parent is None else parent.values.get(x[1])
        if head == "children":
            return env.item.children_of(x[1]) if env.item is not None else []
        if head == "pluck":
            return [e.values.get(x[2]) for e in self.eval(x[1], env)]
        if head in ("decimal", "date", "duration"):
            return E.constant_value(x)
        if head == "lookup":
            key = self.eval(x[2], env)
            return None if key is None else self.tables[x[1]].get(key)
        if head == "map":
            subject = self.eval(x[1], env)
            if subject is None:
                return None
            for k, v in x[2]:
                if E.constant_value(k) == subject:
                    return self.eval(v, env)
            return None
        if head == "if":
            return self.eval(x[2], env) if self.eval(x[1], env) is True else self.eval(x[3], env)
        if head == "and":
            return self.eval(x[1], env) is True and self.eval(x[2], env) is True
        if head == "or":
            return self.eval(x[1], env) is True or self.eval(x[2], env) is True
        if head == "not":
            return self.eval(x[1], env) is not True
        if head == "neg":
            return ops.neg(self.eval(x[1], env))
        if head == "==":
            return self.eval(x[1], env) == self.eval(x[2], env)
        if head == "!=":
            return self.eval(x[1], env) != self.eval(x[2], env)
        if head in ops.BINARY:
            return ops.BINARY[head](self.eval(x[1], env), self.eval(x[2], env))
        if head == "in":
            return ops.contains(self.eval(x[1], env), self.eval(x[2], env))
        if head == "not in":
            return ops.not_contains(self.eval(x[1], env), self.eval(x[2], env))
        if head == "is null":
            return self.eval(x[1], env) is None
        if head == "is not null":
            return self.eval(x[1], env) is not None
        if head == "set":
            return [self.eval(e, env) for e in x[1:]]
        if head == "call":
            return ops.FUNCTIONS[x[1]](*[self.eval(a, env) for a in x[2:]])
        if head == "changed":
            prev = env.prev
            if prev is None:  # nothing installed: everything is new
                return True
            return any(env.a.get(name) != prev.get(name) for name in x[1:])
        raise ValueError(f"unknown expression {head!r}")  # pragma: no cover - the model is checked
