"""One table mapping domain and tile errors to HTTP status codes. A 500 says nothing internal."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from backend.errors import (
    CityOpsError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotConfigured,
    NotFound,
    Unprocessable,
)
from tiles.errors import InvalidTile, TileError, UnknownLayer

log = logging.getLogger("cityops")

STATUS: list[tuple[type[Exception], int]] = [
    (NotFound, 404),
    (Forbidden, 403),
    (Unprocessable, 422),  # before its base class InvalidInput
    (InvalidInput, 400),
    (Conflict, 409),
    (NotConfigured, 503),
    (UnknownLayer, 404),
    (InvalidTile, 400),
]


def status_for(exc: Exception) -> int:
    for kind, status in STATUS:
        if isinstance(exc, kind):
            return status
    return 500


def install(app: FastAPI) -> None:
    async def known(request: Request, exc: Exception) -> JSONResponse:
        status = status_for(exc)
        body: dict[str, object] = {"detail": getattr(exc, "message", None) or str(exc)}
        if isinstance(exc, UnknownLayer):
            body["layers"] = exc.known
        if isinstance(exc, CityOpsError) and exc.detail:
            body.update({k: v for k, v in exc.detail.items() if k != "detail"})
        return JSONResponse(body, status_code=status)

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("Unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "Internal server error"}, status_code=500)

    app.add_exception_handler(CityOpsError, known)
    app.add_exception_handler(TileError, known)
    app.add_exception_handler(Exception, unexpected)
