"""The fleet's live state: `GET /api/vehicles` (list), `/api/vehicles/{id}` (with its place on
its line) and `/api/vehicles/{id}/track` (playback). GPS comes in through backend.ingest (HTTP
`POST /api/ingest/positions`, MQTT, JT/T 808)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from backend.api.deps import AppState
from backend.api.route import GuardedRoute
from backend.auth.permissions import Permission, requires
from backend.errors import NotFound
from backend.transit import service as transit
from backend.transit.operations import OperationsParams
from backend.vehicles import live

router = APIRouter(route_class=GuardedRoute, tags=["vehicles"])


# The fleet's live state and tracks (bus-line operations: backend.transit) -----------------


def _params(state: AppState) -> OperationsParams:
    return OperationsParams(offline_after_s=state.settings.vehicle_offline_after_s)


@router.get("/api/vehicles", dependencies=[requires(Permission.VEHICLES_READ)])
def list_vehicles(state: AppState, bbox: str | None = None) -> dict[str, list[dict]]:
    """Every vehicle with a fix or in the register: latest fix, line, status (alarm, offline,
    normal) and the kinds of its active alarms; `bbox=w,s,e,n` keeps those inside."""
    box = transit.parse_bbox(bbox)
    with state.engine.connect() as conn:
        rows = live.list_vehicles(conn, now=datetime.now(UTC), bbox=box,
                                  offline_after_s=state.settings.vehicle_offline_after_s)
    return {"vehicles": rows}


@router.get("/api/vehicles/{vehicle_id}", dependencies=[requires(Permission.VEHICLES_READ)])
def get_vehicle(state: AppState, vehicle_id: str) -> dict:
    """One vehicle as listed, with its line, progress along it, direction, next stop and ETA."""
    now = datetime.now(UTC)
    with state.engine.connect() as conn:
        record = live.get_vehicle(conn, vehicle_id, now=now,
                                  offline_after_s=state.settings.vehicle_offline_after_s)
        if record is None:
            raise NotFound(f"No vehicle {vehicle_id!r}: it is not in the fleet register and "
                           "has never reported a position")
        line = state.fleet.line(record["line_id"]) if (
            state.fleet is not None and record["line_id"] is not None) else None
        if line is None:
            return {**record, "line": None, "progress_m": None, "direction": None,
                    "next_stop": None}
        where = transit.vehicle_on_line(conn, line, vehicle_id, now=now, params=_params(state))
    return {**record, "line": transit.line_summary(line), **where}


@router.get("/api/vehicles/{vehicle_id}/track",
            dependencies=[requires(Permission.VEHICLES_READ)])
def vehicle_track(
    state: AppState,
    vehicle_id: str,
    start: Annotated[str | None, Query(alias="from")] = None,
    end: Annotated[str | None, Query(alias="to")] = None,
    zoom: str | None = None,
) -> dict:
    """The vehicle's fixes in [from, to) (at most 24 h) as [epoch_ms, lon, lat, speed_kmh,
    heading_deg], in time order; with `zoom` (0-22) simplified to half a pixel."""
    a, b = transit.parse_window(start, end)
    z = transit.parse_zoom(zoom)
    with state.engine.connect() as conn:
        if not live.known_vehicle(conn, vehicle_id):
            raise NotFound(f"No vehicle {vehicle_id!r}: it is not in the fleet register and "
                           "has never reported a position")
        points = transit.vehicle_track(conn, vehicle_id, a, b, z)
    return {"vehicle_id": vehicle_id, "from": a.isoformat(), "to": b.isoformat(), "zoom": z,
            "points": points}
