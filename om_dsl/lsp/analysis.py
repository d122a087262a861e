"""What the language server knows about a workspace, independent of the protocol.

Positions here are 1-based lines and columns, like `om_dsl.span.Span`; the
server converts to and from the 0-based positions of LSP.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import attrs

from om_dsl.check import CheckResult, check_texts
from om_dsl.check.scope import CatalogScope
from om_dsl.check.workspace import inside, read_regular, roots_of
from om_dsl.span import Span
from om_dsl.syntax import ast

KEYWORDS = sorted(
    """catalog version library use default retry timeout commercial technical root child cfs rfs attr
    required optional in has table validate when require message enrich decompose order per none fixed
    times forever every staggered exponential from factor cap system operation async queue plan on add
    modify delete callout manual auto milestone wait for until python after before compensate
    point_of_no_return hard soft due sets task bundle tasks amend keep redo undo_redo if then else or and not is null true false map
    fallout fatal""".split()
)
TYPES = ["bool", "date", "decimal", "duration", "int", "string"]


def discover(root: Path) -> list[Path]:
    found = []
    for dirpath, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(dirpath) / n for n in sorted(names) if n.endswith(".om")]
    return found


def check_workspace(root: Path | None, overlays: dict[str, str], cache=None) -> CheckResult:
    """Check every .om file under `root`, open documents' texts (by absolute path) over the disk
    (parses found in `cache`, the compile cache `om compile` uses, when given)."""
    texts: dict[str, str] = {}
    # As `om check`: only regular files (a FIFO would hang the server), only inside the workspace folder.
    roots = [root.resolve()] if root is not None else []
    if root is not None:
        for path in discover(root):
            real = path.resolve()
            if not inside(real, roots):
                continue
            try:
                texts[str(real)] = read_regular(real).decode("utf-8-sig").replace("\r\n", "\n")
            except (OSError, UnicodeDecodeError):
                continue
    saved = set(texts.values())
    for path, text in overlays.items():
        texts[path] = text.replace("\r\n", "\n")
    # `use` paths of open files outside the workspace folder: load the used library
    # from disk, when it is inside the workspace folder (or, with none, the using file's project).
    for path, text in list(texts.items()):
        for m in re.finditer(r'^\s*use\s+"([^"\n]*)"', text, re.MULTILINE):
            target = os.path.normpath(os.path.join(os.path.dirname(path), m.group(1)))
            allowed = roots or roots_of([os.path.dirname(path) or "."])
            if target not in texts and inside(Path(target).resolve(), allowed):
                try:
                    texts[target] = read_regular(Path(target).resolve()).decode("utf-8-sig").replace("\r\n", "\n")
                    saved.add(texts[target])
                except (OSError, UnicodeDecodeError):
                    pass
    return check_texts(texts, cache=SavedOnly(cache, saved) if cache is not None else None)


class SavedOnly:
    """The compile cache as the editor uses it: every entry may be read, but
    only texts as saved on disk are written (an entry per keystroke of an
    unsaved buffer would fill the disk); the memory keeps each path's last parse."""

    def __init__(self, cache, saved_texts: set[str]):
        self._cache = cache
        self._saved = saved_texts

    def __getattr__(self, name):
        return getattr(self._cache, name)

    def put(self, kind: str, key: str, payload: bytes) -> None:
        if kind not in ("file", "tree") or key in self._saved_keys():
            self._cache.put(kind, key, payload)

    def _saved_keys(self) -> set[str]:
        if not hasattr(self, "_keys"):
            from om_dsl.check.cache import digest

            self._keys = {digest("file", t) for t in self._saved}
        return self._keys


@attrs.frozen
class Occurrence:
    span: Span
    key: tuple  # (scope, kind, *names)
    is_def: bool


def contains(span: Span, line: int, column: int) -> bool:
    if (line, column) < (span.line, span.column):
        return False
    return (line, column) <= (span.end_line, span.end_column)  # the end inclusive: a cursor just after a name


def _walk(node):
    """Every node under `node` (expressions, calls, ...), depth first."""
    if isinstance(node, (tuple, list)):
        for n in node:
            yield from _walk(n)
    elif isinstance(node, ast.Node):
        yield node
        for field in attrs.fields(type(node)):
            if field.name != "span":
                yield from _walk(getattr(node, field.name))


class Index:
    """Definitions and references of a checked workspace, by file."""

    def __init__(self, result: CheckResult):
        self.result = result
        self.by_file: dict[str, list[Occurrence]] = {}
        self.defs: dict[tuple, list[tuple[Span, object]]] = {}
        self.refs: dict[tuple, list[Span]] = {}
        self.scope_of_file: dict[str, CatalogScope] = {}
        for scope in result.scopes:
            for f in scope.files:
                self.scope_of_file.setdefault(f.path, scope)
            self._index(scope)

    # ---- building -------------------------------------------------------------

    def _add(self, span: Span, key: tuple, is_def: bool, node=None) -> None:
        occ = Occurrence(span, key, is_def)
        bucket = self.by_file.setdefault(span.file, [])
        if occ in bucket:
            return
        bucket.append(occ)
        if is_def:
            self.defs.setdefault(key, []).append((span, node))
        else:
            self.refs.setdefault(key, []).append(span)

    def _product_attrs(self, scope: CatalogScope, code: str | None) -> set[str]:
        if code is None:
            return set()
        names = set()
        product = scope.product(code)
        if product is not None:
            names |= {a.name.value for a in product.attributes}
        for e in scope.enrichments.get(code, []):
            names |= {r.name.value for r in e.rules}
        return names

    def _expr(self, scope: CatalogScope, node, product: str | None, tasks: set[str] = frozenset(), plan_product: str | None = None) -> None:
        s = scope.name
        attrs_ = self._product_attrs(scope, product)
        reads = [n for n in _walk(node) if isinstance(n, ast.LineRead)]
        across = {id(r.target) for r in reads}
        for r in reads:  # `PRODUCT.task.output in bundle`, `PRODUCT.attribute in order`: another line's names
            names, head = [], r.target
            while isinstance(head, ast.Member):
                names.insert(0, head.name)
                head = head.obj
                across.add(id(head))
            if isinstance(head, ast.Ref) and head.name in scope.technical:
                self._add(head.span, (s, "product", head.name), False)
                if len(names) == 2:
                    self._add(names[0].span, (s, "task", head.name, names[0].value), False)
                elif len(names) == 1:
                    self._add(names[0].span, (s, "attribute", head.name, names[0].value), False)
        for n in _walk(node):
            if id(n) in across:
                continue
            if isinstance(n, ast.Ref):
                if n.name in tasks:
                    self._add(n.span, (s, "task", plan_product, n.name), False)
                elif n.name in attrs_:
                    self._add(n.span, (s, "attribute", product, n.name), False)
                elif n.name in scope.tables:
                    self._add(n.span, (s, "table", n.name), False)
            elif isinstance(n, ast.Arg) and n.shorthand:
                pass  # the shorthand's expression is a Ref, handled above
            elif isinstance(n, ast.OperationCall):
                self._add(n.system.span, (s, "system", n.system.value), False)
                self._add(n.operation.span, (s, "operation", n.system.value, n.operation.value), False)
            elif isinstance(n, ast.RetryRef):
                self._add(n.name.span, (s, "retry", n.name.value), False)

    def _index(self, scope: CatalogScope) -> None:
        s = scope.name
        for f in scope.files:
            for d in f.module.declarations:
                if isinstance(d, (ast.CommercialProduct, ast.TechnicalProduct)):
                    code = d.code.value
                    self._add(d.code.span, (s, "product", code), True, d)
                    for a in d.attributes:
                        self._add(a.name.span, (s, "attribute", code, a.name.value), True, a)
                    for h in d.children:
                        self._add(h.product.span, (s, "product", h.product.value), False)
                elif isinstance(d, ast.Table):
                    self._add(d.name.span, (s, "table", d.name.value), True, d)
                elif isinstance(d, ast.Validation):
                    self._add(d.product.span, (s, "product", d.product.value), False)
                    self._expr(scope, (d.when, d.require), d.product.value)
                elif isinstance(d, ast.Enrichment):
                    code = d.product.value
                    self._add(d.product.span, (s, "product", code), False)
                    for r in d.rules:
                        self._add(r.name.span, (s, "attribute", code, r.name.value), True, r)
                        self._expr(scope, r.expr, code)
                elif isinstance(d, ast.Decomposition):
                    if d.source is not None:
                        self._add(d.source.span, (s, "product", d.source.value), False)
                    self._add(d.target.span, (s, "product", d.target.value), False)
                    src = d.source.value if d.source is not None else None
                    self._expr(scope, (d.when, d.per), src)
                    for m in d.mappings:
                        self._add(m.target.span, (s, "attribute", d.target.value, m.target.value), False)
                        self._expr(scope, m.expr, src)
                elif isinstance(d, ast.RetryPolicy):
                    self._add(d.name.span, (s, "retry", d.name.value), True, d)
                    self._expr(scope, d.spec, None)
                elif isinstance(d, ast.System):
                    self._add(d.name.span, (s, "system", d.name.value), True, d)
                    for op in d.operations:
                        self._add(op.name.span, (s, "operation", d.name.value, op.name.value), True, op)
                    self._expr(scope, (d.retry, d.operations), None)
                elif isinstance(d, ast.Queue):
                    self._add(d.name.span, (s, "queue", d.name.value), True, d)
                elif isinstance(d, ast.DefaultRetry):
                    self._expr(scope, d.policy, None)
                elif isinstance(d, ast.Plan):
                    code = d.product.value
                    self._add(d.product.span, (s, "product", code), False)
                    tasks = {i.name.value for i in d.items}
                    self._expr(scope, d.when, code)
                    for item in d.items:
                        self._add(item.name.span, (s, "task", code, item.name.value), True, item)
                        if item.queue is not None:
                            self._add(item.queue.span, (s, "queue", item.queue.value), False)
                        if item.fallout is not None:
                            self._add(item.fallout.span, (s, "queue", item.fallout.value), False)
                        for dep in item.after + item.before:
                            if dep.product is not None:
                                self._add(dep.product.span, (s, "product", dep.product.value), False)
                            if dep.task is not None:
                                owner = dep.product.value if dep.product is not None else code
                                self._add(dep.task.span, (s, "task", owner, dep.task.value), False)
                        for line in item.sets:
                            self._add(line.attribute.span, (s, "attribute", code, line.attribute.value), False)
                        self._expr(
                            scope,
                            (item.call, item.python, item.wait_until, item.when, tuple(x.expr for x in item.sets), item.compensate, item.retry),
                            code,
                            tasks,
                            code,
                        )

    # ---- queries --------------------------------------------------------------

    def at(self, file: str, line: int, column: int) -> Occurrence | None:
        best = None
        for occ in self.by_file.get(file, []):
            if contains(occ.span, line, column):
                if best is None or occ.span.end - occ.span.start < best.span.end - best.span.start:
                    best = occ
        return best

    def definitions(self, key: tuple) -> list[tuple[Span, object]]:
        return self.defs.get(key, [])

    def references(self, key: tuple, include_declaration: bool) -> list[Span]:
        spans = list(self.refs.get(key, []))
        if include_declaration:
            spans = [sp for sp, _ in self.definitions(key)] + spans
        return sorted(set(spans), key=lambda sp: (sp.file, sp.start))

    def hover(self, key: tuple) -> str | None:
        from om_dsl.format import expressions as fx

        kind = key[1]
        defs = self.definitions(key)
        if not defs:
            return None
        node = defs[0][1]
        if kind == "product":
            if isinstance(node, ast.CommercialProduct):
                head = f"commercial {node.code.value} ({node.role})"
            else:
                head = f"technical {node.code.value} ({node.kind})"
            text = f"```om\n{head}\n```"
            if node.display_name is not None:
                text += f"\n\n{node.display_name.value}"
            return text
        if kind == "attribute":
            if isinstance(node, ast.Attribute):
                return f"```om\n{fx.attribute(node)}\n```\n\nattribute of `{key[2]}`: type `{node.type.value}`"
            return f"```om\n{node.name.value}: {node.type.value}\n```\n\nenriched attribute of `{key[2]}` (derived)"
        if kind == "task":
            lines = []
            for _, item in defs:
                what = f"{item.kind} {item.name.value}"
                if item.call is not None:
                    what += f" = {item.call.system.value}.{item.call.operation.value}(...)"
                elif item.python is not None:
                    what += f" = python {fx.literal(item.python.target)}(...)"
                elif item.queue is not None:
                    what += f" queue {item.queue.value}"
                lines.append(what)
            return "```om\n" + "\n".join(dict.fromkeys(lines)) + f"\n```\n\ntask of the plans of `{key[2]}`"
        if kind == "operation":
            return f"```om\noperation {key[2]}.{fx.operation(node)}\n```"
        if kind == "system":
            title = f"\n\n{node.display_name.value}" if node.display_name is not None else ""
            ops = ", ".join(f"`{o.name.value}`" for o in node.operations)
            return f"```om\nsystem {node.name.value}\n```{title}\n\noperations: {ops}"
        if kind == "retry":
            return f"```om\nretry {node.name.value} = {fx.retry_spec(node.spec)}\n```"
        if kind == "queue":
            title = f"\n\n{node.display_name.value}" if node.display_name is not None else ""
            return f"```om\nqueue {node.name.value}\n```{title}"
        if kind == "table":
            return f"```om\ntable {node.name.value}: {node.key_type.value} -> {node.value_type.value}\n```\n\n{len(node.entries)} entries"
        return None


def enclosing_product(module: ast.Module, line: int) -> str | None:
    """The product whose declaration (product, enrich, validate, plan, decompose) holds `line`."""
    for d in module.declarations:
        if d.span.line <= line <= d.span.end_line:
            if isinstance(d, (ast.CommercialProduct, ast.TechnicalProduct)):
                return d.code.value
            if isinstance(d, (ast.Enrichment, ast.Validation, ast.Plan)):
                return d.product.value
            if isinstance(d, ast.Decomposition):
                return d.source.value if d.source is not None else None
    return None


def completions(index: Index | None, file: str, text: str, line: int, column: int) -> list[tuple[str, str, str]]:
    """(label, kind, detail) for the cursor at 1-based (line, column)."""
    lines = text.split("\n")
    current = lines[line - 1] if 0 < line <= len(lines) else ""
    before = current[: column - 1]
    items: list[tuple[str, str, str]] = []
    scope = index.scope_of_file.get(file) if index is not None else None
    m = re.search(r"([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z0-9_]*)$", before)
    if m and scope is not None:
        owner = m.group(1)
        if owner in scope.systems:
            return [(op.name.value, "operation", f"{owner} operation") for op in scope.systems[owner].operations]
        if scope.product(owner) is not None:
            names = {i.name.value for (code, _), p in scope.plans.items() if code == owner for i in p.items}
            return [(n, "task", f"task of {owner}") for n in sorted(names)]
        return []
    if scope is not None:
        items += [(c, "product", "product") for c in scope.product_codes]
        items += [(n, "system", "system") for n in sorted(scope.systems)]
        items += [(n, "queue", "queue") for n in sorted(scope.queues)]
        items += [(n, "retry", "retry policy") for n in sorted(scope.retry_policies)]
        items += [(n, "table", "table") for n in sorted(scope.tables)]
        source = next((f for f in scope.files if f.path == file), None)
        if source is not None:
            code = enclosing_product(source.module, line)
            if code is not None:
                items += [(a, "attribute", f"attribute of {code}") for a in sorted(index._product_attrs(scope, code))]
    items += [(k, "keyword", "keyword") for k in KEYWORDS]
    items += [(t, "type", "type") for t in TYPES]
    seen = set()
    return [i for i in items if not (i[0] in seen or seen.add(i[0]))]


def document_symbols(module: ast.Module) -> list[tuple[str, str, Span, Span, list]]:
    """(name, kind, span, selection span, children) for the declarations of a file and their members."""
    out = []
    for d in module.declarations:
        if isinstance(d, (ast.CommercialProduct, ast.TechnicalProduct)):
            kids = [(a.name.value, "attribute", a.span, a.name.span, []) for a in d.attributes]
            out.append((d.code.value, "product", d.span, d.code.span, kids))
        elif isinstance(d, ast.System):
            kids = [(o.name.value, "operation", o.span, o.name.span, []) for o in d.operations]
            out.append((d.name.value, "system", d.span, d.name.span, kids))
        elif isinstance(d, ast.Plan):
            kids = [(i.name.value, "task", i.span, i.name.span, []) for i in d.items]
            out.append((f"plan {d.product.value} on {d.action.value}", "plan", d.span, d.product.span, kids))
        elif isinstance(d, ast.Enrichment):
            kids = [(r.name.value, "attribute", r.span, r.name.span, []) for r in d.rules]
            out.append((f"enrich {d.product.value}", "enrich", d.span, d.product.span, kids))
        elif isinstance(d, ast.Validation):
            out.append((f"validate {d.product.value} {d.name.value}", "validation", d.span, d.name.span, []))
        elif isinstance(d, ast.Decomposition):
            out.append((f"decompose {d.name.value}", "decomposition", d.span, d.name.span, []))
        elif isinstance(d, ast.Table):
            out.append((d.name.value, "table", d.span, d.name.span, []))
        elif isinstance(d, ast.RetryPolicy):
            out.append((d.name.value, "retry", d.span, d.name.span, []))
        elif isinstance(d, ast.Queue):
            out.append((d.name.value, "queue", d.span, d.name.span, []))
    return out
