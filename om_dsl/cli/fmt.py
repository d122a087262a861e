"""`om fmt`: rewrite .om files in their canonical layout (see docs/fmt.md)."""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

import click

from om_dsl.cli import main


def _plural(n: int, word: str = "file") -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def unified_diff(before: str, after: str, path: str) -> str:
    """A unified diff (`patch -p0` applies it), exact about final newlines."""
    out = []
    for line in difflib.unified_diff(before.splitlines(True), after.splitlines(True), path, path):
        out.append(line)
        if not line.endswith("\n"):
            out.append("\n\\ No newline at end of file\n")
    return "".join(out)


@main.command("fmt")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=True, file_okay=True))
@click.option("--check", "check_only", is_flag=True, help="Write nothing; exit 1 and list the files that are not canonical.")
@click.option("--diff", "show_diff", is_flag=True, help="Write nothing; print what would change as a unified diff.")
def fmt(paths: tuple[str, ...], check_only: bool, show_diff: bool) -> None:
    """Format .om files (or folders of them) in the canonical layout.

    Rewrites, in place, the files whose layout is not canonical, and keeps
    every comment. A file with a syntax error is reported and left as it is.
    Exits 0 on success; 1 when a file has syntax errors or cannot be read,
    or, with --check, when a file would be reformatted; 2 on usage errors.
    """
    from om_dsl.check.workspace import discover, display_path
    from om_dsl.diagnostics.render import render_text
    from om_dsl.format import FormatError, format_source

    files = discover(list(paths))
    write = not (check_only or show_diff)
    changed: list[str] = []
    failed: list[str] = []
    for path in files:
        shown = display_path(path)
        try:
            raw = path.read_bytes()
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            click.echo(f"error: {shown} is not valid UTF-8 (undecodable byte at offset {exc.start}); not formatted", err=True)
            failed.append(shown)
            continue
        except OSError as exc:
            click.echo(f"error: cannot read {shown}: {exc.strerror or exc}", err=True)
            failed.append(shown)
            continue
        try:
            formatted = format_source(text, shown)
        except FormatError as exc:
            click.echo(render_text(exc.diagnostics, {shown: text.replace("\r\n", "\n")}), nl=False, err=True)
            click.echo(f"error: {shown} has syntax errors; not formatted", err=True)
            failed.append(shown)
            continue
        if formatted.encode("utf-8") == raw:
            continue
        changed.append(shown)
        if show_diff:
            click.echo(unified_diff(text.replace("\r\n", "\n"), formatted, shown), nl=False)
        if write:
            try:
                Path(path).write_bytes(formatted.encode("utf-8"))
            except OSError as exc:
                click.echo(f"error: cannot write {shown}: {exc.strerror or exc}", err=True)
                changed.pop()
                failed.append(shown)
                continue
            click.echo(f"reformatted {shown}", err=True)
        elif check_only:
            click.echo(f"would reformat {shown}", err=True)

    unchanged = len(files) - len(changed) - len(failed)
    if write:
        summary = f"{_plural(len(changed))} reformatted, {unchanged} unchanged"
    else:
        summary = f"{_plural(len(changed))} would be reformatted, {unchanged} already formatted"
    if failed:
        summary += f", {len(failed)} not formatted (errors)"
    click.echo(f"fmt: {summary}", err=True)
    sys.exit(1 if failed or (check_only and changed) else 0)
