"""Lay a parsed module out in canonical form, with the source's comments.

The printer turns the AST into output lines. Each line records the source
ranges (`extents`) of the construct it prints, so every code token of the
source has one owning line. Comments are then attached by position:

- a comment after code on its line is the *trailing* comment of the line
  that owns the token just before it, when that token ends the line's
  construct; otherwise it sits inside the construct (a multi-line
  expression, say), and is moved onto its own line just before it;
- a comment on a line of its own is a *leading* comment of the line that
  owns the next token: it stays before the same construct. Before a `}`
  (or a `)`), it stays at the end of that block; with no code after it, at
  the end of the file.

An argument list that holds a comment is printed one argument per line, so
that the comments stay next to their arguments.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Iterable, Union

import attrs

from om_dsl.format import expressions as fx
from om_dsl.format.scanner import Comment, Scan
from om_dsl.syntax import ast

INDENT = "  "

# Declarations printed on one line; every other one is a `{ ... }` block.
_ONE_LINE = (ast.Use, ast.DefaultRetry, ast.DefaultTimeout, ast.RetryPolicy, ast.Queue, ast.TaskPackage)

Call = Union[ast.OperationCall, ast.PythonCall]


@attrs.define(eq=False)
class Line:
    """One output line, and where its construct is in the source.

    `role` decides the blank lines around it:
      top     a declaration (or the header): blank lines by the top-level rule;
      member  a member of a block: a blank line kept where the source had one;
      sub     a clause of a plan item, an argument: never a blank line;
      close   `}` or `)`: its comments are the end of the block;
      eof     no text: the comments at the end of the file.
    `blank` is None to keep the source's blank line, or True/False to force it.
    `tight`: no blank line at all among this line and its comments (inside an
    argument list).
    """

    indent: int
    text: str
    extents: list[tuple[int, int]]
    role: str
    blank: bool | None = None
    leading: list[Comment] = attrs.field(factory=list)
    hoisted: list[Comment] = attrs.field(factory=list)
    trailing: Comment | None = None
    first_token: int | None = None
    last_token: int | None = None
    tight: bool = False


class Printer:
    def __init__(self, module: ast.Module, scan: Scan):
        self.module = module
        self.scan = scan
        self.lines: list[Line] = []
        self._comment_starts = [c.start for c in scan.comments]

    # ---- helpers ---------------------------------------------------------------

    def add(self, indent: int, text: str, extents: Iterable[tuple[int, int]], role: str, blank: bool | None = None) -> Line:
        line = Line(indent, text, [e for e in extents if e[1] > e[0]], role, blank)
        self.lines.append(line)
        return line

    def open_brace_end(self, after: int) -> int:
        return self.scan.find(after, "{").end

    def has_comment(self, start: int, end: int) -> bool:
        i = bisect_right(self._comment_starts, start)
        return i < len(self._comment_starts) and self._comment_starts[i] < end

    def kw(self, node: ast.Node, *words: str) -> tuple[int, int]:
        """The extent of `KEYWORD value`, from the keyword before `node` to its end."""
        return (self.scan.keyword_before(node.span.start, words), node.span.end)

    # ---- the module ----------------------------------------------------------------

    def module_lines(self) -> list[Line]:
        m = self.module
        previous: str | None = None  # "header", "block" or "line"
        if m.header is not None:
            self.add(0, self.header(m.header), [(m.header.span.start, m.header.span.end)], "top", blank=False)
            previous = "header"
        for decl in m.declarations:
            block = not isinstance(decl, _ONE_LINE)
            if previous is None:
                blank: bool | None = False
            elif previous in ("header", "block") or block:
                blank = True
            else:
                blank = None
            self.declaration(decl, blank)
            previous = "block" if block else "line"
        self.add(0, "", [], "eof")
        return self.lines

    def header(self, h: ast.CatalogHeader | ast.LibraryHeader) -> str:
        if isinstance(h, ast.LibraryHeader):
            return f"library {h.name.value}"
        version = f" version {fx.literal(h.version)}" if h.version is not None else ""
        return f"catalog {h.name.value}{version}"

    def declaration(self, d: ast.Declaration, blank: bool | None) -> None:
        span = (d.span.start, d.span.end)
        if isinstance(d, ast.Use):
            self.add(0, f"use {fx.literal(d.path)}", [span], "top", blank)
        elif isinstance(d, ast.TaskPackage):
            self.add(0, f"tasks {fx.literal(d.path)}", [span], "top", blank)
        elif isinstance(d, ast.DefaultRetry):
            self.add(0, f"default retry {fx.retry_spec(d.policy)}", [span], "top", blank)
        elif isinstance(d, ast.DefaultTimeout):
            self.add(0, f"default timeout {fx.literal(d.duration)}", [span], "top", blank)
        elif isinstance(d, ast.RetryPolicy):
            self.add(0, f"retry {d.name.value} = {fx.retry_spec(d.spec)}", [span], "top", blank)
        elif isinstance(d, ast.Queue):
            display = f" {fx.literal(d.display_name)}" if d.display_name is not None else ""
            self.add(0, f"queue {d.name.value}{display}", [span], "top", blank)
        elif isinstance(d, ast.CommercialProduct):
            self.open(d, f"commercial {d.code.value} {fx.literal(d.display_name)} {d.role}", d.display_name.span.end, blank)
            self.products_members(d)
            self.close(d)
        elif isinstance(d, ast.TechnicalProduct):
            display = f" {fx.literal(d.display_name)}" if d.display_name is not None else ""
            after = (d.display_name or d.code).span.end
            self.open(d, f"technical {d.code.value}{display} {d.kind}", after, blank)
            self.products_members(d)
            self.close(d)
        elif isinstance(d, ast.Table):
            self.open(d, f"table {d.name.value}: {d.key_type.value} -> {d.value_type.value}", d.value_type.span.end, blank)
            for i, entry in enumerate(d.entries):
                text = f"{fx.literal(entry.key)}: {fx.literal(entry.value)}"
                self.member(text, [(entry.span.start, entry.span.end)], i == 0)
            self.close(d)
        elif isinstance(d, ast.Validation):
            self.open(d, f"validate {d.product.value} {d.name.value}", d.name.span.end, blank)
            first = True
            if d.when is not None:
                self.member(f"when {fx.expr(d.when)}", [self.kw(d.when, "when")], first)
                first = False
            self.member(f"require {fx.expr(d.require)}", [self.kw(d.require, "require")], first)
            self.member(f"message {fx.literal(d.message)}", [self.kw(d.message, "message")], False)
            self.close(d)
        elif isinstance(d, ast.Enrichment):
            self.open(d, f"enrich {d.product.value}", d.product.span.end, blank)
            for i, rule in enumerate(d.rules):
                text = f"{rule.name.value}: {rule.type.value} = {fx.expr(rule.expr)}"
                self.member(text, [(rule.span.start, rule.span.end)], i == 0)
            self.close(d)
        elif isinstance(d, ast.Decomposition):
            source = d.source.value if d.source is not None else "order"
            text = f"decompose {d.name.value}: {source} -> {d.target.value}"
            after = d.target.span.end
            if d.when is not None:
                text += f" when {fx.expr(d.when)}"
                after = max(after, d.when.span.end)
            if d.per is not None:
                text += f" per {fx.expr(d.per)}"
                after = max(after, d.per.span.end)
            self.open(d, text, after, blank)
            for i, mapping in enumerate(d.mappings):
                text = f"{mapping.target.value} = {fx.expr(mapping.expr)}"
                self.member(text, [(mapping.span.start, mapping.span.end)], i == 0)
            self.close(d)
        elif isinstance(d, ast.System):
            display = f" {fx.literal(d.display_name)}" if d.display_name is not None else ""
            self.open(d, f"system {d.name.value}{display}", (d.display_name or d.name).span.end, blank)
            first = True
            if d.retry is not None:
                self.member(f"retry {fx.retry_spec(d.retry)}", [self.kw(d.retry, "retry")], first)
                first = False
            if d.timeout is not None:
                self.member(f"timeout {fx.literal(d.timeout)}", [self.kw(d.timeout, "timeout")], first)
                first = False
            for op in d.operations:
                self.member(fx.operation(op), [(op.span.start, op.span.end)], first)
                first = False
            self.close(d)
        elif isinstance(d, ast.Plan):
            text = f"plan {d.product.value} on {d.action.value}"
            after = d.action.span.end
            if d.when is not None:
                text += f" when {fx.expr(d.when)}"
                after = max(after, d.when.span.end)
            self.open(d, text, after, blank)
            for i, item in enumerate(d.items):
                self.plan_item(item, i == 0)
            self.close(d)
        else:  # pragma: no cover - the grammar has no other declaration
            raise TypeError(f"unknown declaration {type(d).__name__}")

    def open(self, d: ast.Node, text: str, header_end: int, blank: bool | None) -> None:
        self.add(0, text + " {", [(d.span.start, self.open_brace_end(header_end))], "top", blank)

    def close(self, d: ast.Node) -> None:
        # In an empty block, the first comment follows the `{` without a blank line.
        empty = self.lines[-1].text.endswith("{") and self.lines[-1].role == "top"
        self.add(0, "}", [(d.span.end - 1, d.span.end)], "close", False if empty else None)

    def member(self, text: str, extents: list[tuple[int, int]], first: bool, indent: int = 1) -> Line:
        return self.add(indent, text, extents, "member", False if first else None)

    def products_members(self, d: ast.CommercialProduct | ast.TechnicalProduct) -> None:
        members: list[ast.Attribute | ast.HasChild] = sorted((*d.attributes, *d.children), key=lambda m: m.span.start)
        for i, m in enumerate(members):
            text = fx.attribute(m) if isinstance(m, ast.Attribute) else fx.has_child(m)
            self.member(text, [(m.span.start, m.span.end)], i == 0)

    # ---- plan items --------------------------------------------------------------------

    def plan_item(self, item: ast.PlanItem, first: bool) -> None:
        name = item.name.value
        start = item.span.start
        blank: bool | None = False if first else None
        if item.kind == "callout":
            assert item.call is not None
            self.call_lines(1, f"callout {name} = ", item.call, start, "", (), blank)
        elif item.kind == "auto":
            assert item.python is not None
            suffix = f" -> ({fx.params(item.outputs)})" if item.outputs else ""
            self.call_lines(1, f"auto {name} = ", item.python, start, suffix, item.outputs, blank)
        else:
            if item.kind == "manual":
                assert item.queue is not None
                description = f" {fx.literal(item.description)}" if item.description is not None else ""
                text, end = f"manual {name}{description} queue {item.queue.value}", item.queue.span.end
            elif item.kind == "milestone":
                text, end = f"milestone {name}", item.name.span.end
            elif item.wait_for is not None:
                text, end = f"wait {name} for {fx.literal(item.wait_for)}", item.wait_for.span.end
            else:
                assert item.wait_until is not None
                text, end = f"wait {name} until {fx.expr(item.wait_until)}", item.wait_until.span.end
            self.add(1, text, [(start, end)], "member", blank)
        self.clauses(item)

    def call_lines(
        self,
        indent: int,
        prefix: str,
        call: Call,
        start: int,
        suffix: str,
        outputs: tuple[ast.Param, ...],
        blank: bool | None,
        role: str = "member",
    ) -> None:
        """`prefix call suffix` on one line, or one argument per line when comments are inside."""
        name_end = (call.operation if isinstance(call, ast.OperationCall) else call.target).span.end
        lparen = self.scan.find(name_end, "(")
        rparen_start = call.span.end - 1
        tail_end = outputs[-1].span.end if outputs else call.span.end
        if not self.has_comment(lparen.start, rparen_start):
            self.add(indent, prefix + fx.call(call) + suffix, [(start, max(tail_end, call.span.end))], role, blank)
            return
        self.add(indent, prefix + fx.call_head(call) + "(", [(start, lparen.end)], role, blank)
        for i, a in enumerate(call.args):
            comma = "," if i < len(call.args) - 1 else ""
            self.add(indent + 1, fx.arg(a) + comma, [(a.span.start, a.span.end)], "sub", False)
        self.add(indent, ")" + suffix, [(rparen_start, max(tail_end, call.span.end))], "close").tight = True

    def clauses(self, item: ast.PlanItem) -> None:
        for word, deps in (("after", item.after), ("before", item.before)):
            if deps:
                extents = [self.kw(dep, word) for dep in deps]
                self.sub(f"{word} {', '.join(fx.dependency(dep) for dep in deps)}", extents)
        if item.when is not None:
            self.sub(f"when {fx.expr(item.when)}", [self.kw(item.when, "when")])
        for s in item.sets:
            self.sub(f"sets {s.attribute.value} = {fx.expr(s.expr)}", [(s.span.start, s.span.end)])
        if item.compensate is not None:
            c = item.compensate
            self.call_lines(2, "compensate ", c, self.scan.keyword_before(c.span.start, ("compensate",)), "", (), False, role="sub")
        if item.point_of_no_return is not None:
            p = item.point_of_no_return
            self.sub("point_of_no_return" + (" soft" if p.kind == "soft" else ""), [(p.span.start, p.span.end)])
        if item.on_amend is not None:
            self.sub(f"on amend {item.on_amend.kind}", [(item.on_amend.span.start, item.on_amend.span.end)])
        if item.due is not None:
            self.sub(f"due {fx.literal(item.due)}", [self.kw(item.due, "due")])
        if item.retry is not None:
            self.sub(f"retry {fx.retry_spec(item.retry)}", [self.kw(item.retry, "retry")])
        if item.timeout is not None:
            self.sub(f"timeout {fx.literal(item.timeout)}", [self.kw(item.timeout, "timeout")])
        if item.fallout is not None:
            self.sub(f"fallout {item.fallout.value}", [self.kw(item.fallout, "fallout")])

    def sub(self, text: str, extents: list[tuple[int, int]]) -> None:
        self.add(2, text, extents, "sub", False)


# ---- comments ------------------------------------------------------------------------


def attach_comments(lines: list[Line], scan: Scan) -> None:
    """Give every comment of the source to a line: leading, hoisted or trailing."""
    tokens = scan.tokens
    owner: list[int | None] = [None] * len(tokens)
    for index, line in enumerate(lines):
        for start, end in line.extents:
            for t in range(scan.index_from(start), len(tokens)):
                if tokens[t].start >= end:
                    break
                if owner[t] is None:
                    owner[t] = index
    # A token no construct claims (a `)` closing a parenthesized expression, a
    # dropped `-> ()`, a trailing comma...) belongs with the token before it.
    for t in range(len(tokens)):
        if owner[t] is None:
            owner[t] = owner[t - 1] if t > 0 else next((o for o in owner if o is not None), len(lines) - 1)
    for t, index in enumerate(owner):
        assert index is not None
        line = lines[index]
        if line.first_token is None:
            line.first_token = t
        line.last_token = t
    eof = lines[-1]
    for comment in scan.comments:
        if not comment.own_line:
            prev = scan.index_before(comment.start)
            line = lines[owner[prev]]  # type: ignore[index]
            if prev == line.last_token and line.trailing is None:
                line.trailing = comment
            else:
                line.hoisted.append(comment)
            continue
        nxt = scan.index_from(comment.end)
        if nxt >= len(tokens):
            eof.leading.append(comment)
            continue
        line = lines[owner[nxt]]  # type: ignore[index]
        if nxt == line.first_token:
            line.leading.append(comment)
        else:
            line.hoisted.append(comment)


# ---- rendering ------------------------------------------------------------------------


@attrs.frozen
class _Row:
    indent: int
    code: str  # "" for a comment on a line of its own
    comment: str  # "" for none


_BLANK = None


def render(lines: list[Line], scan: Scan) -> str:
    rows: list[_Row | None] = []

    def blank_line() -> None:
        if rows and rows[-1] is not _BLANK:
            rows.append(_BLANK)

    for line in lines:
        # The elements printed for this line, each with "a blank line before it?".
        comment_indent = line.indent + 1 if line.role == "close" else line.indent
        elements: list[tuple[Comment | None, bool]] = [(c, scan.blank_before(c.start)) for c in line.leading]
        own_gap = scan.blank_before(scan.tokens[line.first_token].start) if line.first_token is not None else False
        if line.hoisted:
            # Comments from inside the construct take its place, right before it.
            elements.append((line.hoisted[0], own_gap))
            elements.extend((c, False) for c in line.hoisted[1:])
            own_gap = False
        if line.role != "eof":
            elements.append((None, own_gap))
        for i, (comment, gap) in enumerate(elements):
            if line.role == "sub" or line.tight:
                gap = False
            elif i == 0 and line.blank is not None:
                gap = line.blank
            elif comment is None and line.role == "close":
                gap = False
            if gap:
                blank_line()
            if comment is not None:
                rows.append(_Row(comment_indent, "", comment.text))
            else:
                rows.append(_Row(line.indent, line.text, line.trailing.text if line.trailing else ""))
    while rows and rows[-1] is _BLANK:
        rows.pop()
    return _join(rows)


def _join(rows: list[_Row | None]) -> str:
    out: list[str] = []
    i = 0
    while i < len(rows):
        row = rows[i]
        if row is _BLANK:
            out.append("")
            i += 1
            continue
        if not (row.code and row.comment):
            out.append(INDENT * row.indent + (row.code or row.comment))
            i += 1
            continue
        # Trailing comments of consecutive lines line up, two spaces after the longest code.
        j = i
        while j < len(rows) and rows[j] is not _BLANK and rows[j].code and rows[j].comment:  # type: ignore[union-attr]
            j += 1
        run = rows[i:j]
        width = max(len(INDENT * r.indent + r.code) for r in run) + 2  # type: ignore[union-attr]
        for r in run:
            code = INDENT * r.indent + r.code  # type: ignore[union-attr]
            out.append(code.ljust(width) + r.comment)  # type: ignore[union-attr]
        i = j
    return "\n".join(out) + "\n" if out else ""
