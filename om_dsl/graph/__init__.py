"""Graphs of a catalog and of one order's plan: `om graph`.

`catalog_graph` (decomposition tree and every plan) and `order_graph` (one
planned order: items, fulfillment requests, lines and tasks) and `run_graph`
(a running order's tasks by state, the console's) build a
`Graph`; `to_dot`, `to_mermaid` and `to_html` render it as text, and
`to_svg` pipes DOT through Graphviz's `dot` when it is installed.
"""

from om_dsl.graph.catalog import catalog_graph
from om_dsl.graph.dot import (
    GraphvizFailed,
    GraphvizMissing,
    dot_program,
    to_dot,
    to_svg,
)
from om_dsl.graph.html import to_html
from om_dsl.graph.mermaid import to_mermaid
from om_dsl.graph.model import Cluster, Edge, Graph, Node
from om_dsl.graph.order import order_graph
from om_dsl.graph.run import run_graph

__all__ = [
    "Cluster",
    "Edge",
    "Graph",
    "GraphvizFailed",
    "GraphvizMissing",
    "Node",
    "catalog_graph",
    "dot_program",
    "order_graph",
    "run_graph",
    "to_dot",
    "to_html",
    "to_mermaid",
    "to_svg",
]
