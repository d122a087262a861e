"""`om init NAME`: start a new spec project (see om_dsl.scaffold)."""

from __future__ import annotations

import shlex
import sys

import click

from om_dsl.cli import main
from om_dsl.cli.install import requirement


@main.command("init")
@click.argument("name")
@click.option("--directory", "-d", default=".", show_default=True, type=click.Path(file_okay=False), help="Where to create the project folder NAME.")
def init(name: str, directory: str) -> None:
    """Create a new spec project NAME/: a starter catalog, an example order,
    a plan snapshot test, requirements, a README and a CI workflow.

    NAME is the catalog's name too: lower_snake_case. The project checks,
    compiles and passes its tests as created. Exits 2 for an invalid NAME or
    when DIRECTORY/NAME exists and is not empty.
    """
    from om_dsl.scaffold import InitError, create

    try:
        target, files = create(name, directory)
    except InitError as exc:
        click.echo(f"om init: {exc}", err=True)
        sys.exit(2)
    shown = target.as_posix()
    click.echo(f"created {shown}/ ({len(files)} files):")
    for rel in files:
        if not rel.startswith("generated/"):
            click.echo(f"  {rel}")
    click.echo(f"  generated/{name}/  (om compile specs -o generated)")
    click.echo("")
    click.echo("next:")
    click.echo(f"  cd {shown}")
    click.echo("  python -m venv .venv && . .venv/bin/activate")
    click.echo(f"  OM_DSL={shlex.quote(requirement(here=False))}  # this om-dsl (README.md: Setting up)")
    click.echo('  python -m pip install "$OM_DSL" && python -m pip install -r requirements.txt')
    click.echo("  om check specs")
    click.echo("  om plan specs orders/example.json")
    click.echo("  python -m pytest")
