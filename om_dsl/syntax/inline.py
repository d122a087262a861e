"""The AST built during the LALR parse itself: no parse tree, no second pass.

Lark's usual way (parse, then `SpanTransformer.transform`) builds a Tree
with a Meta per rule, then walks it again; at 100k lines the walk alone
cost a third of the parse. Here each reduction of the parser calls the
transformer's method for its rule at once, with the rule's Span, and the
parser's value stack holds `_Built` values: the method's result and the
first and last token under it, so that a parent's span is computed exactly
as Lark's `propagate_positions` would (a `?rule` that passes its one child
up, like `( expr )`, widens the child's container, not the child's span).

Lark refuses `v_args(meta=True)` methods in its own inline mode
(`Lark(transformer=...)`), so the callbacks are made here, one per rule of
the parse table, with Lark's rules for which children a rule keeps (see
lark.parse_tree_builder: `maybe_create_child_filter`, `ExpandSingleChild`).

Only a clean parse comes from here: a syntax error, or an expression nested
deeper than MAX_DEPTH, makes `parse_source` parse the file again the usual
way, so error recovery and the E006 diagnostic are exactly those of the
tree walk (which runs out of stack at about 490 levels).
"""

from __future__ import annotations

import copy
from operator import itemgetter

from lark import Lark

try:  # Lark's own names for `v_args(meta=True)`: another Lark may lack them, then the usual way only
    from lark.visitors import _vargs_meta, _VArgsWrapper
except ImportError:  # pragma: no cover - lark 1.2 and 1.3 have them
    _vargs_meta = _VArgsWrapper = None

from om_dsl.span import Span
from om_dsl.syntax.transformer import SpanTransformer

# Deeper than this, the file is parsed the usual way (see the module's doc).
MAX_DEPTH = 100

_TOKEN, _RULE, _SPLICE = 0, 1, 2


class TooDeep(Exception):
    """An expression nested deeper than MAX_DEPTH."""


class _Built:
    """A rule's value on the parser's stack: what its method returned, the
    first and last tokens under it (None for an empty rule), and the depth
    of the AST under it (as the tree walk would recurse)."""

    __slots__ = ("value", "first", "last", "depth")

    def __init__(self, value, first, last, depth):
        self.value = value
        self.first = first
        self.last = last
        self.depth = depth


def _plans(lark: Lark) -> list[tuple] | None:
    """Per rule of the parse table: (rule, its method (a function of the class)
    or None, whether the method takes the span, which children it keeps and
    how, whether it passes a single child up, whether that child is all it
    has); None when a rule has no method and Lark would build a Tree for it
    (not a grammar of om's)."""
    if _VArgsWrapper is None:
        return None
    rules = lark.parser.parser.parser.callbacks  # Lark's own callbacks: keyed by the parse table's rules
    plans = []
    for rule in rules:
        name = rule.alias or rule.options.template_source or rule.origin.name
        keep_all = rule.options.keep_all_tokens
        kinds = tuple(
            (i, _TOKEN if sym.is_term else (_SPLICE if sym.name.startswith("_") else _RULE))
            for i, sym in enumerate(rule.expansion)
            if keep_all or not (sym.is_term and sym.filter_out)
        )
        expand1 = bool(rule.options.expand1) and not rule.alias
        method = getattr(SpanTransformer, name, None)
        takes_span = False
        if method is None:
            inlined = name.startswith("_") and not expand1
            passes_one = expand1 and len(kinds) == 1 and kinds[0][1] != _SPLICE
            if not (inlined or passes_one):
                return None
        elif isinstance(method, _VArgsWrapper):
            if method.visit_wrapper is not _vargs_meta:
                return None
            method, takes_span = method.base_func, True
        passes_on = expand1 and len(rule.expansion) == 1 and kinds == ((0, _RULE),)
        plans.append((rule, method, takes_span, kinds, expand1, passes_on))
    return plans


_cache: tuple | None = None  # (the Lark parser, its plans)


def _plans_of(lark: Lark) -> list[tuple] | None:
    global _cache
    if _cache is None or _cache[0] is not lark:
        try:
            plans = _plans(lark)
        except AttributeError:  # another Lark's internals: the usual way only
            plans = None
        _cache = (lark, plans)
    return _cache[1]


def _ends(children) -> tuple:
    """The first and last tokens under these children, skipping empty rules."""
    tokens = [t for c in children for t in ((c.first, c.last) if type(c) is _Built else (c, c)) if t is not None]
    return (tokens[0], tokens[-1]) if tokens else (None, None)


_PASS_ON = itemgetter(0)  # a `?rule` of one symbol, a rule (`?sum: term`): its child's value, positions and depth as they are


def _callback(transformer: SpanTransformer, method, takes_span: bool, kinds: tuple, expand1: bool, passes_on: bool):
    if passes_on:
        return _PASS_ON
    if method is not None:
        method = method.__get__(transformer)
    file = transformer.file

    def reduce(children):
        # Lark's propagate_positions: from the first child with a position to the last one.
        if children:
            c = children[0]
            first = c.first if type(c) is _Built else c
            c = children[-1]
            last = c.last if type(c) is _Built else c
            if first is None or last is None:  # an empty rule at an end (not in om's grammar)
                first, last = _ends(children)
        else:
            first = last = None
        kids = []
        depth = 0
        for i, kind in kinds:
            c = children[i]
            if kind == _TOKEN:
                kids.append(c)
                continue
            if c.depth > depth:
                depth = c.depth
            if kind == _RULE:
                kids.append(c.value)
            elif kids:
                kids.extend(c.value)
            else:  # Lark's `x*` is left-recursive: its list grows in place, as Lark's ChildFilterLALR does
                kids = c.value
        if expand1 and len(kids) == 1:
            return _Built(kids[0], first, last, depth)
        if method is None:  # an inlined rule (`_name`, Lark's `x*`): its children go into the parent's
            return _Built(kids, first, last, depth)
        depth += 1
        if depth > MAX_DEPTH:
            raise TooDeep()
        if not takes_span:
            return _Built(method(kids), first, last, depth)
        if first is None:
            span = Span(file, 1, 1, 1, 1, 0, 0)
        else:
            span = Span(file, first.line, first.column, last.end_line, last.end_column, first.start_pos, last.end_pos)
        return _Built(method(span, kids), first, last, depth)

    return reduce


def parse_inline(lark: Lark, text: str, transformer: SpanTransformer):
    """The module of `text`, built as it is parsed; None when this Lark's
    parser cannot be driven so. Raises Lark's errors, and TooDeep."""
    plans = _plans_of(lark)
    if plans is None:
        return None
    callbacks = {rule: _callback(transformer, *plan) for rule, *plan in plans}
    frontend = lark.parser
    parser = copy.copy(frontend.parser.parser)  # the LALR tables, with these callbacks
    parser.callbacks = callbacks
    result = parser.parse(frontend._make_lexer_thread(text), frontend._verify_start(None))
    return result.value
