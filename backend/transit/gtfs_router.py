"""GTFS static and GTFS-Realtime feeds of the county's bus lines. Public on purpose: journey
planners and passenger apps read them without an account."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from backend.api.route import GuardedRoute
from backend.auth.permissions import Permission, requires
from backend.errors import InvalidInput
from backend.transit.gtfs.realtime import RealtimeGtfs
from backend.transit.gtfs.static import StaticGtfs

router = APIRouter(route_class=GuardedRoute, tags=["gtfs"])
_CREATE = threading.Lock()
FORMATS = ("pb", "json")


@dataclass
class GtfsFeeds:
    static: StaticGtfs
    realtime: RealtimeGtfs


def get_feeds(request: Request) -> GtfsFeeds:
    """The app's feeds, made on first use (they need the engine opened in the lifespan)."""
    state = request.app.state
    feeds = getattr(state, "gtfs", None)
    if feeds is None:
        with _CREATE:
            feeds = getattr(state, "gtfs", None)
            if feeds is None:
                settings, engine = state.resources.settings, state.resources.engine
                static = StaticGtfs(engine, settings.gtfs_timetable)
                traffic = state.resources.traffic  # congestion_level of each bus's segment
                feeds = state.gtfs = GtfsFeeds(static, RealtimeGtfs(
                    engine, static, max_age_s=settings.gtfs_rt_max_age_s,
                    stale_after_s=settings.gtfs_rt_stale_after_s,
                    congestion=None if traffic is None else traffic.congestion_level))
    return feeds


Feeds = Annotated[GtfsFeeds, Depends(get_feeds)]


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in tags or etag in tags


@router.get(
    "/gtfs/static.zip", dependencies=[requires(Permission.PUBLIC)], response_class=Response,
    responses={200: {"content": {"application/zip": {}}, "description": "The GTFS zip"},
               304: {"description": "Not modified (If-None-Match)"}},
)
def gtfs_static(request: Request, feeds: Feeds) -> Response:
    """The static GTFS feed: agency, stops, routes, trips, stop_times, calendar, shapes and
    feed_info, from the bus lines and the configured timetable."""
    built = feeds.static.current()
    headers = {"ETag": built.etag, "Cache-Control": "public, no-cache"}
    if _etag_matches(request.headers.get("if-none-match"), built.etag):
        return Response(status_code=304, headers=headers)
    headers["Content-Disposition"] = f'attachment; filename="{built.filename}"'
    return Response(built.zip_bytes(), media_type="application/zip", headers=headers)


@router.get(
    "/gtfs-rt/vehicle-positions.pb", dependencies=[requires(Permission.PUBLIC)],
    response_class=Response,
    responses={200: {"content": {"application/x-protobuf": {}, "application/json": {}},
                     "description": "A GTFS-Realtime FeedMessage"}},
)
def gtfs_rt_vehicle_positions(
    feeds: Feeds, fmt: Annotated[str | None, Query(alias="format")] = None,
) -> Response:
    """GTFS-Realtime VehiclePositions (protobuf); `?format=json` gives the same feed as JSON."""
    if fmt not in (None, *FORMATS):
        raise InvalidInput(f"format must be 'json' (the feed as JSON for people) or 'pb' "
                           f"(protobuf, the default); got {fmt!r}")
    snapshot = feeds.realtime.current()
    headers = {"Cache-Control": f"public, max-age={int(feeds.realtime.max_age_s)}"}
    if fmt == "json":
        return Response(snapshot.json(), media_type="application/json; charset=utf-8",
                        headers=headers)
    return Response(snapshot.payload, media_type="application/x-protobuf", headers=headers)
