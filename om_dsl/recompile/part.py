"""The part of a catalog an edit needs, and the changed declarations checked in it
(om_dsl.recompile): the files that declare what they read, before and after the
edit (the cache's index says which), made into two scopes; no other file's
syntax tree is read.
"""

from __future__ import annotations

from typing import Optional

from om_dsl.check.scope import build_scope
from om_dsl.check.workspace import Parsed, SourceFile, Unit
from om_dsl.diagnostics.diagnostic import Diagnostic
from om_dsl.span import Span
from om_dsl.syntax import ast


class Changed:
    """The changed declarations, each (its edit, (old, new)): rules by (product, name),
    products by code, plans by (product, action), enrichment blocks by product,
    decompositions by name."""

    def __init__(self, rules: dict, products: dict, plans: dict, enrichments: dict, decompositions: dict):
        self.rules, self.products, self.plans = rules, products, plans
        self.enrichments, self.decompositions = enrichments, decompositions
        self.interface: set = set()  # commercial products whose attributes changed
        self.technical: set = set()  # technical products whose attributes changed
        self.readers: dict = {}  # what reads them (readers_of): checked, lowered and generated again
        self.depended: set = set()  # the plans whose tasks' dependencies changed (within the plan)
        self.retasked: set = set()  # of those, the plans whose tasks were added or taken out
        self.line_reads: tuple = ({}, {})  # of the plans made again, before and after: emit.line_reads_of

    def sources(self) -> list:
        """The products whose decompositions changed."""
        return sorted({old.source.value for _edit, (old, _new) in self.decompositions.values()})


def part_scopes(unit, index: dict, edits: list, changed: Changed) -> Optional[tuple]:
    """The part of the catalog the changed declarations need, before and after the edit: two scopes."""
    products = index["products"]
    want: set[str] = set()
    codes = {key[0] for key in changed.rules}
    codes |= {key[0] for key in changed.readers.get("rules", ())}
    for code in changed.readers.get("family", ()):  # an interface edit: its products' family and their enrichments
        want.add(products.get(code, ""))
        want.update(index["enrichments"].get(code, ()))
    for code in codes | set(changed.products):
        want.add(products.get(code, ""))
        want.update(products.get(c, "") for c in index["children"].get(code, ()))
    for code in codes:
        want.update(products.get(p, "") for p, children in index["children"].items() if code in children)
        want.update(index["enrichments"].get(code, ()))
        want.update(path for key, path in index["validations"].items() if key[0] == code)
    want.update(edit.file.path for edit in edits if edit.changed)  # where a rule is added
    by_path = {f.path: f for f in unit.all_files}
    if "" in want or not want <= set(by_path):
        return None
    # An enrichment's or a decomposition's: its product's (its source's) file, parents,
    # children and the enrichments of all of them (`parent.x` reads enriched values), its
    # targets, and every decomposition from its source (their function is made again whole).
    enriched = set(changed.enrichments) | changed.readers.get("enrichments", set())
    sources = sorted(set(changed.sources()) | {index["decompositions"][name][1] for name in changed.readers.get("decompositions", ())})
    decomposed = [name for name, (_path, source, _target) in index["decompositions"].items() if source in sources]
    for code in enriched | set(sources):
        family = {code, *index["children"].get(code, ()), *(p for p, children in index["children"].items() if code in children)}
        want.update(products.get(c, "") for c in family)
        for c in family:
            want.update(index["enrichments"].get(c, ()))
    for name in decomposed:
        path, _source, target = index["decompositions"][name]
        want.update((path, products.get(target, "")))
    if "" in want or not want <= set(by_path):
        return None
    # The tables the rules of these products can look up: every name they hold that is a table's.
    names: set = set()
    for path in want:
        for d in by_path[path].module.declarations:
            if isinstance(d, ast.Validation) and d.product.value in codes or isinstance(d, ast.Enrichment) or isinstance(d, ast.Decomposition) and d.name.value in decomposed:
                names_in(d, names)
    for edit in edits:
        for old, _new in (*edit.changed.values(), *edit.enrichments.values(), *edit.decompositions.values()):
            names_in(old, names)
    # A plan's: its product's file and its other plans, what it calls, the queues its
    # tasks land in, the plans of the products it waits for, every retry policy and the defaults.
    for (code, _action), (_edit, (old, new)) in changed.plans.items():
        said = names_in(new, names_in(old, set()))
        names |= said
        for other in said & set(products) | {code}:
            want.add(products[other])
            want.update(path for key, path in index["plans"].items() if key[0] == other)
        want.update(index["systems"][x] for x in said & set(index["systems"]))
        want.update(index["queues"][q] for q in said & set(index["queues"]))
        want.update(index["retry"].values())
        want.update(index["defaults"])
    want.update(index["tables"][t] for t in names & set(index["tables"]))
    if "" in want or not want <= set(by_path):
        return None
    edited = {edit.file.path: edit for edit in edits}
    new_files = [f for f in unit.all_files if f.path in want]
    old_files = [_as_before(f, edited[f.path].old) if f.path in edited else f for f in new_files]
    return build_scope(Unit("catalog", unit.name, old_files), []), build_scope(Unit("catalog", unit.name, new_files), [])


def _as_before(f: SourceFile, module) -> SourceFile:
    return SourceFile(f.path, f.real_path, "", Parsed(module, (), (), module.header, ()), True)


def checked(scope, changed: Changed, side: int) -> tuple:
    """(the diagnostics of the changed declarations, checked in this scope, and what
    they use that a check of the whole catalog counts: tables, operations, queues,
    retry policies); (None, None) if they cannot be. `side`: 0 before the edit, 1 after."""
    from om_dsl.check.decomposition import check_decompositions
    from om_dsl.check.expressions import ExprChecker
    from om_dsl.check.plans import Usage, check_plans
    from om_dsl.check.products import check_enrichments, check_products, check_validations

    rules, products, plans = changed.rules, changed.products, changed.plans
    enrichments, decompositions = changed.enrichments, changed.decompositions
    if any(pair[side] not in scope.enrichments.get(code, ()) for code, (_edit, pair) in enrichments.items()):
        return None, None
    if any(scope.decompositions.get(name) is not pair[side] for name, (_edit, pair) in decompositions.items()):
        return None, None
    found = {key: scope.validations.get(key) for key in rules}
    if any(rule is not pair[side] for rule, (_edit, pair) in zip(found.values(), rules.values())):
        return None, None
    found = {key: rule for key, rule in found.items() if rule is not None}  # a rule added is not there before, nor one taken out after
    if any((scope.technical if code in changed.technical else scope.commercial).get(code) is not pair[side] for code, (_edit, pair) in products.items()):
        return None, None
    if any(scope.plans.get(key) is not pair[side] for key, (_edit, pair) in plans.items()):
        return None, None
    everything, every_decomposition = scope.validations, scope.decompositions
    diags: list[Diagnostic] = []
    used: dict[str, set] = {"tables": set(), "operations": set(), "queues": set(), "policies": set()}
    try:
        if rules:
            scope.validations = found
            exprs = ExprChecker(scope, diags)
            check_validations(scope, exprs, diags)
            used["tables"] |= exprs.used_tables
        # Every product (plan) of the part is checked: of those, only what the changed ones are told counts.
        if products:
            checked: list[Diagnostic] = []
            check_products(scope, checked)
            diags += [d for d in checked if any(touches(d, pair[side].span.file, [pair[side].span]) for _edit, pair in products.values())]
        if plans:
            checked = []
            usage = Usage()
            exprs = ExprChecker(scope, checked)
            check_plans(scope, exprs, checked, usage)
            diags += [d for d in checked if any(touches(d, pair[side].span.file, [pair[side].span]) for _edit, pair in plans.values())]
            used["tables"] |= exprs.used_tables
            used["operations"] |= usage.operations
            used["queues"] |= usage.queues
            used["policies"] |= usage.policies
        if enrichments:  # every block of the part: a rule is checked with the blocks before it
            checked = []
            exprs = ExprChecker(scope, checked)
            check_enrichments(scope, exprs, checked)
            diags += [d for d in checked if any(touches(d, pair[side].span.file, [pair[side].span]) for _edit, pair in enrichments.values())]
            used["tables"] |= exprs.used_tables
        if decompositions:
            scope.decompositions = {name: pair[side] for name, (_edit, pair) in decompositions.items()}
            exprs = ExprChecker(scope, diags)
            check_decompositions(scope, exprs, diags)
            used["tables"] |= exprs.used_tables
    except RecursionError:
        return None, None
    finally:
        scope.validations, scope.decompositions = everything, every_decomposition
    return diags, used


def uses_alike(old: dict, new: dict, scope, diagnostics: list) -> bool:
    """Whether the edit leaves the catalog's unused definitions (W001) as they were.
    Uses are counted in the part (all its rules, or all its plans): one it no
    longer makes may leave a definition unused elsewhere unseen, so it is refused;
    one it makes anew changes nothing if the definition was used already: had it
    not been, the cache's diagnostics would warn at its name."""
    unused = {d.primary.span for d in diagnostics if d.code == "W001"}
    for kind, before in old.items():
        if before - new[kind]:
            return False
        for name in new[kind] - before:
            if kind == "tables":
                names = [scope.tables[name].name] if name in scope.tables else None
            elif kind == "queues":
                names = [scope.queues[name].name] if name in scope.queues else None
            elif kind == "policies":
                names = [scope.retry_policies[name].name] if name in scope.retry_policies else None
            else:
                system = scope.systems.get(name[0])
                op = next((o for o in system.operations if o.name.value == name[1]), None) if system is not None else None
                names = [system.name, op.name] if op is not None else None
            if names is None or any(n.span in unused for n in names):
                return False
    return True


def names_in(node, out: set) -> set:
    """Every string a declaration holds (a superset of the tables it looks up)."""
    if isinstance(node, str):
        out.add(node)
    elif isinstance(node, (tuple, list)):
        for x in node:
            names_in(x, out)
    elif hasattr(node, "__attrs_attrs__") and not isinstance(node, Span):
        for a in node.__attrs_attrs__:
            names_in(getattr(node, a.name), out)
    return out


def touches(d: Diagnostic, path: str, spans: list) -> bool:
    return any(label.span.file == path and any(s.start <= label.span.start and label.span.end <= s.end for s in spans) for label in d.labels)


def within(depended: set, plans: dict, index: dict) -> bool:
    """Whether the plans whose dependencies changed have edges within themselves only:
    every dependency of theirs, before and after, names a task of the plan, and no other
    line's clause reaches their product (crossing_of the catalog, in the index). Then
    the catalog's graph gains or loses no edge between lines, and a cycle is one within
    the plan, which a check of the plan finds."""
    crossing = index.get("crossing")
    if crossing is None:
        return False
    named, gains, every, every_gains = crossing
    reached = {product for product, _task in (*named, *gains)}
    for key in depended:
        _edit, (old, new) = plans[key]
        if every or every_gains or key[0] in reached:
            return False
        if any(dep.scope != "plan" or dep.product is not None for plan in (old, new) for i in plan.items for dep in (*i.after, *i.before)):
            return False
    return True


def readers_of(index: dict, changed: Changed) -> dict:
    """What reads the attributes of the products in changed.interface: the validation
    rules, enrichments and decompositions of each, of its children (`parent.x`) and of
    its parents (`children(P).x`). Nothing else can: a plan reads technical lines.
    Of those in changed.technical: the decompositions into them and from them, their
    own plans and the plans that read their lines (the index's line_reads)."""
    technical = changed.technical
    plans = {key for key in index["plans"] if key[0] in technical}
    plans.update(key for code in technical for key in index.get("line_reads", {}).get(code, ()))
    family = set(changed.interface) | technical
    for code in changed.interface:
        family.update(index["children"].get(code, ()))
        family.update(p for p, children in index["children"].items() if code in children)
    return {
        "family": family,
        "rules": {key for key in index["validations"] if key[0] in family and key not in changed.rules},
        "enrichments": {code for code in family if code in index["enrichments"] and code not in changed.enrichments},
        "decompositions": {name for name, (_path, source, target) in index["decompositions"].items() if (source in family or target in technical) and name not in changed.decompositions},
        "plans": plans,
    }


def read_by(changed: Changed, old_scope, new_scope) -> bool:
    """The readers of an interface edit, as changed declarations (before and after, in
    the part's two scopes), to be checked, lowered and generated again; False when
    they cannot all be found, or an enrichment of them reads children (W012)."""
    readers = changed.readers
    for key in readers["rules"]:
        pair = old_scope.validations.get(key), new_scope.validations.get(key)
        if None in pair:
            return False
        changed.rules[key] = (None, pair)
    for code in readers["enrichments"]:
        old, new = old_scope.enrichments.get(code, []), new_scope.enrichments.get(code, [])
        if len(old) != 1 or len(new) != 1 or reads_children(old[0]) or reads_children(new[0]):
            return False
        changed.enrichments[code] = (None, (old[0], new[0]))
    for name in readers["decompositions"]:
        pair = old_scope.decompositions.get(name), new_scope.decompositions.get(name)
        if None in pair or pair[0].source is None:
            return False
        changed.decompositions[name] = (None, pair)
    return True


def reads_children(block) -> bool:
    """Whether a block may read `children(...)` (a superset: any name `children` in it)."""
    return "children" in names_in(block, set())


def plans_read(unit, edits: list, index: dict, changed: Changed) -> bool:
    """The plans that read the changed technical products' attributes (their own plans,
    and those that read their lines: the index's line_reads), as changed plans, before
    and after the edit (those edited are made again as such)."""
    edited = {edit.file.path: edit for edit in edits}
    by_path = {f.path: f for f in unit.all_files}
    for key in sorted(changed.readers["plans"]):
        path = index["plans"].get(key)
        if key in changed.plans:
            continue  # edited too: made again as such
        if path not in by_path:
            return False
        modules = (edited[path].old, edited[path].new) if path in edited else (by_path[path].module,) * 2
        pair = tuple(next((d for d in m.declarations if isinstance(d, ast.Plan) and (d.product.value, d.action.value) == key), None) for m in modules)
        if None in pair:
            return False
        changed.plans[key] = (None, pair)
    return True


def line_reads_indexed(index: dict, changed: Changed) -> dict:
    """The index after plans that were made again read other lines' attributes anew, or
    no more (itself when their line reads stayed): what a later technical edit must find."""
    old, new = changed.line_reads
    if old == new or "line_reads" not in index:
        return index
    line_reads = {code: set(keys) - set(changed.plans) for code, keys in index["line_reads"].items()}
    for code, keys in new.items():
        line_reads.setdefault(code, set()).update(keys)
    return dict(index, line_reads={code: frozenset(keys) for code, keys in line_reads.items() if keys})
