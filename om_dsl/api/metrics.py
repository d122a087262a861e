"""GET /metrics: the Prometheus text format (om_dsl.observe.metrics), for a
bearer token with at least the viewer role, like every read of the API: the
counts name systems, operations and queues, which is not for anyone who can
reach the port. Prometheus sends the token (`authorization: credentials_file`
in its scrape config). `om serve` serves it beside the API; `om worker
--metrics` on a port of its own (`app`)."""

from __future__ import annotations

import logging
from typing import Callable

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from om_dsl import service as svc
from om_dsl.api import auth
from om_dsl.api.errors import ApiError, error_response
from om_dsl.observe import metrics

log = logging.getLogger("om_dsl.api")


def route(read: Callable[[], dict], tokens: auth.Tokens) -> Route:
    """GET /metrics over `read()` (an order service's `stats`, or a worker's calls)."""
    registry = metrics.registry(read)

    async def endpoint(request: Request) -> Response:
        given = request.headers.get("authorization")
        try:
            auth.require(tokens.caller(given), "viewer", "reading the metrics")
            body = await run_in_threadpool(metrics.render, registry)
        except auth.Unauthenticated as exc:
            return error_response(ApiError("unauthorized", str(exc), headers={"WWW-Authenticate": 'Bearer error="invalid_token"' if given else "Bearer"}), str(request.url))
        except auth.Forbidden as exc:
            return error_response(ApiError("forbidden", str(exc)), str(request.url))
        except svc.Unavailable as exc:
            return error_response(ApiError("unavailable", str(exc), headers={"Retry-After": "1"}), str(request.url))
        except Exception as exc:  # noqa: BLE001 - a damaged store, a cluster away: Prometheus records a failed scrape, the cause is in the log
            log.error("reading the metrics failed", exc_info=True)
            return error_response(ApiError("unavailable", f"the metrics could not be read ({type(exc).__name__})", headers={"Retry-After": "1"}), str(request.url))
        return Response(body, media_type=metrics.CONTENT_TYPE)

    return Route("/metrics", endpoint, methods=["GET"])


def app(read: Callable[[], dict], tokens: auth.Tokens) -> Starlette:
    """/metrics alone (a Temporal worker's)."""
    return Starlette(routes=[route(read, tokens)])
