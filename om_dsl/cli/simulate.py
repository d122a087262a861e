"""`om simulate`: the downstream systems of a compiled catalog, served over
HTTP/JSON with state, deterministic answers and injected faults (see
`om_dsl.simulate.server` for the contract)."""

from __future__ import annotations

import signal
import sqlite3
import threading

import click

from om_dsl.cli import _load_rules, finite, main


@main.group()
def simulate() -> None:
    """Simulated downstream systems: serve them over HTTP."""


@simulate.command()
@click.argument("catalog_dir", type=click.Path(exists=True, dir_okay=True, file_okay=True))
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on (a loopback one, unless --allow-remote-bind).")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True, help="The port to listen on (0: a free one).")
@click.option("--state", "state_path", default="om.simulators.db", show_default=True, type=click.Path(dir_okay=False), help="The systems' own state (SQLite), kept across restarts.")
@click.option("--fault", "fault_options", multiple=True, metavar="SYSTEM.OPERATION=SPEC", help="A fault to inject (repeatable): fail:N, status:CODE[:N], slow:MS, hang, twice, joined by ','.")
@click.option("--callback-delay-ms", type=click.IntRange(0, 3_600_000), default=50, show_default=True, help="How long after accepting an asynchronous call its callback is POSTed (and between retries, at most 2 s).")
@click.option("--request-timeout", type=click.FloatRange(0, 3600, min_open=True), callback=finite, default=5.0, show_default=True, help="Seconds a client has to send a whole request (a slower one is cut off; an idle connection is closed).")
@click.option("--allow-remote-callbacks", is_flag=True, help="POST callbacks to any host a caller names in X-Callback-Url (default: loopback hosts only).")
@click.option("--allow-remote-bind", is_flag=True, help="Listen on an address that is not loopback. The simulator is a test tool: /_faults has no authentication.")
@click.option("-q", "--quiet", is_flag=True, help="Do not log requests and callbacks on stderr.")
def serve(catalog_dir: str, host: str, port: int, state_path: str, fault_options: tuple[str, ...], callback_delay_ms: int, request_timeout: float, allow_remote_callbacks: bool, allow_remote_bind: bool, quiet: bool) -> None:
    """Serve the systems of the compiled catalog CATALOG_DIR (generated/acme) until Ctrl-C.

    Each operation is POST /SYSTEM/OPERATION with a JSON object of its
    arguments and an Idempotency-Key header. The first line printed is the
    server's URL. Faults can be changed while it runs: POST /_faults, which
    has no authentication: the simulator is a test tool, and listens only on
    a loopback address unless --allow-remote-bind.
    """
    from om_dsl.cli import StoreFailure
    from om_dsl.embedded.store import check_location, store_error
    from om_dsl.simulate.faults import parse_fault_option
    from om_dsl.simulate.server import SimulatorServer

    check_location(state_path, create=True)
    catalog = _load_rules(catalog_dir, None, "generated").catalog  # one way to find a compiled catalog, fresh
    faults = {}
    try:
        for option in fault_options:
            target, spec = parse_fault_option(option)
            if target in faults:
                raise ValueError(f"--fault {option!r}: {target} has a fault already; join specs with ',' (e.g. slow:200,fail:1)")
            faults[target] = spec
        server = SimulatorServer(
            catalog,
            state_path,
            host=host,
            port=port,
            faults=faults,
            callback_delay_ms=callback_delay_ms,
            log=None if quiet else (lambda message: click.echo(message, err=True)),
            allow_remote_callbacks=allow_remote_callbacks,
            allow_remote_bind=allow_remote_bind,
            request_timeout_s=request_timeout,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    from om_dsl.simulate.server import is_loopback

    if not is_loopback(host):
        click.echo(f"warning: listening on {host}, not a loopback address: anyone who reaches it can call the simulated systems and change their faults (/_faults has no authentication)", err=True)
    try:
        server.start()
    except sqlite3.Error as exc:  # the state file: not a database, damaged, full
        error = store_error(exc, state_path)
        raise StoreFailure(str(error), getattr(error, "exit_code", 2)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from None
    stopped = threading.Event()
    try:
        previous = signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    except ValueError:  # not the main thread: Ctrl-C only
        previous = None
    try:
        click.echo(server.url)
        operations = sum(len(s.operations) for s in catalog.systems)
        systems = ", ".join(s.name for s in catalog.systems)
        click.echo(f"simulating {catalog.name} {catalog.version}: {len(catalog.systems)} systems ({systems}), {operations} operations", err=True)
        faults_text = " ".join(f"{target}={spec}" for target, spec in server.faults().items()) or "none"
        click.echo(f"state: {state_path}; faults: {faults_text}; Ctrl-C stops", err=True)
        while not stopped.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
