"""`om graph`: the catalog graph and one order's graph, as DOT, Mermaid, SVG
and HTML. The DOT and Mermaid text of the Acme catalog and of the
every-option order are reviewed snapshots (one file each under
__snapshots__/test_graph)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from click.testing import CliRunner
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

import om_dsl.cli.graph  # noqa: F401  (registers `om graph`)
from om_dsl.cli import main
from om_dsl.graph import Cluster, Edge, Graph, Node, to_dot, to_mermaid
from om_dsl.graph.dot import quote
from om_dsl.graph.mermaid import text as mermaid_text
from om_dsl.graph.model import safe_ids

from support import ROOT

EVERY_OPTION = "examples/orders/new-fiber-every-option.json"
HAS_DOT = shutil.which("dot") is not None


class DotText(SingleFileSnapshotExtension):
    _write_mode = WriteMode.TEXT
    file_extension = "dot"


class MermaidText(SingleFileSnapshotExtension):
    _write_mode = WriteMode.TEXT
    file_extension = "mmd"


EXTENSIONS = {"dot": DotText, "mermaid": MermaidText}


def graph(*args, **kwargs):
    return CliRunner().invoke(main, ["graph", *args], **kwargs)


def no_dot(monkeypatch):
    """Graphviz absent, whatever this machine has."""
    which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None if name == "dot" else which(name, *a, **k))


# ---- snapshots ----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["dot", "mermaid"])
def test_catalog_graph_snapshot(fmt, snapshot, in_repo):
    r = graph("generated/acme", "--format", fmt)
    assert r.exit_code == 0, r.output
    assert r.stdout == snapshot(extension_class=EXTENSIONS[fmt])


@pytest.mark.parametrize("fmt", ["dot", "mermaid"])
def test_order_graph_snapshot(fmt, snapshot, in_repo):
    r = graph("generated/acme", EVERY_OPTION, "--format", fmt)
    assert r.exit_code == 0, r.output
    assert r.stdout == snapshot(extension_class=EXTENSIONS[fmt])


@pytest.mark.parametrize("args", [[], [EVERY_OPTION]], ids=["catalog", "order"])
def test_specs_and_compiled_catalog_give_the_same_graph(args, in_repo):
    for fmt in ("dot", "mermaid"):
        a = graph("specs" if args else "specs/acme", *args, "--format", fmt)  # specs/ holds two catalogs: an order chooses
        b = graph("generated/acme", *args, "--format", fmt)
        assert a.exit_code == b.exit_code == 0
        assert a.stdout == b.stdout


@pytest.mark.parametrize("fmt", ["dot", "mermaid", "html"])
@pytest.mark.parametrize("args", [[], [EVERY_OPTION]], ids=["catalog", "order"])
def test_the_same_input_gives_the_same_bytes(fmt, args, in_repo):
    first = graph("generated/acme", *args, "--format", fmt)
    second = graph("generated/acme", *args, "--format", fmt)
    assert first.exit_code == 0 and first.stdout_bytes == second.stdout_bytes


def test_moving_a_rule_within_its_file_changes_no_byte(in_repo, tmp_path):
    copy = tmp_path / "specs"
    shutil.copytree(ROOT / "specs", copy, ignore=shutil.ignore_patterns("mobile"))
    plans = copy / "acme" / "plans_add.om"
    plans.write_text("# a comment that moves every plan down a line\n\n" + plans.read_text(encoding="utf-8"), encoding="utf-8")
    for fmt in ("dot", "mermaid"):
        assert graph(str(copy), "--format", fmt).stdout == graph("specs/acme", "--format", fmt).stdout
    page = graph(str(copy), "--format", "html").stdout
    assert "defined at acme/plans_add.om:" in page  # where it is defined: in the HTML lists only


# ---- what the graphs hold -------------------------------------------------------------------------


def edges_of(dot_text: str) -> list[tuple[str, str, str]]:
    """(source, target, attributes) of each visible edge."""
    out = []
    for m in re.finditer(r'^  "((?:[^"\\]|\\.)*)" -> "((?:[^"\\]|\\.)*)"(?: \[(.*)\])?;$', dot_text, re.MULTILINE):
        if "style=invis" not in (m.group(3) or ""):
            out.append((m.group(1), m.group(2), m.group(3) or ""))
    return out


def test_catalog_graph_shows_rules_plans_and_cross_product_dependencies(in_repo):
    dot_text = graph("generated/acme").stdout
    edges = edges_of(dot_text)
    rules = {re.search(r'label="(D\d)', a).group(1): (s, d) for s, d, a in edges if "#1f5fa8" in a}
    assert sorted(rules) == [f"D{n}" for n in range(1, 10)]
    assert rules["D1"] == ("product:HOME_FIBER", "product:FIBER_ACCESS_CFS")
    assert rules["D9"] == ("scope:order", "product:BILLING_RFS")  # the order scope is a node
    assert 'label="D3 when static_ip"' in dot_text and 'label="D8 per set_top_boxes"' in dot_text
    assert 'label="D9 when count(order.root_items) > 0"' in dot_text
    assert ("product:HOME_FIBER", "product:MESH_EXTENDER", 'label="has [0..3]", color=gray40, style=bold, dir=both, arrowhead=none, arrowtail=odiamond') in edges
    # plan scope: solid; P.T in bundle: dashed, to that task of every plan of P
    assert ("task:FIBER_ACCESS_CFS.add.check_address", "task:FIBER_ACCESS_CFS.add.reserve_port", 'tooltip="reserve_port after check_address"') in edges
    dashed = {(s, d) for s, d, a in edges if "style=dashed" in a}
    assert {("task:ONT_RFS.add.ship_ont", "task:FIBER_ACCESS_CFS.add.install_visit"), ("task:ONT_RFS.modify.ship_ont", "task:FIBER_ACCESS_CFS.add.install_visit")} <= dashed
    assert ("task:VOICE_CFS.delete.deactivate_voice", "task:FIBER_ACCESS_CFS.delete.deactivate_line") in dashed  # `before`, drawn in the direction work flows
    assert {("every:order", f"task:BILLING_RFS.{a}") for a in ("add.start_billing", "modify.update_billing", "delete.stop_billing")} <= dashed
    # points of no return and compensations
    ponr = [l for l in dot_text.splitlines() if "#c00000" in l]
    assert len(ponr) == 1 and "task:FIBER_ACCESS_CFS.add.activate_line" in ponr[0] and "point of no return (soft)" in ponr[0]
    assert "compensate: inventory.release_port" in dot_text
    # every technical product is a cluster holding its plans, one per action
    for plan in ("FIBER_ACCESS_CFS.add", "FIBER_ACCESS_CFS.modify", "FIBER_ACCESS_CFS.delete", "BILLING_RFS.add"):
        assert f'subgraph "cluster_plan:{plan}"' in dot_text
    assert 'label="FIBER_ACCESS_CFS on modify when changed(down_mbps, up_mbps)";' in dot_text


def test_order_graph_has_one_edge_per_planned_dependency(in_repo):
    data = json.loads(CliRunner().invoke(main, ["plan", "generated/acme", EVERY_OPTION, "--format", "json"]).stdout)
    dot_text = graph("generated/acme", EVERY_OPTION).stdout
    task_edges = {(s, d) for s, d, _ in edges_of(dot_text) if s.startswith("task:") and d.startswith("task:")}
    planned = {(f"task:{on}", f"task:{i['id']}") for i in data["plan"]["items"] for on in i["depends_on"]}
    assert task_edges == planned and len(planned) == 32
    # items -> lines, labelled with rule and action; skipped tasks shown, without edges
    lines = [l for fr in data["fulfillment_requests"] for l in fr["lines"]]
    decomposed = {(s, d): a for s, d, a in edges_of(dot_text) if d.startswith("line:")}
    assert len(decomposed) == len(lines) == 12
    assert 'label="D8: add, unit 2 of 2"' in decomposed[("item:7", "line:7/D8#2")]
    assert 'label="D9: add when count(order.root_items) > 0"' in decomposed[("order:ORD-1001", "line:order/D9")]
    for s in data["plan"]["skipped"]:
        assert f'"task:{s["id"]}" [label="' in dot_text
        assert not any(f'task:{s["id"]}' in (a, b) for a, b, _ in edges_of(dot_text))
    assert dot_text.count("#c00000") == 1


def test_order_graph_against_an_installed_base(in_repo, tmp_path):
    from support.engine_helpers import make_runner, operate

    runner = make_runner(tmp_path)
    runner.submit((ROOT / "examples/orders/macd/base-fiber-300.json").read_text(encoding="utf-8"))
    operate(runner)
    runner.store.close()
    runner.simulators.close()
    order = "examples/orders/macd/speed-300-to-1000.json"
    assert graph("generated/acme", order).exit_code == 1  # the asset is unknown without --db
    r = graph("generated/acme", order, "--db", str(tmp_path / "om.db"), "--format", "mermaid")
    assert r.exit_code == 0, r.output
    assert '-->|"D1: modify"| n_line_1_D1' in r.stdout and '-->|"D4: noChange"|' in r.stdout
    assert "down_mbps: 300 -#gt; 1000" in r.stdout and "installed, not in the order" in r.stdout
    assert "n_task_1_D1_modify_profile" in r.stdout


# ---- escaping ---------------------------------------------------------------------------------------

AWKWARD = 'a "quoted" \\back\\slash <b>&amp; #1; | `tick`\nnext line ü'


def awkward_graph() -> Graph:
    g = Graph(AWKWARD, AWKWARD, "catalog")
    g.add_cluster(Cluster("c:" + AWKWARD, AWKWARD, "product"))
    g.add_node(Node("n:" + AWKWARD, AWKWARD, "technical", "c:" + AWKWARD, [AWKWARD], [AWKWARD]))
    g.add_node(Node("end", "end", "task", None, type="milestone", ponr="hard"))
    g.add_edge(Edge("n:" + AWKWARD, "end", "cross", AWKWARD, [AWKWARD]))
    return g


def strings_close_on_their_line(text: str) -> bool:
    """Every double-quoted string (with backslash escapes) ends on the line it starts."""
    for line in text.splitlines():
        inside = escaped = False
        for ch in line:
            if escaped:
                escaped = False
            elif inside and ch == "\\":
                escaped = True
            elif ch == '"':
                inside = not inside
        if inside:
            return False
    return True


def test_dot_quotes_any_text():
    assert quote('say "hi"\\n\n') == '"say \\"hi\\"\\\\n\\n"'
    dot_text = to_dot(awkward_graph())
    assert strings_close_on_their_line(dot_text)
    if not HAS_DOT:
        pytest.skip("Graphviz is not installed")
    done = subprocess.run(["dot", "-Tsvg"], input=dot_text.encode(), capture_output=True, check=True)
    svg = done.stdout.decode()
    assert "a &quot;quoted&quot; \\back\\slash &lt;b&gt;&amp;amp; #1; | `tick`" in svg  # as written, backslashes too
    assert "next line ü" in svg


def test_mermaid_labels_use_entity_codes():
    assert mermaid_text('"<&>#|`') == "#quot;#lt;#amp;#gt;#35;#124;#96;"
    text = to_mermaid(awkward_graph())
    body = text.split("---\n", 2)[2]
    assert strings_close_on_their_line(body)
    labels = re.findall(r'"([^"\n]*)"', body)
    assert len(labels) == 4  # the cluster, two nodes, the edge: no quote inside a label
    for label in labels:
        assert not set(label.replace("<br/>", "")) & set('<>&|`')
    assert "\\back\\slash" in text and "#35;1;" in text
    assert "n_end" in text  # `end` would close a subgraph: every id has a prefix


def test_safe_ids_are_deterministic_and_distinct():
    names = ["line:1/D1", "line:1_D1", "item:ü", "item:ö", "plain"]
    ids = safe_ids(names, "n_")
    assert len(set(ids.values())) == len(names)
    assert ids == safe_ids(list(reversed(names)), "n_")
    assert ids["plain"] == "n_plain" and all(re.fullmatch(r"[A-Za-z0-9_]+", v) for v in ids.values())


# ---- SVG and HTML -------------------------------------------------------------------------------------


def test_svg(in_repo):
    r = graph("generated/acme", "--format", "svg")
    if HAS_DOT:
        assert r.exit_code == 0 and (r.stdout.startswith("<?xml") or "<svg" in r.stdout)
        assert "FIBER_ACCESS_CFS" in r.stdout
    else:
        assert r.exit_code == 2 and "apt-get install graphviz" in r.stderr


def test_svg_without_graphviz_says_how_to_get_it(in_repo, monkeypatch):
    no_dot(monkeypatch)
    r = graph("generated/acme", "--format", "svg")
    assert r.exit_code == 2 and r.stdout == ""
    assert "needs Graphviz" in r.stderr and "apt-get install graphviz" in r.stderr
    assert "--format dot" in r.stderr and "--format html" in r.stderr
    assert "Traceback" not in r.output


def self_contained(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "http://" not in page and "https://" not in page
    assert not re.search(r"<script|<link|<iframe|<img|@import|url\(|\bsrc=", page, re.IGNORECASE)


@pytest.mark.parametrize("args", [[], [EVERY_OPTION]], ids=["catalog", "order"])
def test_html_is_one_self_contained_page(args, in_repo, tmp_path):
    out = tmp_path / "graph.html"
    r = graph("generated/acme", *args, "--format", "html", "-o", str(out))
    assert r.exit_code == 0, r.output
    assert r.stdout == "" and list(tmp_path.iterdir()) == [out]
    page = out.read_text(encoding="utf-8")
    self_contained(page)
    assert ("<svg" in page) == HAS_DOT
    assert '<h2 id="lists">' in page and "<table>" in page


def test_html_without_graphviz_lists_the_graph(in_repo, monkeypatch):
    no_dot(monkeypatch)
    r = graph("generated/acme", EVERY_OPTION, "--format", "html")
    assert r.exit_code == 0
    page = r.stdout
    self_contained(page)
    assert "<svg" not in page and "apt-get install graphviz" in page
    # grouped per fulfillment request and line, every node with its edges, linked
    assert '<section class="cluster request" id="c_request_FR_1">' in page
    assert '<section class="cluster line" id="c_line_1_D1">' in page
    assert '<tr id="n_task_1_D1_install_visit">' in page
    assert 'after <a href="#n_task_1_D2_ship_ont">task:1/D2:ship_ont</a> <span class=note>(after ONT_RFS.ship_ont in bundle)</span>' in page
    assert 'class="ponr">point of no return (soft)' in page
    ids = re.findall(r'id="([^"]+)"', page)
    assert len(ids) == len(set(ids))
    assert all(ref in ids for ref in re.findall(r'href="#([^"]+)"', page))


# ---- bad input ----------------------------------------------------------------------------------------


def test_specs_with_errors_print_diagnostics_and_exit_2(write_spec):
    write_spec('catalog broken version "1"\n\ncommercial A "A" root {\n  attr x: int = "no"\n}\n')
    r = graph("spec.om")
    assert r.exit_code == 2 and r.stdout == ""
    assert "error[" in r.stderr and "compile failed" in r.stderr and "Traceback" not in r.output


def test_a_rejected_order_exits_1_with_its_reasons(in_repo):
    r = graph("generated/acme", "examples/orders/invalid-port-in-without-number.json", "--format", "html")
    assert r.exit_code == 1 and r.stdout == ""
    assert "rejected: 1 problem" in r.stderr and "port_in_requires_number" in r.stderr
    r = graph("specs/acme", "examples/orders/invalid-malformed-json.json")
    assert r.exit_code == 1 and "line 32, column 1" in r.stderr and "Traceback" not in r.output


def test_usage_errors(in_repo, tmp_path):
    r = graph("generated/acme", "--db", str(tmp_path / "om.db"))
    assert r.exit_code == 2 and "--db needs an ORDER" in r.output
    r = graph("generated/acme", EVERY_OPTION, "--db", str(tmp_path / "none.db"))
    assert r.exit_code == 2 and "no database at" in r.output
    r = graph("generated/acme", "--format", "png")
    assert r.exit_code == 2 and "Invalid value" in r.output
    r = graph("specs", "--catalog", "nope")
    assert r.exit_code == 2 and "no catalog `nope`" in r.output
    r = graph("generated/acme", "-o", str(tmp_path / "missing" / "g.dot"))
    assert r.exit_code == 2 and "cannot write" in r.stderr and "Traceback" not in r.output


# ---- the docs show real output ------------------------------------------------------------------------


def doc_block(lang: str) -> str:
    text = (ROOT / "docs" / "graph.md").read_text(encoding="utf-8")
    return re.search(rf"^```{lang}\n(.*?)^```", text, re.MULTILINE | re.DOTALL).group(1)


def test_the_docs_mermaid_example_is_the_real_output(in_repo):
    r = graph("generated/acme", "examples/orders/fiber-minimal.json", "--format", "mermaid")
    assert r.exit_code == 0 and r.stdout == doc_block("mermaid")


def test_the_docs_dot_excerpt_is_real_output(in_repo):
    lines = set(graph("specs/acme").stdout.splitlines())
    excerpt = [l for l in doc_block("dot").splitlines() if l.strip() != "..."]
    assert excerpt and all(l in lines for l in excerpt)
