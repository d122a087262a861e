"""`--engine embedded|temporal` on the commands that run and act on orders,
and `om worker`: the same commands, the orders on Temporal.

On the embedded engine a command opens the SQLite store and drives the
orders itself. On Temporal it talks to the cluster (`--address`,
`--namespace`, `--task-queue`, or OM_TEMPORAL_ADDRESS, ...): orders are
planned here and started as workflows, workers run them, and every action
is an update that answers at once.
"""

from __future__ import annotations

import contextlib
import functools

import attrs
import click

from om_dsl.cli import _load_all_rules, finite, main, read_input
from om_dsl.cli.install import pip_install

EMBEDDED, TEMPORAL = "embedded", "temporal"
CLIENT_USED = False  # the process then ends without teardown (see om_dsl.cli.entry)


@attrs.frozen
class Target:
    engine: str
    address: str
    namespace: str
    task_queue: str

    @property
    def temporal(self) -> bool:
        return self.engine == TEMPORAL


EMBEDDED_ONLY = Target(EMBEDDED, "", "", "")  # for the commands that only the embedded engine has


def engine_options(f):
    """Add --engine, --address, --namespace, --task-queue; the command gets `target`."""
    from om_dsl.temporal import DEFAULT_ADDRESS as address  # no temporalio needed
    from om_dsl.temporal import DEFAULT_NAMESPACE as namespace
    from om_dsl.temporal import DEFAULT_TASK_QUEUE as queue

    @functools.wraps(f)
    def wrapper(*args, engine, address, namespace, task_queue, **kw):
        return f(*args, target=Target(engine, address, namespace, task_queue), **kw)

    wrapper = click.option("--task-queue", envvar="OM_TASK_QUEUE", default=queue, show_default=True, help="Temporal: the task queue the workers poll (or OM_TASK_QUEUE).")(wrapper)
    wrapper = click.option("--namespace", envvar="OM_TEMPORAL_NAMESPACE", default=namespace, show_default=True, help="Temporal: the namespace (or OM_TEMPORAL_NAMESPACE).")(wrapper)
    wrapper = click.option("--address", envvar="OM_TEMPORAL_ADDRESS", default=address, show_default=True, help="Temporal: the frontend, HOST:PORT (or OM_TEMPORAL_ADDRESS).")(wrapper)
    wrapper = click.option(
        "--engine", type=click.Choice([EMBEDDED, TEMPORAL]), envvar="OM_ENGINE", default=EMBEDDED, show_default=True, help="Where orders run: the embedded SQLite store, or Temporal (or OM_ENGINE)."
    )(wrapper)
    return wrapper


class Unavailable(click.ClickException):
    exit_code = 3  # a busy database, an unreachable cluster: nothing was done, try again


def pick_engine(target: Target, options=None, rules=None, mode: str = "act", must_exist: bool = False):
    """The order service of the engine the command runs on: the one place that
    knows which engine it is. `mode`: act (run orders: the embedded engine takes
    the runner lock), read (an existing store, read-only), write (an existing
    store, written without running orders), serve (`om serve`: called from
    many request threads; the embedded engine's has `.callbacks` and `.work`)."""
    global CLIENT_USED
    if target.temporal:
        try:
            from om_dsl.temporal.service import TemporalService
        except ImportError:
            raise click.UsageError(f"the Temporal engine needs the temporalio package: {pip_install('temporal')}") from None
        CLIENT_USED = True
        service = TemporalService(target.address, target.namespace, target.task_queue, rules)
        if mode == "serve":  # /metrics reads through a client of its own (Serialized.stats)
            return contextlib.closing(Serialized(service, lambda: TemporalService(target.address, target.namespace, target.task_queue, rules)))
        return contextlib.closing(service)
    from om_dsl.embedded import service as embedded

    if mode == "serve":  # om serve: one service for the API's requests and the work loop
        return embedded.serving(options, rules)
    if mode == "act":
        return embedded.acting(options, rules, must_exist)
    return embedded.reading(options, write=mode == "write")


class Serialized:
    """A service whose calls come from many request threads, one at a time (the Temporal client's, under `om serve`)."""

    callbacks = None  # Temporal's workers receive the callbacks (om worker --listen)
    work = None  # ... and run the orders

    def __init__(self, service, reader=None):
        import threading

        self._service, self._lock = service, threading.Lock()
        self._make_reader, self._reader, self._reader_lock = reader, None, threading.Lock()

    def stats(self):
        """A scrape, on a service of its own when `reader` makes one: its queries
        (each up to its timeout when no worker answers) hold up no API request."""
        if self._make_reader is None:
            with self._lock:
                return self._service.stats()
        with self._reader_lock:
            if self._reader is None:
                self._reader = self._make_reader()
            return self._reader.stats()

    def close(self) -> None:
        with self._lock:
            self._service.close()
        with self._reader_lock:
            if self._reader is not None:
                self._reader.close()

    def __getattr__(self, name):
        attr = getattr(self._service, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            with self._lock:
                return attr(*args, **kwargs)

        return call


def pick_worker(target: Target):
    """The worker of the engine: only Temporal's orders run in workers."""
    if not target.temporal:
        raise click.UsageError("the embedded engine has no workers: `om run`, `om resume` or `om serve` run its orders (use --engine temporal)")
    try:
        from om_dsl.temporal import worker
    except ImportError:
        raise click.UsageError(f"the Temporal engine needs the temporalio package: {pip_install('temporal')}") from None
    return worker


@contextlib.contextmanager
def order_service(target: Target, options=None, rules=None, mode: str = "act", must_exist: bool = False):
    """`pick_engine`, with the service's failures as the CLI's exit codes:
    no order 2, refused 1, unavailable 3, a bad configuration 2."""
    from om_dsl import service as svc

    try:
        with pick_engine(target, options, rules, mode, must_exist) as orders:
            yield orders
    except (svc.NoOrder, svc.Misconfigured) as exc:
        raise click.UsageError(str(exc)) from None
    except svc.Refused as exc:
        raise click.ClickException(str(exc)) from None
    except svc.Unavailable as exc:
        raise Unavailable(str(exc)) from None


def submit_files(submit, paths) -> tuple[list, bool]:
    """Submit each order file: [(order id, status)] of those that got an id,
    and whether one was rejected (reported on stderr, with every problem)."""
    from om_dsl.planning import report
    from om_dsl.planning.order import Rejected

    rejected = False
    submitted = []
    for path in paths:
        try:
            order_id, status, problems = submit(read_input(path))
        except Rejected as exc:
            click.echo(report.rejection_text(exc), nl=False, err=True)
            rejected = True
            continue
        if status == "rejected":
            click.echo(report.rejection_text(Rejected(problems), order_id), nl=False, err=True)
            rejected = True
        submitted.append((order_id, status))
    return submitted, rejected


# ---- om worker --------------------------------------------------------------------------------------


@main.command()
@click.argument("sources", nargs=-1, type=click.Path(exists=True))
@click.option("--listener", "listeners", multiple=True, help="POST order events here (repeatable); default: the simulated originating system.")
@click.option("--config", "config_path", envvar="OM_CONFIG", type=click.Path(dir_okay=False), help="The deployment configuration: which adapter serves which system (see docs/systems.md).")
@click.option("--tasks-path", multiple=True, envvar="OM_TASKS_PATH", type=click.Path(file_okay=False), help="Where auto tasks' Python packages live (repeatable; or OM_TASKS_PATH).")
@click.option("--systems-db", default="om.systems.db", show_default=True, help="The in-process simulators' state (systems the configuration does not serve otherwise).")
@click.option("--listen", help="Also receive callbacks of asynchronous operations over HTTP, on HOST:PORT (POST /callbacks/TOKEN; the configuration's callback_url points here).")
@click.option("--request-timeout", type=click.FloatRange(0, 3600, min_open=True), callback=finite, default=5.0, show_default=True, help="With --listen: seconds a client has to send a whole callback request.")
@click.option("--metrics", "metrics_listen", help="Serve GET /metrics (Prometheus: this worker's calls, a viewer token of [api] tokens) on HOST:PORT (docs/metrics.md).")
@click.option("--sdk-metrics", "sdk_listen", help="Serve the Temporal SDK's own Prometheus metrics (slots, polls, latencies; no token) on HOST:PORT.")
@engine_options
def worker(sources, listeners, config_path, tasks_path, systems_db, listen, request_timeout, metrics_listen, sdk_listen, target):
    """Run orders on Temporal: a worker polls the task queue for order
    workflows and their calls, until stopped (Ctrl-C, SIGTERM).

    SOURCES, compiled catalogs (generated/acme, or generated/ for every
    catalog in it), serve their own version with their generated modules; an order on any other version is served by the interpreter from
    the plan it carries. Start as many workers as the load needs.
    """
    import asyncio
    import os
    import signal

    from om_dsl.observe.calls import CallStats
    from om_dsl.simulate.simulators import Simulators
    from om_dsl.systems import config as configuration
    from om_dsl.systems.adapters import PythonTasks, Systems
    from om_dsl.systems.http import check_url

    global CLIENT_USED
    temporal_worker = pick_worker(target)
    for url in listeners:
        problem = check_url(url)
        if problem:
            raise click.UsageError(f"--listener {url!r} is not an http(s) URL ({problem})")
    endpoint = _host_port("--listen", listen) if listen else None
    metrics_at = _host_port("--metrics", metrics_listen) if metrics_listen else None
    sdk_at = _host_port("--sdk-metrics", sdk_listen) if sdk_listen else None
    rules = [r for s in sources for r in _load_all_rules(s)]
    known = {x.name: {o.name for o in x.operations} for r in rules for x in r.catalog.systems} or None
    try:
        config = configuration.load(config_path, known_systems=known)
    except configuration.ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    if (listen or config.callback_url) and not config.callback_secret:
        from om_dsl.systems.callback_auth import SECRET_ENV

        raise click.UsageError(
            f"callbacks over HTTP need the deployment's callback secret, the same on every worker: [engine] callback_secret or callback_secret_file in the configuration, or {SECRET_ENV}"
        )
    try:
        runtime = temporal_worker.sdk_runtime(sdk_at) if sdk_at else None
    except ValueError as exc:  # the port is taken, the address does not parse
        raise click.UsageError(f"--sdk-metrics {sdk_listen}: {exc}") from None
    stats = CallStats()
    metrics_server = _metrics_server(metrics_at, stats, config) if metrics_at else None
    systems = Systems(config, Simulators(systems_db))
    CLIENT_USED = True
    python_tasks = PythonTasks(tuple(os.path.abspath(p) for p in tasks_path))

    async def go():
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        def ready(url=None):
            click.echo(f"worker on {target.address} ({target.namespace}), task queue {target.task_queue}" + (f", callbacks at {url}" if url else "") + ": ready", err=True)

        await temporal_worker.serve(target.address, target.namespace, target.task_queue, systems, python_tasks, listeners, rules, stop, ready, endpoint, config.callback_secret, request_timeout, stats, runtime)

    try:
        asyncio.run(go())
    except temporal_worker.Unreachable as exc:
        raise Unavailable(str(exc)) from None
    except OSError as exc:  # the callback port is taken
        raise click.UsageError(f"--listen {listen}: {exc.strerror or exc}") from None
    finally:
        systems.close()
        if metrics_server is not None:
            metrics_server.stop()


def _host_port(option: str, text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise click.UsageError(f"{option} {text!r} is not HOST:PORT")
    return host, int(port)


def _metrics_server(at: tuple[str, int], stats, config):
    """`om worker --metrics`: GET /metrics of this worker's calls, on a thread of its own."""
    from om_dsl.api import auth
    from om_dsl.api import metrics as api_metrics
    from om_dsl.cli.operations import api_access
    from om_dsl.systems.asgi import ServerThread

    tokens = api_access(config)[0]  # om serve's: tokens, and JWTs with [api.oauth2]
    if not tokens:
        click.echo(f"om worker: no API tokens ([api] tokens in the configuration, or {auth.TOKEN_ENV}): every scrape of /metrics is refused (401)", err=True)
    try:
        server = ServerThread(api_metrics.app(lambda: {"calls": stats.snapshot()}, tokens), *at, name="om-metrics").start()
    except (OSError, OverflowError) as exc:
        raise click.UsageError(f"--metrics {at[0]}:{at[1]}: {getattr(exc, 'strerror', None) or exc}") from None
    click.echo(f"om worker: metrics at {server.url}/metrics", err=True)
    return server
