"""Grid workers over HTTP: the phone reports where its worker is, dispatchers list the workers
with their grid cells and last positions, admins assign workers to cells; and `/report`, the
grid worker's phone page (static, built with the console)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ConfigDict, Field

from backend.api.deps import AppState
from backend.api.responses import PRIVATE
from backend.api.route import GuardedRoute
from backend.api.types import Instant
from backend.auth.permissions import Actor, Caller, Permission, Principal, requires
from backend.errors import InvalidInput
from backend.grid import service

router = APIRouter(route_class=GuardedRoute, tags=["grid"])


class PositionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    accuracy_m: float | None = Field(default=None, ge=0, le=100_000)
    time: Instant | None = Field(default=None, description="when the fix was taken; now "
                                                                 "when absent")


class WorkersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    usernames: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(max_length=50)


def _who(principal: Principal | None) -> Principal:
    assert principal is not None and principal.user_id is not None  # requires() admitted a user
    return principal


def _bbox(raw: str | None) -> list[float] | None:
    if not raw:
        return None
    try:
        box = [float(v) for v in raw.split(",")]
    except ValueError:
        box = []
    if len(box) != 4 or not (box[0] < box[2] and box[1] < box[3]):
        raise InvalidInput("bbox is west,south,east,north in degrees, west < east, south < north")
    return box


@router.post("/api/me/position", dependencies=[requires(Permission.INCIDENTS_ACT)])
def report_position(body: PositionIn, state: AppState, principal: Caller,
                    response: Response) -> dict:
    """Where the calling worker is (their phone page sends it while they allow it). Only the
    newest position is kept; an older one than stored answers `"stored": false`."""
    who = _who(principal)
    now = datetime.now(UTC)
    position = service.Position(body.lon, body.lat, body.time or now, body.accuracy_m)
    service.check_position(position, state.county_bounds(), now)
    with state.engine.begin() as conn:
        stored = service.record_position(conn, who.user_id, position)  # type: ignore[arg-type]
    response.headers.update(PRIVATE)
    return {"stored": stored, "lon": position.lon, "lat": position.lat,
            "accuracy_m": position.accuracy_m, "time": position.time.isoformat()}


@router.get("/api/grid/workers", dependencies=[requires(Permission.WORKERS_READ)])
def workers(state: AppState, principal: Caller, response: Response,
            bbox: str | None = None) -> dict:
    """Every active grid worker with their grid cells and last position (`position` null when
    their phone never sent one); `bbox=w,s,e,n` keeps those last seen inside it. For the
    dispatch roles (workers:read). Phones are masked, as in every list (the nearby answer
    of one case shows them in full to personal:read, audited)."""
    box = _bbox(bbox)
    with state.engine.connect() as conn:
        out = service.list_workers(conn, _who(principal), datetime.now(UTC), box)
    response.headers.update(PRIVATE)
    return out


@router.put("/api/grid/cells/{grid_code}/workers",
            dependencies=[requires(Permission.USERS_ADMIN)])
def assign(grid_code: str, body: WorkersIn, state: AppState, actor: Actor) -> dict:
    """Make these grid workers the cell's workers (replacing the ones it had); audited."""
    with state.engine.begin() as conn:
        return service.assign_workers(conn, grid_code, body.usernames, actor)


@router.get("/report", include_in_schema=False, dependencies=[requires(Permission.PUBLIC)])
def report_page() -> RedirectResponse:
    """The grid worker's phone page is a static page of the console's build."""
    return RedirectResponse("report.html", status_code=307)
