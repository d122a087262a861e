"""The console's plumbing: who is signed in, forms read and checked, pages
rendered, service calls on the thread pool with their failures as messages.

Pages are Jinja2 templates (autoescaped) inside the package; the one CSS
file and the one small script are served from `static/` by the app itself,
so nothing is fetched from the network.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Callable, Optional
from urllib.parse import parse_qs

import jinja2
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from om_dsl import limits
from om_dsl import service as svc
from om_dsl.console.session import COOKIE, Session, Sessions
from om_dsl.systems.config import API_ROLES
from om_dsl.values import decode_value, show_value

HERE = Path(__file__).parent
ROOT = "/console"  # where `om serve` mounts it
RANK = {role: n for n, role in enumerate(API_ROLES)}  # viewer < submitter < operator < admin
log = logging.getLogger("om_dsl.console")

_env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "templates")), autoescape=True, trim_blocks=True, lstrip_blocks=True)
_env.filters["value"] = lambda v: show_value(decode_value(v))  # a value as the .om language writes it (decimals and dates untagged)


class Problem(Exception):
    """A request the console answers with a page naming what went wrong (never a traceback)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


class Web:
    """What every page handler uses. `login(token)`: (name, role[, until]) of a known API token, else None."""

    def __init__(self, service: svc.OrderService, login: Callable[[str], Optional[tuple]], sessions: Optional[Sessions] = None, graphviz: bool = True):
        self.service, self.login, self.graphviz = service, login, graphviz
        self.sessions = sessions or Sessions()

    # ---- who ----------------------------------------------------------------------------------------

    def session(self, request: Request) -> Optional[Session]:
        return self.sessions.read(request.cookies.get(COOKIE), time.time())

    def who(self, request: Request, role: str = "viewer", what: str = "this page") -> Session:
        """The signed-in operator, with at least `role`: 401 (the login page) or 403 otherwise."""
        s = self.session(request)
        if s is None:
            raise Problem(401, "sign in with an API token")
        if RANK.get(s.role, -1) < RANK[role]:
            raise Problem(403, f"{what} needs the {role} role; {s.name} has {s.role}")
        return s

    def may(self, s: Session, role: str) -> bool:
        return RANK.get(s.role, -1) >= RANK[role]

    # ---- forms ---------------------------------------------------------------------------------------

    async def form(self, request: Request, s: Session) -> dict:
        """An urlencoded form post (at most `limits.MAX_BODY` bytes), its CSRF token checked: {name: [values]}."""
        from om_dsl.systems.asgi import read_body
        from om_dsl.systems.http_server import Refused

        media = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
        if media != "application/x-www-form-urlencoded":
            raise Problem(415, f"the console takes forms (application/x-www-form-urlencoded), not {media[:60] or 'no Content-Type'}")
        try:
            raw = await read_body(request, limits.MAX_BODY)
        except Refused as exc:
            raise Problem(exc.status, exc.message) from None
        try:
            fields = parse_qs(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False, max_num_fields=2000)
        except (UnicodeDecodeError, ValueError) as exc:
            raise Problem(400, f"the form is not readable: {exc}") from None
        if not self.sessions.csrf_ok(s, first(fields, "csrf")):
            raise Problem(403, "the form's CSRF token does not match this session: reload the page and try again")
        return fields

    # ---- the service ------------------------------------------------------------------------------------

    async def call(self, fn: Callable, *args, **kwargs):
        """A service call on the thread pool; its refusals as a Problem (the message is the engine's)."""
        from om_dsl.planning.order import Rejected

        try:
            return await run_in_threadpool(fn, *args, **kwargs)
        except svc.NoOrder:
            raise Problem(404, "no order has this id") from None
        except svc.Refused as exc:
            raise Problem(409, str(exc)) from None
        except svc.Unavailable as exc:
            raise Problem(503, f"the engine cannot answer now: {exc}") from None
        except Rejected as exc:
            raise Problem(400, "; ".join(f"{p.path or ''} {p.rule}: {p.message}".strip() for p in exc.problems) or "the revision was rejected") from None
        except Exception as exc:  # noqa: BLE001 - the engine failed: a page that says so, the cause in the log
            log.error("the order service failed in %s", getattr(fn, "__name__", "a call"), exc_info=True)
            raise Problem(503, f"the engine could not answer ({type(exc).__name__}); try again") from None

    async def order_of(self, s: Session, order_id: str) -> dict:
        order = await self.call(self.service.order, order_id)
        if not s.owns(order.get("submitted_by")):  # a submitter does not learn of others' orders
            raise Problem(404, "no order has this id")
        return order

    # ---- pages ----------------------------------------------------------------------------------------

    def page(self, request: Request, template: str, s: Optional[Session], status: int = 200, **context) -> HTMLResponse:
        html = _env.get_template(template).render(
            me=s, csrf=self.sessions.csrf(s) if s is not None else "", can_act=s is not None and self.may(s, "operator"), root=ROOT, **context
        )
        return HTMLResponse(html, status, headers=SECURITY_HEADERS)

    def problem(self, request: Request, exc: Problem) -> Response:
        s = self.session(request)
        if exc.status == 401 or s is None:
            return self.page(request, "login.html", None, 401 if exc.status in (401, 403) else exc.status, error=exc.message if exc.status != 401 else None, next=_next(request))
        return self.page(request, "problem.html", s, exc.status, message=exc.message)


# No script or style from anywhere else; no framing (clickjacking); the referrer stays in the console.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def first(fields: dict, name: str, default: str = "") -> str:
    values = fields.get(name) or [default]
    return values[0]


def text(fields: dict, name: str, what: str, required: bool = False) -> str:
    """A one-line text field (a reason), held to om's limits."""
    value = first(fields, name).strip()
    if required and not value:
        raise Problem(400, f"{what} is required")
    try:
        limits.check_text(value, what)
    except ValueError as exc:
        raise Problem(400, str(exc)) from None
    return value


def _next(request: Request) -> str:
    path = request.url.path if request.method == "GET" and request.url.path.startswith(ROOT + "/") else ROOT + "/orders"
    query = f"?{request.url.query}" if request.method == "GET" and request.url.query else ""
    return path + query
