"""The dispatch desk's reads: who and what is near a case (grid workers with a recent position,
vehicles with a recent fix, the cameras that can see the case's place: each part only for a
caller with the right for that kind of data), and the queue's header counts.

Distances are geodesic metres (`geography`, WGS-84 spheroid). Every spatial search is
index-assisted: a bounding-box prefilter on the stored EPSG:4326 geometry (`geom && box`, GiST)
that is never smaller than the radius, then the exact `ST_DWithin` on geography."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from backend.auth.permissions import Permission, Principal, has_right
from backend.cameras.media import Streams
from backend.cameras.seeing import seeing
from backend.catalog.layers import LayerCatalog
from backend.errors import Forbidden, InvalidInput, NotFound
from backend.grid.service import WORKER_PERSONAL
from backend.incidents import queries, service
from backend.incidents.flow import FINAL_STATES, State
from backend.privacy.looks import record_look
from backend.privacy.policy import present
from backend.vehicles.service import PROBE_CLASS

# A worker whose phone reported within this is "available"; a vehicle fix older than this is
# stale (the GTFS-RT feed uses the same 10 minutes).
WORKER_FRESH = timedelta(minutes=30)
VEHICLE_FRESH = timedelta(minutes=10)
RADIUS_M = (1, 5000)       # vehicles within radius_m
REACH_M = (1, 20000)       # workers: the nearest within reach_m (beside the grid's own)
LIMIT = (1, 50)            # nearby workers and vehicles returned
CAMERA_LIMIT = 20          # cameras that see the case's place (backend.cameras.seeing)
# Metres per degree, on the small side so that the degree box always covers the radius:
# a meridian degree is >= 110,574 m; a parallel degree is >= 111,320 m x cos(lat) on WGS-84.
M_PER_DEG_LAT = 110_000.0
M_PER_DEG_LON_EQUATOR = 111_000.0
OPEN_STATES = [s.value for s in State if s not in FINAL_STATES]


@dataclass(frozen=True)
class NearbyQuery:
    radius_m: float = 500.0
    reach_m: float = 5000.0
    limit: int = 5


def parse_nearby(radius_m: str | None, reach_m: str | None, limit: str | None) -> NearbyQuery:
    """Query-string values checked here (400 with what is allowed), not by FastAPI (422)."""
    def number(name: str, raw: str | None, bounds: tuple[int, int], default: float) -> float:
        if raw is None or raw == "":
            return default
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or not bounds[0] <= value <= bounds[1]:
            raise InvalidInput(f"{name} must be a number of metres from {bounds[0]} to "
                               f"{bounds[1]}, got {raw!r}")
        return value

    radius = number("radius_m", radius_m, RADIUS_M, 500.0)
    reach = number("reach_m", reach_m, REACH_M, 5000.0)
    count = 5
    if limit not in (None, ""):
        if not limit.isdigit() or not LIMIT[0] <= int(limit) <= LIMIT[1]:
            raise InvalidInput(f"limit must be a whole number from {LIMIT[0]} to {LIMIT[1]}, "
                               f"got {limit!r}")
        count = int(limit)
    return NearbyQuery(radius, reach, count)


def degree_box(lat: float, metres: float) -> tuple[float, float]:
    """(dlon, dlat) in degrees that cover at least `metres` around a point at `lat`."""
    cos = max(math.cos(math.radians(min(abs(lat), 89.0))), 0.01)
    return metres / (M_PER_DEG_LON_EQUATOR * cos), metres / M_PER_DEG_LAT


# Each query starts from the case's point, as geometry (for the GiST box) and geography.
# Workers: the case grid's own (grid_workers, by cell assignment), whatever their phone last
# said, first; then the nearest with a recent position within reach, up to `limit` of them.
WORKERS_SQL = """
WITH here AS (
  SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS pt,
         ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography AS g),
own AS (SELECT gw.user_id FROM grid_workers gw WHERE gw.grid_code = :grid),
near AS (
  SELECT w.user_id FROM here, worker_positions w JOIN users u ON u.id = w.user_id
  WHERE w.geom && ST_Expand(here.pt, :dlon, :dlat)
    AND ST_DWithin(w.geom::geography, here.g, :reach)
    AND w.time >= :worker_since AND u.active AND 'grid_worker' = ANY(u.roles)
    AND w.user_id NOT IN (SELECT user_id FROM own)
  ORDER BY ST_Distance(w.geom::geography, here.g), u.username
  LIMIT :limit)
SELECT u.username, u.display_name, u.phone, w.time, w.lon, w.lat, w.accuracy_m,
  ST_Distance(w.geom::geography, here.g) AS distance_m,
  coalesce((SELECT json_agg(json_build_object('grid_code', gw.grid_code, 'name', gc.name)
                            ORDER BY gw.grid_code)
            FROM grid_workers gw LEFT JOIN grid_cells gc ON gc.grid_code = gw.grid_code
            WHERE gw.user_id = u.id), '[]'::json) AS grids,
  u.id IN (SELECT user_id FROM own) AS in_case_grid,
  (SELECT count(*) FROM incidents i WHERE i.assignee_id = u.id AND i.state = ANY(:open))
    AS open_cases
FROM here, users u LEFT JOIN worker_positions w ON w.user_id = u.id
WHERE u.id IN (SELECT user_id FROM own UNION ALL SELECT user_id FROM near)
  AND u.active AND 'grid_worker' = ANY(u.roles)
ORDER BY in_case_grid DESC, distance_m NULLS LAST, u.username"""

VEHICLES_SQL = """
WITH here AS (
  SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS pt,
         ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography AS g)
SELECT vl.vehicle_id, v.label, v.plate, v.vehicle_class, bl.code AS line_code,
  bl.name AS line_name, vl.time, vl.lon, vl.lat, vl.speed_kmh, vl.heading_deg,
  ST_Distance(vl.geom::geography, here.g) AS distance_m
FROM here, vehicle_latest vl
  LEFT JOIN vehicles v ON v.vehicle_id = vl.vehicle_id
  LEFT JOIN bus_lines bl ON bl.id = v.line_id
WHERE vl.geom && ST_Expand(here.pt, :dlon, :dlat)
  AND ST_DWithin(vl.geom::geography, here.g, :radius)
  AND vl.time >= :vehicle_since AND coalesce(v.active, true)
  AND v.vehicle_class IS DISTINCT FROM :probe  -- traffic's, not a case's (vehicles/fleet.py)
ORDER BY distance_m, vl.vehicle_id
LIMIT :limit"""

def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _age_s(now: datetime, then: datetime | None) -> int | None:
    return None if then is None else max(0, round((now - then).total_seconds()))


@dataclass(frozen=True)
class NearbyRights:
    """Which parts of the nearby answer the caller may have: each kind of data needs its own
    right, and a part the caller may not see is left out and named in `withheld`."""

    workers: bool   # workers:read: grid workers' last positions and contacts (dispatch)
    vehicles: bool  # vehicles:read: plates and live positions of the fleet
    cameras: bool   # cameras:read (a role granting it, or one the cameras layer names)

    @classmethod
    def of(cls, principal: Principal, catalog: LayerCatalog) -> NearbyRights:
        return cls(workers=principal.may(Permission.WORKERS_READ),
                   vehicles=principal.may(Permission.VEHICLES_READ),
                   cameras=has_right(principal, Permission.CAMERAS_READ, catalog))


WITHHELD = {
    "workers": "needs the workers:read right (dispatchers and commanders)",
    "vehicles": "needs the vehicles:read right",
    "cameras": "needs the cameras:read right (or a role the cameras layer names)",
}


def nearby(conn: sa.Connection, incident_id: int, principal: Principal, query: NearbyQuery,
           now: datetime, rights: NearbyRights, streams: Streams) -> dict[str, Any]:
    """The case grid's own workers (by cell assignment, with their last position if any), then
    the `limit` nearest available grid workers within `reach_m`; the `limit` nearest recent
    vehicles within `radius_m`, by distance from the case; the cameras whose view, clipped by
    the buildings, holds the case's place (online first, then by distance) and how many a
    building blocks (`cameras_blocked`); only the parts
    `rights` allow (the others are listed in `withheld`). Workers' phones go out by the
    masking policy; a full view is audited (one row, committed by the caller)."""
    row = conn.execute(sa.text(
        "SELECT id, case_no, state, lon, lat, grid_code, department_code, reporter_id, "
        "assignee_id, verifier_id FROM incidents WHERE id = :id"), {"id": incident_id}).first()
    if row is None:
        raise NotFound(f"No case {incident_id}")
    if not queries.visible(conn, row, principal):
        raise Forbidden(f"Case {incident_id} is not one of yours")
    lon, lat = row.lon, row.lat
    reach_box = degree_box(lat, query.reach_m)
    radius_box = degree_box(lat, query.radius_m)
    base = {"lon": lon, "lat": lat, "limit": query.limit, "reach": query.reach_m,
            "dlon": reach_box[0], "dlat": reach_box[1]}
    out: dict[str, Any] = {
        "incident": {"id": row.id, "case_no": row.case_no, "state": row.state, "lon": lon,
                     "lat": lat, "grid_code": row.grid_code},
        "radius_m": query.radius_m, "reach_m": query.reach_m, "limit": query.limit,
        "workers": [], "vehicles": [], "cameras": [], "cameras_blocked": 0,
        "withheld": [{"part": part, "reason": reason} for part, reason in WITHHELD.items()
                     if not getattr(rights, part)],
    }
    if rights.workers:
        workers = conn.execute(sa.text(WORKERS_SQL), {
            **base, "grid": row.grid_code, "open": OPEN_STATES,
            "worker_since": now - WORKER_FRESH}).mappings().all()
        shown: list[str] = []
        for w in workers:
            one = {"username": w["username"], "display_name": w["display_name"],
                   "phone": w["phone"], "lon": w["lon"], "lat": w["lat"],
                   "accuracy_m": w["accuracy_m"], "time": _iso(w["time"]),
                   "age_s": _age_s(now, w["time"]),
                   "distance_m": None if w["distance_m"] is None else round(w["distance_m"], 1),
                   "grids": w["grids"], "in_case_grid": w["in_case_grid"],
                   "open_cases": w["open_cases"]}
            if present(one, WORKER_PERSONAL, principal.roles):
                shown.append(w["username"])
            out["workers"].append(one)
        record_look(conn, principal.username, "user", shown, list(WORKER_PERSONAL),
                    {"incident_id": row.id, "answer": "nearby"})
    if rights.vehicles:  # within the radius the desk shows
        vehicles = conn.execute(sa.text(VEHICLES_SQL), {
            **base, "radius": query.radius_m, "dlon": radius_box[0], "dlat": radius_box[1],
            "vehicle_since": now - VEHICLE_FRESH, "probe": PROBE_CLASS}).mappings().all()
        out["vehicles"] = [{
            **{k: _iso(v) for k, v in m.items() if k != "distance_m"},
            "age_s": _age_s(now, m["time"]), "distance_m": round(m["distance_m"], 1),
        } for m in vehicles]
    if rights.cameras:
        seen = seeing(conn, lon, lat, streams=streams, limit=CAMERA_LIMIT)
        out["cameras"] = [c.model_dump() for c in seen.cameras]
        out["cameras_blocked"] = seen.blocked
    return out


SUMMARY_SQL = """
SELECT i.state, count(*) AS n,
  count(*) FILTER (WHERE i.overdue) AS overdue,
  count(*) FILTER (WHERE i.supervised) AS supervised,
  count(*) FILTER (WHERE i.extension_pending) AS extension_pending,
  count(*) FILTER (WHERE i.urgency = 'urgent') AS urgent
FROM incidents i WHERE {scope} AND (i.state = ANY(:open) OR i.updated_at >= :since)
GROUP BY i.state"""


def summary(conn: sa.Connection, principal: Principal, now: datetime) -> dict[str, Any]:
    """The desk's header, in the caller's scope: open (not closed or voided) cases per state,
    how many of them are overdue, supervised (督办), waiting for an extension decision and
    urgent; and the cases closed or voided since local midnight."""
    scope, params = queries.scope_sql(queries.scope_of(conn, principal))
    midnight = now.astimezone(service.LOCAL).replace(hour=0, minute=0, second=0, microsecond=0)
    rows = conn.execute(sa.text(SUMMARY_SQL.format(scope=scope)),
                        {**params, "open": OPEN_STATES, "since": midnight}).all()
    by_state = dict.fromkeys(OPEN_STATES, 0)
    totals = {"open": 0, "overdue": 0, "supervised": 0, "extension_pending": 0, "urgent": 0}
    today = {State.CLOSED.value: 0, State.VOIDED.value: 0}
    for r in rows:
        if r.state not in by_state:
            today[r.state] = r.n
            continue
        by_state[r.state] = r.n
        totals["open"] += r.n
        for key in ("overdue", "supervised", "extension_pending", "urgent"):
            totals[key] += getattr(r, key)
    return {"at": now.isoformat(), "states": by_state, **totals,
            "closed_today": today[State.CLOSED.value],
            "voided_today": today[State.VOIDED.value]}
