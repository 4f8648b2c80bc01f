"""Request bodies bounded before anything parses them: a pure ASGI middleware that honours a
declared Content-Length at once and counts streamed (chunked) bytes as they arrive, answering
413 with the limit and the setting that holds it. Each class of route has its own limit.

Why here and not in the routes: an 8 MB login body used to be read, parsed and echoed back on
the event loop the hub and the JT/T 808 gateway share, before any route code ran."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import orjson
from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.settings import Settings

# Room for the multipart envelope around a photo (backend.incidents.photo_router).
MULTIPART_SLACK = 64 * 1024


@dataclass(frozen=True, slots=True)
class BodyClass:
    name: str      # for counters and messages
    setting: str   # the Settings field (CITYOPS_<NAME>) that holds the limit
    slack: int = 0


JSON_API = BodyClass("JSON API request", "json_body_max_bytes")
GPS_BATCH = BodyClass("GPS batch", "gps_body_max_bytes")
PHOTO = BodyClass("photo", "photo_max_bytes", MULTIPART_SLACK)
DATASET_FILE = BodyClass("dataset file", "dataset_upload_max_bytes", MULTIPART_SLACK)
DATASET_PUSH = BodyClass("dataset push", "dataset_push_max_bytes")
PEOPLE_CHANGE = BodyClass("change from the field", "people_change_max_bytes")
DOMAIN_AREA = BodyClass("drawn area", "domain_area_max_bytes")
# (method, path) -> class; every other body is a JSON API request.
ROUTE_CLASSES: dict[tuple[str, str], BodyClass] = {
    ("POST", "/api/ingest/positions"): GPS_BATCH,
    ("POST", "/api/photos"): PHOTO,
    ("POST", "/api/people/changes"): PEOPLE_CHANGE,
    ("POST", "/api/snapshots"): DOMAIN_AREA,  # it may carry the same drawn polygon
}
# (method, path prefix, path suffix) -> class, for paths with an id in between
# (backend.exchange.router: /api/datasets/{id}/upload and /versions).
PATTERN_CLASSES: list[tuple[str, str, str, BodyClass]] = [
    ("POST", "/api/datasets/", "/upload", DATASET_FILE),
    ("POST", "/api/datasets/", "/versions", DATASET_PUSH),
    ("POST", "/api/domains/", "/figures", DOMAIN_AREA),
]


@dataclass
class EdgeCounters:
    """Requests refused at the HTTP edge, by reason and route class or field kind, for an
    operator (/metrics reads `app.state.edge.rejected`)."""

    rejected: Counter[tuple[str, str]] = field(default_factory=Counter)

    def count(self, reason: str, where: str) -> None:
        self.rejected[(reason, where)] += 1


def body_class(method: str, path: str) -> BodyClass:
    path = path.rstrip("/") or "/"
    for verb, prefix, suffix, kind in PATTERN_CLASSES:
        if method == verb and path.startswith(prefix) and path.endswith(suffix) and "/" not in \
                path[len(prefix):-len(suffix)]:
            return kind
    return ROUTE_CLASSES.get((method, path), JSON_API)


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MiB" if n % (1024 * 1024) == 0 else f"{n // 1024} KiB"


class BodyTooLarge(HTTPException):
    def __init__(self, kind: BodyClass, limit: int) -> None:
        super().__init__(413, f"The request body is larger than {_size(limit)}, the limit for a "
                              f"{kind.name} (CITYOPS_{kind.setting.upper()}): send less, e.g. "
                              "fewer records or a smaller file per request")


class BodyLimit:
    """Pure ASGI: 413 for a body over its class's limit, declared or streamed."""

    def __init__(self, app: ASGIApp, settings: Settings, counters: EdgeCounters) -> None:
        self.app = app
        self.settings = settings
        self.counters = counters

    def limit_of(self, kind: BodyClass) -> int:
        return int(getattr(self.settings, kind.setting)) + kind.slack

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        kind = body_class(scope["method"], scope["path"])
        limit = self.limit_of(kind)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await self._refuse(kind, limit, send)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(kind, limit - kind.slack)
            return message

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if message["status"] == 413:
                    self.counters.count("body_too_large", kind.name)
            await send(message)

        try:
            await self.app(scope, counted, watch)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(kind, limit, send)

    async def _refuse(self, kind: BodyClass, limit: int, send: Send) -> None:
        self.counters.count("body_too_large", kind.name)
        body = orjson.dumps({"detail": BodyTooLarge(kind, limit - kind.slack).detail})
        # Close the connection: the rest of the body is not read.
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
