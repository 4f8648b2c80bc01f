"""Vehicle alarms for dispatchers: the list (active first), acknowledging and clearing by hand.
Every change is pushed on `vehicles.alarms` like the rules' own events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from backend.api.deps import AppState, get_hub
from backend.api.route import GuardedRoute
from backend.api.types import Id, Instant
from backend.auth.permissions import Actor, Permission, requires
from backend.errors import InvalidInput
from backend.realtime.hub import Hub
from backend.realtime.messages import ALARMS
from backend.vehicles import alarms as store
from backend.vehicles.consumers import alarm_event

router = APIRouter(route_class=GuardedRoute, tags=["vehicle alarms"])


class AlarmNote(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(default=None, max_length=500)


@router.get("/api/alarms", dependencies=[requires(Permission.VEHICLES_READ)])
def list_alarms(
    state: AppState,
    status: Literal["active", "cleared"] | None = None,
    vehicle_id: Annotated[list[str] | None, Query()] = None,
    start: Annotated[Instant | None, Query(alias="from")] = None,
    end: Annotated[Instant | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, list[dict]]:
    """Newest first; `from`/`to` select alarms open at some time in that window."""
    for t in (start, end):
        if t is not None and t.tzinfo is None:
            raise InvalidInput("Give from/to with a UTC offset, e.g. 2026-11-24T08:00:00+08:00")
    if start and end and end <= start:
        raise InvalidInput("'to' must be after 'from'")
    with state.engine.connect() as conn:
        rows = store.list_alarms(conn, status=status, vehicle_ids=vehicle_id, start=start,
                                 end=end, limit=limit)
    return {"alarms": [a.as_dict() for a in rows]}


@router.get("/api/alarms/{alarm_id}", dependencies=[requires(Permission.VEHICLES_READ)])
def get_alarm(state: AppState, alarm_id: Id) -> dict:
    with state.engine.connect() as conn:
        return store.get_alarm(conn, alarm_id).as_dict()


def _change(state: AppState, hub: Hub, action: str, change: object) -> dict:
    at = datetime.now(UTC)
    with state.engine.begin() as conn:
        alarm = change(conn, at)  # type: ignore[operator]
    hub.publish_threadsafe(ALARMS, alarm_event(action, alarm, at))
    return alarm.as_dict()


@router.post("/api/alarms/{alarm_id}/ack", dependencies=[requires(Permission.ALARMS_HANDLE)])
async def acknowledge_alarm(
    state: AppState, actor: Actor, alarm_id: Id, body: AlarmNote | None = None,
    hub: Hub = Depends(get_hub),
) -> dict:
    """A dispatcher has seen the alarm and is handling it (409 when already acknowledged)."""
    note = body.note if body else None
    return await run_in_threadpool(_change, state, hub, "acknowledged", lambda conn, at:
                                   store.acknowledge(conn, alarm_id, actor, at, note))


@router.post("/api/alarms/{alarm_id}/clear", dependencies=[requires(Permission.ALARMS_HANDLE)])
async def clear_alarm(
    state: AppState, actor: Actor, alarm_id: Id, body: AlarmNote | None = None,
    hub: Hub = Depends(get_hub),
) -> dict:
    """Close an alarm by hand, e.g. a false SOS (409 when it is already cleared)."""
    note = body.note if body else None
    return await run_in_threadpool(_change, state, hub, "cleared", lambda conn, at:
                                   store.clear_by_hand(conn, alarm_id, actor, at, note))
