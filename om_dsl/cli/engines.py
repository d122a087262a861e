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
import json
import sys
from typing import Optional

import attrs
import click

from om_dsl.cli import _load_all_rules, _load_rules, finite, main, read_input
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
    exit_code = 3  # like a busy database: nothing was done, try again


@contextlib.contextmanager
def temporal(target: Target, source: Optional[str] = None, catalog_name: Optional[str] = None):
    """A client of the Temporal namespace (with SOURCE's catalog, to plan new orders)."""
    try:
        from temporalio.service import RPCError

        from om_dsl.temporal.client import NoOrder, TemporalOrders, Unanswered, Unreachable
    except ImportError:
        raise click.UsageError(f"the Temporal engine needs the temporalio package: {pip_install('temporal')}") from None
    global CLIENT_USED
    CLIENT_USED = True
    rules = _load_rules(source, catalog_name, "auto") if source else None
    orders = TemporalOrders(target.address, target.namespace, target.task_queue, rules)
    try:
        yield orders
    except Unreachable as exc:
        raise Unavailable(str(exc)) from None
    except NoOrder as exc:
        raise click.UsageError(str(exc)) from None
    except Unanswered as exc:
        raise Unavailable(str(exc)) from None
    except RPCError as exc:  # the cluster refused or timed out (a query no worker answers, say)
        hint = f" (is a worker polling task queue {target.task_queue}?)" if "timeout" in (exc.message or "").lower() or exc.status.name == "DEADLINE_EXCEEDED" else ""
        raise Unavailable(f"Temporal at {target.address}: {exc.message or exc.status.name}{hint}") from None
    finally:
        orders.close()


def _echo_json(data) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


# ---- the commands, on Temporal ----------------------------------------------------------------------


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


def run_orders(target: Target, source: str, catalog_name, paths, fmt: str) -> None:
    with temporal(target, source, catalog_name) as t:
        submitted, rejected = submit_files(t.submit, paths)
    started = [{"id": order_id, "status": status} for order_id, status in submitted if status != "rejected"]  # a rejected order never started
    if fmt == "json":
        _echo_json(started)
    else:
        for d in started:
            click.echo(f"order {d['id']}: {d['status']} (started on Temporal, task queue {target.task_queue}; `om orders show {d['id']} --engine temporal`)")
    sys.exit(1 if rejected else 0)


def show_order(target: Target, order_id: str, fmt: str, render) -> None:
    with temporal(target) as t:
        d = t.order(order_id)
    if fmt == "json":
        _echo_json(d)
    else:
        render(d)


def list_orders(target: Target, status, jeopardy, fmt: str) -> None:
    with temporal(target) as t:
        rows = [r for r in t.orders(status) if jeopardy is None or r["jeopardy"] == jeopardy]
    data = [{"id": r["id"], "status": r["status"], "customer": r["customer"], "external_id": r["external_id"], "jeopardy": r["jeopardy"], "created_at": r["started"].strftime("%Y-%m-%dT%H:%M:%SZ")} for r in rows]
    if fmt == "json":
        _echo_json(data)
        return
    for d in data:
        click.echo(f"{d['id']:<16} {d['status'] or '-':<13} {d['customer'] or '-':<10} {d['created_at']}  {d['jeopardy'] or ''}".rstrip())


def order_history(target: Target, order_id: str, fmt: str) -> None:
    from om_dsl.embedded.clock import show_instant

    with temporal(target) as t:
        rows = t.history(order_id)
    data = [{"seq": n, "at": show_instant(h["at"]), "subject": h["subject"], "from": h["from"], "to": h["to"], "cause": h["cause"]} for n, h in enumerate(rows, 1)]
    if fmt == "json":
        _echo_json(data)
        return
    for d in data:
        change = f"{d['from'] or '-'} -> {d['to']}" if d["to"] else ""
        click.echo(f"{d['at']}  {d['subject']:<28} {change:<28} {d['cause']}")


def open_tasks(target: Target, queue, order_id) -> list[dict]:
    unanswered: list = []
    with temporal(target) as t:
        rows = t.open_manual_tasks(queue, order_id, unanswered)
    for oid, why in unanswered:
        click.echo(f"order {oid} did not answer (is a worker polling task queue {target.task_queue}?): {why}", err=True)
    return [{"order": r[0], "task": r[1], "name": r[2], "product": r[3], "queue": r[4]} for r in rows]


def installed_base(target: Target, customer: Optional[str], inventory: bool) -> list[dict]:
    """Assets (or inventory) of one customer's installed base, or of every customer's, as the embedded store lists them."""
    with temporal(target) as t:
        states = [(c, t.installed_state(c)) for c in ([customer] if customer else t.customers())]
    data = []
    for _, state in states:
        if inventory:
            data += [
                {"id": f"INV-{k}", "customer": v["customer"], "asset": v["asset"], "product": v["product"], "attributes": v["attributes"], "outputs": v["outputs"], "order": v["order"], "line": v["line"], "status": v["status"]}
                for k, v in state["inventory"].items()
            ]
        else:
            data += [{"id": a["id"], "customer": a["customer"], "product": a["product"], "attributes": a["attributes"], "parent": a["parent"], "order": a["order"], "status": a["status"]} for a in state["assets"].values()]
    return sorted(data, key=lambda d: d["id"])


def act(target: Target, order_id: str, action, quiet: bool = False, source: Optional[str] = None) -> None:
    """An operator action as an update: it answers with the order's state, or why it was refused."""
    from om_dsl.engine.core import Rejection

    with temporal(target, source) as t:
        try:
            answer = action(t)
        except Rejection as exc:
            raise click.ClickException(str(exc)) from None
    if not quiet:
        for h in answer.get("history", []):
            if h["to"] is None and h["from"] is None:
                continue
            click.echo(f"  {order_id}  {h['subject']:<28} {(h['from'] or '-') + ' -> ' + h['to']:<28} {h['cause']}", err=True)
    click.echo(f"order {order_id}: {answer['status']}" + (f" (revision {answer['revision']})" if "revision" in answer else ""))


def deliver_callback(target: Target, correlation_id: str, outputs: dict, ok: bool, message: str, callback_id) -> None:
    with temporal(target) as t:
        found = t.deliver_callback(correlation_id, outputs, ok, message, callback_id)
    if found:
        click.echo(f"delivered to order {correlation_id.split(':', 1)[0]}")
    else:
        click.echo(f"no running order has the correlation id {correlation_id}: ignored")


# ---- om worker --------------------------------------------------------------------------------------


@main.command()
@click.argument("sources", nargs=-1, type=click.Path(exists=True))
@click.option("--listener", "listeners", multiple=True, help="POST order events here (repeatable); default: the simulated originating system.")
@click.option("--config", "config_path", envvar="OM_CONFIG", type=click.Path(dir_okay=False), help="The deployment configuration: which adapter serves which system (see docs/systems.md).")
@click.option("--tasks-path", multiple=True, envvar="OM_TASKS_PATH", type=click.Path(file_okay=False), help="Where auto tasks' Python packages live (repeatable; or OM_TASKS_PATH).")
@click.option("--systems-db", default="om.systems.db", show_default=True, help="The in-process simulators' state (systems the configuration does not serve otherwise).")
@click.option("--listen", help="Also receive callbacks of asynchronous operations over HTTP, on HOST:PORT (POST /callbacks/TOKEN; the configuration's callback_url points here).")
@click.option("--request-timeout", type=click.FloatRange(0, 3600, min_open=True), callback=finite, default=5.0, show_default=True, help="With --listen: seconds a client has to send a whole callback request.")
@engine_options
def worker(sources, listeners, config_path, tasks_path, systems_db, listen, request_timeout, target):
    """Run orders on Temporal: a worker polls the task queue for order
    workflows and their calls, until stopped (Ctrl-C, SIGTERM).

    SOURCES, compiled catalogs (generated/acme, or generated/ for every
    catalog in it), serve their own version with their generated modules; an order on any other version is served by the interpreter from
    the plan it carries. Start as many workers as the load needs.
    """
    import asyncio
    import os
    import signal

    from om_dsl.simulate.simulators import Simulators
    from om_dsl.systems import config as configuration
    from om_dsl.systems.adapters import PythonTasks, Systems
    from om_dsl.systems.http import check_url

    global CLIENT_USED
    if not target.temporal:
        raise click.UsageError("the embedded engine has no workers: `om run`, `om resume` or `om serve` run its orders (use --engine temporal)")
    try:
        from om_dsl.temporal import worker as temporal_worker
    except ImportError:
        raise click.UsageError(f"the Temporal engine needs the temporalio package: {pip_install('temporal')}") from None
    for url in listeners:
        problem = check_url(url)
        if problem:
            raise click.UsageError(f"--listener {url!r} is not an http(s) URL ({problem})")
    endpoint = None
    if listen:
        host, _, port = listen.rpartition(":")
        if not host or not port.isdigit() or not 0 <= int(port) < 65536:
            raise click.UsageError(f"--listen {listen!r} is not HOST:PORT")
        endpoint = (host, int(port))
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

        await temporal_worker.serve(target.address, target.namespace, target.task_queue, systems, python_tasks, listeners, rules, stop, ready, endpoint, config.callback_secret, request_timeout)

    try:
        asyncio.run(go())
    except temporal_worker.Unreachable as exc:
        raise Unavailable(str(exc)) from None
    except OSError as exc:  # the callback port is taken
        raise click.UsageError(f"--listen {listen}: {exc.strerror or exc}") from None
    finally:
        systems.close()
