"""GET /api/wall/header: the wall's clock, weather, warnings and duty (domains:read)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from backend.api.deps import AppState
from backend.api.responses import PRIVATE, JSONBytes
from backend.api.route import GuardedRoute
from backend.auth.permissions import Caller, Permission, requires
from backend.wall.service import header

router = APIRouter(route_class=GuardedRoute, tags=["wall"])


@router.get("/api/wall/header", dependencies=[requires(Permission.DOMAINS_READ)])
def wall_header(state: AppState, principal: Caller) -> JSONBytes:
    """The server's time (for the wall's clock), the county seat's weather (null without a
    feed), warnings in force, the people on duty now; also pushed on `wall.header`."""
    roles: Any = principal.roles if principal is not None else frozenset()
    username = principal.username if principal is not None else None
    return JSONBytes(header(state.engine, roles=roles, username=username), headers=PRIVATE)
