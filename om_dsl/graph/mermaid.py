"""Mermaid flowchart text of a graph.

Mermaid ids are made of [A-Za-z0-9_] (`n_` + the node's id, cleaned up; see
`safe_ids`). Labels are double-quoted; the characters Mermaid would read
(`"`, `#`, `<`, `>`, `&`, `|`, backquotes) are written as Mermaid entity
codes (`#quot;`, `#35;`...), and line breaks as `<br/>`.
"""

from __future__ import annotations

from om_dsl.graph.model import Cluster, Graph, Node, safe_ids

_ENTITIES = {"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "&": "#amp;", "|": "#124;", "`": "#96;", "\r": ""}


def text(s: str) -> str:
    """A line of label text, safe inside Mermaid's double quotes."""
    return "".join(_ENTITIES.get(ch, ch) for ch in s).replace("\n", "<br/>")


def label(lines) -> str:
    return '"' + "<br/>".join(text(l) for l in lines) + '"'


_SHAPES = {
    "scope": ("([", "])"),
    "commercial": ("(", ")"),
    "item": ("(", ")"),
    "technical": ("[", "]"),
    "line": ("[", "]"),
    "every": (">", "]"),
    "skipped": ("[", "]"),
}

_TASK_SHAPES = {"callout": ("[", "]"), "auto": ("[[", "]]"), "manual": ("([", "])"), "milestone": ("{{", "}}"), "wait": ("[/", "/]")}

_ARROWS = {"decompose": "-->", "has": "==>", "after": "-->", "cross": "-.->", "every": "-.->"}

_CLASSES = [
    ("scope", "fill:#fff2cc,stroke:#d6b656"),
    ("commercial", "fill:#dae8fc,stroke:#6c8ebf"),
    ("technical", "fill:#d5e8d4,stroke:#82b366"),
    ("every", "fill:#ffffff,stroke:#666666,stroke-dasharray:4 3"),
    ("skipped", "fill:#ffffff,stroke:#999999,color:#777777,stroke-dasharray:4 3"),
    ("ponr", "stroke:#c00000,stroke-width:3px"),
]

_CLASS_OF = {"scope": "scope", "commercial": "commercial", "item": "commercial", "technical": "technical", "line": "technical", "every": "every", "skipped": "skipped"}


def _node(n: Node, mid: dict, indent: str) -> str:
    open_, close = _TASK_SHAPES.get(n.type or "", ("[", "]")) if n.kind == "task" else _SHAPES.get(n.kind, ("[", "]"))
    return f"{indent}{mid[n.id]}{open_}{label([n.title, *n.details])}{close}"


def _cluster(g: Graph, c: Cluster, mid: dict, cid: dict, depth: int, out: list) -> None:
    indent = "  " * depth
    out.append(f"{indent}subgraph {cid[c.id]}[{label([c.title])}]")
    for n in g.nodes_in(c.id):
        out.append(_node(n, mid, indent + "  "))
    for child in g.child_clusters(c.id):
        _cluster(g, child, mid, cid, depth + 1, out)
    out.append(f"{indent}end")


def node_ids(g: Graph) -> dict:
    return safe_ids([n.id for n in g.nodes], "n_")


def to_mermaid(g: Graph) -> str:
    mid = node_ids(g)
    cid = safe_ids([c.id for c in g.clusters], "c_")
    title = g.title.replace("\r", " ").replace("\n", " ").replace("'", "''")
    out = ["---", f"title: '{title}'", "---", "flowchart LR"]
    for n in g.nodes_in(None):
        out.append(_node(n, mid, "  "))
    for c in g.child_clusters(None):
        _cluster(g, c, mid, cid, 1, out)
    edges = g.edges
    for e in edges:
        arrow = _ARROWS[e.kind]
        lbl = f"|{label([e.label])}|" if e.label else ""
        out.append(f"  {mid[e.src]} {arrow}{lbl} {mid[e.dst]}")
    for src, dst in g.layout:
        out.append(f"  {mid[src]} ~~~ {mid[dst]}")
    for name, style in _CLASSES:
        members = [mid[n.id] for n in g.nodes if (name == "ponr" and n.ponr) or (name != "ponr" and _CLASS_OF.get(n.kind) == name)]
        if members:
            out.append(f"  classDef {name} {style}")
            out.append(f"  class {','.join(members)} {name}")
    for kind, style in (("decompose", "stroke:#1f5fa8,stroke-width:1.5px"), ("every", "stroke:#888888")):
        idx = [str(n) for n, e in enumerate(edges) if e.kind == kind]
        if idx:
            out.append(f"  linkStyle {','.join(idx)} {style}")
    return "\n".join(out) + "\n"
