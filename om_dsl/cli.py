"""The `om` command line."""

from __future__ import annotations

import sys

import click

from om_dsl import __version__
from om_dsl.diagnostics.codes import CODES, explanation


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="om")
def main() -> None:
    """om: compile order-management specs (.om files) and run orders against them."""


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=True, file_okay=True))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True, help="How to print diagnostics.")
@click.option("--deny-warnings", is_flag=True, help="Exit 1 on warnings too.")
def check(paths: tuple[str, ...], fmt: str, deny_warnings: bool) -> None:
    """Check .om files (or folders of them) and report every problem found.

    Exits 0 when there is no error (warnings allowed), 1 on errors.
    """
    from om_dsl.check import check_paths
    from om_dsl.diagnostics.render import render_json, render_text, summary_line

    result = check_paths(list(paths))
    files = len(result.workspace.files)
    if fmt == "json":
        click.echo(render_json(result.diagnostics, files), nl=False)
    else:
        text = render_text(result.diagnostics, result.sources)
        if text:
            click.echo(text, nl=False)
        catalogs = ", ".join(f"`{s.name}`" for s in result.scopes if s.kind == "catalog") or "no catalog"
        status = "ok" if result.ok else "failed"
        click.echo(f"check {status}: {files} file{'s' if files != 1 else ''}, {catalogs}; {summary_line(result.diagnostics)}", err=not result.ok)
    failed = not result.ok or (deny_warnings and result.warnings)
    sys.exit(1 if failed else 0)


@main.command()
@click.argument("code", required=False)
def explain(code: str | None) -> None:
    """Explain a diagnostic code in detail (or list every code)."""
    if code is None:
        for c, title in CODES.items():
            click.echo(f"{c}  {title}")
        return
    text = explanation(code)
    if text is None:
        raise click.UsageError(f"unknown diagnostic code {code!r}; `om explain` lists them all")
    click.echo(text, nl=not text.endswith("\n"))


if __name__ == "__main__":  # pragma: no cover
    main()
