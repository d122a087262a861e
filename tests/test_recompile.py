"""Recompiling after an edit of meaning that leaves the catalog's interface as it
was (om_dsl/recompile/): only the edited declarations are checked, lowered and
generated, spliced into the cached output,
and the output and diagnostics are exactly those of a compile without the cache.

Each edit of the table below is made in turn on a small catalog, then compiled
with the cache (a fresh `Cache`, nothing remembered in memory) and without it;
the table also says which edits the splice does and which take the full path.
"""

from __future__ import annotations

import re
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from om_dsl import build as build_mod
from om_dsl.build import build
from om_dsl.check import cache as cache_mod
from om_dsl.check.cache import Cache
from om_dsl.diagnostics.render import render_text

from support import ROOT

SHOP = {
    "catalog.om": """\
catalog shop version "1"

retry std = staggered 10s, 1m
retry slow = staggered 1m, 10m
default retry std
queue ops "Operations"
""",
    "products.om": """\
catalog shop

commercial NET "Internet" root {
  attr speed: int in {100, 300, 1000} = 300
  attr tier: string in {"basic", "premium"} = "basic"
  attr site_id: string required
  has BOX [0..2]
}

commercial BOX "Box" child {
  attr model: string in {"M1", "M2"} = "M1"
}

technical ACCESS "Access" cfs {
  attr down: int required
  attr up: int required
  attr site_id: string required
}

decompose A: NET -> ACCESS {
  down = speed
  up = upload
  site_id = site_id
}

system net "Network" {
  operation activate(down: int, up: int)
  operation release(down: int)
}

plan ACCESS on add {
  callout activate = net.activate(down, up)
}

plan ACCESS on delete {
  callout release = net.release(down)
  manual check "Check the line" queue ops
    after release
}
""",
    "tables.om": """\
catalog shop

table up_for: int -> int {
  100: 10
  300: 50
}

enrich NET {
  upload: int = if speed >= 1000 then 1000 else 100
}
""",
    "rules.om": """\
catalog shop

validate NET premium_speed {
  when tier == "premium"
  require speed >= 300
  message "a premium product needs 300 Mbps or more"
}

validate NET upload_known {
  require up_for[speed] is not null
  message "no upload speed for this speed"
}

validate BOX model_known {
  require model in {"M1", "M2"}
  message "an unknown model"
}
""",
}


@pytest.fixture
def shop(tmp_path):
    folder = tmp_path / "shop"
    folder.mkdir()
    for name, text in SHOP.items():
        (folder / name).write_text(text)
    return folder


@pytest.fixture
def spliced(monkeypatch):
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


# (what, file, edit, spliced): `spliced` says whether the edit is one the splice does. An edit
# of several files at once gives a tuple of files and a tuple of edits.
EDITS = [
    ("a message", "rules.om", _replace("needs 300 Mbps or more", "needs at least 300 Mbps"), True),
    ("a comment after a splice: its elements move", "rules.om", lambda t: "# rules\n" + t, False),
    ("a `when` taken out: the rules below move up a line", "rules.om", _replace('  when tier == "premium"\n', ""), True),
    ("a `when` put back, another condition", "rules.om", _replace("  require speed >= 300\n", '  when tier == "premium" and site_id != ""\n  require speed >= 300\n'), True),
    ("a `require` that keeps its warning (W002)", "rules.om", _replace("up_for[speed] is not null", "up_for[speed] is not null and speed > 0"), True),
    ("a message with quotes, a backslash and accents", "rules.om", _replace("an unknown model", 'un mod\u00e8le \\"inconnu\\" \\\\ ici'), True),
    ("a rule laid out otherwise and its message changed", "rules.om", _replace('validate BOX model_known {\n  require model in {"M1", "M2"}', 'validate BOX model_known\n{\n\n  require model in {"M2", "M1"}'), True),
    ("a condition with a new constant (a set): the module's constants would be numbered otherwise", "rules.om", _replace('model in {"M2", "M1"}', 'model in {"M1"}'), False),
    ("a comment in another file", "products.om", lambda t: "# products\n" + t, False),
    ("a message while a comment was made elsewhere", "rules.om", _replace("no upload speed", "no upload"), True),
    ("a type error: an error", "rules.om", _replace("require speed >= 300", 'require speed >= "300"'), False),
    ("a message while the error stands", "rules.om", _replace("needs at least", "needs"), False),
    ("the error fixed", "rules.om", _replace('require speed >= "300"', "require speed >= 300"), False),
    ("a message after the fix", "rules.om", _replace("no upload", "no upload speed known"), True),
    ("a rule that looks up a table another rule looks up", "rules.om", _replace("require speed >= 300", "require speed >= 300 or up_for[speed] == 50"), True),
    ("a rule that no longer looks a table up: is it used elsewhere?", "rules.om", _replace(" or up_for[speed] == 50", ""), False),
    ("a rule renamed: one taken out, one added", "rules.om", _replace("validate NET upload_known", "validate NET upload_given"), True),
    ("a message after the rename", "rules.om", _replace("no upload speed known", "no upload speed is known"), True),
    ("an empty message: an error", "rules.om", _replace('"no upload speed is known for this speed"', '" "'), False),
    ("a message again", "rules.om", _replace('" "', '"the upload speed is unknown"'), False),
    ("an attribute's default", "products.om", _replace('= "basic"', '= "premium"'), True),
    ("a child product's default and a rule's message, in two files at once", ("products.om", "rules.om"), (_replace('= "M1"', '= "M2"'), _replace('message "un mod', 'message "Un mod')), True),
    ("a default that is not an allowed value: an error", "products.om", _replace("= 300\n", "= 200\n"), False),
    ("an allowed default again", "products.om", _replace("= 200\n", "= 1000\n"), False),
    ("a default taken away: the attribute may now be null, its readers made again", "products.om", _replace(' = "premium"', ""), True),
    ("a default given back", "products.om", _replace('attr tier: string in {"basic", "premium"}', 'attr tier: string in {"basic", "premium"} = "basic"'), True),
    ("the allowed values of an attribute: the interface", "products.om", _replace("in {100, 300, 1000}", "in {100, 300, 1000, 2000}"), False),
    ("an attribute added: its product's readers checked and made again", "products.om", _replace('  attr site_id: string required\n', '  attr site_id: string required\n  attr note: string optional\n'), True),
    ("a default while an attribute was added", "products.om", _replace('= "M2"', '= "M1"'), True),
    ("a technical product's attribute made optional: its sources' code and its plans made again", "products.om", _replace("attr down: int required", "attr down: int optional"), True),
    ("a task's retry, a policy the default uses", "products.om", _replace("net.activate(down, up)\n", "net.activate(down, up)\n    retry std\n"), True),
    ("a task's retry written out: `std` no longer used here, is it elsewhere?", "products.om", _replace("    retry std\n", "    retry fixed 3 times every 10s\n"), False),
    ("a task's timeout", "products.om", _replace("every 10s\n", "every 10s\n    timeout 45s\n"), True),
    ("a manual task's description and due time", "products.om", _replace('"Check the line" queue ops\n', '"Check the line twice" queue ops\n    due 2d\n'), True),
    ("a task's retry naming a policy nothing used: its warning goes", "products.om", _replace("retry fixed 3 times every 10s", "retry slow"), False),
    ("the retry back: the policy unused again", "products.om", _replace("retry slow", "retry fixed 3 times every 10s"), False),
    ("a retry on a manual task: an error", "products.om", _replace("    due 2d\n", "    due 2d\n    retry std\n"), False),
    ("the retry taken off the manual task", "products.om", _replace("    due 2d\n    retry std\n", "    due 3d\n"), False),
    ("a timeout of zero: an error", "products.om", _replace("timeout 45s", "timeout 0s"), False),
    ("a timeout again", "products.om", _replace("timeout 0s", "timeout 1m"), False),
    ("a task's timeout and a rule's message, in two files at once", ("products.om", "rules.om"), (_replace("timeout 1m", "timeout 2m"), _replace('message "Un mod', 'message "UN mod')), True),
    ("a task's dependency taken out, within its plan", "products.om", _replace("    after release\n", ""), True),
    ("a dependency put back", "products.om", _replace("    due 3d\n", "    due 3d\n    after release\n"), True),
    ("a dependency that closes a cycle within the plan: an error", "products.om", _replace("net.release(down)\n", "net.release(down)\n    after check\n"), False),
    ("the cycle undone", "products.om", _replace("net.release(down)\n    after check\n", "net.release(down)\n"), False),
    ("a task added", "products.om", _replace("plan ACCESS on add {\n", "plan ACCESS on add {\n  milestone started\n"), True),
    ("a task added that waits for another, a manual one", "products.om", _replace("    after release\n}", '    after release\n  manual verify "Verify the line" queue ops\n    after check\n}'), True),
    ("a task taken out", "products.om", _replace('  manual verify "Verify the line" queue ops\n    after check\n', ""), True),
    ("a task taken out that another waits for: an error", "products.om", _replace("  callout release = net.release(down)\n", ""), False),
    ("the task back", "products.om", _replace("plan ACCESS on delete {\n", "plan ACCESS on delete {\n  callout release = net.release(down)\n"), False),
    ("a task's `when`: the plan's edges are no longer all fixed, planner.py's TASKS names a new function", "products.om", _replace("    due 3d\n", "    due 3d\n    when down > 100\n"), False),
    ("the `when` changed", "products.om", _replace("when down > 100", "when down > 200 and up > 0"), True),
    ("a plan's `when`", "products.om", _replace("plan ACCESS on delete {", "plan ACCESS on delete when down > 0 {"), True),
    ("a `when` of the wrong type: an error", "products.om", _replace("when down > 0 {", "when down {"), False),
    ("the `when`s taken out", "products.om", lambda t: t.replace("plan ACCESS on delete when down {", "plan ACCESS on delete {").replace("    when down > 200 and up > 0\n", ""), False),
    ("a task's settings with a task before it", "products.om", _replace("timeout 2m", "timeout 3m"), True),
    ("a table's entry: not a rule", "tables.om", _replace("300: 50", "300: 60"), False),
    ("two rules at once", "rules.om", lambda t: t.replace("the upload speed is unknown", "upload unknown").replace("a premium product", "a premium line"), True),
    ("a rule given twice: an error", "rules.om", lambda t: t + '\nvalidate BOX model_known {\n  require true\n  message "again"\n}\n', False),
    ("the second one's message", "rules.om", _replace('"again"', '"once more"'), False),
    ("the second one taken out", "rules.om", lambda t: t[: t.index("\nvalidate BOX model_known {\n  require true")] + "\n", False),
    ("a message once more", "rules.om", _replace("upload unknown", "the upload is unknown"), True),
    # Enrichments and decompositions: their values, spliced as long as what other code is written for stays.
    ("an enrichment's value", "tables.om", _replace("then 1000 else 100", "then 1000 else 200"), True),
    ("an enrichment's value that may now be null: its decompositions' code is written otherwise", "tables.om", _replace("if speed >= 1000 then 1000 else 200", "up_for[speed]"), False),
    ("an enrichment that no longer looks a table up: is it used elsewhere?", "tables.om", _replace("up_for[speed]", "if speed >= 1000 then 1000 else 300"), False),
    ("an enrichment's condition", "tables.om", _replace("speed >= 1000", "speed > 300"), True),
    ("an enrichment of the wrong type: an error", "tables.om", _replace("else 300", 'else "300"'), False),
    ("the enrichment fixed", "tables.om", _replace('else "300"', "else 100"), False),
    ("an enrichment rule added: its product's readers made again", "tables.om", _replace("enrich NET {\n", "enrich NET {\n  base: int = 100\n"), True),
    ("an enrichment now reading the other: their order changes", "tables.om", _replace("else 100\n", "else base\n"), True),
    ("an enrichment's value and a comment above it", "tables.om", lambda t: t.replace("enrich NET {", "# derived\nenrich NET {").replace("base: int = 100", "base: int = 150"), True),
    ("an enrichment reading a child's values: what W012 looks at", "tables.om", _replace("base: int = 150", "base: int = count(children(BOX)) * 10"), False),
    ("the children read no more: the text before read them", "tables.om", _replace("count(children(BOX)) * 10", "150"), False),
    ("a decomposition's value", "products.om", _replace("  down = speed\n", "  down = speed * 2\n"), True),
    ("a decomposition's `when`: its marked lines move", "products.om", _replace("decompose A: NET -> ACCESS {", 'decompose A: NET -> ACCESS when tier == "premium" {'), True),
    ("a decomposition's `when` changed", "products.om", _replace('when tier == "premium" {', 'when tier == "basic" or speed > 100 {'), True),
    ("a decomposition's `when` taken out", "products.om", _replace(' when tier == "basic" or speed > 100 {', " {"), True),
    ("a decomposition's value that looks a table up: a new constant", "products.om", _replace("  up = upload\n", "  up = coalesce(up_for[speed], upload)\n"), False),
    ("a decomposition's value, the lookup kept", "products.om", _replace("speed * 2", "speed * 3"), True),
    ("a decomposition's value of the wrong type: an error", "products.om", _replace("speed * 3", '"fast"'), False),
    ("the value fixed", "products.om", _replace('"fast"', "speed"), False),
    ("a decomposition's `per`", "products.om", _replace("decompose A: NET -> ACCESS {", "decompose A: NET -> ACCESS per 2 {"), True),
    ("a decomposition's attribute mapped no more: an error (E401)", "products.om", _replace("  site_id = site_id\n", ""), False),
    ("the mapping back", "products.om", _replace("  down = speed\n", "  down = speed\n  site_id = site_id\n"), False),
    ("a decomposition's value and an enrichment's, in two files at once", ("products.om", "tables.om"), (_replace("down = speed\n", "down = speed + 1\n"), _replace("then 1000", "then 900")), True),
    ("a lookup by a key the table may lack no more: its warning (W002) goes", "products.om", _replace("up_for[speed]", "up_for[speed * 1]"), True),
    ("the lookup by speed again: the warning is back", "products.om", _replace("up_for[speed * 1]", "up_for[speed]"), True),
    ("a decomposition renamed: the interface", "products.om", _replace("decompose A:", "decompose A2:"), False),
    # A task's call: the values of its arguments, spliced while it reads no other line.
    ("a task's call arguments", "products.om", _replace("net.activate(down, up)", "net.activate(down = down * 2, up)"), True),
    ("another task's argument", "products.om", _replace("net.release(down)", "net.release(down = down + 1)"), True),
    ("an argument of the wrong type: an error", "products.om", _replace("down = down * 2", 'down = "fast"'), False),
    ("the argument fixed", "products.om", _replace('down = "fast"', "down = down * 3"), False),
    ("an argument that looks a table up: a new constant", "products.om", _replace("down = down * 3", "down = coalesce(up_for[down], down)"), False),
    ("an argument, the lookup kept", "products.om", _replace("coalesce(up_for[down], down)", "coalesce(up_for[down], 100)"), True),
    ("an argument taken out: what the operation is called with", "products.om", _replace("net.release(down = down + 1)", "net.release()"), False),
    ("the argument back", "products.om", _replace("net.release()", "net.release(down)"), False),
    # A commercial product's attributes (the interface): what reads them is checked, lowered and generated again.
    ("an attribute renamed that nothing reads", "products.om", _replace("attr note: string optional", "attr remark: string optional"), True),
    ("an attribute's type changed", "products.om", _replace("attr remark: string optional", "attr remark: int optional"), True),
    ("an attribute renamed that a rule reads: an error", "products.om", _replace("attr site_id: string required\n  attr remark", "attr site: string required\n  attr remark"), False),
    ("the name back", "products.om", _replace("attr site: string required", "attr site_id: string required"), False),
    ("an attribute taken out", "products.om", _replace("  attr remark: int optional\n", ""), True),
    ("a child's attribute added: its parent's rules made again too", "products.om", _replace('attr model: string in {"M1", "M2"} = "M1"', 'attr model: string in {"M1", "M2"} = "M1"\n  attr colour: string optional'), True),
    (
        "an attribute added and a rule reading it, in two files at once",
        ("products.om", "rules.om"),
        (_replace("attr colour: string optional", "attr colour: string optional\n  attr size: int = 1"), lambda t: t + '\nvalidate BOX sized {\n  require size > 0\n  message "a size"\n}\n'),
        True,
    ),
    ("an attribute's type changed under the rule that reads it: an error", "products.om", _replace("attr size: int = 1", 'attr size: string = "1"'), False),
    ("the type back", "products.om", _replace('attr size: string = "1"', "attr size: int = 1"), False),
    ("a technical product's attribute added: its readers made again (tests/test_recompile_technical.py)", "products.om", _replace("  attr site_id: string required\n}", "  attr site_id: string required\n  attr vlan: int optional\n}"), True),
    # Enrichment rules added, renamed, retyped, taken out: their product's readers made again.
    ("an enrichment rule added that nothing reads", "tables.om", _replace("enrich NET {\n", "enrich NET {\n  extra: int = speed * 2\n"), True),
    ("an enrichment rule renamed", "tables.om", _replace("extra: int = speed * 2", "spare: int = speed * 2"), True),
    ("an enrichment rule retyped", "tables.om", _replace("spare: int = speed * 2", "spare: bool = speed > 2"), True),
    ("an enrichment rule whose name is an attribute's: an error", "tables.om", _replace("spare: bool", "speed: bool"), False),
    ("the name fixed", "tables.om", _replace("speed: bool", "spare: bool"), False),
    ("an enrichment rule retyped under the decomposition that maps it: an error", "tables.om", _replace("upload: int = if", "upload: string = if"), False),
    ("the enrichment's type back", "tables.om", _replace("upload: string = if", "upload: int = if"), False),
    ("an enrichment rule taken out", "tables.om", _replace("  spare: bool = speed > 2\n", ""), True),
    # Validation rules added and taken out: their product's rules made again.
    ("a rule added", "rules.om", lambda t: t + '\nvalidate NET site_given {\n  require site_id != ""\n  message "a site is needed"\n}\n', True),
    ("a rule added first in the file, with a warning (W002)", "rules.om", _replace("catalog shop\n", 'catalog shop\n\nvalidate NET a_known_upload {\n  require up_for[speed] > 0\n  message "no upload"\n}\n'), True),
    ("a rule taken out", "rules.om", lambda t: t[: t.index("\nvalidate NET site_given")] + "\n", True),
    ("a rule added in another file", "tables.om", lambda t: t + '\nvalidate BOX m2_only {\n  require model == "M2"\n  message "M2 only"\n}\n', True),
    ("the same rule added in a second file, where the index written by the splice says the first is: an error", "rules.om", lambda t: t + '\nvalidate BOX m2_only {\n  require true\n  message "twice"\n}\n', False),
    ("the second one taken out again", "rules.om", lambda t: t[: t.index("\nvalidate BOX m2_only")] + "\n", False),
    ("a rule moved between files", ("tables.om", "rules.om"), (lambda t: t[: t.index("\nvalidate BOX m2_only")] + "\n", lambda t: t + '\nvalidate BOX m2_only {\n  require model == "M2"\n  message "M2 only"\n}\n'), False),
    ("a rule added with a name another rule has: an error", "tables.om", lambda t: t + '\nvalidate BOX m2_only {\n  require true\n  message "again"\n}\n', False),
    ("the rule given twice taken out", "tables.om", lambda t: t[: t.index("\nvalidate BOX m2_only")] + "\n", False),
    ("a rule added with a type error: an error", "rules.om", lambda t: t + '\nvalidate NET typed {\n  require speed == "fast"\n  message "typed"\n}\n', False),
    ("the added rule's error fixed", "rules.om", _replace('speed == "fast"', "speed == 100"), False),
    ("a rule taken out that looked a table up: is it used elsewhere?", "rules.om", lambda t: t[: t.index("validate NET a_known_upload")] + t[t.index("validate NET premium_speed"):], False),
    ("a rule added and another edited, one product", "rules.om", lambda t: t.replace("the upload is unknown", "no upload known") + '\nvalidate NET tier_known {\n  require tier != ""\n  message "a tier"\n}\n', True),
    ("two rules taken out, two products", "rules.om", lambda t: t[: t.index("\nvalidate NET tier_known")].replace('validate NET typed {\n  require speed == 100\n  message "typed"\n}\n', "") + "\n", True),
    ("a rule of a product without rules: its function would be new", "products.om", lambda t: t + '\nvalidate ACCESS down_known {\n  require down > 0\n  message "down"\n}\n', False),
]


def test_after_each_edit_the_splice_gives_what_a_compile_without_the_cache_gives(shop, tmp_path, spliced, monkeypatch):
    from om_dsl import check as check_stage

    checked = []
    real = check_stage.build_scope
    monkeypatch.setattr(check_stage, "build_scope", lambda *a: checked.append(1) or real(*a))
    cache_dir = tmp_path / "c"
    assert _outcome(shop, Cache(cache_dir)) == _outcome(shop)
    took = {}
    for what, names, edits, _ in EDITS:
        for name, edit in zip(*((names, edits) if isinstance(names, tuple) else ((names,), (edits,)))):
            path = shop / name
            text = path.read_text()
            assert edit(text) != text, what
            path.write_text(edit(text))
        spliced()
        cached = _outcome(shop, Cache(cache_dir))
        took[what] = spliced()
        assert cached == _outcome(shop), what
        checked.clear()
        assert _outcome(shop, Cache(cache_dir)) == cached, what  # and again: found as it was, nothing checked
        assert not checked and not spliced(), what
    assert len(took) == len(EDITS)
    assert {what for what, n in took.items() if n} == {what for what, _name, _edit, splice in EDITS if splice}


def test_a_spliced_compile_checks_no_catalog_and_unpickles_only_the_part_it_needs(shop, tmp_path, spliced, monkeypatch):
    cache_dir = tmp_path / "c"
    _outcome(shop, Cache(cache_dir))
    from om_dsl import check as check_stage
    from om_dsl.check import workspace

    checked, loaded = [], []
    monkeypatch.setattr(check_stage, "build_scope", lambda *a: checked.append(a) or pytest.fail("the whole catalog checked"))
    real = workspace.Parsed.module.fget

    def module(self):
        loaded.append(self._shown)
        return real(self)

    monkeypatch.setattr(workspace.Parsed, "module", property(module))
    (shop / "rules.om").write_text((shop / "rules.om").read_text().replace("an unknown model", "a model we do not sell"))
    shown, files = _outcome(shop, Cache(cache_dir))
    assert spliced() == 1 and not checked
    assert "a model we do not sell" in files["shop/plan.json"] and "a model we do not sell" in files["shop/validation.py"]
    # rules.om was parsed now; of the trees in the cache, BOX's rule needs BOX's file (its parent NET
    # is there too): catalog.om and tables.om stay unread.
    assert {p.rsplit("/", 1)[-1] for p in loaded if p} == {"products.om"}


def test_the_index_entry_is_trusted_only_under_our_key(shop, tmp_path, spliced):
    """The index says which files a rule's part is read from: corrupt, another cache's,
    naming a function, or well signed and wrong, it is not used (or its part is refused)."""
    cache_dir = tmp_path / "c"
    cache = Cache(cache_dir)
    _outcome(shop, cache)
    _outcome(shop, Cache(tmp_path / "other"))
    [entry] = [p for p in (cache_dir / "index").rglob("*") if p.is_file()]
    foreign = tmp_path / "other" / entry.relative_to(cache_dir)
    rules = shop / "rules.om"
    for damage in ["corrupt", "foreign", "function", "wrong"]:
        if damage == "corrupt":
            entry.write_bytes(entry.read_bytes()[:-7])
        elif damage == "foreign":
            entry.write_bytes(foreign.read_bytes())
        elif damage == "function":
            cache.put("index", entry.name, cache_mod.dumps((None, None, _Boom())))
        else:  # well signed, naming a file that holds none of the products: the part misses them
            token, package, index = cache_mod.loads(cache.get("index", entry.name))
            first = str(shop / "catalog.om")
            cache.put("index", entry.name, cache_mod.dumps((token, package, dict(index, products={code: first for code in index["products"]}))))
        rules.write_text(rules.read_text().replace("an unknown model", f"an unknown model ({damage})"))
        assert _outcome(shop, Cache(cache_dir)) == _outcome(shop), damage
        assert spliced() == 0, damage
        rules.write_text(rules.read_text().replace(f" ({damage})", ""))
        _outcome(shop, Cache(cache_dir))  # the full path wrote a good index again: this one is spliced
        assert spliced() == 1
    rules.write_text(rules.read_text().replace("an unknown model", "an unknown model (at last)"))
    assert _outcome(shop, Cache(cache_dir)) == _outcome(shop)
    assert spliced() == 1


def _boom():
    raise AssertionError("an entry ran code")


class _Boom:
    def __reduce__(self):
        return (_boom, ())


_MESSAGES = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=40).filter(lambda m: m.strip())
_CONDITIONS = st.sampled_from(["speed >= 300", "speed > 100 and tier == \"premium\"", "site_id != \"\"", "not (speed == 100)", "speed in {100, 1000}", "tier in {\"basic\"}"])


_RETRIES = st.sampled_from(["", "    retry std\n", "    retry none\n", "    retry fixed 2 times every 5s\n", "    retry exponential 3 times from 1s factor 1.5 cap 1m\n", "    retry staggered 1s, 2s for timeout\n"])
_TIMEOUTS = st.one_of(st.just(""), st.integers(1, 5000).map(lambda n: f"    timeout {n}s\n"))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(_MESSAGES, _CONDITIONS, st.booleans(), st.sampled_from(["100", "300", "1000"]), _RETRIES, _TIMEOUTS), min_size=1, max_size=4))
def test_any_message_condition_default_and_setting_is_spliced_as_a_compile_without_the_cache_writes_it(shop, tmp_path_factory, edits):
    cache_dir = tmp_path_factory.mktemp("c")
    rules, products = shop / "rules.om", shop / "products.om"
    originals = {rules: rules.read_text(), products: products.read_text()}
    try:
        _outcome(shop, Cache(cache_dir))
        for message, condition, with_when, speed, retry, timeout in edits:
            when = '  when tier == "premium"\n' if with_when else ""
            rule = f"{when}  require {condition}\n  message {_quoted(message)}"
            rules.write_text(originals[rules].replace('  when tier == "premium"\n  require speed >= 300\n  message "a premium product needs 300 Mbps or more"', rule))
            text = originals[products].replace("in {100, 300, 1000} = 300", f"in {{100, 300, 1000}} = {speed}")
            products.write_text(text.replace("net.activate(down, up)\n", f"net.activate(down, up)\n{retry}{timeout}"))
            assert _outcome(shop, Cache(cache_dir)) == _outcome(shop)
    finally:
        for path, text in originals.items():
            path.write_text(text)


def _quoted(message: str) -> str:
    return '"' + message.replace("\\", "\\\\").replace('"', '\\"') + '"'


# ---- the synthetic catalog of the benchmarks: random edits of many families, in several files ----------

sys.path.insert(0, str(ROOT / "bench"))

import generate as G  # noqa: E402


def _family(text: str, i: int) -> tuple[int, int]:
    """Where family I is in its file's text."""
    start = text.index(f"# ---- family {i} ")
    end = text.find("# ---- family ", start + 1)
    return start, end if end >= 0 else len(text)


_FAMILY_EDITS = {
    "message": lambda body, n: re.sub(r'message "[^"]*"', f'message "premium needs 300 Mbps ({n})"', body, count=1),
    "when": lambda body, n: body.replace('  when tier == "premium"\n', "", 1) if n % 2 else body.replace("  require speed >= 300", f"  require speed >= {(100, 300, 1000)[n % 3]}", 1),
    "default": lambda body, n: re.sub(r"attr months: int in \{0, 12, 24\} = \d+", f"attr months: int in {{0, 12, 24}} = {(0, 12, 24)[n % 3]}", body, count=1),
    "retry": lambda body, n: body.replace("    sets port_id = reserve.port_id\n", f"    sets port_id = reserve.port_id\n    retry fixed {n % 4 + 1} times every {n % 50 + 1}s\n", 1),
    "timeout": lambda body, n: re.sub(r"(  callout ship = sys_\d+\.ship\(model\)\n)", rf"\g<1>    timeout {n % 90 + 1}s\n", body, count=1),
    "comment": lambda body, n: f"# note {n}\n" + body,
    "enrichment": lambda body, n: re.sub(r'if speed >= \d+ then "XGS-PON" else "GPON[^"]*"', f'if speed >= {(100, 300, 1000)[n % 3]} then "XGS-PON" else "GPON{n % 2 or ""}"', body, count=1),
    "mapping": lambda body, n: re.sub(r"\n  down = speed[^\n]*\n", f"\n  down = speed + {n % 5}\n" if n % 5 else "\n  down = speed\n", body, count=1),
    "rule added or taken out": lambda body, n: _toggled_rule(body, n),
    "enrichment rule added or taken out": lambda body, n: re.sub(r"  extra: int = speed \+ \d+\n", "", body, count=1) if "  extra: int" in body else re.sub(r"(enrich ROOT_\d+ \{\n)", rf"\g<1>  extra: int = speed + {n}\n", body, count=1),
    "dependency": lambda body, n: body.replace("  milestone active\n    after activate\n", "  milestone active\n    after activate, reserve\n", 1) if n % 2 else body.replace("    after activate, reserve\n", "    after activate\n", 1),
    "task added or taken out": lambda body, n: _toggled_task(body),
    "attribute renamed": lambda body, n: re.sub(r"attr static_ip\w*: bool", f"attr static_ip_{n}: bool" if n % 3 else "attr static_ip: bool", body, count=1),
    "attribute added or taken out": lambda body, n: body.replace("  attr note: string optional\n", "", 1) if "attr note:" in body else body.replace("  has CHILD_", f"  attr note: {('string', 'int')[n % 2]} optional\n  has CHILD_", 1),
    "call arguments": lambda body, n: re.sub(r"(sys_\d+\.activate\()[^)]*\)", rf"\g<1>port_id, down = down + {n % 4}, up, tech)" if n % 4 else r"\g<1>port_id, down, up, tech)", body, count=1),
    "decompose when": lambda body, n: re.sub(r"(decompose A\d+: ROOT_\d+ -> ACCESS_\d+)[^{]*\{", rf"\g<1> when speed >= {(100, 300)[n % 2]} {{" if n % 3 else r"\g<1> {", body, count=1),
}


def _toggled_task(body: str) -> str:
    """A milestone added to a family's delete plan of its access, after its one task, or taken out."""
    released = "  milestone released\n    after release\n"
    if released in body:
        return body.replace(released, "", 1)
    return re.sub(r"(plan ACCESS_\d+ on delete \{\n  callout release = sys_\d+\.release\(port_id\)\n)", r"\g<1>" + released, body, count=1)


def _toggled_rule(body: str, n: int) -> str:
    """A family's second validation rule added (after its first), or taken out when it is there."""
    i = re.search(r"commercial ROOT_(\d+)", body).group(1)
    rule = f'validate ROOT_{i} extra_{i} {{\n  require speed >= {(100, 300)[n % 2]}\n  message "extra {n}"\n}}\n\n'
    found = re.search(rf"validate ROOT_{i} extra_{i} {{\n[^}}]*}}\n\n", body)
    if found:
        return body[: found.start()] + body[found.end() :]
    at = body.index("table up_")
    return body[:at] + rule + body[at:]


@settings(max_examples=10, deadline=None)
@given(st.lists(st.lists(st.tuples(st.integers(0, 8), st.sampled_from(sorted(_FAMILY_EDITS)), st.integers(0, 999)), min_size=1, max_size=3), min_size=1, max_size=4))
def test_random_edits_of_the_benchmarks_catalog_compile_as_without_the_cache(tmp_path_factory, sessions):
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


def test_each_kind_of_edit_of_the_benchmarks_catalog_is_spliced(tmp_path, spliced):
    """The sessions above compare outputs; here, each kind of edit they make (a comment aside) takes the splice."""
    folder = tmp_path / "specs"
    G.write_catalog(folder, 900, per_file=3)
    cache_dir = tmp_path / "c"
    _outcome(folder, Cache(cache_dir))
    path = folder / "families_0000.om"
    for kind in sorted(set(_FAMILY_EDITS) - {"comment", "dependency", "task added or taken out"}):  # a family's plans may be reached by other lines
        text = path.read_text()
        start, end = _family(text, 1)
        edited = next(e for e in (text[:start] + _FAMILY_EDITS[kind](text[start:end], n) + text[end:] for n in range(1, 4)) if e != text)
        path.write_text(edited)
        spliced()
        assert _outcome(folder, Cache(cache_dir)) == _outcome(folder), kind
        assert spliced() == 1, kind


WARNED = {
    "w.om": """\
catalog w version "1"

commercial NET "Internet" root {
  attr speed: int = 100
}
technical ACCESS "Access" cfs {
  attr down: int required
}
technical BILL "Billing" rfs {
  attr n: int required
}
decompose A: NET -> ACCESS {
  down = speed
}
decompose B: order -> BILL {
  n = 1
}
system net "Network" {
  operation activate(down: int)
  operation bill(n: int)
}
plan ACCESS on add {
  callout activate = net.activate(down)
    after BILL.charge in bundle
}
plan BILL on add {
  callout charge = net.bill(n)
  milestone billed
}
""",
}


def test_plans_carrying_whole_catalog_warnings_are_spliced_and_their_warnings_move(tmp_path, spliced):
    """W010 (no plan to modify or delete) and W011 (a dependency that can never match) come from
    the whole catalog, from what no spliced edit changes: a plan carrying them is spliced, they move."""
    folder = tmp_path / "w"
    folder.mkdir()
    path = folder / "w.om"
    path.write_text(WARNED["w.om"])
    cache_dir = tmp_path / "c"
    shown, _files = _outcome(folder, Cache(cache_dir))
    assert "W010" in shown and "W011" in shown
    for what, edit, splice in [
        ("a retry, a line above the warnings", _replace("    after BILL.charge in bundle\n", "    retry fixed 2 times every 5s\n    after BILL.charge in bundle\n"), True),
        ("an argument", _replace("net.activate(down)", "net.activate(down = down + 1)"), True),
        ("a comment first: everything a line down", lambda t: "# warned\n" + t, False),
        ("the other plan's argument", _replace("net.bill(n)", "net.bill(n = n * 2)"), True),
        ("a dependency within a plan another line waits for: the graph between lines", _replace("  milestone billed\n", "  milestone billed\n    after charge\n"), False),
        ("a task added to it", _replace("  milestone billed\n", "  milestone started\n  milestone billed\n"), False),
        ("the dependency taken out: its warning goes", _replace("    after BILL.charge in bundle\n", ""), False),
    ]:
        path.write_text(edit(path.read_text()))
        spliced()
        cached = _outcome(folder, Cache(cache_dir))
        assert cached == _outcome(folder), what
        assert spliced() == splice, what
    assert "W011" not in cached[0] and "W010" in cached[0]
