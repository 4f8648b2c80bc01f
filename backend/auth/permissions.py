"""Who may do what: the permissions, the roles, the one table mapping roles to permissions, and
the dependency every route declares (`dependencies=[requires(Permission.X)]`).

A caller is identified by a session token, sent as `Authorization: Bearer <token>` (GIS and
machine clients) or in the session cookie (the browser). Machine clients (GPS ingest, the
hub's configured token) have their own credentials and only their own rights. Layer-scoped
permissions (tiles, TileJSON, features, the catalog) are also checked against each layer's
`roles` in its YAML: public layers are open to everyone, others need a role the layer names.
The role x route test is generated from these declarations, so no route exists without one.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Request
from fastapi.params import Depends as DependsParam
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from backend.audit.actor import bind as bind_actor

if TYPE_CHECKING:
    from backend.catalog.layers import LayerCatalog, LayerSpec

F = TypeVar("F", bound=Callable[..., Any])
SESSION_COOKIE = "cityops_session"


class Permission(StrEnum):
    PUBLIC = "public"                 # health, login, public layers, OGC landing, feeds
    AUTHENTICATED = "authenticated"   # any logged-in user (their own session: me, logout)
    LAYERS_READ = "layers:read"       # the catalog, TileJSON and tiles (also by layer roles)
    FEATURES_READ = "features:read"   # OGC API Features collections and items (by layer roles)
    DATA_WRITE = "data:write"         # ingest and edits of map data
    LIVE_READ = "live:read"           # the /ws event hub (channels: backend.realtime.access)
    POSITIONS_WRITE = "positions:write"  # machine clients posting GPS (the ingest credential)
    OPEN311_SUBMIT = "open311:submit"  # Open311 api clients posting requests (their api_key)
    VEHICLES_READ = "vehicles:read"   # the fleet, its live state, tracks, line operations, replay
    ALARMS_HANDLE = "alarms:handle"   # dispatchers acknowledging and clearing vehicle alarms
    USERS_ADMIN = "users:admin"       # creating users, changing roles and passwords
    METRICS_READ = "metrics:read"     # /metrics (admins; or the scraper's metrics token)
    INCIDENTS_REPORT = "incidents:report"  # reporting a case (grid workers, the hotline)
    INCIDENTS_READ = "incidents:read"      # cases (handlers and workers see their own)
    INCIDENTS_ACT = "incidents:act"        # moving cases on; the flow table decides each step
    KPI_READ = "kpi:read"                  # the case KPIs
    PERSONAL_DATA = "personal:read"        # personal fields in full (backend.privacy.policy)
    WORKERS_READ = "workers:read"          # grid workers' last positions and contacts (dispatch)
    TRAFFIC_READ = "traffic:read"          # segment speeds, levels, the index, traffic alerts
    TRAFFIC_ALERTS = "traffic:alerts"      # acknowledging and closing traffic alerts (交警)
    CAMERAS_READ = "cameras:read"          # cameras, status, views, who sees a place, video
    CAMERA_ALARMS = "cameras:alarms"       # acknowledging camera alarms, making cases of them
    CAMERA_ALARMS_WRITE = "camera-alarms:write"  # analytics systems posting alarms (machine)
    CATALOG_READ = "catalog:read"          # the data catalog: browse, search, metadata, quality
    DATA_REQUEST = "data:request"          # requesting another department's data, subscribing
    DATASETS_STEWARD = "datasets:steward"  # own department's versions, requests, quality tasks
    DATASETS_GOVERN = "datasets:govern"    # the data bureau: every department, rankings, checks
    DATASETS_PUSH = "datasets:push"        # a department's system pushing versions (machine)
    PEOPLE_READ = "people:read"            # search the population, a person's record (purpose)
    PEOPLE_CELLS = "people:cells"          # the households of one's own grid cells (masked)
    PEOPLE_REPORT = "people:report"        # visits and changes from the field (grid workers)
    PEOPLE_CONFIRM = "people:confirm"      # accept / reject changes for one's own department
    POPULATION_STATS = "population:stats"  # counts by grid, community, township (suppressed)
    DOMAINS_READ = "domains:read"          # the domain views: KPI cards, charts, weather, duty
    SNAPSHOTS_CREATE = "snapshots:create"  # saving a situation snapshot (offline HTML, audited)


class Role(StrEnum):
    ADMIN = "admin"
    COMMANDER = "commander"                    # 指挥中心
    SUPERVISOR = "supervisor"                  # 监督中心
    DISPATCHER = "dispatcher"                  # 调度员
    GRID_WORKER = "grid_worker"                # 网格员
    DEPARTMENT_HANDLER = "department_handler"  # 责任单位
    TRAFFIC_POLICE = "traffic_police"          # 交警
    DATA_STEWARD = "data_steward"              # 数据管理员 (acts for their own department)
    DATA_BUREAU = "data_bureau"                # 数据资源管理局 (the catalog's owner)
    POPULATION_OFFICER = "population_officer"  # 人口管理 (公安、民政): persons, for a purpose
    VIEWER = "viewer"                          # 只读


P = Permission
_MAP = {P.LAYERS_READ, P.FEATURES_READ}
_LIVE = {P.LIVE_READ, P.VEHICLES_READ}
_CASES = {P.INCIDENTS_READ, P.INCIDENTS_ACT}
_TRAFFIC = {P.TRAFFIC_READ}
_CAMERAS = {P.CAMERAS_READ}
_CATALOG = {P.CATALOG_READ, P.DATA_REQUEST}  # anyone with a role browses and requests data
_STATS = {P.POPULATION_STATS}  # counts per grid, never names (issue 13)
_WALL = {P.DOMAINS_READ, P.SNAPSHOTS_CREATE}  # the eight domains' views and snapshots (issue 14)
# The one table. PUBLIC and AUTHENTICATED need no grant; the machine rights (POSITIONS_WRITE,
# OPEN311_SUBMIT) belong to machine credentials only, never to a user's role.
MACHINE_RIGHTS = frozenset({P.POSITIONS_WRITE, P.OPEN311_SUBMIT, P.CAMERA_ALARMS_WRITE,
                            P.DATASETS_PUSH})
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(set(P) - {P.PUBLIC, P.AUTHENTICATED} - MACHINE_RIGHTS),
    Role.COMMANDER: frozenset(_MAP | _WALL | _LIVE | _CASES | _TRAFFIC | _CAMERAS | _CATALOG
                              | _STATS | {
        P.CAMERA_ALARMS, P.ALARMS_HANDLE, P.KPI_READ, P.PERSONAL_DATA, P.WORKERS_READ}),
    Role.SUPERVISOR: frozenset(_MAP | _WALL | _LIVE | _CASES | _CATALOG | _STATS | {
        P.INCIDENTS_REPORT, P.KPI_READ,
                                                        P.PERSONAL_DATA}),
    Role.DISPATCHER: frozenset(_MAP | _WALL | _LIVE | _CASES | _TRAFFIC | _CAMERAS | _CATALOG
                               | _STATS | {
        P.CAMERA_ALARMS, P.ALARMS_HANDLE, P.KPI_READ, P.PERSONAL_DATA, P.WORKERS_READ}),
    # Grid workers: the households of their own cells, masked; visits and changes from there.
    Role.GRID_WORKER: frozenset(_MAP | _CASES | _CATALOG | _STATS | {
        P.INCIDENTS_REPORT, P.PEOPLE_CELLS, P.PEOPLE_REPORT}),
    Role.DEPARTMENT_HANDLER: frozenset(_MAP | _CASES | _CATALOG),
    # 交警: traffic, vehicles, traffic alerts to handle, and their own unit's cases to read
    # (the cases routed to 交警大队: accidents, signals, signs; backend.incidents.queries
    # scopes them); they do not move cases on.
    Role.TRAFFIC_POLICE: frozenset(_MAP | _LIVE | _TRAFFIC | _CAMERAS | _CATALOG | {
        P.TRAFFIC_ALERTS, P.INCIDENTS_READ}),
    # live:read for the data.updates channel (their subscriptions' change notices).
    Role.DATA_STEWARD: frozenset(_MAP | _CATALOG | {P.DATA_WRITE, P.DATASETS_STEWARD,
                                                    P.LIVE_READ}),
    # The bureau steers every department's data; it does not write another department's data.
    Role.DATA_BUREAU: frozenset(_MAP | _WALL | _CATALOG | _STATS | {P.DATASETS_GOVERN,
                                                                     P.LIVE_READ}),
    # Population officers search persons (with a purpose the purposes list allows them),
    # confirm the field's changes for their own department, and read the households of their
    # scope (their township when users.township_code is set, else the county).
    Role.POPULATION_OFFICER: frozenset(_MAP | _CATALOG | _STATS | {
        P.PEOPLE_READ, P.PEOPLE_CELLS, P.PEOPLE_CONFIRM, P.PERSONAL_DATA}),
    # 大屏展示: the video wall's read-only account (issue 14): no dispatch action anywhere.
    Role.VIEWER: frozenset(_MAP | _WALL | _LIVE | _TRAFFIC | _CATALOG | _STATS | {
        P.INCIDENTS_READ, P.KPI_READ}),
}
LAYER_SCOPED = frozenset(_MAP)
# Rights a layer's YAML also grants: a role that the layer's `roles` name has them too (the
# cameras and their video go to the roles that may see the cameras layer, issue 11).
LAYER_GRANTED: dict[Permission, str] = {P.CAMERAS_READ: "cameras"}


def permissions_of(roles: Iterable[str]) -> frozenset[Permission]:
    """What the roles grant together (unknown role names grant nothing)."""
    by_name = {role.value: granted for role, granted in ROLE_PERMISSIONS.items()}
    return frozenset().union(*(by_name.get(r, frozenset()) for r in roles))


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a person (a user) or a machine client (a configured credential)."""

    username: str
    display_name: str
    roles: frozenset[str]
    permissions: frozenset[Permission]
    user_id: int | None = None
    # The department a person works for (users.department), or the one a push credential is
    # for: data stewards act for their own department's datasets only.
    department: str | None = None

    def may(self, permission: Permission) -> bool:
        return permission in self.permissions

    def as_dict(self) -> dict[str, object]:
        return {"username": self.username, "display_name": self.display_name,
                "roles": sorted(self.roles), "permissions": sorted(self.permissions),
                "department": self.department}


def principal_for(user_id: int | None, username: str, display_name: str,
                  roles: Iterable[str], department: str | None = None) -> Principal:
    roles = frozenset(roles)
    return Principal(username, display_name, roles, permissions_of(roles), user_id, department)


CAMERA_ALARMS_PRINCIPAL = Principal("camera-alarms", "Video analytics",
                                    frozenset({"machine:camera-alarms"}),
                                    frozenset({P.CAMERA_ALARMS_WRITE}))
INGEST_PRINCIPAL = Principal("ingest", "GPS ingest", frozenset({"machine:ingest"}),
                             frozenset({P.POSITIONS_WRITE}))
METRICS_PRINCIPAL = Principal("metrics", "Prometheus scraper", frozenset({"machine:metrics"}),
                              frozenset({P.METRICS_READ}))


# Layers -------------------------------------------------------------------------------------

# The layers a person's approved data requests open (issue 12): backend.sharing.grants
# registers its lookup (username -> layer ids, cached ~30 s) at start; None: no grants.
_layer_grants: Callable[[Principal], frozenset[str]] | None = None


def use_layer_grants(lookup: Callable[[Principal], frozenset[str]] | None) -> None:
    global _layer_grants
    _layer_grants = lookup


def may_see_layer(principal: Principal | None, spec: LayerSpec,
                  permission: Permission = P.LAYERS_READ, *, grants: bool = True) -> bool:
    """By the layer's roles, then (with `grants`) by the caller's approved data requests:
    that lookup may query the database, so async callers pass grants=False and ask
    `granted_layers` in a worker thread."""
    if spec.is_public:
        return True
    if principal is None or not principal.may(permission):
        return False
    if Role.ADMIN in principal.roles or bool(principal.roles & set(spec.roles)):
        return True
    return grants and spec.id in granted_layers(principal)


def granted_layers(principal: Principal) -> frozenset[str]:
    """The layers the principal's active grants open (blocking: a cached database lookup)."""
    return _layer_grants(principal) if _layer_grants is not None else frozenset()


def has_right(principal: Principal | None, permission: Permission,
              catalog: LayerCatalog) -> bool:
    """The principal's roles grant `permission`, or (for LAYER_GRANTED rights) the layer's
    YAML names one of its roles. Routes check this through `requires`; answers that hold
    several kinds of data (a case's nearby cameras, hub channels) ask it per part."""
    if principal is None:
        return False
    if principal.may(permission):
        return True
    layer = catalog.get(LAYER_GRANTED[permission]) if permission in LAYER_GRANTED else None
    return layer is not None and not layer.is_public and bool(principal.roles & set(layer.roles))


def visible_layers(principal: Principal | None, catalog: LayerCatalog,
                   permission: Permission = P.LAYERS_READ) -> list[LayerSpec]:
    return [s for s in catalog.layers if may_see_layer(principal, s, permission)]


def path_layers(path_params: Mapping[str, Any], catalog: LayerCatalog) -> list[LayerSpec | None]:
    """The layers a path names (`layers` of a tile route, `collection_id` of OGC), in order;
    None for a name the catalog does not know."""
    raw = str(path_params.get("layers") or path_params.get("collection_id") or "")
    return [catalog.get(part.strip()) for part in raw.split(",") if part.strip()]


def _path_layers(request: Request, catalog: LayerCatalog) -> list[LayerSpec]:
    """The known layers named in the path (unknown ones are left for the route to 404)."""
    return [s for s in path_layers(request.path_params, catalog) if s is not None]


# Callers ------------------------------------------------------------------------------------

def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


def presented_token(conn: HTTPConnection) -> str | None:
    scheme, _, given = conn.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and given.strip():
        return given.strip()
    return conn.cookies.get(SESSION_COOKIE) or None


async def caller(request: Request) -> Principal | None:
    """The calling user, None when no credential was presented; 401 for a bad or expired one."""
    if hasattr(request.state, "principal"):
        return request.state.principal
    token = presented_token(request)
    principal = None
    if token is not None:
        sessions = request.app.state.resources.sessions
        hit, principal = sessions.cached(token)
        if not hit:
            principal = await run_in_threadpool(sessions.resolve, token)
        if principal is None:
            raise _unauthorized("Your session has ended or the token is not valid: log in again")
    request.state.principal = principal
    request.state.actor = principal.username if principal else None
    bind_actor(request.state.actor)  # what the audit log records, whatever code passes
    return principal


def _bearer_matches(request: Request, expected: str | None) -> bool:
    """Whether the request's bearer token is `expected` (never when nothing is configured)."""
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return bool(expected) and scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), expected.encode())  # type: ignore[union-attr]


def _as_machine(request: Request, principal: Principal) -> Principal:
    request.state.principal = principal
    request.state.actor = principal.username
    bind_actor(principal.username)
    return principal


def _machine_check(request: Request, permission: Permission) -> Principal:
    settings = request.app.state.resources.settings
    expected, principal = ((settings.camera_alarm_token, CAMERA_ALARMS_PRINCIPAL)
                           if permission is P.CAMERA_ALARMS_WRITE else
                           (settings.effective_ingest_token(), INGEST_PRINCIPAL))
    if not _bearer_matches(request, expected):
        raise _unauthorized(f"This route needs a bearer token with the {permission} right")
    return _as_machine(request, principal)


def push_principal(engine: object, token: str) -> Principal | None:
    """The department system a push credential belongs to (dataset_push_credentials holds
    only the token's SHA-256), None for an unknown or revoked one. Blocking."""
    import hashlib

    import sqlalchemy as sa

    digest = hashlib.sha256(token.encode()).hexdigest()
    with engine.connect() as conn:  # type: ignore[attr-defined]
        row = conn.execute(sa.text(
            "SELECT id, department_code, label FROM dataset_push_credentials "
            "WHERE token_hash = :h AND revoked_at IS NULL"), {"h": digest}).first()
    if row is None:
        return None
    return Principal(f"push:{row.department_code}:{row.id}", row.label,
                     frozenset({"machine:datasets-push"}), frozenset({P.DATASETS_PUSH}),
                     department=row.department_code)


async def _push_check(request: Request) -> Principal:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    principal = None
    if scheme.lower() == "bearer" and given.strip():
        principal = await run_in_threadpool(
            push_principal, request.app.state.resources.engine, given.strip())
    if principal is None:
        raise _unauthorized("This route needs your department's push credential as a bearer "
                            "token (cityops datasets push-key DEPT makes one)")
    return _as_machine(request, principal)


def _metrics_token(request: Request) -> Principal | None:
    """The scraper's credential (CITYOPS_METRICS_TOKEN); None lets a user's session decide."""
    if not _bearer_matches(request, request.app.state.resources.settings.metrics_token):
        return None
    return _as_machine(request, METRICS_PRINCIPAL)


def requires(permission: Permission) -> DependsParam:
    async def check(request: Request) -> Principal | None:
        request.state.permission = permission
        if permission is P.PUBLIC:
            return None
        if permission in (P.POSITIONS_WRITE, P.CAMERA_ALARMS_WRITE):
            return _machine_check(request, permission)
        if permission is P.DATASETS_PUSH:
            return await _push_check(request)
        if permission is P.METRICS_READ and (scraper := _metrics_token(request)) is not None:
            return scraper
        principal = await caller(request)
        if permission in LAYER_SCOPED:
            await _check_layers(request, principal, permission)
            return principal
        if principal is None:
            raise _unauthorized(f"Log in first: this needs the {permission} right")
        if permission is not P.AUTHENTICATED and not has_right(
                principal, permission, request.app.state.resources.catalog):
            raise HTTPException(
                403, f"Your role ({', '.join(sorted(principal.roles))}) does not have the "
                     f"{permission} right")
        return principal

    check.permission = permission  # type: ignore[attr-defined]  # read by the route audit
    return Depends(check)


async def _check_layers(request: Request, principal: Principal | None,
                        permission: Permission) -> None:
    catalog = request.app.state.resources.catalog
    hidden = [s.id for s in _path_layers(request, catalog)
              if not may_see_layer(principal, s, permission, grants=False)]
    if hidden and principal is not None and principal.may(permission):
        # only layers the roles do not open: their grants, off the event loop
        granted = await run_in_threadpool(granted_layers, principal)
        hidden = [h for h in hidden if h not in granted]
    if not hidden:
        return
    if principal is None:
        raise _unauthorized(f"Log in first: layer(s) {', '.join(hidden)} are not public")
    raise HTTPException(403, f"Your role ({', '.join(sorted(principal.roles))}) may not see "
                             f"layer(s): {', '.join(hidden)}", headers={"X-Hidden-Layers":
                                                                        ",".join(hidden)})


def current_principal(request: Request) -> Principal | None:
    """The caller resolved by the route's `requires` (None on public routes)."""
    return getattr(request.state, "principal", None)


def actor_name(request: Request) -> str:
    """Who is acting, for the record (who acknowledged an alarm, who changed a case)."""
    return getattr(request.state, "actor", None) or "anonymous"


Actor = Annotated[str, Depends(actor_name)]
Caller = Annotated[Principal | None, Depends(current_principal)]


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


def all_routes(routes: list) -> list:
    """Every route, including those of included routers (FastAPI keeps them behind a
    wrapper that holds the original router)."""
    found = []
    for route in routes:
        inner = getattr(getattr(route, "original_router", None), "routes", None)
        found.extend(all_routes(inner) if inner is not None else [route])
    return found
