"""The console's pages and actions, under /console (`om serve` mounts it):

    GET  /login, POST /login, POST /logout        a session from an API token
    GET  /orders                                   filtered, paged
    GET  /orders/{id}                              one order; /orders/{id}/live: its graph and tasks (the page's refresh)
    POST /orders/{id}/cancel, /orders/{id}/amend   submitter (its own orders) and up; force: operator
    POST /orders/{id}/resume                       a held order: every fatally failed task retried (operator)
    GET  /fallout,  POST /fallout                  retry or skip, one or many
    GET  /worklists, POST /tasks/claim, GET|POST /tasks/complete
    GET  /systems,  POST /systems                  offline / online
    GET  /static/console.css, /static/console.js

Every action goes through the order service with the session's name as who
and the form's reason as why: both land in the order's history.
"""

from __future__ import annotations

import hashlib
import time
from typing import Optional

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Route

from om_dsl import service as svc
from om_dsl.console import views
from om_dsl.console.session import COOKIE, LIFETIME_S, Sessions
from om_dsl.console.web import HERE, ROOT, Problem, Web, first, log, text

FINAL = ("completed", "failed", "partial", "cancelled", "rejected")
MAX_READ = 500  # orders one fallout or systems page reads (the oldest unfinished first)
DRAWN = 256  # graphs kept drawn (SVG), oldest dropped first


class Console(Web):
    drawn: dict  # sha256 of a graph's DOT -> its SVG

    # ---- signing in -----------------------------------------------------------------------------------

    async def login_page(self, request: Request) -> Response:
        return self.page(request, "login.html", self.session(request), error=None, next=_safe_next(request.query_params.get("next")))

    async def login_post(self, request: Request) -> Response:
        from urllib.parse import parse_qs

        from om_dsl.systems.asgi import read_body
        from om_dsl.systems.http_server import Refused

        try:
            raw = await read_body(request, 64 * 1024)
        except Refused as exc:
            raise Problem(exc.status, exc.message) from None
        fields = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=10)
        token, nxt = first(fields, "token").strip(), _safe_next(first(fields, "next"))
        found = await _threaded(self.login, token) if token else None  # (a JWT's check may fetch its issuer's keys)
        if found is None:
            return self.page(request, "login.html", None, 401, error="that token is not known", next=nxt)
        now = time.time()
        session, cookie = self.sessions.issue(*found[:2], now, found[2] if len(found) > 2 else None)
        if session.expires <= now:
            return self.page(request, "login.html", None, 401, error="that token has expired", next=nxt)
        response = RedirectResponse(nxt, 303)
        response.set_cookie(COOKIE, cookie, max_age=min(LIFETIME_S, session.expires - int(now)), path=ROOT, httponly=True, samesite="strict", secure=request.url.scheme == "https")
        return response

    async def logout(self, request: Request) -> Response:
        s = self.who(request)
        await self.form(request, s)
        self.sessions.end(s, time.time())
        response = RedirectResponse(ROOT + "/login", 303)
        response.delete_cookie(COOKIE, path=ROOT, httponly=True, samesite="strict", secure=request.url.scheme == "https")
        return response

    # ---- orders -------------------------------------------------------------------------------------------

    async def orders(self, request: Request) -> Response:
        s = self.who(request)
        q = request.query_params
        state, jeopardy = q.get("state") or None, q.get("jeopardy") or None
        if state is not None and state not in views.ORDER_STATES:
            raise Problem(400, f"no order state {state[:40]!r} ({', '.join(views.ORDER_STATES)})")
        if jeopardy is not None and jeopardy not in views.JEOPARDY:
            raise Problem(400, "jeopardy is green, yellow or red")
        customer, external_id, catalog = (q.get(k, "")[:256].strip() for k in ("customer", "external_id", "catalog"))
        page = int(q["page"]) if q.get("page", "").isdigit() and len(q["page"]) < 7 else 1
        rows = [r for r in await self.call(self.service.orders, state, jeopardy) if s.owns(r.get("submitted_by"))]
        rows = views.filtered(rows, customer, external_id)
        if catalog:  # the listing does not carry it: each order is read
            rows = [r for r in rows if _catalog_matches(await self.call(self.service.order, r["id"]), catalog)]
        shown, pages = views.paged(rows, page)
        query = {"state": state or "", "jeopardy": jeopardy or "", "customer": customer, "external_id": external_id, "catalog": catalog}
        return self.page(request, "orders.html", s, rows=shown, total=len(rows), page=min(max(page, 1), pages), pages=pages, q=query, states=views.ORDER_STATES, jeopardies=views.JEOPARDY)

    async def order(self, request: Request, live: bool = False) -> Response:
        s = self.who(request)
        order = await self.order_of(s, request.path_params["id"])
        graph = await self.graph(order)
        if live:
            return self.page(request, "order_live_page.html", s, order=order, graph=graph)
        history = await self.call(self.service.history, order["id"])
        return self.page(request, "order.html", s, order=order, graph=graph, history=views.timeline(history), may_change=self.may(s, "submitter"))

    async def order_live(self, request: Request) -> Response:
        return await self.order(request, live=True)

    async def graph(self, order: dict) -> Optional[str]:
        """The plan as SVG through Graphviz's `dot`, or None (the page lists the tasks by line instead)."""
        from om_dsl.graph import GraphvizFailed, GraphvizMissing, run_graph, to_dot, to_svg

        if not self.graphviz or not order.get("tasks"):
            return None
        dot = to_dot(run_graph(order))
        key = hashlib.sha256(dot.encode("utf-8")).digest()
        if key not in self.drawn:  # (the same states draw the same picture: a page refreshing every 3 s runs `dot` only when a task moved)
            try:
                svg = await _threaded(to_svg, dot, 20)
            except (GraphvizMissing, GraphvizFailed):
                return None
            if len(self.drawn) >= DRAWN:
                self.drawn.pop(next(iter(self.drawn)))
            self.drawn[key] = svg[svg.index("<svg") :] if "<svg" in svg else None  # without the XML prolog and doctype: inline in the page
        return self.drawn[key]

    async def cancel(self, request: Request) -> Response:
        s = self.who(request, "submitter", "cancelling an order")
        fields = await self.form(request, s)
        order = await self.order_of(s, request.path_params["id"])
        force = first(fields, "force") == "on"
        if force:
            self.who(request, "operator", "cancelling past a soft point of no return")
        reason = text(fields, "reason", "the reason", required=True)
        await self.call(self.service.cancel, order["id"], s.name, reason, force)
        after = await self.call(self.service.order, order["id"])
        return self.done(request, s, f"order {order['id']} cancelled", [{"what": f"order {order['id']}", "ok": True, "state": after["status"]}], order["id"])

    async def amend(self, request: Request) -> Response:
        from om_dsl import limits

        s = self.who(request, "submitter", "amending an order")
        fields = await self.form(request, s)
        order = await self.order_of(s, request.path_params["id"])
        force = first(fields, "force") == "on"
        if force:
            self.who(request, "operator", "amending past a soft point of no return")
        revision = first(fields, "revision").strip()
        if not revision:
            raise Problem(400, "the revision (a TMF622 order, JSON) is required")
        try:
            limits.load_json(revision)
        except ValueError as exc:
            raise Problem(400, f"the revision is not readable JSON: {exc}") from None
        await self.call(self.service.amend, order["id"], revision, s.name, force)
        after = await self.call(self.service.order, order["id"])
        return self.done(request, s, f"order {order['id']} amended", [{"what": f"order {order['id']} revision {after.get('revision')}", "ok": True, "state": after["status"]}], order["id"])

    async def resume(self, request: Request) -> Response:
        s = self.who(request, "operator", "resuming a held order")
        fields = await self.form(request, s)
        order = await self.order_of(s, request.path_params["id"])
        reason = text(fields, "reason", "the reason")
        await self.call(self.service.resume, order["id"], s.name, reason)
        after = await self.call(self.service.order, order["id"])
        stuck = [t["id"] for t in after.get("tasks") or [] if t["status"] == "fatallyFailed"]
        outcome = {"what": f"order {order['id']}", "ok": not stuck, "state": after["status"], "message": f"still fatally failed: {', '.join(stuck)}" if stuck else None}
        return self.done(request, s, f"order {order['id']} resumed", [outcome], order["id"])

    def done(self, request: Request, s, title: str, outcomes: list, order_id: Optional[str] = None, back: Optional[str] = None) -> Response:
        status = 200 if all(o["ok"] for o in outcomes) else 409
        return self.page(request, "done.html", s, status, title=title, outcomes=outcomes, order_id=order_id, back=back)

    # ---- fallout ------------------------------------------------------------------------------------------

    async def unfinished(self, s) -> tuple[list, list]:
        """The unfinished orders (the oldest MAX_READ), read one by one; and what a page must say it left out
        (an order that did not answer, on Temporal; or too many orders): the rest of the page is still shown."""
        rows = [r for r in await self.call(self.service.orders) if r["status"] not in FINAL and s.owns(r.get("submitted_by"))]
        orders, left_out = [], []
        for r in rows[:MAX_READ]:
            try:
                orders.append(await self.call(self.service.order, r["id"]))
            except Problem as exc:
                if exc.status != 404:  # (finished and gone meanwhile: nothing to say)
                    left_out.append(f"order {r['id']} is left out: {exc.message}")
        if len(rows) > MAX_READ:
            left_out.append(f"only the oldest {MAX_READ} of {len(rows)} unfinished orders are read here")
        return orders, left_out

    async def fallout(self, request: Request) -> Response:
        s = self.who(request)
        orders, left_out = await self.unfinished(s)
        return self.page(request, "fallout.html", s, groups=views.fallout_groups(orders), left_out=left_out)

    async def fallout_post(self, request: Request) -> Response:
        s = self.who(request, "operator", "retrying or skipping a task")
        fields = await self.form(request, s)
        action = first(fields, "action")
        if action not in ("retry", "skip"):
            raise Problem(400, "the action is retry or skip")
        reason = text(fields, "reason", "the reason", required=action == "skip")
        try:
            chosen = views.selected(fields.get("select") or [])
        except ValueError as exc:
            raise Problem(400, f"the selection is not readable: {exc}") from None
        if not chosen:
            raise Problem(400, "select at least one task")
        outcomes = []
        for order_id, task_id in chosen:
            outcomes.append(await self.act_on_task(s, action, order_id, task_id, reason))
        return self.done(request, s, f"{action} of {len(chosen)} task(s)", outcomes, back=ROOT + "/fallout")

    async def act_on_task(self, s, action: str, order_id: str, task_id: str, reason: str) -> dict:
        """Retry or skip one task, then read the order again: done only when the task left fallout."""
        what = f"{task_id} of order {order_id}"
        try:
            await self.order_of(s, order_id)
            if action == "retry":
                await self.call(self.service.retry_task, order_id, task_id, s.name, reason)
            else:
                await self.call(self.service.skip_task, order_id, task_id, s.name, reason)
            after = await self.call(self.service.order, order_id)  # re-checked, not taken from the answer
        except Problem as exc:
            return {"what": what, "ok": False, "state": None, "message": exc.message, "order": order_id}
        task = next((t for t in after.get("tasks") or [] if t["id"] == task_id), None)
        state = task["status"] if task else None
        ok = state is not None and state not in views.FALLOUT_STATES
        return {"what": what, "ok": ok, "state": state, "message": None if ok else f"still {state}: {(task or {}).get('error') or ''}".rstrip(": "), "order": order_id}

    # ---- worklists -----------------------------------------------------------------------------------------

    async def worklists(self, request: Request) -> Response:
        s = self.who(request)
        queue = request.query_params.get("queue") or None
        open_tasks = await self.call(self.service.manual_tasks, queue)
        orders = []
        for order_id in dict.fromkeys(t["order"] for t in open_tasks):
            try:
                orders.append(await self.order_of(s, order_id))
            except Problem:
                continue  # (another's order, for a submitter; or gone meanwhile)
        lists = views.worklist(orders, queue)
        queues = sorted({t["queue"] for t in open_tasks if t.get("queue")})
        return self.page(request, "worklists.html", s, lists=lists, queue=queue or "", queues=queues, select=views.select_value)

    async def claim(self, request: Request) -> Response:
        s = self.who(request, "operator", "claiming a task")
        fields = await self.form(request, s)
        order_id, task_id = first(fields, "order"), first(fields, "task")
        reason = text(fields, "reason", "the reason")
        await self.order_of(s, order_id)
        await self.call(self.service.claim_task, order_id, task_id, s.name, reason)
        after = await self.call(self.service.order, order_id)  # re-checked (an engine's answer to an action need not carry the tasks)
        task = next((t for t in after.get("tasks") or [] if t["id"] == task_id), {})
        ok = task.get("claimed_by") == s.name
        return self.done(request, s, f"{task_id} claimed", [{"what": f"{task_id} of order {order_id}", "ok": ok, "state": f"claimed by {task.get('claimed_by')}", "order": order_id}], order_id, ROOT + "/worklists")

    async def _manual(self, s, order_id: str, task_id: str) -> tuple[dict, dict]:
        order = await self.order_of(s, order_id)
        task = next((t for t in order.get("tasks") or [] if t["id"] == task_id and t["type"] == "manual" and t["status"] == "ready"), None)
        if task is None:
            raise Problem(404, f"order {order_id} has no open manual task {task_id[:200]}")
        return order, task

    async def complete_form(self, request: Request) -> Response:
        s = self.who(request)
        order, task = await self._manual(s, request.query_params.get("order", ""), request.query_params.get("task", ""))
        return self.page(request, "complete.html", s, order=order, task=task, fields=views.form_fields(task), values={}, extra="", error=None)

    async def complete_post(self, request: Request) -> Response:
        from om_dsl.limits import parse_data

        s = self.who(request, "operator", "completing a task")
        fields = await self.form(request, s)
        order, task = await self._manual(s, first(fields, "order"), first(fields, "task"))
        declared = views.form_fields(task)
        extra = first(fields, "data")
        values = {f["name"]: first(fields, "out." + f["name"]) for f in declared}

        def again(status: int, message: str) -> Response:
            return self.page(request, "complete.html", s, status, order=order, task=task, fields=declared, values=values, extra=extra, error=message)

        try:
            data = parse_data(views.data_pairs(fields, declared, extra))  # as `om tasks complete --data` reads it
        except ValueError as exc:
            return again(400, str(exc))
        try:
            await self.call(self.service.complete_task, order["id"], task["id"], data, s.name)
        except Problem as exc:
            if exc.status in (400, 409):  # the engine refused the values: the form again, with why
                return again(400, exc.message)
            raise
        after = await self.call(self.service.order, order["id"])  # re-checked
        done = next((t for t in after.get("tasks") or [] if t["id"] == task["id"]), {})
        return self.done(request, s, f"{task['id']} completed", [{"what": f"{task['id']} of order {order['id']}", "ok": done.get("status") == "completed", "state": done.get("status"), "order": order["id"]}], order["id"], ROOT + "/worklists")

    # ---- systems ----------------------------------------------------------------------------------------

    async def systems(self, request: Request) -> Response:
        s = self.who(request)
        orders, left_out = await self.unfinished(s)
        try:
            changes, note = await self.call(self.service.system_changes), None
        except Problem as exc:  # Temporal: workers take systems from their own configuration
            changes, note = [], exc.message
        catalogs: dict = {}
        for o in orders:
            if o.get("catalog"):
                catalogs.setdefault((o.get("catalog_version") or "?", o["catalog"]), []).append(o["id"])
        return self.page(request, "systems.html", s, systems=views.systems(changes, orders), note=note, catalogs=dict(sorted(catalogs.items())), left_out=left_out)

    async def systems_post(self, request: Request) -> Response:
        s = self.who(request, "operator", "taking a system offline or online")
        fields = await self.form(request, s)
        system, state = first(fields, "system"), first(fields, "state")
        if state not in ("offline", "online"):
            raise Problem(400, "the state is offline or online")
        moved = await self.call(self.service.set_system, system, state == "offline", s.name)
        outcomes = [{"what": f"system {system}", "ok": True, "state": state}] + [{"what": f"held call {t}", "ok": True, "state": "sent again"} for t in moved]
        return self.done(request, s, f"system {system} {state}", outcomes, back=ROOT + "/systems")


# ---- the app -----------------------------------------------------------------------------------------------


def build(service: svc.OrderService, login, sessions: Optional[Sessions] = None, graphviz: bool = True) -> Starlette:
    """The console over `service`, to mount at /console. `login(token)`: (name, role[, until]), or None for an unknown token
    (`until`: when the token expires, unix seconds; a session ends then at the latest)."""
    c = Console(service, login, sessions, graphviz)
    c.drawn = {}

    def page(handler):
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except Problem as exc:
                return c.problem(request, exc)
            except Exception:  # noqa: BLE001 - a page that says so, the cause in the log (never a traceback to the browser)
                log.error("the console failed on %s", request.url.path[:200], exc_info=True)
                return c.problem(request, Problem(500, "the console could not show this page; the server's log says why"))

        return endpoint

    async def home(request: Request) -> Response:
        return RedirectResponse(ROOT + "/orders", 303)

    def static(name: str, media: str):
        async def endpoint(request: Request) -> Response:
            return FileResponse(HERE / "static" / name, media_type=media, headers={"Cache-Control": "max-age=300", "X-Content-Type-Options": "nosniff"})

        return endpoint

    routes = [
        Route("/", home),
        Route("/login", page(c.login_page), methods=["GET"]),
        Route("/login", page(c.login_post), methods=["POST"]),
        Route("/logout", page(c.logout), methods=["POST"]),
        Route("/orders", page(c.orders)),
        # (an id may hold a slash: the action routes come before the order's own)
        Route("/orders/{id:path}/live", page(c.order_live)),
        Route("/orders/{id:path}/cancel", page(c.cancel), methods=["POST"]),
        Route("/orders/{id:path}/amend", page(c.amend), methods=["POST"]),
        Route("/orders/{id:path}/resume", page(c.resume), methods=["POST"]),
        Route("/orders/{id:path}", page(c.order)),
        Route("/fallout", page(c.fallout), methods=["GET"]),
        Route("/fallout", page(c.fallout_post), methods=["POST"]),
        Route("/worklists", page(c.worklists)),
        Route("/tasks/claim", page(c.claim), methods=["POST"]),
        Route("/tasks/complete", page(c.complete_form), methods=["GET"]),
        Route("/tasks/complete", page(c.complete_post), methods=["POST"]),
        Route("/systems", page(c.systems), methods=["GET"]),
        Route("/systems", page(c.systems_post), methods=["POST"]),
        Route("/static/console.css", static("console.css", "text/css")),
        Route("/static/console.js", static("console.js", "text/javascript")),
    ]

    async def not_found(request: Request, exc) -> Response:
        return c.problem(request, Problem(404, f"no page at {request.url.path[:100]}"))

    async def not_allowed(request: Request, exc) -> Response:
        return c.problem(request, Problem(405, f"{request.method} is not taken at {request.url.path[:100]}"))

    return Starlette(routes=routes, exception_handlers={404: not_found, 405: not_allowed})


def _catalog_matches(order: dict, text: str) -> bool:
    """A catalog version as people name it (`acme 2026.11`), or the start of its plan's hash."""
    t = text.lower()
    return t in (order.get("catalog_version") or "").lower() or (order.get("catalog") or "").lower().startswith(t)


def _safe_next(value: Optional[str]) -> str:
    """Where to go after signing in: a console page only (no open redirect)."""
    if value and value.startswith(ROOT + "/") and not value.startswith("//") and "\\" not in value and len(value) < 2000 and not any(ord(ch) < 32 for ch in value):
        return value
    return ROOT + "/orders"


async def _threaded(fn, *args):
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(fn, *args)

