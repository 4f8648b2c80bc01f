"""Quality over HTTP: a dataset's latest run and its rules with failing samples, running the
rules now (the department's steward or the data bureau), and the library of rule kinds."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from backend.api.deps import AppState
from backend.api.responses import PRIVATE
from backend.api.route import GuardedRoute
from backend.auth.permissions import Actor, Caller, Permission, requires
from backend.privacy.looks import record_look
from backend.quality import service
from backend.quality.runner import run_dataset

router = APIRouter(route_class=GuardedRoute, tags=["quality"])
DatasetId = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,62}$", max_length=63,
                                description="the dataset's id")]


def _answer(state: AppState, dataset_id: str, caller: Caller, actor: str,
            response: Response) -> dict[str, Any]:
    with state.engine.begin() as conn:
        answer, shown = service.quality_view(conn, dataset_id, caller)
        record_look(conn, actor, "dataset", [dataset_id], shown, {"answer": "quality"})
    response.headers.update(PRIVATE)
    return answer


@router.get("/api/datasets/{dataset_id}/quality",
            dependencies=[requires(Permission.CATALOG_READ)])
def dataset_quality(dataset_id: DatasetId, state: AppState, caller: Caller, actor: Actor,
                    response: Response) -> dict[str, Any]:
    """The latest quality run (null before the first) and every enabled rule with its checked,
    failed and passed counts, message (zh-CN) and up to 5 failing samples {key, value,
    reason} (authority conflicts add source_value); personal values masked by policy unless
    the caller stewards the department."""
    return _answer(state, dataset_id, caller, actor, response)


@router.post("/api/datasets/{dataset_id}/quality/run",
             dependencies=[requires(Permission.CATALOG_READ)])
def run_quality(dataset_id: DatasetId, state: AppState, caller: Caller, actor: Actor,
                response: Response) -> dict[str, Any]:
    """Run every enabled rule of the dataset now (its department's data steward, or the data
    bureau; 403 for others) and answer as GET .../quality."""
    with state.engine.connect() as conn:
        department = service.dataset_department(conn, dataset_id)
    service.check_may_run(caller, department)
    run_dataset(state.engine, dataset_id, trigger="manual", calendar=state.calendar,
                layers=state.catalog, catalog_dir=state.settings.catalog_dir)
    return _answer(state, dataset_id, caller, actor, response)


@router.get("/api/quality/rule-kinds", dependencies=[requires(Permission.CATALOG_READ)])
def rule_kinds() -> list[dict[str, Any]]:
    """The library of rule kinds: kind, dimension, zh-CN and English names, and the JSON
    Schema of its params."""
    return service.rule_kinds()
