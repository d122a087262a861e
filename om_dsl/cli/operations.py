"""Operator commands: act on tasks and orders (`om tasks retry|skip`,
`om orders resume`), take systems offline and back (`om systems`), deliver
callbacks by hand (`om callbacks deliver`), register listeners of order
events (`om hub`), see what was sent (`om notifications list`), and run the
engine as a service (`om serve`)."""

from __future__ import annotations

import json
import os
import secrets

import attrs
import click

from om_dsl.cli import checked, finite, main, read_input, say
from om_dsl.cli.engines import EMBEDDED_ONLY, engine_options, order_service
from om_dsl.cli.orders import _db_option, _fmt_option, _progress, _run_options, _summary, act, assets, options, orders, rules_of, tasks


def _by_option(f):
    return click.option("--by", default=lambda: os.environ.get("USER", "operator"), callback=checked(text=True), help="Who acts (recorded in the history).")(f)


def _opts(db_path, systems_db, clock, start, tasks_path, sync, config_path):
    return options(db_path, systems_db, clock, start, tasks_path, sync, config_path)


@tasks.command("retry")
@click.argument("order_id", callback=checked())
@click.argument("task_id", callback=checked())
@click.option("--reason", default="", callback=checked(text=True), help="Why (recorded in the history).")
@_by_option
@click.option("--quiet", "-q", is_flag=True)
@_run_options
@engine_options
def tasks_retry(order_id, task_id, reason, by, quiet, db_path, systems_db, clock, start, tasks_path, sync, config_path, target):
    """Retry a fatally failed task now (its retry policy starts over)."""
    act(target, _opts(db_path, systems_db, clock, start, tasks_path, sync, config_path), order_id, lambda s: s.retry_task(order_id, task_id, by, reason), quiet)


@tasks.command("skip")
@click.argument("order_id", callback=checked())
@click.argument("task_id", callback=checked())
@click.option("--reason", callback=checked(text=True), help="Why it is skipped (required; recorded in the history).")
@_by_option
@click.option("--quiet", "-q", is_flag=True)
@_run_options
@engine_options
def tasks_skip(order_id, task_id, reason, by, quiet, db_path, systems_db, clock, start, tasks_path, sync, config_path, target):
    """Skip a task that has not completed: what depends on it goes ahead."""
    if not (reason or "").strip():  # checked here, not by click: the message says what the reason is for
        raise click.UsageError("--reason must say why the task is skipped")
    act(target, _opts(db_path, systems_db, clock, start, tasks_path, sync, config_path), order_id, lambda s: s.skip_task(order_id, task_id, by, reason), quiet)


@orders.command("resume")
@click.argument("order_id", callback=checked())
@click.option("--reason", default="", callback=checked(text=True), help="Why (recorded in the history).")
@_by_option
@click.option("--quiet", "-q", is_flag=True)
@_run_options
@engine_options
def orders_resume(order_id, reason, by, quiet, db_path, systems_db, clock, start, tasks_path, sync, config_path, target):
    """Resume a held order: every fatally failed task is retried."""
    act(target, _opts(db_path, systems_db, clock, start, tasks_path, sync, config_path), order_id, lambda s: s.resume(order_id, by, reason), quiet)


# ---- systems ---------------------------------------------------------------------------------------


@main.group()
def systems() -> None:
    """Downstream systems: take one offline (its calls wait on hold), bring it online again, list those an operator changed."""


def _set_system(system: str, offline: bool, by: str, opts) -> None:
    from om_dsl import service as svc

    with order_service(EMBEDDED_ONLY, opts) as s:
        try:
            moved = s.set_system(system, offline, by)
        except svc.Refused as exc:  # an unknown system: a usage mistake
            raise click.UsageError(str(exc)) from None
        if offline:
            click.echo(f"{system} is offline: its calls wait on hold until `om systems online {system}`")
        else:
            say(f"{system} is online" + (f": calls sent again for {', '.join(moved)}" if moved else ""))


@systems.command("offline")
@click.argument("system", callback=checked())
@_by_option
@_run_options
def systems_offline(system, by, db_path, systems_db, clock, start, tasks_path, sync, config_path):
    """Put a system's callouts on hold (not failed) until it is online again."""
    _set_system(system, True, by, _opts(db_path, systems_db, clock, start, tasks_path, sync, config_path))


@systems.command("online")
@click.argument("system", callback=checked())
@_by_option
@_run_options
def systems_online(system, by, db_path, systems_db, clock, start, tasks_path, sync, config_path):
    """Bring a system back: the calls held for it go out again."""
    _set_system(system, False, by, _opts(db_path, systems_db, clock, start, tasks_path, sync, config_path))


@systems.command("list")
@_fmt_option
@_db_option
def systems_list(fmt, db_path, systems_db):
    """Systems taken offline (or brought back) by an operator."""
    with order_service(EMBEDDED_ONLY, options(db_path, systems_db), mode="read") as s:
        data = s.system_changes()
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    if not data:
        click.echo("every system is online")
    for d in data:
        say(f"{d['system']:<12} {'offline' if d['offline'] else 'online':<8} since {d['since']} ({d['by']})")


# ---- callbacks -------------------------------------------------------------------------------------


@main.group()
def callbacks() -> None:
    """Answers of asynchronous operations: deliver one by hand."""


@callbacks.command("deliver")
@click.argument("correlation_id", callback=checked())
@click.option("--data", multiple=True, help="An output of the answer, key=value (repeatable).")
@click.option("--failed", "failure", callback=checked(text=True), help="The operation failed, with this message.")
@click.option("--id", "callback_id", callback=checked(), help="The callback's own id (a repeated id is ignored); default: derived from the correlation id.")
@click.option("--quiet", "-q", is_flag=True)
@_run_options
@engine_options
def callbacks_deliver(correlation_id, data, failure, callback_id, quiet, db_path, systems_db, clock, start, tasks_path, sync, config_path, target):
    """Deliver the answer of an asynchronous call (CORRELATION_ID is the call's idempotency key)."""
    from om_dsl.limits import parse_data

    try:
        outputs = parse_data(data)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    with order_service(target, _opts(db_path, systems_db, clock, start, tasks_path, sync, config_path), must_exist=True) as s:
        s.on_event = _progress(not quiet)
        answer = s.deliver_callback(correlation_id, outputs, failure is None, failure or "", callback_id)
    if not answer["delivered"]:
        click.echo("this callback was delivered before: ignored")
    elif "orders" in answer:
        _summary(answer["orders"], "text")
    else:
        click.echo(answer["note"])


# ---- the hub and notifications ---------------------------------------------------------------------


@main.group()
def hub() -> None:
    """Listeners of order events (TMF hub style), each gets every event at least once: register, unregister, list."""


@hub.command("register")
@click.argument("url", callback=checked(text=True))
@_run_options
@engine_options
def hub_register(url, db_path, systems_db, clock, start, tasks_path, sync, config_path, target):
    """Register a listener: order events are POSTed to URL from now on."""
    from om_dsl.systems.http import check_url

    problem = check_url(url)
    if problem:
        raise click.UsageError(f"{url!r} is not an http(s) URL ({problem})")
    with order_service(target, _opts(db_path, systems_db, clock, start, tasks_path, sync, config_path)) as s:
        fresh = s.register_listener(url)
    click.echo(f"{url} is registered" if fresh else f"{url} was registered already")


@hub.command("unregister")
@click.argument("url", callback=checked(text=True))
@_db_option
@engine_options
def hub_unregister(url, db_path, systems_db, target):
    """Stop sending events to a listener (what is pending for it stays pending)."""
    with order_service(target, options(db_path, systems_db), mode="write") as s:
        gone = s.unregister_listener(url)
    if not gone:
        raise click.UsageError(f"{url} is not registered")
    click.echo(f"{url} is unregistered")


@hub.command("list")
@_fmt_option
@_db_option
@engine_options
def hub_list(fmt, db_path, systems_db, target):
    """Registered listeners, and the API's subscriptions (their id, query and owner)."""
    with order_service(target, options(db_path, systems_db), mode="read") as s:
        subscriptions = s.subscriptions()
    listeners = [sub["callback"] for sub in subscriptions]
    if fmt == "json":
        click.echo(json.dumps(listeners, indent=2))
        return
    for sub in subscriptions:  # the API's subscriptions (POST /hub) say their id, query and owner
        extra = [f"{k} {sub[k]}" for k in ("query", "owner") if sub.get(k)]
        say(sub["callback"] + (f"  (subscription {sub['id']}: {', '.join(extra)})" if extra else ""))
    if not listeners:
        click.echo("no listener: events go to the simulated originating system")


@main.group()
def notifications() -> None:
    """Order events sent to listeners, and those still pending: list them."""


@notifications.command("list")
@click.option("--order", "order_id", callback=checked(), help="Only this order's events (on Temporal, every order's history is read without it).")
@click.option("--pending", is_flag=True, help="Only events not delivered yet.")
@_fmt_option
@_db_option
@engine_options
def notifications_list(order_id, pending, fmt, db_path, systems_db, target):
    """What was sent to which listener, and what is pending (with the last error)."""
    with order_service(target, options(db_path, systems_db), mode="read") as s:
        data = s.notifications(order_id, pending)
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    if not data:
        click.echo("no notifications" + (" pending" if pending else ""))
    for d in data:
        tail = f"delivered {d['delivered_at']}" if d["status"] == "delivered" else "pending" + (f", next try {d['next_try_at']}" if d.get("next_try_at") else "") + (f" ({d['last_error']})" if d.get("last_error") else "")
        say(f"{d['event']:<22} {d['type'] or '-':<30} {d['state'] or '':<12} -> {d['listener']}  {tail}")


# ---- the service -----------------------------------------------------------------------------------


@main.command()
@click.argument("source", required=False, type=click.Path(exists=True))
@click.option("--catalog", "catalog_name", callback=checked(), help="Which catalog of SOURCE, when it holds several.")
@click.option("--listen", default="127.0.0.1:8790", show_default=True, help="HOST:PORT of the API, the callbacks (POST /callbacks/TOKEN) and GET /health; 0.0.0.0 only when told.")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False), help="Serve HTTPS with this certificate (PEM; with --tls-key).")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False), help="The certificate's private key (PEM).")
@click.option("--interval", type=click.FloatRange(0.01, 3600), callback=finite, default=0.2, show_default=True, help="Seconds between rounds of work (0.01 to 3600).")
@click.option("--request-timeout", type=click.FloatRange(0, 3600, min_open=True), callback=finite, default=5.0, show_default=True, help="Seconds a client has to send a whole request, from its first byte (a slower one is cut off).")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True, help="Processes serving the API over the one port, each with its own connections; the first also runs the orders (embedded engine).")
@click.option("--quiet", "-q", is_flag=True)
@_run_options
@engine_options
def serve(source, catalog_name, listen, tls_cert, tls_key, interval, request_timeout, workers, quiet, db_path, systems_db, clock, start, tasks_path, sync, config_path, target):
    """Run the engine as a service: the TMF622 API (docs/api.md), callbacks
    over HTTP, GET /health and GET /metrics (docs/metrics.md) on one port, and keep driving every order
    (callbacks, retries, waits, event deliveries) until stopped (Ctrl-C).
    Each request and each round of work holds the runner lock only while it
    works, so `om run`, `om tasks complete` and the other commands can be
    used meanwhile. With --engine temporal: the API only (workers run the
    orders and receive their callbacks). --workers N: N processes accept API
    requests (each plans and renders on its own core; their commits take
    turns), the first also runs the orders."""
    from om_dsl import service as svc
    from om_dsl.api import auth
    from om_dsl.api.server import processes
    from om_dsl.api.server import serve as serve_api
    from om_dsl.cli.engines import pick_engine
    from om_dsl.systems import config as configuration

    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise click.UsageError(f"--listen {listen!r} is not HOST:PORT (a port from 1 to 65535)")
    if bool(tls_cert) != bool(tls_key):
        raise click.UsageError("--tls-cert and --tls-key go together")
    opts = _opts(db_path, systems_db, clock, start, tasks_path, sync, config_path)
    rules = rules_of(source, catalog_name)
    try:
        config = configuration.load(config_path)
    except configuration.ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    try:
        tokens, settings = api_access(config)
    except RuntimeError as exc:
        raise click.UsageError(str(exc)) from None

    def ready(url, where):
        click.echo(f"om serve: API at {url}/tmf-api/productOrderingManagement/v4|v5{where}", err=True)
        click.echo(f"om serve: operator console at {url}/console (sign in with an API token; docs/console.md)", err=True)
        if not tokens:
            click.echo(f"om serve: no API tokens ([api] tokens in the configuration, or {auth.TOKEN_ENV}): every API request is refused (401)", err=True)

    def worker_ready(url):
        click.echo(f"om serve: worker process {os.getpid()} ready", err=True)

    def run(sock, main: bool) -> None:
        with pick_engine(target, opts, rules, mode="serve") as service:
            service.on_event = _progress(not quiet)
            work = (lambda stop: service.work(interval, stop)) if service.work and main else None
            where = f", callbacks at {{url}}/callbacks; database {db_path}" if service.callbacks is not None else f"; orders on Temporal at {target.address}"
            where += f"; {workers} processes" if workers > 1 else ""
            serve_api(service, tokens, (host, int(port)), service.callbacks, work, request_timeout, (tls_cert, tls_key), (lambda url: ready(url, where.replace("{url}", url))) if main else worker_ready, settings, sock)

    # One console secret for every process (made before they fork): a session signed by one is read by the others.
    settings = attrs.evolve(settings, console_secret=secrets.token_bytes(32))
    try:
        with processes((host, int(port)), workers, lambda sock: run(sock, False)) as sock:
            run(sock, True)
    except svc.Misconfigured as exc:
        raise click.UsageError(str(exc)) from None
    except svc.Unavailable as exc:
        raise click.ClickException(str(exc)) from None


def api_access(config):
    """The API's callers (tokens, and JWTs with [api.oauth2]) and its other [api] settings."""
    from om_dsl.api import auth
    from om_dsl.api.app import Settings
    from om_dsl.systems.egress import CallbackPolicy

    verifier = None
    if config.api_oauth2 is not None:
        from om_dsl.api.oauth2 import JwtVerifier

        verifier = JwtVerifier(config.api_oauth2)
    return auth.Tokens(config.api_tokens, jwt=verifier), Settings(config.api_public_url, CallbackPolicy.of(config.api_hub_callbacks))


# ---- in-flight change ------------------------------------------------------------------------------


@orders.command("cancel")
@click.argument("order_id", callback=checked())
@click.option("--reason", default="", callback=checked(text=True), help="Why (recorded in the history).")
@click.option("--force", is_flag=True, help="Go ahead past a soft point of no return.")
@_by_option
@click.option("--quiet", "-q", is_flag=True)
@_run_options
@engine_options
def orders_cancel(order_id, reason, force, by, quiet, db_path, systems_db, clock, start, tasks_path, sync, config_path, target):
    """Cancel an order: nothing new starts, running tasks finish, completed
    tasks with a compensation are undone (the last completed first), then the
    order is cancelled. Refused past a hard point of no return."""
    act(target, _opts(db_path, systems_db, clock, start, tasks_path, sync, config_path), order_id, lambda s: s.cancel(order_id, by, reason, force), quiet)


@orders.command("release")
@click.argument("order_id", callback=checked())
@_by_option
@click.option("--quiet", "-q", is_flag=True)
@_run_options
@engine_options
def orders_release(order_id, by, quiet, db_path, systems_db, clock, start, tasks_path, sync, config_path, target):
    """Start a draft order (TMF622 v5 requestedInitialState: draft): until it
    is released it starts nothing. Refused for an order that is not a draft."""
    act(target, _opts(db_path, systems_db, clock, start, tasks_path, sync, config_path), order_id, lambda s: s.release(order_id, by), quiet)


@orders.command("fail")
@click.argument("order_id", callback=checked())
@click.option("--reason", callback=checked(text=True), help="Why it is given up (required; recorded in the history).")
@_by_option
@click.option("--quiet", "-q", is_flag=True)
@_run_options
@engine_options
def orders_fail(order_id, reason, by, quiet, db_path, systems_db, clock, start, tasks_path, sync, config_path, target):
    """Give a held order up: nothing new starts, running calls finish, the work
    of the items that did not complete is undone (compensation); it ends
    partial when some items completed, failed when none did."""
    if not (reason or "").strip():
        raise click.UsageError("--reason must say why the order is given up")
    act(target, _opts(db_path, systems_db, clock, start, tasks_path, sync, config_path), order_id, lambda s: s.give_up(order_id, by, reason), quiet)


@orders.command("amend")
@click.argument("order_id", callback=checked())
@click.argument("revision", type=click.Path(exists=True, dir_okay=False))
@click.option("--force", is_flag=True, help="Go ahead past a soft point of no return.")
@_by_option
@click.option("--quiet", "-q", is_flag=True)
@_run_options
@engine_options
def orders_amend(order_id, revision, force, by, quiet, db_path, systems_db, clock, start, tasks_path, sync, config_path, target):
    """Amend an in-flight order with a revised TMF622 order (a supplemental order).

    The order freezes (running tasks finish, nothing new starts), the revision
    is compared with what is in flight line by line, and the order resumes on
    the merged plan. Refused when it touches a bundle past a hard point of no
    return (or a soft one, without --force)."""
    from om_dsl.planning import report
    from om_dsl.planning.order import Rejected

    text = read_input(revision)

    def amend(s):
        try:
            return s.amend(order_id, text, by, force)
        except Rejected as exc:
            raise click.ClickException("the revision is rejected:\n" + report.rejection_text(exc, order_id).rstrip()) from None

    act(target, _opts(db_path, systems_db, clock, start, tasks_path, sync, config_path), order_id, amend, quiet, amended=True)


# ---- moving to Temporal -----------------------------------------------------------------------------


@assets.command("import")
@_db_option
@engine_options
def assets_import(db_path, systems_db, target):
    """Copy the embedded store's installed base (--db) into Temporal's: each
    customer's assets and inventory, so that modify and delete orders run on
    Temporal against what orders completed in the store. What Temporal holds
    already stays. Needs --engine temporal."""
    with order_service(EMBEDDED_ONLY, options(db_path, systems_db), mode="read") as store:
        states = store.installed_states()
    with order_service(target, options(db_path, systems_db), mode="read") as t:
        if not hasattr(t, "merge_installed"):  # the store's own engine: there is nowhere to copy to
            raise click.UsageError("om assets import copies an embedded store's installed base into Temporal's: give --engine temporal (and --db, the store)")
        for customer, state in sorted(states.items(), key=lambda kv: kv[0] or ""):
            t.merge_installed(customer, state)
            say(f"{customer or '(no customer)'}: {len(state['assets'])} assets, {len(state['inventory'])} inventory lines")
