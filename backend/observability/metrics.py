"""Prometheus metrics of one app, and the ASGI middleware that measures every request.

Each app has its own `CollectorRegistry` (tests build several apps; the global default registry
would refuse the second set of names). The middleware is pure ASGI (no BaseHTTPMiddleware: it
adds no task per request and never buffers a body): it counts requests by route *template*
(`/api/incidents/{incident_id}`, never the raw path: an attacker's paths must not become new
series), method and status, times them, counts websocket connects separately, and writes the
access log line. Everything else on /metrics is read at scrape time from the plain counters the
feeds, the hub and the tile cache keep (`collectors.py`).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.exposition import generate_latest
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.observability.collectors import AppCollector

access_log = logging.getLogger("cityops.access")

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "<unmatched>"  # no route matched: a path nobody serves
# Seconds. The API's fast answers are milliseconds; an export or a cold tile can take seconds.
LATENCY_BUCKETS = (0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class AppMetrics:
    """The registry of one app: request metrics written by the middleware, and the collector
    that reads the app's resources at scrape time."""

    def __init__(self, app: Any) -> None:
        # `*_created` series double the output and no dashboard reads them (process-wide).
        disable_created_metrics()
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "cityops_http_requests", "HTTP requests answered, by route template, method and "
            "status", ["route", "method", "status"], registry=r)
        self.latency = Histogram(
            "cityops_http_request_duration_seconds", "Time from the request's arrival to the "
            "end of its answer's body, by route template and method", ["route", "method"],
            buckets=LATENCY_BUCKETS, registry=r)
        self.in_flight = Gauge("cityops_http_requests_in_flight",
                               "HTTP requests being answered now", registry=r)
        self.websockets = Counter(
            "cityops_websocket_connects", "Websocket connections, by route template and "
            "outcome (accepted, or refused before accepting)", ["route", "outcome"], registry=r)
        self.websockets_open = Gauge("cityops_websockets_open",
                                     "Websocket connections open now", registry=r)
        r.register(AppCollector(app))
        self.route_of = RouteNames(app)
        # The label children by (route, method, status): `labels()` costs more than the rest
        # of the bookkeeping; the keys are bounded by the route table.
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            children = (self.requests.labels(route, method, str(status)),
                        self.latency.labels(route, method))
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class RouteNames:
    """The route template that answered a request. Routing leaves `scope["route"]` for a full
    match; a mount (the console's static files) or a partial match (405) leaves only
    `scope["endpoint"]`, looked up in a table of the app's routes built on first need."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._by_endpoint: dict[int, str] | None = None

    def __call__(self, scope: Scope) -> str:
        route = scope.get("route")
        if route is not None and not isinstance(route, Mount):
            return getattr(route, "path", None) or UNMATCHED
        endpoint = scope.get("endpoint")
        if endpoint is None:
            return UNMATCHED
        if self._by_endpoint is None:
            self._by_endpoint = self._table()
        return self._by_endpoint.get(id(endpoint), UNMATCHED)

    def _table(self) -> dict[int, str]:
        from backend.auth.permissions import all_routes

        table: dict[int, str] = {}
        for route in all_routes(self.app.routes):
            if isinstance(route, Mount):
                table.setdefault(id(route.app), f"{route.path}/{{path}}")
            elif (endpoint := getattr(route, "endpoint", None)) is not None:
                table.setdefault(id(endpoint), route.path)
        return table


def _method(scope: Scope) -> str:
    method = scope.get("method", "")
    return method if method in METHODS else "other"  # a made-up method is no new series


def _who(scope: Scope) -> str:
    """The caller's name as the route's permission check resolved it (never a token)."""
    principal = (scope.get("state") or {}).get("principal")
    return getattr(principal, "username", None) or "-"


class ObserveMiddleware:
    """Metrics and the access log for every HTTP request and websocket connection."""

    def __init__(self, app: ASGIApp, metrics: AppMetrics, access: bool = True) -> None:
        self.app = app
        self.metrics = metrics
        self.access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        m = self.metrics
        started = time.perf_counter()
        status = 500  # what the client gets when the app raises before answering
        size = 0

        async def observe(message: Message) -> None:
            nonlocal status, size
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            await send(message)

        m.in_flight.inc()
        try:
            await self.app(scope, receive, observe)
        finally:
            m.in_flight.dec()
            elapsed = time.perf_counter() - started
            route, method = m.route_of(scope), _method(scope)
            m.observe(route, method, status, elapsed)
            if self.access:
                self._log(scope, route, method, status, elapsed, size)

    def _log(self, scope: Scope, route: str, method: str, status: int, elapsed: float,
             size: int) -> None:
        level = logging.WARNING if status >= 500 else logging.INFO
        if not access_log.isEnabledFor(level):
            return
        client = scope.get("client")
        access_log.log(level, "request", extra={"kv": {
            "method": method, "route": route, "status": status,
            "duration_ms": round(elapsed * 1000, 1), "bytes": size, "who": _who(scope),
            "client": client[0] if client else "-",
        }})

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        m = self.metrics
        started = time.perf_counter()
        accepted = False
        close_code: int | None = None

        async def observe(message: Message) -> None:
            nonlocal accepted, close_code
            if message["type"] == "websocket.accept":
                accepted = True
                m.websockets.labels(m.route_of(scope), "accepted").inc()
                m.websockets_open.inc()
            elif message["type"] == "websocket.close":
                close_code = message.get("code", 1000)
            await send(message)

        try:
            await self.app(scope, receive, observe)
        finally:
            route = m.route_of(scope)
            if accepted:
                m.websockets_open.dec()
            else:
                m.websockets.labels(route, "refused").inc()
            if self.access and access_log.isEnabledFor(logging.INFO):
                client = scope.get("client")
                access_log.info("websocket", extra={"kv": {
                    "route": route, "accepted": accepted, "close_code": close_code,
                    "duration_s": round(time.perf_counter() - started, 1),
                    "client": client[0] if client else "-",
                }})
