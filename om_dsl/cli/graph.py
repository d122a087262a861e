"""`om graph`: draw a catalog (its decomposition tree and plans) or one
order's fulfillment requests and plan, as DOT, Mermaid, SVG or one HTML page.
"""

from __future__ import annotations

import sys
from typing import Optional

import click

from om_dsl.cli import _installed_base, _load_rules, main, read_input

FORMATS = ["dot", "mermaid", "svg", "html"]


def _fail(message: str, code: int = 2) -> None:
    click.echo(f"om graph: {message}", err=True)
    sys.exit(code)


def _planned(rules, order: str, db_path: Optional[str]):
    """The planned order, or exit 1 with the reasons it is rejected."""
    from om_dsl.planning import report
    from om_dsl.planning.intake import document_id, parse_document
    from om_dsl.planning.order import Rejected
    from om_dsl.planning.pipeline import plan_order

    installed = _installed_base(db_path) if db_path is not None else None
    text = read_input(order)
    order_id = None
    try:
        doc = parse_document(text)
        order_id = document_id(doc)
        return plan_order(rules.catalog, rules, doc, order_id, installed)
    except Rejected as exc:
        click.echo(report.rejection_text(exc, order_id), nl=False, err=True)
        sys.exit(1)


@main.command("graph")
@click.argument("source", type=click.Path(exists=True, dir_okay=True, file_okay=True))
@click.argument("order", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="dot", show_default=True, help="dot and mermaid: text; svg: drawn by Graphviz; html: one self-contained page.")
@click.option("--catalog", help="Which catalog of SOURCE, when it holds several.")
@click.option("--db", "db_path", type=click.Path(dir_okay=False), help="Plan ORDER against the installed base of this order database (modify, delete and noChange items need it).")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False), help="Write to this file instead of stdout.")
def graph(source: str, order: Optional[str], fmt: str, catalog: Optional[str], db_path: Optional[str], output: Optional[str]) -> None:
    """Draw a catalog, or one order's plan.

    SOURCE is a compiled catalog folder (generated/acme) or specs (.om files
    or folders). Without ORDER: the catalog's decomposition tree (commercial
    products -> technical products, by rule) and, per technical product and
    action, its plan's tasks and dependencies. With ORDER (TMF622 JSON): the
    order's items, fulfillment requests, lines and plan, as `om plan` makes
    them.

    svg needs Graphviz's `dot` program; html embeds its drawing when it is
    installed and lists the graph as tables either way. Exits 0 on success,
    1 when ORDER is rejected, 2 on bad input (spec errors, usage, no Graphviz
    for svg).
    """
    from om_dsl import graph as G

    if db_path is not None and order is None:
        raise click.UsageError("--db needs an ORDER: the installed base is what an order is planned against")
    if fmt == "svg" and G.dot_program() is None:
        _fail(
            "--format svg needs Graphviz's `dot` program, which is not on PATH.\n"
            "  Install Graphviz (Debian/Ubuntu: `apt-get install graphviz`, macOS: `brew install graphviz`),\n"
            "  or use --format dot or --format html (a self-contained page that lists the graph), which work without it;\n"
            "  --format mermaid gives text that Mermaid viewers draw."
        )
    rules = _load_rules(source, catalog, "auto", order)
    g = G.order_graph(_planned(rules, order, db_path)) if order is not None else G.catalog_graph(rules.catalog)

    if fmt == "mermaid":
        text = G.to_mermaid(g)
    else:
        dot_text = G.to_dot(g)
        text = dot_text
        if fmt in ("svg", "html"):
            svg, why = None, None
            try:
                svg = G.to_svg(dot_text)
            except G.GraphvizMissing:
                why = "Graphviz's dot program was not found, so this page has no drawing (install Graphviz: apt-get install graphviz)"
            except G.GraphvizFailed as exc:
                if fmt == "svg":
                    _fail(str(exc))
                why = f"Graphviz failed: {exc}"
            if fmt == "svg":
                text = svg
            else:
                if why:
                    click.echo(f"om graph: {why}; the page lists the graph instead", err=True)
                text = G.to_html(g, dot_text, svg, why)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        with open(output, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
    except OSError as exc:
        _fail(f"cannot write {output}: {exc.strerror or exc}")
    click.echo(f"wrote {output} ({fmt}: {len(g.nodes)} nodes, {len(g.edges)} edges)", err=True)
