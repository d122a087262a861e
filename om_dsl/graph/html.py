"""One self-contained HTML page of a graph, for a reviewer's browser.

No script, no stylesheet or font to fetch, no network: the styles are inline,
the drawing is Graphviz's SVG inlined into the page (when Graphviz is
installed), and the graph is always also written out as tables: its nodes
grouped per cluster (product and plan, or fulfillment request and line),
each with what it waits for and what follows it, linked by anchors. The DOT
source closes the page.
"""

from __future__ import annotations

import re
from html import escape
from typing import Optional

from om_dsl.graph.mermaid import node_ids
from om_dsl.graph.model import Cluster, Edge, Graph, Node, safe_ids

_CSS = """
body { font-family: Helvetica, Arial, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
h3, h4, h5, h6 { font-size: 1em; margin: 1.2em 0 0.4em; }
section.cluster { margin-left: 1em; padding-left: 0.8em; border-left: 3px solid #d5e8d4; }
section.cluster.request, section.cluster.commercial, section.cluster.items { border-left-color: #6c8ebf; }
table { border-collapse: collapse; margin: 0.4em 0 1em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; vertical-align: top; text-align: left; font-size: 0.9em; }
th { background: #f3f3f3; }
td.node b { font-family: monospace; font-size: 1.05em; }
.kind { color: #666; font-size: 0.85em; }
.ponr { color: #c00000; font-weight: bold; }
.skipped { color: #777; }
.note { color: #555; }
.missing { border: 1px solid #d6b656; background: #fff2cc; padding: 0.6em 0.8em; }
.drawing { overflow: auto; border: 1px solid #ddd; padding: 0.5em; }
.drawing .fit { position: relative; height: 0; }
.drawing .fit svg { position: absolute; top: 0; left: 0; width: 100%; height: 100%; }
#full-size:checked ~ .drawing .fit { height: auto; padding-bottom: 0 !important; }
#full-size:checked ~ .drawing .fit svg { position: static; }
label.zoom { font-size: 0.9em; color: #444; }
ul { margin: 0; padding-left: 1.2em; }
pre { background: #f7f7f7; padding: 0.8em; overflow: auto; font-size: 0.8em; }
:target { background: #ffffcc; }
"""

_LEGEND = [
    ("blue rounded box", "a commercial product, or an order item"),
    ("green box", "a technical product, or a fulfillment line"),
    ("yellow oval", "the order scope (catalog), or the order"),
    ("box / component / rounded box / diamond / ellipse", "a task: callout / auto (Python) / manual / milestone / wait"),
    ("red border", "a point of no return (hard or soft)"),
    ("blue edge, labelled with a rule", "a decomposition rule (D1, ...) with its when and per; in an order, also the line's action"),
    ("grey bold edge, diamond at the parent", "has: a commercial child (with its cardinality), or an item's child item"),
    ("solid black edge", "a dependency within one plan (one line): after, or before"),
    ("dashed black edge", "a dependency on another product's task: P.T in bundle or in order"),
    ("dashed grey edge", "every task in bundle/order: from the note-shaped \"every task\" node (catalog), or from each task it stands for (order)"),
    ("dashed grey box", "a task skipped at planning: its when is false"),
]

_IN = {"decompose": "from", "has": "part of", "after": "after", "cross": "after", "every": "after"}
_OUT = {"decompose": "decomposes into", "has": "has", "after": "before", "cross": "before", "every": "before"}


def inline_svg(svg: str) -> tuple[str, Optional[tuple]]:
    """Graphviz's SVG document as an element to put in an HTML page, and its
    natural (width, height): no XML prolog, doctype or comments, no
    namespace declarations (the HTML parser gives <svg> and xlink:
    attributes their namespaces), and no width and height (the page scales
    it to fit)."""
    svg = re.sub(r"<\?xml.*?\?>", "", svg, flags=re.DOTALL)
    svg = re.sub(r"<!DOCTYPE.*?>", "", svg, flags=re.DOTALL)
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.DOTALL)
    svg = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg)
    size = None
    m = re.search(r"<svg\b[^>]*>", svg)
    if m:
        tag = m.group(0)
        w = re.search(r'\swidth="([0-9.]+)(pt|px)?"', tag)
        h = re.search(r'\sheight="([0-9.]+)(pt|px)?"', tag)
        if w and h and float(w.group(1)) > 0:
            size = (w.group(1) + (w.group(2) or "px"), h.group(1) + (h.group(2) or "px"), float(h.group(1)) / float(w.group(1)))
            tag = re.sub(r'\s(?:width|height)="[^"]*"', "", tag)
            svg = svg[: m.start()] + tag + svg[m.end() :]
    return svg.strip(), size


def _node_ref(n: Node, mid: dict) -> str:
    return f'<a href="#{mid[n.id]}">{escape(n.id)}</a>'


def _edge_text(e: Edge, other: Node, mid: dict, words: dict) -> str:
    text = f"{words[e.kind]} {_node_ref(other, mid)}"
    label = e.label.removeprefix("has ") if e.label and e.kind == "has" else e.label
    if label:
        text += f" <span class=note>({escape(label)})</span>"
    if words is _OUT and e.kind == "decompose":  # the rule's mappings, once
        more = list(e.notes) + ([f"defined at {e.source}"] if e.source else [])
        if more:
            text += "<br><span class=note>" + "; ".join(escape(x) for x in more) + "</span>"
    return text


def _ul(items: list) -> str:
    if not items:
        return ""
    return "<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def _table(g: Graph, nodes: list, mid: dict, incoming: dict, outgoing: dict) -> list:
    if not nodes:
        return []
    out = ["<table>", "<tr><th>node</th><th>what</th><th>incoming</th><th>outgoing</th></tr>"]
    for n in nodes:
        kind = n.kind + (f" ({n.type})" if n.type else "")
        cls = "ponr" if n.ponr else "skipped" if n.kind == "skipped" else ""
        details = [f'<span class="{cls}">{escape(d)}</span>' if cls and (d.startswith("point of no return") or n.kind == "skipped") else escape(d) for d in n.details]
        notes = [f"<span class=note>{escape(x)}</span>" for x in n.notes + ((f"defined at {n.source}",) if n.source else ())]
        ins = [_edge_text(e, g.node(e.src), mid, _IN) for e in incoming.get(n.id, [])]
        outs = [_edge_text(e, g.node(e.dst), mid, _OUT) for e in outgoing.get(n.id, [])]
        out.append(
            f'<tr id="{mid[n.id]}"><td class=node><b>{escape(n.title)}</b><br><span class=kind>{escape(kind)} · {escape(n.id)}</span></td>'
            f"<td>{_ul(details + notes)}</td><td>{_ul(ins)}</td><td>{_ul(outs)}</td></tr>"
        )
    out.append("</table>")
    return out


def _cluster(g: Graph, c: Cluster, depth: int, cid: dict, mid: dict, incoming: dict, outgoing: dict, out: list) -> None:
    h = min(depth + 2, 6)
    out.append(f'<section class="cluster {escape(c.kind)}" id="{cid[c.id]}">')
    out.append(f"<h{h}>{escape(c.title)} <span class=kind>{escape(c.kind)}</span></h{h}>")
    notes = c.notes + ((f"defined at {c.source}",) if c.source else ())
    if notes:
        out.append(f"<p class=note>{'<br>'.join(escape(x) for x in notes)}</p>")
    out += _table(g, g.nodes_in(c.id), mid, incoming, outgoing)
    for child in g.child_clusters(c.id):
        _cluster(g, child, depth + 1, cid, mid, incoming, outgoing, out)
    out.append("</section>")


def to_html(g: Graph, dot_text: str, svg: Optional[str], without_svg: Optional[str] = None) -> str:
    """The page. `svg` is Graphviz's drawing, or None; then `without_svg` says why."""
    mid = node_ids(g)
    cid = safe_ids([c.id for c in g.clusters], "c_")
    edges = g.edges
    incoming: dict = {}
    outgoing: dict = {}
    for e in edges:
        incoming.setdefault(e.dst, []).append(e)
        outgoing.setdefault(e.src, []).append(e)
    counts = f"{len(g.nodes)} nodes, {len(edges)} edges, {len(g.clusters)} clusters"
    css = _CSS
    drawing = []
    if svg:
        element, size = inline_svg(svg)
        if size:
            width, height, ratio = size
            css += f"#full-size:checked ~ .drawing .fit svg {{ width: {width}; height: {height}; }}\n"
            drawing.append('<input type="checkbox" id="full-size"> <label class="zoom" for="full-size">show the drawing at full size (scroll to move around)</label>')
            drawing.append(f'<div class="drawing"><div class="fit" style="padding-bottom: {ratio * 100:.3f}%">{element}</div></div>')
        else:
            drawing.append(f'<div class="drawing">{element}</div>')
    else:
        reason = escape(without_svg or "no drawing")
        drawing.append(f'<p class="missing">{reason}. The graph is listed below; <code>om graph --format dot</code> or <code>--format mermaid</code> give text that other tools draw.</p>')
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(g.title)}</title>",
        f"<style>{css}</style>",
        "</head>",
        "<body>",
        f"<h1>{escape(g.title)}</h1>",
        f"<p>Made by <code>om graph</code>: {counts}. "
        + ("Hover over a box or an edge of the drawing for its details. " if svg else "")
        + 'Every node is listed <a href="#lists">below</a>, with its incoming and outgoing edges.</p>',
        '<h2 id="drawing">Drawing</h2>',
        *drawing,
    ]
    out.append('<h2 id="legend">Legend</h2>')
    out.append("<table><tr><th>drawn as</th><th>means</th></tr>" + "".join(f"<tr><td>{escape(a)}</td><td>{escape(b)}</td></tr>" for a, b in _LEGEND) + "</table>")
    out.append('<h2 id="lists">Nodes and edges</h2>')
    if g.child_clusters(None):
        out.append("<p>Groups: " + ", ".join(f'<a href="#{cid[c.id]}">{escape(c.title)}</a>' for c in g.child_clusters(None)) + ".</p>")
    out += _table(g, g.nodes_in(None), mid, incoming, outgoing)
    for c in g.child_clusters(None):
        _cluster(g, c, 1, cid, mid, incoming, outgoing, out)
    out.append('<h2 id="dot">DOT source</h2>')
    out.append(f"<details><summary>the graph in Graphviz DOT ({len(dot_text.splitlines())} lines)</summary><pre>{escape(dot_text)}</pre></details>")
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"
