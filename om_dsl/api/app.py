"""The API's routes: TMF622 Product Ordering v4 and v5, over one OrderService.

    /tmf-api/productOrderingManagement/{v4|v5}/productOrder[/{id}]        POST, GET, PATCH
    /tmf-api/productOrderingManagement/{v4|v5}/cancelProductOrder[/{id}]  POST, GET
    /tmf-api/productOrderingManagement/{v4|v5}/hub[/{id}]                 POST, GET, DELETE
    /tmf-api/productOrderingManagement/{v4|v5}/openapi.json               the official document
    /health (and /_health)                                                 no token needed
    /metrics                                                               Prometheus (a viewer token; api/metrics.py)
    /callbacks/TOKEN                                                       downstream systems' answers

Service calls block (SQLite, a Temporal client): each runs on Starlette's
thread pool, so the event loop keeps serving other connections meanwhile.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timezone
from typing import Callable, Optional

import attrs
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route

from om_dsl import limits
from om_dsl import service as svc
from om_dsl.api import auth, metrics, resources, schemas
from om_dsl.api.errors import ApiError, code_for_status, error_response
from om_dsl.api.patch import PatchError, json_patch, merge_patch
from om_dsl.engine.hub import parse_query
from om_dsl.observe import tracing
from om_dsl.systems.egress import ANY, CallbackPolicy
from om_dsl.systems.http_server import Refused
from om_dsl.tmf622 import errors as tmf_errors

PREFIX = "/tmf-api/productOrderingManagement"
log = logging.getLogger("om_dsl.api")
VERSIONS = ("v4", "v5")
MAX_LIMIT = 1000  # orders in one page
READ_ONLY = ("state", "orderDate", "completionDate", "errorMessage", "href")
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"


@attrs.frozen
class Settings:
    """[api] beyond its tokens (om_dsl.systems.config)."""

    public_url: Optional[str] = None  # the base of every href; else the request's own scheme and Host
    hub_callbacks: CallbackPolicy = ANY  # where /hub may send events (om_dsl.systems.egress)
    console_secret: Optional[bytes] = attrs.field(default=None, repr=False)  # signs console sessions; one for every `om serve --workers` process


DEFAULTS = Settings()


class Api:
    def __init__(self, service: svc.OrderService, tokens: auth.Tokens, settings: Settings = DEFAULTS):
        self.service, self.tokens, self.settings = service, tokens, settings

    # ---- plumbing ---------------------------------------------------------------------------------------

    def caller(self, request: Request, role: str, what: str) -> auth.Caller:
        try:
            caller = self.tokens.caller(request.headers.get("authorization"))
            auth.require(caller, role, what)
        except auth.Unauthenticated as exc:
            bad = request.headers.get("authorization") is not None
            raise ApiError("unauthorized", str(exc), headers={"WWW-Authenticate": 'Bearer error="invalid_token"' if bad else "Bearer"}) from None
        except auth.Forbidden as exc:
            raise ApiError("forbidden", str(exc)) from None
        return caller

    async def call(self, fn: Callable, *args, **kwargs):
        """A service call on the thread pool, its failures as API errors."""
        from om_dsl.planning.order import Rejected

        try:
            return await run_in_threadpool(fn, *args, **kwargs)
        except svc.NoOrder:  # (not the CLI's "did you mean": it would name other callers' orders)
            raise ApiError("notFound", "no order has this id") from None
        except svc.Refused as exc:
            text = str(exc)
            raise ApiError("pointOfNoReturn" if "point of no return" in text else "refused", text) from None
        except svc.Unavailable as exc:
            raise ApiError("unavailable", str(exc), headers={"Retry-After": "1"}) from None
        except Rejected as exc:  # as TMF622 Errors (om_dsl.tmf622.errors): its codes are the rejections' rules
            first = exc.problems[0] if exc.problems else None
            raise ApiError.rejection(tmf_errors.response(exc), first.path if first is not None else None) from None
        except Exception as exc:  # noqa: BLE001 - the engine failed (a full disk, a damaged store): a TMF Error, the cause in the log
            log.error("the order service failed in %s", getattr(fn, "__name__", "a call"), exc_info=True)
            raise ApiError("unavailable", f"the engine could not answer ({type(exc).__name__}); an order is kept only when it was answered 201: try again", headers={"Retry-After": "1"}) from None

    @staticmethod
    async def body(request: Request, version: str, kind: str, first: Optional[Callable] = None):
        from om_dsl.systems.asgi import read_body

        try:
            raw = await read_body(request, limits.MAX_BODY)
        except Refused as exc:
            raise ApiError(code_for_status(exc.status), exc.message, headers={"Connection": "close"} if exc.close else None) from None
        try:
            doc = limits.load_json(raw)
        except ValueError as exc:  # InputLimit, JSONDecodeError
            raise ApiError("invalidBody", f"the body is not readable JSON: {exc}", getattr(exc, "path", None) or None) from None
        if first is not None:  # om's own check, before the schema's
            first(doc)
        problem = schemas.problem(version, kind, doc)
        if problem is not None:
            raise ApiError("schemaViolation", problem[1], problem[0])
        return doc

    def origin(self, request: Request) -> str:
        """Where hrefs point: `[api] public_url` when the deployment says (behind a proxy, or so
        that a forged Host header cannot make the API hand out links elsewhere), else this request's."""
        return self.settings.public_url or f"{request.url.scheme}://{request.url.netloc}"

    def base(self, request: Request, version: str) -> str:
        return f"{self.origin(request)}{PREFIX}/{version}"

    async def owned_order(self, caller: auth.Caller, order_id: str) -> dict:
        order = await self.call(self.service.order, order_id)
        if not caller.owns(order.get("submitted_by")):  # a submitter does not learn of others' orders
            raise ApiError("notFound", "no order has this id")  # the same answer as for an order that does not exist
        return order

    def _submitted(self, text: str, by: str) -> tuple:
        """Submit, then read the ProductOrder, in one trip to the thread pool: (submit's answer, the ProductOrder)."""
        answer = self.service.submit(text, by=by)
        return answer, self.service.product_order(answer[0])  # (a rejected order's too: both engines keep it)

    async def render(self, request: Request, version: str, order: dict, document: Optional[dict] = None, body: Optional[dict] = None) -> dict:
        """The ProductOrder as the engine renders it (om_dsl.tmf622.resource: in the version the order came in), its href absolute;
        `order`: its id, and the problems of a rejected one (`order()` or `submit`'s). `body`: the ProductOrder, already read."""
        if body is None:
            body = await self.call(self.service.product_order, order["id"])
        for node in [body, *_items(body.get("productOrderItem"))]:
            for ref in ([node] if node is body else []) + [v for v in node.values() if isinstance(v, dict)]:
                if isinstance(ref.get("href"), str) and ref["href"].startswith("/"):
                    ref["href"] = f"{self.origin(request)}{ref['href']}"
        shaped = "v5" if "creationDate" in body else "v4"  # the version the order came in (v5 dates it creationDate)
        return resources.with_reasons(shaped, body, order)

    # ---- productOrder -------------------------------------------------------------------------------------

    async def create_order(self, request: Request, version: str) -> Response:
        started = time.time_ns()
        caller = self.caller(request, "submitter", "creating an order")
        doc = await self.body(request, version, "create")
        text = json.dumps(doc)
        (order_id, _, problems), body = await self.call(self._submitted, text, caller.name)
        tracing.submitted(request.headers, order_id, started)  # the caller's trace, linked to the order's (docs/metrics.md)
        body = await self.render(request, version, {"id": order_id, "problems": problems}, body=body)  # (both engines keep a rejected order)
        return JSONResponse(body, 201, headers={"Location": body["href"]})

    async def list_orders(self, request: Request, version: str) -> Response:
        caller = self.caller(request, "viewer", "reading orders")
        q = request.query_params
        offset, limit = _count(q, "offset", 0), _count(q, "limit", MAX_LIMIT)
        limit = min(limit, MAX_LIMIT)
        after, before = _instant(q, "orderDate.gt"), _instant(q, "orderDate.lt")
        rows = await self.call(self.service.orders, q.get("state"))
        rows = [r for r in rows if caller.owns(r.get("submitted_by"))]
        if after or before:
            rows = [r for r in rows if (after is None or _parse(r["created_at"]) > after) and (before is None or _parse(r["created_at"]) < before)]
        wanted = {k: q.get(k) for k in ("externalId", "relatedParty.id", "productOrderItem.state") if q.get(k)}
        found = []
        for row in rows:
            if wanted or len(found) < offset + limit:  # filters read each order; else only the page is read
                order = await self.call(self.service.order, row["id"])
                rendered = await self.render(request, version, order)
                if _matches(rendered, wanted):
                    found.append(rendered)
            else:
                found.append(None)
        page = found[offset : offset + limit]
        fields = _fields(q.get("fields"))
        body = [_select(o, fields, version) for o in page]
        return JSONResponse(body, 200, headers={"X-Total-Count": str(len(found)), "X-Result-Count": str(len(body))})

    async def get_order(self, request: Request, version: str) -> Response:
        caller = self.caller(request, "viewer", "reading an order")
        order = await self.owned_order(caller, request.path_params["id"])
        return JSONResponse(_select(await self.render(request, version, order), _fields(request.query_params.get("fields")), version))

    async def patch_order(self, request: Request, version: str) -> Response:
        caller = self.caller(request, "submitter", "changing an order")
        force = _flag(request.query_params, "force")
        if force:
            self.caller(request, "operator", "forcing past a soft point of no return")
        media = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
        if media not in (MERGE_PATCH, "application/json", JSON_PATCH):
            raise ApiError("unsupportedMediaType", f"PATCH takes {MERGE_PATCH} or {JSON_PATCH} (a supplemental order), not {media or 'no Content-Type'}")
        order_id = request.path_params["id"]
        order = await self.owned_order(caller, order_id)
        if media == JSON_PATCH:
            return await self.json_patch_order(request, version, caller, order, force)
        if order["status"] == "draft":
            patch = await self.body(request, version, "patch", first=_release_only)
            if patch.get("state") is not None:  # a draft is released by patching its state
                await self.call(self.service.release, order_id, caller.name)
                order = await self.call(self.service.order, order_id)
                return JSONResponse(await self.render(request, version, order))
        else:
            patch = await self.body(request, version, "patch", first=_no_read_only)
        current = await self.call(self.service.order_document, order_id)
        if current is None:
            raise ApiError("refused", f"order {order_id} is {order['status']}: it has no document to change")
        revised = merge_patch(current, patch)
        revised["id"] = order_id
        await self.call(self.service.amend, order_id, json.dumps(revised), caller.name, force)
        order = await self.call(self.service.order, order_id)
        return JSONResponse(await self.render(request, version, order, revised))

    async def json_patch_order(self, request: Request, version: str, caller: auth.Caller, order: dict, force: bool) -> Response:
        """RFC 6902 operations on the order as it stands, then the same amend as a merge patch (its intake checks the result)."""
        from om_dsl.systems.asgi import read_body

        try:
            raw = await read_body(request, limits.MAX_BODY)
            operations = limits.load_json(raw)
        except Refused as exc:
            raise ApiError(code_for_status(exc.status), exc.message) from None
        except ValueError as exc:
            raise ApiError("invalidBody", f"the body is not readable JSON: {exc}") from None
        for n, op in enumerate(operations if isinstance(operations, list) else []):
            if isinstance(op, dict) and isinstance(op.get("path"), str) and op["path"].split("/")[1:2] and op["path"].split("/")[1] in READ_ONLY:
                raise ApiError("schemaViolation", f"{op['path']} is set by om: an order is cancelled by POST /cancelProductOrder", f"/{n}/path")
        current = await self.call(self.service.order_document, order["id"])
        if current is None:
            raise ApiError("refused", f"order {order['id']} is {order['status']}: it has no document to change")
        try:
            revised = json_patch(current, operations)
        except PatchError as exc:
            raise ApiError("schemaViolation", str(exc), exc.pointer) from None
        revised["id"] = order["id"]
        await self.call(self.service.amend, order["id"], json.dumps(revised), caller.name, force)
        order = await self.call(self.service.order, order["id"])
        return JSONResponse(await self.render(request, version, order, revised))

    # ---- cancelProductOrder ---------------------------------------------------------------------------

    async def create_cancellation(self, request: Request, version: str) -> Response:
        caller = self.caller(request, "submitter", "cancelling an order")
        force = _flag(request.query_params, "force")
        if force:
            self.caller(request, "operator", "forcing past a soft point of no return")
        doc = await self.body(request, version, "cancel")
        order_id = str((doc.get("productOrder") or {}).get("id") or "")
        if not order_id:
            raise ApiError("schemaViolation", "productOrder.id names the order to cancel", "/productOrder/id")
        await self.owned_order(caller, order_id)
        reason = doc.get("cancellationReason") or ""
        if len(reason) > limits.MAX_TEXT:
            raise ApiError("schemaViolation", f"cancellationReason has {len(reason)} characters; at most {limits.MAX_TEXT}", "/cancellationReason")
        c = await self.call(self.service.request_cancellation, order_id, caller.name, reason, force)
        body = resources.cancellation(version, self.base(request, version), c)
        return JSONResponse(body, 201, headers={"Location": body["href"]})

    async def list_cancellations(self, request: Request, version: str) -> Response:
        caller = self.caller(request, "viewer", "reading cancellations")
        rows = [c for c in await self.call(self.service.cancellations) if caller.sees_every_order or c["by"] == caller.name]
        body = [resources.cancellation(version, self.base(request, version), c) for c in rows]
        return JSONResponse(body, headers={"X-Total-Count": str(len(body)), "X-Result-Count": str(len(body))})

    async def get_cancellation(self, request: Request, version: str) -> Response:
        caller = self.caller(request, "viewer", "reading a cancellation")
        cancel_id = request.path_params["id"]
        rows = [c for c in await self.call(self.service.cancellations, cancel_id) if caller.sees_every_order or c["by"] == caller.name]
        if not rows:
            raise ApiError("notFound", f"no cancellation {cancel_id}")
        return JSONResponse(resources.cancellation(version, self.base(request, version), rows[0]))

    # ---- hub ------------------------------------------------------------------------------------------

    async def subscribe(self, request: Request, version: str) -> Response:
        from om_dsl.systems.http import check_url

        caller = self.caller(request, "submitter", "subscribing to events")
        doc = await self.body(request, version, "hub")
        callback = doc.get("callback")
        problem = check_url(callback) if isinstance(callback, str) else "it is missing"
        if problem:
            raise ApiError("schemaViolation", f"callback is not an http(s) URL ({problem})", "/callback")
        refusal = await run_in_threadpool(self.settings.hub_callbacks.refusal, callback)  # resolves the host
        if refusal:
            raise ApiError("callbackRefused", f"events are not sent to {callback[:200]}: {refusal}", "/callback")
        query = doc.get("query")
        try:
            parse_query(query)
        except ValueError as exc:
            raise ApiError("schemaViolation", f"query: {exc}", "/query") from None
        owner = None if caller.sees_every_order else caller.name
        sub = await self.call(self.service.subscribe, callback, query, owner)
        return JSONResponse(resources.subscription(version, sub), 201, headers={"Location": f"{self.base(request, version)}/hub/{sub['id']}"})

    async def _subscription(self, caller: auth.Caller, sub_id: str) -> dict:
        for sub in await self.call(self.service.subscriptions):
            if sub["id"] == sub_id and (caller.role == "admin" or sub.get("owner") == caller.name or (caller.sees_every_order and sub.get("owner") is None)):
                return sub
        raise ApiError("notFound", f"no subscription {sub_id}")

    async def get_subscription(self, request: Request, version: str) -> Response:
        caller = self.caller(request, "submitter", "reading a subscription")
        return JSONResponse(resources.subscription(version, await self._subscription(caller, request.path_params["id"])))

    async def unsubscribe(self, request: Request, version: str) -> Response:
        caller = self.caller(request, "submitter", "ending a subscription")
        sub = await self._subscription(caller, request.path_params["id"])
        await self.call(self.service.unsubscribe, sub["id"])
        return Response(status_code=204)

    async def openapi(self, request: Request, version: str) -> Response:
        self.caller(request, "viewer", "reading the API's document")
        return JSONResponse(schemas.document(version))


# ---- the app -------------------------------------------------------------------------------------------


def build_app(service: svc.OrderService, tokens: auth.Tokens, callbacks=None, settings: Settings = DEFAULTS, console: bool = True) -> Starlette:
    """The API over `service`; `callbacks` (om_dsl.systems.receiver.Callbacks) adds POST /callbacks/TOKEN;
    `console`: the operator console under /console (om_dsl/console, docs/console.md), signed in with the same tokens."""
    api = Api(service, tokens, settings)

    def route(path: str, handler, methods: list[str]) -> Route:
        async def endpoint(request: Request) -> Response:
            version = request.path_params["version"]
            if version not in VERSIONS:
                return error_response(ApiError("notFound", f"no API version {version[:20]!r} (v4, v5)"), str(request.url))
            try:
                return await handler(request, version)
            except ApiError as exc:
                return error_response(exc, str(request.url))

        return Route(PREFIX + "/{version}" + path, endpoint, methods=methods)

    async def health(request: Request) -> Response:
        return JSONResponse(callbacks.health() if callbacks is not None else {"ok": True})

    async def not_found(request: Request, exc) -> Response:
        return error_response(ApiError("notFound", f"no resource at {request.url.path[:100]}"), str(request.url))

    async def not_allowed(request: Request, exc) -> Response:
        return error_response(ApiError("methodNotAllowed", f"{request.method} is not taken at {request.url.path[:100]}"), str(request.url))

    routes = [
        route("/productOrder", api.create_order, ["POST"]),
        route("/productOrder", api.list_orders, ["GET"]),
        route("/productOrder/{id:path}", api.get_order, ["GET"]),
        route("/productOrder/{id:path}", api.patch_order, ["PATCH"]),
        route("/cancelProductOrder", api.create_cancellation, ["POST"]),
        route("/cancelProductOrder", api.list_cancellations, ["GET"]),
        route("/cancelProductOrder/{id:path}", api.get_cancellation, ["GET"]),
        route("/hub", api.subscribe, ["POST"]),
        route("/hub/{id}", api.get_subscription, ["GET"]),
        route("/hub/{id}", api.unsubscribe, ["DELETE"]),
        route("/openapi.json", api.openapi, ["GET"]),
        Route("/health", health),
        Route("/_health", health),
        metrics.route(lambda: service.stats(), tokens),  # (looked up at each scrape)
    ]
    if callbacks is not None:
        routes += callbacks.routes()
    if console:
        from om_dsl import console as operator_console

        async def to_console(request: Request) -> Response:
            return RedirectResponse("/console/orders", 303)

        routes += [Route("/console", to_console), Mount("/console", app=operator_console.build(service, tokens.login, operator_console.Sessions(settings.console_secret)))]
    return Starlette(routes=routes, exception_handlers={404: not_found, 405: not_allowed})


# ---- helpers -------------------------------------------------------------------------------------------


def _items(items) -> list:
    out, stack = [], list(items) if isinstance(items, list) else []
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            out.append(item)
            stack.extend(item.get("productOrderItem") or [])
    return out


def _no_read_only(patch) -> None:
    for key in READ_ONLY:
        if isinstance(patch, dict) and key in patch:
            raise ApiError("schemaViolation", f"{key} is set by om: an order is cancelled by POST /cancelProductOrder, and changed by its items and fields", "/" + key)


def _release_only(patch) -> None:
    """A draft's patch: its state to acknowledged (released), alone; or any change but the state."""
    if isinstance(patch, dict) and "state" in patch:
        if patch["state"] not in ("acknowledged", "inProgress") or set(patch) - {"state", "@type"}:
            raise ApiError("schemaViolation", "a draft is released by a patch of its state alone, to acknowledged", "/state")
    else:
        _no_read_only(patch)


def _count(q, name: str, default: int) -> int:
    text = q.get(name)
    if text is None:
        return default
    if not text.isdigit() or len(text) > 9:
        raise ApiError("invalidQuery", f"{name} is a whole number, not {text[:20]!r}")
    return int(text)


def _flag(q, name: str) -> bool:
    text = (q.get(name) or "false").lower()
    if text not in ("true", "false"):
        raise ApiError("invalidQuery", f"{name} is true or false")
    return text == "true"


def _parse(text: str) -> datetime:
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _instant(q, name: str) -> Optional[datetime]:
    text = q.get(name)
    if text is None:
        return None
    try:
        return _parse(text[:40])
    except ValueError:
        raise ApiError("invalidQuery", f"{name} is a date-time (2026-11-27T10:00:00Z), not {text[:40]!r}") from None


def _fields(text: Optional[str]) -> Optional[set]:
    return {f.strip() for f in text.split(",") if f.strip()} if text else None


ALWAYS = {"v4": ("id", "href", "@type", "productOrderItem"), "v5": ("id", "href", "@type")}  # v4's schema requires the items


def _select(order: dict, fields: Optional[set], version: str) -> dict:
    """`fields=a,b`: those only (and id, href, @type, and what the version's schema requires)."""
    if not fields:
        return order
    return {k: v for k, v in order.items() if k in fields or k in ALWAYS[version]}


def _matches(order: dict, wanted: dict) -> bool:
    for key, value in wanted.items():
        values = set(value.split(","))
        if key == "externalId":
            got = order.get("externalId")
            have = {x.get("id") for x in got if isinstance(x, dict)} if isinstance(got, list) else {got}
        elif key == "relatedParty.id":
            parties = [p for p in order.get("relatedParty") or [] if isinstance(p, dict)]
            have = {p.get("id") for p in parties} | {(p.get("partyOrPartyRole") or {}).get("id") for p in parties if isinstance(p.get("partyOrPartyRole"), dict)}
        else:  # productOrderItem.state
            have = set()
            stack = list(order.get("productOrderItem") or [])
            while stack:
                item = stack.pop()
                have.add(item.get("state"))
                stack.extend(item.get("productOrderItem") or [])
        if not values & {str(h) for h in have if h is not None}:
            return False
    return True
