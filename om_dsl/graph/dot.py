"""Graphviz DOT text of a graph, and SVG through Graphviz's `dot` program.

Every id and label is a double-quoted DOT string: backslashes are doubled
(Graphviz reads `\\n`, `\\l`, `\\N`... in labels), double quotes become
`\\"`, line breaks `\\n`, and `&` becomes `&amp;` (Graphviz reads HTML
entities such as `&lt;` in labels), so any name or expression is drawn as
written.
"""

from __future__ import annotations

import shutil
import subprocess

from om_dsl.graph.model import Cluster, Graph, Node

INSTALL_HINT = "install Graphviz (Debian/Ubuntu: `apt-get install graphviz`, macOS: `brew install graphviz`)"


def quote(text: str) -> str:
    """A DOT double-quoted string, for ids and labels alike."""
    escaped = text.replace("&", "&amp;").replace("\\", "\\\\").replace('"', '\\"').replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")
    return f'"{escaped}"'


def _attrs(pairs) -> str:
    return ", ".join(f"{k}={v}" for k, v in pairs)


_NODE_STYLE = {
    "scope": [("shape", "oval"), ("style", "filled"), ("fillcolor", '"#fff2cc"')],
    "commercial": [("shape", "box"), ("style", '"rounded,filled"'), ("fillcolor", '"#dae8fc"')],
    "item": [("shape", "box"), ("style", '"rounded,filled"'), ("fillcolor", '"#dae8fc"')],
    "technical": [("shape", "box"), ("style", "filled"), ("fillcolor", '"#d5e8d4"')],
    "line": [("shape", "box"), ("style", "filled"), ("fillcolor", '"#d5e8d4"')],
    "every": [("shape", "note"), ("style", "dashed"), ("color", "gray40")],
    "skipped": [("shape", "box"), ("style", "dashed"), ("color", "gray60"), ("fontcolor", "gray45")],
}

_TASK_STYLE = {
    "callout": [("shape", "box")],
    "auto": [("shape", "component")],
    "manual": [("shape", "box"), ("style", "rounded")],
    "milestone": [("shape", "diamond")],
    "wait": [("shape", "ellipse")],
}

_EDGE_STYLE = {
    "decompose": [("color", '"#1f5fa8"'), ("fontcolor", '"#1f5fa8"'), ("penwidth", "1.5")],
    "has": [("color", "gray40"), ("style", "bold"), ("dir", "both"), ("arrowhead", "none"), ("arrowtail", "odiamond")],
    "after": [],
    "cross": [("style", "dashed")],
    "every": [("style", "dashed"), ("color", "gray50")],
}

_CLUSTER_STYLE = {
    "commercial": [("style", "rounded"), ("color", '"#6c8ebf"')],
    "items": [("style", "rounded"), ("color", '"#6c8ebf"')],
    "product": [("style", "rounded"), ("color", '"#82b366"')],
    "plan": [("style", "dashed"), ("color", "gray50")],
    "request": [("style", "rounded"), ("color", '"#6c8ebf"')],
    "line": [("style", "dashed"), ("color", "gray50")],
}


# A running order's tasks, filled by state (om_dsl/graph/run.py; the console's legend uses the same colours).
STATE_FILL = {
    "pending": "#ffffff", "ready": "#fff2cc", "running": "#dae8fc", "completed": "#d5e8d4", "failed": "#ffe6cc",
    "fatallyFailed": "#f8cecc", "onHold": "#e1d5e7", "skipped": "#eeeeee", "cancelled": "#dddddd",
}


def _label(title: str, details) -> str:
    return quote("\n".join([title, *details]))


def _node(n: Node, indent: str) -> str:
    pairs = [("label", _label(n.title, n.details))]
    pairs += _TASK_STYLE.get(n.type or "", [("shape", "box")]) if n.kind == "task" else _NODE_STYLE.get(n.kind, [])
    if n.state is not None:
        style = next((v.strip('"') for k, v in pairs if k == "style"), "")
        pairs = [(k, v) for k, v in pairs if k != "style"]
        pairs += [("style", quote(",".join(filter(None, [style, "filled"])))), ("fillcolor", quote(STATE_FILL.get(n.state, "#ffffff")))]
    if n.ponr:
        pairs += [("color", '"#c00000"'), ("penwidth", "2.5")]
    if n.notes:
        pairs.append(("tooltip", quote("\n".join([n.title, *n.notes]))))
    return f"{indent}{quote(n.id)} [{_attrs(pairs)}];"


def _cluster(g: Graph, c: Cluster, depth: int, out: list) -> None:
    indent = "  " * depth
    out.append(f"{indent}subgraph {quote('cluster_' + c.id)} {{")
    out.append(f"{indent}  label={quote(c.title)};")
    for k, v in _CLUSTER_STYLE.get(c.kind, []):
        out.append(f"{indent}  {k}={v};")
    if c.notes:
        out.append(f"{indent}  tooltip={quote(chr(10).join([c.title, *c.notes]))};")
    for n in g.nodes_in(c.id):
        out.append(_node(n, indent + "  "))
    for child in g.child_clusters(c.id):
        _cluster(g, child, depth + 1, out)
    out.append(f"{indent}}}")


def to_dot(g: Graph) -> str:
    out = [
        f"digraph {quote(g.name)} {{",
        f"  graph [label={quote(g.title)}, labelloc=t, labeljust=l, rankdir=LR, fontname=\"Helvetica\", fontsize=12, newrank=true];",
        '  node [fontname="Helvetica", fontsize=10];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    for n in g.nodes_in(None):
        out.append(_node(n, "  "))
    for c in g.child_clusters(None):
        _cluster(g, c, 1, out)
    for e in g.edges:
        pairs = list(_EDGE_STYLE[e.kind])
        if e.label:
            pairs.insert(0, ("label", quote(e.label)))
        if e.notes:
            pairs.append(("tooltip", quote("\n".join(e.notes))))
        out.append(f"  {quote(e.src)} -> {quote(e.dst)}" + (f" [{_attrs(pairs)}]" if pairs else "") + ";")
    for src, dst in g.layout:
        out.append(f"  {quote(src)} -> {quote(dst)} [style=invis];")
    out.append("}")
    return "\n".join(out) + "\n"


# ---- SVG -------------------------------------------------------------------------------------


class GraphvizMissing(Exception):
    """Graphviz's `dot` program is not on PATH."""


class GraphvizFailed(Exception):
    """`dot` ran and failed."""


def dot_program():
    return shutil.which("dot")


def to_svg(dot_text: str, timeout_s: float = 120) -> str:
    """The SVG that Graphviz draws of DOT text (raises GraphvizMissing without it)."""
    program = dot_program()
    if program is None:
        raise GraphvizMissing(f"Graphviz's `dot` program is not on PATH: {INSTALL_HINT}")
    try:
        done = subprocess.run([program, "-Tsvg"], input=dot_text.encode("utf-8"), capture_output=True, timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GraphvizFailed(f"could not run {program}: {exc}") from None
    if done.returncode != 0:
        raise GraphvizFailed(f"{program} -Tsvg failed (exit {done.returncode}): {done.stderr.decode('utf-8', 'replace').strip()}")
    return done.stdout.decode("utf-8")
