"""GET /api/cameras/coverage: per grid cell, the share of its road length an online camera
sees, the least covered first (cameras:read)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from backend.api.deps import AppState
from backend.api.route import GuardedRoute
from backend.auth.permissions import Permission, requires
from backend.cameras.coverage import coverage_table

router = APIRouter(route_class=GuardedRoute, tags=["cameras"])


class CoverageCell(BaseModel):
    model_config = ConfigDict(frozen=True)
    grid_code: str
    name: str | None
    township_name: str | None
    road_m: float
    covered_m: float
    share: float | None      # null: a cell without roads
    cameras: int             # online cameras whose views touch the cell's roads
    computed_at: datetime


class CoverageAnswer(BaseModel):
    model_config = ConfigDict(frozen=True)
    cells: list[CoverageCell]
    road_m: float
    covered_m: float
    share: float | None


@router.get("/api/cameras/coverage", dependencies=[requires(Permission.CAMERAS_READ)])
def coverage(state: AppState) -> CoverageAnswer:
    """Every grid cell's road coverage, sorted by share ascending (recomputed by `cityops
    cameras coverage` and after views change)."""
    with state.engine.connect() as conn:
        cells = [CoverageCell.model_validate(r) for r in coverage_table(conn)]
    road = sum(c.road_m for c in cells)
    covered = sum(c.covered_m for c in cells)
    return CoverageAnswer(cells=cells, road_m=road, covered_m=covered,
                          share=covered / road if road else None)
