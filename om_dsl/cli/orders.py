"""`om run`, `om resume`, `om orders`, `om tasks`, `om assets`: running orders
on the embedded engine (SQLite) against the simulated downstream systems."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import sys
from pathlib import Path
from typing import Optional

import click

from om_dsl.cli import _load_rules, checked, engines, main, say, unknown
from om_dsl.cli.engines import engine_options
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


def _systems_path(db_path: str, given: Optional[str]) -> str:
    if given:
        return given
    p = Path(db_path)
    return str(p.with_name(p.stem + ".systems" + (p.suffix or ".db")))


class Session:
    """An open store, its runner, and what it needs; closed on exit."""

    def __init__(self, db_path, systems_db, clock_mode, start, tasks_path, sync, source=None, catalog_name=None, must_exist=False, config_path=None):
        from om_dsl.embedded.clock import SimulatedClock, SystemClock, parse_instant
        from om_dsl.embedded.runner import Catalogs, Runner
        from om_dsl.embedded.store import Store, check_location, store_error
        from om_dsl.simulate.simulators import Simulators
        from om_dsl.systems import config as configuration
        from om_dsl.systems.adapters import PythonTasks, Systems

        try:
            begin = parse_instant(start) if start else None
        except ValueError:
            raise click.UsageError(f"--start {start!r} is not an ISO date or date-time") from None
        rules = _load_rules(source, catalog_name, "auto") if source else None
        try:
            known = {x.name: {o.name for o in x.operations} for x in rules.catalog.systems} if rules is not None else None
            self.config = configuration.load(config_path, known_systems=known)
        except configuration.ConfigError as exc:
            raise click.UsageError(str(exc)) from None
        self.store = Store(db_path, synchronous=sync, create=not must_exist)
        stored_mode = self.store.meta("clock")
        mode = clock_mode or stored_mode or "system"
        if mode == "simulated":
            stored = self.store.meta("clock_ms")
            candidates = [int(stored) if stored else None, begin]
            self.clock = SimulatedClock(max([c for c in candidates if c is not None] or [SystemClock().now()]))
        else:
            self.clock = SystemClock()
        if start and mode != "simulated":
            raise click.UsageError("--start needs --clock simulated: the system clock cannot be set")
        if mode != stored_mode:
            with self.store.transaction() as db:
                self.store.set_meta(db, "clock", mode)
        systems_path = _systems_path(db_path, systems_db)
        check_location(systems_path, create=True)
        try:
            self.systems = Systems(self.config, Simulators(systems_path), callback_secret=self.store.callback_secret)
        except sqlite3.Error as exc:
            self.store.close()
            raise store_error(exc, systems_path) from None
        self.runner = Runner(self.store, Catalogs(self.store, rules), self.systems, PythonTasks(tuple(os.path.abspath(p) for p in tasks_path)), self.clock)
        self.db_path = db_path

    def close(self) -> None:
        if self.clock.simulated:
            with self.store.transaction() as db:
                self.store.set_meta(db, "clock_ms", str(self.clock.now()))
        self.systems.close()
        self.store.close()


class Busy(click.ClickException):
    exit_code = 3  # another runner holds the database: try again later


@contextlib.contextmanager
def session(**kw):
    """Hold the runner lock, then open the session: the simulated clock is read
    and saved under the lock, so two commands cannot take it back in time."""
    from om_dsl.embedded.runner import RunnerBusy, runner_lock
    from om_dsl.embedded.store import check_location

    check_location(kw["db_path"], create=not kw.get("must_exist"))  # before the lock file is made beside it
    try:
        with runner_lock(kw["db_path"]):
            s = Session(**kw)
            try:
                yield s
            finally:
                s.close()
    except RunnerBusy as exc:
        raise Busy(str(exc)) from None


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
    if target.temporal:
        return engines.run_orders(target, source, catalog_name, orders, fmt)

    with session(db_path=db_path, systems_db=systems_db, clock_mode=clock, start=start, tasks_path=tasks_path, sync=sync, source=source, catalog_name=catalog_name, config_path=config_path) as s:
        s.runner.on_event = _progress(not quiet and fmt == "text")
        submitted, rejected = engines.submit_files(s.runner.submit, orders)
        results = [order_id for order_id, _ in submitted]  # a rejected order is stored too
        s.runner.drive()
        _summary(s, results, fmt)
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
    with session(db_path=db_path, systems_db=systems_db, clock_mode=clock, start=start, tasks_path=tasks_path, sync=sync, source=source, catalog_name=catalog_name, must_exist=True, config_path=config_path) as s:
        s.runner.on_event = _progress(not quiet and fmt == "text")
        s.runner.drive()
        _summary(s, s.store.unfinished_orders(), fmt)


def _summary(s: Session, order_ids: list, fmt: str) -> None:
    data = [_order_data(s, oid) for oid in order_ids]
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    for d in data:
        say(f"order {d['id']}: {d['status']}")
        for t in d["tasks"]:
            if t.get("waiting_for"):
                say(f"  {t['id']:<28} {t['status']:<13} {t['waiting_for']}")


def _order_data(s, order_id: str) -> dict:
    from om_dsl.embedded.clock import show_instant
    from om_dsl.engine.view import revision_state, task_entries

    row = s.store.order_row(order_id)
    if row is None:
        raise no_order(s.store, order_id, s.db_path)
    out = {"id": order_id, "status": row["status"], "customer": row["customer"], "external_id": row["external_id"], "created_at": show_instant(row["created_at"]), "updated_at": show_instant(row["updated_at"])}
    if row["problems"]:
        out["problems"] = s.store.decode(row["problems"], f"the problems of order {order_id!r}")
    run_ = s.store.load(order_id)
    out["tasks"] = []
    if run_ is not None:
        out["tasks"] = task_entries(s.runner.catalogs.engine(run_.catalog), run_)
        out["catalog"] = run_.catalog
        out["jeopardy"] = run_.jeopardy
        out["revision"] = run_.revision
        revisions = s.store.revisions(order_id)
        if revisions:
            out["revisions"] = [
                {"revision": r["revision"], "status": revision_state(run_, r["revision"], r["status"]), **({"reason": r["reason"]} if r["reason"] else {}), "by": r["by"], "received_at": show_instant(r["received_at"])}
                for r in revisions
            ]
    return out


# ---- om orders ------------------------------------------------------------------------------------


@main.group()
def orders() -> None:
    """Orders: list, show and history read them; amend, cancel and resume act on one."""


@orders.command("list")
@click.option("--status", help="Only orders in this state (inProgress, completed, held, rejected...).")
@click.option("--jeopardy", type=click.Choice(["green", "yellow", "red"]), help="Only orders in this jeopardy (a task is due soon: yellow, overdue: red).")
@_fmt_option
@_db_option
@engine_options
def orders_list(status, jeopardy, fmt, db_path, systems_db, target):
    """Every order, oldest first."""
    from om_dsl.embedded.clock import show_instant

    if target.temporal:
        return engines.list_orders(target, status, jeopardy, fmt)

    store = _open_store(db_path)
    rows = store.orders(status, jeopardy)
    data = [{"id": r["id"], "status": r["status"], "customer": r["customer"], "external_id": r["external_id"], "created_at": show_instant(r["created_at"]), "updated_at": show_instant(r["updated_at"]), "jeopardy": r["jeopardy"]} for r in rows]
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, sort_keys=True))
    else:
        for line in table((d["id"], d["status"], d["customer"], d["updated_at"], d["jeopardy"] or "") for d in data):
            say(line)


@orders.command("show")
@click.argument("order_id", callback=checked())
@_fmt_option
@_db_option
@engine_options
def orders_show(order_id, fmt, db_path, systems_db, target):
    """An order's state, and for each task its state and what it waits for."""
    if target.temporal:
        return engines.show_order(target, order_id, fmt, _render_order)
    with _readonly_session(db_path, systems_db) as s:
        d = _order_data(s, order_id)
    if fmt == "json":
        click.echo(json.dumps(d, indent=2, sort_keys=True))
        return
    _render_order(d)


def _render_order(d: dict) -> None:
    say(f"order {d['id']}: {d['status']}  (customer {d['customer'] or '-'}, external id {d['external_id'] or '-'})" + (f"  jeopardy {d['jeopardy']}" if d.get("jeopardy") else ""))
    for p in d.get("problems", []):
        say(f"  rejected: {p.get('item') and 'item ' + p['item'] + ': ' or ''}{p['message']} ({p['rule']})")
    for rev in d.get("revisions", []):
        say(f"  revision {rev['revision']} from {rev['by']} at {rev['received_at']}: {rev['status']}" + (f" ({rev['reason']})" if rev.get("reason") else ""))
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
    from om_dsl.embedded.clock import show_instant

    if target.temporal:
        return engines.order_history(target, order_id, fmt)

    store = _open_store(db_path)
    if not store.order_exists(order_id):
        raise no_order(store, order_id, db_path)
    rows = store.history(order_id)
    data = [{"seq": r["seq"], "at": show_instant(r["at"]), "subject": r["subject"], "from": r["from_state"], "to": r["to_state"], "cause": r["cause"]} for r in rows]
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
    if target.temporal:
        data = engines.open_tasks(target, queue, order_id)
    else:
        rows = _open_store(db_path).open_manual_tasks(queue, order_id)
        data = [{"order": r["order_id"], "task": r["item_id"], "name": r["name"], "product": r["product"], "queue": r["queue"]} for r in rows]
    if ids:
        for d in data:
            say(f"{d['order']} {d['task']}")
        return
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    if not data:
        click.echo("no open manual tasks")
    for d in data:
        say(f"{d['order']} {d['task']:<28} queue {d['queue']}   (om tasks complete {d['order']} {d['task']})")


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
    from om_dsl.embedded.runner import parse_data
    from om_dsl.engine.core import Rejection

    try:
        outputs = parse_data(data)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if target.temporal:
        return engines.act(target, order_id, lambda t: t.complete_manual(order_id, task_id, outputs, by), quiet)
    with session(db_path=db_path, systems_db=systems_db, clock_mode=clock, start=start, tasks_path=tasks_path, sync=sync, must_exist=True, config_path=config_path) as s:
        if not s.store.order_exists(order_id):
            raise no_order(s.store, order_id, db_path)
        s.runner.on_event = _progress(not quiet and fmt == "text")
        try:
            s.runner.complete_manual(order_id, task_id, outputs, by)
        except Rejection as exc:
            raise click.ClickException(str(exc)) from None
        s.runner.drive()
        _summary(s, [order_id], fmt)


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
    if target.temporal:
        data = engines.installed_base(target, customer, inventory)
    elif inventory:
        store = _open_store(db_path)
        rows = store.inventory(customer)
        data = [
            {
                "id": r["id"], "customer": r["customer"], "asset": r["asset_id"], "product": r["product"],
                "attributes": store.decode(r["attributes"], f"inventory line {r['id']!r}"), "outputs": store.decode(r["outputs"], f"inventory line {r['id']!r}"),
                "order": r["order_id"], "line": r["line"], "status": r["status"],
            }
            for r in rows
        ]
    else:
        store = _open_store(db_path)
        rows = store.assets(customer)
        data = [
            {"id": r["id"], "customer": r["customer"], "product": r["product"], "attributes": store.decode(r["attributes"], f"asset {r['id']!r}"), "parent": r["parent"], "order": r["order_id"], "status": r["status"]}
            for r in rows
        ]
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    rows = [(d["id"], d["product"], d["status"], ", ".join(f"{k}={v}" for k, v in sorted(d["attributes"].items()) if v is not None)) for d in data]
    for line in table(rows):  # columns as wide as their content: product codes can be long
        say(line)


def no_order(store, order_id: str, db_path: str) -> click.UsageError:
    """The order is not in the database: say so, with the closest order id as a hint."""
    return unknown("order", order_id, store.order_ids(), db_path)


def _open_store(db_path: str, write: bool = False):
    """An existing database; read-only unless `write` (a read command never creates or migrates one)."""
    from om_dsl.embedded.store import Store

    return Store(db_path, create=False, write=write)


class _View:
    """A store and the catalogs of its orders, for commands that only read."""

    def __init__(self, db_path: str):
        from om_dsl.embedded.runner import Catalogs

        self.store = _open_store(db_path)
        self.db_path = db_path
        self.runner = type("R", (), {"catalogs": Catalogs(self.store)})()


@contextlib.contextmanager
def _readonly_session(db_path, systems_db):
    v = _View(db_path)
    try:
        yield v
    finally:
        v.store.close()
