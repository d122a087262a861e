"""`om run`, `om resume`, `om orders`, `om tasks`, `om assets`: running orders
on the embedded engine (SQLite) against the simulated downstream systems."""

from __future__ import annotations

import json
import os
import sys

import click

from om_dsl.cli import _load_rules, checked, engines, main, say
from om_dsl.cli.engines import EMBEDDED_ONLY, engine_options, order_service
from om_dsl.table import table


def _db_option(f):
    f = click.option("--systems-db", help="The simulated systems' own state (default: DB with .systems before its suffix).")(f)
    f = click.option("--db", "db_path", envvar="OM_DB", default="om.db", show_default=True, help="The order database (or set OM_DB).")(f)
    return f


def _run_options(f):
    f = click.option("--config", "config_path", envvar="OM_CONFIG", type=click.Path(dir_okay=False), help="The deployment configuration: which adapter serves which system (default: om.toml when present; see docs/systems.md).")(f)
    f = click.option("--tasks-path", multiple=True, envvar="OM_TASKS_PATH", type=click.Path(file_okay=False), help="Where auto tasks' Python packages live (repeatable; or OM_TASKS_PATH).")(f)
    f = click.option("--start", "start", help="With --clock simulated: the time it starts at (ISO date or date-time); a simulated clock never goes back.")(f)
    f = click.option(
        "--clock",
        type=click.Choice(["system", "simulated"]),
        help="system: the wall clock. simulated: waits and retries take no time (demos, tests). Default: the mode this database last ran with, else system.",
    )(f)
    f = click.option("--sync", type=click.Choice(["FULL", "NORMAL"]), default="FULL", show_default=True, help="SQLite synchronous mode.")(f)
    return _db_option(f)


def _fmt_option(f):
    return click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)(f)


def options(db_path="om.db", systems_db=None, clock=None, start=None, tasks_path=(), sync="FULL", config_path=None):
    """The embedded engine's options, from the command's."""
    from om_dsl.embedded.clock import parse_instant
    from om_dsl.embedded.service import Options

    try:
        begin = parse_instant(start) if start else None
    except ValueError:
        raise click.UsageError(f"--start {start!r} is not an ISO date or date-time") from None
    return Options(db_path, systems_db, clock, begin, tuple(tasks_path), sync, config_path)


def rules_of(source, catalog_name=None, orders=None):
    """SOURCE's rules; of several catalogs, --catalog's, or the one that sells every product of ORDERS."""
    return _load_rules(source, catalog_name, "auto", orders) if source else None


def _progress(enabled: bool):
    def show(order_id, history):
        if not enabled:
            return
        for h in history:
            if h["to"] is None and h["from"] is None:
                continue
            arrow = f"{h['from'] or '-'} -> {h['to']}"
            say(f"  {order_id}  {h['subject']:<28} {arrow:<28} {h['cause']}", err=True)

    return show


# ---- om run / om resume ------------------------------------------------------------------------


@main.command()
@click.argument("source", type=click.Path(exists=True))
@click.argument("orders", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--catalog", "catalog_name", callback=checked(), help="Which catalog of SOURCE, when it holds several.")
@click.option("--quiet", "-q", is_flag=True, help="No progress lines.")
@_fmt_option
@_run_options
@engine_options
def run(source, orders, catalog_name, quiet, fmt, db_path, systems_db, clock, start, tasks_path, sync, config_path, target):
    """Submit orders (TMF622 JSON) and run them until each completes or waits
    for a person or a timer.

    SOURCE is a compiled catalog (generated/acme) or specs. Exits 0 when every
    order was accepted, 1 when one was rejected. With --engine temporal the
    orders are planned here and started as workflows; workers run them.
    """
    with order_service(target, options(db_path, systems_db, clock, start, tasks_path, sync, config_path), rules_of(source, catalog_name, orders)) as s:
        s.on_event = _progress(not quiet and fmt == "text")
        submitted, rejected = engines.submit_files(s.submit, orders)
        _summary(s.settle([order_id for order_id, _ in submitted]), fmt)  # a rejected order is kept too
    sys.exit(1 if rejected else 0)


@main.command()
@click.argument("source", required=False, type=click.Path(exists=True))
@click.option("--catalog", "catalog_name", callback=checked(), help="Which catalog of SOURCE, when it holds several.")
@click.option("--quiet", "-q", is_flag=True)
@_fmt_option
@_run_options
def resume(source, catalog_name, quiet, fmt, db_path, systems_db, clock, start, tasks_path, sync, config_path):
    """Continue every unfinished order: commands left undone (after a crash),
    callbacks, retries and waits that are due.

    Orders run on the catalog version they started with (from the store);
    SOURCE, when given, serves its own version with its generated modules.
    """
    with order_service(EMBEDDED_ONLY, options(db_path, systems_db, clock, start, tasks_path, sync, config_path), rules_of(source, catalog_name), must_exist=True) as s:
        s.on_event = _progress(not quiet and fmt == "text")
        _summary([s.order(order_id) for order_id in s.resume_all()], fmt)


def _summary(data: list, fmt: str) -> None:
    """Orders as a command that ran them leaves them: each one's state, and what its tasks wait for."""
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    for d in data:
        say(f"order {d['id']}: {d['status']}" + (f" ({d['note']})" if d.get("note") else ""))
        for t in d.get("tasks", []):
            if t.get("waiting_for"):
                say(f"  {t['id']:<28} {t['status']:<13} {t['waiting_for']}")


# ---- om orders ------------------------------------------------------------------------------------


@main.group()
def orders() -> None:
    """Orders: list, show and history read them; amend, cancel, resume, release and fail act on one."""


@orders.command("list")
@click.option("--status", help="Only orders in this state (inProgress, pending, completed, held, rejected...).")
@click.option("--jeopardy", type=click.Choice(["green", "yellow", "red"]), help="Only orders in this jeopardy (a task is due soon: yellow, overdue: red).")
@_fmt_option
@_db_option
@engine_options
def orders_list(status, jeopardy, fmt, db_path, systems_db, target):
    """Every order, oldest first."""
    with order_service(target, options(db_path, systems_db), mode="read") as s:
        data = s.orders(status, jeopardy)
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, sort_keys=True))
    else:
        for line in table((d["id"], d["status"] or "-", d["customer"], d.get("updated_at") or d["created_at"], d["jeopardy"] or "") for d in data):
            say(line)


@orders.command("show")
@click.argument("order_id", callback=checked())
@click.option("--format", "fmt", type=click.Choice(["text", "json", "tmf622"]), default="text", show_default=True, help="tmf622: the order as a TMF622 ProductOrder, in the version it came in.")
@_db_option
@engine_options
def orders_show(order_id, fmt, db_path, systems_db, target):
    """An order's state, and for each task its state and what it waits for."""
    with order_service(target, options(db_path, systems_db), mode="read") as s:
        d = s.product_order(order_id) if fmt == "tmf622" else s.order(order_id)
    if fmt in ("json", "tmf622"):
        click.echo(json.dumps(d, indent=2, sort_keys=True))
        return
    _render_order(d)


def _render_order(d: dict) -> None:
    say(f"order {d['id']}: {d['status']}  (customer {d['customer'] or '-'}, external id {d['external_id'] or '-'})" + (f"  jeopardy {d['jeopardy']}" if d.get("jeopardy") else ""))
    for p in d.get("problems", []):
        say(f"  rejected: {p.get('item') and 'item ' + p['item'] + ': ' or ''}{p['message']} ({p['rule']})")
    for rev in d.get("revisions", []):
        say(f"  revision {rev['revision']} from {rev['by']} at {rev['received_at']}: {rev['status']}" + (f" ({rev['reason']})" if rev.get("reason") else ""))
    for w in d.get("waits_for", []):
        what = f"order {w['order']}" + (f", milestone {w['milestone']}" if w.get("milestone") else "")
        say(f"  waits for {what}: {w['state']}" + (f" ({w['why']})" if w.get("why") else ""))
    for t in d["tasks"]:
        line = f"  {t['id']:<28} {t['type']:<9} {t['status']:<13} {t.get('jeopardy') or '':<6}"
        if t.get("waiting_for"):
            line += f" {t['waiting_for']}"
        say(line.rstrip())


@orders.command("history")
@click.argument("order_id", callback=checked())
@_fmt_option
@_db_option
@engine_options
def orders_history(order_id, fmt, db_path, systems_db, target):
    """Every transition of the order and its tasks, with its cause."""
    with order_service(target, options(db_path, systems_db), mode="read") as s:
        data = s.history(order_id)
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    for d in data:
        change = f"{d['from'] or '-'} -> {d['to']}" if d["to"] else ""
        say(f"{d['at']}  {d['subject']:<28} {change:<28} {d['cause']}")


# ---- om tasks -------------------------------------------------------------------------------------


@main.group()
def tasks() -> None:
    """Tasks: list the open manual ones and complete them; retry a failed task, or skip one."""


@tasks.command("list")
@click.option("--queue", callback=checked(), help="Only this queue (field_ops...).")
@click.option("--order", "order_id", callback=checked(), help="Only this order.")
@click.option("--ids", is_flag=True, help="Only `ORDER TASK` per line, for scripts.")
@_fmt_option
@_db_option
@engine_options
def tasks_list(queue, order_id, ids, fmt, db_path, systems_db, target):
    """Open manual tasks, waiting for a person."""
    with order_service(target, options(db_path, systems_db), mode="read") as s:
        data = s.manual_tasks(queue, order_id)
        for warning in s.warnings:
            click.echo(warning, err=True)
    if ids:
        for d in data:
            say(f"{d['order']} {d['task']}")
        return
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    from om_dsl.engine.fallout import completing_hint

    if not data:
        click.echo("no open manual tasks")
    for d in data:
        say(f"{d['order']} {d['task']:<28} queue {d['queue']}   (om tasks complete {d['order']} {d['task']}{completing_hint(d['task'])})")


@tasks.command("complete")
@click.argument("order_id", callback=checked())
@click.argument("task_id", callback=checked())
@click.option("--data", multiple=True, help="An output of the task, key=value (repeatable).")
@click.option("--by", default=lambda: os.environ.get("USER", "operator"), callback=checked(text=True), help="Who completed it (recorded in the history).")
@click.option("--quiet", "-q", is_flag=True)
@_fmt_option
@_run_options
@engine_options
def tasks_complete(order_id, task_id, data, by, quiet, fmt, db_path, systems_db, clock, start, tasks_path, sync, config_path, target):
    """Complete a manual task, then run the order on as far as it goes."""
    from om_dsl.limits import parse_data

    try:
        outputs = parse_data(data)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    act(target, options(db_path, systems_db, clock, start, tasks_path, sync, config_path), order_id, lambda s: s.complete_task(order_id, task_id, outputs, by), quiet, fmt)


def act(target, opts, order_id: str, action, quiet: bool = False, fmt: str = "text", amended: bool = False) -> None:
    """An operator action on one order: its progress (or the history it
    answers with), then the order as it stands, and what its tasks wait for."""
    with order_service(target, opts, must_exist=True) as s:  # an order runs on the catalog version it started with
        s.on_event = _progress(not quiet and fmt == "text")
        answer = action(s)
    if fmt == "json":
        click.echo(json.dumps([answer], indent=2, sort_keys=True))
        return
    if not quiet:
        _progress(True)(order_id, answer.get("history", []))
    _summary([{**answer, "id": order_id, **({"note": f"revision {answer['revision']}"} if amended else {})}], "text")


# ---- om assets ------------------------------------------------------------------------------------


@main.group()
def assets() -> None:
    """The installed base, what completed orders created: list it, or import a store's into Temporal."""


@assets.command("list")
@click.option("--customer", callback=checked(), help="Only this customer account.")
@click.option("--inventory", is_flag=True, help="The technical inventory (lines) instead of the commercial assets.")
@_fmt_option
@_db_option
@engine_options
def assets_list(customer, inventory, fmt, db_path, systems_db, target):
    """Commercial assets (or technical inventory) of completed orders."""
    with order_service(target, options(db_path, systems_db), mode="read") as s:
        data = s.installed_base(customer, inventory)
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    rows = [(d["id"], d["product"], d["status"], ", ".join(f"{k}={v}" for k, v in sorted(d["attributes"].items()) if v is not None)) for d in data]
    for line in table(rows):  # columns as wide as their content: product codes can be long
        say(line)
