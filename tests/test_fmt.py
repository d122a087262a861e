"""`om fmt`: the canonical layout, idempotence, meaning and comments kept, the CLI."""

from __future__ import annotations

import random
import re
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import om_dsl.cli.fmt  # noqa: F401 - registers `om fmt` on `main`
from om_dsl.cli import main
from om_dsl.format import FormatError, format_source
from om_dsl.format.expressions import duration, expr, string
from om_dsl.format.scanner import scan
from om_dsl.syntax import ast, parse_source

from support.mutations import BASIC, LAYOUT, mutate

ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^```om\n(.*?)^```", re.MULTILINE | re.DOTALL)  # as tests/test_docs.py


def _read(path: Path) -> str | None:
    try:
        return path.read_bytes().decode("utf-8-sig").replace("\r\n", "\n")
    except UnicodeDecodeError:
        return None


SPECS = {p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8") for p in sorted((ROOT / "specs").rglob("*.om"))}
UI = {p.relative_to(ROOT).as_posix(): _read(p) for p in sorted((ROOT / "tests" / "ui").glob("*.om"))}
UI_PARSING = {name: text for name, text in UI.items() if text is not None and parse_source(text, name).ok}
DOC_BLOCKS = {
    f"{p.relative_to(ROOT).as_posix()}#{i}": block
    for p in sorted((ROOT / "docs").rglob("*.md"))
    for i, block in enumerate(FENCE.findall(p.read_text(encoding="utf-8")))
}
CORPUS = {**SPECS, **UI_PARSING, **DOC_BLOCKS}


def comments(text: str) -> list[str]:
    return [c.text for c in scan(text).comments]


def assert_canonical(text: str, name: str = "t.om", *, same_comment_order: bool = True) -> str:
    """Format `text` and check every guarantee; return the formatted text."""
    before = parse_source(text, name)
    assert before.ok
    formatted = format_source(text, name)
    assert format_source(formatted, name) == formatted, "not idempotent"
    after = parse_source(formatted, name)
    assert after.ok, after.diagnostics
    assert after.module == before.module, "the meaning changed"
    if same_comment_order:
        assert comments(formatted) == comments(text)
    else:
        assert sorted(comments(formatted)) == sorted(comments(text))
    assert formatted == "" or formatted.endswith("\n")
    assert not formatted.endswith("\n\n")
    assert all(line == line.rstrip() for line in formatted.split("\n")), "trailing spaces"
    return formatted


# ---- the repository's own inputs ---------------------------------------------------------


def test_the_corpus_is_there():
    assert len(SPECS) >= 9
    assert len(UI_PARSING) >= 40
    assert len(DOC_BLOCKS) >= 35


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_idempotent_meaning_and_comments_kept(name):
    assert_canonical(CORPUS[name], name)


def test_syntax_errors_are_not_formatted():
    broken = [text for text in UI.values() if text is not None and not parse_source(text, "x").ok]
    assert broken
    for text in broken:
        with pytest.raises(FormatError) as exc:
            format_source(text)
        assert exc.value.diagnostics and all(d.is_error for d in exc.value.diagnostics)


def test_a_clause_given_twice_is_not_formatted():
    # The tree keeps one of the two `when`s (E004): formatting would drop the other.
    with pytest.raises(FormatError):
        format_source('catalog c\nplan T on add {\n  milestone m when a when b\n}\n')


# ---- the canonical layout ----------------------------------------------------------------

MESSY = (
    "# A messy spec.\n"
    'catalog   messy   version "1"\n'
    'use "lib.om"\n'
    "default retry   staggered 10s,60s , 600s\n"
    "default timeout 30000ms\n"
    "retry slow=fixed 2 times every 120m\n"
    'queue   ops   "Ops"\n'
    "\n"
    'commercial HOME "Home\tFiber" root {attr speed: int in {100,1000}=100 attr addr:string required   # where\n'
    "has ROUTER[1..1]\n"
    "attr promo : string optional has EXT [ 0..3 ]}\n"
    "table fee:int->decimal{100:29.90,1000:049.90,}\n"
    'validate HOME promo_ok { when promo is not null require ( len(promo) <= 12 ) and not (promo in {"X","Y"}) '
    'message "bad \\"promo\\"" }\n'
    'enrich HOME{ tier:string=if (speed>=1000) then "giga" else "basic"\n'
    " price: decimal = (fee[speed]*(1+0.21))-(-1)\n"
    "}\n"
    "technical ACCESS rfs {attr down:int required}\n"
    "decompose D1:HOME->ACCESS when ((speed > 100)) {down=speed,}\n"
    'system net "Network" {timeout 1h retry slow\n'
    "operation activate(down:int)->(port:string) timeout 2m async\n"
    "}\n"
    "plan ACCESS on add when not(down==0) {\n"
    "callout activate=net.activate(down) timeout 90s due 2d after a point_of_no_return hard after b when down>1 sets port=activate.port\n"
    "manual a queue ops\n"
    "\n"
    "\n"
    "milestone b}\n"
)

# Written by hand: what the formatter must make of MESSY.
MESSY_FORMATTED = """\
# A messy spec.
catalog messy version "1"

use "lib.om"
default retry staggered 10s, 1m, 10m
default timeout 30s
retry slow = fixed 2 times every 2h
queue ops "Ops"

commercial HOME "Home\\tFiber" root {
  attr speed: int in {100, 1000} = 100
  attr addr: string required  # where
  has ROUTER [1]
  attr promo: string optional
  has EXT [0..3]
}

table fee: int -> decimal {
  100: 29.90
  1000: 49.90
}

validate HOME promo_ok {
  when promo is not null
  require len(promo) <= 12 and not promo in {"X", "Y"}
  message "bad \\"promo\\""
}

enrich HOME {
  tier: string = if speed >= 1000 then "giga" else "basic"
  price: decimal = fee[speed] * (1 + 0.21) - -1
}

technical ACCESS rfs {
  attr down: int required
}

decompose D1: HOME -> ACCESS when speed > 100 {
  down = speed
}

system net "Network" {
  retry slow
  timeout 1h
  operation activate(down: int) -> (port: string) async timeout 2m
}

plan ACCESS on add when not down == 0 {
  callout activate = net.activate(down)
    after a, b
    when down > 1
    sets port = activate.port
    point_of_no_return
    due 2d
    timeout 90s
  manual a queue ops

  milestone b
}
"""


def test_a_messy_spec_formats_to_the_canonical_text():
    assert assert_canonical(MESSY) == MESSY_FORMATTED


def test_the_docs_before_and_after_example():
    before, after = FENCE.findall((ROOT / "docs" / "fmt.md").read_text(encoding="utf-8"))[:2]
    assert before != after
    assert assert_canonical(before) == after


def test_clauses_in_fixed_order_each_on_its_own_line():
    src = (
        "catalog c\nplan T on add {\n"
        "  callout a = s.op() timeout 1s retry none due 1h point_of_no_return soft "
        'compensate python "m:f"(x) sets y = 1 when z before b after c sets w = 2\n'
        "}\n"
    )
    assert format_source(src) == (
        "catalog c\n\nplan T on add {\n"
        "  callout a = s.op()\n"
        "    after c\n"
        "    before b\n"
        "    when z\n"
        "    sets y = 1\n"
        "    sets w = 2\n"
        '    compensate python "m:f"(x)\n'
        "    point_of_no_return soft\n"
        "    due 1h\n"
        "    retry none\n"
        "    timeout 1s\n"
        "}\n"
    )


def test_every_item_kind_and_dependency_form():
    src = (
        "catalog c\nplan T on delete {\n"
        '  auto n = python "pkg.mod:fn"(a, b = 1) -> (out: string, n: int)\n'
        '  manual m "Do it" queue q\n'
        "  manual m2 queue q\n"
        "  wait w for 1440m\n"
        "  wait u until order.requested_start_date after every task in bundle, X.y in order, n\n"
        "}\n"
    )
    assert format_source(src) == (
        "catalog c\n\nplan T on delete {\n"
        '  auto n = python "pkg.mod:fn"(a, b = 1) -> (out: string, n: int)\n'
        '  manual m "Do it" queue q\n'
        "  manual m2 queue q\n"
        "  wait w for 1d\n"
        "  wait u until order.requested_start_date\n"
        "    after every task in bundle, X.y in order, n\n"
        "}\n"
    )


def test_one_line_declarations_stay_grouped_blocks_are_separated():
    src = "library l\nretry a = none\nretry b = a\n\n\n\nqueue q\nsystem s {}\nqueue r\n"
    assert format_source(src) == "library l\n\nretry a = none\nretry b = a\n\nqueue q\n\nsystem s {\n}\n\nqueue r\n"


def test_blank_lines_inside_blocks_are_kept_but_never_doubled():
    src = "catalog c\ncommercial A \"A\" root {\n\n  attr a: int optional\n\n\n\n  attr b: int optional\n  has B [1]\n\n}\n"
    assert format_source(src) == 'catalog c\n\ncommercial A "A" root {\n  attr a: int optional\n\n  attr b: int optional\n  has B [1]\n}\n'


def test_literals():
    src = (
        'catalog c\ntable t: int -> decimal {\n  -007: -0.50\n  8: 1.0\n}\n'
        'commercial A "tab\there \\"q\\" # not a comment" root {\n'
        "  attr d: date in 2026-01-01..2030-12-31 optional\n"
        "  attr n: int in -5..5 = -1\n"
        "  attr s: string in {\"a\",\"b\",} = \"a\"\n"
        "}\n"
    )
    assert format_source(src) == (
        'catalog c\n\ntable t: int -> decimal {\n  -7: -0.50\n  8: 1.0\n}\n\n'
        'commercial A "tab\\there \\"q\\" # not a comment" root {\n'
        "  attr d: date in 2026-01-01..2030-12-31 optional\n"
        "  attr n: int in -5..5 = -1\n"
        '  attr s: string in {"a", "b"} = "a"\n'
        "}\n"
    )


@pytest.mark.parametrize(
    "ms,text",
    [(0, "0s"), (500, "500ms"), (1000, "1s"), (1500, "1500ms"), (60_000, "1m"), (90_000, "90s"), (3_600_000, "1h"), (86_400_000, "1d"), (1_209_600_000, "2w"), (172_800_000, "2d")],
)
def test_durations_use_the_largest_whole_unit(ms, text):
    assert duration(ms) == text


def test_string_escapes():
    assert string('a"b\\c\nd\te#') == '"a\\"b\\\\c\\nd\\te#"'


@pytest.mark.parametrize(
    "source,canonical",
    [
        ("((a))", "a"),
        ("(a or b) or c", "a or b or c"),
        ("a or (b or c)", "a or (b or c)"),
        ("(a and b) or (c and d)", "a and b or c and d"),
        ("(a or b) and c", "(a or b) and c"),
        ("not (a == 1)", "not a == 1"),
        ("(not a) == b", "(not a) == b"),
        ("(a < b) == c", "(a < b) == c"),
        ("a - (b - c)", "a - (b - c)"),
        ("(a - b) - c", "a - b - c"),
        ("a * (b + c)", "a * (b + c)"),
        ("-(a + b)", "-(a + b)"),
        ("- - a", "--a"),
        ("-(-3)", "3"),
        ("(-3).x", "(-3).x"),
        ("1 + (if a then 1 else 2)", "1 + (if a then 1 else 2)"),
        ("if a then b else (if c then d else e)", "if a then b else if c then d else e"),
        ("(a in {1, 2}) is null", "(a in {1, 2}) is null"),
        ("(a + 1) in b", "a + 1 in b"),
        ("map (x) { 1 -> (a + 1), -2 -> b }", "map x { 1 -> a + 1, -2 -> b }"),
        ("t[(a or b)].c", "t[a or b].c"),
        ("f( a ,b, )", "f(a, b)"),
        ("order . x . y", "order.x.y"),
        ("{ }", "{}"),
    ],
)
def test_minimal_parentheses(source, canonical):
    text = f"catalog c\nenrich P {{\n  v: int = {source}\n}}\n"
    assert assert_canonical(text) == f"catalog c\n\nenrich P {{\n  v: int = {canonical}\n}}\n"


def test_long_expressions_stay_on_one_line():
    long = " or ".join(f"attribute_number_{i} > {i}" for i in range(30))
    text = f"catalog c\nvalidate P r {{\n  require {long.replace(' or ', chr(10) + '    or ')}\n  message \"m\"\n}}\n"
    assert f"  require {long}\n" in assert_canonical(text)


# ---- comments ----------------------------------------------------------------------------

COMMENTED = """\
# file comment

# before the header
catalog c version "1"   # on the header
# before a queue
queue q # on the queue
plan X on add {    # on the plan's first line
  # before the callout
  callout a = s.op(x)  # on the callout
      # before `due`
      due 3d # on due
      after b                 # on after
  milestone b

  # at the end of the plan
}
# at the end of the file
"""

COMMENTED_FORMATTED = """\
# file comment

# before the header
catalog c version "1"  # on the header

# before a queue
queue q  # on the queue

plan X on add {  # on the plan's first line
  # before the callout
  callout a = s.op(x)  # on the callout
    after b            # on after
    # before `due`
    due 3d  # on due
  milestone b

  # at the end of the plan
}
# at the end of the file
"""


def test_comments_stay_with_their_construct():
    assert assert_canonical(COMMENTED, same_comment_order=False) == COMMENTED_FORMATTED


def test_comments_before_declarations_inside_blocks_and_at_the_end_keep_their_order():
    src = """\
catalog c
# one
# two

# three, after a blank line
commercial A "A" root {
  # inside, first
  attr a: int optional   # trailing
  # inside, before has
  has B [1]
  # end of block
}

# end of file, after a blank line
"""
    formatted = assert_canonical(src)
    assert formatted == src.replace("optional   # trailing", "optional  # trailing").replace("catalog c\n", "catalog c\n\n")


def test_trailing_comments_of_consecutive_lines_line_up():
    src = 'catalog c\ncommercial A "A" root {\n  attr a: int optional # a\n  attr long_name: string optional # b\n\n  attr c: int optional    # c\n}\n'
    assert format_source(src) == (
        'catalog c\n\ncommercial A "A" root {\n'
        "  attr a: int optional             # a\n"
        "  attr long_name: string optional  # b\n"
        "\n"
        "  attr c: int optional  # c\n"
        "}\n"
    )


def test_a_comment_inside_an_argument_list_puts_one_argument_per_line():
    src = """\
catalog c
plan T on add {
  callout a = s.op(x, # the x
     y = 1 + 2, z)
    compensate s.undo(
      # why
      x)
  callout b = s.op(x, y)
}
"""
    assert assert_canonical(src) == """\
catalog c

plan T on add {
  callout a = s.op(
    x,  # the x
    y = 1 + 2,
    z
  )
    compensate s.undo(
      # why
      x
    )
  callout b = s.op(x, y)
}
"""


def test_a_comment_inside_an_expression_moves_before_its_construct():
    src = """\
catalog c
enrich A {
  a: int = 1
  tier: string =   # how the tier is chosen
    if fast then "giga"   # the best
    else "basic"
}
"""
    assert assert_canonical(src) == """\
catalog c

enrich A {
  a: int = 1
  # how the tier is chosen
  # the best
  tier: string = if fast then "giga" else "basic"
}
"""


def test_only_comments():
    assert format_source("  # a   \n\n\n# b\n") == "# a\n\n# b\n"
    assert format_source("") == ""
    assert format_source("\n\n") == ""


def test_crlf_and_a_missing_final_newline():
    assert format_source("catalog c\r\n# x\r\nqueue q") == "catalog c\n\n# x\nqueue q\n"


# ---- fuzz: mutated and reflowed specs, random expressions ------------------------------------

NAMES = sorted(SPECS)
TOKENS = (
    "catalog library version use default retry commercial technical root child cfs rfs attr has required optional in "
    "table validate when require message enrich decompose per order system operation async timeout queue plan on add "
    "modify delete callout manual auto python milestone wait for until after before every task bundle sets compensate "
    "point_of_no_return soft hard due none fixed times forever staggered exponential from factor cap if then else and "
    "or not is null true false map x y { } ( ) [ ] : , . .. -> = == != < <= > >= + - * / % 1 0 300 1.5 2026-01-31 "
    '10s 3d "s" # \n #c\n'
).split(" ")
# test_fuzz.py's mutations, plus some that often keep the file parseable (so more examples get formatted).
MUTATIONS = st.sampled_from(BASIC + LAYOUT * 2)
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.sampled_from(NAMES), st.lists(st.tuples(MUTATIONS, st.integers(0, 10**6), st.integers(0, 40), st.sampled_from(TOKENS)), min_size=1, max_size=4))
def test_fuzz_mutated_specs_that_parse(name, mutations):
    """Mutated as tests/test_fuzz.py does (plus line breaks and comments); those that parse format well."""
    text = mutate(SPECS[name], mutations)
    if parse_source(text, name).ok:
        assert_canonical(text, name, same_comment_order=False)


SEPARATORS = [" "] * 10 + ["\n"] * 4 + ["\n\n", "   ", "\t", " # c\n", "\n# c\n", "\n\n# c\n\n"]
REFLOW_SOURCES = sorted({**SPECS, **DOC_BLOCKS}.items())


@FUZZ
@given(st.integers(0, len(REFLOW_SOURCES) - 1), st.integers(0, 2**32))
def test_fuzz_reflowed_specs_with_comments_everywhere(index, seed):
    """Every token of a spec, with random spaces, line breaks and comments between them."""
    rnd = random.Random(seed)
    out, n = [], 0
    for token in scan(REFLOW_SOURCES[index][1]).tokens:
        sep = rnd.choice(SEPARATORS)
        if "#" in sep:
            n += 1
            sep = sep.replace("# c", f"# c{n}")
        out.append(token.text + sep)
    assert_canonical("".join(out), same_comment_order=False)


# Random expression trees, as the parser would build them: printed, parsed back, equal.
_SAFE_NAMES = st.sampled_from(["a", "b", "speed", "x_1", "parent", "count"])


def _lit(kind, value, text=""):
    return ast.Literal(kind, value, text)


_LEAVES = st.one_of(
    _SAFE_NAMES.map(ast.Ref),
    _SAFE_NAMES.map(lambda n: ast.OrderField(ast.Name(n))),
    st.integers(-1000, 1000).map(lambda v: _lit("int", v)),
    st.decimals(min_value=-1000, max_value=1000, places=2, allow_nan=False, allow_infinity=False).map(lambda v: _lit("decimal", v, str(v))),
    # No backslash: grammar/om.lark's STRING does not accept the `\\\\` escape (yet), so no parsed string holds one.
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\\"), max_size=6).map(lambda s: _lit("string", s)),
    st.booleans().map(lambda b: _lit("bool", b)),
    st.just(_lit("null", None)),
    st.dates().map(lambda d: _lit("date", d.isoformat())).filter(lambda lit: len(lit.value) == 10),
    st.integers(0, 10**9).map(lambda v: _lit("duration", v)),
)
_CONSTANTS = st.one_of(st.integers(-50, 50).map(lambda v: _lit("int", v)), st.text("ab\"", max_size=3).map(lambda s: _lit("string", s)))


def _negatable(e):
    # `-3` is folded into a literal by the parser: `-` never applies to a number literal.
    return not (isinstance(e, ast.Literal) and e.kind in ("int", "decimal"))


def _extend(children):
    return st.one_of(
        st.tuples(children, _SAFE_NAMES).map(lambda t: ast.Member(t[0], ast.Name(t[1]))),
        st.tuples(children, children).map(lambda t: ast.Lookup(*t)),
        st.tuples(_SAFE_NAMES, st.lists(children, max_size=3)).map(lambda t: ast.Call(ast.Name(t[0]), tuple(t[1]))),
        children.map(lambda e: ast.Unary("not", e)),
        children.filter(_negatable).map(lambda e: ast.Unary("-", e)),
        st.tuples(st.sampled_from(["or", "and", "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%"]), children, children).map(lambda t: ast.Binary(*t)),
        st.tuples(children, children, st.booleans()).map(lambda t: ast.InSet(*t)),
        st.tuples(children, st.booleans()).map(lambda t: ast.IsNull(*t)),
        st.tuples(children, children, children).map(lambda t: ast.IfElse(*t)),
        st.lists(children, max_size=3).map(lambda items: ast.SetLiteral(tuple(items))),
        st.tuples(children, st.lists(st.tuples(_CONSTANTS, children), min_size=1, max_size=3)).map(
            lambda t: ast.MapExpr(t[0], tuple(ast.MapEntry(k, v) for k, v in t[1]))
        ),
    )


EXPRESSIONS = st.recursive(_LEAVES, _extend, max_leaves=12)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EXPRESSIONS)
def test_fuzz_expressions_print_with_minimal_parentheses_and_parse_back(e):
    text = f"catalog c\n\nenrich P {{\n  v: int = {expr(e)}\n}}\n"
    result = parse_source(text, "e.om")
    assert result.ok, (text, result.diagnostics)
    assert result.module.declarations[0].rules[0].expr == e
    assert format_source(text) == text


def test_decimals_keep_their_digits():
    assert expr(_lit("decimal", Decimal("29.90"), "29.90")) == "29.90"
    assert expr(_lit("decimal", Decimal("-1.50"), "-1.50")) == "-1.50"
    assert expr(_lit("decimal", Decimal("0.0000001"), "0.0000001")) == "0.0000001"


# ---- the command line -------------------------------------------------------------------------

CANONICAL = 'catalog c version "1"\n\nqueue q "Q"\n'
NOT_CANONICAL = 'catalog   c version "1"\nqueue q   "Q"   # the queue\n'
BROKEN = 'catalog c version "1"\ncommercial A "A" root {\n  attr a int\n}\n'


def run(*args):
    return CliRunner().invoke(main, list(args))


def test_check_passes_on_canonical_files(write_spec):
    write_spec(CANONICAL, "a.om")
    result = run("fmt", "--check", "a.om")
    assert result.exit_code == 0, result.output
    assert "0 files would be reformatted, 1 already formatted" in result.output


def test_check_lists_the_files_that_would_change_and_writes_nothing(write_spec):
    good = write_spec(CANONICAL, "specs/good.om")
    bad = write_spec(NOT_CANONICAL, "specs/sub/bad.om")
    result = run("fmt", "--check", "specs")
    assert result.exit_code == 1
    assert "would reformat specs/sub/bad.om" in result.output
    assert "good.om" not in result.output.replace("1 already formatted", "")
    assert "1 file would be reformatted, 1 already formatted" in result.output
    assert bad.read_text() == NOT_CANONICAL and good.read_text() == CANONICAL


def test_rewrites_in_place_only_the_files_that_change(write_spec):
    good = write_spec(CANONICAL, "good.om")
    bad = write_spec(NOT_CANONICAL, "bad.om")
    before = good.stat().st_mtime_ns
    result = run("fmt", "good.om", "bad.om")
    assert result.exit_code == 0, result.output
    assert "reformatted bad.om" in result.output
    assert "1 file reformatted, 1 unchanged" in result.output
    assert bad.read_text() == 'catalog c version "1"\n\nqueue q "Q"  # the queue\n'
    assert good.stat().st_mtime_ns == before
    assert run("fmt", "--check", ".").exit_code == 0


def test_diff_prints_a_unified_diff_and_writes_nothing(write_spec):
    bad = write_spec(NOT_CANONICAL, "bad.om")
    write_spec(CANONICAL, "good.om")
    result = run("fmt", "--diff", ".")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "--- bad.om\n+++ bad.om\n@@ -1,2 +1,3 @@\n"
        '-catalog   c version "1"\n-queue q   "Q"   # the queue\n'
        '+catalog c version "1"\n+\n+queue q "Q"  # the queue\n'
    )
    assert bad.read_text() == NOT_CANONICAL
    checked = run("fmt", "--check", "--diff", "bad.om")
    assert checked.exit_code == 1 and "--- bad.om" in checked.stdout


def test_syntax_errors_are_reported_and_the_file_left_untouched(write_spec):
    broken = write_spec(BROKEN, "broken.om")
    bad = write_spec(NOT_CANONICAL, "bad.om")
    result = run("fmt", ".")
    assert result.exit_code == 1
    assert "error[E001]" in result.output and "broken.om:3:10" in result.output
    assert "broken.om has syntax errors; not formatted" in result.output
    assert broken.read_text() == BROKEN
    assert bad.read_text() != NOT_CANONICAL  # the other files are still formatted
    assert run("fmt", "--check", "broken.om").exit_code == 1


def test_a_file_that_is_not_utf8_is_an_error(write_spec, tmp_path):
    (tmp_path / "latin1.om").write_bytes(b'catalog c version "caf\xe9"\n')
    result = run("fmt", "latin1.om")
    assert result.exit_code == 1 and "not valid UTF-8" in result.output
    assert (tmp_path / "latin1.om").read_bytes() == b'catalog c version "caf\xe9"\n'


def test_usage_errors_exit_2(write_spec):
    assert run("fmt").exit_code == 2
    assert run("fmt", "no/such/file.om").exit_code == 2
    assert run("fmt", "--frobnicate", ".").exit_code == 2
