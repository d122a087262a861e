"""Lark parse tree -> typed AST nodes, each with its span.

The same methods build the AST during the parse (syntax/inline.py, which
passes each a Span instead of Lark's Meta); the tree walk is for files with
a syntax error, whose recovery works on Lark's trees."""

from __future__ import annotations

from decimal import Decimal

from lark import Token, Transformer, v_args
from lark.exceptions import GrammarError, VisitError

from om_dsl.diagnostics.diagnostic import error
from om_dsl.durations import UNITS_MS, parse_duration
from om_dsl.limits import MAX_DIGITS, MAX_DURATION_MS
from om_dsl.span import Span
from om_dsl.syntax import ast


def unquote(text: str) -> str:
    body = text[1:-1]
    if "\\" not in body:
        return body
    out, i = [], 0
    escapes = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            out.append(escapes.get(body[i + 1], body[i + 1]))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


class SpanTransformer(Transformer):
    """Builds the AST. Every rule method takes `meta` to give nodes their span."""

    def __init__(self, file: str):
        super().__init__(visit_tokens=False)
        self.file = file
        self.diagnostics: list = []
        self._methods: dict = {}

    def _call_userfunc(self, tree, new_children=None):
        """Lark's, with each rule's method looked up once per file: Lark looks it up
        per node, and looking up a `v_args` method builds a new wrapper each time
        (functools.update_wrapper), a fifth of the transform of a large file."""
        method = self._methods.get(tree.data)
        if method is None:
            method = getattr(self, tree.data, None)
            if method is None:
                return super()._call_userfunc(tree, new_children)
            self._methods[tree.data] = method
        children = new_children if new_children is not None else tree.children
        try:
            wrapper = getattr(method, "visit_wrapper", None)
            if wrapper is not None:
                return wrapper(method, tree.data, children, tree.meta)
            return method(children)
        except GrammarError:
            raise
        except Exception as e:
            raise VisitError(tree.data, tree, e) from e

    # ---- helpers -----------------------------------------------------------

    def span(self, meta) -> Span:
        if type(meta) is Span:  # built during the parse (syntax/inline.py)
            return meta
        if getattr(meta, "empty", False):
            return Span(self.file, 1, 1, 1, 1, 0, 0)
        return Span(self.file, meta.line, meta.column, meta.end_line, meta.end_column, meta.start_pos, meta.end_pos)

    def tspan(self, tok: Token) -> Span:
        return Span(self.file, tok.line, tok.column, tok.end_line, tok.end_column, tok.start_pos, tok.end_pos)

    def name(self, tok: Token) -> ast.Name:
        return ast.Name(str(tok), span=self.tspan(tok))

    def lit(self, kind: str, value, tok: Token, span: Span | None = None) -> ast.Literal:
        return ast.Literal(kind, value, str(tok), span=span or self.tspan(tok))

    # Numbers are bounded as text, before any conversion: `int()` of 5,000 digits
    # raises, and a store or a clock cannot hold every duration one can write.

    def digits_ok(self, tok: Token, digits: str) -> bool:
        if len(digits) <= MAX_DIGITS:
            return True
        self.diagnostics.append(
            error(
                "E007",
                f"this number has {len(digits)} digits",
                self.tspan(tok),
                f"at most {MAX_DIGITS} digits",
                help="write a smaller number",
            )
        )
        return False

    def integer(self, tok: Token) -> int:
        """An INT token's value (0 after a diagnostic, so that the file still builds)."""
        return int(str(tok)) if self.digits_ok(tok, str(tok)) else 0

    def decimal(self, tok: Token) -> Decimal:
        text = str(tok)
        return Decimal(text) if self.digits_ok(tok, text.replace(".", "")) else Decimal(0)

    def duration(self, tok: Token) -> int:
        text = str(tok)
        count = text.rstrip("mshdw")
        if not self.digits_ok(tok, count):
            return 0
        ms = parse_duration(text)
        if ms > MAX_DURATION_MS:
            self.diagnostics.append(
                error(
                    "E007",
                    f"the duration {text} is longer than a century",
                    self.tspan(tok),
                    f"at most {MAX_DURATION_MS // UNITS_MS['d']}d",
                    help="no due time, wait, timeout or retry of an order may span more than a century",
                )
            )
            return 0
        return ms

    # ---- file ----------------------------------------------------------------

    @v_args(meta=True)
    def start(self, meta, children):
        header = None
        if children and isinstance(children[0], (ast.CatalogHeader, ast.LibraryHeader)):
            header, children = children[0], children[1:]
        return ast.Module(header, tuple(children), span=self.span(meta))

    @v_args(meta=True)
    def catalog_header(self, meta, c):
        version = self.string_lit_tok(c[1]) if len(c) > 1 else None
        return ast.CatalogHeader(self.name(c[0]), version, span=self.span(meta))

    @v_args(meta=True)
    def library_header(self, meta, c):
        return ast.LibraryHeader(self.name(c[0]), span=self.span(meta))

    @v_args(meta=True)
    def use(self, meta, c):
        return ast.Use(self.string_lit_tok(c[0]), span=self.span(meta))

    @v_args(meta=True)
    def task_package(self, meta, c):
        return ast.TaskPackage(self.string_lit_tok(c[0]), span=self.span(meta))

    @v_args(meta=True)
    def default_retry(self, meta, c):
        return ast.DefaultRetry(c[0], span=self.span(meta))

    @v_args(meta=True)
    def default_timeout(self, meta, c):
        return ast.DefaultTimeout(self.duration_tok(c[0]), span=self.span(meta))

    # ---- products ------------------------------------------------------------

    def commercial_role(self, c):
        return str(c[0])

    technical_kind = commercial_role
    presence = commercial_role

    def action(self, c):
        return self.name(c[0])

    ponr_kind = commercial_role
    amend_strategy = commercial_role
    scope = commercial_role
    line_scope = commercial_role
    compare_op = commercial_role
    add_op = commercial_role
    mul_op = commercial_role

    def _members(self, members):
        attributes = tuple(m for m in members if isinstance(m, ast.Attribute))
        children = tuple(m for m in members if isinstance(m, ast.HasChild))
        return attributes, children

    @v_args(meta=True)
    def commercial(self, meta, c):
        attributes, children = self._members(c[3:])
        return ast.CommercialProduct(self.name(c[0]), self.string_lit_tok(c[1]), c[2], attributes, children, span=self.span(meta))

    @v_args(meta=True)
    def technical(self, meta, c):
        code = self.name(c[0])
        rest = c[1:]
        display = None
        if isinstance(rest[0], Token) and rest[0].type == "STRING":
            display, rest = self.string_lit_tok(rest[0]), rest[1:]
        attributes, children = self._members(rest[1:])
        return ast.TechnicalProduct(code, display, rest[0], attributes, children, span=self.span(meta))

    @v_args(meta=True)
    def attribute(self, meta, c):
        name, type_ = self.name(c[0]), self.name(c[1])
        allowed = default = presence = None
        for part in c[2:]:
            if isinstance(part, (ast.AllowedSet, ast.AllowedRange)):
                allowed = part
            elif isinstance(part, ast.Literal):
                default = part
            else:
                presence = part
        return ast.Attribute(name, type_, allowed, default, presence, span=self.span(meta))

    @v_args(meta=True)
    def allowed_set(self, meta, c):
        return ast.AllowedSet(tuple(c), span=self.span(meta))

    @v_args(meta=True)
    def allowed_range(self, meta, c):
        return ast.AllowedRange(c[0], c[1], span=self.span(meta))

    @v_args(meta=True)
    def has_child(self, meta, c):
        # Every token is kept (`!has_child`): has NAME [ LOW ( .. HIGH|* )? ]
        name, low = c[1], self.integer(c[3])
        if str(c[4]) == "]":
            high = low
        else:
            high = None if str(c[5]) == "*" else self.integer(c[5])
        return ast.HasChild(self.name(name), low, high, span=self.span(meta))

    # ---- rules -----------------------------------------------------------------

    @v_args(meta=True)
    def table(self, meta, c):
        return ast.Table(self.name(c[0]), self.name(c[1]), self.name(c[2]), tuple(c[3:]), span=self.span(meta))

    @v_args(meta=True)
    def table_entry(self, meta, c):
        return ast.TableEntry(c[0], c[1], span=self.span(meta))

    @v_args(meta=True)
    def validation(self, meta, c):
        product, name = self.name(c[0]), self.name(c[1])
        if len(c) == 5:
            when, require, message = c[2], c[3], c[4]
        else:
            when, require, message = None, c[2], c[3]
        return ast.Validation(product, name, when, require, self.string_lit_tok(message), span=self.span(meta))

    @v_args(meta=True)
    def enrichment(self, meta, c):
        return ast.Enrichment(self.name(c[0]), tuple(c[1:]), span=self.span(meta))

    @v_args(meta=True)
    def enrich_rule(self, meta, c):
        return ast.EnrichRule(self.name(c[0]), self.name(c[1]), c[2], span=self.span(meta))

    @v_args(meta=True)
    def decomposition(self, meta, c):
        name = self.name(c[0])
        source, source_span = c[1]
        target = self.name(c[2])
        clauses: dict = {}
        mappings = []
        for part in c[3:]:
            if isinstance(part, tuple):
                if part[0] in clauses:
                    self.diagnostics.append(
                        error(
                            "E004",
                            f"`{part[0]}` is given twice for decomposition `{name.value}`",
                            name.span,
                            f"this decomposition has two `{part[0]}` clauses",
                            help="combine the conditions with `and`" if part[0] == "when" else f"keep one `{part[0]}` clause",
                        )
                    )
                clauses[part[0]] = part[1]
            else:
                mappings.append(part)
        when, per = clauses.get("when"), clauses.get("per")
        return ast.Decomposition(name, source, target, when, per, tuple(mappings), span=self.span(meta), source_span=source_span)

    @v_args(meta=True)
    def source_product(self, meta, c):
        return self.name(c[0]), self.span(meta)

    @v_args(meta=True)
    def source_order(self, meta, c):
        return None, self.span(meta)

    def when_clause(self, c):
        return ("when", c[0])

    def per_clause(self, c):
        return ("per", c[0])

    @v_args(meta=True)
    def mapping(self, meta, c):
        return ast.Mapping(self.name(c[0]), c[1], span=self.span(meta))

    # ---- systems -------------------------------------------------------------

    @v_args(meta=True)
    def retry_policy(self, meta, c):
        return ast.RetryPolicy(self.name(c[0]), c[1], span=self.span(meta))

    @v_args(meta=True)
    def retry_none(self, meta, c):
        return ast.RetryNone(span=self.span(meta))

    @v_args(meta=True)
    def retry_fixed(self, meta, c):
        count = self.integer(c[0]) if len(c) == 2 else None
        return ast.RetryFixed(count, self.duration_tok(c[-1]), span=self.span(meta))

    @v_args(meta=True)
    def retry_staggered(self, meta, c):
        return ast.RetryStaggered(tuple(self.duration_tok(t) for t in c), span=self.span(meta))

    @v_args(meta=True)
    def retry_exponential(self, meta, c):
        count, initial = self.integer(c[0]), self.duration_tok(c[1])
        factor = c[2] if len(c) == 4 else None
        return ast.RetryExponential(count, initial, factor, self.duration_tok(c[-1]), span=self.span(meta))

    @v_args(meta=True)
    def retry_ref(self, meta, c):
        return ast.RetryRef(self.name(c[0]), span=self.span(meta))

    @v_args(meta=True)
    def retry_spec(self, meta, c):
        if len(c) == 1:
            return c[0]
        parts = dict(c[1:])
        return ast.RetryFiltered(c[0], parts.get("for"), parts.get("fatal", ()), span=self.span(meta))

    def retry_for(self, c):
        return ("for", tuple(c))

    def retry_fatal(self, c):
        return ("fatal", tuple(c))

    @v_args(meta=True)
    def failure_class(self, meta, c):
        return ast.FailureClass(str(c[0]), span=self.span(meta))

    @v_args(meta=True)
    def system(self, meta, c):
        name = self.name(c[0])
        rest = c[1:]
        display = None
        if rest and isinstance(rest[0], Token):
            display, rest = self.string_lit_tok(rest[0]), rest[1:]
        retry = timeout = None
        operations = []
        for part in rest:
            if isinstance(part, tuple) and part[0] == "retry":
                retry = part[1]
            elif isinstance(part, tuple) and part[0] == "timeout":
                timeout = part[1]
            else:
                operations.append(part)
        return ast.System(name, display, retry, timeout, tuple(operations), span=self.span(meta))

    def system_retry(self, c):
        return ("retry", c[0])

    def system_timeout(self, c):
        return ("timeout", self.duration_tok(c[0]))

    op_retry = system_retry
    op_timeout = system_timeout

    def op_async(self, c):
        return ("async", True)

    @v_args(meta=True)
    def operation(self, meta, c):
        inputs: tuple = ()
        outputs: tuple = ()
        options: dict = {}
        for part in c[1:]:
            if isinstance(part, list):
                inputs = tuple(part)
            elif part[0] == "outputs":
                outputs = part[1]
            else:
                options[part[0]] = part[1]
        return ast.Operation(
            self.name(c[0]),
            inputs,
            outputs,
            options.get("async", False),
            options.get("retry"),
            options.get("timeout"),
            span=self.span(meta),
        )

    def outputs(self, c):
        return ("outputs", tuple(c[0]) if c else ())

    def params(self, c):
        return list(c)

    @v_args(meta=True)
    def param(self, meta, c):
        return ast.Param(self.name(c[0]), self.name(c[1]), span=self.span(meta))

    @v_args(meta=True)
    def queue(self, meta, c):
        display = self.string_lit_tok(c[1]) if len(c) > 1 else None
        return ast.Queue(self.name(c[0]), display, span=self.span(meta))

    # ---- plans -------------------------------------------------------------------

    @v_args(meta=True)
    def plan(self, meta, c):
        product = self.name(c[0])
        action = c[1]
        when = None
        items = c[2:]
        if items and not isinstance(items[0], ast.PlanItem):
            when, items = items[0], items[1:]
        return ast.Plan(product, action, when, tuple(items), span=self.span(meta))

    def _item(self, meta, kind, name_tok, clauses, **fields):
        merged: dict = {"after": [], "before": [], "sets": []}
        for key, value in clauses:
            if key in ("after", "before", "sets"):
                merged[key].extend(value)
            else:
                if key in merged:
                    words = "on amend" if key == "on_amend" else key
                    self.diagnostics.append(
                        error(
                            "E004",
                            f"`{words}` is given twice for `{name_tok}`",
                            self.tspan(name_tok),
                            f"this item has two `{words}` clauses",
                            help=f"keep one `{words}` clause per orchestration item",
                        )
                    )
                merged[key] = value
        merged = {k: (tuple(v) if isinstance(v, list) else v) for k, v in merged.items()}
        return ast.PlanItem(kind, self.name(name_tok), **fields, **merged, span=self.span(meta))

    @v_args(meta=True)
    def callout_item(self, meta, c):
        return self._item(meta, "callout", c[0], c[2:], call=c[1])

    @v_args(meta=True)
    def manual_item(self, meta, c):
        rest = c[1:]
        description = None
        if isinstance(rest[0], Token) and rest[0].type == "STRING":
            description, rest = self.string_lit_tok(rest[0]), rest[1:]
        return self._item(meta, "manual", c[0], rest[1:], queue=self.name(rest[0]), description=description)

    @v_args(meta=True)
    def auto_item(self, meta, c):
        rest = c[2:]
        outputs = ()
        if rest and isinstance(rest[0], tuple) and rest[0][0] == "outputs":
            outputs, rest = rest[0][1], rest[1:]
        return self._item(meta, "auto", c[0], rest, python=c[1], outputs=outputs)

    @v_args(meta=True)
    def milestone_item(self, meta, c):
        return self._item(meta, "milestone", c[0], c[1:])

    @v_args(meta=True)
    def wait_item(self, meta, c):
        kind, value = c[1]
        fields = {"wait_for": value} if kind == "for" else {"wait_until": value}
        return self._item(meta, "wait", c[0], c[2:], **fields)

    def wait_for(self, c):
        return ("for", self.duration_tok(c[0]))

    def wait_until(self, c):
        return ("until", c[0])

    @v_args(meta=True)
    def operation_call(self, meta, c):
        args = tuple(c[2]) if len(c) > 2 else ()
        return ast.OperationCall(self.name(c[0]), self.name(c[1]), args, span=self.span(meta))

    @v_args(meta=True)
    def python_call(self, meta, c):
        args = tuple(c[1]) if len(c) > 1 else ()
        return ast.PythonCall(self.string_lit_tok(c[0]), args, span=self.span(meta))

    def call_args(self, c):
        return list(c)

    @v_args(meta=True)
    def named_arg(self, meta, c):
        return ast.Arg(self.name(c[0]), c[1], span=self.span(meta))

    @v_args(meta=True)
    def shorthand_arg(self, meta, c):
        name = self.name(c[0])
        return ast.Arg(name, ast.Ref(name.value, span=name.span), shorthand=True, span=self.span(meta))

    def after_clause(self, c):
        return ("after", list(c))

    def before_clause(self, c):
        return ("before", list(c))

    def compensate_clause(self, c):
        return ("compensate", c[0])

    @v_args(meta=True)
    def ponr_clause(self, meta, c):
        return ("point_of_no_return", ast.PointOfNoReturn(c[0] if c else "hard", span=self.span(meta)))

    @v_args(meta=True)
    def amend_clause(self, meta, c):
        return ("on_amend", ast.AmendStrategy(str(c[0]), span=self.span(meta)))

    def due_clause(self, c):
        return ("due", self.duration_tok(c[0]))

    def retry_clause(self, c):
        return ("retry", c[0])

    def timeout_clause(self, c):
        return ("timeout", self.duration_tok(c[0]))

    def fallout_clause(self, c):
        return ("fallout", self.name(c[0]))

    @v_args(meta=True)
    def sets_clause(self, meta, c):
        return ("sets", [ast.SetsLine(self.name(c[0]), c[1], span=self.span(meta))])

    @v_args(meta=True)
    def dep_local(self, meta, c):
        return ast.Dependency(self.name(c[0]), None, "plan", span=self.span(meta))

    @v_args(meta=True)
    def dep_product(self, meta, c):
        return ast.Dependency(self.name(c[1]), self.name(c[0]), c[2], span=self.span(meta))

    @v_args(meta=True)
    def dep_every(self, meta, c):
        return ast.Dependency(None, None, c[0], span=self.span(meta))

    # ---- expressions -------------------------------------------------------------

    @v_args(meta=True)
    def if_expr(self, meta, c):
        return ast.IfElse(c[0], c[1], c[2], span=self.span(meta))

    @v_args(meta=True)
    def or_op(self, meta, c):
        return ast.Binary("or", c[0], c[1], span=self.span(meta))

    @v_args(meta=True)
    def and_op(self, meta, c):
        return ast.Binary("and", c[0], c[1], span=self.span(meta))

    @v_args(meta=True)
    def not_op(self, meta, c):
        return ast.Unary("not", c[0], span=self.span(meta))

    @v_args(meta=True)
    def compare(self, meta, c):
        return ast.Binary(c[1], c[0], c[2], span=self.span(meta))

    arith = compare

    @v_args(meta=True)
    def in_op(self, meta, c):
        return ast.InSet(c[0], c[1], False, span=self.span(meta))

    @v_args(meta=True)
    def not_in_op(self, meta, c):
        return ast.InSet(c[0], c[1], True, span=self.span(meta))

    @v_args(meta=True)
    def line_read(self, meta, c):
        return ast.LineRead(c[0], str(c[1]), span=self.span(meta))

    @v_args(meta=True)
    def is_null(self, meta, c):
        return ast.IsNull(c[0], False, span=self.span(meta))

    @v_args(meta=True)
    def is_not_null(self, meta, c):
        return ast.IsNull(c[0], True, span=self.span(meta))

    @v_args(meta=True)
    def neg(self, meta, c):
        operand = c[0]
        if isinstance(operand, ast.Literal) and operand.kind in ("int", "decimal"):
            return ast.Literal(operand.kind, -operand.value, "-" + operand.text, span=self.span(meta))
        return ast.Unary("-", operand, span=self.span(meta))

    @v_args(meta=True)
    def member(self, meta, c):
        return ast.Member(c[0], self.name(c[1]), span=self.span(meta))

    @v_args(meta=True)
    def lookup(self, meta, c):
        return ast.Lookup(c[0], c[1], span=self.span(meta))

    @v_args(meta=True)
    def ref(self, meta, c):
        return ast.Ref(str(c[0]), span=self.span(meta))

    @v_args(meta=True)
    def call(self, meta, c):
        return ast.Call(self.name(c[0]), tuple(c[1:]), span=self.span(meta))

    @v_args(meta=True)
    def order_field(self, meta, c):
        return ast.OrderField(self.name(c[0]), span=self.span(meta))

    @v_args(meta=True)
    def set_literal(self, meta, c):
        return ast.SetLiteral(tuple(c), span=self.span(meta))

    @v_args(meta=True)
    def map_expr(self, meta, c):
        return ast.MapExpr(c[0], tuple(c[1:]), span=self.span(meta))

    @v_args(meta=True)
    def map_entry(self, meta, c):
        return ast.MapEntry(c[0], c[1], span=self.span(meta))

    # ---- literals ----------------------------------------------------------------

    def int_lit(self, c):
        return self.lit("int", self.integer(c[0]), c[0])

    def decimal_lit(self, c):
        return self.lit("decimal", self.decimal(c[0]), c[0])

    @v_args(meta=True)
    def neg_int_lit(self, meta, c):
        return ast.Literal("int", -self.integer(c[0]), "-" + str(c[0]), span=self.span(meta))

    @v_args(meta=True)
    def neg_decimal_lit(self, meta, c):
        return ast.Literal("decimal", -self.decimal(c[0]), "-" + str(c[0]), span=self.span(meta))

    def string_lit(self, c):
        return self.string_lit_tok(c[0])

    def string_lit_tok(self, tok: Token) -> ast.Literal:
        return self.lit("string", unquote(str(tok)), tok)

    def date_lit(self, c):
        return self.lit("date", str(c[0]), c[0])

    def duration_lit(self, c):
        return self.duration_tok(c[0])

    def duration_tok(self, tok: Token) -> ast.Literal:
        return self.lit("duration", self.duration(tok), tok)

    @v_args(meta=True)
    def true_lit(self, meta, c):
        return ast.Literal("bool", True, "true", span=self.span(meta))

    @v_args(meta=True)
    def false_lit(self, meta, c):
        return ast.Literal("bool", False, "false", span=self.span(meta))

    @v_args(meta=True)
    def null_lit(self, meta, c):
        return ast.Literal("null", None, "null", span=self.span(meta))
