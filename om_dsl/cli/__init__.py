"""The `om` command line."""

from __future__ import annotations

import sys

import click

from om_dsl import __version__
from om_dsl.diagnostics.codes import CODES, explanation


class StoreFailure(click.ClickException):
    """A database om cannot use, reported with its own exit code (docs/running.md, Exit status)."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


class _Om(click.Group):
    """The top group: a database that is missing, not om's, damaged or full ends
    any command with a message and its exit code, never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except Exception as exc:
            # The store is imported only now: a command that opens no database (`om compile`) never loads it.
            import sqlite3

            from om_dsl.embedded.store import StoreError, store_error

            if isinstance(exc, StoreError):
                raise StoreFailure(str(exc), exc.exit_code) from None
            if isinstance(exc, sqlite3.Error):  # a database without om's Store around it (the simulated systems' state)
                error = store_error(exc, "a database of this command (the orders' or the simulated systems')")
                if error is not exc:
                    raise StoreFailure(str(error), error.exit_code) from None
            raise


@click.group(cls=_Om, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="om")
def main() -> None:
    """om: compile order-management specs (.om files) and run orders against them."""
    # Odd text (a file name that is not UTF-8, a terminal that is not UTF-8) is escaped, never a traceback.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    from om_dsl.observe import tracing

    warning = tracing.configure()  # traces, when OTEL_TRACES_EXPORTER asks for them (docs/metrics.md)
    if warning:
        click.echo(f"om: {warning}", err=True)


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


def _print_diagnostics(result) -> None:
    from om_dsl.diagnostics.render import render_text, summary_line

    text = render_text(result.diagnostics, result.sources)
    if text:
        click.echo(text, nl=False, err=True)
    if not result.ok:
        click.echo(f"compile failed: {summary_line(result.diagnostics)}", err=True)


@main.command("compile")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=True, file_okay=True))
@click.option("-o", "--output", "output", required=True, type=click.Path(file_okay=False), help="The folder to write into: one subfolder per catalog.")
@click.option("--check", "check_only", is_flag=True, help="Write nothing; exit 1 and name the stale files when the output differs.")
@click.option("--no-cache", is_flag=True, help="Parse, check and generate everything again; neither read nor write the compile cache (OM_CACHE_DIR).")
def compile_(paths: tuple[str, ...], output: str, check_only: bool, no_cache: bool) -> None:
    """Compile specs into plan.json and generated Python modules, per catalog.

    Files and catalogs compiled before are found in the compile cache
    ($OM_CACHE_DIR, else ~/.cache/om-dsl); the output is the same with or
    without it. Exits 0 on success, 1 on spec errors (or stale output with --check).
    """
    from om_dsl.check import without_gc

    with without_gc():  # the whole command: a collection would scan the AST and the model again and again
        _compile(paths, output, check_only, no_cache)


def _compile(paths: tuple[str, ...], output: str, check_only: bool, no_cache: bool) -> None:
    from pathlib import Path

    from om_dsl.build import build, stale, write
    from om_dsl.check.cache import open_cache

    result = build(list(paths), cache=open_cache(not no_cache))
    _print_diagnostics(result.check)
    if not result.ok:
        sys.exit(1)
    if not result.compiled:
        click.echo("compile: no catalog in the given specs (only libraries?)", err=True)
        sys.exit(1)
    out_dir = Path(output)
    files = result.files(out_dir)
    names = ", ".join(f"{c.name} {c.version}" for c in result.compiled)
    if check_only:
        outdated = stale(out_dir, files)
        if outdated:
            click.echo(f"{len(outdated)} stale file{'s' if len(outdated) != 1 else ''} in {output} (run `om compile {' '.join(paths)} -o {output}`):", err=True)
            for rel in outdated:
                click.echo(f"  {out_dir.as_posix()}/{rel}", err=True)
            sys.exit(1)
        click.echo(f"{output} is up to date ({names})")
        return
    if out_dir.exists() and not out_dir.is_dir():
        raise click.UsageError(f"-o {output}: not a folder")
    try:
        changed, removed = write(out_dir, files)
    except OSError as exc:  # a file in the way, a folder that cannot be made or written
        where = f" ({exc.filename})" if exc.filename else ""
        raise click.UsageError(f"cannot write into {output}: {exc.strerror or exc}{where}") from None
    gone = f", {len(removed)} no longer generated removed ({', '.join(removed)})" if removed else ""
    click.echo(f"compiled {names} -> {output}: {len(files)} files, {len(changed)} written{gone}")


def checked(text: bool = False):
    """A click callback refusing an id (or, `text`, a one-line text) that is too
    long or holds control characters: a newline would forge lines in the output
    and the history."""
    from om_dsl.limits import InputLimit, check_id, check_text

    def callback(ctx, param, value):
        for v in value if isinstance(value, tuple) else (value,):
            if isinstance(v, str):
                try:
                    (check_text if text else check_id)(v, "it")
                except InputLimit as exc:
                    raise click.BadParameter(f"{v!r}: {exc}", ctx, param) from None
        return value

    return callback


def finite(ctx, param, value):
    """A click callback refusing NaN, which passes any FloatRange."""
    if value is not None and value != value:
        raise click.BadParameter("nan is not a number", ctx, param)
    return value


def say(text: str, **kw) -> None:
    """Print one line that may hold stored text: its control characters escaped, so it stays one line."""
    from om_dsl.limits import shown

    click.echo(shown(text), **kw)


def _installed_base(db_path: str):
    """The installed base of an order database (for orders that change what customers have)."""
    from om_dsl.embedded.service import installed_base_of

    return installed_base_of(db_path)


def read_input(path: str) -> str:
    """An input file's text (an order, a revision); a usage error when it cannot
    be read, is not a regular file (a FIFO, a device) or is too large."""
    from om_dsl.limits import InputLimit, read_file

    try:
        return read_file(path)
    except OSError as exc:
        raise click.UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    except InputLimit as exc:
        raise click.UsageError(f"cannot read {path}: {exc}") from None


def unknown(what: str, name: str, known, where: str = "", quote: bool = False) -> click.UsageError:
    """A usage error for an id that is not there, with the closest known one as a hint."""
    from om_dsl.suggest import no_such

    return click.UsageError(no_such(what, name, known, where, quote))


def _compiled(folder):
    from om_dsl.rules.generated import CompiledCatalogError, GeneratedRules

    try:
        return GeneratedRules(folder)
    except CompiledCatalogError as exc:  # not compiled, stale, another schema: exit 2
        raise click.UsageError(str(exc)) from None


def _order_products(order_path) -> set[str]:
    """The product codes orders name (productOffering ids, at any depth), of one
    path or several; none when one cannot be read: an order's own errors are
    reported where it is planned."""
    from om_dsl.limits import InputLimit, load_json, read_file

    if order_path is None:
        return set()
    docs = []
    for path in [order_path] if isinstance(order_path, str) else order_path:
        try:
            docs.append(load_json(read_file(path)))
        except (OSError, ValueError, InputLimit):
            return set()
    codes: set[str] = set()
    todo = list(docs)
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            offering = node.get("productOffering")
            if isinstance(offering, dict) and isinstance(offering.get("id"), str):
                codes.add(offering["id"])
            todo.extend(node.values())
        elif isinstance(node, list):
            todo.extend(node)
    return codes


def _pick(source: str, catalog: str | None, names: list[str], kind: str, selling=None) -> str:
    """The catalog to use among NAMES (those SOURCE holds): --catalog, the only
    one, or the only one that sells every product of the order (`selling`:
    name -> whether it does)."""
    if catalog is not None:
        if catalog not in names:
            raise unknown("catalog", catalog, names, f"{source} (found: {', '.join(names) or 'none'})", quote=True)
        return catalog
    fits = [n for n in names if selling is not None and selling(n)]
    if len(names) > 1 and len(fits) == 1:
        return fits[0]
    if len(names) != 1:
        raise click.UsageError(f"{source} holds {len(names)} {kind}catalogs ({', '.join(names) or 'none'}); choose one with --catalog")
    return names[0]


def _sells(codes: set[str]):
    """name -> does that catalog (a plan model) sell every one of these products?"""
    return lambda catalog: bool(codes) and codes <= {p.code for p in catalog.products if p.kind == "commercial"}


def _load_rules(source: str, catalog: str | None, engine: str, order=None):
    """A compiled catalog (generated code: a catalog's folder, or a folder of
    them such as generated/) or specs (the interpreter). When SOURCE holds
    several and --catalog names none, the one that sells ORDER's products."""
    from om_dsl.rules.generated import compiled_catalogs
    from om_dsl.rules.interpreter import Interpreter

    codes = _order_products(order)
    compiled = compiled_catalogs(source)
    if compiled is not None:
        folders = list(compiled.values())
        if len(folders) == 1 and catalog is None:
            rules = _compiled(folders[0])
        else:

            def selling(name):
                from om_dsl.model.canonical import loads

                try:
                    return _sells(codes)(loads((compiled[name] / "plan.json").read_text(encoding="utf-8")))
                except (OSError, ValueError, KeyError, TypeError):
                    return False

            rules = _compiled(compiled[_pick(source, catalog, sorted(compiled), "compiled ", selling if codes else None)])
        if catalog is not None and rules.catalog.name != catalog:
            raise unknown("catalog", catalog, [rules.catalog.name], f"{source} (found: {rules.catalog.name})", quote=True)
        return Interpreter(rules.catalog, rules.tasks_folder) if engine == "interpreter" else rules
    if engine == "generated":
        raise click.UsageError(f"{source} is not a compiled catalog: it needs plan.json and the generated modules (run `om compile`)")
    from om_dsl.build import build

    result = build([source])
    if not result.ok:
        _print_diagnostics(result.check)
        sys.exit(2)
    by_name = {c.name: c for c in result.catalogs}
    name = _pick(source, catalog, list(by_name), "", (lambda n: _sells(codes)(by_name[n])) if codes else None)
    return Interpreter(by_name[name], result.tasks_folder(name))


def _load_all_rules(source: str) -> list:
    """Every catalog of SOURCE (a compiled catalog, a folder of them, or specs)."""
    from om_dsl.rules.generated import compiled_catalogs
    from om_dsl.rules.interpreter import Interpreter

    compiled = compiled_catalogs(source)
    if compiled is not None:
        return [_compiled(folder) for folder in compiled.values()]
    from om_dsl.build import build

    result = build([source])
    if not result.ok:
        _print_diagnostics(result.check)
        sys.exit(2)
    return [Interpreter(c, result.tasks_folder(c.name)) for c in result.catalogs]


@main.command()
@click.argument("source", type=click.Path(exists=True, dir_okay=True, file_okay=True))
@click.argument("order", type=click.Path(exists=True, dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["text", "json", "dot", "mermaid"]), default="text", show_default=True)
@click.option("--catalog", help="Which catalog of SOURCE, when it holds several.")
@click.option("--db", "db_path", type=click.Path(dir_okay=False), help="Plan against the installed base of this order database (modify, delete and noChange items need it).")
@click.option(
    "--engine",
    type=click.Choice(["auto", "generated", "interpreter"]),
    default="auto",
    show_default=True,
    help="auto: the generated modules of a compiled catalog, the interpreter for specs.",
)
def plan(source: str, order: str, fmt: str, catalog: str | None, db_path: str | None, engine: str) -> None:
    """Plan an order (TMF622 productOrder JSON) against a catalog.

    SOURCE is a compiled catalog folder (generated/acme) or specs (.om files
    or folders). Prints the fulfillment requests and the orchestration plan.
    Exits 0 when the order is accepted, 1 when it is rejected.
    """
    from om_dsl.planning import report
    from om_dsl.planning.intake import document_id, parse_document
    from om_dsl.planning.order import Rejected
    from om_dsl.planning.pipeline import plan_order

    rules = _load_rules(source, catalog, engine, order)
    installed = _installed_base(db_path) if db_path is not None else None
    text = read_input(order)
    order_id = None
    try:
        doc = parse_document(text)
        order_id = document_id(doc)
        planned = plan_order(rules.catalog, rules, doc, order_id, installed)
    except Rejected as exc:
        if fmt == "json":
            click.echo(report.to_json(report.rejected_data(exc, order_id)), nl=False)
        else:
            click.echo(report.rejection_text(exc, order_id), nl=False, err=True)
        sys.exit(1)
    if fmt == "json":
        click.echo(report.to_json(report.planned_data(planned)), nl=False)
    elif fmt in ("dot", "mermaid"):
        # one renderer of a planned order: the same drawing as `om graph SOURCE ORDER`
        from om_dsl import graph as G

        g = G.order_graph(planned)
        click.echo(G.to_dot(g) if fmt == "dot" else G.to_mermaid(g), nl=False)
    else:
        click.echo(report.to_text(planned), nl=False)


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


# The commands that run orders live in their own module; importing it registers them.
from om_dsl.cli import diff as _diff  # noqa: E402,F401
from om_dsl.cli import engines as _engines  # noqa: E402,F401
from om_dsl.cli import fmt as _fmt  # noqa: E402,F401
from om_dsl.cli import graph as _graph  # noqa: E402,F401
from om_dsl.cli import init as _init  # noqa: E402,F401
from om_dsl.cli import lsp as _lsp  # noqa: E402,F401
from om_dsl.cli import operations as _operations  # noqa: E402,F401
from om_dsl.cli import orders as _orders  # noqa: E402,F401
from om_dsl.cli import simulate as _simulate  # noqa: E402,F401


def entry() -> None:
    """The `om` command. After a command that used the Temporal client, the
    process ends without interpreter teardown: the client's Rust threads can
    crash a finalizing interpreter (temporalio/sdk-python#300)."""
    import os

    try:
        main.main()
    except SystemExit as exc:
        code = exc.code
    else:  # pragma: no cover - click's standalone mode always exits
        code = 0
    from om_dsl.observe import tracing

    tracing.shutdown()  # the spans still buffered go out (os._exit below runs no atexit hook)
    if _engines.CLIENT_USED:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code if isinstance(code, int) else (0 if code is None else 1))
    sys.exit(code)
