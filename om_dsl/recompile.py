"""Recompiling after an edit of meaning, without checking, lowering or generating
the whole catalog again (the compile cache's third path: om_dsl.build).

An edit that changes what a file says but not the catalog's *interface* (what
one declaration can see of another: names, kinds, attributes, their types and
whether they may be null, tasks and their dependencies, what a rule looks up
or a task calls) needs only the edited declarations checked, lowered and
generated again, and their fragments spliced into the catalog's cached
output. Three kinds of edit are spliced, in any number of the catalog's own
files at once:

- a validation rule's message, `when` or `require` (its product and name kept):
  its plan.json entry and its product's `validate__P` in validation.py;
- a commercial product's attribute defaults (each attribute keeping a default,
  or none; not a decomposition's target): its plan.json entry and
  `attributes__P` in planner.py;
- a plan's task settings (`retry`, `timeout`, `due`, a description, a wait's
  `for`): its plan.json entry and its entry in plans.py's DEFINITIONS;

and the plan's sha256 where __init__.py and planner.py hold it. The edited
declarations are checked and lowered in a *part* of the catalog: the files
that declare what they read (the cache's `index` entry, written by the full
path, says which). Nothing else is unpickled. Every splice is first proven on
the text before the edit: the old declarations, checked, lowered and generated
in the same part, must give exactly the diagnostics, plan.json entries and
functions the cache holds; a function's hoisted constants must be first asked
for in the same order, so that the numbering of the whole module stays as a
full generation makes it; and what the edit uses must leave the warnings for
unused definitions as they were. Should any of this not hold (another kind of
declaration changed, a rule renamed, a new error, a constant added), None: the
catalog takes the full path.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Optional

import attrs

from om_dsl.check.cache import load_tree
from om_dsl.check.scope import build_scope
from om_dsl.check.workspace import Parsed, SourceFile, Unit, stored_tree
from om_dsl.codegen.pyexpr import Constants
from om_dsl.diagnostics.diagnostic import Diagnostic
from om_dsl.lower import files_root, lower_part, relative_path
from om_dsl.model.canonical import member_text, plan_data, product_data, validation_data
from om_dsl.span import Span
from om_dsl.syntax import ast

_VALIDATION_FILE = "validation.py"
_PLANNER_FILE = "planner.py"
_PLANS_FILE = "plans.py"


def index_of(unit, scope) -> dict:
    """What the part of a catalog an edit needs is made of: which file declares
    each product, table, validation rule, plan, system, queue and retry policy
    (as the scope holds them) and the defaults, enrichments and children by
    product, decompositions' targets, and the validation keys given twice."""
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
    }


class _Logged(Constants):
    """A module's constants as they are, and the order in which a function asks for them."""

    def __init__(self, known: list):
        super().__init__()
        for name, source in known:
            self._names[source] = name
            self.lines.append(f"{name} = {source}")
        self.asked: list[str] = []

    def add(self, prefix: str, source: str) -> str:
        self.asked.append(source)
        return super().add(prefix, source)


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


def _names_in(node, out: set) -> set:
    """Every string a declaration holds (a superset of the tables it looks up)."""
    if isinstance(node, str):
        out.add(node)
    elif isinstance(node, (tuple, list)):
        for x in node:
            _names_in(x, out)
    elif hasattr(node, "__attrs_attrs__") and not isinstance(node, Span):
        for a in node.__attrs_attrs__:
            _names_in(getattr(node, a.name), out)
    return out


def _without_defaults(product):
    """A product with its attributes' defaults left out: what else it says."""
    return attrs.evolve(product, attributes=tuple(attrs.evolve(a, default=None) for a in product.attributes))


# A task's settings: what no code is generated from and no other declaration reads.
_SETTINGS = ("retry", "timeout", "due", "description", "wait_for")


def _without_settings(plan):
    """A plan with its tasks' settings left out: what else it says."""
    return attrs.evolve(plan, items=tuple(attrs.evolve(i, **dict.fromkeys(_SETTINGS)) for i in plan.items))


def _touches(d: Diagnostic, path: str, spans: list) -> bool:
    return any(label.span.file == path and any(s.start <= label.span.start and label.span.end <= s.end for s in spans) for label in d.labels)


class _Edit:
    """One edited file: its old and new modules, its changed declarations, and its spans paired."""

    def __init__(self, f: SourceFile, old_module):
        self.file = f
        self.old = old_module
        self.new = f.module
        self.changed: dict[tuple, tuple] = {}  # (product, name) -> (old rule, new rule)
        self.products: dict[str, tuple] = {}  # code -> (old, new): a commercial product whose attributes' defaults changed
        self.plans: dict[tuple, tuple] = {}  # (product, action) -> (old, new): a plan whose tasks' settings changed
        self.old_spans: list = []
        self.new_spans: list = []

    def compare(self) -> bool:
        old, new = self.old, self.new
        if len(old.declarations) != len(new.declarations) or (old.header is None) != (new.header is None):
            return False
        pairs = [(old.header, new.header)] if old.header is not None else []
        pairs += list(zip(old.declarations, new.declarations))
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
                if not _same(_without_defaults(o), _without_defaults(n), ospans, nspans) or code in self.products:
                    return False
                if any((a.default is None) != (b.default is None) for a, b in zip(o.attributes, n.attributes)):
                    return False  # an attribute that may be null, or no longer: what other rules' code is written for
                self.products[code] = (o, n)
                self.old_spans += ospans
                self.new_spans += nspans
                continue
            if isinstance(o, ast.Plan) and isinstance(n, ast.Plan):
                ospans, nspans = [], []
                key = (o.product.value, o.action.value)
                if not _same(_without_settings(o), _without_settings(n), ospans, nspans) or key in self.plans:
                    return False
                self.plans[key] = (o, n)
                self.old_spans += ospans
                self.new_spans += nspans
                continue
            if not (isinstance(o, ast.Validation) and isinstance(n, ast.Validation)):
                return False
            key = (o.product.value, o.name.value)
            if key != (n.product.value, n.name.value) or key in self.changed:
                return False
            self.changed[key] = (o, n)
            self.old_spans.append(_place(o.span))
            self.new_spans.append(_place(n.span))
        return True


def recompiled(unit, entry: tuple, shape_entry: tuple, index: dict, cache) -> Optional[tuple]:
    """After an edit of validation rules and attribute defaults only: (diagnostics,
    sources, digests, skeleton files) of the catalog as it is now, or None (check it all again)."""
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
    products = {code: (edit, pair) for edit in edits for code, pair in edit.products.items()}
    plans = {key: (edit, pair) for edit in edits for key, pair in edit.plans.items()}
    if not rules and not products and not plans:
        return None
    for key, (edit, _pair) in rules.items():
        if key in index["twice"] or index["validations"].get(key) != edit.file.path or key[0] not in index["commercial"]:
            return None
    for code, (edit, _pair) in products.items():
        # A decomposition's target has its defaults written into its sources' code too: not spliced.
        if index["products"].get(code) != edit.file.path or code not in index["commercial"] or code in index["targets"]:
            return None
    for key, (edit, _pair) in plans.items():
        if index["plans"].get(key) != edit.file.path:
            return None
    changed = _Changed(rules, products, plans)
    part = _part(unit, index, edits, changed)
    if part is None:
        return None
    old_scope, new_scope = part
    old_diags, old_used = _checked(old_scope, changed, 0)
    new_diags, new_used = _checked(new_scope, changed, 1)
    if old_diags is None or new_diags is None or any(d.is_error for d in new_diags):
        return None
    if not _uses_alike(old_used, new_used, old_scope, diagnostics):
        return None
    # The diagnostics the old declarations had must be those the cache holds of them.
    spans: dict = {}
    for edit in edits:
        spans[edit.file.path] = [pair[0].span for pair in (*edit.changed.values(), *edit.products.values(), *edit.plans.values())]
    touching = [d for d in diagnostics if any(_touches(d, path, s) for path, s in spans.items())]
    if sorted(map(repr, touching)) != sorted(map(repr, old_diags)):
        return None
    spliced = _spliced(dict(shape_entry[4]), old_scope, new_scope, changed)
    if spliced is None:
        return None
    placed = _placed(unit, edits, [d for d in diagnostics if d not in touching], outcome)
    if placed is None:
        return None
    moved_diags, sources, digests = placed
    return (*moved_diags, *new_diags), sources, digests, spliced


class _Changed:
    """The changed declarations, each (its edit, (old, new)): rules by (product, name),
    products by code, plans by (product, action)."""

    def __init__(self, rules: dict, products: dict, plans: dict):
        self.rules, self.products, self.plans = rules, products, plans


def _part(unit, index: dict, edits: list, changed: _Changed) -> Optional[tuple]:
    """The part of the catalog the changed declarations need, before and after the edit: two scopes."""
    products = index["products"]
    want: set[str] = set()
    codes = {key[0] for key in changed.rules}
    for code in codes | set(changed.products):
        want.add(products.get(code, ""))
        want.update(products.get(c, "") for c in index["children"].get(code, ()))
    for code in codes:
        want.update(products.get(p, "") for p, children in index["children"].items() if code in children)
        want.update(index["enrichments"].get(code, ()))
        want.update(path for key, path in index["validations"].items() if key[0] == code)
    by_path = {f.path: f for f in unit.all_files}
    if "" in want or not want <= set(by_path):
        return None
    # The tables the rules of these products can look up: every name they hold that is a table's.
    names: set = set()
    for path in want:
        for d in by_path[path].module.declarations:
            if isinstance(d, ast.Validation) and d.product.value in codes:
                _names_in(d, names)
    for edit in edits:
        for old, _new in edit.changed.values():
            _names_in(old, names)
    # A plan's: its product's file and its other plans, what it calls, the queues its
    # tasks land in, the plans of the products it waits for, every retry policy and the defaults.
    for (code, _action), (_edit, (old, new)) in changed.plans.items():
        said = _names_in(new, _names_in(old, set()))
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


def _checked(scope, changed: _Changed, side: int) -> tuple:
    """(the diagnostics of the changed declarations, checked in this scope, and what
    they use that a check of the whole catalog counts: tables, operations, queues,
    retry policies); (None, None) if they cannot be. `side`: 0 before the edit, 1 after."""
    from om_dsl.check.expressions import ExprChecker
    from om_dsl.check.plans import Usage, check_plans
    from om_dsl.check.products import check_products, check_validations

    rules, products, plans = changed.rules, changed.products, changed.plans
    found = {key: scope.validations.get(key) for key in rules}
    if any(rule is not pair[side] for rule, (_edit, pair) in zip(found.values(), rules.values())):
        return None, None
    if any(scope.commercial.get(code) is not pair[side] for code, (_edit, pair) in products.items()):
        return None, None
    if any(scope.plans.get(key) is not pair[side] for key, (_edit, pair) in plans.items()):
        return None, None
    everything = scope.validations
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
            diags += [d for d in checked if any(_touches(d, edit.file.path, [pair[side].span]) for edit, pair in products.values())]
        if plans:
            checked = []
            usage = Usage()
            exprs = ExprChecker(scope, checked)
            check_plans(scope, exprs, checked, usage)
            diags += [d for d in checked if any(_touches(d, edit.file.path, [pair[side].span]) for edit, pair in plans.values())]
            used["tables"] |= exprs.used_tables
            used["operations"] |= usage.operations
            used["queues"] |= usage.queues
            used["policies"] |= usage.policies
    except RecursionError:
        return None, None
    finally:
        scope.validations = everything
    return diags, used


def _uses_alike(old: dict, new: dict, scope, diagnostics: list) -> bool:
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


def _spliced(skeleton: dict, old_scope, new_scope, changed: _Changed) -> Optional[dict]:
    """The skeleton with the changed declarations' plan.json entries and functions
    replaced, and the plan's sha256 where the modules hold it; None when a splice is not proven."""
    rules, products, plans = changed.rules, changed.products, changed.plans
    from om_dsl.codegen.emit import attributes_segment, constants_of, function_segment, validation_segment  # the code generator: loaded for a splice only

    codes = sorted({key[0] for key in rules})
    parts = {}
    for side, scope in enumerate((old_scope, new_scope)):
        keys = [key for key in scope.validations if key[0] in codes]
        try:
            parts[side] = lower_part(scope, sorted(set(codes) | set(products)), sorted(scope.tables), keys, sorted(plans))
        except (KeyError, RecursionError):
            return None
    plan = skeleton["plan.json"]
    pieces = []  # (start, end, new text) in plan.json
    for key in sorted(rules):
        entry = f"{key[0]}.{key[1]}"
        old, new = (validation_data(next(v for v in parts[side].validations if (v.product, v.name) == key)) for side in (0, 1))
        pieces.append(_member(plan, "validations", entry, old, new))
    for code in sorted(products):
        pieces.append(_member(plan, "products", code, product_data(parts[0].product(code)), product_data(parts[1].product(code))))
    definitions = []  # (start, end, new text) in plans.py
    for key in sorted(plans):
        old, new = (plan_data(parts[side].plan(*key)) for side in (0, 1))
        pieces.append(_member(plan, "plans", f"{key[0]}.{key[1]}", old, new))
        definitions.append(_definition(skeleton.get(_PLANS_FILE, ""), f"{key[0]}.{key[1]}", old, new))
    if None in pieces or None in definitions:
        return None
    out = dict(skeleton, **{"plan.json": _replaced(plan, pieces)})
    if definitions:
        out[_PLANS_FILE] = _replaced(skeleton[_PLANS_FILE], definitions)
    # The functions: each made before and after the edit with the module's constants, which it must ask for alike.
    for module, name, make, wanted in ((_VALIDATION_FILE, "validate__", validation_segment, codes), (_PLANNER_FILE, "attributes__", attributes_segment, sorted(products))):
        if not wanted:
            continue
        text = skeleton.get(module, "")
        functions = []
        for code in wanted:
            made = []
            for side in (0, 1):
                k = _Logged(constants_of(text))
                made.append((make(parts[side], code, k), k.asked, len(k.lines) - len(constants_of(text))))
            where = function_segment(text, name + code)
            (old_text, old_asked, old_added), (new_text, new_asked, new_added) = made
            # Constants are numbered in the order the module first asks for them: each function's first asks must stay.
            if where is None or text[where[0] : where[1]] != old_text or _firsts(old_asked) != _firsts(new_asked) or old_added or new_added:
                return None
            if _markers(old_text) != _markers(new_text):
                return None  # the line map would move
            functions.append((where[0], where[1], new_text))
        out[module] = _replaced(text, functions)
    old_sha, new_sha = (hashlib.sha256(t.encode()).hexdigest() for t in (plan, out["plan.json"]))
    for name in ("__init__.py", _PLANNER_FILE):
        if name in out:
            if out[name].count(repr(old_sha)) != 1:
                return None
            out[name] = out[name].replace(repr(old_sha), repr(new_sha))
    return out


def _definition(module: str, key: str, old, new) -> Optional[tuple]:
    """Where in plans.py's DEFINITIONS (pformat of the plans) the plan KEY is, as OLD
    prints: (start, end, NEW printed); None if not there, or should the layout move."""
    from om_dsl.codegen.emit import one_line_length, pformat_member

    head = "\nDEFINITIONS = {"
    start = module.find(head)
    if start < 0 or len(repr(key)) + 4 + one_line_length(new) <= 110:
        return None  # a dict of plans that could fit on one line: laid out otherwise
    # DEFINITIONS comes after every function: its lines are in no region of the line map.
    line_map = module.find("\nLINE_MAP = (", start)
    if line_map < 0:
        return None
    regions = module[line_map:].split("\n")
    last = regions[-3] if len(regions) > 3 and regions[-3].startswith("    (") else "    (0, 0"
    if int(last.split(",")[1]) >= module.count("\n", 0, start) + 2:
        return None
    old_text = pformat_member(key, old)
    at = start + len(head) if module.startswith(old_text, start + len(head)) else module.find("\n " + old_text, start) + 2
    if at < 2 or module[at + len(old_text)] not in ",}":
        return None
    return at, at + len(old_text), pformat_member(key, new)


def _member(plan: str, section: str, key: str, old, new) -> Optional[tuple]:
    """Where in plan.json the member KEY of SECTION is, as OLD prints: (start, end, NEW printed); None if not there."""
    start = plan.find(f'\n  "{section}": {{\n')
    end = plan.find("\n  }", start + 1)
    if start < 0 or end < 0:
        return None
    old_text = "\n" + member_text(key, old, 2)
    at = plan.find(old_text, start, end)
    if at < 0 or plan[at + len(old_text)] not in ",\n":
        return None
    return at, at + len(old_text), "\n" + member_text(key, new, 2)


def _firsts(asked: list) -> list:
    return list(dict.fromkeys(asked))


def _markers(text: str) -> list:
    """Where a function's lines and `# @om` markers are: what LINE_MAP is made of."""
    return [(n, line.strip()) for n, line in enumerate(text.split("\n")) if line.lstrip().startswith("# @om ")] + [text.count("\n")]


def _replaced(text: str, pieces: list) -> str:
    out, at = [], 0
    for start, end, new in sorted(pieces):
        if start < at:
            raise ValueError("overlapping pieces")  # pragma: no cover - each piece is one key's
        out += [text[at:start], new]
        at = end
    return "".join(out) + text[at:]


def span_pairs(old: tuple, new: tuple) -> tuple[dict, dict]:
    """Two texts of one shape: each span's start offset in the old one -> (line,
    column, offset) in the new one, and the same for span ends. Spans that start
    together begin with one token, so they do in any layout; should two not
    (a span not made of tokens), the place is None: it cannot be told."""
    starts: dict[int, Optional[tuple]] = {}
    ends: dict[int, Optional[tuple]] = {}
    for o, n in zip(old, new):
        for places, key, place in ((starts, o[4], (n[0], n[1], n[4])), (ends, o[5], (n[2], n[3], n[5]))):
            if places.setdefault(key, place) != place:
                places[key] = None
    return starts, ends


def moved_diagnostic(d: Diagnostic, moves: dict) -> Optional[Diagnostic]:
    labels = []
    for label in d.labels:
        span = label.span
        if span.file in moves:
            starts, ends = moves[span.file]
            start, end = starts.get(span.start), ends.get(span.end)
            if start is None or end is None:
                return None
            span = Span(span.file, start[0], start[1], end[0], end[1], start[2], end[2])
        labels.append(attrs.evolve(label, span=span))
    return attrs.evolve(d, labels=tuple(labels))


def _placed(unit, edits: list, diagnostics: list, outcome: tuple) -> Optional[tuple]:
    """The edited files' elements and diagnostics at their new places, and the files' new sha256s."""
    moves = {edit.file.path: span_pairs(tuple(edit.old_spans), tuple(edit.new_spans)) for edit in edits}
    moved = [moved_diagnostic(d, moves) for d in diagnostics]
    if None in moved:
        return None
    placed = moved_outcome(unit, [edit.file for edit in edits], moves, outcome)
    return None if placed is None else (moved, *placed)


def moved_outcome(unit, files, moves: dict, outcome: tuple) -> Optional[tuple]:
    """(sources, digests) of a cached outcome with the elements of `files` (edited:
    `moves` pairs their old spans with their new ones) at their new lines, and their
    new sha256s; None when an element cannot be placed."""
    sources, digests = outcome
    root = files_root(unit.all_files)
    sources, digests = list(sources), dict(digests)
    for f in files:
        starts = moves[f.path][0]
        rel = relative_path(f.real_path, root)
        for i, (element, file, _line, start) in enumerate(sources):
            if file == rel:
                place = starts.get(start)
                if place is None:
                    return None
                sources[i] = (element, file, place[0], place[2])
        if rel not in digests:
            return None
        digests[rel] = "sha256:" + hashlib.sha256(f.text.encode("utf-8")).hexdigest()
    return tuple(sources), tuple(sorted(digests.items()))
