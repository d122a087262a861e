"""Codegen: the plan model -> a Python package of runtime modules.

`generate(catalog)` returns `{relative path: text}` for one catalog:
plan.json, sources.json, and the modules __init__, validation, enrichment,
decomposition and plans. Templates (Jinja2) give the modules their shape;
`PyExpr` writes the expressions. Every module ends with a line map from its
lines to the model elements (and so to the spec file and line) that they
come from, which `om_dsl.rules.generated` uses to name the spec in errors.

Generation is in two steps: `skeleton(catalog)` writes every file with slots
where an element's `file:line` and a spec file's sha256 go, and `fill` puts
them in. A skeleton depends on what the specs say and on their files' paths,
not on where in the files things are or on comments, so the compile cache
(om_dsl.build) keeps skeletons and fills them again after such an edit.
"""

from __future__ import annotations

import functools
import hashlib
import pprint
import re
import types
from pathlib import Path

import jinja2

from om_dsl import __version__
from om_dsl.codegen.line_map import with_line_map
from om_dsl.codegen.pyexpr import Constants, PyExpr
from om_dsl.codegen.slots import comment_text, filled, slot
from om_dsl.model.canonical import dumps, sources_json, to_data
from om_dsl.model.catalog import Catalog, ids

_TEMPLATES = Path(__file__).parent / "templates"


@functools.lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    """One environment per process: its templates are compiled once (20 ms a catalog; a splice renders one function)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_TEMPLATES)),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # Python source, not HTML: every value from a spec or a path goes through a filter
    )
    env.filters["py"] = repr
    env.filters["comment"] = comment_text
    return env




def _ident(*parts: str) -> str:
    """A generated function's name, from spec names (which the grammar keeps to identifiers)."""
    name = "__".join(parts)
    if not name.isidentifier() or not name.isascii():
        raise ValueError(f"not a Python identifier: {name!r}")  # pragma: no cover - NAME tokens are identifiers
    return name


class _Tables:
    """Table name -> module constant, hoisted when first used."""

    def __init__(self, catalog: Catalog, k: Constants):
        self.cat, self.k = catalog, k

    def __getitem__(self, name: str) -> str:
        t = self.cat.table(name)
        px = PyExpr(self.k, {}, self)
        body = "{" + ", ".join(f"{px.code(key)}: {px.code(value)}" for key, value in t.entries) + "}"
        return self.k.add("TABLE_", body)


class _Generator:
    def __init__(self, catalog: Catalog):
        self.cat = catalog
        self.env = _env()

    def source(self, element: str) -> str:
        return slot("S", element)

    def tables(self, k: Constants) -> "_Tables":
        return _Tables(self.cat, k)

    def item_nullability(self, code: str) -> dict[str, bool]:
        p = self.cat.product(code)
        nullable = {a.name: a.nullable for a in p.attributes}
        if p.kind == "technical":
            # A technical line as a source: only required attributes are sure to be set.
            nullable = {a.name: not a.required for a in p.attributes}
        return nullable

    def enriched_nullability(self) -> dict[str, dict]:
        """Product -> {attribute: may it be null}, its enriched attributes included."""
        out: dict[str, dict] = {}
        for code in sorted({e.product for e in self.cat.enrichments}):
            nullable = self.item_nullability(code)
            px = PyExpr(Constants(), nullable, self.tables(Constants()))
            for e in self.cat.enrichments_of(code):
                nullable[e.name] = px.nullable(e.expr)
            out[code] = nullable
        return out

    def render(self, template: str, purpose: str, **ctx) -> str:
        header_files = [(path, slot("H", str(n))) for n, (path, _digest) in enumerate(self.cat.files)]
        text = self.env.get_template(template).render(catalog=self.cat, om_version=__version__, purpose=purpose, schema=self.cat.schema, header_files=header_files, **ctx)
        return with_line_map(text) if template != "__init__.py.j2" else text

    # ---- modules ---------------------------------------------------------------------

    def validation(self) -> str:
        k = Constants()
        tables = self.tables(k)
        functions = [self.validation_function(code, k, tables) for code in sorted({v.product for v in self.cat.validations})]
        return self.render("validation.py.j2", "Validation rules.", functions=functions, constants=k.lines)

    def validation_function(self, code: str, k: Constants, tables) -> dict:
        """The function of product CODE's validation rules (its constants hoisted into k)."""
        px = PyExpr(k, self.item_nullability(code), tables)
        rules = []
        for v in self.cat.validations_of(code):
            element = ids.validation(code, v.name)
            rules.append(
                {
                    "element": element,
                    "source": self.source(element),
                    "name": v.name,
                    "message": v.message,
                    "when": px.truth(v.when) if v.when is not None else None,
                    "require": f"({px.truth(v.require)})",
                }
            )
        return {"name": _ident("validate", code), "product": code, "rules": rules}

    def enrichment(self) -> str:
        k = Constants()
        tables = self.tables(k)
        functions = [self.enrichment_function(code, k, tables) for code in sorted({e.product for e in self.cat.enrichments})]
        return self.render("enrichment.py.j2", "Enrichment rules.", functions=functions, constants=k.lines)

    def enrichment_function(self, code: str, k: Constants, tables) -> dict:
        """The function of product CODE's enrichment rules (its constants hoisted into k)."""
        nullable = self.item_nullability(code)
        px = PyExpr(k, nullable, tables)
        rules = []
        for e in self.cat.enrichments_of(code):
            element = ids.enrichment(code, e.name)
            rules.append({"element": element, "source": self.source(element), "name": e.name, "code": px.code(e.expr)})
            nullable[e.name] = px.nullable(e.expr)
        return {"name": _ident("enrich", code), "product": code, "rules": rules, "names": [e.name for e in self.cat.enrichments_of(code)]}

    def decomposition(self) -> str:
        k = Constants()
        tables = self.tables(k)
        enriched_nullable = self.enriched_nullability()
        sources = sorted({d.source for d in self.cat.decompositions}, key=lambda s: (s is None, s or ""))
        functions = [self.decomposition_function(source, k, tables, enriched_nullable) for source in sources]
        return self.render("decomposition.py.j2", "Decomposition rules.", functions=functions, constants=k.lines)

    def decomposition_function(self, source, k: Constants, tables, enriched_nullable: dict) -> dict:
        """The function of the decompositions from SOURCE (None: the order), its constants hoisted into k."""
        nullable = enriched_nullable.get(source) or (self.item_nullability(source) if source else {})
        px = PyExpr(k, nullable, tables)
        rules = []
        for d in self.cat.decompositions_from(source):
            element = ids.decomposition(d.name)
            rules.append(
                {
                    "element": element,
                    "source": self.source(element),
                    "name": d.name,
                    "when": px.truth(d.when) if d.when is not None else None,
                    "per": px.code(d.per) if d.per is not None else None,
                    "mappings": [
                        {"element": ids.mapping(d.name, m.target), "source": self.source(ids.mapping(d.name, m.target)), "target": m.target, "code": px.code(m.expr)} for m in d.mappings
                    ],
                }
            )
        name = _ident("decompose", source) if source else "decompose_order"
        return {"name": name, "product": source, "rules": rules}

    def plans(self, definitions_data: dict) -> str:
        k = Constants()
        tables = self.tables(k)
        functions = []
        plans = []
        for plan in self.cat.plans:
            plan_functions, entry = self.plan_functions(plan, k, tables)
            functions += plan_functions
            plans.append(entry)
        definitions = pformat(definitions_data, width=110)
        return self.render("plans.py.j2", "Orchestration plans.", functions=functions, plans=plans, constants=k.lines, definitions=definitions)

    def plan_functions(self, plan, k: Constants, tables) -> tuple[list, dict]:
        """A plan's functions (its constants hoisted into k) and its entry in PLANS."""
        functions = []
        product = self.cat.product(plan.product)
        written = {attr for i in plan.items for attr, _ in i.sets}
        nullable = {a.name: not a.required or a.name in written for a in product.attributes}
        px = PyExpr(k, nullable, tables)
        plan_fn = None
        if plan.when is not None:
            plan_fn = _ident("when", plan.product, plan.action)
            element = ids.plan(plan.product, plan.action)
            functions.append({"name": plan_fn, "element": element, "source": self.source(element), "kind": "value", "code": px.truth(plan.when)})
        tasks = []
        for item in plan.items:
            element = ids.task(plan.product, plan.action, item.name)
            src = self.source(element)
            fns = {}

            def add(kind: str, fn: dict) -> None:
                name = _ident(kind, plan.product, plan.action, item.name)
                functions.append(dict(fn, name=name, element=element, source=src))
                fns[kind] = name

            if item.when is not None:
                add("when", {"kind": "value", "code": px.truth(item.when)})
            if item.call is not None:
                add("args", {"kind": "dict", "entries": [(n, px.code(e)) for n, e in item.call.args]})
            if item.sets:
                add("sets", {"kind": "dict", "entries": [(n, px.code(e)) for n, e in item.sets]})
            if item.compensate is not None:
                add("compensate", {"kind": "dict", "entries": [(n, px.code(e)) for n, e in item.compensate.args]})
            if item.wait_until is not None:
                add("wait_until", {"kind": "value", "code": px.code(item.wait_until)})
            table = "{" + ", ".join(f"{kind!r}: {fn}" for kind, fn in sorted(fns.items())) + "}"
            tasks.append({"name": item.name, "functions": table})
        return functions, {"product": plan.product, "action": plan.action, "when": plan_fn, "tasks": tasks}

    def planner(self, plan_text: str) -> str:
        from om_dsl.codegen.planner import PlannerModule  # it builds on this module's helpers

        return PlannerModule(self).render(self.enriched_nullability(), hashlib.sha256(plan_text.encode()).hexdigest())

    def package_init(self, plan_text: str) -> str:
        return self.render("__init__.py.j2", "The package.", plan_sha256=hashlib.sha256(plan_text.encode()).hexdigest())


def pformat(value, width: int = 110) -> str:
    """`pprint.pformat(value, width=width, sort_dicts=True)`, byte for byte, in linear time.

    pprint asks for the one-line repr of every container at each level it
    descends through, rebuilding the reprs of everything inside: quadratic in
    the depth (seconds for a 100k-line catalog's plans). Here each repr is
    built once, bottom up. Dicts, lists and scalars are laid out as pprint
    does; a string too long for its line, and any other type, is handed to
    pprint's own code (tests/test_compile_cache.py compares the two on random data).
    """
    printer = _Printer(width)
    printer.layout(value, 0, 0, 0)
    return "".join(printer.out)


def pformat_member(key: str, value, width: int = 110) -> str:
    """`'key': value` as pformat lays it out as a member of a dict of strings that
    does not fit on one line, at the top level (the compile cache splices one
    plan's definition into plans.py: om_dsl.recompile)."""
    printer = _Printer(width)
    kr = printer.rep(key)
    printer.out.append(kr + ": ")
    printer.layout(value, 1 + len(kr) + 2, 1, 1)
    return "".join(printer.out)


def one_line_length(value) -> int:
    """The length of a value's repr as pformat makes it (sorted dicts)."""
    return len(_Printer(110).rep(value))


class _Printer:
    def __init__(self, width: int):
        self.width = width
        self.reprs: dict[int, str] = {}
        self.pp = pprint.PrettyPrinter(width=width, sort_dicts=True)
        self.out: list[str] = []
        self.stream = types.SimpleNamespace(write=self.out.append)  # what pprint's own layout functions write to

    def rep(self, x) -> str:
        t = type(x)
        if t is dict or t is list:
            found = self.reprs.get(id(x))
            if found is None:
                if t is dict:
                    found = "{" + ", ".join(f"{repr(k) if type(k) is str else self.rep(k)}: {self.rep_value(x[k])}" for k in sorted(x)) + "}"
                else:
                    # repr in C is pprint's own for a list without a dict or set in it (only their
                    # elements are sorted), which shows as a `{` (or, at worst, a string with one)
                    found = repr(x)
                    if "{" in found:
                        found = "[" + ", ".join(self.rep(e) for e in x) + "]"
                self.reprs[id(x)] = found  # x lives in `value` for the whole call: its id is not reused
            return found
        if t in (str, int, bool, float) or x is None:
            return repr(x)
        return self.pp.format(x, {}, 0, 0)[0]

    def rep_value(self, x) -> str:
        t = type(x)
        if t is str or t is int or x is None:
            return repr(x)
        return self.rep(x)

    def layout(self, x, indent: int, allowance: int, level: int) -> None:
        write, width = self.out.append, self.width
        r = self.rep(x)
        if len(r) <= width - indent - allowance:
            write(r)
            return
        t = type(x)
        if t is dict and all(type(k) is str for k in x):
            write("{")
            inner = indent + 1
            keys = sorted(x)
            last = len(keys) - 1
            for n, k in enumerate(keys):
                kr = self.rep(k)
                write(kr + ": ")
                self.layout(x[k], inner + len(kr) + 2, allowance + 1 if n == last else 1, level + 1)
                if n != last:
                    write(",\n" + " " * inner)
            write("}")
        elif t is list:
            write("[")
            inner = indent + 1
            last = len(x) - 1
            for n, e in enumerate(x):
                if n:
                    write(",\n" + " " * inner)
                self.layout(e, inner, allowance + 1 if n == last else 1, level + 1)
            write("]")
        elif t is str:
            self.pp._pprint_str(x, self.stream, indent, allowance, {}, level + 1)
        elif t in (int, bool, float) or x is None:
            write(r)
        else:
            self.pp._format(x, self.stream, indent, allowance, {}, level)


def skeleton(catalog: Catalog) -> dict[str, str]:
    """Every file of one compiled catalog but sources.json, its slots unwritten (see fill)."""
    g = _Generator(catalog)
    data = to_data(catalog)  # once: plan.json and the plans module's definitions both print it
    plan_text = dumps(data)
    return {
        "plan.json": plan_text,
        "__init__.py": g.package_init(plan_text),
        "validation.py": g.validation(),
        "enrichment.py": g.enrichment(),
        "decomposition.py": g.decomposition(),
        "plans.py": g.plans(data["plans"]),
        "planner.py": g.planner(plan_text),
    }


# ---- one function of a module, for the compile cache's splice (om_dsl.recompile) ----------------

_CONSTANT = re.compile(r"^(_[A-Z]+_?\d+) = (.*)$", re.MULTILINE)


def constants_of(module_text: str) -> list[tuple[str, str]]:
    """A generated module's hoisted constants, (name, source) in order: the lines above its first function."""
    end = module_text.find("\n\n\ndef ")
    return _CONSTANT.findall(module_text[: end if end >= 0 else len(module_text)])


def function_segment(module_text: str, name: str):
    """(start, end) of function NAME in a generated module: from the blank lines above
    its `def` to those below it (functions hold no blank line); None when absent."""
    start = module_text.find(f"\n\n\ndef {name}(")
    if start < 0:
        return None
    end = module_text.find("\n\n\n", start + 3)
    return (start, end) if end >= 0 else None


def _segment(catalog: Catalog, template: str, f: dict, **ctx) -> str:
    """One function's text as the module TEMPLATE renders it among others (slots unwritten)."""
    text = _env().get_template(template).render(catalog=catalog, om_version=__version__, purpose="", schema="", header_files=[], functions=[f], constants=[], **ctx)
    where = function_segment(text, f["name"])
    return text[where[0] : where[1]]


def validation_segment(catalog: Catalog, code: str, k: Constants) -> str:
    """The text of product CODE's validation function as validation.py holds it (slots
    unwritten), its constants named by k: a catalog holding CODE and what its rules read."""
    g = _Generator(catalog)
    return _segment(catalog, "validation.py.j2", g.validation_function(code, k, g.tables(k)))


def plan_segments(catalog: Catalog, key: tuple, k: Constants) -> dict:
    """The texts of plan KEY's functions as plans.py holds them, by name, their constants
    named by k (asked for in the module's order: the plan's functions one after another)."""
    g = _Generator(catalog)
    functions, _entry = g.plan_functions(catalog.plan(*key), k, g.tables(k))
    return {f["name"]: _segment(catalog, "plans.py.j2", f, plans=[], definitions="{}") for f in functions}


def plan_run(catalog: Catalog, key: tuple, k: Constants) -> tuple[dict, str]:
    """Plan KEY's functions as plans.py holds them, by name (one after another, their
    constants named by k), and its entry in PLANS."""
    g = _Generator(catalog)
    functions, entry = g.plan_functions(catalog.plan(*key), k, g.tables(k))
    segments = {f["name"]: _segment(catalog, "plans.py.j2", f, plans=[], definitions="{}") for f in functions}
    text = _env().get_template("plans.py.j2").render(catalog=catalog, om_version=__version__, purpose="", schema="", header_files=[], functions=[], constants=[], plans=[entry], definitions="{}")
    start = text.index("\nPLANS = {\n") + len("\nPLANS = {\n")
    return segments, text[start : text.index("\n}\n", start) + 1]


def crossing_of(catalog: Catalog) -> tuple:
    """What edges between lines reach over the whole catalog (codegen.planner's
    PlannerModule.crossing), as plain data: the compile cache keeps it with its index."""
    from om_dsl.codegen.planner import PlannerModule

    return tuple(frozenset(x) if isinstance(x, set) else x for x in PlannerModule(_Generator(catalog)).crossing())


def line_reads_of(catalog: Catalog) -> dict:
    """Which plans read a technical product's attributes through line reads
    (`T.attr in bundle`, `in order`): product -> frozenset of (product, action).
    The compile cache keeps it with its index: what to make again when T's
    attributes change (om_dsl.recompile)."""
    out: dict[str, set] = {}

    def walk(node, key):
        if isinstance(node, tuple):
            if len(node) >= 5 and node[0] in ("line", "lines") and node[3] is None:
                out.setdefault(node[2], set()).add(key)
            for x in node:
                walk(x, key)
        elif hasattr(node, "__attrs_attrs__"):
            for a in node.__attrs_attrs__:
                walk(getattr(node, a.name), key)

    for plan in catalog.plans:
        walk(plan.items, (plan.product, plan.action))
    return {code: frozenset(keys) for code, keys in out.items()}


def planner_plan_segments(catalog: Catalog, key: tuple, k: Constants, crossing: tuple) -> dict:
    """The texts of plan KEY's `tasks__` and `edges__` functions as planner.py holds
    them, by name, their constants named by k; CROSSING: crossing_of the whole catalog."""
    from om_dsl.codegen.planner import PlannerModule

    g = _Generator(catalog)
    planner = PlannerModule(g)
    planner.k, planner.tables, planner._crossing = k, g.tables(k), crossing
    plan = catalog.plan(*key)
    planner.tasks(plan)
    planner.edges(plan)
    return {f[4 : f.index("(")]: "\n\n\n" + f for f in planner.functions}


def enrichment_segment(catalog: Catalog, code: str, k: Constants) -> str:
    """The text of product CODE's `enrich__CODE` as enrichment.py holds it, its constants named by k."""
    g = _Generator(catalog)
    return _segment(catalog, "enrichment.py.j2", g.enrichment_function(code, k, g.tables(k)))


def decomposition_segment(catalog: Catalog, source: str, k: Constants) -> str:
    """The text of `decompose__SOURCE` as decomposition.py holds it: a catalog holding
    SOURCE, its enrichments, its decompositions and their targets, its constants named by k."""
    g = _Generator(catalog)
    return _segment(catalog, "decomposition.py.j2", g.decomposition_function(source, k, g.tables(k), g.enriched_nullability()))


def enriched_nullability(catalog: Catalog, code: str) -> dict:
    """Product CODE's attributes, its enriched ones included: may each be null? (what its decompositions' code is written for)."""
    return _Generator(catalog).enriched_nullability().get(code) or {}


def lines_segment(catalog: Catalog, code: str, k: Constants, sources: set) -> str:
    """The text of `lines__CODE` as planner.py holds it, its constants named by k;
    SOURCES: every product the whole catalog decomposes (its lines are decomposed further)."""
    from om_dsl.codegen.planner import PlannerModule

    g = _Generator(catalog)
    planner = PlannerModule(g)
    planner.k, planner.tables, planner.sources = k, g.tables(k), set(sources)
    planner.lines(code, g.enriched_nullability().get(code) or g.item_nullability(code))
    return "\n\n\n" + planner.functions[-1]


def attributes_segment(catalog: Catalog, code: str, k: Constants) -> str:
    """The text of commercial product CODE's `attributes__CODE` as planner.py holds it, its constants named by k."""
    from om_dsl.codegen.planner import PlannerModule

    planner = PlannerModule(_Generator(catalog))
    planner.k, planner.tables = k, planner.g.tables(k)
    planner.attributes(catalog.product(code))
    return "\n\n\n" + planner.functions[-1]


def generate(catalog: Catalog) -> dict[str, str]:
    """Every file of one compiled catalog: {path relative to its folder: text}."""
    files = filled(skeleton(catalog), {element: str(ref) for element, ref in catalog.sources}, [digest for _path, digest in catalog.files])
    return {"plan.json": files.pop("plan.json"), "sources.json": sources_json(catalog), **files}


__all__ = [
    "attributes_segment",
    "comment_text",
    "crossing_of",
    "constants_of",
    "decomposition_segment",
    "enriched_nullability",
    "enrichment_segment",
    "filled",
    "function_segment",
    "generate",
    "lines_segment",
    "one_line_length",
    "pformat",
    "pformat_member",
    "plan_run",
    "plan_segments",
    "planner_plan_segments",
    "skeleton",
    "validation_segment",
]
