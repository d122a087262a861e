"""`om diff OLD NEW`: what changed between two versions of a catalog, and
what of it breaks in-flight orders or the installed base (docs/diff.md).

Importing this module registers the command on `om_dsl.cli.main`.
"""

from __future__ import annotations

import sys

import click

from om_dsl.cli import main


@main.command("diff")
@click.argument("old", type=click.Path(exists=True, dir_okay=True, file_okay=True))
@click.argument("new", type=click.Path(exists=True, dir_okay=True, file_okay=True))
@click.option("--catalog", help="Which catalog to compare, when OLD or NEW holds several.")
@click.option("--orders", "orders_dir", type=click.Path(exists=True, file_okay=False, dir_okay=True), help="Plan every order (*.json) of this folder against OLD and NEW and show what changes.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--fail-on", "fail_on", type=click.Choice(["breaking", "any"]), help="Exit 1 on a breaking change (breaking), or on any change (any).")
def diff_(old: str, new: str, catalog: str | None, orders_dir: str | None, fmt: str, fail_on: str | None) -> None:
    """Compare two versions of a catalog: what was added, removed or changed,
    and which changes are breaking.

    OLD and NEW are specs (.om files or folders), plan.json files, or compiled
    catalog folders (`om compile` output), in any combination. Exits 0, or 1
    with --fail-on when such a change is found; 2 on usage errors or specs
    with errors.
    """
    from om_dsl.diff import LoadError, SpecErrors, diff, load_side, to_json, to_text
    from om_dsl.diff.load import SeveralCatalogs
    from om_dsl.diff.orders import order_files

    def side(path, prefer=None, several_ok=False):
        try:
            return load_side(path, catalog, prefer)
        except SeveralCatalogs:
            if several_ok:
                return None  # the other side may say which: it holds one
            raise click.UsageError(str(sys.exc_info()[1])) from None
        except LoadError as exc:
            raise click.UsageError(str(exc)) from None
        except SpecErrors as exc:
            _print_spec_errors(exc)
            sys.exit(2)

    # Without --catalog, a side holding several catalogs compares the one of
    # the other side's name (specs/ holds acme and mobile; a variant, acme).
    first = side(old, several_ok=True)
    second = side(new, prefer=first.catalog.name if first else None)
    sides = [first or side(old, prefer=second.catalog.name), second]
    if orders_dir is not None and not order_files(orders_dir):
        raise click.UsageError(f"no order (*.json) in {orders_dir}")
    result = diff(sides[0], sides[1], orders_dir)
    click.echo(to_json(result) if fmt == "json" else to_text(result), nl=False)
    if fail_on == "breaking" and result.is_breaking:
        sys.exit(1)
    if fail_on == "any" and result.has_changes:
        sys.exit(1)


def _print_spec_errors(exc) -> None:
    from om_dsl.diagnostics.render import render_text, summary_line

    check = exc.check
    text = render_text(check.diagnostics, check.sources)
    if text:
        click.echo(text, nl=False, err=True)
    click.echo(f"diff: {exc.path} has errors: {summary_line(check.diagnostics)}", err=True)
