"""The traffic API (/api/traffic): levels, the index, a segment's day against its typical
speeds, the day replay, the pilot segments, and traffic alerts (read by traffic police,
commanders and dispatchers; acknowledged and closed by traffic police), also as CAP 1.2 and
an Atom feed. Changes to alerts are pushed on `traffic.alerts` like the rules' own."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from backend.api.deps import AppState
from backend.api.route import GuardedRoute
from backend.api.types import Id, Instant
from backend.auth.permissions import Actor, Permission, requires
from backend.bounds import BIGINT_MAX
from backend.errors import NotConfigured
from backend.traffic import alerts as alert_store
from backend.traffic import cap, views
from backend.traffic.service import TrafficService
from backend.transit.service import parse_bbox

router = APIRouter(route_class=GuardedRoute, tags=["traffic"])
READ = [requires(Permission.TRAFFIC_READ)]
HANDLE = [requires(Permission.TRAFFIC_ALERTS)]
SegmentKey = Annotated[int, Path(ge=0, le=BIGINT_MAX, description="directed segment key")]
BBOX_HELP = "west,south,east,north in WGS-84 degrees"


def get_traffic(request: Request) -> TrafficService:
    service = getattr(request.app.state.resources, "traffic", None)
    if service is None:
        raise NotConfigured("The traffic service is not running in this process")
    return service


Traffic = Annotated[TrafficService, Depends(get_traffic)]

class AlertNote(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(default=None, max_length=500)


@router.get("/api/traffic/segments", dependencies=READ)
def list_segments(state: AppState, traffic: Traffic,
                  bbox: Annotated[str | None, Query(description=BBOX_HELP)] = None) -> dict:
    """Every directed segment (in `bbox`) with its level over the last five minutes:
    0 unknown (too few vehicles), 1 畅通 ... 5 严重拥堵."""
    box = parse_bbox(bbox)
    with state.engine.connect() as conn:
        return views.segments(traffic, conn, box)


@router.get("/api/traffic/segments.geojson", dependencies=READ)
def segments_geojson(state: AppState, traffic: Traffic,
                     bbox: Annotated[str | None, Query(description=BBOX_HELP)] = None
                     ) -> dict:
    """The same as GeoJSON: a LineString per segment in its direction of travel."""
    box = parse_bbox(bbox)
    with state.engine.connect() as conn:
        return views.segments_geojson(traffic, conn, box)


@router.get("/api/traffic/index", dependencies=READ)
def traffic_index(traffic: Traffic) -> dict:
    """The traffic performance index (0-10) of the county seat and of each township."""
    return views.index(traffic)


@router.get("/api/traffic/segments/{segment}/history", dependencies=READ)
def segment_history(state: AppState, traffic: Traffic, segment: SegmentKey,
                    day: Annotated[date, Query(alias="date")]) -> dict:
    """A local day's 288 five-minute buckets of one segment, with the typical speeds."""
    with state.engine.connect() as conn:
        return views.history(traffic, conn, segment, day)


@router.get("/api/traffic/replay", dependencies=READ)
def replay(state: AppState, traffic: Traffic, day: Annotated[date, Query(alias="date")],
           start: Instant | None = None, end: Instant | None = None,
           bbox: Annotated[str | None, Query(description=BBOX_HELP)] = None) -> dict:
    """Levels per bucket of a local day (the day replay); `start`/`end` narrow it."""
    box = parse_bbox(bbox)
    with state.engine.connect() as conn:
        return views.replay(traffic, conn, day, start, end, box)


@router.get("/api/traffic/pilot", dependencies=READ)
def pilot_segments(state: AppState, traffic: Traffic) -> list[dict]:
    """The pilot segments (智慧交通试点路段) with their current and typical speed."""
    with state.engine.connect() as conn:
        return views.pilot(traffic, conn)


@router.get("/api/traffic/alerts", dependencies=READ)
def list_alerts(state: AppState, status: Literal["open", "all"] = "open",
                limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> dict:
    """Newest first; `open` is active or acknowledged, `all` adds cleared and closed ones."""
    with state.engine.connect() as conn:
        return views.alerts(conn, status, limit)


# Before /alerts/{alert_id}, which would take "12.cap" for an id.
@router.get("/api/traffic/alerts.atom", dependencies=READ, response_class=Response,
            responses={200: {"content": {"application/atom+xml": {}}}})
def alerts_atom(request: Request, state: AppState) -> Response:
    """An Atom feed of the open alerts, each entry linking its CAP message."""
    with state.engine.connect() as conn:
        rows = alert_store.list_alerts(conn, status="open", limit=500)
    updated = max((a.updated_at for a in rows), default=datetime.now(UTC))
    body = cap.alerts_atom([a.as_dict() for a in rows],
                           base_url=state.base_url(request), updated=updated)
    return Response(body, media_type="application/atom+xml; charset=utf-8")


@router.get("/api/traffic/alerts/{alert_id}.cap", dependencies=READ, response_class=Response,
            responses={200: {"content": {"application/cap+xml": {}}}})
def alert_cap(state: AppState, alert_id: Id) -> Response:
    """The alert as a CAP 1.2 message: Alert when raised, Update after changes, Cancel when
    cleared or closed."""
    with state.engine.connect() as conn:
        alert = alert_store.get_alert(conn, alert_id)  # 404 first: an unknown alert
        polygon = views.alert_polygon(conn, alert.segment)
    alert_map = {**alert.as_dict(), "polygon": polygon}
    # msgType from the alert's life, and an Update or Cancel references the first message
    # (backend.traffic.cap's identifiers).
    body = cap.alert_cap(alert_map, sender=state.settings.traffic_cap_sender,
                         msg_type=cap.msg_type_of(alert_map))
    return Response(body, media_type="application/cap+xml; charset=utf-8")


@router.get("/api/traffic/alerts/{alert_id}", dependencies=READ)
def get_alert(state: AppState, alert_id: Id) -> dict:
    with state.engine.connect() as conn:
        return alert_store.get_alert(conn, alert_id).as_dict()


def _change(state: AppState, traffic: TrafficService, action: str, change: Any) -> dict:
    at = datetime.now(UTC)
    with state.engine.begin() as conn:
        alert = change(conn, at)
    traffic.announce(action, alert)
    return alert.as_dict()


@router.post("/api/traffic/alerts/{alert_id}/acknowledge", dependencies=HANDLE)
async def acknowledge_alert(state: AppState, traffic: Traffic, actor: Actor, alert_id: Id,
                            body: AlertNote | None = None) -> dict:
    """An officer has seen the alert and is on it (409 with the allowed actions otherwise)."""
    note = body.note if body else None
    return await run_in_threadpool(_change, state, traffic, "acknowledged", lambda conn, at:
                                   alert_store.acknowledge(conn, alert_id, actor, at, note))


@router.post("/api/traffic/alerts/{alert_id}/close", dependencies=HANDLE)
async def close_alert(state: AppState, traffic: Traffic, actor: Actor, alert_id: Id,
                      body: AlertNote | None = None) -> dict:
    """Close an alert (handled, or a false one); 409 when it is already closed."""
    note = body.note if body else None
    return await run_in_threadpool(_change, state, traffic, "closed", lambda conn, at:
                                   alert_store.close(conn, alert_id, actor, at, note))
