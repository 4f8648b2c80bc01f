"""GET /api/population/stats: the stored, already suppressed counts (backend.people.aggregates)
by grid cell, community or township; never a name or an ID of a person."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from backend.api.deps import AppState
from backend.api.route import GuardedRoute
from backend.auth.permissions import Permission, requires
from backend.errors import NotFound
from backend.people import aggregates

router = APIRouter(route_class=GuardedRoute, tags=["population"])


class StatsRow(BaseModel):
    code: str
    name: str | None
    township_code: str | None
    population: int | None
    households: int | None
    male: int | None
    female: int | None
    age_0_14: int | None
    age_15_59: int | None
    age_60_plus: int | None
    elderly_alone: int | None
    children: int | None
    suppressed: list[str]


class StatsRead(BaseModel):
    k: int
    level: str
    computed_at: datetime | None
    rows: list[StatsRow]
    totals: StatsRow | None


@router.get("/api/population/stats", dependencies=[requires(Permission.POPULATION_STATS)])
def get_stats(
    state: AppState,
    level: Literal["grid", "community", "township"] = "grid",
    township: Annotated[str | None, Query(pattern=r"^[0-9]{9}$")] = None,
) -> StatsRead:
    """Counts of current residents; a figure under k, or one that would give such a figure
    back, is null and named in `suppressed`."""
    with state.engine.connect() as conn:
        got = aggregates.read(conn, level, township)
    if township is not None and got["totals"] is None:
        raise NotFound(f"no township {township} in the population counts")
    return StatsRead(k=state.settings.population_k, **got)
