"""Bus-line operations and playback: the lines with their fleet, a line's live operations
(progress, next stop and ETA of each bus, headways, bunching) and a line's replay."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from backend.api.deps import AppState
from backend.api.route import GuardedRoute
from backend.api.types import Id
from backend.auth.permissions import Permission, requires
from backend.errors import NotConfigured
from backend.transit import service
from backend.transit.operations import OperationsParams
from backend.vehicles.service import FleetDirectory

router = APIRouter(route_class=GuardedRoute, tags=["transit"])


def _fleet(state: AppState) -> FleetDirectory:
    if state.fleet is None:
        raise NotConfigured("The fleet register is not loaded")
    return state.fleet


@router.get("/api/lines", dependencies=[requires(Permission.VEHICLES_READ)])
def list_lines(state: AppState) -> dict[str, list[dict]]:
    """Every bus line: length, stops, vehicles registered on it and how many are online."""
    with state.engine.connect() as conn:
        lines = service.list_lines(conn, now=datetime.now(UTC),
                                   offline_after_s=state.settings.vehicle_offline_after_s)
    return {"lines": lines}


@router.get("/api/lines/{line_id}/operations",
            dependencies=[requires(Permission.VEHICLES_READ)])
def line_operations(state: AppState, line_id: Id) -> dict:
    """The line's buses with progress, direction, next stop and ETA; headways per direction;
    the pairs bunched now."""
    fleet = _fleet(state)
    line = service.get_line(fleet, line_id)
    params = OperationsParams(offline_after_s=state.settings.vehicle_offline_after_s)
    with state.engine.connect() as conn:
        return service.line_operations_view(conn, fleet, line, now=datetime.now(UTC),
                                            params=params)


@router.get("/api/lines/{line_id}/replay", dependencies=[requires(Permission.VEHICLES_READ)])
def line_replay(
    state: AppState,
    line_id: Id,
    start: Annotated[str | None, Query(alias="from")] = None,
    end: Annotated[str | None, Query(alias="to")] = None,
    zoom: str | None = None,
) -> dict:
    """Every bus of the line with fixes in [from, to) (at most 24 h), simplified for `zoom`,
    the alarms of those buses open in the window, the line's geometry and stops."""
    a, b = service.parse_window(start, end)
    z = service.parse_zoom(zoom)
    line = service.get_line(_fleet(state), line_id)
    with state.engine.connect() as conn:
        return service.line_replay(conn, line, start=a, end=b, zoom=z)
