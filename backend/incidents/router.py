"""Grid incidents over HTTP: categories and departments, reporting a case, the queue, one
case with its timeline and clocks, and moving a case on. Changes go out on incidents.changes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Header, Query, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.concurrency import run_in_threadpool

from backend.api.deps import AppState, get_hub
from backend.api.responses import PRIVATE, JSONBytes
from backend.api.route import GuardedRoute
from backend.api.types import Id, Offset
from backend.auth.permissions import Caller, Permission, Principal, requires
from backend.errors import InvalidInput
from backend.incidents import queries, service
from backend.incidents.flow import Action, State
from backend.realtime.hub import Hub
from backend.realtime.messages import INCIDENTS

router = APIRouter(route_class=GuardedRoute, tags=["incidents"])
SHA256 = r"^[0-9a-f]{64}$"


class IncidentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    category_code: str = Field(pattern=r"^[CE][0-9]{4}$", description="e.g. E0101 暴露垃圾")
    description: str = Field(min_length=1, max_length=4000)
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    urgency: Literal["normal", "urgent"] = "normal"
    address: str | None = Field(default=None, max_length=200)
    source: Literal["grid_worker", "hotline", "video", "inspection"] = "grid_worker"
    photos: list[Annotated[str, Field(pattern=SHA256)]] = Field(default=[], max_length=9)
    idempotency_key: str | None = Field(default=None, min_length=8, max_length=100)
    reporter_name: str | None = Field(default=None, max_length=50)
    reporter_phone: str | None = Field(default=None, pattern=r"^[0-9+\- ]{5,20}$")

    @field_validator("description")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("describe what is wrong")
        return value.strip()


class StepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(default=None, max_length=2000)
    department_code: str | None = Field(default=None, max_length=16)
    assignee: str | None = Field(default=None, max_length=64)
    verifier: str | None = Field(default=None, max_length=64)
    extension_hours: float | None = None
    photos: list[Annotated[str, Field(pattern=SHA256)]] = Field(default=[], max_length=9)
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)


def _who(principal: Principal | None) -> Principal:
    assert principal is not None  # the route's requires() admitted a user
    return principal


@router.get("/api/case-categories", dependencies=[requires(Permission.AUTHENTICATED)])
def categories(state: AppState) -> dict:
    with state.engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT code, kind, major_code, major_name, name, department_code, limits, "
            "sensitive FROM case_categories WHERE active ORDER BY code")).mappings().all()
    return {"categories": [dict(r) for r in rows]}


@router.get("/api/departments", dependencies=[requires(Permission.AUTHENTICATED)])
def departments(state: AppState) -> dict:
    with state.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT code, name FROM departments ORDER BY code"))
        return {"departments": [dict(r._mapping) for r in rows]}


@router.post("/api/incidents", status_code=201,
             dependencies=[requires(Permission.INCIDENTS_REPORT)])
async def report(body: IncidentIn, state: AppState, principal: Caller, response: Response,
                 hub: Hub = Depends(get_hub),
                 idempotency_key: Annotated[str | None, Header(max_length=100)] = None) -> dict:
    """Report a case. Send an Idempotency-Key (header or field) so that a retried draft makes
    one case: a repeated key answers 200 with the case it made the first time."""
    who = _who(principal)
    key = body.idempotency_key or idempotency_key
    new = service.NewIncident(
        category_code=body.category_code, description=body.description, lon=body.lon,
        lat=body.lat, source=body.source, urgency=body.urgency, address=body.address,
        photos=body.photos, idempotency_key=key, reporter_name=body.reporter_name,
        reporter_phone=body.reporter_phone)

    def work() -> tuple[dict, bool]:
        now = datetime.now(UTC)
        with state.engine.connect() as conn:  # one connection: write, commit, read back
            with conn.begin():
                incident_id, created = service.create_incident(conn, new, who, now)
            detail = queries.incident_detail(conn, incident_id, who, state.calendar, now)
            conn.commit()  # the audit row of a full view of the reporter's contact, if any
            return detail, created

    detail, created = await run_in_threadpool(work)
    if created:
        await hub.publish(INCIDENTS, service.report_change(detail, who.username))
    else:
        response.status_code = 200
    response.headers.update(PRIVATE)
    return detail


@router.get("/api/incidents", dependencies=[requires(Permission.INCIDENTS_READ)])
def queue(
    state: AppState, principal: Caller,
    status: Annotated[list[str] | None, Query(alias="state")] = None,
    department: str | None = None, grid: str | None = None, category: str | None = None,
    overdue: bool | None = None, mine: bool = False, bbox: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> JSONBytes:
    """Open cases first, urgent first, then by the least time left on the running stage,
    the oldest, the id. `total` counts at most 10,000 (`total_exact` false beyond); reporters'
    contacts are masked (open one case to see them)."""
    known = {s.value for s in State}
    bad = [s for s in status or [] if s not in known]
    if bad:
        raise InvalidInput(f"Unknown state(s) {', '.join(bad)}; states: {', '.join(sorted(known))}")
    box = None
    if bbox:
        try:
            box = [float(v) for v in bbox.split(",")]
        except ValueError:
            box = []
        if len(box) != 4 or not (box[0] < box[2] and box[1] < box[3]):
            raise InvalidInput("bbox is west,south,east,north in degrees, west < east, "
                               "south < north")
    with state.engine.connect() as conn:
        out = queries.list_incidents(conn, _who(principal), states=status or (),
                                     department=department, grid=grid, category=category,
                                     overdue=overdue, mine=mine, bbox=box, limit=limit,
                                     offset=offset)
    # orjson straight to bytes: FastAPI's encoder took ~25 ms for a page of 300 cases.
    return JSONBytes(out, headers=PRIVATE)


@router.get("/api/incidents/{incident_id}", dependencies=[requires(Permission.INCIDENTS_READ)])
def one(incident_id: Id, state: AppState, principal: Caller, response: Response) -> dict:
    with state.engine.connect() as conn:
        detail = queries.incident_detail(conn, incident_id, _who(principal), state.calendar,
                                         datetime.now(UTC))
        conn.commit()  # the audit row of a full view of the reporter's contact, if any
    response.headers.update(PRIVATE)
    return detail


@router.post("/api/incidents/{incident_id}/actions/{action}",
             dependencies=[requires(Permission.INCIDENTS_ACT)])
async def act(incident_id: Id, action: str, state: AppState, principal: Caller,
              body: StepIn | None = None, hub: Hub = Depends(get_hub)) -> dict:
    """Move a case on: file, void, dispatch, accept, return, start, request_extension,
    grant_extension, deny_extension, park, unpark, handle, send_to_verify, confirm, rework,
    supervise. 409 names the actions the case allows now."""
    try:
        step = Action(action)
    except ValueError:
        raise InvalidInput(f"Unknown action {action!r}; actions: "
                           f"{', '.join(a.value for a in Action)}") from None
    who = _who(principal)
    b = body or StepIn()
    params = service.StepParams(note=b.note, department_code=b.department_code,
                                assignee=b.assignee, verifier=b.verifier,
                                extension_hours=b.extension_hours, photos=b.photos,
                                lon=b.lon, lat=b.lat)

    def work() -> tuple[service.Change, dict]:
        now = datetime.now(UTC)
        with state.engine.connect() as conn:  # one connection: write, commit, read back
            with conn.begin():
                change = service.transition(conn, incident_id, step, who, params,
                                            state.calendar, now)
            detail = queries.incident_detail(conn, incident_id, who, state.calendar, now)
            conn.commit()  # the audit row of a full view of the reporter's contact, if any
            return change, detail

    change, detail = await run_in_threadpool(work)
    await hub.publish(INCIDENTS, change.data)
    return detail
