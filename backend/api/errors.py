"""One table mapping domain and tile errors to HTTP status codes. A 500 says nothing internal."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError, WebSocketRequestValidationError
from fastapi.responses import JSONResponse
from fastapi.websockets import WebSocket
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from backend.errors import (
    CityOpsError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotConfigured,
    NotFound,
    Unprocessable,
)
from tiles.errors import InvalidTile, TileError, UnknownLayer, UnsupportedFormat

log = logging.getLogger("cityops")

STATUS: list[tuple[type[Exception], int]] = [
    (NotFound, 404),
    (Forbidden, 403),
    (Unprocessable, 422),  # before its base class InvalidInput
    (InvalidInput, 400),
    (Conflict, 409),
    (NotConfigured, 503),
    (UnknownLayer, 404),
    (UnsupportedFormat, 404),  # the answer names the formats the layer gives
    (InvalidTile, 400),
    (TileError, 400),
]


def status_for(exc: Exception) -> int:
    for kind, status in STATUS:
        if isinstance(exc, kind):
            return status
    return 500


def validation_issues(
    exc: RequestValidationError | WebSocketRequestValidationError,
) -> list[dict[str, Any]]:
    """Which field failed and why, never the input (it echoed whole bodies and passwords)."""
    return [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")),
             "type": str(e.get("type", ""))} for e in exc.errors()][:50]


def count_invalid(request: Request, issues: list[dict[str, Any]]) -> None:
    """A refused input, by its first error type, on the edge counters (/metrics)."""
    counters = getattr(request.app.state, "edge", None)
    if counters is not None:
        counters.count("invalid_input", issues[0]["type"] if issues else "unknown")


def allowed_methods(app: FastAPI, request: Request) -> list[str]:
    """Every method some route offers for this path (Starlette names only the first route's)."""
    from backend.auth.permissions import all_routes

    methods: set[str] = set()
    scope = {**request.scope, "method": "GET"}
    for route in all_routes(app.routes):
        route_methods = getattr(route, "methods", None)
        if route_methods and route.matches(scope)[0] is not Match.NONE:
            methods |= set(route_methods)
    return sorted(methods)


def install(app: FastAPI) -> None:
    async def known(request: Request, exc: Exception) -> JSONResponse:
        status = status_for(exc)
        body: dict[str, object] = {"detail": getattr(exc, "message", None) or str(exc)}
        if isinstance(exc, UnknownLayer):
            body["layers"] = exc.known
        if isinstance(exc, UnsupportedFormat):
            body["available"] = exc.available
        if isinstance(exc, CityOpsError) and exc.detail:
            body.update({k: v for k, v in exc.detail.items() if k != "detail"})
        return JSONResponse(body, status_code=status)

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("Unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "Internal server error"}, status_code=500)

    async def invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        issues = validation_issues(exc)
        count_invalid(request, issues)
        return JSONResponse({"detail": issues}, status_code=422)

    async def http_error(request: Request, exc: Exception) -> Any:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 405:
            allow = ", ".join(allowed_methods(request.app, request))
            exc = StarletteHTTPException(405, f"This path answers {allow} only", headers={
                **(exc.headers or {}), "Allow": allow})
        return await http_exception_handler(request, exc)

    async def invalid_socket(websocket: WebSocket, exc: Exception) -> None:
        assert isinstance(exc, WebSocketRequestValidationError)
        issues = validation_issues(exc)
        reason = "; ".join(f"{'.'.join(map(str, i['loc']))}: {i['msg']}" for i in issues)
        await websocket.close(1008, reason[:120])  # a close reason is at most 123 bytes

    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(WebSocketRequestValidationError, invalid_socket)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(CityOpsError, known)
    app.add_exception_handler(TileError, known)
    app.add_exception_handler(Exception, unexpected)
