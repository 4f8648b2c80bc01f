"""Security headers on every answer, set in one place (a pure ASGI middleware):

- a strict Content-Security-Policy: no inline script; MapLibre needs blob: workers and data:/
  blob: images; hls.js a blob: Media Source for camera video; the hub's websocket is on the
  same origin (ws:/wss: of self);
- no framing (frame-ancestors 'none' and X-Frame-Options), nosniff, no Referer to others;
- `Cache-Control: private, no-cache` + `Vary` on answers that depend on who asks: decided from
  the route's declared permission (anything not PUBLIC, and not a layer route naming only public
  layers), unless the route set its own Cache-Control."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.api.responses import PRIVATE
from backend.auth.permissions import LAYER_SCOPED, Permission, declared_permission, path_layers

CSP = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",  # element styles set from script (CSSOM) are not inline markup
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "worker-src 'self' blob:",
    "media-src 'self' blob:",  # hls.js plays camera video through a Media Source blob: URL
    "child-src 'self' blob:",
    "connect-src 'self' ws: wss:",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "object-src 'none'",
))
ALWAYS = (
    ("content-security-policy", CSP),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("cross-origin-opener-policy", "same-origin"),
)


def is_private(scope: Scope) -> bool:
    """Whether the answer depends on the caller, from the route that served it."""
    route = scope.get("route")
    if route is None:
        return False  # static files, 404s before routing
    permission = declared_permission(route)
    if permission is None or permission is Permission.PUBLIC:
        return False
    if permission in LAYER_SCOPED:
        specs = path_layers(scope.get("path_params") or {}, scope["app"].state.resources.catalog)
        return not specs or not all(s is not None and s.is_public for s in specs)
    return True


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in ALWAYS:
                    if name not in headers:
                        headers.append(name, value)
                if "cache-control" not in headers and is_private(scope):
                    headers["Cache-Control"] = PRIVATE["Cache-Control"]
                    headers.add_vary_header(PRIVATE["Vary"])
            await send(message)

        await self.app(scope, receive, with_headers)
