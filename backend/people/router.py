"""The population base over HTTP (thin: parse, call the service, answer). Fixed paths come
before the numeric ones, and the numeric ones use the `int` convertor so that other fixed
paths under /api/people (the field changes' router) never fall into them. An answer that
showed a person in full records the look last in its transaction (backend.people.access)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from backend.api.deps import AppState
from backend.api.responses import PRIVATE
from backend.api.route import GuardedRoute
from backend.api.types import Id, Offset
from backend.auth.permissions import Caller, Permission, Principal, requires
from backend.people import access, export, service
from backend.people.schemas import (
    AccessLog,
    CellRead,
    HouseholdPage,
    HouseholdRead,
    PersonRead,
    PurposeRead,
    SearchPage,
)

router = APIRouter(route_class=GuardedRoute, tags=["people"])
GridCode = Annotated[str, Query(pattern=r"^[0-9]{15}$", description="a 15-digit grid code")]
Township = Annotated[str, Query(pattern=r"^[0-9]{9}$", description="a 9-digit township code")]
PurposeId = Annotated[str | None, Query(max_length=64, pattern=r"^[a-z][a-z0-9_]*$",
                                        description="why you look (GET /api/people/purposes)")]


def _who(principal: Principal | None) -> Principal:
    assert principal is not None  # requires() admitted a person
    return principal


@router.get("/api/people/purposes", response_model=list[PurposeRead],
            dependencies=[requires(Permission.PEOPLE_CELLS)])
def list_purposes(principal: Caller) -> list[dict]:
    """The purposes you may state to see a person in full (none: your role never does)."""
    return service.purposes_for(_who(principal))


@router.get("/api/people/search", response_model=SearchPage,
            dependencies=[requires(Permission.PEOPLE_READ)])
def search(state: AppState, principal: Caller, response: Response,
           q: Annotated[str, Query(min_length=1, max_length=40)],
           purpose: PurposeId = None,
           limit: Annotated[int | None, Query(ge=1, le=500)] = None) -> dict:
    """Persons of your area by citizen ID (exact) or name (prefix), masked as a list; a
    purpose is required (403 naming the ones you may use)."""
    cap = min(limit or state.settings.people_search_limit, state.settings.people_search_limit)
    response.headers.update(PRIVATE)
    with state.engine.connect() as conn:
        return service.search(conn, principal=_who(principal), q=q, purpose=purpose, limit=cap)


@router.get("/api/people/export.csv", dependencies=[requires(Permission.PEOPLE_READ)])
def export_csv(state: AppState, principal: Caller,
               purpose: Annotated[str, Query(max_length=64, pattern=r"^[a-z][a-z0-9_]*$",
                                             description="why you export (required)")],
               grid_code: GridCode | None = None) -> Response:
    """The current residents of your area (or one cell of it) as CSV, for a purpose you may
    use (required: 422 without, 403 naming the allowed ones for another); audited like a
    read of each person (kind export)."""
    who = _who(principal)
    with state.engine.begin() as conn:
        text, ids, shown, stated = export.export_csv(conn, principal=who, grid_code=grid_code,
                                                     purpose=purpose)
        access.record_person_looks(conn, principal=who, person_ids=ids, fields=shown,
                                   purpose=stated, kind="export")
    name = f"people-{grid_code or 'area'}.csv"
    return Response(text.encode("utf-8-sig"), media_type="text/csv; charset=utf-8",
                    headers={**PRIVATE, "Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/api/people/cells", response_model=list[CellRead],
            dependencies=[requires(Permission.PEOPLE_CELLS)])
def list_cells(state: AppState, principal: Caller, response: Response,
               township: Township | None = None) -> list[dict]:
    """The grid cells of your area with their households and current residents."""
    response.headers.update(PRIVATE)
    with state.engine.connect() as conn:
        return service.list_cells(conn, principal=_who(principal), township=township)


@router.get("/api/people/households", response_model=HouseholdPage,
            dependencies=[requires(Permission.PEOPLE_CELLS)])
def list_households(state: AppState, principal: Caller, response: Response,
                    grid_code: GridCode | None = None,
                    limit: Annotated[int, Query(ge=1, le=500)] = 100,
                    offset: Offset = 0) -> dict:
    """Households of one of your cells (or of your whole area), masked."""
    response.headers.update(PRIVATE)
    with state.engine.connect() as conn:
        return service.list_households(conn, principal=_who(principal), grid_code=grid_code,
                                       limit=limit, offset=offset)


@router.get("/api/people/households/{household_id:int}", response_model=HouseholdRead,
            dependencies=[requires(Permission.PEOPLE_CELLS)])
def household(household_id: Id, state: AppState, principal: Caller,
              response: Response) -> dict:
    """One household of your area with its current residents, masked."""
    response.headers.update(PRIVATE)
    with state.engine.connect() as conn:
        return service.household_detail(conn, principal=_who(principal),
                                        household_id=household_id)


@router.get("/api/people/{person_id:int}", response_model=PersonRead,
            dependencies=[requires(Permission.PEOPLE_READ)])
def person(person_id: Id, state: AppState, principal: Caller, response: Response,
           purpose: PurposeId = None) -> dict:
    """One person of your area: in full for a purpose your role may use (audited), masked
    without one."""
    who = _who(principal)
    response.headers.update(PRIVATE)
    with state.engine.begin() as conn:
        out, shown, stated = service.person_record(conn, principal=who, person_id=person_id,
                                                   purpose=purpose)
        # Last in the transaction: the chain's lock is held until this block commits.
        access.record_person_looks(conn, principal=who, person_ids=[person_id], fields=shown,
                                   purpose=stated, kind="view")
    return out


@router.get("/api/people/{person_id:int}/access-log", response_model=AccessLog,
            dependencies=[requires(Permission.PEOPLE_READ)])
def access_log(person_id: Id, state: AppState, principal: Caller, response: Response,
               days: Annotated[int | None, Query(ge=1, le=3660)] = None) -> dict:
    """Who looked at this person in full in the last `days` days (default 90), and why."""
    response.headers.update(PRIVATE)
    with state.engine.connect() as conn:
        return access.access_log(conn, principal=_who(principal), person_id=person_id,
                                 days=days or state.settings.people_access_days)
