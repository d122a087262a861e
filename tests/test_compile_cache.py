"""The compile cache (om_dsl/check/cache.py): what it saves, and that it never changes the output.

Each test uses a cache folder of its own (a fresh `Cache` object, so nothing
is remembered in memory between two builds unless the test says so), and
counts the work done: parses (`workspace.parse_source`) and catalog checks
(`build_scope`).
"""

from __future__ import annotations

import json
import os
import pickle
import pprint
import shutil

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from om_dsl import check as check_stage
from om_dsl.build import build
from om_dsl.check import cache as cache_mod
from om_dsl.check import workspace
from om_dsl.check.cache import Cache
from om_dsl.cli import main
from om_dsl.codegen.emit import pformat
from om_dsl.diagnostics.render import render_text
from om_dsl.model.canonical import dumps

from support import ROOT


@pytest.fixture
def counted(monkeypatch):
    """How many files were parsed and how many units checked, since the last reset."""
    counts = {"parsed": 0, "checked": 0}
    parse, build_scope = workspace.parse_source, check_stage.build_scope

    def counting_parse(text, file):
        counts["parsed"] += 1
        return parse(text, file)

    def counting_build_scope(unit, diagnostics):
        counts["checked"] += 1
        return build_scope(unit, diagnostics)

    monkeypatch.setattr(workspace, "parse_source", counting_parse)
    monkeypatch.setattr(check_stage, "build_scope", counting_build_scope)

    def take():
        seen = dict(counts)
        counts.update(parsed=0, checked=0)
        return seen

    return take


@pytest.fixture
def specs(tmp_path):
    """A copy of the Acme specs (catalog and shared library) to edit."""
    shutil.copytree(ROOT / "specs", tmp_path / "specs")
    return tmp_path / "specs"


def _files(specs, cache=None):
    result = build([str(specs)], cache=cache)
    assert result.ok, [d.message for d in result.check.errors]
    return result.files(specs.parent / "out")


def _om_files(specs) -> int:
    return len(list(specs.rglob("*.om")))


def _catalogs(specs) -> int:
    return len(build([str(specs)]).compiled)


def test_output_is_the_same_with_and_without_the_cache(specs, tmp_path, counted):
    plain = _files(specs)
    counted()
    cold = _files(specs, Cache(tmp_path / "c"))
    assert counted() == {"parsed": _om_files(specs), "checked": _catalogs(specs)}
    counted()
    warm = _files(specs, Cache(tmp_path / "c"))
    assert counted() == {"parsed": 0, "checked": 0}  # nothing parsed, nothing checked
    assert cold == plain and warm == plain
    assert warm["acme/plan.json"] == (ROOT / "generated" / "acme" / "plan.json").read_text()


def test_an_edited_file_is_parsed_again_and_its_catalog_checked_again(specs, tmp_path, counted):
    cache_dir = tmp_path / "c"
    _files(specs, Cache(cache_dir))
    counted()
    products = specs / "acme" / "products.om"
    text = products.read_text()
    assert '"Home Fiber Internet"' in text
    products.write_text(text.replace('"Home Fiber Internet"', '"Home Fibre Internet"', 1))
    cached = _files(specs, Cache(cache_dir))
    assert counted() == {"parsed": 1, "checked": 1}  # the one edited file; its catalog
    assert cached == _files(specs)
    assert '"name": "Home Fibre Internet"' in cached["acme/plan.json"]


def test_a_comment_is_an_edit_that_is_not_checked_again(specs, tmp_path, counted):
    """Every generated module's header and sources.json hold each file's sha256: a comment changes
    them, but not what the catalog says (its shape): the catalog is not checked again, its skeleton is filled."""
    cache_dir = tmp_path / "c"
    before = _files(specs, Cache(cache_dir))
    counted()
    products = specs / "acme" / "products.om"
    products.write_text(products.read_text() + "# a comment at the end changes no span, but the file's hash\n")
    cached = _files(specs, Cache(cache_dir))
    assert counted() == {"parsed": 1, "checked": 0}
    assert cached == _files(specs)
    assert cached["acme/sources.json"] != before["acme/sources.json"] and cached["acme/plans.py"] != before["acme/plans.py"]
    assert cached["acme/plan.json"] == before["acme/plan.json"]


def test_an_edit_that_moves_elements_puts_them_at_their_new_lines(specs, tmp_path, counted):
    """Comments and blank lines above, a declaration laid out on more lines: every element after them
    moves. Found by shape, the catalog's elements take their new lines, as a compile without the cache gives them."""
    cache_dir = tmp_path / "c"
    before = _files(specs, Cache(cache_dir))
    products = specs / "acme" / "products.om"
    text = products.read_text()
    first = text.index("\n", text.index("commercial ")) + 1  # after the first product's opening line
    products.write_text(text[:first] + "\n  # a note\n\n" + text[first:].replace(" {\n", "\n{\n", 3))
    counted()
    cached = _files(specs, Cache(cache_dir))
    assert counted() == {"parsed": 1, "checked": 0}
    plain = _files(specs)
    assert cached == plain
    assert cached["acme/plan.json"] == before["acme/plan.json"] and cached["acme/sources.json"] != before["acme/sources.json"]
    moved = [k for k, v in json.loads(cached["acme/sources.json"])["elements"].items() if v != json.loads(before["acme/sources.json"])["elements"][k]]
    assert len(moved) > 10 and all(json.loads(cached["acme/sources.json"])["elements"][k].startswith("acme/products.om:") for k in moved)


def _entries(cache_dir, kinds=("file", "tree", "unit", "shape")):
    """Entries live at KIND/XX/KEY (the folder's own files, `key` and `pruned`, are not entries);
    the parser's tables (kind `grammar`) are left out unless asked for."""
    return [p for p in cache_dir.glob("*/*/*") if p.is_file() and p.parent.parent.name in kinds]


def test_a_corrupted_entry_is_ignored_and_rebuilt(specs, tmp_path, counted):
    cache_dir = tmp_path / "c"
    plain = _files(specs)
    catalogs = _catalogs(specs)
    _files(specs, Cache(cache_dir))
    counted()
    entries = _entries(cache_dir)
    assert len(entries) == 2 * _om_files(specs) + 2 * catalogs  # every file's two, and each catalog's two (its libraries are checked with it)
    for n, path in enumerate(entries):
        data = bytearray(path.read_bytes())
        if n % 2:
            data[len(data) // 2] ^= 0xFF  # a flipped byte
        else:
            del data[len(data) // 3 :]  # a write cut short
        path.write_bytes(bytes(data))
    assert _files(specs, Cache(cache_dir)) == plain
    assert counted() == {"parsed": _om_files(specs), "checked": catalogs}
    assert _files(specs, Cache(cache_dir)) == plain  # rewritten: found again
    assert counted() == {"parsed": 0, "checked": 0}


def test_an_entry_from_another_cache_is_not_trusted(specs, tmp_path, counted):
    """Each cache folder has its own key: entries copied from elsewhere fail their HMAC."""
    _files(specs, Cache(tmp_path / "a"))
    Cache(tmp_path / "b")
    for path in _entries(tmp_path / "a"):
        target = tmp_path / "b" / path.relative_to(tmp_path / "a")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    counted()
    assert _files(specs, Cache(tmp_path / "b")) == _files(specs)
    assert counted()["parsed"] == 2 * _om_files(specs)  # the copied entries, then the plain build


def test_the_unpickler_makes_only_ast_and_diagnostic_classes():
    class Boom:
        def __reduce__(self):
            return (os.getpid, ())

    with pytest.raises(pickle.UnpicklingError):
        cache_mod.loads(pickle.dumps(Boom()))
    with pytest.raises(pickle.UnpicklingError):
        cache_mod.loads(pickle.dumps(_Boom()))
    with pytest.raises(pickle.UnpicklingError):
        cache_mod.loads(pickle.dumps(shutil.rmtree))  # a function, even by name: refused


def test_a_new_version_of_a_catalog_replaces_the_entry_of_the_one_before(specs, tmp_path):
    cache_dir = tmp_path / "c"
    _files(specs, Cache(cache_dir))
    products = specs / "acme" / "products.om"
    for n in range(3):
        products.write_text(products.read_text() + f"# edit {n}\n")
        _files(specs, Cache(cache_dir))
    assert len([p for p in _entries(cache_dir) if p.parent.parent.name == "unit"]) == _catalogs(specs)  # one entry per catalog
    assert len([p for p in _entries(cache_dir) if p.parent.parent.name == "shape"]) == _catalogs(specs)
    assert len([p for p in _entries(cache_dir) if p.parent.parent.name == "file"]) == _om_files(specs) + 3
    assert len([p for p in _entries(cache_dir) if p.parent.parent.name == "tree"]) == _om_files(specs) + 3


def test_entries_nobody_used_for_a_month_are_pruned(specs, tmp_path, counted):
    cache_dir = tmp_path / "c"
    _files(specs, Cache(cache_dir))
    products = specs / "acme" / "products.om"
    old = products.read_text()
    products.write_text(old + "# a version of the file nobody compiles again\n")
    _files(specs, Cache(cache_dir))
    products.write_text(old)
    month_ago = __import__("time").time() - 31 * 86400
    for path in _entries(cache_dir):
        os.utime(path, (month_ago, month_ago))
    _files(specs, Cache(cache_dir))  # pruning runs at most once a day: not yet; these entries are used, so touched
    (cache_dir / "pruned").unlink()
    Cache(cache_dir)
    assert len(_entries(cache_dir)) == 2 * _om_files(specs) + 2 * _catalogs(specs)  # the unused version of products.om is gone
    counted()
    _files(specs, Cache(cache_dir))
    assert counted() == {"parsed": 0, "checked": 0}


CALLED: list = []


def _boom():
    CALLED.append(1)


class _Boom:
    def __reduce__(self):
        return (_boom, ())


@pytest.mark.parametrize("kind", ["file", "tree"])
def test_an_entry_that_passes_its_hmac_but_names_a_function_is_not_run(specs, tmp_path, counted, kind):
    """Defence in depth: a well-signed entry whose pickle would call a function is refused and parsed again
    (a file's head, read on every compile; its tree, read when its catalog is checked again)."""
    cache = Cache(tmp_path / "c")
    _files(specs, cache)
    counted()
    for path in _entries(tmp_path / "c", (kind,)):
        cache.put(kind, path.name, pickle.dumps((pickle.dumps(_Boom()), "shape") if kind == "file" else (pickle.dumps(_Boom()), ((1, 1, 1, 2, 0, 1),))))
    if kind == "tree":  # a meaning changed: the catalog is checked, every file's tree read
        products = specs / "acme" / "products.om"
        products.write_text(products.read_text().replace('"Home Fiber Internet"', '"Home Fibre Internet"', 1))
    assert _files(specs, Cache(tmp_path / "c")) == _files(specs)
    assert CALLED == []
    again = _om_files(specs) if kind == "file" else len(list((specs / "acme").glob("*.om"))) + 1  # acme's files and the shared library
    assert counted()["parsed"] == again + _om_files(specs)  # each again (refused or edited), then the plain build


def test_a_folder_others_can_write_is_not_used(specs, tmp_path, counted):
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o777)
    cache = Cache(folder)
    assert not cache.usable and "only this user" in cache.problem
    counted()
    assert _files(specs, cache) == _files(specs)
    assert list(folder.iterdir()) == []


def test_a_parse_found_by_another_path_reports_the_path_it_is_shown_by(tmp_path):
    """Entries are keyed by text, not path (`om compile` shows relative paths, `om lsp` absolute ones)."""
    text = 'catalog c version "1"\ncommercial P "P" root {\n  attr x: int = 1\n}\nenrich P {\n  y: int = nope\n}\n'
    cache = Cache(tmp_path / "c")
    first = check_stage.check_texts({"a/spec.om": text}, cache=cache)
    cache = Cache(tmp_path / "c")
    second = check_stage.check_texts({"/elsewhere/spec.om": text}, cache=cache)
    assert cache.hits >= 1
    plain = check_stage.check_texts({"/elsewhere/spec.om": text})
    assert [d.primary.span for d in second.diagnostics] == [d.primary.span for d in plain.diagnostics]
    assert {d.primary.span.file for d in second.diagnostics} == {"/elsewhere/spec.om"}
    assert render_text(second.diagnostics, second.sources) == render_text(plain.diagnostics, plain.sources)
    assert render_text(first.diagnostics, first.sources).replace("a/spec.om", "/elsewhere/spec.om") == render_text(plain.diagnostics, plain.sources)


def test_another_version_of_om_does_not_read_the_entries(specs, tmp_path, counted, monkeypatch):
    _files(specs, Cache(tmp_path / "c"))
    counted()
    monkeypatch.setattr(cache_mod, "code_fingerprint", lambda: "another om")
    _files(specs, Cache(tmp_path / "c"))
    assert counted() == {"parsed": _om_files(specs), "checked": _catalogs(specs)}


def test_errors_come_back_from_the_cache_as_they_were(write_spec, tmp_path, monkeypatch):
    monkeypatch.setenv("OM_CACHE_DIR", str(tmp_path / "c"))
    write_spec('catalog c version "1"\ncommercial P "P" root {\n  attr x: int = 1\n}\nenrich P {\n  y: int = nope\n}\ntable unused: int -> int {\n  1: 2\n}\n')
    runs = [CliRunner().invoke(main, ["compile", ".", "-o", str(tmp_path / "out")]) for _ in range(2)]
    plain = CliRunner().invoke(main, ["compile", ".", "-o", str(tmp_path / "out"), "--no-cache"])
    assert [r.exit_code for r in runs + [plain]] == [1, 1, 1]
    assert "E1" in plain.output and "W001" in plain.output
    assert runs[0].output == runs[1].output == plain.output


def test_no_cache_reads_and_writes_nothing(tmp_path, in_repo, monkeypatch):
    monkeypatch.setenv("OM_CACHE_DIR", str(tmp_path / "c"))
    r = CliRunner().invoke(main, ["compile", "specs", "-o", str(tmp_path / "out"), "--no-cache"])
    assert r.exit_code == 0, r.output
    assert not (tmp_path / "c").exists()
    r = CliRunner().invoke(main, ["compile", "specs", "-o", str(tmp_path / "out")])
    assert r.exit_code == 0 and "0 written" in r.output
    assert len(_entries(tmp_path / "c")) > 0


def test_the_language_server_shares_the_cache(specs, tmp_path, counted):
    from om_dsl.lsp.analysis import check_workspace

    _files(specs, Cache(tmp_path / "c"))  # as `om compile` leaves it
    counted()
    cached = check_workspace(specs, {}, Cache(tmp_path / "c"))
    assert counted()["parsed"] == 0
    plain = check_workspace(specs, {})
    assert render_text(cached.diagnostics, cached.sources) == render_text(plain.diagnostics, plain.sources)
    assert [s.name for s in cached.scopes] == [s.name for s in plain.scopes]


# ---- the faster printers are the same printers -------------------------------------------------

_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(10**12), 10**12), st.text(st.characters(blacklist_categories=("Cs",)), max_size=150))
_json = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=6), st.dictionaries(st.text(max_size=12), inner, max_size=6)), max_leaves=60)


@settings(max_examples=300, deadline=None)
@given(_json)
def test_pformat_is_pprints_layout(value):
    assert pformat(value, width=110) == pprint.pformat(value, width=110, sort_dicts=True)


def _old_dumps(data) -> str:
    """canonical.dumps as it was: one json.dumps per scalar."""
    out: list[str] = []

    def scalar(x):
        return json.dumps(x, ensure_ascii=False, separators=(", ", ": "))

    def has_dict(x):
        return isinstance(x, dict) or (isinstance(x, list) and any(has_dict(e) for e in x))

    def dump(x, indent):
        pad = "  " * (indent + 1)
        if isinstance(x, dict):
            if not x:
                out.append("{}")
                return
            out.append("{\n")
            keys = sorted(x)
            for n, k in enumerate(keys):
                out.append(f"{pad}{scalar(k)}: ")
                dump(x[k], indent + 1)
                out.append(",\n" if n < len(keys) - 1 else "\n")
            out.append("  " * indent + "}")
        elif isinstance(x, list) and has_dict(x):
            out.append("[\n")
            for n, e in enumerate(x):
                out.append(pad)
                dump(e, indent + 1)
                out.append(",\n" if n < len(x) - 1 else "\n")
            out.append("  " * indent + "]")
        else:
            out.append(scalar(x))

    dump(data, 0)
    return "".join(out) + "\n"


@settings(max_examples=300, deadline=None)
@given(_json)
def test_canonical_dumps_is_unchanged(value):
    assert dumps(value) == _old_dumps(value)


def test_the_editor_writes_no_entry_for_an_unsaved_buffer(specs, tmp_path):
    from om_dsl.lsp.analysis import check_workspace

    products = specs / "acme" / "products.om"
    typing = products.read_text() + "# typed, not saved\n"
    cache_dir = tmp_path / "c"
    for n in range(3):  # three keystrokes
        check_workspace(specs, {str(products.resolve()): typing + "#" * n}, Cache(cache_dir))
    assert len(_entries(cache_dir)) == 2 * (_om_files(specs) - 1)  # the other files as saved; none for the buffer (its saved text is not read)


# ---- the parser's tables ---------------------------------------------------------------------


@pytest.fixture
def fresh_parser(monkeypatch):
    """A process that has no parser yet; counts the parsers built from the grammar."""
    from om_dsl.syntax import grammar

    built = []
    build_parser = grammar.build_parser
    monkeypatch.setattr(grammar, "_parser", None)
    monkeypatch.setattr(grammar, "build_parser", lambda **kw: built.append(1) or build_parser(**kw))
    return built


def test_a_fresh_process_makes_its_parser_from_the_cached_tables(specs, tmp_path, fresh_parser, monkeypatch):
    from om_dsl.syntax import grammar

    cache_dir = tmp_path / "c"
    plain = _files(specs, Cache(cache_dir))
    assert fresh_parser == [1] and len(_entries(cache_dir, ("grammar",))) == 1
    monkeypatch.setattr(grammar, "_parser", None)  # the next process
    products = specs / "acme" / "products.om"
    products.write_text(products.read_text().replace('"Home Fiber Internet"', '"Home Fibre Internet"', 1))
    edited = _files(specs, Cache(cache_dir))
    assert fresh_parser == [1]  # made from the tables, not built
    monkeypatch.setattr(grammar, "_parser", None)
    assert edited == _files(specs) != plain


@pytest.mark.parametrize("bad", ["corrupt", "function"])
def test_bad_parser_tables_are_not_used(specs, tmp_path, fresh_parser, monkeypatch, bad):
    from om_dsl.syntax import grammar

    cache_dir = tmp_path / "c"
    cache = Cache(cache_dir)
    _files(specs, cache)
    [entry] = _entries(cache_dir, ("grammar",))
    if bad == "corrupt":
        entry.write_bytes(entry.read_bytes()[:-10])
    else:  # well signed, but a pickle that would call a function: refused by the unpickler
        cache.put("grammar", entry.name, pickle.dumps(_Boom()))
    monkeypatch.setattr(grammar, "_parser", None)
    shutil.rmtree(cache_dir / "file")  # every file parsed again
    assert _files(specs, Cache(cache_dir)) == _files(specs)
    assert fresh_parser == [1, 1] and CALLED == []


# ---- differential: after each edit, the cache gives what a compile without it gives ----------


def _outcome(specs, cache=None):
    """What a user sees of a compile: the rendered diagnostics, and the files when it compiled."""
    result = build([str(specs)], cache=cache)
    shown = render_text(result.check.diagnostics, result.check.sources)
    return shown, (result.files(specs.parent / "out") if result.ok else None)


def _edits(specs):
    """A session of edits, each (what, file, how): comments, layout, meaning, errors and warnings, undone."""
    acme = specs / "acme"
    unused = "\ntable never_used: int -> int {\n  1: 2\n}\n"
    return [
        ("a comment at the end", acme / "products.om", lambda t: t + "# note\n"),
        ("blank lines and a comment at the top", acme / "decomposition.om", lambda t: t.replace("\n", "\n\n# moved down\n\n", 2)),
        ("a product laid out otherwise", acme / "products.om", lambda t: t.replace(" {\n", "\n{\n", 4).replace(": ", ":  ", 5)),
        ("a product's name", acme / "products.om", lambda t: t.replace('"Home Fiber Internet"', '"Home Fibre Internet"', 1)),
        ("an unused table: a warning", acme / "enrichment.om", lambda t: t + unused),
        ("a comment beside the warning", acme / "enrichment.om", lambda t: "# above everything\n" + t),
        ("the warned table laid out otherwise", acme / "enrichment.om", lambda t: t.replace("never_used: int -> int {\n  1: 2\n}", "never_used:\n  int -> int\n{\n\n  1:   2 }")),
        ("a comment in another file while the warning stands", acme / "plans_add.om", lambda t: "# plans\n" + t),
        ("an unknown name: an error", acme / "enrichment.om", lambda t: t.replace("upload_for_speed[speed_mbps]", "upload_for_speed[speed_mbsp]", 1)),
        ("a comment while the error stands", acme / "enrichment.om", lambda t: t + "# still broken\n"),
        ("a comment elsewhere while the error stands", acme / "systems.om", lambda t: t + "# elsewhere\n"),
        ("the error fixed", acme / "enrichment.om", lambda t: t.replace("speed_mbsp]", "speed_mbps]", 1)),
        ("the library's layout", specs / "shared" / "telco.om", lambda t: "\n\n" + t.replace("\n", "\n\n", 3)),
        ("a syntax error", acme / "systems.om", lambda t: t + "system {\n"),
        ("the syntax error fixed", acme / "systems.om", lambda t: t.removesuffix("system {\n")),
        ("the task package's code", acme / "acme_tasks" / "numbers.py", lambda t: t + "\n# a comment in Python\n"),
        # Edits of meaning that leave the interface as it was: spliced (tests/test_recompile.py), not checked.
        ("a validation message", acme / "products.om", lambda t: t.replace("needs the phone_number to port in", "needs the number to port in", 1)),
        ("an attribute's default", acme / "products.om", lambda t: t.replace("int in {0, 12, 24} = 12", "int in {0, 12, 24} = 24", 1)),
        ("a task's timeout", acme / "plans_add.om", lambda t: t.replace("  callout assign_ip = ipam.assign_ip(ip_version)\n", "  callout assign_ip = ipam.assign_ip(ip_version)\n    timeout 45s\n", 1)),
    ]


def test_after_each_edit_the_cache_gives_what_a_compile_without_it_gives(specs, tmp_path, counted):
    cache_dir = tmp_path / "c"
    originals = {}
    assert _outcome(specs, Cache(cache_dir)) == _outcome(specs)
    checked = {}
    for what, path, edit in _edits(specs):
        originals.setdefault(path, path.read_text())
        text = path.read_text()
        assert edit(text) != text, what
        path.write_text(edit(text))
        counted()
        cached = _outcome(specs, Cache(cache_dir))
        checked[what] = counted()["checked"]
        assert cached == _outcome(specs), what
    for path, text in originals.items():  # every edit undone: the first version's parses are found again
        path.write_text(text)
    counted()
    found = _outcome(specs, Cache(cache_dir))
    assert counted()["parsed"] == 0
    assert found == _outcome(specs)
    # Comments and layout are not checked again (their diagnostics move with them); the rest is. A syntax
    # error stores no entry (it is reported before the catalog): fixed, the version before is found.
    assert {what for what, n in checked.items() if n == 0} == {
        "the syntax error fixed",
        "a comment at the end",
        "blank lines and a comment at the top",
        "a product laid out otherwise",
        "a comment beside the warning",
        "the warned table laid out otherwise",
        "a comment in another file while the warning stands",
        "a comment while the error stands",
        "a comment elsewhere while the error stands",
        "the library's layout",
        "a validation message",
        "an attribute's default",
        "a task's timeout",
    }


@given(st.dictionaries(st.text(max_size=12), st.text(max_size=20), max_size=5), st.text(max_size=30))
def test_the_root_goes_into_sources_json_as_printing_it_would_put_it(elements, root):
    from om_dsl.build import _with_root

    data = {"catalog": "c", "elements": elements, "files": {"a.om": "sha256:0"}, "schema": "om-plan/1"}
    assert _with_root(dumps(data), root) == dumps(dict(data, root=root))


def test_a_well_signed_catalog_entry_this_om_cannot_use_is_checked_again(specs, tmp_path, counted):
    """Entries are ours, so this should not happen; should it, the catalog is checked, never a traceback."""
    cache = Cache(tmp_path / "c")
    _files(specs, cache)
    for path in _entries(tmp_path / "c", ("unit",)):
        entry = list(cache_mod.loads(cache.get("unit", path.name)))
        entry[2] = 5  # its files' text keys: not a list of pairs
        cache.put("unit", path.name, cache_mod.dumps(tuple(entry)))
    products = specs / "acme" / "products.om"
    products.write_text(products.read_text() + "# a comment: found by shape, were the entry usable\n")
    counted()
    assert _files(specs, Cache(tmp_path / "c")) == _files(specs)
    assert counted()["checked"] == 1 + _catalogs(specs)  # acme's entry is tried, fails and acme is checked; then the plain build


def test_spans_that_start_together_in_one_layout_and_not_in_the_other_cannot_be_placed():
    from om_dsl.recompile import span_pairs

    old = ((1, 1, 1, 9, 0, 8), (1, 1, 1, 4, 0, 3), (2, 1, 2, 4, 9, 12))
    new = ((1, 1, 2, 4, 0, 12), (1, 1, 1, 4, 0, 3), (3, 1, 3, 4, 14, 17))  # the first two made of different tokens: not a layout of one text
    starts, ends = span_pairs(old, new)
    assert starts[0] == (1, 1, 0) and starts[9] == (3, 1, 14)
    assert ends[8] == (2, 4, 12) and ends[3] == (1, 4, 3) and ends[12] == (3, 4, 17)
    conflicting = span_pairs(old, ((1, 1, 1, 9, 0, 8), (2, 1, 2, 4, 9, 12), (3, 1, 3, 4, 14, 17)))[0]
    assert conflicting[0] is None  # two spans that started together no longer do: no place for either


def test_a_comment_edit_whose_previous_text_is_gone_from_the_cache_is_checked_again(specs, tmp_path, counted):
    """The previous version's spans are what place the elements; without them (pruned, deleted) the catalog is checked."""
    cache_dir = tmp_path / "c"
    _files(specs, Cache(cache_dir))
    shutil.rmtree(cache_dir / "tree")
    products = specs / "acme" / "products.om"
    products.write_text("# a comment first: every element moves\n" + products.read_text())
    counted()
    assert _files(specs, Cache(cache_dir)) == _files(specs)
    assert counted()["checked"] == 1 + _catalogs(specs)  # acme checked, its trees parsed again; then the plain build


def test_a_tree_gone_from_the_cache_is_parsed_again_when_its_catalog_is_checked(specs, tmp_path, counted):
    cache_dir = tmp_path / "c"
    _files(specs, Cache(cache_dir))
    shutil.rmtree(cache_dir / "tree")
    products = specs / "acme" / "products.om"
    products.write_text(products.read_text().replace('"Home Fiber Internet"', '"Home Fibre Internet"', 1))
    counted()
    assert _files(specs, Cache(cache_dir)) == _files(specs)
    assert counted()["parsed"] == len(list((specs / "acme").glob("*.om"))) + 1 + _om_files(specs)  # acme's files and the library; then the plain build
