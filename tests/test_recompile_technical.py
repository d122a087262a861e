"""Recompiling after an edit of a technical product's attributes (om_dsl/recompile/):
an attribute added, taken out, renamed, retyped or made optional. Its readers
(the decompositions into it and from it, its own plans, and the plans that read
its lines: the index's line_reads) are checked, lowered and generated again with
it and spliced; the output and diagnostics are exactly those of a compile
without the cache (tests/test_recompile.py has the other kinds of edit).
"""

from __future__ import annotations

import re
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from om_dsl import build as build_mod
from om_dsl.build import build
from om_dsl.check.cache import Cache
from om_dsl.diagnostics.render import render_text

from support import ROOT

# ACCESS is decomposed from NET and decomposes into PORT (a technical line as a source);
# CPE's plan, in another file, reads ACCESS's lines (`ACCESS.down in bundle`).
SHOP = {
    "catalog.om": """\
catalog shop version "1"

system net "Network" {
  operation reserve(site_id: string) -> (port: string)
  operation activate(port: string, down: int)
  operation ship(model: string, down: int)
  operation open(down: int)
  operation close(down: int)
}
""",
    "products.om": """\
catalog shop

commercial NET "Internet" root {
  attr speed: int in {100, 300, 1000} = 300
  attr site_id: string required
  has BOX [0..2]
}

commercial BOX "Box" child {
  attr model: string in {"M1", "M2"} = "M1"
}

technical ACCESS "Access" cfs {
  attr down: int required
  attr site_id: string required
  attr port: string optional
}

technical CPE "Device" rfs {
  attr model: string required
}

technical PORT "Port" rfs {
  attr down: int required
}

decompose A: NET -> ACCESS {
  down = speed
  site_id = site_id
}

decompose B: BOX -> CPE {
  model = model
}

decompose P: ACCESS -> PORT {
  down = down
}

plan ACCESS on add {
  callout reserve = net.reserve(site_id)
    sets port = reserve.port
  callout activate = net.activate(port, down)
    after reserve
}

plan ACCESS on delete when down > 100 {
  callout close = net.close(down)
}

plan PORT on add {
  callout open = net.open(down)
}

plan PORT on delete {
}
""",
    "lines.om": """\
catalog shop

plan CPE on add {
  callout ship = net.ship(model, down = ACCESS.down in bundle)
}

plan CPE on delete {
}
""",
}


def _outcome(folder, cache=None):
    """What a user sees of a compile: the rendered diagnostics, and the files when it compiled."""
    result = build([str(folder)], cache=cache)
    shown = render_text(result.check.diagnostics, result.check.sources)
    return shown, (result.files(folder.parent / "out") if result.ok else None)


def _replace(old: str, new: str):
    def edit(text: str) -> str:
        assert old in text, old
        return text.replace(old, new, 1)

    return edit


def _counting(monkeypatch):
    """How many compiles took the splice (om_dsl.recompile.recompiled gave an answer), since the last call."""
    counts = {"spliced": 0}
    real = build_mod.recompiled

    def counting(*args):
        found = real(*args)
        counts["spliced"] += found is not None
        return found

    monkeypatch.setattr(build_mod, "recompiled", counting)

    def take() -> int:
        n, counts["spliced"] = counts["spliced"], 0
        return n

    return take


# (what, file, edit, spliced); several files at once: a tuple of files and a tuple of edits.
EDITS = [
    ("an attribute added to a line other lines read", "products.om", _replace("  attr port: string optional\n", "  attr port: string optional\n  attr vlan: int optional\n"), True),
    ("the attribute retyped", "products.om", _replace("attr vlan: int optional", "attr vlan: string optional"), True),
    ("the attribute renamed", "products.om", _replace("attr vlan: string optional", "attr tag: string optional"), True),
    ("the attribute taken out", "products.om", _replace("  attr tag: string optional\n", ""), True),
    ("an attribute added to a line decomposed from a technical one", "products.om", _replace('technical PORT "Port" rfs {\n', 'technical PORT "Port" rfs {\n  attr speed: int optional\n'), True),
    (
        "an attribute added to the line whose plan reads another line",
        "products.om",
        _replace("  attr model: string required\n}", "  attr model: string required\n  attr serial: string optional\n}"),
        True,
    ),
    ("an attribute another line's plan reads retyped: an error", "products.om", _replace("  attr down: int required\n  attr site_id", "  attr down: string required\n  attr site_id"), False),
    ("the type back", "products.om", _replace("  attr down: string required\n  attr site_id", "  attr down: int required\n  attr site_id"), False),
    ("an attribute its own plan sets retyped: an error", "products.om", _replace("attr port: string optional", "attr port: int optional"), False),
    ("the type back again", "products.om", _replace("attr port: int optional", "attr port: string optional"), False),
    (
        "an attribute read by every reader made optional: what its sources' code and its readers are written for",
        "products.om",
        _replace("  attr down: int required\n  attr site_id", "  attr down: int optional\n  attr site_id"),
        True,
    ),
    ("required again", "products.om", _replace("  attr down: int optional\n  attr site_id", "  attr down: int required\n  attr site_id"), True),
    ("a required attribute added: its decomposition maps it not (E401)", "products.om", _replace('technical PORT "Port" rfs {\n', 'technical PORT "Port" rfs {\n  attr lane: int required\n'), False),
    ("taken out again", "products.om", _replace("  attr lane: int required\n", ""), False),
    (
        "an attribute added and the decomposition mapping it: its readers and the mapping made again",
        "products.om",
        lambda t: t.replace("  attr speed: int optional\n", "  attr speed: int optional\n  attr lane: int required\n").replace("  down = down\n", "  down = down\n  lane = down\n"),
        True,
    ),
    (
        "the mapping given another value and the attribute retyped",
        "products.om",
        lambda t: t.replace("attr lane: int required", "attr lane: string required").replace("  lane = down\n", '  lane = "L"\n'),
        True,
    ),
    ("a mapping taken out with its attribute", "products.om", lambda t: t.replace("  attr lane: string required\n", "").replace('  lane = "L"\n', ""), True),
    (
        "an attribute renamed with its mapping, and the plan reading it",
        "products.om",
        lambda t: (
            t.replace("  attr speed: int optional\n  attr down: int required", "  attr speed: int optional\n  attr rate: int required")
            .replace("  down = down\n}", "  rate = down\n}")
            .replace("net.open(down)", "net.open(down = rate)")
        ),
        True,
    ),
    ("a mapping added for an optional attribute, its product as it was: a decomposition's mappings", "products.om", _replace("  rate = down\n}", "  rate = down\n  speed = down\n}"), False),
    (
        "a mapping taken out for an optional attribute, its product edited too",
        "products.om",
        lambda t: t.replace("  speed = down\n}", "}").replace("  attr speed: int optional\n  attr rate", "  attr speed: int optional\n  attr burst: int optional\n  attr rate"),
        True,
    ),
    (
        "the name back, with its mapping and the plan",
        "products.om",
        lambda t: t.replace("  attr rate: int required", "  attr down: int required").replace("  rate = down\n}", "  down = down\n}").replace("net.open(down = rate)", "net.open(down)"),
        True,
    ),
    (
        "an attribute added to a line a plan of which is edited too",
        ("products.om", "lines.om"),
        (
            _replace("  attr serial: string optional\n", "  attr serial: string optional\n  attr colour: string optional\n"),
            _replace("down = ACCESS.down in bundle", "down = (ACCESS.down in bundle) + 1"),
        ),
        True,
    ),
    (
        "an attribute added to a line whose reader's plan is edited too",
        ("products.om", "lines.om"),
        (_replace("  attr port: string optional\n", "  attr port: string optional\n  attr vlan: int optional\n"), _replace("in bundle) + 1", "in bundle) + 2")),
        True,
    ),
    (
        "a technical and a commercial product's attributes at once",
        "products.om",
        lambda t: t.replace("  attr vlan: int optional\n", "").replace("  attr site_id: string required\n  has BOX", "  attr site_id: string required\n  attr note: string optional\n  has BOX"),
        True,
    ),
    ("a technical product's kind: not its attributes", "products.om", _replace('technical CPE "Device" rfs', 'technical CPE "Device" cfs'), False),
    (
        "an attribute added in two technical products",
        "products.om",
        lambda t: t.replace("  attr colour: string optional\n", "").replace("  attr speed: int optional\n", "  attr speed: int optional\n  attr width: int optional\n"),
        True,
    ),
    ("an attribute added that no task sets", "products.om", _replace("  attr port: string optional\n", "  attr port: string optional\n  attr lane: int optional\n"), True),
    ("another line's plan reading it", "lines.om", _replace("down = (ACCESS.down in bundle) + 2", "down = coalesce(ACCESS.lane in bundle, 0)"), True),
    ("the attribute only another line reads taken out: an error there (E102)", "products.om", _replace("  attr lane: int optional\n", ""), False),
    ("the attribute back", "products.om", _replace("  attr port: string optional\n", "  attr port: string optional\n  attr lane: int optional\n"), False),
    ("the attribute only another line reads retyped: an error there", "products.om", _replace("attr lane: int optional", "attr lane: string optional"), False),
    ("the type back", "products.om", _replace("attr lane: string optional", "attr lane: int optional"), False),
    ("an attribute added that no plan reads", "products.om", _replace("  attr lane: int optional\n", "  attr lane: int optional\n  attr mtu: int optional\n"), True),
    ("a plan that read no line reads it now: the index's line reads follow", "products.om", _replace("net.open(down)", "net.open(down = coalesce(ACCESS.mtu in bundle, down))"), True),
    ("the attribute it reads taken out: an error there", "products.om", _replace("  attr mtu: int optional\n", ""), False),
    ("the attribute back again", "products.om", _replace("  attr lane: int optional\n", "  attr lane: int optional\n  attr mtu: int optional\n"), False),
    ("the plan reads it no more", "products.om", _replace("net.open(down = coalesce(ACCESS.mtu in bundle, down))", "net.open(down)"), True),
    ("the attribute no plan reads now taken out", "products.om", _replace("  attr mtu: int optional\n", ""), True),
    ("a plan taken out: W010 on the plan left", "products.om", _replace("plan PORT on delete {\n}\n", ""), False),
    ("an attribute added above the warned plan: the warning moves", "products.om", _replace("  attr width: int optional\n", "  attr width: int optional\n  attr height: int optional\n"), True),
    (
        "an attribute of the warned plan's line added: the warning stays as a compile without the cache gives it",
        "products.om",
        _replace('technical PORT "Port" rfs {\n', 'technical PORT "Port" rfs {\n  attr depth: int optional\n'),
        True,
    ),
    (
        "an attribute added with a comment above it: the lines below move",
        "products.om",
        _replace("  attr port: string optional\n", "  attr port: string optional\n  # the VLAN\n  attr vlan: int optional\n"),
        True,
    ),
]


def test_after_each_technical_edit_the_splice_gives_what_a_compile_without_the_cache_gives(tmp_path, monkeypatch):
    from om_dsl import check as check_stage

    folder = tmp_path / "shop"
    folder.mkdir()
    for name, text in SHOP.items():
        (folder / name).write_text(text)
    spliced = _counting(monkeypatch)
    checked = []
    real = check_stage.build_scope
    monkeypatch.setattr(check_stage, "build_scope", lambda *a: checked.append(1) or real(*a))
    cache_dir = tmp_path / "c"
    first = _outcome(folder, Cache(cache_dir))
    assert first == _outcome(folder) and first[1] is not None and "error" not in first[0]
    took = {}
    for what, names, edits, _ in EDITS:
        for name, edit in zip(*((names, edits) if isinstance(names, tuple) else ((names,), (edits,)))):
            path = folder / name
            text = path.read_text()
            assert edit(text) != text, what
            path.write_text(edit(text))
        spliced()
        cached = _outcome(folder, Cache(cache_dir))
        took[what] = spliced()
        assert cached == _outcome(folder), what
        checked.clear()
        assert _outcome(folder, Cache(cache_dir)) == cached, what  # and again: found as it was, nothing checked
        assert not checked and not spliced(), what
    assert {what for what, n in took.items() if n} == {what for what, _name, _edit, splice in EDITS if splice}
    assert "W010" in cached[0]


def test_a_line_read_is_in_the_index_and_its_reader_is_made_again(tmp_path, monkeypatch):
    """Without line_reads, CPE's plan would keep the code written for ACCESS.down's old type."""
    from om_dsl.codegen.emit import line_reads_of

    folder = tmp_path / "shop"
    folder.mkdir()
    for name, text in SHOP.items():
        (folder / name).write_text(text)
    result = build([str(folder)])
    assert line_reads_of(result.compiled[0].catalog) == {"ACCESS": frozenset({("CPE", "add")})}
    cache_dir = tmp_path / "c"
    _outcome(folder, Cache(cache_dir))
    made = []
    from om_dsl.codegen import emit

    real = emit.plan_segments
    monkeypatch.setattr(emit, "plan_segments", lambda catalog, key, k: made.append(key) or real(catalog, key, k))
    path = folder / "products.om"
    path.write_text(path.read_text().replace("  attr port: string optional\n", "  attr port: string optional\n  attr vlan: int optional\n"))
    assert _outcome(folder, Cache(cache_dir)) == _outcome(folder)
    assert sorted(set(made)) == [("ACCESS", "add"), ("ACCESS", "delete"), ("CPE", "add")]


# ---- the synthetic catalog of the benchmarks: sessions of technical edits among others ----------

sys.path.insert(0, str(ROOT / "bench"))

import generate as G  # noqa: E402


def _family(text: str, i: int) -> tuple[int, int]:
    start = text.index(f"# ---- family {i} ")
    end = text.find("# ---- family ", start + 1)
    return start, end if end >= 0 else len(text)


def _vlan(body: str, n: int) -> str:
    """The benchmark's `full` edit: an attribute added to a family's access line, or taken out when it is there."""
    found = re.search(r"  attr vlan\w*: \w+ optional\n", body)
    if found:
        return body[: found.start()] + body[found.end() :]
    return body.replace("  attr port_id: string optional\n}", f"  attr port_id: string optional\n  attr vlan_{n}: {('int', 'string')[n % 2]} optional\n}}", 1)


_FAMILY_EDITS = {
    "technical attribute added or taken out": _vlan,
    "technical attribute renamed or retyped": lambda body, n: re.sub(r"attr vlan\w*: \w+", f"attr vlan_{n}: {('int', 'bool', 'string')[n % 3]}", body, count=1),
    "device attribute added or taken out": lambda body, n: (
        re.sub(r"  attr serial: string optional\n", "", body, count=1)
        if "attr serial" in body
        else body.replace("  attr shipment_id: string optional\n", "  attr shipment_id: string optional\n  attr serial: string optional\n", 1)
    ),
    "technical attribute optional or required": lambda body, n: (
        body.replace("  attr up: int required\n", "  attr up: int optional\n", 1) if n % 2 else body.replace("  attr up: int optional\n", "  attr up: int required\n", 1)
    ),
    "delete plan's when on a technical attribute": lambda body, n: (
        re.sub(r"(plan ACCESS_\d+ on delete) when up > \d+ \{", r"\g<1> {", body, count=1)
        if " when up > " in body
        else re.sub(r"(plan ACCESS_\d+ on delete) \{", rf"\g<1> when up > {n % 50} {{", body, count=1)
    ),
    "required attribute added with its mapping, or taken out": lambda body, n: (
        re.sub(r"  serial_no = [^\n]*\n", "", body.replace("  attr serial_no: string required\n", "", 1), count=1)
        if "attr serial_no" in body
        else re.sub(
            r"(decompose B\d+: CHILD_\d+ -> DEVICE_\d+ \{\n  model = model\n)",
            rf'\g<1>  serial_no = "S{n}"\n',
            body.replace("  attr model: string required\n", "  attr model: string required\n  attr serial_no: string required\n", 1),
            count=1,
        )
    ),
    "message": lambda body, n: re.sub(r'message "[^"]*"', f'message "premium needs 300 Mbps ({n})"', body, count=1),
    "attribute renamed": lambda body, n: re.sub(r"attr static_ip\w*: bool", f"attr static_ip_{n}: bool" if n % 3 else "attr static_ip: bool", body, count=1),
    "comment": lambda body, n: f"# note {n}\n" + body,
}


@settings(max_examples=10, deadline=None)
@given(st.lists(st.lists(st.tuples(st.integers(0, 8), st.sampled_from(sorted(_FAMILY_EDITS)), st.integers(0, 999)), min_size=1, max_size=3), min_size=1, max_size=4))
def test_random_technical_edits_of_the_benchmarks_catalog_compile_as_without_the_cache(tmp_path_factory, sessions):
    folder = tmp_path_factory.mktemp("synth") / "specs"
    files = G.write_catalog(folder, 900, per_file=3)  # families in files of 3, plans waiting for other families' milestones
    assert G.families_of(files) >= 9
    cache_dir = folder.parent / "c"
    assert _outcome(folder, Cache(cache_dir)) == _outcome(folder)
    for session in sessions:  # each: one compile after a few edits, in one file or several
        for family, kind, n in session:
            path = folder / f"families_{family // 3:04d}.om"
            text = path.read_text()
            start, end = _family(text, family)
            path.write_text(text[:start] + _FAMILY_EDITS[kind](text[start:end], n) + text[end:])
        assert _outcome(folder, Cache(cache_dir)) == _outcome(folder)


def test_the_benchmarks_full_edit_is_spliced(tmp_path, monkeypatch):
    """bench/compile_bench.py's `full` edit (an attribute added to a technical product), and the others of its kind."""
    spliced = _counting(monkeypatch)
    folder = tmp_path / "specs"
    G.write_catalog(folder, 900, per_file=3)
    cache_dir = tmp_path / "c"
    _outcome(folder, Cache(cache_dir))
    path = folder / "families_0000.om"
    kinds = ("technical attribute added or taken out", "technical attribute renamed or retyped", "device attribute added or taken out", "required attribute added with its mapping, or taken out")
    for kind in (*kinds, *kinds[2:], kinds[0]):  # each added, then taken out
        text = path.read_text()
        start, end = _family(text, 1)
        path.write_text(text[:start] + _FAMILY_EDITS[kind](text[start:end], 3) + text[end:])
        spliced()
        cached = _outcome(folder, Cache(cache_dir))
        assert cached == _outcome(folder) and cached[1] is not None, kind
        assert spliced() == 1, kind
