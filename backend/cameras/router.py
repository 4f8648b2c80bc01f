"""The cameras API: the registry (GET /api/cameras, /api/cameras/{code}), play links
(POST /api/cameras/{code}/play, audited) and the builtin test streams they point at
(GET /media/hls/...), and camera alarms: the analytics webhook, the list, acknowledging,
closing and making a case of one (pushed on `cameras.alarms`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool

from backend.api.deps import AppState, get_hub
from backend.api.route import GuardedRoute
from backend.api.types import Id, Offset
from backend.audit.chain import append as audit
from backend.auth.permissions import Actor, Caller, Permission, Principal, requires
from backend.cameras import alarms, media, queries
from backend.cameras.schemas import (
    DEVICE_ID,
    AlarmCase,
    AlarmKind,
    AlarmKinds,
    AlarmToCase,
    CameraAlarmIn,
    CameraAlarmList,
    CameraAlarmRead,
    CameraPage,
    CameraRead,
    Kind,
    PlayLink,
    Status,
)
from backend.errors import NotFound, Unprocessable
from backend.realtime.hub import Hub
from backend.realtime.messages import CAMERA_ALARMS, INCIDENTS
from backend.transit.service import parse_bbox

router = APIRouter(route_class=GuardedRoute, tags=["cameras"])
READ = [requires(Permission.CAMERAS_READ)]
HANDLE = [requires(Permission.CAMERA_ALARMS)]
Code = Annotated[str, Path(pattern=DEVICE_ID, description="the camera's 20-digit GB/T 28181 id")]
HubDep = Annotated[Hub, Depends(get_hub)]


class PlayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    protocol: Literal["hls", "whep"] = "hls"


def _links(request: Request) -> media.MediaLinks:
    return media.links_of(request.app.state, request.app.state.resources.settings)


Links = Annotated[media.MediaLinks, Depends(_links)]


def _alarm_counts(request: Request) -> Counter[str]:
    """Webhook outcomes (raised, repeat, unknown_camera, bad_kind), on /metrics."""
    state = request.app.state
    counts = getattr(state, "camera_alarm_counts", None)
    if counts is None:
        counts = state.camera_alarm_counts = Counter()
    return counts


# Alarms (before /api/cameras/{code}, which would take "alarms" for a code) ----------------

@router.get("/api/cameras/alarm-kinds", dependencies=READ)
def alarm_kinds() -> AlarmKinds:
    """The kinds of camera alarm with their labels (zh, en), for the console and senders."""
    return AlarmKinds(kinds=[AlarmKind(key=k, zh=zh, en=en)
                             for k, (zh, en) in alarms.KINDS.items()])


@router.get("/api/cameras/alarms", dependencies=READ)
def list_alarms(state: AppState, alarm_state: Annotated[
        alarms.StateFilter, Query(alias="state")] = "open",
        limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> CameraAlarmList:
    """Newest first."""
    with state.engine.connect() as conn:
        return CameraAlarmList(alarms=alarms.list_alarms(conn, alarm_state, limit))


async def _push(hub: Hub, action: str, alarm: CameraAlarmRead) -> None:
    await hub.publish(CAMERA_ALARMS, alarms.alarm_event(action, alarm))


@router.post("/api/cameras/alarms", status_code=201,
             dependencies=[requires(Permission.CAMERA_ALARMS_WRITE)])
async def post_alarm(body: CameraAlarmIn, state: AppState, request: Request,
                     response: Response, hub: HubDep) -> CameraAlarmRead:
    """An analytics system's alarm (bearer camera_alarm_token): 201 stored, 200 a repeat of
    a `key` sent before (the first one answers), 404 a camera the registry lacks, 422 an
    unknown kind."""
    counts = _alarm_counts(request)
    new = alarms.NewCameraAlarm(camera=body.camera, time=body.time, kind=body.kind,
                                source="webhook", priority=body.priority,
                                description=body.description, external_key=body.key)

    def work() -> tuple[CameraAlarmRead, bool]:
        with state.engine.begin() as conn:
            alarm, created = alarms.raise_alarm(conn, new)
            if created:
                audit(conn, None, "camera_alarm.raise", "camera_alarm", alarm.id,
                      {"camera": alarm.camera, "kind": alarm.kind, "key": body.key})
            return alarm, created

    try:
        alarm, created = await run_in_threadpool(work)
    except NotFound:
        counts["unknown_camera"] += 1
        raise
    except Unprocessable:
        counts["bad_kind"] += 1
        raise
    counts["raised" if created else "repeat"] += 1
    if created:
        await _push(hub, "raised", alarm)
    else:
        response.status_code = 200
    return alarm


async def _alarm_step(state: AppState, hub: Hub, step: Callable[..., CameraAlarmRead],
                      action: Literal["acknowledged", "closed"], alarm_id: int,
                      actor: str) -> CameraAlarmRead:
    def work() -> CameraAlarmRead:
        with state.engine.begin() as conn:
            return step(conn, alarm_id, actor, datetime.now(UTC))

    alarm = await run_in_threadpool(work)
    await _push(hub, action, alarm)
    return alarm


@router.post("/api/cameras/alarms/{alarm_id}/ack", dependencies=HANDLE)
async def acknowledge_alarm(state: AppState, actor: Actor, hub: HubDep,
                            alarm_id: Id) -> CameraAlarmRead:
    """A dispatcher has seen the alarm (409 unless it is open)."""
    return await _alarm_step(state, hub, alarms.acknowledge, "acknowledged", alarm_id, actor)


@router.post("/api/cameras/alarms/{alarm_id}/close", dependencies=HANDLE)
async def close_alarm(state: AppState, actor: Actor, hub: HubDep,
                      alarm_id: Id) -> CameraAlarmRead:
    """Close an alarm (handled, or a false one); 409 when it is closed already."""
    return await _alarm_step(state, hub, alarms.close, "closed", alarm_id, actor)


@router.post("/api/cameras/alarms/{alarm_id}/case", status_code=201, dependencies=HANDLE)
async def alarm_to_case(body: AlarmToCase, state: AppState, principal: Caller, hub: HubDep,
                        response: Response, alarm_id: Id) -> AlarmCase:
    """Make a case of the alarm (source video, at the camera's place, the category chosen);
    the alarm is acknowledged and linked. Asked again, it answers 200 with the same case."""
    who: Principal = principal  # type: ignore[assignment]  # requires() admitted a user
    at = datetime.now(UTC)

    def work() -> alarms.CaseMade:
        with state.engine.begin() as conn:
            return alarms.make_case(conn, alarm_id, body, who, at)

    made = await run_in_threadpool(work)
    if made.change is not None:
        await hub.publish(INCIDENTS, made.change)
        await _push(hub, "case", made.alarm)
    else:
        response.status_code = 200
    return AlarmCase(alarm=made.alarm, incident_id=made.incident_id,
                     case_no=made.alarm.case_no, created=made.change is not None)


# The registry ------------------------------------------------------------------------------

@router.get("/api/cameras", dependencies=READ)
def list_cameras(state: AppState, links: Links,
                 bbox: Annotated[str | None, Query(description="west,south,east,north")] = None,
                 status: Annotated[list[Status] | None, Query(max_length=3)] = None,
                 kind: Annotated[list[Kind] | None, Query(max_length=3)] = None,
                 limit: Annotated[int, Query(ge=1, le=1000)] = 500,
                 offset: Offset = 0) -> CameraPage:
    """The registry as CameraRead rows (presets only on one camera), by code: {cameras,
    total, limit, offset}; `status` and `kind` may repeat."""
    f = queries.CameraFilter(parse_bbox(bbox), status or (), kind or ())
    with state.engine.connect() as conn:
        return queries.page(conn, f, links.streams, limit=limit, offset=offset)


@router.get("/api/cameras/{code}", dependencies=READ)
def get_camera(state: AppState, links: Links, code: Code) -> CameraRead:
    with state.engine.connect() as conn:
        return queries.one(conn, code, links.streams)


@router.post("/api/cameras/{code}/play", dependencies=READ)
def play(state: AppState, links: Links, actor: Actor, code: Code,
         body: PlayIn | None = None) -> PlayLink:
    """A signed address of the camera's video, valid media_link_ttl_s (404 when the camera
    or its stream is missing). Each play is on the audit chain: who, which camera, when."""
    protocol = body.protocol if body else "hls"
    with state.engine.begin() as conn:
        parent = queries.parent_of(conn, code)
        try:
            link = links.link(code, protocol, parent=parent)
        except media.NoStream as missing:
            raise NotFound(f"No stream: {missing}") from None
        audit(conn, actor, "camera.play", "camera", code,
              {"protocol": protocol, "expires_at": link.expires_at})
    return PlayLink(code=code, protocol=protocol, url=link.url, expires_at=link.expires_at)


# The builtin test streams ------------------------------------------------------------------

# PUBLIC on purpose: the signed token in the path is the credential (a player's segment
# requests carry no session), checked before any file is touched; 403 expired or invalid.
@router.get("/media/hls/{token}/{code}/{file}", dependencies=[requires(Permission.PUBLIC)],
            response_class=FileResponse,
            responses={200: {"content": {"application/vnd.apple.mpegurl": {},
                                         "video/mp2t": {}}}})
def media_file(state: AppState, links: Links,
               token: str,
               code: Code, file: Annotated[str, Path(max_length=16)]) -> FileResponse:
    """A file of a camera's builtin test stream: index.m3u8 or seg_NNN.ts."""
    try:
        links.check(token, code, "hls")
    except media.LinkRefused as refused:
        raise HTTPException(403, str(refused)) from None
    try:
        path = media.media_file(state.settings, code, file)
    except (ValueError, FileNotFoundError):
        links.count("no_file")
        raise NotFound(f"No file {file!r} in the test stream of camera {code}") from None
    cache = "no-cache" if file == media.PLAYLIST else "private, max-age=300"
    return FileResponse(path, media_type=media.content_type(file),
                        headers={"Cache-Control": cache})
