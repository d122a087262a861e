"""`om lsp`: the language server, over stdio (docs/editor.md)."""

from __future__ import annotations

import click

from om_dsl.cli import main
from om_dsl.cli.install import pip_install


@main.command()
def lsp() -> None:
    """Run the .om language server on stdin/stdout (for editors)."""
    try:
        from om_dsl.lsp.server import main as serve
    except ImportError as exc:  # pragma: no cover - pygls missing
        raise click.ClickException(f"the language server needs pygls: {pip_install('lsp')} ({exc})") from None
    serve()
