"""Situation snapshots over HTTP: take one of what the wall shows (POST), list them, download
one's file (an attachment). All three need snapshots:create: a snapshot holds what its maker
could see, so only those who may make one may fetch one."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from backend.api.deps import AppState
from backend.api.responses import PRIVATE
from backend.api.route import GuardedRoute
from backend.api.types import Id
from backend.auth.permissions import Caller, Permission, Principal, requires
from backend.errors import InvalidInput
from backend.snapshots import service
from backend.snapshots.schemas import SnapshotIn, SnapshotList, SnapshotRead

router = APIRouter(route_class=GuardedRoute, tags=["snapshots"])


def _who(principal: Principal | None) -> Principal:
    assert principal is not None  # requires() admitted a person
    return principal


@router.post("/api/snapshots", status_code=201, response_model=SnapshotRead,
             dependencies=[requires(Permission.SNAPSHOTS_CREATE)])
async def take(body: SnapshotIn, state: AppState, principal: Caller,
               request: Request) -> dict[str, Any]:
    """Save the current view (`overview` or a domain view) in the map's extent as one HTML
    file that opens without a server: the layers you see, the vehicles, the open cases and the
    KPI cards as they are now. Audited."""
    options = service.Options.of(state.settings)
    views = state.domains.views if state.domains is not None else None
    try:
        return await run_in_threadpool(
            service.take, state.engine, options=options, catalog=state.catalog, views=views,
            principal=_who(principal), request=body, county=state.county_bounds())
    except InvalidInput:
        edge = getattr(request.app.state, "edge", None)
        if edge is not None:
            edge.count("invalid_input", "snapshot")
        raise


@router.get("/api/snapshots", response_model=SnapshotList,
            dependencies=[requires(Permission.SNAPSHOTS_CREATE)])
def list_snapshots(state: AppState) -> dict[str, Any]:
    """The snapshots kept, newest first (at most 200)."""
    return {"snapshots": service.list_snapshots(state.engine)}


@router.get("/api/snapshots/{snapshot_id}/file",
            dependencies=[requires(Permission.SNAPSHOTS_CREATE)])
def snapshot_file(snapshot_id: Id, state: AppState) -> FileResponse:
    """The snapshot's HTML file, as a download."""
    record, path = service.snapshot_file(state.engine, service.Options.of(state.settings)
                                         .directory, snapshot_id)
    return FileResponse(path, media_type="text/html; charset=utf-8",
                        filename=record["file_name"], headers=PRIVATE,
                        content_disposition_type="attachment")
