"""GET /api/cameras/seeing: which cameras can see a place (cameras:read)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool

from backend.api.deps import AppState
from backend.api.responses import PRIVATE
from backend.api.route import GuardedRoute
from backend.auth.permissions import Permission, requires
from backend.cameras.schemas import SeeingAnswer
from backend.cameras.seeing import parse_seeing, seeing

router = APIRouter(route_class=GuardedRoute, tags=["cameras"])


@router.get("/api/cameras/seeing", dependencies=[requires(Permission.CAMERAS_READ)])
async def get_seeing(state: AppState, response: Response, lon: str | None = None,
                     lat: str | None = None, disc_m: str | None = None,
                     limit: str | None = None) -> SeeingAnswer:
    """The cameras whose view, clipped by the buildings, contains (lon, lat) (WGS-84): any of
    a camera's views counts (`view_no` 0 its own heading, n preset n); online first, then by
    distance; `limit` (20, up to 50) of them. `coverage_share` is the share of the disc of
    `disc_m` (10, 1 to 100) metres around the point inside that view. `blocked` counts the
    cameras within range and facing the point whose view a building blocks."""
    query = parse_seeing(lon, lat, disc_m, limit)

    def read() -> SeeingAnswer:
        with state.engine.connect() as conn:
            return seeing(conn, query.lon, query.lat, query.disc_m, query.limit)

    answer = await run_in_threadpool(read)
    response.headers.update(PRIVATE)
    return answer
