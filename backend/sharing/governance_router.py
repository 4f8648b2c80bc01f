"""The governance views over HTTP: scores and their trend, the department ranking, the data
bureau's overview, one department's page, and quality tasks."""

from __future__ import annotations

from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Path, Query

from backend.api.deps import AppState
from backend.api.route import GuardedRoute
from backend.api.types import Id
from backend.auth.permissions import Caller, Permission, Principal, requires
from backend.catalog.quality_weights import QualityWeights, quality_weights
from backend.errors import NotFound
from backend.quality import scores, tasks
from backend.sharing import views
from backend.sharing.router import DatasetId
from backend.sharing.schemas import (
    DepartmentRead,
    Overview,
    RankingRow,
    ScoresRead,
    Task,
    TaskIn,
)

router = APIRouter(route_class=GuardedRoute, tags=["governance"])
DepartmentCode = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


def _weights(state: AppState) -> QualityWeights:
    return quality_weights(state.settings.catalog_dir)


def _who(principal: Principal | None) -> Principal:
    assert principal is not None
    return principal


@router.get("/api/datasets/{dataset_id}/scores", response_model=ScoresRead,
            dependencies=[requires(Permission.CATALOG_READ)])
def dataset_scores(dataset_id: DatasetId, state: AppState,
                   days: Annotated[int, Query(ge=1, le=366)] = 30) -> dict:
    """The latest stored score and the stored days of the last `days` days (oldest first)."""
    with state.engine.connect() as conn:
        if conn.execute(sa.text("SELECT 1 FROM datasets WHERE id = :d"),
                        {"d": dataset_id}).first() is None:
            raise NotFound(f"no dataset {dataset_id!r}")
        return scores.dataset_scores(conn, dataset_id, days)


@router.get("/api/governance/ranking", response_model=list[RankingRow],
            dependencies=[requires(Permission.CATALOG_READ)])
def ranking(state: AppState) -> list[dict]:
    """Every department with datasets, by the latest day's rank (unscored ones last)."""
    with state.engine.connect() as conn:
        return views.ranking(conn, _weights(state))


@router.get("/api/governance/overview", response_model=Overview,
            dependencies=[requires(Permission.DATASETS_GOVERN)])
def overview(state: AppState) -> dict:
    with state.engine.connect() as conn:
        return views.overview(conn, _weights(state))


@router.get("/api/governance/departments/{code}", response_model=DepartmentRead,
            dependencies=[requires(Permission.CATALOG_READ)])
def department(code: DepartmentCode, state: AppState, principal: Caller) -> dict:
    """One department's page: for its data steward and the data bureau (403 otherwise)."""
    with state.engine.connect() as conn:
        return views.department(conn, code, _who(principal), _weights(state))


@router.get("/api/quality/tasks", response_model=list[Task],
            dependencies=[requires(Permission.CATALOG_READ)])
def list_tasks(state: AppState,
               department: Annotated[str | None, Query(max_length=64)] = None,
               status: Literal["open", "fixed", "dismissed", "all"] = "open",
               dataset: Annotated[str | None, Query(max_length=100)] = None) -> list[dict]:
    """Quality tasks (failing checks a department must fix), most urgent first; like the
    quality results they come from, every catalog reader sees them."""
    with state.engine.connect() as conn:
        return tasks.list_tasks(conn, department=department,
                                status=None if status == "all" else status, dataset_id=dataset)


@router.post("/api/quality/tasks/{task_id}", response_model=Task,
             dependencies=[requires(Permission.DATASETS_STEWARD)])
def close_task(task_id: Id, body: TaskIn, state: AppState, principal: Caller) -> dict:
    """The department's steward marks a task fixed or dismissed (a note is required to
    dismiss)."""
    with state.engine.begin() as conn:
        return tasks.close_task(conn, task_id=task_id, status=body.status, note=body.note,
                                principal=_who(principal))
