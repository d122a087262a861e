"""Recompiling after an edit of meaning, without checking, lowering or generating
the whole catalog again (the compile cache's third path: om_dsl.build).

An edit needs only the declarations it changed, and those that read what it
changed, checked, lowered and generated again, and their fragments spliced
into the catalog's cached output. Spliced, in any number of the catalog's own
files at once (docs/compile.md has the table):

- a validation rule's message, `when` or `require`, a rule added or taken out:
  its product's rules in plan.json and `validate__P` in validation.py;
- an enrichment block's values (names, types and nullability kept): its
  plan.json entry and `enrich__P`; its rules added, taken out, renamed or
  retyped: the same, and its product's readers (below);
- a decomposition's `when`, `per` and values: its entry, and its source's
  `decompose__P` and `lines__P`;
- a task's settings and the values of its arguments and of what it sets, while
  it reads the same tasks of other lines: the plan's entry, its functions and
  DEFINITIONS entry in plans.py; its dependencies within the plan, when no other
  line reaches the plan: the same, and its `tasks__` and `edges__` in planner.py;
  its tasks added or taken out: the same, the run of its functions and its PLANS entry;
- a commercial product's attributes (defaults, or the interface: an attribute
  added, taken out, renamed, retyped): its entry and `attributes__P`, and its
  *readers* (the rules, enrichments and decompositions of the product, of its
  children and of its parents: nothing else can read its attributes) as above;
- a technical product's attributes (added, taken out, renamed, retyped): its
  entry, and its readers (the decompositions into it and from it, its own
  plans, with their `tasks__` and `edges__`, and the plans that read its lines:
  the index's `line_reads`) as above;

and the plan's sha256 where __init__.py and planner.py hold it. The
declarations are checked and lowered in a *part* of the catalog: the files
that declare what they read (om_dsl.recompile.part; the cache's `index`
entry says which). Nothing else is unpickled. Every splice is first proven on
the text before the edit: the old declarations, checked, lowered and generated
in the same part, must give exactly the diagnostics, plan.json entries and
functions the cache holds; a function's hoisted constants must be first asked
for in the same order, so that the numbering of the whole module stays as a
full generation makes it; and what the edit uses must leave the warnings for
unused definitions as they were. Should any of this not hold (another kind of
declaration changed, a new error, a constant added), None: the catalog takes
the full path.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Optional

import attrs

from om_dsl.check.cache import load_tree
from om_dsl.check.workspace import SourceFile, stored_tree
from om_dsl.codegen.line_map import spliced_line_map, with_new_line_map
from om_dsl.codegen.splice import definition, member, members, proven_function, proven_functions, proven_run, replaced
from om_dsl.lower import files_root, lower_part, relative_path
from om_dsl.model.canonical import decomposition_data, enrichment_data, plan_data, product_data, validation_data
from om_dsl.model.catalog import ids
from om_dsl.model.plans import reads_across
from om_dsl.recompile.part import Changed, checked, line_reads_indexed, part_scopes, plans_read, read_by, readers_of, reads_children, touches, uses_alike, within
from om_dsl.recompile.place import moved_diagnostic, moved_outcome, span_pairs
from om_dsl.span import Span
from om_dsl.syntax import ast

_VALIDATION_FILE = "validation.py"
_PLANNER_FILE = "planner.py"
_PLANS_FILE = "plans.py"
_ENRICHMENT_FILE = "enrichment.py"
# Warnings a check of the whole catalog makes of plans from what no spliced edit changes
# (which plans a product has, a dependency's scope, what decomposes into what).
_WHOLE_CATALOG = frozenset({"W010", "W011"})
_DECOMPOSITION_FILE = "decomposition.py"


def index_of(unit, scope) -> dict:
    """What the part of a catalog an edit needs is made of: which file declares
    each product, table, validation rule, plan, system, queue and retry policy
    (as the scope holds them) and the defaults, enrichments and children by
    product, decompositions' targets, each decomposition's file, source and
    target, and the validation keys given twice."""
    where: dict[int, str] = {}
    given: Counter = Counter()
    for f in unit.all_files:
        for d in f.module.declarations:
            where[id(d)] = f.path
            if isinstance(d, ast.Validation):
                given[(d.product.value, d.name.value)] += 1
    products = {**scope.technical, **scope.commercial}
    return {
        "products": {code: where.get(id(p), "") for code, p in products.items()},
        "commercial": frozenset(scope.commercial),
        "children": {code: tuple(h.product.value for h in p.children) for code, p in scope.commercial.items()},
        "tables": {name: where.get(id(t), "") for name, t in scope.tables.items()},
        "validations": {key: where.get(id(v), "") for key, v in scope.validations.items()},
        "twice": frozenset(key for key, n in given.items() if n > 1),
        "enrichments": {code: tuple(sorted({where.get(id(b), "") for b in blocks})) for code, blocks in scope.enrichments.items()},
        "targets": frozenset(d.target.value for d in scope.decompositions.values()),
        "plans": {key: where.get(id(p), "") for key, p in scope.plans.items()},
        "systems": {name: where.get(id(x), "") for name, x in scope.systems.items()},
        "queues": {name: where.get(id(q), "") for name, q in scope.queues.items()},
        "retry": {name: where.get(id(r), "") for name, r in scope.retry_policies.items()},
        "defaults": tuple(sorted({where.get(id(d), "") for d in (scope.default_retry, scope.default_timeout) if d is not None})),
        "decompositions": {name: (where.get(id(d), ""), d.source.value if d.source is not None else None, d.target.value) for name, d in scope.decompositions.items()},
    }


def _place(s: Span) -> tuple:
    return (s.line, s.column, s.end_line, s.end_column, s.start, s.end)


def _same(a, b, old_spans: list, new_spans: list) -> bool:
    """Whether two declarations say the same, wherever they are (their spans aside);
    their spans' places are appended, in one order, as they are compared."""
    ta = type(a)
    if ta is not type(b):
        return False
    if ta is Span:
        old_spans.append(_place(a))
        new_spans.append(_place(b))
        return True
    if ta is tuple or ta is list:
        return len(a) == len(b) and all(_same(x, y, old_spans, new_spans) for x, y in zip(a, b))
    fields = getattr(ta, "__attrs_attrs__", None)
    if fields is None:
        return a == b
    return all(_same(getattr(a, f.name), getattr(b, f.name), old_spans, new_spans) for f in fields)


def _without_defaults(product):
    """A product with its attributes' defaults left out: what else it says."""
    return attrs.evolve(product, attributes=tuple(attrs.evolve(a, default=None) for a in product.attributes))


# A task's settings: what no code is generated from and no other declaration reads.
_SETTINGS = ("retry", "timeout", "due", "description", "wait_for")


def _without_settings(plan, dependencies: bool = False, conditions: bool = False):
    """A plan with its tasks' settings and the values of their arguments (a call's, a
    compensation's) and of what they set left out (and their dependencies, and its and
    its tasks' `when`, when asked): what else it says (which functions it has, what they
    are called with, what they set)."""

    def call(c):
        return None if c is None else attrs.evolve(c, args=tuple(attrs.evolve(a, expr=None, shorthand=False) for a in c.args))

    def item(i):
        sets = tuple(attrs.evolve(x, expr=None) for x in i.sets)
        deps = {"after": (), "before": ()} if dependencies else {}
        if conditions:
            deps["when"] = None
        return attrs.evolve(i, call=call(i.call), python=call(i.python), compensate=call(i.compensate), sets=sets, **dict.fromkeys(_SETTINGS), **deps)

    return attrs.evolve(plan, items=tuple(item(i) for i in plan.items), **({"when": None} if conditions else {}))


def _without_exprs(d):
    """An enrichment block or a decomposition with its expressions left out: what
    else it says (names, types, source, target, the attributes it maps)."""
    if isinstance(d, ast.Enrichment):
        return attrs.evolve(d, rules=tuple(attrs.evolve(r, expr=None) for r in d.rules))
    return attrs.evolve(d, when=None, per=None, mappings=tuple(attrs.evolve(m, expr=None) for m in d.mappings))


class _Edit:
    """One edited file: its old and new modules, its changed declarations, and its spans paired."""

    def __init__(self, f: SourceFile, old_module):
        self.file = f
        self.old = old_module
        self.new = f.module
        self.changed: dict[tuple, tuple] = {}  # (product, name) -> (old rule, new rule)
        self.products: dict[str, tuple] = {}  # code -> (old, new): a commercial product whose attributes' defaults changed
        self.plans: dict[tuple, tuple] = {}  # (product, action) -> (old, new): a plan whose tasks' settings changed
        self.enrichments: dict[str, tuple] = {}  # product -> (old, new): an enrichment block whose expressions changed
        self.decompositions: dict[str, tuple] = {}  # name -> (old, new): a decomposition whose `when`, `per` or values changed
        self.interface: set[str] = set()  # the commercial products whose attributes changed
        self.technical: set[str] = set()  # the technical products whose attributes changed
        self.enriched: set[str] = set()  # the products whose enriched attributes (names, types) changed
        self.remapped: set[str] = set()  # the decompositions mapping other attributes (of a technical product edited too)
        self.depended: set[tuple] = set()  # the plans whose tasks' dependencies changed
        self.retasked: dict[tuple, tuple] = {}  # plan -> (tasks taken out, tasks added)
        self.old_spans: list = []
        self.new_spans: list = []

    def compare(self) -> bool:
        """Pair the old and new declarations (validation rules by product and name, the others
        in order) and note what changed; False for any change the splice does not do."""
        old, new = self.old, self.new
        old_rules, new_rules = _rules_of(old), _rules_of(new)
        old_others, new_others = ([d for d in m.declarations if not isinstance(d, ast.Validation)] for m in (old, new))
        if len(old_others) != len(new_others) or (old.header is None) != (new.header is None) or old_rules is None or new_rules is None:
            return False
        pairs = [(old.header, new.header)] if old.header is not None else []
        pairs += list(zip(old_others, new_others))
        pairs += [(rule, new_rules[key]) for key, rule in old_rules.items() if key in new_rules]
        # A rule taken out, or one added: (old, None), (None, new).
        self.changed.update({key: (rule, None) for key, rule in old_rules.items() if key not in new_rules})
        self.changed.update({key: (None, rule) for key, rule in new_rules.items() if key not in old_rules})
        for o, n in pairs:
            ospans: list = []
            nspans: list = []
            if _same(o, n, ospans, nspans):
                self.old_spans += ospans
                self.new_spans += nspans
                continue
            if isinstance(o, ast.CommercialProduct) and isinstance(n, ast.CommercialProduct):
                ospans, nspans = [], []
                code = o.code.value
                if code in self.products:
                    return False
                defaults = _same(_without_defaults(o), _without_defaults(n), ospans, nspans)
                if not defaults or any((a.default is None) != (b.default is None) for a, b in zip(o.attributes, n.attributes)):
                    # Its attributes: what its rules and its family's read (an attribute that may be null, or no longer, too).
                    ospans, nspans = [], []
                    if not _same(attrs.evolve(o, attributes=()), attrs.evolve(n, attributes=()), ospans, nspans):
                        return False
                    self.interface.add(code)
                self.products[code] = (o, n)
                self.old_spans += ospans
                self.new_spans += nspans
                continue
            if isinstance(o, ast.TechnicalProduct) and isinstance(n, ast.TechnicalProduct):
                # Its attributes: what its lines' plans, its decompositions and other lines' readers see.
                ospans, nspans = [], []
                code = o.code.value
                if code in self.products or not _same(attrs.evolve(o, attributes=()), attrs.evolve(n, attributes=()), ospans, nspans):
                    return False
                self.technical.add(code)
                self.products[code] = (o, n)
                self.old_spans += ospans
                self.new_spans += nspans
                continue
            if isinstance(o, ast.Plan) and isinstance(n, ast.Plan):
                ospans, nspans = [], []
                key = (o.product.value, o.action.value)
                if key in self.plans:
                    return False
                if not _same(_without_settings(o), _without_settings(n), ospans, nspans):
                    # Its tasks' dependencies: spliced when they stay within the plan (see recompiled).
                    ospans, nspans = [], []
                    if not _same(_without_settings(o, True), _without_settings(n, True), ospans, nspans):
                        # Tasks added or taken out (the others kept, in their order), conditions: the same, and its functions' run.
                        ospans, nspans = [], []
                        common = _common_tasks(o, n)
                        if common is None or not _same(_without_settings(common[0], True, True), _without_settings(common[1], True, True), ospans, nspans):
                            return False
                        self.retasked[key] = common[2:]
                    self.depended.add(key)
                self.plans[key] = (o, n)
                self.old_spans += ospans
                self.new_spans += nspans
                continue
            if type(o) is type(n) and isinstance(o, (ast.Enrichment, ast.Decomposition)):
                ospans, nspans = [], []
                found = self.enrichments if isinstance(o, ast.Enrichment) else self.decompositions
                key = o.product.value if isinstance(o, ast.Enrichment) else o.name.value
                if key in found:
                    return False
                if not _same(_without_exprs(o), _without_exprs(n), ospans, nspans):
                    # An enrichment block's rules added, taken out, renamed or retyped: what its product's readers see.
                    ospans, nspans = [], []
                    if isinstance(o, ast.Decomposition):
                        # Its mappings added, taken out or retargeted: spliced with its target's attributes (below).
                        if not _same(attrs.evolve(_without_exprs(o), mappings=()), attrs.evolve(_without_exprs(n), mappings=()), ospans, nspans):
                            return False
                        self.remapped.add(key)
                    elif not _same(attrs.evolve(o, rules=()), attrs.evolve(n, rules=()), ospans, nspans):
                        return False
                    else:
                        self.enriched.add(key)
                found[key] = (o, n)
                self.old_spans += ospans
                self.new_spans += nspans
                continue
            if not (isinstance(o, ast.Validation) and isinstance(n, ast.Validation)):
                return False
            key = (o.product.value, o.name.value)
            self.changed[key] = (o, n)
            self.old_spans.append(_place(o.span))
            self.new_spans.append(_place(n.span))
        return True


def _common_tasks(old, new) -> Optional[tuple]:
    """(old plan, new plan) with the tasks both have, in the same order, then the names of
    the tasks taken out and of those added; None when the tasks kept changed order."""
    old_names, new_names = ([i.name.value for i in plan.items] for plan in (old, new))
    kept = [name for name in old_names if name in new_names]
    if kept != [name for name in new_names if name in old_names] or len(set(old_names)) != len(old_names) or len(set(new_names)) != len(new_names):
        return None
    return (
        attrs.evolve(old, items=tuple(i for i in old.items if i.name.value in new_names)),
        attrs.evolve(new, items=tuple(i for i in new.items if i.name.value in old_names)),
        tuple(name for name in old_names if name not in new_names),
        tuple(name for name in new_names if name not in old_names),
    )


def _rules_of(module) -> Optional[dict]:
    """A module's validation rules by (product, name); None when it gives one twice."""
    rules = {(d.product.value, d.name.value): d for d in module.declarations if isinstance(d, ast.Validation)}
    return rules if len(rules) == sum(isinstance(d, ast.Validation) for d in module.declarations) else None


def recompiled(unit, entry: tuple, shape_entry: tuple, index: dict, cache) -> Optional[tuple]:
    """After an edit the splice does: (diagnostics, sources, digests, skeleton files,
    index) of the catalog as it is now, or None (check it all again). The index is
    the one given unless rules were added or taken out."""
    _text, _shape_key, texts, diagnostics, outcome, _token = entry
    diagnostics = list(diagnostics)
    if outcome is None or unit.kind != "catalog" or not unit.syntax_ok:
        return None
    before = dict(texts)
    if [path for path, _ in texts] != [f.path for f in unit.all_files]:
        return None
    own = {f.path for f in unit.files}
    edits: list[_Edit] = []
    for f in unit.all_files:
        if before[f.path] == f.fingerprint:
            continue
        stored = stored_tree(cache, before[f.path], touch=False)
        if f.path not in own or stored is None:
            return None
        edit = _Edit(f, load_tree(stored[0], stored[1], f.path))
        if not isinstance(edit.old, ast.Module) or not edit.compare():
            return None
        edits.append(edit)
    rules = {key: (edit, pair) for edit in edits for key, pair in edit.changed.items()}
    if len(rules) != sum(len(edit.changed) for edit in edits):
        return None  # a rule moved from one file to another
    products = {code: (edit, pair) for edit in edits for code, pair in edit.products.items()}
    plans = {key: (edit, pair) for edit in edits for key, pair in edit.plans.items()}
    enrichments = {code: (edit, pair) for edit in edits for code, pair in edit.enrichments.items()}
    decompositions = {name: (edit, pair) for edit in edits for name, pair in edit.decompositions.items()}
    if not rules and not products and not plans and not enrichments and not decompositions:
        return None
    for key, (edit, (old, _new)) in rules.items():
        # A rule added must be new to the catalog (no rule of its name elsewhere); its product must have rules already.
        where = edit.file.path if old is not None else None
        if key in index["twice"] or index["validations"].get(key) != where or key[0] not in index["commercial"]:
            return None
        if old is None and not any(k[0] == key[0] for k in index["validations"]):
            return None
    technical = {code for edit in edits for code in edit.technical}
    for code in technical:
        # No rule or enrichment is of a technical product; its line reads are in the index of a check that had them.
        if index["products"].get(code) != products[code][0].file.path or code in index["commercial"] or "line_reads" not in index:
            return None
        if code in index["enrichments"] or any(key[0] == code for key in index["validations"]):
            return None
    for code, (edit, _pair) in products.items():
        if code in technical:
            continue
        # A decomposition's target has its defaults written into its sources' code too: not spliced.
        if index["products"].get(code) != edit.file.path or code not in index["commercial"] or code in index["targets"]:
            return None
    for key, (edit, _pair) in plans.items():
        if index["plans"].get(key) != edit.file.path:
            return None
    for code, (edit, pair) in enrichments.items():
        # A rule reading a child's enriched value is warned of (W012) by a check of the whole catalog.
        if code not in index["commercial"] or edit.file.path not in index["enrichments"].get(code, ()) or any(reads_children(block) for block in pair):
            return None
    for name, (edit, (old, _new)) in decompositions.items():
        # The order scope's decompositions: not spliced (an order's lines have no item to read).
        if old.source is None or index["decompositions"].get(name) != (edit.file.path, old.source.value, old.target.value):
            return None
        # Other attributes mapped: only with its target's attributes edited (what its mappings must give).
        if name in edit.remapped and old.target.value not in technical:
            return None
    changed = Changed(rules, products, plans, enrichments, decompositions)
    changed.depended = {key for edit in edits for key in edit.depended}
    changed.retasked = {key for edit in edits for key in edit.retasked}
    if changed.depended and not within(changed.depended, plans, index):
        return None
    changed.interface = {code for edit in edits for code in (*edit.interface, *edit.enriched)}
    changed.technical = technical
    if changed.interface or technical:
        changed.readers = readers_of(index, changed)
    if technical and not plans_read(unit, edits, index, changed):
        return None
    part = part_scopes(unit, index, edits, changed)
    if part is None:
        return None
    old_scope, new_scope = part
    if (changed.interface or technical) and not read_by(changed, old_scope, new_scope):
        return None
    old_diags, old_used = checked(old_scope, changed, 0)
    new_diags, new_used = checked(new_scope, changed, 1)
    if old_diags is None or new_diags is None or any(d.is_error for d in new_diags):
        return None
    if not uses_alike(old_used, new_used, old_scope, diagnostics):
        return None
    # The diagnostics the old declarations had must be those the cache holds of them.
    spans: dict = {}
    for found in (rules, products, plans, changed.enrichments, changed.decompositions):
        for _edit, (old, _new) in found.values():
            if old is not None:
                spans.setdefault(old.span.file, []).append(old.span)
    # W010 and W011 (a plan's products, its dependencies' scopes and the decomposition graph) no splice can change: they move.
    touching = [d for d in diagnostics if d.code not in _WHOLE_CATALOG and any(touches(d, path, s) for path, s in spans.items())]
    if sorted(map(repr, touching)) != sorted(map(repr, old_diags)):
        return None
    spliced = _spliced(dict(shape_entry[4]), old_scope, new_scope, changed, index)
    if spliced is None:
        return None
    # The elements of rules taken out go; those of rules added come, at their places.
    gone = {ids.validation(*key) for key, (_edit, (_old, new)) in rules.items() if new is None}
    attributes = {code for edit in edits for code in (*edit.interface, *edit.technical)}
    if attributes:  # one prefix test per element (a catalog has tens of thousands)
        prefixes = tuple(ids.attribute(code, "") for code in attributes)
        gone |= {s[0] for s in outcome[0] if s[0].startswith(prefixes)}
    gone |= {ids.enrichment(code, r.name.value) for edit in edits for code in edit.enriched for r in edit.enrichments[code][0].rules}
    gone |= {ids.task(*key, name) for edit in edits for key, (out, _in) in edit.retasked.items() for name in out}
    gone |= {ids.mapping(name, m.target.value) for edit in edits for name in edit.remapped for m in edit.decompositions[name][0].mappings}
    placed = _placed(unit, edits, [d for d in diagnostics if d not in touching], (tuple(s for s in outcome[0] if s[0] not in gone), outcome[1]))
    if placed is None:
        return None
    moved_diags, sources, digests = placed
    root = files_root(unit.all_files)
    came = [(ids.validation(*key), relative_path(edit.file.real_path, root), new.span.line, new.span.start) for key, (edit, (old, new)) in rules.items() if old is None]
    for code in attributes:  # a product's attributes, as they are now
        edit, (_old, new) = products[code]
        came += [(ids.attribute(code, a.name.value), relative_path(edit.file.real_path, root), a.span.line, a.span.start) for a in new.attributes]
    for edit in edits:  # a plan's tasks added
        for key, (_out, added) in edit.retasked.items():
            came += [(ids.task(*key, i.name.value), relative_path(edit.file.real_path, root), i.span.line, i.span.start) for i in edit.plans[key][1].items if i.name.value in added]
    for edit in edits:  # an enrichment block's rules, as they are now
        for code in edit.enriched:
            came += [(ids.enrichment(code, r.name.value), relative_path(edit.file.real_path, root), r.span.line, r.span.start) for r in edit.enrichments[code][1].rules]
    for edit in edits:  # a decomposition's mappings, as they are now
        for name in edit.remapped:
            came += [(ids.mapping(name, m.target.value), relative_path(edit.file.real_path, root), m.span.line, m.span.start) for m in edit.decompositions[name][1].mappings]
    if came:
        sources = tuple(sorted((*sources, *came)))
    return (*moved_diags, *new_diags), sources, digests, spliced, line_reads_indexed(_indexed(index, rules), changed)


def _indexed(index: dict, rules: dict) -> dict:
    """The index after rules were added or taken out (itself when none were)."""
    if all(old is not None and new is not None for _edit, (old, new) in rules.values()):
        return index
    validations = dict(index["validations"])
    for key, (edit, (old, new)) in rules.items():
        if new is None:
            del validations[key]
        elif old is None:
            validations[key] = edit.file.path
    return dict(index, validations=validations)


def _spliced(skeleton: dict, old_scope, new_scope, changed: Changed, index: dict) -> Optional[dict]:
    """The skeleton with the changed declarations' plan.json entries and functions
    replaced, and the plan's sha256 where the modules hold it; None when a splice is not proven."""
    rules, products, plans, enrichments = changed.rules, changed.products, changed.plans, changed.enrichments
    from om_dsl.codegen import emit  # the code generator: loaded for a splice only

    codes = sorted({key[0] for key in rules})
    sources = changed.sources()
    decomposed = sorted(name for name, (_path, source, _target) in index["decompositions"].items() if source in sources)
    targets = {index["decompositions"][name][2] for name in decomposed}
    parts = {}
    for side, scope in enumerate((old_scope, new_scope)):
        keys = [key for key in scope.validations if key[0] in codes]
        wanted = sorted(set(codes) | set(products) | set(enrichments) | set(sources) | targets | {key[0] for key in plans} | changed.readers.get("family", set()))
        try:
            parts[side] = lower_part(scope, wanted, sorted(scope.tables), keys, sorted(plans), sorted(set(enrichments) | set(sources)), decomposed)
        except (KeyError, RecursionError):
            return None
    changed.line_reads = (emit.line_reads_of(parts[0]), emit.line_reads_of(parts[1]))
    # What the code of other declarations is written for: whether each enriched value may be null.
    # (A product whose attributes changed has every function that is written for it made again.)
    if any(emit.enriched_nullability(parts[0], code) != emit.enriched_nullability(parts[1], code) for code in set(enrichments) - changed.interface):
        return None
    plan = skeleton["plan.json"]
    pieces = []  # (start, end, new text) in plan.json
    # A product that gained or lost a rule: the run of its rules in plan.json replaced whole.
    runs = {key[0] for key, (_edit, (old, new)) in rules.items() if old is None or new is None}
    for code in sorted(runs):
        old, new = ([(f"{v.product}.{v.name}", validation_data(v)) for v in parts[side].validations if v.product == code] for side in (0, 1))
        pieces.append(members(plan, "validations", old, new))
    for key in sorted(k for k in rules if k[0] not in runs):
        entry = f"{key[0]}.{key[1]}"
        old, new = (validation_data(next(v for v in parts[side].validations if (v.product, v.name) == key)) for side in (0, 1))
        pieces.append(member(plan, "validations", entry, old, new))
    for code in sorted(products):
        pieces.append(member(plan, "products", code, product_data(parts[0].product(code)), product_data(parts[1].product(code))))
    for code in sorted(enrichments):
        old, new = ([enrichment_data(e) for e in parts[side].enrichments_of(code)] for side in (0, 1))
        pieces.append(member(plan, "enrichments", code, old, new))
    for name in sorted(changed.decompositions):
        old, new = (decomposition_data(next(d for d in parts[side].decompositions if d.name == name)) for side in (0, 1))
        pieces.append(member(plan, "decompositions", name, old, new))
    definitions = []  # (start, end, new text) in plans.py
    for key in sorted(plans):
        # The tasks of other lines each task reads: what the planner's edges are made of, catalog-wide.
        if any(reads_across(parts[0], a) != reads_across(parts[1], b) for a, b in zip(parts[0].plan(*key).items, parts[1].plan(*key).items)):
            return None
        old, new = (plan_data(parts[side].plan(*key)) for side in (0, 1))
        if old == new and changed.plans[key][0] is None:
            # A reader of a technical product's attributes, its model as it was (proven in plan.json): its code alone is made again.
            if member(plan, "plans", f"{key[0]}.{key[1]}", old, new) is None:
                return None
            continue
        pieces.append(member(plan, "plans", f"{key[0]}.{key[1]}", old, new))
        definitions.append(definition(skeleton.get(_PLANS_FILE, ""), f"{key[0]}.{key[1]}", old, new))
    if None in pieces or None in definitions:
        return None
    out = dict(skeleton, **{"plan.json": replaced(plan, pieces)})
    every_source = {source for _path, source, _target in index["decompositions"].values() if source is not None}

    def lines(part, code, k):
        return emit.lines_segment(part, code, k, every_source)

    # The functions: each made before and after the edit with the module's constants, which it must ask for alike.
    functions = (
        (_VALIDATION_FILE, "validate__", emit.validation_segment, codes),
        (_PLANNER_FILE, "attributes__", emit.attributes_segment, sorted(set(products) - changed.technical)),
        (_ENRICHMENT_FILE, "enrich__", emit.enrichment_segment, sorted(enrichments)),
        (_DECOMPOSITION_FILE, "decompose__", emit.decomposition_segment, sources),
        (_PLANNER_FILE, "lines__", lines, sorted(set(sources) | changed.interface)),
    )
    by_module: dict[str, list] = {_PLANS_FILE: [(*piece, False) for piece in definitions]} if definitions else {}
    # A technical product's own plans: what planning decides of them (`when`s of its attributes) is written for their nullability.
    technical_plans = {key for key in plans if key[0] in changed.technical}
    for key in sorted(changed.depended | technical_plans):  # its planned items and their edges, in planner.py
        if key in changed.depended and any(reads_across(parts[side], d) for side in (0, 1) for d in parts[side].plan(*key).items):
            return None
        try:
            found = proven_functions(skeleton.get(_PLANNER_FILE, ""), lambda side, k: emit.planner_plan_segments(parts[side], key, k, index["crossing"]))
        except (LookupError, RecursionError):
            return None
        if found is None:
            return None
        by_module.setdefault(_PLANNER_FILE, []).extend(found)
    for key in sorted(plans):  # the plan's functions in plans.py, one after another: their constants asked for in turn
        try:
            if key in changed.retasked:  # tasks added or taken out: the run of its functions, and its PLANS entry
                found = proven_run(skeleton.get(_PLANS_FILE, ""), lambda side, k: emit.plan_run(parts[side], key, k))
            else:
                found = proven_functions(skeleton.get(_PLANS_FILE, ""), lambda side, k: emit.plan_segments(parts[side], key, k))
        except (LookupError, RecursionError):
            return None
        if found is None:
            return None
        by_module.setdefault(_PLANS_FILE, []).extend(found)
    for module, name, make, wanted in functions:
        text = skeleton.get(module, "")
        for code in wanted:
            try:
                piece = proven_function(text, name + code, lambda side, k: make(parts[side], code, k))
            except (LookupError, RecursionError):
                return None
            if piece is None:
                return None
            by_module.setdefault(module, []).append(piece)
    for module, pieces in by_module.items():
        text = skeleton[module]
        if any(piece[3] for piece in pieces):  # marked lines moved: the line map follows them
            out[module] = spliced_line_map(text, [piece[:3] for piece in pieces]) or with_new_line_map(replaced(text, [piece[:3] for piece in pieces]))
            if out[module] is None:
                return None
        else:
            out[module] = replaced(text, [piece[:3] for piece in pieces])
    old_sha, new_sha = (hashlib.sha256(t.encode()).hexdigest() for t in (plan, out["plan.json"]))
    for name in ("__init__.py", _PLANNER_FILE):
        if name in out:
            if out[name].count(repr(old_sha)) != 1:
                return None
            out[name] = out[name].replace(repr(old_sha), repr(new_sha))
    return out


def _placed(unit, edits: list, diagnostics: list, outcome: tuple) -> Optional[tuple]:
    """The edited files' elements and diagnostics at their new places, and the files' new sha256s."""
    moves = {edit.file.path: span_pairs(tuple(edit.old_spans), tuple(edit.new_spans)) for edit in edits}
    moved = [moved_diagnostic(d, moves) for d in diagnostics]
    if None in moved:
        return None
    placed = moved_outcome(unit, [edit.file for edit in edits], moves, outcome)
    return None if placed is None else (moved, *placed)


__all__ = ["index_of", "moved_diagnostic", "moved_outcome", "recompiled", "span_pairs"]
