"""The dispatch desk and the case KPIs over HTTP: who and what is near a case, the queue's
header counts, and the KPIs by department, grid, category, township or period."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response

from backend.api.deps import AppState
from backend.api.responses import PRIVATE
from backend.api.route import GuardedRoute
from backend.api.types import Id
from backend.auth.permissions import Caller, Permission, Principal, requires
from backend.incidents import desk, kpi

router = APIRouter(route_class=GuardedRoute, tags=["dispatch desk"])


def _who(principal: Principal | None) -> Principal:
    assert principal is not None  # the route's requires() admitted a user
    return principal


@router.get("/api/incidents/{incident_id}/nearby",
            dependencies=[requires(Permission.INCIDENTS_ACT)])
def nearby(incident_id: Id, state: AppState, principal: Caller, response: Response,
           radius_m: str | None = None, reach_m: str | None = None,
           limit: str | None = None) -> dict:
    """The case grid's own workers (grid_workers; last position and its age when known), then
    the `limit` (5, up to 50) nearest available grid workers (a position in the last 30
    minutes) within `reach_m` (5000, up to 20000); the `limit` nearest vehicles (a fix in the
    last 10 minutes) within `radius_m` (500, 1 to 5000), by geodesic distance; the cameras
    whose view, clipped by the buildings, holds the case's place (as GET /api/cameras/seeing:
    online first, then by distance, up to 20) and `cameras_blocked`, those a building blocks.
    Each part needs its own right: workers workers:read, vehicles vehicles:read, cameras
    cameras:read (or a role the cameras layer names); a part the caller may not have is
    empty and listed in
    `withheld` with the reason. Workers' phones are masked without personal:read; a full
    view is audited (privacy.unmasked_view)."""
    query = desk.parse_nearby(radius_m, reach_m, limit)
    who = _who(principal)
    rights = desk.NearbyRights.of(who, state.catalog)
    with state.engine.connect() as conn:
        out = desk.nearby(conn, incident_id, who, query, datetime.now(UTC), rights)
        conn.commit()  # the audit row of a full view of workers' phones, if any
    response.headers.update(PRIVATE)
    return out


@router.get("/api/desk/summary", dependencies=[requires(Permission.INCIDENTS_READ)])
def summary(state: AppState, principal: Caller, response: Response) -> dict:
    """Open cases per state in the caller's scope, with overdue, 督办, pending extensions and
    urgent ones; cases closed and voided today."""
    with state.engine.connect() as conn:
        out = desk.summary(conn, _who(principal), datetime.now(UTC))
    response.headers.update(PRIVATE)
    return out


@router.get("/api/kpi/incidents", dependencies=[requires(Permission.KPI_READ)])
def incident_kpis(
    state: AppState, response: Response,
    start: Annotated[str | None, Query(alias="from")] = None,
    end: Annotated[str | None, Query(alias="to")] = None,
    group_by: str | None = None, period: str | None = None,
) -> dict:
    """结案率, 按期结案率, 返工率 and 延期率 with their counts, for the cases filed in
    [from, to) (ISO 8601 with an offset; at most 366 days), per `group_by` (department, grid,
    category, township or period) and in total; `period` is day, week or month."""
    query = kpi.parse_kpi(start, end, group_by, period)
    with state.engine.connect() as conn:
        out = kpi.incident_kpis(conn, query)
    response.headers.update(PRIVATE)
    return out
