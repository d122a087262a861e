"""The graph that every output form draws: nodes, edges and nested clusters.

`om_dsl.graph.catalog` and `om_dsl.graph.order` build one; `dot`, `mermaid`
and `html` render it. Builders add nodes and clusters in a deterministic
order (catalog names sorted, an order's elements in the order's own order);
renderers keep that order and sort the edges, so the same input always
gives the same bytes.

Node ids are stable names (`product:HOME_FIBER`,
`task:FIBER_ACCESS_CFS.add.reserve_port`, `line:1/D1`), never positions.
Where an element is defined in the specs (`source`) is shown in the HTML
lists only, as the plan model keeps it apart from the content: moving a
rule within a file changes no DOT or Mermaid byte.
"""

from __future__ import annotations

import hashlib
import re
from typing import Optional

import attrs

# Node kinds: scope (the order scope, or one order), commercial, technical,
# task, every (the "every task in ..." proxy), item (an order item), line (a
# fulfillment line), skipped (a task skipped at planning).
NODE_KINDS = ("scope", "commercial", "technical", "task", "every", "item", "line", "skipped")

# Edge kinds: decompose (a decomposition rule: product -> product, item ->
# line), has (a commercial child, an item's child item), after (a dependency
# within one plan or line), cross (a dependency on another product's task),
# every (a dependency on every task of the other products).
EDGE_KINDS = ("decompose", "has", "after", "cross", "every")

TASK_TYPES = ("callout", "auto", "manual", "milestone", "wait")


def _tuple(x):
    return tuple(x)


@attrs.frozen
class Node:
    id: str
    title: str
    kind: str
    cluster: Optional[str] = None  # the id of the innermost cluster holding it
    details: tuple[str, ...] = attrs.field(converter=_tuple, default=())  # drawn under the title
    notes: tuple[str, ...] = attrs.field(converter=_tuple, default=())  # tooltips and the HTML lists only
    type: Optional[str] = None  # a task's type (TASK_TYPES)
    ponr: Optional[str] = None  # a point of no return: hard or soft
    source: Optional[str] = None  # where it is defined (file:line): the HTML lists only
    state: Optional[str] = None  # a running order's task: its state (the fill colour)


@attrs.frozen
class Edge:
    src: str
    dst: str
    kind: str
    label: Optional[str] = None
    notes: tuple[str, ...] = attrs.field(converter=_tuple, default=())
    source: Optional[str] = None

    def sort_key(self):
        return (self.src, self.dst, EDGE_KINDS.index(self.kind), self.label or "")


@attrs.frozen
class Cluster:
    id: str
    title: str
    kind: str  # commercial, product, plan (catalog); items, request, line (order)
    parent: Optional[str] = None
    notes: tuple[str, ...] = attrs.field(converter=_tuple, default=())
    source: Optional[str] = None


@attrs.define
class Graph:
    name: str  # the DOT graph's name
    title: str
    kind: str  # catalog or order
    nodes: list = attrs.field(factory=list)  # [Node], in drawing order
    clusters: list = attrs.field(factory=list)  # [Cluster], parents before children
    _edges: dict = attrs.field(factory=dict)  # (src, dst, kind) -> Edge
    # Invisible edges that only guide a layout (DOT `style=invis`, Mermaid `~~~`):
    # a product before its plans' first tasks, a line before its first tasks.
    layout: list = attrs.field(factory=list)  # [(src, dst)]
    _by_id: dict = attrs.field(factory=dict)  # id -> Node
    _cluster_ids: set = attrs.field(factory=set)

    def add_node(self, node: Node) -> None:
        if node.id in self._by_id:
            raise ValueError(f"node {node.id} added twice")
        if node.cluster is not None and node.cluster not in self._cluster_ids:
            raise ValueError(f"node {node.id} is in unknown cluster {node.cluster}")
        self._by_id[node.id] = node
        self.nodes.append(node)

    def add_cluster(self, cluster: Cluster) -> None:
        if cluster.id in self._cluster_ids:
            raise ValueError(f"cluster {cluster.id} added twice")
        if cluster.parent is not None and cluster.parent not in self._cluster_ids:
            raise ValueError(f"cluster {cluster.id} is in unknown cluster {cluster.parent}")
        self._cluster_ids.add(cluster.id)
        self.clusters.append(cluster)

    def has_node(self, node_id: str) -> bool:
        return node_id in self._by_id

    def add_edge(self, edge: Edge) -> None:
        """One edge per (src, dst, kind): a second one merges its label and notes."""
        key = (edge.src, edge.dst, edge.kind)
        old = self._edges.get(key)
        if old is None:
            self._edges[key] = edge
            return
        labels = [l for l in (old.label, edge.label) if l]
        label = "; ".join(dict.fromkeys(labels)) or None
        self._edges[key] = attrs.evolve(old, label=label, notes=tuple(dict.fromkeys(old.notes + edge.notes)))

    @property
    def edges(self) -> list:
        """Every edge, sorted (by source, target, kind, label)."""
        return sorted(self._edges.values(), key=Edge.sort_key)

    # ---- navigation, for the renderers ----

    def node(self, node_id: str) -> Node:
        return self._by_id[node_id]

    def child_clusters(self, parent: Optional[str]) -> list:
        return [c for c in self.clusters if c.parent == parent]

    def nodes_in(self, cluster: Optional[str]) -> list:
        return [n for n in self.nodes if n.cluster == cluster]

    def add_layout_edges(self, src: str, cluster: str) -> None:
        """Invisible edges from `src` to the nodes of `cluster` that nothing in it comes after."""
        mine = {n.id for n in self.nodes_in(cluster)} - {src}
        follow = {e.dst for e in self._edges.values() if e.src in mine and e.dst in mine}
        self.layout += [(src, n.id) for n in self.nodes if n.id in mine and n.id not in follow]

    def check(self) -> None:
        """Every edge joins two nodes of the graph."""
        for src, dst in [(e.src, e.dst) for e in self._edges.values()] + self.layout:
            for end in (src, dst):
                if end not in self._by_id:
                    raise ValueError(f"edge {src} -> {dst} names unknown node {end}")


# ---- names safe for any syntax ----------------------------------------------------------


def natural_key(text: str):
    """Sort D2 before D10."""
    return [int(t) if n % 2 else t for n, t in enumerate(re.split(r"(\d+)", text))]


def safe_ids(names, prefix: str) -> dict:
    """Deterministic identifiers made of [A-Za-z0-9_] for arbitrary names.

    Names that clean up to the same identifier all get a short hash of
    their own name, so the result does not depend on the order of `names`.
    """
    names = list(dict.fromkeys(names))
    clean = {n: prefix + re.sub(r"[^A-Za-z0-9_]", "_", n) for n in names}
    counts: dict = {}
    for c in clean.values():
        counts[c] = counts.get(c, 0) + 1
    return {n: (c if counts[c] == 1 else f"{c}_{hashlib.sha1(n.encode('utf-8')).hexdigest()[:8]}") for n, c in clean.items()}
