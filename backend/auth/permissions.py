"""The one place where each route's permission is declared.

Every route declares `dependencies=[requires(Permission.X)]`. Until users and roles exist
(the grid-incidents work), the check admits everyone to the read permissions; machine
permissions (GPS ingest) already need their own bearer token. The declarations are what the
role x route matrix will be generated from, so no route can be added without one.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Request
from fastapi.params import Depends as DependsParam

F = TypeVar("F", bound=Callable[..., Any])


class Permission(StrEnum):
    PUBLIC = "public"                 # health, login, public layers, OGC landing, Open311 reads
    LAYERS_READ = "layers:read"       # the catalog and tiles/features of non-public layers
    FEATURES_READ = "features:read"   # OGC API Features items of non-public layers
    DATA_WRITE = "data:write"         # ingest and edits
    LIVE_READ = "live:read"           # the /ws event hub (channel rights: backend.realtime.access)
    POSITIONS_WRITE = "positions:write"  # machine clients posting GPS batches (ingest token)
    VEHICLES_READ = "vehicles:read"   # the fleet, its live state, tracks, line operations, replay
    ALARMS_HANDLE = "alarms:handle"   # dispatchers acknowledging and clearing vehicle alarms


def _machine_token(request: Request, permission: Permission) -> str | None:
    """The token a machine permission needs (None: no machine credential applies)."""
    if permission is Permission.POSITIONS_WRITE:
        settings = request.app.state.resources.settings
        return settings.effective_ingest_token() or ""  # "" never matches: nobody admitted
    return None


def requires(permission: Permission) -> DependsParam:
    def check(request: Request) -> Permission:
        request.state.permission = permission
        expected = _machine_token(request, permission)
        if expected is not None:
            scheme, _, given = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not expected or not hmac.compare_digest(
                given.encode(), expected.encode()
            ):
                raise HTTPException(
                    401, f"This route needs a bearer token with the {permission} right",
                    headers={"WWW-Authenticate": "Bearer"},
                )
        return permission

    check.permission = permission  # type: ignore[attr-defined]  # read by the route audit
    return Depends(check)


def websocket_requires(permission: Permission) -> Callable[[F], F]:
    """The declaration for websocket endpoints, whose `dependencies=` cannot see a Request:
    the endpoint enforces it in its own protocol (e.g. an auth message) and the route audit
    reads it from the endpoint."""

    def mark(endpoint: F) -> F:
        endpoint.permission = permission  # type: ignore[attr-defined]
        return endpoint

    return mark


def declared_permission(route: object) -> Permission | None:
    """The permission a route declared (None when it declared none: a defect)."""
    for dep in getattr(route, "dependencies", []) or []:
        perm = getattr(dep.dependency, "permission", None)
        if perm is not None:
            return perm
    return getattr(getattr(route, "endpoint", None), "permission", None)


def actor_name(request: Request) -> str:
    """Who is acting, for the record (who acknowledged an alarm, who changed a case)."""
    return getattr(request.state, "actor", None) or "anonymous"


Actor = Annotated[str, Depends(actor_name)]
